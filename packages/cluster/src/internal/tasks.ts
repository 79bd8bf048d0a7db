/**
 * The tasks of a server across its instances (`McpTask.Placement`). A task runs on the instance that created it
 * (its owner): its handler's fiber and its pending asks cannot move. The owner keeps a record of each task in
 * Redis (`{ns}:task:{id}`: what `tasks/get` answers, the owner's party and incarnation), re-written on every
 * change and expiring with the task (its ttl), so Redis holds no more than the live tasks. Any instance answers
 * `tasks/get` from the record; `tasks/update` and `tasks/cancel` go to the owner over one channel,
 * `{ns}:tasks`, which also carries each status change to the listen streams of every instance.
 *
 * A task whose owner is gone (its lease lapsed, or it left) can never settle: read elsewhere, it is `failed`.
 * @internal
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import { isSameParty, type Principal } from "@effect-mcp/core/McpAuth"
import type { PlacementService, TaskRecord } from "@effect-mcp/core/McpTask"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Membership from "./membership.js"
import * as RedisClient from "../RedisClient.js"

/** A principal as it crosses instances: the party, which is all the owner checks compare. */
const Party = Schema.NullOr(Schema.Struct({ subject: Schema.String, issuer: Schema.optional(Schema.String) }))
type Party = typeof Party.Type

/** A task as `tasks/get` answers it. */
type Detail = { readonly [key: string]: unknown }

const Stored = Schema.parseJson(Schema.Struct({
  from: Schema.String,
  owner: Party,
  detail: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}))

const Told = Schema.parseJson(Schema.Union(
  Schema.Struct({ kind: Schema.Literal("status"), from: Schema.String, owner: Party, notification: Schema.Unknown }),
  Schema.Struct({
    kind: Schema.Literal("update"),
    taskId: Schema.String,
    principal: Party,
    responses: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }),
  Schema.Struct({ kind: Schema.Literal("cancel"), taskId: Schema.String, principal: Party })
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

/** The placement of the server's tasks, its channel heard for the current scope. @internal */
export const make = (redis: RedisClient.RedisClientService, config: Config) =>
  Effect.gen(function*() {
    const { membership, namespace, runFork } = config
    const channel = `${namespace}:tasks`
    const recordKey = (taskId: string) => `${namespace}:task:${taskId}`
    const handlers = new Set<Parameters<PlacementService["attach"]>[0]>()
    yield* redis.subscribe(channel, (message) => {
      const told = Option.getOrUndefined(decodeTold(message))
      if (told === undefined) return
      if (told.kind === "status") {
        if (told.from === membership.incarnation() || membership.wasMine(told.from)) return
        const notification = JsonRpc.decodeMessage(told.notification)
        if (Either.isLeft(notification) || !JsonRpc.isNotification(notification.right)) return
        for (const handler of handlers) handler.deliver(principalOf(told.owner), notification.right)
        return
      }
      // Every instance hears it; the owner alone holds the task, and checks the principal again.
      const principal = principalOf(told.principal)
      for (const handler of handlers) {
        const done = told.kind === "update"
          ? handler.update(told.taskId, principal, told.responses)
          : handler.cancel(told.taskId, principal)
        runFork(Effect.ignore(done))
      }
    })

    /** The record of a task, if the caller may see it: the task as its owner last told it, or lost. */
    const read = (taskId: string, principal: Principal | undefined) =>
      Effect.gen(function*() {
        const reply = yield* Effect.mapError(redis.send(["GET", recordKey(taskId)]), unreachable)
        const stored = typeof reply === "string" ? Option.getOrUndefined(decodeStored(reply)) : undefined
        if (stored === undefined || !visibleTo(stored.owner, principal)) return Option.none<Detail>()
        if (TERMINAL.has(stored.detail["status"])) return Option.some<Detail>(stored.detail)
        // An owner found alive is remembered for a beat: a client polling a task costs one GET.
        const standing = yield* membership.located(stored.from)
        if (standing._tag !== "Gone") return Option.some<Detail>(stored.detail)
        // Its owner is gone, and the handler with it: the task will never settle.
        const { inputRequests: _, ...rest } = stored.detail
        const error = JsonRpc.internalError("The instance running the task stopped").toErrorObject()
        return Option.some<Detail>({ ...rest, status: "failed", error })
      })

    /** Sends a request to the task's owner once the caller is found to be allowed it; acknowledged at once. */
    const send = (taskId: string, principal: Principal | undefined, told: typeof Told.Type) =>
      Effect.flatMap(read(taskId, principal), (found) =>
        Option.isNone(found) || TERMINAL.has(found.value["status"])
          ? Effect.succeed(Option.map(found, () => ACK))
          : Effect.as(Effect.mapError(redis.send(["PUBLISH", channel, encodeTold(told)]), unreachable), Option.some(ACK)))

    const placement: PlacementService = {
      changed: (record: TaskRecord) => {
        const owner = partyOf(record.owner)
        const from = membership.incarnation()
        const stored = encodeStored({ from, owner, detail: record.detail })
        const status = record.notification === undefined
          ? ""
          : encodeTold({ kind: "status", from, owner, notification: record.notification })
        runFork(Effect.ignore(redis.eval(WRITE, [recordKey(record.taskId)], [
          stored,
          String(Math.max(1, Math.ceil(record.ttlLeftMs))),
          channel,
          status
        ])))
      },
      get: (taskId, principal) =>
        Effect.map(read(taskId, principal), Option.map((detail) => ({ resultType: "complete", ...detail }))),
      update: (taskId, principal, responses) =>
        send(taskId, principal, { kind: "update", taskId, principal: partyOf(principal), responses }),
      cancel: (taskId, principal) => send(taskId, principal, { kind: "cancel", taskId, principal: partyOf(principal) }),
      attach: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => void handlers.add(handler)),
          () => Effect.sync(() => void handlers.delete(handler))
        )
    }
    return placement
  })
