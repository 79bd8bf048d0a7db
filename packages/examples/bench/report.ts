/**
 * The markdown report: one table, a column per server plus ratio columns (each server / bare, effect-mcp / each
 * other MCP library), a row per figure; then the disconnect phase by moment of disconnect, notes and problems.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { PER_ADDRESS } from "../harness/loopback.js"
import type { LoadMetrics } from "./lib/load.js"
import type { Options, Phase } from "./lib/options.js"
import { serves, type Transport } from "./lib/servers.js"
import type { machine } from "./lib/proc.js"
import type { DisconnectMetrics, Mode, Summary } from "./phases/disconnect.js"
import type { IdleMetrics } from "./phases/idle.js"
import type { StartupMetrics } from "./phases/startup.js"

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string }

export interface PhaseResults {
  /** Row 7 for the entry as installed (one file per module). */
  startup?: Outcome<StartupMetrics>
  /** Row 7 for the entry bundled into one file (lib/bundle.ts); run with the `startup` phase. */
  "startup-bundled"?: Outcome<StartupMetrics>
  /** Row 7 as installed, on the node of `--startup-node`; run with the `startup` phase. */
  "startup-node"?: Outcome<StartupMetrics>
  http?: Outcome<LoadMetrics>
  /** Row 1 with tracing on (`--traced`, effect-mcp only); run with the `http` phase. */
  "http-traced"?: Outcome<LoadMetrics>
  sse?: Outcome<LoadMetrics>
  idle?: Outcome<IdleMetrics>
  "sse-churn"?: Outcome<LoadMetrics>
  "http-churn"?: Outcome<LoadMetrics>
  disconnect?: Outcome<DisconnectMetrics>
  "disconnect-load"?: Outcome<DisconnectMetrics>
}

export interface ServerResult {
  readonly name: string
  readonly entry: string
  /** The node it ran on, when not the harness's (`--version` output). */
  readonly nodeVersion?: string | undefined
  /** What it serves; a phase over another transport was not run. */
  readonly transports?: ReadonlyArray<Transport> | undefined
  readonly phases: PhaseResults
}

export interface Report {
  readonly date: string
  readonly machine: ReturnType<typeof machine>
  readonly wallSeconds: number
  readonly options: Options
  readonly results: ReadonlyArray<ServerResult>
}

/** A result of a server: one per phase, plus `startup-bundled` and `startup-node`, which `startup` also runs. */
type Key = keyof PhaseResults

/** The phase (of `--phases`) that produces a result. */
const phaseOf = (key: Key): Phase =>
  key === "startup-bundled" || key === "startup-node" ? "startup" : key === "http-traced" ? "http" : key

/** Which node the figures of `startup-node` are of. */
const otherNode = (options: Options): string => options.startupNode?.version ?? "another node"

type Metrics<K extends Key> = PhaseResults[K] extends Outcome<infer T> | undefined ? T : never

interface Row<K extends Key = Key> {
  readonly label: (options: Options) => string
  /** Which result of a server the row reads. */
  readonly key: K
  readonly value: (m: Metrics<K>) => number
  /** Marked `*`: errors, a deadline hit, memory that did not settle. */
  readonly doubtful?: (m: Metrics<K>) => boolean
}

const row = <K extends Key>(r: Row<K>): Row => r as unknown as Row

// A failed operation fails its phase (no figure at all), so a figure is only in doubt for these reasons.
const loadDoubt = (m: LoadMetrics) => m.truncated
const disconnectDoubt = (m: DisconnectMetrics) => m.truncated

