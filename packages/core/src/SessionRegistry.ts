/**
 * The registry of live sessions, and the whole life of a session in one place.
 *
 * A session is a `Scope`. Opening one registers it in a `Ref<HashMap>`; the scope's finalizer removes it
 * unconditionally. The scope closes, and so the session ends, on each of these and on nothing else:
 *
 * - the client disconnects: the transport closes the session when its connection goes (the legacy SSE stream,
 *   stdin's end), or the caller's scope owns the session (`SessionRegistry.open`);
 * - DELETE, or any transport decision: `session.close`;
 * - idle expiry: the registry's sweeper closes sessions with nothing in flight for `idleTimeout`;
 * - the server shuts down: every session scope is a child of the registry's own scope;
 * - an error or interruption while the session is being set up: the scope is closed on the way out.
 *
 * Closing runs, in order: the session is marked closed (no new work is accepted) and leaves the registry (every
 * later lookup misses, so the transport answers 404), then its scope releases what the session owns: what the
 * transport attached (streams, stored events), then its handler fibers, which are interrupted.
 *
 * The registry also carries the server's news to its sessions: a change of the tools, resources or prompts goes to
 * every initialized session, once per change; a resource update only to the sessions subscribed to it, found
 * through an index that each session leaves when it closes.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Budget from "./Budget.js"
import * as Links from "./internal/server/links.js"
import { type SessionLimits, SessionState, subscriptionCost, Subscriptions } from "./internal/server/session.js"
import { isSameParty, type Principal } from "./McpAuth.js"
import type * as McpSchema from "./McpSchema.js"
import { McpServer } from "./McpServer.js"
import { makeSessionId, type Session, type SessionId, type Sink } from "./McpSession.js"

/**
 * The registry is full: the transport answers 503.
 *
 * @since 0.1.0
 */
export class SessionLimitExceeded extends Data.TaggedError("SessionLimitExceeded")<{
  readonly limit: number
  /** What the cap is of: "sessions", or "sessionless requests" for sessions that serve one request. */
  readonly budget?: string | undefined
}> {}

/**
 * The server is shutting down: no new session is opened; the transport answers 503 with `Retry-After`.
 *
 * @since 0.1.0
 */
export class ShuttingDown extends Data.TaggedError("ShuttingDown")<{}> {}

/**
 * Too many 2026-07-28 listen streams are open: the transport answers the `subscriptions/listen` request with a
 * JSON-RPC error. Listen streams have their own cap, so that idle subscribers cannot starve request sessions
 * (or the reverse).
 *
 * @since 0.1.0
 */
export class ListenerLimitExceeded extends Data.TaggedError("ListenerLimitExceeded")<{
  readonly limit: number
}> {}

/**
 * One client is at its own share of a budget (sessions, listen streams, sessionless requests, subscriptions):
 * the transport answers 429 with `Retry-After`, and every other client is still served.
 *
 * @since 0.1.0
 */
export class ClientLimitExceeded extends Data.TaggedError("ClientLimitExceeded")<{
  /** What the budget is of ("sessions", "listen streams"...). */
  readonly budget: string
  readonly limit: number
}> {}

/**
 * A listen stream's resource subscriptions are past what one filter may hold, or past what all filters of the
 * server (or of this client) may hold together: the `subscriptions/listen` request is answered with -32602.
 *
 * @since 0.1.0
 */
export class SubscriptionLimitExceeded extends Data.TaggedError("SubscriptionLimitExceeded")<{
  /** The budget in bytes that was reached. */
  readonly limit: number
  /** Whose budget: this one filter's, the client's share, or the server's. */
  readonly scope: "filter" | Budget.Shortfall
}> {}

/** Why a session could not be opened. @since 0.1.0 */
export type OpenError =
  | SessionLimitExceeded
  | ListenerLimitExceeded
  | ClientLimitExceeded
  | SubscriptionLimitExceeded
  | ShuttingDown

