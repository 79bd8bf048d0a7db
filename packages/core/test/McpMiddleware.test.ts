import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as JsonRpc from "../src/JsonRpc.js"
import * as McpMiddleware from "../src/McpMiddleware.js"
import * as McpPrompt from "../src/McpPrompt.js"
import * as McpResource from "../src/McpResource.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTool from "../src/McpTool.js"
import { eras, errorOf, person, resultOf, serverWith, textOf } from "./utils/sessions.js"

class CurrentUser extends Context.Tag("test/CurrentUser")<CurrentUser, { readonly name: string }>() {}

/** Provides `CurrentUser` from the principal; refuses callers without one. */
class Authenticated extends McpMiddleware.Tag<Authenticated>()("test/Authenticated", { provides: CurrentUser }) {}

const AuthenticatedLive = Layer.succeed(Authenticated, (request) =>
  request.principal === undefined
    ? Effect.fail(
      request.method === "tools/call"
        ? new McpMiddleware.ToolError({ message: "sign in first" })
        : JsonRpc.invalidRequest("sign in first")
    )
    : Effect.succeed({ name: request.principal.subject }))

const WhoAmI = McpTool.make("whoami", {
  input: Schema.Struct({}),
  middleware: [Authenticated],
  handler: () => Effect.map(CurrentUser, (user) => `you are ${user.name}`)
})

