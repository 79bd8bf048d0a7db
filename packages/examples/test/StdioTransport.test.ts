import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as StdioTransport from "@effect-mcp/core/StdioTransport"
import { capture } from "../../node/test/utils/logs.js"

const encoder = new TextEncoder()

/** The transport over an in-memory pipe: what a test writes is stdin, what the server writes is collected. */
const pipe = (options: StdioTransport.Options = {}, outputLimit = Infinity) =>
  Effect.gen(function*() {
    const server = yield* Layer.build(DemoServer.layer)
    const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" }).pipe(Effect.provide(server))
    const stdin = yield* Queue.unbounded<Uint8Array | null>()
    const stdout: Array<string> = []
    const input = Stream.fromQueue(stdin).pipe(Stream.takeWhile((chunk): chunk is Uint8Array => chunk !== null))
    let written = 0
    const served = yield* StdioTransport.serve(input, (text) => {
      stdout.push(text)
      written += text.length
      // What a real output says when the client has left more than the limit unread.
      return written <= outputLimit
    }, options).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry), Effect.fork)
    // Written, and given the server's fiber time to read it.
    const write = (text: string) =>
      Effect.zipRight(Queue.offer(stdin, encoder.encode(text)), Effect.repeatN(Effect.yieldNow(), 20))
    const eof = Queue.offer(stdin, null)
    /** Every message written so far, parsed; each write must be exactly one JSON line. */
    const messages = () =>
      stdout.map((line) => {
        expect(line.endsWith("\n")).toBe(true)
        expect(line.slice(0, -1)).not.toContain("\n")
        return JSON.parse(line) as JsonRpc.Message & { readonly id?: JsonRpc.RequestId | null }
      })
    const answer = (id: JsonRpc.RequestId) =>
      Effect.gen(function*() {
        for (let i = 0; i < 100; i++) {
          const found = messages().find((m) => "id" in m && m.id === id && !("method" in m))
          if (found !== undefined) return found
          yield* Effect.yieldNow()
        }
        return yield* Effect.die(new Error(`no answer to ${String(id)}: ${stdout.join("")}`))
      })
    return { registry, write, eof, messages, answer, served }
  })

const line = (message: unknown) => JSON.stringify(message) + "\n"

const initialize = (id: JsonRpc.RequestId, protocolVersion = "2025-11-25") =>
  line(JsonRpc.request(id, "initialize", {
    protocolVersion,
    capabilities: {},
    clientInfo: { name: "stdio-test", version: "0" }
  }))

describe("StdioTransport", () => {
  it.scoped("one session: initialize, calls, a bad line answered with -32700, and EOF ends it", () =>
    Effect.gen(function*() {
      const { answer, eof, messages, registry, served, write } = yield* pipe()
      yield* write(initialize(1))
      expect(yield* answer(1)).toMatchObject({ result: { protocolVersion: "2025-11-25" } })
      expect(yield* registry.size).toBe(1)
      const session = (yield* registry.sessions)[0]!
      expect(session.transport).toBe("stdio")
      yield* write(line(JsonRpc.notification("notifications/initialized")))
      // A line that is not JSON, and one that is not JSON-RPC: errors without ids, and the session goes on.
      yield* write("this is not json\n")
      yield* write("{\"jsonrpc\":\"2.0\",\"id\":{}}\n")
      const errors = messages().filter((m) => "error" in m)
      expect(errors.map((m) => "error" in m ? m.error.code : 0)).toEqual([-32700, -32600])
      expect(errors.every((m) => m.id === null)).toBe(true)
      // Lines split across chunks, two in one chunk, CRLF endings, blank lines.
      const add = line(JsonRpc.request(2, "tools/call", { name: "add", arguments: { a: 1, b: 2 } }))
      yield* write(add.slice(0, 10))
      yield* write(add.slice(10, -1))
      yield* write("\r\n\n" + line(JsonRpc.request(3, "ping")))
      expect(yield* answer(2)).toMatchObject({ result: { structuredContent: { sum: 3 } } })
      expect(yield* answer(3)).toEqual({ jsonrpc: "2.0", id: 3, result: {} })
      // No batches after 2025-03-26.
      yield* write(line([JsonRpc.request(4, "ping")]))
      expect(messages().at(-1)).toMatchObject({ id: null, error: { code: -32600 } })

      yield* eof
      yield* Fiber.join(served)
      expect(session.isOpen).toBe(false)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("a line over the limit is refused and skipped; the next line is served", () =>
    Effect.gen(function*() {
      const { answer, messages, write } = yield* pipe({ maxLineLength: 200 })
      yield* write(initialize(1))
      yield* answer(1)
      yield* write("{\"pad\":\"" + "x".repeat(150))
      yield* write("x".repeat(150) + "\"}\n" + line(JsonRpc.request(2, "ping")))
      expect(messages().filter((m) => "error" in m)).toEqual([
        { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid request: the line exceeds 200 characters" } }
      ])
      expect(yield* answer(2)).toEqual({ jsonrpc: "2.0", id: 2, result: {} })
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("progress and cancellation on stdio (TestClock); at EOF what runs gets the drain period, then an error", () =>
    Effect.gen(function*() {
      const { answer, eof, messages, registry, served, write } = yield* pipe()
      yield* write(initialize(1))
      yield* answer(1)
      const session = (yield* registry.sessions)[0]!
      const sleep = (id: number) =>
        write(line(JsonRpc.request(id, "tools/call", {
          name: "sleep",
          arguments: { ms: 60_000 },
          _meta: { progressToken: `p${id}` }
        })))
      yield* sleep(2)
      yield* sleep(3)
      yield* TestClock.adjust("1 second")
      expect(session.inFlight).toBe(2)
      yield* write(line(JsonRpc.notification("notifications/cancelled", { requestId: 2 })))
      yield* Effect.yieldNow()
      expect(session.inFlight).toBe(1)
      yield* eof
      // The drain period (10 s by default) passes with the call still running: it is stopped and answered.
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(served)
      expect(session.inFlight).toBe(0)
      // Each call reported its start; the cancelled one has no answer, the one cut short by the end has an error.
      const progress = messages().filter((m) => "method" in m && m.method === "notifications/progress")
      expect(progress.length).toBe(2)
      expect(messages().filter((m) => "id" in m && m.id === 2)).toEqual([])
      expect(messages().filter((m) => "id" in m && m.id === 3)).toEqual([
        { jsonrpc: "2.0", id: 3, error: { code: -32603, message: "The server is shutting down; retry on another connection" } }
      ])
      expect(Option.isNone(yield* registry.lookup(session.id))).toBe(true)
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("a client that stops reading stdout ends the session at the backlog limit", () =>
    Effect.gen(function*() {
      const { answer, registry, served, write } = yield* pipe({}, 64 * 1024)
      yield* write(initialize(1))
      yield* answer(1)
      // Every echo answer is ~1 KiB: past 64 KiB unread the session ends, and serve with it.
      for (let i = 0; i < 100; i++) {
        yield* write(line(JsonRpc.request(10 + i, "tools/call", { name: "echo", arguments: { text: "x".repeat(1000) } })))
      }
      yield* Fiber.join(served)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(capture().layer)))
})
