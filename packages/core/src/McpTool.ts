/**
 * Declaring tools. A tool is a `Layer` that registers into `McpServer`; its handler's requirements (other than
 * `CurrentSession`, which the server provides per call) become the layer's requirements.
 *
 * ```ts
 * const Echo = McpTool.make("echo", {
 *   description: "Returns its input",
 *   input: Schema.Struct({ text: Schema.String }),
 *   handler: ({ text }) => Effect.succeed(text)
 * })
 * ```
 *
 * A tool can also be defined apart from its handler, as a value the server and its clients share, the way
 * `@effect/rpc` separates a definition from its handlers: `define` gives the definition, `toLayer` (or
 * `implement`) the server's layer, and `McpClient.call` calls it with typed arguments and a decoded result.
 *
 * Two options reach past what Effect Schema derives: `headers` mirrors top-level arguments in `Mcp-Param-*` HTTP
 * headers (SEP-2243, for gateways that route on them), and `jsonSchema` lists a hand-written JSON Schema (for
 * `allOf`, `if`/`then`/`else`, `$anchor`...) while `input` still decodes the arguments.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { makeProvider, messageOf, type Provider } from "./internal/shared/handler.js"
import { type JsonObject, objectSchemas, type ObjectSchemas, SHARED, toDraft07 } from "./internal/shared/jsonSchema.js"
import * as ParamHeaders from "./internal/shared/paramHeaders.js"
import { describeParseError } from "./internal/shared/parseError.js"
import * as Middleware from "./internal/server/middleware.js"
import { currentTaskId } from "./internal/server/tasks.js"
import * as JsonRpc from "./JsonRpc.js"
import type * as McpSchema from "./McpSchema.js"
import { McpServer, type ToolEntry } from "./McpServer.js"
import * as McpMiddleware from "./McpMiddleware.js"
import * as McpTelemetry from "./McpTelemetry.js"
import type { CurrentSession, CurrentSessionService } from "./McpSession.js"
import type { TaskStart, TaskSupport } from "./McpTask.js"
import type { Visibility } from "./McpVisibility.js"

/** What a tool without an output schema may return: text, one or more content blocks, or a whole result. @since 0.1.0 */
export type Result = string | McpSchema.Content | ReadonlyArray<McpSchema.Content> | McpSchema.CallToolResult

/** One text content block. @since 0.1.0 */
export const text = (text: string): McpSchema.Content => ({ type: "text", text })

/** An image content block from base64 data. @since 0.1.0 */
export const image = (data: string, mimeType: string): McpSchema.Content => ({ type: "image", data, mimeType })

/** A tool result flagged as an error, which the model sees (unlike a protocol error). @since 0.1.0 */
export const error = (message: string): McpSchema.CallToolResult => ({ content: [text(message)], isError: true })

/**
 * Names a schema (its `identifier`) and keeps it in the listed JSON Schema's `$defs` (`definitions` for draft-07),
 * behind a `$ref`, instead of inlining it as every other definition that is not recursive is: for a part several
 * fields share, or a client that wants it by name. Use it inside a tool's input or output, e.g.
 * `address: McpTool.shared("address")(Address)`. It sets a `jsonSchema` annotation, so it replaces one the schema had.
 *
 * @since 0.1.0
 */
export const shared = (identifier: string) => <A, I, R>(schema: Schema.Schema<A, I, R>): Schema.Schema<A, I, R> =>
  schema.annotations({ identifier, jsonSchema: { [SHARED]: true } })

/** Structured content is a JSON object. @since 0.1.0 */
export type StructuredObject = { readonly [key: string]: unknown }

/** A tool's listing fields besides its name and schemas. @since 0.1.0 */
export interface Listing {
  /** A display name for people; the model sees `name` and `description`. */
  readonly title?: string | undefined
  readonly description?: string | undefined
  /** Behaviour hints: read-only, destructive, idempotent, open world. */
  readonly annotations?: McpSchema.ToolAnnotations | undefined
  /** Icons a client may show for the tool (2025-11-25). */
  readonly icons?: ReadonlyArray<McpSchema.Icon> | undefined
  /** The tool listing's `_meta`. */
  readonly _meta?: McpSchema.Meta | undefined
  /** Whether calls may become tasks (`McpTask`); 2026-07-28 listings show it as `execution.taskSupport`. */
  readonly taskSupport?: TaskSupport | undefined
  /** When a task-supporting call becomes a task: at once (default), or on `McpTask.escalate`. */
  readonly taskStart?: TaskStart | undefined
}

