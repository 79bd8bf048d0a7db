import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { makeProvider } from "../src/internal/shared/handler.js"
import { CurrentSession, type CurrentSessionService } from "../src/McpSession.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTest from "../src/McpTest.js"
import * as McpTool from "../src/McpTool.js"

class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
class Caller extends Context.Tag("test/Caller")<Caller, string>() {}

/** The CurrentSession the server gives a tool handler: a real one, caught by a tool. */
const realCurrentSession = Effect.gen(function*() {
  const caught = yield* Deferred.make<CurrentSessionService>()
  const Catch = McpTool.make("catch", {
    input: Schema.Struct({}),
    handler: () => Effect.flatMap(CurrentSession, (current) => Deferred.succeed(caught, current)).pipe(Effect.as("ok"))
  })
  const server = Layer.provideMerge(Catch, McpServer.layer({ name: "handler-test", version: "0.0.0" }))
  yield* Effect.scoped(Effect.provide(Effect.flatMap(McpTest.makeClient(), (client) => client.callTool("catch", {})), server))
  return yield* Deferred.await(caught)
})

/** What a handler and the code after it see of the two services and the session. */
const seen = Effect.all({
  greeting: Effect.serviceOption(Greeting),
  caller: Effect.serviceOption(Caller),
  session: Effect.serviceOption(CurrentSession)
})

describe("makeProvider", () => {
  it.effect("gives the handler its captured context, the current session and the caller's services", () =>
    Effect.gen(function*() {
      const current = yield* realCurrentSession
      const inside = yield* makeProvider(Context.make(Greeting, "from the layer"))(seen, current).pipe(
        Effect.provideService(Caller, "from the caller")
      )
      expect(inside.greeting).toEqual(Option.some("from the layer"))
      expect(inside.caller).toEqual(Option.some("from the caller"))
      expect(inside.session._tag === "Some" && inside.session.value === current).toBe(true)
    }))

  it.effect("the handler's context wins over the caller's for the same service", () =>
    Effect.gen(function*() {
      const current = yield* realCurrentSession
      const inside = yield* makeProvider(Context.make(Greeting, "from the layer"))(Greeting, current).pipe(
        Effect.provideService(Greeting, "from the caller")
      )
      expect(inside).toBe("from the layer")
    }))

  it.effect("puts the caller's context back after the handler succeeds or fails", () =>
    Effect.gen(function*() {
      const current = yield* realCurrentSession
      const handlerContext = Context.make(Greeting, "from the layer")
      const afterSuccess = yield* makeProvider(handlerContext)(Effect.succeed(1), current).pipe(
        Effect.zipRight(seen),
        Effect.provideService(Caller, "from the caller")
      )
      const afterFailure = yield* makeProvider(handlerContext)(Effect.fail("no"), current).pipe(
        Effect.exit,
        Effect.zip(seen),
        Effect.provideService(Caller, "from the caller")
      )
      for (const after of [afterSuccess, afterFailure[1]]) {
        expect(after.greeting._tag).toBe("None")
        expect(after.session._tag).toBe("None")
        expect(after.caller).toEqual(Option.some("from the caller"))
      }
      expect(afterFailure[0]).toEqual(Exit.fail("no"))
    }))

  it.effect("one provider follows its caller's context as it changes, and gives middleware services when given them", () =>
    Effect.gen(function*() {
      const current = yield* realCurrentSession
      const provide = makeProvider(Context.make(Greeting, "from the layer"))
      const first = yield* provide(seen, current).pipe(Effect.provideService(Caller, "first caller"))
      const second = yield* provide(seen, current).pipe(Effect.provideService(Caller, "second caller"))
      const bare = yield* provide(seen, current)
      const fromMiddleware = yield* provide(seen, current, Context.make(Greeting, "from a middleware"))
      expect(first.caller).toEqual(Option.some("first caller"))
      expect(second.caller).toEqual(Option.some("second caller"))
      expect(bare.caller._tag).toBe("None")
      expect([first, second, bare].map((inside) => inside.greeting)).toEqual(
        [Option.some("from the layer"), Option.some("from the layer"), Option.some("from the layer")]
      )
      expect(fromMiddleware.greeting).toEqual(Option.some("from a middleware"))
    }))
})
