/** A tracer for tests of tracing: Effect's own, recording every span it makes (so not the default one). */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Tracer from "effect/Tracer"

/** A fresh recording tracer, and the spans it has made so far. */
export const recording = () => {
  const native = Context.get(DefaultServices.liveServices, Tracer.Tracer)
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = native.span(name, parent, context, links, startTime, kind)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { tracer, spans }
}
