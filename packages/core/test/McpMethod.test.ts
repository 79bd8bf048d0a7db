import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Decode from "../src/internal/client/decode.js"
import type * as Dispatch from "../src/internal/server/dispatch.js"
import * as Handlers from "../src/internal/server/handlers.js"
import { Registry } from "../src/internal/server/registry.js"
import * as Tasks from "../src/internal/server/tasks.js"
import * as McpClient from "../src/McpClient.js"
import type { McpClientError } from "../src/McpClientError.js"
import * as McpMethod from "../src/McpMethod.js"
import * as McpPrompt from "../src/McpPrompt.js"
import * as McpResource from "../src/McpResource.js"
import * as McpRevision from "../src/McpRevision.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTest from "../src/McpTest.js"
import * as McpTool from "../src/McpTool.js"

const names = Object.keys(McpMethod.table).filter(McpMethod.isName)
const sorted = (values: Iterable<string>) => [...values].sort()

/** The server's handler table, as `McpServer` builds it. */
const serverHandlers = Effect.map(
  Tasks.makeStore(Tasks.settingsOf(undefined), () => {}),
  (store) =>
    Handlers.make({
      registry: new Registry(100, () => {}),
      store,
      info: { name: "test", version: "0" },
      instructions: undefined
    })
)

const Add = McpTool.make("add", {
  input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(String(a + b))
})
const Readme = McpResource.make({ uri: "file:///readme.txt", name: "readme", read: Effect.succeed("read me") })
const Greet = McpPrompt.make("greet", {
  args: Schema.Struct({ who: Schema.String }),
  handler: ({ who }) => Effect.succeed(`hello ${who}`)
})
const served = McpTest.layer(
  Layer.mergeAll(Add, Readme, Greet).pipe(Layer.provideMerge(McpServer.layer({ name: "methods", version: "1.0.0" })))
)

/**
 * How the client reaches each request the server serves, with the table's result type (`subscriptions/listen`,
 * not `send`'s, as the stream `listen` gives): a table of them missing one, or reaching one with another result
 * type, does not compile.
 */
type Reach = {
  readonly [M in McpMethod.ServerRequestName]: (
    client: McpClient.McpClientService
  ) => Effect.Effect<M extends McpClient.SendName ? McpMethod.Result<M> : unknown, McpClientError, Scope.Scope>
}

const reach: Reach = {
  "initialize": (client) => client.initializeResult,
  "ping": (client) => client.send("ping", undefined),
  "server/discover": (client) => client.discoverResult,
  "subscriptions/listen": (client) => client.listen({ toolsListChanged: true }),
  "tools/list": (client) => client.listTools(),
  "tools/call": (client) => client.callToolTask("add", { a: 1, b: 2 }),
  "tasks/get": (client) => client.tasks.get("t-1"),
  "tasks/update": (client) => client.send("tasks/update", { taskId: "t-1", inputResponses: {} }),
  "tasks/cancel": (client) => client.send("tasks/cancel", { taskId: "t-1" }),
  "resources/list": (client) => client.listResources(),
  "resources/templates/list": (client) => client.listResourceTemplates(),
  "resources/read": (client) => client.readResource("file:///readme.txt"),
  "resources/subscribe": (client) => client.send("resources/subscribe", { uri: "file:///readme.txt" }),
  "resources/unsubscribe": (client) => client.send("resources/unsubscribe", { uri: "file:///readme.txt" }),
  "skills/list": (client) => client.send("skills/list", undefined),
  "skills/get": (client) => client.send("skills/get", { uri: "skill://x/SKILL.md" }),
  "resources/directory/read": (client) => client.send("resources/directory/read", { uri: "skill://x/" }),
  "prompts/list": (client) => client.listPrompts(),
  "prompts/get": (client) => client.getPrompt("greet", { who: "ada" }),
  "logging/setLevel": (client) => client.send("logging/setLevel", { level: "info" }),
  "completion/complete": (client) =>
    client.complete({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "who", value: "a" } })
}

