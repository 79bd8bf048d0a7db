/**
 * effect-mcp's client against the official reference server, `@modelcontextprotocol/server-everything`, started
 * as a real child process: over stdio (`dist/index.js stdio`), Streamable HTTP (`streamableHttp`, `/mcp`) and the
 * legacy HTTP+SSE transport (`sse`, `/sse`), on a free port (the server reads `PORT`; it listens on every
 * interface, the client uses 127.0.0.1). Also `McpClient.layerHttp`'s auto-detection against both HTTP servers.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as McpClient from "@effect-mcp/core/McpClient"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as Path from "node:path"
import * as NodeMcpClient from "../src/NodeMcpClient.js"

const everything = Path.join(
  Path.dirname(createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist",
  "index.js"
)

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

/** A port that was free a moment ago on 127.0.0.1. */
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Checks every 25 ms until `check` holds, at most `attempts` times; its last answer. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, attempts = 120): Effect.Effect<boolean, E, R> =>
  Effect.flatMap(check, (ok) =>
    ok || attempts <= 1 ? Effect.succeed(ok) : Effect.zipRight(Effect.sleep("25 millis"), eventually(check, attempts - 1)))

const connects = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

/**
 * server-everything over HTTP (`sse` or `streamableHttp`) as a child process, listening on a free port, for the
 * scope; the scope's end kills it (SIGTERM to its process group, then waits for the exit). The port is picked
 * before the child binds it (it has no way to report a port the system picked), so another process can take it
 * first: then the child exits and another port is tried.
 */
const serveEverything = (
  transport: "sse" | "streamableHttp"
): Effect.Effect<string, never, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = yield* freePort
      const started = yield* serveEverythingOn(transport, port)
      if (started === "listening") return `http://127.0.0.1:${port}`
    }
    return yield* Effect.dieMessage(`server-everything ${transport} found each free port taken, 5 times`)
  })

const serveEverythingOn = (transport: "sse" | "streamableHttp", port: number) =>
  Effect.gen(function*() {
    const process = yield* Command.make(globalThis.process.execPath, everything, transport).pipe(
      Command.env({ PORT: String(port) }),
      Command.start,
      Effect.orDie
    )
    // Its logs go to stdout and stderr: read them, or a full pipe would stall the server.
    let output = ""
    const keep = (text: string) => {
      output = `${output}${text}`.slice(-4096)
    }
    yield* Effect.forkScoped(Stream.runForEach(Stream.decodeText(process.stdout), (text) => Effect.sync(() => keep(text))))
    yield* Effect.forkScoped(Stream.runForEach(Stream.decodeText(process.stderr), (text) => Effect.sync(() => keep(text))))
    const exited = Effect.map(Effect.orElseSucceed(process.isRunning, () => false), (running) => !running)
    yield* eventually(Effect.map(Effect.zip(exited, connects(port)), ([gone, up]) => gone || up), 600)
    // A connection alone could be another process's on the port: this child must still be running too.
    if (yield* exited) {
      if (output.includes("already in use") || output.includes("EADDRINUSE")) return "in use" as const
      return yield* Effect.dieMessage(`server-everything ${transport} exited:\n${output}`)
    }
    if (!(yield* connects(port))) {
      return yield* Effect.dieMessage(`server-everything ${transport} did not listen:\n${output}`)
    }
    return "listening" as const
  })

class EverythingHttp extends Context.Tag("test/EverythingHttp")<EverythingHttp, {
  readonly streamable: string
  readonly sse: string
}>() {}

/** Both HTTP servers, started once for the tests that share them. */
const EverythingHttpLive = Layer.scoped(
  EverythingHttp,
  Effect.all({
    streamable: Effect.map(serveEverything("streamableHttp"), (base) => `${base}/mcp`),
    sse: Effect.map(serveEverything("sse"), (base) => `${base}/sse`)
  }, { concurrency: 2 })
).pipe(Layer.provide(NodeMcpClient.layerCommandExecutor))

