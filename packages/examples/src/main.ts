#!/usr/bin/env node
/**
 * Runs the demo server: `npm start -- --port 3000 --host 127.0.0.1`.
 */
import { NodeMcpServer } from "@effect-mcp/node"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseArgs } from "node:util"
import * as DemoServer from "./DemoServer.js"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3000" },
    host: { type: "string", default: "127.0.0.1" }
  }
})
const port = Number(values.port)
const host = values.host

NodeMcpServer.layer({ port, host }).pipe(
  Layer.provide(DemoServer.layer),
  Layer.tap(() =>
    Effect.logInfo(`effect-mcp demo on http://${host}:${port}: Streamable HTTP at /mcp, legacy SSE at /sse`)
  ),
  Layer.launch,
  NodeRuntime.runMain
)
