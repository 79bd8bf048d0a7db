/**
 * The fixture the official conformance suite (`@modelcontextprotocol/conformance`) tests a server against: the
 * tools, resources and prompts its server scenarios call by name, with the contents they check, written with
 * effect-mcp's public API only. `conformance.ts` serves it; `test/Conformance.test.ts` runs the suite on it.
 *
 * The sampling and elicitation tools (`test_sampling`, `test_elicitation*`) ask the client through
 * `CurrentSession`; a client without the capability gets a tool error.
 *
 * @since 0.1.0
 */
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as ConformanceModern from "./ConformanceModern.js"
import * as ConformanceTasks from "./ConformanceTasks.js"
import * as McpResource from "@effect-mcp/core/McpResource"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpSkill from "@effect-mcp/core/McpSkill"
import { CurrentSession, type Elicited } from "@effect-mcp/core/McpSession"
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
  // A client without `sampling` fails the request (CapabilityNotDeclared): the model sees a tool error.
  handler: ({ prompt }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const result = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: prompt } }],
        maxTokens: 100
      })
      const content = Array.isArray(result.content) ? result.content : [result.content]
      const text = content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")
      return `LLM response: ${text}`
    })
})

/** An elicitation's outcome, as the suite's tools report it. */
const describe = (prefix: string, result: Elicited<unknown>): string =>
  `${prefix}: action=${result.action}, content=${JSON.stringify(result.action === "accept" ? result.content : {})}`

const UserInfo = Schema.Struct({
  username: Schema.String.annotations({ description: "User's response" }),
  email: Schema.String.annotations({ description: "User's email address" })
})

const Elicitation = McpTool.make("test_elicitation", {
  description: "Asks the user for input (elicitation/create)",
  input: Schema.Struct({ message: Schema.String.annotations({ description: "The message to show the user" }) }),
  handler: ({ message }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      return describe("User response", yield* session.elicit(message, UserInfo))
    })
})

// SEP-1034: every primitive field has a default, given as `optionalWith` defaults (so none is required, and an
// answer that leaves one out decodes to it).
const WithDefaults = Schema.Struct({
  name: Schema.optionalWith(Schema.String.annotations({ description: "User name" }), { default: () => "John Doe" }),
  age: Schema.optionalWith(Schema.Int.annotations({ description: "User age" }), { default: () => 30 }),
  score: Schema.optionalWith(Schema.Number.annotations({ description: "User score" }), { default: () => 95.5 }),
  status: Schema.optionalWith(
    Schema.Literal("active", "inactive", "pending").annotations({ description: "User status" }),
    { default: () => "active" as const }
  ),
  verified: Schema.optionalWith(Schema.Boolean.annotations({ description: "Verification status" }), {
    default: () => true
  })
})

const ElicitationDefaults = McpTool.make("test_elicitation_sep1034_defaults", {
  description: "Asks the user for input with a default for every primitive type (SEP-1034)",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      return describe(
        "Elicitation completed",
        yield* session.elicit("Please review and update the form fields with defaults", WithDefaults)
      )
    })
})

// SEP-1330: the five kinds of choice. A union of titled literals is a titled choice (`oneOf`; `items.anyOf` in an
// array), and a `jsonSchema` annotation adds the legacy labels (`enumNames`).
const titled = <const V extends string>(value: V, title: string) => Schema.Literal(value).annotations({ title })

const Choices = Schema.Struct({
  untitledSingle: Schema.Literal("option1", "option2", "option3").annotations({ description: "Choose one option" }),
  titledSingle: Schema.Union(
    titled("value1", "First Option"),
    titled("value2", "Second Option"),
    titled("value3", "Third Option")
  ).annotations({ description: "Choose one titled option" }),
  legacyEnum: Schema.Literal("opt1", "opt2", "opt3").annotations({
    description: "Choose one option (legacy titles)",
    jsonSchema: { enumNames: ["Option One", "Option Two", "Option Three"] }
  }),
  untitledMulti: Schema.Array(Schema.Literal("option1", "option2", "option3")).annotations({
    description: "Choose several options"
  }),
  titledMulti: Schema.Array(
    Schema.Union(titled("value1", "First Choice"), titled("value2", "Second Choice"), titled("value3", "Third Choice"))
  ).annotations({ description: "Choose several titled options" })
})

