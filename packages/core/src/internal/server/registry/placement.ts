/**
 * What a registry asks of the placement of its sessions among instances (`SessionRegistry.Placement`, which
 * re-exports it): kept below the registry and the links that carry it to the transports.
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Exchange } from "../../http/httpExchange.js"
import type * as JsonRpc from "../../../JsonRpc.js"
import type { Principal } from "../../../McpAuth.js"
import type { Session, SessionId } from "../../../McpSession.js"

/**
 * A change of the server that the sessions of every instance hear: a resource updated (its data is shared, so its
 * subscribers anywhere want to know), or one of its lists changed (clients anywhere re-list).
 *
 * @since 0.1.0
 */
export type Change = ResourceUpdated | ListChanged

/** A resource updated: its subscribers hear `notification`. @since 0.1.0 */
export interface ResourceUpdated {
  readonly _tag: "ResourceUpdated"
  readonly uri: string
  readonly notification: JsonRpc.Notification
}

/** The tools, resources or prompts changed: every initialized session hears `notification`. @since 0.1.0 */
export interface ListChanged {
  readonly _tag: "ListChanged"
  readonly notification: JsonRpc.Notification
}

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
   * This instance begins to shut down (the registry drains): its sessions are to be gone for the other instances
   * from now, while the requests it serves finish. Done once it has told them, or could not.
   */
  readonly leave: Effect.Effect<void>
  /**
   * Given the HTTP front built over the registry, for as long as the front's scope lasts: the placement serves
   * the requests other instances relay here with it, so they take the path a direct request takes. Optional.
   */
  readonly serve?: ((front: (exchange: Exchange) => void) => Effect.Effect<void, never, Scope.Scope>) | undefined
  /**
   * Answers a POST to a session held here that repeats a request relayed here which its sender may have given up
   * on (a client's retry after a 503, sent straight here this time) with that request's answer, so it runs once:
   * true if it did. Called with the body just read, once the session was found live here. Optional.
   */
  readonly repeated?: ((exchange: Exchange, id: SessionId, body: string) => boolean) | undefined
  /** Tells the other instances of a change made here (best effort: a change told while Redis is away is lost). */
  readonly publish: (change: Change) => void
  /**
   * Runs for the registry's life, given its live sessions and how to deliver a change told by another instance
   * to them: the placement closes them when they stop being this instance's.
   */
  readonly attach: (
    sessions: Effect.Effect<ReadonlyArray<Session>>,
    deliver: (change: Change) => void
  ) => Effect.Effect<void, never, Scope.Scope>
}
