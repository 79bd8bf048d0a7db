/**
 * The one place where a session changes. `SessionState` implements the read-only `Session` view; its mutable
 * fields are private and change only through the methods below, which the registry (open, close) and the server
 * (initialize, log level, cancellation) call.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as JsonRpc from "../JsonRpc.js"
import { isSameParty, type Principal } from "../McpAuth.js"
import type * as McpSchema from "../McpSchema.js"
import type { CurrentSessionService, Phase, Session, SessionId, Sink } from "../McpSession.js"
import { noSink } from "../McpSession.js"
import type * as Scope from "effect/Scope"

/**
 * How a session hands messages to the server: built once per server, so a session holds a reference, not a
 * copy of the method table.
 * @internal
 */
export interface Dispatcher {
  /** Answers a request; the effect gives `reply` the response before it ends (none when interrupted). */
  readonly request: (session: SessionState, request: JsonRpc.Request, reply: Sink) => Effect.Effect<void>
  /** Handles a notification from the client, at once. */
  readonly notification: (session: SessionState, notification: JsonRpc.Notification) => void
}

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

const duplicateId = (id: JsonRpc.RequestId) =>
  JsonRpc.failure(id, JsonRpc.invalidRequest(`Invalid request: a request with id ${JSON.stringify(id)} is in flight`))

/**
 * The server is shutting down: the answer to a request that arrived while it drains, and to one still running
 * when the drain period ended. Every request the server took gets an answer, never silence.
 * @internal
 */
export const shuttingDown = JsonRpc.internalError("The server is shutting down; retry on another connection")

/** A session's limit of requests in flight was reached. @internal */
export const tooManyRequests = (limit: number) =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.ConnectionClosed,
    message: `Too many requests in flight: this session may have ${limit} at once`
  })

/** @internal */
export class SessionState implements Session {
  private version: string
  private phaseNow: Phase = "awaiting-initialize"
  private client: McpSchema.Implementation | undefined = undefined
  private capabilities: McpSchema.ClientCapabilities = {}
  private level: McpSchema.LoggingLevel | undefined = undefined
  private writer: Sink = noSink
  /** Handler fibers by request id: cancellation interrupts one, closing the session all of them. */
  private readonly fibers = new Map<JsonRpc.RequestId, Fiber.RuntimeFiber<void, never>>()
  private busyCount = 0
  private lastActiveAt: number
  private open = true
  /** Shutting down: new requests are answered with an error; what runs may finish. */
  private draining = false
  /** Shutting down past the drain period: handlers interrupted now answer with an error. */
  private stopping = false
  private owner: Principal | undefined = undefined

  constructor(
    readonly id: SessionId,
    readonly transport: string,
    readonly scope: Scope.Scope,
    private readonly clock: Clock.Clock,
    protocolVersion: string,
    private readonly dispatcher: Dispatcher,
    /** Forks into this session's runtime (its log annotations), outside any caller's fiber. */
    private readonly fork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>,
    readonly close: Effect.Effect<void>,
    readonly closed: Effect.Effect<void>,
    /** Requests that may be in flight at once; past it a request is answered with an error at once. */
    private readonly maxInFlight: number = Infinity
  ) {
    this.version = protocolVersion
    this.lastActiveAt = clock.unsafeCurrentTimeMillis()
  }

  get protocolVersion(): string {
    return this.version
  }
  get phase(): Phase {
    return this.phaseNow
  }
  get clientInfo(): McpSchema.Implementation | undefined {
    return this.client
  }
  get clientCapabilities(): McpSchema.ClientCapabilities {
    return this.capabilities
  }
  get logLevel(): McpSchema.LoggingLevel | undefined {
    return this.level
  }
  get principal(): Principal | undefined {
    return this.owner
  }
  get isOpen(): boolean {
    return this.open
  }
  get inFlight(): number {
    return this.fibers.size
  }
  get busy(): number {
    return this.busyCount
  }
  get lastActive(): number {
    return this.lastActiveAt
  }

  readonly offer = (message: JsonRpc.Message, reply: Sink, settled?: () => void): boolean => {
    if (!this.open) return false
    if (!("method" in message)) {
      // A response to a request of the server's: none are sent yet, so only the activity counts.
      this.touch()
      return true
    }
    if (!("id" in message)) {
      this.touch()
      this.dispatcher.notification(this, message)
      return true
    }
    const id = message.id
    const refusal = this.fibers.has(id)
      ? duplicateId(id)
      : this.draining
      ? JsonRpc.failure(id, shuttingDown)
      : this.fibers.size >= this.maxInFlight
      ? JsonRpc.failure(id, tooManyRequests(this.maxInFlight))
      : undefined
    if (refusal !== undefined) {
      reply(refusal)
      if (settled !== undefined) settled()
      return true
    }
    this.busyCount++
    const fiber = this.fork(this.dispatcher.request(this, message, reply))
    this.fibers.set(id, fiber)
    // Added after `set`, so a handler that finished inside `fork` is removed at once.
    fiber.addObserver((exit) => {
      if (this.fibers.get(id) === fiber) this.fibers.delete(id)
      // Stopped by a shutdown past its drain period: still answered, never silence. (A cancellation, or a
      // session that ended, answers nothing: the spec has no response for them, and no one to read it.)
      if (this.stopping && Exit.isInterrupted(exit)) reply(JsonRpc.failure(id, shuttingDown))
      this.release()
      if (settled !== undefined) settled()
    })
    return true
  }