const ROWS: ReadonlyArray<Row> = [
  row({ key: "http", label: () => "1. Streamable HTTP `tools/call`, µs server CPU per call", value: (m) => m.serverCpuUs, doubtful: loadDoubt }),
  row({ key: "http", label: () => "2. Streamable HTTP `tools/call`, p99 latency ms", value: (m) => m.p99Ms, doubtful: loadDoubt }),
  row({
    key: "http-traced",
    label: () => "1t. Row 1 with tracing on (`--otel`, OTLP/HTTP to a sink), µs server CPU per call",
    value: (m) => m.serverCpuUs,
    doubtful: loadDoubt
  }),
  row({ key: "sse", label: () => "3. Legacy SSE `tools/call`, µs server CPU per call", value: (m) => m.serverCpuUs, doubtful: loadDoubt }),
  row({
    key: "idle",
    label: (o) => `4. Idle SSE session (initialized), KiB RSS per session (${o.sessions} sessions)`,
    value: (m) => m.kibPerSession,
    doubtful: (m) => !m.settled
  }),
  row({ key: "sse-churn", label: () => "5. SSE churn, ms server CPU per cycle", value: (m) => m.serverCpuUs / 1000, doubtful: loadDoubt }),
  row({
    key: "http-churn",
    label: () => "6. Streamable churn (½ DELETE, ½ dropped), ms server CPU per cycle",
    value: (m) => m.serverCpuUs / 1000,
    doubtful: loadDoubt
  }),
  row({ key: "startup", label: () => "7. RSS after start + 1 s idle, MiB, as installed", value: (m) => m.rssMiB }),
  row({ key: "startup-bundled", label: () => "7. RSS after start + 1 s idle, MiB, bundled", value: (m) => m.rssMiB }),
  row({
    key: "startup",
    label: () => "7. Start-up, spawn → first accepted connection, ms, as installed",
    value: (m) => m.startupMs
  }),
  row({
    key: "startup-bundled",
    label: () => "7. Start-up, spawn → first accepted connection, ms, bundled",
    value: (m) => m.startupMs
  }),
  row({
    key: "startup-node",
    label: (o) => `7. RSS after start + 1 s idle, MiB, as installed, on Node ${otherNode(o)}`,
    value: (m) => m.rssMiB
  }),
  row({
    key: "startup-node",
    label: (o) => `7. Start-up, spawn → first accepted connection, ms, as installed, on Node ${otherNode(o)}`,
    value: (m) => m.startupMs
  }),
  row({ key: "disconnect", label: () => "8. Disconnect → 404, quiet, p50 ms", value: (m) => m.p50Ms, doubtful: disconnectDoubt }),
  row({ key: "disconnect", label: () => "8. Disconnect → 404, quiet, p99 ms", value: (m) => m.p99Ms, doubtful: disconnectDoubt }),
  row({ key: "disconnect-load", label: () => "8. Disconnect → 404 under load, p50 ms", value: (m) => m.p50Ms, doubtful: disconnectDoubt }),
  row({ key: "disconnect-load", label: () => "8. Disconnect → 404 under load, p99 ms", value: (m) => m.p99Ms, doubtful: disconnectDoubt }),
  row({
    key: "disconnect-load",
    label: (o) => `8. **Late 202s** under load: POSTs sent ≥ ${o.lateMs} ms after the disconnect and accepted`,
    value: (m) => m.lateSent,
    doubtful: disconnectDoubt
  }),
  row({
    key: "disconnect-load",
    label: (o) => `8. Late 202s under load, by arrival of the 202 ≥ ${o.lateMs} ms (upper bound)`,
    value: (m) => m.lateAnswered,
    doubtful: disconnectDoubt
  }),
  row({
    key: "disconnect-load",
    label: (o) => `8. Sessions with no 404 within ${o.pollTimeoutMs / 1000} s of the disconnect, under load`,
    value: (m) => m.neverNotFound,
    doubtful: disconnectDoubt
  })
]

const format = (value: number): string => {
  if (!Number.isFinite(value)) return "n/a"
  if (Number.isInteger(value)) return value.toLocaleString("en-US")
  const abs = Math.abs(value)
  return abs >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(abs >= 10 ? 1 : 2)
}

const formatRatio = (a: number | undefined, b: number | undefined): string => {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return "—"
  const r = a / b
  return `${r.toFixed(r >= 10 ? 0 : r >= 1 ? 1 : 2)}×`
}

/** The figure of a row for a server, or why there is none. */
const figure = (r: ServerResult, row: Row): { value?: number; text: string } => {
  const outcome = r.phases[row.key] as Outcome<never> | undefined
  if (outcome === undefined) return { text: "—" }
  if (!outcome.ok) return { text: "failed" }
  const value = row.value(outcome.value)
  const mark = row.doubtful?.(outcome.value) === true ? "*" : ""
  return Number.isFinite(value) ? { value, text: format(value) + mark } : { text: "n/a" + mark }
}

