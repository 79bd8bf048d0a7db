/**
 * A real `redis-server` of the test's own (Debian's package) on a free 127.0.0.1 port, which the test can kill,
 * pause and restart. When `redis-server` is missing, it is installed with apt-get where that can work (root on
 * Debian or Ubuntu); anywhere else the test stops at once, saying what to install.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

const which = (command: string): string | undefined => {
  const found = ChildProcess.spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" })
  const path = found.stdout.trim()
  return found.status === 0 && path !== "" ? path : undefined
}

const installed = new Map<string, string>()

/**
 * The path of `command`, installed first with apt-get (the first of `packages` that installs) when it is missing
 * and this is root on Debian or Ubuntu; otherwise a failure that says what to install.
 */
export const commandPath = (command: string, packages: ReadonlyArray<string>): string => {
  const known = installed.get(command)
  if (known !== undefined) return known
  const found = which(command)
  if (found !== undefined) {
    installed.set(command, found)
    return found
  }
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0
  const osRelease = Fs.existsSync("/etc/os-release") ? Fs.readFileSync("/etc/os-release", "utf8") : ""
  const debian = /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease)
  if (!isRoot || !debian || which("apt-get") === undefined) {
    throw new Error(
      `these tests need ${command} on PATH (Debian/Ubuntu: apt-get install ${packages.at(-1)}; macOS: brew install ` +
        `${command === "redis-server" ? "redis" : command}); it is installed by itself only as root on Debian or Ubuntu`
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  const apt = (args: ReadonlyArray<string>) =>
    ChildProcess.spawnSync("apt-get", args, { encoding: "utf8", env, timeout: 300_000 })
  const update = apt(["update"])
  if (update.status !== 0) throw new Error(`apt-get update failed: ${update.stderr}`)
  const failures: Array<string> = []
  for (const name of packages) {
    const run = apt(["install", "-y", "--no-install-recommends", name])
    if (run.status === 0) break
    failures.push(`apt-get install ${name}: ${run.stderr}`)
  }
  const now = which(command)
  if (now === undefined) throw new Error(`could not install ${command}: ${failures.join("; ")}`)
  installed.set(command, now)
  return now
}

/** The path of `redis-server` (Debian's package), installed first where it is missing and can be. */
export const redisServerPath = (): string => commandPath("redis-server", ["redis-server"])

/** A port nothing listens on now. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = address !== null && typeof address === "object" ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Whether something accepts connections on the port. */
export const listening = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

/**
 * The port a test's instance process (`fixtures/*.ts`, started on port 0) listens on, from the `ready PORT` line
 * it prints; a defect saying what it printed if it exits first or does not answer there.
 */
export const readyPort = (child: ChildProcess.ChildProcess): Effect.Effect<number> =>
  Effect.flatMap(readyOrInUse(child), (port) =>
    port === "in use" ? Effect.dieMessage("the instance did not start: a port it was given is taken") : Effect.succeed(port))

/** As `readyPort`, but `"in use"` when the process exits because a port it was given is taken (for `onFreePort`). */
export const readyOrInUse = (child: ChildProcess.ChildProcess): Effect.Effect<number | "in use"> =>
  Effect.gen(function*() {
    let output = ""
    const ready = new Promise<number | undefined>((resolve) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString()
        const line = /^ready (\d+)$/m.exec(output)
        if (line !== null) resolve(Number(line[1]))
      }
      child.stdout?.on("data", read)
      child.stderr?.on("data", read)
      // "close", not "exit": by then all it printed has been read.
      child.once("close", () => resolve(undefined))
    })
    const port = yield* Effect.promise(() => ready)
    if (port === undefined && output.includes("EADDRINUSE")) return "in use" as const
    if (port === undefined || !(yield* listening(port))) {
      return yield* Effect.die(new Error(`the instance did not start: ${output}`))
    }
    return port
  })

