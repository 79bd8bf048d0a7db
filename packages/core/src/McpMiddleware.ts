/**
 * Middleware as services, in the spirit of `@effect/rpc`'s `RpcMiddleware`: a middleware is a `Context.Tag`
 * whose service sees each request it wraps (method, params, target, session, principal) and may refuse it, with a
 * JSON-RPC error or a tool error (`ToolError`), provide a service to the handler, or wrap the rest of the call.
 *
 * ```ts
 * class CurrentUser extends Context.Tag("CurrentUser")<CurrentUser, { readonly name: string }>() {}
 * class Authenticated extends McpMiddleware.Tag<Authenticated>()("Authenticated", { provides: CurrentUser }) {}
 *
 * const AuthenticatedLive = Layer.succeed(Authenticated, ({ principal }) =>
 *   principal === undefined
 *     ? Effect.fail(new McpMiddleware.ToolError({ message: "sign in first" }))
 *     : Effect.succeed({ name: principal.subject }))
 *
 * // Needs CurrentUser, which Authenticated provides: the layer needs Authenticated instead.
 * const WhoAmI = McpTool.make("whoami", {
 *   input: Schema.Struct({}),
 *   middleware: [Authenticated],
 *   handler: () => Effect.map(CurrentUser, (user) => user.name)
 * })
 * ```
 *
 * An item (`McpTool`) lists its own middleware in `middleware`; the services they provide leave its handler's
 * requirements, and the middleware tags join its layer's, so a tool that needs `CurrentUser` without the
 * middleware that provides it cannot be served (its layer still needs `CurrentUser`). `serve` installs middleware
 * for every request of a server, on every transport and in every revision; there, what a middleware provides is
 * not seen by handlers (only an item's own middleware can type it). With none installed, nothing is added to a
 * request's path: the dispatcher composes its routes again when middleware comes or goes.
 *
 * Two middleware ship: `RateLimit` (`rateLimit`), a per-principal token bucket, and `Audit` (`audit`), a hook
 * that hears of every request once it is answered.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Internal from "./internal/server/middleware.js"
import * as JsonRpc from "./JsonRpc.js"
import type { Principal } from "./McpAuth.js"
import { McpServer } from "./McpServer.js"

/**
 * `Request` (what a middleware sees), `ToolError` (a refusal the model reads), `Failure` (either refusal) and
 * `Step` (a middleware ready to run, as the server runs it).
 *
 * @since 0.1.0
 */
export { type Failure, type Request, type Step, ToolError } from "./internal/server/middleware.js"
import type { Failure, Request, Step } from "./internal/server/middleware.js"

declare const ProvidesId: unique symbol

/**
 * A middleware that checks a request, and may give the handler a service (`Provides` names it, for the types:
 * the handlers of items that list the middleware need it no more).
 *
 * @since 0.1.0
 */
export interface Check<A, Provides = never> {
  (request: Request): Effect.Effect<A, Failure>
  readonly [ProvidesId]?: (_: never) => Provides
}

/** A middleware around the rest of the call: it runs `next` (or not) and sees how it ended. @since 0.1.0 */
export interface Wrap {
  <X>(request: Request, next: Effect.Effect<X, Failure>): Effect.Effect<X, Failure>
  readonly [ProvidesId]?: (_: never) => never
}

/** Any middleware tag, as `Tag` makes them: what an item's `middleware` and `serve` take. @since 0.1.0 */
export interface Any {
  readonly key: string
  readonly Identifier: unknown
  readonly Service: { readonly [ProvidesId]?: (_: never) => unknown }
}

/** The services the middleware `M` needs to run: their tags. @since 0.1.0 */
export type Requires<M extends Any> = M["Identifier"]

/** The services the middleware `M` provides to handlers. @since 0.1.0 */
export type Provides<M extends Any> = M extends Any
  ? M["Service"] extends { readonly [ProvidesId]?: (_: never) => infer P } ? P : never
  : never

/**
 * What an item needs once its middleware `M` are applied to a handler that needs `R`: `R` but what they provide,
 * and the middleware themselves.
 *
 * @since 0.1.0
 */
export type Applied<R, M extends Any> = Exclude<R, Provides<M>> | Requires<M>

/** How each middleware tag runs, by key: set when `Tag` makes one. */
const kinds = new Map<string, (context: Context.Context<never>) => Step>()

/**
 * Declares a middleware as a tag class. With no options its service is a `Check<void>`; with
 * `{ provides: SomeTag }` a `Check` of that tag's service, which the handlers of the items that list it can
 * use; with `{ wrap: true }` a `Wrap`.
 *
 * ```ts
 * class Audited extends McpMiddleware.Tag<Audited>()("Audited", { wrap: true }) {}
 * ```
 *
 * @since 0.1.0
 */
