/**
 * The client against real processes: a server written with the official SDK (`McpServer` over
 * `StdioServerTransport`, or `StreamableHTTPServerTransport` with `--http`), whose requests (sampling, elicitation,
 * roots) the client's handler layers answer, and hand-written stdio servers that misbehave (garbage on stdout,
 * exiting or killed mid-request, deaf to SIGTERM, silent). Every stdio test checks that the process is gone
 * afterwards.
 */
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import { describe, expect, it } from "@effect/vitest"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as NodeMcpClient from "../src/NodeMcpClient.js"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const sdkServer = { command: process.execPath, args: [fixture("sdk-server.mjs")] }
const rawServer = (mode: string) => ({ command: process.execPath, args: [fixture("raw-server.mjs"), mode] })

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The fixtures put their pid in `serverInfo.version`. */
const pidOf = (client: McpClient.McpClientService) =>
  Effect.map(client.serverInfo, (info) => Number(info.version))

/** Waits (briefly) for the process to be gone: the exit is reported a moment after the kill. */
const gone = (pid: number, attempts = 200): Effect.Effect<boolean> =>
  Effect.suspend(() =>
    !isAlive(pid) ? Effect.succeed(true) : attempts <= 1
      ? Effect.succeed(false)
      : Effect.zipRight(Effect.sleep("10 millis"), gone(pid, attempts - 1))
  )

interface Logged {
  readonly level: LogLevel.LogLevel
  readonly message: string
}

/** Records what is logged, down to debug, instead of printing it. */
const recording = () => {
  const entries: Array<Logged> = []
  const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    entries.push({ level: logLevel, message: parts.map((part) => typeof part === "string" ? part : JSON.stringify(part)).join(" ") })
  })
  const layer = Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.Debug))
  return { entries, layer }
}

const stdio = NodeMcpClient.layerCommandExecutor

