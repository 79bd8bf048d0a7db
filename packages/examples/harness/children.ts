/**
 * The drivers' child processes (servers under test, stdio clients): watched until they exit, stopped with their
 * whole process tree, and killed if the driver itself goes.
 */
import type { ChildProcess } from "node:child_process"
import * as net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { HOST } from "./http.js"
import { processTree, startTime } from "./proc.js"

const liveChildren = new Set<ChildProcess>()

/**
 * Kills every watched child when the driver exits, however it exits; SIGINT and SIGTERM exit with 130. Without
 * it a driver stopped mid-run would leave servers listening.
 */
export const killChildrenOnExit = (): void => {
  const killChildren = () => {
    for (const child of liveChildren) child.kill("SIGKILL")
  }
  process.on("exit", killChildren)
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killChildren()
      process.exit(130)
    })
  }
}

/**
 * Runs a driver's `main` as its program: children killed on exit however it ends, the exit code `main` gives,
 * and 1 with the stack when it throws (logged through `log`).
 */
export const runDriver = (main: () => Promise<number>, log: (message: string) => void): void => {
  killChildrenOnExit()
  main().then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
      process.exitCode = 1
    }
  )
}

/** A spawned child, followed until it exits. */
export interface Watched {
  readonly pid: number
  /** Resolves with the exit code, or the signal that ended the child. */
  readonly exited: Promise<number | string>
  /** The exit code or signal; undefined while the child runs. */
  readonly exit: () => number | string | undefined
  /** Sends `signal` unless the child has exited. */
  readonly kill: (signal: NodeJS.Signals) => void
  /**
   * SIGTERM, then after `graceMs` SIGKILL to whatever is left of the process tree (a wrapper's children too);
   * resolves with the exit when it came within `graceMs`, undefined when the child had to be killed.
   */
  readonly stop: (graceMs: number) => Promise<number | string | undefined>
}

/** Watches a child that was just spawned; throws when the spawn failed. */
export const watchChild = (child: ChildProcess): Watched => {
  liveChildren.add(child)
  let exit: number | string | undefined
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = code ?? signal ?? "?"
      liveChildren.delete(child)
      resolve(exit)
    })
  })
  const pid = child.pid
  if (pid === undefined) throw new Error("spawn failed")
  const kill = (signal: NodeJS.Signals) => {
    if (exit === undefined) child.kill(signal)
  }

  const stop = async (graceMs: number): Promise<number | string | undefined> => {
    // Snapshot the tree first: once the root exits, its children are reparented.
    const tree = processTree(pid).map((member) => ({ pid: member, started: startTime(member) }))
    kill("SIGTERM")
    const inTime = await Promise.race([exited, sleep(graceMs, undefined, { ref: false })])
    for (const member of tree) {
      // Same start time = still the process we spawned, not a reused pid.
      if (member.started === undefined || startTime(member.pid) !== member.started) continue
      try {
        process.kill(member.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, sleep(1000, undefined, { ref: false })])
    return inTime
  }

  return { pid, exited, exit: () => exit, kill, stop }
}

/** A loopback port nothing listens on, for a server to take. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, HOST, () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })

/** Whether something accepts connections on the port of 127.0.0.1. */
export const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, HOST)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
