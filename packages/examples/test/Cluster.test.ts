/**
 * The demo as a cluster: instances started as processes with `--redis` on a `redis-server` of the test's own,
 * requests sent to any instance, instances and Redis killed, stopped and restarted by the test.
 */
import { describe, expect, it } from "@effect/vitest"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import * as Effect from "effect/Effect"
import { redisServerPath } from "../../cluster/test/utils/redisServer.js"
import {
  type HttpResult,
  type Instance,
  messagesOf,
  openSession,
  ping,
  post,
  postMessage,
  startCluster,
  streamed
} from "./utils/cluster.js"
import { request, SseStream } from "../../node/test/utils/http.js"
import { sessionIdOf } from "./utils/demo.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

/** Calls to the lease lookup script so far: what routing a request costs in Redis. */
const lookups = (client: RedisClient.RedisClientService) =>
  Effect.map(Effect.orDie(client.send(["INFO", "commandstats"])), (reply) => {
    let calls = 0
    for (const match of String(reply).matchAll(/cmdstat_eval(?:sha)?_ro:calls=(\d+),/g)) calls += Number(match[1])
    return calls
  })

const call = (id: number, name: string, args: object, meta?: object) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) }
})

/** Probes with `probe` until it answers `until`, recording every status and when it came. */
const probeUntil = (probe: Effect.Effect<HttpResult>, until: number, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    const seen: Array<{ readonly status: number; readonly at: number; readonly retryAfter: unknown }> = []
    while (true) {
      const result = yield* probe
      seen.push({ status: result.status, at: Date.now() - start, retryAfter: result.headers["retry-after"] })
      if (result.status === until) return seen
      if (Date.now() - start > timeoutMs) return yield* Effect.die(new Error(`no ${until} in ${timeoutMs} ms: ${JSON.stringify(seen.slice(-5))}`))
      yield* Effect.sleep("50 millis")
    }
  })

const instanceAt = (instances: ReadonlyArray<Instance>, i: number): Instance => {
  const instance = instances[i]
  if (instance === undefined) throw new Error(`no instance ${i}`)
  return instance
}

/** A legacy SSE session on the instance at `port`, initialized through `via`; its stream lives in the scope. */
const openLegacy = (port: number, via: number) =>
  Effect.gen(function*() {
    const stream = yield* Effect.acquireRelease(
      Effect.sync(() => new SseStream({ port })),
      (s) => Effect.sync(() => s.destroy())
    )
    const id = sessionIdOf(yield* Effect.promise(() => stream.endpoint()))
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "t", version: "1" } }
    }
    expect((yield* postMessage(via, id, init)).status).toBe(202)
    yield* Effect.promise(() => stream.message((m) => m["id"] === 1))
    return { id, stream }
  })

