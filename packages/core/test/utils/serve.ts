/**
 * Any server of the test's own on a real socket (127.0.0.1, a free port) over Streamable HTTP, and the official
 * SDK's client connected to it. Served by core's own `PlatformHttpTransport` on `@effect/platform-node`'s HTTP
 * server, so core's tests need no other workspace package (the Node package's and the examples' tests use it too).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as McpServer from "../../src/McpServer.js"
import * as PlatformHttpTransport from "../../src/PlatformHttpTransport.js"

/** Sessions log as they open and close; these tests only look at what clients see. */
const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

/** Serves `server` for the test's scope; returns its Streamable HTTP endpoint. */
export const serveHttp = (server: Layer.Layer<McpServer.McpServer>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Closed quietly too: sessions log as they close at shutdown.
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.provide(Scope.close(scope, Exit.void), quiet))
    const app = HttpLayerRouter.serve(PlatformHttpTransport.layer(), { disableLogger: true }).pipe(
      Layer.provide(server),
      Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
    )
    const context = yield* Layer.buildWithScope(app, scope).pipe(Effect.orDie)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `http://127.0.0.1:${address.port}/mcp`
  }).pipe(Effect.provide(quiet))

/** The official SDK's client, connected to `url` over Streamable HTTP and closed with the scope. */
export const sdkClient = (url: string): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Client({ name: "sdk-client", version: "1.0.0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(url)))
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )
