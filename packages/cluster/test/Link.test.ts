/**
 * The link between instances, with real instance processes (`fixtures/linkInstance.ts`) on a real `redis-server`:
 * a slow owner, a client that goes away mid-stream, a link cut mid-request, a connection without the key; and
 * the frames themselves.
 */
import { describe, expect, it, vi } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Frames from "../src/internal/frames.js"
import { encodeRequestHead, Kind, Reader, Writer } from "../src/internal/frames.js"
import * as LinkAuth from "../src/internal/linkAuth.js"
import { onFreePort, readyOrInUse, redisServerPath, startRedis } from "./utils/redisServer.js"
import { type Answer, HEADERS, openSessionAt, ping, postTo } from "./utils/mcpHttp.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const KEY = "a-test-cluster-key-of-at-least-32-characters"
const script = fileURLToPath(new URL("./fixtures/linkInstance.ts", import.meta.url))

interface Instance {
  readonly port: number
  readonly linkPort: number
}

interface InstanceOptions {
  readonly ackTimeoutMs?: number
  readonly idleTimeoutMs?: number
  /** Where the others are told to connect for its link (a proxy of the test's), instead of where it listens. */
  readonly linkAdvertise?: string
}

/**
 * An instance in a process of its own, killed with the scope. Its HTTP port is 0, read back from the `ready` line;
 * its link's is picked here, as tests connect to it, and picked again if something takes it first.
 */
const instance = (redisUrl: string, options: InstanceOptions = {}) =>
  Effect.map(
    onFreePort((linkPort) => instanceOn(redisUrl, linkPort, options)),
    ({ port: linkPort, started: port }) => ({ port, linkPort } satisfies Instance)
  )

const instanceOn = (redisUrl: string, linkPort: number, options: InstanceOptions) =>
  Effect.gen(function*() {
    const args = [
      "--import",
      "tsx",
      script,
      "0",
      redisUrl,
      String(linkPort),
      options.linkAdvertise ?? "-",
      String(options.ackTimeoutMs ?? 2_000),
      String(options.idleTimeoutMs ?? 60_000)
    ]
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })),
      (child) => Effect.sync(() => void child.kill("SIGKILL"))
    )
    return yield* readyOrInUse(child)
  })

const post = (port: number, session: string | undefined, message: unknown) =>
  postTo(`http://127.0.0.1:${port}/mcp`, session, message)

/** The JSON-RPC result of an answer, JSON or SSE. */
const resultOf = (answer: Answer): { readonly [key: string]: unknown } => {
  const line = answer.body.split("\n").find((l) => l.startsWith("data:"))
  const message: unknown = JSON.parse(line === undefined ? answer.body : line.slice(5))
  if (typeof message !== "object" || message === null || !("result" in message)) {
    throw new Error(`no result: ${answer.body}`)
  }
  const result: unknown = message.result
  if (typeof result !== "object" || result === null) throw new Error(`no result: ${answer.body}`)
  return { ...result }
}

const textOf = (answer: Answer): unknown => {
  const content = resultOf(answer)["content"]
  return Array.isArray(content) ? content[0]?.text : undefined
}

const openSession = (port: number) => openSessionAt(`http://127.0.0.1:${port}/mcp`, "link-test")

const call = (id: number, name: string, args: object) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args }
})

/** A GET stream of a session, open for the scope; resolves once its answer began, with the status. */
const openGet = (port: number, session: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly status: number | undefined; readonly request: Http.ClientRequest }>((resolve) => {
        const request = Http.request({
          host: "127.0.0.1",
          port,
          method: "GET",
          path: "/mcp",
          agent: false,
          headers: { accept: "text/event-stream", "mcp-protocol-version": "2025-06-18", "mcp-session-id": session }
        })
        request.on("response", (response) => {
          response.resume()
          resolve({ status: response.statusCode, request })
        })
        request.on("error", () => resolve({ status: undefined, request }))
        request.end()
      })
    ),
    ({ request }) => Effect.sync(() => void request.destroy())
  )

/**
 * A TCP proxy of the test's, on a port of its own, in front of the port it is pointed `to` (before the first
 * connection): it tells when bytes pass toward that port, and can cut everything.
 */
