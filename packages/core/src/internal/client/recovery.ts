/**
 * Recovery from a lost session: when the server answers 404 for the client's session (it restarted, expired or
 * deleted it), the transport starts over and the handshake runs again, once for all the requests that saw it,
 * and each of them is retried once. Separate from the handshake, which it only runs, and from correlation, which
 * knows nothing of sessions.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { McpClientError } from "../../McpClientError.js"

/** Runs an effect once more on a new session when the server no longer knows ours. @internal */
export interface Recovery {
  readonly recovering: <A>(effect: Effect.Effect<A, McpClientError>) => Effect.Effect<A, McpClientError>
}

/** What a recovery does. @internal */
export interface Inputs {
  /** Starts the transport over without a session; false when it cannot (it has no sessions). */
  readonly reset: Effect.Effect<boolean>
  /** The handshake on the new session, which keeps what it learns. */
  readonly reinitialize: Effect.Effect<void, McpClientError>
}

/** The sessions of one client, and the one way to a new one. */
class Sessions {
  /** Sessions opened so far: a request that saw a session die recovers only if no one else already did. */
  private generation = 0
  /** Set while a new session is being opened: requests wait for it rather than go out without a session. */
  private reopening: Deferred.Deferred<void> | undefined = undefined

  constructor(
    private readonly inputs: Inputs,
    private readonly permit: Effect.Semaphore
  ) {}

  /** Opens a new session, unless another request already did; false when the transport cannot. */
  recover(seen: number): Effect.Effect<boolean, McpClientError> {
    return this.permit.withPermits(1)(Effect.suspend(() => {
      if (seen !== this.generation) return Effect.succeed(true)
      const reopened = Deferred.unsafeMake<void>(FiberId.none)
      this.reopening = reopened
      return this.inputs.reset.pipe(
        Effect.flatMap((reset) =>
          reset
            ? Effect.logInfo("MCP server lost the session; starting a new one").pipe(
              Effect.zipRight(this.inputs.reinitialize),
              Effect.map(() => {
                this.generation++
                return true
              })
            )
            : Effect.succeed(false)
        ),
        Effect.ensuring(Effect.suspend(() => {
          this.reopening = undefined
          return Deferred.done(reopened, Exit.void)
        }))
      )
    }))
  }

  /** `effect`, waiting for a session being opened first, and retried once on a new one after `SessionNotFound`. */
  recovering<A>(effect: Effect.Effect<A, McpClientError>): Effect.Effect<A, McpClientError> {
    const attempt: Effect.Effect<A, McpClientError> = Effect.suspend(() => {
      if (this.reopening !== undefined) return Effect.zipRight(Deferred.await(this.reopening), attempt)
      const seen = this.generation
      return Effect.catchIf(
        effect,
        (error) => error.reason === "SessionNotFound",
        (error) => Effect.flatMap(this.recover(seen), (recovered) => recovered ? effect : Effect.fail(error))
      )
    })
    return attempt
  }
}

/** The recovery of one client. @internal */
export const make = (inputs: Inputs): Effect.Effect<Recovery> =>
  Effect.map(Effect.makeSemaphore(1), (permit) => {
    const sessions = new Sessions(inputs, permit)
    return { recovering: (effect) => sessions.recovering(effect) }
  })
