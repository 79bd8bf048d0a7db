/**
 * The pure parts of the client's 2026-07-28 support: header values (the base64 sentinel), the mirrored headers,
 * and the classifier of the `server/discover` probe (cases a real server cannot easily be made to produce).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Sessionless from "../src/internal/client/sessionless.js"
import * as JsonRpc from "../src/JsonRpc.js"
import { McpClientError } from "../src/McpClientError.js"

const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }

describe("Sessionless", () => {
  it("header values: plain visible ASCII as is, anything else as the base64 sentinel of its UTF-8", () => {
    expect(Sessionless.headerValue("get_weather")).toBe("get_weather")
    expect(Sessionless.headerValue("file:///a b")).toBe("file:///a b")
    expect(Sessionless.headerValue("héllo")).toBe(`=?base64?${Buffer.from("héllo").toString("base64")}?=`)
    expect(Sessionless.headerValue(" padded")).toBe(`=?base64?${Buffer.from(" padded").toString("base64")}?=`)
    expect(Sessionless.headerValue("=?base64?abc?=")).toBe(`=?base64?${Buffer.from("=?base64?abc?=").toString("base64")}?=`)
  })

  it("the mirrored headers: version, method, and the name or URI of the three methods that have one", () => {
    expect(Sessionless.requestHeaders(JsonRpc.request(1, "tools/call", { name: "add", _meta: meta }))).toStrictEqual({
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "add"
    })
    expect(Sessionless.requestHeaders(JsonRpc.request(2, "resources/read", { uri: "test://x", _meta: meta })))
      .toMatchObject({ "mcp-name": "test://x" })
    expect(Sessionless.requestHeaders(JsonRpc.request(3, "tools/list", { _meta: meta }))).not.toHaveProperty("mcp-name")
    // A session-era request claims no version: no modern headers.
    expect(Sessionless.requestHeaders(JsonRpc.request(4, "tools/call", { name: "add" }))).toBeUndefined()
  })

  it("the probe classifier", () => {
    const http = (status: number, code?: number, data?: unknown) =>
      new McpClientError({
        reason: "HttpStatus",
        message: "x",
        status,
        ...(code === undefined ? {} : { code }),
        ...(data === undefined ? {} : { data })
      })
    const rpc = (code: number, data?: unknown) =>
      new McpClientError({ reason: "RpcError", message: "x", code, ...(data === undefined ? {} : { data }) })
    // A -32022 naming a modern version not tried yet: retry with it.
    expect(Sessionless.classifyProbe(http(400, -32022, { supported: ["2026-07-28"] }), ["2099-01-01"]))
      .toStrictEqual({ _tag: "Retry", version: "2026-07-28" })
    expect(Sessionless.classifyProbe(rpc(-32022, { supported: ["2026-07-28"] }), ["2099-01-01"]))
      .toStrictEqual({ _tag: "Retry", version: "2026-07-28" })
    // Already tried, or only unknown modern versions: a modern server this client cannot speak to.
    expect(Sessionless.classifyProbe(http(400, -32022, { supported: ["2026-07-28"] }), ["2026-07-28"]))
      .toStrictEqual({ _tag: "Fail" })
    expect(Sessionless.classifyProbe(http(400, -32022, { supported: ["2025-11-25"] }), ["2026-07-28"]))
      .toStrictEqual({ _tag: "Initialize" })
    expect(Sessionless.classifyProbe(http(400, -32020), [])).toStrictEqual({ _tag: "Fail" })
    expect(Sessionless.classifyProbe(http(400, -32021), [])).toStrictEqual({ _tag: "Fail" })
    expect(Sessionless.classifyProbe(http(404, -32601), [])).toStrictEqual({ _tag: "Initialize" })
    expect(Sessionless.classifyProbe(rpc(-32601), [])).toStrictEqual({ _tag: "Initialize" })
    expect(Sessionless.classifyProbe(http(400, -32000), [])).toStrictEqual({ _tag: "Initialize" })
    expect(Sessionless.classifyProbe(http(405), [])).toStrictEqual({ _tag: "Initialize" })
    for (const status of [401, 403, 500, 503]) {
      expect(Sessionless.classifyProbe(http(status), [])).toStrictEqual({ _tag: "Fail" })
    }
    expect(Sessionless.classifyProbe(new McpClientError({ reason: "Transport", message: "x" }), []))
      .toStrictEqual({ _tag: "Fail" })
  })
})
