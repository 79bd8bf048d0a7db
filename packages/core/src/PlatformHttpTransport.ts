/**
 * The MCP HTTP front on `@effect/platform`: a route handler that answers platform requests with the same front
 * `@effect-mcp/node` serves from `node:http`, and a layer that mounts it on any `HttpLayerRouter`, beside an
 * app's other routes. Security applies here as everywhere; a loopback bind is read from the `HttpServer` in
 * context.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Exchange, ResponseHeaders, ResponseStream } from "./HttpExchange.js"
import * as HttpSecurity from "./HttpSecurity.js"
import * as HttpTransport from "./HttpTransport.js"
import * as Shared from "./internal/http/exchange.js"
import type { McpServer } from "./McpServer.js"
import * as SessionRegistryModule from "./SessionRegistry.js"
import type { SessionRegistry } from "./SessionRegistry.js"

const isLoopbackAddress = (address: HttpServer.Address): boolean =>
  address._tag === "TcpAddress" && HttpSecurity.isLoopbackHost(address.hostname)

/** Where a platform exchange's streamed body comes from: text chunks, then the end. */
type Chunk = string | null

/**
 * An exchange over an `@effect/platform` request: the response is whatever the front answers first, and the
 * request fiber being interrupted (the client went away) is the connection closing.
 */
const platformExchange = (
  request: HttpServerRequest.HttpServerRequest,
  resume: (response: HttpServerResponse.HttpServerResponse) => void,
  runFork: <A, E>(effect: Effect.Effect<A, E>) => unknown
) => {
  const closing = new Shared.CloseSignal()
  /** `readBody` was called: the body has a reader. */
  let bodyTaken = false
  /** Ends the streamed body, if there is one. */
  let endBody = () => {}
  const close = () => {
    if (closing.closed) return
    endBody()
    closing.close()
  }
  const exchange: Exchange = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    remoteAddress: Option.getOrUndefined(request.remoteAddress),
    readBody: (limit, done) => {
      bodyTaken = true
      runFork(Effect.map(Shared.readBody(request.stream, request.headers, limit), done))
    },
    respond: (status, headers, body) => {
      if (closing.closed) return
      resume(
        body === undefined
          ? HttpServerResponse.empty({ status, headers })
          : HttpServerResponse.text(body, { status, headers, contentType: headers["content-type"] ?? "text/plain" })
      )
      close()
    },
    stream: (headers: ResponseHeaders): ResponseStream => {
      const queue = Effect.runSync(Queue.unbounded<Chunk>())
      endBody = () => {
        Queue.unsafeOffer(queue, null)
      }
      let backlog = 0
      const stream: ResponseStream = {
        write: (chunk) => {
          if (closing.closed) return false
          backlog += chunk.length
          return Queue.unsafeOffer(queue, chunk)
        },
        end: () => {
          if (!closing.closed) Queue.unsafeOffer(queue, null)
        },
        get isOpen() {
          return !closing.closed
        },
        get backlog() {
          return backlog
        }
      }
      const body = Stream.fromQueue(queue).pipe(
        Stream.takeWhile((chunk): chunk is string => chunk !== null),
        Stream.tap((chunk) =>
          Effect.sync(() => {
            backlog -= chunk.length
          })
        ),
        Stream.encodeText,
        Stream.ensuring(Effect.sync(close))
      )
      const { "content-type": contentType, ...rest } = headers
      if (!closing.closed) resume(HttpServerResponse.stream(body, { status: 200, headers: rest, contentType }))
      // Read, so that a client going away is seen at once (see `discardBody`).
      if (!bodyTaken) runFork(Shared.discardBody(request.stream))
      return stream
    },
    onClose: (f) => closing.onClose(f)
  }
  return { exchange, close }
}

/**
 * The front as a platform route handler: it answers every request it is given.
 *
 * @since 0.1.0
 */
export const toHandler = (
  transport: HttpTransport.HttpTransportService
): Effect.Effect<
  (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope>
> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runFork = Runtime.runFork(runtime)
    return (request) =>
      Effect.flatMap(Effect.scope, (scope) =>
        Effect.async<HttpServerResponse.HttpServerResponse>((resume) => {
          const { close, exchange } = platformExchange(request, (response) => resume(Effect.succeed(response)), runFork)
          // The request's scope closes once its response is written, or when the client goes away.
          Effect.runSync(Scope.addFinalizer(scope, Effect.sync(close)))
          transport.handle(exchange)
          // Interrupted: the client went away before the answer.
          return Effect.sync(close)
        }))
  })

/**
 * Mounts the front's paths on an `HttpLayerRouter`, over the `SessionRegistry` in context. The security policy
 * applies here as everywhere; a loopback bind is read from the `HttpServer` in context.
 *
 * @since 0.1.0
 */
export const layerRouter = (
  options: HttpTransport.Options = {}
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | SessionRegistry> =>
  HttpLayerRouter.use((router) =>
    Effect.gen(function*() {
      const server = yield* Effect.serviceOption(HttpServer.HttpServer)
      const transport = yield* HttpTransport.make({
        ...options,
        loopback: options.loopback ?? (Option.isSome(server) && isLoopbackAddress(server.value.address))
      })
      const handler = yield* toHandler(transport)
      for (const path of transport.paths) yield* router.add("*", path, handler)
    })
  )

/**
 * `layerRouter` with its own session registry (served by the `McpServer` in context): everything an
 * `@effect/platform` app needs to serve MCP beside its other routes.
 *
 * ```ts
 * HttpLayerRouter.serve(Layer.mergeAll(PlatformHttpTransport.layer(), MyRoutes)).pipe(
 *   Layer.provide(ServerLive),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000, host: "127.0.0.1" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: HttpTransport.Options & { readonly sessions?: SessionRegistryModule.Options | undefined } = {}
): Layer.Layer<SessionRegistryModule.SessionRegistry, never, HttpLayerRouter.HttpRouter | McpServer> =>
  layerRouter(options).pipe(Layer.provideMerge(SessionRegistryModule.layer(options.sessions ?? {})))