describe("a cluster of demo processes", () => {
  it.scopedLive("serves every request of a Streamable HTTP session on any instance", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(3, 3_000)
      const [a, b, c] = [0, 1, 2].map((i) => instanceAt(instances, i).port)
      const id = yield* openSession(a!, b!)

      // A JSON answer, relayed.
      const added = yield* post(c!, id, call(1, "add", { a: 2, b: 3 }))
      expect(added.status).toBe(200)
      expect(JSON.parse(added.body)).toMatchObject({ id: 1, result: { structuredContent: { sum: 5 } } })

      // An SSE answer, relayed as it comes: the progress, then the result.
      const slept = yield* post(b!, id, call(2, "sleep", { ms: 50 }, { progressToken: "p" }))
      expect(slept.headers["content-type"]).toMatch(/^text\/event-stream/)
      const messages = messagesOf(slept.body)
      expect(messages.some((m) => m["method"] === "notifications/progress")).toBe(true)
      expect(messages.at(-1)).toMatchObject({ id: 2, result: { content: [{ text: "slept 50 ms" }] } })

      // The server's own request (elicitation) goes out on a stream relayed by B; its answer comes in on C.
      const confirm = yield* streamed(b!, "POST", { "mcp-session-id": id }, call(3, "confirm", { action: "ship" }))
      const asked = yield* Effect.promise(() => confirm.json((m) => m["method"] === "elicitation/create"))
      const answered = yield* post(c!, id, {
        jsonrpc: "2.0",
        id: asked.message["id"],
        result: { action: "accept", content: { confirm: true } }
      })
      expect(answered.status).toBe(202)
      const confirmed = yield* Effect.promise(() => confirm.json((m) => m["id"] === 3))
      expect(confirmed.message).toMatchObject({ result: { content: [{ text: "Confirmed" }] } })

      // A dropped POST stream resumed on another instance with Last-Event-ID: the rest, nothing twice.
      const sleeping = yield* streamed(a!, "POST", { "mcp-session-id": id }, call(4, "sleep", { ms: 400 }, { progressToken: "q" }))
      const first = yield* Effect.promise(() => sleeping.json((m) => m["method"] === "notifications/progress"))
      expect(first.id).toBeDefined()
      sleeping.destroy()
      const resumed = yield* streamed(c!, "GET", { "mcp-session-id": id, "last-event-id": first.id! })
      const result = yield* Effect.promise(() => resumed.json((m) => m["id"] === 4))
      expect(result.message).toMatchObject({ result: { content: [{ text: "slept 400 ms" }] } })
      expect(resumed.events.filter((e) => e.id === first.id)).toEqual([])

      // The standalone stream: a second GET elsewhere replaces the first.
      const standalone = yield* streamed(b!, "GET", { "mcp-session-id": id })
      yield* Effect.promise(() => standalone.response)
      expect(standalone.status).toBe(200)
      const replacing = yield* streamed(c!, "GET", { "mcp-session-id": id })
      yield* Effect.promise(() => replacing.response)
      expect(replacing.status).toBe(200)
      expect(yield* Effect.promise(() => standalone.ended)).toBe("end")
      expect(replacing.end).toBeUndefined()

      // DELETE on another instance ends it everywhere.
      const del = yield* request({ port: c!, path: "/mcp", method: "DELETE", body: "", headers: { "mcp-session-id": id } })
      expect(del.status).toBe(204)
      for (const port of [a!, b!, c!]) expect((yield* post(port, id, ping)).status).toBe(404)
    }))

  it.scopedLive("serves a legacy SSE session's POSTs on any instance, and 404s them everywhere once its stream goes", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(3, 3_000)
      const [a, b, c] = [0, 1, 2].map((i) => instanceAt(instances, i).port)
      const { id, stream } = yield* openLegacy(a!, b!)
      expect((yield* postMessage(c!, id, { jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202)
      // In order: sequential POSTs through different instances reach the session as sent.
      for (let i = 2; i < 12; i++) {
        expect((yield* postMessage(i % 2 === 0 ? b! : c!, id, call(i, "echo", { text: `m${i}` }))).status).toBe(202)
      }
      for (let i = 2; i < 12; i++) yield* Effect.promise(() => stream.message((m) => m["id"] === i))
      const answered = stream.events.filter((e) => e.event === "message").map((e) => JSON.parse(e.data).id)
      expect(answered.slice(1)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])

      stream.destroy()
      // 404 on every instance once the owner saw the stream go; never a 202 after it did.
      yield* probeUntil(postMessage(b!, id, ping), 404, 2_000)
      for (const port of [a!, b!, c!]) expect((yield* postMessage(port, id, ping)).status).toBe(404)
    }))

  it.scopedLive("answers a forged or altered id with 404 and no Redis round trip", () =>
    Effect.gen(function*() {
      const { redis, instances } = yield* startCluster(2, 3_000)
      const [a, b] = [0, 1].map((i) => instanceAt(instances, i).port)
      const client = yield* RedisClient.make({ url: redis.url })
      const id = yield* openSession(a!)
      const before = yield* lookups(client)
      const forged = [
        id.slice(0, 20) + (id[20] === "A" ? "B" : "A") + id.slice(21),
        Buffer.alloc(33, 7).toString("base64url"),
        "0123456789abcdef0123456789abcdef"
      ]
      for (const bad of forged) {
        expect((yield* post(b!, bad, ping)).status).toBe(404)
        expect((yield* postMessage(b!, bad, ping)).status).toBe(404)
      }
      expect(yield* lookups(client)).toBe(before)
      // The count does move for a real routed request.
      expect((yield* post(b!, id, ping)).status).toBe(202)
      expect(yield* lookups(client)).toBeGreaterThan(before)
    }))
})

const LEASE_MS = 3_000

const onlyStatuses = (seen: ReadonlyArray<{ readonly status: number }>, allowed: ReadonlyArray<number>) =>
  seen.filter((probe) => !allowed.includes(probe.status))

