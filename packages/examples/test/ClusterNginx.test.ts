/**
 * Three demo instances behind a real nginx (round robin, no affinity, buffering off), as the README sets them up,
 * driven by the official SDK clients: the 1.32 client over Streamable HTTP and over legacy SSE, and the 2.x client
 * at 2026-07-28, whose multi round-trip retry lands on another instance than its first try.
 */
import { describe, expect, it } from "@effect/vitest"
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import { redisServerPath, startRedis } from "../../cluster/test/utils/redisServer.js"
import { startInstance } from "./utils/cluster.js"
import { nginxPath, startNginx } from "./utils/nginx.js"

// While the file is collected, outside any test's time limit: installs what is missing first.
redisServerPath()
nginxPath()

const textOf = (result: unknown): string => {
  if (typeof result !== "object" || result === null || !("content" in result) || !Array.isArray(result.content)) return ""
  const first: unknown = result.content[0]
  return typeof first === "object" && first !== null && "text" in first && typeof first.text === "string" ? first.text : ""
}

const legacyClient = () => {
  const client = new LegacyClient({ name: "sdk-1", version: "1.0.0" }, { capabilities: { elicitation: {} } })
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { confirm: true } }))
  return client
}

/** What every client does through the proxy: list, call, a call whose answer streams, and one that elicits. */
const exercise = async (client: LegacyClient) => {
  const tools = await client.listTools()
  expect(tools.tools.map((tool) => tool.name)).toContain("confirm")
  for (let i = 0; i < 6; i++) {
    expect(await client.callTool({ name: "add", arguments: { a: i, b: 1 } })).toMatchObject({
      structuredContent: { sum: i + 1 }
    })
  }
  const progress: Array<number> = []
  const slept = await client.callTool({ name: "sleep", arguments: { ms: 20 } }, undefined, {
    onprogress: (p) => progress.push(p.progress)
  })
  expect(textOf(slept)).toBe("slept 20 ms")
  expect(progress[0]).toBe(0)
  expect(textOf(await client.callTool({ name: "confirm", arguments: { action: "deploy" } }))).toBe("Confirmed")
}

describe("three instances behind nginx", () => {
  it.scopedLive("the official SDK clients of both eras work through round robin with no affinity", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const instances = yield* Effect.all([0, 1, 2].map(() => startInstance(redis.url, 5_000)), {
        concurrency: "unbounded"
      })
      const port = yield* startNginx(instances.map((instance) => instance.port))
      const base = `http://127.0.0.1:${port}`
      yield* Effect.promise(async () => {
        const streamable = legacyClient()
        const transport = new LegacyTransport(new URL(`${base}/mcp`))
        await streamable.connect(transport)
        await exercise(streamable)
        await transport.terminateSession()
        await streamable.close()

        const sse = legacyClient()
        await sse.connect(new SSEClientTransport(new URL(`${base}/sse`)))
        await exercise(sse)
        await sse.close()

        const modern = new ModernClient({ name: "sdk-2", version: "1.0.0" }, {
          capabilities: { elicitation: {} },
          versionNegotiation: { mode: { pin: "2026-07-28" } }
        })
        modern.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { confirm: true } }))
        await modern.connect(new ModernTransport(new URL(`${base}/mcp`)))
        for (let i = 0; i < 3; i++) {
          expect(textOf(await modern.callTool({ name: "confirm", arguments: { action: `ship ${i}` } }))).toBe("Confirmed")
        }
        await modern.close()
      })
    }), 60_000)
})
