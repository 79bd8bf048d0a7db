/**
 * Command-line options, with two presets: the full run (the defaults) and `--quick` (every phase with tiny
 * counts, so the harness is exercised in CI in well under a minute; its figures mean nothing).
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { type NumericOption, parseCommandLine, usageText } from "../../harness/options.js"
import { DEFAULT_SERVERS, nodeBinOf } from "./lineup.js"
import type { ServerSpec } from "./servers.js"

export const PHASES = [
  "startup",
  "http",
  "sse",
  "idle",
  "sse-churn",
  "http-churn",
  "disconnect",
  "disconnect-load",
  "cluster"
] as const
export type Phase = (typeof PHASES)[number]

export interface Options {
  readonly quick: boolean
  /** Whether the default line-up includes the peers (official SDK 2.4, Effect 4): full run yes, `--quick` no. */
  readonly peers: boolean
  /** C: concurrent workers of the load phases. */
  readonly concurrency: number
  readonly calls: number
  readonly warmup: number
  readonly runs: number
  /** Idle SSE sessions for the memory probe. */
  readonly sessions: number
  readonly idleSettleMaxMs: number
  readonly churnCycles: number
  readonly churnWarmup: number
  readonly starts: number
  readonly disconnectSessions: number
  readonly disconnectConcurrency: number
  readonly loadedSessions: number
  readonly loadedConcurrency: number
  readonly loadWorkers: number
  readonly loadRate: number
  readonly pollTimeoutMs: number
  readonly lateMs: number
  readonly servers: ReadonlyArray<ServerSpec>
  readonly phases: ReadonlySet<Phase>
  readonly json: string | undefined
  /** Where each server writes V8 CPU profiles (`--cpu-prof`), one folder per server. */
  readonly cpuProf: string | undefined
  /** Another node that row 7 also starts each server's entry with, as installed (`--startup-node`). */
  readonly startupNode: StartupNode | undefined
  readonly startTimeoutMs: number
  readonly phaseTimeoutMs: number
  /** `--traced`: row 1 again for effect-mcp with tracing on, exporting OTLP/HTTP to a sink (phases/tracing.ts). */
  readonly traced: boolean
}

/** A node binary and the version it reports. */
export interface StartupNode {
  readonly path: string
  readonly version: string
}

type Numeric = Exclude<keyof Options, "quick" | "peers" | "servers" | "phases" | "json" | "startupNode" | "cpuProf" | "traced">

const NUMERIC: ReadonlyArray<NumericOption<Numeric>> = [
  { key: "concurrency", flag: "concurrency", full: 50, quick: 8, min: 1, help: "C: concurrent workers of the load phases" },
  { key: "calls", flag: "calls", full: 5000, quick: 40, min: 1, help: "measured tools/call per run (http, sse)" },
  // 500 left the first measured run ~1.5x slower than the next ones (JIT).
  { key: "warmup", flag: "warmup", full: 2000, quick: 20, min: 0, help: "warmup calls before the measured runs" },
  { key: "runs", flag: "runs", full: 3, quick: 1, min: 1, help: "measured runs per load phase; the median is reported" },
  { key: "sessions", flag: "sessions", full: 2000, quick: 40, min: 1, help: "idle SSE sessions for the memory probe" },
  {
    key: "idleSettleMaxMs",
    flag: "idle-settle",
    full: 15,
    quick: 2,
    min: 1,
    scale: 1000,
    help: "longest wait (s) for RSS to settle in the idle phase"
  },
  { key: "churnCycles", flag: "churn-cycles", full: 1000, quick: 16, min: 1, help: "measured cycles per run (churn phases)" },
  { key: "churnWarmup", flag: "churn-warmup", full: 200, quick: 4, min: 0, help: "warmup cycles (churn phases)" },
  { key: "starts", flag: "starts", full: 3, quick: 1, min: 1, help: "fresh starts for the start-up figures (median)" },
  { key: "disconnectSessions", flag: "disconnect-sessions", full: 200, quick: 8, min: 1, help: "sessions probed, quiet server" },
  { key: "disconnectConcurrency", flag: "disconnect-concurrency", full: 4, quick: 2, min: 1, help: "probes at once, quiet" },
  { key: "loadedSessions", flag: "loaded-sessions", full: 1000, quick: 16, min: 1, help: "sessions probed under load" },
  { key: "loadedConcurrency", flag: "loaded-concurrency", full: 8, quick: 4, min: 1, help: "probes at once, under load" },
  { key: "loadWorkers", flag: "load-workers", full: 50, quick: 8, min: 1, help: "SSE churn cycles at once, at most, loading the server" },
  // Below what the official SDK keeps up with on the 2-core machine beside the load and the probe (about 350/s).
  { key: "loadRate", flag: "load-rate", full: 300, quick: 50, min: 1, help: "SSE churn cycles started per second, under load" },
  {
    key: "pollTimeoutMs",
    flag: "poll-timeout",
    full: 5,
    quick: 2,
    min: 1,
    scale: 1000,
    help: "give up polling a disconnected session after this many s"
  },
  { key: "lateMs", flag: "late-ms", full: 100, quick: 100, min: 1, help: "a 202 this many ms after the disconnect is late" },
  { key: "startTimeoutMs", flag: "start-timeout", full: 30, quick: 30, min: 1, scale: 1000, help: "s for a server to listen" },
  { key: "phaseTimeoutMs", flag: "phase-timeout", full: 120, quick: 20, min: 1, scale: 1000, help: "deadline of each phase (s)" }
]

