/**
 * An instance's membership of the cluster on a real `redis-server`: one that leaves (it begins to drain) is known
 * to the others at once, as leaving, while its lease says so; once it has left, it is gone. Leaving is one round
 * trip to Redis: the script it runs is the one every beat runs, so Redis already knows it. An owner found gone is
 * remembered as such, and concurrent lookups of one owner share a round trip.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Membership from "../src/internal/membership.js"
import * as RedisClient from "../src/RedisClient.js"
import { redisServerPath, startRedis } from "./utils/redisServer.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

/** How many times Redis ran a command (`eval`: a script sent in full; `evalsha_ro`: a lookup by digest). */
const calls = (client: RedisClient.RedisClientService, command: "eval" | "evalsha_ro") =>
  Effect.map(client.send(["INFO", "commandstats"]), (reply) => {
    const found = typeof reply === "string" ? new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(reply) : null
    return found === null ? 0 : Number(found[1])
  })

const config = (port: number) => ({
  namespace: "effect-mcp",
  advertise: `http://127.0.0.1:${port}`,
  lease: Duration.seconds(30)
})

describe("Membership", () => {
  it.scopedLive("an instance that leaves is leaving for the others at once, then gone once it has left", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url })
      const scope = yield* Scope.make()
      const leaving = yield* Membership.join(client, config(1)).pipe(Scope.extend(scope))
      const other = yield* Membership.join(client, config(2))
      const id = leaving.incarnation()
      // Found alive, and remembered so for a beat (30 s / 3): only being told it leaves changes that.
      expect(yield* other.located(id)).toEqual({ _tag: "Alive", url: "http://127.0.0.1:1" })
      expect(leaving.placed()).toBe(true)
      yield* leaving.leave
      expect(leaving.placed()).toBe(false)
      // Leaving, at its URL: what its running calls wait for may still reach it.
      expect(yield* other.standing(id)).toEqual({ _tag: "Leaving", url: "http://127.0.0.1:1" })
      // Told on the members' channel: the remembered lease is dropped as soon as the message arrives.
      yield* Effect.repeat(other.located(id), {
        until: (standing) => standing._tag !== "Alive",
        // A probe's pace, not a wait for an outcome: bounded well within the beat the lease is remembered.
        schedule: Schedule.intersect(Schedule.spaced("5 millis"), Schedule.recurs(1_000))
      })
      expect(yield* other.located(id)).toEqual({ _tag: "Leaving", url: "http://127.0.0.1:1" })
      yield* Scope.close(scope, Exit.void)
      expect(yield* other.standing(id)).toEqual({ _tag: "Gone" })
      // Told it has left (a `bye` with no URL): gone, without asking Redis.
      yield* Effect.repeat(Effect.sync(() => other.known(id)), {
        until: (standing) => standing?._tag === "Gone",
        schedule: Schedule.intersect(Schedule.spaced("5 millis"), Schedule.recurs(1_000))
      })
      expect(other.known(id)).toEqual({ _tag: "Gone" })
    }))

  it.scopedLive("leaving is one round trip: Redis knows the script from the beats, so it is never sent in full", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url })
      const leaving = yield* Membership.join(client, config(1))
      const other = yield* Membership.join(client, config(2))
      // The first beat ran the script in full, as Redis did not know it yet.
      const before = yield* calls(client, "eval")
      expect(before).toBeGreaterThan(0)
      yield* leaving.leave
      expect(yield* other.standing(leaving.incarnation())).toEqual({ _tag: "Leaving", url: "http://127.0.0.1:1" })
      expect(yield* calls(client, "eval")).toBe(before)
    }))

  it.scopedLive("an owner found gone is known gone without asking again; concurrent lookups share one round trip", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url })
      // A short lease, so the epoch is soon older than one and a missing lease is proof of death.
      const short = { ...config(1), lease: Duration.millis(300) }
      const self = yield* Membership.join(client, short)
      const owner = yield* Membership.join(client, { ...short, advertise: "http://127.0.0.1:2" })
      // Redis learns the lookup script, which costs a second call the first time.
      yield* self.standing("never-was")
      const before = yield* calls(client, "evalsha_ro")
      const found = yield* Effect.all(Array.from({ length: 50 }, () => self.located(owner.incarnation())), {
        concurrency: "unbounded"
      })
      expect(new Set(found.map((standing) => standing._tag))).toEqual(new Set(["Alive"]))
      expect((yield* calls(client, "evalsha_ro")) - before).toBe(1)
      // An incarnation with no lease, once the epoch is older than a lease: gone, for good.
      expect(self.known("never-was")).toBeUndefined()
      yield* Effect.repeat(self.standing("never-was"), {
        until: (standing) => standing._tag === "Gone",
        // A probe's pace, bounded well past the 300 ms the epoch needs to age.
        schedule: Schedule.intersect(Schedule.spaced("20 millis"), Schedule.recurs(200))
      })
      expect(self.known("never-was")).toEqual({ _tag: "Gone" })
      const after = yield* calls(client, "evalsha_ro")
      expect(yield* self.located("never-was")).toEqual({ _tag: "Gone" })
      expect(yield* calls(client, "evalsha_ro")).toBe(after)
    }))
})
