/**
 * Starting and stopping the servers under test, each as its own child process on a free loopback port.
 *
 * A server is an entry file started as `<entry> --port P --host 127.0.0.1`: `.js`/`.mjs`/`.cjs` with plain
 * `node <entry>`, `.ts`/`.mts`/`.cts` with `node --import tsx <entry>` (one node process; the tsx CLI would add
 * a wrapper process). It is ready once the port accepts a TCP connection.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import { freePort, watchChild } from "../../harness/children.js"
import { HOST } from "../../harness/http.js"

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const EXAMPLES_DIR = path.resolve(BENCH_DIR, "..")
export const REPO_ROOT = path.resolve(EXAMPLES_DIR, "..", "..")

/** What a server may serve: Streamable HTTP at /mcp, legacy HTTP+SSE at GET /sse. */
export type Transport = "streamable" | "sse"

export interface ServerSpec {
  readonly name: string
  readonly entry: string
  /** The node binary that runs the entry; default the one running the harness. */
  readonly node?: string | undefined
  /** The transports it serves (default both): a phase that needs another is not run, its cells say —. */
  readonly transports?: ReadonlyArray<Transport> | undefined
  /** Flags for node before the entry (`--cpu-prof ...`). */
  readonly nodeArgs?: ReadonlyArray<string> | undefined
  /** Makes the server ready before its first start (an install, a build); the result replaces the spec. */
  readonly prepare?: ((log: (message: string) => void) => Promise<ServerSpec>) | undefined
  /** More arguments after `--port P --host H` (phases/tracing.ts: `--otel URL`). */
  readonly args?: ReadonlyArray<string> | undefined
}

/** Whether `spec` serves `transport`. */
export const serves = (spec: ServerSpec, transport: Transport): boolean =>
  spec.transports === undefined || spec.transports.includes(transport)

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/** The command line for an entry file, chosen by its extension. */
export const commandFor = (
  entry: string,
  port: number,
  node = process.execPath,
  nodeArgs: ReadonlyArray<string> = [],
  extra: ReadonlyArray<string> = []
): ReadonlyArray<string> => {
  const args = [entry, "--port", String(port), "--host", HOST, ...extra]
  if (/\.[cm]?js$/.test(entry)) return [node, ...nodeArgs, ...args]
  if (/\.[cm]?ts$/.test(entry)) return [node, ...nodeArgs, "--import", TSX_LOADER, ...args]
  throw new Error(`${entry}: expected a .js or .ts entry file`)
}

export interface RunningServer {
  readonly pid: number
  readonly port: number
  /** From spawn to the first accepted TCP connection. */
  readonly startupMs: number
  /** The last few KB of the server's stdout and stderr. */
  readonly output: () => string
  readonly alive: () => boolean
  readonly stop: () => Promise<void>
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/** How often readiness is polled: the start-up time is only as precise as this. */
const READY_POLL_MS = 5

export const startServer = async (spec: ServerSpec, timeoutMs: number): Promise<RunningServer> => {
  if (!existsSync(spec.entry)) throw new Error(`${spec.entry} does not exist`)
  const port = await freePort()
  const [command, ...args] = commandFor(spec.entry, port, spec.node, spec.nodeArgs, spec.args)
  const started = performance.now()
  const child = spawn(command!, args, { cwd: EXAMPLES_DIR, stdio: ["ignore", "pipe", "pipe"] })
  const watched = watchChild(child)
  // Keep draining both pipes for the whole run: a full pipe would block the server.
  let tail = ""
  const keep = (chunk: string) => {
    tail = (tail + chunk).slice(-4000)
  }
  child.stdout?.setEncoding("utf8").on("data", keep)
  child.stderr?.setEncoding("utf8").on("data", keep)
  const stop = async (): Promise<void> => {
    await watched.stop(5000)
  }

  const deadline = started + timeoutMs
  while (true) {
    const exit = watched.exit()
    if (exit !== undefined) throw new Error(`exited (${exit}) before listening:\n${tail.trim()}`)
    if (await canConnect(port)) {
      return {
        pid: watched.pid,
        port,
        startupMs: performance.now() - started,
        output: () => tail,
        alive: () => watched.exit() === undefined,
        stop
      }
    }
    if (performance.now() > deadline) {
      await stop()
      throw new Error(`not listening after ${timeoutMs / 1000}s:\n${tail.trim()}`)
    }
    await sleep(READY_POLL_MS)
  }
}

/** The server's last words, for a failure report. */
export const lastLines = (server: RunningServer, count = 10): string =>
  server.output().trim().split("\n").slice(-count).join("\n")
