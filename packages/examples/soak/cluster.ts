/**
 * The soak's cluster mode (`npm run soak -- --cluster`): three demo instances on one `redis-server` of the run's
 * own, behind nginx (round robin, no affinity), and the soak's clients going through nginx, so nearly every
 * request of a session lands on an instance that does not own it. While they run, a fault every `--fault-every`
 * seconds: an instance killed (SIGKILL) or stopped (SIGTERM) and started again on its port, and once, Redis
 * restarted empty. In order:
 *
 * 1. cycles, `--concurrency` at once, until `--cycles` or `--seconds` runs out: legacy SSE and Streamable HTTP
 *    sessions ending every way the plain soak's do, and 2026-07-28 clients making sessionless calls. Each kind is
 *    asked for once first, then picked at random; the faults run beside them (each kind once first);
 * 2. checks: every cycle either did all it set out to (every request answered and checked, every 202 answered
 *    on its stream), or failed in a way a fault explains (below), after which its client starts a new session;
 *    no session left on any instance once idle expiry has had its time (each instance asked, SIGUSR2); every
 *    session id the run was given gets 404 through nginx; each cycle kind and each fault seen; enough cycles and
 *    answered calls of each era; every SIGTERM'd instance exited 0, and so do the last ones.
 *
 * A failure is explained only when a fault lasted (from its signal until a lease and a second after its
 * instance, or Redis, was back) during the cycle, and it is what that fault may cause: a 404 or a stream that
 * ended, for a session whose owner (the `X-Upstream` of the response that opened it) was the instance killed or
 * stopped; the in-band -32603 "The server is shutting down" a draining owner answers with, for a SIGTERM of the
 * owner; a 502 (nginx finding an instance down), a 503 (an owner not reachable, Redis away) or a cut
 * connection, for any fault. An instance that logs that Redis did not answer a write of its lease (as happens
 * when the machine is too loaded for Redis to answer within the client's deadline) counts as a fault too, for
 * 503s; one that fences (no lease written for 80% of it) has closed its sessions, which explains their 404s. The
 * run reports both. Anything else fails the run: a timeout (a 202 whose answer never came on a stream
 * still open, a request never answered), a 404 for a session whose owner was up (Redis restarted must not cause
 * one), a wrong answer.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { freePort } from "../harness/children.js"
import { send, SoakError } from "./lib/client.js"
import { PROTOCOL_VERSION } from "../harness/http.js"
import { checkGone, checkLines, describe, drain, Failures, type SessionIds } from "./lib/checks.js"
import {
  type ClusterOptions,
  FAULT_KINDS,
  type Fault,
  type InjectedKind,
  inject,
  type Nginx,
  type Redis,
  Slot,
  startInstance,
  startNginx,
  startRedis
} from "./lib/cluster.js"
import {
  type CycleContext,
  type CycleResult,
  ENDINGS,
  HANDSHAKE_TIMEOUT_MS,
  modernCycle,
  sseCycle,
  streamableCycle
} from "./lib/cycles.js"
import type { Options } from "./lib/options.js"
import { forCycle, random as seeded, type Random } from "./lib/random.js"

const log = (message: string): void => {
  process.stderr.write(`[soak --cluster] ${message}\n`)
}

const INSTANCES = 3

type Era = "sse" | "streamable" | "modern"
type Plan =
  | { readonly transport: "sse"; readonly ending: (typeof ENDINGS.sse)[number][0] | undefined }
  | { readonly transport: "streamable"; readonly ending: (typeof ENDINGS.streamable)[number][0] | undefined }
  | { readonly transport: "modern"; readonly ending: undefined }

/** Every kind a run must see, by the name the report gives it. */
const KINDS: ReadonlyArray<{ readonly kind: string; readonly plan: Plan }> = [
  ...ENDINGS.sse.map(([ending]) => ({ kind: `sse ${ending}`, plan: { transport: "sse" as const, ending } })),
  ...ENDINGS.streamable.map(([ending]) => ({
    kind: `streamable ${ending}`,
    plan: { transport: "streamable" as const, ending }
  })),
  { kind: "modern calls", plan: { transport: "modern", ending: undefined } }
]

