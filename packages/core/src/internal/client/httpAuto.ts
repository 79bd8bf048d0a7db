/**
 * The HTTP transport that finds out what the server speaks: Streamable HTTP, else the HTTP+SSE transport.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as ClientSse from "./sse.js"
import * as ClientStreamableHttp from "./streamableHttp.js"
import type { Connection, Receiver, StreamableHttpOptions } from "./transport.js"

/** The answers to a POSTed `initialize` that mean "not a Streamable HTTP endpoint" (spec, backwards compatibility). */
const LEGACY_HINTS: ReadonlySet<number> = new Set([400, 404, 405])

const pointsToSse = (error: McpClientError): boolean =>
  error.reason === "HttpStatus" && error.status !== undefined && LEGACY_HINTS.has(error.status)

/**
 * Streamable HTTP, or the HTTP+SSE transport when the server turns out to speak only that: the first
 * `initialize` is POSTed to the URL; a 400, 404 or 405 makes the client GET the same URL for an SSE stream whose
 * first event is `endpoint`, and send `initialize` there instead. The choice holds for the life of the transport.
 * @internal
 */
export const make = (options: StreamableHttpOptions) =>
(receiver: Receiver): Effect.Effect<Connection, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const http = yield* HttpClient.HttpClient
    const streamable = yield* ClientStreamableHttp.make(options)(receiver)
    let active: Connection = streamable
    let decided = false

    const fallBack = (message: JsonRpc.Message, streamableError: McpClientError) =>
      Effect.logDebug(
        `MCP server at ${String(options.url)} refused Streamable HTTP (${streamableError.message}); trying HTTP+SSE`
      ).pipe(
        Effect.zipRight(ClientSse.make(options)(receiver)),
        Scope.extend(scope),
        Effect.provideService(HttpClient.HttpClient, http),
        Effect.mapError((sseError) =>
          new McpClientError({
            reason: sseError.reason,
            message: `Neither transport works at ${String(options.url)}. Streamable HTTP: ${streamableError.message}; ` +
              `HTTP+SSE: ${sseError.message}`,
            ...(sseError.status === undefined ? {} : { status: sseError.status }),
            cause: sseError
          })
        ),
        Effect.flatMap((sse) => {
          active = sse
          decided = true
          return sse.send(message)
        })
      )

    const send = (message: JsonRpc.Message): Effect.Effect<void, McpClientError> =>
      Effect.suspend(() => {
        if (decided || !JsonRpc.isRequest(message) || message.method !== "initialize") return active.send(message)
        return streamable.send(message).pipe(
          Effect.tap(() => {
            decided = true
          }),
          Effect.catchIf(pointsToSse, (error) => fallBack(message, error))
        )
      })

    const connection: Connection = {
      send,
      ...(streamable.endpoint === undefined ? {} : { endpoint: streamable.endpoint }),
      initialized: (version) => Effect.suspend(() => active.initialized?.(version) ?? Effect.void),
      reset: Effect.suspend(() => active.reset ?? Effect.succeed(false)),
      sessionId: Effect.suspend(() => active.sessionId ?? Effect.succeedNone),
      close: Effect.suspend(() => active.close ?? Effect.void)
    }
    return connection
  })
