import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as JsonRpc from "../src/JsonRpc.js"
import * as McpServer from "../src/McpServer.js"
import type { Session } from "../src/McpSession.js"
import { makeSessionId } from "../src/McpSession.js"
import * as McpTool from "../src/McpTool.js"
import * as SessionRegistry from "../src/SessionRegistry.js"

/** Sessions served as initialized, so a test can hand them tool calls straight away. */
const memory = { transport: "memory", protocolVersion: "2025-11-25", initialized: true } as const

/** The server the sessions hand their requests to: a tool that never ends, and one that waits. */
const ServerLive = Layer.mergeAll(
  McpTool.make("block", { input: Schema.Struct({}), handler: () => Effect.never }),
  McpTool.make("wait", {
    input: Schema.Struct({ ms: Schema.Number }),
    handler: ({ ms }) => Effect.as(Effect.sleep(ms), "waited")
  })
).pipe(Layer.provideMerge(McpServer.layer({ name: "registry-test", version: "0.0.0" })))

/** The registry logs every open and close at Debug; the tests only look at behaviour. */
const quiet = Layer.mergeAll(Logger.replace(Logger.defaultLogger, Logger.none), ServerLive)

/** What became of a request handed to a session. */
interface Work {
  answered: boolean
  settled: boolean
}

let nextId = 0

/** Hands a tool call to a session, as a transport would; the session owns the handler's fiber. */
const runIn = (session: Session, name: string, args: unknown = {}): Work => {
  const work: Work = { answered: false, settled: false }
  const taken = session.offer(JsonRpc.request(++nextId, "tools/call", { name, arguments: args }), (message) => {
    if (JsonRpc.isResponse(message)) work.answered = true
    return true
  }, () => {
    work.settled = true
  })
  if (!taken) throw new Error("the session refused work")
  return work
}

/** Interrupted: it ended without an answer. */
const interrupted = (work: Work) => work.settled && !work.answered

/** Hands a request to a session and keeps every message its reply sink gets. */
const collect = (session: Session, request: JsonRpc.Request) => {
  const got: Array<JsonRpc.Message> = []
  session.offer(request, (message) => got.push(message) > 0)
  return got
}

