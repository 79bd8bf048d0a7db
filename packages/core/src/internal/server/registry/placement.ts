/**
 * What a registry asks of the placement of its sessions among instances (`SessionRegistry.Placement`, which
 * re-exports it): kept below the registry and the links that carry it to the transports.
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Exchange } from "../../http/httpExchange.js"
import type { Principal } from "../../../McpAuth.js"
import type { Session, SessionId } from "../../../McpSession.js"

/** @since 0.1.0 */
export interface PlacementService {
  /** The id of a session opened here for `principal`; undefined while this instance may not take new sessions. */
  readonly mint: (principal: Principal | undefined) => SessionId | undefined
  /** Whether an id is one this instance serves now: false once it gave its sessions up (it lost its lease). */
  readonly holds: (id: SessionId) => boolean
  /**
   * Whether a request names a session of another instance: a well-formed id of this cluster, for this principal,
   * minted by an instance that is not this one now. Decided without I/O, so a forged id costs nothing.
   */
  readonly elsewhere: (exchange: Exchange, id: SessionId, principal: Principal | undefined) => boolean
  /**
   * Takes a request for a session of another instance (`elsewhere`) there, its POST body already read, and
   * answers it with that instance's answer; or `refuse`s it as the transport would an unknown session
   * (`NotFound`: the instance is gone), or with 503 and `Retry-After` (`Unavailable`: it cannot be reached now).
   */
  readonly relay: (
    exchange: Exchange,
    id: SessionId,
    body: string | undefined,
    refuse: (why: "NotFound" | "Unavailable") => void
  ) => void
  /**
   * Runs for the registry's life, given its live sessions: the placement closes them when they stop being this
   * instance's.
   */
  readonly attach: (sessions: Effect.Effect<ReadonlyArray<Session>>) => Effect.Effect<void, never, Scope.Scope>
}
