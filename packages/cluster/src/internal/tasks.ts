/**
 * The tasks of a server across its instances (`McpTask.Placement`). A task runs on the instance that created it
 * (its owner): its handler's fiber and its pending asks cannot move. The owner keeps a record of each task in
 * Redis (`{ns}:task:{id}`: what `tasks/get` answers, the owner's party and incarnation), re-written on every
 * change and expiring with the task (its ttl), so Redis holds no more than the live tasks. Any instance answers
 * `tasks/get` from the record; `tasks/update` and `tasks/cancel` go to the owner over one channel,
 * `{ns}:tasks`, which also carries each status change to the listen streams of every instance, and the owner's
 * answer: a request is acknowledged only once the owner applied it, so `tasks/get` anywhere right after reads it
 * done. A request is offered with a claim key (`{ns}:ask:{ask}`): the owner applies it only if it claims it
 * first, and an asker that heard nothing for 2 seconds withdraws it unless it was claimed, so its error (-32603)
 * means the request was not applied and never will be; a claimed one is waited for a while longer.
 *
 * A task whose owner is gone (its lease lapsed, or it left) can never settle: read elsewhere, it is `failed`.
 * @internal
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import { isSameParty, type Principal } from "@effect-mcp/core/McpAuth"
import type { PlacementService, TaskRecord } from "@effect-mcp/core/McpTask"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import type * as Membership from "./membership.js"
import * as RedisClient from "../RedisClient.js"

/** A principal as it crosses instances: the party, which is all the owner checks compare. */
const Party = Schema.NullOr(Schema.Struct({ subject: Schema.String, issuer: Schema.optional(Schema.String) }))
type Party = typeof Party.Type

/** A task as `tasks/get` answers it. */
type Detail = { readonly [key: string]: unknown }

/** A task's record as a caller may see it: the incarnation that holds it, and what `tasks/get` answers. */
interface Found {
  readonly from: string
  readonly detail: Detail
}

const Stored = Schema.parseJson(Schema.Struct({
  from: Schema.String,
  owner: Party,
  detail: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}))

/** Where a request to a task's owner is sent, and where its answer goes back: the asker and its question. */
const Asked = {
  taskId: Schema.String,
  principal: Party,
  /** The incarnation that holds the task: it alone answers. */
  to: Schema.String,
  /** The asking instance and its question, named in the answer. */
  from: Schema.String,
  ask: Schema.String
}

const Told = Schema.parseJson(Schema.Union(
  Schema.Struct({ kind: Schema.Literal("status"), from: Schema.String, owner: Party, notification: Schema.Unknown }),
  Schema.Struct({
    kind: Schema.Literal("update"),
    ...Asked,
    responses: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }),
  Schema.Struct({ kind: Schema.Literal("cancel"), ...Asked }),
  /** The owner applied a request (`found`), or holds no such task for that party. */
  Schema.Struct({ kind: Schema.Literal("done"), to: Schema.String, ask: Schema.String, found: Schema.Boolean })
))

const decodeStored = Schema.decodeUnknownOption(Stored)
const decodeTold = Schema.decodeUnknownOption(Told)
const encodeStored = Schema.encodeSync(Stored)
const encodeTold = Schema.encodeSync(Told)

