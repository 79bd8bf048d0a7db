/**
 * The registry's table of live sessions: a `Ref<HashMap>` for fibers, and the same map as of its last change for
 * the synchronous readers (the HTTP front looks a session up on every request; a fiber to read the Ref each time
 * was 6% of an HTTP+SSE call).
 * @internal
 */
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Ref from "effect/Ref"
import type { SessionId } from "../../../McpSession.js"
import type { SessionState } from "../session.js"

/** The map of live sessions by id. @internal */
export type SessionMap = HashMap.HashMap<SessionId, SessionState>

/** The live sessions, changed only through `change`. @internal */
export class SessionTable {
  /** The map as of the last change. Written only inside `change`, in the same atomic step as the Ref. */
  private now: SessionMap = HashMap.empty()
  /** The map, read in a fiber. */
  readonly get: Effect.Effect<SessionMap>

  constructor(private readonly ref: Ref.Ref<SessionMap>) {
    this.get = Ref.get(ref)
  }

  /** The map as of the last change, outside a fiber. */
  get current(): SessionMap {
    return this.now
  }

  /** Changes the map in one atomic step; budgets are counted here too, so a count and the map never disagree. */
  change<B>(f: (map: SessionMap) => readonly [B, SessionMap]) {
    return Ref.modify(this.ref, (map) => {
      const [b, next] = f(map)
      this.now = next
      return [b, next] as const
    })
  }
}

/** An empty table. @internal */
export const makeTable: Effect.Effect<SessionTable> = Effect.map(
  Ref.make<SessionMap>(HashMap.empty()),
  (ref) => new SessionTable(ref)
)
