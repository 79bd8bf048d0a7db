/**
 * The cluster mode's moving parts, as child processes on 127.0.0.1: a `redis-server` of the run's own (nothing
 * on disk, so a restart comes back empty), demo instances joined to it with `--redis`, each on a port it keeps
 * across restarts, and nginx in front of them as the README sets it up (round robin, no affinity, buffering off),
 * adding an `X-Upstream` header so the driver knows which instance owns a session it opened. And the faults the
 * run injects: an instance killed (SIGKILL) or stopped (SIGTERM) and started again, Redis restarted empty.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { freePort, listening, type Watched, watchChild } from "../../harness/children.js"
import { HOST } from "../../harness/http.js"
import { nginxConfig } from "../../harness/nginx.js"
import { type SoakServer, startServer } from "./server.js"

/** The key every instance of the run shares (the demo wants 32 characters or more). */
const CLUSTER_KEY = "the-soak-cluster-key-of-at-least-32-characters"

/** How long a SIGTERM'd instance lets calls in flight finish: short, so a stop mid-call is over quickly. */
const DRAIN_TIMEOUT_MS = 1_000

/** Waits until the child listens on `port`; throws when it exits first or takes over 10 s. */
const untilListening = async (watched: Watched, port: number, what: string): Promise<void> => {
  const started = Date.now()
  while (!(await listening(port))) {
    if (watched.exit() !== undefined) throw new Error(`${what} exited (${watched.exit()})`)
    if (Date.now() - started > 10_000) throw new Error(`${what} did not listen on ${port} within 10 s`)
    await sleep(20)
  }
}