const roots = [{ uri: "file:///work/project", name: "project" }]

/** The client options every test uses: a `roots/list` handler, so the server's roots tool appears. */
const clientOptions: McpClient.Options = {
  clientInfo: { name: "effect-mcp-interop", version: "0.1.0" },
  handlers: [{ method: "roots/list", capabilities: { roots: {} }, handle: () => Effect.succeed({ roots }) }]
}

/** Lists and calls tools, reads resources and templates, gets prompts, answers the server's roots request. */
const exercise = (client: McpClient.McpClientService) =>
  Effect.gen(function*() {
    const info = yield* client.serverInfo
    expect(info.name).toBe("mcp-servers/everything")
    const init = yield* client.initializeResult
    expect(init.capabilities.tools).toBeDefined()

    const { tools } = yield* client.listTools()
    const names = tools.map((tool) => tool.name)
    expect(names).toEqual(expect.arrayContaining([
      "echo",
      "get-sum",
      "get-tiny-image",
      "get-resource-links",
      "get-annotated-message",
      "trigger-long-running-operation"
    ]))
    expect(tools.find((tool) => tool.name === "get-sum")?.inputSchema).toMatchObject({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } }
    })

    expect(textOf(yield* client.callTool("echo", { message: "hello from Effect" }))).toBe("Echo: hello from Effect")
    expect(textOf(yield* client.callTool("get-sum", { a: 2, b: 3 }))).toBe("The sum of 2 and 3 is 5.")
    const image = yield* client.callTool("get-tiny-image")
    expect(image.content.find((block) => block.type === "image")).toMatchObject({ type: "image", mimeType: "image/png" })
    const links = yield* client.callTool("get-resource-links", { count: 2 })
    expect(links.content.filter((block) => block.type === "resource_link")).toHaveLength(2)
    const annotated = yield* client.callTool("get-annotated-message", { messageType: "error", includeImage: false })
    expect(annotated.content[0]).toMatchObject({ type: "text", annotations: { priority: 1 } })

    const progress: Array<[number, number | undefined]> = []
    const long = yield* client.callTool("trigger-long-running-operation", { duration: 0.2, steps: 2 }, {
      onProgress: (p) => Effect.sync(() => progress.push([p.progress, p.total]))
    })
    expect(textOf(long)).toContain("Long running operation completed")
    expect(progress).toEqual([[1, 2], [2, 2]])

    // Bad arguments: a tool error (SEP-1303) or a JSON-RPC error, depending on the SDK's version; either way typed.
    const bad = yield* Effect.either(client.callTool("get-sum", { a: "two" }))
    expect(bad._tag === "Left" ? bad.left.reason : bad.right.isError).toEqual(bad._tag === "Left" ? "RpcError" : true)

    const { resources } = yield* client.listResources()
    const document = resources.find((resource) => resource.uri.startsWith("demo://resource/static/document/"))
    if (document === undefined) return yield* Effect.dieMessage("no static document among the resources")
    const read = yield* client.readResource(document.uri)
    expect(read.contents[0]).toMatchObject({ uri: document.uri })
    expect(read.contents[0] !== undefined && "text" in read.contents[0] && read.contents[0].text.length).toBeGreaterThan(0)

    const { resourceTemplates } = yield* client.listResourceTemplates()
    expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual(expect.arrayContaining([
      "demo://resource/dynamic/text/{resourceId}",
      "demo://resource/dynamic/blob/{resourceId}"
    ]))
    const dynamic = yield* client.readResource("demo://resource/dynamic/text/7")
    expect(dynamic.contents[0]).toMatchObject({ uri: "demo://resource/dynamic/text/7", mimeType: "text/plain" })
    expect(dynamic.contents[0] !== undefined && "text" in dynamic.contents[0] && dynamic.contents[0].text)
      .toContain("Resource 7")
    const blob = yield* client.readResource("demo://resource/dynamic/blob/7")
    expect(blob.contents[0] !== undefined && "blob" in blob.contents[0]).toBe(true)

    const { prompts } = yield* client.listPrompts()
    expect(prompts.map((prompt) => prompt.name)).toEqual(expect.arrayContaining(["simple-prompt", "args-prompt"]))
    const simple = yield* client.getPrompt("simple-prompt")
    expect(simple.messages).toEqual([
      { role: "user", content: { type: "text", text: "This is a simple prompt without arguments." } }
    ])
    const args = yield* client.getPrompt("args-prompt", { city: "Paris", state: "Texas" })
    expect(args.messages[0]?.content).toEqual({ type: "text", text: "What's weather in Paris, Texas?" })

    // The server registers its roots tool once it knows the client offers roots, then asks for them.
    const rootsList = yield* eventually(
      Effect.map(client.listTools(), ({ tools }) => tools.some((tool) => tool.name === "get-roots-list"))
    )
    expect(rootsList).toBe(true)
    expect(textOf(yield* client.callTool("get-roots-list"))).toContain("file:///work/project")

    yield* client.ping
  })

