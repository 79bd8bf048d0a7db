/**
 * The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) on the server: 2026-07-28 requests handed to
 * sessions of the registry as a transport does (with the `TestClock` for time: work, expiry), then over real
 * sockets (the routing header, a listen stream's `notifications/tasks`).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { Asker } from "../src/internal/server/clientRequests.js"
import * as Tasks from "../src/internal/server/tasks.js"
import * as JsonRpc from "../src/JsonRpc.js"
import type { Principal } from "../src/McpAuth.js"
import * as McpServer from "../src/McpServer.js"
import { CurrentSession } from "../src/McpSession.js"
import * as McpTask from "../src/McpTask.js"
import * as McpTool from "../src/McpTool.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { serveHttp } from "./utils/serve.js"
import { type Answer, exchange } from "./utils/sessions.js"
import { openListen, postModern } from "./utils/modern.js"

const V = "2026-07-28"
const EXT = { [McpTask.EXTENSION]: {} }
/** What a client that declares the extension (and form elicitation) sends as its capabilities. */
const WITH_TASKS = { extensions: EXT, elicitation: {} }

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

const NoArguments = Schema.Struct({})

const Plain = McpTool.make("plain", {
  input: Schema.Struct({ name: Schema.String }),
  handler: ({ name }) => Effect.succeed(`Hello, ${name}!`)
})

const Slow = McpTool.make("slow", {
  input: Schema.Struct({ seconds: Schema.Number }),
  taskSupport: "optional",
  handler: ({ seconds }) => Effect.as(Effect.sleep(Duration.seconds(seconds)), `slept ${seconds}s`)
})

const ToolError = McpTool.make("tool_error", {
  input: NoArguments,
  taskSupport: "required",
  handler: () => Effect.fail("the job went wrong")
})

const Defect = McpTool.make("defect", {
  input: NoArguments,
  taskSupport: "optional",
  handler: () => Effect.dieMessage("boom")
})

const ProtocolError = McpTool.make("protocol_error", {
  input: NoArguments,
  taskSupport: "optional",
  handler: () => Effect.fail(new JsonRpc.JsonRpcError({ code: -32001, message: "refused", data: { why: "test" } }))
})

const Asking = McpTool.make("asking", {
  input: NoArguments,
  taskSupport: "optional",
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const [name, colour] = yield* Effect.all([
        session.elicit("Name?", Schema.Struct({ name: Schema.String })),
        session.elicit("Colour?", Schema.Struct({ colour: Schema.String }))
      ], { concurrency: "unbounded" })
      return `${name.action === "accept" ? name.content.name : "?"} likes ${
        colour.action === "accept" ? colour.content.colour : "?"
      }`
    })
})

const Escalating = McpTool.make("escalating", {
  input: NoArguments,
  taskSupport: "required",
  taskStart: "escalate",
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("Name?", Schema.Struct({ name: Schema.String }), { inputKey: "who" })
      const before = yield* McpTask.currentTaskId
      yield* McpTask.escalate
      const after = yield* McpTask.currentTaskId
      yield* Effect.sleep("1 second")
      const name = answer.action === "accept" ? answer.content.name : "nobody"
      return `Hello, ${name} (a task: ${before._tag === "None" && after._tag === "Some"})`
    })
})

/** Waits forever; reports its interruption. */
const blocking = (interrupted: Deferred.Deferred<void>) =>
  McpTool.make("blocking", {
    input: NoArguments,
    taskSupport: "optional",
    handler: () => Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
  })

const TOOLS = [Plain, Slow, ToolError, Defect, ProtocolError, Asking, Escalating] as const

/** The server with `tools` and a registry, as a transport has them. */
const serverLayer = (
  extra: ReadonlyArray<Layer.Layer<never, never, McpServer.McpServer>> = [],
  tasks?: McpTask.Options
) =>
  SessionRegistry.layer({ idleTimeout: Duration.infinity }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(...TOOLS, ...extra).pipe(
        Layer.provideMerge(McpServer.layer({ name: "tasks", version: "1.0.0", ...(tasks === undefined ? {} : { tasks }) }))
      )
    )
  )

interface Caller {
  readonly capabilities?: object
  readonly principal?: Principal
}

