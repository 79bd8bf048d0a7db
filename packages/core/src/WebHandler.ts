/**
 * MCP on any fetch runtime: a handler from a web-standard `Request` to a `Response` (SSE streamed through a
 * `ReadableStream`), for Deno, Bun, Cloudflare Workers and Next.js route handlers. It answers through the same
 * HTTP front as the Node server (`HttpTransport`), so the same checks apply: `Origin` and `Host`, bearer tokens
 * with `auth`, body limits, and every session and per-client budget.
 *
 * A fetch runtime does not say which address it listens on, so the security defaults are the public ones (any
 * `Host`, same-origin `Origin`): set `security.allowedHosts` (or `loopback: true` for a server on 127.0.0.1
 * only). It does not say who the client is either: pass the peer's address as `info.remoteAddress`, or name the
 * header your platform puts it in with `trustedProxyHeader` (`cf-connecting-ip` on Workers), or every client
 * counts as one for the per-client budgets.
 *
 * With an Effect program, build the handler in its scope with `make` (or `layer`). Without one, `fromLayer` builds
 * it from the server's layer on its own runtime, lazily on the first request, and `dispose` shuts it down:
 *
 * ```ts
 * // Next.js, app/mcp/route.ts (add app/sse and app/messages with the same exports for the legacy transport)
 * const { handler } = WebHandler.fromLayer(ServerLive, { security: { allowedHosts: ["mcp.example.com"] } })
 * const serve = (request: Request) => handler(request)
 * export { serve as DELETE, serve as GET, serve as POST }
 *
 * // Deno
 * const { handler } = WebHandler.fromLayer(ServerLive, { loopback: true })
 * Deno.serve({ hostname: "127.0.0.1", port: 3000 }, (request, info) =>
 *   handler(request, { remoteAddress: info.remoteAddr.hostname }))
 *
 * // Bun: `idleTimeout: 0`, or Bun closes a stream that is quiet for 10 s, before its keep-alive (15 s)
 * const { handler } = WebHandler.fromLayer(ServerLive, { loopback: true })
 * Bun.serve({
 *   hostname: "127.0.0.1",
 *   port: 3000,
 *   idleTimeout: 0,
 *   fetch: (request, server) => handler(request, { remoteAddress: server.requestIP(request)?.address })
 * })
 * ```
 *
 * Sessions live in the memory of the process that serves them: where requests of one client may reach different
 * instances (Workers' isolates, serverless functions), serve `streamable: { stateless: true }`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Body, Exchange, Headers, ResponseHeaders, ResponseStream } from "./HttpExchange.js"
import * as HttpTransport from "./HttpTransport.js"
import * as Shared from "./internal/http/exchange.js"
import * as Front from "./internal/http/front.js"
import * as Refusal from "./internal/http/refusal.js"
import type { McpServer } from "./McpServer.js"
import * as SessionRegistry from "./SessionRegistry.js"

/** @since 0.1.0 */
export interface Options extends HttpTransport.Options {
  /** Session cap, idle expiry and the other session budgets. */
  readonly sessions?: SessionRegistry.Options | undefined
}

/** What the runtime knows about the connection that the `Request` does not carry. @since 0.1.0 */
export interface ConnectionInfo {
  /** The peer's IP address, for per-client budgets (Deno's `info.remoteAddr.hostname`, Bun's `requestIP`). */
  readonly remoteAddress?: string | undefined
}

/**
 * Answers one request. It never rejects once built; the response of a request whose client went away before the
 * answer is a bodiless 499, for a runtime that awaits one anyway.
 *
 * @since 0.1.0
 */
export type Handler = (request: Request, info?: ConnectionInfo) => Promise<Response>

/**
 * The handler built by `layer`.
 *
 * @since 0.1.0
 */
export class WebHandler extends Context.Tag("@effect-mcp/core/WebHandler")<WebHandler, Handler>() {}

/** A handler with a runtime of its own, and what shuts it down. @since 0.1.0 */
export interface Disposable {
  readonly handler: Handler
  /** Drains the sessions (requests in flight get their answers), ends every stream, and closes the sessions. */
  readonly dispose: () => Promise<void>
}

const encoder = new TextEncoder()

/** Counts a stream's queue in bytes, and wants none queued: `desiredSize` is then minus the bytes unread. */
const BYTES: QueuingStrategy<Uint8Array> = { highWaterMark: 0, size: (chunk) => chunk.byteLength }

