/**
 * What the HTTP transports (Streamable HTTP, HTTP+SSE) share: the body of a POST, the answers to read or
 * drain, status errors, SSE events handed to the receiver.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import type * as Sse from "../../Sse.js"
import * as Auth from "./auth/session.js"
import type { McpAuthError } from "./auth/types.js"
import type { HttpOptions, Receiver } from "./transport.js"
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

/**
 * How a transport sends an HTTP request; `failure` says what could not be done when the server is unreachable.
 * @internal
 */
export type Execute = (
  request: HttpClientRequest.HttpClientRequest,
  failure: string
) => Effect.Effect<HttpClientResponse.HttpClientResponse, McpClientError>

/** An authorization that failed, as the 401 (or 403) the client could not get past. */
const authError = (error: McpAuthError) =>
  new McpClientError({ reason: "HttpStatus", status: error.status === 403 ? 403 : 401, message: error.message, cause: error })

/**
 * The transport's way of sending requests: the `HttpClient` in context, with the client's OAuth (`options.auth`)
 * around it when it has one.
 * @internal
 */
export const executor = (options: HttpOptions, url: URL): Effect.Effect<Execute, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    if (options.auth === undefined) {
      return (request, failure) => Effect.mapError(http.execute(request), transportError(failure))
    }
    const auth = yield* Auth.make(options.auth, url, http)
    return (request, failure) =>
      auth.execute(request).pipe(
        Effect.catchTags({
          McpAuthError: (error) => Effect.fail(authError(error)),
          RequestError: (error) => Effect.fail(transportError(failure)(error)),
          ResponseError: (error) => Effect.fail(transportError(failure)(error))
        })
      )
  })
