/**
 * The load generator's MCP client: raw `node:http` requests, an SSE parser, and just enough JSON-RPC for
 * `initialize`, `notifications/initialized`, `tools/call` and `ping` over Streamable HTTP and legacy HTTP+SSE.
 *
 * It relies on the servers' HTTP behaviour only: Streamable HTTP at `POST|DELETE /mcp` (JSON or SSE response
 * bodies, `Mcp-Session-Id`), legacy SSE at `GET /sse`, whose `endpoint` event names the URL to POST to
 * (`/messages?session_id=…` or `?sessionId=…`; the harness uses whatever it is given).
 */
import type * as http from "node:http"
import {
  eventStreamMessages,
  HOST,
  initializeParams,
  isJsonObject,
  type JsonObject,
  jsonRpcNotification,
  jsonRpcRequest,
  openRequest,
  PROTOCOL_VERSION,
  readReply,
  type Reply,
  SseParser
} from "../../harness/http.js"

/** Per HTTP request / per awaited SSE response. */
export const REQUEST_TIMEOUT_MS = 10_000

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const httpRequest = (
  agent: http.Agent,
  port: number,
  method: string,
  urlPath: string,
  headers: http.OutgoingHttpHeaders,
  body?: string
): Promise<Reply> =>
  readReply({ port, method, path: urlPath, agent, headers }, body, REQUEST_TIMEOUT_MS, (failure) => {
    switch (failure.stage) {
      case "timeout":
        return new Error(`${method} ${urlPath} timed out`)
      // What node's own error for a response cut mid-body says.
      case "aborted":
        return new Error("aborted")
      default:
        return failure.error
    }
  })

// --- JSON-RPC ----------------------------------------------------------------

/** JSON-RPC messages in a response body, whether sent as JSON or as an SSE stream. */
export const rpcMessages = (reply: Reply): Array<unknown> => {
  const contentType = reply.headers["content-type"] ?? ""
  if (contentType.includes("text/event-stream")) return eventStreamMessages(reply.body)
  if (reply.body === "") throw new Error(`HTTP ${reply.status} with an empty body (content-type ${contentType || "none"})`)
  const parsed: unknown = JSON.parse(reply.body)
  return Array.isArray(parsed) ? parsed : [parsed]
}

export const findResponse = (messages: ReadonlyArray<unknown>, id: number): JsonObject => {
  const response = messages.find((m): m is JsonObject => isJsonObject(m) && m["id"] === id)
  if (response === undefined) throw new Error(`no response with id ${id}`)
  if (response["error"] !== undefined) throw new Error(`JSON-RPC error: ${JSON.stringify(response["error"])}`)
  return response
}

const INITIALIZE_PARAMS = initializeParams("effect-mcp-bench")

const INITIALIZED_NOTIFICATION = jsonRpcNotification("notifications/initialized")

export const echoParams = (text: string): JsonObject => ({ name: "echo", arguments: { text } })

/** Throws unless `response` is the echo tool's result for `text`. */
export const checkEcho = (response: JsonObject, text: string): void => {
  const result = response["result"]
  const content = isJsonObject(result) ? result["content"] : undefined
  const first: unknown = Array.isArray(content) ? content[0] : undefined
  if (!isJsonObject(first) || first["text"] !== text) {
    throw new Error(`unexpected echo result: ${JSON.stringify(response).slice(0, 200)}`)
  }
}

export const expect2xx = (reply: Reply, what: string): void => {
  if (reply.status < 200 || reply.status >= 300) {
    throw new Error(`${what}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`)
  }
}

// --- Streamable HTTP -----------------------------------------------------------

export interface StreamableSession {
  readonly sessionId: string
  readonly protocolVersion: string
}

const STREAMABLE_ACCEPT = "application/json, text/event-stream"

const sessionHeaders = (session: StreamableSession): http.OutgoingHttpHeaders => ({
  "Content-Type": "application/json",
  Accept: STREAMABLE_ACCEPT,
  "Mcp-Session-Id": session.sessionId,
  "MCP-Protocol-Version": session.protocolVersion
})

