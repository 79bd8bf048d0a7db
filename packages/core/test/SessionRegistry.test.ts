import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { Session } from "../src/McpSession.js"
import { makeSessionId } from "../src/McpSession.js"
import * as SessionRegistry from "../src/SessionRegistry.js"

const memory = { transport: "memory", protocolVersion: "2025-11-25" } as const

/** The registry logs every open and close at Info; the tests only look at behaviour. */
const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

/** A fiber the session owns, still running: `Fiber.poll` is `None`. */
const isRunning = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.map(Fiber.poll(fiber), Option.isNone)

const runIn = <A, E>(session: Session, effect: Effect.Effect<A, E>): Fiber.RuntimeFiber<A, E> => {
  const fiber = session.unsafeRun(effect)
  if (fiber === undefined) throw new Error("the session refused work")
  return fiber
}

describe("SessionRegistry", () => {
  it.scoped("open, lookup and size", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      expect(yield* registry.size).toBe(0)
      const a = yield* registry.open(memory)
      const b = yield* registry.openDetached({ transport: "streamable-http", protocolVersion: "2025-06-18" })
      expect(yield* registry.size).toBe(2)
      expect(a.id).not.toBe(b.id)
      expect(Option.getOrUndefined(yield* registry.lookup(a.id))).toBe(a)
      expect(Option.getOrUndefined(yield* registry.lookup(b.id))).toBe(b)
      expect(Option.isNone(yield* registry.lookup(makeSessionId()))).toBe(true)
      expect((yield* registry.sessions).map((s) => s.id).sort()).toEqual([a.id, b.id].sort())
      expect(a.transport).toBe("memory")
      expect(a.protocolVersion).toBe("2025-11-25")
      expect(b.protocolVersion).toBe("2025-06-18")
      expect(a.phase).toBe("awaiting-initialize")
      expect(a.isOpen).toBe(true)
      expect(registry.maxSessions).toBe(10_000)
    }).pipe(Effect.provide(quiet)))

  it.scoped("closing the owning scope ends the session: gone from the registry, fibers interrupted", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const owner = yield* Scope.make()
      const session = yield* registry.open(memory).pipe(Scope.extend(owner))
      const other = yield* registry.open(memory)
      const work = runIn(session, Effect.never)
      expect(session.busy).toBe(1)
      yield* Scope.close(owner, Exit.void)

      expect(session.isOpen).toBe(false)
      expect(yield* Deferred.isDone(session.closed)).toBe(true)
      expect(Option.isNone(yield* registry.lookup(session.id))).toBe(true)
      expect(yield* registry.size).toBe(1)
      expect(Exit.isInterrupted(yield* Fiber.await(work))).toBe(true)
      expect(session.busy).toBe(0)
      expect(session.inFlight.size).toBe(0)
      // A closed session accepts nothing: the transport answers 404 instead of accepting into a dead session.
      expect(session.unsafeRun(Effect.void)).toBeUndefined()
      // The other session is untouched.
      expect(other.isOpen).toBe(true)
      expect(Option.getOrUndefined(yield* registry.lookup(other.id))).toBe(other)
    }).pipe(Effect.provide(quiet)))

  it.scoped("session.close ends it from anywhere; closing twice is harmless", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const session = yield* registry.openDetached(memory)
      const requestFiber = session.unsafeRun(Effect.never, 7)
      expect(session.inFlight.get(7)).toBe(requestFiber)
      yield* session.close
      yield* session.close
      expect(yield* registry.size).toBe(0)
      expect(session.isOpen).toBe(false)
      expect(requestFiber === undefined ? undefined : Exit.isInterrupted(yield* Fiber.await(requestFiber))).toBe(true)
      expect(session.inFlight.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("the cap refuses with SessionLimitExceeded, and frees a slot when a session ends", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 2 })
      const a = yield* registry.open(memory)
      yield* registry.openDetached(memory)
      const refused = yield* Effect.flip(registry.open(memory))
      expect(refused).toBeInstanceOf(SessionRegistry.SessionLimitExceeded)
      expect(refused._tag).toBe("SessionLimitExceeded")
      expect(refused.limit).toBe(2)
      const refusedDetached = yield* Effect.flip(registry.openDetached(memory))
      expect(refusedDetached.limit).toBe(2)
      expect(yield* registry.size).toBe(2)
      yield* a.close
      expect(yield* registry.size).toBe(1)
      const c = yield* registry.open(memory)
      expect(c.isOpen).toBe(true)
      expect(yield* registry.size).toBe(2)
    }).pipe(Effect.provide(quiet)))

  it.scoped("idle expiry: closes a session idle for the timeout, not before", () =>
    Effect.gen(function*() {
      // The sweeper runs every timeout / 4 = 15 s, so expiry lands within [60 s, 75 s] of the last activity.
      const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" })
      const session = yield* registry.openDetached(memory)
      yield* TestClock.adjust("59 seconds")
      expect(session.isOpen).toBe(true)
      // Activity moves the idle clock.
      session.touch()
      yield* TestClock.adjust("59 seconds")
      expect(session.isOpen).toBe(true)
      expect(yield* registry.size).toBe(1)
      yield* TestClock.adjust("16 seconds")
      expect(session.isOpen).toBe(false)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("idle expiry counts only time with nothing in flight", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" })
      const busy = yield* registry.openDetached(memory)
      const idle = yield* registry.openDetached(memory)
      const request = runIn(busy, Effect.never)
      expect(busy.busy).toBe(1)

      // Far past the timeout: the idle session goes, the busy one stays however long its request takes.
      yield* TestClock.adjust("10 minutes")
      expect(idle.isOpen).toBe(false)
      expect(busy.isOpen).toBe(true)
      expect(yield* isRunning(request)).toBe(true)
      expect(yield* registry.expireIdle).toBe(0)

      // The request ends: the idle clock starts now, not when the request started.
      yield* Fiber.interrupt(request)
      expect(busy.busy).toBe(0)
      yield* TestClock.adjust("59 seconds")
      expect(busy.isOpen).toBe(true)
      yield* TestClock.adjust("16 seconds")
      expect(busy.isOpen).toBe(false)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("idle expiry after a request that completes on its own", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" })
      const session = yield* registry.openDetached(memory)
      const request = runIn(session, Effect.sleep("5 minutes"))
      yield* TestClock.adjust("4 minutes")
      expect(session.isOpen).toBe(true)
      yield* TestClock.adjust("1 minute")
      expect(Exit.isSuccess(yield* Fiber.await(request))).toBe(true)
      expect(session.busy).toBe(0)
      // 5 minutes since it opened, 0 s idle.
      expect(yield* registry.expireIdle).toBe(0)
      yield* TestClock.adjust("59 seconds")
      expect(yield* registry.expireIdle).toBe(0)
      expect(session.isOpen).toBe(true)
      yield* TestClock.adjust("16 seconds")
      expect(session.isOpen).toBe(false)
    }).pipe(Effect.provide(quiet)))

  it.scoped("an acquired stream keeps the session from expiring", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" })
      const session = yield* registry.openDetached(memory)
      session.acquire()
      yield* TestClock.adjust("20 minutes")
      expect(session.isOpen).toBe(true)
      session.release()
      yield* TestClock.adjust("75 seconds")
      expect(session.isOpen).toBe(false)
    }).pipe(Effect.provide(quiet)))

  it.scoped("an infinite idleTimeout never expires", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ idleTimeout: Duration.infinity })
      const session = yield* registry.openDetached(memory)
      yield* TestClock.adjust("365 days")
      expect(session.isOpen).toBe(true)
      expect(yield* registry.expireIdle).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.effect("closing the registry's scope closes every session and interrupts its work", () =>
    Effect.gen(function*() {
      const registryScope = yield* Scope.make()
      const registry = yield* SessionRegistry.make().pipe(Scope.extend(registryScope))
      // Sessions owned by scopes that outlive the registry, and detached ones.
      const owner = yield* Scope.make()
      const scoped = yield* Effect.forEach(
        Array.from({ length: 5 }),
        () => registry.open(memory).pipe(Scope.extend(owner))
      )
      const detached = yield* Effect.forEach(Array.from({ length: 5 }), () => registry.openDetached(memory))
      const all = [...scoped, ...detached]
      const work = all.map((session) => runIn(session, Effect.never))
      expect(yield* registry.size).toBe(10)

      yield* Scope.close(registryScope, Exit.void)
      expect(yield* registry.size).toBe(0)
      for (const session of all) {
        expect(session.isOpen).toBe(false)
        expect(yield* Deferred.isDone(session.closed)).toBe(true)
      }
      for (const fiber of work) expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      // The owners closing later is harmless.
      yield* Scope.close(owner, Exit.void)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("ids are 32 lowercase hex characters and unique over 10,000 sessions", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const ids = new Set<string>()
      for (let i = 0; i < 10_000; i++) {
        const session = yield* registry.openDetached(memory)
        expect(session.id).toMatch(/^[0-9a-f]{32}$/)
        ids.add(session.id)
      }
      expect(ids.size).toBe(10_000)
      expect(yield* registry.size).toBe(10_000)
      // At the default cap of 10,000.
      expect((yield* Effect.flip(registry.openDetached(memory))).limit).toBe(10_000)
      for (let i = 0; i < 10_000; i++) ids.add(makeSessionId())
      expect(ids.size).toBe(20_000)
    }).pipe(Effect.provide(quiet)))
})
