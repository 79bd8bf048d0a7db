/**
 * The server's dispatcher, derived from the method table (`McpMethod`): a handler per method the server serves
 * (a handler table missing one does not compile), its params decoded with the table's schema here, once, before
 * the handler sees them, and what each revision does around a handler (its methods, multi round-trip, the result
 * envelope, the code of a missing resource) read from the revision's value.
 *
 * Everything is composed once per server: per revision, a map from method name to the function that serves it.
 * A request costs two map lookups (the session's revision, then the method) before its params are decoded.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import type * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"
import * as McpMethod from "../../McpMethod.js"
import * as McpRevision from "../../McpRevision.js"
import type * as McpSchema from "../../McpSchema.js"
import * as McpTelemetry from "../../McpTelemetry.js"
import type { Sink } from "../../McpSession.js"
import * as Sessionless from "../revisions/sessionless.js"
import type { Revision } from "../revisions/revision.js"
import type { ParamHeader } from "../shared/paramHeaders.js"
import * as Telemetry from "../shared/telemetry.js"
import * as Middleware from "./middleware.js"
import type * as Mrtr from "./mrtr.js"
import * as Rounds from "./rounds.js"
import { type Dispatcher, makeCurrent, type SessionState } from "./session.js"

/**
 * Serves one method: its params as the table's schema decoded them, the session, the request (for its id and
 * raw `_meta`) and where the answer goes (for a handler's progress and messages). Its result is the JSON-RPC
 * result.
 * @internal
 */
export type Handler<M extends McpMethod.DispatchedName> = (
  params: McpMethod.Params<M>,
  session: SessionState,
  request: JsonRpc.Request,
  reply: Sink
) => Effect.Effect<unknown, JsonRpc.JsonRpcError>

/** A handler for every method the server's dispatcher serves. @internal */
export type Handlers = { readonly [M in McpMethod.DispatchedName]: Handler<M> }

/** The cache hints of 2026-07-28 results (`McpServer.CacheHints`). @since 0.1.0 */
export interface CacheHints {
  /** Milliseconds a result may be reused; a non-negative integer. */
  readonly ttlMs: number
  readonly cacheScope: "public" | "private"
}

/** What the dispatcher needs of the server besides its handlers. @internal */
export interface Settings {
  readonly info: McpSchema.Implementation
  readonly cache: CacheHints
  readonly requestState: Mrtr.StateOptions
  readonly clientRequestTimeout: Duration.Duration
  readonly paramHeaders: (tool: string) => ReadonlyArray<ParamHeader> | undefined
  /** Spans and metrics per request (`McpTelemetry`): decided once, when the server is built. */
  readonly telemetry: boolean
}

type Run = (session: SessionState, request: JsonRpc.Request, reply: Sink) => Effect.Effect<unknown, JsonRpc.JsonRpcError>

/** How one revision serves one method, composed once. */
interface Route {
  readonly run: Run
  /** Served before `initialize` completes. */
  readonly beforeInitialize: boolean
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const paramsDecoder = <S extends Schema.Schema.AnyNoContext>(
  schema: S
): (params: unknown) => Either.Either<Schema.Schema.Type<S>, JsonRpc.JsonRpcError> => JsonRpc.paramsDecoder(schema)

/** The handler of `name` behind the decoder of its params. */
const decoded = <M extends McpMethod.DispatchedName>(name: M, handlers: Handlers): Run => {
  const decode = paramsDecoder(McpMethod.paramsOf(name))
  const handler: Handler<M> = handlers[name]
  return (session, request, reply) =>
    Effect.suspend(() => {
      const params = decode(request.params)
      return Either.isLeft(params) ? Effect.fail(params.left) : handler(params.right, session, request, reply)
    })
}

const notInitialized = JsonRpc.invalidRequest("Invalid request: the session is not initialized; send initialize first")

const answer = (request: JsonRpc.Request, reply: Sink) => ({
  onSuccess: (result: unknown) =>
    Effect.sync(() => {
      reply(JsonRpc.success(request.id, result))
    }),
  onFailure: (cause: Cause.Cause<JsonRpc.JsonRpcError>) => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      return Effect.sync(() => {
        reply(JsonRpc.failure(request.id, failure.value))
      })
    }
    // An interruption from inside answers nothing here; the session answers requests a shutdown stops.
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    return Effect.zipRight(
      Effect.logError(`${request.method} failed`, cause),
      Effect.sync(() => {
        reply(JsonRpc.failure(request.id, JsonRpc.internalError()))
      })
    )
  }
})

