/**
 * Rows 1-3: `tools/call echo` under steady load, in one long-lived session per transport.
 *
 * - Streamable HTTP: one session (initialize + notifications/initialized), then C workers POST `tools/call`
 *   over a keep-alive agent; the reply (JSON or an SSE body) carries the result.
 * - Legacy HTTP+SSE: C sessions, one per worker; each POSTs to its endpoint and waits for the matching
 *   response on its event stream.
 */
import * as http from "node:http"
import {
  deleteStreamableSession,
  openStreamableSession,
  SseSession,
  streamableEcho
} from "../lib/client.js"
import { type LoadMetrics, measureLoad } from "../lib/load.js"
import type { Options } from "../lib/options.js"
import type { RunningServer } from "../lib/servers.js"

const measureOptions = (options: Options, deadline: number) => ({
  warmup: options.warmup,
  operations: options.calls,
  runs: options.runs,
  deadline
})

export const benchStreamable = async (server: RunningServer, options: Options, deadline: number): Promise<LoadMetrics> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  try {
    const session = await openStreamableSession(agent, server.port)
    let nextId = 1 // 0 was initialize; ids stay unique within the session
    const call = () => streamableEcho(agent, server.port, session, nextId++)
    const workers = Array.from({ length: options.concurrency }, () => call)
    const metrics = await measureLoad(server.pid, workers, measureOptions(options, deadline))
    await deleteStreamableSession(agent, server.port, session).catch(() => undefined)
    return metrics
  } finally {
    agent.destroy()
  }
}

export const benchSse = async (server: RunningServer, options: Options, deadline: number): Promise<LoadMetrics> => {
  const streamAgent = new http.Agent({ keepAlive: false })
  const postAgent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const sessions: Array<SseSession> = []
  try {
    for (let i = 0; i < options.concurrency && performance.now() < deadline; i++) {
      const session = await SseSession.open(streamAgent, server.port)
      sessions.push(session)
      await session.initialize(postAgent)
    }
    let counter = 0
    const workers = sessions.map((session) => () => session.echo(postAgent, `echo-${counter++}`))
    return await measureLoad(server.pid, workers, measureOptions(options, deadline))
  } finally {
    for (const session of sessions) session.disconnect()
    postAgent.destroy()
    streamAgent.destroy()
  }
}
