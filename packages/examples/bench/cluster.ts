/**
 * The cluster's cost (`npm run bench:cluster`, `--quick` for tiny counts, `--routing` for the routing table only,
 * `--cpu-prof DIR` to profile the instances through it, `--link-tls-dir DIR` or `--link-tls-psk` for links over
 * TLS, as the demo's flags): three demo instances with `--redis` and one `redis-server` on this machine (`lib/cluster.ts`).
 * First what routing costs: the legacy SSE POST and the Streamable HTTP `tools/call`, sent to the owner and
 * routed to it from the two others, at 1 and 50 concurrent clients, beside the same through the bare relay (plain
 * node: what any relay costs here). Then Redis's keys and memory before and after
 * opening 10,000 idle sessions (spread over the three instances and over 20 loopback addresses, so no client
 * reaches the demo's per-client budget of 1,000 sessions, nor an instance its 10,000): no key per session. Last,
 * the failover time: 100 sessions on one instance, which gets SIGKILL, SIGSTOP or SIGTERM (a fresh cluster each),
 * and the time until both survivors answer 404 for every one of them.
 *
 * Everything runs on 127.0.0.1, every loop bounded by a count; `redis-server` must be on PATH (Debian's package).
 */
import * as http from "node:http"
import { killChildrenOnExit } from "../harness/children.js"
import { errorMessage, httpRequest, openStreamableSession } from "./lib/client.js"
import { measureRouting, redisNumber, renderRouting, startCluster } from "./lib/cluster.js"

const log = (message: string): void => void process.stderr.write(`[bench:cluster] ${message}\n`)

const quick = process.argv.includes("--quick")
/** `--routing`: only the routing table (no idle sessions, no failover). */
const routingOnly = process.argv.includes("--routing")
const profIndex = process.argv.indexOf("--cpu-prof")
const cpuProf = profIndex < 0 ? undefined : process.argv[profIndex + 1]
const tlsDirIndex = process.argv.indexOf("--link-tls-dir")
/** The demo's link TLS flags, passed on to the instances measured for routing. */
const linkTls = tlsDirIndex >= 0
  ? ["--link-tls-dir", process.argv[tlsDirIndex + 1] ?? ""]
  : process.argv.includes("--link-tls-psk") ? ["--link-tls-psk"] : []
const CALLS = quick ? 200 : 5_000
const RUNS = quick ? 1 : 3
const IDLE_SESSIONS = quick ? 300 : 10_000
/** Loopback addresses the idle sessions are opened from: each is a client of its own to the demo's budgets. */
const IDLE_CLIENTS = 20

/** Opens `count` idle Streamable sessions, spread over the instances and over `IDLE_CLIENTS` source addresses. */
const openIdle = async (ports: ReadonlyArray<number>, count: number) => {
  const agents = Array.from({ length: IDLE_CLIENTS }, (_, i) =>
    new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: `127.0.0.${10 + i}` }))
  try {
    for (let opened = 0; opened < count; opened += 100) {
      await Promise.all(Array.from({ length: Math.min(100, count - opened) }, (_, i) => {
        const n = opened + i
        return openStreamableSession(agents[n % IDLE_CLIENTS]!, ports[n % ports.length]!)
      }))
    }
  } finally {
    for (const agent of agents) agent.destroy()
  }
}

const FAILOVER_SESSIONS = 100
const FAILOVER_LEASE_MS = 3_000

/**
 * Milliseconds from `signal` to the owner of 100 sessions until a survivor first answers 404 for one of them, and
 * until both answer 404 for all of them, probed with a notification per session not yet 404 on each survivor,
 * round after round. A round is 200 requests on this machine's cores, so the second figure is at least a round
 * after the first.
 */