const refuse = (reply: Sink, response: JsonRpc.Response) =>
  Effect.sync(() => {
    reply(response)
  })

/** A retired code is never emitted: a missing resource gets the revision's own code (2026-07-28: -32602). */
const withResourceCode = (code: number) => (error: JsonRpc.JsonRpcError): JsonRpc.JsonRpcError =>
  error.code === JsonRpc.ErrorCode.ResourceNotFound
    ? new JsonRpc.JsonRpcError({ code, message: error.message, data: error.data })
    : error

/**
 * `plain` behind the server-wide middleware: they see the request before its params are decoded; a tool error
 * is the result of a `tools/call`, and -32600 for any other method.
 */
const guarded = (name: McpMethod.DispatchedName, chain: Middleware.Step, plain: Run): Run => {
  const recover = name === "tools/call"
    ? (failure: Middleware.Failure) =>
      failure instanceof Middleware.ToolError ? Effect.succeed(Middleware.toolResult(failure)) : Effect.fail(failure)
    : (failure: Middleware.Failure) => Effect.fail(Middleware.toJsonRpc(failure))
  return (session, request, reply) => {
    const current = makeCurrent(session, request.id, undefined, reply)
    const seen = Middleware.requestOf(request.method, request.params, current)
    return Effect.catchAll(chain(seen, Context.empty(), () => plain(session, request, reply)), recover)
  }
}

/** The metric of one request, tagged with what it was and how it ended. */
const operationMetric = (attributes: Record<string, string>) => () => {
  let metric = McpTelemetry.serverOperationDuration
  for (const key of METRIC_ATTRIBUTES) {
    const value = attributes[key]
    if (value !== undefined) metric = Metric.tagged(metric, key, value)
  }
  return metric
}

const METRIC_ATTRIBUTES = [
  McpTelemetry.Attribute.methodName,
  McpTelemetry.Attribute.toolName,
  McpTelemetry.Attribute.promptName,
  McpTelemetry.Attribute.protocolVersion,
  McpTelemetry.Attribute.networkTransport,
  McpTelemetry.Attribute.errorType
] as const

/**
 * `plain` in a server span (`McpTelemetry`): its parent is the client's span named by `_meta.traceparent`, the
 * handler runs with the baggage `_meta.baggage` brought, its attributes say what the request was and how it
 * ended, and its duration goes to `mcp.server.operation.duration`. Only when the server was built with a tracer:
 * otherwise the routes are the plain ones.
 */
const traced = (plain: Run): Run => (session, request, reply) => {
  const { attributes, name } = McpTelemetry.describe(request.method, request.params)
  attributes[McpTelemetry.Attribute.requestId] = String(request.id)
  attributes[McpTelemetry.Attribute.protocolVersion] = session.protocolVersion
  if (session.revision.sessions) attributes[McpTelemetry.Attribute.sessionId] = session.id
  const transport = McpTelemetry.networkTransport(session.transport)
  if (transport !== undefined) attributes[McpTelemetry.Attribute.networkTransport] = transport
  return Telemetry.timed(
    Telemetry.received(name, attributes, request.params)(plain(session, request, reply)),
    operationMetric(attributes)
  )
}

/** `initialize` that, once it succeeds, has the session's end record `mcp.server.session.duration`. */
const timedSession = (plain: Run): Run => (session, request, reply) =>
  Effect.tap(plain(session, request, reply), () =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      Scope.addFinalizer(
        session.scope,
        Effect.flatMap(Clock.currentTimeNanos, (end) => {
          const transport = McpTelemetry.networkTransport(session.transport)
          let metric = Metric.tagged(McpTelemetry.serverSessionDuration, McpTelemetry.Attribute.protocolVersion, session.protocolVersion)
          if (transport !== undefined) metric = Metric.tagged(metric, McpTelemetry.Attribute.networkTransport, transport)
          return Metric.update(metric, Number(end - start) / 1e9)
        })
      )))

/** The retry of a multi round-trip request, whose result is not to be cached (`caching.mdx` §Cache Key). */
const isRetry = (params: unknown) =>
  isRecord(params) && (params.inputResponses !== undefined || params.requestState !== undefined)

