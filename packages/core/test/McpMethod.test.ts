import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Decode from "../src/internal/client/decode.js"
import type * as Dispatch from "../src/internal/server/dispatch.js"
import * as Handlers from "../src/internal/server/handlers.js"
import { Registry } from "../src/internal/server/registry.js"
import * as Tasks from "../src/internal/server/tasks.js"
import * as McpClient from "../src/McpClient.js"
import * as McpMethod from "../src/McpMethod.js"
import * as McpRevision from "../src/McpRevision.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTest from "../src/McpTest.js"

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
})
