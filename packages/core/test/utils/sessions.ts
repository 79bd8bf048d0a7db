/**
 * Sessions of a server's `SessionRegistry` driven by hand, as a transport drives them: one of a session era
 * (opened, `initialize`d, its server-started messages collected), or a 2026-07-28 request in a session of its
 * own. For tests of what the dispatcher does the same way on every transport and in both eras.
 */
import { expect } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as JsonRpc from "../../src/JsonRpc.js"
import type { Principal } from "../../src/McpAuth.js"
import * as McpServer from "../../src/McpServer.js"
import type { Session } from "../../src/McpSession.js"
import * as SessionRegistry from "../../src/SessionRegistry.js"

/** What a request got back. */
export type Answer =
  | { readonly _tag: "Result"; readonly result: { readonly [key: string]: unknown } }
  | { readonly _tag: "Error"; readonly error: JsonRpc.ErrorObject }

/** The server of `items` with a registry, as a transport has them. */
export const serverWith = <R>(items: Layer.Layer<never, never, R>) =>
  SessionRegistry.layer({ idleTimeout: Duration.infinity }).pipe(
    Layer.provideMerge(items.pipe(Layer.provideMerge(McpServer.layer({ name: "test", version: "1.0.0" }))))
  )

/** A person with a token, for the registry's `principal`. */
export const person = (subject: string, scopes: ReadonlyArray<string> = []): Principal => ({
  subject,
  issuer: "https://issuer.test",
  scopes,
  claims: {}
})

let nextId = 0

/** Hands one request to `session` and waits for its response. */
export const exchange = (session: Session, method: string, params: { readonly [key: string]: unknown } = {}) =>
  Effect.gen(function*() {
    const id = ++nextId
    const response = yield* Effect.async<JsonRpc.Response>((resume) => {
      let answer: JsonRpc.Response | undefined
      const taken = session.offer(JsonRpc.request(id, method, params), (message) => {
        if (JsonRpc.isResponse(message)) answer = message
        return true
      }, () => resume(answer === undefined ? Effect.dieMessage("no response") : Effect.succeed(answer)))
      if (!taken) resume(Effect.dieMessage("the session refused the request"))
    })
    expect(response.id).toBe(id)
    const answer: Answer = "error" in response
      ? { _tag: "Error", error: response.error }
      : { _tag: "Result", result: response.result as { readonly [key: string]: unknown } }
    return answer
  })

/** A session of the 2025-11-25 era, initialized, and the notifications the server sent it. */
export const legacySession = (
  principal?: Principal
): Effect.Effect<
  { readonly session: Session; readonly notifications: Array<string> },
  never,
  SessionRegistry.SessionRegistry | Scope.Scope
> =>
  Effect.gen(function*() {
    const registry = yield* SessionRegistry.SessionRegistry
    const notifications: Array<string> = []
    const session = yield* Effect.orDie(registry.open({
      transport: "memory",
      protocolVersion: "2025-11-25",
      writer: (message) => {
        if (JsonRpc.isNotification(message)) notifications.push(message.method)
        return true
      },
      ...(principal === undefined ? {} : { principal })
    }))
    yield* exchange(session, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "test", version: "1.0.0" }
    })
    session.offer(JsonRpc.notification("notifications/initialized"), () => true)
    return { session, notifications }
  })

/** One 2026-07-28 request, in a session of its own as the HTTP transport serves it. */
export const modernRequest = (method: string, params: { readonly [key: string]: unknown } = {}, principal?: Principal) =>
  Effect.scoped(Effect.gen(function*() {
    const registry = yield* SessionRegistry.SessionRegistry
    const session = yield* Effect.orDie(registry.open({
      transport: "memory",
      protocolVersion: "2026-07-28",
      modern: { clientCapabilities: {} },
      ...(principal === undefined ? {} : { principal })
    }))
    return yield* exchange(session, method, params)
  }))

/** The two eras: a request as each serves it, from a caller with `principal`. */
export const eras = [
  {
    name: "2025-11-25",
    request: (method: string, params: { readonly [key: string]: unknown } = {}, principal?: Principal) =>
      Effect.scoped(Effect.flatMap(legacySession(principal), ({ session }) => exchange(session, method, params)))
  },
  { name: "2026-07-28", request: modernRequest }
] as const

export const resultOf = (answer: Answer) => {
  if (answer._tag === "Error") throw new Error(`expected a result, got ${JSON.stringify(answer.error)}`)
  return answer.result
}

export const errorOf = (answer: Answer) => {
  if (answer._tag === "Result") throw new Error(`expected an error, got ${JSON.stringify(answer.result)}`)
  return answer.error
}

/** The text of a tool result's first content block. */
export const textOf = (result: { readonly [key: string]: unknown }): string => {
  const content = result.content
  if (!Array.isArray(content)) throw new Error(`no content in ${JSON.stringify(result)}`)
  const first: unknown = content[0]
  if (typeof first !== "object" || first === null || !("text" in first) || typeof first.text !== "string") {
    throw new Error(`no text in ${JSON.stringify(result)}`)
  }
  return first.text
}
