import { NodeMcpServer } from "@effect-mcp/node"
import { describe, expect, it } from "@effect/vitest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Http from "node:http"
import * as DemoServer from "../src/DemoServer.js"
import * as EventStore from "@effect-mcp/core/EventStore"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type { Session } from "@effect-mcp/core/McpSession"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as PlatformHttpTransport from "@effect-mcp/core/PlatformHttpTransport"
import * as StreamableHttpTransport from "@effect-mcp/core/StreamableHttpTransport"

/** Sessions log every open and close; the tests only look at behaviour. */
const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

const BOTH = "application/json, text/event-stream"
/** A client that accepts only SSE gets every answer on a stream. */
const SSE_ONLY = { accept: "text/event-stream" } as const
const LATEST = "2025-11-25"

// --- A real server on 127.0.0.1 -------------------------------------------------------------------------------------

interface Served {
  readonly url: string
  readonly port: number
  readonly registry: SessionRegistry.SessionRegistryService
}

/** The demo server on a free port, for the test's scope. */
const serve = (options: NodeMcpServer.Options = {}) =>
  Effect.gen(function*() {
    // Closed quietly too: sessions log as they close at shutdown.
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.provide(Scope.close(scope, Exit.void), quiet))
    const context = yield* Layer.buildWithScope(
      NodeMcpServer.layer({ port: 0, ...options }).pipe(Layer.provide(DemoServer.layer)),
      scope
    )
    const address = Context.get(context, NodeMcpServer.NodeMcpServer).address
    const served: Served = {
      url: `http://127.0.0.1:${address.port}/mcp`,
      port: address.port,
      registry: Context.get(context, SessionRegistry.SessionRegistry)
    }
    return served
  }).pipe(Effect.provide(quiet))

const initializeRequest = (protocolVersion = LATEST, id: JsonRpc.RequestId = 0) =>
  JsonRpc.request(id, "initialize", {
    protocolVersion,
    capabilities: {},
    clientInfo: { name: "test-client", version: "1.0.0" }
  })

const callTool = (id: JsonRpc.RequestId, name: string, args: unknown, progressToken?: string) =>
  JsonRpc.request(id, "tools/call", {
    name,
    arguments: args,
    ...(progressToken === undefined ? {} : { _meta: { progressToken } })
  })

const post = (
  url: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
  signal?: AbortSignal
): Promise<Response> =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: BOTH, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(signal === undefined ? {} : { signal })
  })

/** The headers of a request in an initialized session. */
const inSession = (id: string, version = LATEST, extra: Readonly<Record<string, string>> = {}) => ({
  "mcp-session-id": id,
  "mcp-protocol-version": version,
  ...extra
})

/** Initializes a session over HTTP and returns its id. */
const openSession = async (url: string, version = LATEST): Promise<string> => {
  const response = await post(url, initializeRequest(version))
  expect(response.status).toBe(200)
  const id = response.headers.get("mcp-session-id")
  expect(id).toMatch(/^[0-9a-f]{32}$/)
  await response.text()
  const initialized = await post(url, JsonRpc.notification("notifications/initialized"), inSession(id!, version))
  expect(initialized.status).toBe(202)
  return id!
}

const getStream = (url: string, headers: Readonly<Record<string, string>>, signal?: AbortSignal) =>
  fetch(url, { headers: { accept: "text/event-stream", ...headers }, ...(signal === undefined ? {} : { signal }) })

/** The JSON-RPC error body every refusal carries. */
const expectRefusal = async (response: Response, status: number, code?: number) => {
  expect(response.status).toBe(status)
  expect(response.headers.get("content-type")).toContain("application/json")
  const body = await response.json() as { jsonrpc: string; id: unknown; error: { code: number; message: string } }
  expect(body.jsonrpc).toBe("2.0")
  expect(body.id).toBeNull()
  expect(typeof body.error.message).toBe("string")
  if (code !== undefined) expect(body.error.code).toBe(code)
  return body
}

/** A request with headers `fetch` will not send (Host), over `node:http`. */
const raw = (port: number, method: string, headers: Http.OutgoingHttpHeaders, body = "") =>
  new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
    const request = Http.request({ host: "127.0.0.1", port, path: "/mcp", method, headers }, (response) => {
      let data = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (data += chunk))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: data }))
    })
    request.on("error", reject)
    request.end(body)
  })

interface SseEvent {
  readonly id: string | undefined
  readonly retry: number | undefined
  readonly data: string
}

/** Reads SSE events from a response body, one at a time; comments are skipped. */
class SseReader {
  private buffer = ""
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly decoder = new TextDecoder()
  /** Everything received, comments included. */
  raw = ""

  constructor(response: Response) {
    this.reader = response.body!.getReader()
  }