/** What every cycle's context shares: nginx's port, the pooled connections, the idle timeout. */
type Base = Pick<CycleContext, "port" | "agent" | "idleTimeoutMs">

/** What the run counted. */
class Tally {
  readonly cycles = new Map<string, number>()
  readonly running = new Map<string, number>()
  readonly answered: Record<Era, number> = { sse: 0, streamable: 0, modern: 0 }
  readonly sessionIds: SessionIds = { sse: [], streamable: [] }
  /** Cycles a fault cut short, by what they saw. */
  readonly disrupted = new Map<string, number>()
  completed = 0
  succeeded = 0

  count(kind: string): number {
    return this.cycles.get(kind) ?? 0
  }

  add(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by)
  }
}

/** The HTTP status that failed a cycle: the error's own, or the one its category names ("initialize: HTTP 503"). */
const statusOf = (error: unknown, category: string): number | undefined => {
  if (error instanceof SoakError && error.status !== undefined) return error.status
  const match = /HTTP (\d{3})\b/.exec(category)
  return match === null ? undefined : Number(match[1])
}

/**
 * Whether a fault explains a failure of `category` in a cycle that ran from `start` to `end`, for a session owned
 * by the instance on `owner` (when known). See the module's comment.
 */
const explains = (
  faults: ReadonlyArray<Fault>,
  category: string,
  detail: string,
  status: number | undefined,
  owner: number | undefined,
  start: number,
  end: number
): Fault | undefined => {
  const during = faults.filter((fault) => fault.start <= end && fault.end >= start)
  const ofOwner = (fault: Fault) => fault.port !== undefined && (owner === undefined || fault.port === owner)
  // A Redis that did not answer an instance closes none of its sessions: no 404 of its.
  if (status === 404 || category === "stream ended") {
    return during.find((fault) => fault.kind !== "redis-unanswered" && ofOwner(fault))
  }
  // A draining owner answers what reaches it after the drain began with an error saying so: an answer, not a loss.
  if (detail.includes(SHUTTING_DOWN)) return during.find((fault) => fault.kind === "sigterm" && ofOwner(fault))
  if (status === 502 || status === 503 || (status === undefined && category.startsWith("connection: "))) {
    return during[0]
  }
  return undefined
}

/** The in-band error of a request that reached a draining instance. */
const SHUTTING_DOWN = "\"code\":-32603,\"message\":\"The server is shutting down"

const portOf = (upstream: string): number | undefined => {
  const port = Number(upstream.split(":").at(-1))
  return Number.isInteger(port) ? port : undefined
}

/** The first kind not yet seen and not running, else a random one: sessions of both eras, and sessionless calls. */
const planOf = (tally: Tally, random: Random): Plan => {
  const unseen = KINDS.find(({ kind }) => tally.count(kind) === 0 && (tally.running.get(kind) ?? 0) === 0)
  if (unseen !== undefined) return unseen.plan
  const transport = random.pick(["sse", "streamable", "modern"] as const, [2, 2, 1])
  return { transport, ending: undefined }
}

const runOne = (ctx: CycleContext, plan: Plan, random: Random): Promise<CycleResult> =>
  plan.transport === "sse"
    ? sseCycle(ctx, random, plan.ending)
    : plan.transport === "streamable"
    ? streamableCycle(ctx, random, plan.ending)
    : modernCycle(ctx, random)

/**
 * Whether a fault kind has not been injected yet, or a fault's effects are not over: the cycles go on past
 * `--cycles` until then (not past the deadline), so that every fault meets clients.
 */
const faultsPending = (faults: ReadonlyArray<Fault>, now: number): boolean =>
  FAULT_KINDS.some((kind) => !faults.some((fault) => fault.kind === kind)) || faults.some((fault) => fault.end > now)

