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
  readonly errors: number
  readonly firstError: string | undefined
  /** The deadline stopped the run before `total` operations. */
  readonly truncated: boolean
}

/**
 * Runs `total` operations spread over the workers (one in flight per worker), stopping early at `deadline`
 * (performance.now()) or, with `maxErrors`, once more than that many failed (then it throws).
 */
export const drive = async (
  workers: ReadonlyArray<() => Promise<void>>,
  total: number,
  deadline: number,
  maxErrors: number = Math.max(10, Math.ceil(total / 100))
): Promise<DriveResult> => {
  const latencies = new Float64Array(total)
  let issued = 0
  let done = 0
  let errors = 0
  let firstError: string | undefined
  let truncated = false
  let stop = false
  await Promise.all(workers.map(async (operation) => {
    while (!stop && issued < total) {
      if (performance.now() > deadline) {
        truncated = true
        stop = true
        break
      }
      issued++
      const start = performance.now()
      try {
        await operation()
        latencies[done++] = performance.now() - start
      } catch (error) {
        errors++
        firstError ??= errorMessage(error)
        if (errors > maxErrors) stop = true
      }
    }
  }))
  if (errors > maxErrors) throw new Error(`${errors} failed operations, first: ${firstError ?? "?"}`)
  return { latenciesMs: latencies.subarray(0, done), errors, firstError, truncated }
}

export interface RunMetrics {
  /** Operations that completed. */
  readonly operations: number
  readonly errors: number
  readonly truncated: boolean
  readonly wallSeconds: number
  readonly perSecond: number
  /** Server process tree CPU per completed operation. */
  readonly serverCpuUs: number
  /** This driver's own CPU per operation: it shares the machine with the server. */
  readonly clientCpuUs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly firstError?: string
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
      errors: run.errors,
      truncated: run.truncated,
      wallSeconds,
      perSecond: operations / wallSeconds,
      serverCpuUs: (cpuAfter.ns - cpuBefore.ns) / 1000 / operations,
      clientCpuUs: (clientCpu.user + clientCpu.system) / operations,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      ...(run.firstError === undefined ? {} : { firstError: run.firstError })
    })
    if (run.truncated) break
  }
  if (runs.length === 0) throw new Error("no operation completed")
  const byCpu = [...runs].sort((a, b) => a.serverCpuUs - b.serverCpuUs)
  const median = byCpu[Math.floor((byCpu.length - 1) / 2)]!
  const spread = (byCpu[byCpu.length - 1]!.serverCpuUs - byCpu[0]!.serverCpuUs) / median.serverCpuUs
  return {
    ...median,
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    truncated: runs.some((run) => run.truncated),
    cpuSource,
    cpuSpreadPct: spread * 100,
    runs
  }
}
