/**
 * Many instances of one MCP server behind any load balancer, with no affinity: a session lives on the instance
 * that opened it (its owner), and a request that names it on any other instance is relayed to the owner and
 * answered with the owner's answer. Provide the layer to the server (`SessionRegistry.Placement`); a server
 * without it is one process and pays nothing.
 *
 * - **Ids name their owner.** A session id carries the owner's incarnation and a tag under the cluster's shared
 *   key, bound to the principal: any instance reads the owner from the id with no round trip, and a forged id,
 *   or another party's, is 404 before anything is asked of Redis. There is no key per session in Redis.
 * - **Leases say who is alive.** Each instance re-writes one lease key every third of the lease; an owner that
 *   could not for 80% of the lease closes its own sessions and takes a new incarnation (it fences), so a frozen
 *   or cut-off owner has stopped serving before the others could think it dead.
 * - **Relaying.** A request for a session of another instance (a legacy SSE POST; a Streamable HTTP POST, GET
 *   stream, `Last-Event-ID` resumption, DELETE, or answer to the server's own request) is sent over HTTP to the
 *   owner's advertised URL and served there by its own front, so the answer is exactly the owner's: 202 only
 *   once the owner's session took the message, a JSON or SSE answer streamed back, a second GET elsewhere
 *   replacing the first, 404 for another principal.
 * - **Changes.** A resource updated on one instance (`McpServer.notifyResourceUpdated`) reaches its subscribers
 *   on every instance, over one Redis channel (best effort: not while Redis is away).
 * - **Tasks.** The layer also places the server's 2026-07-28 tasks (`McpTask.Placement`): a task runs on the
 *   instance that created it, and is read, updated and cancelled on any other, with the same owner checks; its
 *   status reaches the listen streams of every instance; `tasks/update` and `tasks/cancel` elsewhere are answered
 *   once the owner applied them; a task whose owner is gone reads `failed`.
 *
 * What a client sees when something fails:
 *
 * | What happened | The answer for the owner's sessions on another instance |
 * | --- | --- |
 * | the owner is killed | 503 with `Retry-After` until its lease lapses, then 404; never 202 |
 * | the owner shuts down (SIGTERM) | 404 everywhere at once (it says `bye` as its drain begins); what it serves finishes |
 * | the owner freezes past its lease | 404 once the lease lapses; on waking it has closed its sessions (fenced) |
 * | the owner is cut off from Redis | 404 once the lease lapses; it fenced before that |
 * | Redis cannot be reached | sessions on the instance the request reached work; others' get 503 + `Retry-After` |
 * | Redis stalls (a pause shorter than about half the lease) | no false 404: relayed, or 503 within the command timeout |
 * | Redis restarts empty | 503 for up to a lease while the leases are written again, then as before; no false 404 |
 * | the instance relaying a stream dies | resumed anywhere with `Last-Event-ID`: the rest, nothing twice, then live |
 *
 * @since 0.1.0
 */
import type { Principal } from "@effect-mcp/core/McpAuth"
import { createHmac } from "node:crypto"
import * as McpTask from "@effect-mcp/core/McpTask"
import { type Change, Placement, type PlacementService } from "@effect-mcp/core/SessionRegistry"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Changes from "./internal/changes.js"
import * as Membership from "./internal/membership.js"
import * as Relay from "./internal/relay.js"
import * as SessionId from "./internal/sessionId.js"
import * as Tasks from "./internal/tasks.js"
import { RedisClient, type RedisClientService, type RedisError } from "./RedisClient.js"

/** @since 0.1.0 */
export interface Options {
  /**
   * Where the other instances reach this one's HTTP server: `http://10.0.0.5:3000`. Requests for this instance's
   * sessions are relayed there, with their paths.
   */
  readonly advertise: string
  /**
   * The cluster's shared secret (at least 32 characters), the same on every instance: it tags session ids, so an
   * instance tells the cluster's ids from forged ones with no round trip.
   */
  readonly key: string
  /**
   * How long an instance that stopped writing its lease is still taken for alive: its sessions answer 404
   * everywhere that long after it was killed. Longer rides out longer Redis failovers. Default 15 seconds.
   */
  readonly lease?: Duration.DurationInput | undefined
  /** The prefix of every key the cluster writes, one per server that shares a Redis. Default `effect-mcp`. */
  readonly namespace?: string | undefined
  /**
   * Who hears that the tools, resources or prompts changed on this instance: the sessions of every instance
   * (`"cluster"`, the default: a client anywhere re-lists), or only this instance's (`"instance"`: for an app
   * whose instances each change their lists, and tell their own sessions).
   */
  readonly listChanges?: "cluster" | "instance" | undefined
}

/**
 * The 32-byte key of the 2026-07-28 `requestState` (`McpServer`'s `requestState.key`) derived from the cluster
 * key, so a multi round-trip request sealed on one instance opens on every other.
 *
 * @since 0.1.0
 */
export const requestStateKey = (key: string): Uint8Array =>
  createHmac("sha256", key).update("effect-mcp/requestState").digest()

/** The shortest accepted cluster key. @since 0.1.0 */
export const MIN_KEY_LENGTH = 32

