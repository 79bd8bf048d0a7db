#!/usr/bin/env node
/**
 * Serves the conformance fixture (`ConformanceServer`) with `NodeMcpServer`'s defaults, so the suite sees what a
 * user's server does: `npm run conformance:server -- --port 3001`, then, in another shell,
 * `npm run conformance -- server --url http://127.0.0.1:3001/mcp` (add `--scenario <name>` for one scenario).
 *
 * `--port 0` picks a free port; the first line on stdout names the endpoint either way.
 */
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseArgs } from "node:util"
import * as ConformanceServer from "./ConformanceServer.js"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3001" },
    host: { type: "string", default: "127.0.0.1" }
  }
})

const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`--port must be a port number, not ${values.port}\n`)
  process.exit(2)
}

NodeMcpServer.layer({ port, host: values.host }).pipe(
  Layer.provide(ConformanceServer.layer),
  Layer.tap((context) =>
    Effect.sync(() => {
      const { address } = Context.get(context, NodeMcpServer.NodeMcpServer)
      process.stdout.write(`conformance fixture on http://${values.host}:${address.port}/mcp\n`)
    })
  ),
  Layer.launch,
  NodeRuntime.runMain
)
