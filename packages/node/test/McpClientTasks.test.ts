/**
 * The client side of the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), against effect-mcp's server
 * on a real socket: `callTool` and `call` follow a task to its end (polling `tasks/get`, answering its asks through
 * `tasks/update`), interrupting the caller cancels the task, and `callToolTask` / `tasks` hand out the task itself.
 */
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTask from "@effect-mcp/core/McpTask"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import { NodeMcpClient } from "@effect-mcp/node"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { serveHttp } from "../../core/test/utils/serve.js"

const NoArguments = Schema.Struct({})

const Done = McpTool.make("done", {
  input: Schema.Struct({ name: Schema.String }),
  taskSupport: "optional",
  handler: ({ name }) =>
    Effect.map(McpTask.currentTaskId, (taskId) => `Hello, ${name}! (${Option.isSome(taskId) ? "task" : "sync"})`)
})

const Failing = McpTool.make("failing", {
  input: NoArguments,
  taskSupport: "required",
  handler: () => Effect.fail("the job went wrong")
})

const Refusing = McpTool.make("refusing", {
  input: NoArguments,
  taskSupport: "optional",
  handler: () => Effect.fail(new JsonRpc.JsonRpcError({ code: -32001, message: "refused", data: { why: "test" } }))
})

const Asking = McpTool.make("asking", {
  input: NoArguments,
  taskSupport: "required",
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("Name?", Schema.Struct({ name: Schema.String }))
      return `Hello, ${answer.action === "accept" ? answer.content.name : "nobody"}`
    })
})

/** A task that asks a question and then waits forever: tells its id when it starts, and its interruption. */
const blocking = (started: Deferred.Deferred<string>, interrupted: Deferred.Deferred<void>) =>
  McpTool.make("blocking", {
    input: NoArguments,
    taskSupport: "optional",
    handler: () =>
      Effect.gen(function*() {
        const taskId = yield* McpTask.currentTaskId
        if (Option.isSome(taskId)) yield* Deferred.succeed(started, taskId.value)
        const session = yield* CurrentSession
        yield* session.elicit("Name?", Schema.Struct({ name: Schema.String }))
        return yield* Effect.never
      }).pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
  })

const Greeting = McpTool.define("done", {
  input: Schema.Struct({ name: Schema.String })
})

/** The server with the tools (and `extra`), polled every 10 ms, on a free port of 127.0.0.1. */
const serve = (extra: ReadonlyArray<Layer.Layer<never, never, McpServer.McpServer>> = []) =>
  serveHttp(
    Layer.mergeAll(Done, Failing, Refusing, Asking, ...extra).pipe(
      Layer.provideMerge(McpServer.layer({ name: "tasks", version: "1.0.0", tasks: { pollIntervalMs: 10 } }))
    )
  )

/** Answers every elicitation with the name "Ada". */
const elicitation = McpClientHandlers.layerElicitation(() =>
  Effect.succeed<McpSchema.ElicitResult>({ action: "accept", content: { name: "Ada" } })
)

const client = (
  url: string,
  options: Partial<McpClient.StreamableHttpOptions> = {},
  handlers: typeof elicitation = elicitation
) =>
  Layer.build(NodeMcpClient.layerHttp({ url, ...options }).pipe(Layer.provide(handlers))).pipe(
    Effect.map(Context.get(McpClient.McpClient))
  )

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

