/**
 * The fetch handler: driven in-process with Node's own `Request` and `Response` (the classes every fetch runtime
 * has), then on a real socket through a small `node:http` adapter with the official SDK's client, and under Bun
 * when a Bun binary is at hand. The front is the Node server's, so the point here is the web exchange: bodies,
 * streams, the client going away, and shutdown.
 */
import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as WebHandler from "@effect-mcp/core/WebHandler"
import { eventually } from "./utils/demo.js"
import { MODERN_VERSION } from "../../core/test/utils/modern.js"

const BOTH = "application/json, text/event-stream"
const BASE = "http://localhost"

/** Sessions log as they open and close; these tests look only at what clients see. */
const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

interface Served {
  readonly handler: WebHandler.Handler
  readonly registry: SessionRegistry.SessionRegistryService
}

/** The demo server behind a web handler, for the test's scope. */
const serve = (options: WebHandler.Options = {}): Effect.Effect<Served, never, Scope.Scope> =>
  Effect.map(
    Layer.build(WebHandler.layer(options).pipe(Layer.provide(DemoServer.layer))),
    (context): Served => ({
      handler: Context.get(context, WebHandler.WebHandler),
      registry: Context.get(context, SessionRegistry.SessionRegistry)
    })
  ).pipe(Effect.provide(quiet))

interface Call {
  readonly method?: string | undefined
  readonly path?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly body?: unknown
  readonly signal?: AbortSignal | undefined
}

const requestOf = (call: Call): Request =>
  new Request(`${BASE}${call.path ?? "/mcp"}`, {
    method: call.method ?? "POST",
    headers: {
      ...(call.body === undefined ? {} : { "content-type": "application/json" }),
      accept: BOTH,
      ...call.headers
    },
    body: call.body === undefined ? null : typeof call.body === "string" ? call.body : JSON.stringify(call.body),
    signal: call.signal ?? null
  })

const fetchVia = (handler: WebHandler.Handler, call: Call) => Effect.promise(() => handler(requestOf(call)))

const jsonOf = (response: Response) => Effect.promise((): Promise<unknown> => response.json())

const initialize = (id: JsonRpc.RequestId, protocolVersion = "2025-11-25") =>
  JsonRpc.request(id, "initialize", { protocolVersion, capabilities: {}, clientInfo: { name: "web-test", version: "0" } })

/** A 2026-07-28 (sessionless) tool call, with the headers that mirror its body. */
const modernCall = (name: string, args: object, signal?: AbortSignal): Call => ({
  headers: { "mcp-protocol-version": MODERN_VERSION, "mcp-method": "tools/call", "mcp-name": name },
  body: JsonRpc.request(1, "tools/call", {
    name,
    arguments: args,
    _meta: {
      "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "web-test", version: "0" }
    }
  }),
  signal
})

/** One SSE event, as read off a response body. */
interface SseEvent {
  readonly event: string | undefined
  readonly data: string
}

/** Reads an SSE body as it arrives; `ended` resolves when the body is over. */
class SseBody {
  readonly events: Array<SseEvent> = []
  readonly ended: Promise<void>
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private waiters: Array<() => void> = []

  constructor(body: ReadableStream<Uint8Array> | null) {
    if (body === null) throw new Error("no body")
    this.reader = body.getReader()
    this.ended = this.pump()
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder()
    let buffer = ""
    try {
      for (;;) {
        const { done, value } = await this.reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event: string | undefined
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7)
            else if (line.startsWith("data: ")) data.push(line.slice(6))
          }
          if (data.length > 0) this.events.push({ event, data: data.join("\n") })
          for (const wake of this.waiters.splice(0)) wake()
        }
      }
    } catch {
      // A stream cancelled by the test ends here.
    } finally {
      for (const wake of this.waiters.splice(0)) wake()
    }
  }

  /** The first event that matches, waiting for it; fails once the body ended without one. */
  waitFor(predicate: (event: SseEvent) => boolean): Effect.Effect<SseEvent> {
    return Effect.promise(async () => {
      for (;;) {
        const found = this.events.find(predicate)
        if (found !== undefined) return found
        const more = new Promise<void>((resolve) => this.waiters.push(resolve))
        const over = await Promise.race([more.then(() => false), this.ended.then(() => true)])
        if (over && this.events.find(predicate) === undefined) throw new Error("the stream ended first")
      }
    })
  }

  /** The JSON-RPC message with this id. */
  message(id: JsonRpc.RequestId): Effect.Effect<unknown> {
    return Effect.map(
      this.waitFor((event) => event.event !== "endpoint" && event.data.includes(`"id":${JSON.stringify(id)}`)),
      (event): unknown => JSON.parse(event.data)
    )
  }

  /** Cancels the body, as a runtime does when its client goes away. */
  cancel(): Effect.Effect<void> {
    return Effect.promise(() => this.reader.cancel())
  }
}