const proxy = Effect.gen(function*() {
  let port = 0
  const sockets = new Set<Net.Socket>()
  let passed = 0
  const waiters: Array<() => void> = []
  const server = Net.createServer((client) => {
    const upstream = Net.connect(port, "127.0.0.1")
    sockets.add(client)
    sockets.add(upstream)
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk)
      passed += chunk.length
      for (const wake of waiters.splice(0)) wake()
    })
    upstream.pipe(client)
    for (const socket of [client, upstream]) {
      socket.on("error", () => undefined)
      socket.on("close", () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(socket)
      })
    }
  })
  yield* Effect.acquireRelease(
    Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
    () => Effect.sync(() => server.close())
  )
  const address = server.address()
  return {
    port: address !== null && typeof address === "object" ? address.port : 0,
    to: (target: number) => {
      port = target
    },
    /** Resolves once more than `after` bytes have gone toward the instance. */
    passedBeyond: (after: number) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (passed > after) return resolve()
          const check = () => (passed > after ? resolve() : waiters.push(check))
          waiters.push(check)
        })
      ),
    passed: () => passed,
    cut: () => {
      for (const socket of sockets) socket.destroy()
    }
  }
})

/**
 * Two instances with the ack timeout given on a fresh Redis, and a session on A that a POST through B reaches: the
 * owner A, the relaying B.
 */
const relayedSession = (ackTimeoutMs: number) =>
  Effect.gen(function*() {
    const redis = yield* startRedis
    const [a, b] = yield* Effect.all([instance(redis.url, { ackTimeoutMs }), instance(redis.url, { ackTimeoutMs })], {
      concurrency: "unbounded"
    })
    const session = yield* openSession(a.port)
    expect((yield* post(b.port, session, ping)).status).toBe(202)
    return { a, b, session }
  })

