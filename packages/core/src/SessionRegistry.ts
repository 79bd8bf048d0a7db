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
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Budget from "./Budget.js"
import type { ServerLink } from "./internal/server/links.js"
import * as Links from "./internal/server/links.js"
import { attachSessions, deliverTo } from "./internal/server/registry/broadcast.js"
import { type Budgets, type Kind, makeBudgets, type RegistryBudgets } from "./internal/server/registry/budgets.js"
import { expireIdle, sweepIdle } from "./internal/server/registry/expiry.js"
import { type Handshakes, makeHandshakes } from "./internal/server/registry/handshake.js"
import type { PlacementService } from "./internal/server/registry/placement.js"
import { makeTable, type SessionMap, type SessionTable } from "./internal/server/registry/table.js"
import { type SessionLimits, SessionState, subscriptionCost, Subscriptions } from "./internal/server/session.js"
import type { Principal } from "./McpAuth.js"
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
 * This instance of a server that runs as several (see `Placement`) may not take new sessions now: it holds no
 * lease, so the others could not route to a session opened here. The transport answers 503.
 *
 * @since 0.1.0
 */
export class Unplaced extends Data.TaggedError("Unplaced")<{}> {}

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
  | Unplaced

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
  readonly sessionless?: SessionlessRequest | undefined
  /** @deprecated The former name of `sessionless`, still read when that is absent. */
  readonly modern?: SessionlessRequest | undefined
  /** Resource URIs the session is subscribed to from the start (a 2026-07-28 listen stream's). */
  readonly subscriptions?: ReadonlyArray<string> | undefined
  /** A 2026-07-28 listen stream's session: counted against `maxListeners` instead of `maxSessions`. */
  readonly listener?: boolean | undefined
  /**
   * The session serves one HTTP request (stateless mode): counted against `maxSessionless` instead of
   * `maxSessions`. Implied by `sessionless`.
   */
  readonly perRequest?: boolean | undefined
  /** Who the session counts against, for the per-client budgets (see `Budget.clientOf`). */
  readonly client?: Budget.ClientKey | undefined
}

