/**
 * The fixture tools and prompt the 2026-07-28 scenarios of the conformance suite call by name (`server-stateless`
 * and the `input-required-result-*` scenarios), added to `ConformanceServer`'s layer. Each asks the client the way
 * any handler does, through `CurrentSession`: in the session era as real requests, at 2026-07-28 as the
 * `inputRequests` of an `InputRequiredResult` (the keys are the ones the suite expects).
 *
 * @since 0.1.0
 */
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const NoArguments = Schema.Struct({})

const textOf = (result: McpSchema.CreateMessageResult): string => {
  const blocks: ReadonlyArray<McpSchema.SamplingContent> = Array.isArray(result.content)
    ? result.content
    : [result.content]
  return blocks.map((block) => block.type === "text" ? block.text : "").join("")
}

const askName = (key: string, message = "What is your name?") =>
  Effect.flatMap(
    CurrentSession,
    (session) => session.elicit(message, Schema.Struct({ name: Schema.String }), { inputKey: key })
  )

/** Needs sampling, which the suite's request does not declare: -32021 at 2026-07-28. */
const MissingCapability = McpTool.make("test_missing_capability", {
  description: "Asks the client's model something, so it needs the sampling capability",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const result = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: "Say hello" } }],
        maxTokens: 10
      })
      return textOf(result)
    })
})

/** Logs without being asked to: at 2026-07-28 a request without `logLevel` gets none of it. */
const LoggingTool = McpTool.make("test_logging_tool", {
  description: "Logs while it runs",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      yield* session.log("info", "test_logging_tool ran")
      return "logged"
    })
})

/** Asks the user something, so its answer at 2026-07-28 is an `InputRequiredResult`, never a request on the stream. */
const StreamingElicitation = McpTool.make("test_streaming_elicitation", {
  description: "Asks the user for their name",
  input: NoArguments,
  handler: () => Effect.map(askName("user_name"), (answer) => answer.action === "accept" ? `Hello, ${answer.content.name}!` : answer.action)
})

const Elicitation = McpTool.make("test_input_required_result_elicitation", {
  description: "Asks the user for their name (one round)",
  input: NoArguments,
  handler: () =>
    Effect.map(askName("user_name"), (answer) =>
      answer.action === "accept" ? `Hello, ${answer.content.name}!` : `The user chose to ${answer.action}`)
})

const Sampling = McpTool.make("test_input_required_result_sampling", {
  description: "Asks the client's model a question (one round)",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const result = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: "What is the capital of France?" } }],
        maxTokens: 100
      }, { inputKey: "capital_question" })
      return textOf(result)
    })
})

const ListRoots = McpTool.make("test_input_required_result_list_roots", {
  description: "Lists the client's roots (one round)",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const roots = yield* session.listRoots({ inputKey: "client_roots" })
      return `Roots: ${roots.map((root) => root.uri).join(", ")}`
    })
})

const RequestState = McpTool.make("test_input_required_result_request_state", {
  description: "Asks for a confirmation; the retry's requestState is verified before it completes",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("Please confirm", Schema.Struct({ ok: Schema.Boolean }), { inputKey: "confirm" })
      // Reaching here on a retry means the sealed state was opened and verified.
      return answer.action === "accept" && answer.content.ok ? "state-ok: confirmed" : "state-ok: not confirmed"
    })
})

const MultipleInputs = McpTool.make("test_input_required_result_multiple_inputs", {
  description: "Asks for a name, a greeting and the roots in one round",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const [name, greeting, roots] = yield* Effect.all([
        askName("user_name"),
        session.createMessage({
          messages: [{ role: "user", content: { type: "text", text: "Generate a greeting" } }],
          maxTokens: 50
        }, { inputKey: "greeting" }),
        session.listRoots({ inputKey: "client_roots" })
      ], { concurrency: "unbounded" })
      const who = name.action === "accept" ? name.content.name : "someone"
      return `${textOf(greeting)} ${who} (${roots.length} roots)`
    })
})

