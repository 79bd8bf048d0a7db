import { NodeMcpServer } from "@effect-mcp/node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpSchema from "@effect-mcp/core/McpSchema"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

interface Served {
  readonly base: string
  readonly registry: SessionRegistry.SessionRegistryService
}

/** The demo server on a free port of 127.0.0.1, for the test's scope. */
const serveWith = (options: NodeMcpServer.Options): Effect.Effect<Served, never, Scope.Scope> => Effect.gen(function*() {
  const context = yield* Layer.build(NodeMcpServer.layer({ ...options, port: 0 }).pipe(Layer.provide(DemoServer.layer))).pipe(
    Effect.orDie
  )
  const address = Context.get(context, NodeMcpServer.NodeMcpServer).address
  return { base: `http://127.0.0.1:${address.port}`, registry: Context.get(context, SessionRegistry.SessionRegistry) }
})

const serve = serveWith({})

/** Waits until the server has `n` sessions: the server sees a disconnect a few ms after the client closes. */
const sessionsBecome = (registry: SessionRegistry.SessionRegistryService, n: number) =>
  registry.size.pipe(
    Effect.filterOrFail((size) => size === n),
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("2 seconds"))),
    Effect.orElse(() => Effect.flatMap(registry.size, (size) => Effect.dieMessage(`expected ${n} sessions, got ${size}`)))
  )

// The server logs every session opened and closed; the tests look at the sessions themselves. The scope closes
// inside, so the closing is quiet too.
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

const provideHttp = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(NodeHttpClient.layerUndici), quiet)

/**
 * A long `sleep` call, forked, once the server runs it: its handler reports progress 0 first, so the call is
 * pending on the server, not still on its way, when the test goes on.
 */
const callReachingServer = (client: McpClient.McpClientService) =>
  Effect.gen(function*() {
    const running = yield* Deferred.make<void>()
    const pending = yield* Effect.fork(
      client.callTool("sleep", { ms: 10_000 }, { onProgress: () => Deferred.succeed(running, undefined) })
    )
    yield* Deferred.await(running)
    return pending
  })

const transports = [
  { name: "legacy HTTP+SSE", connect: (base: string) => McpClient.makeSse({ url: `${base}/sse` }) },
  // The session era: these tests are about sessions (ids, recovery, resumption); the demo serves both eras.
  {
    name: "Streamable HTTP",
    connect: (base: string) => McpClient.makeStreamableHttp({ url: `${base}/mcp`, protocol: "legacy" })
  }
] as const