/** A JSON Schema written by hand, as JSON. @since 0.1.0 */
export type JsonSchema = { readonly [keyword: string]: unknown }

/**
 * The top-level arguments of encoded input `I` a header may mirror: those whose values are strings, numbers or
 * booleans (SEP-2243 allows `string`, `integer` and `boolean` arguments only; a number must be an `Int`).
 *
 * @since 0.1.0
 */
export type HeaderArgument<I> = {
  readonly [K in keyof I]-?: NonNullable<I[K]> extends string | number | boolean ? K : never
}[keyof I] & string

/**
 * Which top-level arguments a `tools/call` mirrors in HTTP headers (SEP-2243, 2026-07-28): argument name to
 * header name, the header being `Mcp-Param-<name>`. For gateways and load balancers that route on an argument
 * (a region, a tenant) without reading the body. Clients send these headers; the server refuses a call whose
 * headers are missing or disagree with its arguments (400, -32020). Never mirror a secret: headers get logged.
 *
 * @since 0.1.0
 */
export type Headers<I> = { readonly [K in HeaderArgument<I>]?: string }

/** What `define` takes for a tool whose results are content. @since 0.1.0 */
export interface DefineOptions<A, I, M extends McpMiddleware.Any = never> extends Listing {
  /**
   * Middleware around every call of this tool, in order (the first outermost), inside the server-wide ones
   * (`McpMiddleware`): what they provide, the handler may use; the tool's layer needs them.
   */
  readonly middleware?: ReadonlyArray<M> | undefined
  /** Which sessions see the tool (`McpVisibility`); the others find it absent from lists and unknown on call. */
  readonly visible?: Visibility | undefined
  /** The arguments' schema; its encoded side becomes the tool's `inputSchema`. */
  readonly input: Schema.Schema<A, I, never>
  /**
   * Arguments mirrored in `Mcp-Param-*` headers, e.g. `{ region: "Region" }`: listed as `x-mcp-header` on the
   * argument's property. Checked when the layer is built: each argument must be a property of the listed input
   * schema, of type string, integer or boolean, and header names must be HTTP tokens, unique ignoring case.
   */
  readonly headers?: Headers<I> | undefined
  /**
   * JSON Schemas to list instead of those derived from `input` (and `output`), for what Effect Schema cannot
   * say: `allOf`, `if`/`then`/`else`, `$anchor`, `dependentRequired`... `input` still decodes the arguments,
   * so the two had better agree: that is yours to keep. Written in JSON Schema 2020-12; sessions of revisions
   * before 2025-11-25 see a draft-07 rendering (`$defs` as `definitions`, `$anchor` as `$id`...).
   */
  readonly jsonSchema?: { readonly input?: JsonSchema | undefined } | undefined
}

/** What `define` takes for a tool with typed structured output. @since 0.1.0 */
export interface StructuredDefineOptions<A, I, OA, OI extends StructuredObject, M extends McpMiddleware.Any = never>
  extends DefineOptions<A, I, M>
{
  /** The result's schema: the handler's value is encoded into `structuredContent`, its JSON Schema is the `outputSchema`. */
  readonly output: Schema.Schema<OA, OI, never>
  /** The text content sent alongside `structuredContent`; the JSON of the encoded value by default. */
  readonly text?: ((output: OA) => string) | undefined
  /** As for content tools, and `output` for the listed `outputSchema` (`output` still encodes the result). */
  readonly jsonSchema?: {
    readonly input?: JsonSchema | undefined
    readonly output?: JsonSchema | undefined
  } | undefined
}

/** A tool's layer: it registers the tool, and needs what its handler needs but `CurrentSession`. @since 0.1.0 */
export type ToolLayer<R> = Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>>

/**
 * A tool without its handler, whose results are content: the server implements it (`toLayer`, `implement`), a
 * client calls it (`McpClient.call`) and gets the whole `CallToolResult`.
 *
 * @since 0.1.0
 */
