import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTest from "@effect-mcp/core/McpTest"
import { CurrentSession, type Sink } from "@effect-mcp/core/McpSession"
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as McpResource from "@effect-mcp/core/McpResource"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import { capture } from "../../node/test/utils/logs.js"
import { sdkClient, serveHttp } from "../../core/test/utils/serve.js"

// ---------------------------------------------------------------------------------------------------------------
// Extra handlers next to the demo's

class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** A user service a tool needs: it must show in the tool layer's requirements. */
class Database extends Context.Tag("test/Database")<Database, {
  readonly lookup: (key: string) => Effect.Effect<string, NotFound>
}>() {}

/** What a 2025-11-25 listing's schemas start with: their dialect. */
const Dialect2020 = { $schema: "https://json-schema.org/draft/2020-12/schema" } as const

const DatabaseLive = Layer.succeed(Database, {
  lookup: (key) =>
    key === "answer" ? Effect.succeed("42") : Effect.fail(new NotFound({ message: `no entry for ${key}` }))
})

const Lookup = McpTool.make("lookup", {
  input: Schema.Struct({ key: Schema.String }),
  handler: ({ key }) => Effect.flatMap(Database, (db) => db.lookup(key))
})

const Explode = McpTool.make("explode", {
  input: Schema.Struct({}),
  handler: () => Effect.die(new Error("secret connection string postgres://admin:hunter2@db"))
})

const Refuse = McpTool.make("refuse", {
  input: Schema.Struct({}),
  handler: () => Effect.fail(new JsonRpc.JsonRpcError({ code: -32001, message: "refused on purpose" }))
})

const levels: ReadonlyArray<McpSchema.LoggingLevel> = ["debug", "info", "warning", "error", "emergency"]

/** Logs once at each level, through `CurrentSession.log`. */
const Chatty = McpTool.make("chatty", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      for (const level of levels) yield* session.log(level, { level }, "chatty")
      return "done"
    })
})

/** Builds its log effect once, then runs it before and after a pause: `logging/setLevel` may come in between. */
const Ticker = McpTool.make("ticker", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const tick = session.log("debug", "tick")
      yield* tick
      yield* Effect.sleep("1 second")
      yield* tick
      return "ticked"
    })
})

const ServerLive = Layer.mergeAll(
  Explode,
  Refuse,
  Chatty,
  Ticker,
  Lookup.pipe(Layer.provide(DatabaseLive))
).pipe(Layer.provideMerge(DemoServer.layer))

const TestLive = SessionRegistry.layer().pipe(Layer.provideMerge(ServerLive))

// ---------------------------------------------------------------------------------------------------------------
// A client that hands messages to a session directly, as a transport does

type Result =
  | { readonly _tag: "Result"; readonly result: unknown }
  | { readonly _tag: "Error"; readonly error: JsonRpc.ErrorObject }

const classify = (response: JsonRpc.Response): Result =>
  "error" in response ? { _tag: "Error", error: response.error } : { _tag: "Result", result: response.result }