describe("SessionRegistry", () => {
  it.scoped("open, lookup and size", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      expect(yield* registry.size).toBe(0)
      const a = yield* registry.open(memory)
      const b = yield* registry.openDetached({ transport: "streamable-http", protocolVersion: "2025-06-18" })
      expect(yield* registry.size).toBe(2)
      expect(registry.unsafeLookup(a.id)).toBe(a)
      expect(a.id).not.toBe(b.id)
      expect(Option.getOrUndefined(yield* registry.lookup(a.id))).toBe(a)
      expect(Option.getOrUndefined(yield* registry.lookup(b.id))).toBe(b)
      expect(Option.isNone(yield* registry.lookup(makeSessionId()))).toBe(true)
      expect((yield* registry.sessions).map((s) => s.id).sort()).toEqual([a.id, b.id].sort())
      expect(a.transport).toBe("memory")
      expect(a.protocolVersion).toBe("2025-11-25")
      expect(b.protocolVersion).toBe("2025-06-18")
      expect(a.phase).toBe("initialized")
      expect((yield* registry.openDetached({ transport: "x", protocolVersion: "2025-11-25" })).phase).toBe(
        "awaiting-initialize"
      )
      expect(a.isOpen).toBe(true)
      expect(registry.maxSessions).toBe(10_000)
    }).pipe(Effect.provide(quiet)))

  it.scoped("closing the owning scope ends the session: gone from the registry, fibers interrupted", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const owner = yield* Scope.make()
      const session = yield* registry.open(memory).pipe(Scope.extend(owner))
      const other = yield* registry.open(memory)
      const work = runIn(session, "block")
      expect(session.busy).toBe(1)
      yield* Scope.close(owner, Exit.void)

      expect(session.isOpen).toBe(false)
      yield* session.closed
      expect(Option.isNone(yield* registry.lookup(session.id))).toBe(true)
      expect(registry.unsafeLookup(session.id)).toBeUndefined()
      expect(yield* registry.size).toBe(1)
      expect(interrupted(work)).toBe(true)
      expect(session.busy).toBe(0)
      expect(session.inFlight).toBe(0)
      // A closed session accepts nothing: the transport answers 404 instead of accepting into a dead session.
      expect(session.offer(JsonRpc.request(1, "ping"), () => true)).toBe(false)
      // The other session is untouched.
      expect(other.isOpen).toBe(true)
      expect(Option.getOrUndefined(yield* registry.lookup(other.id))).toBe(other)
    }).pipe(Effect.provide(quiet)))

  it.scoped("session.close ends it from anywhere; closing twice is harmless", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const session = yield* registry.openDetached(memory)
      const work = runIn(session, "block")
      expect(session.inFlight).toBe(1)
      yield* session.close
      yield* session.close
      expect(yield* registry.size).toBe(0)
      expect(session.isOpen).toBe(false)
      expect(interrupted(work)).toBe(true)
      expect(session.inFlight).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("session.end refuses everything at once, before any fiber runs, then closes in the background", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const session = yield* registry.openDetached(memory)
      const work = runIn(session, "block")
      let sent = 0
      session.setWriter(() => {
        sent++
        return true
      })
      session.end()
      // Same synchronous step as the disconnect callback: nothing has had a chance to run yet.
      expect(session.isOpen).toBe(false)
      expect(session.offer(JsonRpc.request(++nextId, "ping", {}), () => true)).toBe(false)
      expect(session.send(JsonRpc.notification("notifications/message", {}))).toBe(false)
      expect(sent).toBe(0)
      expect(registry.unsafeLookup(session.id)?.isOpen ?? false).toBe(false)
      yield* session.closed
      // The close runs in a fiber of its own: give it turns, boundedly, to leave the registry and stop the call.
      for (let turn = 0; turn < 100 && ((yield* registry.size) > 0 || !interrupted(work)); turn++) yield* Effect.yieldNow()
      expect(yield* registry.size).toBe(0)
      expect(interrupted(work)).toBe(true)
      session.end()
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("the cap refuses with SessionLimitExceeded, and frees a slot when a session ends", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 2 })
      const a = yield* registry.open(memory)
      yield* registry.openDetached(memory)
      const refused = yield* Effect.flip(registry.open(memory))
      expect(refused).toBeInstanceOf(SessionRegistry.SessionLimitExceeded)
      expect(refused._tag).toBe("SessionLimitExceeded")
      expect(refused).toEqual(new SessionRegistry.SessionLimitExceeded({ limit: 2 }))
      const refusedDetached = yield* Effect.flip(registry.openDetached(memory))
      expect(refusedDetached).toEqual(new SessionRegistry.SessionLimitExceeded({ limit: 2 }))
      expect(yield* registry.size).toBe(2)
      yield* a.close
      expect(yield* registry.size).toBe(1)
      const c = yield* registry.open(memory)
      expect(c.isOpen).toBe(true)
      expect(yield* registry.size).toBe(2)
    }).pipe(Effect.provide(quiet)))

  it.scoped("listen streams have their own cap: they leave maxSessions alone, and a closed one frees its slot", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 1, maxListeners: 2 })
      const listener = { ...memory, listener: true } as const
      expect(registry.maxListeners).toBe(2)
      const first = yield* registry.openDetached(listener)
      yield* registry.openDetached(listener)
      // Two listeners open, and the one request session still fits.
      const request = yield* registry.open(memory)
      expect(yield* registry.size).toBe(3)
      expect(yield* Effect.flip(registry.openDetached(listener))).toEqual(
        new SessionRegistry.ListenerLimitExceeded({ limit: 2 })
      )
      expect(yield* Effect.flip(registry.open(memory))).toEqual(new SessionRegistry.SessionLimitExceeded({ limit: 1 }))
      yield* first.close
      const third = yield* registry.openDetached(listener)
      expect(third.isOpen).toBe(true)
      // The request session's slot is its own: closing it lets another request session in, not a third listener.
      yield* request.close
      yield* registry.open(memory)
      expect(yield* Effect.flip(registry.openDetached(listener))).toBeInstanceOf(SessionRegistry.ListenerLimitExceeded)
    }).pipe(Effect.provide(quiet)))

  it.scoped("a sessionless request's session, by the option's name or its former one: its own budget, its _meta for a handshake", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxSessions: 1, maxSessionless: 2 })
      const envelope = { clientCapabilities: { roots: {} }, clientInfo: { name: "caller", version: "1.0.0" } }
      const request = { transport: "memory", protocolVersion: "2026-07-28" } as const
      const named = yield* registry.open({ ...request, sessionless: envelope })
      const formerly = yield* registry.open({ ...request, modern: envelope })
      for (const session of [named, formerly]) {
        expect(session.phase).toBe("initialized")
        expect(session.clientInfo).toEqual(envelope.clientInfo)
        expect(session.clientCapabilities).toEqual(envelope.clientCapabilities)
      }
      // Both count against maxSessionless, not maxSessions: a session still fits, a third sessionless one does not.
      yield* registry.open(memory)
      const refused = yield* Effect.flip(registry.open({ ...request, sessionless: envelope }))
      expect(refused).toBeInstanceOf(SessionRegistry.SessionLimitExceeded)
      expect(refused).toMatchObject({ limit: 2 })
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
      const request = runIn(busy, "block")
      expect(busy.busy).toBe(1)

      // Far past the timeout: the idle session goes, the busy one stays however long its request takes.
      yield* TestClock.adjust("10 minutes")
      expect(idle.isOpen).toBe(false)
      expect(busy.isOpen).toBe(true)
      expect(request.settled).toBe(false)
      expect(yield* registry.expireIdle).toBe(0)

      // The request ends (cancelled): the idle clock starts now, not when the request started.
      busy.offer(JsonRpc.notification("notifications/cancelled", { requestId: nextId }), () => true)
      yield* Effect.yieldNow()
      expect(interrupted(request)).toBe(true)
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
      const request = runIn(session, "wait", { ms: 5 * 60_000 })
      yield* TestClock.adjust("4 minutes")
      expect(session.isOpen).toBe(true)
      yield* TestClock.adjust("1 minute")
      expect(request.answered).toBe(true)
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
      const release = session.hold()
      yield* TestClock.adjust("20 minutes")
      expect(session.isOpen).toBe(true)
      release()
      // Releasing twice counts once.
      release()
      expect(session.busy).toBe(0)
      yield* TestClock.adjust("75 seconds")
      expect(session.isOpen).toBe(false)
    }).pipe(Effect.provide(quiet)))

  it.scoped("an infinite idleTimeout never expires", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ idleTimeout: Duration.infinity, handshakeTimeout: Duration.infinity })
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
      const work = all.map((session) => runIn(session, "block"))
      expect(yield* registry.size).toBe(10)

      yield* Scope.close(registryScope, Exit.void)
      expect(yield* registry.size).toBe(0)
      for (const session of all) {
        expect(session.isOpen).toBe(false)
        yield* session.closed
      }
      for (const w of work) expect(interrupted(w)).toBe(true)
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
      expect(yield* Effect.flip(registry.openDetached(memory))).toEqual(
        new SessionRegistry.SessionLimitExceeded({ limit: 10_000 })
      )
      for (let i = 0; i < 10_000; i++) ids.add(makeSessionId())
      expect(ids.size).toBe(20_000)
    }).pipe(Effect.provide(quiet)))

  it.scoped("drain: no new sessions or requests; what runs may finish; past the period it is stopped and answered", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ drainTimeout: "5 seconds" })
      const session = yield* registry.openDetached(memory)
      const quick = collect(session, JsonRpc.request("quick", "tools/call", { name: "wait", arguments: { ms: 1000 } }))
      const stuck = collect(session, JsonRpc.request("stuck", "tools/call", { name: "block", arguments: {} }))
      const draining = yield* Effect.fork(registry.drain)
      yield* Effect.yieldNow()
      expect(registry.isDraining()).toBe(true)
      // No new session; a new request on a live one is answered at once with an error.
      expect(yield* Effect.flip(registry.openDetached(memory))).toEqual(new SessionRegistry.ShuttingDown())
      const late = collect(session, JsonRpc.request("late", "ping"))
      expect(late).toMatchObject([{ id: "late", error: { code: JsonRpc.ErrorCode.InternalError } }])
      // What was running goes on: the quick call finishes within the period and is answered as usual.
      yield* TestClock.adjust("1 second")
      expect(quick).toMatchObject([{ id: "quick", result: { content: [{ type: "text", text: "waited" }] } }])
      expect(stuck).toEqual([])
      // Past the period the stuck one is stopped, and answered: never silence.
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(draining)).toBe(1)
      expect(stuck).toMatchObject([{ id: "stuck", error: { code: JsonRpc.ErrorCode.InternalError } }])
      // The session is still open: its transport delivers the answers before the registry closes it.
      expect(session.isOpen).toBe(true)
      expect(session.inFlight).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.scoped("a session answers requests past its in-flight limit with an error at once", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxInFlight: 2 })
      const session = yield* registry.openDetached(memory)
      const first = collect(session, JsonRpc.request(1, "tools/call", { name: "block", arguments: {} }))
      const second = collect(session, JsonRpc.request(2, "tools/call", { name: "block", arguments: {} }))
      const third = collect(session, JsonRpc.request(3, "ping"))
      expect(first).toEqual([])
      expect(second).toEqual([])
      expect(third).toMatchObject([{ id: 3, error: { code: JsonRpc.ErrorCode.ConnectionClosed } }])
      expect(session.inFlight).toBe(2)
      // Notifications still go through: cancelling one frees a place.
      session.offer(JsonRpc.notification("notifications/cancelled", { requestId: 1 }), () => true)
      yield* Effect.yieldNow()
      expect(collect(session, JsonRpc.request(4, "ping"))).toEqual([{ jsonrpc: "2.0", id: 4, result: {} }])
    }).pipe(Effect.provide(quiet)))

  it.scoped("a session's requests to the client are limited: past the limit one fails with TooMany, nothing sent", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make({ maxPendingClientRequests: 2 })
      const sent: Array<JsonRpc.Message> = []
      const session = yield* registry.openDetached({
        transport: "memory",
        protocolVersion: "2025-11-25",
        writer: (message) => sent.push(message) > 0
      })
      session.offer(JsonRpc.request("init", "initialize", {
        protocolVersion: "2025-11-25",
        capabilities: { roots: {} },
        clientInfo: { name: "silent", version: "0" }
      }), () => true)
      // A client that never answers: two requests wait, the third is refused at once.
      const waiting = yield* Effect.forEach([1, 2], () => Effect.fork(session.listRoots()))
      yield* Effect.yieldNow()
      const third = yield* Effect.flip(session.listRoots())
      expect(third).toMatchObject({ _tag: "ClientRequestError", reason: "TooMany", method: "roots/list" })
      expect(sent.filter((m) => "method" in m && m.method === "roots/list")).toHaveLength(2)
      // An answer frees a place.
      const first = sent.find((m) => "method" in m && m.method === "roots/list")
      if (first === undefined || !("id" in first) || first.id === null) throw new Error("no request was sent")
      session.offer(JsonRpc.success(first.id, { roots: [] }), () => true)
      expect(yield* Fiber.join(waiting[0]!)).toEqual([])
      const fourth = yield* Effect.fork(session.listRoots())
      yield* Effect.yieldNow()
      expect(sent.filter((m) => "method" in m && m.method === "roots/list")).toHaveLength(3)
      yield* Fiber.interrupt(fourth)
      yield* Fiber.interrupt(waiting[1]!)
    }).pipe(Effect.provide(quiet)))
})
