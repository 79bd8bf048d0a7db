/**
 * Just enough HTTP for the soak's clients, on raw `node:http` so a cycle can cut a connection at any moment: a
 * request read to its end (JSON or a finite SSE body), and an SSE connection that stays open and can be awaited
 * for events. Every wait is bounded; everything targets 127.0.0.1.
 */
import type * as http from "node:http"
import {
  eventStreamMessages,
  isJsonObject,
  type JsonObject,
  openRequest,
  readReply,
  type Reply,
  SseParser,
  type SseEvent,
  type Target
} from "../../harness/http.js"

/** How long any one answer may take. Generous: the soak runs beside other work on a small machine. */
export const TIMEOUT_MS = 20_000
export const ACCEPT_BOTH = "application/json, text/event-stream"

export class SoakError extends Error {
  constructor(
    readonly category: string,
    readonly detail: string,
    /** The HTTP status that made the cycle fail, when one did: a 404 may be a session the server expired. */
    readonly status?: number
  ) {
    super(`${category}: ${detail}`)
  }
}

/** A connection that failed, named by its error code and by what it carried. */
const connectionError = (what: string) => (error: unknown): SoakError => {
  const code = error instanceof Error && "code" in error ? String(error.code) : "failed"
  return new SoakError(`connection: ${code}`, `${what}: ${error instanceof Error ? error.message : String(error)}`)
}

export interface RequestOptions extends Target {
  readonly body?: string | undefined
}

/** One request, its response read to the end. */
export const send = (options: RequestOptions): Promise<Reply> => {
  const what = `${options.method} ${options.path}`
  return readReply(options, options.body, TIMEOUT_MS, (failure) => {
    switch (failure.stage) {
      case "timeout":
        return new SoakError("timeout", what)
      case "aborted":
        return new SoakError("connection: aborted", what)
      case "request":
        return connectionError(what)(failure.error)
      case "response":
        return connectionError(`${what}, response`)(failure.error)
    }
  })
}

/** The JSON-RPC messages of a finished response body, JSON or SSE. */
export const messagesOf = (reply: Reply): Array<JsonObject> => {
  const contentType = String(reply.headers["content-type"] ?? "")
  const values = contentType.startsWith("text/event-stream")
    ? eventStreamMessages(reply.body)
    : reply.body === ""
    ? []
    : [JSON.parse(reply.body)].flat()
  return values.filter(isJsonObject)
}

interface Waiter {
  readonly predicate: (message: JsonObject) => boolean
  readonly resolve: (message: JsonObject) => void
}

/**
 * A GET that stays open: an SSE stream on a connection of its own, so `destroy` is a client going away. Messages
 * are kept until the stream ends, and can be awaited.
 */
export class SseConnection {
  status: number | undefined = undefined
  headers: http.IncomingHttpHeaders = {}
  /** The `endpoint` event's data (legacy SSE). */
  endpoint: string | undefined = undefined
  readonly messages: Array<JsonObject> = []
  /** Resolves once the response head is in, with its status, or rejects when the connection fails first. */
  readonly opened: Promise<number>
  /** Resolves when the stream is over, however it ended. */
  readonly ended: Promise<void>
  private waiters: Array<Waiter> = []
  private endpointWaiters: Array<(endpoint: string) => void> = []
  private readonly request: http.ClientRequest
  private finish!: () => void
  private done = false

