import { describe, expect, it } from "@effect/vitest"
import * as McpRevision from "../src/McpRevision.js"
import * as McpSchema from "../src/McpSchema.js"

describe("McpRevision", () => {
  it("lists every revision served, oldest first, with what differs in each", () => {
    expect(McpRevision.all.map((r) => [r.version, r.negotiation, r.batches, r.jsonSchemaDialect, r.primingEvents]))
      .toEqual([
        ["2024-11-05", "initialize", false, "draft-07", false],
        ["2025-03-26", "initialize", true, "draft-07", false],
        ["2025-06-18", "initialize", false, "draft-07", false],
        ["2025-11-25", "initialize", false, "2020-12", true],
        ["2026-07-28", "per-request", false, "2020-12", false]
      ])
    expect(McpRevision.all.map((r) => r.resourceNotFoundCode)).toEqual([-32002, -32002, -32002, -32002, -32602])
    expect([...McpRevision.get("2026-07-28")!.removedMethods].sort()).toEqual([
      "initialize",
      "logging/setLevel",
      "ping",
      "resources/subscribe",
      "resources/unsubscribe"
    ])
    expect(McpRevision.get("2025-11-25")!.removedMethods.size).toBe(0)
    expect(McpRevision.get("2099-01-01")).toBeUndefined()
  })

  it("derives the session-era and sessionless lists the rest of the library uses", () => {
    expect(McpSchema.SUPPORTED_PROTOCOL_VERSIONS).toEqual(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
    expect(McpSchema.LATEST_PROTOCOL_VERSION).toBe("2025-11-25")
    expect(McpRevision.sessionless.map((r) => r.version)).toEqual(["2026-07-28"])
    expect(McpRevision.latestSessionEra).toBe(McpRevision.get("2025-11-25"))
  })
})
