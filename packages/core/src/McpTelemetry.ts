/**
 * OpenTelemetry for MCP, following the semantic conventions for MCP (`docs/gen-ai/mcp.md`): a span per request on
 * both sides, named `{mcp.method.name} {target}` (server kind in the server's dispatcher, client kind in the
 * client), with `mcp.method.name`, `mcp.session.id`, `mcp.protocol.version`, `jsonrpc.request.id`,
 * `gen_ai.tool.name` and `gen_ai.operation.name` (`execute_tool`), `gen_ai.prompt.name`, `mcp.resource.uri`,
 * `network.transport`, and on failure `error.type` and `rpc.response.status_code` (the JSON-RPC code; `tool_error`
 * for a tool result with `isError`); the histograms `mcp.server.operation.duration`,
 * `mcp.server.session.duration` and `mcp.client.operation.duration` (seconds, the convention's buckets). Spans
 * also cover what the server asks the client (sampling, elicitation, roots: a client span on the server, a server
 * span around the client's handler), the client's handshake (`initialize`, `server/discover`), and each task's
 * life (`McpTask {tool}`, under the `tools/call` that created it).
 *
 * Trace context travels in `params._meta` (`traceparent`, `tracestate`, `baggage`, SEP-414) on every request
 * either side sends: the sender writes its span there, with the `tracestate` of its trace (`TraceState`, found on
 * the span or an ancestor) and the current baggage (`baggage`, `withBaggage`); the receiver continues the trace
 * under it, and runs its handler with that baggage, which its own requests carry on. Effect has no baggage of its
 * own: here it is a `FiberRef` the app sets, and reads where a request brought it.
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
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
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
  networkTransport: "network.transport",
  taskId: "mcp.task.id",
  taskStatus: "mcp.task.status"
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
 * The `tracestate` (W3C Trace Context) of a trace, in the context of a span: `parentOf` puts the one a request
 * brought on its remote parent, and a span made with `{ context: Context.make(TraceState, "vendor=value") }`
 * starts one. A request carries the nearest one among the current span and its ancestors.
 *
 * @since 0.1.0
 */
export class TraceState extends Context.Tag("@effect-mcp/core/McpTelemetry/TraceState")<TraceState, string>() {}

/** The `tracestate` of `span`'s trace: its own, or the nearest ancestor's. @since 0.1.0 */
export const traceStateOf = (span: Tracer.AnySpan): string | undefined => {
  let current: Tracer.AnySpan | undefined = span
  while (current !== undefined) {
    const state: Option.Option<string> = Context.getOption(current.context, TraceState)
    if (Option.isSome(state)) return state.value
    current = current._tag === "Span" ? Option.getOrUndefined(current.parent) : undefined
  }
  return undefined
}

/** The `tracestate` of the current span's trace, if it has one. @since 0.1.0 */
export const currentTraceState: Effect.Effect<Option.Option<string>> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.flatMap((span) => Option.fromNullable(traceStateOf(span)))
)

/** A `tracestate` worth carrying: printable ASCII, within the 512 characters every participant must keep. */
const isTraceState = (u: unknown): u is string => typeof u === "string" && u.length > 0 && u.length <= 512 && /^[\x20-\x7e]+$/.test(u)

/**
 * The remote parent a request's `params._meta.traceparent` names (W3C Trace Context), if any, with its
 * `_meta.tracestate` as `TraceState`: the receiver's span continues the sender's trace under it.
 *
 * @since 0.1.0
 */
