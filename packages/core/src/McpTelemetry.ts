/**
 * OpenTelemetry for MCP, following the semantic conventions for MCP (`docs/gen-ai/mcp.md`): a span per request on
 * both sides, named `{mcp.method.name} {target}` (server kind in the server's dispatcher, client kind in the
 * client), with `mcp.method.name`, `mcp.session.id`, `mcp.protocol.version`, `jsonrpc.request.id`,
 * `gen_ai.tool.name` and `gen_ai.operation.name` (`execute_tool`), `gen_ai.prompt.name`, `mcp.resource.uri`,
 * `network.transport`, and on failure `error.type` and `rpc.response.status_code` (the JSON-RPC code; `tool_error`
 * for a tool result with `isError`); the histograms `mcp.server.operation.duration`,
 * `mcp.server.session.duration` and `mcp.client.operation.duration` (seconds, the convention's buckets). Trace
 * context travels in `params._meta` (`traceparent`, `tracestate`, `baggage`, SEP-414): the client writes its
 * span there and the server continues the trace under it.
 *
 * It is built on Effect's tracer and `Metric`s, so `@effect/opentelemetry` (`Otlp.layer`, `NodeSdk.layer`)
 * exports them with no glue. It costs nothing without one: a server or client decides once, when it is built,
 * whether the current tracer is Effect's default one (`isTracing`); if it is, its request path is the one it
 * always had.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** The attribute names this module writes. @since 0.1.0 */
export const Attribute = {
  methodName: "mcp.method.name",
  sessionId: "mcp.session.id",
  protocolVersion: "mcp.protocol.version",
  resourceUri: "mcp.resource.uri",
  requestId: "jsonrpc.request.id",
  toolName: "gen_ai.tool.name",
  promptName: "gen_ai.prompt.name",
  operationName: "gen_ai.operation.name",
  errorType: "error.type",
  statusCode: "rpc.response.status_code",
  networkTransport: "network.transport"
} as const

/**
 * Whether spans are wanted: the current tracer is not Effect's default (native) one, as when
 * `@effect/opentelemetry`'s layers are provided. Asked once, when a server or client is built.
 *
 * @since 0.1.0
 */
export const isTracing: Effect.Effect<boolean> = Effect.map(
  Effect.tracer,
  (tracer) => tracer !== Context.get(DefaultServices.liveServices, Tracer.Tracer)
)

/** The convention's bucket boundaries, in seconds, for its four histograms. */
const BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

const histogram = (name: string, description: string) =>
  Metric.histogram(name, MetricBoundaries.fromIterable(BUCKETS), description)

/** `mcp.server.operation.duration`: a request as the server served it, in seconds. @since 0.1.0 */
export const serverOperationDuration = histogram(
  "mcp.server.operation.duration",
  "The duration of the MCP request or notification as observed on the receiver."
)

/** `mcp.server.session.duration`: a session from `initialize` to its end, in seconds. @since 0.1.0 */
export const serverSessionDuration = histogram(
  "mcp.server.session.duration",
  "The duration of the MCP session as observed on the MCP server."
)

/** `mcp.client.operation.duration`: a request as the client saw it, in seconds. @since 0.1.0 */
export const clientOperationDuration = histogram(
  "mcp.client.operation.duration",
  "The duration of the MCP request or notification as observed on the sender."
)

/** `mcp.client.session.duration`: a client's connection, from its handshake to its close, in seconds. @since 0.1.0 */
export const clientSessionDuration = histogram(
  "mcp.client.session.duration",
  "The duration of the MCP session as observed on the MCP client."
)

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The span name and the attributes a request carries by its method and params: its target (a tool, a prompt,
 * a resource URI), and `execute_tool` for `tools/call`. The span name has no URI: the convention keeps names of
 * low cardinality.
 *
 * @since 0.1.0
 */
export const describe = (
  method: string,
  params: unknown
): { readonly name: string; readonly attributes: Record<string, string> } => {
  const attributes: Record<string, string> = { [Attribute.methodName]: method }
  const p = isRecord(params) ? params : {}
  if (method === "tools/call" && typeof p.name === "string") {
    attributes[Attribute.toolName] = p.name
    attributes[Attribute.operationName] = "execute_tool"
    return { name: `${method} ${p.name}`, attributes }
  }
  if (method === "prompts/get" && typeof p.name === "string") {
    attributes[Attribute.promptName] = p.name
    return { name: `${method} ${p.name}`, attributes }
  }
  if (typeof p.uri === "string") attributes[Attribute.resourceUri] = p.uri
  return { name: method, attributes }
}

/** `network.transport` of a session's transport: `pipe` for stdio, `tcp` for HTTP, none in process. */
export const networkTransport = (transport: string): string | undefined =>
  transport === "stdio" ? "pipe" : transport === "memory" ? undefined : "tcp"

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The remote parent a request's `params._meta.traceparent` names (W3C Trace Context), if any: the server's span
 * continues the client's trace under it.
 *
 * @since 0.1.0
 */
export const parentOf = (params: unknown): Option.Option<Tracer.ExternalSpan> => {
  if (!isRecord(params) || !isRecord(params._meta)) return Option.none()
  const header = params._meta.traceparent
  if (typeof header !== "string") return Option.none()
  const match = TRACEPARENT.exec(header)
  if (match === null || match[1] === "ff" || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return Option.none()
  return Option.some(Tracer.externalSpan({
    traceId: match[2]!,
    spanId: match[3]!,
    sampled: (Number.parseInt(match[4]!, 16) & 1) === 1
  }))
}

/**
 * `params` with the trace context of `span` in its `_meta` (`traceparent`, and `tracestate` and `baggage`
 * carried over from what it had): what the client sends.
 *
 * @since 0.1.0
 */
export const inject = (params: unknown, span: Tracer.AnySpan): { readonly [key: string]: unknown } => {
  const base = isRecord(params) ? params : {}
  const meta = isRecord(base._meta) ? base._meta : {}
  const traceparent = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  return { ...base, _meta: { ...meta, traceparent } }
}

/** Which error a response ended with, as the convention names it. @since 0.1.0 */
export const errorType = (code: number): string => String(code)
