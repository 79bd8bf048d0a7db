/**
 * The cluster's failure cases beyond a killed, stopped or frozen owner (`Cluster.test.ts`): a graceful stop seen
 * everywhere at once, Redis pausing or sleeping, Redis refusing writes for longer than the lease, one owner cut off
 * from Redis, and the instance holding a relayed stream killed. Demo instances are processes on a `redis-server`
 * of the test's own, which it pauses and puts to sleep; one owner reaches Redis through a relay process it stops.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpCluster from "@effect-mcp/cluster/McpCluster"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import { McpServer } from "@effect-mcp/core/McpServer"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import { redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import * as DemoServer from "../src/DemoServer.js"
import {
  CLUSTER_KEY,
  type HttpResult,
  openSession,
  ping,
  post,
  startCluster,
  startInstance,
  streamed
} from "./utils/cluster.js"
import { capture } from "../../node/test/utils/logs.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const LEASE_MS = 3_000

const call = (id: number, name: string, args: object, meta?: object) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) }
})

const initialize = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
}

const at = <A>(items: ReadonlyArray<A>, i: number): A => {
  const item = items[i]
  if (item === undefined) throw new Error(`nothing at ${i}`)
  return item
}

interface Probe {
  readonly status: number
  readonly at: number
  readonly ms: number
  readonly retryAfter: unknown
}

/** One timed probe: its status, when it was answered (ms since `since`) and how long it took. */
const timed = (probe: Effect.Effect<HttpResult>, since: number) =>
  Effect.map(Effect.timed(probe), ([took, result]): Probe => ({
    status: result.status,
    at: Date.now() - since,
    ms: Duration.toMillis(took),
    retryAfter: result.headers["retry-after"]
  }))

/** Probes with `probe` until it answers `until`, recording every answer. */
const probeUntil = (probe: Effect.Effect<HttpResult>, until: number, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    const seen: Array<Probe> = []
    while (true) {
      const result = yield* timed(probe, start)
      seen.push(result)
      if (result.status === until) return seen
      if (Date.now() - start > timeoutMs) {
        return yield* Effect.die(new Error(`no ${until} in ${timeoutMs} ms: ${JSON.stringify(seen.slice(-5))}`))
      }
      // A probe's pace, not a wait for an outcome: each answer is checked.
      yield* Effect.sleep("20 millis")
    }
  })

/** Probes with `probe`, back to back, until `done` completes; gives every answer. */
const probeWhile = <E>(probe: Effect.Effect<HttpResult>, done: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const seen: Array<Probe> = []
    const over = yield* Effect.fork(done)
    while (Option.isNone(yield* Fiber.poll(over))) {
      seen.push(yield* timed(probe, start))
      yield* Effect.sleep("20 millis")
    }
    yield* Fiber.join(over)
    return seen
  })

const statusesOf = (seen: ReadonlyArray<Probe>) => new Set(seen.map((probe) => probe.status))

/** A Redis client of the test's own, with a deadline long enough to wait out a pause. */
const redisClient = (url: string) => RedisClient.make({ url, commandTimeout: "30 seconds" })

/** A TCP relay process to `port` (`fixtures/tcpRelay.mjs`), killed with the scope; its port and process. */
const tcpRelay = (port: number) =>
  Effect.gen(function*() {
    const script = fileURLToPath(new URL("./fixtures/tcpRelay.mjs", import.meta.url))
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(process.execPath, [script, String(port)], { stdio: ["ignore", "pipe", "inherit"] })),
      (child) =>
        Effect.sync(() => {
          child.kill("SIGCONT")
          child.kill("SIGKILL")
        })
    )
    const listening = yield* Effect.promise(() =>
      new Promise<number>((resolve) => {
        let output = ""
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes("\n")) resolve(Number(output.trim()))
        })
        child.once("exit", () => resolve(0))
      })
    )
    if (listening === 0) return yield* Effect.die(new Error("the relay did not start"))
    return { port: listening, child }
  })

/** A demo server in this process, in the cluster on `redisUrl`: its port and server, stopped with the scope. */
const inProcess = (redisUrl: string) =>
  Effect.gen(function*() {
    // Port 0: a port picked beforehand could be taken before the server binds it (the link listens on its own).
    const cluster = McpCluster.layer({ advertise: "http://127.0.0.1", key: CLUSTER_KEY, lease: LEASE_MS }).pipe(
      Layer.provide(RedisClient.layer({ url: redisUrl }))
    )
    const context = yield* Layer.build(
      NodeMcpServer.layer({ port: 0 }).pipe(Layer.provideMerge(DemoServer.layer), Layer.provide(cluster))
    ).pipe(Effect.orDie, Effect.provide(capture().layer))
    return {
      port: Context.get(context, NodeMcpServer.NodeMcpServer).address.port,
      server: Context.get(context, McpServer),
      registry: Context.get(context, SessionRegistry.SessionRegistry)
    }
  })

