/**
 * Rows 5-6: sessions that come and go, C cycles at a time. A cycle is a whole (short) client life:
 *
 * - SSE churn: GET /sse, read the endpoint, POST initialize (answer on the stream),
 *   notifications/initialized, one `tools/call echo`, then destroy the GET's socket.
 * - Streamable churn: POST initialize (a new session), notifications/initialized, one `tools/call echo`, then
 *   DELETE the session (even cycles) or just forget it (odd cycles: a client that goes away without DELETE).
 *   The forgotten sessions stay until the server's idle expiry (30 minutes in the demo), so a full run leaves
 *   1,600 of them: past effect-mcp's budget of 1,000 sessions per client, which answered 429 from one address.
 *   They are what that many departed clients leave, so the cycles come from that many clients: spread over
 *   loopback source addresses (harness/loopback.ts), at most `PER_ADDRESS` forgotten sessions on one, for every
 *   server alike.
 *
 * Reported: the server's CPU per cycle, including the clean-up a cycle leaves behind (each run waits a moment
 * before the CPU is sampled).
 */
import * as http from "node:http"
import { addressesFor, PER_ADDRESS, sourceAddress } from "../../harness/loopback.js"
import {
  deleteStreamableSession,
  openStreamableSession,
  SseSession,
  streamableEcho
} from "../lib/client.js"
import { type LoadMetrics, measureLoad } from "../lib/load.js"
import type { Options } from "../lib/options.js"
import type { RunningServer } from "../lib/servers.js"

const SETTLE_MS = 300

/** Agents for SSE cycles: streams on fresh connections, POSTs on kept-alive ones. */
export interface SseAgents {
  readonly stream: http.Agent
  readonly post: http.Agent
}

export const sseAgents = (concurrency: number): SseAgents => ({
  stream: new http.Agent({ keepAlive: false }),
  post: new http.Agent({ keepAlive: true, maxSockets: concurrency })
})

export const destroyAgents = (agents: SseAgents): void => {
  agents.stream.destroy()
  agents.post.destroy()
}

/** One SSE session life; also the background load of the disconnect phase. */
export const sseCycle = async (port: number, agents: SseAgents, text: string): Promise<void> => {
  const session = await SseSession.open(agents.stream, port)
  try {
    await session.initialize(agents.post)
    await session.echo(agents.post, text)
  } finally {
    session.disconnect()
  }
}

/** Runs `cycle` C at a time, with the churn phases' counts. */
const measureChurn = (
  server: RunningServer,
  options: Options,
  deadline: number,
  cycle: () => Promise<void>
): Promise<LoadMetrics> =>
  measureLoad(server.pid, Array.from({ length: options.concurrency }, () => cycle), {
    warmup: options.churnWarmup,
    operations: options.churnCycles,
    runs: options.runs,
    deadline,
    settleMs: SETTLE_MS
  })

export const benchSseChurn = async (server: RunningServer, options: Options, deadline: number): Promise<LoadMetrics> => {
  const agents = sseAgents(options.concurrency)
  try {
    let counter = 0
    return await measureChurn(server, options, deadline, () => sseCycle(server.port, agents, `churn-${counter++}`))
  } finally {
    destroyAgents(agents)
  }
}

export const benchStreamableChurn = async (
  server: RunningServer,
  options: Options,
  deadline: number
): Promise<LoadMetrics> => {
  // Every other cycle forgets its session: the ones a run may leave behind, at most PER_ADDRESS per address.
  const cycles = options.churnWarmup + options.runs * options.churnCycles
  const agents = Array.from(
    { length: addressesFor(Math.ceil(cycles / 2), PER_ADDRESS) },
    (_, i) => new http.Agent({ keepAlive: true, maxSockets: options.concurrency, localAddress: sourceAddress(i) })
  )
  try {
    let counter = 0
    const cycle = async () => {
      const n = counter++
      // Cycles 2k (DELETE) and 2k+1 (forgotten) share an address, so the forgotten ones spread evenly.
      const agent = agents[Math.floor(n / 2) % agents.length]!
      const session = await openStreamableSession(agent, server.port)
      await streamableEcho(agent, server.port, session, 1)
      if (n % 2 === 0) await deleteStreamableSession(agent, server.port, session)
    }
    return await measureChurn(server, options, deadline, cycle)
  } finally {
    for (const agent of agents) agent.destroy()
  }
}
