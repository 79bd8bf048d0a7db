import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as McpPrompt from "../src/McpPrompt.js"
import * as McpResource from "../src/McpResource.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTool from "../src/McpTool.js"
import * as McpVisibility from "../src/McpVisibility.js"
import { type Answer, eras, exchange, legacySession, person, resultOf, serverWith, textOf } from "./utils/sessions.js"

const admin = person("alice", ["admin"])
const bob = person("bob", ["read"])

const Echo = McpTool.make("echo", {
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

const Purge = McpTool.make("purge", {
  input: Schema.Struct({}),
  visible: McpVisibility.scopes("admin"),
  handler: () => Effect.succeed("purged")
})

const Secret = McpResource.make({
  uri: "file:///secret.txt",
  name: "secret",
  visible: McpVisibility.scopes("admin"),
  read: Effect.succeed("the secret")
})

const Reports = McpResource.template({
  uriTemplate: "file:///reports/{id}",
  name: "report",
  params: Schema.Struct({ id: Schema.String }),
  visible: McpVisibility.principal((p) => p.subject === "alice"),
  read: ({ id }) => Effect.succeed(`report ${id}`)
})

const Plan = McpPrompt.make("plan", {
  args: Schema.Struct({}),
  visible: McpVisibility.scopes("admin"),
  handler: () => Effect.succeed("plan it")
})

const Hidden = serverWith(Layer.mergeAll(Echo, Purge, Secret, Reports, Plan))
const Bare = serverWith(Echo)

const names = (answer: Answer, list: string, key: string) =>
  (resultOf(answer)[list] as ReadonlyArray<{ readonly [key: string]: unknown }>).map((item) => item[key])

describe("McpVisibility", () => {
  for (const era of eras) {
    describe(era.name, () => {
      it.effect("hidden items are absent from lists, and refused on use exactly as unknown ones", () =>
        Effect.gen(function*() {
          // What a session is told of an item that was never registered, to compare with.
          const never = yield* Effect.provide(
            Effect.all([
              era.request("tools/call", { name: "purge", arguments: {} }, bob),
              era.request("resources/read", { uri: "file:///secret.txt" }, bob),
              era.request("resources/read", { uri: "file:///reports/7" }, bob),
              era.request("prompts/get", { name: "plan" }, bob),
              era.request("completion/complete", {
                ref: { type: "ref/prompt", name: "plan" },
                argument: { name: "x", value: "" }
              }, bob)
            ]),
            Bare
          )
          yield* Effect.gen(function*() {
            expect(names(yield* era.request("tools/list", {}, admin), "tools", "name")).toEqual(["echo", "purge"])
            expect(names(yield* era.request("tools/list", {}, bob), "tools", "name")).toEqual(["echo"])
            expect(names(yield* era.request("tools/list", {}), "tools", "name")).toEqual(["echo"])
            expect(names(yield* era.request("resources/list", {}, admin), "resources", "uri")).toEqual([
              "file:///secret.txt"
            ])
            expect(names(yield* era.request("resources/list", {}, bob), "resources", "uri")).toEqual([])
            expect(names(yield* era.request("resources/templates/list", {}, admin), "resourceTemplates", "uriTemplate"))
              .toEqual(["file:///reports/{id}"])
            expect(names(yield* era.request("resources/templates/list", {}, bob), "resourceTemplates", "uriTemplate"))
              .toEqual([])
            expect(names(yield* era.request("prompts/list", {}, admin), "prompts", "name")).toEqual(["plan"])
            expect(names(yield* era.request("prompts/list", {}, bob), "prompts", "name")).toEqual([])

            expect(textOf(resultOf(yield* era.request("tools/call", { name: "purge", arguments: {} }, admin)))).toBe(
              "purged"
            )
            const read = resultOf(yield* era.request("resources/read", { uri: "file:///reports/7" }, admin))
            expect(read.contents).toEqual([{ uri: "file:///reports/7", text: "report 7" }])
            const refused = yield* Effect.all([
              era.request("tools/call", { name: "purge", arguments: {} }, bob),
              era.request("resources/read", { uri: "file:///secret.txt" }, bob),
              era.request("resources/read", { uri: "file:///reports/7" }, bob),
              era.request("prompts/get", { name: "plan" }, bob),
              era.request("completion/complete", {
                ref: { type: "ref/prompt", name: "plan" },
                argument: { name: "x", value: "" }
              }, bob)
            ])
            expect(refused).toEqual(never)
            for (const answer of refused) expect(answer._tag).toBe("Error")
          }).pipe(Effect.provide(Hidden))
        }))
    })
  }

  it.effect("list_changed reaches only the sessions whose view changed", () =>
    Effect.gen(function*() {
      const server = yield* McpServer.McpServer
      const alice = yield* legacySession(admin)
      const other = yield* legacySession(bob)
      const told = () => [alice.notifications.length, other.notifications.length]
      // Each has been given its view.
      yield* exchange(alice.session, "tools/list")
      yield* exchange(other.session, "tools/list")

      // A tool only admins see comes and goes: only alice hears of it.
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(Purge, scope).pipe(Effect.provideService(McpServer.McpServer, server))
      expect(told()).toEqual([1, 0])
      yield* Scope.close(scope, Exit.void)
      expect(told()).toEqual([2, 0])

      // A rule reading a flag: when the flag changes, a refresh tells those whose view changed.
      const beta = yield* Ref.make<ReadonlyArray<string>>([])
      const Beta = McpTool.make("beta", {
        input: Schema.Struct({}),
        visible: McpVisibility.when((viewer) =>
          Effect.map(Ref.get(beta), (subjects) => subjects.includes(viewer.principal?.subject ?? ""))
        ),
        handler: () => Effect.succeed("beta")
      })
      yield* Layer.buildWithScope(Beta, yield* Scope.make()).pipe(Effect.provideService(McpServer.McpServer, server))
      expect(told()).toEqual([2, 0])
      yield* Ref.set(beta, ["bob"])
      yield* server.refreshVisibility
      expect(told()).toEqual([2, 1])
      expect(names(yield* exchange(other.session, "tools/list"), "tools", "name")).toEqual(["beta", "echo"])
      // Nothing changed for anyone: nobody is told.
      yield* server.refreshVisibility
      expect(told()).toEqual([2, 1])

      // An item without a rule reaches every session, as always.
      const Open = McpTool.make("open", { input: Schema.Struct({}), handler: () => Effect.succeed("open") })
      yield* Layer.buildWithScope(Open, yield* Scope.make()).pipe(Effect.provideService(McpServer.McpServer, server))
      expect(told()).toEqual([3, 2])
      expect(alice.notifications.every((method) => method === "notifications/tools/list_changed")).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(serverWith(Echo))))
})
