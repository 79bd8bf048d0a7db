/**
 * What the HTTP transports (Streamable HTTP, legacy HTTP+SSE) share: the body of a POST, the answers to read or
 * drain, status errors, SSE events handed to the receiver.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import type * as Sse from "../../Sse.js"
import type { Receiver } from "./transport.js"
import { deliverText, encodeJson, transportError } from "./wire.js"

/** @internal */
export const parseUrl = (url: string | URL): Effect.Effect<URL, McpClientError> =>
  Effect.try({ try: () => new URL(url), catch: transportError(`Invalid URL: ${String(url)}`) })

const ErrorBody = Schema.parseJson(Schema.Struct({ error: JsonRpc.ErrorObject }))
const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

/**
 * An HTTP error, with the JSON-RPC error of its body when it has one (every MCP server sends one). A 404 to a
 * request made in a session means the server no longer knows it.
 * @internal
 */
export const statusError = (
  response: HttpClientResponse.HttpClientResponse,
  inSession: boolean
): Effect.Effect<never, McpClientError> =>
  Effect.flatMap(Effect.orElseSucceed(response.text, () => ""), (body) => {
    const error = decodeErrorBody(body)
    return Effect.fail(
      new McpClientError({
        reason: inSession && response.status === 404 ? "SessionNotFound" : "HttpStatus",
        status: response.status,
        message: Option.isSome(error)
          ? `HTTP ${response.status}: ${error.value.error.message}`
          : `HTTP ${response.status}${body === "" ? "" : `: ${body.slice(0, 200)}`}`,
        ...(Option.isSome(error) ? { code: error.value.error.code } : {}),
        ...(Option.isSome(error) && error.value.error.data !== undefined ? { data: error.value.error.data } : {})
      })
    )
  })

/** @internal */
export const drain = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  Effect.ignore(response.arrayBuffer)

/** @internal */
export const isSuccess = (status: number): boolean => status >= 200 && status < 300

/** @internal */
export const isEventStream = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").toLowerCase().startsWith("text/event-stream")

/** @internal */
export const isJson = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")

/**
 * Hands the messages of an SSE event to the receiver; other event types and the priming event carry none.
 * @internal
 */
export const deliverEvent = (receiver: Receiver, event: Sse.Event): Effect.Effect<ReadonlyArray<JsonRpc.Message>> =>
  (event.event !== undefined && event.event !== "message") || event.data === ""
    ? Effect.succeed([])
    : deliverText(receiver, event.data)

/**
 * The body of a POST.
 * @internal
 */
export const encodeBody = (message: JsonRpc.Message): Effect.Effect<HttpBody.HttpBody, McpClientError> =>
  Effect.map(encodeJson(message), (json) => HttpBody.text(json, "application/json"))