// server-everything logs what it does; the client logs nothing above a warning when all is well.
const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("server-everything over stdio", () => {
  it.live("tools, resources, templates, prompts, progress and roots", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.makeStdio({ command: process.execPath, args: [everything, "stdio"], ...clientOptions })
      expect(Option.isNone(yield* client.sessionId)).toBe(true)
      yield* exercise(client)
    }).pipe(Effect.scoped, Effect.provide(NodeMcpClient.layerCommandExecutor), Effect.provide(quiet)))
})

layer(Layer.merge(EverythingHttpLive, NodeHttpClient.layerUndici), { excludeTestServices: true })(
  "server-everything over HTTP",
  (it) => {
    it.scoped("Streamable HTTP", () =>
      Effect.gen(function*() {
        const { streamable } = yield* EverythingHttp
        const client = yield* McpClient.makeStreamableHttp({ url: streamable, ...clientOptions })
        expect(Option.isSome(yield* client.sessionId)).toBe(true)
        yield* exercise(client)
      }).pipe(Effect.provide(quiet)))

    it.scoped("legacy HTTP+SSE (the SDK's SSEServerTransport on express)", () =>
      Effect.gen(function*() {
        const { sse } = yield* EverythingHttp
        const client = yield* McpClient.makeSse({ url: sse, ...clientOptions })
        expect(Option.isSome(yield* client.sessionId)).toBe(true)
        yield* exercise(client)
      }).pipe(Effect.provide(quiet)))

    it.scoped("auto-detection: layerHttp picks Streamable HTTP at /mcp", () =>
      Effect.gen(function*() {
        const { streamable } = yield* EverythingHttp
        const client = yield* McpClient.makeHttp({ url: streamable, ...clientOptions })
        // A Streamable session has an `Mcp-Session-Id` (a UUID here); a legacy one has a `sessionId` query parameter.
        expect(Option.getOrThrow(yield* client.sessionId)).toMatch(/^[0-9a-f-]{36}$/)
        expect(textOf(yield* client.callTool("get-sum", { a: 1, b: 2 }))).toBe("The sum of 1 and 2 is 3.")
      }).pipe(Effect.provide(quiet)))

    it.scoped("auto-detection: layerHttp falls back to HTTP+SSE at /sse (POST gets express's 404 page)", () =>
      Effect.gen(function*() {
        const { sse } = yield* EverythingHttp
        // What a Streamable-only client gets there.
        const refused = yield* Effect.flip(McpClient.makeStreamableHttp({ url: sse }))
        expect(refused).toMatchObject({ reason: "HttpStatus", status: 404 })
        expect(refused.message).toContain("<!DOCTYPE html>")

        const client = yield* McpClient.makeHttp({ url: sse, ...clientOptions })
        expect(Option.isSome(yield* client.sessionId)).toBe(true)
        yield* exercise(client)
      }).pipe(Effect.provide(quiet)))
  }
)
