/**
 * The demo server: three tools, a resource, a resource template and a prompt, composed from layers.
 *
 * @since 0.1.0
 */
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as McpResource from "@effect-mcp/core/McpResource"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** Returns its input. @since 0.1.0 */
export const Echo = McpTool.make("echo", {
  description: "Returns the text it is given",
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

/** The `add` tool's definition, which its clients share: `client.call(AddTool, { a: 1, b: 2 })`. @since 0.1.0 */
export const AddTool = McpTool.define("add", {
  description: "Adds two numbers",
  input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  output: Schema.Struct({ sum: Schema.Number }),
  text: ({ sum }) => String(sum)
})

/** Adds two numbers; the sum comes back as text and as structured content. @since 0.1.0 */
export const Add = AddTool.toLayer(({ a, b }) => Effect.succeed({ sum: a + b }))

/** Waits, reporting progress, then says how long it slept. @since 0.1.0 */
export const Sleep = McpTool.make("sleep", {
  description: "Waits for the given number of milliseconds, then returns",
  input: Schema.Struct({ ms: Schema.Number.pipe(Schema.nonNegative(), Schema.lessThanOrEqualTo(600_000)) }),
  handler: ({ ms }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      yield* session.progress(0, ms)
      yield* Effect.sleep(ms)
      yield* session.progress(ms, ms)
      return `slept ${ms} ms`
    })
})

/** A static resource. @since 0.1.0 */
export const Readme = McpResource.make({
  uri: "demo://readme",
  name: "readme",
  title: "About this server",
  mimeType: "text/markdown",
  read: Effect.succeed("# effect-mcp demo\n\nTools: `echo`, `add`, `sleep`.\n")
})

/** A templated resource. @since 0.1.0 */
export const Greeting = McpResource.template({
  uriTemplate: "demo://greetings/{name}",
  name: "greeting",
  mimeType: "text/plain",
  params: Schema.Struct({ name: Schema.String }),
  read: ({ name }) => Effect.succeed(`Hello, ${name}!`),
  complete: {
    name: (value) => Effect.succeed(["Ada", "Alan", "Grace"].filter((n) => n.toLowerCase().startsWith(value.toLowerCase())))
  }
})

/** A prompt with one required argument. @since 0.1.0 */
export const Review = McpPrompt.make("review", {
  description: "Asks for a code review",
  args: Schema.Struct({
    code: Schema.String.annotations({ description: "The code to review" }),
    focus: Schema.optional(Schema.String.annotations({ description: "What to look at first" }))
  }),
  handler: ({ code, focus }) =>
    Effect.succeed(`Please review this code${focus === undefined ? "" : `, focusing on ${focus}`}:\n\n${code}`)
})

/** Every demo handler, registered into a server named `effect-mcp-demo`. @since 0.1.0 */
export const layer: Layer.Layer<McpServer.McpServer> = Layer.mergeAll(Echo, Add, Sleep, Readme, Greeting, Review).pipe(
  Layer.provideMerge(McpServer.layer({
    name: "effect-mcp-demo",
    version: "0.1.0",
    instructions: "A demo server: echo text, add numbers, sleep, read the readme."
  }))
)
