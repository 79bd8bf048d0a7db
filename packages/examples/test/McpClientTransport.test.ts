import { NodeMcpServer } from "@effect-mcp/node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import { McpClientError } from "@effect-mcp/core/McpClientError"
import * as McpClientTransport from "@effect-mcp/core/McpClientTransport"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpTest from "@effect-mcp/core/McpTest"

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

const describeMessage = (message: JsonRpc.Message): string =>
  "method" in message ? message.method : "error" in message ? `error ${message.id}` : `result ${message.id}`

/**
 * A transport of the user's own: it wraps the in-process one and records what goes each way. Built with
 * `McpClientTransport.make`, as a user would.
 */
const Recording = (log: Array<string>) =>
  Layer.scoped(
    McpClientTransport.McpClientTransport,
    Effect.gen(function*() {
      const inner = yield* McpTest.makeTransport
      return yield* McpClientTransport.make((receiver) =>
        Effect.gen(function*() {
          yield* inner.run((message) =>
            Effect.zipRight(Effect.sync(() => log.push(`<- ${describeMessage(message)}`)), receiver.receive(message))
          ).pipe(Effect.catchAll(receiver.disconnected), Effect.forkScoped)
          return {
            send: (message) => Effect.zipRight(Effect.sync(() => log.push(`-> ${describeMessage(message)}`)), inner.send(message)),
            sessionId: inner.sessionId,
            close: Effect.zipRight(Effect.sync(() => log.push("closed")), inner.close)
          }
        })
      )
    })
  )

/** The demo on a free port of 127.0.0.1 for the scope, and an `HttpClient` that records every request it makes. */
const serveDemo = Effect.gen(function*() {
  const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(DemoServer.layer))).pipe(Effect.orDie)
  const address = Context.get(context, NodeMcpServer.NodeMcpServer).address
  return `http://127.0.0.1:${address.port}`
})

const recordingHttp = (requests: Array<string>) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (http) =>
      HttpClient.tapRequest(http, (request) =>
        Effect.sync(() => {
          requests.push(`${request.method} ${new URL(request.url).pathname}`)
        })))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