export interface ContentDefinition<A, I, M extends McpMiddleware.Any = never> extends DefineOptions<A, I, M> {
  readonly name: string
  readonly output?: undefined
  /** The tool's layer, with `handler` answering its calls. */
  readonly toLayer: <E, R>(
    handler: (input: A) => Effect.Effect<Result, E, R>
  ) => ToolLayer<McpMiddleware.Applied<R, M>>
}

/**
 * A tool without its handler, with typed structured output: the server implements it (`toLayer`, `implement`), a
 * client calls it (`McpClient.call`) with typed arguments and gets the decoded output. Both sides can import the
 * same value.
 *
 * @since 0.1.0
 */
export interface Definition<A, I, OA, OI extends StructuredObject, M extends McpMiddleware.Any = never>
  extends StructuredDefineOptions<A, I, OA, OI, M>
{
  readonly name: string
  /** The tool's layer, with `handler` answering its calls. */
  readonly toLayer: <E, R>(handler: (input: A) => Effect.Effect<OA, E, R>) => ToolLayer<McpMiddleware.Applied<R, M>>
}

/** What `make` takes for a tool whose results are content: its definition and handler. @since 0.1.0 */
export interface Options<A, I, E, R, Out, M extends McpMiddleware.Any = never> extends DefineOptions<A, I, M> {
  readonly handler: (input: A) => Effect.Effect<Out, E, R>
}

/** What `make` takes for a tool with typed structured output: its definition and handler. @since 0.1.0 */
export interface StructuredOptions<A, I, OA, OI extends StructuredObject, E, R, M extends McpMiddleware.Any = never>
  extends StructuredDefineOptions<A, I, OA, OI, M>
{
  readonly handler: (input: A) => Effect.Effect<OA, E, R>
}

const toCallToolResult = (result: Result): McpSchema.CallToolResult => {
  if (typeof result === "string") return { content: [text(result)] }
  if ("type" in result) return { content: [result] }
  if ("content" in result) return result
  return { content: result }
}

// SEP-1303 (2025-11-25): invalid arguments are a tool error the model can read and correct, not a protocol error.
const argumentsAreToolErrors = (protocolVersion: string) => protocolVersion >= "2025-11-25"

// A schema JSON Schema cannot express as an object is a bug in the tool's declaration: the layer dies with why.
const schemasOf = <A, I>(
  name: string,
  which: "input" | "output",
  schema: Schema.Schema<A, I, never>,
  handWritten: JsonSchema | undefined
) =>
  Either.match(handWritten === undefined ? objectSchemas(schema) : listedAsWritten(handWritten), {
    onLeft: (reason) => Effect.dieMessage(`Tool ${name}: its ${which} schema cannot be listed: ${reason}`),
    onRight: Effect.succeed
  })

// A hand-written schema is listed as written (2020-12) and in draft-07; a tool's schemas describe objects.
const listedAsWritten = (schema: JsonSchema): Either.Either<ObjectSchemas, string> =>
  schema.type === "object"
    ? Either.right({ "2020-12": schema, "draft-07": toDraft07(schema) })
    : Either.left(`a tool's JSON Schema must have type "object", got ${JSON.stringify(schema.type)}`)

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** One dialect's input schema with the `headers` option written into its properties as `x-mcp-header`. */
const withHeaderKeywords = (
  schema: JsonObject,
  headers: ReadonlyArray<readonly [string, string]>
): Either.Either<JsonObject, string> => {
  if (headers.length === 0) return Either.right(schema)
  const properties: Record<string, unknown> = isObject(schema.properties) ? { ...schema.properties } : {}
  for (const [argument, header] of headers) {
    const property = properties[argument]
    if (!isObject(property)) return Either.left(`headers: ${argument} is not a property of the input schema`)
    properties[argument] = { ...property, [ParamHeaders.KEYWORD]: header }
  }
  return Either.right({ ...schema, properties })
}

/**
 * The listed input schemas with their header declarations, checked by the spec's rules in both dialects (those
 * of the `headers` option, and any `x-mcp-header` a hand-written schema carries).
 */