/** `initialize` (a new session) and `notifications/initialized`. */
export const openStreamableSession = async (agent: http.Agent, port: number): Promise<StreamableSession> => {
  const headers = { "Content-Type": "application/json", Accept: STREAMABLE_ACCEPT }
  const reply = await httpRequest(agent, port, "POST", "/mcp", headers, jsonRpcRequest(0, "initialize", INITIALIZE_PARAMS))
  expect2xx(reply, "initialize")
  const sessionId = reply.headers["mcp-session-id"]
  if (typeof sessionId !== "string") throw new Error("initialize: no Mcp-Session-Id header")
  const result = findResponse(rpcMessages(reply), 0)["result"]
  const version = isJsonObject(result) ? result["protocolVersion"] : undefined
  const session = { sessionId, protocolVersion: typeof version === "string" ? version : PROTOCOL_VERSION }
  expect2xx(
    await httpRequest(agent, port, "POST", "/mcp", sessionHeaders(session), INITIALIZED_NOTIFICATION),
    "notifications/initialized"
  )
  return session
}

export const streamableEcho = async (
  agent: http.Agent,
  port: number,
  session: StreamableSession,
  id: number
): Promise<void> => {
  const text = `echo-${id}`
  const reply = await httpRequest(agent, port, "POST", "/mcp", sessionHeaders(session), jsonRpcRequest(id, "tools/call", echoParams(text)))
  expect2xx(reply, "tools/call")
  checkEcho(findResponse(rpcMessages(reply), id), text)
}

export const deleteStreamableSession = async (
  agent: http.Agent,
  port: number,
  session: StreamableSession
): Promise<void> => {
  const { ["Content-Type"]: _, ...headers } = sessionHeaders(session)
  expect2xx(await httpRequest(agent, port, "DELETE", "/mcp", headers), "DELETE /mcp")
}

// --- Legacy HTTP+SSE -------------------------------------------------------------

interface Pending {
  readonly resolve: (message: JsonObject) => void
  readonly reject: (error: Error) => void
}

/**
 * One legacy SSE session: the GET stream plus the POST endpoint it announced.
 *
 * `start` sends the GET and returns at once (`ready` settles with the `endpoint` event), so a caller can cut
 * the stream at any moment; `open` waits for the endpoint. `disconnect` destroys the GET's socket, as a client
 * that crashes or loses its network would, and returns when it did so.
 */
export class SseSession {
  readonly ready: Promise<void>
  /** performance.now() when the GET was sent / the endpoint event was parsed / the socket was destroyed. */
  readonly startedAt = performance.now()
  endpointAt: number | undefined
  disconnectedAt: number | undefined
  private readonly pending = new Map<number, Pending>()
  private readonly request: http.ClientRequest
  private endpointPath: string | undefined
  private closedWith: Error | undefined
  private nextId = 1
  private settleReady: (error: Error | undefined) => void = () => undefined