/** @since 0.1.0 */
export interface Options {
  /**
   * Sessions allowed at once, listen streams aside; the next one is refused with `SessionLimitExceeded`.
   * Default 10,000.
   */
  readonly maxSessions?: number | undefined
  /**
   * 2026-07-28 listen streams (`subscriptions/listen`) allowed at once, each a connection held open; the next one
   * is refused with `ListenerLimitExceeded`. They do not count toward `maxSessions`. Default 1,000.
   */
  readonly maxListeners?: number | undefined
  /**
   * How long a session may sit with no request in flight and no open stream before it is closed.
   * Default 30 minutes; `Duration.infinity` (or `Infinity`) turns expiry off.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * Requests of one session that may be in flight at once; past it a request is answered at once with a
   * JSON-RPC error. Default 256.
   */
  readonly maxInFlight?: number | undefined
  /**
   * Requests to the client (`createMessage`, `elicit`, `listRoots`...) one session may have awaiting an answer
   * at once; past it a new one fails with a `ClientRequestError` of reason `TooMany`, and nothing is sent.
   * Default 64.
   */
  readonly maxPendingClientRequests?: number | undefined
  /** How long `drain` lets requests in flight finish before it stops them. Default 10 seconds. */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /**
   * Sessions one client (a principal, else an address) may hold at once; past it the client gets 429 while
   * others are served. Default 1,000.
   */
  readonly maxSessionsPerClient?: number | undefined
  /** Listen streams one client may hold at once. Default 100. */
  readonly maxListenersPerClient?: number | undefined
  /**
   * Sessionless requests (2026-07-28, and every request of a stateless transport) served at once, server-wide;
   * they have a budget of their own rather than counting as sessions. Past it: 503 with `Retry-After`.
   * Default 1,024.
   */
  readonly maxSessionless?: number | undefined
  /** Sessionless requests one client may have served at once; past it: 429. Default 256. */
  readonly maxSessionlessPerClient?: number | undefined
  /**
   * How long a session may take to complete its handshake (`initialize`, then `notifications/initialized`): a
   * legacy SSE stream that never posts, or an `initialize` never followed up, is closed after it rather than
   * after `idleTimeout`. It applies to sessions opened for a `client` (the HTTP transports'), not to a transport
   * whose one client has no one to take slots from (stdio). Default 10 seconds; `Duration.infinity` turns it off.
   */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
  /**
   * Bytes of work in flight server-wide: each request counts its share of the body plus 8 KiB for its fiber,
   * from the moment it is taken until its handler ends (including work a client abandoned by disconnecting).
   * Past it a request is answered at once with an error carrying `retryAfter`. Default 256 MiB.
   */
  readonly maxInFlightBytes?: number | undefined
  /** The same, for one client. Default 64 MiB. */
  readonly maxInFlightBytesPerClient?: number | undefined
  /**
   * Bytes one listen stream's resource subscriptions may hold (each URI counts twice its length plus 256 bytes of
   * index). Default 1 MiB, about 3,500 URIs of 20 characters.
   */
  readonly maxListenFilterBytes?: number | undefined
  /** Bytes every listen filter together may hold, server-wide. Default 64 MiB. */
  readonly maxSubscriptionBytes?: number | undefined
  /** The same, for one client. Default 16 MiB. */
  readonly maxSubscriptionBytesPerClient?: number | undefined
}

/** What a transport says about the session it opens. @since 0.1.0 */
export interface OpenOptions {
  /** A short name for logs ("sse", "streamable-http", "stdio", "memory"). */
  readonly transport: string
  /** The revision assumed until `initialize` negotiates one. */
  readonly protocolVersion: string
  /** Where the messages the server starts go; `Session.setWriter` can change it later. */
  readonly writer?: Sink | undefined
  /**
   * Serve it as if `initialize` had happened at `protocolVersion`: for stateless requests, which have no
   * handshake of their own.
   */
  readonly initialized?: boolean | undefined
  /** Who opens it, when the transport authorizes requests: the session then serves that party only. */
  readonly principal?: Principal | undefined
  /**
   * Serve one 2026-07-28 request (sessionless): what its `_meta` says about the client stands in for the
   * handshake, for that request only. Implies `initialized`.
   */
  readonly modern?: ModernRequest | undefined
  /** Resource URIs the session is subscribed to from the start (a 2026-07-28 listen stream's). */
  readonly subscriptions?: ReadonlyArray<string> | undefined
  /** A 2026-07-28 listen stream's session: counted against `maxListeners` instead of `maxSessions`. */
  readonly listener?: boolean | undefined
  /**
   * The session serves one HTTP request (stateless mode): counted against `maxSessionless` instead of
   * `maxSessions`. Implied by `modern`.
   */
  readonly perRequest?: boolean | undefined
  /** Who the session counts against, for the per-client budgets (see `Budget.clientOf`). */
  readonly client?: Budget.ClientKey | undefined
}

