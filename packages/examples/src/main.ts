#!/usr/bin/env node
/**
 * Runs the demo server.
 *
 * - HTTP (default): `npm start -- --port 3000 --host 127.0.0.1`; Streamable HTTP at /mcp, legacy SSE at /sse.
 * - stdio: `npx effect-mcp-demo --stdio`, for a client that starts the server as a process. Only protocol
 *   messages go to stdout; logs go to stderr.
 *
 * `--verbose` also logs every session opening and closing; `--drain-timeout MS` sets how long a shutdown lets
 * requests in flight finish; `--idle-timeout MS` closes HTTP sessions idle that long (default 30 minutes). Over
 * HTTP, `kill -USR2 <pid>` logs how many sessions are live and the heap in use, so a soak run can watch the
 * registry from outside the process; under `node --expose-gc` it collects garbage first.
 */
import { SessionRegistry } from "@effect-mcp/core/SessionRegistry"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import { parseArgs } from "node:util"
import * as DemoServer from "./DemoServer.js"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3000" },
    host: { type: "string", default: "127.0.0.1" },
    stdio: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    "drain-timeout": { type: "string" },
    "idle-timeout": { type: "string" }
  }
})
// How long a shutdown lets requests in flight finish (default 10 s).
const sessions = values["drain-timeout"] === undefined ? {} : { drainTimeout: Number(values["drain-timeout"]) }
const logLevel = Logger.minimumLogLevel(values.verbose ? LogLevel.Debug : LogLevel.Info)

const idleTimeoutOf = (value: string | undefined): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const ms = Number(value)
  if (!Number.isFinite(ms) || ms <= 0) {
    console.error(`--idle-timeout: expected a positive number of milliseconds, got ${value}`)
    process.exit(2)
  }
  return Duration.millis(ms)
}

/**
 * On SIGUSR2, logs the number of live sessions, the heap in use and the memory held outside it (buffers) at
 * Info: the registry and memory seen from outside, for soak runs.
 */
const sessionReport = Layer.scopedDiscard(Effect.gen(function*() {
  const registry = yield* SessionRegistry
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const report = () => {
    globalThis.gc?.()
    const { external, heapUsed } = process.memoryUsage()
    runFork(Effect.flatMap(
      registry.size,
      (n) => Effect.logInfo(`live sessions: ${n}, heap used: ${heapUsed}, external: ${external}`)
    ))
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("SIGUSR2", report)),
    () => Effect.sync(() => process.off("SIGUSR2", report))
  )
}))

if (values.stdio) {
  // Imported here only: an HTTP server has no use for the stream machinery stdio loads.
  const NodeMcpStdio = await import("@effect-mcp/node/NodeMcpStdio")
  NodeMcpStdio.serve({ sessions }).pipe(Effect.provide(DemoServer.layer), Effect.provide(logLevel), NodeRuntime.runMain)
} else {
  const port = Number(values.port)
  const host = values.host
  const idleTimeout = idleTimeoutOf(values["idle-timeout"])
  sessionReport.pipe(
    Layer.provideMerge(
      NodeMcpServer.layer({ port, host, sessions: { ...sessions, ...(idleTimeout === undefined ? {} : { idleTimeout }) } })
    ),
    Layer.provide(DemoServer.layer),
    Layer.tap(() =>
      Effect.logInfo(`effect-mcp demo on http://${host}:${port}: Streamable HTTP at /mcp, legacy SSE at /sse`)
    ),
    Layer.provide(logLevel),
    Layer.launch,
    NodeRuntime.runMain
  )
}
