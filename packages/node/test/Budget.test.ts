import { NodeMcpServer } from "@effect-mcp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Budget from "@effect-mcp/core/Budget"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpServer from "@effect-mcp/core/McpServer"
import type { Session } from "@effect-mcp/core/McpSession"
import * as McpResource from "@effect-mcp/core/McpResource"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import { errorBody, openSse, parseObject, request } from "./utils/http.js"
import { capture } from "./utils/logs.js"
import { MODERN_VERSION, openListen, postModern } from "../../core/test/utils/modern.js"

const ServerLive = Layer.mergeAll(
  McpResource.template({
    uriTemplate: "test://items/{id}",
    name: "item",
    params: Schema.Struct({ id: Schema.String }),
    read: ({ id }) => Effect.succeed(id)
  }),
  McpTool.make("block", { input: Schema.Struct({}), handler: () => Effect.never }),
  McpTool.make("echo", { input: Schema.Struct({ text: Schema.String }), handler: ({ text }) => Effect.succeed(text) })
).pipe(Layer.provideMerge(McpServer.layer({ name: "budget-test", version: "0.0.0" })))

const memory = (client: string | undefined, extra: Partial<SessionRegistry.OpenOptions> = {}) =>
  ({ transport: "memory", protocolVersion: "2025-11-25", initialized: true, client, ...extra }) as const

let nextId = 0

/** Hands a tool call to a session and keeps every message its reply gets. */
const call = (session: Session, name: string, args: unknown = {}, size = 0) => {
  const got: Array<JsonRpc.Message> = []
  const taken = session.offer(
    JsonRpc.request(++nextId, "tools/call", { name, arguments: args }),
    (message) => got.push(message) > 0,
    undefined,
    size
  )
  if (!taken) throw new Error("the session refused work")
  return got
}

const tagOf = <A, E extends { readonly _tag: string }>(either: Either.Either<A, E>) =>
  Either.isLeft(either) ? either.left._tag : "opened"

