/**
 * The background load of the `disconnect-load` phase, in a process of its own: SSE churn cycles (open, initialize,
 * call, disconnect) started at a fixed rate, at most `workers` at once, until the parent says stop (or the
 * deadline passes); then the counts go back over IPC.
 *
 * Why a fixed rate: every server gets the same work. A closed loop (each worker starting its next cycle when the
 * last ends) gives a faster server more cycles, so it was measured busier than a slower one.
 * Why a process: in the probe's process, the generator's own event loop delayed the probe's polls and timestamps.
 *
 * Run as `node --import tsx churnLoad.ts PORT WORKERS RATE DEADLINE_MS` by `fork` (phases/disconnect.ts).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { errorMessage } from "./client.js"
import { destroyAgents, sseAgents, sseCycle } from "../phases/churn.js"

/** What the load process reports when it stops. */
export interface LoadReport {
  /** Cycles completed. */
  readonly cycles: number
  /** Cycles per second actually started: below the rate asked for when `workers` were all busy. */
  readonly startedPerSecond: number
  readonly errors: number
  readonly firstError?: string
}

/** Upper bound on cycles, besides the deadline. */
const MAX_CYCLES = 1_000_000
/** A start more than this late is dropped, not made up for with a burst. */
const MAX_LAG_MS = 50

const main = async (): Promise<void> => {
  const [port, workers, rate, deadlineMs] = process.argv.slice(2).map(Number)
  if (
    port === undefined || workers === undefined || rate === undefined || deadlineMs === undefined ||
    [port, workers, rate, deadlineMs].some(isNaN) || rate <= 0
  ) {
    throw new Error("usage: churnLoad PORT WORKERS RATE DEADLINE_MS")
  }
  const begin = performance.now()
  const deadline = begin + deadlineMs
  const interval = 1000 / rate
  const agents = sseAgents(workers)
  let stop = false
  let started = 0
  let cycles = 0
  let errors = 0
  let inFlight = 0
  let firstError: string | undefined
  process.on("message", (message) => {
    if (message === "stop") stop = true
  })
  // The parent is gone: nothing would read the report.
  process.on("disconnect", () => {
    stop = true
  })
  const cycle = async () => {
    try {
      await sseCycle(port, agents, `load-${started}`)
      cycles++
    } catch (error) {
      errors++
      firstError ??= errorMessage(error)
    } finally {
      inFlight--
    }
  }
  process.send?.("started")
  let next = performance.now()
  while (!stop && started < MAX_CYCLES && performance.now() < deadline) {
    const now = performance.now()
    if (next > now) {
      await sleep(next - now)
      continue
    }
    next = Math.max(next + interval, now - MAX_LAG_MS)
    if (inFlight >= workers) continue
    inFlight++
    started++
    void cycle()
  }
  const elapsedS = (performance.now() - begin) / 1000
  while (inFlight > 0) await sleep(5)
  destroyAgents(agents)
  const report: LoadReport = {
    cycles,
    startedPerSecond: started / elapsedS,
    errors,
    ...(firstError === undefined ? {} : { firstError })
  }
  if (process.connected) process.send?.(report, () => process.exit(0))
  else process.exit(0)
}

main().catch((error: unknown) => {
  console.error(`churnLoad: ${errorMessage(error)}`)
  process.exit(1)
})
