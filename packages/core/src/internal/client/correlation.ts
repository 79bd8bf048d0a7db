/**
 * Correlation, as `@effect/rpc`'s `makeNoSerialization` keeps it alone: requests out under ids, each answer to the
 * request waiting for it, progress to its callback, the server's requests to the handlers (and cancelled when the
 * server says so), every notification to the client's stream, and the end of it all when the client closes or the
 * connection is lost. It knows no revision, no session, no listen stream: what goes around a request (the 2026-07-28
 * `_meta`) and where a listen stream's notifications go are given to it.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberMap from "effect/FiberMap"
import { identity } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpSchema from "../../McpSchema.js"
import * as McpTelemetry from "../../McpTelemetry.js"
import { rpcError } from "./decode.js"
import * as Handlers from "./handlers.js"
import type { McpClientTransportService } from "./transport.js"

/** `notifications/progress` params (`McpClient.Progress`). @internal */
export const Progress = McpSchema.ProgressParams

const decodeProgress = Schema.decodeUnknownOption(Progress)
const decodeCancelled = Schema.decodeUnknownOption(McpSchema.CancelledParams)

/** What wraps the params of each request going out: the 2026-07-28 `_meta` once the server is sessionless. @internal */
export interface Envelope {
  readonly wrap: (params: unknown) => unknown
}

/**
 * Where the notifications of 2026-07-28 listen streams go, before anything else (see `Listen.Listeners`).
 * @internal
 */
export interface ListenRoutes {
  /**
   * Takes in `notification` when it belongs to an open listen stream, and says whether it is also one for
   * `notifications` (an acknowledgement is not); undefined when it belongs to none.
   */
  readonly route: (notification: JsonRpc.Notification) => Effect.Effect<boolean> | undefined
}

