/**
 * MCP Apps on the server (`McpApp`, `io.modelcontextprotocol/ui`): a tool and its view in one definition, listed
 * with the extension's metadata; an app-only tool; a view read from a file at each read.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as McpApp from "../src/McpApp.js"
import * as McpClient from "../src/McpClient.js"
import * as McpServer from "../src/McpServer.js"
import * as McpTest from "../src/McpTest.js"

const HTML = "<!doctype html><p>hello</p>"

const Weather = McpApp.make("weather", {
  description: "Forecast, with a dashboard",
  input: Schema.Struct({ city: Schema.String }),
  output: Schema.Struct({ celsius: Schema.Number }),
  _meta: { "example.com/keep": true },
  view: {
    uri: "ui://weather/dashboard.html",
    html: HTML,
    csp: { connectDomains: ["https://api.example.com"], resourceDomains: ["https://cdn.example.com"] },
    permissions: { geolocation: {} },
    prefersBorder: false
  },
  handler: () => Effect.succeed({ celsius: 21 })
})

const Refresh = McpApp.make("refresh", {
  description: "Refreshes the dashboard's data",
  input: Schema.Struct({}),
  visibility: ["app"],
  handler: () => Effect.succeed("refreshed")
})

const server = McpServer.layer({ name: "apps", version: "1.0.0" })

const UI_META = {
  ui: {
    csp: { connectDomains: ["https://api.example.com"], resourceDomains: ["https://cdn.example.com"] },
    permissions: { geolocation: {} },
    prefersBorder: false
  }
}

describe("McpApp", () => {
  it.effect("the tool names its view under _meta.ui (and the older key), keeping its own _meta", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const tools = yield* client.listAllTools
      expect(tools.find((t) => t.name === "weather")?._meta).toEqual({
        "example.com/keep": true,
        ui: { resourceUri: "ui://weather/dashboard.html" },
        [McpApp.RESOURCE_URI_META_KEY]: "ui://weather/dashboard.html"
      })
      // An app-only tool is listed (the view calls it through the host), marked for hosts to keep from the model.
      expect(tools.find((t) => t.name === "refresh")?._meta).toEqual({ ui: { visibility: ["app"] } })
      expect((yield* client.callTool("weather", { city: "Oslo" })).structuredContent).toEqual({ celsius: 21 })
    }).pipe(Effect.provide(McpTest.layer(Layer.mergeAll(Weather, Refresh).pipe(Layer.provideMerge(server))))))

  it.effect("the view is a resource of the extension's MIME type, with its CSP and permissions listed and read", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const resources = yield* client.listAllResources
      expect(resources).toEqual([{
        uri: "ui://weather/dashboard.html",
        name: "weather",
        mimeType: "text/html;profile=mcp-app",
        _meta: UI_META
      }])
      const read = yield* client.readResource("ui://weather/dashboard.html")
      expect(read.contents).toEqual([{
        uri: "ui://weather/dashboard.html",
        mimeType: McpApp.MIME_TYPE,
        text: HTML,
        _meta: UI_META
      }])
    }).pipe(Effect.provide(McpTest.layer(Weather.pipe(Layer.provideMerge(server))))))

  it.scoped("a view read from a file is read again at each read", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-mcp-app-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const path = NodePath.join(dir, "view.html")
      Fs.writeFileSync(path, "<p>one</p>")
      const app = McpApp.make("viewer", {
        input: Schema.Struct({}),
        view: { uri: "ui://viewer/view.html", html: McpApp.file(path) },
        handler: () => Effect.succeed("shown")
      })
      const context = yield* Layer.build(app.pipe(Layer.provideMerge(server), Layer.provide(NodeContext.layer)))
      const client = yield* McpTest.makeClient().pipe(Effect.provide(context))
      const textOf = Effect.map(client.readResource("ui://viewer/view.html"), (r) => r.contents[0])
      expect(yield* textOf).toMatchObject({ text: "<p>one</p>" })
      Fs.writeFileSync(path, "<p>two</p>")
      expect(yield* textOf).toMatchObject({ text: "<p>two</p>" })
    }))
})
