/**
 * The spans of the MCP conventions around one request, whichever side sends it: `received` where it is served
 * (the server's dispatcher, the client's handlers of the server's requests), `sent` where it is sent (the client's
 * calls and handshake, the server's requests to the client), and `timed` for the duration histograms. Only built
 * into a path when its side was built with a tracer (`McpTelemetry.isTracing`), so untraced paths have none of it.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as JsonRpc from "../../JsonRpc.js"
import * as McpTelemetry from "../../McpTelemetry.js"

const isToolError = (result: unknown) =>
  typeof result === "object" && result !== null && "isError" in result && result.isError === true

/** Records how a request ended on its span (and in `attributes`, which its metric reads). */
const ended = (attributes: Record<string, string>, errorType: string, code?: number) => {
  attributes[McpTelemetry.Attribute.errorType] = errorType
  const annotations: Record<string, string> = { [McpTelemetry.Attribute.errorType]: errorType }
  if (code !== undefined) annotations[McpTelemetry.Attribute.statusCode] = String(code)
  return Effect.annotateCurrentSpan(annotations)
}

/**
 * A request as its receiver serves it, in a server span: its parent is the sender's span named by
 * `_meta.traceparent` (with its `tracestate`), and it runs with the baggage `_meta.baggage` brought, so what it
 * sends on carries it. A JSON-RPC error's code is its `error.type`, a tool result with `isError` `tool_error`.
 * @internal
 */
export const received = (name: string, attributes: Record<string, string>, params: unknown) =>
<A>(effect: Effect.Effect<A, JsonRpc.JsonRpcError>): Effect.Effect<A, JsonRpc.JsonRpcError> => {
  const parent = McpTelemetry.parentOf(params)
  const baggage = McpTelemetry.baggageOf(params)
  const run = effect.pipe(
    Effect.tapBoth({
      onFailure: (error) => ended(attributes, McpTelemetry.errorType(error.code), error.code),
      onSuccess: (result) => isToolError(result) ? ended(attributes, "tool_error") : Effect.void
    }),
    Effect.withSpan(name, {
      kind: "server",
      attributes,
      captureStackTrace: false,
      ...(Option.isSome(parent) ? { parent: parent.value } : {})
    })
  )
  return baggage === undefined ? run : Effect.locally(run, McpTelemetry.currentBaggage, baggage)
}

/** The JSON-RPC code a sender's failure carries, when it has one (`McpClientError`, `ClientRequestError`). */
const codeOf = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "number"
    ? error.code
    : undefined

/**
 * A request as its sender waits for it, in a client span: the request it sends should carry the span
 * (`McpTelemetry.carry`). An answer's JSON-RPC error code is its `error.type`, any other failure `_OTHER`.
 * @internal
 */
export const sent = (name: string, attributes: Record<string, string>) =>
<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  effect.pipe(
    Effect.tapBoth({
      onFailure: (error) => {
        const code = codeOf(error)
        return code === undefined ? ended(attributes, "_OTHER") : ended(attributes, McpTelemetry.errorType(code), code)
      },
      onSuccess: (result) => isToolError(result) ? ended(attributes, "tool_error") : Effect.void
    }),
    Effect.withSpan(name, { kind: "client", attributes, captureStackTrace: false })
  )

/** `effect`, its duration in seconds recorded in the histogram `metric` gives once it ends. @internal */
export const timed = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  metric: () => Metric.Metric.Histogram<number>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeNanos, (start) =>
    Effect.ensuring(
      effect,
      Effect.flatMap(Clock.currentTimeNanos, (end) => Metric.update(metric(), Number(end - start) / 1e9))
    ))

/**
 * A call of the client's in a client span of the conventions, timed into `mcp.client.operation.duration`
 * (tagged with the span's attributes but the resource URI, whose cardinality a metric cannot afford).
 * @internal
 */
export const clientCall = (method: string, params: unknown) => <A, E>(request: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const { attributes, name } = McpTelemetry.describe(method, params)
  return timed(sent(name, attributes)(request), () => {
    let metric = McpTelemetry.clientOperationDuration
    for (const [key, value] of Object.entries(attributes)) {
      if (key !== McpTelemetry.Attribute.resourceUri) metric = Metric.tagged(metric, key, value)
    }
    return metric
  })
}
