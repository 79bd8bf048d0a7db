/**
 * Row 4: memory per idle legacy SSE session, on a fresh server process (after load phases the V8 heap has room
 * to absorb the sessions without RSS growing at all, which made the delta noise).
 *
 * An idle session here is what an idle legacy client holds: its GET /sse stream open, after `initialize` and
 * `notifications/initialized` over the POST endpoint the stream named. A few sessions are opened first and kept
 * out of the count, so lazy loading and compilation of the SSE and handshake paths are not billed to the
 * sessions. Then S sessions are opened (64 at a time, under the listen backlog) and left idle; RSS is sampled
 * before and after until it stops moving. KiB per session = RSS delta / S.
 *
 * What changed, and why (the per-client budgets): this phase used to open the S streams from 127.0.0.1 and never
 * POST. effect-mcp now closes a session whose handshake has not completed after 10 s, and refuses one address
 * past 1,000 sessions (429), so the old phase measured refusals and expiries, not idle sessions; and a session
 * nobody initialized is not what an idle client holds anyway. Now every session completes the handshake first,
 * against every server alike, and the sessions are spread over loopback source addresses (127.0.0.2, .3, ...;
 * see harness/loopback.ts), at most `PER_ADDRESS` on one, as that many clients would be. The POSTs go over
 * pooled connections that are closed before each RSS reading, so only the streams are held while it is taken.
 * Every session must open: one failure fails the phase, and so does the deadline coming first.
 */
import * as http from "node:http"
import { addressesFor, sourceAddress } from "../../harness/loopback.js"
import { errorMessage, SseSession } from "../lib/client.js"
import type { Options } from "../lib/options.js"
import { settledRss } from "../lib/proc.js"
import { type RunningServer } from "../lib/servers.js"

const OPEN_PARALLELISM = 64
const WARM_SESSIONS = 20
/** Pooled POST connections per source address while sessions shake hands. */
const POST_SOCKETS = 4

export interface IdleMetrics {
  readonly opened: number
  /** Loopback source addresses the sessions were spread over. */
  readonly addresses: number
  readonly rssBeforeKiB: number
  readonly rssAfterKiB: number
  readonly kibPerSession: number
  /** False when RSS was still moving at the end of a wait. */
  readonly settled: boolean
}

/** One source address: its streams on connections of their own, its handshake POSTs on pooled ones. */
interface Client {
  readonly stream: http.Agent
  post: http.Agent
}

const postAgent = (localAddress: string): http.Agent =>
  new http.Agent({ keepAlive: true, maxSockets: POST_SOCKETS, localAddress })

/**
 * Opens sessions `from` to `until` (exclusive), session n from client n mod clients, OPEN_PARALLELISM at a time,
 * each initialized; stops at the first failure (and throws) or at the deadline (and throws).
 */
const openSessions = async (
  server: RunningServer,
  clients: ReadonlyArray<Client>,
  from: number,
  until: number,
  deadline: number,
  into: Array<SseSession>
): Promise<void> => {
  let next = from
  let failure: string | undefined
  const open = async (n: number): Promise<void> => {
    const client = clients[n % clients.length]!
    const session = await SseSession.open(client.stream, server.port)
    into.push(session)
    await session.initialize(client.post)
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_PARALLELISM, until - from) }, async () => {
    while (failure === undefined && next < until && performance.now() < deadline) {
      const n = next++
      try {
        await open(n)
      } catch (error) {
        failure ??= `session ${n - from + 1}: ${errorMessage(error)}`
      }
    }
  }))
  if (failure !== undefined) throw new Error(`an idle session failed to open (${next - from} tried): ${failure}`)
  if (next < until) throw new Error(`the phase deadline came after ${next - from} of ${until - from} sessions`)
}

/** Closes the pooled POST connections, so the RSS reading sees the sessions' streams only. */
const dropPostConnections = (clients: ReadonlyArray<Client>, addresses: ReadonlyArray<string>): void => {
  clients.forEach((client, i) => {
    client.post.destroy()
    client.post = postAgent(addresses[i]!)
  })
}

export const benchIdle = async (server: RunningServer, options: Options, deadline: number): Promise<IdleMetrics> => {
  const total = WARM_SESSIONS + options.sessions
  const addresses = Array.from({ length: addressesFor(total) }, (_, i) => sourceAddress(i))
  const clients: Array<Client> = addresses.map((localAddress) => ({
    stream: new http.Agent({ keepAlive: false, localAddress }),
    post: postAgent(localAddress)
  }))
  const warm: Array<SseSession> = []
  const sessions: Array<SseSession> = []
  try {
    await openSessions(server, clients, 0, WARM_SESSIONS, deadline, warm)
    dropPostConnections(clients, addresses)
    const before = await settledRss(server.pid, { minMs: 1000, maxMs: options.idleSettleMaxMs })
    await openSessions(server, clients, WARM_SESSIONS, total, deadline, sessions)
    dropPostConnections(clients, addresses)
    const after = await settledRss(server.pid, { minMs: 1000, maxMs: options.idleSettleMaxMs })
    const lost = [...warm, ...sessions].filter((s) => s.closed).length
    if (lost > 0) throw new Error(`${lost} idle sessions were closed by the server`)
    return {
      opened: sessions.length,
      addresses: addresses.length,
      rssBeforeKiB: before.kib,
      rssAfterKiB: after.kib,
      kibPerSession: (after.kib - before.kib) / sessions.length,
      settled: before.settled && after.settled
    }
  } finally {
    for (const session of [...warm, ...sessions]) session.disconnect()
    for (const client of clients) {
      client.stream.destroy()
      client.post.destroy()
    }
  }
}