  constructor(port: number, path: string, headers: http.OutgoingHttpHeaders = {}) {
    this.ended = new Promise((resolve) => {
      this.finish = () => {
        this.done = true
        resolve()
      }
    })
    this.request = openRequest({
      port,
      method: "GET",
      path,
      agent: false,
      headers: { accept: "text/event-stream", ...headers }
    })
    this.opened = new Promise((resolve, reject) => {
      this.request.on("response", (response) => {
        this.status = response.statusCode ?? 0
        this.headers = response.headers
        resolve(this.status)
        const parser = new SseParser((event) => this.onEvent(event))
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => parser.push(chunk))
        response.on("end", this.finish)
        response.on("error", this.finish)
        response.on("aborted", this.finish)
      })
      this.request.on("error", (error) => {
        this.finish()
        reject(connectionError(`GET ${path}`)(error))
      })
      this.request.on("close", this.finish)
    })
    // A cycle that cuts the connection before the head must not leave an unhandled rejection behind.
    this.opened.catch(() => undefined)
    this.request.end()
  }

  private onEvent(event: SseEvent): void {
    if (event.event === "endpoint") {
      this.endpoint = event.data
      for (const resolve of this.endpointWaiters.splice(0)) resolve(event.data)
      return
    }
    if (event.event !== "message" || event.data === "") return
    const parsed: unknown = JSON.parse(event.data)
    if (!isJsonObject(parsed)) return
    this.messages.push(parsed)
    const ready = this.waiters.filter((w) => w.predicate(parsed))
    this.waiters = this.waiters.filter((w) => !ready.includes(w))
    for (const waiter of ready) waiter.resolve(parsed)
  }

  /** The `endpoint` event's data, within the timeout. */
  waitEndpoint(): Promise<string> {
    if (this.endpoint !== undefined) return Promise.resolve(this.endpoint)
    return bounded("sse endpoint", new Promise((resolve) => this.endpointWaiters.push(resolve)), () => this.done)
  }

  /** The first message, past or future, that matches, within the timeout. */
  waitFor(what: string, predicate: (message: JsonObject) => boolean): Promise<JsonObject> {
    const found = this.messages.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return bounded(what, new Promise((resolve) => this.waiters.push({ predicate, resolve })), () => this.done)
  }

  destroy(): void {
    this.request.destroy()
  }
}

/** A wait that fails after the timeout, or as soon as the stream it waits on is over. */
const bounded = <A>(what: string, promise: Promise<A>, over: () => boolean): Promise<A> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const timer = setInterval(() => {
      if (over()) {
        clearInterval(timer)
        reject(new SoakError("stream ended", `while waiting for ${what}`))
      } else if (Date.now() - started > TIMEOUT_MS) {
        clearInterval(timer)
        reject(new SoakError("timeout", `no ${what} within ${TIMEOUT_MS} ms`))
      }
    }, 25)
    promise.then((value) => {
      clearInterval(timer)
      resolve(value)
    }, (error: unknown) => {
      clearInterval(timer)
      reject(error)
    })
  })

/** A POST whose request is cut once its SSE response has shown the first message matching `until`. */
export const postUntil = (
  port: number,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: string,
  until: (message: JsonObject) => boolean
): Promise<{ readonly status: number; readonly seen: boolean }> =>
  new Promise((resolve, reject) => {
    const target = { port, method: "POST", path, agent: false, headers } as const
    const request = openRequest(target, Buffer.byteLength(body), (response) => {
      const status = response.statusCode ?? 0
      let seen = false
      const parser = new SseParser((event) => {
        if (seen || event.event !== "message" || event.data === "") return
        const parsed: unknown = JSON.parse(event.data)
        if (isJsonObject(parsed) && until(parsed)) {
          seen = true
          request.destroy()
          resolve({ status, seen })
        }
      })
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => parser.push(chunk))
      response.on("end", () => resolve({ status, seen }))
      response.on("error", () => resolve({ status, seen }))
      response.on("aborted", () => resolve({ status, seen }))
    })
    request.setTimeout(TIMEOUT_MS, () => request.destroy(new SoakError("timeout", `POST ${path}`)))
    request.on("error", (error) => reject(error instanceof SoakError ? error : connectionError(`POST ${path}`)(error)))
    request.end(body)
  })

/** A POST cut while its body is on its way: the headers and half the body go out, then the connection. */
export const cutPost = (port: number, path: string, headers: http.OutgoingHttpHeaders, body: string): Promise<void> =>
  new Promise((resolve) => {
    const bytes = Buffer.from(body)
    const request = openRequest({ port, method: "POST", path, agent: false, headers }, bytes.length)
    request.on("error", () => resolve())
    request.on("close", () => resolve())
    request.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setImmediate(() => request.destroy()))
  })
