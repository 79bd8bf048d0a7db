/**
 * A cluster of demo instances for the benches: one `redis-server` and three instances with `--redis`, all on
 * this machine; and what routing costs there. Every session is opened on the first instance (its owner); the
 * same call is timed sent to the owner and sent to the two others (routed to the owner over the link), for the
 * legacy SSE transport (POST, answer on the owner's stream) and Streamable HTTP (`tools/call`, JSON answer).
 * Server CPU per call is all instances plus redis-server, from /proc. Beside it, in the same runs, the bare relay
 * (`startBareRelay`: plain node, the floor server as the owner and two minimal relays, built into `dist-bench` by
 * `tsc -p bench/servers`): what relaying costs on this machine whoever does it.
 *
 * Shared by `npm run bench` (its cluster section) and `npm run bench:cluster` (which adds Redis's memory with
 * 10,000 idle sessions and the failover times).
 */
import * as ChildProcess from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, listening } from "../../harness/children.js"
import { HOST } from "../../harness/http.js"
import { openStreamableSession, SseSession, type StreamableSession, streamableEcho } from "./client.js"
import { drive, percentile, sortedCopy } from "./load.js"
import { treeCpu } from "./proc.js"
import { EXAMPLES_DIR, type RunningServer, startServer } from "./servers.js"

const main = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
const BARE = path.join(EXAMPLES_DIR, "dist-bench", "bare.js")
const BARE_RELAY = path.join(EXAMPLES_DIR, "dist-bench", "bareRelay.js")
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

/** What a server process does in a routed call: it holds the session, relays the request, or is Redis. */
export type Role = "owner" | "router" | "redis"

/**
 * Processes that route to one owner: its port first, then the others'; what server CPU is summed over, and each
 * of those processes' role (in the order of `pids`).
 */
export interface Routing {
  readonly ports: ReadonlyArray<number>
  readonly pids: ReadonlyArray<number>
  readonly roles: ReadonlyArray<Role>
}

/** A running cluster: its processes, and `stop` to kill them all. */
export interface Cluster extends Routing {
  readonly redisPort: number
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
  return {
    redisPort,
    ports,
    instances,
    pids: [redis.pid!, ...instances.map((child) => child.pid!)],
    roles: ["redis", "owner", "router", "router"],
    stop
  }
}

/**
 * The bare relay, measured beside the cluster: the floor server (`servers/bare.ts`) as the owner and two
 * `node:http` routers (`servers/bareRelay.ts`) relaying to it over one framed TCP connection each, no effect-mcp
 * code anywhere; what any relay costs on this machine.
 */
export const startBareRelay = async (): Promise<Routing & { readonly stop: () => Promise<void> }> => {
  const linkPort = await freePort()
  const owner = await startServer({ name: "bare", entry: BARE, args: ["--link-port", String(linkPort)] }, 20_000)
  const routers: Array<RunningServer> = []
  const stop = async () => {
    await Promise.all([owner, ...routers].map((server) => server.stop()))
  }
  try {
    for (let i = 0; i < 2; i++) {
      routers.push(await startServer({ name: "bare relay", entry: BARE_RELAY, args: ["--relay-to", String(linkPort)] }, 20_000))
    }
  } catch (error) {
    await stop()
    throw error
  }
  const servers = [owner, ...routers]
  return {
    ports: servers.map((server) => server.port),
    pids: servers.map((server) => server.pid),
    roles: ["owner", "router", "router"],
    stop
  }
}

/** Which processes a row measured: the effect-mcp cluster, or the bare relay beside it. */
export type System = "effect-mcp" | "bare relay"

/** One measured row: a system, a transport, sent to the owner or routed, at a concurrency. */
export interface Row {
  readonly system: System
  readonly transport: "legacy SSE POST" | "Streamable tools/call"
  readonly routed: boolean
  readonly concurrency: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerCall: number
  /** `cpuUsPerCall` split by what each process does: the owner's, the routing instances', redis-server's. */
  readonly cpuByRole: Readonly<Record<Role, number>>
}

type Call = (worker: number, port: number) => Promise<void>

/** A system under measure, with the sessions its workers call (one per worker, opened on its owner). */
interface Subject {
  readonly system: System
  readonly routing: Routing
  readonly streamable: ReadonlyArray<StreamableSession>
  readonly sse: ReadonlyArray<SseSession>
}