describe("the link between instances", () => {
  it.scopedLive("a slow owner: 503 with Retry-After after the ack timeout, never an answer lost; a retry with the same id runs once", () =>
    Effect.gen(function*() {
      const { b, session } = yield* relayedSession(1_000)
      // Relayed through B, the call holds A's event loop for 3 s: A takes nothing in meanwhile.
      const blocking = call(7, "block", { ms: 3_000 })
      const started = Date.now()
      const first = yield* post(b.port, session, blocking)
      expect(first.status).toBe(503)
      expect(first.headers.get("retry-after")).not.toBeNull()
      expect(Date.now() - started).toBeLessThan(2_800)
      // The client retries with the same id until it is answered: with the first run's answer.
      const statuses: Array<number> = []
      let answer = first
      while (answer.status !== 200) {
        expect(answer.status).toBe(503)
        expect(Date.now() - started).toBeLessThan(15_000)
        yield* Effect.sleep("100 millis")
        answer = yield* post(b.port, session, blocking)
        statuses.push(answer.status)
      }
      expect(statuses.filter((status) => status !== 503 && status !== 200)).toEqual([])
      expect(textOf(answer)).toBe("1")
      // Another call runs: the tool had run once.
      expect(textOf(yield* post(b.port, session, call(8, "block", { ms: 0 })))).toBe("2")
    }), { timeout: 30_000 })

  it.scopedLive("a retry that comes while the first try still runs after a hold follows it: the tool runs once", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* relayedSession(1_000)
      // A's loop is held 2 s, then the call waits 3 s more without holding it: the retry, sent once the hold
      // is over, is read while the first try runs.
      const slow = call(11, "block", { ms: 2_000, then: 3_000 })
      const first = yield* post(b.port, session, slow)
      expect(first.status).toBe(503)
      // A answers its own client once the hold is over: then the retry goes.
      expect((yield* post(a.port, session, ping)).status).toBe(202)
      const retry = yield* post(b.port, session, slow)
      expect(retry.status).toBe(200)
      expect(textOf(retry)).toBe("1")
      expect(textOf(yield* post(b.port, session, call(12, "block", { ms: 0 })))).toBe("2")
    }), { timeout: 30_000 })

  it.scopedLive("a retry sent straight to the owner after a relayed try timed out runs once: it gets the first try's answer", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* relayedSession(1_000)
      // Relayed through B, the call holds A's loop 2 s: B gives up on it; the client retries on A itself, whose
      // front reads the retry once the hold is over.
      const slow = call(21, "block", { ms: 2_000 })
      const first = yield* post(b.port, session, slow)
      expect(first.status).toBe(503)
      const retry = yield* post(a.port, session, slow)
      expect(retry.status).toBe(200)
      expect(textOf(retry)).toBe("1")
      // A request that repeats nothing runs.
      expect(textOf(yield* post(a.port, session, call(22, "block", { ms: 0 })))).toBe("2")
    }), { timeout: 30_000 })

  it.scopedLive("a retry to a session that has ended gets 404, never the first try's answer", () =>
    Effect.gen(function*() {
      const { a, b, session } = yield* relayedSession(1_000)
      const slow = call(31, "block", { ms: 2_000 })
      expect((yield* post(b.port, session, slow)).status).toBe(503)
      // The first try ran (its answer is recorded for its retries), then the session ends.
      expect(textOf(yield* post(a.port, session, call(32, "block", { ms: 0 })))).toBe("2")
      const ended = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${a.port}/mcp`, { method: "DELETE", headers: { ...HEADERS, "mcp-session-id": session } })
      )
      expect(ended.status).toBe(204)
      expect((yield* post(b.port, session, slow)).status).toBe(404)
      expect((yield* post(a.port, session, slow)).status).toBe(404)
    }), { timeout: 30_000 })

  it.scopedLive("a client that goes away mid-stream closes the owner's exchange: its session is no longer held", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const idleTimeoutMs = 1_000
      const [a, b] = yield* Effect.all([
        instance(redis.url, { idleTimeoutMs }),
        instance(redis.url, { idleTimeoutMs })
      ], { concurrency: "unbounded" })
      const session = yield* openSession(a.port)
      const stream = yield* openGet(b.port, session)
      expect(stream.status).toBe(200)
      // An open GET stream holds its session: idle well past its timeout, it lives.
      yield* Effect.sleep(idleTimeoutMs * 3)
      expect((yield* post(b.port, session, ping)).status).toBe(202)
      stream.request.destroy()
      // The owner heard the client go: nothing holds the session now, and it expires.
      yield* Effect.sleep(idleTimeoutMs * 3)
      expect((yield* post(b.port, session, ping)).status).toBe(404)
    }), { timeout: 30_000 })

  it.scopedLive("a link cut mid-request answers 503 with Retry-After, then the next request opens a new link", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const cut = yield* proxy
      const a = yield* instance(redis.url, { linkAdvertise: `127.0.0.1:${cut.port}` })
      cut.to(a.linkPort)
      const b = yield* instance(redis.url)
      const session = yield* openSession(a.port)
      expect((yield* post(b.port, session, ping)).status).toBe(202)
      const before = cut.passed()
      const pending = yield* Effect.fork(post(b.port, session, call(9, "wait", { ms: 10_000 })))
      // The request has gone through the proxy to A: cut the link under it.
      yield* cut.passedBeyond(before)
      cut.cut()
      const answer = yield* pending.await.pipe(Effect.flatten)
      expect(answer.status).toBe(503)
      expect(answer.headers.get("retry-after")).not.toBeNull()
      expect((yield* post(b.port, session, ping)).status).toBe(202)
    }), { timeout: 30_000 })

  it.scopedLive("refuses a connection that does not prove the cluster key, and serves one that does", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const a = yield* instance(redis.url)
      const attempt = (key: Uint8Array, requestFirst: boolean) =>
        Effect.async<ReadonlyArray<number>>((resume) => {
          const kinds: Array<number> = []
          const socket = Net.connect(a.linkPort, "127.0.0.1")
          const writer = new Writer(socket)
          const mine = LinkAuth.nonce()
          const head = encodeRequestHead({
            method: "GET",
            url: "/mcp",
            headers: { host: `127.0.0.1:${a.port}` },
            address: "127.0.0.1",
            session: "-",
            hasBody: false
          })
          const reader = new Reader((_id, kind, text) => {
            kinds.push(kind)
            if (kind === Kind.Challenge && text !== undefined) {
              if (requestFirst) return writer.send(1, Kind.Request, head, undefined)
              writer.send(0, Kind.Proof, JSON.stringify({ n: mine, p: LinkAuth.prove(key, "connecting", text, mine) }), undefined)
            }
            if (kind === Kind.Proven) writer.send(1, Kind.Request, head, undefined)
            if (kind === Kind.Answer) socket.destroy()
          }, 1 << 20)
          socket.on("data", (chunk: Buffer) => void reader.push(chunk))
          socket.on("error", () => undefined)
          socket.on("close", () => resume(Effect.succeed(kinds)))
        })
      const clusterKey = Buffer.from(KEY)
      expect(yield* attempt(LinkAuth.linkKey(Buffer.from("another-key-of-at-least-32-characters!!")), false)).toEqual([
        Kind.Challenge
      ])
      expect(yield* attempt(clusterKey, false)).toEqual([Kind.Challenge])
      expect(yield* attempt(LinkAuth.linkKey(clusterKey), true)).toEqual([Kind.Challenge])
      expect(yield* attempt(LinkAuth.linkKey(clusterKey), false)).toEqual([Kind.Challenge, Kind.Proven, Kind.Answer])
    }), { timeout: 30_000 })
})

describe("link frames", () => {
  it.scopedLive("cross one connection whole, in order, however TCP splits them; one turn's frames leave in one write", () =>
    Effect.gen(function*() {
      const received = yield* Deferred.make<ReadonlyArray<readonly [number, number, string | undefined, string]>>()
      const frames: Array<readonly [number, number, string | undefined, string]> = []
      const count = 200
      const server = Net.createServer((socket) => {
        // Fed one byte at a time: every split of a frame is one of these.
        const reader = new Reader((id, kind, head, body) => {
          frames.push([id, kind, head, body.toString("utf8")])
          if (frames.length === count) Deferred.unsafeDone(received, Effect.succeed(frames))
        }, 1 << 20)
        socket.on("data", (chunk: Buffer) => {
          for (let i = 0; i < chunk.length; i++) expect(reader.push(chunk.subarray(i, i + 1))).toBe(true)
        })
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))),
        () => Effect.sync(() => server.close())
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const socket = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Net.Socket>((resolve) => {
            const s = Net.connect(port, "127.0.0.1", () => resolve(s))
          })
        ),
        (s) => Effect.sync(() => s.destroy())
      )
      const writes = vi.spyOn(socket, "write")
      const writer = new Writer(socket)
      const expected: Array<readonly [number, number, string | undefined, string]> = []
      for (let i = 0; i < count; i++) {
        const frame = [i + 1, i % 2 === 0 ? Kind.Request : Kind.Data, i % 3 === 0 ? undefined : `{"n":${i},"é":"✓"}`, "body ✓ ".repeat(i)] as const
        expected.push(frame)
        writer.send(frame[0], frame[1], frame[2], frame[3] === "" ? undefined : frame[3])
      }
      expect(yield* Deferred.await(received)).toEqual(expected)
      expect(writes).toHaveBeenCalledTimes(1)
    }))

  it("carry heads as lines: headers (repeated ones too) and the request's parts come back as they went", () => {
    const head = {
      method: "POST",
      url: "/messages?session_id=abc&x=é",
      headers: { host: "h:1", accept: "text/event-stream", cookie: ["a=1", "b=2"], "x-empty": "" },
      address: "::1",
      session: "abc",
      hasBody: true
    }
    expect(Frames.decodeRequestHead(Frames.encodeRequestHead(head))).toEqual(head)
    expect(Frames.decodeRequestHead(Frames.encodeRequestHead({ ...head, address: undefined, hasBody: false, headers: {} })))
      .toEqual({ ...head, address: undefined, hasBody: false, headers: {} })
    const answer = { status: 202, headers: { "content-type": "application/json", "retry-after": "1" }, hasBody: false }
    expect(Frames.decodeAnswerHead(Frames.encodeAnswerHead(answer.status, answer.headers, false))).toEqual(answer)
    expect(Frames.decodeRequestHead("GET\n/\n")).toBeUndefined()
    expect(Frames.decodeAnswerHead("x\n0")).toBeUndefined()
  })

  it("refuse a frame over the limit", () => {
    const reader = new Reader(() => undefined, 100)
    const big = Buffer.alloc(4)
    big.writeUInt32BE(101, 0)
    expect(reader.push(big)).toBe(false)
  })
})
