/**
 * The seam every transport stands on, exercised as a user's own transport would: open a session with a writer,
 * offer it decoded messages with a reply sink, close it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as DemoServer from "../../examples/src/DemoServer.js"
import * as JsonRpc from "../src/JsonRpc.js"
import type { Sink } from "../src/McpSession.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { capture } from "./utils/logs.js"

/** A channel transport: what the server writes is collected; what the peer sends is offered to the session. */
const channel = Effect.gen(function*() {
  const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" }).pipe(Effect.provide(DemoServer.layer))
  const scope = yield* Scope.make()
  const written: Array<JsonRpc.Message> = []
  const writer: Sink = (message) => {
    written.push(message)
    return true
  }
  const session = yield* registry.open({ transport: "channel", protocolVersion: "2025-11-25", writer }).pipe(
    Scope.extend(scope)
  )
  const answers = (id: JsonRpc.RequestId) => written.filter((m) => JsonRpc.isResponse(m) && m.id === id)
  return { registry, scope, session, written, writer, answers }
})

const initialize = JsonRpc.request(1, "initialize", {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "channel", version: "1" }
})

describe("the session seam", () => {
  it.scoped("offer: requests answered on the reply sink, the handshake recorded, read-only facts", () =>
    Effect.gen(function*() {
      const { answers, session, writer } = yield* channel
      expect(session.phase).toBe("awaiting-initialize")
      // Before initialize only ping is served.
      expect(session.offer(JsonRpc.request(0, "tools/list"), writer)).toBe(true)
      expect(answers(0)[0]).toMatchObject({ error: { code: JsonRpc.ErrorCode.InvalidRequest } })
      expect(session.offer(initialize, writer)).toBe(true)
      expect(answers(1)[0]).toMatchObject({ result: { protocolVersion: "2025-06-18" } })
      expect(session.phase).toBe("initialized")
      expect(session.protocolVersion).toBe("2025-06-18")
      expect(session.clientInfo).toEqual({ name: "channel", version: "1" })
      // Each request's reply goes to the sink it was offered with, not to the session's writer.
      const own: Array<JsonRpc.Message> = []
      session.offer(JsonRpc.request(2, "tools/call", { name: "echo", arguments: { text: "x" } }), (m) => own.push(m) > 0)
      expect(own).toEqual([{ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "x" }] } }])
      expect(answers(2)).toEqual([])
      // A second request under an id still in flight is refused; the first runs on.
      session.offer(JsonRpc.request(3, "tools/call", { name: "sleep", arguments: { ms: 1000 } }), writer)
      session.offer(JsonRpc.request(3, "ping"), writer)
      expect(answers(3)[0]).toMatchObject({ error: { code: JsonRpc.ErrorCode.InvalidRequest } })
      yield* TestClock.adjust("1 second")
      expect(answers(3)[1]).toMatchObject({ result: { content: [{ type: "text", text: "slept 1000 ms" }] } })
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("settled: called once a request's handling ends, answered, cancelled or closed", () =>
    Effect.gen(function*() {
      const { scope, session, writer } = yield* channel
      session.offer(initialize, writer)
      const settled: Array<string> = []
      session.offer(JsonRpc.request("a", "ping"), writer, () => settled.push("a"))
      session.offer(JsonRpc.request("b", "tools/call", { name: "sleep", arguments: { ms: 60_000 } }), writer, () =>
        settled.push("b"))
      session.offer(JsonRpc.request("c", "tools/call", { name: "sleep", arguments: { ms: 60_000 } }), writer, () =>
        settled.push("c"))
      expect(settled).toEqual(["a"])
      expect(session.inFlight).toBe(2)
      session.offer(JsonRpc.notification("notifications/cancelled", { requestId: "b" }), writer)
      yield* Effect.yieldNow()
      expect(settled).toEqual(["a", "b"])
      yield* Scope.close(scope, Exit.void)
      expect(settled).toEqual(["a", "b", "c"])
      expect(session.inFlight).toBe(0)
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("the writer carries what the server starts; a closed session takes nothing and sends nothing", () =>
    Effect.gen(function*() {
      const { registry, scope, session, writer, written } = yield* channel
      expect(session.send(JsonRpc.notification("notifications/tools/list_changed"))).toBe(true)
      expect(written).toEqual([{ jsonrpc: "2.0", method: "notifications/tools/list_changed" }])
      const other: Array<JsonRpc.Message> = []
      session.setWriter((m) => other.push(m) > 0)
      session.send(JsonRpc.notification("notifications/resources/list_changed"))
      expect(other.length).toBe(1)
      // Holding the session busy keeps idle expiry away.
      const release = session.hold()
      yield* TestClock.adjust("5 minutes")
      expect(session.isOpen).toBe(true)
      release()
      yield* Scope.close(scope, Exit.void)
      expect(session.isOpen).toBe(false)
      yield* session.closed
      expect(session.offer(JsonRpc.request(9, "ping"), writer)).toBe(false)
      expect(session.send(JsonRpc.notification("x"))).toBe(false)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(capture().layer)))
})
