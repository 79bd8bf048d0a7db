import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { McpClient } from "../src/McpClient.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTelemetry from "../src/McpTelemetry.js"
import * as McpTest from "../src/McpTest.js"
import * as McpTool from "../src/McpTool.js"

/** Effect's own tracer, recording every span it makes: a tracer that is not the default one. */
const recording = () => {
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

const Echo = McpTool.make("echo", {
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

const Oops = McpTool.make("oops", {
  input: Schema.Struct({}),
  handler: () => Effect.fail("oops")
})

const Server = Layer.mergeAll(Echo, Oops).pipe(Layer.provideMerge(McpServer.layer({ name: "traced", version: "1.0.0" })))

const one = (spans: ReadonlyArray<Tracer.Span>, name: string, kind: Tracer.SpanKind) => {
  const found = spans.filter((span) => span.name === name && span.kind === kind)
  expect(found, `${kind} span ${name}`).toHaveLength(1)
  return found[0]!
}

const parentId = (span: Tracer.Span) => Option.map(span.parent, (parent) => parent.spanId).pipe(Option.getOrUndefined)

describe("McpTelemetry", () => {
  it.effect("a span per request on both sides, named and attributed by the conventions, the client's the server's parent", () => {
    const { spans, tracer } = recording()
    return Effect.gen(function*() {
      const client = yield* McpClient
      yield* client.callTool("echo", { text: "hi" })
      yield* client.callTool("oops", {})
      yield* Effect.either(client.callTool("missing", {}))

      const clientSpan = one(spans, "tools/call echo", "client")
      const serverSpan = one(spans, "tools/call echo", "server")
      const handlerSpan = one(spans, "McpTool echo", "internal")
      // The trace goes on from client to server (through `_meta.traceparent`) to the handler.
      expect(serverSpan.traceId).toBe(clientSpan.traceId)
      expect(parentId(serverSpan)).toBe(clientSpan.spanId)
      expect(parentId(handlerSpan)).toBe(serverSpan.spanId)
      expect(Object.fromEntries(serverSpan.attributes)).toMatchObject({
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "mcp.protocol.version": "2025-11-25",
        "jsonrpc.request.id": expect.any(String)
      })
      expect(serverSpan.attributes.get("mcp.session.id")).toEqual(expect.any(String))
      expect(Object.fromEntries(clientSpan.attributes)).toMatchObject({
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo"
      })
      expect(serverSpan.attributes.has("error.type")).toBe(false)
      // A tool result with isError, on both sides.
      expect(one(spans, "tools/call oops", "server").attributes.get("error.type")).toBe("tool_error")
      expect(one(spans, "tools/call oops", "client").attributes.get("error.type")).toBe("tool_error")
      // A JSON-RPC error: its code, and the span's status is an error.
      const missing = one(spans, "tools/call missing", "server")
      expect(missing.attributes.get("error.type")).toBe("-32602")
      expect(missing.attributes.get("rpc.response.status_code")).toBe("-32602")
      expect(missing.status._tag === "Ended" && missing.status.exit._tag).toBe("Failure")
      expect(one(spans, "tools/call missing", "client").attributes.get("error.type")).toBe("-32602")
      // `initialize` too.
      one(spans, "initialize", "server")

      const histogram = MetricState.isHistogramState
      const server = yield* Metric.value(
        McpTelemetry.serverOperationDuration.pipe(
          Metric.tagged("mcp.method.name", "tools/call"),
          Metric.tagged("gen_ai.tool.name", "echo"),
          Metric.tagged("mcp.protocol.version", "2025-11-25")
        )
      )
      expect(histogram(server) && server.count).toBeGreaterThanOrEqual(1)
      const clientSide = yield* Metric.value(
        McpTelemetry.clientOperationDuration.pipe(
          Metric.tagged("mcp.method.name", "tools/call"),
          Metric.tagged("gen_ai.tool.name", "echo"),
          Metric.tagged("gen_ai.operation.name", "execute_tool")
        )
      )
      expect(histogram(clientSide) && clientSide.count).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.provide(McpTest.layer(Server)), Effect.withTracer(tracer))
  })

  it("trace context: a traceparent is read as the remote parent, and written from a span", () => {
    const parent = McpTelemetry.parentOf({ _meta: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } })
    expect(Option.map(parent, ({ sampled, spanId, traceId }) => ({ traceId, spanId, sampled }))).toEqual(Option.some({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      sampled: true
    }))
    for (const bad of ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x"]) {
      expect(McpTelemetry.parentOf({ _meta: { traceparent: bad } })).toEqual(Option.none())
    }
    const span = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" })
    expect(McpTelemetry.inject({ name: "echo", _meta: { progressToken: 1, baggage: "a=b" } }, span)).toEqual({
      name: "echo",
      _meta: { progressToken: 1, baggage: "a=b", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }
    })
  })

  it.effect("without a tracer, nothing is traced: isTracing is false", () =>
    Effect.map(McpTelemetry.isTracing, (tracing) => expect(tracing).toBe(false)))
})