/** A start that died because a port it was given is taken (EADDRINUSE), as `"in use"` for `onFreePort`. */
export const inUseOnTaken = <A, R>(start: Effect.Effect<A, never, R>): Effect.Effect<A | "in use", never, R> =>
  Effect.catchAllDefect(start, (defect) =>
    String(defect instanceof Error ? defect.message : defect).includes("EADDRINUSE")
      ? Effect.succeed("in use" as const)
      : Effect.die(defect))

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** SIGKILL: every connection drops at once. */
  readonly kill: Effect.Effect<void>
  /** SIGSTOP: connections stay open and nothing answers. */
  readonly pause: Effect.Effect<void>
  /** SIGCONT. */
  readonly resume: Effect.Effect<void>
  /** Starts it again on the same port, empty (it keeps nothing on disk). */
  readonly restart: Effect.Effect<void>
}

/**
 * Starts `redis-server` with the arguments and waits for its own ready line: something else on the port would accept
 * connections too, so a connection alone does not say this redis-server is up. `"in use"` when the port was taken
 * first, so the caller can try another.
 */
export const spawnRedis = (args: ReadonlyArray<string>): Effect.Effect<ChildProcess.ChildProcess | "in use"> =>
  Effect.gen(function*() {
    const child = ChildProcess.spawn(redisServerPath(), args, { stdio: ["ignore", "pipe", "ignore"] })
    let output = ""
    const started = yield* Effect.async<"ready" | "exited" | "timeout">((resume) => {
      const timer = setTimeout(() => resume(Effect.succeed("timeout")), 10_000)
      child.stdout?.on("data", (chunk: Buffer) => {
        // Only the start-up lines are kept; past them the stream is read and dropped so redis never blocks on it.
        if (output.length > 16_384) return
        output += chunk.toString()
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer)
          resume(Effect.succeed("ready"))
        }
      })
      child.once("exit", () => {
        clearTimeout(timer)
        resume(Effect.succeed("exited"))
      })
    })
    if (started === "ready") return child
    if (started === "timeout") {
      child.kill("SIGKILL")
      return yield* Effect.die(new Error(`redis-server did not start in 10 s: ${output}`))
    }
    if (output.includes("Address already in use")) return "in use" as const
    return yield* Effect.die(new Error(`redis-server exited with ${child.exitCode}: ${output}`))
  })

const spawnOn = (port: number) =>
  spawnRedis([
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--enable-debug-command",
    "local"
  ])

/**
 * Starts what `start` starts on a free port, and on another when something took that one first (`start` says
 * `"in use"`): a port is picked before the process binds it, so another can take it in between.
 */
export const onFreePort = <A, R>(
  start: (port: number) => Effect.Effect<A | "in use", never, R>
): Effect.Effect<{ readonly port: number; readonly started: A }, never, R> =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = yield* freePort
      const started = yield* start(port)
      if (started !== "in use") return { port, started }
    }
    return yield* Effect.die(new Error("each free port picked was taken before it could be bound, 5 times"))
  })

const stop = (child: ChildProcess.ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  })

/**
 * Starts a `redis-server` for the current scope on a free port (another, when something takes the one picked before
 * redis-server binds it); it is killed when the scope closes.
 */
export const startRedis: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function*() {
  const { port, started } = yield* onFreePort(spawnOn)
  let current = started
  yield* Effect.addFinalizer(() => Effect.suspend(() => stop(current)))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: Effect.suspend(() => stop(current)),
    pause: Effect.sync(() => void current.kill("SIGSTOP")),
    resume: Effect.sync(() => void current.kill("SIGCONT")),
    restart: Effect.gen(function*() {
      yield* stop(current)
      // The same port, since clients reconnect to it: if another process took it meanwhile, wait for it to go.
      for (let attempt = 0; attempt < 50; attempt++) {
        const next = yield* spawnOn(port)
        if (next !== "in use") {
          current = next
          return
        }
        yield* Effect.sleep("100 millis")
      }
      return yield* Effect.die(new Error(`redis-server could not bind port ${port} again within 5 s`))
    })
  }
})
