/**
 * Row 8: how long a legacy SSE session outlives its client. A client opens a session, its GET socket is
 * destroyed, and it then POSTs `ping` to the session's endpoint about every millisecond until the server says
 * 404. Measured per session: disconnect to the first 404, and every POST accepted (2xx) well after the
 * disconnect, a "late 202": the server taking messages into a session whose client is gone.
 *
 * Two phases:
 * - `disconnect`: a quiet server; each session is initialized, then cut. A few sessions at a time.
 * - `disconnect-load`: the same while `--load-workers` SSE churn workers (in a process of their own,
 *   lib/churnLoad.ts) keep the server busy, with the moment
 *   of the disconnect varied per session (`Mode`). Late 202s are counted two ways: by when the POST was sent
 *   (then the server certainly accepted it after the limit) and by when its 202 arrived (an upper bound: under
 *   load the answer may simply have been slow to come back).
 *
 * Nothing is allowed to fail: a session that cannot be set up, a poll that gets no answer, a 429 (the harness
 * over one of the server's per-client budgets) or a failed cycle of the background load fails the phase, so the
 * figures always cover every session they say. Every session is probed from 127.0.0.1 and is cut within
 * seconds, and the load keeps at most `--load-workers` cycles (a stream and a POST connection each) open at
 * once, well under effect-mcp's per-client budgets at the default counts.
 */
import { fork } from "node:child_process"
import * as http from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { watchChild } from "../../harness/children.js"
import { jsonRpcRequest } from "../../harness/http.js"
import type { LoadReport } from "../lib/churnLoad.js"
import { errorMessage, SseSession } from "../lib/client.js"
import { percentile, sortedCopy } from "../lib/load.js"
import type { Options } from "../lib/options.js"
import type { RunningServer } from "../lib/servers.js"

/**
 * When the GET socket is destroyed:
 * - `pre-endpoint`: at a random moment between sending the GET and a little after the endpoint event usually
 *   arrives; only sessions whose endpoint arrived in time can be polled (the others are counted as unprobed).
 * - `at-endpoint`: synchronously on parsing the endpoint event, before anything is POSTed.
 * - `after-init`: after initialize and notifications/initialized, an idle session.
 * - `mid-call`: 0-2 ms after POSTing `tools/call sleep {ms: 0-20}`, with the call in flight.
 */
export type Mode = "pre-endpoint" | "at-endpoint" | "after-init" | "mid-call"
const MODES: ReadonlyArray<Mode> = ["pre-endpoint", "at-endpoint", "after-init", "mid-call"]

interface Probe {
  readonly mode: Mode
  /** The endpoint was known, so the session could be polled. */
  readonly probed: boolean
  /** Disconnect to the first 404 received; undefined when none came within the poll timeout. */
  readonly toNotFoundMs: number | undefined
  readonly polls: number
  /** 2xx answers to polls sent at least `lateMs` after the disconnect. */
  readonly lateSent: number
  /** 2xx answers that arrived at least `lateMs` after the disconnect (includes `lateSent`). */
  readonly lateAnswered: number
  /** Answers that were neither 2xx nor 404. */
  readonly otherStatuses: number
}

export interface Summary {
  readonly sessions: number
  readonly probed: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly lateSent: number
  readonly lateAnswered: number
  /** Sessions with at least one late 2xx (by send time). */
  readonly sessionsWithLate: number
  /** Probed sessions that never answered 404 within the poll timeout. */
  readonly neverNotFound: number
  readonly otherStatuses: number
  readonly polls: number
}

export interface DisconnectMetrics extends Summary {
  readonly lateMs: number
  readonly pollTimeoutMs: number
  readonly byMode: Partial<Record<Mode, Summary>>
  /** The deadline stopped the phase before every session was probed. */
  readonly truncated: boolean
  readonly load?: {
    readonly workers: number
    /** Cycles per second asked for. */
    readonly rate: number
    readonly cycles: number
    readonly startedPerSecond: number
  }
}

interface Context {
  readonly port: number
  readonly streamAgent: http.Agent
  readonly postAgent: http.Agent
  readonly options: Options
  /** Recent GET-to-endpoint times, for the `pre-endpoint` window. */
  readonly endpointTimes: Array<number>
}

const RECENT = 16

/** Median of the recent GET-to-endpoint times (2 ms before any is known). */
const typicalEndpointMs = (ctx: Context): number =>
  ctx.endpointTimes.length === 0 ? 2 : percentile(sortedCopy(ctx.endpointTimes), 0.5)

