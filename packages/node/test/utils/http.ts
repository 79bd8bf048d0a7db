/**
 * Raw HTTP for transport tests, on `node:http` so a test controls every header and can cut the socket at any
 * moment: an SSE reader that records events as they arrive, and a POST that returns status, headers and body.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"

/** One parsed SSE event. */
export interface SseEvent {
  readonly event: string | undefined
  readonly id: string | undefined
  readonly data: string
}

/** How a stream ended, as the client saw it: a clean end of the body, or the connection failing. */
export type StreamEnd = "end" | "error"

export interface SseOptions {
  readonly port: number
  readonly path?: string | undefined
  readonly headers?: Http.OutgoingHttpHeaders | undefined
  /** Default `false`: a connection of its own, closed when the response ends. */
  readonly agent?: Http.Agent | false | undefined
  /** The local address to connect from (another loopback address is another client to per-client budgets). */
  readonly localAddress?: string | undefined
}

interface Waiter {
  readonly predicate: (event: SseEvent) => boolean
  readonly resolve: (event: SseEvent) => void
}

/** SSE parsing and waiting, whatever carries the bytes. */
export abstract class SseReader {
  readonly events: Array<SseEvent> = []
  readonly comments: Array<string> = []
  status: number | undefined = undefined
  /** Resolves when the stream is over, however it ended. */
  readonly ended: Promise<StreamEnd>
  /** The raw body, for the tests on framing. */
  raw = ""
  private buffer = ""
  private waiters: Array<Waiter> = []
  private endedWith: StreamEnd | undefined = undefined
  private resolveEnded!: (end: StreamEnd) => void

  constructor() {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve
    })
  }

  /** Cuts the connection, as a client that crashes or navigates away. */
  abstract destroy(): void

  /** How the stream ended, if it has. */
  get end(): StreamEnd | undefined {
    return this.endedWith
  }

  protected finish(end: StreamEnd): void {
    if (this.endedWith !== undefined) return
    this.endedWith = end
    this.resolveEnded(end)
  }

  /** The first event, past or future, that matches; fails after `timeoutMs`. */
  waitFor(predicate: (event: SseEvent) => boolean, timeoutMs = 5_000): Promise<SseEvent> {
    const found = this.events.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`))
      }, timeoutMs)
      const waiter: Waiter = {
        predicate,
        resolve: (event) => {
          clearTimeout(timer)
          resolve(event)
        }
      }
      this.waiters.push(waiter)
    })
  }

  /** The `endpoint` event's data. */
  endpoint(timeoutMs?: number): Promise<string> {
    return this.waitFor((e) => e.event === "endpoint", timeoutMs).then((e) => e.data)
  }

  /** The JSON-RPC message of the first `message` event that matches. */
  message(predicate: (message: JsonObject) => boolean, timeoutMs?: number): Promise<JsonObject> {
    return this.waitFor((e) => e.event === "message" && predicate(parseObject(e.data)), timeoutMs).then((e) =>
      parseObject(e.data)
    )
  }

  protected push(chunk: string): void {
    this.raw += chunk
    this.buffer += chunk
    let boundary: number
    while ((boundary = this.buffer.indexOf("\n\n")) >= 0) {
      const frame = this.buffer.slice(0, boundary)
      this.buffer = this.buffer.slice(boundary + 2)
      let event: string | undefined
      let id: string | undefined
      const data: Array<string> = []
      let isEvent = false
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) {
          this.comments.push(line.slice(1).trim())
          continue
        }
        const colon = line.indexOf(":")
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
        isEvent = true
        if (field === "event") event = value
        else if (field === "id") id = value
        else if (field === "data") data.push(value)
      }
      if (!isEvent) continue
      const parsed: SseEvent = { event, id, data: data.join("\n") }
      this.events.push(parsed)
      const ready = this.waiters.filter((w) => w.predicate(parsed))
      this.waiters = this.waiters.filter((w) => !ready.includes(w))
      for (const waiter of ready) waiter.resolve(parsed)
    }
  }
}

/** An SSE stream on `node:http`: every header under the test's control; `destroy` cuts the socket. */
export class SseStream extends SseReader {
  headers: Http.IncomingHttpHeaders = {}
  /** Resolves with the response head. */
  readonly response: Promise<Http.IncomingMessage>
  private readonly request: Http.ClientRequest

  constructor(options: SseOptions) {
    super()
    this.request = Http.request({
      host: "127.0.0.1",
      port: options.port,
      method: "GET",
      path: options.path ?? "/sse",
      headers: { accept: "text/event-stream", ...options.headers },
      agent: options.agent ?? false,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress })
    })
    this.response = new Promise((resolve, reject) => {
      this.request.on("response", (response) => {
        this.status = response.statusCode
        this.headers = response.headers
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => this.push(chunk))
        response.on("end", () => this.finish("end"))
        response.on("aborted", () => this.finish("error"))
        response.on("error", () => this.finish("error"))
        resolve(response)
      })
      this.request.on("error", (error) => {
        this.finish("error")
        reject(error)
      })
    })
    // A test that destroys before the response must not see an unhandled rejection.
    this.response.catch(() => undefined)
    this.request.end()
  }

  destroy(): void {
    this.request.destroy()
  }
}

/** An SSE stream read with `fetch` (undici, pooled keep-alive connections); `destroy` aborts it. */
export class FetchSse extends SseReader {
  private readonly controller = new AbortController()

  constructor(port: number, path = "/sse") {
    super()
    fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { accept: "text/event-stream" },
      signal: this.controller.signal
    }).then(async (response) => {
      this.status = response.status
      if (response.body === null) return this.finish("end")
      const decoder = new TextDecoder()
      const reader = response.body.getReader()
      while (true) {
        const { done, value } = await reader.read()
        if (done) return this.finish("end")
        this.push(decoder.decode(value, { stream: true }))
      }
    }).catch(() => this.finish("error"))
  }

  destroy(): void {
    this.controller.abort()
  }
}

export type JsonObject = { readonly [key: string]: unknown }

export const parseObject = (text: string): JsonObject => {
  const value: unknown = JSON.parse(text)
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got ${text}`)
  }
  return value as JsonObject
}

