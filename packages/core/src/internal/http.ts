import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as JsonRpc from "../JsonRpc.js"

/** The body limit every SDK uses. @internal */
export const DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024

/**
 * An HTTP error whose body is a JSON-RPC error object without an id.
 * @internal
 */
export const errorResponse = (
  status: number,
  code: number,
  message: string,
  headers?: Readonly<Record<string, string>>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }), {
    status,
    contentType: "application/json",
    ...(headers === undefined ? {} : { headers })
  })

/** @internal */
export const jsonResponse = (
  body: unknown,
  headers?: Readonly<Record<string, string>>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(JSON.stringify(body), {
    contentType: "application/json",
    ...(headers === undefined ? {} : { headers })
  })

const isJsonContentType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const semi = contentType.indexOf(";")
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"))
}

/**
 * Reads a JSON request body, or fails with the response that refuses it: 415 for another content type, 413
 * over the limit (checked from `Content-Length` before reading, and while reading a chunked body), 400 when the
 * body cannot be read.
 * @internal
 */
export const readJsonBody = (
  request: HttpServerRequest.HttpServerRequest,
  maxBodySize: number
): Effect.Effect<string, HttpServerResponse.HttpServerResponse> => {
  if (!isJsonContentType(request.headers["content-type"])) {
    return Effect.fail(
      errorResponse(415, JsonRpc.ErrorCode.InvalidRequest, "Unsupported Media Type: Content-Type must be application/json")
    )
  }
  const tooLarge = errorResponse(
    413,
    JsonRpc.ErrorCode.InvalidRequest,
    `Payload Too Large: the body exceeds ${maxBodySize} bytes`,
    { connection: "close" }
  )
  const length = request.headers["content-length"]
  if (length !== undefined && Number(length) > maxBodySize) return Effect.fail(tooLarge)
  return request.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(maxBodySize)),
    Effect.mapError((error) =>
      error.cause instanceof Error && error.cause.message === "maxBytes exceeded"
        ? tooLarge
        : errorResponse(400, JsonRpc.ErrorCode.ParseError, "Bad Request: the body could not be read")
    )
  )
}
