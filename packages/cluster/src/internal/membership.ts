/**
 * This instance's membership of the cluster: its incarnation, the lease that says it is alive, and the fence
 * that makes it give its sessions up before the others could think it dead.
 *
 * The lease is one key per instance (`{ns}:lease:{incarnation}`, its advertised URL), re-SET with a TTL every
 * beat, so a Redis that lost its data has it back within a beat; there is no key per session. An owner with no
 * successful beat for the fence time (80% of the lease), counted on its monotonic clock from when that beat was
 * sent, gives up its sessions and takes a new incarnation, so a frozen or cut-off owner has stopped serving
 * them before its lease can lapse and the others answer 404. The check runs in the beat and on every request
 * (`check`), so an owner that resumes after a freeze fences before it serves anything.
 *
 * `{ns}:epoch` (the Redis time it was first written, no TTL) tells a lease that lapsed from one that Redis lost:
 * while the epoch is younger than a lease, a missing lease is not proof of death (503, not 404). An instance that
 * leaves (it shut down, or fenced) says so: its lease becomes a tombstone (`-`) for one more lease, which is.
 * @internal
 */
import type { Session } from "@effect-mcp/core/McpSession"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import * as RedisClient from "../RedisClient.js"
import { newIncarnation } from "./sessionId.js"

const BEAT = RedisClient.script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000)))
end
return 1`)

const LOOKUP = RedisClient.script(`
local lease = redis.call('GET', KEYS[1])
if lease == '-' then return {'gone', ''} end
if lease then return {'alive', lease} end
local epoch = redis.call('GET', KEYS[2])
if not epoch then return {'unknown', ''} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if now - tonumber(epoch) < tonumber(ARGV[1]) then return {'unknown', ''} end
return {'gone', ''}`, { readOnly: true })

/** Where an incarnation stands: alive at its URL, gone for good, or not knowable now. @internal */
export type Standing =
  | { readonly _tag: "Alive"; readonly url: string }
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Unknown" }

const GONE: Standing = { _tag: "Gone" }
const UNKNOWN: Standing = { _tag: "Unknown" }

/** @internal */
export interface Config {
  readonly namespace: string
  readonly advertise: string
  readonly lease: Duration.Duration
}

/** @internal */
export interface Membership {
  /** This instance's incarnation now, after fencing if it is due. */
  readonly incarnation: () => string
  /** Whether this instance holds its lease now, after fencing if it is due: it may mint ids. */
  readonly placed: () => boolean
  /** Whether the incarnation was this instance's before it fenced. */
  readonly wasMine: (incarnation: string) => boolean
  /** Where an incarnation stands, asked of Redis. */
  readonly standing: (incarnation: string) => Effect.Effect<Standing>
  /**
   * The same, with an owner found alive remembered for a beat: relaying to it needs no round trip then. Safe to
   * reuse, as a request to an owner that died since fails, and its failure asks Redis again (`standing`).
   */
  readonly located: (incarnation: string) => Effect.Effect<Standing>
  /** Adds the sessions of a registry, to close when this instance fences, for the caller's scope. */
  readonly attach: (sessions: Effect.Effect<ReadonlyArray<Session>>) => Effect.Effect<void, never, Scope.Scope>
  /** How often the lease is written. */
  readonly beat: Duration.Duration
}

const standingOf = (reply: RedisClient.Reply): Standing => {
  if (!Array.isArray(reply)) return UNKNOWN
  const [tag, url] = reply
  return tag === "alive" && typeof url === "string" ? { _tag: "Alive", url } : tag === "gone" ? GONE : UNKNOWN
}

/**
 * Joins the cluster in the current scope: the first lease is written before this succeeds (a Redis that cannot be
 * reached fails it), the beat runs for the scope's life, and the lease becomes a tombstone when the scope closes,
 * so a drained instance's sessions are 404 everywhere at once.
 * @internal
 */
export const join = (redis: RedisClient.RedisClientService, config: Config) =>
  Effect.gen(function*() {
    const leaseMs = Duration.toMillis(config.lease)
    const fenceMs = leaseMs * 0.8
    const beat = Duration.millis(Math.max(50, Math.floor(leaseMs / 3)))
    const leaseKey = (incarnation: string) => `${config.namespace}:lease:${incarnation}`
    const epochKey = `${config.namespace}:epoch`
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const registries = new Set<Effect.Effect<ReadonlyArray<Session>>>()
    const past = new Set<string>()
    let incarnation = newIncarnation()
    let placed = false
    let lastOk = 0

    const write = (mine: string) =>
      Effect.suspend(() => {
        const sentAt = performance.now()
        return Effect.map(redis.eval(BEAT, [leaseKey(mine), epochKey], [config.advertise, String(leaseMs)]), () => {
          if (incarnation !== mine) return
          lastOk = sentAt
          placed = true
        })
      })

    /** Gives every session up and starts a new incarnation, which takes sessions once its lease is written. */
    const fence = () => {
      const old = incarnation
      past.add(old)
      incarnation = newIncarnation()
      placed = false
      runFork(Effect.gen(function*() {
        yield* Effect.logWarning(`cluster: no lease for ${fenceMs} ms, closing this instance's sessions`)
        for (const sessions of registries) {
          yield* Effect.forEach(yield* sessions, (session) => session.close, { discard: true })
        }
        yield* Effect.ignore(leave(old))
      }))
    }
    /** The lease becomes a tombstone: the incarnation's sessions are 404 everywhere from now. */
    const leave = (mine: string) => redis.send(["SET", leaseKey(mine), "-", "PX", String(leaseMs)])
    const check = () => {
      if (placed && performance.now() - lastOk > fenceMs) fence()
    }

    yield* write(incarnation)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        placed = false
        return Effect.ignore(leave(incarnation))
      })
    )
    let failing = false
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
      Effect.sleep(beat),
      Effect.suspend(() => {
        check()
        return write(incarnation).pipe(
          Effect.tap(() => Effect.sync(() => void (failing = false))),
          Effect.catchAll((error) => {
            check()
            if (failing) return Effect.void
            failing = true
            return Effect.logWarning(`cluster: cannot write the lease: ${error.reason}`)
          })
        )
      })
    )))

    const standing = (candidate: string) =>
      redis.eval(LOOKUP, [leaseKey(candidate), epochKey], [String(leaseMs)]).pipe(
        Effect.map(standingOf),
        Effect.orElseSucceed(() => UNKNOWN),
        Effect.tap((found) =>
          Effect.sync(() => {
            if (found._tag !== "Alive") return void located.delete(candidate)
            // A bounded memory: the owners one instance relays to are few, and a cleared entry costs one lookup.
            if (located.size >= 1_024) located.clear()
            located.set(candidate, { url: found.url, until: performance.now() + Duration.toMillis(beat) })
          })
        )
      )
    const located = new Map<string, { readonly url: string; readonly until: number }>()

    const membership: Membership = {
      incarnation: () => {
        check()
        return incarnation
      },
      placed: () => {
        check()
        return placed
      },
      wasMine: (candidate) => past.has(candidate),
      standing,
      located: (candidate) =>
        Effect.suspend(() => {
          const known = located.get(candidate)
          return known !== undefined && known.until > performance.now()
            ? Effect.succeed<Standing>({ _tag: "Alive", url: known.url })
            : standing(candidate)
        }),
      attach: (sessions) =>
        Effect.acquireRelease(
          Effect.sync(() => void registries.add(sessions)),
          () => Effect.sync(() => void registries.delete(sessions))
        ),
      beat
    }
    return membership
  })
