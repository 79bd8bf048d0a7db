/**
 * Driving load and measuring what it cost the server: workers that each keep one operation in flight, a count
 * and a deadline that bound every loop, and the server's CPU time sampled around each measured run.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { errorMessage } from "./client.js"
import { type CpuSource, treeCpu } from "./proc.js"

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

export const sortedCopy = (values: ArrayLike<number>): Float64Array => Float64Array.from(values).sort()

export interface DriveResult {
  readonly latenciesMs: Float64Array
  /** The deadline stopped the run before `total` operations. */
  readonly truncated: boolean
}

/**
 * Runs `total` operations spread over the workers (one in flight per worker), stopping early at `deadline`
 * (performance.now()). One failed operation fails the run: the workers stop and it throws. A figure is only
 * worth what the run did, and a run that loses calls (a refusal, a timeout) measured something else; `--quick`
 * once let a quarter of its calls fail and still passed.
 */
export const drive = async (
  workers: ReadonlyArray<() => Promise<void>>,
  total: number,
  deadline: number
): Promise<DriveResult> => {
  const latencies = new Float64Array(total)
  let issued = 0
  let done = 0
  let failure: { readonly n: number; readonly message: string } | undefined
  let truncated = false
  await Promise.all(workers.map(async (operation) => {
    while (failure === undefined && issued < total) {
      if (performance.now() > deadline) {
        truncated = true
        break
      }
      const n = ++issued
      const start = performance.now()
      try {
        await operation()
        latencies[done++] = performance.now() - start
      } catch (error) {
        failure ??= { n, message: errorMessage(error) }
      }
    }
  }))
  if (failure !== undefined) {
    throw new Error(`operation ${failure.n} of ${total} failed (${done} had completed): ${failure.message}`)
  }
  return { latenciesMs: latencies.subarray(0, done), truncated }
}

export interface RunMetrics {
  /** Operations that completed (every one issued: a failure fails the run). */
  readonly operations: number
  readonly truncated: boolean
  readonly wallSeconds: number
  readonly perSecond: number
  /** Server process tree CPU per completed operation. */
  readonly serverCpuUs: number
  /** This driver's own CPU per operation: it shares the machine with the server. */
  readonly clientCpuUs: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/** The median run (by server CPU per operation), plus every run for the spread. */
export interface LoadMetrics extends RunMetrics {
  readonly cpuSource: CpuSource
  /** (max - min) / median of server CPU per operation over the runs, in percent. */
  readonly cpuSpreadPct: number
  readonly runs: ReadonlyArray<RunMetrics>
}

export interface MeasureOptions {
  readonly warmup: number
  readonly operations: number
  readonly runs: number
  readonly deadline: number
  /**
   * Wait this long after each run before sampling CPU: work the run caused but the server does after answering
   * (closing connections the clients dropped, ending sessions) belongs to the run.
   */
  readonly settleMs?: number
}

/**
 * Warmup once, then `runs` measured runs of `operations` operations, each with the server's CPU time sampled
 * around it. Several short runs and their median hold up better than one long run on a machine shared with
 * other work (including this driver).
 */
export const measureLoad = async (
  serverPid: number,
  workers: ReadonlyArray<() => Promise<void>>,
  options: MeasureOptions
): Promise<LoadMetrics> => {
  if (options.warmup > 0 && (await drive(workers, options.warmup, options.deadline)).truncated) {
    throw new Error("phase deadline hit during warmup")
  }
  const runs: Array<RunMetrics> = []
  let cpuSource: CpuSource = "schedstat"
  for (let i = 0; i < options.runs; i++) {
    if (options.settleMs !== undefined) await sleep(options.settleMs)
    const cpuBefore = treeCpu(serverPid)
    const clientBefore = process.cpuUsage()
    const start = performance.now()
    const run = await drive(workers, options.operations, options.deadline)
    const wallSeconds = (performance.now() - start) / 1000
    if (options.settleMs !== undefined) await sleep(options.settleMs)
    const clientCpu = process.cpuUsage(clientBefore)
    const cpuAfter = treeCpu(serverPid)
    cpuSource = cpuAfter.source
    const operations = run.latenciesMs.length
    if (operations === 0) break
    const sorted = sortedCopy(run.latenciesMs)
    runs.push({
      operations,
      truncated: run.truncated,
      wallSeconds,
      perSecond: operations / wallSeconds,
      serverCpuUs: (cpuAfter.ns - cpuBefore.ns) / 1000 / operations,
      clientCpuUs: (clientCpu.user + clientCpu.system) / operations,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99)
    })
    if (run.truncated) break
  }
  if (runs.length === 0) throw new Error("no operation completed")
  const byCpu = [...runs].sort((a, b) => a.serverCpuUs - b.serverCpuUs)
  const median = byCpu[Math.floor((byCpu.length - 1) / 2)]!
  const spread = (byCpu[byCpu.length - 1]!.serverCpuUs - byCpu[0]!.serverCpuUs) / median.serverCpuUs
  return {
    ...median,
    truncated: runs.some((run) => run.truncated),
    cpuSource,
    cpuSpreadPct: spread * 100,
    runs
  }
}
