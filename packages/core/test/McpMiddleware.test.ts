import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as JsonRpc from "../src/JsonRpc.js"
import * as McpMiddleware from "../src/McpMiddleware.js"
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