/** The cycles, `concurrency` at once, until `cycles` (and every fault kind met clients) or the deadline. */
const runCycles = async (
  options: Options,
  base: Base,
  tally: Tally,
  faults: ReadonlyArray<Fault>,
  failures: Failures,
  deadline: number
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while ((next < options.cycles || faultsPending(faults, Date.now())) && Date.now() < deadline) {
      const n = next++
      const random = forCycle(options.seed, n)
      const plan = planOf(tally, random)
      const asked = plan.ending === undefined && plan.transport !== "modern"
        ? undefined
        : KINDS.find((k) => k.plan.transport === plan.transport && k.plan.ending === plan.ending)?.kind
      if (asked !== undefined) tally.add(tally.running, asked)
      let owner: number | undefined
      let opened: ReadonlyArray<string> = []
      const ctx: CycleContext = {
        ...base,
        sawOwner: (upstream) => owner = portOf(upstream),
        answered: () => tally.answered[plan.transport]++,
        opened: (ids) => opened = [...ids]
      }
      const start = Date.now()
      try {
        const result = await runOne(ctx, plan, random)
        tally.add(tally.cycles, `${result.transport} ${result.ending}`)
        if (result.transport === "sse") tally.sessionIds.sse.push(...result.sessionIds)
        if (result.transport === "streamable") tally.sessionIds.streamable.push(...result.sessionIds)
        tally.succeeded++
      } catch (error) {
        const [category, detail] = describe(error)
        const status = statusOf(error, category)
        const fault = explains(faults, category, detail, status, owner, start, Date.now())
        if (fault === undefined) {
          failures.add(`${plan.transport}: ${category}`, `cycle ${n}: ${detail}`)
          tally.add(tally.cycles, `${plan.transport} failed`)
        } else {
          // The client saw the fault and goes on with a new session, as a real one would.
          // Its session ids get the final 404 check too; a Streamable HTTP session is ended as its client would
          // end one it gives up on (DELETE, retried while the cluster answers 503), or a call it left running
          // would keep it alive.
          if (plan.transport === "sse") tally.sessionIds.sse.push(...opened)
          if (plan.transport === "streamable") {
            tally.sessionIds.streamable.push(...opened)
            for (const id of opened) {
              const status = await endSession(base, id)
              if (status !== 204 && status !== 404) failures.add(`streamable: DELETE after a fault: ${status}`, `cycle ${n}`)
            }
          }
          const seen = detail.includes(SHUTTING_DOWN)
            ? "-32603 shutting down"
            : status === undefined
            ? category
            : `HTTP ${status}`
          tally.add(tally.disrupted, `${plan.transport}: ${seen} (${fault.kind})`)
          tally.add(tally.cycles, `${plan.transport} disrupted`)
        }
      } finally {
        if (asked !== undefined) tally.add(tally.running, asked, -1)
        tally.completed++
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
}

/**
 * DELETE of a session a fault cut short, through nginx, retried while an instance is down (502), the owner cannot
 * be reached yet (503) or the connection is cut, for at most 20 s; the last status (0: no answer).
 */
const endSession = async (ctx: Base, id: string): Promise<number> => {
  let status = 0
  for (const started = Date.now(); Date.now() - started < 20_000; await sleep(250)) {
    try {
      const reply = await send({
        port: ctx.port,
        method: "DELETE",
        path: "/mcp",
        agent: ctx.agent,
        headers: { "mcp-session-id": id, "mcp-protocol-version": PROTOCOL_VERSION }
      })
      status = reply.status
    } catch {
      status = 0
    }
    if (status !== 502 && status !== 503 && status !== 0) return status
  }
  return status
}

/**
 * A fault every `faultSeconds` (the first after half of it) while the cycles run: each kind once first (Redis
 * only then), then instances killed or stopped at random.
 */
const runFaults = async (
  options: Options,
  slots: ReadonlyArray<Slot>,
  redis: Redis,
  cluster: ClusterOptions,
  over: () => boolean
): Promise<void> => {
  const random = seeded(options.seed ^ 0xfa017)
  const first = [...FAULT_KINDS].sort(() => random.next() - 0.5)
  for (let i = 0; i < 1_000; i++) {
    const wait = Date.now() + options.faultSeconds * (i === 0 ? 500 : 1000)
    while (Date.now() < wait && !over()) await sleep(50)
    if (over()) return
    const kind: InjectedKind = first[i] ?? random.item(["sigkill", "sigterm"] as const)
    const slot = random.item(slots)
    log(`fault ${i + 1}: ${kind}${kind === "redis-restart" ? "" : ` of the instance on ${slot.port}`}`)
    const fault = await inject(kind, slot, redis, cluster)
    log(`  back after ${fault.end - fault.start - cluster.leaseMs - 1_000} ms`)
  }
}

/** Every instance's live session count, until all are 0 or `timeoutMs` passed; the last counts. */
const drainAll = async (slots: ReadonlyArray<Slot>, timeoutMs: number): Promise<Array<number | undefined>> => {
  const started = Date.now()
  const counts: Array<number | undefined> = []
  for (const slot of slots) counts.push(await drain(slot.current, Math.max(0, timeoutMs - (Date.now() - started))))
  return counts
}

/**
 * The shortest idle timeout of the cluster mode. A request routed to its session's instance may be held up in
 * transit (a starved machine, a Redis lookup) for longer than a short idle timeout; the owner has then rightly
 * expired the session, and its 404 could not be told from a lost session.
 */
const MIN_CLUSTER_IDLE_MS = 5_000

/** Runs the cluster mode with the soak's options (`--cluster`); the exit code: 1 when a check failed. */
export const runCluster = async (given: Options): Promise<number> => {
  const options: Options = { ...given, idleTimeoutMs: Math.max(given.idleTimeoutMs, MIN_CLUSTER_IDLE_MS) }
  const failures = new Failures(options.verbose)
  const started = performance.now()
  const faults: Array<Fault> = []
  const cluster: ClusterOptions = {
    idleTimeoutMs: options.idleTimeoutMs,
    leaseMs: options.leaseMs,
    logDir: options.serverLogs,
    faults
  }
  if (options.serverLogs !== undefined) fs.mkdirSync(options.serverLogs, { recursive: true })
  log(
    `${options.quick ? "quick" : "full"} run: ${options.cycles} cycles or ${options.seconds} s, ` +
      `${options.concurrency} at once, seed ${options.seed}; ${INSTANCES} instances, lease ${options.leaseMs} ms, ` +
      `idle timeout ${options.idleTimeoutMs} ms, a fault every ${options.faultSeconds} s`
  )
  const redis = await startRedis()
  const slots: Array<Slot> = []
  let nginx: Nginx | undefined
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency * 2, timeout: 4_000 })
  try {
    for (let i = 0; i < INSTANCES; i++) slots.push(new Slot(await freePort()))
    await Promise.all(slots.map((slot) => startInstance(slot, redis.url, cluster)))
    const accessLog = options.serverLogs === undefined ? undefined : path.join(options.serverLogs, "nginx.log")
    nginx = await startNginx(slots.map((slot) => slot.port), accessLog)
    log(`redis on ${redis.url}, instances on ${slots.map((s) => s.port).join(", ")}, nginx on ${nginx.port}`)
    const tally = new Tally()
    const progress = setInterval(() => {
      log(
        `${tally.completed} cycles in ${((performance.now() - started) / 1000).toFixed(0)} s, ` +
          `${failures.total} failures, ${tally.completed - tally.succeeded - failures.total} disrupted`
      )
    }, 10_000)
    const deadline = Date.now() + options.seconds * 1000
    const base = { port: nginx.port, agent, idleTimeoutMs: options.idleTimeoutMs }
    const runStart = performance.now()
    let cyclesOver = false
    try {
      await Promise.all([
        runCycles(options, base, tally, faults, failures, deadline).finally(() => cyclesOver = true),
        runFaults(options, slots, redis, cluster, () => cyclesOver || Date.now() >= deadline)
      ])
    } finally {
      clearInterval(progress)
    }
    const runSeconds = (performance.now() - runStart) / 1000
    log(`${tally.completed} cycles done; draining`)

    const checks = await checkAfter({ options, slots, nginx, agent, tally, faults, failures, runSeconds })
    process.stdout.write(reportOf({ options, slots, tally, faults, failures, checks, runSeconds, started }).join("\n") + "\n")
    return checks.every(([, ok]) => ok) ? 0 : 1
  } finally {
    agent.destroy()
    await Promise.all(slots.flatMap((slot) => slot.incarnations.filter((s) => s.alive()).map((s) => s.stop(5_000))))
    await nginx?.stop()
    await redis.stop()
  }
}