export const parentOf = (params: unknown): Option.Option<Tracer.ExternalSpan> => {
  if (!isRecord(params) || !isRecord(params._meta)) return Option.none()
  const meta = params._meta
  const header = meta.traceparent
  if (typeof header !== "string") return Option.none()
  const match = TRACEPARENT.exec(header)
  if (match === null || match[1] === "ff" || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return Option.none()
  return Option.some(Tracer.externalSpan({
    traceId: match[2]!,
    spanId: match[3]!,
    sampled: (Number.parseInt(match[4]!, 16) & 1) === 1,
    ...(isTraceState(meta.tracestate) ? { context: Context.make(TraceState, meta.tracestate) } : {})
  }))
}

/**
 * Baggage (W3C Baggage): name-value pairs that travel with a request, for what every hop may want to know (a
 * tenant, a feature flag, a user id), whatever it traces.
 *
 * @since 0.1.0
 */
export type Baggage = ReadonlyMap<string, string>

const noBaggage: Baggage = new Map()

/**
 * The current baggage: what the app set (`withBaggage`), or what the request being served brought. Requests sent
 * from here carry it in `_meta.baggage`.
 *
 * @since 0.1.0
 */
export const currentBaggage: FiberRef.FiberRef<Baggage> = FiberRef.unsafeMake(noBaggage)

/** The current baggage (`currentBaggage`). @since 0.1.0 */
export const baggage: Effect.Effect<Baggage> = FiberRef.get(currentBaggage)

/**
 * Runs `self` with `entries` added to the current baggage (replacing entries of the same names): the requests it
 * sends carry them.
 *
 * ```ts
 * client.callTool("report", {}).pipe(McpTelemetry.withBaggage({ tenant: "acme" }))
 * ```
 *
 * @since 0.1.0
 */
export const withBaggage: {
  (entries: { readonly [name: string]: string }): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, entries: { readonly [name: string]: string }): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, entries: { readonly [name: string]: string }): Effect.Effect<A, E, R> =>
    Effect.locallyWith(self, currentBaggage, (current) => {
      const next = new Map(current)
      for (const [name, value] of Object.entries(entries)) next.set(name, value)
      return next
    })
)

/** A baggage name: an HTTP token (RFC 7230). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The W3C Baggage limits: list members, and bytes of the whole header. */
const MAX_MEMBERS = 64
const MAX_BYTES = 8192

/** `baggage` as a `baggage` header: values percent-encoded, within the W3C limits (what does not fit is left out). */
export const encodeBaggage = (baggage: Baggage): string => {
  let header = ""
  let members = 0
  for (const [name, value] of baggage) {
    if (!TOKEN.test(name) || members === MAX_MEMBERS) continue
    const member = `${name}=${encodeURIComponent(value)}`
    const next = header === "" ? member : `${header},${member}`
    if (next.length > MAX_BYTES) continue
    header = next
    members++
  }
  return header
}

const decodeValue = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/**
 * The baggage of a `baggage` header: each valid member's name and decoded value (properties dropped; a malformed
 * member skipped, as the W3C spec allows).
 *
 * @since 0.1.0
 */
export const decodeBaggage = (header: string): Baggage => {
  const baggage = new Map<string, string>()
  if (header.length > MAX_BYTES) return baggage
  for (const member of header.split(",")) {
    const pair = member.split(";", 1)[0]!
    const equals = pair.indexOf("=")
    if (equals < 0) continue
    const name = pair.slice(0, equals).trim()
    const value = decodeValue(pair.slice(equals + 1).trim())
    if (TOKEN.test(name) && value !== undefined && baggage.size < MAX_MEMBERS) baggage.set(name, value)
  }
  return baggage
}

/** The baggage a request's `params._meta.baggage` carries, or undefined when it carries none. @since 0.1.0 */
export const baggageOf = (params: unknown): Baggage | undefined => {
  if (!isRecord(params) || !isRecord(params._meta) || typeof params._meta.baggage !== "string") return undefined
  const baggage = decodeBaggage(params._meta.baggage)
  return baggage.size === 0 ? undefined : baggage
}

/**
 * `params` with the trace context of `span` in its `_meta`: `traceparent`, the `tracestate` of its trace and
 * `baggage`, unless `_meta` has its own `tracestate` or `baggage` already. What a sender writes.
 *
 * @since 0.1.0
 */
export const inject = (
  params: unknown,
  span: Tracer.AnySpan,
  baggage: Baggage = noBaggage
): { readonly [key: string]: unknown } => {
  const base = isRecord(params) ? params : {}
  const meta = isRecord(base._meta) ? base._meta : {}
  const context: Record<string, string> = { traceparent: `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}` }
  if (meta.tracestate === undefined) {
    const state = traceStateOf(span)
    if (state !== undefined) context.tracestate = state
  }
  if (meta.baggage === undefined && baggage.size > 0) {
    const header = encodeBaggage(baggage)
    if (header !== "") context.baggage = header
  }
  return { ...base, _meta: { ...meta, ...context } }
}

/**
 * `params` with the current span's trace context and the current baggage (`inject`); as they are outside any
 * span.
 *
 * @since 0.1.0
 */
export const carry = (params: unknown): Effect.Effect<unknown> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Option.isNone(span)
      ? Effect.succeed(params)
      : Effect.map(FiberRef.get(currentBaggage), (baggage) => inject(params, span.value, baggage)))

/** Which error a response ended with, as the convention names it. @since 0.1.0 */
export const errorType = (code: number): string => String(code)