describe("a cluster of demo processes, when something fails", () => {
  it.scopedLive("an owner killed with SIGKILL: its sessions answer 503, then 404 everywhere within the lease; never 202", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(2, LEASE_MS)
      const [owner, other] = [instanceAt(instances, 0), instanceAt(instances, 1)]
      const id = yield* openSession(owner.port)
      const legacy = yield* openLegacy(owner.port, other.port)
      expect((yield* post(other.port, id, ping)).status).toBe(202)
      owner.signal("SIGKILL")
      yield* Effect.promise(() => owner.exited)
      const killedAt = Date.now()
      const seen = yield* probeUntil(post(other.port, id, ping), 404, LEASE_MS + 3_000)
      const tookMs = Date.now() - killedAt
      expect(onlyStatuses(seen, [503, 404])).toEqual([])
      expect(seen.filter((probe) => probe.status === 503 && probe.retryAfter === undefined)).toEqual([])
      expect(tookMs).toBeLessThan(LEASE_MS + 1_500)
      expect((yield* postMessage(other.port, legacy.id, ping)).status).toBe(404)
      console.log(`SIGKILL: 404 everywhere ${tookMs} ms after the owner died (lease ${LEASE_MS} ms)`)
    }))

  it.scopedLive("an owner stopped with SIGTERM drains, then its sessions answer 404 everywhere at once", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(2, LEASE_MS)
      const [owner, other] = [instanceAt(instances, 0), instanceAt(instances, 1)]
      const id = yield* openSession(owner.port)
      const legacy = yield* openLegacy(owner.port, other.port)
      owner.signal("SIGTERM")
      const exit = yield* Effect.promise(() => owner.exited)
      expect(exit).toEqual({ code: 0, signal: null })
      expect(yield* Effect.promise(() => legacy.stream.ended)).toBe("end")
      expect((yield* post(other.port, id, ping)).status).toBe(404)
      expect((yield* postMessage(other.port, legacy.id, ping)).status).toBe(404)
    }))

  it.scopedLive("an owner frozen past its lease: 404 elsewhere once it lapses, and on waking it has closed its sessions", () =>
    Effect.gen(function*() {
      const { instances } = yield* startCluster(2, LEASE_MS)
      const [owner, other] = [instanceAt(instances, 0), instanceAt(instances, 1)]
      const id = yield* openSession(owner.port)
      owner.signal("SIGSTOP")
      const stoppedAt = Date.now()
      const seen = yield* probeUntil(post(other.port, id, ping), 404, LEASE_MS + 3_000)
      const tookMs = Date.now() - stoppedAt
      expect(onlyStatuses(seen, [503, 404])).toEqual([])
      expect(tookMs).toBeLessThan(LEASE_MS + 1_500)
      owner.signal("SIGCONT")
      // The first thing it serves after waking finds its sessions given up.
      expect((yield* post(owner.port, id, ping)).status).toBe(404)
      // It takes new sessions again once its new lease is written.
      yield* probeUntil(post(owner.port, undefined, {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
      }), 200, LEASE_MS)
      const fresh = yield* openSession(owner.port, other.port)
      expect((yield* post(other.port, fresh, ping)).status).toBe(202)
      console.log(`SIGSTOP: 404 elsewhere ${tookMs} ms after the owner froze (lease ${LEASE_MS} ms)`)
    }))

  it.scopedLive("Redis down: local sessions work, others' get 503; Redis back empty: no false 404", () =>
    Effect.gen(function*() {
      const leaseMs = 6_000
      const { instances, redis } = yield* startCluster(2, leaseMs)
      const [a, b] = [instanceAt(instances, 0).port, instanceAt(instances, 1).port]
      const id = yield* openSession(a)
      expect((yield* post(b, id, ping)).status).toBe(202)
      yield* redis.kill
      expect((yield* post(a, id, ping)).status).toBe(202)
      // B still relays to the owner it found alive within the last beat; past it, it cannot tell: 503.
      const outage = yield* probeUntil(post(b, id, ping), 503, leaseMs / 3 + 1_500)
      expect(onlyStatuses(outage, [202, 503])).toEqual([])
      expect(outage.at(-1)?.retryAfter).toBeDefined()
      expect((yield* post(a, id, ping)).status).toBe(202)
      const opened = yield* openSession(a)
      yield* redis.restart
      const seen = yield* probeUntil(post(b, id, ping), 202, leaseMs)
      expect(onlyStatuses(seen, [503, 202])).toEqual([])
      expect((yield* post(b, opened, ping)).status).toBe(202)
      expect((yield* post(a, id, ping)).status).toBe(202)
    }))
})
