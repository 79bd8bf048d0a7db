import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { JsonRpc, McpClient, McpServer, McpTool } from "@effect-mcp/core"
import { NodeMcpServer } from "@effect-mcp/node"
import * as JsonRpcSubpath from "@effect-mcp/core/JsonRpc"
import { Context, Effect, Layer, Logger, Schema } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import * as JsonRpcSource from "../../core/src/JsonRpc.js"

const Greet = McpTool.make("greet", {
  input: Schema.Struct({ name: Schema.String }),
  handler: ({ name }) => Effect.succeed(`Hello, ${name}!`)
})

// Fails with a JsonRpcError made from the `@effect-mcp/core` barrel, while the server that must recognise it (with
// `instanceof`) is reached through `@effect-mcp/node`, which imports `@effect-mcp/core/<Module>`: it comes back as a
// protocol error only if both are one module instance (vitest.shared.ts maps both to the sources).
const Refuse = McpTool.make("refuse", {
  input: Schema.Struct({}),
  handler: () => Effect.fail(new JsonRpc.JsonRpcError({ code: JsonRpc.ErrorCode.InvalidParams, message: "no" }))
})

const ServerLive = Layer.mergeAll(Greet, Refuse).pipe(
  Layer.provideMerge(McpServer.layer({ name: "node-test", version: "0.0.0" }))
)

