/**
 * Principal binding across instances: two demo servers in this process, each in the cluster on one
 * `redis-server`, behind bearer tokens. A session is its principal's on every instance: another party's token
 * gets 404 wherever it lands, decided from the id alone (no Redis round trip), and the owner never sees it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpCluster from "@effect-mcp/cluster/McpCluster"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import * as McpAuth from "@effect-mcp/core/McpAuth"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import * as DemoServer from "../src/DemoServer.js"
import { CLUSTER_KEY, ping } from "./utils/cluster.js"
import { capture } from "../../node/test/utils/logs.js"
import { request } from "../../node/test/utils/http.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const ISSUER = "https://as.example"

/** Tokens are the subject's name: enough to tell two parties apart. */
const verifier = Layer.succeed(McpAuth.TokenVerifier, {
  verify: (token) =>
    token === "alice" || token === "bob"
      ? Effect.succeed({ subject: token, issuer: ISSUER, scopes: [], claims: {} })
      : Effect.fail(new McpAuth.InvalidToken({ reason: "unknown token" }))
})

const instance = (redisUrl: string) =>
  Effect.gen(function*() {
    // Port 0: a port picked beforehand could be taken before the server binds it (the link listens on its own).
    // The resource is the cluster's, as behind a load balancer: one for every instance.
    const cluster = McpCluster.layer({ advertise: "http://127.0.0.1", key: CLUSTER_KEY, lease: "3 seconds" }).pipe(
      Layer.provide(RedisClient.layer({ url: redisUrl }))
    )
    const server = NodeMcpServer.layer({
      port: 0,
      auth: { resource: "http://127.0.0.1", authorizationServers: [ISSUER] }
    }).pipe(Layer.provide(DemoServer.layer), Layer.provide(cluster), Layer.provide(verifier))
    const context = yield* Layer.build(server).pipe(Effect.orDie)
    return Context.get(context, NodeMcpServer.NodeMcpServer).address.port
  })

const as = (token: string, port: number, sessionId: string | undefined, message: unknown) =>
  request({
    port,
    path: "/mcp",
    body: JSON.stringify(message),
    headers: {
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId })
    }
  })

const lookups = (client: RedisClient.RedisClientService) =>
  Effect.map(Effect.orDie(client.send(["INFO", "commandstats"])), (reply) => {
    let calls = 0
    for (const match of String(reply).matchAll(/cmdstat_eval(?:sha)?_ro:calls=(\d+),/g)) calls += Number(match[1])
    return calls
  })

describe("principal binding in a cluster", () => {
  it.scopedLive("another party's token gets 404 on every instance, with no Redis round trip", () =>
    Effect.gen(function*() {
      const logs = capture()
      const redis = yield* startRedis
      const [a, b] = yield* Effect.all([instance(redis.url), instance(redis.url)], { concurrency: 2 }).pipe(
        Effect.provide(logs.layer)
      )
      const client = yield* RedisClient.make({ url: redis.url })
      const opened = yield* as("alice", a!, undefined, {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
      })
      const id = String(opened.headers["mcp-session-id"])
      expect((yield* as("alice", a!, id, { jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202)
      const before = yield* lookups(client)
      expect((yield* as("bob", b!, id, ping)).status).toBe(404)
      expect((yield* as("bob", a!, id, ping)).status).toBe(404)
      expect(yield* lookups(client)).toBe(before)
      expect((yield* as("alice", b!, id, ping)).status).toBe(202)
      expect(yield* lookups(client)).toBeGreaterThan(before)
    }))
})
