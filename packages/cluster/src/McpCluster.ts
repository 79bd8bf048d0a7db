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
 * - **Routing.** A request for a session of another instance (a legacy SSE POST; a Streamable HTTP POST, GET
 *   stream, `Last-Event-ID` resumption, DELETE, or answer to the server's own request) is sent to the owner over
 *   the cluster's link (one TCP connection per pair of instances, proven with the cluster key, requests
 *   multiplexed on it; encrypted with TLS when `link.tls` says so) and served there by the owner's own front, so the answer is exactly the owner's: 202 only
 *   once the owner's session took the message, a JSON or SSE answer streamed back, a second GET elsewhere
 *   replacing the first, 404 for another principal. A client that goes away is told to the owner at once.
 * - **A slow owner.** An owner that has not taken a routed request in within the ack timeout (frozen, or its event
 *   loop held) has it answered 503 with `Retry-After`, never 202; a retry with the same JSON-RPC id that comes
 *   through another instance runs once on the owner.
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
 * | the owner does not take the request in within the ack timeout | 503 with `Retry-After`; never 202 |
 * | the link to the owner drops before the answer began | 503 with `Retry-After`; never 202 |
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
import type { Exchange } from "@effect-mcp/core/HttpExchange"
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
import * as Link from "./internal/link.js"
import * as LinkAuth from "./internal/linkAuth.js"
import * as LinkServer from "./internal/linkServer.js"
import * as LinkSocket from "./internal/linkSocket.js"
import * as SessionId from "./internal/sessionId.js"
import * as Tasks from "./internal/tasks.js"
import { RedisClient, type RedisClientService, type RedisError } from "./RedisClient.js"

