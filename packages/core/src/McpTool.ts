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
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  jsonSchemaOf,
  messageOf,
  provideHandler
} from "./internal/handler.js"
import { describeParseError } from "./internal/parseError.js"
import * as JsonRpc from "./JsonRpc.js"
import type * as McpSchema from "./McpSchema.js"
import { McpServer, type ToolEntry } from "./McpServer.js"
import type { CurrentSession } from "./McpSession.js"

/** What a tool without an output schema may return: text, one or more content blocks, or a whole result. @since 0.1.0 */
export type Result = string | McpSchema.Content | ReadonlyArray<McpSchema.Content> | McpSchema.CallToolResult

/** One text content block. @since 0.1.0 */
export const text = (text: string): McpSchema.Content => ({ type: "text", text })

/** An image content block from base64 data. @since 0.1.0 */
export const image = (data: string, mimeType: string): McpSchema.Content => ({ type: "image", data, mimeType })

/** A tool result flagged as an error, which the model sees (unlike a protocol error). @since 0.1.0 */
export const error = (message: string): McpSchema.CallToolResult => ({ content: [text(message)], isError: true })

/** Structured content is a JSON object. @since 0.1.0 */
export type StructuredObject = { readonly [key: string]: unknown }

/** @since 0.1.0 */
export interface Options<A, I, E, R, Out> {
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly annotations?: McpSchema.ToolAnnotations | undefined
  /** The arguments' schema; its encoded side becomes the tool's `inputSchema`. */
  readonly input: Schema.Schema<A, I, never>
  readonly handler: (input: A) => Effect.Effect<Out, E, R>
}

/** @since 0.1.0 */
export interface StructuredOptions<A, I, OA, OI extends StructuredObject, E, R> extends Options<A, I, E, R, OA> {
  /** The result's schema: the handler's value is encoded into `structuredContent`, its JSON Schema is the `outputSchema`. */
  readonly output: Schema.Schema<OA, OI, never>
  /** The text content sent alongside `structuredContent`; the JSON of the encoded value by default. */
  readonly text?: ((output: OA) => string) | undefined
}

const toCallToolResult = (result: Result): McpSchema.CallToolResult => {
  if (typeof result === "string") return { content: [text(result)] }
  if ("type" in result) return { content: [result] }
  if ("content" in result) return result
  return { content: result }
}

// SEP-1303 (2025-11-25): invalid arguments are a tool error the model can read and correct, not a protocol error.
const argumentsAreToolErrors = (protocolVersion: string) => protocolVersion >= "2025-11-25"

const makeEntry = <A, I, E, R, Out>(
  name: string,
  options: Options<A, I, E, R, Out>,
  extra: Pick<McpSchema.Tool, "outputSchema">,
  toResult: (out: Out) => Either.Either<McpSchema.CallToolResult, ParseResult.ParseError>
) =>
  Effect.map(Effect.context<Exclude<R, CurrentSession>>(), (context): ToolEntry => {
    const decode = Schema.decodeUnknownEither(options.input)
    const tool: McpSchema.Tool = {
      name,
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.description === undefined ? {} : { description: options.description }),
      inputSchema: jsonSchemaOf(options.input),
      ...extra,
      ...(options.annotations === undefined ? {} : { annotations: options.annotations })
    }
    return {
      tool,
      call: (args, current) => {
        const input = decode(args)
        if (Either.isLeft(input)) {
          const message = `Invalid arguments for tool ${name}: ${describeParseError(input.left)}`
          return argumentsAreToolErrors(current.protocolVersion)
            ? Effect.succeed(error(message))
            : Effect.fail(JsonRpc.invalidParams(message))
        }
        return provideHandler(options.handler(input.right), context, current).pipe(
          Effect.matchCauseEffect({
            onSuccess: (out) => {
              const result = toResult(out)
              return Either.isRight(result) ? Effect.succeed(result.right) : Effect.zipRight(
                Effect.logError(`tool ${name} returned a value its output schema rejects`, result.left),
                Effect.succeed(error(`Tool ${name} produced an invalid result`))
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
                Effect.succeed(error(`Tool ${name} failed with an internal error`))
              )
            }
          })
        )
      }
    }
  })

/**
 * Declares a tool. The handler returns text, content blocks or a whole `CallToolResult`; give `output` to
 * return typed structured content instead. A typed failure becomes a result with `isError: true` (the model sees
 * the message); a `JsonRpcError` failure becomes a protocol error; a defect is logged and reported as an
 * internal error without its details.
 *
 * @since 0.1.0
 */
export const make: {
  <A, I, OA, OI extends StructuredObject, E, R>(
    name: string,
    options: StructuredOptions<A, I, OA, OI, E, R>
  ): Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>>
  <A, I, E, R>(
    name: string,
    options: Options<A, I, E, R, Result>
  ): Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>>
} = <A, I, OA, OI extends StructuredObject, E, R>(
  name: string,
  options: Options<A, I, E, R, Result> | StructuredOptions<A, I, OA, OI, E, R>
): Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    const entry = "output" in options
      ? yield* structuredEntry(name, options)
      : yield* makeEntry(name, options, {}, (out: Result) => Either.right(toCallToolResult(out)))
    yield* server.addTool(entry)
  }))

const structuredEntry = <A, I, OA, OI extends StructuredObject, E, R>(name: string, options: StructuredOptions<A, I, OA, OI, E, R>) => {
  const encode = Schema.encodeEither(options.output)
  const outputSchema = jsonSchemaOf(options.output)
  return makeEntry(name, options, { outputSchema }, (out: OA) =>
    Either.map(encode(out), (encoded): McpSchema.CallToolResult => ({
      content: [text(options.text === undefined ? JSON.stringify(encoded) : options.text(out))],
      structuredContent: encoded
    })))
}
