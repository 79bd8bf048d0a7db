/**
 * The tasks of one server across its instances (`McpTask.Placement`, provided by `McpCluster.layer`): two
 * servers in this process, each in the cluster on one `redis-server` of the test's own, spoken to in 2026-07-28
 * over real sockets. A task created on A is read, answered and cancelled on B; its status reaches B's listen
 * streams; a task whose owner is gone reads `failed`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTask from "@effect-mcp/core/McpTask"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import { serveHttp } from "../../core/test/utils/serve.js"
import { openListen, postModern } from "../../core/test/utils/modern.js"
import * as McpCluster from "../src/McpCluster.js"
import * as RedisClient from "../src/RedisClient.js"
import { readyPort, redisServerPath, startRedis } from "./utils/redisServer.js"

// While the file is collected, outside any test's time limit: installs redis-server first where it is missing.
redisServerPath()

const KEY = "a-test-cluster-key-of-at-least-32-characters"
const WITH_TASKS = { extensions: { [McpTask.EXTENSION]: {} }, elicitation: {} }
const envelope = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": WITH_TASKS,
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" }
}

const post = (url: string, method: string, params: { readonly [key: string]: unknown }) =>
  Effect.promise(() => postModern(url, method, { _meta: envelope, ...params }))

/** One instance: a server with `tools`, in the cluster on `redisUrl`; its URL. */
const instance = (redisUrl: string, tools: ReadonlyArray<Layer.Layer<never, never, McpServer.McpServer>> = []) => {
  const cluster = McpCluster.layer({ advertise: "http://127.0.0.1:1", key: KEY, lease: "3 seconds" }).pipe(
    Layer.provide(RedisClient.layer({ url: redisUrl })),
    Layer.orDie
  )
  const server = SessionRegistry.layer({ idleTimeout: Duration.infinity }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(Layer.empty, ...tools).pipe(Layer.provideMerge(McpServer.layer({ name: "tasks", version: "1" })))
    ),
    Layer.provide(cluster)
  )
  return serveHttp(server)
}

const ownerScript = fileURLToPath(new URL("./fixtures/taskOwner.ts", import.meta.url))

/** An instance in a process of its own (`fixtures/taskOwner.ts`), killed with the scope; its URL and process. */
const ownerProcess = (redisUrl: string, leaseMs: number) =>
  Effect.gen(function*() {
    // Port 0, read back from its `ready` line: a port picked beforehand could be taken before the owner binds it.
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, ["--import", "tsx", ownerScript, "0", redisUrl, String(leaseMs)], {
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => void child.kill("SIGKILL"))
    )
    const port = yield* readyPort(child)
    return { url: `http://127.0.0.1:${port}/mcp`, child }
  })

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