const ElicitationEnums = McpTool.make("test_elicitation_sep1330_enums", {
  description: "Asks the user to choose from every kind of enum (SEP-1330)",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      return describe("Elicitation completed", yield* session.elicit("Please choose from the options", Choices))
    })
})

// SEP-1613 and SEP-2106: the suite looks for `$schema` (2020-12), `$defs`, `additionalProperties: false`, and at
// 2026-07-28 for `allOf`/`anyOf`, `if`/`then`/`else` and an `$anchor` in `$defs`, which Effect Schema cannot say:
// the listing is written by hand, and the Effect schema still decodes the arguments.
const ContactInput = Schema.Struct({
  name: Schema.optional(Schema.String),
  address: Schema.optional(Schema.Struct({ street: Schema.optional(Schema.String), city: Schema.optional(Schema.String) })),
  contactMethod: Schema.optional(Schema.Literal("phone", "email")),
  phone: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String)
})

const JsonSchema202012 = McpTool.make("json_schema_2020_12_tool", {
  description: "Has an input schema with composition, conditionals and an $anchor (SEP-1613, SEP-2106)",
  input: ContactInput,
  jsonSchema: {
    input: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: {
          $anchor: "addressDef",
          type: "object",
          properties: { street: { type: "string" }, city: { type: "string" } }
        }
      },
      properties: {
        name: { type: "string" },
        address: { $ref: "#/$defs/address" },
        contactMethod: { type: "string", enum: ["phone", "email"] },
        phone: { type: "string" },
        email: { type: "string" }
      },
      allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
      if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
      then: { required: ["phone"] },
      else: { required: ["email"] },
      additionalProperties: false
    }
  },
  handler: (input) => Effect.succeed(`JSON Schema 2020-12 tool called with: ${JSON.stringify(input)}`)
})

// SEP-2243: `region` and `priority` are mirrored in `Mcp-Param-Region` and `Mcp-Param-Priority`, which a
// 2026-07-28 call over HTTP must send, equal to the arguments.
const ParamHeaders = McpTool.make("test_param_headers", {
  description: "Routes on its region and priority, mirrored in Mcp-Param-* headers (SEP-2243)",
  input: Schema.Struct({ region: Schema.String, priority: Schema.Int, verbose: Schema.optional(Schema.Boolean) }),
  headers: { region: "Region", priority: "Priority", verbose: "Verbose" },
  handler: ({ priority, region }) => Effect.succeed(`Routed to ${region} at priority ${priority}`)
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

// --- Skills (SEP-2640) -------------------------------------------------------------------------------------------

// The sep-2640-skills-* scenarios find it through skills/list, read its SKILL.md, and read its directory, which
// needs a subdirectory (`references/`) and a file that is not a directory (SKILL.md) to probe.
const ConformanceSkill = McpSkill.make({
  prefix: "effect-mcp",
  skill: [
    "---",
    "name: conformance-checks",
    "description: Explains how the effect-mcp conformance fixture is checked",
    "license: MIT",
    "metadata:",
    "  version: \"1.0\"",
    "---",
    "",
    "# Conformance checks",
    "",
    "Read `references/SCENARIOS.md` for the scenarios this fixture serves.",
    ""
  ].join("\n"),
  files: { "references/SCENARIOS.md": "# Scenarios\n\nEvery server scenario of the official suite.\n" }
}).pipe(Layer.orDie)

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
  ParamHeaders,
  StaticText,
  StaticBinary,
  Template,
  WatchedResource,
  SimplePrompt,
  PromptWithArguments,
  PromptWithEmbeddedResource,
  PromptWithImage,
  ConformanceSkill,
  // What the 2026-07-28 scenarios call by name.
  ConformanceModern.layer,
  // What the tasks-* scenarios (the tasks extension) call by name.
  ConformanceTasks.layer
).pipe(Layer.provideMerge(McpServer.layer({ name: "effect-mcp-conformance", version: "0.1.0" })))
