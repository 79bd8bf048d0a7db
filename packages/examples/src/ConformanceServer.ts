/**
 * The fixture the official conformance suite (`@modelcontextprotocol/conformance`) tests a server against: the
 * tools, resources and prompts its server scenarios call by name, with the contents they check, written with
 * effect-mcp's public API only. `conformance.ts` serves it; `test/Conformance.test.ts` runs the suite on it.
 *
 * What effect-mcp cannot do yet is served as a clear tool error rather than faked: asking the client for
 * sampling or elicitation (`test_sampling`, `test_elicitation*`) needs requests from the server to the client,
 * and `test://watched-resource` is readable but cannot be subscribed to.
 *
 * @since 0.1.0
 */
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as ConformanceModern from "./ConformanceModern.js"
import * as McpResource from "@effect-mcp/core/McpResource"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** A 1x1 red PNG, base64: the image the suite expects from image tools, prompts and the binary resource. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
/** A minimal WAV file, base64. */
const WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

const NoArguments = Schema.Struct({})

const notYet = (what: string): McpSchema.CallToolResult =>
  McpTool.error(`Not supported yet: ${what} needs requests from the server to the client, which effect-mcp cannot send yet`)

/** The error `test_error_handling` fails with: a typed failure, which the model sees as `isError: true`. */
class IntentionalError extends Data.TaggedError("IntentionalError")<{ readonly message: string }> {}

// --- Tools ------------------------------------------------------------------------------------------------------

const SimpleText = McpTool.make("test_simple_text", {
  description: "Returns simple text content",
  input: NoArguments,
  handler: () => Effect.succeed("This is a simple text response for testing.")
})

const ImageContent = McpTool.make("test_image_content", {
  description: "Returns image content",
  input: NoArguments,
  handler: () => Effect.succeed(McpTool.image(PNG, "image/png"))
})

const AudioContent = McpTool.make("test_audio_content", {
  description: "Returns audio content",
  input: NoArguments,
  handler: () => Effect.succeed<McpSchema.Content>({ type: "audio", data: WAV, mimeType: "audio/wav" })
})

const EmbeddedResource = McpTool.make("test_embedded_resource", {
  description: "Returns an embedded resource",
  input: NoArguments,
  handler: () =>
    Effect.succeed<McpSchema.Content>({
      type: "resource",
      resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." }
    })
})

const MultipleContentTypes = McpTool.make("test_multiple_content_types", {
  description: "Returns text, image and resource content together",
  input: NoArguments,
  handler: () =>
    Effect.succeed<ReadonlyArray<McpSchema.Content>>([
      McpTool.text("Multiple content types test:"),
      McpTool.image(PNG, "image/png"),
      {
        type: "resource",
        resource: {
          uri: "test://mixed-content-resource",
          mimeType: "application/json",
          text: JSON.stringify({ test: "data", value: 123 })
        }
      }
    ])
})

const ToolWithLogging = McpTool.make("test_tool_with_logging", {
  description: "Sends three log messages while it runs",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      yield* session.log("info", "Tool execution started")
      yield* Effect.sleep("50 millis")
      yield* session.log("info", "Tool processing data")
      yield* Effect.sleep("50 millis")
      yield* session.log("info", "Tool execution completed")
      return "Tool with logging executed successfully"
    })
})

const ToolWithProgress = McpTool.make("test_tool_with_progress", {
  description: "Reports progress 0, 50 and 100 of 100",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      yield* session.progress(0, 100, "Completed step 0 of 100")
      yield* Effect.sleep("50 millis")
      yield* session.progress(50, 100, "Completed step 50 of 100")
      yield* Effect.sleep("50 millis")
      yield* session.progress(100, 100, "Completed step 100 of 100")
      return "Tool with progress executed successfully"
    })
})

const ErrorHandling = McpTool.make("test_error_handling", {
  description: "Always fails",
  input: NoArguments,
  handler: () => Effect.fail(new IntentionalError({ message: "This tool intentionally returns an error for testing" }))
})

// SEP-1699 (`server-sse-polling`): the reference closes the POST's stream mid-call and answers after the client
// resumes. effect-mcp lets a handler end nothing early (a server MAY do it, and need not), so this one only makes
// sure it is answered on a stream: a message about the request before the answer switches the response from JSON
// to SSE, and the suite then checks the priming event and its `retry`.
const Reconnection = McpTool.make("test_reconnection", {
  description: "Answers on an SSE stream, which starts with the SEP-1699 priming event",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      yield* session.log("info", "test_reconnection started")
      yield* Effect.sleep("50 millis")
      return "Reconnection test completed successfully"
    })
})

const Sampling = McpTool.make("test_sampling", {
  description: "Asks the client's LLM to answer a prompt (sampling/createMessage)",
  input: Schema.Struct({ prompt: Schema.String.annotations({ description: "The prompt to send to the LLM" }) }),
  handler: () => Effect.succeed(notYet("sampling/createMessage"))
})

const Elicitation = McpTool.make("test_elicitation", {
  description: "Asks the user for input (elicitation/create)",
  input: Schema.Struct({ message: Schema.String.annotations({ description: "The message to show the user" }) }),
  handler: () => Effect.succeed(notYet("elicitation/create"))
})

