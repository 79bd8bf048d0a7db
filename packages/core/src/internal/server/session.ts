/**
 * The one place where a session changes. `SessionState` implements the read-only `Session` view; its mutable
 * fields are private and change only through the methods below, which the registry (open, close) and the server
 * (initialize, log level, cancellation) call.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import { type ClientKey, type Pool, RETRY_AFTER_SECONDS, type Shortfall } from "../../Budget.js"
import * as JsonRpc from "../../JsonRpc.js"
import { isSameParty, type Principal } from "../../McpAuth.js"
import * as McpRevision from "../../McpRevision.js"
import * as McpSchema from "../../McpSchema.js"
import type {
  ClientRequestOptions,
  CurrentSessionService,
  ElicitFields,
  ElicitUrlOptions,
  Phase,
  Session,
  SessionId,
  Sink
} from "../../McpSession.js"
import { CapabilityNotDeclared, ClientRequestError, noSink } from "../../McpSession.js"
import * as InputBounds from "../shared/inputBounds.js"
import * as ClientRequests from "./clientRequests.js"
import type { Revision } from "../revisions/revision.js"
import type { Envelope } from "../revisions/sessionless.js"
import type { Rounds } from "./mrtr.js"
import type { ParamHeader } from "../shared/paramHeaders.js"

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
  /** How long a request to the client waits for its answer, unless the call says otherwise. */
  readonly clientRequestTimeout: Duration.Duration
  /** The `Mcp-Param-*` headers a call of this tool mirrors (SEP-2243), read from its listing once per registration. */
  readonly paramHeaders: (tool: string) => ReadonlyArray<ParamHeader> | undefined
  /** Whether the server traces (`McpTelemetry`): then its requests to the client have spans too. */
  readonly telemetry: boolean
}

/**
 * Where the server's news goes: each registry attaches one, and reaches its own sessions.
 * @internal
 */
export interface Audience {
  /** The live sessions, for what only some of them are told (`McpVisibility`). */
  readonly sessions: () => Iterable<SessionState>
  /** Sends `notification` to every initialized session. */
  readonly listChanged: (notification: JsonRpc.Notification) => void
  /** Sends `notification` to the sessions subscribed to `uri`. */
  readonly resourceUpdated: (uri: string, notification: JsonRpc.Notification) => void
  /** Offers a `notifications/tasks` to the 2026-07-28 listen streams of the task's owner (they filter by id). */
  readonly taskStatus: (owner: Principal | undefined, notification: JsonRpc.Notification) => void
}

/**
 * Which sessions are subscribed to which resource, for one registry: `notifications/resources/updated` reaches
 * its subscribers without looking at the other sessions. Sessions keep it up to date; a closing one leaves it.
 * @internal
 */
export class Subscriptions {
  private readonly byUri = new Map<string, Set<SessionState>>()

  add(uri: string, session: SessionState): void {
    let sessions = this.byUri.get(uri)
    if (sessions === undefined) this.byUri.set(uri, sessions = new Set())
    sessions.add(session)
  }

  remove(uri: string, session: SessionState): void {
    const sessions = this.byUri.get(uri)
    if (sessions !== undefined && sessions.delete(session) && sessions.size === 0) this.byUri.delete(uri)
  }

  of(uri: string): ReadonlySet<SessionState> | undefined {
    return this.byUri.get(uri)
  }
}