const connect = Effect.gen(function*() {
  const server = yield* McpServer.McpServer
  const registry = yield* SessionRegistry.SessionRegistry
  const session = yield* registry.open({ transport: "memory", protocolVersion: "2025-11-25" })
  const sent: Array<JsonRpc.Message> = []
  const sink: Sink = (message) => {
    sent.push(message)
    return true
  }
  let nextId = 0
  const handle = (request: JsonRpc.Request) =>
    Effect.async<JsonRpc.Response>((resume) => {
      let response: JsonRpc.Response | undefined
      const reply: Sink = (message) => {
        if (JsonRpc.isResponse(message)) response = message
        else sink(message)
        return true
      }
      const taken = session.offer(request, reply, () =>
        resume(response === undefined ? Effect.die(new Error("no response")) : Effect.succeed(response)))
      if (!taken) resume(Effect.die(new Error("the session refused the request")))
    })
  const send = (method: string, params?: unknown) => {
    const id = ++nextId
    return Effect.map(handle(JsonRpc.request(id, method, params)), (response) => {
      expect(response.id).toBe(id)
      expect(response.jsonrpc).toBe("2.0")
      return classify(response)
    })
  }
  const result = <A, I>(schema: Schema.Schema<A, I, never>, method: string, params?: unknown) =>
    Effect.map(send(method, params), (r) => {
      if (r._tag === "Error") throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`)
      return Schema.decodeUnknownSync(schema)(r.result)
    })
  const error = (method: string, params?: unknown) =>
    Effect.map(send(method, params), (r) => {
      if (r._tag === "Result") throw new Error(`${method} succeeded: ${JSON.stringify(r.result)}`)
      return r.error
    })
  const initialize = (protocolVersion = "2025-11-25") =>
    result(McpSchema.InitializeResult, "initialize", {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: "test-client", version: "1.0.0" }
    })
  const callTool = (name: string, args: unknown, meta?: unknown) =>
    result(
      McpSchema.CallToolResult,
      "tools/call",
      meta === undefined ? { name, arguments: args } : { name, arguments: args, _meta: meta }
    )
  return { server, registry, session, sent, sink, handle, send, result, error, initialize, callTool }
})

const connected = (protocolVersion?: string) =>
  Effect.tap(connect, (client) => client.initialize(protocolVersion))

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((c) => c.type === "text" ? c.text : `[${c.type}]`).join("")

const notificationsOf = (sent: ReadonlyArray<JsonRpc.Message>, method: string) =>
  sent.filter((m): m is JsonRpc.Notification => JsonRpc.isNotification(m) && m.method === method)

// ---------------------------------------------------------------------------------------------------------------

describe("McpServer", () => {
  describe("lifecycle", () => {
    it.scoped("refuses requests before initialize, but answers ping", () =>
      Effect.gen(function*() {
        const client = yield* connect
        const before = yield* client.error("tools/list")
        expect(before.code).toBe(JsonRpc.ErrorCode.InvalidRequest)
        expect(before.message).toMatch(/not initialized/)
        expect((yield* client.error("tools/call", { name: "echo", arguments: { text: "x" } })).code).toBe(-32600)
        expect((yield* client.error("resources/read", { uri: "demo://readme" })).code).toBe(-32600)
        expect(yield* client.send("ping")).toEqual({ _tag: "Result", result: {} })
        expect(client.session.phase).toBe("awaiting-initialize")

        const init = yield* client.initialize()
        expect(client.session.phase).toBe("initialized")
        expect(init.serverInfo).toEqual({ name: "effect-mcp-demo", version: "0.1.0" })
        expect(init.instructions).toMatch(/demo server/)
        expect(init.capabilities).toEqual({
          logging: {},
          tools: { listChanged: true },
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          completions: {},
          // The demo's `sleep` may run as a task.
          extensions: { "io.modelcontextprotocol/tasks": {} }
        })
        expect(client.session.clientInfo).toEqual({ name: "test-client", version: "1.0.0" })
        expect((yield* client.result(McpSchema.ListToolsResult, "tools/list")).tools.length).toBeGreaterThan(0)
        expect(yield* client.send("ping")).toEqual({ _tag: "Result", result: {} })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("initialize twice is refused and changes nothing", () =>
      Effect.gen(function*() {
        const client = yield* connected("2025-06-18")
        const again = yield* client.error("initialize", {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "other", version: "2" }
        })
        expect(again.code).toBe(-32600)
        expect(again.message).toMatch(/already initialized/)
        expect(client.session.protocolVersion).toBe("2025-06-18")
        expect(client.session.clientInfo?.name).toBe("test-client")
      }).pipe(Effect.provide(TestLive)))

    it.scoped("initialize with bad params is -32602 and leaves the session uninitialized", () =>
      Effect.gen(function*() {
        const client = yield* connect
        expect((yield* client.error("initialize", { protocolVersion: "2025-11-25" })).code).toBe(-32602)
        expect((yield* client.error("initialize")).code).toBe(-32602)
        expect(client.session.phase).toBe("awaiting-initialize")
        yield* client.initialize()
        expect(client.session.phase).toBe("initialized")
      }).pipe(Effect.provide(TestLive)))

    it.scoped("version negotiation: a supported version is echoed, an unknown one gets the latest", () =>
      Effect.gen(function*() {
        for (const version of McpSchema.SUPPORTED_PROTOCOL_VERSIONS) {
          const client = yield* connect
          expect((yield* client.initialize(version)).protocolVersion).toBe(version)
          expect(client.session.protocolVersion).toBe(version)
        }
        for (const version of ["1999-01-01", "2099-12-31", "latest", ""]) {
          const client = yield* connect
          expect((yield* client.initialize(version)).protocolVersion).toBe("2025-11-25")
          expect(client.session.protocolVersion).toBe("2025-11-25")
        }
      }).pipe(Effect.provide(TestLive)))

    it.scoped("an unknown method is -32601, before and after initialize", () =>
      Effect.gen(function*() {
        const client = yield* connect
        const before = yield* client.error("tools/frobnicate")
        expect(before.code).toBe(JsonRpc.ErrorCode.MethodNotFound)
        yield* client.initialize()
        const after = yield* client.error("sampling/createMessage", {})
        expect(after).toEqual({ code: -32601, message: "Method not found: sampling/createMessage" })
      }).pipe(Effect.provide(TestLive)))
  })

  describe("tools", () => {
    it.scoped("tools/list shows input and output schemas", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const { tools } = yield* client.result(McpSchema.ListToolsResult, "tools/list")
        const byName = new Map(tools.map((t) => [t.name, t]))
        expect([...byName.keys()].sort()).toEqual(
          ["add", "chatty", "confirm", "echo", "explode", "lookup", "refuse", "roots", "sleep", "summarize", "ticker"]
        )
        expect(byName.get("echo")).toEqual({
          name: "echo",
          description: "Returns the text it is given",
          inputSchema: {
            ...Dialect2020,
          type: "object",
            required: ["text"],
            properties: { text: { type: "string" } },
            additionalProperties: false
          }
        })
        expect(byName.get("add")?.outputSchema).toEqual({
          ...Dialect2020,
          type: "object",
          required: ["sum"],
          properties: { sum: { type: "number" } },
          additionalProperties: false
        })
        expect(byName.get("echo")?.outputSchema).toBeUndefined()
        // No arguments: an object schema (Effect's `{}` also admits arrays, and says so without `type`).
        expect(byName.get("explode")?.inputSchema).toEqual({
          ...Dialect2020,
          type: "object",
          properties: {},
          required: [],
          additionalProperties: false
        })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("every input and output schema says type: object, as MCP and the SDK clients require", () => {
      const Point = Schema.Struct({ x: Schema.Number }).annotations({ identifier: "Point" })
      const Shapes = Layer.mergeAll(
        McpTool.make("either", {
          input: Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Number })),
          handler: () => Effect.succeed("ok")
        }),
        McpTool.make("point", { input: Point, output: Point, handler: (point) => Effect.succeed(point) })
      ).pipe(Layer.provideMerge(McpServer.layer({ name: "shapes", version: "0" })))
      return Effect.gen(function*() {
        const client = yield* connected()
        const { tools } = yield* client.result(McpSchema.ListToolsResult, "tools/list")
        for (const tool of tools) {
          expect(tool.inputSchema["type"], tool.name).toBe("object")
          if (tool.outputSchema !== undefined) expect(tool.outputSchema["type"], tool.name).toBe("object")
        }
        // An identified struct is inlined (it is not recursive), so the root is the object itself.
        expect(tools.find((t) => t.name === "point")?.inputSchema).toMatchObject({
          type: "object",
          properties: { x: { type: "number" } },
          required: ["x"]
        })
      }).pipe(Effect.provide(SessionRegistry.layer().pipe(Layer.provideMerge(Shapes))))
    })

    it.scoped("echo and add (structuredContent)", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        expect(yield* client.callTool("echo", { text: "hello" })).toEqual({
          content: [{ type: "text", text: "hello" }]
        })
        expect(yield* client.callTool("add", { a: 2, b: 40.5 })).toEqual({
          content: [{ type: "text", text: "42.5" }],
          structuredContent: { sum: 42.5 }
        })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("-32602: tools/call without a name, with a non-object arguments, or an unknown tool", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        expect((yield* client.error("tools/call", { arguments: { text: "x" } })).code).toBe(-32602)
        expect((yield* client.error("tools/call")).code).toBe(-32602)
        expect((yield* client.error("tools/call", { name: "echo", arguments: "text" })).code).toBe(-32602)
        const unknown = yield* client.error("tools/call", { name: "nope", arguments: {} })
        expect(unknown).toEqual({ code: -32602, message: "Unknown tool: nope" })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("invalid arguments: a tool error from 2025-11-25 on (SEP-1303)", () =>
      Effect.gen(function*() {
        const client = yield* connected("2025-11-25")
        const result = yield* client.callTool("add", { a: "two", b: 2 })
        expect(result.isError).toBe(true)
        expect(textOf(result)).toMatch(/^Invalid arguments for tool add: /)
        expect(textOf(result)).toContain("a")
        expect(result.structuredContent).toBeUndefined()
        // Missing arguments altogether are invalid arguments too.
        expect((yield* client.callTool("echo", undefined)).isError).toBe(true)
      }).pipe(Effect.provide(TestLive)))

    it.scoped("invalid arguments: -32602 before 2025-11-25", () =>
      Effect.gen(function*() {
        for (const version of ["2025-06-18", "2025-03-26", "2024-11-05"]) {
          const client = yield* connected(version)
          const error = yield* client.error("tools/call", { name: "add", arguments: { a: "two", b: 2 } })
          expect(error.code).toBe(-32602)
          expect(error.message).toMatch(/^Invalid arguments for tool add: /)
        }
      }).pipe(Effect.provide(TestLive)))

    it.scoped("a typed failure is a tool error with its message; a JsonRpcError is a protocol error", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const failed = yield* client.callTool("lookup", { key: "question" })
        expect(failed).toEqual({ content: [{ type: "text", text: "no entry for question" }], isError: true })
        expect(yield* client.error("tools/call", { name: "refuse", arguments: {} })).toEqual({
          code: -32001,
          message: "refused on purpose"
        })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("a defect is a tool error without its details, and is logged", () => {
      const logs = capture()
      return Effect.gen(function*() {
        const client = yield* connected()
        const result = yield* client.callTool("explode", {})
        expect(result.isError).toBe(true)
        expect(textOf(result)).toBe("Tool explode failed with an internal error")
        expect(JSON.stringify(result)).not.toContain("hunter2")
        const problems = logs.problems()
        expect(problems.length).toBe(1)
        expect(problems[0]!.message).toContain("explode")
        // The session is still usable.
        expect(textOf(yield* client.callTool("echo", { text: "still here" }))).toBe("still here")
      }).pipe(Effect.provide(TestLive), Effect.provide(logs.layer))
    })

    it.scoped("a handler's user service shows in its layer type and works when provided", () =>
      Effect.gen(function*() {
        // The requirement is in the type: the layer cannot be launched until Database is provided.
        expectTypeOf(Lookup).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer | Database>>()
        // CurrentSession is provided by the server per call, so it never shows.
        expectTypeOf(DemoServer.Sleep).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer>>()
        expectTypeOf(Lookup.pipe(Layer.provide(DatabaseLive))).toEqualTypeOf<
          Layer.Layer<never, never, McpServer.McpServer>
        >()
        // @ts-expect-error Database is missing
        const _unprovided: Layer.Layer<never, never, McpServer.McpServer> = Lookup
        void _unprovided

        const client = yield* connected()
        expect(yield* client.callTool("lookup", { key: "answer" })).toEqual({ content: [{ type: "text", text: "42" }] })
      }).pipe(Effect.provide(TestLive)))
  })

  describe("resources", () => {
    it.scoped("list, templates/list, read static and templated", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const { resources } = yield* client.result(McpSchema.ListResourcesResult, "resources/list")
        expect(resources).toEqual([{
          uri: "demo://readme",
          name: "readme",
          title: "About this server",
          mimeType: "text/markdown"
        }])
        const { resourceTemplates } = yield* client.result(
          McpSchema.ListResourceTemplatesResult,
          "resources/templates/list"
        )
        expect(resourceTemplates).toEqual([{
          uriTemplate: "demo://greetings/{name}",
          name: "greeting",
          mimeType: "text/plain"
        }])
        const readme = yield* client.result(McpSchema.ReadResourceResult, "resources/read", { uri: "demo://readme" })
        expect(readme.contents).toEqual([{
          uri: "demo://readme",
          mimeType: "text/markdown",
          text: "# effect-mcp demo\n\nTools: `echo`, `add`, `sleep`.\n"
        }])
        const greeting = yield* client.result(McpSchema.ReadResourceResult, "resources/read", {
          uri: "demo://greetings/Ada%20Lovelace"
        })
        expect(greeting.contents).toEqual([{
          uri: "demo://greetings/Ada%20Lovelace",
          mimeType: "text/plain",
          text: "Hello, Ada Lovelace!"
        }])
      }).pipe(Effect.provide(TestLive)))

    it.scoped("an unknown resource is -32002 with the uri; bad params are -32602", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        for (const uri of ["demo://nope", "demo://greetings/", "demo://greetings/a/b", "demo://readme/"]) {
          expect(yield* client.error("resources/read", { uri })).toEqual({
            code: -32002,
            message: `Resource not found: ${uri}`,
            data: { uri }
          })
        }
        expect((yield* client.error("resources/read", {})).code).toBe(-32602)
      }).pipe(Effect.provide(TestLive)))
  })

  describe("prompts", () => {
    it.scoped("prompts/list shows the arguments with required and descriptions", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const listed = yield* client.send("prompts/list")
        expect(listed).toEqual({
          _tag: "Result",
          result: {
            prompts: [{
              name: "review",
              description: "Asks for a code review",
              arguments: [
                { name: "code", required: true, description: "The code to review" },
                { name: "focus", required: false, description: "What to look at first" }
              ]
            }]
          }
        })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("prompts/get with and without the optional argument", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const plain = yield* client.result(McpSchema.GetPromptResult, "prompts/get", {
          name: "review",
          arguments: { code: "let x = 1" }
        })
        expect(plain).toEqual({
          description: "Asks for a code review",
          messages: [{ role: "user", content: { type: "text", text: "Please review this code:\n\nlet x = 1" } }]
        })
        const focused = yield* client.result(McpSchema.GetPromptResult, "prompts/get", {
          name: "review",
          arguments: { code: "let x = 1", focus: "naming" }
        })
        const content = focused.messages[0]?.content
        expect(content?.type === "text" ? content.text : undefined).toBe(
          "Please review this code, focusing on naming:\n\nlet x = 1"
        )
      }).pipe(Effect.provide(TestLive)))

    it.scoped("prompts/get: -32602 for a missing required argument, an unknown prompt, or no name", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const missing = yield* client.error("prompts/get", { name: "review", arguments: { focus: "x" } })
        expect(missing.code).toBe(-32602)
        expect(missing.message).toContain("code")
        expect((yield* client.error("prompts/get", { name: "review" })).code).toBe(-32602)
        expect(yield* client.error("prompts/get", { name: "nope" })).toEqual({
          code: -32602,
          message: "Unknown prompt: nope"
        })
        expect((yield* client.error("prompts/get", {})).code).toBe(-32602)
        // Prompt arguments are strings on the wire.
        expect((yield* client.error("prompts/get", { name: "review", arguments: { code: 1 } })).code).toBe(-32602)
      }).pipe(Effect.provide(TestLive)))
  })

  describe("completion/complete", () => {
    it.scoped("completes a template variable; unknown refs are -32602; unknown arguments complete to nothing", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const ref = { type: "ref/resource", uri: "demo://greetings/{name}" }
        const a = yield* client.result(McpSchema.CompleteResult, "completion/complete", {
          ref,
          argument: { name: "name", value: "a" }
        })
        expect(a).toEqual({ completion: { values: ["Ada", "Alan"], total: 2, hasMore: false } })
        const g = yield* client.result(McpSchema.CompleteResult, "completion/complete", {
          ref,
          argument: { name: "name", value: "GR" },
          context: { arguments: {} }
        })
        expect(g.completion.values).toEqual(["Grace"])
        const none = yield* client.result(McpSchema.CompleteResult, "completion/complete", {
          ref,
          argument: { name: "other", value: "" }
        })
        expect(none).toEqual({ completion: { values: [], total: 0, hasMore: false } })
        expect(
          (yield* client.error("completion/complete", {
            ref: { type: "ref/resource", uri: "demo://nope/{x}" },
            argument: { name: "x", value: "" }
          })).code
        ).toBe(-32602)
        // The prompt exists but has no completers.
        const prompt = yield* client.result(McpSchema.CompleteResult, "completion/complete", {
          ref: { type: "ref/prompt", name: "review" },
          argument: { name: "code", value: "" }
        })
        expect(prompt.completion.values).toEqual([])
        expect(
          (yield* client.error("completion/complete", {
            ref: { type: "ref/prompt", name: "nope" },
            argument: { name: "x", value: "" }
          })).code
        ).toBe(-32602)
        expect((yield* client.error("completion/complete", { ref })).code).toBe(-32602)
      }).pipe(Effect.provide(TestLive)))
  })

  describe("logging", () => {
    it.scoped("logging/setLevel filters CurrentSession.log", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const logged = () =>
          notificationsOf(client.sent, "notifications/message").map((n) => {
            const params = Schema.decodeUnknownSync(
              Schema.Struct({ level: McpSchema.LoggingLevel, logger: Schema.String, data: Schema.Unknown })
            )(n.params)
            expect(params.logger).toBe("chatty")
            expect(params.data).toEqual({ level: params.level })
            return params.level
          })
        yield* client.callTool("chatty", {})
        expect(logged()).toEqual(levels)

        client.sent.length = 0
        expect(yield* client.send("logging/setLevel", { level: "warning" })).toEqual({ _tag: "Result", result: {} })
        yield* client.callTool("chatty", {})
        expect(logged()).toEqual(["warning", "error", "emergency"])

        client.sent.length = 0
        yield* client.send("logging/setLevel", { level: "emergency" })
        yield* client.callTool("chatty", {})
        expect(logged()).toEqual(["emergency"])

        client.sent.length = 0
        yield* client.send("logging/setLevel", { level: "debug" })
        yield* client.callTool("chatty", {})
        expect(logged()).toEqual(levels)

        expect((yield* client.error("logging/setLevel", { level: "loud" })).code).toBe(-32602)
        expect((yield* client.error("logging/setLevel", {})).code).toBe(-32602)
      }).pipe(Effect.provide(TestLive)))

    it.scoped("logging/setLevel applies to requests already in flight", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const call = yield* Effect.fork(client.callTool("ticker", {}))
        yield* TestClock.adjust("10 millis")
        expect(notificationsOf(client.sent, "notifications/message").length).toBe(1)
        yield* client.send("logging/setLevel", { level: "error" })
        yield* TestClock.adjust("1 second")
        expect(textOf(yield* Fiber.join(call))).toBe("ticked")
        expect(notificationsOf(client.sent, "notifications/message").length).toBe(1)
      }).pipe(Effect.provide(TestLive)))
  })

  describe("progress and cancellation", () => {
    it.scoped("progress notifications go to the sink when the request has a progress token", () =>
      Effect.gen(function*() {
        const client = yield* connected()
        const call = yield* Effect.fork(client.callTool("sleep", { ms: 5000 }, { progressToken: "p-1" }))
        yield* TestClock.adjust("10 millis")
        expect(notificationsOf(client.sent, "notifications/progress").map((n) => n.params)).toEqual([
          { progressToken: "p-1", progress: 0, total: 5000 }
        ])
        yield* TestClock.adjust("5 seconds")
        expect(textOf(yield* Fiber.join(call))).toBe("slept 5000 ms")
        expect(notificationsOf(client.sent, "notifications/progress").map((n) => n.params)).toEqual([
          { progressToken: "p-1", progress: 0, total: 5000 },
          { progressToken: "p-1", progress: 5000, total: 5000 }
        ])

        // A numeric token works too; without a token there is no progress at all.
        client.sent.length = 0
        const numeric = yield* Effect.fork(client.callTool("sleep", { ms: 10 }, { progressToken: 7 }))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.join(numeric)
        expect(notificationsOf(client.sent, "notifications/progress").map((n) => n.params)).toEqual([
          { progressToken: 7, progress: 0, total: 10 },
          { progressToken: 7, progress: 10, total: 10 }
        ])
        client.sent.length = 0
        const silent = yield* Effect.fork(client.callTool("sleep", { ms: 10 }))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.join(silent)
        expect(client.sent).toEqual([])
      }).pipe(Effect.provide(TestLive)))

    it.scoped("notifications/cancelled interrupts the in-flight tool and no response is produced", () => {
      const logs = capture()
      return Effect.gen(function*() {
        const client = yield* connected()
        const { session } = client
        const responses = yield* Queue.unbounded<JsonRpc.Message>()
        const respond = (message: JsonRpc.Message) => Queue.unsafeOffer(responses, message)
        const cancel = (params: unknown) =>
          Effect.sync(() => session.offer(JsonRpc.notification("notifications/cancelled", params), respond))
        // What a transport does: hand the request to the session, which registers it under its id.
        const run = (id: JsonRpc.RequestId, ms: number) =>
          Effect.async<boolean>((resume) => {
            const request = JsonRpc.request(id, "tools/call", {
              name: "sleep",
              arguments: { ms },
              _meta: { progressToken: `t-${id}` }
            })
            let answered = false
            const reply = (message: JsonRpc.Message) => {
              if (JsonRpc.isResponse(message)) answered = true
              return respond(message)
            }
            if (!session.offer(request, reply, () => resume(Effect.succeed(answered)))) {
              resume(Effect.die(new Error("session refused the request")))
            }
          })
        const cancelled = yield* Effect.fork(run("slow", 60_000))
        const other = yield* Effect.fork(run(2, 60_000))
        yield* TestClock.adjust("10 millis")
        // Each started: its first progress notification went out.
        expect((yield* Queue.takeAll(responses)).length).toBe(2)
        expect(session.inFlight).toBe(2)
        expect(session.busy).toBe(2)

        yield* cancel({ requestId: "slow", reason: "user gave up" })
        // Settled without an answer: the handler was interrupted.
        expect(yield* Fiber.join(cancelled)).toBe(false)
        expect(session.inFlight).toBe(1)
        expect(session.busy).toBe(1)

        // Cancelling an unknown or finished request, or with bad params, is ignored.
        yield* cancel({ requestId: "slow" })
        yield* cancel({ requestId: 99 })
        yield* cancel({})

        yield* TestClock.adjust("60 seconds")
        const result = yield* Fiber.join(other)
        expect(result).toBe(true)
        const after = yield* Queue.takeAll(responses)
        // Only the other request's final progress and its response: nothing at all for the cancelled one.
        const messages = Array.from(after)
        expect(messages.filter(JsonRpc.isResponse).map((r) => r.id)).toEqual([2])
        expect(JSON.stringify(messages)).not.toContain("slow")
        expect(session.busy).toBe(0)
        expect(logs.problems()).toEqual([])
      }).pipe(Effect.provide(TestLive), Effect.provide(logs.layer))
    })
  })

  describe("metadata", () => {
    const icons: ReadonlyArray<McpSchema.Icon> = [
      { src: "https://example.com/icon.png", mimeType: "image/png", sizes: ["48x48"], theme: "light" },
      { src: "data:image/svg+xml;base64,PHN2Zy8+", mimeType: "image/svg+xml", sizes: ["any"] }
    ]
    const annotations: McpSchema.Annotations = {
      audience: ["user", "assistant"],
      priority: 0.5,
      lastModified: "2025-01-12T15:00:58Z"
    }

    const MetaServer = Layer.mergeAll(
      McpTool.make("annotated", {
        title: "An annotated tool",
        description: "Shows every listing field",
        icons,
        annotations: { title: "Annotated", readOnlyHint: true, openWorldHint: false },
        _meta: { "example.com/tier": "free" },
        input: Schema.Struct({}),
        handler: () => Effect.succeed({ content: [McpTool.text("ok")], _meta: { "example.com/cost": 1 } })
      }),
      McpResource.make({
        uri: "meta://file",
        name: "file",
        title: "A file",
        description: "Five bytes",
        mimeType: "text/plain",
        size: 5,
        icons,
        annotations,
        _meta: { "example.com/owner": "ada" },
        read: Effect.succeed({ contents: [{ uri: "meta://file", text: "hello" }], _meta: { "example.com/etag": "1" } })
      }),
      McpResource.template({
        uriTemplate: "meta://files/{name}",
        name: "files",
        title: "Files by name",
        icons,
        annotations,
        _meta: { "example.com/kind": "file" },
        params: Schema.Struct({ name: Schema.String }),
        read: ({ name }) => Effect.succeed(name)
      }),
      McpPrompt.make("greet", {
        title: "Greeting",
        icons,
        _meta: { "example.com/lang": "en" },
        args: Schema.Struct({}),
        handler: () => Effect.succeed({ messages: [McpPrompt.user("Hello")], _meta: { "example.com/version": 2 } })
      })
    ).pipe(Layer.provideMerge(McpServer.layer({
      name: "meta",
      version: "1.2.3",
      title: "Metadata server",
      description: "Every field the spec has",
      websiteUrl: "https://example.com",
      icons
    })))

    it.scopedLive("listings, results and serverInfo round-trip through the official SDK client", () =>
      Effect.gen(function*() {
        const client = yield* sdkClient(yield* serveHttp(MetaServer))
        const seen = yield* Effect.promise(async () => ({
          server: client.getServerVersion(),
          tools: await client.listTools(),
          call: await client.callTool({ name: "annotated", arguments: {} }),
          resources: await client.listResources(),
          read: await client.readResource({ uri: "meta://file" }),
          templates: await client.listResourceTemplates(),
          prompts: await client.listPrompts(),
          prompt: await client.getPrompt({ name: "greet" })
        }))
        expect(seen.server).toEqual({
          name: "meta",
          version: "1.2.3",
          title: "Metadata server",
          description: "Every field the spec has",
          websiteUrl: "https://example.com",
          icons
        })
        expect(seen.tools.tools).toEqual([{
          name: "annotated",
          title: "An annotated tool",
          description: "Shows every listing field",
          icons,
          inputSchema: { ...Dialect2020, type: "object", properties: {}, required: [], additionalProperties: false },
          annotations: { title: "Annotated", readOnlyHint: true, openWorldHint: false },
          _meta: { "example.com/tier": "free" }
        }])
        expect(seen.call._meta).toEqual({ "example.com/cost": 1 })
        expect(seen.resources.resources).toEqual([{
          uri: "meta://file",
          name: "file",
          title: "A file",
          description: "Five bytes",
          mimeType: "text/plain",
          size: 5,
          icons,
          annotations,
          _meta: { "example.com/owner": "ada" }
        }])
        expect(seen.read).toEqual({
          contents: [{ uri: "meta://file", text: "hello" }],
          _meta: { "example.com/etag": "1" }
        })
        expect(seen.templates.resourceTemplates).toEqual([{
          uriTemplate: "meta://files/{name}",
          name: "files",
          title: "Files by name",
          icons,
          annotations,
          _meta: { "example.com/kind": "file" }
        }])
        expect(seen.prompts.prompts).toEqual([{ name: "greet", title: "Greeting", icons, _meta: { "example.com/lang": "en" } }])
        expect(seen.prompt).toEqual({
          messages: [{ role: "user", content: { type: "text", text: "Hello" } }],
          _meta: { "example.com/version": 2 }
        })
      }))

    it.effect("the library's own client decodes the same fields", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        expect((yield* client.serverInfo).icons).toEqual(icons)
        const [tool] = (yield* client.listTools()).tools
        expect(tool).toMatchObject({ icons, _meta: { "example.com/tier": "free" } })
        const [resource] = (yield* client.listResources()).resources
        expect(resource).toMatchObject({ size: 5, icons, annotations })
        expect((yield* client.readResource("meta://file"))._meta).toEqual({ "example.com/etag": "1" })
        expect((yield* client.getPrompt("greet"))._meta).toEqual({ "example.com/version": 2 })
      }).pipe(Effect.scoped, Effect.provide(MetaServer)))
  })

  describe("pagination", () => {
    // Registered out of order: listings are sorted by name (resources by URI, templates by URI template).
    const names = ["delta", "alpha", "echo", "charlie", "bravo"]
    const tool = (name: string) => McpTool.make(name, { input: Schema.Struct({}), handler: () => Effect.succeed(name) })
    const [firstName, ...otherNames] = names.map((name) =>
      Layer.mergeAll(
        tool(name),
        McpResource.make({ uri: `paged://${name}`, name, read: Effect.succeed(name) }),
        McpResource.template({
          uriTemplate: `paged://${name}/{id}`,
          name,
          params: Schema.Struct({ id: Schema.String }),
          read: ({ id }) => Effect.succeed(id)
        }),
        McpPrompt.make(name, { args: Schema.Struct({}), handler: () => Effect.succeed(name) })
      )
    )
    const PagedServer = Layer.mergeAll(firstName!, ...otherNames).pipe(
      Layer.provideMerge(McpServer.layer({ name: "paged", version: "1.0.0", pageSize: 2 }))
    )
    const sorted = [...names].sort()
    const inPages = [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]

    /** The names on each page, following `nextCursor` from the first page. */
    const pagesOf = <R extends { readonly nextCursor?: string | undefined }>(
      list: (options: McpClient.ListOptions) => Effect.Effect<R, McpClient.McpClientError>,
      namesOf: (result: R) => ReadonlyArray<string>
    ) =>
      Effect.gen(function*() {
        const pages: Array<ReadonlyArray<string>> = []
        let cursor: string | undefined = undefined
        do {
          const result: R = yield* list({ cursor })
          pages.push(namesOf(result))
          cursor = result.nextCursor
        } while (cursor !== undefined)
        return pages
      })

    it.effect("pages of 2 over 5 of each: sorted, nextCursor until the last page, listAll follows them", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        expect(yield* pagesOf(client.listTools, (r) => r.tools.map((t) => t.name))).toEqual(inPages)
        expect(yield* pagesOf(client.listResources, (r) => r.resources.map((t) => t.name))).toEqual(inPages)
        expect(yield* pagesOf(client.listResourceTemplates, (r) => r.resourceTemplates.map((t) => t.name))).toEqual(
          inPages
        )
        expect(yield* pagesOf(client.listPrompts, (r) => r.prompts.map((t) => t.name))).toEqual(inPages)
        expect((yield* client.listAllTools).map((t) => t.name)).toEqual(sorted)
        expect((yield* client.listAllResources).map((r) => r.uri)).toEqual(sorted.map((name) => `paged://${name}`))
        expect((yield* client.listAllResourceTemplates).map((t) => t.uriTemplate)).toEqual(
          sorted.map((name) => `paged://${name}/{id}`)
        )
        expect((yield* client.listAllPrompts).map((p) => p.name)).toEqual(sorted)
        // The same page for the same cursor.
        const { nextCursor } = yield* client.listTools()
        expect(yield* client.listTools({ cursor: nextCursor })).toEqual(yield* client.listTools({ cursor: nextCursor }))
      }).pipe(Effect.scoped, Effect.provide(PagedServer)))

    it.effect("everything on one page has no nextCursor", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        const listed = yield* client.listTools()
        expect(listed.nextCursor).toBeUndefined()
        expect(listed.tools.map((t) => t.name)).toEqual(["add", "confirm", "echo", "roots", "sleep", "summarize"])
      }).pipe(Effect.scoped, Effect.provide(DemoServer.layer)))

    it.effect("a cursor stays valid when tools register between pages: nothing is listed twice", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        const server = yield* McpServer.McpServer
        const first = yield* client.listTools()
        expect(first.tools.map((t) => t.name)).toEqual(["alpha", "bravo"])
        // One sorts before the cursor's position (this pass misses it), one after (the next page has it).
        yield* Layer.build(Layer.mergeAll(tool("aardvark"), tool("bravo-2"))).pipe(
          Effect.provideService(McpServer.McpServer, server)
        )
        const rest = yield* pagesOf(
          (options) => client.listTools({ cursor: options.cursor ?? first.nextCursor }),
          (r) => r.tools.map((t) => t.name)
        )
        expect(rest).toEqual([["bravo-2", "charlie"], ["delta", "echo"]])
        expect((yield* client.listAllTools).map((t) => t.name)).toEqual(["aardvark", "alpha", "bravo", "bravo-2", ...inPages[1]!, "echo"])
      }).pipe(Effect.scoped, Effect.provide(PagedServer)))

    it.effect("a cursor that is not base64url JSON, another listing's, or malformed is -32602", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        const toolsCursor = (yield* client.listTools()).nextCursor!
        const base64url = (text: string) => Buffer.from(text).toString("base64url")
        const bad = [
          "not a cursor!",
          base64url("not json"),
          base64url(JSON.stringify({ list: "tools" })),
          base64url(JSON.stringify(["tools", "alpha"])),
          `${toolsCursor.slice(0, -2)}!!`
        ]
        for (const cursor of bad) {
          const error = yield* Effect.flip(client.listTools({ cursor }))
          expect(error).toMatchObject({ reason: "RpcError", code: JsonRpc.ErrorCode.InvalidParams })
          expect(error.message).toMatch(/^Invalid cursor/)
        }
        const others: ReadonlyArray<Effect.Effect<unknown, McpClient.McpClientError>> = [
          client.listPrompts({ cursor: toolsCursor }),
          client.listResources({ cursor: toolsCursor }),
          client.listResourceTemplates({ cursor: toolsCursor })
        ]
        for (const list of others) {
          expect(yield* Effect.flip(list)).toMatchObject({ code: JsonRpc.ErrorCode.InvalidParams })
        }
        // A well-formed position past the end is simply the end.
        expect(yield* client.listTools({ cursor: base64url(JSON.stringify({ list: "tools", after: "zulu" })) })).toEqual({
          tools: []
        })
      }).pipe(Effect.scoped, Effect.provide(PagedServer)))

    it.effect("a page size that is not a positive integer is refused when the server is built", () =>
      Effect.gen(function*() {
        for (const pageSize of [0, -1, 1.5, Number.NaN]) {
          const exit = yield* Effect.exit(Layer.build(McpServer.layer({ name: "x", version: "1", pageSize })).pipe(Effect.scoped))
          expect(exit._tag).toBe("Failure")
        }
      }))

    it.scopedLive("the official SDK client pages with { cursor } over Streamable HTTP, and a bad cursor is -32602", () =>
      Effect.gen(function*() {
        const client = yield* sdkClient(yield* serveHttp(PagedServer))
        const pages = yield* Effect.promise(async () => {
          const follow = async <R extends { nextCursor?: string | undefined }>(
            list: (params: { cursor?: string }) => Promise<R>,
            namesOf: (result: R) => Array<string>
          ) => {
            const out: Array<Array<string>> = []
            let cursor: string | undefined
            do {
              const result = await list(cursor === undefined ? {} : { cursor })
              out.push(namesOf(result))
              cursor = result.nextCursor
            } while (cursor !== undefined)
            return out
          }
          return {
            tools: await follow((p) => client.listTools(p), (r) => r.tools.map((t) => t.name)),
            resources: await follow((p) => client.listResources(p), (r) => r.resources.map((t) => t.name)),
            templates: await follow((p) => client.listResourceTemplates(p), (r) => r.resourceTemplates.map((t) => t.name)),
            prompts: await follow((p) => client.listPrompts(p), (r) => r.prompts.map((t) => t.name)),
            bad: await client.listTools({ cursor: "not a cursor!" }).then(
              () => undefined,
              (error: unknown) => error
            )
          }
        })
        expect(pages.tools).toEqual(inPages)
        expect(pages.resources).toEqual(inPages)
        expect(pages.templates).toEqual(inPages)
        expect(pages.prompts).toEqual(inPages)
        expect(pages.bad).toMatchObject({ code: JsonRpc.ErrorCode.InvalidParams })
      }))
  })

  describe("changes", () => {
    const Extra = Layer.mergeAll(
      McpTool.make("extra", { input: Schema.Struct({}), handler: () => Effect.succeed("extra") }),
      McpResource.make({ uri: "extra://one", name: "one", read: Effect.succeed("one") }),
      McpResource.template({
        uriTemplate: "extra://items/{id}",
        name: "item",
        params: Schema.Struct({ id: Schema.String }),
        read: ({ id }) => Effect.succeed(id)
      }),
      McpPrompt.make("extra", { args: Schema.Struct({}), handler: () => Effect.succeed("extra") })
    )

    /** A connected session whose writer (the session's own stream) records into `sent`. */
    const listening = (initialize: boolean) =>
      Effect.tap(initialize ? connected() : connect, (client) =>
        Effect.sync(() => {
          client.session.setWriter(client.sink)
          client.sent.length = 0
        }))

    const methodsOf = (sent: ReadonlyArray<JsonRpc.Message>) =>
      sent.filter(JsonRpc.isNotification).map((n) => n.method)

    it.scoped("a layer's tools, resources, templates and prompts come and go with it; initialized sessions hear of it", () =>
      Effect.gen(function*() {
        const a = yield* listening(true)
        const b = yield* listening(false)
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(Extra, scope)
        expect(methodsOf(a.sent).sort()).toEqual([
          "notifications/prompts/list_changed",
          "notifications/resources/list_changed",
          "notifications/resources/list_changed",
          "notifications/tools/list_changed"
        ])
        expect(b.sent).toEqual([])
        const listed = (yield* a.result(McpSchema.ListToolsResult, "tools/list")).tools.find((t) => t.name === "extra")
        // An input of `Struct({})` is still an object schema, as clients require.
        expect(listed?.inputSchema).toEqual({
          ...Dialect2020,
          type: "object",
          properties: {},
          required: [],
          additionalProperties: false
        })
        expect(textOf(yield* a.callTool("extra", {}))).toBe("extra")
        expect(yield* a.result(McpSchema.ReadResourceResult, "resources/read", { uri: "extra://items/7" })).toEqual({
          contents: [{ uri: "extra://items/7", text: "7" }]
        })

        a.sent.length = 0
        yield* Scope.close(scope, Exit.void)
        expect(methodsOf(a.sent).sort()).toEqual([
          "notifications/prompts/list_changed",
          "notifications/resources/list_changed",
          "notifications/resources/list_changed",
          "notifications/tools/list_changed"
        ])
        expect(b.sent).toEqual([])
        expect((yield* a.result(McpSchema.ListToolsResult, "tools/list")).tools.map((t) => t.name)).not.toContain("extra")
        expect((yield* a.error("tools/call", { name: "extra", arguments: {} })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
        expect((yield* a.error("resources/read", { uri: "extra://one" })).code).toBe(JsonRpc.ErrorCode.ResourceNotFound)
        expect((yield* a.error("resources/read", { uri: "extra://items/7" })).code).toBe(JsonRpc.ErrorCode.ResourceNotFound)
        expect((yield* a.error("prompts/get", { name: "extra" })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
      }).pipe(Effect.provide(TestLive)))

    it.scoped("McpServer's remove operations: one notification per change, none for what is not there", () =>
      Effect.gen(function*() {
        const a = yield* listening(true)
        const server = yield* McpServer.McpServer
        yield* server.removeTool("echo")
        yield* server.removeTool("echo")
        yield* server.removePrompt("nope")
        yield* server.removeResource("demo://readme")
        yield* server.removeResourceTemplate("demo://greetings/{name}")
        expect(methodsOf(a.sent)).toEqual([
          "notifications/tools/list_changed",
          "notifications/resources/list_changed",
          "notifications/resources/list_changed"
        ])
        expect((yield* a.result(McpSchema.ListToolsResult, "tools/list")).tools.map((t) => t.name)).not.toContain("echo")
        expect(yield* a.result(McpSchema.ListResourceTemplatesResult, "resources/templates/list")).toEqual({
          resourceTemplates: []
        })
      }).pipe(Effect.provide(TestLive)))

    it.scoped("resources/subscribe: updates reach exactly the subscribers, until they unsubscribe", () =>
      Effect.gen(function*() {
        const server = yield* McpServer.McpServer
        const a = yield* listening(true)
        const b = yield* listening(true)
        expect(yield* a.send("resources/subscribe", { uri: "demo://readme" })).toEqual({ _tag: "Result", result: {} })
        expect(yield* a.send("resources/subscribe", { uri: "demo://greetings/Ada" })).toEqual({ _tag: "Result", result: {} })
        expect(yield* b.send("resources/subscribe", { uri: "demo://greetings/Ada" })).toEqual({ _tag: "Result", result: {} })
        expect(a.session.subscriptions).toEqual(new Set(["demo://readme", "demo://greetings/Ada"]))
        const unknown = yield* a.error("resources/subscribe", { uri: "demo://nope" })
        expect(unknown).toMatchObject({ code: JsonRpc.ErrorCode.ResourceNotFound, data: { uri: "demo://nope" } })
        expect((yield* a.error("resources/subscribe", {})).code).toBe(JsonRpc.ErrorCode.InvalidParams)

        yield* server.notifyResourceUpdated("demo://readme")
        yield* server.notifyResourceUpdated("demo://greetings/Ada")
        yield* server.notifyResourceUpdated("demo://greetings/Alan")
        const updated = (sent: ReadonlyArray<JsonRpc.Message>) =>
          notificationsOf(sent, "notifications/resources/updated").map((n) => n.params)
        expect(updated(a.sent)).toEqual([{ uri: "demo://readme" }, { uri: "demo://greetings/Ada" }])
        expect(updated(b.sent)).toEqual([{ uri: "demo://greetings/Ada" }])

        expect(yield* a.send("resources/unsubscribe", { uri: "demo://readme" })).toEqual({ _tag: "Result", result: {} })
        // Unsubscribing from what one is not subscribed to is not an error.
        expect(yield* b.send("resources/unsubscribe", { uri: "demo://readme" })).toEqual({ _tag: "Result", result: {} })
        a.sent.length = 0
        yield* server.notifyResourceUpdated("demo://readme")
        expect(updated(a.sent)).toEqual([])
      }).pipe(Effect.provide(TestLive)))

    it.scoped("a subscription ends with its session", () =>
      Effect.gen(function*() {
        const server = yield* McpServer.McpServer
        const registry = yield* SessionRegistry.SessionRegistry
        const a = yield* listening(true)
        const b = yield* listening(true)
        yield* a.send("resources/subscribe", { uri: "demo://readme" })
        yield* b.send("resources/subscribe", { uri: "demo://readme" })
        yield* a.session.close
        expect(a.session.subscriptions.size).toBe(0)
        expect(yield* registry.size).toBe(1)
        yield* server.notifyResourceUpdated("demo://readme")
        expect(notificationsOf(b.sent, "notifications/resources/updated")).toHaveLength(1)
        expect(notificationsOf(a.sent, "notifications/resources/updated")).toHaveLength(0)
      }).pipe(Effect.provide(TestLive)))
  })
})