export interface Redis {
  readonly url: string
  /** SIGKILL, then a new, empty `redis-server` on the same port. */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

/** Starts `redis-server` (Debian's package: on PATH) on a free port, keeping nothing on disk. */
export const startRedis = async (): Promise<Redis> => {
  const port = await freePort()
  const spawnOne = async (): Promise<Watched> => {
    const child = spawn("redis-server", ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    child.once("error", () => undefined)
    const watched = watchChild(child)
    await untilListening(watched, port, "redis-server (on PATH? Debian: apt-get install redis-server)")
    return watched
  }
  let current = await spawnOne()
  const kill = async () => {
    current.kill("SIGKILL")
    await current.exited
  }
  return {
    url: `redis://${HOST}:${port}`,
    restart: async () => {
      await kill()
      current = await spawnOne()
    },
    stop: kill
  }
}

export interface Nginx {
  readonly port: number
  readonly stop: () => Promise<void>
}

/**
 * Starts nginx (on PATH; Debian: nginx-light) in front of `upstreams`, in a temporary prefix of its own; every
 * request logged to `accessLog` when given.
 */
export const startNginx = async (upstreams: ReadonlyArray<number>, accessLog?: string): Promise<Nginx> => {
  const port = await freePort()
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "effect-mcp-soak-nginx-"))
  fs.writeFileSync(path.join(prefix, "nginx.conf"), nginxConfig(prefix, port, upstreams, { upstreamHeader: true, accessLog }))
  const binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((candidate) => fs.existsSync(candidate)) ?? "nginx"
  const child = spawn(binary, ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`], {
    stdio: "ignore"
  })
  child.once("error", () => undefined)
  const watched = watchChild(child)
  await untilListening(watched, port, "nginx (on PATH? Debian: apt-get install nginx-light)")
  return {
    port,
    stop: async () => {
      watched.kill("SIGKILL")
      await watched.exited
      fs.rmSync(prefix, { recursive: true, force: true })
    }
  }
}

/** One instance's place in the cluster: its port, and every process that served on it. */
export class Slot {
  /** Every incarnation, the current one last: their logs are all checked. */
  readonly incarnations: Array<SoakServer> = []
  constructor(readonly port: number) {}

  get current(): SoakServer {
    const server = this.incarnations.at(-1)
    if (server === undefined) throw new Error(`no instance on ${this.port}`)
    return server
  }
}

export interface ClusterOptions {
  readonly idleTimeoutMs: number
  readonly leaseMs: number
  /** A folder for every instance's output (`PORT-N.log`), which then logs every session (`--verbose`). */
  readonly logDir: string | undefined
  /** The faults so far: an instance that fences adds its own. */
  readonly faults: Array<Fault>
}

/** What an instance logs when it fences (it could not write its lease for 80% of it). */
const FENCED = "cluster: no lease for"
/** What an instance logs when a write of its lease failed: Redis did not answer in time, or is away. */
const LEASE_FAILED = "cluster: cannot write the lease"

/**
 * Starts an instance on `slot`'s port, joined to the cluster on `redisUrl`. A fence it logs is a fault of its
 * own: it closed its sessions, which answer 404 from then on, as designed for an instance cut off from Redis (on
 * a machine too loaded for Redis to answer within its deadline, it happens with nothing killed).
 */
export const startInstance = async (slot: Slot, redisUrl: string, options: ClusterOptions): Promise<SoakServer> => {
  const logFile = options.logDir === undefined
    ? undefined
    : path.join(options.logDir, `${slot.port}-${slot.incarnations.length + 1}.log`)
  const server = await startServer(options.idleTimeoutMs, {
    port: slot.port,
    args: [
      "--redis",
      redisUrl,
      "--lease-ms",
      String(options.leaseMs),
      "--drain-timeout",
      String(DRAIN_TIMEOUT_MS),
      ...(logFile === undefined ? [] : ["--verbose"])
    ],
    env: { EFFECT_MCP_CLUSTER_KEY: CLUSTER_KEY },
    logFile
  })
  server.logs.watch((line) => {
    const kind = line.includes(FENCED) ? "fence" : line.includes(LEASE_FAILED) ? "redis-unanswered" : undefined
    if (kind !== undefined) {
      // Its line comes after what it tells of (a fence, or a Redis that did not answer for the client's deadline):
      // the window opens a second before.
      const now = Date.now()
      options.faults.push({ kind, port: slot.port, start: now - 1_000, end: now + options.leaseMs + 1_000 })
    }
    return false
  })
  slot.incarnations.push(server)
  return server
}

/**
 * The faults the run injects, and those an instance tells of in its log: it fenced, or Redis did not answer a
 * write of its lease (on a machine too loaded for Redis to answer within the client's deadline, with nothing
 * killed). Those explain a 503 (and a fence a 404 for the instance's own sessions), as Redis away does.
 */
export type FaultKind = "sigkill" | "sigterm" | "redis-restart" | "fence" | "redis-unanswered"
export type InjectedKind = "sigkill" | "sigterm" | "redis-restart"
export const FAULT_KINDS: ReadonlyArray<InjectedKind> = ["sigkill", "sigterm", "redis-restart"]

/** A fault the run injected, and the time during which clients may see it (ms since the epoch). */
export interface Fault {
  readonly kind: FaultKind
  /** The instance's port, for a fault of an instance. */
  readonly port: number | undefined
  readonly start: number
  /**
   * When its effects are over: the instance (or Redis) back, plus a lease and a second, within which sessions of
   * a killed owner may still answer 503 and the instances write their leases again. Infinity while it lasts.
   */
  end: number
  /** How the instance exited (SIGTERM must give 0). */
  exit?: number | string
}

/**
 * Injects one fault: the instance in `slot` (for an instance's fault) is signalled, awaited and started again on
 * its port; or Redis is restarted empty. `fault` is pushed first, so a failure while it lasts is explained by it.
 */
export const inject = async (
  kind: InjectedKind,
  slot: Slot,
  redis: Redis,
  options: ClusterOptions
): Promise<Fault> => {
  const fault: Fault = { kind, port: kind === "redis-restart" ? undefined : slot.port, start: Date.now(), end: Infinity }
  options.faults.push(fault)
  if (kind === "redis-restart") {
    await redis.restart()
  } else {
    const server = slot.current
    server.signal(kind === "sigkill" ? "SIGKILL" : "SIGTERM")
    const exit = await Promise.race([server.exited, sleep(DRAIN_TIMEOUT_MS + 10_000, "no exit", { ref: false })])
    if (exit === "no exit") server.signal("SIGKILL")
    fault.exit = exit
    await server.exited
    await startInstance(slot, redis.url, options)
  }
  fault.end = Date.now() + options.leaseMs + 1_000
  return fault
}