const withHeaders = (
  name: string,
  schemas: ObjectSchemas,
  option: { readonly [argument: string]: string | undefined } | undefined
): Effect.Effect<ObjectSchemas> => {
  const headers = Object.entries(option ?? {}).flatMap(([argument, header]) =>
    header === undefined ? [] : [[argument, header] as const]
  )
  const checked = (schema: JsonObject) =>
    Either.flatMap(withHeaderKeywords(schema, headers), (listed) => Either.map(ParamHeaders.scan(listed), () => listed))
  const both = Either.flatMap(checked(schemas["2020-12"]), (latest) =>
    Either.map(checked(schemas["draft-07"]), (draft07): ObjectSchemas => ({ "2020-12": latest, "draft-07": draft07 })))
  return Either.match(both, {
    onLeft: (reason) => Effect.dieMessage(`Tool ${name}: its headers cannot be declared: ${reason}`),
    onRight: Effect.succeed
  })
}

const definitionFields = <A, I, M extends McpMiddleware.Any>(name: string, options: DefineOptions<A, I, M>) => ({
  name,
  ...(options.title === undefined ? {} : { title: options.title }),
  ...(options.description === undefined ? {} : { description: options.description }),
  ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  ...(options.icons === undefined ? {} : { icons: options.icons }),
  ...(options._meta === undefined ? {} : { _meta: options._meta }),
  ...(options.headers === undefined ? {} : { headers: options.headers }),
  ...(options.jsonSchema === undefined ? {} : { jsonSchema: options.jsonSchema }),
  ...(options.taskSupport === undefined ? {} : { taskSupport: options.taskSupport }),
  ...(options.taskStart === undefined ? {} : { taskStart: options.taskStart }),
  ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
  ...(options.visible === undefined ? {} : { visible: options.visible }),
  input: options.input
})

/** How a call runs once its middleware let it through: `services` are what the handler is given. */
const callOf = <A, Out, E, R>(
  name: string,
  decode: (args: unknown) => Either.Either<A, ParseError>,
  toResult: (out: Out) => Either.Either<McpSchema.CallToolResult, string>,
  handler: (input: A) => Effect.Effect<Out, E, R>,
  tracing: boolean,
  provide: Provider
) =>
(
  args: unknown,
  current: CurrentSessionService,
  services: Context.Context<never>
): Effect.Effect<McpSchema.CallToolResult, JsonRpc.JsonRpcError> => {
  const input = decode(args)
  if (Either.isLeft(input)) {
    const message = `Invalid arguments for tool ${name}: ${describeParseError(input.left)}`
    return argumentsAreToolErrors(current.protocolVersion)
      ? Effect.succeed(error(message))
      : Effect.fail(JsonRpc.invalidParams(message))
  }
  // With a tracer (decided when the layer is built), the handler has a span of its own under the server's.
  const run = tracing
    ? Effect.withSpan(handler(input.right), `McpTool ${name}`, { captureStackTrace: false })
    : handler(input.right)
  return provide(run, current, services).pipe(
    Effect.matchCauseEffect({
      onSuccess: (out) => {
        const result = toResult(out)
        // The spec has structured results conform to the outputSchema: a result that does not is never sent.
        // It is a tool error rather than a protocol error, as a client can read it (and may retry otherwise),
        // and logged at Warning, not Error: arguments a client chose can produce it (`add` of 1e308 twice).
        return Either.isRight(result) ? Effect.succeed(result.right) : Effect.zipRight(
          Effect.logWarning(`tool ${name} returned a value its output schema rejects: ${result.left}`),
          Effect.succeed(error(`Tool ${name} produced a result that does not conform to its output schema`))
        )
      },
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          const value = failure.value
          // A JsonRpcError is the handler asking for a protocol error on purpose.
          return value instanceof JsonRpc.JsonRpcError ? Effect.fail(value) : Effect.succeed(error(messageOf(value)))
        }
        return Effect.zipRight(
          Effect.logError(`tool ${name} died`, cause),
          // In a task a defect is a protocol-level failure (`failed`, SEP-2663), not a tool result.
          Effect.flatMap(currentTaskId, (task) =>
            task._tag === "Some"
              ? Effect.fail(JsonRpc.internalError())
              : Effect.succeed(error(`Tool ${name} failed with an internal error`)))
        )
      }
    })
  )
}