const DEFAULT_LEASE = Duration.seconds(15)

/** A request for another instance's session, relayed to its owner while the owner stands; refused otherwise. */
const relayWith = (
  membership: Membership.Membership,
  agents: Relay.Agents,
  runFork: <A>(effect: Effect.Effect<A>) => unknown
): PlacementService["relay"] => {
  const beatMs = Duration.toMillis(membership.beat)
  return (exchange, id, body, refuse) => {
    const owner = id.slice(0, SessionId.PREFIX_LENGTH)
    const refuseAs = (standing: Membership.Standing) =>
      refuse(standing._tag === "Gone" || standing._tag === "Leaving" ? "NotFound" : "Unavailable")
    runFork(Effect.map(membership.located(owner), (standing) => {
      if (standing._tag !== "Alive") return refuseAs(standing)
      // While the owner has not begun to answer, its lease is watched: a frozen owner's lapses, and its sessions
      // are then 404 here as everywhere. One that is leaving finishes what it took: it drains.
      const watch = setInterval(() =>
        runFork(Effect.map(membership.standing(owner), (now) => {
          if (now._tag === "Gone" && relayed.abort()) refuse("NotFound")
        })), beatMs)
      const relayed = Relay.relay(agents, standing.url, exchange, body, membership.incarnation(), {
        settled: () => clearInterval(watch),
        // Not answered: the owner went (its lease says for good, or not yet) or cannot be reached now.
        failed: () =>
          runFork(Effect.map(membership.standing(owner), (now) => refuseAs(now._tag === "Alive" ? UNKNOWN : now)))
      })
    }))
  }
}

const UNKNOWN: Membership.Standing = { _tag: "Unknown" }

/**
 * The placement of this instance's sessions in the cluster, in the current scope: it joins (writing its first
 * lease, so a Redis that cannot be reached fails it) and leaves when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<PlacementService, RedisError, RedisClient | Scope.Scope> =>
  Effect.map(join(options), ({ sessions }) => sessions)

/** This instance in the cluster: the placement of its sessions and that of its server's tasks, one membership. */
const join = (options: Options) =>
  Effect.gen(function*() {
    if (options.key.length < MIN_KEY_LENGTH) {
      return yield* Effect.dieMessage(`McpCluster: the key must be at least ${MIN_KEY_LENGTH} characters`)
    }
    const key = Buffer.from(options.key, "utf8")
    const redis: RedisClientService = yield* RedisClient
    const namespace = options.namespace ?? "effect-mcp"
    const membership = yield* Membership.join(redis, {
      namespace,
      advertise: options.advertise,
      lease: Duration.decode(options.lease ?? DEFAULT_LEASE)
    })
    const agents = Relay.makeAgents()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        agents.http.destroy()
        agents.https.destroy()
      })
    )
    const runtime = yield* Effect.runtime<never>()
    const runFork = <A>(effect: Effect.Effect<A>) => Runtime.runFork(runtime)(effect)
    const channel = `${namespace}:changes`
    const listsEverywhere = options.listChanges !== "instance"
    const audiences = new Set<(change: Change) => void>()
    yield* redis.subscribe(channel, (message) => {
      const told = Changes.decode(message)
      if (told === undefined || told.from === membership.incarnation() || membership.wasMine(told.from)) return
      for (const deliver of audiences) deliver(told.change)
    })
    const placement: PlacementService = {
      mint: (principal: Principal | undefined) =>
        membership.placed() ? SessionId.mint(key, membership.incarnation(), principal) : undefined,
      holds: (id) => id.startsWith(membership.incarnation()),
      elsewhere: (exchange, id, principal) => {
        // A relayed request is answered where it lands: a request is relayed at most once.
        if (exchange.headers[Relay.RELAYED] !== undefined || id.length !== SessionId.LENGTH) return false
        const owner = SessionId.ownerOf(key, id, principal)
        return owner !== undefined && owner !== membership.incarnation() && !membership.wasMine(owner)
      },
      relay: relayWith(membership, agents, runFork),
      leave: membership.leave,
      publish: (change) => {
        if (change._tag === "ListChanged" && !listsEverywhere) return
        runFork(Effect.ignore(redis.send(["PUBLISH", channel, Changes.encode(membership.incarnation(), change)])))
      },
      attach: (sessions, deliver) =>
        Effect.zipRight(
          membership.attach(sessions),
          Effect.acquireRelease(
            Effect.sync(() => void audiences.add(deliver)),
            () => Effect.sync(() => void audiences.delete(deliver))
          )
        )
    }
    const tasks = yield* Tasks.make(redis, { namespace, membership, runFork })
    return { sessions: placement, tasks }
  })

/**
 * The placement as a layer, over the `RedisClient` in context: provide it to the server's registry (for
 * `NodeMcpServer.layer`, to that layer) and to the server (`McpServer.layer`), whose tasks it places too (a
 * task created on one instance is read, updated and cancelled on every other).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Placement | McpTask.Placement, RedisError, RedisClient> =>
  Layer.scopedContext(Effect.map(join(options), ({ sessions, tasks }) =>
    Context.make(Placement, sessions).pipe(Context.add(McpTask.Placement, tasks))))
