/**
 * The session model, and `CurrentSession`: the service a tool, resource or prompt handler uses to learn who
 * called it and to talk back (notifications, logging, progress).
 *
 * A `Session` is created only by `SessionRegistry`, which ties it to a `Scope`; everything a session owns
 * (handler fibers, outbound queue, stored events) is released by that scope's finalizers.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as JsonRpc from "./JsonRpc.js"
import type * as McpSchema from "./McpSchema.js"

/** A session id: at least 122 random bits, visible ASCII. @since 0.1.0 */
export type SessionId = string

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Mints a session id from 128 bits of the platform's cryptographic random source, as 32 hex characters.
 *
 * @since 0.1.0
 */
export const makeSessionId = (): SessionId => {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  let id = ""
  for (let i = 0; i < bytes.length; i++) id += HEX[bytes[i]!]
  return id
}

/** Session ids are checked before lookup, so garbage never reaches the registry. @since 0.1.0 */
export const isValidSessionId = (id: string): boolean => /^[\x21-\x7e]{1,256}$/.test(id)

/** Where a message for the client goes; returns false when that place is gone. @since 0.1.0 */
export type Sink = (message: JsonRpc.Message) => boolean

/**
 * Lifecycle of the MCP handshake within a session.
 *
 * @since 0.1.0
 */
export type Phase = "awaiting-initialize" | "initialized"

const severity: Record<McpSchema.LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7
}

/**
 * One connected client. Mutable state lives here because it is touched on every request of the session and
 * only by that session's own handling; the registry holds the immutable map of sessions.
 *
 * @since 0.1.0
 */
export class Session {
  /** The negotiated revision; the transport's default until `initialize` says otherwise. */
  protocolVersion: string
  phase: Phase = "awaiting-initialize"
  clientInfo: McpSchema.Implementation | undefined = undefined
  clientCapabilities: McpSchema.ClientCapabilities = {}
  /** Minimum level of `notifications/message` the client asked for; undefined sends everything. */
  logLevel: McpSchema.LoggingLevel | undefined = undefined
  /** Default route for server-initiated messages (the SSE stream of the legacy transport, the GET stream...). */
  send: Sink = () => false
  /** Handler fibers by request id, so `notifications/cancelled` can interrupt them. */
  readonly inFlight = new Map<JsonRpc.RequestId, Fiber.RuntimeFiber<unknown, unknown>>()
  /** Requests being handled plus open streams: idle expiry only counts time while this is zero. */
  busy = 0
  lastActive: number
  private open = true

  constructor(
    readonly id: SessionId,
    readonly transport: string,
    /** What the session owns: transports attach their resources here. It closes when the session ends. */
    readonly scope: Scope.Scope,
    readonly clock: Clock.Clock,
    protocolVersion: string,
    private readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>,
    readonly close: Effect.Effect<void>,
    /** Completed when the session begins to close: streams end on it. */
    readonly closed: Deferred.Deferred<void>
  ) {
    this.protocolVersion = protocolVersion
    this.lastActive = clock.unsafeCurrentTimeMillis()
  }

  /** False once the session's scope has begun to close; a closed session accepts nothing. */
  get isOpen(): boolean {
    return this.open
  }

  /** @internal called first by the scope's finalizer, so no new work slips in while the rest is released. */
  markClosed(): void {
    this.open = false
  }

  /** Marks the start of a request or stream; pair with `release`. */
  acquire(): void {
    this.busy++
  }

  /** Marks the end of a request or stream; the idle clock starts when nothing is left. */
  release(): void {
    if (--this.busy === 0) this.lastActive = this.clock.unsafeCurrentTimeMillis()
  }

  /** Records activity without holding the session busy (a notification, a response from the client). */
  touch(): void {
    this.lastActive = this.clock.unsafeCurrentTimeMillis()
  }

  /**
   * Hands work to the session: forks it into the session's scope, where closing the session interrupts it.
   * Synchronous, so "is the session open?" and "the work is owned by it" cannot be separated by a close: the
   * caller answers 202 only when this returns a fiber. A request id registers the fiber for cancellation.
   */
  unsafeRun<A, E>(
    effect: Effect.Effect<A, E>,
    requestId?: JsonRpc.RequestId
  ): Fiber.RuntimeFiber<A, E> | undefined {
    if (!this.open) return undefined
    this.acquire()
    const fiber = this.fork(effect)
    if (requestId !== undefined) this.inFlight.set(requestId, fiber)
    fiber.addObserver(() => {
      if (requestId !== undefined && this.inFlight.get(requestId) === fiber) this.inFlight.delete(requestId)
      this.release()
    })
    return fiber
  }

  /** True when a `notifications/message` at `level` passes the client's `logging/setLevel`. */
  wantsLog(level: McpSchema.LoggingLevel): boolean {
    return this.logLevel === undefined || severity[level] >= severity[this.logLevel]
  }
}

/**
 * What a handler sees of the session and the request it serves.
 *
 * @since 0.1.0
 */
export interface CurrentSessionService {
  /** The session id (empty for a stateless request). */
  readonly sessionId: SessionId
  /** The negotiated protocol revision. */
  readonly protocolVersion: string
  /** The client's `clientInfo` from `initialize`. */
  readonly clientInfo: McpSchema.Implementation | undefined
  readonly clientCapabilities: McpSchema.ClientCapabilities
  /** The id of the request being handled. */
  readonly requestId: JsonRpc.RequestId
  /** Sends a notification to the client, on the stream of the current request when it has one. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void>
  /** Sends `notifications/message`, honouring the client's `logging/setLevel`. */
  readonly log: (level: McpSchema.LoggingLevel, data: unknown, logger?: string) => Effect.Effect<void>
  /** Sends `notifications/progress` when the request carried a progress token; otherwise does nothing. */
  readonly progress: (progress: number, total?: number, message?: string) => Effect.Effect<void>
}

/**
 * The session and request a handler serves. Provided by the server around every handler call, so a handler
 * that uses it does not add it to its layer's requirements.
 *
 * @since 0.1.0
 */
export class CurrentSession extends Context.Tag("@effect-mcp/core/CurrentSession")<
  CurrentSession,
  CurrentSessionService
>() {}

/**
 * Builds the handler's view of a session for one request. `sink` is where messages about this request go.
 *
 * @since 0.1.0
 */
export const makeCurrent = (
  session: Session,
  requestId: JsonRpc.RequestId,
  progressToken: McpSchema.ProgressToken | undefined,
  sink: Sink
): CurrentSessionService => {
  const notify = (method: string, params?: unknown) =>
    Effect.sync(() => {
      sink(JsonRpc.notification(method, params))
    })
  return {
    sessionId: session.id,
    protocolVersion: session.protocolVersion,
    clientInfo: session.clientInfo,
    clientCapabilities: session.clientCapabilities,
    requestId,
    notify,
    // Checked when the effect runs, not when it is built: a `logging/setLevel` applies to requests in flight.
    log: (level, data, logger) =>
      Effect.suspend(() =>
        session.wantsLog(level)
          ? notify("notifications/message", logger === undefined ? { level, data } : { level, logger, data })
          : Effect.void
      ),
    progress: (progress, total, message) =>
      progressToken === undefined ? Effect.void : notify("notifications/progress", {
        progressToken,
        progress,
        ...(total === undefined ? {} : { total }),
        ...(message === undefined ? {} : { message })
      })
  }
}