describe("tasks across instances", () => {
  it.scopedLive("a task created on A is read, answered and cancelled on B, and B's listen stream hears it", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const interrupted = yield* Deferred.make<void>()
      // The handler asks once B's listen stream is open, so that the stream hears the ask.
      const go = yield* Deferred.make<void>()
      const Ask = McpTool.make("ask", {
        input: Schema.Struct({}),
        taskSupport: "required",
        handler: () =>
          Effect.gen(function*() {
            const session = yield* CurrentSession
            yield* Deferred.await(go)
            const answer = yield* session.elicit("Name?", Schema.Struct({ name: Schema.String }))
            if (answer.action !== "accept") return "declined"
            yield* Effect.never
            return answer.content.name
          }).pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      })
      const a = yield* instance(redis.url, [Ask])
      const b = yield* instance(redis.url, [Ask])
      const created = yield* post(a, "tools/call", { name: "ask", arguments: {} })
      const taskId = String(created.body.result.taskId)
      const listen = events(yield* Effect.promise(() =>
        openListen(b, 5, { _meta: envelope, notifications: { taskIds: [taskId] } })
      ))
      yield* Effect.promise(async () => {
        expect(await listen.next()).toMatchObject({ method: "notifications/subscriptions/acknowledged" })
      })
      yield* Deferred.succeed(go, undefined)
      // The ask parks the task in input_required: told to B's listen stream, and read on B.
      const asked = yield* Effect.promise(() => listen.next())
      expect(asked).toMatchObject({ method: "notifications/tasks", params: { taskId, status: "input_required" } })
      const onB = yield* post(b, "tasks/get", { taskId })
      expect(onB.body.result).toMatchObject({ resultType: "complete", taskId, status: "input_required" })
      const key = Object.keys(onB.body.result.inputRequests)[0]!
      // Answered on B: the handler on A goes on, and B's stream hears it working again.
      const updated = yield* post(b, "tasks/update", {
        taskId,
        inputResponses: { [key]: { action: "accept", content: { name: "Ada" } } }
      })
      expect(updated.body.result).toMatchObject({ resultType: "complete" })
      yield* Effect.promise(async () => {
        expect(await listen.next()).toMatchObject({ method: "notifications/tasks", params: { taskId, status: "working" } })
      })
      // Cancelled on B: the handler on A is interrupted, and the task reads cancelled everywhere.
      expect((yield* post(b, "tasks/cancel", { taskId })).body.result).toMatchObject({ resultType: "complete" })
      yield* Deferred.await(interrupted)
      yield* Effect.promise(async () => {
        expect(await listen.next()).toMatchObject({ method: "notifications/tasks", params: { taskId, status: "cancelled" } })
      })
      expect((yield* post(a, "tasks/get", { taskId })).body.result).toMatchObject({ status: "cancelled" })
      expect((yield* post(b, "tasks/get", { taskId })).body.result).toMatchObject({ status: "cancelled" })
      yield* Effect.promise(() => listen.cancel())
    }))

  it.scopedLive("a task whose owner is gone reads failed; another party's task is unknown", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const b = yield* instance(redis.url)
      const client = yield* RedisClient.make({ url: redis.url })
      // Records as owners wrote them: one of an owner that left (its lease a tombstone), one of an owner alive,
      // one of another party.
      const detail = (taskId: string) => ({
        taskId,
        status: "input_required",
        createdAt: "2026-12-07T00:00:00.000Z",
        lastUpdatedAt: "2026-12-07T00:00:00.000Z",
        ttlMs: 60_000,
        pollIntervalMs: 1_000,
        inputRequests: { "elicit-0": { method: "elicitation/create", params: {} } }
      })
      const record = (taskId: string, from: string, owner: unknown) =>
        client.send(["SET", `effect-mcp:task:${taskId}`, JSON.stringify({ from, owner, detail: detail(taskId) }), "PX", "60000"])
      yield* client.send(["SET", "effect-mcp:lease:gone", "-", "PX", "60000"])
      yield* client.send(["SET", "effect-mcp:lease:alive", "http://127.0.0.1:1", "PX", "60000"])
      yield* record("lost", "gone", null)
      yield* record("live", "alive", null)
      yield* record("theirs", "alive", { subject: "someone", issuer: "https://issuer" })
      const lost = (yield* post(b, "tasks/get", { taskId: "lost" })).body.result
      expect(lost).toMatchObject({ resultType: "complete", taskId: "lost", status: "failed", error: { code: -32603 } })
      expect(lost.inputRequests).toBeUndefined()
      expect((yield* post(b, "tasks/get", { taskId: "live" })).body.result).toMatchObject({ status: "input_required" })
      // Cancelling a lost task changes nothing and is acknowledged, as for any task that ended.
      expect((yield* post(b, "tasks/cancel", { taskId: "lost" })).body.result).toMatchObject({ resultType: "complete" })
      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        for (const taskId of ["theirs", "missing"]) {
          const refused = yield* post(b, method, { taskId, inputResponses: {} })
          expect(refused.body.error, `${method} ${taskId}`).toMatchObject({ code: -32602 })
        }
      }
    }))

  it.scopedLive("a task whose owner is killed reads working, then failed once its lease lapsed, on every instance", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      const leaseMs = 1_000
      const owner = yield* ownerProcess(redis.url, leaseMs)
      const b = yield* instance(redis.url)
      const created = yield* post(owner.url, "tools/call", { name: "wait", arguments: {} })
      const taskId = String(created.body.result.taskId)
      expect((yield* post(b, "tasks/get", { taskId })).body.result).toMatchObject({ taskId, status: "working" })
      const exited = new Promise((resolve) => owner.child.once("exit", resolve))
      owner.child.kill("SIGKILL")
      yield* Effect.promise(() => exited)
      const killedAt = Date.now()
      // Read until the lease lapsed: working until then (the record as the owner left it), then failed.
      const seen: Array<string> = []
      let last: unknown
      const read = Effect.map(post(b, "tasks/get", { taskId }), (got) => {
        seen.push(String(got.body.result?.status))
        return last = got.body.result
      })
      yield* Effect.repeat(read, {
        until: (result) => result?.status !== "working" || Date.now() - killedAt > 10 * leaseMs,
        // A probe's pace, not a wait for an outcome: each answer is checked.
        schedule: Schedule.spaced("10 millis")
      })
      expect(last).toMatchObject({ taskId, status: "failed", error: { code: -32603 } })
      expect(seen.slice(0, -1).every((status) => status === "working")).toBe(true)
      expect(Date.now() - killedAt).toBeLessThan(3 * leaseMs)
    }))

  it.scopedLive("tasks/update and tasks/cancel on another instance are answered once the owner applied them; one answered -32603 is never applied", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis
      // A lease longer than the owner stays frozen here: it is alive all along, only slow.
      const owner = yield* ownerProcess(redis.url, 10_000)
      const b = yield* instance(redis.url)
      const created = yield* post(owner.url, "tools/call", { name: "wait", arguments: {} })
      const taskId = String(created.body.result.taskId)
      expect((yield* post(b, "tasks/get", { taskId })).body.result).toMatchObject({ status: "working" })
      // A frozen owner applies nothing: B cannot say it was done, so it says it could not reach it.
      owner.child.kill("SIGSTOP")
      for (const method of ["tasks/update", "tasks/cancel"]) {
        const unanswered = yield* post(b, method, { taskId, inputResponses: {} })
        expect(unanswered.body.error, method).toMatchObject({ code: -32603 })
        expect(unanswered.body.result, method).toBeUndefined()
      }
      owner.child.kill("SIGCONT")
      expect((yield* post(b, "tasks/update", { taskId, inputResponses: {} })).body.result).toMatchObject({
        resultType: "complete"
      })
      // The owner has read what it was sent while frozen (the update just answered came after it on the channel),
      // and applied none of it: the cancel answered -32603 was withdrawn, so the task still works.
      expect((yield* post(owner.url, "tasks/get", { taskId })).body.result).toMatchObject({ status: "working" })
      expect((yield* post(b, "tasks/get", { taskId })).body.result).toMatchObject({ status: "working" })
      // Acknowledged on B: the owner, asked right after, has it cancelled.
      expect((yield* post(b, "tasks/cancel", { taskId })).body.result).toMatchObject({ resultType: "complete" })
      expect((yield* post(owner.url, "tasks/get", { taskId })).body.result).toMatchObject({ status: "cancelled" })
      expect((yield* post(b, "tasks/get", { taskId })).body.result).toMatchObject({ status: "cancelled" })
    }))
})