describe("a cluster of demo processes, when something fails", () => {
  it.scopedLive("an owner stopped with SIGTERM: its sessions 404 everywhere at once, while what it serves finishes", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(3, LEASE_MS)
      const [owner, b, c] = [at(instances, 0), at(instances, 1), at(instances, 2)]
      const ids = yield* Effect.all(Array.from({ length: 20 }, () => openSession(owner.port)), { concurrency: 5 })
      // A call in flight on the owner, relayed through B: the owner drains, so it gets its answer.
      const slow = yield* streamed(b.port, "POST", { "mcp-session-id": at(ids, 0) }, call(1, "sleep", { ms: 1_500 }, {
        progressToken: "p"
      }))
      yield* Effect.promise(() => slow.json((m) => m["method"] === "notifications/progress"))
      for (const id of ids) expect((yield* post(b.port, id, ping)).status).toBe(202)
      owner.signal("SIGTERM")
      const stoppedAt = Date.now()
      const seen: Array<number> = []
      let left = [b.port, c.port].flatMap((port) => ids.map((id) => ({ port, id })))
      while (left.length > 0) {
        if (Date.now() - stoppedAt > 5_000) return yield* Effect.die(new Error(`${left.length} not 404 after 5 s`))
        const statuses = yield* Effect.all(left.map(({ id, port }) => Effect.map(post(port, id, ping), (r) => r.status)), {
          concurrency: "unbounded"
        })
        seen.push(...statuses)
        left = left.filter((_, i) => statuses[i] !== 404)
      }
      const tookMs = Date.now() - stoppedAt
      // Seen before the drain ended: the call in flight is still running.
      expect(slow.end).toBeUndefined()
      expect([...new Set(seen)].filter((status) => status !== 202 && status !== 404)).toEqual([])
      expect(tookMs).toBeLessThan(1_000)
      const result = yield* Effect.promise(() => slow.json((m) => m["id"] === 1))
      expect(result.message).toMatchObject({ result: { content: [{ text: "slept 1500 ms" }] } })
      expect(yield* Effect.promise(() => owner.exited)).toEqual({ code: 0, signal: null })
      console.log(`SIGTERM: 404 on both other instances for 20 sessions ${tookMs} ms after the signal`)
    }))

  it.scopedLive("a draining owner still gets the answers its running calls wait for, through any instance; new requests there 404", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(2, LEASE_MS)
      const [owner, b] = [at(instances, 0), at(instances, 1)]
      const id = yield* openSession(owner.port)
      // The call waits for the client's answer to its elicitation when the owner is told to stop.
      const asking = yield* streamed(owner.port, "POST", { "mcp-session-id": id }, call(41, "confirm", { action: "deploy" }))
      const elicitation = yield* Effect.promise(() => asking.json((m) => m["method"] === "elicitation/create"))
      owner.signal("SIGTERM")
      // B has heard the owner leave once a new message there is 404 (each probe is a request: no sleep).
      let status = 0
      for (let probe = 0; probe < 2_000 && status !== 404; probe++) status = (yield* post(b.port, id, ping)).status
      expect(status).toBe(404)
      expect((yield* post(b.port, id, call(42, "echo", { text: "late" }))).status).toBe(404)
      // The answer, sent through B, reaches the draining owner, and the call finishes.
      const answer = {
        jsonrpc: "2.0",
        id: elicitation.message["id"],
        result: { action: "accept", content: { confirm: true } }
      }
      expect((yield* post(b.port, id, answer)).status).toBe(202)
      const result = yield* Effect.promise(() => asking.json((m) => m["id"] === 41 && !("method" in m)))
      expect(result.message).toMatchObject({ result: { content: [{ text: "Confirmed" }] } })
      expect(yield* Effect.promise(() => owner.exited)).toEqual({ code: 0, signal: null })
    }))

  it.scopedLive("a Redis blip (CLIENT PAUSE, DEBUG SLEEP): no false 404; local sessions served; others 202 or a prompt 503", () =>
    Effect.gen(function*() {
      // A blip is ridden out when it is shorter than the fence time less a beat: about half the lease.
      const leaseMs = 6_000
      const { redis, instances } = yield* startCluster(2, leaseMs)
      const [a, b] = [at(instances, 0).port, at(instances, 1).port]
      const client = yield* redisClient(redis.url)
      const onA = yield* openSession(a)
      const onB = yield* openSession(b)
      // B relayed to A a moment ago and remembers it alive; A never relayed to B, so it must ask Redis.
      expect((yield* post(b, onA, ping)).status).toBe(202)
      for (const blip of [["CLIENT", "PAUSE", "2000", "ALL"], ["DEBUG", "SLEEP", "2"]]) {
        const name = blip.join(" ")
        // Over when Redis answers a command again: a PING after the blip's command waits out the pause or sleep.
        const over = yield* Effect.fork(Effect.zipRight(client.send(blip), client.send(["PING"])))
        const [localA, localB, warm, cold] = yield* Effect.all([
          probeWhile(post(a, onA, ping), Fiber.join(over)),
          probeWhile(post(b, onB, ping), Fiber.join(over)),
          probeWhile(post(b, onA, ping), Fiber.join(over)),
          probeWhile(post(a, onB, ping), Fiber.join(over))
        ], { concurrency: "unbounded" })
        for (const local of [localA, localB]) expect([...statusesOf(local)], name).toEqual([202])
        for (const other of [warm, cold]) {
          expect([...statusesOf(other)].filter((status) => status !== 202 && status !== 503), name).toEqual([])
          expect(other.filter((probe) => probe.status === 503 && probe.retryAfter === undefined)).toEqual([])
          // A request that needs Redis waits for it no longer than the command timeout (500 ms), with some slack.
          expect(Math.max(...other.map((probe) => probe.ms)), name).toBeLessThan(1_500)
        }
        // Afterwards, as before: no instance fenced.
        for (const [port, id] of [[b, onA], [a, onB]] as const) {
          const after = yield* probeUntil(post(port, id, ping), 202, leaseMs)
          expect([...statusesOf(after)].filter((status) => status !== 202 && status !== 503)).toEqual([])
        }
        expect((yield* post(a, onA, ping)).status).toBe(202)
        expect((yield* post(b, onB, ping)).status).toBe(202)
        const slowest = Math.max(...[...warm, ...cold].map((probe) => probe.ms)).toFixed(0)
        console.log(`${name}: relayed ${JSON.stringify([...statusesOf(warm)])} (owner known) and ${
          JSON.stringify([...statusesOf(cold)])
        } (owner asked of Redis), slowest ${slowest} ms; local ${localA.length + localB.length} probes, all 202`)
      }
    }))

  it.scopedLive("Redis refusing writes for longer than the lease: owners fence, old ids 404 everywhere, new sessions work", () =>
    Effect.gen(function*() {
      const { redis, instances } = yield* startCluster(2, LEASE_MS)
      const [a, b] = [at(instances, 0).port, at(instances, 1).port]
      const client = yield* redisClient(redis.url)
      const onA = yield* openSession(a)
      const onB = yield* openSession(b)
      expect((yield* post(b, onA, ping)).status).toBe(202)
      yield* Effect.orDie(client.send(["CLIENT", "PAUSE", String(LEASE_MS * 3), "WRITE"]))
      const pausedAt = Date.now()
      // The owner gives its sessions up before its lease could lapse. The other still reads the leases, on a
      // connection its own held writes do not hold up: the owner's answer (202, then 404 once it fenced) while
      // the lease stands, then 404 for the rest of the pause, never 503: the lease lapsed, and Redis says so.
      const [fenced, elsewhere] = yield* Effect.all([
        probeUntil(post(a, onA, ping), 404, LEASE_MS * 2),
        probeWhile(post(b, onA, ping), client.send(["SET", "effect-mcp-test:after", "1"]))
      ], { concurrency: 2 })
      expect([...statusesOf(fenced)].filter((status) => status !== 202)).toEqual([404])
      expect(at(fenced, fenced.length - 1).at).toBeLessThan(LEASE_MS)
      expect([...statusesOf(elsewhere)].filter((status) => status !== 202 && status !== 404)).toEqual([])
      const lapsed = elsewhere.filter((probe) => probe.at - probe.ms > LEASE_MS)
      expect(lapsed.length).toBeGreaterThan(0)
      expect([...statusesOf(lapsed)]).toEqual([404])
      // Not a wait for a reply from Redis, which holds the writes: a lease lookup answers within the command timeout.
      expect(Math.max(...elsewhere.map((probe) => probe.ms))).toBeLessThan(1_500)
      // The SET waited out the pause.
      expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(LEASE_MS * 3 - 100)
      for (const port of [a, b]) {
        for (const id of [onA, onB]) expect((yield* post(port, id, ping)).status, `${id} on ${port}`).toBe(404)
      }
      // New sessions, once each instance wrote the lease of its new incarnation.
      for (const port of [a, b]) yield* probeUntil(post(port, undefined, initialize), 200, LEASE_MS)
      const fresh = yield* openSession(a, b)
      expect((yield* post(b, fresh, ping)).status).toBe(202)
    }))

  it.scopedLive("an owner cut off from Redis: it fences, and the others 404 its sessions once its lease lapsed", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const relay = yield* tcpRelay(redis.port)
      const owner = yield* startInstance(`redis://127.0.0.1:${relay.port}`, LEASE_MS)
      const other = yield* startInstance(redis.url, LEASE_MS)
      const id = yield* openSession(owner.port)
      expect((yield* post(other.port, id, ping)).status).toBe(202)
      relay.child.kill("SIGSTOP")
      const cutAt = Date.now()
      const seen = yield* probeUntil(post(other.port, id, ping), 404, LEASE_MS * 2)
      const tookMs = Date.now() - cutAt
      expect([...statusesOf(seen)].filter((status) => status !== 202 && status !== 503)).toEqual([404])
      expect(tookMs).toBeLessThan(LEASE_MS + 1_500)
      // It had given the session up already: its own answer is 404 too.
      expect((yield* post(owner.port, id, ping)).status).toBe(404)
      // And it takes no new session while it cannot write a lease.
      expect((yield* post(owner.port, undefined, initialize)).status).toBe(503)
      relay.child.kill("SIGCONT")
      yield* probeUntil(post(owner.port, undefined, initialize), 200, LEASE_MS)
      expect((yield* post(owner.port, id, ping)).status).toBe(404)
      console.log(`partition: the owner's session 404 elsewhere ${tookMs} ms after it was cut off (lease ${LEASE_MS} ms)`)
    }))

  it.scopedLive("the instance holding a relayed stream is killed: resumed on another, the rest is replayed, then live", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const owner = yield* inProcess(redis.url)
      const [b, c] = yield* Effect.all([startInstance(redis.url, LEASE_MS), startInstance(redis.url, LEASE_MS)], {
        concurrency: 2
      })
      const id = yield* openSession(owner.port)
      const uri = "demo://readme"
      const subscribed = yield* post(c.port, id, { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri } })
      expect(subscribed.status).toBe(200)
      const updates = (events: ReadonlyArray<{ readonly data: string; readonly id?: string | undefined }>) =>
        events.filter((event) => event.data.includes("notifications/resources/updated"))
      const viaB = yield* streamed(b.port, "GET", { "mcp-session-id": id })
      yield* Effect.promise(() => viaB.response)
      expect(viaB.status).toBe(200)
      yield* owner.server.notifyResourceUpdated(uri)
      yield* owner.server.notifyResourceUpdated(uri)
      yield* Effect.promise(() => viaB.waitFor(() => updates(viaB.events).length >= 2))
      const lastSeen = at(updates(viaB.events), 1).id
      expect(lastSeen).toBeDefined()
      // The owner holds the stream B relays: the session is busy with it.
      const session = owner.registry.unsafeLookup(id)
      expect(session?.busy).toBe(1)
      b.signal("SIGKILL")
      yield* Effect.promise(() => b.exited)
      expect(yield* Effect.promise(() => viaB.ended)).toBe("error")
      // The owner sees B's connection go, and the stream with it.
      yield* Effect.repeat(Effect.sync(() => session?.busy), {
        until: (busy) => busy === 0,
        // A probe's pace, not a wait for an outcome: the loop ends on the condition, bounded by the test's time.
        schedule: Schedule.spaced("10 millis")
      })
      // Told while no stream was open: kept for a resumption.
      yield* owner.server.notifyResourceUpdated(uri)
      yield* owner.server.notifyResourceUpdated(uri)
      const viaC = yield* streamed(c.port, "GET", { "mcp-session-id": id, "last-event-id": lastSeen! })
      yield* Effect.promise(() => viaC.waitFor(() => updates(viaC.events).length >= 2))
      expect(viaC.status).toBe(200)
      // Then live.
      yield* owner.server.notifyResourceUpdated(uri)
      yield* Effect.promise(() => viaC.waitFor(() => updates(viaC.events).length >= 3))
      const before = updates(viaB.events).map((event) => event.id)
      const after = updates(viaC.events).map((event) => event.id)
      expect(after).toHaveLength(3)
      expect(new Set([...before, ...after]).size).toBe(5)
      // In order, with no gap: each event's id follows the one before it.
      const seqOf = (eventId: string | undefined) => Number(eventId?.split("/").at(-1))
      expect([...before, ...after].map(seqOf)).toEqual([0, 1, 2, 3, 4].map((i) => seqOf(before[0]) + i))
    }))
})
