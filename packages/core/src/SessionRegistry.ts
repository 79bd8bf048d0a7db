/**
 * The registry of live sessions, and the whole life of a session in one place.
 *
 * A session is a `Scope`. Opening one registers it in a `Ref<HashMap>`; the scope's finalizer removes it
 * unconditionally. The scope closes, and so the session ends, on each of these and on nothing else:
 *
 * - the client disconnects: the legacy SSE stream's request scope owns the session (`SessionRegistry.open`);
 * - DELETE, or any transport decision: `session.close`;
 * - idle expiry: the registry's sweeper closes sessions with nothing in flight for `idleTimeout`;
 * - the server shuts down: every session scope is a child of the registry's own scope;
 * - an error or interruption while the session is being set up: the scope is closed on the way out.
 *
 * Closing runs, in order: the session is marked closed (no new work is accepted) and its streams are told to
 * end, it leaves the registry (every later lookup misses, so the transport answers 404), then its scope releases
 * what the session owns: what the transport attached (outbound queues, stored events) and its handler fibers,
 * which are interrupted.
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
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { makeSessionId, Session, type SessionId } from "./McpSession.js"

/**
 * The registry is full: the transport answers 503.
 *
 * @since 0.1.0
 */
export class SessionLimitExceeded extends Data.TaggedError("SessionLimitExceeded")<{
  readonly limit: number
}> {}

/** @since 0.1.0 */
export interface Options {
  /** Sessions allowed at once; the next one is refused with `SessionLimitExceeded`. Default 10,000. */
  readonly maxSessions?: number | undefined
  /**
   * How long a session may sit with no request in flight and no open stream before it is closed.
   * Default 30 minutes; `Duration.infinity` (or `Infinity`) turns expiry off.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

/** What a transport says about the session it opens. @since 0.1.0 */
export interface OpenOptions {
  /** A short name for logs ("sse", "streamable-http", "memory"). */
  readonly transport: string
  /** The revision assumed until `initialize` negotiates one. */
  readonly protocolVersion: string
}

/** @since 0.1.0 */
export interface SessionRegistryService {
  /**
   * Opens a session owned by the caller's scope: it ends when that scope closes (the legacy SSE stream ends),
   * or earlier by any of the other ways a session ends.
   */
  readonly open: (options: OpenOptions) => Effect.Effect<Session, SessionLimitExceeded, Scope.Scope>
  /** Opens a session that lives until it is closed, expires, or the registry shuts down (Streamable HTTP). */
  readonly openDetached: (options: OpenOptions) => Effect.Effect<Session, SessionLimitExceeded>
  /** The live session with this id, if any. */
  readonly lookup: (id: SessionId) => Effect.Effect<Option.Option<Session>>
  /** How many sessions are live. */
  readonly size: Effect.Effect<number>
  /** Every live session. */
  readonly sessions: Effect.Effect<ReadonlyArray<Session>>
  /** Closes every idle-expired session now; the sweeper calls this periodically. Returns how many it closed. */
  readonly expireIdle: Effect.Effect<number>
  /** The session cap. */
  readonly maxSessions: number
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
 * Builds a registry whose sessions are children of the current scope, plus the idle sweeper.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const sessionsRef = yield* Ref.make(HashMap.empty<SessionId, Session>())
  const registryScope = yield* Effect.scope
  const runtime = yield* Effect.runtime<never>()
  const runFork = Runtime.runFork(runtime)
  const clock = yield* Effect.clock
  const maxSessions = options.maxSessions ?? 10_000
  const idleTimeout = Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT)

  // Uninterruptible from reserving the slot to attaching the finalizer, so no session is ever registered
  // without the finalizer that removes it.
  const openIn = (parent: Scope.Scope, opts: OpenOptions) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const id = makeSessionId()
      // Two scopes, so the order of release is structural: `lifetime`'s own finalizer (leave the registry) is
      // added after `scope` is forked from it, so it runs before `scope` closes and releases what the session
      // owns (its fibers, then whatever the transport attached).
      const lifetime = yield* Scope.fork(parent, ExecutionStrategy.sequential)
      const scope = yield* Scope.fork(lifetime, ExecutionStrategy.sequential)
      const fibers = yield* Scope.extend(FiberSet.make<unknown, unknown>(), scope)
      const closed = yield* Deferred.make<void>()
      const annotate = Effect.annotateLogs({ sessionId: id, transport: opts.transport })
      const session: Session = new Session(
        id,
        opts.transport,
        scope,
        clock,
        opts.protocolVersion,
        (effect) => {
          const fiber = runFork(annotate(effect))
          FiberSet.unsafeAdd(fibers, fiber)
          return fiber
        },
        Scope.close(lifetime, Exit.void),
        closed
      )
      const admitted = yield* Ref.modify(sessionsRef, (map) =>
        HashMap.size(map) >= maxSessions
          ? [false, map] as const
          : [true, HashMap.set(map, id, session)] as const)
      if (!admitted) {
        yield* Scope.close(lifetime, Exit.void)
        return yield* new SessionLimitExceeded({ limit: maxSessions })
      }
      yield* Scope.addFinalizer(
        lifetime,
        Effect.suspend(() => {
          session.markClosed()
          Deferred.unsafeDone(closed, Exit.void)
          return Ref.update(sessionsRef, HashMap.remove(id))
        }).pipe(Effect.zipRight(Effect.logInfo("session closed")), annotate)
      )
      yield* annotate(Effect.logInfo("session opened"))
      return session
    }))

  const expireIdle = Effect.gen(function*() {
    const now = clock.unsafeCurrentTimeMillis()
    const limit = Duration.toMillis(idleTimeout)
    let closed = 0
    for (const session of HashMap.values(yield* Ref.get(sessionsRef))) {
      if (session.busy === 0 && now - session.lastActive >= limit) {
        yield* Effect.annotateLogs(Effect.logInfo("session expired"), { sessionId: session.id })
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

  return SessionRegistry.of({
    open: (opts) => Effect.acquireRelease(openIn(registryScope, opts), (session) => session.close),
    openDetached: (opts) => openIn(registryScope, opts),
    lookup: (id) => Effect.map(Ref.get(sessionsRef), HashMap.get(id)),
    size: Effect.map(Ref.get(sessionsRef), HashMap.size),
    sessions: Effect.map(Ref.get(sessionsRef), (map) => Array.from(HashMap.values(map))),
    expireIdle,
    maxSessions
  })
})

/**
 * The registry as a layer; its scope is the server's, so tearing the layer down ends every session.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SessionRegistry> =>
  Layer.scoped(SessionRegistry, make(options))