  /** The next event, or undefined when the stream ends. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const end = this.buffer.indexOf("\n\n")
      if (end >= 0) {
        const block = this.buffer.slice(0, end)
        this.buffer = this.buffer.slice(end + 2)
        let id: string | undefined
        let retry: number | undefined
        let data: Array<string> | undefined
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue
          const colon = line.indexOf(":")
          const field = colon < 0 ? line : line.slice(0, colon)
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
          if (field === "id") id = value
          else if (field === "retry") retry = Number(value)
          else if (field === "data") (data ??= []).push(value)
        }
        if (data === undefined && id === undefined) continue
        return { id, retry, data: (data ?? []).join("\n") }
      }
      const chunk = await this.reader.read()
      if (chunk.done) return undefined
      const text = this.decoder.decode(chunk.value, { stream: true })
      this.raw += text
      this.buffer += text
    }
  }

  /** The next event that carries a message (priming events have none). */
  async message(): Promise<{ readonly id: string | undefined; readonly message: JsonRpc.Message } | undefined> {
    for (;;) {
      const event = await this.next()
      if (event === undefined) return undefined
      if (event.data !== "") return { id: event.id, message: JSON.parse(event.data) as JsonRpc.Message }
    }
  }

  /** Every message until the stream ends. */
  async rest(): Promise<Array<{ readonly id: string | undefined; readonly message: JsonRpc.Message }>> {
    const out: Array<{ readonly id: string | undefined; readonly message: JsonRpc.Message }> = []
    for (let m = await this.message(); m !== undefined; m = await this.message()) out.push(m)
    return out
  }

  cancel(): Promise<void> {
    return this.reader.cancel().catch(() => undefined)
  }
}

const progressOf = (message: JsonRpc.Message | undefined): number | undefined =>
  message !== undefined && JsonRpc.isNotification(message) && message.method === "notifications/progress"
    ? (message.params as { progress: number }).progress
    : undefined

const resultOf = (message: JsonRpc.Message | undefined): unknown =>
  message !== undefined && "result" in message ? message.result : undefined

const lookup = (served: Served, id: string): Effect.Effect<Session> =>
  Effect.map(served.registry.lookup(id), Option.getOrThrow)

/**
 * Resolves once `condition` holds, looked at every few ms; rejects after `timeoutMs`, saying `what` never came.
 * For state the server changes a moment after what the client sees (a connection's close), with no event to
 * await from outside.
 */
const until = async (what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

// --- In-process, for TestClock --------------------------------------------------------------------------------------

/** The transport served in-process on the test's clock, with its registry and store at hand. */
const inProcess = (sessions: SessionRegistry.Options) =>
  Effect.gen(function*() {
    // Built in the test's scope: the demo's tools are registered as long as their layer lives.
    const registry = yield* SessionRegistry.make(sessions).pipe(Effect.provide(yield* Layer.build(DemoServer.layer)))
    const store = yield* EventStore.make()
    // Served in-process through the front's platform adapter, on the test's clock.
    const app = PlatformHttpTransport.layerRouter({ streamable: { eventStore: store }, sse: false }).pipe(
      Layer.provide(Layer.succeed(SessionRegistry.SessionRegistry, registry))
    )
    const handler = yield* HttpLayerRouter.toHttpEffect(app)
    /** Serves one request; its scope is `scope` when given (an open stream), else closed with the response. */
    const request = (
      init: { readonly method: string; readonly headers: Record<string, string>; readonly body?: unknown },
      scope?: Scope.Scope
    ): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
      // A new web request each time: its body can be read once.
      const served = Effect.suspend(() =>
        Effect.provideService(
          handler,
          HttpServerRequest.HttpServerRequest,
          HttpServerRequest.fromWeb(
            new Request("http://127.0.0.1/mcp", {
              method: init.method,
              headers: init.headers,
              ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
            })
          )
        )
      ).pipe(Effect.orDie)
      return scope === undefined ? Effect.scoped(served) : Scope.extend(served, scope)
    }
    const postJson = (body: unknown, headers: Record<string, string> = {}, scope?: Scope.Scope) =>
      request({ method: "POST", headers: { "content-type": "application/json", accept: BOTH, ...headers }, body }, scope)
    // The whole handshake, as a client does it: a session that never sends `notifications/initialized` is
    // closed after the handshake timeout.
    const initialize = Effect.gen(function*() {
      const response = yield* postJson(initializeRequest())
      expect(response.status).toBe(200)
      const id = response.headers["mcp-session-id"]!
      const initialized = yield* postJson(JsonRpc.notification("notifications/initialized"), inSession(id))
      expect(initialized.status).toBe(202)
      return id
    })
    return { registry, store, request, postJson, initialize }
  }).pipe(Effect.provide(quiet))

const bodyText = (response: HttpServerResponse.HttpServerResponse): Effect.Effect<string> => {
  const body = response.body
  if (body._tag === "Uint8Array") return Effect.succeed(new TextDecoder().decode(body.body))
  if (body._tag === "Stream") {
    return body.stream.pipe(
      Stream.decodeText(),
      Stream.runCollect,
      Effect.map((chunks) => Chunk.join(chunks, "")),
      Effect.orDie
    )
  }
  return Effect.succeed("")
}

// --- Tests ----------------------------------------------------------------------------------------------------------