const MultiRound = McpTool.make("test_input_required_result_multi_round", {
  description: "Asks for a name, then for a favourite colour",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const name = yield* askName("step1", "Step 1: What is your name?")
      const color = yield* session.elicit(
        "Step 2: What is your favorite color?",
        Schema.Struct({ color: Schema.String }),
        { inputKey: "step2" }
      )
      const who = name.action === "accept" ? name.content.name : "someone"
      const what = color.action === "accept" ? color.content.color : "no colour"
      return `${who} likes ${what}`
    })
})

const TamperedState = McpTool.make("test_input_required_result_tampered_state", {
  description: "Asks for a confirmation; a retry with a forged requestState is refused",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("Please confirm", Schema.Struct({ ok: Schema.Boolean }), { inputKey: "confirm" })
      return answer.action
    })
})

/** Asks only what the request's capabilities allow. */
const Capabilities = McpTool.make("test_input_required_result_capabilities", {
  description: "Asks the client what its declared capabilities allow, and nothing else",
  input: NoArguments,
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const parts: Array<string> = []
      if (session.clientCapabilities.sampling !== undefined) {
        const result = yield* session.createMessage({
          messages: [{ role: "user", content: { type: "text", text: "Say hello" } }],
          maxTokens: 10
        }, { inputKey: "sampling" })
        parts.push(textOf(result))
      }
      if (session.clientCapabilities.elicitation !== undefined) {
        const answer = yield* askName("elicitation")
        parts.push(answer.action)
      }
      return parts.length === 0 ? "nothing to ask" : parts.join("; ")
    })
})

const Prompt = McpPrompt.make("test_input_required_result_prompt", {
  description: "A prompt that asks the user for its context first",
  args: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit(
        "What context should the prompt use?",
        Schema.Struct({ context: Schema.String }),
        { inputKey: "user_context" }
      )
      return answer.action === "accept" ? `Use this context: ${answer.content.context}` : "No context given"
    })
})

/** Registers or removes a tool (prompt) each call, so listen streams see a list change. */
const toggle = (kind: "tool" | "prompt") =>
  Effect.gen(function*() {
    const server = yield* McpServer.McpServer
    let present = false
    return () =>
      Effect.gen(function*() {
        present = !present
        if (kind === "tool") {
          if (present) {
            yield* server.addTool({
              tool: {
                name: "test_dynamic_tool",
                description: "Comes and goes with test_trigger_tool_change",
                inputSchema: { type: "object" }
              },
              call: () => Effect.succeed({ content: [{ type: "text", text: "dynamic" }] })
            })
          } else {
            yield* server.removeTool("test_dynamic_tool")
          }
        } else if (present) {
          yield* server.addPrompt({
            prompt: { name: "test_dynamic_prompt", description: "Comes and goes with test_trigger_prompt_change" },
            get: () => Effect.succeed({ messages: [{ role: "user", content: { type: "text", text: "dynamic" } }] }),
            complete: {}
          })
        } else {
          yield* server.removePrompt("test_dynamic_prompt")
        }
        return `${kind} list changed`
      })
  })

const TriggerToolChange = Layer.unwrapEffect(Effect.map(toggle("tool"), (change) =>
  McpTool.make("test_trigger_tool_change", {
    description: "Adds or removes a tool, so the tool list changes",
    input: NoArguments,
    handler: change
  })))

const TriggerPromptChange = Layer.unwrapEffect(Effect.map(toggle("prompt"), (change) =>
  McpTool.make("test_trigger_prompt_change", {
    description: "Adds or removes a prompt, so the prompt list changes",
    input: NoArguments,
    handler: change
  })))

/** @since 0.1.0 */
export const layer: Layer.Layer<never, never, McpServer.McpServer> = Layer.mergeAll(
  MissingCapability,
  LoggingTool,
  StreamingElicitation,
  Elicitation,
  Sampling,
  ListRoots,
  RequestState,
  MultipleInputs,
  MultiRound,
  TamperedState,
  Capabilities,
  Prompt,
  TriggerToolChange,
  TriggerPromptChange
)
