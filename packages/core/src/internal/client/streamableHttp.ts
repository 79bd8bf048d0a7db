/**
 * The Streamable HTTP transport: a POST a message, its answer as JSON or an event stream, the session's GET
 * stream, and the session id the server gives.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberHandle from "effect/FiberHandle"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import type { Connection, Receiver, StreamableHttpOptions } from "./transport.js"
import { deliverText, protocolError, transportError } from "./wire.js"
import { requestHeaders, ToolHeaders } from "./sessionless.js"
import {
  deliverEvent,
  drain,
  encodeBody,
  executor,
  isEventStream,
  isJson,
  isSuccess,
  parseUrl,
  statusError
} from "./http.js"
import * as SseParser from "../shared/sseParser.js"

/** Where an SSE stream is, so a dropped one can be resumed. */
interface Cursor {
  lastEventId: string | undefined
  /** The server's `retry`: how long to wait before reconnecting. */
  retry: number | undefined
}

const DEFAULT_RETRY = 1000
/** Resumptions in a row that bring nothing new before the client gives up on a stream. */
const MAX_FRUITLESS_RESUMES = 3

/**
 * Headers without the `Mcp-Param-*` namespace, which mirrors arguments only (SEP-2243): a configured one must not
 * stand in for an argument a call does not send.
 */
const withoutParamHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !name.toLowerCase().startsWith("mcp-param-")))

const answers = (request: JsonRpc.Request) => (message: JsonRpc.Message): boolean =>
  JsonRpc.isResponse(message) && message.id === request.id

/** What following the server's SSE streams needs: where their messages go, and a GET resumed after an event. */
interface Streams {
  readonly receiver: Receiver
  readonly get: (lastEventId: string | undefined) => Effect.Effect<HttpClientResponse.HttpClientResponse, McpClientError>
}

/** Hands over the messages of one SSE response until `stop` says so; true when it did. */
const readEvents = (
  receiver: Receiver,
  response: HttpClientResponse.HttpClientResponse,
  cursor: Cursor,
  stop: (message: JsonRpc.Message) => boolean
): Effect.Effect<boolean, McpClientError> => {
  let stopped = false
  return SseParser.decode(response.stream).pipe(
    Stream.runForEachWhile((event) => {
      if (event.id !== undefined) cursor.lastEventId = event.id
      if (event.retry !== undefined) cursor.retry = event.retry
      return Effect.map(deliverEvent(receiver, event), (messages) => !(stopped = messages.some(stop)))
    }),
    Effect.mapError(transportError("The SSE stream failed")),
    Effect.map(() => stopped)
  )
}

/** Follows a POST's SSE stream, across resumptions, until the answer to `request`. */
const awaitAnswer = (
  streams: Streams,
  first: HttpClientResponse.HttpClientResponse,
  request: JsonRpc.Request
): Effect.Effect<void, McpClientError> =>
  Effect.gen(function*() {
    const cursor: Cursor = { lastEventId: undefined, retry: undefined }
    let response = first
    let fruitless = 0
    while (true) {
      const before = cursor.lastEventId
      const read = yield* Effect.either(readEvents(streams.receiver, response, cursor, answers(request)))
      if (Either.isRight(read) && read.right) return
      fruitless = cursor.lastEventId === before ? fruitless + 1 : 0
      // Without an event id there is nothing to resume from.
      if (cursor.lastEventId === undefined || fruitless >= MAX_FRUITLESS_RESUMES) {
        return yield* Either.isLeft(read) ? read.left : new McpClientError({
          reason: "Transport",
          message: `The response ended before the answer to ${request.method}`
        })
      }
      yield* Effect.sleep(cursor.retry ?? DEFAULT_RETRY)
      response = yield* streams.get(cursor.lastEventId)
      if (!isSuccess(response.status)) return yield* statusError(response, true)
      if (!isEventStream(response)) {
        yield* drain(response)
        return yield* protocolError("The server resumed a stream with something other than an SSE stream")
      }
    }
  })

/** A JSON answer to `request`, handed over; a response without it is a `Protocol` error. */
const readJson = (
  receiver: Receiver,
  response: HttpClientResponse.HttpClientResponse,
  request: JsonRpc.Request
): Effect.Effect<void, McpClientError> =>
  response.text.pipe(
    Effect.mapError(transportError("Could not read the response")),
    Effect.flatMap((text) => deliverText(receiver, text)),
    Effect.flatMap((messages) =>
      messages.some(answers(request))
        ? Effect.void
        : Effect.fail(protocolError(`The response does not answer ${request.method}`))
    )
  )

/**
 * The standalone stream: reopened while the session lives (resumed when the server numbers its events);
 * given up when the server does not offer one (405) or the session is gone.
 */
const standaloneStream = (streams: Streams): Effect.Effect<void> =>
  Effect.gen(function*() {
    const cursor: Cursor = { lastEventId: undefined, retry: undefined }
    while (true) {
      const response = yield* streams.get(cursor.lastEventId)
      if (!isSuccess(response.status) || !isEventStream(response)) return yield* drain(response)
      yield* Effect.ignore(readEvents(streams.receiver, response, cursor, () => false))
      yield* Effect.sleep(cursor.retry ?? DEFAULT_RETRY)
    }
  }).pipe(
    // A server that cannot be reached now is found out by the next request; the stream is a bonus.
    Effect.catchAll((error) => Effect.logDebug("MCP standalone stream ended", error))
  )

/**
 * The Streamable HTTP transport (2025-03-26 and later): a POST per message; a request's answer is the POST's
 * response, as JSON or as an SSE stream that may carry notifications about the request first. A stream that
 * drops before the answer is resumed with `Last-Event-ID` when the server numbers its events (2025-11-25 servers
 * may also end a stream early on purpose, SEP-1699). Messages the server starts come on a GET stream, held open
 * while the session lives.
 * @internal
 */
export const make = (options: StreamableHttpOptions) =>
(engine: Receiver): Effect.Effect<Connection, McpClientError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    // What tools/list answers say about the tools' Mcp-Param-* headers is read on the way to the engine.
    const toolHeaders = new ToolHeaders()
    const receiver: Receiver = {
      receive: (message) => Effect.suspend(() => {
        toolHeaders.received(message)
        return engine.receive(message)
      }),
      disconnected: engine.disconnected
    }
    const url = yield* parseUrl(options.url)
    const executeHttp = yield* executor(options, url)
    const standalone = yield* FiberHandle.make<void, never>()
    let sessionId: string | undefined
    let protocolVersion: string | undefined

    const headers = (): Record<string, string> => ({
      ...options.headers,
      accept: "application/json, text/event-stream",
      ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
      ...(protocolVersion === undefined ? {} : { "mcp-protocol-version": protocolVersion })
    })

    const execute = (request: HttpClientRequest.HttpClientRequest) => executeHttp(request, `Could not reach ${url.href}`)

    const get = (lastEventId: string | undefined) =>
      execute(HttpClientRequest.get(url).pipe(
        HttpClientRequest.setHeaders(headers()),
        HttpClientRequest.setHeader("accept", "text/event-stream"),
        lastEventId === undefined ? identity : HttpClientRequest.setHeader("last-event-id", lastEventId)
      ))

    const streams: Streams = { receiver, get }
    const listen = standaloneStream(streams)

    const send = (message: JsonRpc.Message): Effect.Effect<void, McpClientError> =>
      Effect.gen(function*() {
        const body = yield* encodeBody(message)
        const sentWith = sessionId
        // A sessionless (2026-07-28) request mirrors its method, name and version in headers; it has no session.
        const mirrored = requestHeaders(message)
        toolHeaders.sent(message)
        const response = yield* execute(
          HttpClientRequest.post(url, {
            headers: mirrored === undefined
              ? headers()
              : { ...withoutParamHeaders(headers()), ...mirrored, ...toolHeaders.headersOf(message) },
            body
          })
        )
        if (!isSuccess(response.status)) return yield* statusError(response, sentWith !== undefined)
        if (!JsonRpc.isRequest(message)) return yield* drain(response)
        if (message.method === "initialize") sessionId = response.headers["mcp-session-id"]
        if (isEventStream(response)) return yield* awaitAnswer(streams, response, message)
        if (isJson(response)) return yield* readJson(receiver, response, message)
        yield* drain(response)
        return yield* protocolError(
          response.status === 202
            ? `The server accepted ${message.method} without answering it`
            : `Unexpected response content type: ${response.headers["content-type"] ?? "(none)"}`
        )
      })

    const connection: Connection = {
      send,
      endpoint: url.href,
      initialized: (version) =>
        Effect.suspend(() => {
          protocolVersion = version
          return options.standaloneStream === false || sessionId === undefined
            ? Effect.void
            : Effect.asVoid(FiberHandle.run(standalone, listen))
        }),
      reset: Effect.zipRight(
        FiberHandle.clear(standalone),
        Effect.sync(() => {
          sessionId = undefined
          protocolVersion = undefined
          return true
        })
      ),
      sessionId: Effect.sync(() => Option.fromNullable(sessionId)),
      // DELETE ends the session on the server; a 405 (the server does not offer it) or a failure changes nothing
      // for us, and a server that does not answer must not hold up the release of the client.
      close: Effect.zipRight(
        FiberHandle.clear(standalone),
        Effect.suspend(() => {
          if (sessionId === undefined) return Effect.void
          return execute(HttpClientRequest.del(url).pipe(HttpClientRequest.setHeaders(headers()))).pipe(
            Effect.flatMap(drain),
            Effect.timeout(Duration.seconds(5)),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => {
              sessionId = undefined
            }))
          )
        })
      )
    }
    return connection
  })
