/**
 * Benchmark driver: compares MCP servers — a bare `node:http` floor, the official TypeScript SDK 1.32 and
 * effect-mcp, and the peers a user would pick instead (the official SDK 2.4, Effect 4's McpServer; lib/lineup.ts)
 * — on per-call CPU, latency, session memory, session churn, start-up and how fast a disconnected session goes
 * away, in one run on one machine. `npm run bench -- --help` lists the options; `--quick` runs every phase
 * with tiny counts (for CI), without the peers unless `--peers` is given.
 *
 * A server may need preparing first (`ServerSpec.prepare`: the Effect 4 peer is installed into `.cache/` and runs
 * on Node 24); if that fails, its phases fail and the run goes on. A phase over a transport the server lacks
 * (Effect 4 has no legacy SSE) is not run: its cells say —.
 *
 * Each server runs as its own child process and is measured from the outside through /proc, so the servers need
 * no instrumentation and the harness relies on nothing but their HTTP routes: Streamable HTTP at /mcp, legacy
 * SSE at GET /sse plus the POST endpoint its first event names. Per server, in order:
 *
 * 1. On one process: `http` (rows 1, 2), `sse` (row 3), `sse-churn` (row 5), `disconnect` and
 *    `disconnect-load` (row 8), `http-churn` (row 6) last, as it leaves dropped sessions behind. A server that
 *    died is restarted for the next phase.
 * 2. `idle` (row 4) on a fresh process.
 * 3. `startup` (row 7), twice. As installed: every process above is timed from spawn to the first accepted
 *    connection, then left idle for a second before its RSS is read; more processes are started only for this
 *    until there are `--starts` samples. Bundled: the entry is bundled into one file with esbuild
 *    (lib/bundle.ts) and `--starts` processes of the bundle are sampled the same way. Only row 7 has a bundled
 *    variant; every other phase runs the entry as installed. With `--startup-node` (a node binary, or a major
 *    version that scripts/with-node.sh fetches), `--starts` more processes run the entry as installed on that
 *    node: the start-up of the newest Node beside the one running the harness (Node 20 in CI).
 *
 * After the servers, `cluster` (a section of its own): three effect-mcp demo instances and one redis-server, the
 * legacy SSE POST and the Streamable `tools/call` sent to the sessions' owner and routed to it from the others,
 * at C clients, with what routing adds at p50/p99 and the CPU ratio, beside the same figures of the bare relay
 * (the floor server as the owner and two minimal `node:http` relays, servers/bareRelay.ts: what any relay costs
 * here) measured in the same runs (lib/cluster.ts; `npm run bench:cluster` adds 1 client, Redis memory with
 * 10,000 idle sessions, and failover times). It needs `redis-server` on PATH.
 *
 * A server that fails to start, or a phase that fails, is reported as such and the run goes on (the exit code
 * is then 1). Markdown goes to stdout, progress to stderr, every figure to `--json FILE`. Everything targets
 * 127.0.0.1, and every loop is bounded by a count and by the phase deadline.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { killChildrenOnExit } from "../harness/children.js"
import { bundleServer } from "./lib/bundle.js"
import { errorMessage } from "./lib/client.js"
import { type Options, parseOptions, type Phase, usage } from "./lib/options.js"
import { machine } from "./lib/proc.js"
import { lastLines, type RunningServer, serves, type ServerSpec, startServer, type Transport } from "./lib/servers.js"
import { benchSse, benchStreamable } from "./phases/calls.js"
import { benchSseChurn, benchStreamableChurn } from "./phases/churn.js"
import { benchDisconnect, benchDisconnectUnderLoad } from "./phases/disconnect.js"
import { benchIdle } from "./phases/idle.js"
import { benchStartup, sampleStart, type StartSample } from "./phases/startup.js"
import { benchTraced } from "./phases/tracing.js"
import { measureRouting, renderRouting, startCluster } from "./lib/cluster.js"
import { anyFailed, type Outcome, type PhaseResults, renderMarkdown, type ServerResult } from "./report.js"

const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}

type SharedPhase = "http" | "sse" | "sse-churn" | "disconnect" | "disconnect-load" | "http-churn"
type Runner<T> = (server: RunningServer, options: Options, deadline: number) => Promise<T>

/** The phases that share one server process, in the order they run. */
const SHARED: ReadonlyArray<readonly [SharedPhase, Runner<unknown>]> = [
  ["http", benchStreamable],
  ["sse", benchSse],
  ["sse-churn", benchSseChurn],
  ["disconnect", benchDisconnect],
  ["disconnect-load", benchDisconnectUnderLoad],
  // Last: it leaves dropped Streamable sessions behind in servers without idle expiry.
  ["http-churn", benchStreamableChurn]
]

