/**
 * The MCP client with Node's services wired in: `layerStdio` starts a server as a child process, `layerHttp`
 * reaches one over HTTP (Streamable, or legacy SSE when that is all the server speaks).
 *
 * ```ts
 * const ClientLive = NodeMcpClient.layerStdio({
 *   command: "npx",
 *   args: ["-y", "@modelcontextprotocol/server-everything"],
 *   clientInfo: { name: "my-app", version: "1.0.0" }
 * })
 *
 * Effect.gen(function*() {
 *   const client = yield* McpClient.McpClient
 *   const { tools } = yield* client.listTools()
 * }).pipe(Effect.provide(ClientLive), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as McpClient from "@effect-mcp/core/McpClient"
import type { McpClientError } from "@effect-mcp/core/McpClientError"
import * as Layer from "effect/Layer"

/**
 * Node's `CommandExecutor`, for `McpClient.layerStdio` and `McpClientTransport.layerStdio`.
 *
 * @since 0.1.0
 */
export const layerCommandExecutor = NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))

/**
 * The client of a server it starts as a child process, over stdio. The process ends with the layer.
 *
 * @since 0.1.0
 */
export const layerStdio = (options: McpClient.StdioOptions): Layer.Layer<McpClient.McpClient, McpClientError> =>
  McpClient.layerStdio(options).pipe(Layer.provide(layerCommandExecutor))

/**
 * The client of a server over HTTP (undici): Streamable HTTP, or the legacy HTTP+SSE transport when the server
 * answers a POSTed `initialize` with 400, 404 or 405.
 *
 * @since 0.1.0
 */
export const layerHttp = (options: McpClient.StreamableHttpOptions): Layer.Layer<McpClient.McpClient, McpClientError> =>
  McpClient.layerHttp(options).pipe(Layer.provide(NodeHttpClient.layerUndici))