/** The call behind the tool's own middleware, when it has any; a tool error they raise is its result. */
const guardedCall = (
  name: string,
  chain: McpMiddleware.Step | undefined,
  call: ReturnType<typeof callOf>,
  context: Context.Context<never>
): ToolEntry["call"] => {
  if (chain === undefined) return (args, current) => call(args, current, context)
  const recover = (failure: McpMiddleware.Failure) =>
    failure instanceof Middleware.ToolError ? Effect.succeed(Middleware.toolResult(failure)) : Effect.fail(failure)
  return (args, current) =>
    Effect.catchAll(
      chain(
        Middleware.requestOf("tools/call", { name, arguments: args }, current),
        context,
        (services) => call(args, current, services)
      ),
      recover
    )
}

/**
 * The layer of a tool: its schemas in both dialects are built once, here, and `tools/list` picks one per session.
 * `output` gives the output's schemas (none for content tools), `toResult` turns the handler's value into a result.
 */
const register = <A, I, Out, E, R, M extends McpMiddleware.Any>(
  name: string,
  options: DefineOptions<A, I, M>,
  output: Effect.Effect<ObjectSchemas | undefined>,
  toResult: (out: Out) => Either.Either<McpSchema.CallToolResult, string>,
  handler: (input: A) => Effect.Effect<Out, E, R>
): ToolLayer<McpMiddleware.Applied<R, M>> =>
  // Registered while the layer lives: tearing it down removes the tool, and sessions hear of both.
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    yield* Effect.addFinalizer(() => server.removeTool(name))
    // What the layer was given: what the handler needs but `CurrentSession` and what its middleware provide.
    const context = yield* Effect.context<never>()
    const input = yield* withHeaders(
      name,
      yield* schemasOf(name, "input", options.input, options.jsonSchema?.input),
      options.headers
    )
    const outputSchemas = yield* output
    const decode = Schema.decodeUnknownEither(options.input)
    const tracing = yield* McpTelemetry.isTracing
    const listing = (dialect: keyof ObjectSchemas): McpSchema.Tool => ({
      name,
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.icons === undefined ? {} : { icons: options.icons }),
      inputSchema: input[dialect],
      ...(outputSchemas === undefined ? {} : { outputSchema: outputSchemas[dialect] }),
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
      ...(options._meta === undefined ? {} : { _meta: options._meta })
    })
    yield* server.addTool({
      tool: listing("2020-12"),
      toolDraft07: listing("draft-07"),
      taskSupport: options.taskSupport,
      taskStart: options.taskStart,
      ...(options.visible === undefined ? {} : { visible: options.visible }),
      call: guardedCall(
        name,
        McpMiddleware.chainOf(options.middleware, context),
        callOf(name, decode, toResult, handler, tracing, makeProvider(context)),
        context
      )
    } satisfies ToolEntry)
  }))

/** The JSON text of a value, or undefined when it has none (a bigint, a cycle). */
const toJson = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

const defineContent = <A, I, M extends McpMiddleware.Any>(
  name: string,
  options: DefineOptions<A, I, M>
): ContentDefinition<A, I, M> => ({
  ...definitionFields(name, options),
  toLayer: (handler) =>
    register(name, options, Effect.succeed(undefined), (out: Result) => Either.right(toCallToolResult(out)), handler)
})

const defineStructured = <A, I, OA, OI extends StructuredObject, M extends McpMiddleware.Any>(
  name: string,
  options: StructuredDefineOptions<A, I, OA, OI, M>
): Definition<A, I, OA, OI, M> => {
  const encode = Schema.encodeEither(options.output)
  const decode = Schema.decodeUnknownEither(options.output)
  const format = options.text
  // Checked as the client will read it: JSON turns a non-finite number into null and a Date into a string, so an
  // encoded value can satisfy the schema here and break it on the wire. The JSON is needed for the text anyway.
  const toResult = (out: OA): Either.Either<McpSchema.CallToolResult, string> =>
    Either.flatMap(Either.mapLeft(encode(out), describeParseError), (encoded) => {
      const json = toJson(encoded)
      if (json === undefined) return Either.left("its encoded value is not JSON")
      return Either.match(decode(JSON.parse(json)), {
        onLeft: (error) => Either.left(`as JSON, ${describeParseError(error)}`),
        onRight: () =>
          Either.right({ content: [text(format === undefined ? json : format(out))], structuredContent: encoded })
      })
    })
  return {
    ...definitionFields(name, options),
    output: options.output,
    ...(format === undefined ? {} : { text: format }),
    toLayer: (handler) =>
      register(name, options, schemasOf(name, "output", options.output, options.jsonSchema?.output), toResult, handler)
  }
}