describe("McpClientTransport", () => {
  it.scoped("a transport of one's own runs under McpClient.layer", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const client = yield* Layer.build(
        McpClient.layer({ clientInfo: { name: "own-transport", version: "1.0.0" } }).pipe(
          Layer.provide(Recording(log)),
          Layer.provide(DemoServer.layer)
        )
      ).pipe(Effect.map(Context.get(McpClient.McpClient)))
      expect(textOf(yield* client.callTool("echo", { text: "through my transport" }))).toBe("through my transport")
      expect(Option.isSome(yield* client.sessionId)).toBe(true)
      yield* client.close
      // The server/discover probe comes first; the in-process session-era server refuses it, so initialize follows.
      expect(log).toEqual([
        "-> server/discover",
        "<- error 1",
        "-> initialize",
        "<- result 2",
        "-> notifications/initialized",
        "-> tools/call",
        "<- result 3",
        "closed"
      ])
      expect(yield* Effect.flip(client.ping)).toMatchObject({ reason: "Closed" })
    }))

  it.effect("make: messages that arrive before run are handed over first, in order; then disconnected ends run", () =>
    Effect.gen(function*() {
      const connected = yield* Deferred.make<McpClientTransport.Receiver>()
      const transport = yield* McpClientTransport.make((receiver) =>
        Effect.as(
          Effect.zipRight(
            Effect.forEach([1, 2], (n) => receiver.receive(JsonRpc.notification("early", { n })), { discard: true }),
            Deferred.succeed(connected, receiver)
          ),
          { send: () => Effect.void }
        )
      )
      const seen: Array<unknown> = []
      const caughtUp = yield* Deferred.make<void>()
      const running = yield* Effect.fork(transport.run((message) =>
        Effect.suspend(() => {
          seen.push("params" in message ? message.params : undefined)
          return seen.length === 2 ? Deferred.succeed(caughtUp, undefined) : Effect.void
        })
      ))
      const receiver = yield* Deferred.await(connected)
      yield* Deferred.await(caughtUp)
      yield* receiver.receive(JsonRpc.notification("late", { n: 3 }))
      expect(seen).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
      const lost = new McpClientError({ reason: "Transport", message: "gone" })
      yield* receiver.disconnected(lost)
      yield* receiver.disconnected(new McpClientError({ reason: "Transport", message: "the first call counts" }))
      expect(yield* Effect.flip(Fiber.join(running))).toBe(lost)
      // The defaults of what the connection left out.
      expect(yield* transport.reset).toBe(false)
      expect(Option.isNone(yield* transport.sessionId)).toBe(true)
    }))

  it.scopedLive("McpTest.layerTransport gives McpClient.layer an in-process server", () =>
    Effect.gen(function*() {
      const client = yield* Layer.build(
        McpClient.layer().pipe(Layer.provide(McpTest.layerTransport), Layer.provide(DemoServer.layer))
      ).pipe(Effect.map(Context.get(McpClient.McpClient)))
      const seen = yield* (yield* client.subscribe).pipe(
        Stream.filter((n) => n.method === "notifications/progress"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      expect(textOf(yield* client.callTool("sleep", { ms: 0 }, { onProgress: () => Effect.void }))).toBe("slept 0 ms")
      expect(Chunk.size(yield* Fiber.join(seen))).toBe(2)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))

  describe("HTTP auto-detection (layerHttp)", () => {
    // The session era's detection: Streamable HTTP or the legacy transport (the demo also speaks 2026-07-28,
    // which the auto mode would pick; that is tested in McpClientModern.test.ts).
    const connect = (url: string, requests: Array<string>) =>
      Effect.gen(function*() {
        const context = yield* Layer.build(
          McpClient.layerHttp({ url, protocol: "legacy" }).pipe(Layer.provide(recordingHttp(requests)))
        )
        return Context.get(context, McpClient.McpClient)
      })

    it.live("uses Streamable HTTP when the server speaks it", () =>
      Effect.gen(function*() {
        const base = yield* serveDemo
        const requests: Array<string> = []
        const client = yield* connect(`${base}/mcp`, requests)
        expect(textOf(yield* client.callTool("add", { a: 1, b: 2 }))).toBe("3")
        // initialize, notifications/initialized, the GET stream and the call: all on /mcp.
        expect(requests[0]).toBe("POST /mcp")
        expect(requests.filter((request) => request === "POST /mcp")).toHaveLength(3)
        expect(requests.every((request) => request.endsWith(" /mcp"))).toBe(true)
      }).pipe(quietly))

    it.live("falls back to the legacy transport when POST initialize gets a 4xx", () =>
      Effect.gen(function*() {
        const base = yield* serveDemo
        const requests: Array<string> = []
        const client = yield* connect(`${base}/sse`, requests)
        expect(textOf(yield* client.callTool("echo", { text: "legacy" }))).toBe("legacy")
        expect(Option.isSome(yield* client.sessionId)).toBe(true)
        // The initialize POST refused, then the legacy stream, and every message to the endpoint the stream named.
        expect(requests.slice(0, 3)).toEqual(["POST /sse", "GET /sse", "POST /messages"])
        expect(requests.slice(3).every((request) => request === "POST /messages")).toBe(true)
      }).pipe(quietly))

    it.live("when neither answers, the error names both attempts", () =>
      Effect.gen(function*() {
        const base = yield* serveDemo
        const requests: Array<string> = []
        const error = yield* Effect.flip(connect(`${base}/nowhere`, requests))
        expect(error).toMatchObject({ reason: "HttpStatus", status: 404 })
        expect(error.message).toContain("Streamable HTTP: HTTP 404")
        expect(error.message).toContain("HTTP+SSE: HTTP 404")
        // initialize, then the legacy stream.
        expect(requests).toEqual(["POST /nowhere", "GET /nowhere"])
      }).pipe(quietly))

    it.live("an unreachable server is not retried as legacy", () =>
      Effect.gen(function*() {
        // A port that nothing listens on: bind one, then close it.
        const base = yield* Effect.scoped(serveDemo)
        const requests: Array<string> = []
        const error = yield* Effect.flip(connect(`${base}/mcp`, requests))
        expect(error).toMatchObject({ reason: "Transport" })
        expect(requests).toEqual(["POST /mcp"])
      }).pipe(quietly))
  })
})