  private constructor(
    agent: http.Agent,
    private readonly port: number,
    onEndpoint: ((session: SseSession) => void) | undefined
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.disconnect(new Error("timed out waiting for the endpoint event")), REQUEST_TIMEOUT_MS)
      this.settleReady = (error) => {
        this.settleReady = () => undefined
        clearTimeout(timer)
        if (error === undefined) resolve()
        else reject(error)
      }
    })
    // Nobody may be waiting for `ready` (a stream cut before its endpoint); don't let it reject unhandled.
    this.ready.catch(() => undefined)
    const parser = new SseParser(({ event, data }) => {
      if (event === "endpoint" && this.endpointPath === undefined) {
        // The endpoint may be relative or absolute; only its path and query matter here.
        const url = new URL(data, `http://${HOST}:${port}/sse`)
        this.endpointPath = url.pathname + url.search
        this.endpointAt = performance.now()
        this.settleReady(undefined)
        onEndpoint?.(this)
      } else if (event === "message") {
        this.dispatch(data)
      }
    })
    const target = { port, method: "GET", path: "/sse", agent, headers: { Accept: "text/event-stream" } }
    this.request = openRequest(target, undefined, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        this.disconnect(new Error(`GET /sse: HTTP ${res.statusCode ?? 0}`))
        return
      }
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        // After a disconnect the client has stopped reading, whatever was still buffered.
        if (this.disconnectedAt === undefined) parser.push(chunk)
      })
      res.on("end", () => this.fail(new Error("SSE stream ended")))
      res.on("error", (error) => this.fail(error))
    })
    this.request.on("error", (error) => this.fail(error))
    this.request.end()
  }

  static start(agent: http.Agent, port: number, onEndpoint?: (session: SseSession) => void): SseSession {
    return new SseSession(agent, port, onEndpoint)
  }

  static async open(agent: http.Agent, port: number): Promise<SseSession> {
    const session = new SseSession(agent, port, undefined)
    await session.ready
    return session
  }

  /** True once the stream has ended, whoever ended it. */
  get closed(): boolean {
    return this.closedWith !== undefined
  }

  /** The POST URL from the endpoint event, once it arrived. */
  get endpoint(): string | undefined {
    return this.endpointPath
  }

  /** POSTs a request and waits for both the POST's 2xx and the response event. */
  async call(agent: http.Agent, method: string, params: JsonObject, port = this.port): Promise<JsonObject> {
    if (this.closedWith !== undefined) throw this.closedWith
    const id = this.nextId++
    let timer: NodeJS.Timeout | undefined
    const response = new Promise<JsonObject>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      timer = setTimeout(() => reject(new Error(`no SSE response to ${method} #${id}`)), REQUEST_TIMEOUT_MS)
    })
    // If the POST fails first, nobody awaits `response`; don't let it reject unhandled.
    response.catch(() => undefined)
    try {
      expect2xx(await this.post(agent, jsonRpcRequest(id, method, params), port), `POST ${method}`)
      const message = await response
      if (message["error"] !== undefined) throw new Error(`JSON-RPC error: ${JSON.stringify(message["error"])}`)
      return message
    } finally {
      clearTimeout(timer)
      this.pending.delete(id)
    }
  }

  async notify(agent: http.Agent, body: string): Promise<void> {
    expect2xx(await this.post(agent, body), "POST notification")
  }

  async initialize(agent: http.Agent): Promise<void> {
    await this.call(agent, "initialize", INITIALIZE_PARAMS)
    await this.notify(agent, INITIALIZED_NOTIFICATION)
  }

  /** Calls `echo`, POSTing to the instance at `port` (by default the one that holds the stream). */
  async echo(agent: http.Agent, text: string, port = this.port): Promise<void> {
    checkEcho(await this.call(agent, "tools/call", echoParams(text), port), text)
  }

  /** A fresh request id, for messages sent with `post`. */
  id(): number {
    return this.nextId++
  }

  /** POSTs a raw body to the session's endpoint, whatever the session's state; the reply is not checked. */
  post(agent: http.Agent, body: string, port = this.port): Promise<Reply> {
    if (this.endpointPath === undefined) return Promise.reject(new Error("no endpoint yet"))
    return httpRequest(agent, port, "POST", this.endpointPath, { "Content-Type": "application/json" }, body)
  }

  /** Destroys the GET's socket (idempotent); returns performance.now() of the first call. */
  disconnect(reason: Error = new Error("session closed")): number {
    if (this.disconnectedAt === undefined) {
      this.disconnectedAt = performance.now()
      this.fail(reason)
      this.request.destroy()
    }
    return this.disconnectedAt
  }

  private dispatch(data: string): void {
    let message: unknown
    try {
      message = JSON.parse(data)
    } catch {
      return
    }
    if (!isJsonObject(message) || typeof message["id"] !== "number") return // notifications etc.
    this.pending.get(message["id"])?.resolve(message)
  }

  private fail(error: Error): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    this.settleReady(error)
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}