/** A request of the server's, waiting for the client's answer. */
interface Outgoing {
  readonly method: string
  readonly answer: Deferred.Deferred<unknown, ClientRequestError>
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

const noSubscriptions: ReadonlySet<string> = new Set()

const isLoggingLevel = Schema.is(McpSchema.LoggingLevel)

const closedBefore = (method: string) =>
  new ClientRequestError({ method, reason: "Closed", message: `The session closed before the client answered ${method}` })

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

/**
 * What every session of a registry shares about budgets: the pool of work in flight, and what to do when a
 * request is refused by it (log once per client).
 * @internal
 */
export interface SessionLimits {
  /** Bytes of work in flight, server-wide and per client: each request costs `REQUEST_OVERHEAD` plus its size. */
  readonly inFlight: Pool
  /** Bytes of resource subscriptions (listen filters and `resources/subscribe`), server-wide and per client. */
  readonly subscriptions: Pool
  /** A request of `client` was refused by `pool`. */
  readonly refused: (pool: Pool, client: ClientKey | undefined, shortfall: Shortfall) => void
}

/**
 * What a request in flight holds besides its params, in bytes: its fiber, its reply closures and its entry in
 * the session (about 6.7 KiB measured for a sleeping handler, rounded up).
 * @internal
 */
export const REQUEST_OVERHEAD = 8 * 1024

/**
 * What one subscribed URI costs: the string (UTF-16) and its entries in the session's set and the registry's
 * index.
 * @internal
 */
export const subscriptionCost = (uri: string): number => 256 + 2 * uri.length

/** Resource URIs one session may subscribe to with `resources/subscribe`. @internal */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 1_000

/** The answer to a request past a budget of work in flight. @internal */
export const overBudget = (pool: Pool, shortfall: Shortfall) =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.ConnectionClosed,
    message: shortfall === "client"
      ? `Too many requests: this client is at its limit of ${pool.perClient} bytes of ${pool.name}`
      : `Server busy: the server is at its limit of ${pool.total} bytes of ${pool.name}; retry later`,
    data: { retryAfter: RETRY_AFTER_SECONDS }
  })

/** The revision of that name; a version none has (before `initialize`) follows the newest `initialize` names. */
const revisionOf = (version: string): Revision => McpRevision.get(version) ?? McpRevision.latestSessionEra

/** @internal */
export class SessionState implements Session {
  private version: string
  /** The revision `version` names: what the session's rules ask, rather than comparing dates. */
  private revisionNow: Revision
  private phaseNow: Phase = "awaiting-initialize"
  /** The client sent `notifications/initialized` (or the session needs no handshake). */
  private greeted = false
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
  /** The server's requests awaiting an answer, by id; made on the first one, as most sessions send none. */
  private outgoing: Map<JsonRpc.RequestId, Outgoing> | undefined = undefined
  private lastRequestId = 0
  /** Resource URIs this session is subscribed to; made on the first subscription. */
  private subscribed: Set<string> | undefined = undefined
  /** Bytes `resources/subscribe` charged to the subscription budget, given back as they are dropped. */
  private chargedBytes = 0
  /** Serves one 2026-07-28 request: no handshake, no channel back to the client but the request's result. */
  private modernEra = false
  /** The 2026-07-28 request named a log level that is not one. */
  private invalidLevel = false
  /** The asks of the 2026-07-28 request being served, when it may return an `InputRequiredResult`. */
  private roundsNow: Rounds | undefined = undefined

  constructor(
    readonly id: SessionId,
    readonly transport: string,
    readonly scope: Scope.Scope,
    private readonly clock: Clock.Clock,
    protocolVersion: string,
    private readonly dispatcher: Dispatcher,
    /** The registry's index of subscriptions, which this session keeps up to date. */
    private readonly index: Subscriptions,
    /** Forks into this session's runtime (its log annotations), outside any caller's fiber. */
    private readonly fork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>,
    readonly close: Effect.Effect<void>,
    readonly closed: Effect.Effect<void>,
    /** Requests that may be in flight at once; past it a request is answered with an error at once. */
    private readonly maxInFlight: number = Infinity,
    /** Requests to the client that may await an answer at once; past it a new one fails with `TooMany`. */
    private readonly maxPending: number = Infinity,
    /** The registry's budgets, when it has any. */
    private readonly limits: SessionLimits | undefined = undefined,
    /** Who the session counts against. */
    readonly clientKey: ClientKey | undefined = undefined
  ) {
    this.version = protocolVersion
    this.revisionNow = revisionOf(protocolVersion)
    this.lastActiveAt = clock.unsafeCurrentTimeMillis()
  }

