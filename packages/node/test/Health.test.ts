/**
 * The orchestrator's probes on the HTTP front: liveness and readiness on real sockets, readiness turning 503 while
 * the server drains a call in flight, probes that need no token and pass no Origin/Host check, configurable
 * paths, the platform mount, and what a server answers before its front is built.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { NodeMcpServer } from "@effect-mcp/node"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { Exchange } from "@effect-mcp/core/HttpExchange"
import * as HttpTransport from "@effect-mcp/core/HttpTransport"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import { InvalidToken } from "@effect-mcp/core/McpAuth"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as PlatformHttpTransport from "@effect-mcp/core/PlatformHttpTransport"
import { SessionRegistry } from "@effect-mcp/core/SessionRegistry"
import { eventually } from "./utils/eventually.js"
import { request } from "./utils/http.js"

const BOTH = "application/json, text/event-stream"

/** A tool that answers once the test lets it: a call held in flight for as long as the test needs. */
const gated = (gate: Deferred.Deferred<void>) =>
  McpTool.make("wait", {
    input: Schema.Struct({}),
    handler: () => Effect.as(Deferred.await(gate), "released")
  }).pipe(Layer.provideMerge(McpServer.layer({ name: "health-test", version: "0" })))

const Plain = McpServer.layer({ name: "health-test", version: "0" })

/** A probe as a kubelet sends it: a GET with no token, no Origin, and the pod's IP as Host. */
const probe = (port: number, path: string, headers: Http.OutgoingHttpHeaders = {}, method = "GET") =>
  Effect.map(request({ port, path, method, body: "", headers: { "content-type": undefined, ...headers } }), (result) => ({
    status: result.status,
    body: result.body === "" ? undefined : JSON.parse(result.body),
    headers: result.headers
  }))

const portOf = (context: Context.Context<NodeMcpServer.NodeMcpServer>) =>
  Context.get(context, NodeMcpServer.NodeMcpServer).address.port

const initialize = JsonRpc.request(0, "initialize", {
  protocolVersion: "2025-11-25",
  capabilities: {},
  clientInfo: { name: "health-test", version: "0" }
})