  readonly send = (message: JsonRpc.Message): boolean => this.open && this.writer(message)

  readonly setWriter = (writer: Sink): void => {
    this.writer = writer
  }

  readonly hold = (): () => void => {
    this.busyCount++
    let held = true
    return () => {
      if (!held) return
      held = false
      this.release()
    }
  }

  readonly authorize = (principal: Principal | undefined): boolean => {
    if (this.owner === undefined || principal === undefined) return this.owner === principal
    if (!isSameParty(this.owner, principal)) return false
    this.owner = principal
    return true
  }

  readonly touch = (): void => {
    this.lastActiveAt = this.clock.unsafeCurrentTimeMillis()
  }

  private release(): void {
    if (--this.busyCount === 0) this.lastActiveAt = this.clock.unsafeCurrentTimeMillis()
  }

  // --- What the server changes -----------------------------------------------------------------------------------

  /** Records the outcome of `initialize`. */
  initialize(
    version: string,
    clientInfo: McpSchema.Implementation,
    capabilities: McpSchema.ClientCapabilities
  ): void {
    this.version = version
    this.client = clientInfo
    this.capabilities = capabilities
    this.phaseNow = "initialized"
  }

  /** Serves the session as already initialized at `version` (stateless requests, which have no handshake). */
  assumeInitialized(version: string): void {
    this.version = version
    this.phaseNow = "initialized"
  }

  setLogLevel(level: McpSchema.LoggingLevel): void {
    this.level = level
  }

  /** True when a `notifications/message` at `level` passes the client's `logging/setLevel`. */
  wantsLog(level: McpSchema.LoggingLevel): boolean {
    return this.level === undefined || severity[level] >= severity[this.level]
  }

  /** Interrupts the handler of a request; an unknown or finished id is ignored, as the spec asks. */
  cancel(requestId: JsonRpc.RequestId): void {
    const fiber = this.fibers.get(requestId)
    if (fiber !== undefined) fiber.unsafeInterruptAsFork(fiber.id())
  }

  // --- What the registry changes ---------------------------------------------------------------------------------

  /** True past the drain period of a shutdown: an interrupted handler then answers with `shuttingDown`. */
  get isStopping(): boolean {
    return this.stopping
  }

  /** Starts a shutdown: requests from here on are answered with `shuttingDown`; those running go on. */
  startDrain(): void {
    this.draining = true
  }

  /** Ends a shutdown's drain period: the handlers still running are interrupted and answer with an error. */
  readonly stopInFlight: Effect.Effect<void> = Effect.suspend(() => {
    this.draining = true
    this.stopping = true
    return this.interruptAll
  })

  readonly drain = (timeout: Duration.DurationInput): Effect.Effect<number> =>
    Effect.suspend(() => {
      this.startDrain()
      // Interruptible on purpose: a drain usually runs in a finalizer, where the timeout could not stop the wait.
      return Effect.interruptible(Effect.repeat(Effect.sync(() => this.fibers.size), {
        until: (n) => n === 0,
        schedule: Schedule.spaced(Duration.millis(10))
      })).pipe(
        Effect.timeoutOption(timeout),
        Effect.flatMap((settled) => {
          if (Option.isSome(settled)) return Effect.succeed(0)
          const stopped = this.fibers.size
          return Effect.as(this.stopInFlight, stopped)
        })
      )
    })

  /** Binds the session to the principal that opens it. */
  bind(principal: Principal): void {
    this.owner = principal
  }

  /** First step of closing: from here the session accepts nothing. */
  markClosed(): void {
    this.open = false
    this.writer = noSink
  }

  /** Interrupts every handler still running and waits for them. */
  readonly interruptAll: Effect.Effect<void> = Effect.suspend(() =>
    this.fibers.size === 0 ? Effect.void : Fiber.interruptAll(Array.from(this.fibers.values()))
  )
}

/**
 * Builds the handler's view of a session for one request. `reply` is where messages about this request go.
 * @internal
 */
export const makeCurrent = (
  session: SessionState,
  requestId: JsonRpc.RequestId,
  progressToken: McpSchema.ProgressToken | undefined,
  reply: Sink
): CurrentSessionService => {
  const notify = (method: string, params?: unknown) =>
    Effect.sync(() => {
      reply(JsonRpc.notification(method, params))
    })
  return {
    sessionId: session.id,
    protocolVersion: session.protocolVersion,
    clientInfo: session.clientInfo,
    clientCapabilities: session.clientCapabilities,
    principal: session.principal,
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
