/**
 * Declaring prompts. A prompt's arguments are a struct schema whose encoded side is strings (what the wire
 * carries); `prompts/list` shows its fields, and `prompts/get` decodes them before the handler runs. As a tool's, a
 * prompt's own `middleware` run around each `prompts/get` (and each completion of its arguments), and what they
 * provide leaves the handler's requirements: the layer needs the middleware instead.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Middleware from "./internal/server/middleware.js"
import { structFields } from "./internal/shared/handler.js"
import { describeParseError } from "./internal/shared/parseError.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpMiddleware from "./McpMiddleware.js"
import type * as McpSchema from "./McpSchema.js"
import { type Completer, McpServer } from "./McpServer.js"
import type { Visibility } from "./McpVisibility.js"
import type { CurrentSession } from "./McpSession.js"

/** What a prompt returns: one user message of text, messages, or a whole result. @since 0.1.0 */
export type Body = string | McpSchema.PromptMessage | ReadonlyArray<McpSchema.PromptMessage> | McpSchema.GetPromptResult

/** A user message with text content. @since 0.1.0 */
export const user = (text: string): McpSchema.PromptMessage => ({ role: "user", content: { type: "text", text } })

/** An assistant message with text content. @since 0.1.0 */
export const assistant = (text: string): McpSchema.PromptMessage => ({
  role: "assistant",
  content: { type: "text", text }
})

const toResult = (description: string | undefined, body: Body): McpSchema.GetPromptResult => {
  const base = description === undefined ? {} : { description }
  if (typeof body === "string") return { ...base, messages: [user(body)] }
  if ("role" in body) return { ...base, messages: [body] }
  if ("messages" in body) return body
  return { ...base, messages: body }
}

/** Prompt arguments as they travel: strings by name. @since 0.1.0 */
export type Arguments = { readonly [argument: string]: string | undefined }

/**
 * Declares a prompt, registered while the layer lives (sessions hear of it coming and going).
 *
 * @since 0.1.0
 */
export const make = <A, I extends Arguments, E, R, M extends McpMiddleware.Any = never>(name: string, options: {
  /** A display name for people. */
  readonly title?: string | undefined
  readonly description?: string | undefined
  /** Icons a client may show (2025-11-25). */
  readonly icons?: ReadonlyArray<McpSchema.Icon> | undefined
  /** The listing's `_meta`. */
  readonly _meta?: McpSchema.Meta | undefined
  /** Which sessions see it (`McpVisibility`); the others get the error of a prompt that does not exist. */
  readonly visible?: Visibility | undefined
  /**
   * Middleware around every `prompts/get` (and completion) of this prompt, in order (the first outermost), inside
   * the server-wide ones (`McpMiddleware`): what they provide, the handlers may use; the layer needs them.
   */
  readonly middleware?: ReadonlyArray<M> | undefined
  readonly args: Schema.Schema<A, I, never>
  readonly handler: (args: A) => Effect.Effect<Body, E, R>
  /** Completers for `completion/complete`, by argument name. */
  readonly complete?: {
    readonly [K in keyof I]?: (
      value: string,
      context: { readonly [argument: string]: string }
    ) => Effect.Effect<ReadonlyArray<string>, E, R>
  } | undefined
}): Layer.Layer<never, never, McpServer | Exclude<McpMiddleware.Applied<R, M>, CurrentSession>> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    // What the layer was given: what the handler needs but `CurrentSession` and what its middleware provide.
    const context = yield* Effect.context<never>()
    const decode = Schema.decodeUnknownEither(options.args)
    const run = Middleware.itemRunner(McpMiddleware.chainOf(options.middleware, context), context, `prompt ${name}`)
    const ref = { type: "ref/prompt", name }
    const complete: Record<string, Completer> = {}
    for (const [argument, completer] of Object.entries(options.complete ?? {})) {
      if (typeof completer !== "function") continue
      complete[argument] = (value, args, current) =>
        run(completer(value, args), current, () =>
          Middleware.requestOf("completion/complete", { ref, argument: { name: argument, value } }, current))
    }
    const args = structFields(options.args).map((field) => ({
      name: field.name,
      required: field.required,
      ...(field.description === undefined ? {} : { description: field.description })
    }))
    yield* server.addPrompt({
      prompt: {
        name,
        ...(options.title === undefined ? {} : { title: options.title }),
        ...(options.description === undefined ? {} : { description: options.description }),
        ...(options.icons === undefined ? {} : { icons: options.icons }),
        ...(args.length === 0 ? {} : { arguments: args }),
        ...(options._meta === undefined ? {} : { _meta: options._meta })
      },
      complete,
      ...(options.visible === undefined ? {} : { visible: options.visible }),
      get: (raw, current) => {
        const decoded = decode(raw)
        // Decoded first, refused only once the middleware let the call through: they see every call.
        const get: Effect.Effect<Body, E | JsonRpc.JsonRpcError, R> = Either.isLeft(decoded)
          ? Effect.fail(JsonRpc.invalidParams(`Invalid arguments for prompt ${name}: ${describeParseError(decoded.left)}`))
          : options.handler(decoded.right)
        return Effect.map(
          run(get, current, () => Middleware.requestOf("prompts/get", { name, arguments: raw }, current)),
          (body) => toResult(options.description, body)
        )
      }
    })
    yield* Effect.addFinalizer(() => server.removePrompt(name))
  }))
