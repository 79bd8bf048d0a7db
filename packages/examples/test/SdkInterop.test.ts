/**
 * The official TypeScript SDK's clients against ONE demo server over Streamable HTTP: the 2.x client
 * (`@modelcontextprotocol/client`) pinned to 2026-07-28 and in its `auto` mode (which probes with
 * `server/discover`), and the 1.32 client in the session era. The `confirm` tool elicits, so it takes a multi
 * round-trip request at 2026-07-28 and a real server-to-client request in the session era: the same handler.
 *
 * `@modelcontextprotocol/client` is a pinned devDependency (2.4.0, the latest 2.x): its era negotiation and MRTR
 * driver are young and change between minors, so a bump should be a deliberate, tested change.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as DemoServer from "../src/DemoServer.js"

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

const textOf = (result: unknown): string => {
  if (typeof result !== "object" || result === null || !("content" in result) || !Array.isArray(result.content)) return ""
  const first: unknown = result.content[0]
  return typeof first === "object" && first !== null && "text" in first && typeof first.text === "string" ? first.text : ""
}

const modernClient = async (url: string, mode: "auto" | { readonly pin: string }) => {
  const client = new ModernClient({ name: "sdk-2", version: "1.0.0" }, {
    capabilities: { elicitation: {} },
    versionNegotiation: { mode: mode === "auto" ? "auto" : { pin: mode.pin } }
  })
  client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { confirm: true } }))
  await client.connect(new ModernTransport(new URL(url)))
  return client
}

describe("the official TypeScript SDK clients, both eras, one server", () => {
  it.scopedLive("2.x pinned to 2026-07-28, 2.x auto, and 1.32 in the session era", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(DemoServer.layer)))
      const url = `http://127.0.0.1:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      yield* Effect.promise(async () => {
        for (const mode of [{ pin: "2026-07-28" }, "auto"] as const) {
          const client = await modernClient(url, mode)
          expect(client.getProtocolEra()).toBe("modern")
          expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28")
          const tools = await client.listTools()
          expect(tools.tools.map((tool) => tool.name)).toContain("confirm")
          // The elicitation comes back inside the result; the client answers it and retries.
          const confirmed = await client.callTool({ name: "confirm", arguments: { action: "deploy" } })
          expect(textOf(confirmed)).toBe("Confirmed")
          await client.close()
        }
        const legacy = new LegacyClient({ name: "sdk-1", version: "1.0.0" }, { capabilities: { elicitation: {} } })
        legacy.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { confirm: true } }))
        await legacy.connect(new LegacyTransport(new URL(url)))
        expect(legacy.getServerVersion()?.name).toBeDefined()
        const confirmed = await legacy.callTool({ name: "confirm", arguments: { action: "deploy" } })
        expect(textOf(confirmed)).toBe("Confirmed")
        await legacy.close()
      })
    }).pipe(Effect.provide(quiet)), 60_000)
})