/** What a 2026-07-28 request's `_meta` says about its client. @since 0.1.0 */
export interface SessionlessRequest {
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

/**
 * Where the sessions live when the server runs as several instances behind one address (`@effect-mcp/cluster`
 * provides one): it mints the ids of the sessions opened here, tells this instance's ids from the others', and
 * takes the requests for the others' sessions to the instance that holds them. Without one in context, ids are
 * random and every session is this process's, at no cost.
 *
 * @since 0.1.0
 */
export type { Change, ListChanged, PlacementService, ResourceUpdated } from "./internal/server/registry/placement.js"

/**
 * The placement of a registry's sessions among instances; optional (see `PlacementService`).
 *
 * @since 0.1.0
 */
export class Placement extends Context.Tag("@effect-mcp/core/SessionRegistry/Placement")<
  Placement,
  PlacementService
>() {}

/**
 * The budgets of one registry, as they stand (sessions, listen streams, sessionless requests, work in flight,
 * subscriptions): for metrics and tests.
 *
 * @since 0.1.0
 */
export type { Budgets } from "./internal/server/registry/budgets.js"

const DEFAULT_IDLE_TIMEOUT = Duration.minutes(30)
const DEFAULT_HANDSHAKE_TIMEOUT = Duration.seconds(10)

/** What opening a session needs from its registry. */
interface OpenContext extends RegistryBudgets {
  readonly table: SessionTable
  readonly link: ServerLink
  readonly clock: Clock.Clock
  readonly subscriptions: Subscriptions
  readonly limits: SessionLimits
  readonly refused: (pool: Budget.Pool, client: Budget.ClientKey | undefined, shortfall: Budget.Shortfall) => void
  readonly maxInFlight: number
  readonly maxPending: number
  readonly handshakes: Handshakes
  /** A runtime per session whose logs carry the session id: made once, so a request's fiber needs no wrapping. */
  readonly runForkFor: (
    id: SessionId,
    transport: string
  ) => (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>
  readonly isDraining: () => boolean
  /** The id of a session to open, or undefined when the placement takes no new sessions now. */
  readonly mint: (principal: Principal | undefined) => SessionId | undefined
}

/** The former name of `SessionlessRequest`. @deprecated @since 0.1.0 */
export type ModernRequest = SessionlessRequest

/** What a sessionless request's `_meta` says, under either name of the option. */
const envelopeOf = (opts: OpenOptions): SessionlessRequest | undefined => opts.sessionless ?? opts.modern

/** What a session counts as, from what its transport says. */
const kindOf = (opts: OpenOptions): Kind =>
  opts.listener === true
    ? "listener"
    : opts.perRequest === true || envelopeOf(opts) !== undefined
    ? "sessionless"
    : "session"

/** The error for a session refused by `pool` (or by the subscription budget, already an error). */
const refusalOf = (
  ctx: OpenContext,
  kind: Kind,
  pool: Budget.Pool,
  client: Budget.ClientKey | undefined,
  refusal: Budget.Shortfall | SubscriptionLimitExceeded
): OpenError => {
  if (refusal instanceof SubscriptionLimitExceeded) {
    ctx.refused(ctx.budgets.subscriptions, client, refusal.scope === "client" ? "client" : "server")
    return refusal
  }
  ctx.refused(pool, client, refusal)
  return refusal === "client"
    ? new ClientLimitExceeded({ budget: pool.name, limit: pool.perClient })
    : kind === "listener"
    ? new ListenerLimitExceeded({ limit: ctx.budgets.listeners.total })
    : kind === "sessionless"
    ? new SessionLimitExceeded({ limit: pool.total, budget: pool.name })
    : new SessionLimitExceeded({ limit: pool.total })
}

/** The session's state, served as its transport says (initialized, a 2026-07-28 request, bound to a principal). */
const newSession = (
  ctx: OpenContext,
  opts: OpenOptions,
  id: SessionId,
  scope: Scope.Scope,
  close: Effect.Effect<void>,
  closed: Effect.Effect<void>
): SessionState => {
  const session = new SessionState(
    id,
    opts.transport,
    scope,
    ctx.clock,
    opts.protocolVersion,
    ctx.link.dispatcher,
    ctx.subscriptions,
    ctx.runForkFor(id, opts.transport),
    close,
    closed,
    ctx.maxInFlight,
    ctx.maxPending,
    ctx.limits,
    opts.client
  )
  if (opts.writer !== undefined) session.setWriter(opts.writer)
  if (opts.initialized === true) session.assumeInitialized(opts.protocolVersion)
  // A 2026-07-28 request: what its `_meta` says stands in for the handshake.
  const envelope = envelopeOf(opts)
  if (envelope !== undefined) {
    const { clientCapabilities, clientInfo, logLevel } = envelope
    session.assumeModern({ version: opts.protocolVersion, clientCapabilities, clientInfo, logLevel })
  }
  if (opts.principal !== undefined) session.bind(opts.principal)
  return session
}

/**
 * Opens a session in `parent`. Uninterruptible from reserving the slot to attaching the finalizer, so no session
 * is ever registered without the finalizer that removes it.
 */
const openIn = (ctx: OpenContext, parent: Scope.Scope, opts: OpenOptions) =>
  Effect.uninterruptible(Effect.gen(function*() {
    if (ctx.isDraining()) return yield* new ShuttingDown()
    const client = opts.client
    const kind = kindOf(opts)
    const pool = ctx.poolOf(kind)
    const { budgets, table } = ctx
    let filterCost = 0
    if (opts.subscriptions !== undefined) {
      for (const uri of opts.subscriptions) filterCost += subscriptionCost(uri)
      // One filter past its own bound is a bad request, not a spent budget: no warning for it.
      if (filterCost > ctx.maxFilterBytes) {
        return yield* new SubscriptionLimitExceeded({ scope: "filter", limit: ctx.maxFilterBytes })
      }
    }
    // Only a session a client names again later needs an id the other instances can place.
    const id = kind === "session" ? ctx.mint(opts.principal) : makeSessionId()
    if (id === undefined) return yield* new Unplaced()
    // Two scopes, so the order of release is structural: `lifetime`'s own finalizer (leave the registry) is
    // added after `scope` is forked from it, so it runs before `scope` closes and releases what the session
    // owns: what the transport attached, then the handler fibers.
    const lifetime = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    const scope = yield* Scope.fork(lifetime, ExecutionStrategy.sequential)
    const closed = yield* Deferred.make<void>()
    const session = newSession(ctx, opts, id, scope, Scope.close(lifetime, Exit.void), Deferred.await(closed))
    yield* Scope.addFinalizer(scope, session.interruptAll)
    const refusal = yield* table.change((map): readonly [
      Budget.Shortfall | SubscriptionLimitExceeded | undefined,
      SessionMap
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
      return yield* refusalOf(ctx, kind, pool, client, refusal)
    }
    // Only once admitted: a refused session must not enter the subscription index (nothing would take it out).
    if (opts.subscriptions !== undefined) for (const uri of opts.subscriptions) session.subscribe(uri)
    // Only a session that counts against a client: the handshake timeout keeps one client from holding slots
    // others need, and a transport with one client (stdio, the test kit) has no others.
    if (kind === "session" && opts.initialized !== true && client !== undefined) yield* ctx.handshakes.await(session)
    yield* Scope.addFinalizer(
      lifetime,
      Effect.suspend(() => {
        session.markClosed()
        Deferred.unsafeDone(closed, Exit.void)
        ctx.handshakes.forget(session)
        return table.change((map) => {
          if (HashMap.has(map, id)) {
            pool.give(client, 1)
            if (filterCost > 0) budgets.subscriptions.give(client, filterCost)
          }
          return [undefined, HashMap.remove(map, id)] as const
        })
      }).pipe(Effect.zipRight(logSession("session closed", id, opts.transport)))
    )
    yield* logSession("session opened", id, opts.transport)
    return session
  }))

/**
 * A session's opening or closing at Debug, annotated with its id and transport, only when Debug is on (it is off
 * by default): setting and restoring the annotations compares two maps of them by hash, a cost each 2026-07-28
 * request paid twice, since it opens and closes a session of its own.
 */
const logSession = (message: string, sessionId: SessionId, transport: string) =>
  Effect.whenLogLevel(Effect.annotateLogs(Effect.logDebug(message), { sessionId, transport }), LogLevel.Debug)

/** Forks into a runtime whose logs carry the session id and transport, made once per session. */
const sessionRuntimes = (runtime: Runtime.Runtime<never>) => {
  const baseAnnotations = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLogAnnotations)
  return (id: SessionId, transport: string) =>
    Runtime.runFork(Runtime.make({
      context: runtime.context,
      runtimeFlags: runtime.runtimeFlags,
      fiberRefs: FiberRefs.updateAs(runtime.fiberRefs, {
        fiberId: FiberId.none,
        fiberRef: FiberRef.currentLogAnnotations,
        value: HashMap.set(HashMap.set(baseAnnotations, "sessionId", id), "transport", transport)
      })
    }))
}

/**
 * Shuts down without losing what was accepted: every session refuses new requests from this moment, before any
 * waiting starts; then each gets the drain period.
 */
const drainAll = (table: SessionTable, drainTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    const sessions = Array.from(HashMap.values(yield* table.get))
    for (const session of sessions) session.startDrain()
    const stopped = yield* Effect.forEach(sessions, (session) => session.drain(drainTimeout), {
      concurrency: "unbounded"
    })
    const total = stopped.reduce((a, b) => a + b, 0)
    if (total > 0) yield* Effect.logWarning(`drain period over: stopped ${total} request(s) still in flight`)
    return total
  })

/**
 * Builds a registry whose sessions are children of the current scope and are served by the `McpServer` in
 * context, plus the idle sweeper.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const server = yield* McpServer
  const link = Links.serverLink(server)
  const table = yield* makeTable
  // Sessions are children of one scope made now, so they close where the registry stands in its scope's order of
  // release (after whatever was built later, such as the transports and a drain), not in the order they opened.
  const registryScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
  const runtime = yield* Effect.runtime<never>()
  const clock = yield* Effect.clock
  const registryBudgets = makeBudgets(options)
  const { budgets } = registryBudgets
  const onRefused = yield* Budget.logRefusals
  const refused = (pool: Budget.Pool, client: Budget.ClientKey | undefined, shortfall: Budget.Shortfall) =>
    onRefused(pool, shortfall, client)
  const idleTimeout = Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT)
  const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))
  let draining = false
  const placement = Option.getOrUndefined(yield* Effect.serviceOption(Placement))
  const subscriptions = new Subscriptions()
  const ctx: OpenContext = {
    ...registryBudgets,
    table,
    link,
    clock,
    subscriptions,
    limits: { inFlight: budgets.inFlight, subscriptions: budgets.subscriptions, refused },
    refused,
    maxInFlight: options.maxInFlight ?? 256,
    maxPending: options.maxPendingClientRequests ?? 64,
    handshakes: makeHandshakes(
      clock,
      Duration.decode(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT),
      registryScope
    ),
    runForkFor: sessionRuntimes(runtime),
    isDraining: () => draining,
    mint: placement === undefined ? makeSessionId : placement.mint
  }
  const expire = expireIdle(table, clock, idleTimeout)
  yield* sweepIdle(expire, idleTimeout, registryScope)
  const drain = Effect.suspend(() => {
    draining = true
    // The other instances hear first, so that their new requests for these sessions stop coming now.
    const drained = drainAll(table, drainTimeout)
    return placement === undefined ? drained : Effect.zipRight(placement.leave, drained)
  })
  const detach = attachSessions(link, table, subscriptions, placement)
  yield* Scope.addFinalizer(registryScope, Effect.sync(detach))

  const service = SessionRegistry.of({
    open: (opts) => Effect.acquireRelease(openIn(ctx, registryScope, opts), (session) => session.close),
    openDetached: (opts) => openIn(ctx, registryScope, opts),
    lookup: (id) => Effect.map(table.get, HashMap.get(id)),
    unsafeLookup: (id) => Option.getOrUndefined(HashMap.get(table.current, id)),
    size: Effect.map(table.get, HashMap.size),
    sessions: Effect.map(table.get, (map): ReadonlyArray<Session> => Array.from(HashMap.values(map))),
    expireIdle: expire,
    drain,
    isDraining: () => draining,
    drainTimeout,
    maxSessions: budgets.sessions.total,
    maxListeners: budgets.listeners.total,
    budgets
  })
  if (placement !== undefined) {
    yield* Scope.extend(placement.attach(service.sessions, deliverTo(table, subscriptions)), registryScope)
  }
  // What the transports need beyond the public service.
  return Links.linkRegistry(service, {
    paramHeaders: link.dispatcher.paramHeaders,
    capabilities: server.capabilities,
    placement
  })
})

/**
 * The registry as a layer; its scope is the server's, so tearing the layer down ends every session.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SessionRegistry, never, McpServer> =>
  Layer.scoped(SessionRegistry, make(options))
