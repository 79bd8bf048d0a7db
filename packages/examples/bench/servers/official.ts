/**
 * The benchmark's `echo` and `sleep` tools served by the official TypeScript SDK 1.32
 * (`@modelcontextprotocol/sdk`), on the `node:http` front of `sdkFront.ts` (endpoints, session handling and
 * usage are described there).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
// zod is the SDK's (required) peer dependency; tool schemas are written in it.
import * as z from "zod/v4"
import { serveSdk } from "./sdkFront.js"

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

serveSdk({
  streamable: (options) => new StreamableHTTPServerTransport(options),
  sse: (endpoint, res) => new SSEServerTransport(endpoint, res),
  isInitializeRequest,
  // Last: the transport types are inferred from the two factories above.
  connect: (transport) => makeServer().connect(transport)
})