const measure = async (
  subject: Subject,
  transport: Row["transport"],
  routed: boolean,
  concurrency: number,
  calls: number,
  call: Call
): Promise<Row> => {
  const { pids, roles, ports: [owner, ...others] } = subject.routing
  const portOf = (w: number) => routed ? others[w % others.length]! : owner!
  const workers = Array.from({ length: concurrency }, (_, w) => () => call(w, portOf(w)))
  // Warm up: connections, the JIT, the links.
  await drive(workers, Math.min(calls, concurrency * 20), performance.now() + 60_000)
  const cpu = () => pids.map((pid) => treeCpu(pid).ns)
  const before = cpu()
  const run = await drive(workers, calls, performance.now() + 120_000)
  const after = cpu()
  const perCall = (ns: number) => ns / 1_000 / run.latenciesMs.length
  const cpuByRole: Record<Role, number> = { owner: 0, router: 0, redis: 0 }
  pids.forEach((_, i) => {
    cpuByRole[roles[i]!] += perCall(after[i]! - before[i]!)
  })
  const sorted = sortedCopy(run.latenciesMs)
  return {
    system: subject.system,
    transport,
    routed,
    concurrency,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuUsPerCall: cpuByRole.owner + cpuByRole.router + cpuByRole.redis,
    cpuByRole
  }
}

/** Opens `count` sessions of each transport on the owner; the SSE ones are pushed to `sse` as they open. */
const openSessions = async (
  system: System,
  routing: Routing,
  count: number,
  setup: http.Agent,
  streamAgent: http.Agent,
  sse: Array<SseSession>
): Promise<Subject> => {
  const owner = routing.ports[0]!
  const streamable = await Promise.all(Array.from({ length: count }, () => openStreamableSession(setup, owner)))
  const mine: Array<SseSession> = []
  for (let i = 0; i < count; i++) {
    const session = await SseSession.open(streamAgent, owner)
    sse.push(session)
    await session.initialize(setup)
    mine.push(session)
  }
  return { system, routing, streamable, sse: mine }
}

/** The median of each figure over the samples of one system, transport and side. */
const medianRow = (
  samples: ReadonlyArray<Row>,
  like: Omit<Row, "p50" | "p99" | "cpuUsPerCall" | "cpuByRole">
): Row => {
  const of = samples.filter((row) => row.system === like.system && row.transport === like.transport && row.routed === like.routed)
  const median = (pick: (row: Row) => number) => percentile(sortedCopy(of.map(pick)), 0.5)
  return {
    ...like,
    p50: median((row) => row.p50),
    p99: median((row) => row.p99),
    cpuUsPerCall: median((row) => row.cpuUsPerCall),
    // Each role's own median: they need not add up to the total's exactly.
    cpuByRole: {
      owner: median((row) => row.cpuByRole.owner),
      router: median((row) => row.cpuByRole.router),
      redis: median((row) => row.cpuByRole.redis)
    }
  }
}

/**
 * Both transports, to the owner and routed, at each concurrency, on the cluster and on the bare relay (started
 * here, stopped at the end): `calls` calls a run, the median of `runs` runs a row. The sessions (one per worker)
 * are opened on each system's owner first.
 */
export const measureRouting = async (
  cluster: Cluster,
  concurrencies: ReadonlyArray<number>,
  calls: number,
  runs: number
): Promise<Array<Row>> => {
  const most = Math.max(...concurrencies)
  const rows: Array<Row> = []
  const setup = new http.Agent({ keepAlive: true })
  const streamAgent = new http.Agent({ keepAlive: false })
  const sse: Array<SseSession> = []
  const bare = await startBareRelay()
  try {
    const subjects = [
      await openSessions("effect-mcp", cluster, most, setup, streamAgent, sse),
      await openSessions("bare relay", bare, most, setup, streamAgent, sse)
    ]
    let id = 0
    const both = async (subject: Subject, routed: boolean, concurrency: number, count: number, agents: ReadonlyArray<http.Agent>) => [
      await measure(subject, "Streamable tools/call", routed, concurrency, count, (w, port) =>
        streamableEcho(agents[w]!, port, subject.streamable[w]!, ++id)),
      await measure(subject, "legacy SSE POST", routed, concurrency, count, (w, port) =>
        subject.sse[w]!.echo(agents[w]!, `echo-${++id}`, port))
    ]
    // Every process's JIT warmed on the paths measured (owner and routed, both transports) before any row: the
    // rows compare steady states, not which process compiled its code first.
    const warmAgents = Array.from({ length: most }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
    for (const subject of subjects) {
      for (const routed of [false, true]) await both(subject, routed, most, calls * 2, warmAgents)
    }
    for (const agent of warmAgents) agent.destroy()
    for (const concurrency of concurrencies) {
      // Owner and routed rows alternate, and the cluster's with the bare relay's, `runs` times, and each figure
      // is the median of its runs: a load that comes and goes on the machine then weighs on all sides alike.
      const samples: Array<Row> = []
      for (let run = 0; run < runs; run++) {
        for (const subject of subjects) {
          for (const routed of [false, true]) {
            // One keep-alive connection per worker, as one client each.
            const agents = Array.from({ length: concurrency }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }))
            samples.push(...await both(subject, routed, concurrency, calls, agents))
            for (const agent of agents) agent.destroy()
          }
        }
      }
      for (const { system } of subjects) {
        for (const transport of ["Streamable tools/call", "legacy SSE POST"] as const) {
          for (const routed of [false, true]) rows.push(medianRow(samples, { system, transport, routed, concurrency }))
        }
      }
    }
  } finally {
    for (const session of sse) session.disconnect()
    setup.destroy()
    streamAgent.destroy()
    await bare.stop()
  }
  return rows
}

