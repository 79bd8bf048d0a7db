/**
 * Soak driver: a hundred thousand randomized client lives against the built demo, then proof that they
 * left nothing behind. `npm run soak -- --help` lists the options; `npm run soak -- --quick` is the CI run.
 *
 * The demo runs as a child process (`dist/main.js --idle-timeout MS`), measured from outside. In order:
 *
 * 1. warm-up cycles, within a share of `--seconds` (WARMUP_SHARE); once every session is gone, settled RSS is
 *    read (the baseline);
 * 2. the rest of the cycles, `--concurrency` at once, until `--cycles` or the rest of `--seconds` runs out: legacy
 *    SSE and Streamable HTTP sessions, and now and then (`--stdio-every`) a stdio demo process of its own. Each
 *    phase first asks for every way of ending a cycle (ENDINGS) once, then picks at random, and runs past the
 *    count until every way was seen or the time is up;
 * 3. checks: no live session once idle expiry (and the handshake timeout, for a session that never completed its
 *    handshake) has had its time (the demo logs its registry size on SIGUSR2);
 *    settled RSS within `--rss-tolerance` MiB of the baseline; every session id the run was given now gets 404,
 *    and there were enough of them; nothing logged at Error level; the server still up, and exiting 0 on SIGTERM;
 *    no failed cycle, at least `--min-cycles` after the warm-up, and every way of ending seen among them.
 *
 * A report goes to stdout, progress to stderr; the exit code is 1 when a check fails. Everything targets
 * 127.0.0.1, and every loop is bounded by a count and by time.
 */
import * as http from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { runDriver } from "../harness/children.js"
import { runCluster } from "./cluster.js"
import { checkGone, checkLines, describe, drain, Failures } from "./lib/checks.js"
import {
  type CycleContext,
  type CycleResult,
  type Ending,
  ENDINGS,
  HANDSHAKE_TIMEOUT_MS,
  sseCycle,
  stdioCycle,
  streamableCycle,
  type Transport
} from "./lib/cycles.js"
import { type Options, parseOptions, WARMUP_SHARE } from "./lib/options.js"
import { forCycle } from "./lib/random.js"
import { type Report, rssOf, type SoakServer, startServer } from "./lib/server.js"

const log = (message: string): void => {
  process.stderr.write(`[soak] ${message}\n`)
}