describe("Budget.Pool", () => {
  it("counts a server total and per-client shares, and gives back exactly what was taken", () => {
    const pool = new Budget.Pool("things", 10, 4)
    expect(pool.take("a", 4)).toBeUndefined()
    expect(pool.take("a", 1)).toBe("client")
    expect(pool.take("b", 4)).toBeUndefined()
    expect(pool.take(undefined, 2)).toBeUndefined()
    expect(pool.take("c", 1)).toBe("server")
    expect(pool.used).toBe(10)
    pool.give("a", 4)
    expect(pool.usedBy("a")).toBe(0)
    expect(pool.take("c", 1)).toBeUndefined()
    pool.give("b", 4)
    pool.give("c", 1)
    pool.give(undefined, 2)
    expect(pool.used).toBe(0)
    // Callers that cannot be told apart count against the total only, not as one shared client.
    for (let i = 0; i < 10; i++) expect(pool.take(Budget.UNKNOWN_CLIENT, 1)).toBeUndefined()
    expect(pool.usedBy(Budget.UNKNOWN_CLIENT)).toBe(0)
    expect(pool.take(Budget.UNKNOWN_CLIENT, 1)).toBe("server")
  })

  it("names a client by its principal when there is one, else by its address behind a trusted proxy", () => {
    const principal = { subject: "alice", issuer: "https://as", scopes: [], claims: {} }
    expect(Budget.clientOf("10.0.0.1", principal)).not.toBe(Budget.clientOf("10.0.0.1", undefined))
    expect(Budget.clientOf(undefined, undefined)).toBe(Budget.UNKNOWN_CLIENT)
    const headers = { "x-forwarded-for": "1.1.1.1, 2.2.2.2" }
    expect(Budget.addressOf("127.0.0.1", headers, undefined)).toBe("127.0.0.1")
    expect(Budget.addressOf("127.0.0.1", headers, "x-forwarded-for")).toBe("2.2.2.2")
    expect(Budget.addressOf("127.0.0.1", {}, "x-forwarded-for")).toBe("127.0.0.1")
  })

  it("keys an IPv6 address by its /64, and an IPv4-mapped one as IPv4: one host is one client", () => {
    const key = (address: string) => Budget.clientOf(address, undefined)
    expect(key("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64")
    expect(key("2001:0db8:0001:0002::9")).toBe("2001:db8:1:2::/64")
    expect(key("2001:db8:1:3::1")).not.toBe(key("2001:db8:1:2::1"))
    expect(key("::ffff:10.0.0.1")).toBe("10.0.0.1")
    expect(key("::1")).toBe("0:0:0:0::/64")
    expect(key("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
    expect(key("10.0.0.1")).toBe("10.0.0.1")
  })
})

describe("SessionRegistry budgets", () => {
  it.scoped("a client at its share of sessions gets ClientLimitExceeded while others open; the cap refuses everyone", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 4, maxSessionsPerClient: 2 })
      const a1 = yield* registry.openDetached(memory("a"))
      yield* registry.openDetached(memory("a"))
      const third = yield* Effect.either(registry.openDetached(memory("a")))
      expect(Either.isLeft(third) && third.left).toMatchObject({ _tag: "ClientLimitExceeded", budget: "sessions", limit: 2 })
      yield* registry.openDetached(memory("b"))
      yield* registry.openDetached(memory("b"))
      expect(tagOf(yield* Effect.either(registry.openDetached(memory("c"))))).toBe("SessionLimitExceeded")
      expect(registry.budgets.sessions.used).toBe(4)
      // A closed session gives its slot back to its client.
      yield* a1.close
      expect(registry.budgets.sessions.usedBy("a")).toBe(1)
      expect(tagOf(yield* Effect.either(registry.openDetached(memory("a"))))).toBe("opened")
    }).pipe(Effect.provide(ServerLive)))

  it.scoped("sessionless requests have a budget of their own and never take a session's slot", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 1, maxSessionless: 2, maxSessionlessPerClient: 1 })
      yield* registry.openDetached(memory("a"))
      expect(tagOf(yield* Effect.either(registry.openDetached(memory("b"))))).toBe("SessionLimitExceeded")
      // Every session slot is taken, and a sessionless request is still served.
      const r1 = yield* registry.openDetached(memory("a", { perRequest: true }))
      const refused = yield* Effect.either(registry.openDetached(memory("a", { perRequest: true })))
      expect(Either.isLeft(refused) && refused.left).toMatchObject({
        _tag: "ClientLimitExceeded",
        budget: "sessionless requests"
      })
      yield* registry.openDetached(memory("b", { perRequest: true }))
      const full = yield* Effect.either(registry.openDetached(memory("c", { perRequest: true })))
      expect(Either.isLeft(full) && full.left).toMatchObject({ _tag: "SessionLimitExceeded", budget: "sessionless requests" })
      yield* r1.close
      expect(registry.budgets.sessionless.used).toBe(1)
      expect(registry.budgets.sessions.used).toBe(1)
    }).pipe(Effect.provide(ServerLive)))

  it.scoped("a session whose handshake never completes is closed after handshakeTimeout; an initialized one stays", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ handshakeTimeout: "10 seconds" })
      const stalled = yield* registry.openDetached({ transport: "memory", protocolVersion: "2025-11-25", client: "a" })
      const greeted = yield* registry.openDetached({ transport: "memory", protocolVersion: "2025-11-25", client: "a" })
      greeted.offer(
        JsonRpc.request(1, "initialize", {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "t", version: "0" }
        }),
        () => true
      )
      yield* Effect.yieldNow()
      greeted.offer(JsonRpc.notification("notifications/initialized"), () => true)
      expect(greeted.phase).toBe("initialized")
      yield* TestClock.adjust("9 seconds")
      expect(stalled.isOpen).toBe(true)
      yield* TestClock.adjust("5 seconds")
      expect(stalled.isOpen).toBe(false)
      expect(greeted.isOpen).toBe(true)
      expect(yield* registry.size).toBe(1)
      // Far later, the idle expiry (30 minutes by default) has not touched the initialized one.
      yield* TestClock.adjust("10 minutes")
      expect(greeted.isOpen).toBe(true)
    }).pipe(Effect.provide(ServerLive)))

  it.scoped("work in flight past a client's bytes is answered at once with retryAfter; ending work gives them back", () =>
    Effect.gen(function*() {
      const logs = capture()
      const registry = yield* SessionRegistry.make({
        maxInFlightBytes: 100_000,
        maxInFlightBytesPerClient: 30_000
      }).pipe(Effect.provide(logs.layer))
      const a = yield* registry.openDetached(memory("a"))
      const b = yield* registry.openDetached(memory("b"))
      // 8 KiB of overhead each plus its share of the body.
      call(a, "block", {}, 10_000)
      const refusedA = call(a, "block", {}, 20_000)
      expect(refusedA).toHaveLength(1)
      const answer = refusedA[0]
      expect(answer !== undefined && "error" in answer && answer.error).toMatchObject({
        code: JsonRpc.ErrorCode.ConnectionClosed,
        data: { retryAfter: Budget.RETRY_AFTER_SECONDS }
      })
      // Another client is served; so is more of the same client within its share.
      expect(call(b, "block", {}, 10_000)).toHaveLength(0)
      expect(call(a, "block", {}, 1_000)).toHaveLength(0)
      call(a, "block", {}, 20_000)
      call(a, "block", {}, 20_000)
      expect(registry.budgets.inFlight.usedBy("a")).toBe(2 * 8192 + 11_000)
      // Closing the session interrupts its work, and the bytes come back.
      yield* a.close
      expect(registry.budgets.inFlight.usedBy("a")).toBe(0)
      expect(registry.budgets.inFlight.used).toBe(8192 + 10_000)
      // Refused three times: logged once, at Warning.
      const warnings = logs.entries.filter((entry) => entry.message.includes("work in flight"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.level).toEqual(LogLevel.Warning)
      expect(logs.problems()).toEqual([])
    }).pipe(Effect.provide(ServerLive)))

  it.scoped("a listen filter past its bytes is refused; a listener's subscriptions are given back when it closes", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({
        maxListenFilterBytes: 10_000,
        maxSubscriptionBytes: 20_000,
        maxSubscriptionBytesPerClient: 8_000
      })
      const uris = (n: number) => Array.from({ length: n }, (_, i) => `demo://r/${i}`)
      const listener = (client: string, n: number) => memory(client, { listener: true, subscriptions: uris(n) })
      const big = yield* Effect.either(registry.openDetached(listener("a", 100)))
      expect(Either.isLeft(big) && big.left).toMatchObject({ _tag: "SubscriptionLimitExceeded", scope: "filter" })
      const first = yield* registry.openDetached(listener("a", 20))
      const second = yield* Effect.either(registry.openDetached(listener("a", 20)))
      expect(Either.isLeft(second) && second.left).toMatchObject({ _tag: "SubscriptionLimitExceeded", scope: "client" })
      yield* registry.openDetached(listener("b", 20))
      expect(registry.budgets.listeners.used).toBe(2)
      yield* first.close
      expect(registry.budgets.subscriptions.usedBy("a")).toBe(0)
      expect(tagOf(yield* Effect.either(registry.openDetached(listener("a", 20))))).toBe("opened")
    }).pipe(Effect.provide(ServerLive)))
})

