/**
 * The cluster's cost (`npm run bench:cluster`, `--quick` for tiny counts, `--routing` for the routing table only,
 * `--failover` for the failover table only, `--cpu-prof DIR` to profile the instances through it,
 * `--link-tls-dir DIR` or `--link-tls-psk` for links over TLS, as the demo's flags): three demo instances with
 * `--redis` and one `redis-server` on this machine (`lib/cluster.ts`).
 * First what routing costs: the legacy SSE POST and the Streamable HTTP `tools/call`, sent to the owner and
 * routed to it from the two others, at 1 and 50 concurrent clients, beside the same through the bare relay (plain
 * node: what any relay costs here). Then Redis's keys and memory before and after
 * opening 10,000 idle sessions (spread over the three instances and over 20 loopback addresses, so no client
 * reaches the demo's per-client budget of 1,000 sessions, nor an instance its 10,000): no key per session. Last,
 * the failover time: 100 sessions on one instance, which gets SIGKILL, SIGSTOP or SIGTERM (fresh clusters each),
 * and, measured from the signal, when the owner's `bye` was on Redis, when a survivor first answered 404 and when
 * every survivor had. A survivor decides per owner, so each is probed with one session at a time (cycling through
 * them) every millisecond or two, which is the figures' resolution; one request per session on every survivor
 * then must all be 404, or the bench fails.
 *
 * Everything runs on 127.0.0.1, every loop bounded by a count; `redis-server` must be on PATH (Debian's package).
 */
import * as http from "node:http"
import * as net from "node:net"
import { killChildrenOnExit } from "../harness/children.js"
import { HOST } from "../harness/http.js"
import { errorMessage, httpRequest, openStreamableSession, type StreamableSession } from "./lib/client.js"
import { measureRouting, redisNumber, renderRouting, startCluster } from "./lib/cluster.js"
import { percentile, sortedCopy } from "./lib/load.js"

const log = (message: string): void => void process.stderr.write(`[bench:cluster] ${message}\n`)

const quick = process.argv.includes("--quick")
/** `--routing`: only the routing table (no idle sessions, no failover). */
const routingOnly = process.argv.includes("--routing")
/** `--failover`: only the failover table. */
const failoverOnly = process.argv.includes("--failover")
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
/** Fresh clusters per signal; each figure is the median of them, with the worst beside it. */
const FAILOVER_RUNS = quick ? 1 : 5
/** How often a survivor is probed: the figures' resolution (a timer of 1 ms fires every 1 to 2 ms). */
const PROBE_SPACING_MS = 1
/** Probes a survivor may have unanswered at once (those relayed to an owner that stopped wait for it). */
const PROBES_IN_FLIGHT = 32
const PROBE_BODY = JSON.stringify({ jsonrpc: "2.0", method: "notifications/roots/list_changed" })

/** One failover: milliseconds from the signal to the owner. */
interface Failover {
  /** Until the owner's `bye` reached a subscriber of the members' channel on Redis (SIGTERM only). */
  readonly bye: number | undefined
  /** Until a survivor first answered 404 for one of the owner's sessions. */
  readonly first: number
  /** Until every survivor had answered 404. */
  readonly everywhere: number
}

/** The status a survivor answers a notification for `session` with (0: the request failed). */
const probe = (agent: http.Agent, port: number, session: StreamableSession): Promise<number> =>
  httpRequest(agent, port, "POST", "/mcp", {
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    "Mcp-Session-Id": session.sessionId,
    "MCP-Protocol-Version": session.protocolVersion
  }, PROBE_BODY).then((reply) => reply.status, () => 0)

/**
 * Probes one survivor with one of the owner's sessions at a time, cycling through them, until one is answered
 * 404: resolves with the milliseconds from `start` to that answer's arrival. A survivor decides per owner (the
 * owner's standing in its membership), so one session stands for all. A probe goes out every `PROBE_SPACING_MS`
 * whether or not the last was answered (up to `PROBES_IN_FLIGHT` unanswered), so a survivor whose answers wait on
 * an owner that stopped is still probed, and a probe waiting when the survivor decides comes back 404 then.
 */
const firstNotFound = (
  agent: http.Agent,
  port: number,
  sessions: ReadonlyArray<StreamableSession>,
  start: number,
  signal: NodeJS.Signals
): Promise<number> =>
  new Promise((resolve, reject) => {
    let next = 0
    let inFlight = 0
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (settle: () => void) => {
      done = true
      clearTimeout(timer)
      settle()
    }
    const launch = (): void => {
      if (done) return
      if (performance.now() - start > 60_000) return finish(() => reject(new Error(`${signal}: no 404 on ${port} after 60 s`)))
      timer = setTimeout(launch, PROBE_SPACING_MS)
      if (inFlight >= PROBES_IN_FLIGHT) return
      inFlight++
      void probe(agent, port, sessions[next++ % sessions.length]!).then((status) => {
        inFlight--
        if (done) return
        if (status === 404) finish(() => resolve(performance.now() - start))
      })
    }
    launch()
  })

/** Fails unless every session answers `expected` on every port (one request each, all at once). */
const expectEverywhere = async (
  agent: http.Agent,
  ports: ReadonlyArray<number>,
  sessions: ReadonlyArray<StreamableSession>,
  expected: (status: number) => boolean,
  what: string
) => {
  const statuses = await Promise.all(ports.flatMap((port) => sessions.map((session) => probe(agent, port, session))))
  const wrong = statuses.filter((status) => !expected(status))
  if (wrong.length > 0) throw new Error(`${what}: ${wrong.length} of ${statuses.length} answered ${[...new Set(wrong)].join(", ")}`)
}

