/**
 * TLS on the link between instances (`McpCluster`'s `link.tls`): instances in this process, each in the cluster on
 * one `redis-server` of the test's own, their certificates made with `openssl` at test time. A relayed request and
 * a relayed stream cross a link with TLS (certificates, or the cluster key's TLS-PSK); an instance that does not
 * speak the same TLS (none, a certificate of another CA, a name the owner's certificate lacks, the other mode)
 * gets 503 with `Retry-After`, never 202; a plain TCP connection speaking frames to a TLS link port is refused.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Net from "node:net"
import { serveHttp } from "../../core/test/utils/serve.js"
import { encodeRequestHead, Kind, Reader, Writer } from "../src/internal/frames.js"
import * as LinkAuth from "../src/internal/linkAuth.js"
import * as McpCluster from "../src/McpCluster.js"
import * as RedisClient from "../src/RedisClient.js"
import { certificateMaker, opensslPath } from "./utils/certificates.js"
import { inUseOnTaken, onFreePort, redisServerPath, startRedis } from "./utils/redisServer.js"
import { type Answer, openSessionAt, ping, postTo } from "./utils/mcpHttp.js"

// While the file is collected, outside any test's time limit: installs redis-server and openssl where missing.
redisServerPath()
opensslPath()

const KEY = "a-test-cluster-key-of-at-least-32-characters"

/** Counts to `to`, telling each step as progress: its answer is an SSE stream of several events. */
const Count = McpTool.make("count", {
  input: Schema.Struct({ to: Schema.Number }),
  handler: ({ to }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      for (let i = 1; i <= to; i++) yield* session.progress(i, to)
      return `counted to ${to}`
    })
})

interface InstanceOptions {
  readonly tls?: McpCluster.LinkTls | undefined
  readonly linkPort?: number | undefined
  readonly ackTimeoutMs?: number | undefined
}

/** One instance in this process, in the cluster on `redisUrl`, for the test's scope: its Streamable HTTP URL. */
const instance = (redisUrl: string, options: InstanceOptions = {}) => {
  const cluster = McpCluster.layer({
    advertise: "http://127.0.0.1:1",
    key: KEY,
    ackTimeout: Duration.millis(options.ackTimeoutMs ?? 2_000),
    link: { tls: options.tls, port: options.linkPort }
  }).pipe(Layer.provide(RedisClient.layer({ url: redisUrl })), Layer.orDie)
  // The cluster's placements reach the server and the registry `serveHttp` makes.
  return serveHttp(Count.pipe(Layer.provideMerge(McpServer.layer({ name: "link-tls", version: "1" })), Layer.provideMerge(cluster)))
}

const post = postTo

const openSession = (url: string) => openSessionAt(url, "link-tls-test")

const count = (id: number, to: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "count", arguments: { to }, _meta: { progressToken: `p${id}` } }
})

/** The JSON-RPC messages of an SSE answer, in order. */
const events = (answer: Answer): ReadonlyArray<{ readonly method?: string; readonly result?: unknown }> =>
  answer.body.split("\n").filter((line) => line.startsWith("data:")).map((line) => JSON.parse(line.slice(5)))

/** A request relayed from `via` to the owner of `session`, and a streamed one, both answered as by the owner. */
const relays = (via: string, session: string) =>
  Effect.gen(function*() {
    expect((yield* post(via, session, ping)).status).toBe(202)
    const streamed = yield* post(via, session, count(1, 3))
    expect(streamed.status).toBe(200)
    expect(streamed.headers.get("content-type")).toMatch(/text\/event-stream/)
    const messages = events(streamed)
    expect(messages.map((message) => message.method ?? "result")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "notifications/progress",
      "result"
    ])
    expect(messages[3]?.result).toEqual({ content: [{ type: "text", text: "counted to 3" }] })
  })

/** A relayed request refused for want of a link: 503 with `Retry-After`, never 202. */
const refused = (via: string, session: string) =>
  Effect.gen(function*() {
    const answer = yield* post(via, session, ping)
    expect(answer.status).toBe(503)
    expect(answer.headers.get("retry-after")).not.toBeNull()
  })

/**
 * Speaks the link's frames over plain TCP to `port` (a request before proving anything, then a proof under the
 * right key): the kinds of the frames that came back before the connection closed.
 */
const plainProbe = (port: number) =>
  Effect.async<ReadonlyArray<number>>((resume) => {
    const kinds: Array<number> = []
    const socket = Net.connect(port, "127.0.0.1")
    const writer = new Writer(socket)
    const head = encodeRequestHead({
      method: "POST",
      url: "/mcp",
      headers: { host: "127.0.0.1", "content-type": "application/json" },
      address: "127.0.0.1",
      session: "-",
      hasBody: true
    })
    const key = LinkAuth.linkKey(Buffer.from(KEY))
    const mine = LinkAuth.nonce()
    socket.on("connect", () => {
      writer.send(1, Kind.Request, head, JSON.stringify(ping))
      writer.send(0, Kind.Proof, JSON.stringify({ n: mine, p: LinkAuth.prove(key, "connecting", "-", mine) }), undefined)
    })
    const reader = new Reader((_id, kind) => {
      kinds.push(kind)
      // A plain link's owner answers with its challenge: enough to tell it from a refusal.
      socket.destroy()
    }, 1 << 20)
    socket.on("data", (chunk: Buffer) => {
      if (!reader.push(chunk)) socket.destroy()
    })
    socket.on("error", () => undefined)
    socket.on("close", () => resume(Effect.succeed(kinds)))
  })