const recordEndpointTime = (ctx: Context, session: SseSession): void => {
  if (session.endpointAt === undefined) return
  ctx.endpointTimes.push(session.endpointAt - session.startedAt)
  if (ctx.endpointTimes.length > RECENT) ctx.endpointTimes.shift()
}

const POLL_INTERVAL_MS = 1

const pause = (ms: number): Promise<unknown> => (ms < 1 ? new Promise((resolve) => setImmediate(resolve)) : sleep(ms))

const probeSession = async (ctx: Context, mode: Mode): Promise<Probe> => {
  const session = SseSession.start(
    ctx.streamAgent,
    ctx.port,
    mode === "at-endpoint" ? (s) => s.disconnect() : undefined
  )
  let inFlight: Promise<unknown> = Promise.resolve()
  try {
    if (mode === "pre-endpoint") {
      await pause(Math.random() * typicalEndpointMs(ctx) * 1.5)
      session.disconnect()
    } else {
      await session.ready
      recordEndpointTime(ctx, session)
      if (mode === "after-init" || mode === "mid-call") await session.initialize(ctx.postAgent)
      if (mode === "mid-call") {
        const call = jsonRpcRequest(session.id(), "tools/call", { name: "sleep", arguments: { ms: Math.floor(Math.random() * 21) } })
        inFlight = session.post(ctx.postAgent, call).catch(() => undefined)
        await pause(Math.random() * 2)
      }
      session.disconnect()
    }
    const t0 = session.disconnectedAt!
    const probe: { -readonly [K in keyof Probe]: Probe[K] } = {
      mode,
      probed: false,
      toNotFoundMs: undefined,
      polls: 0,
      lateSent: 0,
      lateAnswered: 0,
      otherStatuses: 0
    }
    if (session.endpoint === undefined) return probe
    probe.probed = true
    const { lateMs, pollTimeoutMs } = ctx.options
    while (performance.now() < t0 + pollTimeoutMs) {
      const sentAt = performance.now()
      let status: number
      try {
        status = (await session.post(ctx.postAgent, jsonRpcRequest(session.id(), "ping"))).status
      } catch (error) {
        throw new Error(`poll ${probe.polls + 1} failed: ${errorMessage(error)}`)
      }
      // Not the server's answer about the session, but about this client: the figure would be meaningless.
      if (status === 429) throw new Error(`poll ${probe.polls + 1}: HTTP 429, the harness is over a per-client budget`)
      const receivedAt = performance.now()
      probe.polls++
      if (status === 404) {
        probe.toNotFoundMs = receivedAt - t0
        break
      }
      if (status >= 200 && status < 300) {
        if (sentAt - t0 >= lateMs) probe.lateSent++
        if (receivedAt - t0 >= lateMs) probe.lateAnswered++
      } else {
        probe.otherStatuses++
      }
      await sleep(POLL_INTERVAL_MS)
    }
    return probe
  } finally {
    session.disconnect()
    await inFlight
  }
}

const summarize = (probes: ReadonlyArray<Probe>): Summary => {
  const probed = probes.filter((p) => p.probed)
  const times = sortedCopy(probed.flatMap((p) => (p.toNotFoundMs === undefined ? [] : [p.toNotFoundMs])))
  const sum = (f: (p: Probe) => number) => probed.reduce((total, p) => total + f(p), 0)
  return {
    sessions: probes.length,
    probed: probed.length,
    p50Ms: percentile(times, 0.5),
    p99Ms: percentile(times, 0.99),
    maxMs: times.length === 0 ? Number.NaN : times[times.length - 1]!,
    lateSent: sum((p) => p.lateSent),
    lateAnswered: sum((p) => p.lateAnswered),
    sessionsWithLate: probed.filter((p) => p.lateSent > 0).length,
    neverNotFound: probed.filter((p) => p.toNotFoundMs === undefined).length,
    otherStatuses: sum((p) => p.otherStatuses),
    polls: sum((p) => p.polls)
  }
}

/** Probes `total` sessions, `concurrency` at a time, until done or the deadline; the first failure fails it. */
const probeAll = async (
  ctx: Context,
  total: number,
  concurrency: number,
  modeOf: (i: number) => Mode,
  deadline: number
): Promise<{ readonly probes: Array<Probe>; readonly truncated: boolean }> => {
  const probes: Array<Probe> = []
  let next = 0
  let failure: string | undefined
  let truncated = false
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (failure === undefined && next < total) {
      if (performance.now() > deadline) {
        truncated = true
        break
      }
      const n = next++
      const mode = modeOf(n)
      try {
        probes.push(await probeSession(ctx, mode))
      } catch (error) {
        failure ??= `session ${n + 1} (${mode}): ${errorMessage(error)}`
      }
    }
  }))
  if (failure !== undefined) throw new Error(`a session failed after ${probes.length} of ${total} were probed: ${failure}`)
  if (probes.length === 0) throw new Error("no session probed before the deadline")
  return { probes, truncated }
}

