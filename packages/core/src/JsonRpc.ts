/**
 * JSON-RPC 2.0: the envelope schemas, error codes and the one-pass envelope decoder.
 *
 * The envelope is classified by hand (a few `typeof` checks) rather than by a schema union, because it runs on
 * every message and a union decode would try each branch and build a large error for the common mistakes. The
 * schemas below describe the same shapes for users and for the client, which decodes what servers send.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { describeParseError } from "./internal/shared/parseError.js"

/** JSON-RPC request id. @since 0.1.0 */
export const RequestId = Schema.Union(Schema.String, Schema.Number)
/** @since 0.1.0 */
export type RequestId = typeof RequestId.Type

/** A request: has a method and an id, expects a response. @since 0.1.0 */
export const Request = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  id: RequestId,
  method: Schema.String,
  params: Schema.optional(Schema.Unknown)
})
/** @since 0.1.0 */
export type Request = typeof Request.Type

/** A notification: a method without an id, never answered. @since 0.1.0 */
export const Notification = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  method: Schema.String,
  params: Schema.optional(Schema.Unknown)
})
/** @since 0.1.0 */
export type Notification = typeof Notification.Type

/** The error object carried by an error response. @since 0.1.0 */
export const ErrorObject = Schema.Struct({
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
})
/** @since 0.1.0 */
export type ErrorObject = typeof ErrorObject.Type

/** A successful response. @since 0.1.0 */
export const Success = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  id: RequestId,
  result: Schema.Unknown
})
/** @since 0.1.0 */
export type Success = typeof Success.Type

/** An error response; `id` is null when the request could not be read. @since 0.1.0 */
export const Failure = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  id: Schema.NullOr(RequestId),
  error: ErrorObject
})
/** @since 0.1.0 */
export type Failure = typeof Failure.Type

/** Any response. @since 0.1.0 */
export const Response = Schema.Union(Success, Failure)
/** @since 0.1.0 */
export type Response = Success | Failure

/** Any single JSON-RPC message. @since 0.1.0 */
export const Message = Schema.Union(Request, Notification, Success, Failure)
/** @since 0.1.0 */
export type Message = Request | Notification | Response

/** Standard and MCP error codes. @since 0.1.0 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP: the resource named by a `resources/read` does not exist. */
  ResourceNotFound: -32002,
  /** Not part of JSON-RPC: used in HTTP error bodies for transport-level refusals (unknown session...). */
  ConnectionClosed: -32000
} as const

/**
 * A JSON-RPC error as a typed failure. Handlers fail with it to answer a request with an error response; it is
 * the only error type that crosses the wire.
 *
 * @since 0.1.0
 */
export class JsonRpcError extends Schema.TaggedError<JsonRpcError>()("JsonRpcError", {
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
}) {
  /** The wire form, without the tag. */
  toErrorObject(): ErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }
}

/** @since 0.1.0 */
export const parseError = (message = "Parse error"): JsonRpcError =>
  new JsonRpcError({ code: ErrorCode.ParseError, message })
/** @since 0.1.0 */
export const invalidRequest = (message = "Invalid request"): JsonRpcError =>
  new JsonRpcError({ code: ErrorCode.InvalidRequest, message })
/** @since 0.1.0 */
export const methodNotFound = (method: string): JsonRpcError =>
  new JsonRpcError({ code: ErrorCode.MethodNotFound, message: `Method not found: ${method}` })
/** @since 0.1.0 */
export const invalidParams = (message: string): JsonRpcError =>
  new JsonRpcError({ code: ErrorCode.InvalidParams, message })
/** @since 0.1.0 */
export const internalError = (message = "Internal error"): JsonRpcError =>
  new JsonRpcError({ code: ErrorCode.InternalError, message })

/** True for a request (method and id). @since 0.1.0 */
export const isRequest = (message: Message): message is Request => "method" in message && "id" in message
/** True for a notification (method, no id). @since 0.1.0 */
export const isNotification = (message: Message): message is Notification =>
  "method" in message && !("id" in message)