describe("McpClient with the tasks extension", () => {
  for (const protocol of ["modern", "legacy"] as const) {
    it.scopedLive(`${protocol}: a task's result, a tool error, a protocol error, an ask answered by the handler`, () =>
      Effect.gen(function*() {
        const url = yield* serve()
        const mcp = yield* client(url, { tasks: true, protocol })
        expect(yield* mcp.era).toBe(protocol)

        expect(textOf(yield* mcp.callTool("done", { name: "Ada" }))).toBe("Hello, Ada! (task)")
        expect(textOf(yield* mcp.call(Greeting, { name: "Bob" }))).toBe("Hello, Bob! (task)")

        const failed = yield* mcp.callTool("failing", {})
        expect(failed.isError).toBe(true)
        expect(textOf(failed)).toContain("the job went wrong")

        const refused = yield* Effect.flip(mcp.callTool("refusing", {}))
        expect([refused.reason, refused.code, refused.message]).toStrictEqual(["RpcError", -32001, "refused"])
        expect(refused.data).toStrictEqual({ why: "test" })

        expect(textOf(yield* mcp.callTool("asking", {}))).toBe("Hello, Ada")
      }))
  }

  it.scopedLive("callToolTask hands out the task; tasks.get and tasks.await follow it", () =>
    Effect.gen(function*() {
      const url = yield* serve()
      const mcp = yield* client(url, { tasks: true })
      const created = yield* mcp.callToolTask("done", { name: "Ada" })
      if (!("resultType" in created) || created.resultType !== "task") {
        throw new Error(`expected a task, got ${JSON.stringify(created)}`)
      }
      expect(created).toMatchObject({ status: "working", pollIntervalMs: 10 })
      const result = yield* mcp.tasks.await(created)
      expect(textOf(result)).toBe("Hello, Ada! (task)")
      const state = yield* mcp.tasks.get(created.taskId)
      expect(state).toMatchObject({ taskId: created.taskId, status: "completed" })
      // Cancelling a task that ended is the same ack, and changes nothing.
      yield* mcp.tasks.cancel(created.taskId)
      expect((yield* mcp.tasks.get(created.taskId)).status).toBe("completed")
    }))

  it.scopedLive("interrupting the caller cancels the task on the server", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<string>()
      const interrupted = yield* Deferred.make<void>()
      // The client asked the handler: it follows the task, so it knows the task's id.
      const asked = yield* Deferred.make<void>()
      const url = yield* serve([blocking(started, interrupted)])
      const mcp = yield* client(
        url,
        { tasks: true },
        McpClientHandlers.layerElicitation(() => Effect.zipRight(Deferred.succeed(asked, undefined), Effect.never))
      )
      const fiber = yield* Effect.fork(mcp.callTool("blocking", {}))
      const taskId = yield* Deferred.await(started)
      yield* Deferred.await(asked)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(interrupted)
      expect((yield* mcp.tasks.get(taskId)).status).toBe("cancelled")
      // Someone else's wait for a cancelled task ends with TaskCancelled.
      const cancelled = yield* Effect.flip(mcp.tasks.await({ taskId }))
      expect(cancelled.reason).toBe("TaskCancelled")
      expect(cancelled.message).toContain(taskId)
    }))

  it.scopedLive("a task whose input the client will not give (past maxInputRounds) is cancelled on the server", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<string>()
      const interrupted = yield* Deferred.make<void>()
      const url = yield* serve([blocking(started, interrupted)])
      const mcp = yield* client(url, { tasks: true, maxInputRounds: 0 })
      const error = yield* Effect.flip(mcp.callTool("blocking", {}))
      expect(error.reason).toBe("InputRequired")
      yield* Deferred.await(interrupted)
      expect((yield* mcp.tasks.get(yield* Deferred.await(started))).status).toBe("cancelled")
    }))

  it.scopedLive("without the option the extension is not declared: optional tools answer at once", () =>
    Effect.gen(function*() {
      const url = yield* serve()
      const mcp = yield* client(url)
      expect(textOf(yield* mcp.callTool("done", { name: "Ada" }))).toBe("Hello, Ada! (sync)")
      const plain = yield* mcp.callToolTask("done", { name: "Ada" })
      expect("resultType" in plain && plain.resultType === "task").toBe(false)
      // The server refuses what needs the extension: -32021.
      const required = yield* Effect.flip(mcp.callTool("failing", {}))
      expect(required.code).toBe(-32021)
      const get = yield* Effect.flip(mcp.tasks.get("nope"))
      expect(get.code).toBe(-32021)
    }))
})