/** The fixture over Streamable HTTP, as a child process on a free port, for the scope. */
const sdkHttpServer: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly stop: () => Promise<void> }>((resume) => {
    const child = spawn(process.execPath, [fixture("sdk-server.mjs"), "--http"], { stdio: ["ignore", "pipe", "pipe"] })
    let settled = false
    let out = ""
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return exited
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const port = /listening (\d+)/.exec(out)?.[1]
      if (port !== undefined && !settled) {
        settled = true
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/mcp`, stop }))
      }
    })
    child.stderr.resume()
    child.once("exit", (code) => {
      if (settled) return
      settled = true
      resume(Effect.dieMessage(`the SDK fixture exited with ${code} before listening`))
    })
  }),
  ({ stop }) => Effect.promise(stop)
).pipe(Effect.map(({ url }) => url))

/** Retries `check` until it holds: for what the other side does in its own time. */
const until = (check: Effect.Effect<boolean, McpClient.McpClientError>) =>
  Effect.repeat(check, { until: (ok) => ok, schedule: Schedule.spaced("20 millis") })

const firstText = (message: McpSchema.SamplingMessage | undefined): string => {
  const content = message?.content
  const block = Array.isArray(content) ? content[0] : content
  return block?.type === "text" ? block.text : ""
}

/** The client's handlers for the fixture's requests; the roots are in `roots`. */
const handlers = (roots: SubscriptionRef.SubscriptionRef<ReadonlyArray<McpSchema.Root>>) =>
  Layer.mergeAll(
    McpClientHandlers.layerSampling((params) =>
      Effect.succeed<McpSchema.CreateMessageResult>({
        role: "assistant",
        content: { type: "text", text: `${params.systemPrompt} / ${firstText(params.messages[0])}` },
        model: "effect-model"
      })
    ),
    McpClientHandlers.layerElicitation((params) =>
      Effect.succeed<McpSchema.ElicitResult>(
        params.mode === "url"
          ? { action: params.url === "https://example.com/sign-in" ? "accept" : "decline" }
          : { action: "accept", content: { name: "Ada", age: 36, role: "dev" } }
      ), { url: true }),
    McpClientHandlers.layerRootsRef(roots)
  )

/** What an SDK server asks a client, and what it announces, over whichever transport `client` uses. */
const exerciseRequestsFromServer = (
  client: McpClient.McpClientService,
  roots: SubscriptionRef.SubscriptionRef<ReadonlyArray<McpSchema.Root>>
) =>
  Effect.gen(function*() {
    expect(textOf(yield* client.callTool("sample", { prompt: "hello" }))).toBe("effect-model: You are a fixture / hello")
    expect(JSON.parse(textOf(yield* client.callTool("ask")))).toEqual({
      action: "accept",
      content: { name: "Ada", age: 36, role: "dev" }
    })
    expect(JSON.parse(textOf(yield* client.callTool("visit")))).toEqual({ action: "accept" })
    expect(textOf(yield* client.callTool("roots"))).toBe("file:///a")

    // The roots change: the SDK server hears of it and lists them anew.
    yield* SubscriptionRef.set(roots, [{ uri: "file:///a" }, { uri: "file:///b" }])
    yield* until(Effect.map(client.callTool("roots-changes"), (result) => textOf(result) === "1"))
    expect(textOf(yield* client.callTool("roots"))).toBe("file:///a,file:///b")

    // A tool comes and goes: notifications/tools/list_changed each time (over HTTP, on the GET stream).
    yield* until(Effect.map(client.callTool("standalone"), (result) => textOf(result) === "true"))
    const changes = yield* (yield* client.subscribe).pipe(
      Stream.filter((n) => n.method === "notifications/tools/list_changed"),
      Stream.take(2),
      Stream.runCollect,
      Effect.fork
    )
    expect(textOf(yield* client.callTool("toggle"))).toBe("added")
    expect((yield* client.listTools()).tools.map((tool) => tool.name)).toContain("extra")
    expect(textOf(yield* client.callTool("toggle"))).toBe("removed")
    expect(Chunk.size(yield* Fiber.join(changes))).toBe(2)
    expect((yield* client.listTools()).tools.map((tool) => tool.name)).not.toContain("extra")
  })

describe("NodeMcpClient.layerStdio", () => {
  it.live("speaks to a server written with the official SDK: tools, progress, resources, prompts, roots", () => {
    const logs = recording()
    return Effect.gen(function*() {
      const client = yield* McpClient.makeStdio({
        ...sdkServer,
        clientInfo: { name: "stdio-test", version: "1.0.0" },
        handlers: [{
          method: "roots/list",
          capabilities: { roots: { listChanged: false } },
          handle: () => Effect.succeed({ roots: [{ uri: "file:///work/a", name: "a" }, { uri: "file:///work/b" }] })
        }]
      })
      const info = yield* client.serverInfo
      expect(info.name).toBe("sdk-fixture")
      expect(Option.isNone(yield* client.sessionId)).toBe(true)

      const { tools } = yield* client.listTools()
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["add", "count", "fail", "roots"]))
      const sum = yield* client.callTool("add", { a: 2, b: 3 })
      expect(textOf(sum)).toBe("5")
      expect(sum.structuredContent).toEqual({ sum: 5 })

      const progress: Array<number> = []
      const counted = yield* client.callTool("count", { n: 3 }, {
        onProgress: (p) => Effect.sync(() => progress.push(p.progress))
      })
      expect(textOf(counted)).toBe("counted to 3")
      expect(progress).toEqual([1, 2, 3])

      // The server asks the client for its roots in the middle of the call.
      expect(textOf(yield* client.callTool("roots"))).toBe("file:///work/a,file:///work/b")
      expect(yield* client.callTool("fail")).toMatchObject({ isError: true })

      const hello = yield* client.readResource("fixture://hello")
      expect(hello.contents).toEqual([{ uri: "fixture://hello", mimeType: "text/plain", text: "Hello from the SDK" }])
      const { resourceTemplates } = yield* client.listResourceTemplates()
      expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["fixture://greetings/{name}"])
      const greeting = yield* client.readResource("fixture://greetings/Ada")
      expect(greeting.contents[0]).toMatchObject({ text: "Hello, Ada!" })

      const prompt = yield* client.getPrompt("review", { code: "x = 1" })
      expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: "Please review:\nx = 1" } }])
      expect(yield* Effect.flip(client.getPrompt("nope"))).toMatchObject({ reason: "RpcError" })
      yield* client.ping

      // Closing: stdin is closed and the SDK server exits by itself, without a signal.
      const pid = yield* pidOf(client)
      yield* client.close
      expect(yield* gone(pid)).toBe(true)
      expect(logs.entries.filter((entry) => entry.message.includes("sending SIG"))).toEqual([])
      expect(yield* Effect.flip(client.ping)).toMatchObject({ reason: "Closed" })
    }).pipe(Effect.scoped, Effect.provide(stdio), Effect.provide(logs.layer))
  })

  it.live("answers an SDK server's sampling, elicitation (form and URL) and roots requests; hears its list changes", () =>
    Effect.gen(function*() {
      const roots = yield* SubscriptionRef.make<ReadonlyArray<McpSchema.Root>>([{ uri: "file:///a" }])
      const client = yield* McpClient.makeStdio(sdkServer).pipe(Effect.provide(handlers(roots)))
      yield* exerciseRequestsFromServer(client, roots)
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("the layer starts the process and ends it with its scope", () =>
    Effect.gen(function*() {
      const pid = yield* Effect.scoped(
        Effect.gen(function*() {
          const client = yield* McpClient.McpClient
          expect(textOf(yield* client.callTool("add", { a: 1, b: 1 }))).toBe("2")
          const pid = yield* pidOf(client)
          expect(isAlive(pid)).toBe(true)
          return pid
        }).pipe(Effect.provide(NodeMcpClient.layerStdio(sdkServer)))
      )
      expect(isAlive(pid)).toBe(false)
    }))

  it.live("requests from the server: ping, handlers, their errors, no handler (-32601), cancellation", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const client = yield* McpClient.makeStdio({
        ...rawServer("asks"),
        handlers: [
          {
            method: "roots/list",
            capabilities: { roots: {} },
            handle: () => Effect.fail(new JsonRpc.JsonRpcError({ code: -32001, message: "no roots today" }))
          },
          { method: "test/wait", handle: () => Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined)) }
        ]
      })
      const answers: unknown = JSON.parse(textOf(yield* client.callTool("work")))
      expect(answers).toEqual({
        s1: {},
        s2: { error: { code: -32601, message: "Method not found: sampling/createMessage" } },
        s3: { error: { code: -32001, message: "no roots today" } }
      })
      // The server cancelled test/wait: its handler was interrupted, and answered nothing.
      yield* Deferred.await(interrupted).pipe(Effect.timeout("2 seconds"))
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("a command that does not exist fails to connect, with a Transport error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(McpClient.makeStdio({ command: "effect-mcp-no-such-command", args: ["x"] }))
      expect(error).toMatchObject({ _tag: "McpClientError", reason: "Transport" })
      expect(error.message).toContain("effect-mcp-no-such-command x")
      expect(error.message).toContain("NotFound")
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("a server that exits mid-request fails the pending and later requests with its exit code and stderr", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.makeStdio(rawServer("exit"))
      const pid = yield* pidOf(client)
      const error = yield* Effect.flip(client.callTool("work"))
      expect(error).toMatchObject({ reason: "ProcessExited", exitCode: 3 })
      expect(error.stderr).toContain("raw-server: something went badly wrong")
      expect(error.message).toContain("exited with code 3")
      expect(yield* Effect.flip(client.listTools())).toEqual(error)
      expect(yield* gone(pid)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("a server that cannot start: the error quotes the line of its stderr that says why", () =>
    Effect.gen(function*() {
      // A Node server whose package is missing prints a trace and `Node.js v..` last; the error picks its Error line.
      const error = yield* Effect.flip(McpClient.makeStdio({
        command: process.execPath,
        args: ["--input-type=module", "-e", "import 'effect-mcp-no-such-package'"]
      }))
      expect(error).toMatchObject({ reason: "ProcessExited", exitCode: 1 })
      expect(error.message).toMatch(
        /exited with code 1 \(stderr: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package 'effect-mcp-no-such-package'/
      )
      expect(error.stderr).toContain(`Node.js ${process.version}`)
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("a server killed by a signal mid-request: ProcessExited with the signal", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.makeStdio(rawServer("signal"))
      const pending = yield* Effect.fork(client.callTool("work"))
      const error = yield* Effect.flip(Fiber.join(pending))
      expect(error).toMatchObject({ reason: "ProcessExited", signal: "SIGKILL" })
      expect(error.stderr).toContain("about to be killed")
    }).pipe(Effect.scoped, Effect.provide(stdio)))

  it.live("lines that are not JSON-RPC are logged and skipped", () => {
    const logs = recording()
    return Effect.gen(function*() {
      const client = yield* McpClient.makeStdio(rawServer("garbage"))
      const pid = yield* pidOf(client)
      expect((yield* client.listTools()).tools.map((tool) => tool.name)).toEqual(["work"])
      expect(textOf(yield* client.callTool("work"))).toBe("worked")
      yield* client.ping
      const warnings = logs.entries.filter((entry) => entry.level === LogLevel.Warning).map((entry) => entry.message)
      expect(warnings.some((message) => message.includes("not JSON") && message.includes("banner"))).toBe(true)
      expect(warnings.some((message) => message.includes("not JSON") && message.includes("{ not json"))).toBe(true)
      expect(warnings.some((message) => message.includes("invalid message") && message.includes("no JSON-RPC"))).toBe(true)
      yield* client.close
      expect(yield* gone(pid)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(stdio), Effect.provide(logs.layer))
  })

  it.live("a server that never answers: requestTimeout fails initialize, and the process is still ended", () => {
    const logs = recording()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(McpClient.makeStdio({
        ...rawServer("silent"),
        // Straight to initialize: in auto mode the server/discover probe would be what times out.
        protocol: "legacy",
        requestTimeout: "1 second",
        logStderr: true
      })))
      expect(error).toMatchObject({ reason: "Timeout" })
      expect(error.message).toContain("initialize")
      // The pid, from the server's stderr in the log; its stdin closed, it exited without a signal.
      const announced = logs.entries.map((entry) => /raw-server silent: pid (\d+)/.exec(entry.message)).find((m) => m !== null)
      expect(announced).toBeDefined()
      expect(yield* gone(Number(announced?.[1]))).toBe(true)
      expect(logs.entries.filter((entry) => entry.message.includes("sending SIG"))).toEqual([])
    }).pipe(Effect.provide(stdio), Effect.provide(logs.layer))
  })

  it.live("closing escalates to SIGTERM, then SIGKILL, for a server that ignores both its stdin and SIGTERM", () => {
    const logs = recording()
    return Effect.gen(function*() {
      const { pid, closedIn } = yield* Effect.gen(function*() {
        const client = yield* McpClient.makeStdio({ ...rawServer("stubborn"), closeTimeout: "200 millis", logStderr: true })
        expect(textOf(yield* client.callTool("work"))).toBe("worked")
        const pid = yield* pidOf(client)
        const start = Date.now()
        yield* client.close
        return { pid, closedIn: Date.now() - start }
      }).pipe(Effect.scoped)
      // 200 ms after stdin closed, SIGTERM (ignored); 200 ms later, SIGKILL.
      expect(closedIn).toBeGreaterThanOrEqual(400)
      expect(closedIn).toBeLessThan(5000)
      expect(yield* gone(pid)).toBe(true)
      const messages = logs.entries.map((entry) => entry.message)
      expect(messages.some((message) => message.includes("sending SIGTERM"))).toBe(true)
      expect(messages.some((message) => message.includes("sending SIGKILL"))).toBe(true)
      // logStderr: the server's stderr lines reach the log at debug level.
      expect(logs.entries.some((entry) =>
        entry.level === LogLevel.Debug && entry.message.includes("stubborn: ignoring SIGTERM")
      )).toBe(true)
    }).pipe(Effect.provide(stdio), Effect.provide(logs.layer))
  })
})

describe("NodeMcpClient.layerHttp", () => {
  it.live("answers an SDK server's sampling, elicitation and roots requests over Streamable HTTP; hears its list changes", () =>
    Effect.gen(function*() {
      const url = yield* sdkHttpServer
      const roots = yield* SubscriptionRef.make<ReadonlyArray<McpSchema.Root>>([{ uri: "file:///a" }])
      const client = yield* Layer.build(NodeMcpClient.layerHttp({ url }).pipe(Layer.provide(handlers(roots)))).pipe(
        Effect.map(Context.get(McpClient.McpClient))
      )
      yield* exerciseRequestsFromServer(client, roots)
    }).pipe(Effect.scoped))
})