describe("HttpTransport: probes", () => {
  it.scopedLive("/healthz and /readyz answer 200 with a small JSON body, GET and HEAD, no-store; others 405", () =>
    Effect.gen(function*() {
      const port = portOf(yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(Plain))))
      for (const path of ["/healthz", "/readyz", "/readyz?verbose"]) {
        const got = yield* probe(port, path)
        expect(got.status, path).toBe(200)
        expect(got.body, path).toEqual({ status: "ok" })
        expect(got.headers["content-type"]).toBe("application/json")
        expect(got.headers["cache-control"]).toBe("no-store")
        expect((yield* probe(port, path, {}, "HEAD")).status, `HEAD ${path}`).toBe(200)
      }
      const post = yield* request({ port, path: "/readyz", body: "{}" })
      expect(post.status).toBe(405)
      expect(post.headers["allow"]).toBe("GET, HEAD")
    }))

  it.scopedLive("readiness is 503 draining from the start of shutdown while a call in flight is drained; liveness stays 200", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        NodeMcpServer.layer({ port: 0, sessions: { drainTimeout: "20 seconds" } }).pipe(Layer.provide(gated(gate))),
        scope
      )
      const port = portOf(context)
      const registry = Context.get(context, SessionRegistry)
      const init = yield* request({ port, path: "/mcp", body: JSON.stringify(initialize), headers: { accept: BOTH } })
      expect(init.status).toBe(200)
      const call = yield* Effect.fork(request({
        port,
        path: "/mcp",
        body: JSON.stringify(JsonRpc.request(1, "tools/call", { name: "wait", arguments: {} })),
        headers: { accept: BOTH, "mcp-session-id": String(init.headers["mcp-session-id"]) }
      }))
      yield* eventually(Effect.map(registry.sessions, (all) => all.some((session) => session.inFlight === 1)))
      expect((yield* probe(port, "/readyz")).status).toBe(200)

      // The signal: the server's scope begins to close, and drains the call still running.
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* eventually(Effect.sync(() => registry.isDraining()))
      const readiness = yield* probe(port, "/readyz")
      expect(readiness.status).toBe(503)
      expect(readiness.body).toEqual({ status: "draining" })
      expect(yield* probe(port, "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } })
      // Still draining: the call has not been answered yet.
      expect(registry.isDraining()).toBe(true)
      expect(yield* Fiber.poll(call)).toMatchObject({ _tag: "None" })

      yield* Deferred.succeed(gate, void 0)
      const answered = yield* Fiber.join(call)
      expect(JSON.parse(answered.body)).toMatchObject({ id: 1, result: { content: [{ type: "text", text: "released" }] } })
      yield* Fiber.join(closing)
    }))

  it.scopedLive("with auth configured, probes need no token while /mcp answers 401; they pass no Host or Origin check", () =>
    Effect.gen(function*() {
      const port = portOf(yield* Layer.build(NodeMcpServer.layer({
        port: 0,
        auth: {
          resource: "https://mcp.example.com/mcp",
          authorizationServers: ["https://auth.example.com"],
          verifier: { verify: () => Effect.fail(new InvalidToken({ reason: "no token is good here" })) }
        }
      }).pipe(Layer.provide(Plain))))
      const mcp = yield* request({ port, path: "/mcp", body: JSON.stringify(initialize), headers: { accept: BOTH } })
      expect(mcp.status).toBe(401)
      // A kubelet's Host is the pod's IP, which the loopback defaults refuse on an MCP path.
      const podHost = { host: `10.1.2.3:${port}`, origin: "http://evil.example" }
      const foreign = yield* request({ port, path: "/mcp", body: JSON.stringify(initialize), headers: { accept: BOTH, ...podHost } })
      expect(foreign.status).toBe(403)
      for (const path of ["/healthz", "/readyz"]) {
        expect(yield* probe(port, path), path).toMatchObject({ status: 200, body: { status: "ok" } })
        expect(yield* probe(port, path, podHost), `${path} from the pod's IP`).toMatchObject({ status: 200 })
      }
    }))

  it.scopedLive("the paths are configurable and each can be turned off; a probe path may not take an MCP path", () =>
    Effect.gen(function*() {
      const serve = (health: NodeMcpServer.Options["health"]) =>
        Effect.map(Layer.build(NodeMcpServer.layer({ port: 0, health }).pipe(Layer.provide(Plain))), portOf)
      const moved = yield* serve({ liveness: "/livez", readiness: false })
      expect((yield* probe(moved, "/livez")).status).toBe(200)
      expect((yield* probe(moved, "/healthz")).status).toBe(404)
      expect((yield* probe(moved, "/readyz")).status).toBe(404)
      const none = yield* serve(false)
      expect((yield* probe(none, "/healthz")).status).toBe(404)
      expect((yield* probe(none, "/readyz")).status).toBe(404)
      const clash = yield* Effect.exit(Effect.scoped(serve({ readiness: "/mcp" })))
      expect(Exit.isFailure(clash) && String(clash.cause)).toContain("the probe path /mcp is taken")
    }))

  it.scopedLive("mounted on an HttpLayerRouter: the probes are served, and readiness follows the registry's drain", () =>
    Effect.gen(function*() {
      const app = HttpLayerRouter.serve(PlatformHttpTransport.layer(), { disableLogger: true }).pipe(
        Layer.provideMerge(Plain),
        Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
      )
      const context = yield* Layer.build(app)
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      const port = address.port
      expect(yield* probe(port, "/readyz", { host: `10.1.2.3:${port}` })).toMatchObject({ status: 200, body: { status: "ok" } })
      yield* Context.get(context, SessionRegistry).drain
      expect(yield* probe(port, "/readyz")).toMatchObject({ status: 503, body: { status: "draining" } })
      expect(yield* probe(port, "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } })
    }))

  it("before the front is built: liveness 200, readiness 503 starting, anything else 503 with Retry-After", () => {
    const answer = (handle: (exchange: Exchange) => void, method: string, url: string) => {
      let got: { status: number; headers: Readonly<Record<string, string>>; body: string | undefined } | undefined
      handle({
        method,
        url,
        headers: {},
        remoteAddress: "10.0.0.1",
        readBody: () => {
          throw new Error("a starting server reads no body")
        },
        respond: (status, headers, body) => {
          got = { status, headers, body }
        },
        stream: () => {
          throw new Error("a starting server opens no stream")
        },
        onClose: () => {}
      })
      if (got === undefined) throw new Error(`${method} ${url} was not answered`)
      return got
    }
    const starting = HttpTransport.starting()
    expect(answer(starting, "GET", "/healthz")).toMatchObject({ status: 200, body: "{\"status\":\"ok\"}" })
    expect(answer(starting, "GET", "/readyz")).toMatchObject({ status: 503, body: "{\"status\":\"starting\"}" })
    const mcp = answer(starting, "POST", "/mcp")
    expect(mcp.status).toBe(503)
    expect(mcp.headers["retry-after"]).toBeDefined()
    expect(answer(HttpTransport.starting({ readiness: "/ready" }), "GET", "/ready").status).toBe(503)
    expect(answer(HttpTransport.starting(false), "GET", "/healthz").status).toBe(503)
  })
})