/** Opens a raw SSE stream owned by the current scope (destroyed when it closes). */
export const openSse = (options: SseOptions): Effect.Effect<SseStream, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => new SseStream(options)), (stream) => Effect.sync(() => stream.destroy()))

export interface HttpResult {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

export interface PostOptions {
  readonly port: number
  readonly path: string
  readonly body: string | Buffer
  readonly headers?: Http.OutgoingHttpHeaders | undefined
  /** Send the body chunked, without `Content-Length`. */
  readonly chunked?: boolean | undefined
  readonly method?: string | undefined
  readonly agent?: Http.Agent | false | undefined
  /** Called once the whole request has been handed to the socket. */
  readonly onSent?: (() => void) | undefined
  /** The local address to send from (another loopback address is another client to per-client budgets). */
  readonly localAddress?: string | undefined
}

/** Drops headers set to undefined: a test passes `undefined` to send no such header at all. */
const definedHeaders = (headers: Http.OutgoingHttpHeaders): Http.OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined))

/** One HTTP request (a POST by default) with a JSON content type unless told otherwise. */
export const requestPromise = (options: PostOptions): Promise<HttpResult> =>
  new Promise((resolve, reject) => {
    const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body
    const request = Http.request({
      host: "127.0.0.1",
      port: options.port,
      method: options.method ?? "POST",
      path: options.path,
      agent: options.agent ?? false,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      headers: definedHeaders({
        "content-type": "application/json",
        ...(options.chunked === true ? { "transfer-encoding": "chunked" } : { "content-length": body.length }),
        ...options.headers
      })
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString("utf8")
        }))
      response.on("error", reject)
    })
    // The server may answer (413) and close before the whole body is written.
    request.on("error", reject)
    if (options.onSent !== undefined) request.on("finish", options.onSent)
    if (options.chunked === true && body.length > 0) {
      const half = Math.floor(body.length / 2)
      request.write(body.subarray(0, half))
      request.end(body.subarray(half))
    } else {
      request.end(body)
    }
  })

export const request = (options: PostOptions): Effect.Effect<HttpResult> =>
  Effect.promise(() => requestPromise(options))

/** POSTs one JSON-RPC message (or any JSON value). */
export const postJson = (port: number, path: string, message: unknown, headers?: Http.OutgoingHttpHeaders) =>
  request({ port, path, body: JSON.stringify(message), headers })

/** The JSON-RPC error object of an HTTP error body: no id, a code and a message. */
export const errorBody = (result: HttpResult) => {
  if (!/^application\/json/.test(String(result.headers["content-type"]))) {
    throw new Error(`not a JSON body: ${String(result.headers["content-type"])}`)
  }
  return errorOf(result.body)
}

/** An HTTP error body: a JSON-RPC error response without an id, and without `data`. */
export const errorOf = (text: string): JsonRpc.ErrorObject => {
  const body = Schema.decodeUnknownSync(Schema.Struct({
    jsonrpc: Schema.Literal("2.0"),
    id: Schema.Null,
    error: JsonRpc.ErrorObject
  }))(parseObject(text), { onExcessProperty: "error" })
  return body.error
}

/** A deterministic PRNG (mulberry32), so the churn is the same on every run. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}


export interface BoundedOptions extends PostOptions {
  /** How long the body is read after the response head before the connection is cut (an SSE stream never ends). */
  readonly readMs: number
  /** How long the server has to send a response head; past it the request fails. */
  readonly answerMs: number
}

export interface BoundedResult extends HttpResult {
  /** The body was still open when `readMs` ran out, and the connection was cut. */
  readonly cut: boolean
}

/**
 * One request of any method whose answer is read for a bounded time: a finished body, or what arrived before
 * the cut. Fails when no response head comes in time or the connection fails before one, since a server must
 * answer every request it parsed.
 */
export const boundedRequest = (options: BoundedOptions): Promise<BoundedResult> =>
  new Promise((resolve, reject) => {
    const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body
    let settled = false
    const settle = (f: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(answerTimer)
      f()
    }
    const request = Http.request({
      host: "127.0.0.1",
      port: options.port,
      method: options.method ?? "POST",
      path: options.path,
      agent: options.agent ?? false,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      headers: definedHeaders({
        ...(options.chunked === true ? { "transfer-encoding": "chunked" } : { "content-length": body.length }),
        ...options.headers
      })
    }, (response) => {
      const chunks: Array<Buffer> = []
      const finish = (cut: boolean) =>
        settle(() => {
          clearTimeout(readTimer)
          if (cut) request.destroy()
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            cut
          })
        })
      const readTimer = setTimeout(() => finish(true), options.readMs)
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => finish(false))
      response.on("error", () => finish(true))
      response.on("aborted", () => finish(true))
    })
    const answerTimer = setTimeout(() =>
      settle(() => {
        request.destroy()
        reject(new Error(`${options.method ?? "POST"} ${options.path}: no answer within ${options.answerMs} ms`))
      }), options.answerMs)
    // After the head, a write error (the server answered before reading the whole body) is no failure.
    request.on("error", (error) => settle(() => reject(error)))
    if (options.chunked === true && body.length > 0) {
      const half = Math.floor(body.length / 2)
      request.write(body.subarray(0, half))
      request.end(body.subarray(half))
    } else {
      request.end(body)
    }
  })