/** Ratio columns: every server / bare, then effect-mcp / every other server but bare. */
const ratioPairs = (results: ReadonlyArray<ServerResult>): Array<readonly [ServerResult, ServerResult]> => {
  const pairs: Array<readonly [ServerResult, ServerResult]> = []
  const bare = results.find((r) => r.name === "bare")
  if (bare !== undefined) for (const r of results) if (r !== bare) pairs.push([r, bare])
  const ours = results.find((r) => r.name === "effect-mcp")
  if (ours !== undefined) for (const r of results) if (r !== bare && r !== ours) pairs.push([ours, r])
  return pairs
}

/** What sets a server's figures apart: another node, a transport it lacks. */
const serverNotes = (results: ReadonlyArray<ServerResult>): string =>
  results.flatMap((r) => [
    ...(r.nodeVersion === undefined
      ? []
      : [`${r.name} runs on Node ${r.nodeVersion} in every row, so its row 7 (and, less, its CPU figures) reflect that node too.`]),
    ...(serves(r, "sse") ? [] : [`${r.name} serves no legacy HTTP+SSE: its rows 3, 4, 5 and 8 say —.`])
  ]).map((note) => ` ${note}`).join("")

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

const MODE_ORDER: ReadonlyArray<Mode> = ["pre-endpoint", "at-endpoint", "after-init", "mid-call"]

const modeTable = (results: ReadonlyArray<ServerResult>, options: Options): Array<string> => {
  const withLoad = results.flatMap((r) => {
    const outcome = r.phases["disconnect-load"]
    return outcome?.ok === true ? [[r.name, outcome.value] as const] : []
  })
  if (withLoad.length === 0) return []
  const lines = [
    `Disconnect under load, by moment of disconnect (probed / sessions; p50 / p99 ms to 404; late 202s sent / arrived ≥ ${options.lateMs} ms; no 404):`,
    "",
    `| server | ${MODE_ORDER.join(" | ")} |`,
    `|---|${MODE_ORDER.map(() => "---").join("|")}|`
  ]
  const cell = (s: Summary | undefined): string =>
    s === undefined
      ? "—"
      : `${s.probed}/${s.sessions}; ${format(s.p50Ms)} / ${format(s.p99Ms)}; ${s.lateSent} / ${s.lateAnswered}; ${s.neverNotFound}`
  for (const [name, m] of withLoad) lines.push(`| ${name} | ${MODE_ORDER.map((mode) => cell(m.byMode[mode])).join(" | ")} |`)
  lines.push("")
  return lines
}

const problems = (results: ReadonlyArray<ServerResult>): Array<string> =>
  results.flatMap((r) => {
    const out: Array<string> = []
    for (const [phase, outcome] of Object.entries(r.phases) as Array<[Key, Outcome<unknown> | undefined]>) {
      if (outcome === undefined) continue
      if (!outcome.ok) {
        // First line says what happened; the last line of a server's output usually why.
        const lines = outcome.error.split("\n").filter((line) => line.trim() !== "")
        const why = lines.length > 1 ? ` … ${lines[lines.length - 1]!.trim()}` : ""
        out.push(`- **${r.name}** \`${phase}\` failed: ${lines[0] ?? ""}${why}`)
        continue
      }
      const m = outcome.value as Partial<LoadMetrics & DisconnectMetrics & IdleMetrics>
      const notes: Array<string> = []
      if (m.truncated === true) notes.push("hit the phase deadline")
      if (m.settled === false) notes.push("RSS had not settled")
      if (m.otherStatuses !== undefined && m.otherStatuses > 0) notes.push(`${m.otherStatuses} polls answered neither 2xx nor 404`)
      if (m.load !== undefined && m.load.startedPerSecond < 0.9 * m.load.rate) {
        notes.push(`the load reached ${m.load.startedPerSecond.toFixed(0)} of ${m.load.rate} cycles/s (the server fell behind)`)
      }
      if (notes.length > 0) out.push(`- **${r.name}** \`${phase}\`: ${notes.join(", ")}`)
    }
    return out
  })

