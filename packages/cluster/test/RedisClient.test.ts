import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as RedisClient from "../src/RedisClient.js"
import { freePort, redisServerPath, startRedis } from "./utils/redisServer.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const ECHO = RedisClient.script("return {KEYS[1], ARGV[1]}")
const READ = RedisClient.script("return redis.call('GET', KEYS[1])", { readOnly: true })

/** Polls until `effect` succeeds, for at most `timeoutMs`. */
const recovered = <A, E>(effect: Effect.Effect<A, E>, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (true) {
      const result = yield* Effect.either(effect)
      if (Either.isRight(result)) return Date.now() - start
      if (Date.now() - start > timeoutMs) return yield* Effect.die(new Error(`no recovery in ${timeoutMs} ms`))
      yield* Effect.sleep("20 millis")
    }
  })

describe("RedisClient", () => {
  it.scopedLive("sends commands and runs scripts, in full again once Redis forgot them", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url })
      expect(yield* client.send(["SET", "k", "v", "PX", "10000"])).toBe("OK")
      expect(yield* client.send(["GET", "k"])).toBe("v")
      expect(yield* client.send(["GET", "missing"])).toBe(null)
      expect(yield* client.send(["INCR", "n"])).toBe(1)
      expect(yield* client.eval(ECHO, ["a"], ["b"])).toEqual(["a", "b"])
      expect(yield* client.eval(READ, ["k"], [])).toBe("v")
      expect(yield* client.send(["SCRIPT", "FLUSH"])).toBe("OK")
      expect(yield* client.eval(ECHO, ["c"], ["d"])).toEqual(["c", "d"])
      const stats = String(yield* client.send(["INFO", "commandstats"]))
      expect(stats).toMatch(/cmdstat_evalsha_ro:calls=1,/)
      const error = yield* Effect.flip(client.send(["NOSUCHCOMMAND"]))
      expect(error._tag).toBe("RedisError")
    }))

  it.scopedLive("fails at once while Redis is down, and works again once it is back", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url })
      yield* redis.kill
      const start = Date.now()
      const error = yield* Effect.flip(client.send(["GET", "k"]))
      expect(error._tag).toBe("RedisError")
      expect(Date.now() - start).toBeLessThan(600)
      yield* redis.restart
      const ms = yield* recovered(client.send(["PING"]), 3_000)
      expect(ms).toBeLessThan(3_000)
    }))

  it.scopedLive("fails within the command timeout when Redis stops answering", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const client = yield* RedisClient.make({ url: redis.url, commandTimeout: "300 millis" })
      yield* redis.pause
      const start = Date.now()
      const error = yield* Effect.flip(client.send(["GET", "k"]))
      const took = Date.now() - start
      yield* redis.resume
      expect(error._tag).toBe("RedisError")
      expect(took).toBeGreaterThanOrEqual(250)
      expect(took).toBeLessThan(1_500)
      yield* recovered(client.send(["PING"]), 3_000)
    }))

  it.scopedLive("fails to build when nothing answers at the URL", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const error = yield* Effect.flip(
        RedisClient.make({ url: `redis://127.0.0.1:${port}`, connectTimeout: "500 millis" })
      )
      expect(error._tag).toBe("RedisError")
    }))
})