const SHUTTING_DOWN = new Refusal.ServiceUnavailable({ reason: "the server is shutting down" })

const refusalResponse = (refusal: Refusal.Refusal): Response => {
  const { body, headers, status } = Refusal.toResponse(refusal)
  return new Response(body, { status, headers })
}

const FAILED: Body = { _tag: "Failed" }

/** What a stream is once its exchange closed: nothing more can be written. */
const CLOSED_STREAM: ResponseStream = { write: () => false, end: () => {}, isOpen: false, backlog: 0 }

const headersOf = (request: Request, url: URL): Headers => {
  const headers: Record<string, string> = {}
  request.headers.forEach((value, name) => {
    headers[name] = value
  })
  // A runtime may keep Host out of the headers (it built the URL from it); the front checks it, so it is restored.
  if (!("host" in headers)) headers.host = url.host
  return headers
}

/**
 * An exchange over a web `Request`. The response is a promise settled by the front's first answer; the
 * connection closes when that answer is whole (or its stream ended), when the request's `signal` aborts, or when
 * the runtime cancels the response body (both mean the client went away).
 */
class WebExchange implements Exchange {
  readonly method: string
  readonly url: string
  readonly headers: Headers
  readonly response: Promise<Response>
  /** The response was given to the runtime (a stream's may still be open). */
  private answered = false
  private resolve: (response: Response) => void = () => {}
  private readonly closing = new Shared.CloseSignal()
  /** `readBody` was called: the body has a reader. */
  private bodyTaken = false
  /** Ends the streamed body, if there is one. */
  private endBody: () => void = () => {}
  /** Reads the request body, or discards it; stopped if the exchange closes first. */
  private reading: Fiber.RuntimeFiber<unknown> | undefined = undefined

  constructor(
    readonly request: Request,
    readonly remoteAddress: string | undefined,
    private readonly runFork: <A>(effect: Effect.Effect<A>) => Fiber.RuntimeFiber<A>
  ) {
    const url = new URL(request.url)
    this.method = request.method
    this.url = url.pathname + url.search
    this.headers = headersOf(request, url)
    this.response = new Promise((resolve) => {
      this.resolve = resolve
    })
    const signal = request.signal
    if (signal.aborted) this.close()
    else signal.addEventListener("abort", this.gone, { once: true })
  }

  get closed(): boolean {
    return this.closing.closed
  }

  private readonly gone = () => this.close()

  /** Gives the runtime its response, the first time only. */
  private settle(response: Response): void {
    if (this.answered) return
    this.answered = true
    this.resolve(response)
  }

  private body(): Stream.Stream<Uint8Array, unknown> {
    const body = this.request.body
    return body === null ? Stream.empty : Stream.fromReadableStream({ evaluate: () => body, onError: (error) => error })
  }

  readBody(limit: number, done: (body: Body) => void): void {
    // Its client is gone: no read is started that nothing would stop.
    if (this.closed) return done(FAILED)
    this.bodyTaken = true
    this.reading = this.runFork(Effect.map(Shared.readBody(this.body(), this.headers, limit), (body) => {
      // Read whole: `done` may answer, and closing must not stop the fiber it runs in.
      this.reading = undefined
      done(body)
    }))
  }

  respond(status: number, headers: ResponseHeaders, body?: string): void {
    if (this.closed) return
    this.settle(new Response(body ?? null, { status, headers }))
    this.close()
  }

  stream(headers: ResponseHeaders): ResponseStream {
    if (this.closed) return CLOSED_STREAM
    /** Undefined once nothing more can be written: the stream ended, or its reader cancelled it. */
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c
      },
      cancel: () => {
        controller = undefined
        this.close()
      }
    }, BYTES)
    // Closed rather than errored when the client went away: queued chunks go with the stream, and a runtime still
    // piping it sees an end, not an error to log.
    this.endBody = () => {
      const open = controller
      controller = undefined
      if (open !== undefined) open.close()
    }
    this.settle(new Response(body, { status: 200, headers }))
    // Read, so that a client going away is seen at once (see `discardBody`).
    if (!this.bodyTaken && this.request.body !== null) this.reading = this.runFork(Shared.discardBody(this.body()))
    return {
      write: (chunk) => {
        if (controller === undefined) return false
        controller.enqueue(encoder.encode(chunk))
        return true
      },
      end: () => this.close(),
      get isOpen() {
        return controller !== undefined
      },
      get backlog() {
        return controller === undefined ? 0 : Math.max(0, -(controller.desiredSize ?? 0))
      }
    }
  }

  onClose(f: () => void): void {
    this.closing.onClose(f)
  }

  /** The handler is shutting down: an answer still owed is a 503, a stream still open ends. */
  shutdown(): void {
    if (!this.answered) Front.refuse(this, SHUTTING_DOWN)
    this.close()
  }

  private close(): void {
    if (this.closed) return
    this.request.signal.removeEventListener("abort", this.gone)
    // A body still arriving is read no further (its stream is cancelled): read on, it would hold the request for
    // as long as the client kept sending, after the answer or the shutdown that made it moot.
    this.reading?.unsafeInterruptAsFork(FiberId.none)
    this.endBody()
    // Owed no answer (its client is gone), but the runtime awaits one; a no-op once answered.
    this.settle(new Response(null, { status: 499 }))
    this.closing.close()
  }
}

/**
 * Answers web requests with any HTTP front, in the current scope: closing the scope answers every request still
 * waiting with 503 and ends every open stream, and later requests get 503.
 *
 * @since 0.1.0
 */
export const toHandler = (transport: HttpTransport.HttpTransportService): Effect.Effect<Handler, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    /** Exchanges not yet closed, to settle at shutdown: a request awaited forever would hold its runtime. */
    const live = new Set<WebExchange>()
    let serving = true
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        serving = false
        for (const exchange of live) exchange.shutdown()
        live.clear()
      })
    )
    return (request, info) => {
      if (!serving) return Promise.resolve(refusalResponse(SHUTTING_DOWN))
      const exchange = new WebExchange(request, info?.remoteAddress, runFork)
      if (!exchange.closed) {
        live.add(exchange)
        exchange.onClose(() => live.delete(exchange))
      }
      transport.handle(exchange)
      return exchange.response
    }
  })

/** The registry, the front over it, and the handler, in the current scope. */
const build = Effect.fnUntraced(function*(options: Options) {
  const { sessions, ...front } = options
  const registry = yield* SessionRegistry.make(sessions ?? {})
  const transport = yield* HttpTransport.make(front).pipe(
    Effect.provideService(SessionRegistry.SessionRegistry, registry)
  )
  const handler = yield* toHandler(transport)
  // Runs first on shutdown, while the front still serves (as the Node server's): new sessions get 503, what is
  // in flight gets its answer within the drain period, on streams that are still open. Then the handler settles
  // what is left, the front ends its streams, and the registry closes every session.
  yield* Effect.addFinalizer(() => registry.drain)
  return { handler, registry }
})

/**
 * Builds a session registry and the HTTP front in the current scope, served by the `McpServer` in context, and
 * returns the handler. Closing the scope shuts it down gracefully (see `Disposable.dispose`).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Handler, never, McpServer | Scope.Scope> =>
  Effect.map(build(options), ({ handler }) => handler)

/**
 * The handler as a layer, with its session registry (for metrics and tests).
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<WebHandler | SessionRegistry.SessionRegistry, never, McpServer> =>
  Layer.scopedContext(
    Effect.map(build(options), ({ handler, registry }) =>
      Context.make(WebHandler, handler).pipe(Context.add(SessionRegistry.SessionRegistry, registry)))
  )

/**
 * The handler for a runtime with no Effect program around it (Workers, Next.js, a plain `Deno.serve`): it builds
 * `server` and the handler on a runtime of its own on the first request, and `dispose` shuts them down. If
 * `server` fails to build, every request is rejected with its error.
 *
 * @since 0.1.0
 */
export const fromLayer = <E>(server: Layer.Layer<McpServer, E>, options: Options = {}): Disposable => {
  const runtime = ManagedRuntime.make(layer(options).pipe(Layer.provide(server)))
  let built: Promise<Handler> | undefined
  let disposed = false
  return {
    handler: (request, info) => {
      if (disposed) return Promise.resolve(refusalResponse(SHUTTING_DOWN))
      built ??= runtime.runPromise(WebHandler)
      return built.then((handler) => handler(request, info))
    },
    dispose: () => {
      disposed = true
      return runtime.dispose()
    }
  }
}