/** The correlation of one client. @internal */
export interface Correlation {
  /** A fresh request id. */
  readonly nextId: () => JsonRpc.RequestId
  /** Sends a message, unless the client can no longer send. */
  readonly send: (message: JsonRpc.Message) => Effect.Effect<void, McpClientError>
  /**
   * One request under `id`, without recovery, to its raw result; with `timed`, within `requestTimeout`.
   * Interrupting it cancels it on the server (but `initialize`, which the spec forbids cancelling).
   */
  readonly callWith: (
    id: JsonRpc.RequestId,
    method: string,
    params: unknown,
    timed: boolean
  ) => Effect.Effect<unknown, McpClientError>
  /** One request under a fresh id, within `requestTimeout`, without recovery. */
  readonly call: (method: string, params: unknown) => Effect.Effect<unknown, McpClientError>
  /** Runs `use` with a progress token whose `notifications/progress` go to `onProgress`. */
  readonly withProgress: <A, E>(
    onProgress: (progress: typeof Progress.Type) => Effect.Effect<void>,
    use: (token: McpSchema.ProgressToken) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  /** Whether the client can still send: not closed, not closing, the connection not lost. */
  readonly isOpen: () => boolean
  /** Every notification, from when the stream is run; empty once the client can no longer send. */
  readonly notifications: Stream.Stream<JsonRpc.Notification>
  /** Like `notifications`, subscribed at once. */
  readonly subscribe: Effect.Effect<Stream.Stream<JsonRpc.Notification>, never, Scope.Scope>
  /** Fails what is pending with `Closed`, ends the notifications and closes the transport; once. */
  readonly close: Effect.Effect<void>
  /**
   * Whether the client was built with a tracer (`McpTelemetry.isTracing`): then each request carries its span
   * in `_meta` (`traceparent`, with `tracestate` and `baggage`), and requests have spans and metrics of the MCP
   * conventions.
   */
  readonly tracing: boolean
}

/** The mutable state of one client's correlation, in one place. */
interface State {
  readonly pending: Map<JsonRpc.RequestId, Deferred.Deferred<unknown, McpClientError>>
  readonly progress: Map<McpSchema.ProgressToken, (progress: typeof Progress.Type) => Effect.Effect<void>>
  /** Set once the client can no longer send: every later request fails with it. */
  failure: McpClientError | undefined
  closing: boolean
  nextId: number
  nextToken: number
}

/** What correlation needs of the rest of the client. @internal */
export interface Inputs {
  readonly transport: McpClientTransportService
  readonly handlers: Handlers.Handlers
  readonly envelope: Envelope
  readonly listens: ListenRoutes
  readonly timeout: Duration.Duration | undefined
}

/** With a tracer: records `mcp.client.session.duration` when the client's scope closes. */
const clientSession = Effect.flatMap(Clock.currentTimeNanos, (start) =>
  Effect.addFinalizer(() =>
    Effect.flatMap(
      Clock.currentTimeNanos,
      (end) => Metric.update(McpTelemetry.clientSessionDuration, Number(end - start) / 1e9)
    )
  ))

/**
 * The correlation of a client on `transport`: starts receiving (until the scope closes) and closes the client
 * when the scope closes.
 * @internal
 */
export const make = Effect.fnUntraced(function*(inputs: Inputs) {
  const { transport } = inputs
  const scope = yield* Effect.scope
  const state: State = {
    pending: new Map(),
    progress: new Map(),
    failure: undefined,
    closing: false,
    nextId: 0,
    nextToken: 0
  }
  // The server's requests being answered, by id, so that `notifications/cancelled` can interrupt them.
  const serving = yield* FiberMap.make<JsonRpc.RequestId>()
  const notifications = yield* PubSub.unbounded<JsonRpc.Notification>()
  const tracing = yield* McpTelemetry.isTracing
  if (tracing) yield* clientSession
  // With a tracer, a request carries the span it is sent in, the trace's tracestate and the current baggage
  // (SEP-414), so the server's continues its trace.
  const outgoing = (id: JsonRpc.RequestId, method: string, params: unknown): Effect.Effect<JsonRpc.Message> =>
    Effect.map(McpTelemetry.carry(inputs.envelope.wrap(params)), (carried) => JsonRpc.request(id, method, carried))

  const fail = (error: McpClientError) =>
    Effect.suspend(() => {
      const failure = state.failure ??= error
      for (const deferred of state.pending.values()) Deferred.unsafeDone(deferred, Exit.fail(failure))
      state.pending.clear()
      return PubSub.shutdown(notifications)
    })

  const send = (message: JsonRpc.Message) =>
    Effect.suspend(() => state.failure !== undefined ? Effect.fail(state.failure) : transport.send(message))

  const receive = receiver({
    state,
    listens: inputs.listens,
    notifications,
    serve: (request) =>
      Effect.asVoid(FiberMap.run(serving, request.id, Effect.ignore(Effect.flatMap(Handlers.answer(inputs.handlers, request), send)))),
    stopServing: (id) => Effect.asVoid(Effect.forkIn(FiberMap.remove(serving, id), scope))
  })

  // Messages flow until the scope closes; a transport that loses its connection fails everything with the reason.
  yield* transport.run(receive).pipe(
    Effect.catchAll(fail),
    Effect.forkIn(scope)
  )

  const cancel = (id: JsonRpc.RequestId) =>
    Effect.suspend(() =>
      state.failure !== undefined ? Effect.void : transport.send(
        JsonRpc.notification("notifications/cancelled", { requestId: id, reason: "The request was interrupted" })
      )
    ).pipe(Effect.ignore, Effect.forkIn(scope), Effect.asVoid)

  const withTimeout = withRequestTimeout(inputs.timeout)

  const callWith = (
    id: JsonRpc.RequestId,
    method: string,
    params: unknown,
    timed: boolean
  ): Effect.Effect<unknown, McpClientError> =>
    Effect.suspend(() => {
      if (state.failure !== undefined) return Effect.fail(state.failure)
      const deferred = Deferred.unsafeMake<unknown, McpClientError>(FiberId.none)
      state.pending.set(id, deferred)
      // Whichever ends first: the answer (which may come before the transport is done sending, or be a
      // failure from `close`), or a failure to send.
      return Effect.raceFirst(
        Deferred.await(deferred),
        Effect.zipRight(
          tracing
            ? Effect.flatMap(outgoing(id, method, params), transport.send)
            : transport.send(JsonRpc.request(id, method, inputs.envelope.wrap(params))),
          Effect.never
        )
      ).pipe(
        // The spec forbids cancelling `initialize`.
        Effect.onInterrupt(() => method === "initialize" ? Effect.void : cancel(id)),
        timed ? withTimeout(method) : identity,
        Effect.ensuring(Effect.sync(() => state.pending.delete(id)))
      )
    })

  const close = Effect.suspend(() => {
    if (state.closing) return Effect.void
    state.closing = true
    return fail(new McpClientError({ reason: "Closed", message: "The MCP client is closed" })).pipe(
      Effect.zipRight(transport.close)
    )
  })
  yield* Effect.addFinalizer(() => close)

  const correlation: Correlation = {
    tracing,
    nextId: () => ++state.nextId,
    send,
    callWith,
    call: (method, params) => Effect.suspend(() => callWith(++state.nextId, method, params, true)),
    withProgress: (onProgress, use) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          const token = `progress-${++state.nextToken}`
          state.progress.set(token, onProgress)
          return token
        }),
        use,
        (token) => Effect.sync(() => state.progress.delete(token))
      ),
    isOpen: () => state.failure === undefined && !state.closing,
    // Once the client is closed or disconnected, the streams are empty rather than interrupted.
    notifications: Stream.suspend(() =>
      state.failure === undefined ? Stream.fromPubSub(notifications) : Stream.empty
    ),
    subscribe: Effect.suspend(() =>
      state.failure === undefined ? Stream.fromPubSub(notifications, { scoped: true }) : Effect.succeed(Stream.empty)
    ),
    close
  }
  return correlation
})