const attempt = async <T>(label: string, run: () => Promise<T>): Promise<Outcome<T>> => {
  const started = performance.now()
  try {
    const value = await run()
    log(`  ${label}: done in ${((performance.now() - started) / 1000).toFixed(1)}s`)
    return { ok: true, value }
  } catch (error) {
    log(`  ${label}: FAILED ${errorMessage(error)}`)
    return { ok: false, error: errorMessage(error) }
  }
}

/** The transport each phase drives; a server that lacks it skips the phase. */
const TRANSPORT_OF: Readonly<Record<Phase, Transport | undefined>> = {
  http: "streamable",
  "http-churn": "streamable",
  sse: "sse",
  "sse-churn": "sse",
  idle: "sse",
  disconnect: "sse",
  "disconnect-load": "sse",
  startup: undefined,
  cluster: undefined
}

/** The phases of `options` that `spec` can run (the cluster's is the demo's alone, run once after the servers). */
const phasesOf = (spec: ServerSpec, options: Options): ReadonlySet<Phase> =>
  new Set([...options.phases].filter((phase) => {
    if (phase === "cluster") return false
    const transport = TRANSPORT_OF[phase]
    return transport === undefined || serves(spec, transport)
  }))

/** Starts a server; while start-up samples are wanted, it first idles for one (see phases/startup.ts). */
const launch = async (spec: ServerSpec, options: Options, samples: Array<StartSample>): Promise<RunningServer> => {
  const server = await startServer(spec, options.startTimeoutMs)
  log(`${spec.name}: pid ${server.pid} on port ${server.port} (listening after ${Math.round(server.startupMs)} ms)`)
  if (options.phases.has("startup") && samples.length < options.starts) {
    try {
      samples.push(await sampleStart(server))
    } catch (error) {
      await server.stop()
      throw error
    }
  }
  return server
}

/** Runs `phase` on `server`, with the server's last words in the error if it fails. */
const runPhase = <T>(
  phase: string,
  server: RunningServer,
  options: Options,
  run: Runner<T>
): Promise<Outcome<T>> =>
  attempt(phase, async () => {
    try {
      return await run(server, options, performance.now() + options.phaseTimeoutMs)
    } catch (error) {
      const output = lastLines(server)
      throw new Error(`${errorMessage(error)}${server.alive() ? "" : " (the server exited)"}${output === "" ? "" : `\n${output}`}`)
    }
  })

/** Runs `spec.prepare` if any; when it fails, every phase the server would have run fails with its error. */
const prepared = async (spec: ServerSpec, options: Options): Promise<ServerSpec | ServerResult> => {
  if (spec.prepare === undefined) return spec
  const outcome = await attempt(`${spec.name}: prepare`, () => spec.prepare!(log))
  if (outcome.ok) return outcome.value
  const failed = { ok: false, error: `could not prepare the server: ${outcome.error}` } as const
  const phases: PhaseResults = {}
  for (const phase of phasesOf(spec, options)) {
    ;(phases as Record<Phase, Outcome<unknown>>)[phase] = failed
  }
  return { name: spec.name, entry: spec.entry, transports: spec.transports, phases }
}