/** What the checks after the run look at. */
interface Run {
  readonly options: Options
  readonly slots: ReadonlyArray<Slot>
  readonly tally: Tally
  readonly faults: ReadonlyArray<Fault>
  readonly failures: Failures
  readonly runSeconds: number
}

type Check = readonly [name: string, ok: boolean, detail: string]

/** The checks once the cycles are over: nothing left, every old id gone, enough done, clean exits. */
const checkAfter = async (
  { agent, failures, faults, nginx, options, runSeconds, slots, tally }: Run & { readonly nginx: Nginx; readonly agent: http.Agent }
): Promise<Array<Check>> => {
  const checks: Array<Check> = []
  // Long enough for idle expiry (and the handshake timeout) to take every session left, and for the lease of a
  // killed instance to lapse.
  const drainMs = Math.max(options.idleTimeoutMs * 4, HANDSHAKE_TIMEOUT_MS * 1.25, options.leaseMs * 2) + 10_000
  const live = await drainAll(slots, drainMs)
  checks.push([
    "no live session on any instance after the run",
    live.every((n) => n === 0),
    live.map((n, i) => `${slots[i]!.port}: ${n ?? "no answer"}`).join(", ")
  ])
  const gone = await checkGone(nginx.port, agent, tally.sessionIds, options.concurrency, failures)
  const minIds = Math.ceil(options.minCycles / 8)
  checks.push([
    `every old session id gets 404 through nginx, at least ${minIds} of each HTTP transport checked`,
    gone.notGone === 0 && gone.sse >= minIds && gone.streamable >= minIds,
    `${gone.checked - gone.notGone}/${gone.checked} (${gone.sse} sse, ${gone.streamable} streamable)`
  ])
  const liveAfter = await drainAll(slots, 5_000)
  checks.push(["the 404 checks opened nothing", liveAfter.every((n) => n === 0), liveAfter.join(", ")])
  checks.push(["no unexplained failure", failures.total === 0, `${failures.total} failures`])
  checks.push([
    `at least ${options.minCycles} cycles that did all they set out to`,
    tally.succeeded >= options.minCycles,
    `${tally.succeeded} of ${tally.completed} in ${runSeconds.toFixed(1)} s`
  ])
  const minCalls = Math.ceil(options.minCycles / 4)
  checks.push([
    `at least ${minCalls} calls answered in each era (legacy SSE, Streamable HTTP, 2026-07-28)`,
    Object.values(tally.answered).every((n) => n >= minCalls),
    `${tally.answered.sse} sse, ${tally.answered.streamable} streamable, ${tally.answered.modern} 2026-07-28`
  ])
  const missing = KINDS.filter(({ kind }) => tally.count(kind) === 0).map(({ kind }) => kind)
  checks.push([
    `every cycle kind ran (${KINDS.length} kinds)`,
    missing.length === 0,
    missing.length === 0 ? "all seen" : `never: ${missing.join(", ")}`
  ])
  checks.push([
    "every fault injected (sigkill, sigterm, redis-restart)",
    FAULT_KINDS.every((kind) => faults.some((f) => f.kind === kind)),
    [...FAULT_KINDS, "fence" as const, "redis-unanswered" as const]
      .map((kind) => `${faults.filter((f) => f.kind === kind).length} ${kind}`)
      .join(", ")
  ])
  const badTerms = faults.filter((f) => f.kind === "sigterm" && f.exit !== 0)
  checks.push([
    "every instance stopped with SIGTERM exited 0",
    badTerms.length === 0,
    badTerms.length === 0 ? "all" : badTerms.map((f) => `${f.port}: ${f.exit}`).join(", ")
  ])
  const up = slots.every((slot) => slot.current.alive())
  checks.push(["the instances are up", up, up ? "up" : "one died"])
  const exits = await Promise.all(slots.map((slot) => slot.current.stop(10_000)))
  checks.push(["the instances exit 0 on SIGTERM", exits.every((e) => e === 0), exits.join(", ")])
  const incarnations = slots.flatMap((slot) => slot.incarnations)
  const problems = incarnations.reduce((n, server) => n + server.logs.problemCount, 0)
  checks.push(["nothing logged at Error level", problems === 0, `${problems} lines`])

  return checks
}