/**
 * Defines a tool without implementing it: its name, listing and schemas, as a value the server and its clients
 * can share. The server implements it with `toLayer(handler)` (or `implement`); a client calls it with
 * `McpClient.call`, with typed arguments, and gets the output decoded (structured tools) or the whole result.
 *
 * ```ts
 * export const Add = McpTool.define("add", {
 *   input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   output: Schema.Struct({ sum: Schema.Number })
 * })
 * const AddLive = Add.toLayer(({ a, b }) => Effect.succeed({ sum: a + b }))
 * const { sum } = yield* client.call(Add, { a: 1, b: 2 })
 * ```
 *
 * @since 0.1.0
 */
export function define<A, I, OA, OI extends StructuredObject, M extends McpMiddleware.Any = never>(
  name: string,
  options: StructuredDefineOptions<A, I, OA, OI, M>
): Definition<A, I, OA, OI, M>
export function define<A, I, M extends McpMiddleware.Any = never>(
  name: string,
  options: DefineOptions<A, I, M>
): ContentDefinition<A, I, M>
export function define<A, I, OA, OI extends StructuredObject, M extends McpMiddleware.Any>(
  name: string,
  options: DefineOptions<A, I, M> | StructuredDefineOptions<A, I, OA, OI, M>
): Definition<A, I, OA, OI, M> | ContentDefinition<A, I, M> {
  return "output" in options ? defineStructured(name, options) : defineContent(name, options)
}

/**
 * Implements a definition: the tool's layer, with `handler` answering its calls. The same as
 * `definition.toLayer(handler)`.
 *
 * @since 0.1.0
 */
export function implement<A, I, OA, OI extends StructuredObject, E, R, M extends McpMiddleware.Any = never>(
  definition: Definition<A, I, OA, OI, M>,
  handler: (input: A) => Effect.Effect<OA, E, R>
): ToolLayer<McpMiddleware.Applied<R, M>>
export function implement<A, I, E, R, M extends McpMiddleware.Any = never>(
  definition: ContentDefinition<A, I, M>,
  handler: (input: A) => Effect.Effect<Result, E, R>
): ToolLayer<McpMiddleware.Applied<R, M>>
export function implement<A, Out, E, R, M extends McpMiddleware.Any>(
  definition: {
    readonly toLayer: <E2, R2>(
      handler: (input: A) => Effect.Effect<Out, E2, R2>
    ) => ToolLayer<McpMiddleware.Applied<R2, M>>
  },
  handler: (input: A) => Effect.Effect<Out, E, R>
): ToolLayer<McpMiddleware.Applied<R, M>> {
  return definition.toLayer(handler)
}

/**
 * Declares a tool: `define` and `implement` in one. The handler returns text, content blocks or a whole
 * `CallToolResult`; give `output` to return typed structured content instead. A typed failure becomes a result
 * with `isError: true` (the model sees the message); a `JsonRpcError` failure becomes a protocol error; a defect
 * is logged and reported as an internal error without its details.
 *
 * @since 0.1.0
 */
export function make<A, I, OA, OI extends StructuredObject, E, R, M extends McpMiddleware.Any = never>(
  name: string,
  options: StructuredOptions<A, I, OA, OI, E, R, M>
): ToolLayer<McpMiddleware.Applied<R, M>>
export function make<A, I, E, R, M extends McpMiddleware.Any = never>(
  name: string,
  options: Options<A, I, E, R, Result, M>
): ToolLayer<McpMiddleware.Applied<R, M>>
export function make<A, I, OA, OI extends StructuredObject, E, R, M extends McpMiddleware.Any>(
  name: string,
  options: Options<A, I, E, R, Result, M> | StructuredOptions<A, I, OA, OI, E, R, M>
): ToolLayer<McpMiddleware.Applied<R, M>> {
  return "output" in options
    ? defineStructured(name, options).toLayer(options.handler)
    : defineContent(name, options).toLayer(options.handler)
}