describe("StreamableHttpTransport", () => {
  it.scopedLive("interoperates with the official SDK client, and a terminated session is gone", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const client = new Client({ name: "sdk-client", version: "1.0.0" })
      const transport = new StreamableHTTPClientTransport(new URL(served.url))
      yield* Effect.promise(() => client.connect(transport))
      const sessionId = transport.sessionId!
      expect(sessionId).toMatch(/^[0-9a-f]{32}$/)
      expect(yield* served.registry.size).toBe(1)
      const session = yield* lookup(served, sessionId)
      expect(session.transport).toBe(StreamableHttpTransport.TRANSPORT)
      expect(session.protocolVersion).toBe(LATEST)
      expect(session.clientInfo?.name).toBe("sdk-client")

      const result = yield* Effect.promise(async () => {
        const tools = await client.listTools()
        const echo = await client.callTool({ name: "echo", arguments: { text: "hello" } })
        const add = await client.callTool({ name: "add", arguments: { a: 2, b: 40 } })
        const progress: Array<number> = []
        const sleep = await client.callTool({ name: "sleep", arguments: { ms: 20 } }, undefined, {
          onprogress: (p) => progress.push(p.progress)
        })
        return { tools: tools.tools.map((t) => t.name), echo, add, sleep, progress }
      })
      // Listings are sorted by name.
      expect(result.tools).toEqual(["add", "confirm", "echo", "roots", "sleep", "summarize"])
      expect(result.echo.content).toEqual([{ type: "text", text: "hello" }])
      expect(result.add.content).toEqual([{ type: "text", text: "42" }])
      expect(result.add.structuredContent).toEqual({ sum: 42 })
      expect(result.sleep.content).toEqual([{ type: "text", text: "slept 20 ms" }])
      expect(result.progress).toEqual([0, 20])

      yield* Effect.promise(() => transport.terminateSession())
      expect(yield* served.registry.size).toBe(0)
      expect(session.isOpen).toBe(false)
      yield* Effect.promise(() => client.close())
      const after = yield* Effect.promise(() => post(served.url, JsonRpc.request(9, "tools/list"), inSession(sessionId)))
      yield* Effect.promise(() => expectRefusal(after, 404, JsonRpc.ErrorCode.ConnectionClosed))
    }), 15_000)

  it.scopedLive("answers each refusal with its status and a JSON-RPC error body", () =>
    Effect.gen(function*() {
      const served = yield* serve({ streamable: { maxBodySize: 2048 } })
      const { url, port } = served
      yield* Effect.promise(async () => {
        const id = await openSession(url)
        const list = JsonRpc.request(1, "tools/list")

        // 406: neither JSON nor SSE acceptable; GET needs SSE.
        await expectRefusal(await post(url, list, inSession(id, LATEST, { accept: "text/plain" })), 406)
        await expectRefusal(await getStream(url, inSession(id, LATEST, { accept: "application/json" })), 406)
        // 415, 413, 400 -32700.
        await expectRefusal(await post(url, list, inSession(id, LATEST, { "content-type": "text/plain" })), 415)
        const big = JsonRpc.request(2, "tools/call", { name: "echo", arguments: { text: "x".repeat(4096) } })
        await expectRefusal(await post(url, big, inSession(id)), 413)
        await expectRefusal(await post(url, "{not json", inSession(id)), 400, JsonRpc.ErrorCode.ParseError)
        await expectRefusal(await post(url, { jsonrpc: "1.0" }, inSession(id)), 400, JsonRpc.ErrorCode.InvalidRequest)
        // 400 without the session header, 404 for an id no one has, 400 for one that cannot be an id.
        const missing = await expectRefusal(await post(url, list), 400)
        expect(missing.error.message).toContain("Mcp-Session-Id")
        await expectRefusal(await getStream(url, {}), 400)
        await expectRefusal(await fetch(url, { method: "DELETE" }), 400)
        const unknown = "0123456789abcdef0123456789abcdef"
        await expectRefusal(await post(url, list, inSession(unknown)), 404, JsonRpc.ErrorCode.ConnectionClosed)
        await expectRefusal(await getStream(url, inSession(unknown)), 404)
        await expectRefusal(await fetch(url, { method: "DELETE", headers: inSession(unknown) }), 404)
        await expectRefusal(await post(url, list, inSession("bad id with spaces")), 400)
        // 400 for an unsupported MCP-Protocol-Version, on every method; a POST naming no session-era revision is
        // answered as 2026-07-28 answers it (-32022 with the versions served, and the request's id).
        const unsupported = await post(url, list, inSession(id, "1999-01-01"))
        expect(unsupported.status).toBe(400)
        expect(await unsupported.json()).toMatchObject({
          id: 1,
          error: { code: -32022, data: { supported: ["2026-07-28"], requested: "1999-01-01" } }
        })
        await expectRefusal(await getStream(url, inSession(id, "1999-01-01")), 400)
        await expectRefusal(await fetch(url, { method: "DELETE", headers: inSession(id, "1999-01-01") }), 400)
        // A supported version other than the negotiated one is served, at the negotiated one (the conformance
        // suite sends 2025-03-26 on a 2025-11-25 session).
        const older = await post(url, list, inSession(id, "2025-03-26", { accept: "application/json" }))
        expect(older.status).toBe(200)
        expect(await older.json()).toMatchObject({ id: 1, result: { tools: expect.any(Array) } })
        // 400 -32600 for a batch after 2025-03-26, whether the header names the revision or is left out (the
        // session's negotiated revision applies then, not 2025-03-26).
        const batch = [JsonRpc.request(3, "ping"), JsonRpc.request(4, "tools/list")]
        const refusedBatch = await expectRefusal(
          await post(url, batch, inSession(id, LATEST)),
          400,
          JsonRpc.ErrorCode.InvalidRequest
        )
        expect(refusedBatch.error.message).toContain("batch")
        const implicit = await expectRefusal(
          await post(url, batch, { "mcp-session-id": id }),
          400,
          JsonRpc.ErrorCode.InvalidRequest
        )
        expect(implicit.error.message).toContain("2025-11-25")
        // Nor does a header naming 2025-03-26 allow one: the negotiated revision decides.
        await expectRefusal(await post(url, batch, inSession(id, "2025-03-26")), 400, JsonRpc.ErrorCode.InvalidRequest)
        // 403 for a foreign Origin or Host (the loopback allow-lists are on for 127.0.0.1).
        const body = JSON.stringify(list)
        const json = { "content-type": "application/json", accept: BOTH, "mcp-session-id": id }
        const origin = await raw(port, "POST", { ...json, origin: "http://evil.example" }, body)
        expect(origin.status).toBe(403)
        expect(JSON.parse(origin.body).error.message).toContain("origin")
        const host = await raw(port, "POST", { ...json, host: "evil.example:80" }, body)
        expect(host.status).toBe(403)
        expect((await raw(port, "GET", { accept: "text/event-stream", host: "evil.example" })).status).toBe(403)
        expect((await raw(port, "DELETE", { "mcp-session-id": id, origin: "http://evil.example" })).status).toBe(403)
        const allowed = await raw(port, "POST", { ...json, origin: `http://localhost:${port}` }, body)
        expect(allowed.status).toBe(200)
        // After all that the session still works.
        const ok = await post(url, list, inSession(id, LATEST, { accept: "application/json" }))
        expect(ok.status).toBe(200)
        expect(resultOf(await ok.json() as JsonRpc.Message)).toHaveProperty("tools")
      })
      expect(yield* served.registry.size).toBe(1)
    }), 15_000)

  it.scopedLive("mints a session id only when initialize succeeds: rejected openings register nothing", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const { url } = served
      yield* Effect.promise(async () => {
        // Invalid params: a JSON-RPC error, no session id.
        const bad = await post(url, JsonRpc.request(0, "initialize", { protocolVersion: LATEST }))
        expect(bad.status).toBe(200)
        expect(bad.headers.get("mcp-session-id")).toBeNull()
        const body = await bad.json() as JsonRpc.Failure
        expect(body.id).toBe(0)
        expect(body.error.code).toBe(JsonRpc.ErrorCode.InvalidParams)
        // Refused before the session would open.
        await expectRefusal(await post(url, initializeRequest(), { accept: "text/plain" }), 406)
        await expectRefusal(await post(url, initializeRequest(), { "content-type": "text/plain" }), 415)
        await expectRefusal(await post(url, [initializeRequest()]), 400, JsonRpc.ErrorCode.InvalidRequest)
        await expectRefusal(
          await post(url, [initializeRequest(), JsonRpc.request(1, "ping")], { "mcp-protocol-version": "2025-03-26" }),
          400,
          JsonRpc.ErrorCode.InvalidRequest
        )
        await expectRefusal(await post(url, JsonRpc.request(1, "tools/list")), 400)
        await expectRefusal(await post(url, JsonRpc.notification("notifications/initialized")), 400)
      })
      expect(yield* served.registry.size).toBe(0)
      // A good one, answered over SSE when the client accepts only that.
      const sse = yield* Effect.promise(() => post(url, initializeRequest(), { accept: "text/event-stream" }))
      expect(sse.headers.get("content-type")).toContain("text/event-stream")
      const id = sse.headers.get("mcp-session-id")!
      const message = yield* Effect.promise(() => new SseReader(sse).message())
      expect(resultOf(message?.message)).toMatchObject({ protocolVersion: LATEST, serverInfo: { name: "effect-mcp-demo" } })
      expect(yield* served.registry.size).toBe(1)
      // A second initialize on the session is an error, and the session stays.
      const again = yield* Effect.promise(() =>
        post(url, initializeRequest(), inSession(id, LATEST, { accept: "application/json" })).then((r) => r.json())
      )
      expect((again as JsonRpc.Failure).error.code).toBe(JsonRpc.ErrorCode.InvalidRequest)
      expect(yield* served.registry.size).toBe(1)
    }), 15_000)

  it.scopedLive("answers 503 over the session cap, and frees the slot when a session ends", () =>
    Effect.gen(function*() {
      const served = yield* serve({ sessions: { maxSessions: 2 } })
      const { url } = served
      yield* Effect.promise(async () => {
        const a = await openSession(url)
        await openSession(url)
        const refused = await post(url, initializeRequest())
        await expectRefusal(refused, 503)
        expect(refused.headers.get("retry-after")).toBe("5")
        expect(refused.headers.get("mcp-session-id")).toBeNull()
        expect((await fetch(url, { method: "DELETE", headers: inSession(a) })).status).toBe(204)
        await openSession(url)
      })
      expect(yield* served.registry.size).toBe(2)
    }), 15_000)

  it.scopedLive("202 for notifications and responses; DELETE ends the session, its streams and its events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.make()
      const served = yield* serve({ streamable: { eventStore: store } })
      const { url } = served
      const id = yield* Effect.promise(() => openSession(url))
      const session = yield* lookup(served, id)
      const recorded = yield* Effect.promise(async () => {
        const reader = new SseReader(
          await post(url, callTool(1, "echo", { text: "kept" }), inSession(id, LATEST, SSE_ONLY))
        )
        return (await reader.rest())[0]!.id!
      })
      expect((yield* store.replayAfter(id, `${recorded.split(":")[0]}:0`)).map((e) => e.id)).toEqual([recorded])
      yield* Effect.promise(async () => {
        const notification = await post(url, JsonRpc.notification("notifications/progress", {}), inSession(id))
        expect(notification.status).toBe(202)
        expect(await notification.text()).toBe("")
        const response = await post(url, JsonRpc.success("server-1", {}), inSession(id))
        expect(response.status).toBe(202)
        const stream = await getStream(url, inSession(id))
        expect(stream.status).toBe(200)
        const reader = new SseReader(stream)
        expect((await reader.next())?.data).toBe("")
        const deleted = await fetch(url, { method: "DELETE", headers: inSession(id) })
        expect(deleted.status).toBe(204)
        // The open stream ends with the session.
        expect(await reader.next()).toBeUndefined()
        await expectRefusal(await post(url, JsonRpc.request(1, "ping"), inSession(id)), 404)
        await expectRefusal(await getStream(url, inSession(id)), 404)
        await expectRefusal(await fetch(url, { method: "DELETE", headers: inSession(id) }), 404)
      })
      expect(session.isOpen).toBe(false)
      expect(yield* served.registry.size).toBe(0)
      expect(yield* store.streamOf(id, recorded)).toEqual(Option.none())
      expect(yield* store.replayAfter(id, `${recorded.split(":")[0]}:0`)).toEqual([])
    }), 15_000)

  it.scopedLive("without an event store: no ids, no priming, and Last-Event-ID is ignored", () =>
    Effect.gen(function*() {
      const served = yield* serve({ streamable: { eventStore: false } })
      const { url } = served
      const id = yield* Effect.promise(() => openSession(url))
      const session = yield* lookup(served, id)
      yield* Effect.promise(async () => {
        const reader = new SseReader(await post(url, callTool(1, "sleep", { ms: 10 }, "n"), inSession(id)))
        const messages = await reader.rest()
        expect(reader.raw.startsWith(":")).toBe(true)
        expect(messages.map((m) => progressOf(m.message) ?? resultOf(m.message))).toEqual([
          0,
          10,
          { content: [{ type: "text", text: "slept 10 ms" }] }
        ])
        expect(messages.every((m) => m.id === undefined)).toBe(true)
        // A GET with Last-Event-ID is just the standalone stream.
        const stream = new SseReader(await getStream(url, inSession(id, LATEST, { "last-event-id": "0:1" })))
        session.send(JsonRpc.notification("notifications/message", { level: "info", data: "live" }))
        const live = await stream.message()
        expect(live?.id).toBeUndefined()
        expect((live?.message as JsonRpc.Notification).params).toEqual({ level: "info", data: "live" })
        await stream.cancel()
      })
    }), 15_000)

  it.scopedLive("answers 405 for GET and DELETE when they are turned off", () =>
    Effect.gen(function*() {
      const served = yield* serve({ streamable: { standaloneStream: false, sessionTermination: false } })
      const { url } = served
      yield* Effect.promise(async () => {
        const id = await openSession(url)
        const get = await getStream(url, inSession(id))
        await expectRefusal(get, 405)
        expect(get.headers.get("allow")).toBe("POST, GET")
        await expectRefusal(await fetch(url, { method: "DELETE", headers: inSession(id) }), 405)
        expect((await post(url, JsonRpc.request(1, "ping"), inSession(id))).status).toBe(200)
      })
      expect(yield* served.registry.size).toBe(1)
    }), 15_000)

  it.scopedLive("SSE responses: headers, the priming event on 2025-11-25, a comment first before it", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const { url } = served
      yield* Effect.promise(async () => {
        const latest = await openSession(url)
        const response = await post(url, callTool(1, "echo", { text: "hi" }), inSession(latest, LATEST, SSE_ONLY))
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("text/event-stream")
        expect(response.headers.get("cache-control")).toBe("no-cache, no-transform")
        expect(response.headers.get("x-accel-buffering")).toBe("no")
        const reader = new SseReader(response)
        const priming = await reader.next()
        expect(priming).toEqual({ id: expect.stringMatching(/^\d+:\d+$/), retry: 1000, data: "" })
        expect(reader.raw.startsWith("id:")).toBe(true)
        const answer = await reader.message()
        expect(answer?.id).toMatch(/^\d+:\d+$/)
        expect(answer?.id).not.toBe(priming?.id)
        expect(resultOf(answer?.message)).toEqual({ content: [{ type: "text", text: "hi" }] })
        expect(await reader.next()).toBeUndefined()

        // 2025-03-26: no priming event (older clients would choke on empty data), but ids for resumption.
        const older = await openSession(url, "2025-03-26")
        const olderResponse = await post(
          url,
          callTool(1, "echo", { text: "hi" }),
          inSession(older, "2025-03-26", SSE_ONLY)
        )
        const olderReader = new SseReader(olderResponse)
        const first = await olderReader.next()
        expect(olderReader.raw.startsWith(":")).toBe(true)
        expect(first?.id).toMatch(/^\d+:\d+$/)
        expect(resultOf(JSON.parse(first!.data) as JsonRpc.Message)).toEqual({ content: [{ type: "text", text: "hi" }] })
        expect(await olderReader.next()).toBeUndefined()

        // Batches on 2025-03-26: one stream with every response, then the end.
        const batch = await post(url, [JsonRpc.request("a", "ping"), JsonRpc.request("b", "tools/list")], {
          "mcp-session-id": older,
          ...SSE_ONLY
        })
        expect(batch.status).toBe(200)
        const batched = await new SseReader(batch).rest()
        expect(batched.map((m) => "id" in m.message ? m.message.id : undefined).sort()).toEqual(["a", "b"])
        // And as JSON when the client asks for JSON only: an array.
        const jsonBatch = await post(url, [JsonRpc.request("c", "ping"), JsonRpc.notification("x")], {
          "mcp-session-id": older,
          "mcp-protocol-version": "2025-03-26",
          accept: "application/json"
        })
        expect(await jsonBatch.json()).toEqual([{ jsonrpc: "2.0", id: "c", result: {} }])
      })
    }), 15_000)

  it.scopedLive("a dropped POST stream resumed with Last-Event-ID loses nothing; the request is not cancelled", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const { url } = served
      const id = yield* Effect.promise(() => openSession(url))
      const session = yield* lookup(served, id)
      yield* Effect.promise(async () => {
        // Dropped while the tool runs: the resume gets the rest live.
        const controller = new AbortController()
        const response = await post(url, callTool(7, "sleep", { ms: 300 }, "p"), inSession(id), controller.signal)
        const reader = new SseReader(response)
        const priming = await reader.next()
        expect(priming?.data).toBe("")
        const first = await reader.message()
        expect(progressOf(first?.message)).toBe(0)
        controller.abort()
        const resumed = await getStream(url, inSession(id, LATEST, { "last-event-id": first!.id! }))
        expect(resumed.status).toBe(200)
        const rest = await new SseReader(resumed).rest()
        expect(rest.map((m) => progressOf(m.message) ?? resultOf(m.message))).toEqual([
          300,
          { content: [{ type: "text", text: "slept 300 ms" }] }
        ])
        const ids = [first!.id!, ...rest.map((m) => m.id!)]
        expect(new Set(ids).size).toBe(3)

        // Dropped, and the tool finishes before the client comes back: everything is replayed from the store.
        const controller2 = new AbortController()
        const response2 = await post(url, callTool(8, "sleep", { ms: 20 }, "q"), inSession(id), controller2.signal)
        const reader2 = new SseReader(response2)
        const priming2 = await reader2.next()
        controller2.abort()
        // Back only once the call is over and its stream recorded to its end: a POST's stream holds the session
        // busy until then, and the dropped connection until the server has seen it close. What follows is
        // then replayed from the store, none of it live.
        await until("the call ends, its stream recorded and its connection closed", () => session.busy === 0)
        expect(session.inFlight).toBe(0)
        const replayed = await new SseReader(
          await getStream(url, inSession(id, LATEST, { "last-event-id": priming2!.id! }))
        ).rest()
        expect(replayed.map((m) => progressOf(m.message) ?? resultOf(m.message))).toEqual([
          0,
          20,
          { content: [{ type: "text", text: "slept 20 ms" }] }
        ])
        // An id this session never saw.
        await expectRefusal(await getStream(url, inSession(id, LATEST, { "last-event-id": "999:1" })), 400)
      })
      expect(session.inFlight).toBe(0)
      expect(session.busy).toBe(0)
    }), 15_000)

  it.scopedLive("cancellation, not disconnection, stops a request; its stream then ends without a response", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const { url } = served
      const id = yield* Effect.promise(() => openSession(url))
      const session = yield* lookup(served, id)
      yield* Effect.promise(async () => {
        const response = await post(url, callTool(11, "sleep", { ms: 60_000 }, "c"), inSession(id))
        const reader = new SseReader(response)
        expect(progressOf((await reader.message())?.message)).toBe(0)
        expect(session.inFlight).toBe(1)
        const cancel = await post(
          url,
          JsonRpc.notification("notifications/cancelled", { requestId: 11, reason: "test" }),
          inSession(id)
        )
        expect(cancel.status).toBe(202)
        expect(await reader.message()).toBeUndefined()
      })
      expect(session.inFlight).toBe(0)
      expect(session.isOpen).toBe(true)
    }), 15_000)

  it.scopedLive("GET opens the standalone stream; a newer GET replaces it; it resumes like any stream", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      const { url } = served
      const id = yield* Effect.promise(() => openSession(url))
      const session = yield* lookup(served, id)
      const say = (text: string) => session.send(JsonRpc.notification("notifications/message", { level: "info", data: text }))
      const dataOf = (m: { readonly message: JsonRpc.Message } | undefined) =>
        m !== undefined && JsonRpc.isNotification(m.message) ? (m.message.params as { data: string }).data : undefined
      yield* Effect.promise(async () => {
        // Before any GET there is nowhere to send to.
        expect(say("lost")).toBe(false)
        const first = new SseReader(await getStream(url, inSession(id)))
        expect((await first.next())?.data).toBe("")
        expect(session.busy).toBe(1)
        expect(say("one")).toBe(true)
        const one = await first.message()
        expect(dataOf(one)).toBe("one")

        const second = new SseReader(await getStream(url, inSession(id)))
        expect((await second.next())?.data).toBe("")
        // The first stream ends rather than the second being refused with 409.
        expect(await first.next()).toBeUndefined()
        say("two")
        expect(dataOf(await second.message())).toBe("two")

        // Resuming from "one" replays "two", then goes on live; the second stream is replaced in turn.
        const third = new SseReader(await getStream(url, inSession(id, LATEST, { "last-event-id": one!.id! })))
        expect(dataOf(await third.message())).toBe("two")
        expect(await second.next()).toBeUndefined()
        say("three")
        expect(dataOf(await third.message())).toBe("three")
        await third.cancel()
      })
      // The closed connection no longer holds the session busy.
      yield* Effect.promise(() => until("the closed stream releases the session", () => session.busy === 0))
      expect(session.busy).toBe(0)
    }), 15_000)

  it.scopedLive("JSON-response mode, and JSON whenever the client accepts only JSON", () =>
    Effect.gen(function*() {
      const served = yield* serve({ streamable: { enableJsonResponse: true } })
      const { url } = served
      yield* Effect.promise(async () => {
        const id = await openSession(url)
        const response = await post(url, callTool(1, "sleep", { ms: 10 }, "j"), inSession(id))
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("application/json")
        expect(await response.json()).toEqual({
          jsonrpc: "2.0",
          id: 1,
          result: { content: [{ type: "text", text: "slept 10 ms" }] }
        })
        // A client that accepts only SSE still gets a stream.
        const sse = await post(url, callTool(2, "echo", { text: "s" }), inSession(id, LATEST, { accept: "text/event-stream" }))
        expect(sse.headers.get("content-type")).toContain("text/event-stream")
        expect(resultOf((await new SseReader(sse).message())?.message)).toEqual({ content: [{ type: "text", text: "s" }] })
      })
    }).pipe(
      Effect.zipRight(Effect.gen(function*() {
        const served = yield* serve()
        const text = yield* Effect.promise(async () => {
          const id = await openSession(served.url)
          const response = await post(served.url, callTool(1, "add", { a: 1, b: 2 }), inSession(id, LATEST, {
            accept: "application/json"
          }))
          expect(response.headers.get("content-type")).toContain("application/json")
          return (await response.json() as JsonRpc.Success).result
        })
        expect(text).toEqual({ content: [{ type: "text", text: "3" }], structuredContent: { sum: 3 } })
      }))
    ), 15_000)

  it.scopedLive("stateless mode: no session ids, each request its own session, no GET or DELETE", () =>
    Effect.gen(function*() {
      const served = yield* serve({ streamable: { stateless: true } })
      const { url } = served
      yield* Effect.promise(async () => {
        const init = await post(url, initializeRequest())
        expect(init.status).toBe(200)
        expect(init.headers.get("mcp-session-id")).toBeNull()
        await init.text()
        const json = await post(url, callTool(1, "add", { a: 20, b: 22 }), { accept: "application/json" })
        expect(json.headers.get("mcp-session-id")).toBeNull()
        expect(resultOf(await json.json() as JsonRpc.Message)).toEqual({
          content: [{ type: "text", text: "42" }],
          structuredContent: { sum: 42 }
        })
        const sse = await post(url, callTool(2, "sleep", { ms: 10 }, "s"), { "mcp-protocol-version": "2025-06-18" })
        expect(sse.headers.get("content-type")).toContain("text/event-stream")
        const messages = await new SseReader(sse).rest()
        expect(messages.map((m) => progressOf(m.message) ?? resultOf(m.message))).toEqual([
          0,
          10,
          { content: [{ type: "text", text: "slept 10 ms" }] }
        ])
        // Stateless streams are not resumable: no ids.
        expect(messages.every((m) => m.id === undefined)).toBe(true)
        expect((await post(url, JsonRpc.notification("notifications/initialized"))).status).toBe(202)
        await expectRefusal(await getStream(url, {}), 405)
        await expectRefusal(await fetch(url, { method: "DELETE" }), 405)
        await expectRefusal(await post(url, [JsonRpc.request(1, "ping")], { "mcp-protocol-version": LATEST }), 400)
      })
      expect(yield* served.registry.size).toBe(0)
    }), 15_000)

  it.scopedLive("sessions of the legacy SSE transport are unknown on /mcp", () =>
    Effect.gen(function*() {
      const served = yield* serve()
      yield* Effect.promise(async () => {
        const controller = new AbortController()
        const legacy = await fetch(served.url.replace(/\/mcp$/, "/sse"), {
          headers: { accept: "text/event-stream" },
          signal: controller.signal
        })
        const endpoint = await new SseReader(legacy).next()
        const legacyId = /session_id=([0-9a-f]+)/.exec(endpoint!.data)![1]!
        await expectRefusal(await post(served.url, JsonRpc.request(1, "ping"), inSession(legacyId)), 404)
        controller.abort()
      })
    }), 15_000)

  it.scoped("idle expiry: 500 sessions abandoned without DELETE leave the registry and the store empty", () =>
    Effect.gen(function*() {
      const { initialize, postJson, registry, request, store } = yield* inProcess({})
      const ids: Array<string> = []
      for (let i = 0; i < 500; i++) ids.push(yield* initialize)
      expect(yield* registry.size).toBe(500)

      // One session records a stream (a call with progress is answered on one); one keeps its standalone
      // stream open.
      const streamScope = yield* Scope.make()
      const slept = yield* postJson(callTool(1, "sleep", { ms: 1000 }, "p"), inSession(ids[0]!), streamScope)
      const sleptText = yield* Effect.fork(bodyText(slept))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(sleptText)).toContain("slept 1000 ms")
      yield* Scope.close(streamScope, Exit.void)
      expect(Option.isSome(yield* store.streamOf(ids[0]!, "0:0"))).toBe(true)
      const getScope = yield* Scope.make()
      const stream = yield* request({ method: "GET", headers: { accept: "text/event-stream", ...inSession(ids[1]!) } }, getScope)
      expect(stream.status).toBe(200)

      yield* TestClock.adjust(Duration.minutes(29))
      expect(yield* registry.size).toBe(500)
      yield* TestClock.adjust(Duration.minutes(2))
      // Only the session with an open stream is left.
      expect((yield* registry.sessions).map((s) => s.id)).toEqual([ids[1]])
      expect(yield* store.streamOf(ids[0]!, "0:0")).toEqual(Option.none())
      const gone = yield* postJson(JsonRpc.request(2, "ping"), inSession(ids[2]!))
      expect(gone.status).toBe(404)

      // Once its stream closes, its idle time starts.
      yield* Scope.close(getScope, Exit.void)
      yield* TestClock.adjust(Duration.minutes(29))
      expect(yield* registry.size).toBe(1)
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* registry.size).toBe(0)
      expect(yield* store.streamOf(ids[1]!, "0:0")).toEqual(Option.none())
    }))

  it.scoped("keep-alive comments every 15 s on an open stream, stopping when it ends (TestClock)", () =>
    Effect.gen(function*() {
      const { initialize, registry, request } = yield* inProcess({})
      const id = yield* initialize
      const scope = yield* Scope.make()
      const response = yield* request({ method: "GET", headers: { accept: "text/event-stream", ...inSession(id) } }, scope)
      expect(response.headers["content-type"]).toBe("text/event-stream")
      expect(response.headers["cache-control"]).toBe("no-cache, no-transform")
      expect(response.headers["x-accel-buffering"]).toBe("no")
      const body = response.body
      if (body._tag !== "Stream") throw new Error("expected a streamed body")
      const frames = yield* body.stream.pipe(Stream.decodeText(), Stream.runCollect, Effect.orDie, Effect.fork)
      yield* TestClock.adjust(Duration.seconds(14))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* TestClock.adjust(Duration.seconds(15))
      // The stream ends with its session; the comments stop with it.
      yield* Option.getOrThrow(yield* registry.lookup(id)).close
      const text = Chunk.join(yield* Fiber.join(frames), "")
      expect(text.startsWith("id: ")).toBe(true)
      expect(text.split(": keep-alive\n\n").length - 1).toBe(2)
      yield* TestClock.adjust(Duration.minutes(5))
      yield* Scope.close(scope, Exit.void)
    }))

  it.scoped("idle expiry does not count time while a request is in flight, even with no one listening", () =>
    Effect.gen(function*() {
      const { initialize, postJson, registry } = yield* inProcess({ idleTimeout: Duration.minutes(5) })
      const id = yield* initialize
      // A ten-minute tool call over SSE (its progress makes it a stream) whose stream is dropped at once (the
      // request scope closes).
      const dropped = yield* postJson(callTool(1, "sleep", { ms: 600_000 }, "p"), inSession(id))
      expect(dropped.status).toBe(200)
      const session = Option.getOrThrow(yield* registry.lookup(id))
      yield* TestClock.adjust(Duration.minutes(9))
      expect(session.isOpen).toBe(true)
      expect(session.busy).toBeGreaterThan(0)
      // The call ends at minute ten; five idle minutes later the session is gone.
      yield* TestClock.adjust(Duration.minutes(2))
      expect(session.busy).toBe(0)
      expect(session.isOpen).toBe(true)
      yield* TestClock.adjust(Duration.minutes(5))
      expect(session.isOpen).toBe(false)
      expect(yield* registry.size).toBe(0)
    }))
})
