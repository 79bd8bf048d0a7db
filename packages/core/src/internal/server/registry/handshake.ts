/**
 * The handshake deadline: a session whose handshake never completes holds a slot of a client that may never use
 * it, so it gets seconds, not the idle timeout. Only the sessions still shaking hands are looked at, and the
 * sweeper runs only while there are some, so an idle server has no timer.
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { SessionState } from "../session.js"

/** The sessions shaking hands, and their deadline. @internal */
export interface Handshakes {
  /** Starts the session's deadline (and the sweeper, if it is not running). */
  readonly await: (session: SessionState) => Effect.Effect<void>
  /** The session closed: it no longer has a deadline. */
  readonly forget: (session: SessionState) => void
}

/** Deadlines of `timeout` (infinite: none), swept by a fiber in `scope`. @internal */
export const makeHandshakes = (clock: Clock.Clock, timeout: Duration.Duration, scope: Scope.Scope): Handshakes => {
  // The sessions that have not completed their handshake, with when they opened.
  const handshaking = new Map<SessionState, number>()
  const expire = Effect.suspend(() => {
    const now = clock.unsafeCurrentTimeMillis()
    const limit = Duration.toMillis(timeout)
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
  const every = Duration.clamp(
    Duration.divide(timeout, 4).pipe(Option.getOrElse(() => timeout)),
    { minimum: Duration.millis(10), maximum: Duration.seconds(5) }
  )
  let sweeping = false
  const sweep: Effect.Effect<void> = Effect.sleep(every).pipe(
    Effect.zipRight(expire),
    Effect.zipRight(Effect.suspend(() => {
      if (handshaking.size > 0) return sweep
      sweeping = false
      return Effect.void
    }))
  )
  return {
    await: (session) => {
      if (!Duration.isFinite(timeout)) return Effect.void
      handshaking.set(session, clock.unsafeCurrentTimeMillis())
      if (sweeping) return Effect.void
      sweeping = true
      // Forked from inside the registry's `open`, which is uninterruptible: the sweeper must stay interruptible,
      // or the registry's scope could never close it.
      return Effect.asVoid(Effect.forkIn(Effect.interruptible(sweep), scope))
    },
    forget: (session) => {
      handshaking.delete(session)
    }
  }
}
