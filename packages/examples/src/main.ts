#!/usr/bin/env node
/**
 * Runs the demo server.
 *
 * - HTTP (default): `npm start -- --port 3000 --host 127.0.0.1`; Streamable HTTP at /mcp, legacy SSE at /sse.
 * - stdio: `npx effect-mcp-demo --stdio`, for a client that starts the server as a process. Only protocol
 *   messages go to stdout; logs go to stderr.
 *
 * `--verbose` also logs every session opening and closing; `--drain-timeout MS` sets how long a shutdown lets
 * requests in flight finish.
 */
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { parseArgs } from "node:util"
import * as DemoServer from "./DemoServer.js"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3000" },
    host: { type: "string", default: "127.0.0.1" },
    stdio: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    "drain-timeout": { type: "string" }
  }
})
// How long a shutdown lets requests in flight finish (default 10 s).
const sessions = values["drain-timeout"] === undefined ? {} : { drainTimeout: Number(values["drain-timeout"]) }
const logLevel = Logger.minimumLogLevel(values.verbose ? LogLevel.Debug : LogLevel.Info)

if (values.stdio) {
  NodeMcpServer.serveStdio({ sessions }).pipe(Effect.provide(DemoServer.layer), Effect.provide(logLevel), NodeRuntime.runMain)
} else {
  const port = Number(values.port)
  const host = values.host
  NodeMcpServer.layer({ port, host, sessions }).pipe(
    Layer.provide(DemoServer.layer),
    Layer.tap(() =>
      Effect.logInfo(`effect-mcp demo on http://${host}:${port}: Streamable HTTP at /mcp, legacy SSE at /sse`)
    ),
    Layer.provide(logLevel),
    Layer.launch,
    NodeRuntime.runMain
  )
}
