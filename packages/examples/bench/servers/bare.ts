/**
 * Baseline MCP server for the benchmark: plain `node:http`, no MCP library.
 *
 * It does the minimum a real server must do per message (read the body,
 * `JSON.parse` it, look the session up, serialize a response) and nothing
 * else: no schema validation, no capability negotiation beyond echoing the
 * protocol version. Whatever the other servers spend above this is their
 * framework/library overhead — this is the floor, not a usable server.
 *
 * Endpoints:
 * - `POST /mcp`            Streamable HTTP, JSON responses only (stateful).
 * - `DELETE /mcp`          Ends a Streamable HTTP session.
 * - `GET /sse`             Legacy HTTP+SSE stream; first event is `endpoint`.
 * - `POST /messages`       Legacy HTTP+SSE message post (`?sessionId=<id>`),
 *                          answered 202, the response goes on the SSE stream.
 * - `GET /bench/sessions`  `{ "sse": n, "streamable": n }`: open sessions,
 *                          for checking session clean-up by hand.
 *
 * Tools: `echo {text}` and `sleep {ms}`, like the effect-mcp demo's.
 *
 * Usage: `tsx bench/servers/bare.ts --port N [--host H]` (port 0 = ephemeral);
 * prints `READY <port>` once listening.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"

type JsonRpcId = string | number

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isId = (value: unknown): value is JsonRpcId => typeof value === "string" || typeof value === "number"

const LATEST_PROTOCOL_VERSION = "2025-11-25"

/** Streamable HTTP sessions: id -> creation time (nothing else to keep). */
const streamableSessions = new Map<string, number>()
/** Legacy SSE sessions: id -> the open event-stream response. */
const sseSessions = new Map<string, http.ServerResponse>()

const result = (id: JsonRpcId, value: Json): Json => ({ jsonrpc: "2.0", id, result: value })
const failure = (id: JsonRpcId | null, code: number, message: string): Json => ({
  jsonrpc: "2.0",
  id,
  error: { code, message }
})

/**
 * Handles one JSON-RPC message and returns the response to send (a promise
 * for a tool that takes time), or `undefined` for notifications (and
 * responses from the client).
 */
const dispatch = (message: unknown): Json | Promise<Json> | undefined => {
  if (!isObject(message) || message["jsonrpc"] !== "2.0" || typeof message["method"] !== "string") {
    return isObject(message) && isId(message["id"]) ? failure(message["id"], -32600, "Invalid Request") : undefined
  }
  const id = message["id"]
  if (!isId(id)) return undefined // notification
  const params = isObject(message["params"]) ? message["params"] : {}
  switch (message["method"]) {
    case "initialize": {
      const requested = params["protocolVersion"]
      return result(id, {
        protocolVersion: typeof requested === "string" ? requested : LATEST_PROTOCOL_VERSION,
        capabilities: { tools: {} },
        serverInfo: { name: "bare", version: "0.0.0" }
      })
    }
    case "ping":
      return result(id, {})
    case "tools/list":
      return result(id, {
        tools: [{
          name: "echo",
          inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }
        }, {
          name: "sleep",
          inputSchema: { type: "object", properties: { ms: { type: "number" } }, required: ["ms"] }
        }]
      })
    case "tools/call": {
      const args = params["arguments"]
      if (params["name"] === "echo") {
        if (!isObject(args) || typeof args["text"] !== "string") return failure(id, -32602, "Invalid arguments")
        return result(id, { content: [{ type: "text", text: args["text"] }] })
      }
      if (params["name"] === "sleep") {
        const ms = isObject(args) ? args["ms"] : undefined
        if (typeof ms !== "number" || !(ms >= 0 && ms <= 600_000)) return failure(id, -32602, "Invalid arguments")
        return sleep(ms).then(() => result(id, { content: [{ type: "text", text: `slept ${ms} ms` }] }))
      }
      return failure(id, -32602, "Unknown tool")
    }
    default:
      return failure(id, -32601, "Method not found")
  }
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sendJson = (res: http.ServerResponse, status: number, body: Json, headers: http.OutgoingHttpHeaders = {}) => {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(payload)
  })
  res.end(payload)
}

const sendEmpty = (res: http.ServerResponse, status: number) => {
  res.writeHead(status, { "Content-Length": 0 })
  res.end()
}

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

const handleMcpPost = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  const parsed = parseJson(await readBody(req))
  if (!parsed.ok) return sendJson(res, 400, failure(null, -32700, "Parse error"))
  const message = parsed.value
  const headerId = req.headers["mcp-session-id"]
  const isInitialize = isObject(message) && message["method"] === "initialize"
  if (isInitialize) {
    const sessionId = randomUUID()
    streamableSessions.set(sessionId, Date.now())
    const response = await dispatch(message)
    return response === undefined
      ? sendEmpty(res, 202)
      : sendJson(res, 200, response, { "Mcp-Session-Id": sessionId })
  }
  if (typeof headerId !== "string") return sendJson(res, 400, failure(null, -32000, "Missing session id"))
  if (!streamableSessions.has(headerId)) return sendJson(res, 404, failure(null, -32001, "Session not found"))
  const response = await dispatch(message)
  return response === undefined ? sendEmpty(res, 202) : sendJson(res, 200, response)
}

const handleSseGet = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const sessionId = randomUUID()
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive"
  })
  res.write(`event: endpoint\ndata: /messages?sessionId=${sessionId}\n\n`)
  sseSessions.set(sessionId, res)
  // `close` fires on client disconnect too; that is the only way a legacy
  // SSE session ends, so the Map entry must go with it.
  req.socket.on("close", () => sseSessions.delete(sessionId))
}

const handleMessagesPost = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
  const sessionId = url.searchParams.get("sessionId") ?? ""
  if (!sseSessions.has(sessionId)) return sendJson(res, 404, failure(null, -32001, "Session not found"))
  const parsed = parseJson(await readBody(req))
  if (!parsed.ok) return sendJson(res, 400, failure(null, -32700, "Parse error"))
  // The stream may have closed while the body was read: look again.
  if (!sseSessions.has(sessionId)) return sendJson(res, 404, failure(null, -32001, "Session not found"))
  res.writeHead(202, { "Content-Length": 8 })
  res.end("Accepted")
  const response = await dispatch(parsed.value)
  // A slow tool may outlive its session: the answer then has nowhere to go.
  if (response !== undefined) sseSessions.get(sessionId)?.write(`event: message\ndata: ${JSON.stringify(response)}\n\n`)
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  const route = `${req.method ?? ""} ${url.pathname}`
  const handle = (): void | Promise<void> => {
    switch (route) {
      case "POST /mcp":
        return handleMcpPost(req, res)
      case "DELETE /mcp": {
        const headerId = req.headers["mcp-session-id"]
        const existed = typeof headerId === "string" && streamableSessions.delete(headerId)
        return sendEmpty(res, existed ? 200 : 404)
      }
      case "GET /sse":
        return handleSseGet(req, res)
      case "POST /messages":
        return handleMessagesPost(req, res, url)
      case "GET /bench/sessions":
        return sendJson(res, 200, { sse: sseSessions.size, streamable: streamableSessions.size })
      case "GET /":
        return sendJson(res, 200, { ok: true })
      default:
        return sendEmpty(res, 404)
    }
  }
  Promise.resolve()
    .then(handle)
    .catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, failure(null, -32603, String(error)))
      else res.destroy()
    })
})

const { values } = parseArgs({
  options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } }
})
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`)
})

const shutdown = () => {
  for (const stream of sseSessions.values()) stream.destroy()
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
