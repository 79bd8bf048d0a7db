/**
 * The fixture tools the `tasks-*` scenarios of the conformance suite call by name (the tasks extension,
 * `io.modelcontextprotocol/tasks`), added to `ConformanceServer`'s layer. Each is an ordinary tool with
 * `taskSupport`: the server makes its calls tasks for clients that declare the extension.
 *
 * @since 0.1.0
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import type * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTask from "@effect-mcp/core/McpTask"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const NoArguments = Schema.Struct({})

/** Sync only: a legacy `task` param must not make it a task. */
const Greet = McpTool.make("greet", {
  description: "Greets someone",
  input: Schema.Struct({ name: Schema.String }),
  handler: ({ name }) => Effect.succeed(`Hello, ${name}!`)
})

/** Sleeps `seconds`, then answers; a task for clients with the extension, synchronous for the others. */
const SlowCompute = McpTool.make("slow_compute", {
  description: "Computes for a number of seconds, then answers",
  input: Schema.Struct({ seconds: Schema.Number, label: Schema.optional(Schema.String) }),
  taskSupport: "optional",
  handler: ({ label, seconds }) =>
    Effect.as(Effect.sleep(`${Math.max(0, seconds) * 1000} millis`), `Computed ${label ?? "result"} in ${seconds}s`)
})

/** Always a task (-32021 without the extension), and always a tool error after a second. */
const FailingJob = McpTool.make("failing_job", {
  description: "Runs a job that fails",
  input: NoArguments,
  taskSupport: "required",
  handler: () => Effect.as(Effect.sleep("1 second"), McpTool.error("The job failed"))
})

/** Dies: inside a task a defect is a protocol-level failure (`failed` with an error). */
const ProtocolErrorJob = McpTool.make("protocol_error_job", {
  description: "Runs a job that crashes",
  input: NoArguments,
  taskSupport: "optional",
  handler: () => Effect.dieMessage("protocol_error_job crashed")
})

/** Asks for confirmation: the task waits in `input_required` until `tasks/update` answers. */
const ConfirmDelete = McpTool.make("confirm_delete", {
  description: "Deletes a file once the user confirms",
  input: Schema.Struct({ filename: Schema.String }),
  taskSupport: "optional",
  handler: ({ filename }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit(`Delete ${filename}?`, Schema.Struct({ confirm: Schema.Boolean }))
      return answer.action === "accept" && answer.content.confirm ? `Deleted ${filename}` : `Kept ${filename}`
    })
})

/** Asks two things at once: two keys pending together, which may be answered one at a time. */
const MultiInput = McpTool.make("multi_input", {
  description: "Asks for a name and a confirmation at once",
  input: NoArguments,
  taskSupport: "optional",
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const [name, confirm] = yield* Effect.all([
        session.elicit("Your name?", Schema.Struct({ name: Schema.String })),
        session.elicit("Proceed?", Schema.Struct({ confirm: Schema.Boolean }))
      ], { concurrency: "unbounded" })
      const who = name.action === "accept" ? name.content.name : "nobody"
      return `${who} ${confirm.action === "accept" && confirm.content.confirm ? "confirmed" : "declined"}`
    })
})

/** Gathers the name through the request's own rounds, then escalates: the rest runs as a task. */
const ToolWithTask = McpTool.make("test_tool_with_task", {
  description: "Asks for your name, then greets you from a task",
  input: NoArguments,
  taskSupport: "required",
  taskStart: "escalate",
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("What is your name?", Schema.Struct({ name: Schema.String }), {
        inputKey: "user_name"
      })
      if (answer.action !== "accept") return yield* Effect.fail(JsonRpc.invalidParams("A name is needed"))
      yield* McpTask.escalate
      yield* Effect.sleep("200 millis")
      return `Hello, ${answer.content.name}!`
    })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<never, never, McpServer.McpServer> = Layer.mergeAll(
  Greet,
  SlowCompute,
  FailingJob,
  ProtocolErrorJob,
  ConfirmDelete,
  MultiInput,
  ToolWithTask
)
