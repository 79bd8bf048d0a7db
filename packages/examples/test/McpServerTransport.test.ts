/**
 * The server's transport seam: transports written outside the library, against `McpServerTransport` alone, serve
 * the same tools as the built-in ones.
 */
import { NodeMcpServer } from "@effect-mcp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import * as DemoServer from "../src/DemoServer.js"
import type { Exchange } from "@effect-mcp/core/HttpExchange"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpServerTransport from "@effect-mcp/core/McpServerTransport"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import { eventually } from "./utils/demo.js"
import { capture } from "../../node/test/utils/logs.js"
import { postJson, request } from "../../node/test/utils/http.js"

/**
 * A line transport of one's own: one JSON-RPC message per line in, one per line out, one session for as long as
 * the lines last. What the README's "A new transport (server side)" shows.
 */
const serveLines = (lines: Stream.Stream<string>, write: (line: string) => void) =>
  Effect.scoped(Effect.gen(function*() {
    const host = yield* McpServerTransport.host
    const writer = (message: JsonRpc.Message) => {
      write(JSON.stringify(message))
      return true
    }
    const session = yield* Effect.orDie(host.open({ transport: "lines", protocolVersion: "2025-11-25", writer }))
    yield* Stream.runForEach(lines, (line) =>
      Effect.sync(() => {
        const decoded = JsonRpc.decodeBody(line)
        if (Either.isRight(decoded) && decoded.right._tag === "Single") session.offer(decoded.right.message, writer)
      }))
  }))

/**
 * An HTTP transport of one's own: `POST /rpc` takes one JSON-RPC request and answers it with its JSON response,
 * each on a session of its own, served as initialized and ended once answered.
 */
const rpcTransport: McpServerTransport.Http = {
  name: "rpc",
  routes: (host) =>
    Effect.gen(function*() {
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const serve = (exchange: Exchange, message: JsonRpc.Message, client: SessionRegistry.OpenOptions["client"]) =>
        Effect.gen(function*() {
          const session = yield* Effect.orDie(host.openDetached({
            transport: "rpc",
            protocolVersion: "2025-11-25",
            initialized: true,
            perRequest: true,
            client
          }))
          const reply = (answer: JsonRpc.Message) => {
            if (JsonRpc.isResponse(answer)) {
              exchange.respond(200, { "content-type": "application/json" }, JSON.stringify(answer))
            }
            return true
          }
          if (!session.offer(message, reply, () => session.end())) exchange.respond(503, {})
        })
      const post = (exchange: Exchange, _query: string, _grant: unknown, client: SessionRegistry.OpenOptions["client"]) =>
        exchange.readBody(1024 * 1024, (body) => {
          const decoded = body._tag === "Text" ? JsonRpc.decodeBody(body.text) : undefined
          if (decoded === undefined || Either.isLeft(decoded) || decoded.right._tag !== "Single") {
            return exchange.respond(400, {})
          }
          runFork(serve(exchange, decoded.right.message, client))
        })
      return [{ path: "/rpc" as const, methods: { POST: post } }]
    })
}

const initialize = (id: number) =>
  JsonRpc.request(id, "initialize", {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "seam-test", version: "0" }
  })

describe("McpServerTransport", () => {
  it.scoped("a line transport of one's own serves tools through the seam, and its session ends with its input", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(DemoServer.layer)
      const registry = yield* SessionRegistry.make({}).pipe(Effect.provide(server))
      const input = yield* Queue.unbounded<string | null>()
      const output = yield* Queue.unbounded<JsonRpc.Message & { readonly id?: JsonRpc.RequestId | null }>()
      const lines = Stream.fromQueue(input).pipe(Stream.takeWhile((line): line is string => line !== null))
      const served = yield* serveLines(lines, (line) => Queue.unsafeOffer(output, JSON.parse(line))).pipe(
        Effect.provideService(SessionRegistry.SessionRegistry, registry),
        Effect.fork
      )
      yield* Queue.offer(input, JSON.stringify(initialize(1)))
      expect(yield* Queue.take(output)).toMatchObject({ id: 1, result: { protocolVersion: "2025-11-25" } })
      const session = (yield* registry.sessions)[0]!
      expect(session.transport).toBe("lines")
      yield* Queue.offer(input, JSON.stringify(JsonRpc.notification("notifications/initialized")))
      yield* Queue.offer(input, JSON.stringify(JsonRpc.request(2, "tools/call", { name: "add", arguments: { a: 2, b: 3 } })))
      expect(yield* Queue.take(output)).toMatchObject({
        id: 2,
        result: { structuredContent: { sum: 5 }, content: [{ type: "text", text: "5" }] }
      })
      yield* Queue.offer(input, null)
      expect(yield* served.await).toEqual(Exit.void)
      expect(yield* registry.size).toBe(0)
      expect(session.isOpen).toBe(false)
    }))

  it.live("an HTTP transport of one's own is served beside the built-ins, behind the front's security", () => {
    const logs = capture()
    return Effect.gen(function*() {
      const context = yield* Layer.build(
        NodeMcpServer.layer({ port: 0, transports: [rpcTransport] }).pipe(Layer.provide(DemoServer.layer))
      )
      const port = Context.get(context, NodeMcpServer.NodeMcpServer).address.port
      const registry = Context.get(context, SessionRegistry.SessionRegistry)
      const call = JsonRpc.request(7, "tools/call", { name: "echo", arguments: { text: "through the seam" } })
      const answered = yield* postJson(port, "/rpc", call)
      expect(answered.status).toBe(200)
      expect(JSON.parse(answered.body)).toMatchObject({
        id: 7,
        result: { content: [{ type: "text", text: "through the seam" }] }
      })
      // The session served the one request and is gone.
      yield* eventually(Effect.map(registry.size, (size) => size === 0))
      // The front's DNS-rebinding check stands in front of it as in front of the built-ins.
      const rebound = yield* postJson(port, "/rpc", call, { host: "evil.example:80" })
      expect(rebound.status).toBe(403)
      const wrongMethod = yield* request({ port, path: "/rpc", method: "GET", body: "" })
      expect(wrongMethod.status).toBe(405)
      expect(wrongMethod.headers["allow"]).toBe("POST")
      // The built-ins are still served.
      const initialized = yield* postJson(port, "/mcp", initialize(1), { accept: "application/json, text/event-stream" })
      expect(initialized.status).toBe(200)
      expect(initialized.headers["mcp-session-id"]).toBeDefined()
      expect(logs.problems()).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.scoped("two transports on one path are refused when the front is built", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(DemoServer.layer)
      const registry = yield* SessionRegistry.make({}).pipe(Effect.provide(server))
      const clash: McpServerTransport.Http = {
        name: "clash",
        routes: () => Effect.succeed([{ path: "/mcp", methods: { POST: (exchange) => exchange.respond(200, {}) } }])
      }
      const built = yield* HttpTransport.make({ transports: [clash] }).pipe(
        Effect.provideService(SessionRegistry.SessionRegistry, registry),
        Effect.exit
      )
      expect(Exit.isFailure(built)).toBe(true)
      expect(String(Exit.isFailure(built) ? built.cause : "")).toContain("the path /mcp is taken")
    }))
})
