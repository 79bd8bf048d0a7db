/**
 * Row 7: start-up time (spawn to the first accepted TCP connection) and the process's RSS once it has
 * listened and idled for a second; the median over `--starts` fresh processes.
 *
 * Every process the harness launches is a fresh start, so the samples come from the processes the other phases
 * need anyway (sampled before they do anything), topped up with processes started only for this.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { percentile, sortedCopy } from "../lib/load.js"
import type { Options } from "../lib/options.js"
import { treeRssKiB } from "../lib/proc.js"
import { type RunningServer, type ServerSpec, startServer } from "../lib/servers.js"

const IDLE_AFTER_START_MS = 1000

export interface StartSample {
  readonly startupMs: number
  readonly rssMiB: number
}

export interface StartupMetrics extends StartSample {
  readonly samples: ReadonlyArray<StartSample>
}

/** Lets a just-started server idle for a second, then reads its RSS. */
export const sampleStart = async (server: RunningServer): Promise<StartSample> => {
  await sleep(IDLE_AFTER_START_MS)
  if (!server.alive()) throw new Error("the server exited while idle after start")
  return { startupMs: server.startupMs, rssMiB: treeRssKiB(server.pid) / 1024 }
}

/** Tops `samples` up to `--starts` with dedicated starts, then takes the medians. */
export const benchStartup = async (
  spec: ServerSpec,
  options: Options,
  samples: ReadonlyArray<StartSample>
): Promise<StartupMetrics> => {
  const all = [...samples]
  while (all.length < options.starts) {
    const server = await startServer(spec, options.startTimeoutMs)
    try {
      all.push(await sampleStart(server))
    } finally {
      await server.stop()
    }
  }
  return {
    startupMs: percentile(sortedCopy(all.map((s) => s.startupMs)), 0.5),
    rssMiB: percentile(sortedCopy(all.map((s) => s.rssMiB)), 0.5),
    samples: all
  }
}