export const usage = (): string =>
  usageText("Usage: npm run bench -- [options]        (or: tsx packages/examples/bench/run.ts [options])", [
    ["quick", "every phase with tiny counts (for CI; the figures mean nothing); leaves the peers out"],
    [
      "peers",
      "also the peers, what a user would pick instead: the official SDK 2.4 (official-2) and Effect\n" +
      "4.1's McpServer (effect-4: installed once with npm into .cache/bench-peers/, run on Node 24,\n" +
      "fetched by scripts/with-node.sh; it has no legacy SSE, so its SSE cells say —). On by\n" +
      "default; --quick leaves them out unless --peers is given"
    ],
    ["no-peers", "leave the peers out of the full run"],
    [
      "servers LIST",
      `comma-separated, in column order (default: ${DEFAULT_SERVERS.map((s) => s.name).join(",")};\n` +
      "a server named here runs whatever --peers says)"
    ],
    ["phases LIST", `comma-separated, any of ${PHASES.join(",")} (default: all)`],
    [
      "entry NAME=FILE",
      "start server NAME from FILE (.js: node FILE; .ts: node --import tsx FILE),\n" +
      "e.g. --entry effect-mcp=packages/examples/dist/main.js; a new NAME adds a server;\n" +
      "row 7 (startup) also bundles FILE with esbuild into dist-bench/bundle/NAME/NAME.mjs"
    ],
    [
      "startup-node NODE",
      "row 7 (startup) also starts each server as installed with this node: a binary, or a major\n" +
      "version (24) fetched with npm by scripts/with-node.sh, e.g. the newest LTS beside Node 20"
    ],
    ["traced", "with the http phase, row 1 again for effect-mcp started with --otel (tracing on, spans sent to a sink)"],
    ["json FILE", "also write every figure as JSON"],
    [
      "cpu-prof DIR",
      "run every server under node --cpu-prof, one profile per process in DIR/<name>/ (written when\n" +
      "it exits); `tsx packages/examples/bench/profile.ts DIR/<name>` sums self time by function. Best\n" +
      "with one phase (--phases http): the profile covers the process's whole life"
    ]
  ], NUMERIC)

/** `--startup-node`: a major version is fetched by scripts/with-node.sh; anything else is a node binary. */
const startupNodeOf = (value: string): StartupNode => {
  const binary = /^\d+$/.test(value) ? path.join(nodeBinOf(Number(value)), "node") : resolveUserPath(value)
  const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim()
  return { path: binary, version }
}

/** Relative paths are resolved against where the user ran npm (npm runs scripts from the package dir). */
const resolveUserPath = (file: string): string => path.resolve(process.env["INIT_CWD"] ?? process.cwd(), file)

/** Parses the command line; throws on a bad option. Returns undefined after printing `--help`. */
export const parseOptions = (argv: ReadonlyArray<string>): Options | undefined => {
  const parsed = parseCommandLine(argv, NUMERIC, {
    servers: { type: "string" },
    phases: { type: "string", default: PHASES.join(",") },
    entry: { type: "string", multiple: true, default: [] },
    json: { type: "string" },
    "startup-node": { type: "string" },
    "cpu-prof": { type: "string" },
    peers: { type: "boolean" },
    "no-peers": { type: "boolean" },
    traced: { type: "boolean", default: false }
  }, usage)
  if (parsed === undefined) return undefined
  const { values, quick, numbers } = parsed

  if (values.peers === true && values["no-peers"] === true) throw new Error("--peers and --no-peers contradict")
  const peers = values.peers === true || (!quick && values["no-peers"] !== true)
  const known = new Map<string, ServerSpec & { readonly peer?: boolean }>(DEFAULT_SERVERS.map((s) => [s.name, s]))
  for (const spec of values.entry as Array<string>) {
    const eq = spec.indexOf("=")
    if (eq <= 0) throw new Error(`--entry wants NAME=FILE, got ${spec}`)
    // A file of one's own: started as given, on the harness's node, with both transports.
    known.set(spec.slice(0, eq), { name: spec.slice(0, eq), entry: resolveUserPath(spec.slice(eq + 1)) })
  }
  const lineUp = [...known.values()].filter((s) => peers || s.peer !== true).map((s) => s.name)
  const names = (values.servers ?? lineUp.join(",")).split(",").map((s) => s.trim()).filter((s) => s !== "")
  const servers = names.map((name) => {
    const spec = known.get(name)
    if (spec === undefined) throw new Error(`unknown server ${name}; known: ${[...known.keys()].join(", ")}`)
    const { peer: _, ...rest } = spec
    return rest
  })
  const phases = new Set<Phase>()
  for (const name of (values.phases ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const phase = PHASES.find((p) => p === name)
    if (phase === undefined) throw new Error(`unknown phase ${name}; known: ${PHASES.join(", ")}`)
    phases.add(phase)
  }
  return {
    quick,
    peers,
    ...numbers,
    servers,
    phases,
    json: values.json === undefined ? undefined : resolveUserPath(values.json),
    cpuProf: values["cpu-prof"] === undefined ? undefined : resolveUserPath(values["cpu-prof"]),
    startupNode: values["startup-node"] === undefined ? undefined : startupNodeOf(values["startup-node"]),
    traced: values.traced === true
  }
}