/** How `revision` serves `name`: the decoded handler, wrapped in what the revision does around it. */
const routeOf = (
  revision: Revision,
  name: McpMethod.DispatchedName,
  handlers: Handlers,
  settings: Settings,
  chain: Middleware.Step | undefined
): Route => {
  const method = McpMethod.table[name]
  let run = decoded(name, handlers)
  if (chain !== undefined) run = guarded(name, chain, run)
  if (revision.inputRounds && method.carrier) {
    const plain = run
    run = (session, request, reply) =>
      Rounds.run(settings.requestState, session, request, plain(session, request, reply))
  }
  if (revision.resultEnvelope) {
    const plain = run
    const meta = { [Sessionless.Meta.serverInfo]: settings.info }
    // What every such result carries: its type, who answered, and for the cacheable ones the hints.
    const stamp = (result: unknown, retry: boolean): unknown => {
      if (!isRecord(result)) return result
      const withInfo = isRecord(result._meta) ? { ...result._meta, ...meta } : meta
      if (result.resultType !== undefined) return { ...result, _meta: withInfo }
      const hints = method.cacheable && !retry ? settings.cache : {}
      return { ...result, ...hints, resultType: "complete", _meta: withInfo }
    }
    run = (session, request, reply) =>
      Effect.map(plain(session, request, reply), (result) => stamp(result, isRetry(request.params)))
  }
  if (revision.resourceNotFoundCode !== JsonRpc.ErrorCode.ResourceNotFound) {
    const plain = run
    const mapError = withResourceCode(revision.resourceNotFoundCode)
    run = (session, request, reply) => Effect.mapError(plain(session, request, reply), mapError)
  }
  if (settings.telemetry) run = traced(name === "initialize" ? timedSession(run) : run)
  return { run, beforeInitialize: method.beforeInitialize }
}

/** The routes of each revision, by method name: those it has. */
const routesOf = (
  handlers: Handlers,
  settings: Settings,
  chain: Middleware.Step | undefined
): ReadonlyMap<string, ReadonlyMap<string, Route>> =>
  new Map(McpRevision.all.map((revision) => {
    const routes = new Map<string, Route>()
    for (const name of revision.methods) {
      if (McpMethod.isName(name) && McpMethod.isDispatched(name)) {
        routes.set(name, routeOf(revision, name, handlers, settings, chain))
      }
    }
    return [revision.version, routes]
  }))

const decodeCancelled = JsonRpc.paramsDecoder(McpMethod.table["notifications/cancelled"].params)

/** A dispatcher, and how to change the server-wide middleware it runs. @internal */
export interface Dispatch extends Dispatcher {
  /** Composes the routes again around `chain` (none: the plain routes): once per change, not per request. */
  readonly setMiddleware: (chain: Middleware.Step | undefined) => void
}

/**
 * The dispatcher of a server whose methods `handlers` serves.
 * @internal
 */
export const make = (handlers: Handlers, settings: Settings): Dispatch => {
  let routes = routesOf(handlers, settings, undefined)
  // A session's version is always one served; this is for a session opened otherwise, as before any handshake.
  let fallback = routes.get(McpRevision.latestSessionEra.version) ?? new Map<string, Route>()
  return {
    setMiddleware: (chain) => {
      routes = routesOf(handlers, settings, chain)
      fallback = routes.get(McpRevision.latestSessionEra.version) ?? new Map<string, Route>()
    },
    clientRequestTimeout: settings.clientRequestTimeout,
    telemetry: settings.telemetry,
    paramHeaders: settings.paramHeaders,
    request: (session, request, reply) => {
      if (session.hasInvalidLogLevel) {
        return refuse(
          reply,
          JsonRpc.failure(
            request.id,
            JsonRpc.invalidParams(`Invalid params: ${Sessionless.Meta.logLevel} is not a logging level`)
          )
        )
      }
      const route = (routes.get(session.protocolVersion) ?? fallback).get(request.method)
      if (route === undefined) return refuse(reply, JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method)))
      if (session.phase !== "initialized" && !route.beforeInitialize) {
        return refuse(reply, JsonRpc.failure(request.id, notInitialized))
      }
      return Effect.matchCauseEffect(route.run(session, request, reply), answer(request, reply))
    },
    notification: (session, notification) => {
      if (notification.method !== "notifications/cancelled") return
      const params = decodeCancelled(notification.params)
      // Cancellation is advisory and a late one is harmless: the spec has the receiver ignore unknown ids.
      if (Either.isRight(params)) session.cancel(params.right.requestId)
    }
  }
}
