/**
 * How middleware runs: each one, whatever its kind (a check, a check that provides a service, a wrap), is a
 * `Step` that runs the rest of the chain with the services gathered so far; a chain is its steps folded into
 * one. The server-wide chain runs in the dispatcher around a method's handler (`dispatch.ts`); an item's own
 * chain runs around its call (`McpTool`, and `itemRunner` for resources, templates and prompts), where the
 * services it provides reach the handler.
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as JsonRpc from "../../JsonRpc.js"
import type { Principal } from "../../McpAuth.js"
import type * as McpSchema from "../../McpSchema.js"
import type { CurrentSessionService } from "../../McpSession.js"
import { makeProvider, toJsonRpcError } from "../shared/handler.js"

/** What a middleware sees of the request it wraps. @since 0.1.0 */
export interface Request {
  /** The JSON-RPC method, e.g. `tools/call`. */
  readonly method: string
  /** The params as the client sent them (not yet decoded). */
  readonly params: unknown
  /** What the request is about: the tool or prompt name, the resource URI; undefined for other methods. */
  readonly target: string | undefined
  /** The caller, when the transport authorizes requests (`McpAuth`). */
  readonly principal: Principal | undefined
  /** The session and request, as a handler sees them (its id, revision, client, logging). */
  readonly session: CurrentSessionService
}

/**
 * A refusal the model should read: for `tools/call` it becomes a result with `isError: true`; for any other
 * method, which has no such result, a JSON-RPC error -32600 with the same message.
 *
 * @since 0.1.0
 */
export class ToolError extends Data.TaggedError("McpMiddlewareToolError")<{ readonly message: string }> {}

/** How a middleware may refuse a request. @since 0.1.0 */
export type Failure = JsonRpc.JsonRpcError | ToolError

/**
 * One middleware, ready to run: it runs `next` (the rest of the chain and the handler) with the services it
 * adds to `context`, or fails instead.
 * @internal
 */
export interface Step {
  <X>(
    request: Request,
    context: Context.Context<never>,
    next: (context: Context.Context<never>) => Effect.Effect<X, Failure>
  ): Effect.Effect<X, Failure>
}

/** The steps in order, the first outermost, as one. @internal */
export const compose = (steps: ReadonlyArray<Step>): Step | undefined => {
  if (steps.length === 0) return undefined
  if (steps.length === 1) return steps[0]
  const composed: Step = <X>(
    request: Request,
    context: Context.Context<never>,
    next: (context: Context.Context<never>) => Effect.Effect<X, Failure>
  ) => {
    const at = (i: number, gathered: Context.Context<never>): Effect.Effect<X, Failure> =>
      i === steps.length ? next(gathered) : steps[i]!(request, gathered, (more) => at(i + 1, more))
    return at(0, context)
  }
  return composed
}

const targetOf = (params: unknown): string | undefined => {
  if (typeof params !== "object" || params === null) return undefined
  if ("name" in params && typeof params.name === "string") return params.name
  if ("uri" in params && typeof params.uri === "string") return params.uri
  if ("ref" in params && typeof params.ref === "object" && params.ref !== null) return targetOf(params.ref)
  return undefined
}

/** The request a middleware sees. @internal */
export const requestOf = (method: string, params: unknown, session: CurrentSessionService): Request => ({
  method,
  params,
  target: targetOf(params),
  principal: session.principal,
  session
})

/** A tool error as `tools/call` answers it. @internal */
export const toolResult = (error: ToolError): McpSchema.CallToolResult => ({
  content: [{ type: "text", text: error.message }],
  isError: true
})

/** A tool error where the method has no tool result: -32600 with its message. @internal */
export const toJsonRpc = (error: Failure): JsonRpc.JsonRpcError =>
  error instanceof ToolError ? JsonRpc.invalidRequest(error.message) : error

/** Adds `value` under `tag` to the services gathered. @internal */
export const addTo = <I, S>(tag: Context.Tag<I, S>) => (context: Context.Context<never>, value: S): Context.Context<never> =>
  Context.add(context, tag, value)

/**
 * How a resource, a template or a prompt (and their completions) runs a handler: with the services its layer
 * captured (`context`) and the current session, behind its own middleware (`chain`) when it has any. The
 * middleware see the request `request` builds and may give the handler services; their refusals are JSON-RPC
 * errors (a tool error as -32600), as are the handler's failures (`label` names it in their messages). Chosen
 * once per item: one without middleware runs its handlers as before.
 * @internal
 */
export const itemRunner = (chain: Step | undefined, context: Context.Context<never>, label: string) => {
  const handled = toJsonRpcError(label)
  const provide = makeProvider(context)
  if (chain === undefined) {
    return <A, E, R>(effect: Effect.Effect<A, E, R>, current: CurrentSessionService, _request: () => Request) =>
      handled(provide(effect, current))
  }
  return <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    current: CurrentSessionService,
    request: () => Request
  ): Effect.Effect<A, JsonRpc.JsonRpcError> =>
    Effect.catchAll(
      chain(request(), context, (services) => handled(provide(effect, current, services))),
      (failure) => Effect.fail(toJsonRpc(failure))
    )
}
