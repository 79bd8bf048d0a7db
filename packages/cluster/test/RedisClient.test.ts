import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
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

/** A count from `INFO clients` (`connected_clients`, `blocked_clients`), asked with `admin`. */
const clients = (admin: RedisClient.RedisClientService, field: string) =>
  Effect.map(Effect.orDie(admin.send(["INFO", "clients"])), (reply) => {
    const found = new RegExp(`^${field}:(\\d+)`, "m").exec(String(reply))
    return found === null ? -1 : Number(found[1])
  })

/** Polls until `count` gives `expected`, for at most `timeoutMs`; gives the last count it saw. */
const reaches = (count: Effect.Effect<number>, expected: number, timeoutMs: number) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (true) {
      const now = yield* count
      if (now === expected || Date.now() - start > timeoutMs) return now
      yield* Effect.sleep("10 millis")
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

  it.scopedLive("answers reads while Redis holds a write of the same client (CLIENT PAUSE ... WRITE)", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const admin = yield* RedisClient.make({ url: redis.url })
      const client = yield* RedisClient.make({ url: redis.url, commandTimeout: "10 seconds" })
      yield* client.send(["SET", "k", "before"])
      yield* admin.send(["CLIENT", "PAUSE", "3000", "WRITE"])
      const write = yield* Effect.fork(client.send(["SET", "k", "after"]))
      // Redis holds the write now: a read sent behind it on the same connection would wait out the pause.
      expect(yield* reaches(clients(admin, "blocked_clients"), 1, 2_000)).toBe(1)
      const start = Date.now()
      expect(yield* client.send(["GET", "k"])).toBe("before")
      expect(yield* client.send(["MGET", "k", "missing"])).toEqual(["before", null])
      expect(yield* client.send(["EXISTS", "k"])).toBe(1)
      expect(yield* client.send(["PTTL", "k"])).toBe(-1)
      expect(yield* client.send(["time"])).toHaveLength(2)
      expect(yield* client.eval(READ, ["k"], [])).toBe("before")
      expect(Date.now() - start).toBeLessThan(1_000)
      // None of them waited for the write, which still waits for Redis.
      expect(Option.isNone(yield* Fiber.poll(write))).toBe(true)
      expect(yield* Fiber.join(write)).toBe("OK")
      expect(yield* client.send(["GET", "k"])).toBe("after")
      // Redis did not know the script yet: in full, on the read connection too.
      const stats = String(yield* admin.send(["INFO", "commandstats"]))
      expect(stats).toMatch(/cmdstat_evalsha_ro:calls=1,/)
      expect(stats).toMatch(/cmdstat_eval_ro:calls=1,/)
    }))

  it.scopedLive("holds a connection for writes and one for reads, each let in at start-up, closed with its scope", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const admin = yield* RedisClient.make({ url: redis.url })
      const alone = yield* clients(admin, "connected_clients")
      expect(alone).toBe(2)
      const scope = yield* Scope.make()
      const client = yield* Scope.extend(RedisClient.make({ url: redis.url }), scope)
      expect(yield* clients(admin, "connected_clients")).toBe(alone + 2)
      const stats = String(yield* admin.send(["INFO", "commandstats"]))
      // One PING from each connection of each client.
      expect(stats).toMatch(/cmdstat_ping:calls=4,/)
      expect(yield* client.send(["PING"])).toBe("PONG")
      yield* Scope.close(scope, Exit.void)
      expect(yield* reaches(clients(admin, "connected_clients"), alone, 2_000)).toBe(alone)
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