/** Opens a legacy SSE stream; returns it and the endpoint its session posts to. */
const openLegacy = (handler: WebHandler.Handler, signal?: AbortSignal) =>
  Effect.gen(function*() {
    const response = yield* fetchVia(handler, { method: "GET", path: "/sse", headers: { accept: "text/event-stream" }, signal })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/event-stream")
    const stream = new SseBody(response.body)
    const endpoint = (yield* stream.waitFor((event) => event.event === "endpoint")).data
    return { stream, endpoint }
  })

/** Initializes a Streamable HTTP session; returns its id. */
const initSession = (handler: WebHandler.Handler) =>
  Effect.gen(function*() {
    const init = yield* fetchVia(handler, { body: initialize(1) })
    expect(init.status).toBe(200)
    const id = init.headers.get("mcp-session-id")
    if (id === null) return yield* Effect.die(new Error("no session id"))
    expect(yield* jsonOf(init)).toMatchObject({ id: 1, result: { protocolVersion: "2025-11-25" } })
    const headers = { "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" }
    expect((yield* fetchVia(handler, { headers, body: JsonRpc.notification("notifications/initialized") })).status).toBe(202)
    return headers
  })

describe("WebHandler", () => {
  it.live("Streamable HTTP: initialize, then tools/call answered with JSON; DELETE ends the session", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve()
      const headers = yield* initSession(handler)
      const call = yield* fetchVia(handler, {
        headers,
        body: JsonRpc.request(2, "tools/call", { name: "echo", arguments: { text: "over fetch" } })
      })
      expect(call.status).toBe(200)
      expect(call.headers.get("content-type")).toBe("application/json")
      expect(yield* jsonOf(call)).toMatchObject({ id: 2, result: { content: [{ type: "text", text: "over fetch" }] } })
      expect(yield* registry.size).toBe(1)
      expect((yield* fetchVia(handler, { method: "DELETE", headers })).status).toBe(204)
      expect(yield* registry.size).toBe(0)
      expect((yield* fetchVia(handler, { headers, body: JsonRpc.request(3, "ping") })).status).toBe(404)
    })))

  it.live("Streamable HTTP: a call that reports progress is answered on an SSE stream in the Response body", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler } = yield* serve()
      const headers = yield* initSession(handler)
      const call = yield* fetchVia(handler, {
        headers,
        body: JsonRpc.request(2, "tools/call", { name: "sleep", arguments: { ms: 20 }, _meta: { progressToken: "p" } })
      })
      expect(call.status).toBe(200)
      expect(call.headers.get("content-type")).toBe("text/event-stream")
      const stream = new SseBody(call.body)
      const progress = yield* stream.waitFor((event) => event.data.includes("notifications/progress"))
      expect(JSON.parse(progress.data)).toMatchObject({ params: { progressToken: "p", progress: 0, total: 20 } })
      expect(yield* stream.message(2)).toMatchObject({ result: { content: [{ text: "slept 20 ms" }] } })
      // The request's own stream ends with its answer.
      yield* Effect.promise(() => stream.ended)
    })))

  it.live("legacy HTTP+SSE: GET /sse streams, a POST to its endpoint is answered on the stream", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve()
      const { endpoint, stream } = yield* openLegacy(handler)
      expect(endpoint).toMatch(/^\/messages\?session_id=[0-9a-f]{32}$/)
      expect((yield* fetchVia(handler, { path: endpoint, body: initialize("i") })).status).toBe(202)
      expect(yield* stream.message("i")).toMatchObject({ result: { protocolVersion: "2025-11-25" } })
      const call = JsonRpc.request("c", "tools/call", { name: "add", arguments: { a: 2, b: 3 } })
      expect((yield* fetchVia(handler, { path: endpoint, body: call })).status).toBe(202)
      expect(yield* stream.message("c")).toMatchObject({ result: { structuredContent: { sum: 5 } } })
      expect(yield* registry.size).toBe(1)
    })))

  it.live("2026-07-28: a sessionless call is answered and leaves no session behind", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve()
      const response = yield* fetchVia(handler, modernCall("echo", { text: "no session" }))
      expect(response.status).toBe(200)
      expect(response.headers.get("mcp-session-id")).toBeNull()
      expect(yield* jsonOf(response)).toMatchObject({ id: 1, result: { content: [{ text: "no session" }] } })
      expect(yield* registry.size).toBe(0)
    })))

  it.live("the Node server's security checks: a foreign Origin or Host gets 403, before any session opens", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve({ security: { allowedHosts: ["mcp.example.com"] } })
      const post = (headers: Record<string, string>) => fetchVia(handler, { headers, body: initialize(1) })
      // The request's URL says localhost, and no Host header: the Host checked is the URL's.
      const noHost = yield* post({})
      expect(noHost.status).toBe(403)
      expect(JSON.stringify(yield* jsonOf(noHost))).toContain("host localhost is not allowed")
      expect((yield* post({ host: "evil.example" })).status).toBe(403)
      expect((yield* post({ host: "mcp.example.com", origin: "https://evil.example" })).status).toBe(403)
      expect((yield* post({ host: "mcp.example.com", origin: "https://mcp.example.com" })).status).toBe(200)
      expect((yield* post({ host: "mcp.example.com" })).status).toBe(200)
      expect(yield* registry.size).toBe(2)
    })))

  it.live("a body past the limit gets 413, with or without a declared length", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve({ streamable: { maxBodySize: 1024 } })
      const big = JSON.stringify(JsonRpc.request(1, "ping", { pad: "x".repeat(2048) }))
      const declared = yield* fetchVia(handler, { body: big })
      expect(declared.status).toBe(413)
      expect(JSON.stringify(yield* jsonOf(declared))).toContain("Payload Too Large")
      // A streamed body declares nothing: the limit is found while reading.
      const bytes = new TextEncoder().encode(big)
      const streamed = new ReadableStream<Uint8Array>({
        start: (controller) => {
          for (let at = 0; at < bytes.length; at += 100) controller.enqueue(bytes.subarray(at, at + 100))
          controller.close()
        }
      })
      const init = { method: "POST", headers: { "content-type": "application/json", accept: BOTH }, body: streamed, duplex: "half" }
      const chunked = yield* Effect.promise(() => handler(new Request(`${BASE}/mcp`, init)))
      expect(chunked.status).toBe(413)
      // Past the limit the rest is read and dropped, so a client can finish sending and read its 413; past 64 MiB
      // it is not worth reading on: the read stops and the body is cancelled.
      const MiB = new Uint8Array(1024 * 1024)
      let sent = 0
      let cancelled = false
      const endless = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          sent++
          controller.enqueue(MiB)
        },
        cancel: () => {
          cancelled = true
        }
      })
      const flood = { method: "POST", headers: { "content-type": "application/json", accept: BOTH }, body: endless, duplex: "half" }
      expect((yield* Effect.promise(() => handler(new Request(`${BASE}/mcp`, flood)))).status).toBe(413)
      yield* eventually(Effect.sync(() => cancelled))
      expect(sent).toBeGreaterThan(64)
      expect(sent).toBeLessThan(70)
      // Within the limit, the same handler serves.
      expect((yield* fetchVia(handler, { body: initialize(2) })).status).toBe(200)
      expect(yield* registry.size).toBe(1)
    })))

  it.live("a client that goes away ends its session: an aborted request signal, or a cancelled response body", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve()
      const abort = new AbortController()
      const aborted = yield* openLegacy(handler, abort.signal)
      const cancelled = yield* openLegacy(handler)
      expect(yield* registry.size).toBe(2)
      abort.abort()
      yield* eventually(Effect.map(registry.size, (n) => n === 1))
      // The stream ends rather than hangs: a runtime still piping it sees an end.
      yield* Effect.promise(() => aborted.stream.ended)
      expect((yield* fetchVia(handler, { path: aborted.endpoint, body: JsonRpc.request(1, "ping") })).status).toBe(404)
      yield* cancelled.stream.cancel()
      yield* eventually(Effect.map(registry.size, (n) => n === 0))
      expect((yield* fetchVia(handler, { path: cancelled.endpoint, body: JsonRpc.request(1, "ping") })).status).toBe(404)
      // A sessionless call is cancelled when its client goes away before the answer, and its promise settles.
      const slow = new AbortController()
      const call = handler(requestOf(modernCall("sleep", { ms: 600_000 }, slow.signal)))
      yield* eventually(Effect.map(registry.size, (n) => n === 1))
      slow.abort()
      expect((yield* Effect.promise(() => call)).status).toBe(499)
      yield* eventually(Effect.map(registry.size, (n) => n === 0))
      // Gone before the request was even seen.
      const early = new AbortController()
      early.abort()
      expect((yield* fetchVia(handler, { body: initialize(1), signal: early.signal })).status).toBe(499)
      expect(yield* registry.size).toBe(0)
    })))

  it.live("a client that stops reading is cut off at the backlog limit: the stream's unread bytes are its backlog", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve({ sse: { maxBacklog: 8192 } })
      const response = yield* fetchVia(handler, { method: "GET", path: "/sse", headers: { accept: "text/event-stream" } })
      if (response.body === null) return yield* Effect.die(new Error("no body"))
      // Reads the endpoint event, then nothing more.
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      let text = ""
      while (!text.includes("\n\n")) {
        const { value } = yield* Effect.promise(() => reader.read())
        text += decoder.decode(value, { stream: true })
      }
      const endpoint = /data: (.*)/.exec(text)?.[1] ?? ""
      const post = (body: unknown) => fetchVia(handler, { path: endpoint, body })
      expect((yield* post(initialize("i"))).status).toBe(202)
      expect((yield* post(JsonRpc.notification("notifications/initialized"))).status).toBe(202)
      const text2k = "x".repeat(2048)
      let refused = 0
      for (let id = 0; id < 20 && refused === 0; id++) {
        const status = (yield* post(JsonRpc.request(id, "tools/call", { name: "echo", arguments: { text: text2k } }))).status
        if (status === 404) refused = id
        else yield* Effect.sleep("5 millis")
      }
      // Four unread answers of 2 KiB pass 8 KiB: the session is closed, and what follows is refused.
      expect(refused).toBeGreaterThan(3)
      expect(yield* registry.size).toBe(0)
    })))

  it.live("make: closing its scope answers what is still owed with 503, ends open streams, then refuses requests", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Layer.buildWithScope(DemoServer.layer, scope)
      const handler = yield* WebHandler.make().pipe(Effect.provide(server), Scope.extend(scope), Effect.provide(quiet))
      const legacy = yield* openLegacy(handler)
      // A body that never ends: its request is owed an answer until the shutdown.
      let cancelled = false
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new TextEncoder().encode("{")),
        cancel: () => {
          cancelled = true
        }
      })
      const init = { method: "POST", headers: { "content-type": "application/json", accept: BOTH }, body, duplex: "half" }
      const pending = handler(new Request(`${BASE}/mcp`, init))
      yield* Scope.close(scope, Exit.void).pipe(Effect.provide(quiet))
      const owed = yield* Effect.promise(() => pending)
      expect(owed.status).toBe(503)
      expect(owed.headers.get("retry-after")).not.toBeNull()
      // The body is read no further.
      yield* eventually(Effect.sync(() => cancelled))
      yield* Effect.promise(() => legacy.stream.ended)
      expect((yield* fetchVia(handler, { body: initialize(1) })).status).toBe(503)
    }))

  it.live("fromLayer: built on the first request; dispose ends open streams, closes sessions, then answers 503", () =>
    Effect.gen(function*() {
      const { dispose, handler } = WebHandler.fromLayer(DemoServer.layer.pipe(Layer.provideMerge(quiet)))
      const legacy = yield* openLegacy(handler)
      expect((yield* fetchVia(handler, { path: legacy.endpoint, body: initialize("i") })).status).toBe(202)
      yield* legacy.stream.message("i")
      const headers = yield* initSession(handler)
      yield* Effect.promise(dispose)
      yield* Effect.promise(() => legacy.stream.ended)
      const after = yield* fetchVia(handler, { headers, body: JsonRpc.request(2, "ping") })
      expect(after.status).toBe(503)
      expect(after.headers.get("retry-after")).not.toBeNull()
    }))

  it.live("on a real socket through a node:http adapter, the official SDK client calls a tool", () =>
    Effect.scoped(Effect.gen(function*() {
      const { handler, registry } = yield* serve({ loopback: true })
      const port = yield* listen(handler)
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new Client({ name: "sdk-client", version: "1.0.0" })
          await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)))
          return client
        }),
        (client) => Effect.promise(() => client.close())
      )
      const result = yield* Effect.promise(() => client.callTool({ name: "add", arguments: { a: 20, b: 22 } }))
      expect(result.structuredContent).toEqual({ sum: 42 })
      expect(yield* registry.size).toBe(1)
      // A progress call comes back on an SSE stream, through the adapter, to the SDK.
      const seen: Array<number> = []
      const slept = yield* Effect.promise(() =>
        client.callTool({ name: "sleep", arguments: { ms: 10 } }, undefined, {
          onprogress: (progress) => seen.push(progress.progress)
        })
      )
      expect(slept.content).toEqual([{ type: "text", text: "slept 10 ms" }])
      expect(seen).toEqual([0, 10])
    })))

  it.live("under Bun: Bun.serve with the handler, and the SDK client over Streamable HTTP", () =>
    Effect.promise(() =>
      new Promise<string>((resolve, reject) => {
        const bun = bunBinary()
        const script = new URL("./fixtures/bun-serve.mjs", import.meta.url).pathname
        ChildProcess.execFile(bun, [script], { timeout: 20_000 }, (error, stdout, stderr) =>
          error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)))
      })
    ).pipe(Effect.map((stdout) => {
      const report: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "")
      expect(report).toEqual({
        sum: { sum: 42 },
        progress: [0, 10],
        legacy: { before: 1, afterAbort: 0, post: 404 },
        disposed: 503
      })
    })), 240_000)
})