describe("NodeMcpServer", () => {
  it("sees one instance of each core module, whichever way it is imported (vitest.shared.ts)", () => {
    expect(JsonRpcSubpath.JsonRpcError).toBe(JsonRpc.JsonRpcError)
    expect(JsonRpcSource.JsonRpcError).toBe(JsonRpc.JsonRpcError)
  })

  it.scopedLive("serves tools on a free port to the library's client", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(ServerLive)))
      const address = Context.get(context, NodeMcpServer.NodeMcpServer).address

      const clientLayer = McpClient.layerStreamableHttp({ url: `http://127.0.0.1:${address.port}/mcp` }).pipe(
        Layer.provide(FetchHttpClient.layer)
      )
      const client = yield* Layer.build(clientLayer).pipe(Effect.map((ctx) => Context.get(ctx, McpClient.McpClient)))
      const result = yield* client.callTool("greet", { name: "Ada" })
      expect(result.content).toEqual([{ type: "text", text: "Hello, Ada!" }])
      expect(yield* Effect.flip(client.callTool("refuse", {}))).toMatchObject({
        reason: "RpcError",
        code: JsonRpc.ErrorCode.InvalidParams
      })
    }))

  it.scopedLive("answers what Node's HTTP parser refuses with a status and a JSON-RPC body, and keeps serving", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(ServerLive)))
      const { port } = Context.get(context, NodeMcpServer.NodeMcpServer).address
      const host = `Host: 127.0.0.1:${port}\r\n`
      const cases: ReadonlyArray<readonly [string, string, number]> = [
        ["an unknown method", `BREW /mcp HTTP/1.1\r\n${host}\r\n`, 400],
        ["a malformed request line", "NOT HTTP AT ALL\r\n\r\n", 400],
        ["a bad Content-Length", `POST /mcp HTTP/1.1\r\n${host}Content-Length: x\r\n\r\n`, 400],
        ["no Host on HTTP/1.1", "POST /mcp HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400],
        ["headers past Node's limit", `GET /mcp HTTP/1.1\r\n${host}X-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431]
      ]
      for (const [what, request, status] of cases) {
        const raw = yield* Effect.promise(() => exchangeRaw(port, request))
        const [head = "", body = ""] = raw.split("\r\n\r\n")
        expect(head.split("\r\n")[0], what).toBe(`HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}`)
        expect(head.toLowerCase(), what).toContain("content-type: application/json")
        expect(JSON.parse(body), what).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } })
      }
      const clientLayer = McpClient.layerStreamableHttp({ url: `http://127.0.0.1:${port}/mcp` }).pipe(
        Layer.provide(FetchHttpClient.layer)
      )
      const client = yield* Layer.build(clientLayer).pipe(Effect.map((ctx) => Context.get(ctx, McpClient.McpClient)))
      expect((yield* client.callTool("greet", { name: "Bo" })).content).toEqual([{ type: "text", text: "Hello, Bo!" }])
    }))

  it.scopedLive("caps open connections per address and server-wide: 429 and 503 with Retry-After, others still served", () =>
    Effect.gen(function*() {
      const logs = warnings()
      const context = yield* Layer.build(
        NodeMcpServer.layer({ port: 0, limits: { connections: 4, connectionsPerAddress: 2 } }).pipe(
          Layer.provide(ServerLive),
          Layer.provide(logs.layer)
        )
      )
      const { address: { port }, budgets, server } = Context.get(context, NodeMcpServer.NodeMcpServer)
      const sockets = yield* openSockets(server)
      // 127.0.0.2 takes its share, and its next connection is refused while 127.0.0.1 is still served.
      const held = [yield* sockets.open(port, "127.0.0.2"), yield* sockets.open(port, "127.0.0.2")]
      expect(budgets.connections.usedBy("127.0.0.2")).toBe(2)
      for (let i = 0; i < 2; i++) {
        const refused = yield* sockets.refused(port, "127.0.0.2")
        expect(refused.status).toBe(429)
        expect(refused.retryAfter).toBe("5")
        expect(refused.body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } })
        expect(refused.body.error.message).toContain("Too Many Requests")
      }
      // A connection refused that sends a request anyway gets only the refusal, then the close: the request is
      // not served (Node's parser still hands it to the server; the test's listener runs after the server's).
      const answered = new Promise<boolean>((resolve) =>
        server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
          if (request.socket.remoteAddress === "127.0.0.2") resolve(response.headersSent)
        })
      )
      const late = yield* sockets.refused(port, "127.0.0.2", noSuchPath(port))
      expect(late.raw.match(/HTTP\/1\.1/g)).toHaveLength(1)
      expect(late.status).toBe(429)
      expect(yield* Effect.promise(() => answered)).toBe(false)
      expect(yield* Effect.promise(() => exchangeRaw(port, noSuchPath(port)))).toMatch(/^HTTP\/1\.1 404 /)
      // With 127.0.0.1 holding two more the server is full: a new address gets 503.
      held.push(yield* sockets.open(port, "127.0.0.1"), yield* sockets.open(port, "127.0.0.1"))
      const full = yield* sockets.refused(port, "127.0.0.3")
      expect(full.status).toBe(503)
      expect(full.retryAfter).toBe("5")
      expect(full.body.error.message).toContain("Service Unavailable")
      // Refused connections were never counted; closed ones are given back.
      expect(budgets.connections.used).toBe(4)
      yield* sockets.closeAll(held)
      expect(budgets.connections.used).toBe(0)
      // One warning per client and budget, however often it was refused.
      const logged = (text: string) => logs.messages.filter((message) => message.includes(text))
      expect(logged("a client is at its limit of 2 connections")).toHaveLength(1)
      expect(logged("the server is at its limit of 4 connections")).toHaveLength(1)
    }))

  it.scopedLive("behind a trusted proxy, every client shares the proxy's address: no per-address connection cap", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        NodeMcpServer.layer({
          port: 0,
          limits: { connections: 3, connectionsPerAddress: undefined, trustedProxyHeader: "x-forwarded-for" }
        }).pipe(Layer.provide(ServerLive))
      )
      const { address: { port }, budgets, server } = Context.get(context, NodeMcpServer.NodeMcpServer)
      const sockets = yield* openSockets(server)
      // Past the default per-address cap would be 257; the server-wide cap still applies.
      const held = [
        yield* sockets.open(port, "127.0.0.2"),
        yield* sockets.open(port, "127.0.0.2"),
        yield* sockets.open(port, "127.0.0.2")
      ]
      expect(budgets.connections.usedBy("127.0.0.2")).toBe(0)
      expect((yield* sockets.refused(port, "127.0.0.2")).status).toBe(503)
      yield* sockets.closeAll(held)
      expect(budgets.connections.used).toBe(0)
    }))

  it.scopedLive("a body trickled one byte at a time decodes whole, and its budget is given back", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(ServerLive)))
      const { address: { port }, budgets } = Context.get(context, NodeMcpServer.NodeMcpServer)
      const session = yield* Effect.promise(() => initialize(port))
      const name = "Zoë ☃ 𝄞"
      const body = JSON.stringify(JsonRpc.request(2, "tools/call", { name: "greet", arguments: { name } }))
      // Chunked, so nothing is sized from a declared length: the buffer grows as the bytes come.
      const answer = yield* Effect.promise(() =>
        trickle(port, "127.0.0.2", [
          "POST /mcp HTTP/1.1",
          `Host: 127.0.0.1:${port}`,
          "Content-Type: application/json",
          "Accept: application/json, text/event-stream",
          `Mcp-Session-Id: ${session}`,
          "Mcp-Protocol-Version: 2025-06-18",
          "Transfer-Encoding: chunked",
          "Connection: close"
        ], Buffer.from(body))
      )
      expect(answer).toMatch(/^HTTP\/1\.1 200 /)
      expect(answer).toContain(`Hello, ${name}!`)
      expect(budgets.pendingBodies.used).toBe(0)
    }))

  it.scopedLive("a large body past the client's share is read to its end and answered 429, never reset", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        // Bodies up to 32 MiB, so a 24 MiB one declares a length within the limit and is refused from its head,
        // before the kernel's buffers could hold what the client writes.
        NodeMcpServer.layer({
          port: 0,
          streamable: { maxBodySize: 32 * 1024 * 1024 },
          limits: { pendingBodyBytesPerClient: 1024 * 1024 }
        }).pipe(
          Layer.provide(ServerLive)
        )
      )
      const { address: { port }, budgets } = Context.get(context, NodeMcpServer.NodeMcpServer)
      for (let i = 0; i < 5; i++) {
        const answer = yield* Effect.promise(() => postLarge(port, "127.0.0.2", 8 * 1024 * 1024))
        expect(answer.status).toBe(429)
        expect(answer.retryAfter).toBe("5")
        expect(JSON.parse(answer.body)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } })
      }
      expect(budgets.pendingBodies.used).toBe(0)
    }))

  it.scopedLive("pending bodies: 429 past a client's share, 503 past the server's, the budget given back on close", () =>
    Effect.gen(function*() {
      const logs = warnings()
      const context = yield* Layer.build(
        NodeMcpServer.layer({ port: 0, limits: { pendingBodyBytes: 3000, pendingBodyBytesPerClient: 2000 } }).pipe(
          Layer.provide(ServerLive),
          Layer.provide(logs.layer)
        )
      )
      const { address: { port }, budgets, server } = Context.get(context, NodeMcpServer.NodeMcpServer)
      const sockets = yield* openSockets(server)
      const pending = yield* pendingBodies(server)
      // A declared length is held from the request's arrival, before any of the body.
      const first = yield* sockets.open(port, "127.0.0.2")
      yield* pending.start(first, port, 1500)
      expect(budgets.pendingBodies.usedBy("127.0.0.2")).toBe(1500)
      for (let i = 0; i < 2; i++) {
        // The whole body is sent and read (and dropped) before the answer, so the client is not reset mid-body.
        const refused = yield* sockets.refused(port, "127.0.0.2", postHead(port, 1000) + " ".repeat(1000))
        expect(refused.status).toBe(429)
        expect(refused.retryAfter).toBe("5")
        expect(refused.connection).toBe("close")
        expect(refused.body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } })
        expect(refused.body.error.message).toContain("Too Many Requests")
      }
      // Another client is served meanwhile, and a second one's body fills the server's budget up.
      const served = yield* Effect.promise(() => exchangeRaw(port, post(port, "{}")))
      expect(served).toMatch(/^HTTP\/1\.1 400 /)
      const second = yield* sockets.open(port, "127.0.0.3")
      yield* pending.start(second, port, 1000)
      expect(budgets.pendingBodies.used).toBe(2500)
      const full = yield* sockets.refused(port, "127.0.0.1", postHead(port, 1000) + " ".repeat(1000))
      expect(full.status).toBe(503)
      expect(full.body.error.message).toContain("Service Unavailable")
      // A client that goes away mid-body gives its bytes back.
      yield* sockets.closeAll([first, second])
      expect(budgets.pendingBodies.used).toBe(0)
      expect(logs.messages.filter((message) => message.includes("pending body bytes"))).toHaveLength(2)
    }))
})

