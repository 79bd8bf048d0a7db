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
 * With `--link-port L` it is also the owner of the bare relay (the cluster
 * bench's floor, `bareRelay.ts`): it takes relays' connections on port L and
 * handles each request framed on them (`bareLink.ts`) by the same code as a
 * direct one; a legacy stream stays on its direct GET, the answers to POSTs
 * relayed for it go there.
 *
 * Usage: `tsx bench/servers/bare.ts --port N [--host H] [--link-port L]`
 * (port 0 = ephemeral); prints `READY <port>` once listening.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import * as net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { decode, FrameReader, head, TurnWriter } from "./bareLink.js"

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

/** A request as the handlers see it, whether it came over HTTP or over a relay's link. */
interface Request {
  readonly route: string
  readonly url: URL
  readonly header: (name: string) => string | undefined
  readonly body: string
}

/** A handler's answer, written as an HTTP response or as a link frame. */
interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const json = (status: number, body: Json, headers: Readonly<Record<string, string>> = {}): Answer => ({
  status,
  headers: { ...headers, "Content-Type": "application/json" },
  body: JSON.stringify(body)
})

const empty = (status: number): Answer => ({ status, headers: {}, body: "" })

const ACCEPTED: Answer = { status: 202, headers: {}, body: "Accepted" }

/** `f` of a value that a slow tool makes a promise, without a promise for the others. */
const then = <A, B>(value: A | Promise<A>, f: (a: A) => B): B | Promise<B> =>
  value instanceof Promise ? value.then(f) : f(value)

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

const handleMcpPost = (request: Request): Answer | Promise<Answer> => {
  const parsed = parseJson(request.body)
  if (!parsed.ok) return json(400, failure(null, -32700, "Parse error"))
  const message = parsed.value
  if (isObject(message) && message["method"] === "initialize") {
    const sessionId = randomUUID()
    streamableSessions.set(sessionId, Date.now())
    return then(dispatch(message), (response) =>
      response === undefined ? empty(202) : json(200, response, { "Mcp-Session-Id": sessionId }))
  }
  const headerId = request.header("mcp-session-id")
  if (headerId === undefined) return json(400, failure(null, -32000, "Missing session id"))
  if (!streamableSessions.has(headerId)) return json(404, failure(null, -32001, "Session not found"))
  return then(dispatch(message), (response) => response === undefined ? empty(202) : json(200, response))
}

/** Answers 202; the response goes on the session's stream, which only a direct GET opens (on this process). */
const handleMessagesPost = (request: Request): Answer => {
  const sessionId = request.url.searchParams.get("sessionId") ?? ""
  if (!sseSessions.has(sessionId)) return json(404, failure(null, -32001, "Session not found"))
  const parsed = parseJson(request.body)
  if (!parsed.ok) return json(400, failure(null, -32700, "Parse error"))
  const response = dispatch(parsed.value)
  // A slow tool may outlive its session: the answer then has nowhere to go.
  if (response !== undefined) {
    void then(response, (value) => sseSessions.get(sessionId)?.write(`event: message\ndata: ${JSON.stringify(value)}\n\n`))
  }
  return ACCEPTED
}

/** Every route but `GET /sse` (a stream, served on the direct connection only). */
const handle = (request: Request): Answer | Promise<Answer> => {
  switch (request.route) {
    case "POST /mcp":
      return handleMcpPost(request)
    case "DELETE /mcp": {
      const headerId = request.header("mcp-session-id")
      return empty(headerId !== undefined && streamableSessions.delete(headerId) ? 200 : 404)
    }
    case "POST /messages":
      return handleMessagesPost(request)
    case "GET /bench/sessions":
      return json(200, { sse: sseSessions.size, streamable: streamableSessions.size })
    case "GET /":
      return json(200, { ok: true })
    default:
      return empty(404)
  }
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const send = (res: http.ServerResponse, answer: Answer) => {
  res.writeHead(answer.status, { ...answer.headers, "Content-Length": Buffer.byteLength(answer.body) })
  res.end(answer.body)
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

const single = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : undefined

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  const route = `${req.method ?? ""} ${url.pathname}`
  if (route === "GET /sse") return handleSseGet(req, res)
  readBody(req)
    .then((body) => handle({ route, url, header: (name) => single(req.headers[name]), body }))
    .then((answer) => send(res, answer))
    .catch((error: unknown) => {
      if (!res.headersSent) send(res, json(500, failure(null, -32603, String(error))))
      else res.destroy()
    })
})

/**
 * A relay's connection (`--link-port`): each frame a request handled as if it came over HTTP, its answer a
 * frame with the same id.
 */
const serveLink = (socket: net.Socket) => {
  socket.setNoDelay(true)
  const writer = new TurnWriter(socket)
  const reply = (id: number, answer: Answer) =>
    writer.send(id, head(String(answer.status), Object.entries(answer.headers)), answer.body)
  const reader = new FrameReader((id, payload) => {
    const message = decode(payload)
    const space = message.first.indexOf(" ")
    const url = new URL(message.first.slice(space + 1), "http://localhost")
    const headers = new Map(message.headers)
    const request = {
      route: `${message.first.slice(0, space)} ${url.pathname}`,
      url,
      header: (name: string) => headers.get(name),
      body: message.body.toString("utf8")
    }
    const failed = (error: unknown) => reply(id, json(500, failure(null, -32603, String(error))))
    try {
      const answer = handle(request)
      if (answer instanceof Promise) answer.then((value) => reply(id, value), failed)
      else reply(id, answer)
    } catch (error) {
      failed(error)
    }
  })
  socket.on("data", reader.push)
  socket.on("error", () => socket.destroy())
}

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "link-port": { type: "string" }
  }
})
const listen = () =>
  server.listen(Number(values.port), values.host, () => {
    const address = server.address()
    process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : values.port}\n`)
  })
// The link listens first, so a relay started once the HTTP port answers finds it.
if (values["link-port"] === undefined) listen()
else net.createServer(serveLink).listen(Number(values["link-port"]), values.host, listen)

const shutdown = () => {
  for (const stream of sseSessions.values()) stream.destroy()
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
