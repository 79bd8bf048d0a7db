/**
 * An instance's membership of the cluster on a real `redis-server`: one that leaves (it begins to drain) is known
 * to the others at once, as leaving, while its lease says so; once it has left, it is gone.
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
      expect(yield* other.standing(id)).toEqual({ _tag: "Leaving" })
      // Told on the members' channel: the remembered lease is dropped as soon as the message arrives.
      yield* Effect.repeat(other.located(id), {
        until: (standing) => standing._tag !== "Alive",
        // A probe's pace, not a wait for an outcome: bounded well within the beat the lease is remembered.
        schedule: Schedule.intersect(Schedule.spaced("5 millis"), Schedule.recurs(1_000))
      })
      expect(yield* other.located(id)).toEqual({ _tag: "Leaving" })
      yield* Scope.close(scope, Exit.void)
      expect(yield* other.standing(id)).toEqual({ _tag: "Gone" })
    }))
})