/** The Bun the npm package `bun` ships, installed into the repository's `.cache/` on first use ($BUN_PATH wins). */
const bunBinary = (): string => {
  if (process.env.BUN_PATH !== undefined) return process.env.BUN_PATH
  const prefix = new URL("../../../.cache/bun/", import.meta.url).pathname
  const binary = `${prefix}node_modules/.bin/bun`
  if (!Fs.existsSync(binary)) {
    ChildProcess.execFileSync(
      "npm",
      ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `bun@${BUN_VERSION}`],
      { stdio: "inherit", timeout: 180_000 }
    )
  }
  return binary
}

/** The Bun the test runs under, pinned so a run is repeatable. */
const BUN_VERSION = "1.4.5"

/**
 * Serves `handler` on 127.0.0.1 through the smallest `node:http` → fetch adapter: the request's body streams in,
 * the response's streams out, and the connection closing aborts the request's signal.
 */
const listen = (handler: WebHandler.Handler): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((incoming, outgoing) => {
        const abort = new AbortController()
        outgoing.once("close", () => abort.abort())
        const headers = new Headers()
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const one of typeof value === "string" ? [value] : value ?? []) headers.append(name, one)
        }
        const hasBody = incoming.method !== "GET" && incoming.method !== "HEAD"
        const body = hasBody
          ? new ReadableStream<Uint8Array>({
            start: (controller) => {
              incoming.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)))
              incoming.once("end", () => controller.close())
              incoming.once("error", (error) => controller.error(error))
            }
          })
          : null
        const init = { method: incoming.method ?? "GET", headers, body, signal: abort.signal, duplex: "half" }
        void handler(new Request(`http://${incoming.headers.host ?? "localhost"}${incoming.url ?? "/"}`, init), {
          remoteAddress: incoming.socket.remoteAddress
        }).then(async (response) => {
          const responseHeaders: Record<string, string> = {}
          response.headers.forEach((value, name) => {
            responseHeaders[name] = value
          })
          outgoing.writeHead(response.status, responseHeaders)
          if (response.body === null) return void outgoing.end()
          outgoing.flushHeaders()
          const reader = response.body.getReader()
          outgoing.once("close", () => void reader.cancel().catch(() => {}))
          try {
            for (;;) {
              const { done, value } = await reader.read()
              if (done) break
              outgoing.write(value)
            }
          } finally {
            outgoing.end()
          }
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => {
    const address = server.address()
    return address !== null && typeof address === "object" ? address.port : 0
  }))
