/**
 * The MCP HTTP front's exchange over a raw `node:http` request and response: the request path of
 * `NodeMcpServer`, with no router, no response stream pipeline and no fiber of its own. Only a handler that runs
 * user code forks a fiber, inside the session.
 *
 * @since 0.1.0
 */
import type * as Budget from "@effect-mcp/core/Budget"
import { addressOf, clientOf, type Pool, RETRY_AFTER_SECONDS, type Shortfall } from "@effect-mcp/core/Budget"
import {
  type Body,
  BodyBuffer,
  declaredLength,
  type Exchange,
  type Headers,
  type ResponseHeaders,
  type ResponseStream
} from "@effect-mcp/core/HttpExchange"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import { budgetRefusal, rawResponse, refusalBody } from "./internal/limits.js"

/**
 * Bodies over the limit are read and discarded up to this size, so the client finishes sending and reads its
 * 413; past it the connection is closed instead.
 */
const DRAIN_LIMIT = 64 * 1024 * 1024

const TOO_LARGE: Body = { _tag: "TooLarge" }
const FAILED: Body = { _tag: "Failed" }
const EMPTY: Body = { _tag: "Text", text: "" }

/**
 * Tells the server's log that a client was refused by a budget (see `Budget.logRefusals`).
 *
 * @since 0.1.0
 */
export type OnRefused = Budget.OnRefused

/**
 * The budget of request bodies still arriving: what every unfinished body holds is taken from `pool` as it grows,
 * for the server and for its client, and given back when the body is complete, fails or its connection closes.
 *
 * @since 0.1.0
 */
export interface BodyBudget {
  readonly pool: Pool
  /** The header a trusted reverse proxy names the client's address in (see `Budget.addressOf`). */
  readonly proxyHeader: string | undefined
  readonly onRefused: OnRefused
}

/** Skips zero-filling: a body buffer is written before it is read. Unpooled, so what is counted is what is held. */
const allocate = (size: number): Uint8Array => Buffer.allocUnsafeSlow(size)

const utf8 = (bytes: Uint8Array): string =>
  (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString("utf8")

const BODY_REFUSED: Readonly<Record<Shortfall, { readonly status: number; readonly body: string }>> = {
  server: budgetRefusal("server", "the server is receiving too many request bodies at once"),
  client: budgetRefusal("client", "this client is sending too many request bodies at once")
}

const BODY_REFUSED_HEADERS: ResponseHeaders = {
  "content-type": "application/json",
  "retry-after": String(RETRY_AFTER_SECONDS),
  connection: "close"
}

/**
 * An exchange for one request.
 *
 * @since 0.1.0
 */
export class NodeExchange implements Exchange {
  private callbacks: Array<() => void> | undefined = undefined
  private finished = false
  /** `readBody` was called: the body has a reader. */
  private bodyTaken = false

  constructor(
    readonly request: Http.IncomingMessage,
    readonly response: Http.ServerResponse,
    /** Where an unfinished body's bytes are counted; none, uncounted. */
    private readonly budget?: BodyBudget | undefined
  ) {}

  get method(): string {
    return this.request.method ?? "GET"
  }

  get url(): string {
    return this.request.url ?? "/"
  }

  get headers(): Headers {
    return this.request.headers
  }

  get remoteAddress(): string | undefined {
    return this.request.socket.remoteAddress
  }

  /** True once the response ended or the connection went. */
  private get closed(): boolean {
    return this.finished || this.response.destroyed || this.response.writableEnded
  }

  readBody(limit: number, done: (body: Body) => void): void {
    const request = this.request
    this.bodyTaken = true
    const declared = request.headers["content-length"]
    const length = declared === undefined ? undefined : Number(declared)
    if (length !== undefined && length > DRAIN_LIMIT) {
      // Not worth reading: answer, and let the connection close behind the answer.
      this.response.shouldKeepAlive = false
      return done(TOO_LARGE)
    }
    const budget = this.budget
    // Known only once there is a request: the proxy's header names the client.
    const client = budget === undefined
      ? undefined
      : clientOf(addressOf(request.socket.remoteAddress, request.headers, budget.proxyHeader), undefined)
    const expected = declaredLength(request.headers, limit)
    const body = new BodyBuffer(limit, expected, allocate)
    let size = 0
    /** What this body has taken from the budget. */
    let taken = 0
    let settled = false
    const release = () => {
      if (budget !== undefined && taken > 0) budget.pool.give(client, taken)
      taken = 0
    }
    const finish = (result: Body) => {
      if (settled) return
      settled = true
      body.clear()
      release()
      done(result)
    }
    /** Takes what holding `held` bytes needs beyond what is taken; refuses the request when it cannot. */
    const reserve = (held: number): boolean => {
      if (budget === undefined || held <= taken) return true
      const shortfall = budget.pool.take(client, held - taken)
      if (shortfall === undefined) {
        taken = held
        return true
      }
      budget.onRefused(budget.pool, shortfall, client)
      refused = BODY_REFUSED[shortfall]
      body.clear()
      release()
      // The rest is read and dropped, holding nothing, and the answer goes out once the client has sent it all:
      // answered mid-body, a client still writing gets a reset instead of its answer.
      return false
    }
    let refused: { readonly status: number; readonly body: string } | undefined
    const refuse = () => {
      if (refused !== undefined) this.respond(refused.status, BODY_REFUSED_HEADERS, refused.body)
      // The front answers a failed body too; the exchange is closed by then, so that answer goes nowhere.
      finish(FAILED)
    }
    // A declared length is reserved before anything is read: a body that cannot fit is refused at once.
    if (expected !== undefined) reserve(expected)
    request.on("data", (chunk: Buffer) => {
      if (settled) return
      size += chunk.length
      if (refused !== undefined) {
        // Not worth reading further: answer now, and the connection closes behind the answer.
        if (size > DRAIN_LIMIT) {
          request.pause()
          refuse()
        }
        return
      }
      if (size > limit) {
        body.clear()
        release()
        if (size > DRAIN_LIMIT) {
          this.response.shouldKeepAlive = false
          request.pause()
          finish(TOO_LARGE)
        }
        return
      }
      if (reserve(body.heldAfter(chunk.length))) body.append(chunk)
    })
    request.once("end", () => {
      if (refused !== undefined) return refuse()
      if (size > limit) return finish(TOO_LARGE)
      finish(size === 0 ? EMPTY : { _tag: "Text", text: utf8(body.bytes()) })
    })
    request.once("error", () => finish(FAILED))
    request.once("close", () => {
      if (!request.complete) finish(FAILED)
    })
  }

  respond(status: number, headers: ResponseHeaders, body?: string): void {
    if (this.closed) return
    const response = this.response
    response.statusCode = status
    // Headers set one by one (not `writeHead`), so `end` can still compute Content-Length.
    for (const name in headers) response.setHeader(name, headers[name]!)
    response.end(body)
    this.close()
  }

  stream(headers: ResponseHeaders): ResponseStream {
    const response = this.response
    const open = !this.closed
    if (open) {
      response.writeHead(200, headers)
      response.flushHeaders()
      this.watch()
      // A body nobody reads (a GET may carry one) fills the request's buffer, and Node then stops reading the
      // socket: a client that goes away is not seen until a write fails, which on an idle stream is the next
      // keep-alive. Discarding it keeps the socket read, so the close is seen at once.
      if (!this.bodyTaken) this.request.resume()
    }
    const exchange = this
    return {
      write: (chunk) => {
        if (exchange.closed) return false
        response.write(chunk)
        return true
      },
      end: () => {
        if (!exchange.closed) response.end()
        exchange.close()
      },
      get isOpen() {
        return !exchange.closed
      },
      get backlog() {
        return response.writableLength
      }
    }
  }

  onClose(f: () => void): void {
    if (this.closed) return f()
    if (this.callbacks === undefined) {
      this.callbacks = []
      this.watch()
    }
    this.callbacks.push(f)
  }

  private watching = false

  /** Listens for the connection closing; only streams and exchanges with callbacks need to. */
  private watch(): void {
    if (this.watching) return
    this.watching = true
    this.response.once("close", () => this.close())
  }

  private close(): void {
    this.finished = true
    const callbacks = this.callbacks
    if (callbacks === undefined) return
    this.callbacks = undefined
    for (const f of callbacks) f()
  }
}

/**
 * A `node:http` request listener that answers with `handle`, counting unfinished bodies in `budget` when given.
 *
 * @since 0.1.0
 */
export const listener = (handle: (exchange: Exchange) => void, budget?: BodyBudget | undefined) =>
(request: Http.IncomingMessage, response: Http.ServerResponse): void => {
  // A connection refused over the connection cap was answered and ended already: nothing can carry an answer.
  if (request.socket.writableEnded) return
  // HTTP/1.1 requires Host (RFC 9112 §3.2). Checked here rather than by Node (`requireHostHeader: false` on the
  // server), whose refusal has no body.
  if (request.headers.host === undefined && request.httpVersion === "1.1") {
    return refuseRaw(response, 400, "Bad Request: an HTTP/1.1 request must carry a Host header")
  }
  handle(new NodeExchange(request, response, budget))
}

const refuseRaw = (response: Http.ServerResponse, status: number, message: string): void => {
  const body = refusalBody(JsonRpc.ErrorCode.InvalidRequest, message)
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    connection: "close"
  })
  response.end(body)
}

const PARSER_REFUSALS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout"],
  ERR_HTTP_HEADERS_TIMEOUT: [408, "Request Timeout"]
}

const codeOf = (error: Error): string | undefined =>
  "code" in error && typeof error.code === "string" ? error.code : undefined

/**
 * A `node:http` `clientError` listener: what Node's parser refuses before any request exists (a malformed
 * request line or header, an unknown method, headers past the limit, a request too slow to arrive) gets a status
 * and a JSON-RPC error body, as the front answers bad input, instead of Node's bare 400.
 *
 * @since 0.1.0
 */
export const clientError = (error: Error, socket: Duplex): void => {
  const code = codeOf(error)
  // A reset connection has no one to answer; a response already under way cannot be followed by another.
  const started: unknown = Reflect.get(socket, "_httpMessage")
  if (code === "ECONNRESET" || !socket.writable || (typeof started === "object" && started !== null)) {
    socket.destroy()
    return
  }
  const [status, reason] = (code === undefined ? undefined : PARSER_REFUSALS[code]) ?? [400, "Bad Request"]
  socket.end(
    rawResponse(status, reason, refusalBody(JsonRpc.ErrorCode.InvalidRequest, `${reason}: the request is not valid HTTP/1.1`))
  )
}