const Echo = McpTool.make("echo", {
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

const Fails = McpTool.make("fails", {
  input: Schema.Struct({}),
  handler: () => Effect.fail("no luck")
})

/** Refuses every request it wraps with a tool error, which outside `tools/call` is -32600. */
class Closed extends McpMiddleware.Tag<Closed>()("test/Closed") {}
const ClosedLive = Layer.succeed(Closed, () => Effect.fail(new McpMiddleware.ToolError({ message: "closed today" })))

const Profile = McpResource.make({
  uri: "test://profile",
  name: "profile",
  middleware: [Authenticated],
  read: Effect.map(CurrentUser, (user) => `profile of ${user.name}`)
})

const Note = McpResource.template({
  uriTemplate: "notes://{id}",
  name: "note",
  params: Schema.Struct({ id: Schema.String }),
  middleware: [Authenticated],
  read: ({ id }) => Effect.map(CurrentUser, (user) => `${id} of ${user.name}`),
  complete: { id: (value) => Effect.map(CurrentUser, (user) => [`${user.name}-${value}`]) }
})

const Greeting = McpPrompt.make("greeting", {
  args: Schema.Struct({ tone: Schema.String }),
  middleware: [Authenticated],
  handler: ({ tone }) => Effect.map(CurrentUser, (user) => `${tone}, ${user.name}`),
  complete: { tone: (value) => Effect.map(CurrentUser, (user) => [`${value}-${user.name}`]) }
})

const Shut = McpPrompt.make("shut", {
  args: Schema.Struct({}),
  middleware: [Closed],
  handler: () => Effect.succeed("never")
})

const alice = person("alice")
const bob = person("bob")

describe("McpMiddleware", () => {
  it("types: a tool's middleware provides what its handler needs, and its layer needs the middleware", () => {
    expectTypeOf(WhoAmI).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer | Authenticated>>()
    const Bare = McpTool.make("bare", {
      input: Schema.Struct({}),
      handler: () => Effect.map(CurrentUser, (user) => user.name)
    })
    // Without the middleware that provides it, CurrentUser stays a requirement: the tool cannot be served as is.
    // @ts-expect-error CurrentUser is missing
    const _unserved: Layer.Layer<never, never, McpServer.McpServer> = Bare
    void _unserved
    // A layer that has the middleware's implementation can be served.
    const served: Layer.Layer<never, never, McpServer.McpServer> = WhoAmI.pipe(Layer.provide(AuthenticatedLive))
    void served
  })

  it("types: so do a resource's, a template's and a prompt's, completions included", () => {
    type Served = Layer.Layer<never, never, McpServer.McpServer | Authenticated>
    expectTypeOf(Profile).toEqualTypeOf<Served>()
    expectTypeOf(Note).toEqualTypeOf<Served>()
    expectTypeOf(Greeting).toEqualTypeOf<Served>()
    expectTypeOf(Shut).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer | Closed>>()
    const greet = Effect.map(CurrentUser, (user) => user.name)
    // Without the middleware that provides it, CurrentUser stays a requirement of each.
    // @ts-expect-error CurrentUser is missing
    const _resource: Layer.Layer<never, never, McpServer.McpServer> = McpResource.make({ uri: "test://x", name: "x", read: greet })
    // @ts-expect-error CurrentUser is missing
    const _template: Layer.Layer<never, never, McpServer.McpServer> = McpResource.template({
      uriTemplate: "x://{id}",
      name: "x",
      params: Schema.Struct({ id: Schema.String }),
      read: () => greet
    })
    // @ts-expect-error CurrentUser is missing
    const _prompt: Layer.Layer<never, never, McpServer.McpServer> = McpPrompt.make("x", {
      args: Schema.Struct({}),
      handler: () => greet
    })
    // A completer needs the middleware too: one that uses CurrentUser on a prompt without it cannot be served.
    const _completer: Layer.Layer<never, never, McpServer.McpServer> = McpPrompt.make("x", {
      args: Schema.Struct({ tone: Schema.String }),
      handler: () => Effect.succeed("x"),
      // @ts-expect-error CurrentUser is missing
      complete: { tone: () => Effect.map(greet, (name) => [name]) }
    })
    void [_resource, _template, _prompt, _completer]
  })

  for (const era of eras) {
    describe(era.name, () => {
      const Server = serverWith(Layer.mergeAll(WhoAmI, Echo).pipe(Layer.provide(AuthenticatedLive)))

      it.effect("a tool's middleware provides a service from the principal, or refuses with a tool error", () =>
        Effect.gen(function*() {
          const mine = resultOf(yield* era.request("tools/call", { name: "whoami", arguments: {} }, alice))
          expect(textOf(mine)).toBe("you are alice")
          const refused = resultOf(yield* era.request("tools/call", { name: "whoami", arguments: {} }))
          expect(refused.isError).toBe(true)
          expect(textOf(refused)).toBe("sign in first")
          // Other tools are not wrapped by it.
          expect(textOf(resultOf(yield* era.request("tools/call", { name: "echo", arguments: { text: "hi" } })))).toBe(
            "hi"
          )
        }).pipe(Effect.provide(Server)))

      const Items = serverWith(
        Layer.mergeAll(Profile, Note, Greeting, Shut).pipe(Layer.provide(Layer.merge(AuthenticatedLive, ClosedLive)))
      )

      it.effect("a resource's, a template's and a prompt's own middleware provide a service, or refuse", () =>
        Effect.gen(function*() {
          const read = (uri: string, principal?: typeof alice) => era.request("resources/read", { uri }, principal)
          const contents = (answer: Parameters<typeof resultOf>[0]) =>
            (resultOf(answer).contents as ReadonlyArray<{ readonly text: string }>)[0]!.text
          expect(contents(yield* read("test://profile", alice))).toBe("profile of alice")
          expect(contents(yield* read("notes://n1", alice))).toBe("n1 of alice")
          const prompt = resultOf(yield* era.request("prompts/get", { name: "greeting", arguments: { tone: "hi" } }, alice))
          expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "hi, alice" } }])
          const complete = (ref: object, argument: object, principal?: typeof alice) =>
            era.request("completion/complete", { ref, argument }, principal)
          expect(resultOf(yield* complete({ type: "ref/prompt", name: "greeting" }, { name: "tone", value: "h" }, alice)).completion)
            .toMatchObject({ values: ["h-alice"] })
          expect(resultOf(yield* complete({ type: "ref/resource", uri: "notes://{id}" }, { name: "id", value: "n" }, alice)).completion)
            .toMatchObject({ values: ["alice-n"] })

          // Refused by the middleware, before anything else: even a call with invalid arguments.
          const refused = { code: -32600, message: "sign in first" }
          expect(errorOf(yield* read("test://profile"))).toEqual(refused)
          expect(errorOf(yield* read("notes://n1"))).toEqual(refused)
          expect(errorOf(yield* era.request("prompts/get", { name: "greeting", arguments: {} }))).toEqual(refused)
          expect(errorOf(yield* complete({ type: "ref/prompt", name: "greeting" }, { name: "tone", value: "h" }))).toEqual(refused)
          expect(errorOf(yield* complete({ type: "ref/resource", uri: "notes://{id}" }, { name: "id", value: "n" })))
            .toEqual(refused)
          // Let through, the arguments are checked as before.
          expect(errorOf(yield* era.request("prompts/get", { name: "greeting", arguments: {} }, alice)).code).toBe(-32602)
          // A tool error from an item's middleware, outside tools/call, is -32600 with its message.
          expect(errorOf(yield* era.request("prompts/get", { name: "shut", arguments: {} }, alice)))
            .toEqual({ code: -32600, message: "closed today" })
        }).pipe(Effect.provide(Items)))

      const limited = (limit: number) =>
        serverWith(
          Layer.mergeAll(Echo, McpMiddleware.serve(McpMiddleware.RateLimit)).pipe(
            Layer.provide(McpMiddleware.rateLimit({ limit, window: "1 minute" }))
          )
        )

      it.effect("the rate limit: a tool error for tools/call, a JSON-RPC error elsewhere, with the retry time", () =>
        Effect.gen(function*() {
          const call = (principal = alice) =>
            era.request("tools/call", { name: "echo", arguments: { text: "x" } }, principal)
          expect(textOf(resultOf(yield* call()))).toBe("x")
          expect(textOf(resultOf(yield* call()))).toBe("x")
          const refused = resultOf(yield* call())
          expect(refused.isError).toBe(true)
          expect(textOf(refused)).toBe("Rate limit exceeded: retry in 30 s")
          const listed = errorOf(yield* era.request("tools/list", {}, alice))
          expect(listed.code).toBe(McpMiddleware.RATE_LIMITED)
          expect(listed.message).toBe("Rate limit exceeded: retry in 30 s")
          expect(listed.data).toEqual({ retryAfterMs: 30_000 })
          // Another principal has a bucket of its own.
          expect(textOf(resultOf(yield* call(bob)))).toBe("x")
          // The bucket refills steadily: one request per 30 s.
          yield* TestClock.adjust("30 seconds")
          expect(textOf(resultOf(yield* call()))).toBe("x")
          expect(resultOf(yield* call()).isError).toBe(true)
        }).pipe(Effect.provide(limited(2))))

      it.effect("the audit hook hears of every request once answered: ok, tool errors, JSON-RPC errors", () =>
        Effect.gen(function*() {
          const entries = yield* Ref.make<ReadonlyArray<McpMiddleware.AuditEntry>>([])
          const Audited = serverWith(
            Layer.mergeAll(Echo, Fails, McpMiddleware.serve(McpMiddleware.Audit)).pipe(
              Layer.provide(McpMiddleware.audit((entry) => Ref.update(entries, (all) => [...all, entry])))
            )
          )
          yield* Effect.gen(function*() {
            yield* era.request("tools/call", { name: "echo", arguments: { text: "x" } }, alice)
            yield* era.request("tools/call", { name: "fails", arguments: {} }, alice)
            yield* era.request("tools/call", { name: "nothing", arguments: {} }, alice)
            yield* era.request("prompts/get", { name: "nothing" })
          }).pipe(Effect.provide(Audited))
          const seen = (yield* Ref.get(entries)).filter((entry) => entry.method !== "initialize")
          expect(seen.map(({ code, method, outcome, target }) => ({ method, target, outcome, code }))).toEqual([
            { method: "tools/call", target: "echo", outcome: "ok", code: undefined },
            { method: "tools/call", target: "fails", outcome: "tool_error", code: undefined },
            { method: "tools/call", target: "nothing", outcome: "error", code: -32602 },
            { method: "prompts/get", target: "nothing", outcome: "error", code: -32602 }
          ])
          expect(seen[0]!.principal?.subject).toBe("alice")
          expect(seen[3]!.principal).toBeUndefined()
        }))
    })
  }

  it.effect("server-wide middleware run in order, the first outermost, and a check refuses other methods with -32600", () =>
    Effect.gen(function*() {
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      class First extends McpMiddleware.Tag<First>()("test/First", { wrap: true }) {}
      class Gate extends McpMiddleware.Tag<Gate>()("test/Gate") {}
      const FirstLive = Layer.succeed(First, (request, next) =>
        Effect.zipRight(
          Ref.update(order, (all) => [...all, `first ${request.method}`]),
          Effect.tap(next, () => Ref.update(order, (all) => [...all, "first done"]))
        ))
      const GateLive = Layer.succeed(Gate, (request) =>
        Effect.zipRight(
          Ref.update(order, (all) => [...all, `gate ${request.target ?? "-"}`]),
          request.target === "closed" ? Effect.fail(new McpMiddleware.ToolError({ message: "closed today" })) : Effect.void
        ))
      const Gated = serverWith(
        Layer.mergeAll(Echo, McpMiddleware.serve(First, Gate)).pipe(Layer.provide(Layer.merge(FirstLive, GateLive)))
      )
      const era = eras[1]
      yield* Effect.gen(function*() {
        expect(textOf(resultOf(yield* era.request("tools/call", { name: "echo", arguments: { text: "x" } })))).toBe("x")
        const refused = errorOf(yield* era.request("prompts/get", { name: "closed" }))
        expect(refused).toEqual({ code: -32600, message: "closed today" })
      }).pipe(Effect.provide(Gated))
      expect(yield* Ref.get(order)).toEqual([
        "first tools/call",
        "gate echo",
        "first done",
        "first prompts/get",
        "gate closed"
      ])
    }))

  it.effect("a middleware removed, the server serves plainly again", () =>
    Effect.gen(function*() {
      const server = yield* McpServer.McpServer
      class Deny extends McpMiddleware.Tag<Deny>()("test/Deny") {}
      const remove = yield* server.addMiddleware(
        McpMiddleware.chainOf([Deny], Context.make(Deny, () => Effect.fail(JsonRpc.invalidRequest("denied"))))!
      )
      const era = eras[1]
      expect(errorOf(yield* era.request("tools/list")).message).toBe("denied")
      yield* remove
      expect(resultOf(yield* era.request("tools/list")).tools).toHaveLength(1)
    }).pipe(Effect.provide(serverWith(Echo))))
})