/** The report: what ran, what the faults cut short, and the checks. */
const reportOf = (
  { checks, failures, faults, options, runSeconds, slots, started, tally }: Run & {
    readonly checks: ReadonlyArray<Check>
    readonly started: number
  }
): Array<string> => {
  const incarnations = slots.flatMap((slot) => slot.incarnations)
  const kinds = [...new Set([...KINDS.map(({ kind }) => kind), ...tally.cycles.keys()])]
  const lines = [
    `# Soak run, cluster mode (${options.quick ? "quick" : "full"}, seed ${options.seed})`,
    "",
    `Cycles: ${tally.completed} of ${options.cycles} through nginx over ${INSTANCES} instances, ` +
    `${options.concurrency} at once, in ${runSeconds.toFixed(1)} s; ${((performance.now() - started) / 1000).toFixed(1)} s in all.`,
    `Instances: lease ${options.leaseMs} ms, idle timeout ${options.idleTimeoutMs} ms; ${incarnations.length} ` +
    `processes in all; logged ${levelsOf(incarnations.map((s) => s.logs.levels))}.`,
    `Faults: ${
      faults.map((f) =>
        `${f.kind}${f.port === undefined ? "" : ` ${f.port}`}` +
        (f.kind === "fence" ? "" : ` (back in ${f.end - f.start - options.leaseMs - 1_000} ms)`)
      )
        .join(", ")
    }.`,
    "",
    "| cycle | count |",
    "| --- | ---: |",
    ...kinds.map((kind) => `| ${kind} | ${tally.count(kind)} |`),
    "",
    "Cycles a fault cut short (the client then started a new session):",
    "",
    ...(tally.disrupted.size === 0
      ? ["- none"]
      : [...tally.disrupted].sort(([a], [b]) => a.localeCompare(b)).map(([what, n]) => `- ${what}: ${n}`)),
    "",
    ...checkLines(checks, failures)
  ]
  const logged = incarnations.flatMap((s) => [...s.logs.problems, ...s.logs.strays])
  if (logged.length > 0) {
    lines.push("", "Instance output at Error level, and lines outside its log format:", "")
    lines.push(...logged.slice(0, 30).map((l) => `    ${l.slice(0, 300)}`))
  }
  return lines
}

const levelsOf = (maps: ReadonlyArray<ReadonlyMap<string, number>>): string => {
  const total = new Map<string, number>()
  for (const map of maps) for (const [level, n] of map) total.set(level, (total.get(level) ?? 0) + n)
  return [...total].map(([level, n]) => `${n} ${level}`).join(", ") || "nothing"
}
