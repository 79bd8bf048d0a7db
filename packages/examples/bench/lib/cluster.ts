/**
 * A cluster of demo instances for the benches: one `redis-server` and three instances with `--redis`, all on
 * this machine; and what routing costs there. Every session is opened on the first instance (its owner); the
 * same call is timed sent to the owner and sent to the two others (routed to the owner over the link), for the
 * legacy SSE transport (POST, answer on the owner's stream) and Streamable HTTP (`tools/call`, JSON answer).
 * Server CPU per call is all instances plus redis-server, from /proc.
 *
 * Shared by `npm run bench` (its cluster section) and `npm run bench:cluster` (which adds Redis's memory with
 * 10,000 idle sessions and the failover times).
 */
import * as ChildProcess from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { freePort, listening } from "../../harness/children.js"
import { HOST } from "../../harness/http.js"
import { openStreamableSession, SseSession, type StreamableSession, streamableEcho } from "./client.js"
import { drive, percentile, sortedCopy } from "./load.js"
import { treeCpu } from "./proc.js"

const main = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
const KEY = "bench-cluster-key-of-at-least-32-characters"

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
export const redisNumber = (port: number, command: string, pattern: RegExp): Promise<number> =>
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

/** A running cluster: its processes, and `stop` to kill them all. */
export interface Cluster {
  readonly redisPort: number
  readonly ports: ReadonlyArray<number>
  readonly instances: ReadonlyArray<ChildProcess.ChildProcess>
  /** redis-server's pid and the instances': what server CPU is summed over. */
  readonly pids: ReadonlyArray<number>
  readonly stop: () => void
}

/**
 * One redis-server and three instances on it, with the lease given (the demo's default otherwise); with
 * `cpuProf`, every instance runs under `node --cpu-prof` writing to that directory; `flags` are added to every
 * instance's (`--link-tls-psk`...).
 */
export const startCluster = async (
  options: { readonly leaseMs?: number; readonly cpuProf?: string; readonly flags?: ReadonlyArray<string> } = {}
): Promise<Cluster> => {
  const redisPort = await freePort()
  const redis = await spawnReady("redis-server", [
    "--port", String(redisPort), "--bind", HOST, "--save", "", "--appendonly", "no"
  ], redisPort, "Ready to accept connections")
  const url = `redis://${HOST}:${redisPort}`
  const lease = options.leaseMs === undefined ? [] : ["--lease-ms", String(options.leaseMs)]
  const prof = options.cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.cpuProf]
  const ports = [await freePort(), await freePort(), await freePort()]
  const instances = await Promise.all(ports.map((port) =>
    spawnReady(
      process.execPath,
      [...prof, main, "--port", String(port), "--redis", url, ...lease, ...(options.flags ?? [])],
      port,
      "in the cluster on"
    )
  ))
  const stop = () => {
    for (const child of [...instances, redis]) {
      child.kill("SIGCONT")
      // SIGTERM lets a profiled instance write its profile; SIGKILL otherwise.
      child.kill(options.cpuProf === undefined || child === redis ? "SIGKILL" : "SIGTERM")
    }
  }
  return { redisPort, ports, instances, pids: [redis.pid!, ...instances.map((child) => child.pid!)], stop }
}

/** One measured row: a transport, sent to the owner or routed, at a concurrency. */
export interface Row {
  readonly transport: "legacy SSE POST" | "Streamable tools/call"
  readonly routed: boolean
  readonly concurrency: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerCall: number
}

type Call = (worker: number, port: number) => Promise<void>

const measure = async (
  cluster: Cluster,
  transport: Row["transport"],
  routed: boolean,
  concurrency: number,
  calls: number,
  call: Call
): Promise<Row> => {
  const [owner, ...others] = cluster.ports
  const portOf = (w: number) => routed ? others[w % others.length]! : owner!
  const workers = Array.from({ length: concurrency }, (_, w) => () => call(w, portOf(w)))
  // Warm up: connections, the JIT, the links.
  await drive(workers, Math.min(calls, concurrency * 20), performance.now() + 60_000)
  const cpu = () => cluster.pids.reduce((sum, pid) => sum + treeCpu(pid).ns, 0)
  const before = cpu()
  const run = await drive(workers, calls, performance.now() + 120_000)
  const used = cpu() - before
  const sorted = sortedCopy(run.latenciesMs)
  return {
    transport,
    routed,
    concurrency,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuUsPerCall: used / 1_000 / run.latenciesMs.length
  }
}

/**
 * Both transports, to the owner and routed, at each concurrency: `calls` calls a run, the median of `runs` runs a
 * row. The sessions (one per worker) are opened on the owner first.
 */
