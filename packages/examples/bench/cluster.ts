/**
 * The cluster's cost (`npm run bench:cluster`, `--quick` for tiny counts): three demo instances with `--redis` and
 * one `redis-server` on this machine, every session opened on the first instance (its owner). The same
 * Streamable HTTP `tools/call` is timed sent to the owner and sent to the two others (relayed to the owner), at 1
 * and 50 concurrent clients; server CPU per call is all instances plus redis-server, from /proc. Then Redis's keys
 * and data before and after opening 900 more idle sessions (one client may hold 1,000): no key per session. Last,
 * the failover time: 100 sessions on one instance, which gets SIGKILL, SIGSTOP or SIGTERM (a fresh cluster each),
 * and the time until both survivors answer 404 for every one of them.
 *
 * Everything runs on 127.0.0.1, every loop bounded by a count; `redis-server` must be on PATH (Debian's package).
 */
import * as ChildProcess from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { freePort, killChildrenOnExit } from "../harness/children.js"
import { HOST } from "../harness/http.js"
import {
  errorMessage,
  httpRequest,
  openStreamableSession,
  type StreamableSession,
  streamableEcho
} from "./lib/client.js"
import { drive, percentile, sortedCopy } from "./lib/load.js"
import { treeCpu } from "./lib/proc.js"

const log = (message: string): void => void process.stderr.write(`[bench:cluster] ${message}\n`)

const quick = process.argv.includes("--quick")
const CALLS = quick ? 200 : 5_000
const IDLE_SESSIONS = quick ? 100 : 900
const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const KEY = "bench-cluster-key-of-at-least-32-characters"

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, HOST)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const spawnReady = async (command: string, args: ReadonlyArray<string>, port: number, ready: string) => {
  const child = ChildProcess.spawn(command, args, {
    env: { ...process.env, EFFECT_MCP_CLUSTER_KEY: KEY },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => output += chunk.toString())
  child.stderr.on("data", (chunk: Buffer) => output += chunk.toString())
  const start = performance.now()
  while (!(output.includes(ready) && await listening(port))) {
    if (child.exitCode !== null || performance.now() - start > 20_000) throw new Error(`${command} did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return child
}

/** A number out of one command's answer, over a raw connection (RESP is simple enough for one command). */
const redisNumber = (port: number, command: string, pattern: RegExp): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => socket.write(`${command}\r\n`))
    let text = ""
    socket.on("data", (chunk) => {
      text += chunk.toString()
      const match = pattern.exec(text)
      if (match !== null) {
        socket.destroy()
        resolve(Number(match[1]))
      }
    })
    socket.on("error", reject)
  })

interface Row {
  readonly label: string
  readonly concurrency: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerCall: number
}

const measure = async (
  label: string,
  concurrency: number,
  sessions: ReadonlyArray<StreamableSession>,
  portOf: (worker: number) => number,
  pids: ReadonlyArray<number>
): Promise<Row> => {
  const agents = sessions.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }))
  let id = 0
  const workers = Array.from({ length: concurrency }, (_, w) => () =>
    streamableEcho(agents[w]!, portOf(w), sessions[w]!, ++id))
  // Warm up: connections, the JIT, the relays' pools.
  await drive(workers, Math.min(CALLS, concurrency * 20), performance.now() + 60_000)
  const cpu = () => pids.reduce((sum, pid) => sum + treeCpu(pid).ns, 0)
  const before = cpu()
  const run = await drive(workers, CALLS, performance.now() + 120_000)
  const used = cpu() - before
  for (const agent of agents) agent.destroy()
  const sorted = sortedCopy(run.latenciesMs)
  return {
    label,
    concurrency,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuUsPerCall: used / 1_000 / run.latenciesMs.length
  }
}

/** One redis-server and three instances on it, with the lease given (the demo's default otherwise). */
const startCluster = async (leaseMs?: number) => {
  const redisPort = await freePort()
  const redis = await spawnReady("redis-server", [
    "--port", String(redisPort), "--bind", HOST, "--save", "", "--appendonly", "no"
  ], redisPort, "Ready to accept connections")
  const url = `redis://${HOST}:${redisPort}`
  const lease = leaseMs === undefined ? [] : ["--lease-ms", String(leaseMs)]
  const ports = [await freePort(), await freePort(), await freePort()]
  const instances = await Promise.all(ports.map((port) =>
    spawnReady(process.execPath, [main, "--port", String(port), "--redis", url, ...lease], port, "in the cluster on")
  ))
  const stop = () => {
    for (const child of [...instances, redis]) {
      child.kill("SIGCONT")
      child.kill("SIGKILL")
    }
  }
  return { redis, redisPort, ports, instances, stop }
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
  const cluster = await startCluster(FAILOVER_LEASE_MS)
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
  const { instances, ports, redis, redisPort, stop } = await startCluster()
  const pids = [redis.pid!, ...instances.map((child) => child.pid!)]
  log(`redis-server on ${redisPort}, instances on ${ports.join(", ")}`)
  try {
    const owner = ports[0]!
    const setup = new http.Agent({ keepAlive: true })
    const sessions = await Promise.all(Array.from({ length: 50 }, () => openStreamableSession(setup, owner)))
    const rows: Array<Row> = []
    for (const concurrency of [1, 50]) {
      rows.push(await measure("to the owner", concurrency, sessions, () => owner, pids))
      rows.push(await measure("relayed", concurrency, sessions, (w) => ports[1 + (w % 2)]!, pids))
      log(`C=${concurrency} done`)
    }
    const keys = () => redisNumber(redisPort, "DBSIZE", /^:(\d+)/)
    const dataset = () => redisNumber(redisPort, "INFO memory", /used_memory_dataset:(\d+)/)
    const [keysBefore, before] = [await keys(), await dataset()]
    for (let i = 0; i < IDLE_SESSIONS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => openStreamableSession(setup, owner)))
    }
    const [keysAfter, after] = [await keys(), await dataset()]
    setup.destroy()
    stop()
    const failovers: Array<[NodeJS.Signals, { readonly first: number; readonly all: number }]> = []
    for (const signal of ["SIGKILL", "SIGSTOP", "SIGTERM"] as const) {
      failovers.push([signal, await failover(signal)])
      log(`failover on ${signal} done`)
    }
    const lines = [
      `## Cluster: three instances and one redis-server on ${HOST} (Streamable HTTP tools/call, ${CALLS} calls a row)`,
      "",
      "| Sent | Clients | p50 ms | p99 ms | server CPU µs/call (instances + redis) |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows.map((row) =>
        `| ${row.label} | ${row.concurrency} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.cpuUsPerCall.toFixed(0)} |`
      ),
      "",
      `Redis with 50 sessions: ${keysBefore} keys, ${before} bytes of data; after ${IDLE_SESSIONS} more idle ` +
      `sessions: ${keysAfter} keys, ${after} bytes.`,
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