describe("McpMethod", () => {
  it("names each method by its key", () => {
    expect(names.length).toBe(Object.keys(McpMethod.table).length)
    for (const name of names) expect(McpMethod.table[name].name).toBe(name)
  })

  it.scoped("a server handler table or a client decoder table missing a method does not compile", () =>
    Effect.gen(function*() {
      const handlers: Dispatch.Handlers = yield* serverHandlers
      const { "completion/complete": complete, ...withoutComplete } = handlers
      // @ts-expect-error a server method without a handler does not compile
      const missingHandler: Dispatch.Handlers = withoutComplete
      const { "prompts/get": getPrompt, ...withoutGetPrompt } = Decode.decoders
      // @ts-expect-error a client call without a decoder does not compile
      const missingDecoder: Decode.Decoders = withoutGetPrompt
      expect(typeof complete).toBe("function")
      expect(typeof getPrompt).toBe("function")
      expect("completion/complete" in missingHandler).toBe(false)
      expect("prompts/get" in missingDecoder).toBe(false)
      // The tables as built hold exactly the methods the table gives each side.
      expect(sorted(Object.keys(handlers))).toEqual(sorted(names.filter(McpMethod.isDispatched)))
      expect(sorted(Object.keys(Decode.decoders))).toEqual(
        sorted(names.filter((name) => {
          const method = McpMethod.table[name]
          return method.kind === "request" && method.from !== "server"
        }))
      )
    }))

  it("derives each revision's removed requests and methods", () => {
    expect(McpRevision.all.map((revision) => [revision.version, sorted(revision.removedMethods)])).toEqual([
      ["2024-11-05", []],
      ["2025-03-26", []],
      ["2025-06-18", []],
      ["2025-11-25", []],
      ["2026-07-28", ["initialize", "logging/setLevel", "ping", "resources/subscribe", "resources/unsubscribe"]]
    ])
    const has = (version: string, name: string) => McpRevision.get(version)!.methods.has(name)
    for (const revision of McpRevision.sessionEra) {
      expect(has(revision.version, "initialize")).toBe(true)
      expect(has(revision.version, "server/discover")).toBe(false)
      expect(has(revision.version, "subscriptions/listen")).toBe(false)
      expect(has(revision.version, "notifications/roots/list_changed")).toBe(true)
    }
    expect(has("2026-07-28", "server/discover")).toBe(true)
    expect(has("2026-07-28", "subscriptions/listen")).toBe(true)
    expect(has("2026-07-28", "tools/call")).toBe(true)
    expect(has("2026-07-28", "notifications/roots/list_changed")).toBe(false)
    expect(has("2026-07-28", "initialize")).toBe(false)
  })

  it("derives the multi round-trip carriers, the cacheable results, the embeddable asks and Mcp-Name", () => {
    expect(sorted(McpMethod.carriers)).toEqual(["prompts/get", "resources/read", "tools/call"])
    expect(sorted(McpMethod.cacheable)).toEqual([
      "prompts/list",
      "resources/list",
      "resources/read",
      "resources/templates/list",
      "server/discover",
      // The skills extension's (SEP-2640): ListSkillsResult and GetSkillResult extend CacheableResult.
      "skills/get",
      "skills/list",
      "tools/list"
    ])
    expect(Object.fromEntries(McpMethod.inputKinds)).toEqual({
      "elicitation/create": "elicit",
      "roots/list": "roots",
      "sampling/createMessage": "sample"
    })
    expect(["tools/call", "prompts/get", "resources/read", "tasks/get", "tools/list", "nope"].map(McpMethod.routingName))
      .toEqual(["name", "name", "uri", "taskId", undefined, undefined])
  })

  it("tells the sides apart", () => {
    expect(McpMethod.isDispatched("tools/call")).toBe(true)
    expect(McpMethod.isDispatched("subscriptions/listen")).toBe(false)
    expect(McpMethod.isDispatched("sampling/createMessage")).toBe(false)
    expect(McpMethod.isClientRequest("ping")).toBe(true)
    expect(McpMethod.isClientRequest("elicitation/create")).toBe(true)
    expect(McpMethod.isClientRequest("tools/list")).toBe(false)
  })

  it.scoped("the dispatcher serves a revision's methods only, with params decoded by the table's schema", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const notFound = yield* Effect.flip(client.request("server/discover", undefined, Schema.Unknown))
      expect(notFound).toMatchObject({ reason: "RpcError", code: -32601 })
      const invalid = yield* Effect.flip(client.request("tools/call", { name: 42 }, Schema.Unknown))
      expect(invalid.code).toBe(-32602)
      expect(invalid.message).toMatch(/^Invalid params: /)
      yield* client.ping
      expect(yield* client.listTools()).toEqual({ tools: [] })
    }).pipe(Effect.provide(McpTest.layer(McpServer.layer({ name: "methods", version: "1.0.0" })))))

  it.scoped("the client's calls are typed by the table: send, and the named calls built on it", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      // @ts-expect-error params of another shape than the table's do not compile
      const misnamed = client.send("tools/call", { nam: "add" })
      // @ts-expect-error params the table requires cannot be left out
      const missing = client.send("resources/read", undefined)
      // @ts-expect-error a method outside the table is `request`'s, not `send`'s
      const unknown = client.send("tools/run", {})
      // @ts-expect-error `subscriptions/listen` is answered by a stream: `listen`, not `send`
      const streamed = client.send("subscriptions/listen", {})
      // @ts-expect-error a named call's params are the table's too
      const level = client.setLoggingLevel("loud")
      expect([misnamed, missing, unknown, streamed, level].every(Effect.isEffect)).toBe(true)

      // Every request the server serves is in `reach`; those this server has answer with the table's results.
      expect(sorted(Object.keys(reach))).toEqual(
        sorted(names.filter((name) => {
          const method = McpMethod.table[name]
          return method.kind === "request" && method.from !== "server"
        }))
      )
      expect(yield* reach["ping"](client)).toEqual({})
      expect(yield* reach["tools/call"](client)).toEqual({ content: [{ type: "text", text: "3" }] })
      expect(yield* client.send("tools/call", { name: "add", arguments: { a: 2, b: 3 } })).toEqual({
        content: [{ type: "text", text: "5" }]
      })
      expect((yield* reach["tools/list"](client)).tools.map((tool) => tool.name)).toEqual(["add"])
      expect(yield* client.send("tools/list", undefined)).toEqual(yield* client.listTools())
      expect((yield* reach["resources/read"](client)).contents).toEqual([
        { uri: "file:///readme.txt", text: "read me" }
      ])
      expect((yield* reach["prompts/get"](client)).messages).toEqual([
        { role: "user", content: { type: "text", text: "hello ada" } }
      ])
      expect((yield* reach["initialize"](client)).serverInfo).toEqual({ name: "methods", version: "1.0.0" })
      // One the server lacks is its error, not a result that fails to decode.
      expect(yield* Effect.flip(reach["tasks/get"](client))).toMatchObject({ reason: "RpcError" })
    }).pipe(Effect.provide(served)))
})