/** One 2026-07-28 request, in a session of its own as the HTTP transport serves it. */
const rpc = (method: string, params: { readonly [key: string]: unknown } = {}, caller: Caller = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const registry = yield* SessionRegistry.SessionRegistry
    const session = yield* Effect.orDie(registry.open({
      transport: "memory",
      protocolVersion: V,
      modern: { clientCapabilities: caller.capabilities ?? WITH_TASKS },
      ...(caller.principal === undefined ? {} : { principal: caller.principal })
    }))
    return yield* exchange(session, method, params)
  }))


const resultOf = (answer: Answer) => {
  if (answer._tag === "Error") throw new Error(`expected a result, got ${JSON.stringify(answer.error)}`)
  return answer.result
}

const errorOf = (answer: Answer) => {
  if (answer._tag === "Result") throw new Error(`expected an error, got ${JSON.stringify(answer.result)}`)
  return answer.error
}

const call = (name: string, args: object = {}, caller: Caller = {}) =>
  Effect.map(rpc("tools/call", { name, arguments: args }, caller), resultOf)

const taskIdOf = (created: { readonly [key: string]: unknown }): string => {
  expect(created.resultType).toBe("task")
  expect(typeof created.taskId).toBe("string")
  return String(created.taskId)
}

const get = (taskId: string, caller: Caller = {}) => Effect.map(rpc("tasks/get", { taskId }, caller), resultOf)

/** Lets the task fibers run after the clock moved (they are not the test's fiber). */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

/**
 * Waits, turning the event loop, until `count` sleeps on the TestClock end `ms` from now (at most 10 s of real
 * time): a call in flight reaches its handler only after real work (the arguments' WebCrypto digest runs on the
 * thread pool), so no fixed number of yields is enough on a loaded machine, and moving the clock before the
 * handler sleeps would leave it asleep for good.
 */
