/**
 * The demo's app (MCP Apps, `McpApp`): the `calculator` tool adds two numbers like `add`, and comes with a view
 * that shows the sum and lets the user add other numbers, which it does by calling the server's `add` tool through
 * the host. The view is one HTML file with its script inline (a view may load nothing from the network unless its
 * CSP says so) and speaks the ext-apps protocol (`ui/initialize`, the tool's input and result, `tools/call`) to the
 * host over `postMessage`, without the SDK, so that the demo has nothing to bundle.
 *
 * @since 0.1.0
 */
import * as McpApp from "@effect-mcp/core/McpApp"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** The view's URI. @since 0.1.0 */
export const VIEW_URI = "ui://demo/calculator.html"

/** The view: what the host renders in its sandboxed iframe. @since 0.1.0 */
export const html = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Calculator</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 12px; }
  output { font-weight: bold; }
  input { width: 5em; }
</style>
</head>
<body>
<p>The tool said: <output id="result">waiting for the tool's result</output></p>
<p>
  <input id="a" type="number" value="1"> + <input id="b" type="number" value="2">
  <button id="add" disabled>Add with the server</button>
  = <output id="answer"></output>
</p>
<script>
  const pending = new Map()
  let nextId = 1
  const send = (message) => window.parent.postMessage(message, "*")
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve, reject })
    send({ jsonrpc: "2.0", id, method, params })
  })
  const sumOf = (result) =>
    result.structuredContent && typeof result.structuredContent.sum === "number"
      ? String(result.structuredContent.sum)
      : (result.content || []).map((block) => block.text || "").join("")
  window.addEventListener("message", (event) => {
    const message = event.data
    if (event.source !== window.parent || !message || message.jsonrpc !== "2.0") return
    if (message.method === undefined) {
      const waiting = pending.get(message.id)
      if (waiting === undefined) return
      pending.delete(message.id)
      if (message.error) waiting.reject(new Error(message.error.message))
      else waiting.resolve(message.result)
    } else if (message.method === "ui/notifications/tool-input") {
      const args = message.params.arguments || {}
      if (typeof args.a === "number") document.getElementById("a").value = String(args.a)
      if (typeof args.b === "number") document.getElementById("b").value = String(args.b)
    } else if (message.method === "ui/notifications/tool-result") {
      document.getElementById("result").textContent = sumOf(message.params)
    } else if (message.id !== undefined) {
      // A request this view has nothing to do for (teardown): it agrees.
      send({ jsonrpc: "2.0", id: message.id, result: {} })
    }
  })
  document.getElementById("add").addEventListener("click", async () => {
    const answer = document.getElementById("answer")
    try {
      const result = await request("tools/call", {
        name: "add",
        arguments: { a: Number(document.getElementById("a").value), b: Number(document.getElementById("b").value) }
      })
      answer.textContent = sumOf(result)
    } catch (error) {
      answer.textContent = "error: " + error.message
    }
  })
  request("ui/initialize", {
    appInfo: { name: "effect-mcp-calculator", version: "0.1.0" },
    appCapabilities: {},
    protocolVersion: "2026-01-26"
  }).then(() => {
    send({ jsonrpc: "2.0", method: "ui/notifications/initialized", params: {} })
    document.getElementById("add").disabled = false
  })
</script>
</body>
</html>
`

/** The `calculator` tool and its view, one layer. @since 0.1.0 */
export const Calculator = McpApp.make("calculator", {
  title: "Calculator",
  description: "Adds two numbers, and shows them in a calculator the user can go on adding with",
  input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  output: Schema.Struct({ sum: Schema.Number }),
  text: ({ sum }) => String(sum),
  view: { uri: VIEW_URI, title: "Calculator", html, prefersBorder: true },
  handler: ({ a, b }) => Effect.succeed({ sum: a + b })
})