/** @since 0.1.0 */
export interface Options {
  /**
   * Where the other instances reach this one: `http://10.0.0.5:3000`. Its host is where this instance listens
   * for the other instances' links (on a port of its own, see `link`), and what it tells them to connect to.
   */
  readonly advertise: string
  /**
   * The link the other instances relay requests for this instance's sessions over: a TCP connection per pair of
   * instances, proven with the cluster key. By default it listens on the advertised host, on a free port that
   * the lease tells the others. `host` is where to listen instead (`0.0.0.0`), `port` a fixed port, `advertise`
   * the `host:port` the others connect to when that is not where it listens (a port mapped by a container).
   *
   * `tls` encrypts the links, for instances that reach each other over a network others share (without it the
   * links are proven with the key but not encrypted: keep them on a private network). Every instance must say
   * the same: one without TLS, or with a certificate of another CA, cannot relay to one with it (its requests
   * are answered 503 with `Retry-After`). Either the certificates (`LinkCertificates`: each end checks the
   * other's against `ca`), or `"cluster-key"`: TLS 1.2 with a pre-shared key derived from the cluster key, no
   * certificates to issue. The key's challenge runs inside TLS either way.
   */
  readonly link?: {
    readonly host?: string | undefined
    readonly port?: number | undefined
    readonly advertise?: string | undefined
    readonly tls?: LinkTls | undefined
  } | undefined
  /**
   * How long an owner may take to take a relayed request in, before the request is answered 503 with
   * `Retry-After` (never 202): a frozen or overloaded owner. A retry with the same JSON-RPC id runs once on the
   * owner. Default 2 seconds.
   */
  readonly ackTimeout?: Duration.DurationInput | undefined
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
 * TLS on the links between instances: their certificates, or `"cluster-key"` (TLS-PSK keyed by the cluster key).
 *
 * @since 0.1.0
 */
export type LinkTls = LinkSocket.Options

/**
 * The certificates of TLS on the links (PEM text): the CA that signed every instance's certificate, this
 * instance's certificate and key, and, if the owners' certificates must name something, that name (`servername`;
 * by default any certificate the CA signed is accepted, as instances are reached by IP).
 *
 * @since 0.1.0
 */
export type LinkCertificates = LinkSocket.Certificates

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
const DEFAULT_ACK_TIMEOUT = Duration.seconds(2)

/** How long an owner remembers a relayed request, so a retry of it runs once: several ack timeouts. */
const DEDUPE_WINDOWS = 5

/** Listens for the other instances' links, for the scope: where, and the address they are told. */
const listenForLinks = (options: Options, key: Uint8Array, sockets: LinkSocket.Sockets) =>
  Effect.gen(function*() {
    const advertised = new URL(options.advertise).hostname
    const ackMs = Duration.toMillis(Duration.decode(options.ackTimeout ?? DEFAULT_ACK_TIMEOUT))
    const host = options.link?.host ?? advertised.replace(/^\[|\]$/g, "")
    const server = yield* Effect.acquireRelease(
      LinkServer.listen({
        key,
        host,
        port: options.link?.port ?? 0,
        dedupeWindowMs: ackMs * DEDUPE_WINDOWS,
        ackTimeoutMs: ackMs,
        sockets
      }).pipe(Effect.orDieWith((error) => new Error(`McpCluster: cannot listen for links on ${host}: ${error.message}`))),
      (server) => Effect.sync(server.close)
    )
    return { server, address: options.link?.advertise ?? `${advertised}:${server.port}`, ackMs }
  })

/** A request relayed and not yet answered, with how to refuse it if its owner's lease lapses meanwhile. */
interface Waiting {
  readonly owner: string
  readonly relayed: Link.Relayed
  readonly refuse: (why: "NotFound" | "Unavailable") => void
}

/** A request for another instance's session, relayed to its owner while the owner stands; refused otherwise. */
const relayWith = (
  membership: Membership.Membership,
  links: Link.Links,
  runFork: <A>(effect: Effect.Effect<A>) => unknown
): PlacementService["relay"] => {
  const beatMs = Duration.toMillis(membership.beat)
  // While an owner has not begun to answer, its lease is watched (one timer for all): a frozen owner's lapses,
  // and its sessions are then 404 here as everywhere.
  const waiting = new Set<Waiting>()
  let watch: ReturnType<typeof setInterval> | undefined
  const check = () => {
    if (waiting.size === 0) {
      clearInterval(watch)
      watch = undefined
      return
    }
    const owners = new Set<string>()
    for (const entry of waiting) owners.add(entry.owner)
    for (const owner of owners) {
      runFork(Effect.map(membership.standing(owner), (now) => {
        if (now._tag !== "Gone") return
        for (const entry of waiting) {
          if (entry.owner === owner && entry.relayed.abort()) entry.refuse("NotFound")
        }
      }))
    }
  }
  // A leaving owner's sessions are gone for new requests: it drains what it took.
  const refuseAs = (refuse: (why: "NotFound" | "Unavailable") => void, standing: Membership.Standing) =>
    refuse(standing._tag === "Gone" || standing._tag === "Leaving" ? "NotFound" : "Unavailable")
  const send = (
    owner: string,
    address: string,
    exchange: Exchange,
    id: string,
    body: string | undefined,
    refuse: (why: "NotFound" | "Unavailable") => void
  ) => {
    const entry: Waiting = {
      owner,
      refuse,
      relayed: links.relay(address, exchange, id, body, {
        settled: () => void waiting.delete(entry),
        // Not answered: the owner went (its lease says for good, or not yet) or cannot be reached now.
        failed: () => {
          runFork(Effect.map(membership.standing(owner), (now) => refuseAs(refuse, now._tag === "Alive" ? UNKNOWN : now)))
        }
      })
    }
    waiting.add(entry)
    watch ??= setInterval(check, beatMs).unref()
  }
  // Relayed to an owner that stands, and to a leaving one what finishes the work it drains (see `finishesWork`).
  const relayTo = (
    owner: string,
    standing: Membership.Standing,
    exchange: Exchange,
    id: string,
    body: string | undefined,
    refuse: (why: "NotFound" | "Unavailable") => void
  ) => {
    if (standing._tag === "Alive") return send(owner, standing.url, exchange, id, body, refuse)
    if (standing._tag === "Leaving" && standing.url !== undefined && finishesWork(exchange, body)) {
      return send(owner, standing.url, exchange, id, body, refuse)
    }
    refuseAs(refuse, standing)
  }
  return (exchange, id, body, refuse) => {
    const owner = id.slice(0, SessionId.PREFIX_LENGTH)
    // Where the owner stands, known for a beat (or told it leaves): relaying then needs no fiber, no round trip.
    const known = membership.known(owner)
    if (known !== undefined) return relayTo(owner, known, exchange, id, body, refuse)
    runFork(Effect.map(membership.located(owner), (standing) => relayTo(owner, standing, exchange, id, body, refuse)))
  }
}

const UNKNOWN: Membership.Standing = { _tag: "Unknown" }

/**
 * Whether a POST only finishes work its session's owner already took in: answers to the server's own requests
 * (an elicitation, a sampling) and `notifications/cancelled`. An owner that drains takes them, as its calls still
 * running wait for them; anything else for its sessions is 404 everywhere once it leaves.
 */
const finishesWork = (exchange: Exchange, body: string | undefined): boolean => {
  if (exchange.method !== "POST" || body === undefined) return false
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return false
  }
  const messages: ReadonlyArray<unknown> = Array.isArray(parsed) ? parsed : [parsed]
  return messages.length > 0 && messages.every((message) =>
    typeof message === "object" && message !== null && (
      "method" in message
        ? message.method === "notifications/cancelled" && !("id" in message)
        : "id" in message && ("result" in message || "error" in message)
    )
  )
}

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
    const linkKey = LinkAuth.linkKey(key)
    const sockets = yield* Effect.try(() => LinkSocket.make(options.link?.tls, linkKey)).pipe(
      Effect.orDieWith((error) => new Error(`McpCluster: link.tls: ${String(error.error)}`))
    )
    const link = yield* listenForLinks(options, linkKey, sockets)
    // The lease tells the others where this instance's link listens.
    const membership = yield* Membership.join(redis, {
      namespace,
      advertise: link.address,
      lease: Duration.decode(options.lease ?? DEFAULT_LEASE)
    })
    const links = Link.make({ key: linkKey, ackTimeoutMs: link.ackMs, sockets })
    yield* Effect.addFinalizer(() => Effect.sync(links.close))
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
    const ownerOf = SessionId.verifier(key)
    const placement: PlacementService = {
      mint: (principal: Principal | undefined) =>
        membership.placed() ? SessionId.mint(key, membership.incarnation(), principal) : undefined,
      holds: (id) => id.startsWith(membership.incarnation()),
      elsewhere: (exchange, id, principal) => {
        // A relayed request is answered where it lands: a request is relayed at most once.
        if (id.length !== SessionId.LENGTH || LinkServer.isRelayed(exchange)) return false
        const owner = ownerOf(id, principal)
        return owner !== undefined && owner !== membership.incarnation() && !membership.wasMine(owner)
      },
      relay: relayWith(membership, links, runFork),
      leave: membership.leave,
      serve: (front) => Effect.acquireRelease(Effect.sync(() => link.server.serve(front)), (unset) => Effect.sync(unset)),
      repeated: link.server.repeated,
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