const sleepingFor = (ms: number, count = 1) =>
  Effect.gen(function*() {
    const due = (yield* TestClock.currentTimeMillis) + ms
    const start = Date.now()
    while (Chunk.size(Chunk.filter(yield* TestClock.sleeps(), (at) => at === due)) < count) {
      if (Date.now() - start > 10_000) return yield* Effect.dieMessage(`no ${count} sleeps ${ms} ms ahead within 10 s`)
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
  })

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

const sizeOf = Effect.flatMap(McpServer.McpServer, (server) => server.tasks.size)

describe("McpTask", () => {
  it.effect("a task-supporting call becomes a task: working, then completed with the result inlined", () =>
    Effect.gen(function*() {
      const created = yield* call("slow", { seconds: 10 })
      const taskId = taskIdOf(created)
      expect(created).toMatchObject({ status: "working", ttlMs: 3_600_000, pollIntervalMs: 1_000 })
      expect(created.createdAt).toMatch(ISO)
      expect(created.lastUpdatedAt).toMatch(ISO)
      for (const absent of ["ttl", "pollInterval", "requestState", "result", "error", "inputRequests", "task"]) {
        expect(created).not.toHaveProperty(absent)
      }
      // Durable before the answer: readable at once.
      const working = yield* get(taskId)
      expect(working).toMatchObject({ resultType: "complete", taskId, status: "working" })
      expect(working).not.toHaveProperty("result")
      expect(yield* sizeOf).toBe(1)

      yield* TestClock.adjust("10 seconds")
      yield* settle
      const done = yield* get(taskId)
      expect(done).toMatchObject({
        resultType: "complete",
        taskId,
        status: "completed",
        result: { content: [{ type: "text", text: "slept 10s" }] }
      })
      expect(done).not.toHaveProperty("error")
      expect(JSON.stringify(done.result)).not.toContain("related-task")
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("a tool error completes the task with isError; a JsonRpcError or a defect fails it", () =>
    Effect.gen(function*() {
      const toolError = taskIdOf(yield* call("tool_error"))
      const protocol = taskIdOf(yield* call("protocol_error"))
      const defect = taskIdOf(yield* call("defect"))
      yield* settle
      expect(yield* get(toolError)).toMatchObject({
        status: "completed",
        result: { isError: true, content: [{ type: "text", text: "the job went wrong" }] }
      })
      const failed = yield* get(protocol)
      expect(failed).toMatchObject({ status: "failed", error: { code: -32001, message: "refused", data: { why: "test" } } })
      expect(failed).not.toHaveProperty("result")
      expect(yield* get(defect)).toMatchObject({ status: "failed", error: { code: JsonRpc.ErrorCode.InternalError } })
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("tasks/cancel interrupts the handler and settles the task as cancelled; again is the same ack", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const taskId = taskIdOf(yield* call("blocking"))
        yield* settle
        expect(yield* Deferred.isDone(interrupted)).toBe(false)
        const ack = resultOf(yield* rpc("tasks/cancel", { taskId }))
        expect(ack).toMatchObject({ resultType: "complete" })
        for (const absent of ["taskId", "status", "result", "error", "inputRequests"]) expect(ack).not.toHaveProperty(absent)
        yield* Deferred.await(interrupted)
        expect(yield* get(taskId)).toMatchObject({ status: "cancelled" })
        expect(resultOf(yield* rpc("tasks/cancel", { taskId }))).toMatchObject({ resultType: "complete" })
        expect(yield* get(taskId)).toMatchObject({ status: "cancelled" })
      }).pipe(Effect.provide(serverLayer([blocking(interrupted)])))
    }).pipe(Effect.provide(quiet)))

  it.effect("a task stays readable for ttlMs, then is removed (interrupted if it still runs)", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const finished = taskIdOf(yield* call("slow", { seconds: 1 }))
        const running = taskIdOf(yield* call("blocking"))
        expect(finished).not.toBe(running)
        expect((yield* call("slow", { seconds: 1 })).ttlMs).toBe(5_000)
        yield* TestClock.adjust("4999 millis")
        yield* settle
        expect(yield* get(finished)).toMatchObject({ status: "completed" })
        expect(yield* get(running)).toMatchObject({ status: "working" })
        expect(yield* sizeOf).toBe(3)
        yield* TestClock.adjust("1 millis")
        yield* settle
        expect(errorOf(yield* rpc("tasks/get", { taskId: finished })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
        expect(errorOf(yield* rpc("tasks/get", { taskId: running })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
        yield* Deferred.await(interrupted)
        expect(yield* sizeOf).toBe(0)
      }).pipe(Effect.provide(serverLayer([blocking(interrupted)], { ttlMs: 5_000 })))
    }).pipe(Effect.provide(quiet)))

  it.effect("the server stopping ends every task: handlers interrupted, the registry empty", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(serverLayer([blocking(interrupted)]), scope)
      const server = McpServer.McpServer.pipe(Effect.provide(context))
      yield* Effect.gen(function*() {
        taskIdOf(yield* call("blocking"))
        taskIdOf(yield* call("slow", { seconds: 60 }))
        yield* settle
      }).pipe(Effect.provide(context))
      const { tasks } = yield* server
      expect(yield* tasks.size).toBe(2)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect(yield* tasks.size).toBe(0)
    }).pipe(Effect.provide(quiet)))

  it.effect("asks inside a task park it in input_required; tasks/update may answer some keys at a time", () =>
    Effect.gen(function*() {
      const taskId = taskIdOf(yield* call("asking"))
      yield* settle
      const parked = yield* get(taskId)
      expect(parked.status).toBe("input_required")
      const requests = parked.inputRequests as { readonly [key: string]: { readonly method: string } }
      const keys = Object.keys(requests)
      expect(keys).toHaveLength(2)
      for (const key of keys) expect(requests[key]!.method).toBe("elicitation/create")
      const [first, second] = keys as [string, string]
      const nameKey = JSON.stringify(requests[first]).includes("Name?") ? first : second
      const colourKey = nameKey === first ? second : first

      const ack = resultOf(yield* rpc("tasks/update", {
        taskId,
        inputResponses: { [nameKey]: { action: "accept", content: { name: "Ada" } }, "never-asked": { action: "accept" } }
      }))
      expect(ack).toEqual(expect.objectContaining({ resultType: "complete" }))
      expect(ack).not.toHaveProperty("status")
      yield* settle
      const partly = yield* get(taskId)
      expect(partly.status).toBe("input_required")
      expect(Object.keys(partly.inputRequests as object)).toEqual([colourKey])

      resultOf(yield* rpc("tasks/update", { taskId, inputResponses: { [colourKey]: { action: "accept", content: { colour: "green" } } } }))
      yield* settle
      const done = yield* get(taskId)
      expect(done).toMatchObject({ status: "completed", result: { content: [{ type: "text", text: "Ada likes green" }] } })
      expect(done).not.toHaveProperty("inputRequests")
      // Keys are never reused: an answer to a key already answered changes nothing.
      expect(resultOf(yield* rpc("tasks/update", { taskId, inputResponses: { [nameKey]: { action: "decline" } } })))
        .toMatchObject({ resultType: "complete" })
      expect((yield* get(taskId)).status).toBe("completed")
      expect(errorOf(yield* rpc("tasks/update", { taskId, inputResponses: "no" })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("gathers input through the request's rounds, then escalates: the last round answers with the task", () =>
    Effect.gen(function*() {
      const first = yield* call("escalating")
      expect(first.resultType).toBe("input_required")
      expect(first).not.toHaveProperty("taskId")
      expect(Object.keys(first.inputRequests as object)).toEqual(["who"])
      expect(yield* sizeOf).toBe(0)

      const second = yield* Effect.map(
        rpc("tools/call", {
          name: "escalating",
          arguments: {},
          inputResponses: { who: { action: "accept", content: { name: "Alice" } } },
          requestState: first.requestState
        }),
        resultOf
      )
      const taskId = taskIdOf(second)
      expect(second).not.toHaveProperty("requestState")
      expect(second).not.toHaveProperty("inputRequests")
      expect((yield* get(taskId)).status).toBe("working")
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* get(taskId)).toMatchObject({
        status: "completed",
        result: { content: [{ type: "text", text: "Hello, Alice (a task: true)" }] }
      })
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("a task escalated late lives ttlMs from its escalation, and says it was created then", () =>
    Effect.gen(function*() {
      const Late = McpTool.make("late", {
        input: NoArguments,
        taskSupport: "required",
        taskStart: "escalate",
        handler: () =>
          Effect.gen(function*() {
            // Synchronous work longer than the ttl, then the rest as a task.
            yield* Effect.sleep("10 seconds")
            yield* McpTask.escalate
            yield* Effect.sleep("1 second")
            return "late"
          })
      })
      yield* Effect.gen(function*() {
        const calling = yield* Effect.fork(call("late"))
        yield* sleepingFor(10_000)
        yield* TestClock.adjust("10 seconds")
        const created = yield* Fiber.join(calling)
        const taskId = taskIdOf(created)
        expect(created.createdAt).toBe(new Date(10_000).toISOString())
        yield* settle
        expect(yield* get(taskId)).toMatchObject({ status: "working", createdAt: new Date(10_000).toISOString() })
        yield* sleepingFor(1_000)
        yield* TestClock.adjust("1 second")
        yield* settle
        expect(yield* get(taskId)).toMatchObject({ status: "completed", result: { content: [{ type: "text", text: "late" }] } })
        yield* TestClock.adjust("3999 millis")
        yield* settle
        expect((yield* get(taskId)).status).toBe("completed")
        yield* TestClock.adjust("1 millis")
        yield* settle
        expect(errorOf(yield* rpc("tasks/get", { taskId })).code).toBe(JsonRpc.ErrorCode.InvalidParams)
      }).pipe(Effect.provide(serverLayer([Late], { ttlMs: 5_000 })))
    }).pipe(Effect.provide(quiet)))

  it.effect("a task that expires while it runs is told cancelled while it can still be read, however it began", () =>
    Effect.gen(function*() {
      const Lingering = McpTool.make("lingering", {
        input: NoArguments,
        taskSupport: "required",
        taskStart: "escalate",
        handler: () => Effect.zipRight(McpTask.escalate, Effect.never)
      })
      const interrupted = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const server = yield* McpServer.McpServer
        const registry = yield* SessionRegistry.SessionRegistry
        // What a listen stream would hear, and whether the task could be read when it did.
        const heard: Array<{ readonly status: unknown; readonly readable: boolean }> = []
        yield* registry.open({
          transport: "memory",
          protocolVersion: V,
          modern: { clientCapabilities: WITH_TASKS },
          writer: (message) => {
            if (JsonRpc.isNotification(message) && message.method === "notifications/tasks") {
              const { status } = message.params as { readonly status: unknown }
              heard.push({ status, readable: Effect.runSync(server.tasks.size) > 0 })
            }
            return true
          }
        })
        for (const name of ["blocking", "lingering"]) {
          taskIdOf(yield* call(name))
          yield* settle
          yield* TestClock.adjust("5 seconds")
          yield* settle
          expect(yield* server.tasks.size).toBe(0)
        }
        expect(yield* Deferred.isDone(interrupted)).toBe(true)
        expect(heard).toEqual([{ status: "cancelled", readable: true }, { status: "cancelled", readable: true }])
      }).pipe(Effect.scoped, Effect.provide(serverLayer([blocking(interrupted), Lingering], { ttlMs: 5_000 })))
    }).pipe(Effect.provide(quiet)))

  it.effect("a request interrupted once its task is registered still hands the task its handler", () =>
    Effect.gen(function*() {
      const heard: Array<unknown> = []
      const store = yield* Tasks.makeStore(Tasks.DEFAULT_SETTINGS, (_, notification) => {
        heard.push((notification.params as { readonly status: unknown }).status)
      })
      const asker: Asker = { clientCapabilities: {}, telemetry: false, rounds: undefined, sendRequest: () => Effect.never }
      let calling: Fiber.RuntimeFiber<unknown, JsonRpc.JsonRpcError> | undefined
      calling = yield* Effect.fork(store.call({
        tool: "t",
        owner: undefined,
        start: "immediate",
        asker,
        reply: () => true,
        // The request is interrupted (its client went away, say) right after the task was registered.
        run: () => {
          calling?.unsafeInterruptAsFork(FiberId.none)
          return Effect.succeed({ content: [{ type: "text", text: "done" }] })
        }
      }))
      yield* Fiber.await(calling)
      yield* settle
      // Registered, so counted against maxTasks until it expires: it must not be a task nothing will ever settle.
      expect(yield* store.size).toBe(1)
      expect(heard).toEqual(["completed"])
    }).pipe(Effect.scoped))

  it.effect("without the extension: tasks/* and required tools are -32021, optional tools run synchronously", () =>
    Effect.gen(function*() {
      const plain = { capabilities: {} }
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const error = errorOf(yield* rpc(method, { taskId: "t", inputResponses: {} }, plain))
        expect(error.code).toBe(-32021)
      }
      const required = errorOf(yield* rpc("tools/call", { name: "tool_error", arguments: {} }, plain))
      expect(required).toMatchObject({
        code: -32021,
        data: { requiredCapabilities: { extensions: { [McpTask.EXTENSION]: {} } } }
      })
      const sync = yield* Effect.fork(call("slow", { seconds: 1 }, plain))
      yield* sleepingFor(1_000)
      yield* TestClock.adjust("1 second")
      const result = yield* sync.await.pipe(Effect.flatten)
      expect(result).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "slept 1s" }] })
      expect(result).not.toHaveProperty("taskId")
      // A sync-only tool stays sync, even with the extension and a legacy `task` param.
      const legacy = resultOf(yield* rpc("tools/call", { name: "plain", arguments: { name: "x" }, task: { ttl: 1000 } }))
      expect(legacy).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "Hello, x!" }] })
      expect(yield* sizeOf).toBe(0)
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("unknown task ids are -32602; tasks/result and tasks/list do not exist (-32601)", () =>
    Effect.gen(function*() {
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        expect(errorOf(yield* rpc(method, { taskId: "no-such-task", inputResponses: {} })).code)
          .toBe(JsonRpc.ErrorCode.InvalidParams)
      }
      expect(errorOf(yield* rpc("tasks/get", {})).code).toBe(JsonRpc.ErrorCode.InvalidParams)
      expect(errorOf(yield* rpc("tasks/result", { taskId: "x" })).code).toBe(JsonRpc.ErrorCode.MethodNotFound)
      expect(errorOf(yield* rpc("tasks/list", {})).code).toBe(JsonRpc.ErrorCode.MethodNotFound)
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("a task is its principal's: to another it is unknown, as to a caller without one", () =>
    Effect.gen(function*() {
      const alice: Principal = { subject: "alice", issuer: "https://as.test", scopes: [], claims: {} }
      const mallory: Principal = { subject: "mallory", issuer: "https://as.test", scopes: [], claims: {} }
      const taskId = taskIdOf(yield* call("slow", { seconds: 5 }, { principal: alice }))
      expect((yield* get(taskId, { principal: alice })).status).toBe("working")
      for (const caller of [{ principal: mallory }, {}]) {
        expect(errorOf(yield* rpc("tasks/get", { taskId }, caller)).code).toBe(JsonRpc.ErrorCode.InvalidParams)
        expect(errorOf(yield* rpc("tasks/cancel", { taskId }, caller)).code).toBe(JsonRpc.ErrorCode.InvalidParams)
      }
      expect((yield* get(taskId, { principal: alice })).status).toBe("working")
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("past maxTasks a call that would start a task is an error, and nothing is left behind", () =>
    Effect.gen(function*() {
      taskIdOf(yield* call("slow", { seconds: 10 }))
      const refused = errorOf(yield* rpc("tools/call", { name: "slow", arguments: { seconds: 10 } }))
      expect(refused.message).toContain("Too many tasks")
      expect(yield* sizeOf).toBe(1)
      yield* TestClock.adjust("10 seconds")
      yield* settle
      // Finished tasks still count until they expire: that is what keeps them readable.
      expect(errorOf(yield* rpc("tools/call", { name: "slow", arguments: { seconds: 1 } })).message)
        .toContain("Too many tasks")
    }).pipe(Effect.provide(serverLayer([], { maxTasks: 1 })), Effect.provide(quiet)))

  it.effect("the listing and the capabilities say so", () =>
    Effect.gen(function*() {
      const server = yield* McpServer.McpServer
      expect(server.capabilities().extensions).toEqual(EXT)
      const tools = resultOf(yield* rpc("tools/list")).tools as ReadonlyArray<McpTool.Listing & { name: string; execution?: unknown }>
      const byName = new Map(tools.map((tool) => [tool.name, tool]))
      expect(byName.get("slow")?.execution).toEqual({ taskSupport: "optional" })
      expect(byName.get("tool_error")?.execution).toEqual({ taskSupport: "required" })
      expect(byName.get("plain")).not.toHaveProperty("execution")
      expect(resultOf(yield* rpc("server/discover")).capabilities).toMatchObject({ extensions: EXT })
    }).pipe(Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("the session era gets the same tasks when initialize declared the extension", () =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.SessionRegistry
      const initialized = (capabilities: object) =>
        Effect.gen(function*() {
          const session = yield* Effect.orDie(registry.open({ transport: "memory", protocolVersion: "2025-11-25" }))
          const init = resultOf(yield* exchange(session, "initialize", {
            protocolVersion: "2025-11-25",
            capabilities,
            clientInfo: { name: "legacy", version: "1.0.0" }
          }))
          expect(init.capabilities).toMatchObject({ extensions: EXT })
          return session
        })
      const session = yield* initialized(WITH_TASKS)
      // Not listed here: a 2025-11-25 client reads `execution.taskSupport` as that revision's own tasks.
      const listed = resultOf(yield* exchange(session, "tools/list", {})).tools as ReadonlyArray<{ name: string }>
      expect(listed.find((tool) => tool.name === "slow")).not.toHaveProperty("execution")
      const taskId = taskIdOf(resultOf(yield* exchange(session, "tools/call", { name: "asking", arguments: {} })))
      yield* settle
      // Inside a task an ask parks it, in the session era too, rather than going out as a request.
      const parked = resultOf(yield* exchange(session, "tasks/get", { taskId }))
      expect(parked.status).toBe("input_required")
      const responses = Object.fromEntries(Object.keys(parked.inputRequests as object).map((key) => [
        key,
        { action: "accept", content: { name: "Bo", colour: "red" } }
      ]))
      resultOf(yield* exchange(session, "tasks/update", { taskId, inputResponses: responses }))
      yield* settle
      expect(resultOf(yield* exchange(session, "tasks/get", { taskId }))).toMatchObject({
        status: "completed",
        result: { content: [{ type: "text", text: "Bo likes red" }] }
      })
      // A session that did not declare it: synchronous, and no tasks/*.
      const plain = yield* initialized({})
      expect(errorOf(yield* exchange(plain, "tasks/get", { taskId })).code).toBe(-32021)
      const sync = resultOf(yield* exchange(plain, "tools/call", { name: "slow", arguments: { seconds: 0 } }))
      expect(sync).toMatchObject({ content: [{ type: "text", text: "slept 0s" }] })
      expect(sync).not.toHaveProperty("taskId")
    }).pipe(Effect.scoped, Effect.provide(serverLayer()), Effect.provide(quiet)))

  it.effect("a server without task-supporting tools does not claim the extension", () =>
    Effect.gen(function*() {
      const server = yield* McpServer.McpServer
      expect(server.capabilities()).not.toHaveProperty("extensions")
    }).pipe(Effect.provide(Plain.pipe(Layer.provideMerge(McpServer.layer({ name: "plain", version: "1" }))))))

  it.effect("bad settings are refused when the server is built", () =>
    Effect.gen(function*() {
      for (const tasks of [{ ttlMs: 0 }, { pollIntervalMs: 1.5 }, { maxTasks: -1 }]) {
        const exit = yield* Effect.exit(Layer.build(McpServer.layer({ name: "x", version: "1", tasks })).pipe(Effect.scoped))
        expect(Exit.isFailure(exit)).toBe(true)
      }
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Over real sockets

const envelope = (capabilities: object = WITH_TASKS) => ({
  "io.modelcontextprotocol/protocolVersion": V,
  "io.modelcontextprotocol/clientCapabilities": capabilities,
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" }
})

/** A 2026-07-28 POST with the headers a client mirrors (`Mcp-Name` is the tool name or the task id). */
const post = (
  url: string,
  method: string,
  params: { readonly [key: string]: unknown },
  headers: { readonly [key: string]: string } = {}
) => postModern(url, method, { _meta: envelope(), ...params }, headers)

/** The data lines of an SSE response, one JSON message at a time. */
const events = (response: Response) => {
  const body = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  const next = async (): Promise<{ readonly method?: string; readonly params?: { readonly [key: string]: unknown } }> => {
    while (true) {
      const line = buffer.split("\n").find((l) => l.startsWith("data: "))
      if (line !== undefined) {
        buffer = buffer.slice(buffer.indexOf(line) + line.length)
        return JSON.parse(line.slice(6))
      }
      const chunk = await body.read()
      if (chunk.done) throw new Error("the stream ended")
      buffer += decoder.decode(chunk.value, { stream: true })
    }
  }
  return { next, cancel: () => body.cancel() }
}

describe("McpTask over HTTP", () => {
  it.scopedLive("Mcp-Name must mirror the task id on tasks/get|update|cancel (400, -32020)", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(serverLayer())
      yield* Effect.promise(async () => {
        const created = await post(url, "tools/call", { name: "slow", arguments: { seconds: 30 } })
        expect(created.status).toBe(200)
        const taskId = taskIdOf(created.body.result)
        const got = await post(url, "tasks/get", { taskId })
        expect(got.body.result).toMatchObject({ resultType: "complete", taskId, status: "working" })
        for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
          const wrong = await post(url, method, { taskId, inputResponses: {} }, { "mcp-name": "another-task" })
          expect(wrong.status).toBe(400)
          expect(wrong.body.error.code).toBe(-32020)
        }
        expect((await post(url, "tasks/cancel", { taskId })).body.result).toMatchObject({ resultType: "complete" })
        expect((await post(url, "tasks/get", { taskId })).body.result).toMatchObject({ status: "cancelled" })
      })
    }))

  it.scopedLive("a listen stream naming a task hears its notifications/tasks, the result inlined at the end", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const Gated = McpTool.make("gated", {
        input: NoArguments,
        taskSupport: "required",
        handler: () => Effect.as(Deferred.await(release), "released")
      })
      const url = yield* serveHttp(serverLayer([Gated]))
      const listen = (taskIds: ReadonlyArray<string>, capabilities: object = WITH_TASKS) =>
        openListen(url, 5, { _meta: envelope(capabilities), notifications: { taskIds } })
      const taskId = yield* Effect.promise(async () =>
        taskIdOf((await post(url, "tools/call", { name: "gated", arguments: {} })).body.result)
      )
      const other = yield* Effect.promise(async () =>
        taskIdOf((await post(url, "tools/call", { name: "slow", arguments: { seconds: 0.05 } })).body.result)
      )
      const stream = events(yield* Effect.promise(() => listen([taskId])))
      yield* Effect.promise(async () => {
        expect(await stream.next()).toMatchObject({
          method: "notifications/subscriptions/acknowledged",
          params: { notifications: { taskIds: [taskId] } }
        })
      })
      yield* Deferred.succeed(release, undefined)
      yield* Effect.promise(async () => {
        // Only the task named: `other` finishes meanwhile and is not heard of.
        const heard = await stream.next()
        expect(heard).toMatchObject({
          method: "notifications/tasks",
          params: {
            taskId,
            status: "completed",
            result: { content: [{ type: "text", text: "released" }] },
            _meta: { "io.modelcontextprotocol/subscriptionId": 5 }
          }
        })
        expect(heard.params?.taskId).not.toBe(other)
        await stream.cancel()
        // Task ids from a client without the extension: -32021.
        const refused = await listen([taskId], {})
        const text = await refused.text()
        expect(text).toContain("-32021")
      })
    }))
})
