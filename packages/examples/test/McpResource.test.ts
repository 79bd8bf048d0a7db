/**
 * Resource templates: what a URI template's variables may match (RFC 6570), and what a client reading a URI that
 * tries to climb out of its variable gets.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpResource from "@effect-mcp/core/McpResource"
import * as McpTest from "@effect-mcp/core/McpTest"

describe("McpResource", () => {
  describe("compileTemplate", () => {
    it("{var} is one segment, decoded: an encoded / or \\, or a dot segment, does not match", () => {
      const match = McpResource.compileTemplate("demo://greetings/{name}")
      expect(match("demo://greetings/Ada")).toEqual({ name: "Ada" })
      expect(match("demo://greetings/Ada%20Lovelace")).toEqual({ name: "Ada Lovelace" })
      expect(match("demo://greetings/50%25")).toEqual({ name: "50%" })
      expect(match("demo://greetings/a.b")).toEqual({ name: "a.b" })
      for (const uri of [
        "demo://greetings/..%2F..%2Fetc%2Fpasswd",
        "demo://greetings/a%2fb",
        "demo://greetings/..%5C..%5Cwin.ini",
        "demo://greetings/..",
        "demo://greetings/.",
        "demo://greetings/%2E%2E",
        "demo://greetings/%2e",
        "demo://greetings/a/b",
        "demo://greetings/",
        "demo://greetings/%E0%A4%A"
      ]) expect(match(uri), uri).toBeUndefined()
    })

    it("keeps what matched before: several variables, literals around them", () => {
      const match = McpResource.compileTemplate("test://template/{id}/data")
      expect(match("test://template/42/data")).toEqual({ id: "42" })
      expect(match("test://template/4%2F2/data")).toBeUndefined()
      expect(match("test://template/../data")).toBeUndefined()
      expect(McpResource.compileTemplate("x://{a}-{b}.txt")("x://one-two.txt")).toEqual({ a: "one", b: "two" })
    })

    it("{+var} and {#var} span segments as written, but no segment may be a dot segment", () => {
      const reserved = McpResource.compileTemplate("file:///{+path}")
      expect(reserved("file:///docs/a%20b/c.md")).toEqual({ path: "docs/a%20b/c.md" })
      expect(reserved("file:///docs/../../etc/passwd")).toBeUndefined()
      expect(reserved("file:///docs/%2e%2E/secret")).toBeUndefined()
      expect(reserved("file:///./x")).toBeUndefined()
      const fragment = McpResource.compileTemplate("doc://page{#section}")
      expect(fragment("doc://page#intro/part")).toEqual({ section: "intro/part" })
      expect(fragment("doc://page#..")).toBeUndefined()
    })

    it("{/var} is one segment after a /, {/var*} one or more, each decoded and checked", () => {
      const one = McpResource.compileTemplate("repo://r{/branch}")
      expect(one("repo://r/main")).toEqual({ branch: "main" })
      expect(one("repo://r/a/b")).toBeUndefined()
      expect(one("repo://r/a%2Fb")).toBeUndefined()
      const many = McpResource.compileTemplate("repo://r{/path*}")
      expect(many("repo://r/src/a%20b.ts")).toEqual({ path: "src/a b.ts" })
      expect(many("repo://r/src/../../x")).toBeUndefined()
      expect(many("repo://r/src/a%2F..")).toBeUndefined()
    })
  })

  it.scoped("a URI that would climb out of a simple variable is an unknown resource; the handler never runs", () =>
    Effect.gen(function*() {
      const client = yield* McpTest.makeClient()
      const read = yield* client.readResource("demo://greetings/Ada%20Lovelace")
      expect(read.contents).toEqual([{ uri: "demo://greetings/Ada%20Lovelace", mimeType: "text/plain", text: "Hello, Ada Lovelace!" }])
      for (const uri of ["demo://greetings/..%2F..%2Fetc%2Fpasswd", "demo://greetings/%2E%2E"]) {
        expect(yield* Effect.flip(client.readResource(uri))).toMatchObject({
          reason: "RpcError",
          code: JsonRpc.ErrorCode.ResourceNotFound
        })
      }
    }).pipe(Effect.provide(DemoServer.layer)))
})
