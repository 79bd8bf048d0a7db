/**
 * The built demo (`dist/main.js`, built by `tsc -b`, which `npm test` runs first) as a process of its own, once it
 * printed its start-up line, which names the port it bound: tests start it with `--port 0` and read the port back,
 * since a port picked beforehand could be taken before the demo binds it.
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

/** The built demo's entry point. */
export const main = fileURLToPath(new URL("../../dist/main.js", import.meta.url))

/** The port in the demo's start-up line (`effect-mcp demo on http://HOST:PORT: ...`), once it is printed. */
export const startedPort = (output: string): number | undefined => {
  const line = /effect-mcp demo on http:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+):/.exec(output)
  return line === null ? undefined : Number(line[1])
}

export interface DemoExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface DemoProcess {
  readonly port: number
  readonly child: ChildProcess.ChildProcess
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string
  readonly exited: Promise<DemoExit>
  /** SIGTERM (SIGCONT first, should it be stopped), SIGKILL after 5 s; resolves with its exit. */
  readonly stop: () => Promise<DemoExit>
}

/**
 * Starts the demo with `args`; resolves once it printed its start-up line, or with `"in use"` when it exited
 * because the port it was given is taken (so the caller can try another); rejects, with what it printed, when it
 * exits otherwise or takes longer than `timeoutMs`.
 */
export const spawnDemo = (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<DemoProcess | "in use"> => {
  const child = ChildProcess.spawn(process.execPath, [main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.env === undefined ? {} : { env: options.env })
  })
  let output = ""
  const exited = new Promise<DemoExit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const stop = (): Promise<DemoExit> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT")
      child.kill("SIGTERM")
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
    }
    return exited
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the demo did not start within ${options.timeoutMs ?? 20_000} ms: ${output}`))
    }, options.timeoutMs ?? 20_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const port = startedPort(output)
      if (port === undefined) return
      clearTimeout(timer)
      resolve({ port, child, output: () => output, exited, stop })
    }
    child.stdout.on("data", read)
    child.stderr.on("data", read)
    // "close", not "exit": by then all it printed has been read.
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      if (output.includes("EADDRINUSE")) resolve("in use")
      else reject(new Error(`the demo exited (${code ?? signal}): ${output}`))
    })
  })
}

/** As `spawnDemo`, for arguments that bind no port chosen beforehand (`--port 0`): a taken port is a failure. */
export const startDemoProcess = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<DemoProcess> => {
  const started = await spawnDemo(args, options)
  if (started === "in use") throw new Error(`the demo found a port it was given taken: ${args.join(" ")}`)
  return started
}