const metrics = (
  options: Options,
  result: Awaited<ReturnType<typeof probeAll>>
): DisconnectMetrics => {
  const byMode: Partial<Record<Mode, Summary>> = {}
  for (const mode of MODES) {
    const probes = result.probes.filter((p) => p.mode === mode)
    if (probes.length > 0) byMode[mode] = summarize(probes)
  }
  return {
    ...summarize(result.probes),
    lateMs: options.lateMs,
    pollTimeoutMs: options.pollTimeoutMs,
    byMode,
    truncated: result.truncated
  }
}

const context = (server: RunningServer, options: Options): Context => ({
  port: server.port,
  streamAgent: new http.Agent({ keepAlive: false }),
  postAgent: new http.Agent({ keepAlive: true }),
  options,
  endpointTimes: []
})

const release = (ctx: Context): void => {
  ctx.streamAgent.destroy()
  ctx.postAgent.destroy()
}

/** Quiet server: initialized sessions, cut one after another (a few at a time). */
export const benchDisconnect = async (server: RunningServer, options: Options, deadline: number): Promise<DisconnectMetrics> => {
  const ctx = context(server, options)
  try {
    const result = await probeAll(ctx, options.disconnectSessions, options.disconnectConcurrency, () => "after-init", deadline)
    return metrics(options, result)
  } finally {
    release(ctx)
  }
}

const LOAD_RAMP_MS = 500
const LOAD_SCRIPT = fileURLToPath(new URL("../lib/churnLoad.ts", import.meta.url))

/** The background churn, in a process of its own (see lib/churnLoad.ts for why); resolves once it runs. */
const startChurnLoad = async (port: number, workers: number, rate: number, deadline: number) => {
  const args = [port, workers, rate, Math.max(0, deadline - performance.now())].map(String)
  const child = fork(LOAD_SCRIPT, args, {
    // The tsx loader this process runs under, so the child can load TypeScript too.
    execArgv: process.execArgv,
    stdio: ["ignore", "ignore", "inherit", "ipc"]
  })
  const watched = watchChild(child)
  let report: LoadReport | undefined
  const reported = new Promise<void>((resolve) => {
    child.on("message", (message: unknown) => {
      if (message === "started") return
      if (isLoadReport(message)) report = message
      resolve()
    })
    void watched.exited.then(() => resolve())
  })
  const started = new Promise<void>((resolve, reject) => {
    child.on("message", (message: unknown) => {
      if (message === "started") resolve()
    })
    void watched.exited.then((exit) => reject(new Error(`the load process exited (${exit}) before it started`)))
  })
  await started
  return {
    stop: async (): Promise<LoadReport> => {
      if (child.connected) child.send("stop")
      await Promise.race([reported, sleep(10_000)])
      await watched.stop(1000)
      return report ?? { cycles: 0, startedPerSecond: 0, errors: 1, firstError: "the load process sent no report" }
    }
  }
}

const isLoadReport = (u: unknown): u is LoadReport =>
  typeof u === "object" && u !== null && "cycles" in u && typeof u.cycles === "number" && "errors" in u &&
  typeof u.errors === "number" && "startedPerSecond" in u && typeof u.startedPerSecond === "number" &&
  (!("firstError" in u) || typeof u.firstError === "string")

/** Under load: SSE churn in the background, sessions cut at varied moments. */
export const benchDisconnectUnderLoad = async (
  server: RunningServer,
  options: Options,
  deadline: number
): Promise<DisconnectMetrics> => {
  const ctx = context(server, options)
  const load = await startChurnLoad(server.port, options.loadWorkers, options.loadRate, deadline)
  let report: LoadReport | undefined
  try {
    await sleep(LOAD_RAMP_MS)
    const result = await probeAll(ctx, options.loadedSessions, options.loadedConcurrency, (i) => MODES[i % MODES.length]!, deadline)
    report = await load.stop()
    if (report.errors > 0) {
      throw new Error(`${report.errors} background churn cycles failed (of ${report.cycles + report.errors}), first: ${report.firstError ?? "?"}`)
    }
    const { cycles, startedPerSecond } = report
    return { ...metrics(options, result), load: { workers: options.loadWorkers, rate: options.loadRate, cycles, startedPerSecond } }
  } finally {
    if (report === undefined) await load.stop()
    release(ctx)
  }
}