/** Writes a record and tells its change, in one round trip. */
const WRITE = RedisClient.script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1`)

/** Offers a request to a task's owner: its claim key, pending, and the request on the channel, in one round trip. */
const OFFER = RedisClient.script(`
redis.call('SET', KEYS[1], 'p', 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`)

/** The owner claims a request before it applies it: 1 if it was pending, 0 if its asker withdrew it. */
const CLAIM = RedisClient.script(`
if redis.call('GET', KEYS[1]) == 'p' then
  redis.call('SET', KEYS[1], 'a', 'KEEPTTL')
  return 1
end
return 0`)

/** The asker withdraws a request it heard nothing of: `w` if withdrawn, `a` if the owner claimed it first. */
const WITHDRAW = RedisClient.script(`
local state = redis.call('GET', KEYS[1])
if state == 'p' then
  redis.call('SET', KEYS[1], 'w', 'KEEPTTL')
  return 'w'
end
return state or ''`)

/**
 * How long a claim key lives: past the asker's longest wait (it withdraws after the first). An owner that reads a
 * request after its key expired cannot claim it, and does not apply it, which is right: its asker gave up.
 */
const ASK_TTL_MS = 10_000

const partyOf = (principal: Principal | undefined): Party =>
  principal === undefined ? null : principal.issuer === undefined
    ? { subject: principal.subject }
    : { subject: principal.subject, issuer: principal.issuer }

/** A principal standing for a party: enough for `isSameParty`, which is all a task's owner is compared by. */
const principalOf = (party: Party): Principal | undefined =>
  party === null ? undefined : { ...party, scopes: [], claims: {} }

const visibleTo = (owner: Party, principal: Principal | undefined): boolean => {
  const party = principalOf(owner)
  return party === undefined ? principal === undefined : principal !== undefined && isSameParty(party, principal)
}

const TERMINAL: ReadonlySet<unknown> = new Set(["completed", "failed", "cancelled"])

const unreachable = () => JsonRpc.internalError("The task's instance cannot be reached now; retry later")

const ACK = { resultType: "complete" } as const

/** @internal */
export interface Config {
  readonly namespace: string
  readonly membership: Membership.Membership
  readonly runFork: <A>(effect: Effect.Effect<A>) => unknown
}

/**
 * How long a request to a task's owner waits for the owner to say it applied it, and how much longer once the
 * owner is found to have claimed it.
 */
const ANSWER_TIMEOUT = Duration.seconds(2)

type Asking = Extract<typeof Told.Type, { readonly kind: "update" | "cancel" }>

/** The placement of the server's tasks, its channel heard for the current scope. @internal */
export const make = (redis: RedisClient.RedisClientService, config: Config) =>
  Effect.gen(function*() {
    const { membership, namespace, runFork } = config
    const channel = `${namespace}:tasks`
    const recordKey = (taskId: string) => `${namespace}:task:${taskId}`
    const handlers = new Set<Parameters<PlacementService["attach"]>[0]>()
    // This instance as an asker: its incarnation may change (it fences), its questions stay its own.
    const me = randomBytes(12).toString("base64url")
    const asked = new Map<string, Deferred.Deferred<boolean>>()
    const askKey = (ask: string) => `${namespace}:ask:${ask}`
    const publish = (told: typeof Told.Type) => redis.send(["PUBLISH", channel, encodeTold(told)])

    /**
     * Applies a request of another instance to a task here once it claimed it (an asker that gave up withdrew
     * it: it is not applied), then tells the asker whether it did.
     */
    const answer = (told: Asking) => {
      const principal = principalOf(told.principal)
      const applied = Effect.forEach(handlers, (handler) =>
        Effect.option(
          told.kind === "update"
            ? handler.update(told.taskId, principal, told.responses)
            : handler.cancel(told.taskId, principal)
        ))
      const claimed = Effect.map(redis.eval(CLAIM, [askKey(told.ask)], []), (reply) => reply === 1)
      const apply = Effect.flatMap(applied, (outcomes) =>
        publish({ kind: "done", to: told.from, ask: told.ask, found: outcomes.some(Option.isSome) }))
      runFork(Effect.ignore(Effect.flatMap(claimed, (mine) => mine ? Effect.asVoid(apply) : Effect.void)))
    }

    yield* redis.subscribe(channel, (message) => {
      const told = Option.getOrUndefined(decodeTold(message))
      if (told === undefined) return
      switch (told.kind) {
        case "status": {
          if (told.from === membership.incarnation() || membership.wasMine(told.from)) return
          const notification = JsonRpc.decodeMessage(told.notification)
          if (Either.isLeft(notification) || !JsonRpc.isNotification(notification.right)) return
          for (const handler of handlers) handler.deliver(principalOf(told.owner), notification.right)
          return
        }
        case "done": {
          const waiting = told.to === me ? asked.get(told.ask) : undefined
          if (waiting !== undefined) Deferred.unsafeDone(waiting, Effect.succeed(told.found))
          return
        }
        default:
          // The incarnation that holds the task alone answers; it checks the principal again.
          if (told.to === membership.incarnation() || membership.wasMine(told.to)) answer(told)
      }
    })

    /** The record of a task, if the caller may see it: the task as its owner last told it, or lost. */
    const read = (taskId: string, principal: Principal | undefined) =>
      Effect.gen(function*() {
        const reply = yield* Effect.mapError(redis.send(["GET", recordKey(taskId)]), unreachable)
        const stored = typeof reply === "string" ? Option.getOrUndefined(decodeStored(reply)) : undefined
        if (stored === undefined || !visibleTo(stored.owner, principal)) return Option.none<Found>()
        if (TERMINAL.has(stored.detail["status"])) return Option.some<Found>({ from: stored.from, detail: stored.detail })
        // An owner found alive is remembered for a beat: a client polling a task costs one GET.
        const located = yield* membership.located(stored.from)
        // One that said it leaves may have left since (then its tasks ended with it): Redis knows which.
        const standing = located._tag === "Leaving" ? yield* membership.standing(stored.from) : located
        if (standing._tag !== "Gone") return Option.some<Found>({ from: stored.from, detail: stored.detail })
        // Its owner is gone, and the handler with it: the task will never settle.
        const { inputRequests: _, ...rest } = stored.detail
        const error = JsonRpc.internalError("The instance running the task stopped").toErrorObject()
        return Option.some<Found>({ from: stored.from, detail: { ...rest, status: "failed", error } })
      })

    /**
     * Sends a request to the task's owner once the caller is found to be allowed it, and acknowledges it once the
     * owner says it applied it: what the caller asks next, anywhere, sees it done.
     */
    const send = (
      taskId: string,
      principal: Principal | undefined,
      request: (to: string, ask: string) => Asking
    ) =>
      Effect.flatMap(read(taskId, principal), (found) => {
        if (Option.isNone(found) || TERMINAL.has(found.value.detail["status"])) {
          return Effect.succeed(Option.map(found, () => ACK))
        }
        const ask = randomBytes(12).toString("base64url")
        const key = askKey(ask)
        const offer = redis.eval(OFFER, [key], [String(ASK_TTL_MS), channel, encodeTold(request(found.value.from, ask))])
        // Heard nothing: withdrawn, it will never be applied (an error says so); claimed, it is being applied.
        const withdraw = Effect.flatMap(
          Effect.mapError(redis.eval(WITHDRAW, [key], []), unreachable),
          (state) => state === "a" ? Effect.void : Effect.fail(unreachable())
        )
        return Effect.acquireUseRelease(
          Effect.tap(Deferred.make<boolean>(), (done) => Effect.sync(() => void asked.set(ask, done))),
          (done) =>
            Effect.zipRight(
              Effect.mapError(offer, unreachable),
              Deferred.await(done).pipe(
                Effect.timeout(ANSWER_TIMEOUT),
                Effect.catchTag("TimeoutException", () =>
                  Effect.zipRight(
                    withdraw,
                    Effect.timeoutFail(Deferred.await(done), { duration: ANSWER_TIMEOUT, onTimeout: unreachable })
                  )),
                Effect.map((applied) => applied ? Option.some(ACK) : Option.none())
              )
            ),
          () => Effect.sync(() => void asked.delete(ask))
        )
      })

    const placement: PlacementService = {
      changed: (record: TaskRecord) => {
        const owner = partyOf(record.owner)
        const from = membership.incarnation()
        const stored = encodeStored({ from, owner, detail: record.detail })
        const status = record.notification === undefined
          ? ""
          : encodeTold({ kind: "status", from, owner, notification: record.notification })
        return Effect.ignore(redis.eval(WRITE, [recordKey(record.taskId)], [
          stored,
          String(Math.max(1, Math.ceil(record.ttlLeftMs))),
          channel,
          status
        ]))
      },
      get: (taskId, principal) =>
        Effect.map(read(taskId, principal), Option.map(({ detail }) => ({ resultType: "complete", ...detail }))),
      update: (taskId, principal, responses) =>
        send(taskId, principal, (to, ask) => ({
          kind: "update",
          taskId,
          principal: partyOf(principal),
          to,
          from: me,
          ask,
          responses
        })),
      cancel: (taskId, principal) =>
        send(taskId, principal, (to, ask) => ({ kind: "cancel", taskId, principal: partyOf(principal), to, from: me, ask })),
      attach: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => void handlers.add(handler)),
          () => Effect.sync(() => void handlers.delete(handler))
        )
    }
    return placement
  })
