/**
 * The demo server: tools (three that ask the client something: sampling, elicitation, roots), a resource, a
 * resource template and a prompt, composed from layers; and with `layerWithApp`, an app too (the `calculator` tool
 * with its view, `CalculatorApp`).
 *
 * @since 0.1.0
 */
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as McpResource from "@effect-mcp/core/McpResource"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
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
  // A client that declares the tasks extension may have the wait run as a task, to follow with tasks/get.
  taskSupport: "optional",
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

/** Summarizes a text with the client's model (sampling). @since 0.1.0 */
export const Summarize = McpTool.make("summarize", {
  description: "Summarizes a text in one sentence, with the client's model",
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const result = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: `Summarize in one sentence:\n\n${text}` } }],
        maxTokens: 200
      })
      const blocks: ReadonlyArray<McpSchema.SamplingContent> = Array.isArray(result.content)
        ? result.content
        : [result.content]
      return blocks.map((block) => block.type === "text" ? block.text : "").join("")
    })
})

/** Asks the user to confirm an action (elicitation). @since 0.1.0 */
export const Confirm = McpTool.make("confirm", {
  description: "Asks the user to confirm an action",
  input: Schema.Struct({ action: Schema.String }),
  handler: ({ action }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit(
        `Do you want to ${action}?`,
        Schema.Struct({ confirm: Schema.Boolean.annotations({ title: "Confirm", description: `Go ahead: ${action}` }) })
      )
      if (answer.action !== "accept") return `The user chose to ${answer.action}`
      return answer.content.confirm ? "Confirmed" : "Not confirmed"
    })
})

/** Lists the client's roots. @since 0.1.0 */
export const Roots = McpTool.make("roots", {
  description: "Lists the directories and files the client shares",
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const roots = yield* Effect.flatMap(CurrentSession, (session) => session.listRoots())
      return roots.length === 0 ? "No roots" : roots.map((root) => root.uri).join("\n")
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

/** The demo's server, named `effect-mcp-demo`, with `options` (a cluster gives every instance one `requestState` key). */
const serverOf = (options: Pick<McpServer.Options, "requestState">) =>
  McpServer.layer({
    ...options,
    name: "effect-mcp-demo",
    version: "0.1.0",
    instructions:
      "A demo server: echo text, add numbers, sleep, read the readme; summarize, confirm and roots ask the client."
  })

const handlers = Layer.mergeAll(
  Echo,
  Add,
  Sleep,
  Summarize,
  Confirm,
  Roots,
  Readme,
  Greeting,
  Review
)

/**
 * The calculator app, loaded only when asked for: it brings `@effect/platform`'s `FileSystem` (for views read from
 * files), which a demo without the app would load at every start for nothing.
 */
const Calculator = Layer.unwrapEffect(
  Effect.map(Effect.promise(() => import("./CalculatorApp.js")), (app) => app.Calculator)
)

/**
 * Every demo handler, registered into a server named `effect-mcp-demo` with `options` (a cluster gives every
 * instance one `requestState` key); with `app`, the `calculator` tool and its view too (MCP Apps). @since 0.1.0
 */
export const layerWith = (
  options: Pick<McpServer.Options, "requestState"> & { readonly app?: boolean | undefined }
): Layer.Layer<McpServer.McpServer> =>
  (options.app === true ? Layer.merge(handlers, Calculator) : handlers).pipe(
    Layer.provideMerge(serverOf({ ...(options.requestState === undefined ? {} : { requestState: options.requestState }) }))
  )

/**
 * The demo with its app (MCP Apps): every handler of `layer` and the `calculator` tool with its view, for a host
 * that renders apps.
 *
 * @since 0.1.0
 */
export const layerWithApp: Layer.Layer<McpServer.McpServer> = layerWith({ app: true })

/** Every demo handler, registered into a server named `effect-mcp-demo`. @since 0.1.0 */
export const layer: Layer.Layer<McpServer.McpServer> = layerWith({})
