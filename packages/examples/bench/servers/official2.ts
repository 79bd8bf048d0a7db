/**
 * The benchmark's `echo` and `sleep` tools served by the official TypeScript SDK 2.4
 * (`@modelcontextprotocol/server`), with the transports an SDK 2 user on plain Node picks: Streamable HTTP from
 * its Node adapter `@modelcontextprotocol/node` (`NodeStreamableHTTPServerTransport`, which hands each request to
 * the web-standard transport through `@hono/node-server`), legacy HTTP+SSE from
 * `@modelcontextprotocol/server-legacy/sse` (v1's transport, kept frozen for migration). The `node:http` front
 * is `sdkFront.ts`, shared with the SDK 1.32 server (endpoints, session handling and usage are described there).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node"
import { isInitializeRequest, McpServer } from "@modelcontextprotocol/server"
import { SSEServerTransport } from "@modelcontextprotocol/server-legacy/sse"
// SDK 2 takes any Standard Schema; zod 4 is what its own examples use.
import * as z from "zod/v4"
import { serveSdk } from "./sdkFront.js"

/** The SDK binds one transport per server instance, hence a server per session. */
const makeServer = (): McpServer => {
  const server = new McpServer({ name: "official-sdk2-bench", version: "0.0.0" })
  server.registerTool(
    "echo",
    { description: "Echoes its input", inputSchema: z.object({ text: z.string() }) },
    ({ text }) => ({ content: [{ type: "text", text }] })
  )
  server.registerTool(
    "sleep",
    { description: "Waits, then returns", inputSchema: z.object({ ms: z.number().min(0).max(600_000) }) },
    async ({ ms }) => {
      await sleep(ms)
      return { content: [{ type: "text", text: `slept ${ms} ms` }] }
    }
  )
  return server
}

serveSdk({
  streamable: (options) => new NodeStreamableHTTPServerTransport(options),
  sse: (endpoint, res) => new SSEServerTransport(endpoint, res),
  isInitializeRequest,
  // Last: the transport types are inferred from the two factories above.
  connect: (transport) => makeServer().connect(transport)
})
