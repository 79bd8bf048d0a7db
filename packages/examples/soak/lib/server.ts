/**
 * The soak server: the built demo as a child process on a free loopback port, watched from outside. Its memory is
 * read from /proc (Linux), its live sessions by `kill -USR2` (the demo logs "live sessions: N"), and every line it
 * logs is kept by level, so a run can tell whether anything was logged at Error level.
 */
import { spawn } from "node:child_process"
import { appendFileSync, existsSync } from "node:fs"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { freePort, watchChild } from "../../harness/children.js"
import { HOST } from "../../harness/http.js"
import { LogWatch } from "../../harness/logs.js"
import { rssKiB } from "../../harness/proc.js"

const EXAMPLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
/** The built demo: `npm run soak` builds it first. */
export const DEMO_MAIN = path.join(EXAMPLES_DIR, "dist", "main.js")

/** VmRSS of a process, in bytes; undefined once it is gone. */
export const rssOf = (pid: number): number | undefined => {
  const kib = rssKiB(pid)
  return kib === undefined ? undefined : kib * 1024
}

/** What the demo logs on SIGUSR2. */
export interface Report {
  readonly sessions: number
  /** Bytes of JavaScript heap in use, after a full garbage collection. */
  readonly heapUsed: number
  /** Bytes held outside the heap by JavaScript objects (buffers). */
  readonly external: number
}

export interface SoakServer {
  readonly pid: number
  readonly port: number
  readonly logs: LogWatch
  readonly alive: () => boolean
  /**
   * The registry's size and the heap in use, as the demo logs them on SIGUSR2 (after a full garbage collection);
   * undefined when it does not answer in time.
   */
  readonly report: () => Promise<Report | undefined>
  /** The registry's size, from `report`. */
  readonly liveSessions: () => Promise<number | undefined>
  /** SIGTERM, then the exit code (or signal); SIGKILL after `timeoutMs`. */
  readonly stop: (timeoutMs: number) => Promise<number | string>
  /** Sends a signal, unless it has exited. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** Resolves with the exit code (or signal), once every line it logged was counted. */
  readonly exited: Promise<number | string>
}

/** How a server is started beyond its idle timeout: the cluster mode's instances keep their port across restarts. */
export interface ServerOptions {
  /** Go to its `node` (the attack suite's heap size), after `--expose-gc`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** A free port when not given. */
  readonly port?: number
  /** More of the demo's flags (`--redis URL`). */
  readonly args?: ReadonlyArray<string>
  /** More environment (`EFFECT_MCP_CLUSTER_KEY`). */
  readonly env?: Readonly<Record<string, string>>
  /** A file every line it prints is appended to. */
  readonly logFile?: string | undefined
}

/** Starts the built demo on 127.0.0.1, on a free port unless `options` name one. */
export const startServer = async (idleTimeoutMs: number, options: ServerOptions = {}): Promise<SoakServer> => {
  if (!existsSync(DEMO_MAIN)) throw new Error(`${DEMO_MAIN} does not exist: build first (npm run build)`)
  const port = options.port ?? await freePort()
  const child = spawn(
    process.execPath,
    // --expose-gc: the demo collects garbage on SIGUSR2, before the soak reads its memory.
    [
      "--expose-gc",
      ...(options.nodeFlags ?? []),
      DEMO_MAIN,
      "--port",
      String(port),
      "--host",
      HOST,
      "--idle-timeout",
      String(idleTimeoutMs),
      ...(options.args ?? [])
    ],
    { cwd: EXAMPLES_DIR, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } }
  )
  const watched = watchChild(child)
  const logs = new LogWatch()
  // Both pipes are read for the whole run: a full pipe would block the server.
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => logs.push(chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => logs.push(chunk))
  const logFile = options.logFile
  if (logFile !== undefined) logs.watch((line) => (appendFileSync(logFile, line + "\n"), false))
  // Registered before anyone awaits the exit, so whoever does sees the last line counted.
  const exited = watched.exited.then((exit) => {
    logs.end()
    return exit
  })

  const listening = new Promise<void>((resolve) =>
    logs.watch((line) => {
      if (!line.includes("effect-mcp demo on")) return false
      resolve()
      return true
    })
  )
  const started = await Promise.race([
    listening.then(() => true),
    exited.then(() => false),
    sleep(30_000, false, { ref: false })
  ])
  if (!started) {
    child.kill("SIGKILL")
    throw new Error(`the demo did not start (exit ${watched.exit() ?? "none"}): ${logs.strays.join("\n")}`)
  }

  const report = (): Promise<Report | undefined> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5_000)
      logs.watch((line) => {
        const match = /live sessions: (\d+), heap used: (\d+), external: (\d+)/.exec(line)
        if (match === null) return false
        clearTimeout(timer)
        resolve({ sessions: Number(match[1]), heapUsed: Number(match[2]), external: Number(match[3]) })
        return true
      })
      watched.kill("SIGUSR2")
    })
  const liveSessions = () => report().then((r) => r?.sessions)

  const stop = async (timeoutMs: number): Promise<number | string> => {
    const exit = await watched.stop(timeoutMs)
    return exit ?? `no exit within ${timeoutMs} ms (killed)`
  }

  return {
    pid: watched.pid,
    port,
    logs,
    alive: () => watched.exit() === undefined,
    report,
    liveSessions,
    stop,
    signal: watched.kill,
    exited
  }
}