describe("McpClient", () => {
  for (const transport of transports) {
    describe(transport.name, () => {
      it.live("initializes, lists and calls tools", () =>
        Effect.gen(function*() {
          const { base } = yield* serve
          const client = yield* transport.connect(base)
          const info = yield* client.serverInfo
          expect(info).toEqual({ name: "effect-mcp-demo", version: "0.1.0" })
          const init = yield* client.initializeResult
          expect(init.protocolVersion).toBe(McpSchema.LATEST_PROTOCOL_VERSION)
          expect(init.instructions).toContain("demo server")
          expect(Option.isSome(yield* client.sessionId)).toBe(true)
          const { tools } = yield* client.listTools()
          expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["add", "echo", "sleep"]))
          expect(textOf(yield* client.callTool("echo", { text: "hello" }))).toBe("hello")
          const sum = yield* client.callTool("add", { a: 2, b: 3 })
          expect(textOf(sum)).toBe("5")
          expect(sum.structuredContent).toEqual({ sum: 5 })
          yield* client.ping
        }).pipe(provideHttp))

      it.live("reads resources and gets prompts", () =>
        Effect.gen(function*() {
          const { base } = yield* serve
          const client = yield* transport.connect(base)
          const { resources } = yield* client.listResources()
          expect(resources.map((r) => r.uri)).toContain("demo://readme")
          const readme = yield* client.readResource("demo://readme")
          expect(readme.contents[0]).toMatchObject({ uri: "demo://readme", mimeType: "text/markdown" })
          expect(readme.contents[0] !== undefined && "text" in readme.contents[0] && readme.contents[0].text)
            .toContain("# effect-mcp demo")
          const greeting = yield* client.readResource("demo://greetings/Grace")
          expect(greeting.contents).toEqual([{ uri: "demo://greetings/Grace", mimeType: "text/plain", text: "Hello, Grace!" }])
          const prompt = yield* client.getPrompt("review", { code: "x = 1" })
          expect(prompt.messages).toEqual([
            { role: "user", content: { type: "text", text: "Please review this code:\n\nx = 1" } }
          ])
        }).pipe(provideHttp))

      it.live("delivers progress to the call and to notifications", () =>
        Effect.gen(function*() {
          const { base } = yield* serve
          const client = yield* transport.connect(base)
          const seen = yield* (yield* client.subscribe).pipe(
            Stream.filter((n) => n.method === "notifications/progress"),
            Stream.take(2),
            Stream.runCollect,
            Effect.fork
          )
          const progress: Array<McpClient.Progress> = []
          const result = yield* client.callTool("sleep", { ms: 50 }, {
            onProgress: (p) => Effect.sync(() => progress.push(p))
          })
          expect(textOf(result)).toBe("slept 50 ms")
          expect(progress.map((p) => [p.progress, p.total])).toEqual([[0, 50], [50, 50]])
          const notifications = Chunk.toReadonlyArray(yield* Fiber.join(seen))
          expect(notifications.map((n) => n.params)).toEqual(progress)
        }).pipe(provideHttp))

      it.live("messages the server starts reach notifications", () =>
        Effect.gen(function*() {
          const { base, registry } = yield* serve
          const client = yield* transport.connect(base)
          const seen = yield* (yield* client.subscribe).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
          const [session] = yield* registry.sessions
          // Streamable HTTP: the client's GET stream may not be attached yet; until it is, `send` has nowhere to go.
          yield* Effect.sync(() =>
            session!.send(JsonRpc.notification("notifications/message", { level: "info", data: "hello" }))
          ).pipe(
            Effect.filterOrFail((sent) => sent),
            Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("2 seconds")))
          )
          const [notification] = Chunk.toReadonlyArray(yield* Fiber.join(seen))
          expect(notification).toEqual({
            jsonrpc: "2.0",
            method: "notifications/message",
            params: { level: "info", data: "hello" }
          })
        }).pipe(provideHttp))

      it.live("server errors arrive as RpcError with their code", () =>
        Effect.gen(function*() {
          const { base } = yield* serve
          const client = yield* transport.connect(base)
          expect(yield* Effect.flip(client.callTool("nope"))).toMatchObject({
            reason: "RpcError",
            code: JsonRpc.ErrorCode.InvalidParams
          })
          expect(yield* Effect.flip(client.readResource("demo://nothing"))).toMatchObject({
            reason: "RpcError",
            code: JsonRpc.ErrorCode.ResourceNotFound
          })
          // The session is still good afterwards.
          expect(textOf(yield* client.callTool("echo", { text: "after" }))).toBe("after")
        }).pipe(provideHttp))

      it.live("closing ends the server's session and fails pending requests", () =>
        Effect.gen(function*() {
          const { base, registry } = yield* serve
          yield* Effect.scoped(Effect.gen(function*() {
            const client = yield* transport.connect(base)
            yield* sessionsBecome(registry, 1)
            const pending = yield* callReachingServer(client)
            yield* client.close
            expect(yield* Effect.flip(Fiber.join(pending))).toMatchObject({ reason: "Closed" })
            expect(yield* Effect.flip(client.callTool("echo", { text: "late" }))).toMatchObject({ reason: "Closed" })
          }))
          yield* sessionsBecome(registry, 0)
        }).pipe(provideHttp))
    })
  }

  describe("legacy HTTP+SSE", () => {
    it.live("fails pending requests when the server ends the stream", () =>
      Effect.gen(function*() {
        const { base, registry } = yield* serve
        const client = yield* McpClient.makeSse({ url: `${base}/sse` })
        const pending = yield* callReachingServer(client)
        const [session] = yield* registry.sessions
        yield* session!.close
        expect(yield* Effect.flip(Fiber.join(pending))).toMatchObject({ reason: "Transport" })
        expect(yield* Effect.flip(client.ping)).toMatchObject({ reason: "Transport" })
      }).pipe(provideHttp))

    it.live("refuses to connect when the server answers with an error", () =>
      Effect.gen(function*() {
        const { base } = yield* serve
        const error = yield* Effect.flip(McpClient.makeSse({ url: `${base}/nowhere` }))
        expect(error).toMatchObject({ reason: "HttpStatus", status: 404 })
      }).pipe(provideHttp))
  })

  describe("Streamable HTTP", () => {
    it.live("starts a new session by itself when the server forgets its session", () =>
      Effect.gen(function*() {
        const { base, registry } = yield* serve
        const client = yield* McpClient.makeStreamableHttp({ url: `${base}/mcp`, protocol: "legacy" })
        const before = Option.getOrThrow(yield* client.sessionId)
        // Behind the client's back: DELETE its session.
        const http = yield* HttpClient.HttpClient
        const deleted = yield* http.execute(
          HttpClientRequest.del(`${base}/mcp`).pipe(HttpClientRequest.setHeader("mcp-session-id", before))
        )
        expect(deleted.status).toBeLessThan(300)
        yield* sessionsBecome(registry, 0)
        // The next call gets 404, initializes a new session and is sent again on it.
        expect(textOf(yield* client.callTool("echo", { text: "again" }))).toBe("again")
        const after = Option.getOrThrow(yield* client.sessionId)
        expect(after).not.toBe(before)
        yield* sessionsBecome(registry, 1)
        // Requests that race into the dead session all recover through one new session.
        const [session] = yield* registry.sessions
        yield* session!.close
        const results = yield* Effect.all(
          Array.from({ length: 5 }, (_, i) => client.callTool("echo", { text: `r${i}` })),
          { concurrency: "unbounded" }
        )
        expect(results.map(textOf)).toEqual(["r0", "r1", "r2", "r3", "r4"])
        yield* sessionsBecome(registry, 1)
      }).pipe(provideHttp))

    it.live("resumes a response stream that drops before the answer", () =>
      Effect.gen(function*() {
        const { base } = yield* serveWith({ streamable: { retryInterval: "20 millis" } })
        let armed = false
        const resumedFrom: Array<string> = []
        // An HttpClient that cuts the next POST's SSE stream after its first chunk, as a proxy might.
        const Cutting = Layer.effect(
          HttpClient.HttpClient,
          Effect.map(HttpClient.HttpClient, (http) =>
            http.pipe(
              HttpClient.tapRequest((request) =>
                Effect.sync(() => {
                  const lastEventId = request.headers["last-event-id"]
                  if (request.method === "GET" && lastEventId !== undefined) resumedFrom.push(lastEventId)
                })
              ),
              HttpClient.transformResponse(Effect.map((response) => {
                if (!armed || response.request.method !== "POST") return response
                if (!(response.headers["content-type"] ?? "").startsWith("text/event-stream")) return response
                armed = false
                return HttpClientResponse.fromWeb(
                  response.request,
                  new Response(Stream.toReadableStream(response.stream.pipe(Stream.take(1))), {
                    status: response.status,
                    headers: response.headers
                  })
                )
              }))
            ))
        ).pipe(Layer.provide(NodeHttpClient.layerUndici))
        yield* Effect.gen(function*() {
          const client = yield* McpClient.makeStreamableHttp({ url: `${base}/mcp`, protocol: "legacy" })
          armed = true
          const progress: Array<number> = []
          const result = yield* client.callTool("sleep", { ms: 100 }, {
            onProgress: (p) => Effect.sync(() => progress.push(p.progress))
          })
          expect(textOf(result)).toBe("slept 100 ms")
          expect(armed).toBe(false)
          expect(resumedFrom).toHaveLength(1)
          expect(progress).toContain(100)
        }).pipe(Effect.provide(Cutting))
      }).pipe(quiet))

    it.live("a 404 on initialize is not retried", () =>
      Effect.gen(function*() {
        const { base } = yield* serve
        const error = yield* Effect.flip(McpClient.makeStreamableHttp({ url: `${base}/elsewhere` }))
        expect(error).toMatchObject({ reason: "HttpStatus", status: 404 })
      }).pipe(provideHttp))
  })
})