/** True for a response of either kind. @since 0.1.0 */
export const isResponse = (message: Message): message is Response => !("method" in message)

const isId = (u: unknown): u is RequestId => typeof u === "string" || (typeof u === "number" && Number.isFinite(u))

/**
 * Classifies one parsed JSON value as a JSON-RPC message, or explains why it is not one (-32600).
 *
 * @since 0.1.0
 */
export const decodeMessage = (u: unknown): Either.Either<Message, JsonRpcError> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) {
    return Either.left(invalidRequest("Invalid request: expected a JSON-RPC object"))
  }
  const o = u as { readonly [key: string]: unknown }
  if (o.jsonrpc !== "2.0") {
    return Either.left(invalidRequest("Invalid request: jsonrpc must be \"2.0\""))
  }
  if ("method" in o) {
    if (typeof o.method !== "string") return Either.left(invalidRequest("Invalid request: method must be a string"))
    if ("id" in o && !isId(o.id)) {
      return Either.left(invalidRequest("Invalid request: id must be a string or a number"))
    }
    return Either.right(o as Request | Notification)
  }
  // A response carries exactly one of `result` and `error`; an error object needs its code and its message,
  // which whoever handles the response reads (the client builds its error from them).
  const hasResult = "result" in o
  const hasError = "error" in o
  if (hasResult && !hasError && isId(o.id)) return Either.right(o as Success)
  if (hasError && !hasResult && (o.id === null || isId(o.id)) && isErrorObject(o.error)) {
    return Either.right(o as Failure)
  }
  return Either.left(invalidRequest("Invalid request: not a request, notification or response"))
}

const isErrorObject = (u: unknown): u is ErrorObject =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  "code" in u && typeof u.code === "number" && "message" in u && typeof u.message === "string"

/** The outcome of reading an HTTP body: one message, a batch, or an error to answer with. @since 0.1.0 */
export type Decoded =
  | { readonly _tag: "Single"; readonly message: Message }
  | { readonly _tag: "Batch"; readonly messages: ReadonlyArray<Either.Either<Message, JsonRpcError>> }

/**
 * Parses a body once and classifies its envelope. Params stay undecoded: only the handler of the method called
 * decodes them, with that method's schema.
 *
 * @since 0.1.0
 */
export const decodeBody = (body: string): Either.Either<Decoded, JsonRpcError> => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return Either.left(parseError("Parse error: the body is not valid JSON"))
  }
  if (Array.isArray(json)) {
    if (json.length === 0) return Either.left(invalidRequest("Invalid request: empty batch"))
    return Either.right({ _tag: "Batch", messages: json.map(decodeMessage) })
  }
  return Either.map(decodeMessage(json), (message) => ({ _tag: "Single", message }))
}

/** @since 0.1.0 */
export const success = (id: RequestId, result: unknown): Success => ({ jsonrpc: "2.0", id, result })
/** @since 0.1.0 */
export const failure = (id: RequestId | null, error: JsonRpcError): Failure => ({
  jsonrpc: "2.0",
  id,
  error: error.toErrorObject()
})
/** @since 0.1.0 */
export const notification = (method: string, params?: unknown): Notification =>
  params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params }
/** @since 0.1.0 */
export const request = (id: RequestId, method: string, params?: unknown): Request =>
  params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }

/**
 * Builds a params decoder once per method: it returns the decoded value or a -32602 error naming what is wrong.
 *
 * @since 0.1.0
 */
export const paramsDecoder = <A, I>(
  schema: Schema.Schema<A, I, never>
): (params: unknown) => Either.Either<A, JsonRpcError> => {
  const decode = Schema.decodeUnknownEither(schema)
  return (params) =>
    Either.mapLeft(
      decode(params === undefined ? {} : params),
      (error) => invalidParams(`Invalid params: ${describeParseError(error)}`)
    )
}