/** What a 2026-07-28 request's `_meta` says about its client. @since 0.1.0 */
export interface ModernRequest {
  readonly clientCapabilities: McpSchema.ClientCapabilities
  readonly clientInfo?: McpSchema.Implementation | undefined
  /** `io.modelcontextprotocol/logLevel` as sent; a value that is no level is answered with -32602. */
  readonly logLevel?: unknown
}

/** @since 0.1.0 */
export interface SessionRegistryService {
  /**
   * Opens a session owned by the caller's scope: it ends when that scope closes, or earlier by any of the
   * other ways a session ends.
   */
  readonly open: (options: OpenOptions) => Effect.Effect<Session, OpenError, Scope.Scope>
  /**
   * Opens a session that lives until it is closed, expires, or the registry shuts down. A transport whose
   * connection owns the session closes it when the connection goes.
   */
  readonly openDetached: (options: OpenOptions) => Effect.Effect<Session, OpenError>
  /** The live session with this id, if any. */
  readonly lookup: (id: SessionId) => Effect.Effect<Option.Option<Session>>
  /** The same, outside a fiber: for the synchronous front of a transport. */
  readonly unsafeLookup: (id: SessionId) => Session | undefined
  /** How many sessions are live. */
  readonly size: Effect.Effect<number>
  /** Every live session. */
  readonly sessions: Effect.Effect<ReadonlyArray<Session>>
  /** Closes every idle-expired session now; the sweeper calls this periodically. Returns how many it closed. */
  readonly expireIdle: Effect.Effect<number>
  /**
   * Shuts down without losing what was accepted: no new session opens and every session answers new requests
   * with an error, while the requests in flight get up to `drainTimeout` to finish; those still running then are
   * stopped and answered with an error. The sessions stay open (their streams carry the answers); closing the
   * registry's scope ends them. Returns how many requests had to be stopped.
   */
  readonly drain: Effect.Effect<number>
  /** True once `drain` has begun. */
  readonly isDraining: () => boolean
  /** The drain period. */
  readonly drainTimeout: Duration.Duration
  /** The session cap. */
  readonly maxSessions: number
  /** The cap on listen streams. */
  readonly maxListeners: number
  /** The budgets the registry counts (sessions, listeners, sessionless requests, work in flight, subscriptions). */
  readonly budgets: Budgets
}

/**
 * The registry service. One per server, shared by every transport, so the cap and the ids span them all.
 *
 * @since 0.1.0
 */
export class SessionRegistry extends Context.Tag("@effect-mcp/core/SessionRegistry")<
  SessionRegistry,
  SessionRegistryService
>() {}

/** The budgets of one registry, as they stand: for metrics and tests. @since 0.1.0 */
export interface Budgets {
  readonly sessions: Budget.Pool
  readonly listeners: Budget.Pool
  readonly sessionless: Budget.Pool
  readonly inFlight: Budget.Pool
  readonly subscriptions: Budget.Pool
}

const DEFAULT_IDLE_TIMEOUT = Duration.minutes(30)
const DEFAULT_HANDSHAKE_TIMEOUT = Duration.seconds(10)
const MiB = 1024 * 1024


type Kind = "session" | "listener" | "sessionless"

