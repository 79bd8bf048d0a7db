import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { JsonRpc, McpClient, McpServer, McpTool } from "@effect-mcp/core"
import { NodeMcpServer } from "@effect-mcp/node"
import * as JsonRpcSubpath from "@effect-mcp/core/JsonRpc"
import { Context, Effect, Layer, Schema } from "effect"
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
})
