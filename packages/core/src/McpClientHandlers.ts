/**
 * How a client answers the requests a server sends it: sampling (`sampling/createMessage`), elicitation
 * (`elicitation/create`) and roots (`roots/list`), each given as a layer. `McpClient` picks up the ones in its
 * context, and declares in `initialize` exactly the capabilities they cover: a client never announces what it
 * cannot answer.
 *
 * ```ts
 * const Handlers = Layer.mergeAll(
 *   McpClientHandlers.layerSampling((params) =>
 *     Effect.succeed({ role: "assistant", content: { type: "text", text: "..." }, model: "my-model" })),
 *   McpClientHandlers.layerElicitation((params) => Effect.succeed({ action: "decline" })),
 *   McpClientHandlers.layerRoots(Effect.succeed([{ uri: "file:///work/project", name: "project" }]))
 * )
 *
 * const ClientLive = McpClient.layerStreamableHttp({ url }).pipe(Layer.provide(Handlers))
 * ```
 *
 * A handler's typed failure is answered as a JSON-RPC error: a `JsonRpc.JsonRpcError` as it is (e.g. code -1
 * when the user refuses), anything else as -32603 with its message. Params that do not match the method's schema
 * are answered with -32602 before the handler runs. A handler is interrupted when the server cancels its request.
 * A client built with a tracer runs each handler in a server span under the server's request, with the baggage
 * the request brought (`McpTelemetry.baggage`), so what the handler sends on carries it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { ServerRequestHandler } from "./internal/client/options.js"
import { toJsonRpcError } from "./internal/shared/handler.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpSchema from "./McpSchema.js"

/**
 * The client's answer to `sampling/createMessage`.
 *
 * @since 0.1.0
 */
export class Sampling extends Context.Tag("@effect-mcp/core/McpClientHandlers/Sampling")<
  Sampling,
  ServerRequestHandler
>() {}

/**
 * The client's answer to `elicitation/create`.
 *
 * @since 0.1.0
 */
export class Elicitation extends Context.Tag("@effect-mcp/core/McpClientHandlers/Elicitation")<
  Elicitation,
  ServerRequestHandler
>() {}

/** The client's roots: how to list them, and when they change. @since 0.1.0 */
export interface RootsService extends ServerRequestHandler {
  /** Each element is a change of the roots: the client sends `notifications/roots/list_changed` for it. */
  readonly changes: Stream.Stream<unknown>
}

/**
 * The client's answer to `roots/list`, and its announcements of changes.
 *
 * @since 0.1.0
 */
export class Roots extends Context.Tag("@effect-mcp/core/McpClientHandlers/Roots")<Roots, RootsService>() {}

/** Decodes the params with `schema` (-32602 when they do not match), then runs the handler. */
const handling = <P, PI, A, E>(
  method: string,
  schema: Schema.Schema<P, PI, never>,
  handle: (params: P) => Effect.Effect<A, E>
): (params: unknown) => Effect.Effect<A, JsonRpc.JsonRpcError> => {
  const decode = JsonRpc.paramsDecoder(schema)
  const label = `the client's ${method} handler`
  return (raw) => {
    const params = decode(raw)
    return Either.isLeft(params) ? Effect.fail(params.left) : toJsonRpcError(label)(handle(params.right))
  }
}

/** Options of `layerSampling`. @since 0.1.0 */
export interface SamplingOptions {
  /** The handler can let the model use tools (`tools`, `toolChoice`, 2025-11-25): declares `sampling.tools`. */
  readonly tools?: boolean | undefined
  /** The handler honours `includeContext` other than "none": declares `sampling.context`. */
  readonly context?: boolean | undefined
}

/**
 * Answers `sampling/createMessage` with `handler` (asking the user, then a model) and declares `sampling`.
 *
 * @since 0.1.0
 */
export const layerSampling = <E, R>(
  handler: (params: McpSchema.CreateMessageParams) => Effect.Effect<McpSchema.CreateMessageResult, E, R>,
  options: SamplingOptions = {}
): Layer.Layer<Sampling, never, R> =>
  Layer.effect(
    Sampling,
    Effect.map(Effect.context<R>(), (context): ServerRequestHandler => ({
      method: "sampling/createMessage",
      capabilities: {
        sampling: {
          ...(options.context === true ? { context: {} } : {}),
          ...(options.tools === true ? { tools: {} } : {})
        }
      },
      handle: handling("sampling/createMessage", McpSchema.CreateMessageParams, (params) =>
        Effect.provide(handler(params), context))
    }))
  )

/** Options of `layerElicitation`. @since 0.1.0 */
export interface ElicitationOptions {
  /** The handler also takes URL-mode requests (2025-11-25): declares `elicitation.url`. Default false. */
  readonly url?: boolean | undefined
}

/**
 * Answers `elicitation/create` with `handler` (showing the form, or the URL, to the user) and declares
 * `elicitation` with form mode, and URL mode when `url` is set. A URL-mode request without it is answered with
 * -32602.
 *
 * @since 0.1.0
 */
export const layerElicitation = <E, R>(
  handler: (params: McpSchema.ElicitParams) => Effect.Effect<McpSchema.ElicitResult, E, R>,
  options: ElicitationOptions = {}
): Layer.Layer<Elicitation, never, R> =>
  Layer.effect(
    Elicitation,
    Effect.map(Effect.context<R>(), (context): ServerRequestHandler => {
      const url = options.url === true
      return {
        method: "elicitation/create",
        capabilities: { elicitation: url ? { form: {}, url: {} } : { form: {} } },
        handle: handling("elicitation/create", McpSchema.ElicitParams, (params): Effect.Effect<
          McpSchema.ElicitResult,
          E | JsonRpc.JsonRpcError
        > =>
          params.mode === "url" && !url
            ? Effect.fail(JsonRpc.invalidParams("Invalid params: this client does not offer URL-mode elicitation"))
            : Effect.provide(handler(params), context))
      }
    })
  )

/** Options of `layerRoots`. @since 0.1.0 */
export interface RootsOptions<R> {
  /** Each element announces a change of the roots to the server (`notifications/roots/list_changed`). */
  readonly changes?: Stream.Stream<unknown, never, R> | undefined
}

/**
 * Answers `roots/list` with what `roots` gives, and declares `roots` with `listChanged`. Changes are announced by
 * each element of `changes`, or by `McpClient.rootsChanged`.
 *
 * @since 0.1.0
 */
export const layerRoots = <E, R>(
  roots: Effect.Effect<ReadonlyArray<McpSchema.Root>, E, R>,
  options: RootsOptions<R> = {}
): Layer.Layer<Roots, never, R> =>
  Layer.effect(
    Roots,
    Effect.map(Effect.context<R>(), (context): RootsService => ({
      method: "roots/list",
      capabilities: { roots: { listChanged: true } },
      handle: () =>
        toJsonRpcError("the client's roots/list handler")(
          Effect.map(Effect.provide(roots, context), (list): McpSchema.ListRootsResult => ({ roots: list }))
        ),
      changes: options.changes === undefined ? Stream.empty : Stream.provideContext(options.changes, context)
    }))
  )

/**
 * The roots held in a `SubscriptionRef`: `roots/list` reads it, and every change to it is announced.
 *
 * @since 0.1.0
 */
export const layerRootsRef = (ref: SubscriptionRef.SubscriptionRef<ReadonlyArray<McpSchema.Root>>): Layer.Layer<Roots> =>
  // `changes` starts with the current value, which is no change.
  layerRoots(SubscriptionRef.get(ref), { changes: Stream.drop(ref.changes, 1) })
