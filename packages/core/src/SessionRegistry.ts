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
import type { ParamHeader } from "./internal/paramHeaders.js"
import { SessionState, Subscriptions } from "./internal/session.js"
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

/** Why a session could not be opened. @since 0.1.0 */
export type OpenError = SessionLimitExceeded | ListenerLimitExceeded | ShuttingDown

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
  /**
   * The `Mcp-Param-*` headers a call of the tool mirrors (SEP-2243), for the HTTP front's checks.
   * @internal
   */
  readonly paramHeaders: (tool: string) => ReadonlyArray<ParamHeader> | undefined
  /**
   * The server's capabilities now, for what a listen stream can honour.
   * @internal
   */
  readonly capabilities: () => McpSchema.ServerCapabilities
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

const DEFAULT_IDLE_TIMEOUT = Duration.minutes(30)

/**
 * Builds a registry whose sessions are children of the current scope and are served by the `McpServer` in
 * context, plus the idle sweeper.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const server = yield* McpServer
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
  // How many of the live sessions are listen streams; changed only where the map is.
  let listeners = 0
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
        server.dispatcher,
        subscriptions,
        runForkFor(id, opts.transport),
        Scope.close(lifetime, Exit.void),
        Deferred.await(closed),
        maxInFlight,
        maxPending
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
      if (opts.subscriptions !== undefined) for (const uri of opts.subscriptions) session.subscribe(uri)
      yield* Scope.addFinalizer(scope, session.interruptAll)
      const listener = opts.listener === true
      const admitted = yield* change((map) => {
        const full = listener ? listeners >= maxListeners : HashMap.size(map) - listeners >= maxSessions
        if (full) return [false, map] as const
        if (listener) listeners++
        return [true, HashMap.set(map, id, session)] as const
      })
      if (!admitted) {
        yield* Scope.close(lifetime, Exit.void)
        return yield* listener
          ? new ListenerLimitExceeded({ limit: maxListeners })
          : new SessionLimitExceeded({ limit: maxSessions })
      }
      yield* Scope.addFinalizer(
        lifetime,
        Effect.suspend(() => {
          session.markClosed()
          Deferred.unsafeDone(closed, Exit.void)
          return change((map) => {
            if (listener && HashMap.has(map, id)) listeners--
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
  const detach = server.attach({
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

  return SessionRegistry.of({
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
    paramHeaders: server.dispatcher.paramHeaders,
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