  get protocolVersion(): string {
    return this.version
  }
  get phase(): Phase {
    return this.phaseNow
  }
  /** `initialize` succeeded and the client confirmed it with `notifications/initialized`. */
  get handshakeComplete(): boolean {
    return this.greeted
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
  get subscriptions(): ReadonlySet<string> {
    return this.subscribed ?? noSubscriptions
  }
  get telemetry(): boolean {
    return this.dispatcher.telemetry
  }

  readonly offer = (message: JsonRpc.Message, reply: Sink, settled?: () => void, size = 0): boolean => {
    if (!this.open) return false
    if (!("method" in message)) {
      this.touch()
      this.answered(message)
      return true
    }
    // Every transport hands messages over here, so this is the one check of what clients send (see
    // `inputBounds.ts`); a notification that fails it has no one to answer and is dropped.
    const problem = InputBounds.problemOf(message.params)
    if (!("id" in message)) {
      this.touch()
      if (problem !== undefined) return true
      if (message.method === "notifications/initialized" && this.phaseNow === "initialized") this.greeted = true
      this.dispatcher.notification(this, message)
      return true
    }
    const id = message.id
    const refusal = problem !== undefined
      ? JsonRpc.failure(id, JsonRpc.invalidParams(`Invalid params: ${problem}`))
      : this.fibers.has(id)
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
    const limits = this.limits
    const cost = REQUEST_OVERHEAD + size
    if (limits !== undefined) {
      const shortfall = limits.inFlight.take(this.clientKey, cost)
      if (shortfall !== undefined) {
        limits.refused(limits.inFlight, this.clientKey, shortfall)
        reply(JsonRpc.failure(id, overBudget(limits.inFlight, shortfall)))
        if (settled !== undefined) settled()
        return true
      }
    }
    this.busyCount++
    const fiber = this.fork(this.dispatcher.request(this, message, reply))
    this.fibers.set(id, fiber)
    // Added after `set`, so a handler that finished inside `fork` is removed at once.
    fiber.addObserver((exit) => {
      if (limits !== undefined) limits.inFlight.give(this.clientKey, cost)
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

  // --- Requests to the client ------------------------------------------------------------------------------------

  /** A response to a request of the server's; one nobody waits for (cancelled, timed out) is dropped. */
  private answered(response: JsonRpc.Response): void {
    if (response.id === null || this.outgoing === undefined) return
    const waiting = this.outgoing.get(response.id)
    if (waiting === undefined) return
    this.outgoing.delete(response.id)
    const problem = InputBounds.problemOf("error" in response ? response.error.data : response.result)
    Deferred.unsafeDone(
      waiting.answer,
      problem !== undefined
        ? Exit.fail(
          new ClientRequestError({
            method: waiting.method,
            reason: "Protocol",
            message: `The client's answer to ${waiting.method} is not valid: ${problem}`
          })
        )
        : "error" in response
        ? Exit.fail(
          new ClientRequestError({
            method: waiting.method,
            reason: "RpcError",
            message: `The client answered ${waiting.method} with an error: ${response.error.message}`,
            code: response.error.code,
            data: response.error.data
          })
        )
        : Exit.succeed(response.result)
    )
  }

  /**
   * Sends a request to the client through `deliver` and waits for its answer (the raw result). Interrupted or
   * timed out while it waits, it tells the client with `notifications/cancelled`, through `deliver` too.
   */
  sendRequest(
    deliver: Sink,
    method: string,
    params: unknown,
    timeout: Duration.DurationInput | undefined,
    /** The key of the ask in a 2026-07-28 `InputRequiredResult`. */
    inputKey?: string | undefined
  ): Effect.Effect<unknown, ClientRequestError> {
    return Effect.suspend(() => {
      if (!this.open) return Effect.fail(closedBefore(method))
      if (this.revisionNow.inputRounds) {
        // 2026-07-28 has no server-to-client requests: an ask goes back inside the result, when the method allows.
        return this.roundsNow !== undefined ? this.roundsNow.ask(method, params, inputKey) : Effect.fail(
          new ClientRequestError({
            method,
            reason: "Closed",
            message: `At 2026-07-28 a server asks the client only while answering tools/call, prompts/get or resources/read`
          })
        )
      }
      if (this.outgoing !== undefined && this.outgoing.size >= this.maxPending) {
        return Effect.fail(
          new ClientRequestError({
            method,
            reason: "TooMany",
            message: `This session already has ${this.maxPending} requests to the client awaiting an answer`
          })
        )
      }
      const id = ++this.lastRequestId
      const answer = Deferred.unsafeMake<unknown, ClientRequestError>(FiberId.none)
      const outgoing = this.outgoing ??= new Map()
      outgoing.set(id, { method, answer })
      if (!deliver(JsonRpc.request(id, method, params))) {
        outgoing.delete(id)
        return Effect.fail(
          new ClientRequestError({ method, reason: "Closed", message: `There is no open stream to send ${method} on` })
        )
      }
      const limit = timeout === undefined ? this.dispatcher.clientRequestTimeout : Duration.decode(timeout)
      let reason = "The request was cancelled"
      // Traced, the client span this request runs in (`clientRequests.ts`) learns the id only now.
      const awaited = this.dispatcher.telemetry
        ? Effect.zipRight(Effect.annotateCurrentSpan("jsonrpc.request.id", String(id)), Deferred.await(answer))
        : Deferred.await(answer)
      return awaited.pipe(
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () => {
            reason = `No answer within ${Duration.format(limit)}`
            return new ClientRequestError({
              method,
              reason: "Timeout",
              message: `The client did not answer ${method} within ${Duration.format(limit)}`
            })
          }
        }),
        // Still listed means unanswered: interrupted or timed out, so the client may stop working on it.
        Effect.ensuring(Effect.sync(() => {
          if (outgoing.delete(id) && this.open) {
            deliver(JsonRpc.notification("notifications/cancelled", { requestId: id, reason }))
          }
        }))
      )
    })
  }

  request<A, I>(
    method: string,
    params: unknown,
    schema: Schema.Schema<A, I, never>,
    options?: ClientRequestOptions
  ): Effect.Effect<A, ClientRequestError> {
    return ClientRequests.request(this, this.send, method, params, schema, options)
  }

  createMessage(params: McpSchema.CreateMessageParams, options?: ClientRequestOptions) {
    return ClientRequests.createMessage(this, this.send, params, options)
  }

  elicit<A, I extends ElicitFields>(message: string, schema: Schema.Schema<A, I, never>, options?: ClientRequestOptions) {
    return ClientRequests.elicit(this, this.send, message, schema, options)
  }

  elicitUrl(options: ElicitUrlOptions) {
    return ClientRequests.elicitUrl(this, this.send, options)
  }

  listRoots(options?: ClientRequestOptions) {
    return ClientRequests.listRoots(this, this.send, options)
  }

  // --- What the server changes -----------------------------------------------------------------------------------

  /** Records the outcome of `initialize`. */
  initialize(
    version: string,
    clientInfo: McpSchema.Implementation,
    capabilities: McpSchema.ClientCapabilities
  ): void {
    this.at(version)
    this.client = clientInfo
    this.capabilities = capabilities
    this.phaseNow = "initialized"
  }

  /** Serves the session as already initialized at `version` (stateless requests, which have no handshake). */
  assumeInitialized(version: string): void {
    this.at(version)
    this.phaseNow = "initialized"
    this.greeted = true
  }

  /**
   * Serves the session as one 2026-07-28 request: its envelope stands in for the handshake, and holds for this
   * request only.
   */
  assumeModern(envelope: Envelope): void {
    this.at(envelope.version)
    this.client = envelope.clientInfo
    this.capabilities = envelope.clientCapabilities
    this.phaseNow = "initialized"
    this.greeted = true
    this.modernEra = true
    if (envelope.logLevel !== undefined) {
      if (isLoggingLevel(envelope.logLevel)) this.level = envelope.logLevel
      else this.invalidLevel = true
    }
  }

  /** The revision the session speaks now (until `initialize` names a served one, the newest it may name). */
  get revision(): Revision {
    return this.revisionNow
  }

  private at(version: string): void {
    this.version = version
    this.revisionNow = revisionOf(version)
  }

  get isModern(): boolean {
    return this.modernEra
  }
  /** The 2026-07-28 request named a log level that is not one (-32602). */
  get hasInvalidLogLevel(): boolean {
    return this.invalidLevel
  }
  get rounds(): Rounds | undefined {
    return this.roundsNow
  }
  setRounds(rounds: Rounds | undefined): void {
    this.roundsNow = rounds
  }

  setLogLevel(level: McpSchema.LoggingLevel): void {
    this.level = level
  }

  /**
   * True when a `notifications/message` at `level` passes the client's `logging/setLevel`. At 2026-07-28 a
   * request without `logLevel` gets no log at all.
   */
  wantsLog(level: McpSchema.LoggingLevel): boolean {
    if (this.level === undefined) return this.revisionNow.logsWithoutLevel
    return severity[level] >= severity[this.level]
  }

  /** Subscribes the session to `notifications/resources/updated` for `uri` (a listen filter, charged as a whole). */
  subscribe(uri: string): void {
    if (!this.open) return
    ;(this.subscribed ??= new Set()).add(uri)
    this.index.add(uri, this)
  }

  /**
   * `resources/subscribe`: subscribes within the session's cap and the subscription budget, or says why not (the
   * error to answer with).
   */
  subscribeCharged(uri: string): JsonRpc.JsonRpcError | undefined {
    if (!this.open || this.subscribed?.has(uri) === true) return undefined
    if ((this.subscribed?.size ?? 0) >= MAX_SUBSCRIPTIONS_PER_SESSION) {
      return JsonRpc.invalidParams(
        `Invalid params: a session may subscribe to at most ${MAX_SUBSCRIPTIONS_PER_SESSION} resources`
      )
    }
    const limits = this.limits
    if (limits !== undefined) {
      const cost = subscriptionCost(uri)
      const shortfall = limits.subscriptions.take(this.clientKey, cost)
      if (shortfall !== undefined) {
        limits.refused(limits.subscriptions, this.clientKey, shortfall)
        return overBudget(limits.subscriptions, shortfall)
      }
      this.chargedBytes += cost
    }
    this.subscribe(uri)
    return undefined
  }

  unsubscribe(uri: string): void {
    if (this.subscribed?.delete(uri) !== true) return
    this.index.remove(uri, this)
    this.giveBack(subscriptionCost(uri))
  }

  /** Returns subscription bytes charged by `subscribeCharged`. */
  private giveBack(cost: number): void {
    const given = Math.min(cost, this.chargedBytes)
    if (given === 0 || this.limits === undefined) return
    this.chargedBytes -= given
    this.limits.subscriptions.give(this.clientKey, given)
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

  /** Closes now from outside a fiber: refuses everything at once; the scope closes in a fiber of its own. */
  end(): void {
    if (!this.open) return
    this.markClosed()
    this.fork(this.close)
  }

  /** First step of closing: from here the session accepts nothing. */
  markClosed(): void {
    this.open = false
    this.writer = noSink
    if (this.subscribed !== undefined) {
      for (const uri of this.subscribed) this.index.remove(uri, this)
      this.subscribed = undefined
    }
    this.giveBack(this.chargedBytes)
    if (this.outgoing !== undefined) {
      for (const { answer, method } of this.outgoing.values()) Deferred.unsafeDone(answer, Exit.fail(closedBefore(method)))
      this.outgoing.clear()
    }
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
  reply: Sink,
  /** Where asks of the client go: the session, or a task's asker (see `internal/tasks.ts`). */
  asker: ClientRequests.Asker = session
): CurrentSessionService => {
  const notify = (method: string, params?: unknown) =>
    Effect.sync(() => {
      reply(JsonRpc.notification(method, params))
    })
  // A request goes with the request being handled; when its response cannot carry it (a JSON-only POST), the
  // session's own stream may.
  const deliver: Sink = (message) => reply(message) || session.send(message)
  // At 2026-07-28 an ask the request's capabilities do not allow fails the request itself with -32021.
  const declared = <A, E>(ask: Effect.Effect<A, E | CapabilityNotDeclared>): Effect.Effect<A, E | CapabilityNotDeclared> =>
    Effect.catchIf(
      ask,
      (e): e is CapabilityNotDeclared => e instanceof CapabilityNotDeclared && asker.rounds !== undefined,
      (e) => asker.rounds === undefined ? Effect.fail(e) : asker.rounds.missing(e.capability)
    )
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
      }),
    request: (method, params, schema, options) => ClientRequests.request(asker, deliver, method, params, schema, options),
    createMessage: (params, options) => declared(ClientRequests.createMessage(asker, deliver, params, options)),
    elicit: (message, schema, options) => declared(ClientRequests.elicit(asker, deliver, message, schema, options)),
    elicitUrl: (options) => declared(ClientRequests.elicitUrl(asker, deliver, options)),
    listRoots: (options) => declared(ClientRequests.listRoots(asker, deliver, options))
  }
}
