/**
 * A change made on one instance that every instance's sessions hear: a resource updated on A reaches its
 * subscribers on B (over Redis), and A's own once; a tool added on A at run time reaches B's sessions and its
 * 2026-07-28 listen streams as a list change (unless the cluster keeps list changes per instance). Two demo
 * servers in this process, each in the cluster on one `redis-server`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpCluster from "@effect-mcp/cluster/McpCluster"
import * as RedisClient from "@effect-mcp/cluster/RedisClient"
import { McpServer } from "@effect-mcp/core/McpServer"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import * as DemoServer from "../src/DemoServer.js"
import { CLUSTER_KEY, openSession, post, streamed, type StreamedRequest } from "./utils/cluster.js"
import { MODERN_VERSION, openListen } from "../../core/test/utils/modern.js"
import { capture } from "../../node/test/utils/logs.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const instance = (redisUrl: string, listChanges?: "cluster" | "instance") =>
  Effect.gen(function*() {
    // Port 0: a port picked beforehand could be taken (by the link's own listener, or another test) before the
    // server binds it. Only the advertised host matters: the link listens on a port of its own.
    const cluster = McpCluster.layer({
      advertise: "http://127.0.0.1",
      key: CLUSTER_KEY,
      lease: "3 seconds",
      listChanges
    }).pipe(
      Layer.provide(RedisClient.layer({ url: redisUrl }))
    )
    const context = yield* Layer.build(
      NodeMcpServer.layer({ port: 0 }).pipe(Layer.provideMerge(DemoServer.layer), Layer.provide(cluster))
    ).pipe(Effect.orDie)
    return { port: Context.get(context, NodeMcpServer.NodeMcpServer).address.port, server: Context.get(context, McpServer) }
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

  it.scopedLive("a tool added on one instance is a list change for the sessions and listen streams of every instance", () =>
    Effect.gen(function*() {
      const logs = capture()
      const redis = yield* startRedis
      const [a, b] = yield* Effect.all([instance(redis.url), instance(redis.url)], { concurrency: 2 }).pipe(
        Effect.provide(logs.layer)
      )
      const onA = yield* subscriber(a!.port)
      const onB = yield* subscriber(b!.port)
      const listen = yield* listenOn(b!.port)
      yield* addTool(a!.server, "added")
      const heard = yield* Effect.promise(() => onB.json(isToolsChanged))
      expect(heard.message).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(yield* listen.next(isToolsChanged)).toMatchObject({ method: "notifications/tools/list_changed" })
      // A's own session heard it once: not again from the channel (a later change of B's comes after any echo).
      yield* b!.server.notifyResourceUpdated(URI)
      yield* heardUpdates(onA, 1)
      expect(onA.events.filter((event) => event.data.includes("tools/list_changed")).length).toBe(1)
    }))

  it.scopedLive("with listChanges \"instance\", a list change stays with the instance whose list changed", () =>
    Effect.gen(function*() {
      const logs = capture()
      const redis = yield* startRedis
      const [a, b] = yield* Effect.all([instance(redis.url, "instance"), instance(redis.url, "instance")], {
        concurrency: 2
      }).pipe(Effect.provide(logs.layer))
      const onA = yield* subscriber(a!.port)
      const onB = yield* subscriber(b!.port)
      yield* addTool(a!.server, "added")
      yield* Effect.promise(() => onA.json(isToolsChanged))
      // The same channel carries A's later resource update: a list change told before it would have come first.
      yield* a!.server.notifyResourceUpdated(URI)
      yield* heardUpdates(onB, 1)
      expect(onB.events.filter((event) => event.data.includes("tools/list_changed")).length).toBe(0)
    }))
})

const isToolsChanged = (message: { readonly [key: string]: unknown }) =>
  message["method"] === "notifications/tools/list_changed"

/** Registers a tool on `server` for the rest of the test: a change of its tool list. */
const addTool = (server: Context.Tag.Service<McpServer>, name: string) =>
  Effect.flatMap(Effect.scope, (scope) =>
    Layer.buildWithScope(
      McpTool.make(name, { input: Schema.Struct({}), handler: () => Effect.succeed("ok") }).pipe(
        Layer.provide(Layer.succeed(McpServer, server))
      ),
      scope
    ))

/** A 2026-07-28 `subscriptions/listen` stream on `port` for list changes; `next` reads up to a message it wants. */
const listenOn = (port: number) =>
  Effect.gen(function*() {
    const response = yield* Effect.promise(() =>
      openListen(`http://127.0.0.1:${port}/mcp`, 7, {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" }
        },
        notifications: { toolsListChanged: true }
      })
    )
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    yield* Effect.addFinalizer(() => Effect.promise(() => reader.cancel().catch(() => undefined)))
    const decoder = new TextDecoder()
    let buffer = ""
    const read = async (wanted: (message: { readonly [key: string]: unknown }) => boolean) => {
      while (true) {
        const lines = buffer.split("\n")
        buffer = lines.pop() ?? ""
        for (const line of lines) {
          if (!line.startsWith("data:")) continue
          const message = JSON.parse(line.slice(5))
          if (wanted(message)) return message
        }
        const chunk = await reader.read()
        if (chunk.done) throw new Error("the listen stream ended")
        buffer += decoder.decode(chunk.value, { stream: true })
      }
    }
    // Once acknowledged, the stream is one of the instance's sessions and hears its list changes.
    yield* Effect.promise(() => read((message) => message["method"] === "notifications/subscriptions/acknowledged"))
    return {
      next: (wanted: (message: { readonly [key: string]: unknown }) => boolean) =>
        Effect.promise(() => read(wanted)).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("nothing heard") }), Effect.orDie)
    }
  })
