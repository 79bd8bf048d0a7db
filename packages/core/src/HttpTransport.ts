/**
 * MCP over HTTP: one front for the legacy HTTP+SSE and Streamable HTTP transports. It routes by path, applies
 * the security policy (`Origin`, `Host`) first, answers a method a path does not serve with 405 and `Allow`,
 * and hands the rest to the transport of that path, which shares the front's body reading, decoding, session
 * lookup and refusals.
 *
 * The front answers `HttpExchange`s. `@effect-mcp/node` feeds it straight from `node:http`; `layerRouter`
 * mounts it on an `@effect/platform` `HttpLayerRouter`, so it serves (with the same security) on any server
 * platform has.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Body, Exchange, ResponseHeaders, ResponseStream, Route } from "./HttpExchange.js"
import * as HttpSecurity from "./HttpSecurity.js"
import * as Front from "./internal/front.js"
import * as Refusal from "./internal/refusal.js"
import { SessionRegistry } from "./SessionRegistry.js"
import * as SseTransport from "./SseTransport.js"
import * as StreamableHttpTransport from "./StreamableHttpTransport.js"

/** @since 0.1.0 */
export interface Options {
  /** The Streamable HTTP transport's options (at `/mcp` by default), or `false` to not serve it. */
  readonly streamable?: StreamableHttpTransport.Options | false | undefined
  /** The legacy HTTP+SSE transport's options (at `/sse` and `/messages`), or `false` to not serve it. */
  readonly sse?: SseTransport.Options | false | undefined
  /** Origin and Host checks; default: the `HttpSecurity` options in context. */
  readonly security?: HttpSecurity.Options | undefined
  /**
   * Whether the server listens on a loopback address only, which makes the security defaults loopback-only.
   * Default: read from the `HttpServer` in context when there is one, else false.
   */
  readonly loopback?: boolean | undefined
}

/** @since 0.1.0 */
export interface HttpTransportService {
  /** Answers one exchange; never throws. */
  readonly handle: (exchange: Exchange) => void
  /** The paths served. */
  readonly paths: ReadonlyArray<`/${string}`>
}

/**
 * The HTTP front of a server.
 *
 * @since 0.1.0
 */
export class HttpTransport extends Context.Tag("@effect-mcp/core/HttpTransport")<
  HttpTransport,
  HttpTransportService
>() {}

const isLoopbackAddress = (address: HttpServer.Address): boolean =>
  address._tag === "TcpAddress" && HttpSecurity.isLoopbackHost(address.hostname)

/**
 * Builds the front and its transports in the current scope; closing it ends every stream still open.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const server = yield* Effect.serviceOption(HttpServer.HttpServer)
  const loopback = options.loopback ?? (Option.isSome(server) && isLoopbackAddress(server.value.address))
  const policy = HttpSecurity.make(options.security ?? (yield* HttpSecurity.HttpSecurity), loopback)
  const routes: Array<Route> = []
  if (options.streamable !== false) routes.push(yield* StreamableHttpTransport.make(options.streamable ?? {}))
  if (options.sse !== false) routes.push(...(yield* SseTransport.make(options.sse ?? {})))
  const table = new Map<string, Route>(routes.map((route) => [route.path, route]))

  const handle = (exchange: Exchange): void => {
    const url = exchange.url
    const mark = url.indexOf("?")
    const path = mark < 0 ? url : url.slice(0, mark)
    const route = table.get(path)
    if (route === undefined) return Front.refuse(exchange, new Refusal.NoSuchPath({ path }))
    const reason = policy.check(exchange.headers)
    if (reason !== undefined) return Front.refuse(exchange, new Refusal.Forbidden({ reason }))
    const method = route.methods[exchange.method]
    if (method === undefined) {
      return Front.refuse(
        exchange,
        new Refusal.MethodNotAllowed({
          allow: route.allow ?? Object.keys(route.methods).join(", "),
          reason: `${exchange.method} ${path}`
        })
      )
    }
    method(exchange, mark < 0 ? "" : url.slice(mark + 1))
  }

  return HttpTransport.of({ handle, paths: routes.map((route) => route.path) })
})

/**
 * The front as a layer, over the `SessionRegistry` in context.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<HttpTransport, never, SessionRegistry> =>
  Layer.scoped(HttpTransport, make(options))

// --- On @effect/platform ---------------------------------------------------------------------------------------

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
  const callbacks: Array<() => void> = []
  let closed = false
  /** Ends the streamed body, if there is one. */
  let endBody = () => {}
  const close = () => {
    if (closed) return
    closed = true
    endBody()
    for (const f of callbacks.splice(0)) f()
  }
  const exchange: Exchange = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    readBody: (limit, done) => {
      let size = 0
      const parts: Array<Uint8Array> = []
      // Past the limit the rest is read and dropped, so the client finishes sending and can read the 413.
      runFork(request.stream.pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            size += chunk.length
            if (size <= limit) parts.push(chunk)
          })
        ),
        Effect.match({
          onFailure: (): Body => ({ _tag: "Failed" }),
          onSuccess: (): Body => {
            if (size > limit) return { _tag: "TooLarge" }
            const bytes = new Uint8Array(size)
            let offset = 0
            for (const part of parts) {
              bytes.set(part, offset)
              offset += part.length
            }
            return { _tag: "Text", text: new TextDecoder().decode(bytes) }
          }
        }),
        Effect.map(done)
      ))
    },
    respond: (status, headers, body) => {
      if (closed) return
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
          if (closed) return false
          backlog += chunk.length
          return Queue.unsafeOffer(queue, chunk)
        },
        end: () => {
          if (!closed) Queue.unsafeOffer(queue, null)
        },
        get isOpen() {
          return !closed
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
      if (!closed) resume(HttpServerResponse.stream(body, { status: 200, headers: rest, contentType }))
      return stream
    },
    onClose: (f) => {
      if (closed) f()
      else callbacks.push(f)
    }
  }
  return { exchange, close }
}

/**
 * The front as a platform route handler: it answers every request it is given.
 *
 * @since 0.1.0
 */
export const toHandler = (
  transport: HttpTransportService
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
  options: Options = {}
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | SessionRegistry> =>
  HttpLayerRouter.use((router) =>
    Effect.gen(function*() {
      const transport = yield* make(options)
      const handler = yield* toHandler(transport)
      for (const path of transport.paths) yield* router.add("*", path, handler)
    })
  )