const benchServer = async (given: ServerSpec, options: Options): Promise<ServerResult> => {
  const ready = await prepared(given, options)
  if ("phases" in ready) return ready
  const spec: ServerSpec = options.cpuProf === undefined
    ? ready
    : { ...ready, nodeArgs: [...(ready.nodeArgs ?? []), "--cpu-prof", "--cpu-prof-dir", path.join(options.cpuProf, ready.name)] }
  const phases: PhaseResults = {}
  const nodeVersion = spec.node === undefined ? undefined : execFileSync(spec.node, ["--version"], { encoding: "utf8" }).trim()
  const result: ServerResult = { name: spec.name, entry: spec.entry, nodeVersion, transports: spec.transports, phases }
  log(`${spec.name}: ${spec.entry}`)
  const startSamples: Array<StartSample> = []
  const runs = phasesOf(spec, options)
  for (const phase of options.phases) {
    // The cluster's phase is no server's (it runs once, after them): nothing to say for it here.
    const transport = TRANSPORT_OF[phase]
    if (!runs.has(phase) && transport !== undefined) log(`  ${phase}: skipped, ${spec.name} does not serve ${transport}`)
  }

  const shared = SHARED.filter(([phase]) => runs.has(phase))
  let server: RunningServer | undefined
  try {
    for (const [phase, run] of shared) {
      if (server === undefined || !server.alive()) {
        if (server !== undefined) log(`${spec.name}: the server died; restarting it for ${phase}`)
        await server?.stop()
        server = undefined
        try {
          server = await launch(spec, options, startSamples)
        } catch (error) {
          phases[phase] = { ok: false, error: `the server did not start: ${errorMessage(error)}` }
          log(`  ${phase}: FAILED, the server did not start: ${errorMessage(error)}`)
          continue
        }
      }
      ;(phases as Record<Phase, Outcome<unknown>>)[phase] = await runPhase(phase, server, options, run)
    }
  } finally {
    await server?.stop()
  }

  if (options.traced && runs.has("http") && spec.name === "effect-mcp") {
    phases["http-traced"] = await attempt("http (traced)", () => benchTraced(spec, options))
  }

  if (runs.has("idle")) {
    let fresh: RunningServer | undefined
    try {
      fresh = await launch(spec, options, startSamples)
    } catch (error) {
      phases.idle = { ok: false, error: `the server did not start: ${errorMessage(error)}` }
      log(`  idle: FAILED, the server did not start: ${errorMessage(error)}`)
    }
    if (fresh !== undefined) {
      try {
        phases.idle = await runPhase("idle (fresh process)", fresh, options, benchIdle)
      } finally {
        await fresh.stop()
      }
    }
  }

  if (options.phases.has("startup")) {
    phases.startup = await attempt("startup", () => benchStartup(spec, options, startSamples))
    phases["startup-bundled"] = await attempt("startup (bundled)", async () => {
      const bundled = await bundleServer(spec)
      log(`${spec.name}: bundled into ${bundled.entry}`)
      return benchStartup(bundled, options, [])
    })
    const other = options.startupNode
    if (other !== undefined) {
      // Its own starts: the samples above ran on the harness's node.
      phases["startup-node"] = await attempt(`startup (node ${other.version})`, () =>
        benchStartup({ ...spec, node: other.path }, options, []))
    }
  }
  return result
}

/**
 * The cluster section: three demo instances and one redis-server, and the bare relay beside them; both transports
 * sent to the owner and routed to it, at the load phases' concurrency (see lib/cluster.ts).
 */
const benchCluster = async (options: Options) => {
  const cluster = await startCluster()
  try {
    return await measureRouting(cluster, [options.concurrency], options.calls, options.runs)
  } finally {
    cluster.stop()
  }
}

const main = async (): Promise<void> => {
  let options: Options | undefined
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n\n${usage()}`)
    process.exitCode = 2
    return
  }
  if (options === undefined) return
  killChildrenOnExit()
  const host = machine()
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  const started = performance.now()
  const results: Array<ServerResult> = []
  for (const spec of options.servers) results.push(await benchServer(spec, options))
  const cluster = options.phases.has("cluster") ? await attempt("cluster", () => benchCluster(options)) : undefined
  const wallSeconds = (performance.now() - started) / 1000
  log(`total ${wallSeconds.toFixed(1)}s`)
  const report = { date, machine: host, wallSeconds, options, results, cluster }
  process.stdout.write(renderMarkdown(report) + "\n")
  if (cluster !== undefined) {
    const lines = cluster.ok ? renderRouting(cluster.value, options.calls, options.runs) : [`### Cluster`, "", `FAILED: ${cluster.error}`]
    process.stdout.write("\n" + lines.join("\n") + "\n")
  }
  if (options.json !== undefined) {
    writeFileSync(options.json, JSON.stringify({ ...report, options: { ...options, phases: [...options.phases] } }, null, 2) + "\n")
    log(`wrote ${options.json}`)
  }
  if (anyFailed(results) || cluster?.ok === false) process.exitCode = 1
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