const failover = async (signal: NodeJS.Signals): Promise<{ readonly first: number; readonly all: number }> => {
  const cluster = await startCluster({ leaseMs: FAILOVER_LEASE_MS })
  try {
    const [owner, ...survivors] = cluster.ports
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 })
    const sessions = await Promise.all(Array.from({ length: FAILOVER_SESSIONS }, () => openStreamableSession(agent, owner!)))
    const pending = survivors.flatMap((port) => sessions.map((session) => ({ port, session })))
    const body = JSON.stringify({ jsonrpc: "2.0", method: "notifications/roots/list_changed" })
    const start = performance.now()
    let first: number | undefined
    cluster.instances[0]!.kill(signal)
    let left = pending
    while (left.length > 0) {
      if (performance.now() - start > 60_000) throw new Error(`${signal}: ${left.length} probes not 404 after 60 s`)
      const statuses = await Promise.all(left.map(({ port, session }) =>
        httpRequest(agent, port, "POST", "/mcp", {
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "Mcp-Session-Id": session.sessionId,
          "MCP-Protocol-Version": session.protocolVersion
        }, body).then((reply) => {
          if (reply.status === 404 && first === undefined) first = performance.now() - start
          return reply.status
        }, () => 0)
      ))
      left = left.filter((_, i) => statuses[i] !== 404)
    }
    agent.destroy()
    return { first: first ?? 0, all: performance.now() - start }
  } finally {
    cluster.stop()
  }
}

const run = async (): Promise<number> => {
  killChildrenOnExit()
  const cluster = await startCluster({ ...(cpuProf === undefined ? {} : { cpuProf }), flags: linkTls })
  const { ports, redisPort, stop } = cluster
  log(`redis-server on ${redisPort}, instances on ${ports.join(", ")}`)
  try {
    const rows = await measureRouting(cluster, [1, 50], CALLS, RUNS)
    log("routing done")
    if (cpuProf !== undefined || routingOnly) {
      stop()
      // The instances write their profiles as they exit.
      await Promise.all(cluster.instances.map((child) =>
        child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => child.once("exit", resolve))))
      if (cpuProf !== undefined) log(`profiles in ${cpuProf}`)
      process.stdout.write(renderRouting(rows, CALLS, RUNS).join("\n") + "\n")
      return 0
    }
    const keys = () => redisNumber(redisPort, "DBSIZE", /^:(\d+)/)
    const memory = () => redisNumber(redisPort, "INFO memory", /used_memory:(\d+)/)
    const [keysBefore, before] = [await keys(), await memory()]
    await openIdle(ports, IDLE_SESSIONS)
    const [keysAfter, after] = [await keys(), await memory()]
    stop()
    const failovers: Array<[NodeJS.Signals, { readonly first: number; readonly all: number }]> = []
    for (const signal of ["SIGKILL", "SIGSTOP", "SIGTERM"] as const) {
      failovers.push([signal, await failover(signal)])
      log(`failover on ${signal} done`)
    }
    const lines = [
      ...renderRouting(rows, CALLS, RUNS),
      "",
      `Redis before the idle sessions: ${keysBefore} keys, used_memory ${before} bytes; after ${IDLE_SESSIONS} more ` +
      `idle sessions (over ${IDLE_CLIENTS} client addresses and the three instances): ${keysAfter} keys, ` +
      `used_memory ${after} bytes (${after - before >= 0 ? "+" : ""}${after - before}).`,
      "",
      `Failover, lease ${FAILOVER_LEASE_MS} ms: ${FAILOVER_SESSIONS} sessions on one instance, which gets the signal; ` +
      "time until one other instance first answers 404 for one of them, and until both answer 404 for every one " +
      "(a round of probes, 200 requests, takes some of that).",
      "",
      "| Signal | ms to the first 404 | ms to 404 everywhere |",
      "| --- | ---: | ---: |",
      ...failovers.map(([signal, ms]) => `| ${signal} | ${ms.first.toFixed(0)} | ${ms.all.toFixed(0)} |`)
    ]
    process.stdout.write(lines.join("\n") + "\n")
    return 0
  } catch (error) {
    log(`FAILED: ${errorMessage(error)}`)
    return 1
  } finally {
    stop()
  }
}

run().then((code) => process.exitCode = code, (error: unknown) => {
  log(`FAILED: ${errorMessage(error)}`)
  process.exitCode = 1
})