export const renderMarkdown = (report: Report): string => {
  const { options, results } = report
  const m = report.machine
  const pairs = ratioPairs(results)
  const lines: Array<string> = ["## MCP server benchmark", ""]
  lines.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, load average ${m.loadAverage.map((l) => l.toFixed(2)).join(" ")} ` +
      `at start. Date: ${report.date}. Run took ${Math.round(report.wallSeconds)} s${options.quick ? " (**--quick**: tiny counts, figures meaningless)" : ""}.`,
    "",
    `Settings: C = ${options.concurrency}; calls: ${options.warmup} warmup + median of ${options.runs} × ${options.calls}; ` +
      `churn: ${options.churnWarmup} warmup + median of ${options.runs} × ${options.churnCycles} cycles; ` +
      `${options.sessions} idle sessions; ${options.starts} start(s); disconnect: ${options.disconnectSessions} sessions quiet, ` +
      `${options.loadedSessions} under a load of ${options.loadRate} SSE churn cycles per second (at most ${options.loadWorkers} at once).`,
    "",
    `Servers: ${
      results.map((r) =>
        `${r.name} = \`${path.relative(REPO_ROOT, r.entry)}\`${r.nodeVersion === undefined ? "" : ` on Node ${r.nodeVersion}`}`
      ).join(", ")
    }.`,
    ""
  )
  lines.push(
    `| figure (lower is better) | ${[...results.map((r) => r.name), ...pairs.map(([a, b]) => `${a.name} / ${b.name}`)].join(" | ")} |`,
    `|---|${[...results, ...pairs].map(() => "--:").join("|")}|`
  )
  for (const r of ROWS) {
    if (!options.phases.has(phaseOf(r.key))) continue
    if (r.key === "startup-node" && options.startupNode === undefined) continue
    const figures = new Map(results.map((result) => [result, figure(result, r)]))
    const ratios = pairs.map(([a, b]) => formatRatio(figures.get(a)?.value, figures.get(b)?.value))
    lines.push(`| ${r.label(options)} | ${[...results.map((result) => figures.get(result)!.text), ...ratios].join(" | ")} |`)
  }
  lines.push(
    "",
    "Server CPU is the CPU time of the server's process tree (all threads, from /proc), so the load generator's " +
      "own cost is left out. A cycle (rows 5, 6) is a whole short client life: open a session, initialize, " +
      "one `tools/call`, leave. Row 4's sessions each complete `initialize` and `notifications/initialized` " +
      "before they idle. Rows 4 and 6 hold many sessions at once, so their clients come from loopback source " +
      `addresses (127.0.0.2 and up, at most ${PER_ADDRESS} sessions on one), for every server alike: servers ` +
      "budget sessions per client address (effect-mcp: 1,000). Row 8 polls `ping` about every ms after destroying the GET socket of a legacy SSE " +
      "session; a late 202 is a message accepted into a session whose client had been gone for " +
      `${options.lateMs} ms or more. \`*\` = errors, a deadline hit or memory still moving (see Problems); ` +
      "`failed` = the phase failed; `—` = not run or no ratio. Row 7 is given twice: as installed (the entry and " +
      "its dependencies one file per module, as npm installs them) and bundled (the entry bundled by esbuild into " +
      "one ESM file plus chunks for what it imports on demand, `packages/examples/dist-bench/bundle/<name>/<name>.mjs`, started with plain node); every other row " +
      "runs the entry as installed. With `--startup-node`, row 7 as installed is also given on that node (the " +
      "median of `--starts` fresh processes; on Node 22 and later effect-mcp's demo caches its compiled modules on " +
      "disk, so every start after the first reads them back). The default servers are built JavaScript run with plain node; a .ts entry " +
      "given with `--entry` runs as `node --import tsx` (TypeScript compiled at load time counts in row 7 as " +
      "installed; its bundle is compiled ahead). Both the official server and effect-mcp answer these Streamable " +
      "HTTP calls with JSON (effect-mcp switches to an SSE body only when a handler sends progress or logs before " +
      "its answer, which `echo` does not)." + serverNotes(results),
    ""
  )
  lines.push(...modeTable(results, options))
  const issues = problems(results)
  if (issues.length > 0) lines.push("Problems:", "", ...issues, "")
  return lines.join("\n")
}

/** True when some phase failed: the run still reports everything, but exits non-zero. */
export const anyFailed = (results: ReadonlyArray<ServerResult>): boolean =>
  results.some((r) => Object.values(r.phases).some((outcome) => outcome !== undefined && !outcome.ok))
