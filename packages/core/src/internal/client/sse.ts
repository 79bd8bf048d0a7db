/**
 * The HTTP+SSE transport (2024-11-05): one GET event stream, POSTs to the endpoint it names.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { McpClientError } from "../../McpClientError.js"
import type * as Sse from "../../Sse.js"
import type { Connection, HttpOptions, Receiver } from "./transport.js"
import { protocolError, transportError } from "./wire.js"
import { deliverEvent, drain, encodeBody, executor, isSuccess, parseUrl, statusError } from "./http.js"
import * as SseParser from "../shared/sseParser.js"

/**
 * The HTTP+SSE transport (2024-11-05): a GET opens the stream; its `endpoint` event names where to POST
 * messages; every answer arrives on the stream as a `message` event.
 * @internal
 */
export const make = (options: HttpOptions) =>
(receiver: Receiver): Effect.Effect<Connection, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* parseUrl(options.url)
    const execute = yield* executor(options, url)
    const endpoint = yield* Deferred.make<URL, McpClientError>()

    const response = yield* execute(
      HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders({ ...options.headers, accept: "text/event-stream" })
      ),
      `Could not open the SSE stream at ${url.href}`
    )
    if (!isSuccess(response.status)) return yield* statusError(response, false)

    const onEvent = (event: Sse.Event): Effect.Effect<void> => {
      if (event.event === "endpoint") {
        let target: URL
        try {
          target = new URL(event.data, url)
        } catch {
          return Effect.asVoid(Deferred.fail(endpoint, protocolError(`The endpoint event is not a URL: ${event.data}`)))
        }
        // The endpoint must not send our messages (and any credentials in `headers`) to another origin.
        return Deferred.done(
          endpoint,
          target.origin === url.origin
            ? Exit.succeed(target)
            : Exit.fail(protocolError(`The endpoint ${target.href} is not on the origin of ${url.href}`))
        ).pipe(Effect.asVoid)
      }
      return Effect.asVoid(deliverEvent(receiver, event))
    }

    const lost = (error: McpClientError) => Effect.zipRight(Deferred.fail(endpoint, error), receiver.disconnected(error))

    // Interruption is the client closing the stream itself: nothing is lost then.
    const reader = yield* SseParser.decode(response.stream).pipe(
      Stream.runForEach(onEvent),
      Effect.matchCauseEffect({
        onSuccess: () => lost(new McpClientError({ reason: "Transport", message: "The server closed the SSE stream" })),
        onFailure: (cause) => lost(transportError("The SSE stream failed")(Cause.squash(cause)))
      }),
      Effect.forkScoped
    )

    const target = yield* Deferred.await(endpoint)
    const sessionId = Option.fromNullable(target.searchParams.get("session_id") ?? target.searchParams.get("sessionId"))

    const connection: Connection = {
      endpoint: url.href,
      send: (message) =>
        encodeBody(message).pipe(
          Effect.flatMap((body) =>
            execute(HttpClientRequest.post(target, { headers: { ...options.headers }, body }), `Could not POST to ${target.href}`)
          ),
          Effect.flatMap((response) => isSuccess(response.status) ? drain(response) : statusError(response, true))
        ),
      sessionId: Effect.succeed(sessionId),
      close: Fiber.interrupt(reader)
    }
    return connection
  })
