/**
 * The client's side of the requests the server sends it: which handler answers each method (`ping`, the options'
 * handlers, the `McpClientHandlers` layers in context), the capabilities the client declares for them, and the
 * answer to one request, whether it came on its own or embedded in an `input_required` result or a task. Kept
 * apart from the engine that sends the client's own requests: it only ever answers. A client built with a tracer
 * answers each in a server span of the MCP conventions whose parent is the server's span named in the request's
 * `_meta`, with the baggage it brought (`McpTelemetry`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpClientHandlers from "../../McpClientHandlers.js"
import * as McpMethod from "../../McpMethod.js"
import type * as McpSchema from "../../McpSchema.js"
import * as McpTelemetry from "../../McpTelemetry.js"
import * as Methods from "../shared/methods.js"
import * as Telemetry from "../shared/telemetry.js"
import type { Options, ServerRequestHandler } from "./options.js"

/** The tasks extension's identifier (`McpTask.EXTENSION`; not imported, that module is the server's). @internal */
export const TASKS_EXTENSION = Methods.TASKS_EXTENSION

const pingHandler: ServerRequestHandler = { method: "ping", handle: () => Effect.succeed({}) }

const mergeObjects = <A extends object>(a: A | undefined, b: A | undefined): A | undefined =>
  a === undefined ? b : b === undefined ? a : { ...a, ...b }

/** Two capability sets as one; where both have an entry (`roots`, `sampling`...), its fields are merged. */
const mergeCapabilities = (
  a: McpSchema.ClientCapabilities,
  b: McpSchema.ClientCapabilities
): McpSchema.ClientCapabilities => {
  const roots = mergeObjects(a.roots, b.roots)
  const sampling = mergeObjects(a.sampling, b.sampling)
  const elicitation = mergeObjects(a.elicitation, b.elicitation)
  const experimental = mergeObjects(a.experimental, b.experimental)
  const extensions = mergeObjects(a.extensions, b.extensions)
  return {
    // Whatever else either side declares (a later revision's fields) is kept: dropping it, `extensions` among
    // them, would silently withdraw what the options asked to declare as soon as any handler is installed.
    ...a,
    ...b,
    ...(roots === undefined ? {} : { roots }),
    ...(sampling === undefined ? {} : { sampling }),
    ...(elicitation === undefined ? {} : { elicitation }),
    ...(experimental === undefined ? {} : { experimental }),
    ...(extensions === undefined ? {} : { extensions })
  }
}

/**
 * The capabilities to declare: those of each handler, and the options' others. Those of requests the client
 * answers come from handlers only.
 */
const declaredCapabilities = (
  options: Options,
  handlers: Iterable<ServerRequestHandler>
): McpSchema.ClientCapabilities => {
  const { elicitation: _e, roots: _r, sampling: _s, ...others } = options.capabilities ?? {}
  let capabilities: McpSchema.ClientCapabilities = options.tasks === true
    ? mergeCapabilities(others, { extensions: { [TASKS_EXTENSION]: {} } })
    : others
  for (const handler of handlers) capabilities = mergeCapabilities(capabilities, handler.capabilities ?? {})
  return capabilities
}

/** The handlers of one client, and what they make it declare. @internal */
export interface Handlers {
  /** By method: `ping`, then the options' handlers, then the `McpClientHandlers` layers (which win). */
  readonly byMethod: ReadonlyMap<string, ServerRequestHandler>
  /** The roots layer, whose changes a server with sessions is told of. */
  readonly roots: Option.Option<McpClientHandlers.RootsService>
  /** What the client declares: in `initialize`, or in each 2026-07-28 request's `_meta`. */
  readonly capabilities: McpSchema.ClientCapabilities
  /** Whether the server may answer a `tools/call` with a task: the client declared the tasks extension. */
  readonly tasksDeclared: boolean
  /** Whether the client traces (`McpTelemetry.isTracing`, asked once when it is built). */
  readonly traced: boolean
}

