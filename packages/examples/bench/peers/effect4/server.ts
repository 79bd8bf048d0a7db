/**
 * The benchmark's `echo` and `sleep` tools served by Effect 4's own MCP server (`effect/ai/McpServer`), wired
 * the way its docs show: tools as a `Toolkit` registered with `McpServer.toolkit`, `McpServer.layerHttp` on an
 * `HttpRouter`, served by `@effect/platform-node`'s `NodeHttpServer`.
 *
 * Endpoints: `POST|DELETE /mcp`, Streamable HTTP (revisions 2025-11-25 down to 2025-03-26; DELETE ends a
 * session). Effect 4 has no legacy HTTP+SSE transport, so there is no `/sse`.
 *
 * The router's per-request logger is off (`disableLogger`), as in a production server that logs elsewhere: the
 * bench measures the MCP server, not a log line per request.
 *
 * Effect 4 needs Node >= 22.19, and cannot live beside the workspace's Effect 3: this folder is its own npm
 * project, which the bench copies into `.cache/bench-peers/effect-4/`, installs there with `npm ci`, compiles to
 * `server.mjs` with esbuild (no bundling) and runs on Node 24 (lib/lineup.ts);
 * `npx tsc -p .cache/bench-peers/effect-4` then type-checks this file against Effect 4.
 *
 * Usage: `node server.mjs --port N [--host H]`.
 */
import { createServer } from "node:http"
import { parseArgs } from "node:util"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Layer, Schema } from "effect"
import { McpProtocol, McpServer, Tool, Toolkit } from "effect/ai"
import { HttpRouter } from "effect/http"

const Echo = Tool.make("echo", {
  description: "Echoes its input",
  parameters: Schema.Struct({ text: Schema.String }),
  success: Schema.String
})

const Sleep = Tool.make("sleep", {
  description: "Waits, then returns",
  parameters: Schema.Struct({ ms: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 600_000 })) }),
  success: Schema.String
})

const Tools = Toolkit.make(Echo, Sleep)

const ToolHandlers = Tools.toLayer({
  echo: ({ text }) => Effect.succeed(text),
  sleep: ({ ms }) => Effect.sleep(Duration.millis(ms)).pipe(Effect.as(`slept ${ms} ms`))
})

/** Text content as is: without a mapper, a tool's result would be sent as its JSON encoding. */
const text = (value: string) => [{ type: "text" as const, text: value }]

const Registrations = McpServer.toolkit(Tools, { content: { echo: text, sleep: text } }).pipe(
  Layer.provide(ToolHandlers)
)

const { values } = parseArgs({
  options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } }
})

const Mcp = McpServer.layerHttp({
  name: "effect4-bench",
  version: "0.0.0",
  path: "/mcp",
  protocols: [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18, McpProtocol.v2025_03_26],
  allowSessionTermination: true,
  registrations: Registrations
})

const Server = HttpRouter.serve(Mcp, { disableLogger: true }).pipe(
  Layer.provide(NodeHttpServer.layer(() => createServer(), { port: Number(values.port), host: values.host }))
)

NodeRuntime.runMain(Layer.launch(Server))