/** Serves `ServerLive` on 127.0.0.1 with these session options; returns the port and the registry. */
const serve = (sessions: SessionRegistry.Options, limits?: NodeMcpServer.Limits) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      NodeMcpServer.layer({ port: 0, sessions, limits }).pipe(Layer.provide(ServerLive))
    )
    return {
      port: Context.get(context, NodeMcpServer.NodeMcpServer).address.port,
      registry: Context.get(context, SessionRegistry.SessionRegistry)
    }
  }).pipe(Effect.orDie)

const initialize = (port: number, localAddress: string, headers: Record<string, string> = {}) =>
  request({
    port,
    path: "/mcp",
    localAddress,
    headers: { accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(JsonRpc.request(1, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "budget-test", version: "0" }
    }))
  })

describe("Subscriptions and batches", () => {
  it.scoped("resources/subscribe is capped per session and charged to the subscription budget until it is dropped", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSubscriptionBytes: 1_000_000, maxSubscriptionBytesPerClient: 1_900 })
      const session = yield* registry.openDetached(memory("a"))
      const subscribe = (uri: string) => {
        const got: Array<JsonRpc.Message> = []
        session.offer(JsonRpc.request(++nextId, "resources/subscribe", { uri }), (m) => got.push(m) > 0)
        return got
      }
      for (let i = 0; i < 6; i++) subscribe(`test://items/${i}`)
      yield* Effect.yieldNow()
      // Six at 256 + 2 × 14 bytes each fit in 1,900; the seventh does not, and is answered with retryAfter.
      const refused = subscribe("test://items/7")
      yield* Effect.yieldNow()
      expect(refused[0]).toMatchObject({ error: { code: JsonRpc.ErrorCode.ConnectionClosed, data: { retryAfter: 5 } } })
      expect(session.subscriptions.size).toBe(6)
      expect(registry.budgets.subscriptions.usedBy("a")).toBe(6 * (256 + 2 * "test://items/0".length))
      session.offer(JsonRpc.request(++nextId, "resources/unsubscribe", { uri: "test://items/0" }), () => true)
      yield* Effect.yieldNow()
      expect(registry.budgets.subscriptions.usedBy("a")).toBe(5 * (256 + 2 * "test://items/0".length))
      yield* session.close
      expect(registry.budgets.subscriptions.used).toBe(0)
    }).pipe(Effect.provide(ServerLive)))

  it.scopedLive("a batch past 256 messages is refused; a batch's whole body is held against its client until it settles", () =>
    Effect.gen(function*() {
      const { port, registry } = yield* serve({})
      const init = yield* request({
        port,
        path: "/mcp",
        headers: { accept: "application/json" },
        body: JSON.stringify(JsonRpc.request(1, "initialize", {
          protocolVersion: "2025-03-26",
          capabilities: {},
          clientInfo: { name: "batch", version: "0" }
        }))
      })
      const id = String(init.headers["mcp-session-id"])
      const inSession = { accept: "application/json", "mcp-session-id": id }
      yield* request({ port, path: "/mcp", headers: inSession, body: JSON.stringify(JsonRpc.notification("notifications/initialized")) })
      const pings = Array.from({ length: 257 }, (_, i) => JsonRpc.request(i + 10, "ping"))
      const tooMany = yield* request({ port, path: "/mcp", headers: inSession, body: JSON.stringify(pings) })
      expect(tooMany.status).toBe(400)
      expect(errorBody(tooMany).message).toMatch(/at most 256 messages/)
      // A batch whose answers wait on a call that never ends: its whole body stays charged.
      const body = JSON.stringify([
        JsonRpc.request(2, "tools/call", { name: "block", arguments: {} }),
        JsonRpc.request(3, "ping")
      ])
      const controller = new AbortController()
      const pending = Effect.runPromise(Effect.either(Effect.tryPromise(() =>
        fetch(`http://127.0.0.1:${port}/mcp`, {
          method: "POST",
          headers: { ...inSession, "content-type": "application/json" },
          body,
          signal: controller.signal
        })
      )))
      yield* Effect.promise(async () => {
        for (let i = 0; i < 500 && registry.budgets.inFlight.used < body.length + 8192; i++) {
          await new Promise((resolve) => setImmediate(resolve))
        }
      })
      expect(registry.budgets.inFlight.used).toBeGreaterThanOrEqual(body.length + 8192 + body.length / 2)
      // Ending the session ends the call, and the batch gives its body back.
      yield* request({ port, path: "/mcp", method: "DELETE", headers: inSession, body: "" })
      controller.abort()
      yield* Effect.promise(() => pending)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 500 && registry.budgets.inFlight.used > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      })
      expect(registry.budgets.inFlight.used).toBe(0)
    }))

  it.scopedLive("a listen whose params break the input bounds is refused before anything decodes them", () =>
    Effect.gen(function*() {
      const { port } = yield* serve({})
      const response = yield* Effect.promise(() =>
        openListen(`http://127.0.0.1:${port}/mcp`, 1, JSON.parse(
          `{"_meta":{"io.modelcontextprotocol/protocolVersion":"${MODERN_VERSION}",` +
            `"io.modelcontextprotocol/clientCapabilities":{"extensions":{"__proto__":{"x":1}}}},` +
            `"notifications":{"resourceSubscriptions":["test://items/1"]}}`
        ))
      )
      expect(response.status).toBe(400)
      const answer: unknown = yield* Effect.promise(() => response.json())
      expect(answer).toMatchObject({ id: 1, error: { code: JsonRpc.ErrorCode.InvalidParams } })
    }))
})

describe("Per-client budgets over HTTP", () => {
  it.scopedLive("a client past its share of sessions gets 429 with Retry-After; another address is still served", () =>
    Effect.gen(function*() {
      const logs = capture()
      const { port } = yield* serve({ maxSessionsPerClient: 3 }).pipe(Effect.provide(logs.layer))
      for (let i = 0; i < 3; i++) expect((yield* initialize(port, "127.0.0.2")).status).toBe(200)
      const refused = yield* initialize(port, "127.0.0.2")
      expect(refused.status).toBe(429)
      expect(refused.headers["retry-after"]).toBe(String(Budget.RETRY_AFTER_SECONDS))
      expect(errorBody(refused).message).toMatch(/limit of 3 sessions/)
      // The legacy SSE transport shares the budget.
      const sse = yield* openSse({ port, localAddress: "127.0.0.2" })
      yield* Effect.promise(() => sse.ended)
      expect(sse.status).toBe(429)
      // Another client.
      expect((yield* initialize(port, "127.0.0.1")).status).toBe(200)
      expect(logs.entries.filter((e) => e.message.includes("limit of 3 sessions"))).toHaveLength(1)
      expect(logs.problems()).toEqual([])
    }))

  it.scopedLive("behind a trusted proxy, the address the proxy names is the client, not the proxy's", () =>
    Effect.gen(function*() {
      const { port } = yield* serve({ maxSessionsPerClient: 1 }, { trustedProxyHeader: "X-Forwarded-For" })
      const from = (address: string) => ({ "x-forwarded-for": `10.9.9.9, ${address}` })
      expect((yield* initialize(port, "127.0.0.1", from("192.0.2.1"))).status).toBe(200)
      expect((yield* initialize(port, "127.0.0.1", from("192.0.2.1"))).status).toBe(429)
      // The same proxy, another client: the first entry (which the client wrote itself) is not trusted.
      expect((yield* initialize(port, "127.0.0.1", { "x-forwarded-for": "192.0.2.1, 192.0.2.2" })).status).toBe(200)
    }))

  it.scopedLive("with every session slot taken, a 2026-07-28 tools/call is still served", () =>
    Effect.gen(function*() {
      const { port } = yield* serve({ maxSessions: 2 })
      expect((yield* initialize(port, "127.0.0.2")).status).toBe(200)
      expect((yield* initialize(port, "127.0.0.3")).status).toBe(200)
      expect((yield* initialize(port, "127.0.0.1")).status).toBe(503)
      const answer = yield* Effect.promise(() =>
        postModern(`http://127.0.0.1:${port}/mcp`, "tools/call", {
          name: "echo",
          arguments: { text: "still here" },
          _meta: {
            "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {}
          }
        })
      )
      expect(answer.status).toBe(200)
      expect(answer.body.result.content[0].text).toBe("still here")
    }))

  it.scopedLive("a legacy SSE stream that never posts is ended after the handshake timeout", () =>
    Effect.gen(function*() {
      const { port, registry } = yield* serve({ handshakeTimeout: Duration.millis(200) })
      const sse = yield* openSse({ port })
      expect(parseObject(`{"endpoint":${JSON.stringify(yield* Effect.promise(() => sse.endpoint()))}}`)).toBeDefined()
      expect(yield* registry.size).toBe(1)
      expect(yield* Effect.promise(() => sse.ended)).toBe("end")
      expect(yield* registry.size).toBe(0)
    }))
})
