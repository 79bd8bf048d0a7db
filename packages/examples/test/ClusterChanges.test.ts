/**
 * A change made on one instance that every instance's sessions hear: a resource updated on A reaches its
 * subscribers on B (over Redis), and A's own once. Two demo servers in this process, each in the cluster on one
 * `redis-server`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpCluster from "@effect-mcp/cluster/McpCluster"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import { McpServer } from "@effect-mcp/core/McpServer"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { freePort, redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import * as DemoServer from "../src/DemoServer.js"
import { CLUSTER_KEY, openSession, post, streamed, type StreamedRequest } from "./utils/cluster.js"
import { capture } from "../../node/test/utils/logs.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const instance = (redisUrl: string) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const cluster = McpCluster.layer({ advertise: `http://127.0.0.1:${port}`, key: CLUSTER_KEY, lease: "3 seconds" }).pipe(
      Layer.provide(RedisClient.layer({ url: redisUrl }))
    )
    const context = yield* Layer.build(
      NodeMcpServer.layer({ port }).pipe(Layer.provideMerge(DemoServer.layer), Layer.provide(cluster))
    ).pipe(Effect.orDie)
    return { port, server: Context.get(context, McpServer) }
  })

const URI = "demo://readme"

/** A session on `port` subscribed to the readme, with its standalone stream open. */
const subscriber = (port: number) =>
  Effect.gen(function*() {
    const id = yield* openSession(port)
    const subscribed = yield* post(port, id, { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: URI } })
    expect(subscribed.status).toBe(200)
    const stream = yield* streamed(port, "GET", { "mcp-session-id": id })
    yield* Effect.promise(() => stream.response)
    expect(stream.status).toBe(200)
    return stream
  })

const isUpdate = (message: { readonly [key: string]: unknown }) =>
  message["method"] === "notifications/resources/updated"

const updatesOf = (stream: StreamedRequest) =>
  stream.events.filter((event) => event.data.includes("notifications/resources/updated")).length

/** Waits until the stream heard `n` updates. */
const heardUpdates = (stream: StreamedRequest, n: number) =>
  Effect.promise(() => stream.waitFor(() => updatesOf(stream) >= n))

describe("changes across instances", () => {
  it.scopedLive("a resource updated on one instance reaches its subscribers on every instance, once", () =>
    Effect.gen(function*() {
      const logs = capture()
      const redis = yield* startRedis
      const [a, b] = yield* Effect.all([instance(redis.url), instance(redis.url)], { concurrency: 2 }).pipe(
        Effect.provide(logs.layer)
      )
      const onA = yield* subscriber(a!.port)
      const onB = yield* subscriber(b!.port)
      // Redis hands a subscriber the messages in the order it took them: once a stream heard another instance's
      // later change, an echo of its own instance's earlier one would have come first.
      yield* a!.server.notifyResourceUpdated(URI)
      const heard = yield* Effect.promise(() => onB.json(isUpdate))
      expect(heard.message).toMatchObject({ params: { uri: URI } })
      yield* heardUpdates(onA, 1)
      yield* b!.server.notifyResourceUpdated(URI)
      yield* heardUpdates(onA, 2)
      expect(updatesOf(onA)).toBe(2)
      yield* a!.server.notifyResourceUpdated(URI)
      yield* heardUpdates(onB, 3)
      expect(updatesOf(onB)).toBe(3)
    }))
})