/**
 * Subscribes to the cluster's members' channel on Redis (the demo's namespace, `effect-mcp`), as an instance
 * does: `heard` is when a `bye` came, in `performance.now()` time.
 */
const listenForBye = (redisPort: number): Promise<{ readonly heard: () => number | undefined; readonly close: () => void }> =>
  new Promise((resolve, reject) => {
    let heard: number | undefined
    let text = ""
    const socket = net.connect(redisPort, HOST, () => socket.write("SUBSCRIBE effect-mcp:members\r\n"))
    socket.on("error", reject)
    socket.on("data", (chunk) => {
      text += chunk.toString()
      if (heard === undefined && text.includes("bye ")) heard = performance.now()
      if (text.includes("subscribe")) resolve({ heard: () => heard, close: () => socket.destroy() })
    })
  })

/**
 * One failover, on a fresh cluster with a short lease: `FAILOVER_SESSIONS` sessions opened on the first instance
 * (the owner), each shown to be served through both others (its survivors, which then know where the owner is, as
 * in steady use); then `signal` to the owner, and each survivor probed (`firstNotFound`) until it answers 404;
 * then one request per session on every survivor, which must all be 404. What is timed is what a client sees:
 * from the signal until the survivor's 404 came back to this process.
 */
const failover = async (signal: NodeJS.Signals): Promise<Failover> => {
  const cluster = await startCluster({ leaseMs: FAILOVER_LEASE_MS })
  const agent = new http.Agent({ keepAlive: true, maxSockets: PROBES_IN_FLIGHT + 8 })
  const check = new http.Agent({ keepAlive: true, maxSockets: 50 })
  const bye = await listenForBye(cluster.redisPort)
  try {
    const [owner, ...survivors] = cluster.ports
    const sessions = await Promise.all(Array.from({ length: FAILOVER_SESSIONS }, () => openStreamableSession(check, owner!)))
    await expectEverywhere(check, survivors, sessions, (status) => status === 202, `${signal}: before the signal`)
    // Each survivor's connections to it open before the signal, so no probe pays a handshake the others did not.
    await Promise.all(survivors.map((port) => probe(agent, port, sessions[0]!)))
    const start = performance.now()
    cluster.instances[0]!.kill(signal)
    const times = await Promise.all(survivors.map((port) => firstNotFound(agent, port, sessions, start, signal)))
    await expectEverywhere(check, survivors, sessions, (status) => status === 404, `${signal}: after every survivor's first 404`)
    const heard = bye.heard()
    return { bye: heard === undefined ? undefined : heard - start, first: Math.min(...times), everywhere: Math.max(...times) }
  } finally {
    bye.close()
    agent.destroy()
    check.destroy()
    cluster.stop()
  }
}

/** The median of the runs, and the worst. */
const summary = (values: ReadonlyArray<number>): string => {
  const sorted = sortedCopy(values)
  return `${percentile(sorted, 0.5).toFixed(1)} (${sorted[sorted.length - 1]!.toFixed(1)})`
}

/** `FAILOVER_RUNS` failovers for each signal, a fresh cluster each, as table rows. */
const measureFailovers = async (): Promise<Array<string>> => {
  const rows: Array<string> = []
  for (const signal of ["SIGKILL", "SIGSTOP", "SIGTERM"] as const) {
    const runs: Array<Failover> = []
    for (let run = 0; run < FAILOVER_RUNS; run++) runs.push(await failover(signal))
    const byes = runs.flatMap((run) => run.bye === undefined ? [] : [run.bye])
    log(`failover on ${signal}: ${runs.map((run) => `${run.first.toFixed(1)}/${run.everywhere.toFixed(1)}`).join(", ")} ms`)
    rows.push(
      `| ${signal} | ${byes.length === 0 ? "-" : summary(byes)} | ${summary(runs.map((run) => run.first))} | ` +
        `${summary(runs.map((run) => run.everywhere))} |`
    )
  }
  return [
    `Failover, lease ${FAILOVER_LEASE_MS} ms: ${FAILOVER_SESSIONS} sessions on one of three instances, which gets the ` +
    `signal; milliseconds from the signal until the owner's \`bye\` is on Redis's members' channel, until one ` +
    "survivor first answers 404, and until both have (each probed with one session at a time, a probe every 1-2 ms; " +
    `then every session is 404 on both). The median of ${FAILOVER_RUNS} runs, a fresh cluster each, the worst in ` +
    "parentheses.",
    "",
    "| Signal | ms to `bye` on Redis | ms to the first 404 | ms to 404 on every survivor |",
    "| --- | ---: | ---: | ---: |",
    ...rows
  ]
}

const run = async (): Promise<number> => {
  killChildrenOnExit()
  if (failoverOnly) {
    process.stdout.write((await measureFailovers()).join("\n") + "\n")
    return 0
  }
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
    const lines = [
      ...renderRouting(rows, CALLS, RUNS),
      "",
      `Redis before the idle sessions: ${keysBefore} keys, used_memory ${before} bytes; after ${IDLE_SESSIONS} more ` +
      `idle sessions (over ${IDLE_CLIENTS} client addresses and the three instances): ${keysAfter} keys, ` +
      `used_memory ${after} bytes (${after - before >= 0 ? "+" : ""}${after - before}).`,
      "",
      ...await measureFailovers()
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