export const Tag = <Self>() => {
  function make<const Name extends string, I, S>(
    id: Name,
    options: { readonly provides: Context.Tag<I, S> }
  ): Context.TagClass<Self, Name, Check<S, I>>
  function make<const Name extends string>(id: Name, options: { readonly wrap: true }): Context.TagClass<Self, Name, Wrap>
  function make<const Name extends string>(id: Name): Context.TagClass<Self, Name, Check<void>>
  function make<const Name extends string, I, S>(
    id: Name,
    options?: { readonly provides: Context.Tag<I, S> } | { readonly wrap: true }
  ): Context.TagClass<Self, Name, Check<S, I>> | Context.TagClass<Self, Name, Wrap> | Context.TagClass<Self, Name, Check<void>> {
    if (options !== undefined && "provides" in options) {
      const tag = Context.Tag(id)<Self, Check<S, I>>()
      const add = Internal.addTo(options.provides)
      kinds.set(id, (context) => {
        const check = Context.unsafeGet(context, tag)
        return (request, gathered, next) => Effect.flatMap(check(request), (value) => next(add(gathered, value)))
      })
      return tag
    }
    if (options !== undefined) {
      const tag = Context.Tag(id)<Self, Wrap>()
      kinds.set(id, (context) => {
        const wrap = Context.unsafeGet(context, tag)
        return (request, gathered, next) => wrap(request, next(gathered))
      })
      return tag
    }
    const tag = Context.Tag(id)<Self, Check<void>>()
    kinds.set(id, (context) => {
      const check = Context.unsafeGet(context, tag)
      return (request, gathered, next) => Effect.zipRight(check(request), next(gathered))
    })
    return tag
  }
  return make
}

const stepOf = (middleware: Any, context: Context.Context<never>): Step => {
  const kind = kinds.get(middleware.key)
  if (kind === undefined) throw new Error(`${middleware.key} is not a middleware made by McpMiddleware.Tag`)
  return kind(context)
}

/**
 * The chain of `middleware`, in order (the first outermost), from the services that hold them: what an item
 * runs around its calls. Undefined for none.
 *
 * @since 0.1.0
 */
export const chainOf = <M extends Any>(
  middleware: ReadonlyArray<M> | undefined,
  context: Context.Context<never>
): Step | undefined =>
  middleware === undefined ? undefined : Internal.compose(middleware.map((m) => stepOf(m, context)))

/**
 * Installs middleware for every request the server serves, in order (the first outermost), while the layer
 * lives: on every transport and in every revision, around the method's handler (after its params are checked
 * to be a request of a method the session has, before they are decoded).
 *
 * ```ts
 * McpMiddleware.serve(McpMiddleware.Audit, McpMiddleware.RateLimit).pipe(
 *   Layer.provide([McpMiddleware.audit((entry) => Effect.log(entry)), McpMiddleware.rateLimit({ limit: 60, window: "1 minute" })])
 * )
 * ```
 *
 * @since 0.1.0
 */
export const serve = <const M extends ReadonlyArray<Any>>(
  ...middleware: M
): Layer.Layer<never, never, McpServer | Requires<M[number]>> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    const context = yield* Effect.context<Requires<M[number]>>()
    const chain = chainOf(middleware, context)
    if (chain === undefined) return
    yield* Effect.acquireRelease(server.addMiddleware(chain), (remove) => remove)
  }))

/** The JSON-RPC code of a request refused by `RateLimit` (outside `tools/call`). @since 0.1.0 */
export const RATE_LIMITED = -32029

/** A per-principal rate limit: `rateLimit` implements it. @since 0.1.0 */
export class RateLimit extends Tag<RateLimit>()("@effect-mcp/core/McpMiddleware/RateLimit") {}

/** How `rateLimit` counts. @since 0.1.0 */
export interface RateLimitOptions {
  /** Requests a principal may make per `window`; the bucket refills steadily. */
  readonly limit: number
  /** The window `limit` is counted over. */
  readonly window: Duration.DurationInput
  /**
   * Who a request counts against; undefined lets it through uncounted. Default: its principal (issuer and
   * subject), every caller without one sharing one bucket.
   */
  readonly key?: ((request: Request) => string | undefined) | undefined
  /** Methods never counted. Default `initialize`, `ping` and `server/discover`: a client must be able to connect. */
  readonly exempt?: ReadonlyArray<string> | undefined
}

const principalKey = (principal: Principal | undefined) =>
  principal === undefined ? "" : `${principal.issuer ?? ""}\u0000${principal.subject}`

/** How long until one more request is allowed, as people read it. */
const retryText = (millis: number) => `${Math.max(1, Math.ceil(millis / 1000))} s`

/**
 * The refusal of a request past its limit: a tool error for `tools/call` (the model reads when to retry), a
 * JSON-RPC error `RATE_LIMITED` with `data.retryAfterMs` for any other method.
 */
