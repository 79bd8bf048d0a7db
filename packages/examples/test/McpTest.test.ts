import { describe, expect, it, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTest from "@effect-mcp/core/McpTest"
import * as McpTool from "@effect-mcp/core/McpTool"

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

describe("McpTest", () => {
  describe("with the demo server", () => {
    const TestLive = McpTest.layer(DemoServer.layer)

    it.effect("initializes a client of the server", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const info = yield* client.serverInfo
        expect(info.name).toBe("effect-mcp-demo")
        const result = yield* client.initializeResult
        expect(result.protocolVersion).toBe(McpSchema.LATEST_PROTOCOL_VERSION)
        expect(result.capabilities.tools).toBeDefined()
        expect(Option.isSome(yield* client.sessionId)).toBe(true)
        const { tools } = yield* client.listTools()
        expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["add", "echo", "sleep"]))
        expect(textOf(yield* client.callTool("echo", { text: "hi" }))).toBe("hi")
        expect((yield* client.callTool("add", { a: 2, b: 3 })).structuredContent).toEqual({ sum: 5 })
        yield* client.ping
        yield* client.setLoggingLevel("warning")
        yield* client.notify("notifications/roots/list_changed")
      }).pipe(Effect.provide(TestLive)))

    it.effect("a sleeping tool answers when the TestClock reaches its time, not before", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const started = yield* Deferred.make<void>()
        const progress: Array<number> = []
        const fiber = yield* Effect.fork(client.callTool("sleep", { ms: 60_000 }, {
          onProgress: (p) =>
            Effect.sync(() => progress.push(p.progress)).pipe(Effect.zipRight(Deferred.succeed(started, undefined)))
        }))
        yield* Deferred.await(started)
        yield* TestClock.adjust("59 seconds")
        expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(fiber)
        expect(textOf(result)).toBe("slept 60000 ms")
        expect(progress).toEqual([0, 60_000])
      }).pipe(Effect.provide(TestLive)))

    it.effect("notifications carry the progress of a request", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const started = yield* Deferred.make<void>()
        const seen = yield* (yield* client.subscribe).pipe(
          Stream.filter((n) => n.method === "notifications/progress"),
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        const call = yield* Effect.fork(
          client.callTool("sleep", { ms: 1000 }, { onProgress: () => Deferred.succeed(started, undefined) })
        )
        yield* Deferred.await(started)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(call)
        const progress = Array.from(yield* Fiber.join(seen), (n) => Schema.decodeUnknownSync(McpClient.Progress)(n.params))
        expect(progress.map((p) => p.progress)).toEqual([0, 1000])
      }).pipe(Effect.scoped, Effect.provide(TestLive)))

    it.effect("resources and prompts", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const readme = yield* client.readResource("demo://readme")
        expect(readme.contents[0]).toMatchObject({ uri: "demo://readme", mimeType: "text/markdown" })
        const greeting = yield* client.readResource("demo://greetings/Ada")
        expect(greeting.contents).toEqual([{ uri: "demo://greetings/Ada", mimeType: "text/plain", text: "Hello, Ada!" }])
        const { resourceTemplates } = yield* client.listResourceTemplates()
        expect(resourceTemplates.map((t) => t.uriTemplate)).toContain("demo://greetings/{name}")
        const completion = yield* client.complete({
          ref: { type: "ref/resource", uri: "demo://greetings/{name}" },
          argument: { name: "name", value: "a" }
        })
        expect(completion.completion.values).toEqual(["Ada", "Alan"])
        const { prompts } = yield* client.listPrompts()
        expect(prompts.map((p) => p.name)).toContain("review")
        const prompt = yield* client.getPrompt("review", { code: "let x = 1", focus: "naming" })
        expect(prompt.messages[0]?.content).toEqual({
          type: "text",
          text: "Please review this code, focusing on naming:\n\nlet x = 1"
        })
      }).pipe(Effect.provide(TestLive)))

    it.effect("protocol errors arrive as RpcError with the JSON-RPC code", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const unknownTool = yield* Effect.flip(client.callTool("nope"))
        expect(unknownTool).toMatchObject({ reason: "RpcError", code: JsonRpc.ErrorCode.InvalidParams })
        const missing = yield* Effect.flip(client.readResource("demo://missing"))
        expect(missing).toMatchObject({ reason: "RpcError", code: JsonRpc.ErrorCode.ResourceNotFound })
        const unknownMethod = yield* Effect.flip(client.request("nope/nope", {}, Schema.Unknown))
        expect(unknownMethod).toMatchObject({ reason: "RpcError", code: JsonRpc.ErrorCode.MethodNotFound })
        // A result that does not match the schema asked for is the server's fault, not the caller's.
        const mismatch = yield* Effect.flip(client.request("ping", {}, Schema.Struct({ pong: Schema.String })))
        expect(mismatch.reason).toBe("Protocol")
        // Bad arguments are a tool error the model can read (2025-11-25), not a protocol error.
        const badArgs = yield* client.callTool("add", { a: "two", b: 3 })
        expect(badArgs.isError).toBe(true)
      }).pipe(Effect.provide(TestLive)))

    it.effect("closing the client fails what is pending, and everything after", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          client.callTool("sleep", { ms: 60_000 }, { onProgress: () => Deferred.succeed(started, undefined) })
        )
        const notifications = yield* Effect.fork(Stream.runDrain(yield* client.subscribe))
        yield* Deferred.await(started)
        yield* client.close
        expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ reason: "Closed" })
        expect(yield* Effect.flip(client.ping)).toMatchObject({ reason: "Closed" })
        // Notification streams end rather than hang, also those run after the close.
        yield* Fiber.join(notifications)
        expect(Chunk.size(yield* Stream.runCollect(client.notifications))).toBe(0)
      }).pipe(Effect.scoped, Effect.provide(TestLive)))

    it.effect("interrupting a call cancels it on the server", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          client.callTool("sleep", { ms: 60_000 }, { onProgress: () => Deferred.succeed(started, undefined) })
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        // The handler was interrupted by `notifications/cancelled`: no final progress when the clock passes.
        const late = yield* (yield* client.subscribe).pipe(
          Stream.filter((n) => n.method === "notifications/progress"),
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        yield* TestClock.adjust("60 seconds")
        expect(textOf(yield* client.callTool("echo", { text: "still here" }))).toBe("still here")
        expect(Option.isNone(yield* Fiber.poll(late))).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(TestLive)))
  })

  describe("with the client's handler layers", () => {
    // What the client answers when the server asks: provided to the client's layer.
    const Handlers = Layer.mergeAll(
      McpClientHandlers.layerSampling(() =>
        Effect.succeed({ role: "assistant", content: { type: "text", text: "A summary." }, model: "test-model" })
      ),
      McpClientHandlers.layerElicitation(() => Effect.succeed({ action: "accept", content: { confirm: true } })),
      McpClientHandlers.layerRoots(Effect.succeed([{ uri: "file:///project", name: "project" }]))
    )

    it.effect("the demo's summarize, confirm and roots get their answers from the client", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        expect(textOf(yield* client.callTool("summarize", { text: "A long text." }))).toBe("A summary.")
        expect(textOf(yield* client.callTool("confirm", { action: "deploy" }))).toBe("Confirmed")
        expect(textOf(yield* client.callTool("roots"))).toBe("file:///project")
      }).pipe(Effect.provide(McpTest.layer(DemoServer.layer).pipe(Layer.provide(Handlers)))))

    it.effect("without them, the tools say what the client did not declare", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const result = yield* client.callTool("confirm", { action: "deploy" })
        expect(result).toEqual({
          content: [{
            type: "text",
            text: "The client did not declare the capability elicitation, which elicitation/create needs"
          }],
          isError: true
        })
      }).pipe(Effect.provide(McpTest.layer(DemoServer.layer))))
  })

  // One client for a whole block: the layer is built with the test services, so `TestClock` still drives it.
  layer(McpTest.layer(DemoServer.layer))("shared through layer()", (it) => {
    it.effect("a sleeping tool answers when the TestClock reaches its time", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          client.callTool("sleep", { ms: 600_000 }, { onProgress: () => Deferred.succeed(started, undefined) })
        )
        yield* Deferred.await(started)
        yield* TestClock.adjust("10 minutes")
        expect(textOf(yield* Fiber.join(fiber))).toBe("slept 600000 ms")
      }))

    it.effect("the next test uses the same session", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        expect(textOf(yield* client.callTool("echo", { text: "again" }))).toBe("again")
      }))
  })

  describe("with the user's own layers", () => {
    class Database extends Context.Tag("test/Database")<Database, {
      readonly findUser: (id: string) => Effect.Effect<Option.Option<string>>
    }>() {}

    class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", { message: Schema.String }) {}

    const GetUser = McpTool.make("get_user", {
      description: "Looks a user up by id",
      input: Schema.Struct({ id: Schema.String }),
      handler: ({ id }) =>
        Effect.flatMap(Database, (db) => db.findUser(id)).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new UserNotFound({ message: `No user ${id}` })),
            onSome: (name) => Effect.succeed(name)
          }))
        )
    })

    /** A slow upstream; the tool gives up after 5 seconds. */
    class Upstream extends Context.Tag("test/Upstream")<Upstream, {
      readonly forecast: (city: string) => Effect.Effect<string>
    }>() {}

    const Weather = McpTool.make("weather", {
      input: Schema.Struct({ city: Schema.String }),
      handler: ({ city }) =>
        Effect.flatMap(Upstream, (upstream) => upstream.forecast(city)).pipe(
          Effect.timeout("5 seconds"),
          Effect.catchTag("TimeoutException", () => Effect.fail(new UserNotFound({ message: "The forecast timed out" })))
        )
    })

    // `Layer<McpServer, never, Database | Upstream>`: the compiler insists the test provides both.
    const ServerLive = Layer.mergeAll(GetUser, Weather).pipe(
      Layer.provideMerge(McpServer.layer({ name: "users", version: "1.0.0" }))
    )

    const DatabaseTest = Layer.succeed(Database, {
      findUser: (id) => Effect.succeed(id === "1" ? Option.some("Ada") : Option.none())
    })

    // Signals when the upstream is called, so the test moves the clock only once the timeout is running.
    const UpstreamTest = (called: Deferred.Deferred<string>) =>
      Layer.succeed(Upstream, {
        forecast: (city) => Effect.zipRight(Deferred.succeed(called, city), Effect.never)
      })

    const testLayer = (called: Deferred.Deferred<string>) =>
      McpTest.layer(ServerLive).pipe(Layer.provide(Layer.merge(DatabaseTest, UpstreamTest(called))))

    it.effect("a tool that needs a service gets the test's implementation", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        expect(textOf(yield* client.callTool("get_user", { id: "1" }))).toBe("Ada")
        const missing = yield* client.callTool("get_user", { id: "2" })
        expect(missing).toEqual({ content: [{ type: "text", text: "No user 2" }], isError: true })
      }).pipe(Effect.provide(testLayer(Deferred.unsafeMake(FiberId.none)))))

    it.effect("a tool that times out is tested by moving the clock", () =>
      Effect.gen(function*() {
        const called = yield* Deferred.make<string>()
        const client = yield* Layer.build(testLayer(called)).pipe(Effect.map(Context.get(McpClient.McpClient)))
        const fiber = yield* Effect.fork(client.callTool("weather", { city: "Oslo" }))
        expect(yield* Deferred.await(called)).toBe("Oslo")
        yield* TestClock.adjust("4 seconds")
        expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(fiber)
        expect(result).toEqual({ content: [{ type: "text", text: "The forecast timed out" }], isError: true })
      }).pipe(Effect.scoped))

    const BigTool = McpTool.make("big", {
      input: Schema.Struct({}),
      handler: () => Effect.succeed({ content: [], structuredContent: { n: BigInt(1) } })
    })

    it.effect("a result JSON cannot carry is an error, not a hang", () =>
      Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const error = yield* Effect.flip(client.callTool("big"))
        expect(error).toMatchObject({ reason: "RpcError", code: JsonRpc.ErrorCode.InternalError })
      }).pipe(
        Effect.provide(McpTest.layer(BigTool.pipe(Layer.provideMerge(McpServer.layer({ name: "big", version: "1" })))))
      ))
  })
})
