import { describe, expect, it } from "@effect/vitest"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as Changes from "../src/internal/changes.js"

describe("Changes", () => {
  it("a change reads back as told, with who told it", () => {
    const notification = JsonRpc.notification("notifications/resources/updated", { uri: "demo://readme" })
    const told = Changes.decode(Changes.encode("abc", { _tag: "ResourceUpdated", uri: "demo://readme", notification }))
    expect(told).toEqual({ from: "abc", change: { _tag: "ResourceUpdated", uri: "demo://readme", notification } })
  })

  it("a list change reads back as told; one that carries another notification is dropped", () => {
    const notification = JsonRpc.notification("notifications/tools/list_changed")
    expect(Changes.decode(Changes.encode("abc", { _tag: "ListChanged", notification }))).toEqual({
      from: "abc",
      change: { _tag: "ListChanged", notification }
    })
    const other = JsonRpc.notification("notifications/resources/updated", { uri: "demo://readme" })
    expect(Changes.decode(Changes.encode("abc", { _tag: "ListChanged", notification: other }))).toBeUndefined()
  })

  it("what is not a change is dropped", () => {
    for (
      const message of [
        "",
        "not json",
        "null",
        "[]",
        JSON.stringify({ from: "abc", uri: "x" }),
        JSON.stringify({ from: 1, uri: "x", notification: { jsonrpc: "2.0", method: "m" } }),
        JSON.stringify({ from: "abc", uri: "x", notification: { jsonrpc: "2.0", id: 1, method: "m" } }),
        JSON.stringify({ from: "abc", uri: "x", notification: { method: "m" } })
      ]
    ) expect(Changes.decode(message), message).toBeUndefined()
  })
})