const MiB = 1024 * 1024
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`
const memory = (report: Report | undefined, key: "heapUsed" | "external"): string =>
  report === undefined ? "?" : mib(report[key])

/** What a cycle is to do: its transport, and its ending when the driver asks for one. */
type Plan =
  | { readonly transport: "sse"; readonly ending?: Ending<"sse"> }
  | { readonly transport: "streamable"; readonly ending?: Ending<"streamable"> }
  | { readonly transport: "stdio"; readonly ending?: Ending<"stdio"> }

/** A way a cycle ends on a transport, as the report names it: "stdio sigkill-mid-call". */
type Kind = string
const kindOf = (transport: Transport | "modern", ending: string): Kind => `${transport} ${ending}`

/** Every kind a run must exercise, in the report's order. */
const KINDS: ReadonlyArray<Required<Plan> & { readonly kind: Kind }> = [
  ...ENDINGS.sse.map(([ending]) => ({ transport: "sse" as const, ending, kind: kindOf("sse", ending) })),
  ...ENDINGS.streamable.map(([ending]) => ({ transport: "streamable" as const, ending, kind: kindOf("streamable", ending) })),
  ...ENDINGS.stdio.map(([ending]) => ({ transport: "stdio" as const, ending, kind: kindOf("stdio", ending) }))
]

/** What one phase (warm-up or the run) did: cycles by kind, and those started and not yet over. */
class Phase {
  /** Cycles that ended as their kind says, failed ones under "<transport> failed". */
  readonly cycles = new Map<Kind, number>()
  /** Cycles asked to end in a kind, still running: a kind is asked for again only once none is. */
  readonly running = new Map<Kind, number>()
  completed = 0
  failed = 0
  seconds = 0

  count(kind: Kind): number {
    return this.cycles.get(kind) ?? 0
  }

  /** Cycles that ended well (a failed one did less than it set out to do). */
  get succeeded(): number {
    return this.completed - this.failed
  }

  /** Kinds that never ran to their end in this phase. */
  get missing(): ReadonlyArray<Kind> {
    return KINDS.filter(({ kind }) => this.count(kind) === 0).map(({ kind }) => kind)
  }
}

interface Tally {
  readonly sessionIds: { sse: Array<string>; streamable: Array<string> }
  completed: number
}

/**
 * The first kind of this phase not yet seen and not running, among those that can start now (stdio within its
 * limit of processes): each kind is asked for as soon as a worker is free, so every kind runs early in a phase,
 * however its random weight and the phase's length fall, and again if its cycle failed.
 */
const unseenPlan = (phase: Phase, stdioFree: boolean): Plan | undefined => {
  const unseen = KINDS.filter(({ kind }) => phase.count(kind) === 0 && (phase.running.get(kind) ?? 0) === 0)
  // stdio first while a process may start: its cycles are the slowest, and the fewest may run at once.
  return (stdioFree ? unseen.find(({ transport }) => transport === "stdio") : undefined) ??
    unseen.find(({ transport }) => transport !== "stdio")
}

/**
 * Runs cycles `from` (inclusive) up to `until` (exclusive) or the deadline, `concurrency` at once; past `until`,
 * only those of kinds the phase has not seen yet.
 */
const runCycles = async (
  options: Options,
  ctx: CycleContext,
  tally: Tally,
  phase: Phase,
  failures: Failures,
  from: number,
  until: number,
  deadline: number
): Promise<number> => {
  let nextCycle = from
  let stdioRunning = 0
  const started = performance.now()
  const worker = async () => {
    while (Date.now() < deadline) {
      const stdioFree = stdioRunning < options.stdioConcurrency
      const unseen = unseenPlan(phase, stdioFree)
      if (nextCycle >= until) {
        if (until <= from) return
        // Past the count, only kinds not seen yet run (or are waited for), so a phase whose quick cycles used up
        // the count while slow ones (stdio) waited for a free process still sees every kind, within the deadline.
        if (phase.missing.length === 0) return
        if (unseen === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          continue
        }
      }
      const n = nextCycle++
      const random = forCycle(options.seed, n)
      let plan: Plan = unseen ?? { transport: random.chance(0.5) ? "sse" : "streamable" }
      if (plan.ending === undefined && random.chance(1 / options.stdioEvery) && stdioFree) plan = { transport: "stdio" }
      const transport = plan.transport
      const asked = plan.ending === undefined ? undefined : kindOf(transport, plan.ending)
      if (asked !== undefined) phase.running.set(asked, (phase.running.get(asked) ?? 0) + 1)
      if (transport === "stdio") stdioRunning++
      try {
        const result: CycleResult = plan.transport === "sse"
          ? await sseCycle(ctx, random, plan.ending)
          : plan.transport === "streamable"
          ? await streamableCycle(ctx, random, plan.ending)
          : await stdioCycle(random, plan.ending)
        const key = kindOf(result.transport, result.ending)
        phase.cycles.set(key, phase.count(key) + 1)
        if (result.transport === "sse") tally.sessionIds.sse.push(...result.sessionIds)
        if (result.transport === "streamable") tally.sessionIds.streamable.push(...result.sessionIds)
      } catch (error) {
        const [category, detail] = describe(error)
        failures.add(`${transport}: ${category}`, `cycle ${n}: ${detail}`)
        const key = kindOf(transport, "failed")
        phase.cycles.set(key, phase.count(key) + 1)
        phase.failed++
      } finally {
        if (transport === "stdio") stdioRunning--
        if (asked !== undefined) phase.running.set(asked, (phase.running.get(asked) ?? 1) - 1)
        phase.completed++
        tally.completed++
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  phase.seconds = (performance.now() - started) / 1000
  return nextCycle
}

interface Settled {
  readonly rss: number
  readonly min: number
  readonly max: number
  /** The heap in use, and what it holds outside (buffers), after the last collection. */
  readonly report: Report | undefined
}

/**
 * Watches RSS while the server idles, every 250 ms for `seconds`, after a full garbage collection at the start
 * and one halfway (SIGUSR2); the reading is the median of the last quarter.
 */
const settledRss = async (server: SoakServer, seconds: number): Promise<Settled> => {
  const samples: Array<number> = []
  const start = Date.now()
  const until = start + seconds * 1000
  let collected = 0
  let report: Report | undefined
  while (Date.now() < until) {
    if (collected < 2 && Date.now() >= start + collected * (seconds * 500)) {
      collected++
      report = await server.report()
    }
    const rss = rssOf(server.pid)
    if (rss === undefined) throw new Error("the server is gone")
    samples.push(rss)
    await sleep(250)
  }
  const tail = samples.slice(-Math.max(1, Math.floor(samples.length / 4))).sort((a, b) => a - b)
  return { rss: tail[Math.floor(tail.length / 2)]!, min: Math.min(...samples), max: Math.max(...samples), report }
}

const main = async (): Promise<number> => {
  const options = parseOptions(process.argv.slice(2))
  if (options === undefined) return 0
  if (options.cluster) return runCluster(options)
  const failures = new Failures(options.verbose)
  const checks: Array<readonly [string, boolean, string]> = []
  const started = performance.now()
  log(
    `${options.quick ? "quick" : "full"} run: ${options.cycles} cycles or ${options.seconds} s, ` +
      `${options.concurrency} at once, seed ${options.seed}; server idle timeout ${options.idleTimeoutMs} ms`
  )
  const server = await startServer(options.idleTimeoutMs)
  log(`demo: pid ${server.pid} on port ${server.port}`)
  // Pooled connections are dropped after 4 s idle, before the server's 5 s keep-alive timeout: Node's agent
  // ignores the server's Keep-Alive hint unless it has a timeout of its own, and reusing a connection the server
  // is closing fails with ECONNRESET, a race of HTTP keep-alive that says nothing about the server.
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency * 2, timeout: 4_000 })
  const ctx: CycleContext = { port: server.port, agent, idleTimeoutMs: options.idleTimeoutMs }
  const tally: Tally = { sessionIds: { sse: [], streamable: [] }, completed: 0 }
  const warm = new Phase()
  const run = new Phase()
  /**
   * Long enough for a call abandoned mid-way to end and its session to expire, and for a session whose handshake
   * never completed (a cycle that failed between `initialize` and `notifications/initialized`) to be closed by
   * the handshake timeout, swept a quarter of it later, whichever expiry the server applies first.
   */
  const drainMs = Math.max(options.idleTimeoutMs * 4, HANDSHAKE_TIMEOUT_MS * 1.25) + 10_000

  const progress = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000
    log(
      `${tally.completed} cycles in ${elapsed.toFixed(0)} s, ${failures.total} failures, ` +
        `RSS ${mib(rssOf(server.pid) ?? 0)}`
    )
  }, 10_000)
  try {
    // 1. Warm-up, within its share of the time, then the baseline.
    const warmup = Math.min(options.warmup, options.cycles)
    const warmupMs = options.seconds * 1000 * WARMUP_SHARE
    let next = await runCycles(options, ctx, tally, warm, failures, 0, warmup, Date.now() + warmupMs)
    const warmLive = await drain(server, drainMs)
    const before = await settledRss(server, options.settleSeconds)
    log(`after ${tally.completed} warm-up cycles and ${warmLive ?? "?"} live sessions: settled RSS ${mib(before.rss)}`)

    // 2. The run: what is left of `--seconds` once the warm-up's cycles had theirs, from now on, and never less
    // than the rest of the warm-up's share (cycles under way at the warm-up's deadline run on past it).
    const runDeadline = Date.now() + options.seconds * 1000 - Math.min(warm.seconds * 1000, warmupMs)
    next = await runCycles(options, ctx, tally, run, failures, next, options.cycles, runDeadline)
    log(`${tally.completed} cycles done; draining`)

    // 3. The checks.
    const live = await drain(server, drainMs)
    checks.push(["no live session after the run", live === 0, `${live ?? "no answer"} live`])
    // Read as the baseline was: after cycles and the drain, before the burst of 404 checks.
    const after = await settledRss(server, options.settleSeconds)
    const growth = after.rss - before.rss
    checks.push([
      `settled RSS within ${options.rssToleranceMiB} MiB of the baseline`,
      growth <= options.rssToleranceMiB * MiB,
      `${mib(before.rss)} -> ${mib(after.rss)} (${growth >= 0 ? "+" : ""}${mib(growth)})`
    ])
    const gone = await checkGone(server.port, agent, tally.sessionIds, options.concurrency, failures)
    // Nearly every HTTP cycle is given an id, and half of them are of each transport: a quarter of the minimum of
    // cycles, of each, leaves room for chance and still fails a check that looked at next to nothing (0/0).
    const minIds = Math.ceil(options.minCycles / 4)
    checks.push([
      `every old session id gets 404, at least ${minIds} of each HTTP transport checked`,
      gone.notGone === 0 && gone.sse >= minIds && gone.streamable >= minIds,
      `${gone.checked - gone.notGone}/${gone.checked} (${gone.sse} sse, ${gone.streamable} streamable)`
    ])
    const liveAfter = await drain(server, 5_000)
    checks.push(["the 404 checks opened nothing", liveAfter === 0, `${liveAfter ?? "no answer"} live`])
    checks.push(["no failed cycle", failures.total === 0, `${failures.total} failures`])
    checks.push([
      `at least ${options.minCycles} cycles after the warm-up`,
      run.succeeded >= options.minCycles,
      `${run.succeeded} in ${run.seconds.toFixed(1)} s (${run.failed} failed)`
    ])
    // Every way of ending a cycle, in the phase the memory check is about: a kind never seen is work not done.
    checks.push([
      `every cycle kind ran after the warm-up (${KINDS.length} kinds)`,
      run.missing.length === 0,
      run.missing.length === 0 ? "all seen" : `never: ${run.missing.join(", ")}`
    ])
    checks.push(["the server is up", server.alive(), server.alive() ? "up" : "died"])
    const exit = await server.stop(10_000)
    checks.push(["the server exits 0 on SIGTERM", exit === 0, `exit ${exit}`])
    const problems = server.logs.problemCount
    checks.push(["nothing logged at Error level", problems === 0, `${problems} lines`])

    // The report: every kind, those never seen included, and any other ending (expired, failed) after them.
    const others = [...new Set([...warm.cycles.keys(), ...run.cycles.keys()])]
      .filter((key) => !KINDS.some(({ kind }) => kind === key))
      .sort()
    const row = (key: Kind) => {
      const [transport, ...ending] = key.split(" ")
      return `| ${transport} | ${ending.join(" ")} | ${warm.count(key)} | ${run.count(key)} |`
    }
    const totals = (["sse", "streamable", "stdio"] as const).map((transport) => {
      const sum = (phase: Phase) =>
        [...phase.cycles].filter(([key]) => key.startsWith(`${transport} `)).reduce((n, [, count]) => n + count, 0)
      return `| ${transport} | all | ${sum(warm)} | ${sum(run)} |`
    })
    const lines = [
      `# Soak run (${options.quick ? "quick" : "full"}, seed ${options.seed})`,
      "",
      `Cycles: ${tally.completed} of ${options.cycles} (${warm.completed} of ${warmup} warm-up, ` +
      `${run.completed} after it), ${options.concurrency} at once; ` +
      `${
        next > options.cycles
          ? `all ran, and ${next - options.cycles} more for ways of ending not seen yet`
          : next === options.cycles
          ? "all ran"
          : `stopped by the ${options.seconds} s limit`
      }.`,
      `Duration: ${((performance.now() - started) / 1000).toFixed(1)} s in all, ${warm.seconds.toFixed(1)} s of ` +
      `warm-up cycles (none started after ${(warmupMs / 1000).toFixed(1)} s), ${run.seconds.toFixed(1)} s of cycles after it.`,
      `Server: idle timeout ${options.idleTimeoutMs} ms; logged ${
        [...server.logs.levels].map(([level, n]) => `${n} ${level}`).join(", ") || "nothing"
      }.`,
      "",
      "| transport | ending | warm-up | run |",
      "| --- | --- | ---: | ---: |",
      ...KINDS.map(({ kind }) => row(kind)),
      ...others.map(row),
      ...totals,
      "",
      `RSS (settled, median of the last quarter of ${options.settleSeconds} s): baseline ${mib(before.rss)} ` +
      `(range ${mib(before.min)}-${mib(before.max)}), ` +
      `end ${mib(after.rss)} (range ${mib(after.min)}-${mib(after.max)}).`,
      `After a full collection, heap in use ${memory(before.report, "heapUsed")} -> ` +
      `${memory(after.report, "heapUsed")}, external (buffers) ${memory(before.report, "external")} -> ` +
      `${memory(after.report, "external")}.`,
      "",
      ...checkLines(checks, failures)
    ]
    if (server.logs.problems.length > 0 || server.logs.strays.length > 0) {
      lines.push("", "Server output at Error level, and lines outside its log format:", "")
      lines.push(...[...server.logs.problems, ...server.logs.strays].map((l) => `    ${l.slice(0, 300)}`))
    }
    process.stdout.write(lines.join("\n") + "\n")
    return checks.every(([, ok]) => ok) ? 0 : 1
  } finally {
    clearInterval(progress)
    agent.destroy()
    if (server.alive()) await server.stop(5_000)
  }
}

runDriver(main, log)
