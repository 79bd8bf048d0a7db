import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { JsonRpc, McpClient, McpServer, McpTool } from "@effect-mcp/core"
import { NodeMcpServer } from "@effect-mcp/node"
import * as JsonRpcSubpath from "@effect-mcp/core/JsonRpc"
import { Context, Effect, Layer, Schema } from "effect"
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
})

/** Writes `request` on a fresh socket and reads until the server closes it. */
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
