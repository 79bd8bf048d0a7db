/**
 * The MCP HTTP front's exchange over a raw `node:http` request and response: the request path of
 * `NodeMcpServer`, with no router, no response stream pipeline and no fiber of its own. Only a handler that runs
 * user code forks a fiber, inside the session.
 *
 * @since 0.1.0
 */
import type { Body, Exchange, Headers, ResponseHeaders, ResponseStream } from "@effect-mcp/core/HttpExchange"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"

/**
 * Bodies over the limit are read and discarded up to this size, so the client finishes sending and reads its
 * 413; past it the connection is closed instead.
 */
const DRAIN_LIMIT = 64 * 1024 * 1024

const TOO_LARGE: Body = { _tag: "TooLarge" }
const FAILED: Body = { _tag: "Failed" }

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

  constructor(readonly request: Http.IncomingMessage, readonly response: Http.ServerResponse) {}

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
    let size = 0
    let first: Buffer | undefined
    let rest: Array<Buffer> | undefined
    let settled = false
    const finish = (body: Body) => {
      if (settled) return
      settled = true
      done(body)
    }
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        first = rest = undefined
        if (size > DRAIN_LIMIT) {
          this.response.shouldKeepAlive = false
          request.pause()
          finish(TOO_LARGE)
        }
        return
      }
      if (first === undefined) first = chunk
      else (rest ??= [first]).push(chunk)
    })
    request.once("end", () => {
      if (size > limit) return finish(TOO_LARGE)
      if (first === undefined) return finish({ _tag: "Text", text: "" })
      finish({ _tag: "Text", text: (rest === undefined ? first : Buffer.concat(rest, size)).toString("utf8") })
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
 * A `node:http` request listener that answers with `handle`.
 *
 * @since 0.1.0
 */
export const listener = (handle: (exchange: Exchange) => void) =>
(request: Http.IncomingMessage, response: Http.ServerResponse): void => {
  // HTTP/1.1 requires Host (RFC 9112 §3.2). Checked here rather than by Node (`requireHostHeader: false` on the
  // server), whose refusal has no body.
  if (request.headers.host === undefined && request.httpVersion === "1.1") {
    return refuseRaw(response, 400, "Bad Request: an HTTP/1.1 request must carry a Host header")
  }
  handle(new NodeExchange(request, response))
}

const refusalBody = (message: string): string =>
  JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: JsonRpc.ErrorCode.InvalidRequest, message } })

const refuseRaw = (response: Http.ServerResponse, status: number, message: string): void => {
  const body = refusalBody(message)
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
  const body = refusalBody(`${reason}: the request is not valid HTTP/1.1`)
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`
  )
}