/** `Effect.timeoutFail` with the client's `requestTimeout`, when it has one. */
const withRequestTimeout = (timeout: Duration.Duration | undefined) => (method: string) =>
  timeout === undefined
    ? identity<Effect.Effect<unknown, McpClientError>>
    : Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new McpClientError({
          reason: "Timeout",
          message: `The server did not answer ${method} within ${Duration.format(timeout)}`
        })
    })

/** The receiving end: each message the transport delivers, to where it goes. */
const receiver = (inputs: {
  readonly state: State
  readonly listens: ListenRoutes
  readonly notifications: PubSub.PubSub<JsonRpc.Notification>
  readonly serve: (request: JsonRpc.Request) => Effect.Effect<void>
  readonly stopServing: (id: JsonRpc.RequestId) => Effect.Effect<void>
}) =>
(message: JsonRpc.Message): Effect.Effect<void> => {
  const { notifications, state } = inputs
  if (JsonRpc.isResponse(message)) {
    if (message.id === null) {
      return Effect.logWarning("MCP server sent an error that answers no request", message)
    }
    const deferred = state.pending.get(message.id)
    // No entry: the request was cancelled or timed out, and the server answered anyway.
    if (deferred === undefined) return Effect.void
    state.pending.delete(message.id)
    return Deferred.done(
      deferred,
      "error" in message ? Exit.fail(rpcError(message.error)) : Exit.succeed(message.result)
    )
  }
  if (JsonRpc.isRequest(message)) return inputs.serve(message)
  const publish = PubSub.publish(notifications, message)
  const routed = inputs.listens.route(message)
  if (routed !== undefined) return Effect.flatMap(routed, (also) => also ? Effect.asVoid(publish) : Effect.void)
  if (message.method === "notifications/cancelled") {
    const cancelled = decodeCancelled(message.params)
    if (Option.isSome(cancelled)) return Effect.zipRight(inputs.stopServing(cancelled.value.requestId), publish)
  }
  if (message.method === "notifications/progress") {
    const progress = decodeProgress(message.params)
    const handler = Option.isSome(progress) ? state.progress.get(progress.value.progressToken) : undefined
    if (handler !== undefined && Option.isSome(progress)) {
      // A failing callback must not stop the fiber that receives everything else.
      return handler(progress.value).pipe(
        Effect.catchAllCause((cause) => Effect.logError("MCP client: onProgress failed", cause)),
        Effect.zipRight(publish)
      )
    }
  }
  return Effect.asVoid(publish)
}