/** The handlers of the options and of the `McpClientHandlers` layers in context. @internal */
export const make = Effect.fnUntraced(function*(options: Options) {
  const byMethod = new Map<string, ServerRequestHandler>([["ping", pingHandler]])
  for (const handler of options.handlers ?? []) byMethod.set(handler.method, handler)
  const sampling = yield* Effect.serviceOption(McpClientHandlers.Sampling)
  const elicitation = yield* Effect.serviceOption(McpClientHandlers.Elicitation)
  const roots = yield* Effect.serviceOption(McpClientHandlers.Roots)
  for (const handler of [sampling, elicitation, roots]) {
    if (Option.isSome(handler)) byMethod.set(handler.value.method, handler.value)
  }
  const capabilities = declaredCapabilities(options, byMethod.values())
  const handlers: Handlers = {
    byMethod,
    roots,
    capabilities,
    tasksDeclared: capabilities.extensions?.[TASKS_EXTENSION] !== undefined,
    traced: yield* McpTelemetry.isTracing
  }
  return handlers
})

/** `handler` run on `params`, in a server span when the client traces (`requestId` when it came on its own). */
const handled = (
  handlers: Handlers,
  handler: ServerRequestHandler,
  method: string,
  params: unknown,
  requestId?: JsonRpc.RequestId
): Effect.Effect<unknown, JsonRpc.JsonRpcError> => {
  if (!handlers.traced) return handler.handle(params)
  const { attributes, name } = McpTelemetry.describe(method, params)
  if (requestId !== undefined) attributes[McpTelemetry.Attribute.requestId] = String(requestId)
  return Telemetry.received(name, attributes, params)(handler.handle(params))
}

/**
 * The answer to a request from the server: its handler's result, -32601 without one, -32603 when the handler dies.
 * @internal
 */
export const answer = (handlers: Handlers, request: JsonRpc.Request): Effect.Effect<JsonRpc.Message> => {
  const handler = handlers.byMethod.get(request.method)
  return handler === undefined
    ? Effect.succeed(JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method)))
    : handled(handlers, handler, request.method, request.params, request.id).pipe(
      Effect.map((result) => JsonRpc.success(request.id, result)),
      Effect.catchAll((error) => Effect.succeed(JsonRpc.failure(request.id, error))),
      Effect.catchAllDefect((defect) =>
        Effect.as(
          Effect.logError(`MCP client: the handler of ${request.method} failed`, defect),
          JsonRpc.failure(request.id, JsonRpc.internalError())
        )
      )
    )
}

/** An `InputRequired` error: the server's asks could not be answered, or did not stop. @internal */
export const inputError = (message: string, method?: string, code?: number): McpClientError =>
  new McpClientError({
    reason: "InputRequired",
    message,
    ...(method === undefined ? {} : { method }),
    ...(code === undefined ? {} : { code })
  })

/**
 * The answer to one request a server embedded in `input_required` (or in a task's `inputRequests`), from the
 * handler of that method.
 * @internal
 */
export const answerInput = (
  handlers: Handlers,
  input: { readonly method: string; readonly params?: unknown }
): Effect.Effect<unknown, McpClientError> => {
  // Only the requests an `input_required` result or a task may embed.
  const handler = McpMethod.inputKinds.has(input.method) ? handlers.byMethod.get(input.method) : undefined
  if (handler === undefined) {
    return Effect.fail(
      inputError(`The server asked for ${input.method}, which this client has no handler for`, input.method)
    )
  }
  return handled(handlers, handler, input.method, input.params).pipe(
    Effect.mapError((error) =>
      inputError(`The handler of ${input.method} failed: ${error.message}`, input.method, error.code)
    )
  )
}

/**
 * Answers each of `asks` (key and embedded request) with the handlers, in order: the `inputResponses` to send back.
 * @internal
 */
export const answerInputs = (
  handlers: Handlers,
  asks: Iterable<readonly [string, { readonly method: string; readonly params?: unknown }]>
): Effect.Effect<Record<string, unknown>, McpClientError> =>
  Effect.gen(function*() {
    const responses: Record<string, unknown> = {}
    for (const [key, input] of asks) responses[key] = yield* answerInput(handlers, input)
    return responses
  })
