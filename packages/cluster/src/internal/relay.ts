/**
 * Relaying one HTTP request to the instance that holds its session, and its answer back: status, headers and
 * body as the owner sent them, an SSE answer chunk by chunk as it comes. The owner serves the request through its
 * own front (security, authorization, the session's checks), so the answer is exactly what the client would
 * have got there: 202 only once the owner's session took the message.
 * @internal
 */
import type { Exchange, ResponseHeaders } from "@effect-mcp/core/HttpExchange"
import * as Http from "node:http"
import * as Https from "node:https"

/** Marks a relayed request: the instance it reaches answers it itself, so a request is relayed at most once. @internal */
export const RELAYED = "x-effect-mcp-relayed"

/** Headers of one connection, not of the request or the answer (RFC 9110 §7.6.1), and the length, redone. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
  "host"
])

/** One relayed request in flight. @internal */
export interface Relayed {
  /** Gives up before the answer began, so the caller answers instead: false if it is too late for that. */
  readonly abort: () => boolean
}

/** What the caller hears of a relayed request. @internal */
export interface Events {
  /** Once, when it stops waiting: the answer began, the request failed or was given up, or the client went. */
  readonly settled: () => void
  /** Once, if no answer began: the owner could not be reached, or went before answering. */
  readonly failed: () => void
}

/** The agents that keep connections to the owners open between requests: one per scheme. @internal */
export interface Agents {
  readonly http: Http.Agent
  readonly https: Https.Agent
}

/** How long a connection to an owner may sit idle in the pool: less than Node's 5 s keep-alive timeout. */
const IDLE_MS = 4_000

/** @internal */
export const makeAgents = (): Agents => ({
  http: new Http.Agent({ keepAlive: true, timeout: IDLE_MS }),
  https: new Https.Agent({ keepAlive: true, timeout: IDLE_MS })
})

const isEventStream = (value: string | undefined): boolean =>
  value !== undefined && value.toLowerCase().startsWith("text/event-stream")

const answerHeaders = (headers: Http.IncomingHttpHeaders): ResponseHeaders => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === "date") continue
    out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

/**
 * Sends the exchange's request to `base` (the owner's advertised URL) with `body`, and relays the answer.
 * @internal
 */
export const relay = (
  agents: Agents,
  base: string,
  exchange: Exchange,
  body: string | undefined,
  from: string,
  events: Events
): Relayed => {
  const target = new URL(exchange.url, base)
  const headers: Http.OutgoingHttpHeaders = { [RELAYED]: from }
  for (const [name, value] of Object.entries(exchange.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    headers[name] = typeof value === "string" ? value : Array.from(value)
  }
  // The owner's own front checks `Host` as it would for a client that reached it directly.
  const host = exchange.headers["host"]
  if (typeof host === "string") headers["host"] = host
  if (body !== undefined) headers["content-length"] = Buffer.byteLength(body)
  const secure = target.protocol === "https:"
  const open = () =>
    (secure ? Https : Http).request(target, { method: exchange.method, headers, agent: secure ? agents.https : agents.http })
  let request = open()
  let retried = false
  let answered = false
  let done = false
  let waiting = true
  // Once the owner's answer is complete the connection goes back to the agent, for the next request.
  let complete = false
  const settle = () => {
    if (!waiting) return
    waiting = false
    events.settled()
  }
  const fail = () => {
    if (done) return
    done = true
    settle()
    events.failed()
  }
  const onResponse = (response: Http.IncomingMessage) => {
    answered = true
    settle()
    const out = answerHeaders(response.headers)
    if (isEventStream(response.headers["content-type"])) {
      done = true
      const stream = exchange.stream(out)
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        if (!stream.write(chunk)) request.destroy()
      })
      // However the owner's stream ends (it ended it, or the owner went), the client's ends with it.
      response.on("close", () => {
        complete = response.complete
        stream.end()
      })
      return
    }
    const chunks: Array<Buffer> = []
    response.on("data", (chunk: Buffer) => chunks.push(chunk))
    response.on("end", () => {
      complete = true
      if (done) return
      done = true
      const text = Buffer.concat(chunks).toString("utf8")
      exchange.respond(response.statusCode ?? 502, out, text === "" ? undefined : text)
    })
    response.on("close", () => {
      if (!response.complete) fail()
    })
  }
  const onError = (error: Error) => {
    // A kept-alive connection the owner closed as idle just as it was reused: the owner read nothing of this
    // request, so it is sent once more, on a new connection.
    if (!answered && !retried && request.reusedSocket && "code" in error && error.code === "ECONNRESET") {
      retried = true
      request = open()
      request.on("response", onResponse)
      request.on("error", onError)
      return void request.end(body)
    }
    fail()
  }
  request.on("response", onResponse)
  request.on("error", onError)
  exchange.onClose(() => {
    done = true
    settle()
    if (!complete) request.destroy()
  })
  request.end(body)
  return {
    abort: () => {
      if (answered || done) return false
      done = true
      settle()
      request.destroy()
      return true
    }
  }
}