export const measureRouting = async (
  cluster: Cluster,
  concurrencies: ReadonlyArray<number>,
  calls: number,
  runs: number
): Promise<Array<Row>> => {
  const owner = cluster.ports[0]!
  const most = Math.max(...concurrencies)
  const rows: Array<Row> = []
  const setup = new http.Agent({ keepAlive: true })
  const streamAgent = new http.Agent({ keepAlive: false })
  const sse: Array<SseSession> = []
  try {
    const streamable: Array<StreamableSession> = await Promise.all(
      Array.from({ length: most }, () => openStreamableSession(setup, owner))
    )
    for (let i = 0; i < most; i++) {
      const session = await SseSession.open(streamAgent, owner)
      await session.initialize(setup)
      sse.push(session)
    }
    let id = 0
    // Every instance's JIT warmed on the paths measured (owner and routed, both transports) before any row: the
    // rows compare steady states, not which process compiled its code first.
    const warmAgents = Array.from({ length: most }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
    for (const routed of [false, true]) {
      await measure(cluster, "Streamable tools/call", routed, most, calls * 2, (w, port) =>
        streamableEcho(warmAgents[w]!, port, streamable[w]!, ++id))
      await measure(cluster, "legacy SSE POST", routed, most, calls * 2, (w, port) =>
        sse[w]!.echo(warmAgents[w]!, `echo-${++id}`, port))
    }
    for (const agent of warmAgents) agent.destroy()
    for (const concurrency of concurrencies) {
      // Owner and routed rows alternate, `runs` times, and each figure is the median of its runs: a load that
      // comes and goes on the machine then weighs on both sides alike.
      const samples: Array<Row> = []
      for (let run = 0; run < runs; run++) {
        for (const routed of [false, true]) {
          // One keep-alive connection per worker, as one client each.
          const agents = Array.from({ length: concurrency }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
          samples.push(await measure(cluster, "Streamable tools/call", routed, concurrency, calls, (w, port) =>
            streamableEcho(agents[w]!, port, streamable[w]!, ++id)))
          samples.push(await measure(cluster, "legacy SSE POST", routed, concurrency, calls, (w, port) =>
            sse[w]!.echo(agents[w]!, `echo-${++id}`, port)))
          for (const agent of agents) agent.destroy()
        }
      }
      for (const transport of ["Streamable tools/call", "legacy SSE POST"] as const) {
        for (const routed of [false, true]) {
          const of = samples.filter((row) => row.transport === transport && row.routed === routed)
          const median = (pick: (row: Row) => number) => percentile(sortedCopy(of.map(pick)), 0.5)
          rows.push({
            transport,
            routed,
            concurrency,
            p50: median((row) => row.p50),
            p99: median((row) => row.p99),
            cpuUsPerCall: median((row) => row.cpuUsPerCall)
          })
        }
      }
    }
  } finally {
    for (const session of sse) session.disconnect()
    setup.destroy()
    streamAgent.destroy()
  }
  return rows
}

const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : "—")
const signed = (ms: number): string => `${ms >= 0 ? "+" : ""}${ms.toFixed(2)}`

/**
 * The rows as a markdown table, routed beside the owner for each transport and concurrency: the p50/p99 that
 * routing adds and the CPU ratio, against the budget (+1 ms p50, +5 ms p99 at 50 clients, CPU ≤ 1.25×).
 */
export const renderRouting = (rows: ReadonlyArray<Row>, calls: number, runs: number): Array<string> => {
  const lines = [
    `### Cluster: three instances and one redis-server on ${HOST}, every session on the first`,
    "",
    runs === 1
      ? `${calls} calls a row, in one run.`
      : `${calls} calls a run; each figure is the median of ${runs} runs, owner and routed runs alternating.`,
    "",
    "Sent to the owner vs routed (sent to another instance, which relays it over the link). Budget at 50 clients:",
    "routing adds ≤ 1 ms at p50 and ≤ 5 ms at p99, and ≤ 1.25× server CPU per call (instances + redis-server).",
    "",
    "| Transport | Clients | p50 ms owner / routed (added) | p99 ms owner / routed (added) | CPU µs/call owner / routed | CPU ratio |",
    "| --- | ---: | ---: | ---: | ---: | ---: |"
  ]
  for (const row of rows) {
    if (row.routed) continue
    const routed = rows.find((r) => r.routed && r.transport === row.transport && r.concurrency === row.concurrency)
    if (routed === undefined) continue
    lines.push(
      `| ${row.transport} | ${row.concurrency} | ${row.p50.toFixed(2)} / ${routed.p50.toFixed(2)} (${signed(routed.p50 - row.p50)}) | ` +
        `${row.p99.toFixed(2)} / ${routed.p99.toFixed(2)} (${signed(routed.p99 - row.p99)}) | ` +
        `${row.cpuUsPerCall.toFixed(0)} / ${routed.cpuUsPerCall.toFixed(0)} | ${ratio(routed.cpuUsPerCall, row.cpuUsPerCall)} |`
    )
  }
  return lines
}