describe("TLS on the link between instances", () => {
  it.scopedLive("a relayed request and a relayed stream cross a link with the user's certificates", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const ca = (yield* certificateMaker).authority("cluster-ca")
      const [a, b] = yield* Effect.all([
        instance(redis.url, { tls: ca.sign("a.cluster") }),
        instance(redis.url, { tls: ca.sign("b.cluster") })
      ], { concurrency: "unbounded" })
      const onA = yield* openSession(a)
      const onB = yield* openSession(b)
      yield* relays(b, onA)
      yield* relays(a, onB)
      // The owner's certificate is checked to name what `servername` says, when it is given.
      const named = yield* instance(redis.url, { tls: { ...ca.sign("c.cluster"), servername: "a.cluster" } })
      yield* relays(named, onA)
    }), { timeout: 60_000 })

  it.scopedLive("a relayed request and a relayed stream cross a link with TLS keyed by the cluster key", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const [a, b] = yield* Effect.all([
        instance(redis.url, { tls: "cluster-key" }),
        instance(redis.url, { tls: "cluster-key" })
      ], { concurrency: "unbounded" })
      yield* relays(b, yield* openSession(a))
      yield* relays(a, yield* openSession(b))
    }), { timeout: 60_000 })

  it.scopedLive("an instance that does not speak the owner's TLS cannot relay to it: 503 with Retry-After, never 202", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const certificates = yield* certificateMaker
      const ca = certificates.authority("cluster-ca")
      const other = certificates.authority("other-ca")
      const ackTimeoutMs = 500
      const owner = yield* instance(redis.url, { tls: ca.sign("owner.cluster"), ackTimeoutMs })
      const session = yield* openSession(owner)
      const relaying = (tls: McpCluster.LinkTls | undefined) => instance(redis.url, { tls, ackTimeoutMs })
      const foreign = other.sign("peer.cluster")
      // One with the cluster's TLS relays: the refusals below are the TLS's, nothing else's.
      yield* relays(yield* relaying(ca.sign("peer.cluster")), session)
      const strangers = yield* Effect.all([
        // No TLS: it waits for a challenge the owner never sends.
        relaying(undefined),
        // Trusts the owner, but its own certificate is another CA's: the owner refuses it.
        relaying({ ...foreign, ca: ca.ca }),
        // Another CA altogether: it refuses the owner's certificate.
        relaying(other.sign("peer.cluster")),
        // The owner's certificate does not name what it asks for.
        relaying({ ...ca.sign("peer.cluster"), servername: "someone-else.cluster" }),
        // The other mode.
        relaying("cluster-key")
      ], { concurrency: "unbounded" })
      for (const via of strangers) yield* refused(via, session)

      // And the other way: an owner with the cluster key's TLS refuses instances without it.
      const pskOwner = yield* instance(redis.url, { tls: "cluster-key", ackTimeoutMs })
      const pskSession = yield* openSession(pskOwner)
      for (const via of [strangers[0]!, strangers[2]!]) yield* refused(via, pskSession)
    }), { timeout: 60_000 })

  it.scopedLive("certificates that are not PEM fail the layer at start, saying so", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const exit = yield* Effect.exit(instance(redis.url, { tls: { ca: "not a CA", cert: "not a cert", key: "no key" } }))
      expect(exit._tag).toBe("Failure")
      expect(exit._tag === "Failure" ? Cause.pretty(exit.cause) : "").toMatch(/McpCluster: link\.tls: /)
    }), { timeout: 60_000 })

  it.scopedLive("a plain TCP connection that speaks frames to a TLS link port is refused before any frame", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const ca = (yield* certificateMaker).authority("cluster-ca")
      // Each link port is picked here, as the probe connects to it, and picked again if something takes it first.
      const onLinkPort = (tls: McpCluster.LinkTls | undefined) =>
        Effect.map(
          onFreePort((linkPort) => inUseOnTaken(instance(redis.url, { linkPort, tls }))),
          ({ port }) => port
        )
      const [plainPort, certifiedPort, pskPort] = yield* Effect.all([
        onLinkPort(undefined),
        onLinkPort(ca.sign("a.cluster")),
        onLinkPort("cluster-key")
      ], { concurrency: "unbounded" })
      // A plain link answers the probe with its challenge (and refuses the rest): the probe speaks frames.
      expect(yield* plainProbe(plainPort)).toEqual([Kind.Challenge])
      expect(yield* plainProbe(certifiedPort)).toEqual([])
      expect(yield* plainProbe(pskPort)).toEqual([])
    }), { timeout: 60_000 })
})
