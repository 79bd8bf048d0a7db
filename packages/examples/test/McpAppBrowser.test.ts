/**
 * The demo's app (`CalculatorApp`, MCP Apps) in a real browser: the demo server with its app (`layerWithApp`) served by `NodeMcpServer` on
 * 127.0.0.1, a host made of the ext-apps SDK's own host bridge (`AppBridge`, bundled for the page with esbuild) in
 * headless Chromium (Debian's `chromium`, driven by `playwright-core`), whose MCP client is effect-mcp's, in Node.
 * The host calls the `calculator` tool, renders its view in a sandboxed iframe and hands it the call's input and
 * result; the test checks that the view shows the result, and that a sum asked for in the view is answered by
 * the server's `add` tool through the host.
 *
 * Chromium is `CHROMIUM_PATH` or Debian's `chromium` on PATH; when it is missing, the setup (`setup/system.ts`) installs
 * Debian's `chromium` with `apt-get` if it runs as root, and otherwise stops saying what to install. On failure a
 * screenshot goes to `.test-output/` at the repository's root.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as NodeMcpServer from "@effect-mcp/node/NodeMcpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { VIEW_URI } from "../src/CalculatorApp.js"
import { chromiumPath } from "./setup/system.js"
import * as DemoServer from "../src/DemoServer.js"

const examples = fileURLToPath(new URL("..", import.meta.url))
const outputDir = Path.join(examples, "..", "..", ".test-output")

/** The SDK's host bridge as one script for the page: `window.ExtApps.AppBridge` and `PostMessageTransport`. */
const bridgeScript = async (): Promise<string> => {
  const built = await esbuild.build({
    stdin: {
      contents: `export { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge"`,
      resolveDir: examples
    },
    bundle: true,
    format: "iife",
    globalName: "ExtApps",
    platform: "browser",
    write: false,
    logLevel: "silent"
  })
  return built.outputFiles[0]!.text
}

/**
 * The host's page: the view in a sandboxed iframe, the bridge between them; the bridge's `tools/call` goes to the
 * host's MCP client (`hostCallTool`, in Node). Given the view and the call it shows, as the host would fetch them.
 */
const hostScript = `
  window.startHost = async (html, args, result) => {
    const { AppBridge, PostMessageTransport } = window.ExtApps
    const iframe = document.createElement("iframe")
    iframe.id = "view"
    iframe.setAttribute("sandbox", "allow-scripts")
    document.body.appendChild(iframe)
    const bridge = new AppBridge(null, { name: "effect-mcp-test-host", version: "0.1.0" }, { serverTools: {} })
    bridge.oncalltool = (params) => window.hostCallTool(params)
    bridge.oninitialized = async () => {
      await bridge.sendToolInput({ arguments: args })
      await bridge.sendToolResult(result)
    }
    await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow))
    iframe.srcdoc = html
  }
`

describe("MCP Apps in a browser", () => {
  it.scopedLive("the calculator's view renders the tool's result and adds through the host with the server", () =>
    Effect.gen(function*() {
      const executablePath = chromiumPath()
      const server = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(DemoServer.layerWithApp)))
      const { port } = Context.get(server, NodeMcpServer.NodeMcpServer).address
      const clientContext = yield* Layer.build(
        McpClient.layerStreamableHttp({ url: `http://127.0.0.1:${port}/mcp` }).pipe(Layer.provide(FetchHttpClient.layer))
      )
      const client = Context.get(clientContext, McpClient.McpClient)
      const runtime = yield* Effect.runtime<never>()

      // What a host does before it shows the view: the tool's listing names it, the server serves it.
      const tool = (yield* client.listAllTools).find((t) => t.name === "calculator")
      const ui = tool?._meta?.["ui"]
      expect(ui).toEqual({ resourceUri: VIEW_URI })
      const view = (yield* client.readResource(VIEW_URI)).contents[0]
      const html = view !== undefined && "text" in view ? view.text : ""
      expect(view?.mimeType).toBe("text/html;profile=mcp-app")
      const args = { a: 2, b: 3 }
      const result = yield* client.callTool("calculator", args)

      const script = yield* Effect.promise(bridgeScript)
      const browser = yield* Effect.acquireRelease(
        Effect.promise(() => chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] })),
        (browser) => Effect.promise(() => browser.close())
      )
      const page = yield* Effect.promise(() => browser.newPage())
      const calls: Array<unknown> = []
      yield* Effect.promise(async () => {
        await page.exposeFunction("hostCallTool", (params: { name: string; arguments?: Record<string, unknown> }) => {
          calls.push(params)
          return Runtime.runPromise(runtime)(client.callTool(params.name, params.arguments))
        })
        await page.setContent(`<!doctype html><html><body><script>${script}</script><script>${hostScript}</script></body></html>`)
        await page.evaluate(([html, args, result]) => (window as unknown as {
          startHost: (html: string, args: unknown, result: unknown) => Promise<void>
        }).startHost(html, args, result), [html, args, result] as const)
      })
      const frame = page.frameLocator("#view")
      const checks = Effect.promise(async () => {
        await frame.locator("#result", { hasText: /^5$/ }).waitFor({ timeout: 15_000 })
        await frame.locator("#add:not([disabled])").waitFor({ timeout: 15_000 })
        await frame.locator("#a").fill("40")
        await frame.locator("#b").fill("2")
        await frame.locator("#add").click()
        await frame.locator("#answer", { hasText: /^42$/ }).waitFor({ timeout: 15_000 })
      })
      yield* checks.pipe(
        Effect.catchAllDefect((defect) =>
          Effect.promise(async () => {
            Fs.mkdirSync(outputDir, { recursive: true })
            await page.screenshot({ path: Path.join(outputDir, "mcp-app-calculator.png"), fullPage: true })
          }).pipe(Effect.zipRight(Effect.die(defect)))
        )
      )
      // The view's sum was the server's: one tools/call of `add`, through the host.
      expect(calls).toEqual([{ name: "add", arguments: { a: 40, b: 2 } }])
    }), 60_000)
})
