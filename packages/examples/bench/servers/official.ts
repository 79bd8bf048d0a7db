/**
 * The benchmark's `echo` tool served by the official TypeScript SDK
 * (`@modelcontextprotocol/sdk` 1.32), wired the way the SDK's own
 * `sseAndStreamableHttpCompatibleServer` example does it — one `McpServer`
 * per session, transports kept in Maps keyed by session id — but on a plain
 * `node:http` server instead of express, so the comparison is about the SDK
 * and not about a web framework.
 *
 * Endpoints:
 * - `POST|GET|DELETE /mcp` StreamableHTTPServerTransport, stateful,
 *                          `enableJsonResponse: true`.
 * - `GET /sse`             SSEServerTransport (legacy HTTP+SSE).
 * - `POST /messages`       `?sessionId=<id>`, SSEServerTransport.handlePostMessage.
 * - `GET /bench/sessions`  `{ "sse": n, "streamable": n }`: open sessions,
 *                          for checking session clean-up by hand.
 *
 * Tools: `echo {text}` and `sleep {ms}`, like the effect-mcp demo's.
 *
 * Sessions end the way an SDK user would end them: a legacy SSE session when
 * its stream closes (SSEServerTransport calls `onclose`), a Streamable HTTP
 * session on DELETE (the transport closes itself and calls `onclose`). A
 * Streamable client that leaves without DELETE leaves its session behind, as
 * with the SDK's own examples: the SDK has no idle expiry.
 *
 * Usage: `tsx bench/servers/official.ts --port N [--host H]` (port 0 =
 * ephemeral); prints `READY <port>` once listening.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
// zod is the SDK's (required) peer dependency; tool schemas are written in it.
import * as z from "zod/v4"

/** The SDK binds one transport per server instance, hence a server per session. */
const makeServer = (): McpServer => {
  const server = new McpServer({ name: "official-sdk-bench", version: "0.0.0" })
  server.registerTool(
    "echo",
    { description: "Echoes its input", inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: "text", text }] })
  )
  server.registerTool(
    "sleep",
    { description: "Waits, then returns", inputSchema: { ms: z.number().min(0).max(600_000) } },
    async ({ ms }) => {
      await sleep(ms)
      return { content: [{ type: "text", text: `slept ${ms} ms` }] }
    }
  )
  return server
}

const streamableTransports = new Map<string, StreamableHTTPServerTransport>()
const sseTransports = new Map<string, SSEServerTransport>()

const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
  const payload = JSON.stringify(body)
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) })
  res.end(payload)
}

const rpcError = (code: number, message: string) => ({ jsonrpc: "2.0", error: { code, message }, id: null })

const readJsonBody = (req: http.IncomingMessage): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown)
      } catch (error) {
        reject(error)
      }
    })
    req.on("error", reject)
  })

const handleMcp = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  // Parsed up front (as `express.json()` would) because routing a session-less
  // POST depends on whether it is an `initialize` request.
  const body = req.method === "POST" ? await readJsonBody(req) : undefined
  const headerId = req.headers["mcp-session-id"]
  const sessionId = typeof headerId === "string" ? headerId : undefined
  const existing = sessionId === undefined ? undefined : streamableTransports.get(sessionId)
  if (existing !== undefined) return existing.handleRequest(req, res, body)
  if (sessionId !== undefined) return sendJson(res, 404, rpcError(-32001, "Session not found"))
  if (req.method !== "POST" || !isInitializeRequest(body)) {
    return sendJson(res, 400, rpcError(-32000, "Bad Request: No valid session ID provided"))
  }
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: true,
    onsessioninitialized: (id) => {
      streamableTransports.set(id, transport)
    }
  })
  transport.onclose = () => {
    if (transport.sessionId !== undefined) streamableTransports.delete(transport.sessionId)
  }
  await makeServer().connect(transport)
  return transport.handleRequest(req, res, body)
}

const handleSse = async (res: http.ServerResponse) => {
  const transport = new SSEServerTransport("/messages", res)
  sseTransports.set(transport.sessionId, transport)
  // SSEServerTransport calls onclose when the response closes (client gone).
  transport.onclose = () => {
    sseTransports.delete(transport.sessionId)
  }
  await makeServer().connect(transport)
}

const handleMessages = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
  const transport = sseTransports.get(url.searchParams.get("sessionId") ?? "")
  if (transport === undefined) return sendJson(res, 404, rpcError(-32001, "Session not found"))
  // Let the SDK read and validate the body itself: that is its default path.
  return transport.handlePostMessage(req, res)
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  const handle = (): void | Promise<void> => {
    if (url.pathname === "/mcp") return handleMcp(req, res)
    const route = `${req.method ?? ""} ${url.pathname}`
    switch (route) {
      case "GET /sse":
        return handleSse(res)
      case "POST /messages":
        return handleMessages(req, res, url)
      case "GET /bench/sessions":
        return sendJson(res, 200, { sse: sseTransports.size, streamable: streamableTransports.size })
      case "GET /":
        return sendJson(res, 200, { ok: true })
      default:
        res.writeHead(404, { "Content-Length": 0 })
        res.end()
    }
  }
  Promise.resolve()
    .then(handle)
    .catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, rpcError(-32603, String(error)))
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
  const closing = [...streamableTransports.values(), ...sseTransports.values()].map((t) => t.close())
  void Promise.allSettled(closing).then(() => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