const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : "—")
const signed = (ms: number): string => `${ms >= 0 ? "+" : ""}${ms.toFixed(2)}`

/**
 * The rows as a markdown table, routed beside the owner for each transport and concurrency: the p50/p99 that
 * routing adds and the CPU ratio, against the budget (+1 ms p50, +5 ms p99 at 50 clients, CPU ≤ 1.25×),
 * and beside them the same figures of the bare relay, the floor any relay stands on here.
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
    "Bare relay: the same calls, clients and sessions on plain node (no effect-mcp code), measured the same way in",
    "the same runs: the floor server (`bench/servers/bare.ts`) as the owner, and two `node:http` routers",
    "(`bench/servers/bareRelay.ts`) that relay each request (method, URL, MCP headers, body) over one TCP",
    "connection each, a frame of length, id and raw bytes, a turn's frames in one write; server CPU is its three",
    "processes. What any relay costs on this machine, against what effect-mcp's routing costs.",
    "",
    "| Transport | Clients | p50 ms owner / routed (added) | p99 ms owner / routed (added) | CPU µs/call owner / routed | CPU ratio " +
      "| bare relay p50 / p99 ms added | bare relay CPU µs/call owner / routed | bare relay CPU ratio |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  ]
  const find = (system: System, routed: boolean, like: Row) =>
    rows.find((r) => r.system === system && r.routed === routed && r.transport === like.transport && r.concurrency === like.concurrency)
  for (const row of rows) {
    if (row.system !== "effect-mcp" || row.routed) continue
    const routed = find("effect-mcp", true, row)
    if (routed === undefined) continue
    const bareOwner = find("bare relay", false, row)
    const bareRouted = find("bare relay", true, row)
    const bare = bareOwner === undefined || bareRouted === undefined
      ? "— | — | —"
      : `${signed(bareRouted.p50 - bareOwner.p50)} / ${signed(bareRouted.p99 - bareOwner.p99)} | ` +
        `${bareOwner.cpuUsPerCall.toFixed(0)} / ${bareRouted.cpuUsPerCall.toFixed(0)} | ${ratio(bareRouted.cpuUsPerCall, bareOwner.cpuUsPerCall)}`
    lines.push(
      `| ${row.transport} | ${row.concurrency} | ${row.p50.toFixed(2)} / ${routed.p50.toFixed(2)} (${signed(routed.p50 - row.p50)}) | ` +
        `${row.p99.toFixed(2)} / ${routed.p99.toFixed(2)} (${signed(routed.p99 - row.p99)}) | ` +
        `${row.cpuUsPerCall.toFixed(0)} / ${routed.cpuUsPerCall.toFixed(0)} | ${ratio(routed.cpuUsPerCall, row.cpuUsPerCall)} | ${bare} |`
    )
  }
  return [...lines, "", ...renderSplit(rows)]
}

/**
 * Where each call's server CPU goes, by process: the owner's when sent to it and when routed, the routing
 * instances' and redis-server's when routed, for effect-mcp and the bare relay. What routing adds is then seen
 * split between the instance that relays and the owner.
 */
const renderSplit = (rows: ReadonlyArray<Row>): Array<string> => {
  const lines = [
    "Where the server CPU of a call goes, µs per call (each process's median over the runs): the owner's, sent to",
    "it and routed; when routed, the two routing instances' and redis-server's; and all that routing adds.",
    "",
    "| Transport | Clients | System | owner, sent to it | owner, routed | routing instances | redis-server | added by routing |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
  ]
  for (const direct of rows) {
    if (direct.routed) continue
    const routed = rows.find((r) =>
      r.routed && r.system === direct.system && r.transport === direct.transport && r.concurrency === direct.concurrency
    )
    if (routed === undefined) continue
    const us = (value: number) => value.toFixed(0)
    lines.push(
      `| ${direct.transport} | ${direct.concurrency} | ${direct.system} | ${us(direct.cpuByRole.owner)} | ` +
        `${us(routed.cpuByRole.owner)} | ${us(routed.cpuByRole.router)} | ` +
        `${direct.system === "bare relay" ? "—" : us(routed.cpuByRole.redis)} | ` +
        `${signed(routed.cpuUsPerCall - direct.cpuUsPerCall).replace(/\.\d+$/, "")} |`
    )
  }
  return lines
}
