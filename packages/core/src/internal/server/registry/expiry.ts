/**
 * Idle expiry: a session with nothing in flight for the idle timeout is closed, by one sweeper per registry
 * rather than a timer per session, so per-session state stays a few fields.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { SessionTable } from "./table.js"

/** Closes every session idle for `idleTimeout` now; returns how many it closed. @internal */
export const expireIdle = (table: SessionTable, clock: Clock.Clock, idleTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    const now = clock.unsafeCurrentTimeMillis()
    const limit = Duration.toMillis(idleTimeout)
    let closed = 0
    for (const session of HashMap.values(yield* table.get)) {
      if (session.busy === 0 && now - session.lastActive >= limit) {
        yield* Effect.annotateLogs(Effect.logDebug("session expired"), { sessionId: session.id })
        yield* session.close
        closed++
      }
    }
    return closed
  })

/** Runs `expire` in `scope` every quarter of `idleTimeout` (10 ms to 1 min); nothing if it is infinite. @internal */
export const sweepIdle = (
  expire: Effect.Effect<number>,
  idleTimeout: Duration.Duration,
  scope: Scope.Scope
): Effect.Effect<void> => {
  if (!Duration.isFinite(idleTimeout)) return Effect.void
  const every = Duration.clamp(Duration.divide(idleTimeout, 4).pipe(Option.getOrElse(() => idleTimeout)), {
    minimum: Duration.millis(10),
    maximum: Duration.minutes(1)
  })
  return Effect.asVoid(Effect.forkIn(Effect.repeat(expire, Schedule.spaced(every)), scope))
}
