/**
 * Measuring a server from the outside through /proc (Linux only), so the servers need no instrumentation.
 *
 * A server may be a wrapper process (a shell, the tsx CLI re-spawning node), so CPU and memory are summed over
 * the whole process tree of the pid the harness spawned.
 */
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import * as os from "node:os"
import { setTimeout as sleep } from "node:timers/promises"
import { processTree, readProc, rssKiB, statFields } from "../../harness/proc.js"

/** Clock ticks per second, for utime/stime. */
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** `schedstat`: ns per thread (every thread: V8's GC and compiler threads do real work); `stat`: ticks. */
export type CpuSource = "schedstat" | "stat"

const processCpu = (pid: number): { ns: number; source: CpuSource } | undefined => {
  let tids: Array<string> = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  let total = 0
  let found = false
  for (const tid of tids) {
    const schedstat = readProc(`/proc/${pid}/task/${tid}/schedstat`)
    if (schedstat === undefined) continue
    total += Number(schedstat.split(" ")[0])
    found = true
  }
  if (found) return { ns: total, source: "schedstat" }
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const fields = statFields(stat)
  // utime and stime are fields 14 and 15 of the full line.
  return { ns: ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e9, source: "stat" }
}

/** CPU time used so far by the process tree, in ns. */
export const treeCpu = (root: number): { ns: number; source: CpuSource } => {
  let ns = 0
  let source: CpuSource = "schedstat"
  for (const pid of processTree(root)) {
    const cpu = processCpu(pid)
    if (cpu === undefined) continue
    ns += cpu.ns
    if (cpu.source === "stat") source = "stat"
  }
  return { ns, source }
}

/** Resident memory of the process tree, in KiB. */
export const treeRssKiB = (root: number): number => {
  let kib = 0
  for (const pid of processTree(root)) kib += rssKiB(pid) ?? 0
  return kib
}

export interface SettledRss {
  readonly kib: number
  /** False when `maxMs` passed before the samples agreed. */
  readonly settled: boolean
  readonly waitedMs: number
}

/**
 * Samples the tree's RSS every `intervalMs` until `window` consecutive samples lie within
 * max(`toleranceKiB`, 1 %) of each other (at least `minMs` after the call), or `maxMs` passes; returns the
 * median of the last window. Memory keeps moving for a while after a burst of work (lazy sweeping, freed pages
 * handed back), so one sample right after the work says little.
 */
export const settledRss = async (
  root: number,
  options: { readonly minMs: number; readonly maxMs: number; readonly intervalMs?: number; readonly window?: number }
): Promise<SettledRss> => {
  const intervalMs = options.intervalMs ?? 250
  const window = options.window ?? 5
  const toleranceKiB = 256
  const started = performance.now()
  const samples: Array<number> = []
  while (true) {
    samples.push(treeRssKiB(root))
    const last = samples.slice(-window)
    const waitedMs = performance.now() - started
    const spread = Math.max(...last) - Math.min(...last)
    const median = [...last].sort((a, b) => a - b)[Math.floor(last.length / 2)]!
    const stable = last.length === window && spread <= Math.max(toleranceKiB, median * 0.01)
    if ((stable && waitedMs >= options.minMs) || waitedMs >= options.maxMs) {
      return { kib: median, settled: stable, waitedMs }
    }
    await sleep(intervalMs)
  }
}

/** The machine line of the report: CPU model from /proc/cpuinfo, cores, Node version, load. */
export const machine = (): { cpuModel: string; cores: number; node: string; loadAverage: ReadonlyArray<number> } => {
  const cpuinfo = readProc("/proc/cpuinfo") ?? ""
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model.trim() ?? "unknown CPU"
  const processors = cpuinfo.match(/^processor\s*:/gm)?.length ?? 0
  return {
    cpuModel: model,
    cores: processors > 0 ? processors : os.availableParallelism(),
    node: process.version,
    loadAverage: os.loadavg()
  }
}
