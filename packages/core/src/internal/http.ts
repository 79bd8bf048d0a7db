import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as JsonRpc from "../JsonRpc.js"
import type { McpServerService } from "../McpServer.js"
import type { Session, Sink } from "../McpSession.js"

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
  const unreadable = errorResponse(400, JsonRpc.ErrorCode.ParseError, "Bad Request: the body could not be read")
  const length = request.headers["content-length"]
  if (length !== undefined) {
    if (Number(length) > maxBodySize) return Effect.fail(tooLarge)
    // The framing holds the body to its declared length, so the limit is only a safety net here.
    return request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBodySize)),
      Effect.mapError((error) =>
        error.cause instanceof Error && error.cause.message === "maxBytes exceeded" ? tooLarge : unreadable
      )
    )
  }
  // A chunked body. Hitting the limit inside `request.text` destroys the request, and with it the socket, so the
  // client would get a reset instead of a 413: past the limit, discard the rest as it arrives, then answer.
  return Effect.suspend(() => {
    const decoder = new TextDecoder()
    let text = ""
    let size = 0
    return request.stream.pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          size += chunk.length
          if (size <= maxBodySize) text += decoder.decode(chunk, { stream: true })
        })
      ),
      Effect.mapError(() => unreadable),
      Effect.flatMap(() => size > maxBodySize ? Effect.fail(tooLarge) : Effect.sync(() => text + decoder.decode()))
    )
  })
}

/**
 * Hands every message of a body to a session, in order: each request and notification runs in a fiber the
 * session owns (so closing the session interrupts it, and the client going away does not). `respond` gets the
 * response of each request and every notification its handler emits.
 *
 * Returns the fibers of the requests, or undefined when the session closed before it took every message (the
 * caller answers 404 then, so nothing it accepted is lost silently).
 * @internal
 */
export const dispatch = (
  server: McpServerService,
  session: Session,
  messages: ReadonlyArray<JsonRpc.Message>,
  respond: Sink
): Array<Fiber.RuntimeFiber<boolean>> | undefined => {
  const fibers: Array<Fiber.RuntimeFiber<boolean>> = []
  for (const message of messages) {
    if (JsonRpc.isRequest(message)) {
      const fiber = session.unsafeRun(Effect.map(server.handleRequest(session, message, respond), respond), message.id)
      if (fiber === undefined) return undefined
      fibers.push(fiber)
    } else if (JsonRpc.isNotification(message)) {
      if (session.unsafeRun(server.handleNotification(session, message)) === undefined) return undefined
    } else {
      // Responses to server-initiated requests: none are sent yet, so only the activity counts.
      if (!session.isOpen) return undefined
      session.touch()
    }
  }
  return fibers
}
