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
 * leaves says so at once, on the members' channel every instance hears (`bye`) and in its lease: a tombstone, `~`
 * while it shuts down (it drains: new requests for its sessions are 404 everywhere, those it serves finish), then
 * `-` (it has left, or fenced) for one more lease, which is proof of death.
 * @internal
 */
import type { Session } from "@effect-mcp/core/McpSession"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import * as RedisClient from "../RedisClient.js"
import { newIncarnation } from "./sessionId.js"

/**
 * The lease set to ARGV[1] for ARGV[2] ms. A beat also writes the epoch if it is missing; a departure (a tombstone:
 * `-`, gone; `~` and the URL, leaving: draining) names the members' channel (ARGV[3]) and tells every instance
 * (ARGV[4]). One
 * script for both, so Redis knows it from the first beat and a departure is one round trip (a script Redis has not
 * seen costs two: `NOSCRIPT`, then its source).
 */
const LEASE = RedisClient.script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000)))
end
return 1`)

const LOOKUP = RedisClient.script(`
local lease = redis.call('GET', KEYS[1])
if lease == '-' then return {'gone', ''} end
if string.sub(lease or '', 1, 1) == '~' then return {'leaving', string.sub(lease, 2)} end
if lease then return {'alive', lease} end
local epoch = redis.call('GET', KEYS[2])
if not epoch then return {'unknown', ''} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if now - tonumber(epoch) < tonumber(ARGV[1]) then return {'unknown', ''} end
return {'gone', ''}`, { readOnly: true })

/**
 * Where an incarnation stands: alive at its URL, gone for good, leaving (it shuts down: its sessions are gone for
 * new requests, while those it is serving finish; at its URL, for the answers they wait for), or not knowable now.
 * @internal
 */
export type Standing =
  | { readonly _tag: "Alive"; readonly url: string }
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Leaving"; readonly url?: string | undefined }
  | { readonly _tag: "Unknown" }

const GONE: Standing = { _tag: "Gone" }
const LEAVING: Standing = { _tag: "Leaving" }
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
   * reuse, as a request to an owner that died since fails, and its failure asks Redis again (`standing`). One that
   * left or was found gone is remembered too (it never comes back), and concurrent calls share one lookup.
   */
  readonly located: (incarnation: string) => Effect.Effect<Standing>
  /**
   * What `located` knows without asking Redis: leaving or gone (told so, or found so, within a lease), or alive
   * at its URL for a beat; undefined otherwise.
   */
  readonly known: (incarnation: string) => Standing | undefined
  /**
   * This instance shuts down: its sessions are gone for the others from now (its lease a tombstone, every
   * instance told at once), while it finishes what it serves. It takes no new sessions and writes no lease again.
   */
  readonly leave: Effect.Effect<void>
  /** Adds the sessions of a registry, to close when this instance fences, for the caller's scope. */
  readonly attach: (sessions: Effect.Effect<ReadonlyArray<Session>>) => Effect.Effect<void, never, Scope.Scope>
  /** How often the lease is written. */
  readonly beat: Duration.Duration
}

const standingOf = (reply: RedisClient.Reply): Standing => {
  if (!Array.isArray(reply)) return UNKNOWN
  const [tag, url] = reply
  if (tag === "alive" && typeof url === "string") return { _tag: "Alive", url }
  if (tag === "leaving") return typeof url === "string" && url !== "" ? { _tag: "Leaving", url } : LEAVING
  return tag === "gone" ? GONE : UNKNOWN
}

/**
 * Remembers incarnations that will never be alive again, for a while: those that said they leave, and those
 * found gone. Incarnations are never reused, so neither can change back; their sessions are then 404 with no
 * round trip, which also spares Redis a lookup per request for a dead owner's sessions.
 */
const makeDeparted = (ttlMs: number) => {
  const until = new Map<string, { readonly standing: Standing; readonly end: number }>()
  return {
    add: (incarnation: string, standing: Standing) => {
      const now = performance.now()
      // A bounded memory: departures are rare, and one forgotten costs one lookup, which finds its tombstone.
      if (until.size >= 1_024) for (const [known, { end }] of until) if (end <= now) until.delete(known)
      if (until.size < 1_024) until.set(incarnation, { standing, end: now + ttlMs })
    },
    get: (incarnation: string): Standing | undefined => {
      const found = until.get(incarnation)
      return found !== undefined && found.end > performance.now() ? found.standing : undefined
    }
  }
}

/**
 * `standing`, one lookup per owner at a time: the requests that arrive for its sessions while it runs share its
 * answer, so a burst of them (a beat's memory just lapsed, an owner just died) costs Redis one round trip, not one
 * each.
 */
const oneAtATime = (
  standing: (candidate: string) => Effect.Effect<Standing>,
  runFork: <A>(effect: Effect.Effect<A>) => unknown
) => {
  const lookups = new Map<string, Deferred.Deferred<Standing>>()
  return (candidate: string): Effect.Effect<Standing> => {
    const running = lookups.get(candidate)
    if (running !== undefined) return Deferred.await(running)
    const answer = Deferred.unsafeMake<Standing>(FiberId.none)
    lookups.set(candidate, answer)
    // Forked, so a caller that goes does not leave the others waiting on an interrupted lookup.
    runFork(Effect.flatMap(standing(candidate), (found) =>
      Effect.sync(() => {
        lookups.delete(candidate)
        Deferred.unsafeDone(answer, Exit.succeed(found))
      })))
    return Deferred.await(answer)
  }
}

/**
 * What a departing instance says on the members' channel: `bye`, its incarnation and, while it drains, where it
 * is (`bye {incarnation} {url}`); with no URL it has left (or fenced): it is gone.
 */
const BYE = "bye "

/**
 * Joins the cluster in the current scope: the first lease is written before this succeeds (a Redis that cannot be
 * reached fails it), the beat runs for the scope's life, and the lease becomes a tombstone when the scope closes
 * (or earlier, on `leave`), so a drained instance's sessions are 404 everywhere at once.
 * @internal
 */
export const join = (redis: RedisClient.RedisClientService, config: Config) =>
  Effect.gen(function*() {
    const leaseMs = Duration.toMillis(config.lease)
    const fenceMs = leaseMs * 0.8
    const beat = Duration.millis(Math.max(50, Math.floor(leaseMs / 3)))
    // After a failed beat the next comes sooner: an owner whose Redis came back is placed again at once.
    const retry = Duration.millis(Math.min(Duration.toMillis(beat), 250))
    const leaseKey = (incarnation: string) => `${config.namespace}:lease:${incarnation}`
    const epochKey = `${config.namespace}:epoch`
    const members = `${config.namespace}:members`
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const registries = new Set<Effect.Effect<ReadonlyArray<Session>>>()
    const past = new Set<string>()
    const departed = makeDeparted(leaseMs)
    let incarnation = newIncarnation()
    let placed = false
    // Whether this instance shuts down: it drains (its lease says `~`, kept for as long as that lasts), then it
    // has left (`-`).
    let leaving: "no" | "draining" | "left" = "no"
    let lastOk = 0

    const write = (mine: string) =>
      Effect.suspend(() => {
        const sentAt = performance.now()
        return Effect.map(redis.eval(LEASE, [leaseKey(mine), epochKey], [config.advertise, String(leaseMs)]), () => {
          if (incarnation !== mine || leaving !== "no") return
          lastOk = sentAt
          placed = true
        })
      })

    /** The lease becomes a tombstone, and every instance hears it: the incarnation's sessions are 404 from now. */
    const draining = `~${config.advertise}`
    const tombstone = (mine: string, mark: "-" | "~") =>
      redis.eval(
        LEASE,
        [leaseKey(mine)],
        mark === "-"
          ? ["-", String(leaseMs), members, BYE + mine]
          : [draining, String(leaseMs), members, `${BYE}${mine} ${config.advertise}`]
      )

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
        yield* Effect.ignore(tombstone(old, "-"))
      }))
    }
    const check = () => {
      if (placed && performance.now() - lastOk > fenceMs) fence()
    }

    const located = new Map<string, { readonly standing: Standing; readonly until: number }>()
    yield* redis.subscribe(members, (message) => {
      if (!message.startsWith(BYE)) return
      const space = message.indexOf(" ", BYE.length)
      const gone = space < 0 ? message.slice(BYE.length) : message.slice(BYE.length, space)
      const url = space < 0 ? undefined : message.slice(space + 1)
      // Heard after a lookup that found it gone: gone stays (both are 404; gone is the later word).
      if (departed.get(gone)?._tag !== "Gone") departed.add(gone, url === undefined ? GONE : { _tag: "Leaving", url })
      located.delete(gone)
    })
    yield* write(incarnation)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        placed = false
        leaving = "left"
        return Effect.ignore(tombstone(incarnation, "-"))
      })
    )
    // While it drains, its lease keeps saying so: it is gone for new requests, not dead.
    const next = (): Effect.Effect<unknown, RedisClient.RedisError> =>
      leaving === "no"
        ? write(incarnation)
        : leaving === "draining"
        ? redis.send(["SET", leaseKey(incarnation), draining, "PX", String(leaseMs)])
        : Effect.void
    yield* Effect.forkScoped(beating(beat, retry, next, check))

    const standing = (candidate: string) =>
      redis.eval(LOOKUP, [leaseKey(candidate), epochKey], [String(leaseMs)]).pipe(
        Effect.map(standingOf),
        Effect.orElseSucceed(() => UNKNOWN),
        Effect.tap((found) =>
          Effect.sync(() => {
            if (found._tag === "Gone") departed.add(candidate, GONE)
            if (found._tag !== "Alive") return void located.delete(candidate)
            // A bounded memory: the owners one instance relays to are few, and a cleared entry costs one lookup.
            if (located.size >= 1_024) located.clear()
            located.set(candidate, { standing: found, until: performance.now() + Duration.toMillis(beat) })
          })
        )
      )

    const known = (candidate: string): Standing | undefined => {
      // Told it leaves, or found gone: nothing to ask, and no new request goes to it.
      const departure = departed.get(candidate)
      if (departure !== undefined) return departure
      const found = located.get(candidate)
      return found !== undefined && found.until > performance.now() ? found.standing : undefined
    }

    const lookup = oneAtATime(standing, runFork)

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
      located: (candidate) => Effect.suspend(() => {
        const found = known(candidate)
        return found !== undefined ? Effect.succeed(found) : lookup(candidate)
      }),
      known,
      leave: Effect.suspend(() => {
        if (leaving !== "no") return Effect.void
        placed = false
        leaving = "draining"
        return Effect.ignore(tombstone(incarnation, "~"))
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

/** The beat: the lease written every `beat`, sooner after a failure; the fence checked before each. */
const beating = (
  beat: Duration.Duration,
  retry: Duration.Duration,
  write: () => Effect.Effect<unknown, RedisClient.RedisError>,
  check: () => void
) => {
  let failing = false
  return Effect.forever(Effect.suspend(() =>
    Effect.zipRight(
      Effect.sleep(failing ? retry : beat),
      Effect.suspend(() => {
        check()
        return write().pipe(
          Effect.tap(() => Effect.sync(() => void (failing = false))),
          Effect.catchAll((error) => {
            check()
            if (failing) return Effect.void
            failing = true
            return Effect.logWarning(`cluster: cannot write the lease: ${error.reason}`)
          })
        )
      })
    )
  ))
}