/** Writes `request` on a fresh socket and reads until the server closes it. */
/** POSTs `size` bytes from `localAddress` with `node:http`, as a client writes a large body; rejects on a reset. */
const postLarge = (port: number, localAddress: string, size: number) =>
  new Promise<{ readonly status: number; readonly retryAfter: string | undefined; readonly body: string }>(
    (resolve, reject) => {
      const request = Http.request({
        host: "127.0.0.1",
        port,
        localAddress,
        method: "POST",
        path: "/mcp",
        agent: false,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": size
        }
      }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            retryAfter: response.headers["retry-after"],
            body: Buffer.concat(chunks).toString("utf8")
          }))
      })
      request.on("error", reject)
      // Written in pieces a few milliseconds apart, as a client streams a large body from its disk or network:
      // the refusal must not reset it halfway.
      const piece = Buffer.alloc(256 * 1024, 32)
      let left = size
      const write = () => {
        if (left <= 0) return void request.end()
        const n = Math.min(left, piece.length)
        left -= n
        request.write(n === piece.length ? piece : piece.subarray(0, n), () => setTimeout(write, 2))
      }
      write()
    }
  )

const exchangeRaw = (port: number, request: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(request))
    let received = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
    })
    socket.on("error", reject)
    socket.on("close", () => resolve(received))
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 40))}`)))
  })

/** Records the Warning lines logged under its layer (layers built under it included). */
const warnings = () => {
  const messages: Array<string> = []
  const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    if (logLevel._tag === "Warning") messages.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
  return { messages, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const noSuchPath = (port: number): string =>
  `GET /nope HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`

const postHead = (port: number, length: number): string =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
  `Accept: application/json, text/event-stream\r\nContent-Length: ${length}\r\n\r\n`

const post = (port: number, body: string): string =>
  postHead(port, Buffer.byteLength(body)).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") + body

interface Refused {
  readonly raw: string
  readonly status: number
  readonly retryAfter: string | undefined
  readonly connection: string | undefined
  readonly body: { readonly error: { readonly message: string } }
}

const parseRefusal = (raw: string): Refused => {
  const [head = "", body = ""] = raw.split("\r\n\r\n")
  const [statusLine = "", ...lines] = head.split("\r\n")
  const headers = new Map(lines.map((line) => {
    const colon = line.indexOf(":")
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const
  }))
  return {
    raw,
    status: Number(statusLine.split(" ")[1]),
    retryAfter: headers.get("retry-after"),
    connection: headers.get("connection"),
    body: JSON.parse(body)
  }
}

/**
 * Client sockets from chosen loopback addresses, each waited for on the server's side, so the server has counted
 * it (its connection listener runs before the test's) before the test goes on. Destroyed with the scope.
 */
const openSockets = (server: Http.Server) =>
  Effect.gen(function*() {
    const accepted: Array<Net.Socket> = []
    const waiting: Array<(socket: Net.Socket) => void> = []
    server.on("connection", (socket: Net.Socket) => {
      const next = waiting.shift()
      if (next === undefined) accepted.push(socket)
      else next(socket)
    })
    const serverSide = () =>
      new Promise<Net.Socket>((resolve) => {
        const socket = accepted.shift()
        if (socket === undefined) waiting.push(resolve)
        else resolve(socket)
      })
    const pairs = new Map<Net.Socket, Promise<Net.Socket>>()
    const all: Array<Net.Socket> = []
    yield* Effect.addFinalizer(() => Effect.sync(() => all.forEach((socket) => socket.destroy())))
    const connect = (port: number, localAddress: string) =>
      new Promise<Net.Socket>((resolve, reject) => {
        const socket = Net.connect({ port, host: "127.0.0.1", localAddress }, () => resolve(socket))
        all.push(socket)
        pairs.set(socket, serverSide())
        socket.once("error", reject)
      })
    return {
      /** A connection the server accepted and counted. */
      open: (port: number, localAddress: string) =>
        Effect.promise(async () => {
          const socket = await connect(port, localAddress)
          await pairs.get(socket)
          return socket
        }),
      /** A connection expected to be answered and closed; `request` is sent first when given. */
      refused: (port: number, localAddress: string, request?: string) =>
        Effect.promise(async () => {
          const socket = await connect(port, localAddress)
          const raw = await readUntilClosed(socket, request)
          return parseRefusal(raw)
        }),
      /** Closes client sockets and waits until the server has seen each close. */
      closeAll: (sockets: ReadonlyArray<Net.Socket>) =>
        Effect.promise(() =>
          Promise.all(sockets.map(async (socket) => {
            const peer = await pairs.get(socket)
            if (peer === undefined) throw new Error("not a socket of this test")
            const closed = peer.destroyed ? Promise.resolve() : new Promise<void>((resolve) => peer.once("close", resolve))
            socket.destroy()
            await closed
          }))
        )
    }
  })

/**
 * Starts POST bodies that are left unfinished: resolves once the request reached the server's request listener
 * (the test's listener runs after the server's, which has by then reserved the declared length).
 */
const pendingBodies = (server: Http.Server) =>
  Effect.sync(() => {
    const arrived: Array<() => void> = []
    server.on("request", () => arrived.shift()?.())
    return {
      start: (socket: Net.Socket, port: number, length: number) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            arrived.push(resolve)
            socket.write(postHead(port, length) + "{")
          })
        )
    }
  })

const readUntilClosed = (socket: Net.Socket, request?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let received = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
    })
    // The server may close while the request is still being written: what it answered is what counts.
    socket.on("error", (error) => received === "" ? reject(error) : undefined)
    socket.on("close", () => resolve(received))
    if (request !== undefined) socket.write(request)
  })

/** Opens a session the usual way, and says its id. */
const initialize = async (port: number): Promise<string> => {
  const response = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(JsonRpc.request(1, "initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "trickle", version: "0" }
    }))
  })
  await response.text()
  const session = response.headers.get("mcp-session-id")
  if (session === null) throw new Error(`no session: ${response.status}`)
  await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-06-18"
    },
    body: JSON.stringify(JsonRpc.notification("notifications/initialized", {}))
  }).then((r) => r.text())
  return session
}

/**
 * Sends `head`, then `body` in chunked encoding one byte per chunk, each written on its own (no Nagle), and reads
 * the answer until the server closes.
 */
const trickle = (port: number, localAddress: string, head: ReadonlyArray<string>, body: Buffer): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ port, host: "127.0.0.1", localAddress }, () => {
      socket.setNoDelay(true)
      socket.write(head.join("\r\n") + "\r\n\r\n")
      for (const byte of body) socket.write(Buffer.concat([Buffer.from("1\r\n"), Buffer.of(byte), Buffer.from("\r\n")]))
      socket.write("0\r\n\r\n")
    })
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", reject)
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })
