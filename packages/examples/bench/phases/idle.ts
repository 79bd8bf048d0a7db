/**
 * Row 4: memory per idle legacy SSE session, on a fresh server process (after load phases the V8 heap has room
 * to absorb the sessions without RSS growing at all, which made the delta noise).
 *
 * A few sessions are opened first and kept out of the count, so lazy loading and compilation of the SSE path
 * are not billed to the sessions. Then S sessions are opened (64 at a time, under the listen backlog) and left
 * idle; RSS is sampled before and after until it stops moving. KiB per session = RSS delta / sessions opened.
 */
import * as http from "node:http"
import { errorMessage, SseSession } from "../lib/client.js"
import type { Options } from "../lib/options.js"
import { settledRss } from "../lib/proc.js"
import { type RunningServer } from "../lib/servers.js"

const OPEN_PARALLELISM = 64
const WARM_SESSIONS = 20

export interface IdleMetrics {
  readonly opened: number
  readonly failed: number
  readonly rssBeforeKiB: number
  readonly rssAfterKiB: number
  readonly kibPerSession: number
  /** False when RSS was still moving at the end of a wait. */
  readonly settled: boolean
  readonly firstError?: string
}

export const benchIdle = async (server: RunningServer, options: Options, deadline: number): Promise<IdleMetrics> => {
  const agent = new http.Agent({ keepAlive: false })
  const warm: Array<SseSession> = []
  const sessions: Array<SseSession> = []
  let failed = 0
  let firstError: string | undefined
  try {
    for (let i = 0; i < WARM_SESSIONS && performance.now() < deadline; i++) warm.push(await SseSession.open(agent, server.port))
    const before = await settledRss(server.pid, { minMs: 1000, maxMs: options.idleSettleMaxMs })
    let next = 0
    await Promise.all(Array.from({ length: Math.min(OPEN_PARALLELISM, options.sessions) }, async () => {
      while (next < options.sessions && performance.now() < deadline && failed <= options.sessions / 10) {
        next++
        try {
          sessions.push(await SseSession.open(agent, server.port))
        } catch (error) {
          failed++
          firstError ??= errorMessage(error)
        }
      }
    }))
    if (sessions.length === 0) throw new Error(`no idle session could be opened: ${firstError ?? "?"}`)
    if (failed > options.sessions / 10) throw new Error(`${failed} sessions failed to open, first: ${firstError ?? "?"}`)
    const after = await settledRss(server.pid, { minMs: 1000, maxMs: options.idleSettleMaxMs })
    const lost = sessions.filter((s) => s.closed).length
    if (lost > 0) throw new Error(`${lost} idle sessions were closed by the server`)
    return {
      opened: sessions.length,
      failed,
      rssBeforeKiB: before.kib,
      rssAfterKiB: after.kib,
      kibPerSession: (after.kib - before.kib) / sessions.length,
      settled: before.settled && after.settled,
      ...(firstError === undefined ? {} : { firstError })
    }
  } finally {
    for (const session of [...warm, ...sessions]) session.disconnect()
    agent.destroy()
  }
}