const ElicitationDefaults = McpTool.make("test_elicitation_sep1034_defaults", {
  description: "Asks the user for input with a default for every primitive type (SEP-1034)",
  input: NoArguments,
  handler: () => Effect.succeed(notYet("elicitation/create"))
})

const ElicitationEnums = McpTool.make("test_elicitation_sep1330_enums", {
  description: "Asks the user to choose from every kind of enum (SEP-1330)",
  input: NoArguments,
  handler: () => Effect.succeed(notYet("elicitation/create"))
})

// SEP-1613: the suite looks for `$schema` (2020-12), `$defs` and `additionalProperties: false` in the listing.
// An identified struct lands in `$defs`, and structs are closed; `$schema` is what effect-mcp leaves out.
const Address = Schema.Struct({
  street: Schema.optional(Schema.String),
  city: Schema.optional(Schema.String)
}).annotations({ identifier: "address" })

const JsonSchema202012 = McpTool.make("json_schema_2020_12_tool", {
  description: "Has an input schema with $defs and additionalProperties (SEP-1613)",
  input: Schema.Struct({ name: Schema.optional(Schema.String), address: Schema.optional(Address) }),
  handler: (input) => Effect.succeed(`JSON Schema 2020-12 tool called with: ${JSON.stringify(input)}`)
})

// --- Resources --------------------------------------------------------------------------------------------------

const StaticText = McpResource.make({
  uri: "test://static-text",
  name: "static-text",
  title: "Static Text Resource",
  description: "A static text resource",
  mimeType: "text/plain",
  read: Effect.succeed("This is the content of the static text resource.")
})

const pngBytes = Encoding.decodeBase64(PNG)

const StaticBinary = McpResource.make({
  uri: "test://static-binary",
  name: "static-binary",
  title: "Static Binary Resource",
  description: "A static binary resource (a PNG image)",
  mimeType: "image/png",
  read: Either.isRight(pngBytes) ? Effect.succeed(pngBytes.right) : Effect.dieMessage("the test PNG is not base64")
})

const Template = McpResource.template({
  uriTemplate: "test://template/{id}/data",
  name: "template",
  title: "Resource Template",
  description: "A resource template with parameter substitution",
  mimeType: "application/json",
  params: Schema.Struct({ id: Schema.String }),
  read: ({ id }) => Effect.succeed(JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }))
})

const WatchedResource = McpResource.make({
  uri: "test://watched-resource",
  name: "watched-resource",
  title: "Watched Resource",
  description: "A resource clients may subscribe to",
  mimeType: "text/plain",
  read: Effect.succeed("Watched resource content")
})

// --- Prompts ----------------------------------------------------------------------------------------------------

const SimplePrompt = McpPrompt.make("test_simple_prompt", {
  title: "Simple Test Prompt",
  description: "A prompt without arguments",
  args: Schema.Struct({}),
  handler: () => Effect.succeed("This is a simple prompt for testing.")
})

const PromptWithArguments = McpPrompt.make("test_prompt_with_arguments", {
  title: "Prompt With Arguments",
  description: "A prompt with two required arguments",
  args: Schema.Struct({
    arg1: Schema.String.annotations({ description: "First test argument" }),
    arg2: Schema.String.annotations({ description: "Second test argument" })
  }),
  handler: ({ arg1, arg2 }) => Effect.succeed(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`),
  // `completion-complete` asks for arg1; a completer also makes the server announce `completions`.
  complete: {
    arg1: (value) => Effect.succeed(["paris", "park", "party", "test", "testing"].filter((v) => v.startsWith(value)))
  }
})

const PromptWithEmbeddedResource = McpPrompt.make("test_prompt_with_embedded_resource", {
  title: "Prompt With Embedded Resource",
  description: "A prompt that embeds a resource",
  args: Schema.Struct({ resourceUri: Schema.String.annotations({ description: "URI of the resource to embed" }) }),
  handler: ({ resourceUri }) =>
    Effect.succeed<ReadonlyArray<McpSchema.PromptMessage>>([
      {
        role: "user",
        content: {
          type: "resource",
          resource: { uri: resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." }
        }
      },
      McpPrompt.user("Please process the embedded resource above.")
    ])
})

const PromptWithImage = McpPrompt.make("test_prompt_with_image", {
  title: "Prompt With Image",
  description: "A prompt with image content",
  args: Schema.Struct({}),
  handler: () =>
    Effect.succeed<ReadonlyArray<McpSchema.PromptMessage>>([
      { role: "user", content: McpTool.image(PNG, "image/png") },
      McpPrompt.user("Please analyze the image above.")
    ])
})

/**
 * Every fixture handler, registered into a server named `effect-mcp-conformance`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<McpServer.McpServer> = Layer.mergeAll(
  SimpleText,
  ImageContent,
  AudioContent,
  EmbeddedResource,
  MultipleContentTypes,
  ToolWithLogging,
  ToolWithProgress,
  ErrorHandling,
  Reconnection,
  Sampling,
  Elicitation,
  ElicitationDefaults,
  ElicitationEnums,
  JsonSchema202012,
  StaticText,
  StaticBinary,
  Template,
  WatchedResource,
  SimplePrompt,
  PromptWithArguments,
  PromptWithEmbeddedResource,
  PromptWithImage,
  // What the 2026-07-28 scenarios call by name.
  ConformanceModern.layer
).pipe(Layer.provideMerge(McpServer.layer({ name: "effect-mcp-conformance", version: "0.1.0" })))