/**
 * Builds a registry whose sessions are children of the current scope and are served by the `McpServer` in
 * context, plus the idle sweeper.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const server = yield* McpServer
  const link = Links.serverLink(server)
  const sessionsRef = yield* Ref.make(HashMap.empty<SessionId, SessionState>())
  // The map as of the last change, for the synchronous readers (the HTTP front looks a session up on every
  // request; a fiber to read the Ref each time was 6% of a legacy SSE call). Written only inside `change`, in the
  // same atomic step as the Ref, so it is never another value.
  let current = HashMap.empty<SessionId, SessionState>()
  const change = <B>(f: (map: HashMap.HashMap<SessionId, SessionState>) => readonly [B, HashMap.HashMap<SessionId, SessionState>]) =>
    Ref.modify(sessionsRef, (map) => {
      const [b, next] = f(map)
      current = next
      return [b, next] as const
    })
  // Sessions are children of one scope made now, so they close where the registry stands in its scope's order of
  // release (after whatever was built later, such as the transports and a drain), not in the order they opened.
  const registryScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
  const runtime = yield* Effect.runtime<never>()
  const clock = yield* Effect.clock
  const maxSessions = options.maxSessions ?? 10_000
  const maxListeners = options.maxListeners ?? 1_000
  const cap = (perClient: number | undefined, fallback: number, total: number) => Math.min(perClient ?? fallback, total)
  const maxSessionless = options.maxSessionless ?? 1_024
  const maxInFlightBytes = options.maxInFlightBytes ?? 256 * MiB
  const maxSubscriptionBytes = options.maxSubscriptionBytes ?? 64 * MiB
  const maxFilterBytes = options.maxListenFilterBytes ?? MiB
  // Counted only where the map changes, so a count and the map never disagree.
  const budgets: Budgets = {
    sessions: new Budget.Pool("sessions", maxSessions, cap(options.maxSessionsPerClient, 1_000, maxSessions)),
    listeners: new Budget.Pool("listen streams", maxListeners, cap(options.maxListenersPerClient, 100, maxListeners)),
    sessionless: new Budget.Pool(
      "sessionless requests",
      maxSessionless,
      cap(options.maxSessionlessPerClient, 256, maxSessionless)
    ),
    inFlight: new Budget.Pool(
      "work in flight",
      maxInFlightBytes,
      cap(options.maxInFlightBytesPerClient, 64 * MiB, maxInFlightBytes)
    ),
    subscriptions: new Budget.Pool(
      "listen subscriptions",
      maxSubscriptionBytes,
      cap(options.maxSubscriptionBytesPerClient, 16 * MiB, maxSubscriptionBytes)
    )
  }
  const poolOf = (kind: Kind): Budget.Pool =>
    kind === "listener" ? budgets.listeners : kind === "sessionless" ? budgets.sessionless : budgets.sessions
  const handshakeTimeout = Duration.decode(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT)
  // Sessions that have not completed their handshake, with when they opened: the only ones the handshake
  // sweeper looks at.
  const handshaking = new Map<SessionState, number>()
  const onRefused = yield* Budget.logRefusals
  const refused = (pool: Budget.Pool, client: Budget.ClientKey | undefined, shortfall: Budget.Shortfall) =>
    onRefused(pool, shortfall, client)
  const limits: SessionLimits = { inFlight: budgets.inFlight, subscriptions: budgets.subscriptions, refused }
  const maxInFlight = options.maxInFlight ?? 256
  const maxPending = options.maxPendingClientRequests ?? 64
  const idleTimeout = Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT)
  const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))
  let draining = false
  const baseAnnotations = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations)
  const subscriptions = new Subscriptions()

  // A runtime per session whose logs carry the session id: made once, so a request's fiber needs no wrapping.
  const runForkFor = (id: SessionId, transport: string) =>
    Runtime.runFork(Runtime.make({
      context: runtime.context,
      runtimeFlags: runtime.runtimeFlags,
      fiberRefs: FiberRefs.updateAs(runtime.fiberRefs, {
        fiberId: FiberId.none,
        fiberRef: FiberRef.currentLogAnnotations,
        value: HashMap.set(HashMap.set(baseAnnotations, "sessionId", id), "transport", transport)
      })
    }))

  // Uninterruptible from reserving the slot to attaching the finalizer, so no session is ever registered
  // without the finalizer that removes it.
  const openIn = (parent: Scope.Scope, opts: OpenOptions) =>
    Effect.uninterruptible(Effect.gen(function*() {
      if (draining) return yield* new ShuttingDown()
      const client = opts.client
      const kind: Kind = opts.listener === true
        ? "listener"
        : opts.perRequest === true || opts.modern !== undefined
        ? "sessionless"
        : "session"
      const pool = poolOf(kind)
      let filterCost = 0
      if (opts.subscriptions !== undefined) {
        for (const uri of opts.subscriptions) filterCost += subscriptionCost(uri)
        // One filter past its own bound is a bad request, not a spent budget: no warning for it.
        if (filterCost > maxFilterBytes) return yield* new SubscriptionLimitExceeded({ scope: "filter", limit: maxFilterBytes })
      }
      const id = makeSessionId()
      // Two scopes, so the order of release is structural: `lifetime`'s own finalizer (leave the registry) is
      // added after `scope` is forked from it, so it runs before `scope` closes and releases what the session
      // owns: what the transport attached, then the handler fibers.
      const lifetime = yield* Scope.fork(parent, ExecutionStrategy.sequential)
      const scope = yield* Scope.fork(lifetime, ExecutionStrategy.sequential)
      const closed = yield* Deferred.make<void>()
      const session = new SessionState(
        id,
        opts.transport,
        scope,
        clock,
        opts.protocolVersion,
        link.dispatcher,
        subscriptions,
        runForkFor(id, opts.transport),
        Scope.close(lifetime, Exit.void),
        Deferred.await(closed),
        maxInFlight,
        maxPending,
        limits,
        client
      )
      if (opts.writer !== undefined) session.setWriter(opts.writer)
      if (opts.initialized === true) session.assumeInitialized(opts.protocolVersion)
      if (opts.modern !== undefined) {
        session.assumeModern({
          version: opts.protocolVersion,
          clientCapabilities: opts.modern.clientCapabilities,
          clientInfo: opts.modern.clientInfo,
          logLevel: opts.modern.logLevel
        })
      }
      if (opts.principal !== undefined) session.bind(opts.principal)
      yield* Scope.addFinalizer(scope, session.interruptAll)
      const refusal = yield* change((map): readonly [
        Budget.Shortfall | SubscriptionLimitExceeded | undefined,
        HashMap.HashMap<SessionId, SessionState>
      ] => {
        const shortfall = pool.take(client, 1)
        if (shortfall !== undefined) return [shortfall, map] as const
        if (filterCost > 0) {
          const short = budgets.subscriptions.take(client, filterCost)
          if (short !== undefined) {
            pool.give(client, 1)
            return [new SubscriptionLimitExceeded({
              scope: short,
              limit: short === "client" ? budgets.subscriptions.perClient : budgets.subscriptions.total
            }), map] as const
          }
        }
        return [undefined, HashMap.set(map, id, session)] as const
      })
      if (refusal !== undefined) {
        yield* Scope.close(lifetime, Exit.void)
        if (refusal instanceof SubscriptionLimitExceeded) {
          refused(budgets.subscriptions, client, refusal.scope === "client" ? "client" : "server")
          return yield* refusal
        }
        refused(pool, client, refusal)
        return yield* refusal === "client"
          ? new ClientLimitExceeded({ budget: pool.name, limit: pool.perClient })
          : kind === "listener"
          ? new ListenerLimitExceeded({ limit: maxListeners })
          : new SessionLimitExceeded(kind === "sessionless" ? { limit: pool.total, budget: pool.name } : { limit: pool.total })
      }
      // Only once admitted: a refused session must not enter the subscription index (nothing would take it out).
      if (opts.subscriptions !== undefined) for (const uri of opts.subscriptions) session.subscribe(uri)
      // Only a session that counts against a client: the handshake timeout keeps one client from holding slots
      // others need, and a transport with one client (stdio, the test kit) has no others.
      if (kind === "session" && opts.initialized !== true && client !== undefined) yield* awaitHandshake(session)
      yield* Scope.addFinalizer(
        lifetime,
        Effect.suspend(() => {
          session.markClosed()
          Deferred.unsafeDone(closed, Exit.void)
          handshaking.delete(session)
          return change((map) => {
            if (HashMap.has(map, id)) {
              pool.give(client, 1)
              if (filterCost > 0) budgets.subscriptions.give(client, filterCost)
            }
            return [undefined, HashMap.remove(map, id)] as const
          })
        }).pipe(
          Effect.zipRight(Effect.logDebug("session closed")),
          Effect.annotateLogs({ sessionId: id, transport: opts.transport })
        )
      )
      yield* Effect.annotateLogs(Effect.logDebug("session opened"), { sessionId: id, transport: opts.transport })
      return session
    }))

  const expireIdle = Effect.gen(function*() {
    const now = clock.unsafeCurrentTimeMillis()
    const limit = Duration.toMillis(idleTimeout)
    let closed = 0
    for (const session of HashMap.values(yield* Ref.get(sessionsRef))) {
      if (session.busy === 0 && now - session.lastActive >= limit) {
        yield* Effect.annotateLogs(Effect.logDebug("session expired"), { sessionId: session.id })
        yield* session.close
        closed++
      }
    }
    return closed
  })

  // A session whose handshake never completes holds a slot of a client that may never use it: it gets seconds,
  // not the idle timeout. Only the sessions still shaking hands are looked at.
  const expireHandshakes = Effect.suspend(() => {
    const now = clock.unsafeCurrentTimeMillis()
    const limit = Duration.toMillis(handshakeTimeout)
    const late: Array<SessionState> = []
    for (const [session, openedAt] of handshaking) {
      if (!session.isOpen || session.handshakeComplete) handshaking.delete(session)
      else if (now - openedAt >= limit) late.push(session)
    }
    return Effect.forEach(late, (session) =>
      Effect.zipRight(
        Effect.annotateLogs(Effect.logDebug("session closed: its handshake did not complete in time"), {
          sessionId: session.id
        }),
        session.close
      ), { discard: true })
  })
  // The handshake sweeper runs only while some session is shaking hands, so an idle server has no timer.
  const handshakeEvery = Duration.clamp(
    Duration.divide(handshakeTimeout, 4).pipe(Option.getOrElse(() => handshakeTimeout)),
    { minimum: Duration.millis(10), maximum: Duration.seconds(5) }
  )
  let sweeping = false
  const sweepHandshakes: Effect.Effect<void> = Effect.sleep(handshakeEvery).pipe(
    Effect.zipRight(expireHandshakes),
    Effect.zipRight(Effect.suspend(() => {
      if (handshaking.size > 0) return sweepHandshakes
      sweeping = false
      return Effect.void
    }))
  )
  const awaitHandshake = (session: SessionState): Effect.Effect<void> => {
    if (!Duration.isFinite(handshakeTimeout)) return Effect.void
    handshaking.set(session, clock.unsafeCurrentTimeMillis())
    if (sweeping) return Effect.void
    sweeping = true
    // Forked from inside `openIn`, which is uninterruptible: the sweeper must stay interruptible, or the
    // registry's scope could never close it.
    return Effect.asVoid(Effect.forkIn(Effect.interruptible(sweepHandshakes), registryScope))
  }

  if (Duration.isFinite(idleTimeout)) {
    // One sweeper per registry rather than a timer per session: per-session state stays a few fields.
    const every = Duration.clamp(Duration.divide(idleTimeout, 4).pipe(Option.getOrElse(() => idleTimeout)), {
      minimum: Duration.millis(10),
      maximum: Duration.minutes(1)
    })
    yield* Effect.forkIn(Effect.repeat(expireIdle, Schedule.spaced(every)), registryScope)
  }

  const get = Ref.get(sessionsRef)

  const drain = Effect.gen(function*() {
    draining = true
    const sessions = Array.from(HashMap.values(yield* get))
    // Every session refuses new requests from this moment, before any waiting starts.
    for (const session of sessions) session.startDrain()
    const stopped = yield* Effect.forEach(sessions, (session) => session.drain(drainTimeout), {
      concurrency: "unbounded"
    })
    const total = stopped.reduce((a, b) => a + b, 0)
    if (total > 0) yield* Effect.logWarning(`drain period over: stopped ${total} request(s) still in flight`)
    return total
  })
  // What changes on the server reaches the sessions here: a list change every initialized session, once per
  // change; a resource update only its subscribers.
  const detach = link.attach({
    listChanged: (notification) => {
      for (const session of HashMap.values(current)) {
        if (session.phase === "initialized") session.send(notification)
      }
    },
    resourceUpdated: (uri, notification) => {
      const subscribers = subscriptions.of(uri)
      if (subscribers === undefined) return
      for (const session of subscribers) session.send(notification)
    },
    // Only 2026-07-28 sessions of the same party: their writers (listen streams) pass the task ids asked for.
    taskStatus: (owner, notification) => {
      for (const session of HashMap.values(current)) {
        if (!session.isModern) continue
        const principal = session.principal
        const same = owner === undefined || principal === undefined
          ? owner === principal
          : isSameParty(owner, principal)
        if (same) session.send(notification)
      }
    }
  })
  yield* Scope.addFinalizer(registryScope, Effect.sync(detach))

  const service = SessionRegistry.of({
    open: (opts) => Effect.acquireRelease(openIn(registryScope, opts), (session) => session.close),
    openDetached: (opts) => openIn(registryScope, opts),
    lookup: (id) => Effect.map(get, HashMap.get(id)),
    unsafeLookup: (id) => Option.getOrUndefined(HashMap.get(current, id)),
    size: Effect.map(get, HashMap.size),
    sessions: Effect.map(get, (map): ReadonlyArray<Session> => Array.from(HashMap.values(map))),
    expireIdle,
    drain,
    isDraining: () => draining,
    drainTimeout,
    maxSessions,
    maxListeners,
    budgets
  })
  // What the transports need beyond the public service.
  return Links.linkRegistry(service, {
    paramHeaders: link.dispatcher.paramHeaders,
    capabilities: server.capabilities
  })
})

/**
 * The registry as a layer; its scope is the server's, so tearing the layer down ends every session.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SessionRegistry, never, McpServer> =>
  Layer.scoped(SessionRegistry, make(options))