const refusal = (request: Request, retryAfterMs: number): Failure => {
  const message = `Rate limit exceeded: retry in ${retryText(retryAfterMs)}`
  return request.method === "tools/call"
    ? new Internal.ToolError({ message })
    : new JsonRpc.JsonRpcError({ code: RATE_LIMITED, message, data: { retryAfterMs } })
}

/**
 * `RateLimit` as a token bucket per principal: `limit` requests per `window`, refilled steadily, counted on the
 * `Clock` (so `TestClock` drives it). Buckets that have refilled are forgotten as others are made, so memory
 * follows the callers active within a window.
 *
 * @since 0.1.0
 */
export const rateLimit = (options: RateLimitOptions): Layer.Layer<RateLimit> =>
  Layer.sync(RateLimit, () => {
    const { limit } = options
    if (!(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`McpMiddleware.rateLimit: limit must be a positive integer, got ${limit}`)
    }
    const windowMs = Math.max(1, Duration.toMillis(options.window))
    const perMs = limit / windowMs
    const exempt = new Set(options.exempt ?? ["initialize", "ping", "server/discover"])
    const keyOf = options.key ?? ((request: Request) => principalKey(request.principal))
    const buckets = new Map<string, { tokens: number; at: number }>()
    const sweep = (now: number) => {
      for (const [key, bucket] of buckets) {
        if (bucket.tokens + (now - bucket.at) * perMs >= limit) buckets.delete(key)
      }
    }
    return (request) => {
      if (exempt.has(request.method)) return Effect.void
      const key = keyOf(request)
      if (key === undefined) return Effect.void
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let bucket = buckets.get(key)
        if (bucket === undefined) {
          if (buckets.size >= SWEEP_AT) sweep(now)
          buckets.set(key, bucket = { tokens: limit, at: now })
        }
        bucket.tokens = Math.min(limit, bucket.tokens + (now - bucket.at) * perMs)
        bucket.at = now
        if (bucket.tokens >= 1) {
          bucket.tokens -= 1
          return Effect.void
        }
        return Effect.fail(refusal(request, Math.ceil((1 - bucket.tokens) / perMs)))
      })
    }
  })

const SWEEP_AT = 1_024

/** What `Audit` hears of one request, once it is answered. @since 0.1.0 */
export interface AuditEntry {
  readonly method: string
  readonly target: string | undefined
  readonly principal: Principal | undefined
  /** Empty for a sessionless (2026-07-28) request. */
  readonly sessionId: string
  readonly requestId: JsonRpc.RequestId
  /** `ok`; `tool_error` for a tool result with `isError`; `error` for a JSON-RPC error; `interrupted`. */
  readonly outcome: "ok" | "tool_error" | "error" | "interrupted"
  /** The JSON-RPC error code, for `error`. */
  readonly code?: number | undefined
  readonly durationMs: number
}

/** An audit log hook: `audit` implements it. @since 0.1.0 */
export class Audit extends Tag<Audit>()("@effect-mcp/core/McpMiddleware/Audit", { wrap: true }) {}

const isToolError = (value: unknown) =>
  typeof value === "object" && value !== null && "isError" in value && value.isError === true

const outcomeOf = (exit: Exit.Exit<unknown, Failure>): Pick<AuditEntry, "outcome" | "code"> => {
  if (Exit.isSuccess(exit)) return { outcome: isToolError(exit.value) ? "tool_error" : "ok" }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") return { outcome: "error", code: Internal.toJsonRpc(failure.value).code }
  return Cause.isInterruptedOnly(exit.cause)
    ? { outcome: "interrupted" }
    : { outcome: "error", code: JsonRpc.ErrorCode.InternalError }
}

/**
 * `Audit` calling `hook` once per request it wraps, when it is answered (or interrupted). The hook runs after
 * the answer is decided and cannot change it; its failures and defects are logged.
 *
 * @since 0.1.0
 */
export const audit = <R>(hook: (entry: AuditEntry) => Effect.Effect<void, unknown, R>): Layer.Layer<Audit, never, R> =>
  Layer.effect(
    Audit,
    Effect.map(Effect.context<R>(), (context): Wrap => (request, next) =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        Effect.onExit(next, (exit) =>
          Effect.flatMap(Clock.currentTimeMillis, (end) => {
            const entry: AuditEntry = {
              method: request.method,
              target: request.target,
              principal: request.principal,
              sessionId: request.session.sessionId,
              requestId: request.session.requestId,
              ...outcomeOf(exit),
              durationMs: end - start
            }
            return Effect.catchAllCause(
              Effect.provide(hook(entry), context),
              (cause) => Effect.logWarning("McpMiddleware.audit: the hook failed", cause)
            )
          })
        ))
    )
  )
