/**
 * The demo server on a real socket (127.0.0.1, a free port), and a small MCP client over the legacy SSE transport
 * built on the raw helpers.
 */
import { NodeMcpServer } from "@effect-mcp/node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as DemoServer from "../../src/DemoServer.js"
import type * as HttpTransport from "@effect-mcp/core/HttpTransport"
import { SessionRegistry, type SessionRegistryService } from "@effect-mcp/core/SessionRegistry"
import { type CapturedLogs, capture } from "../../../node/test/utils/logs.js"
import { type JsonObject, openSse, postJson, type SseOptions, type SseStream } from "../../../node/test/utils/http.js"

// Shared with the Node package's tests, which have no demo server.
export { eventually } from "../../../node/test/utils/eventually.js"

export interface Demo {
  readonly port: number
  readonly registry: SessionRegistryService
  /** Everything the server logged. */
  readonly logs: CapturedLogs
}

export type DemoOptions = Omit<NodeMcpServer.Options, "port" | "host">

/** The demo served by `NodeMcpServer.layer`, as a layer (for tests that own the scope it is built in). */
export const demoLayer = (
  options: DemoOptions = {}
): Layer.Layer<SessionRegistry | HttpTransport.HttpTransport | NodeMcpServer.NodeMcpServer, NodeMcpServer.ListenError> =>
  NodeMcpServer.layer({ ...options, port: 0 }).pipe(Layer.provide(DemoServer.layer))

/** Reads the port and registry out of a built demo context. */
export const demoOf = (
  context: Context.Context<NodeMcpServer.NodeMcpServer | SessionRegistry>,
  logs: CapturedLogs
): Demo => {
  const address = Context.get(context, NodeMcpServer.NodeMcpServer).address
  return { port: address.port, registry: Context.get(context, SessionRegistry), logs }
}

/** Starts the demo in the current scope, logging to `logs`; it shuts down when the scope closes. */
export const startDemo = (
  options: DemoOptions = {},
  logs: CapturedLogs = capture()
): Effect.Effect<Demo, never, Scope.Scope> =>
  Layer.build(demoLayer(options)).pipe(
    Effect.map((context) => demoOf(context, logs)),
    Effect.orDie,
    Effect.provide(logs.layer)
  )

/**
 * Runs `body` against a fresh demo server, then shuts the server down. Everything the server logs, shutdown
 * included, is captured rather than printed, and the run fails if anything was logged at Error level or with a
 * failure or defect.
 */
export const withDemo = <A, E>(
  options: DemoOptions,
  body: (demo: Demo) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E> => {
  const logs = capture()
  return Effect.scoped(Effect.flatMap(startDemo(options, logs), body)).pipe(
    Effect.tap(() => {
      const problems = logs.problems()
      return problems.length === 0
        ? Effect.void
        : Effect.die(new Error(`the server logged problems: ${problems.map((p) => p.message).join("; ")}`))
    }),
    Effect.provide(logs.layer)
  )
}

/** Extracts the session id from an endpoint URI. */
export const sessionIdOf = (endpoint: string): string => {
  const id = new URL(endpoint, "http://x").searchParams.get("session_id")
  if (id === null) throw new Error(`no session_id in ${endpoint}`)
  return id
}

/** A JSON-RPC client over one SSE stream: POSTs to the endpoint, reads responses off the stream. */
export interface SseClient {
  readonly stream: SseStream
  readonly endpoint: string
  readonly sessionId: string
  /** POSTs a request (must be answered 202) and waits for its response on the stream. */
  readonly request: (method: string, params?: unknown) => Effect.Effect<JsonObject>
  /** POSTs any message and returns the HTTP status. */
  readonly post: (message: unknown) => Effect.Effect<number>
  readonly initialize: Effect.Effect<JsonObject>
}

let nextRequestId = 0

export const connectClient = (port: number, options: Omit<SseOptions, "port"> = {}) =>
  Effect.gen(function*() {
    const stream = yield* openSse({ ...options, port })
    const endpoint = yield* Effect.promise(() => stream.endpoint())
    const post = (message: unknown) => Effect.map(postJson(port, endpoint, message), (r) => r.status)
    const request = (method: string, params?: unknown) =>
      Effect.gen(function*() {
        const id = `r${++nextRequestId}`
        const status = yield* post(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })
        if (status !== 202) return yield* Effect.die(new Error(`${method}: POST answered ${status}`))
        return yield* Effect.promise(() => stream.message((m) => m.id === id && !("method" in m)))
      })
    const initialize = Effect.tap(
      request("initialize", {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "raw-test-client", version: "0.0.0" }
      }),
      () => post({ jsonrpc: "2.0", method: "notifications/initialized" })
    )
    const client: SseClient = { stream, endpoint, sessionId: sessionIdOf(endpoint), request, post, initialize }
    return client
  })

/** A fresh session can initialize and call a tool: the server is still serving. */
export const assertServing = (port: number): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connectClient(port)
    const init = yield* client.initialize
    if (!("result" in init)) return yield* Effect.die(new Error(`initialize failed: ${JSON.stringify(init)}`))
    const echo = yield* client.request("tools/call", { name: "echo", arguments: { text: "alive" } })
    const expected = { content: [{ type: "text", text: "alive" }] }
    if (JSON.stringify(echo.result) !== JSON.stringify(expected)) {
      return yield* Effect.die(new Error(`echo answered ${JSON.stringify(echo)}`))
    }
  }))
