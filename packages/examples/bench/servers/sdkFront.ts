/**
 * The `node:http` front shared by the official SDK servers of the benchmark (`official.ts` on SDK 1.32,
 * `official2.ts` on SDK 2.4), wired the way the SDK's own `sseAndStreamableHttpCompatibleServer` example does
 * it — one `McpServer` per session, transports kept in Maps keyed by session id — but on a plain `node:http`
 * server instead of express, so the comparison is about the SDK and not about a web framework. Both majors
 * give their transports the same Node-facing shape (v2 keeps v1's in `@modelcontextprotocol/node` and
 * `@modelcontextprotocol/server-legacy`), so each entry only says which classes to use.
 *
 * Endpoints:
 * - `POST|GET|DELETE /mcp` the Streamable HTTP transport, stateful, `enableJsonResponse: true`.
 * - `GET /sse`             the legacy HTTP+SSE transport.
 * - `POST /messages`       `?sessionId=<id>`, its `handlePostMessage`.
 * - `GET /bench/sessions`  `{ "sse": n, "streamable": n }`: open sessions, for checking session clean-up by hand.
 *
 * Sessions end the way an SDK user would end them: a legacy SSE session when its stream closes (the transport
 * calls `onclose`), a Streamable HTTP session on DELETE (the transport closes itself and calls `onclose`). A
 * Streamable client that leaves without DELETE leaves its session behind, as with the SDK's own examples: the
 * SDK has no idle expiry.
 *
 * Usage of an entry: `node dist-bench/<entry>.js --port N [--host H]` (port 0 = ephemeral); prints
 * `READY <port>` once listening.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { parseArgs } from "node:util"

/** What the front needs of a transport: both SDK majors' transports have it. */
interface Closable {
  onclose?: (() => void) | undefined
  close(): Promise<void>
}

/** The Streamable HTTP transport of an SDK, as its Node adapter exposes it. */
export interface StreamableTransport extends Closable {
  readonly sessionId: string | undefined
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse, parsedBody?: unknown): Promise<void>
}

/** The legacy HTTP+SSE transport of an SDK. */
export interface SseTransport extends Closable {
  readonly sessionId: string
  handlePostMessage(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>
}

/** What an entry plugs in: its SDK's classes, behind functions so the front needs none of their types. */
export interface SdkWiring<S extends StreamableTransport, L extends SseTransport> {
  /** A server with the bench's tools, connected to `transport` (the SDK binds one transport per server). */
  readonly connect: (transport: NoInfer<S | L>) => Promise<void>
  readonly streamable: (options: {
    readonly sessionIdGenerator: () => string
    readonly enableJsonResponse: true
    readonly onsessioninitialized: (id: string) => void
  }) => S
  readonly sse: (endpoint: string, res: http.ServerResponse) => L
  readonly isInitializeRequest: (body: unknown) => boolean
}

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

/** Serves `sdk` on the `--port` and `--host` of the command line until SIGTERM or SIGINT. */
export const serveSdk = <S extends StreamableTransport, L extends SseTransport>(sdk: SdkWiring<S, L>): void => {
  const streamableTransports = new Map<string, S>()
  const sseTransports = new Map<string, L>()

  const handleMcp = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Parsed up front (as `express.json()` would) because routing a session-less
    // POST depends on whether it is an `initialize` request.
    const body = req.method === "POST" ? await readJsonBody(req) : undefined
    const headerId = req.headers["mcp-session-id"]
    const sessionId = typeof headerId === "string" ? headerId : undefined
    const existing = sessionId === undefined ? undefined : streamableTransports.get(sessionId)
    if (existing !== undefined) return existing.handleRequest(req, res, body)
    if (sessionId !== undefined) return sendJson(res, 404, rpcError(-32001, "Session not found"))
    if (req.method !== "POST" || !sdk.isInitializeRequest(body)) {
      return sendJson(res, 400, rpcError(-32000, "Bad Request: No valid session ID provided"))
    }
    const transport: S = sdk.streamable({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        streamableTransports.set(id, transport)
      }
    })
    transport.onclose = () => {
      if (transport.sessionId !== undefined) streamableTransports.delete(transport.sessionId)
    }
    await sdk.connect(transport)
    return transport.handleRequest(req, res, body)
  }

  const handleSse = async (res: http.ServerResponse) => {
    const transport = sdk.sse("/messages", res)
    sseTransports.set(transport.sessionId, transport)
    // The transport calls onclose when the response closes (client gone).
    transport.onclose = () => {
      sseTransports.delete(transport.sessionId)
    }
    await sdk.connect(transport)
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
}
