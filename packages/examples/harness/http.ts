/**
 * The raw client pieces under the bench's and the soak's MCP clients: `node:http` requests to the server under
 * test (so a driver can cut a connection at any moment), an SSE parser, and JSON-RPC message text. Everything
 * targets 127.0.0.1.
 */
import * as http from "node:http"

/** Every request targets this address only. */
export const HOST = "127.0.0.1"
export const PROTOCOL_VERSION = "2025-11-25"

export type JsonObject = { readonly [key: string]: unknown }

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// --- JSON-RPC ----------------------------------------------------------------------------------------------------

export const jsonRpcRequest = (id: string | number, method: string, params?: unknown): string =>
  JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })

export const jsonRpcNotification = (method: string, params?: unknown): string =>
  JSON.stringify(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params })

/** `initialize` params; the client name tells the drivers apart in the server's logs. */
export const initializeParams = (clientName: string) => ({
  protocolVersion: PROTOCOL_VERSION,
  capabilities: {},
  clientInfo: { name: clientName, version: "0.0.0" }
})

// --- HTTP ----------------------------------------------------------------------------------------------------------

export interface Target {
  readonly port: number
  readonly method: string
  readonly path: string
  /** `false`: a connection of its own, so destroying the request is a client going away. */
  readonly agent: http.Agent | false
  readonly headers?: http.OutgoingHttpHeaders | undefined
  /** The loopback address the connection comes from (e.g. `127.0.0.2`), so a server can tell clients apart. */
  readonly localAddress?: string | undefined
}

/** A request to the server under test, with Content-Length set when `bodyBytes` is given; the caller sends it. */
export const openRequest = (
  target: Target,
  bodyBytes?: number,
  onResponse?: (response: http.IncomingMessage) => void
): http.ClientRequest =>
  http.request({
    host: HOST,
    port: target.port,
    method: target.method,
    path: target.path,
    agent: target.agent,
    ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
    headers: bodyBytes === undefined ? target.headers : { ...target.headers, "content-length": bodyBytes }
  }, onResponse)

export interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** Why a request failed, for each driver to name in its own terms. */
export type RequestFailure =
  | { readonly stage: "timeout" | "aborted" }
  | { readonly stage: "request" | "response"; readonly error: Error }

/** One request, its response read to the end; a failure rejects with what `fail` makes of it. */
export const readReply = (
  target: Target,
  body: string | undefined,
  timeoutMs: number,
  fail: (failure: RequestFailure) => Error
): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const request = openRequest(target, body === undefined ? undefined : Buffer.byteLength(body), (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text })
      })
      response.on("error", (error) => reject(fail({ stage: "response", error })))
      response.on("aborted", () => reject(fail({ stage: "aborted" })))
    })
    let timedOut: Error | undefined
    request.setTimeout(timeoutMs, () => {
      timedOut = fail({ stage: "timeout" })
      request.destroy(timedOut)
    })
    request.on("error", (error) => reject(error === timedOut ? error : fail({ stage: "request", error })))
    request.end(body)
  })

// --- SSE -------------------------------------------------------------------------------------------------------------

export interface SseEvent {
  readonly event: string
  readonly id: string | undefined
  readonly data: string
}

/** Incremental `text/event-stream` parser (LF or CRLF line endings). */
export class SseParser {
  private buffer = ""
  private event = ""
  private id: string | undefined = undefined
  private data: Array<string> = []

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  push(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf("\n")) !== -1) {
      const raw = this.buffer.slice(0, newline)
      this.buffer = this.buffer.slice(newline + 1)
      this.line(raw.endsWith("\r") ? raw.slice(0, -1) : raw)
    }
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0 || this.id !== undefined) {
        this.onEvent({ event: this.event === "" ? "message" : this.event, id: this.id, data: this.data.join("\n") })
      }
      this.event = ""
      this.id = undefined
      this.data = []
      return
    }
    if (line.startsWith(":")) return
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "event") this.event = value
    else if (field === "data") this.data.push(value)
    else if (field === "id") this.id = value
  }
}

/** The parsed JSON of every message event in a finished SSE body. */
export const eventStreamMessages = (body: string): Array<unknown> => {
  const values: Array<unknown> = []
  const parser = new SseParser((event) => {
    // Empty-data events are resumability primers (an event id only), not messages.
    if (event.event === "message" && event.data !== "") values.push(JSON.parse(event.data))
  })
  parser.push(body + "\n\n")
  return values
}
