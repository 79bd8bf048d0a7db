/**
 * The client's 2026-07-28 (sessionless) era against real peers: the official TypeScript SDK 2.x server
 * (`fixtures/modern-server.mjs`, `createMcpHandler`, modern-only with `--reject`, else dual-era) in `modern` and
 * `auto` mode; `auto` falling back to the session era against effect-mcp's demo and the official 1.32 server; and
 * how the `server/discover` probe classifies errors, against small hand-written HTTP servers.
 */
import * as McpClient from "@effect-mcp/core/McpClient"
import { McpClientError } from "@effect-mcp/core/McpClientError"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import type * as McpSchema from "@effect-mcp/core/McpSchema"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { spawn } from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { NodeMcpClient, NodeMcpServer } from "@effect-mcp/node"
import * as DemoServer from "../src/DemoServer.js"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const nodeFixture = (name: string) => fileURLToPath(new URL(`../../node/test/fixtures/${name}`, import.meta.url))

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

/** A fixture process that prints `listening <port>`, for the scope; its MCP endpoint. */
const fixtureServer = (args: ReadonlyArray<string>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly stop: () => Promise<void> }>((resume) => {
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
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
        resume(Effect.dieMessage(`${args.join(" ")} exited with ${code} before listening`))
      })
    }),
    ({ stop }) => Effect.promise(stop)
  ).pipe(Effect.map(({ url }) => url))

const modernServer = (...flags: ReadonlyArray<string>) => fixtureServer([fixture("modern-server.mjs"), ...flags])

/** Answers the `confirm` tool's elicitation: accepts when the message names "deploy". */
const elicitation = McpClientHandlers.layerElicitation((params) =>
  Effect.succeed<McpSchema.ElicitResult>(
    params.mode !== "url" && params.message.includes("deploy")
      ? { action: "accept", content: { ok: true } }
      : { action: "decline" }
  )
)

const client = (options: McpClient.StreamableHttpOptions, handlers: Layer.Layer<never> | typeof elicitation = Layer.empty) =>
  Layer.build(NodeMcpClient.layerHttp(options).pipe(Layer.provide(handlers))).pipe(
    Effect.map(Context.get(McpClient.McpClient))
  )

/** What a modern client does with the 2.x fixture, in any mode that ends up modern. */
const exerciseModern = (mcp: McpClient.McpClientService) =>
  Effect.gen(function*() {
    expect(yield* mcp.era).toBe("modern")
    expect(yield* mcp.protocolVersion).toBe("2026-07-28")
    expect(Option.isNone(yield* mcp.sessionId)).toBe(true)
    expect((yield* mcp.discoverResult).supportedVersions).toContain("2026-07-28")
    expect(yield* mcp.serverInfo).toMatchObject({ name: "modern-fixture" })
    expect((yield* mcp.capabilities).tools?.listChanged).toBe(true)

    expect((yield* mcp.listAllTools).map((tool) => tool.name).sort()).toStrictEqual(["add", "confirm", "trigger"])
    expect(textOf(yield* mcp.callTool("add", { a: 2, b: 3 }))).toBe("5")
    const prompt = yield* mcp.getPrompt("greet", { name: "Ünïcode" })
    expect(prompt.messages[0]?.content).toMatchObject({ text: "Hello, Ünïcode!" })
    const resource = yield* mcp.readResource("test://hello")
    expect(resource.contents[0]).toMatchObject({ text: "hello world" })

    // MRTR: answered by the elicitation handler layer, retried with the response and the state as given.
    expect(textOf(yield* mcp.callTool("confirm", { action: "deploy" }))).toBe(
      "deploy: confirmed (state-for-deploy)"
    )
    expect(textOf(yield* mcp.callTool("confirm", { action: "delete" }))).toBe("delete: refused (state-for-delete)")
  })

describe("McpClient, 2026-07-28 against the official 2.x server", () => {
  it.live("modern mode: discover, tools, a prompt, a resource, an MRTR tool answered by the elicitation layer", () =>
    Effect.gen(function*() {
      const url = yield* modernServer("--reject")
      const mcp = yield* client({ url, protocol: "modern" }, elicitation)
      yield* exerciseModern(mcp)
      // Mcp-Name goes base64 for a URI that is not plain ASCII; the server decodes it and finds the header agrees
      // with the body (no 400/-32020), then answers in-band that there is no such resource.
      const missing = yield* Effect.flip(mcp.readResource("test://héllo wörld"))
      expect([missing.reason, missing.status]).toStrictEqual(["RpcError", undefined])
    }).pipe(Effect.scoped))

  it.live("auto mode picks the modern era on a dual-era endpoint", () =>
    Effect.gen(function*() {
      const url = yield* modernServer()
      yield* exerciseModern(yield* client({ url }, elicitation))
    }).pipe(Effect.scoped))

  it.live("legacy mode speaks the session era to the same dual-era endpoint", () =>
    Effect.gen(function*() {
      const url = yield* modernServer()
      const mcp = yield* client({ url, protocol: "legacy", standaloneStream: false })
      expect(yield* mcp.era).toBe("legacy")
      expect(textOf(yield* mcp.callTool("add", { a: 1, b: 1 }))).toBe("2")
    }).pipe(Effect.scoped))

  it.live("without an elicitation handler the client declares no elicitation: the server refuses with -32021", () =>
    Effect.gen(function*() {
      const url = yield* modernServer("--reject")
      const mcp = yield* client({ url, protocol: "modern" })
      const error = yield* Effect.flip(mcp.callTool("confirm", { action: "deploy" }))
      expect([error.reason, error.status, error.code]).toStrictEqual(["HttpStatus", 400, -32021])
    }).pipe(Effect.scoped))

  it.live("listen: the ack, then list_changed and resource updates tagged with the subscription; closed with its scope", () =>
    Effect.gen(function*() {
      const url = yield* modernServer("--reject")
      const mcp = yield* client({ url, protocol: "modern" })
      const received = yield* Effect.scoped(Effect.gen(function*() {
        const subscription = yield* mcp.listen({ toolsListChanged: true, resourceSubscriptions: ["test://hello"] })
        expect(subscription.acknowledged).toMatchObject({ toolsListChanged: true })
        yield* mcp.callTool("trigger")
        return yield* subscription.notifications.pipe(Stream.take(2), Stream.runCollect)
      }))
      const methods = Chunk.toReadonlyArray(received).map((n) => n.method).sort()
      expect(methods).toStrictEqual(["notifications/resources/updated", "notifications/tools/list_changed"])
      // The stream is gone with its scope; the client still works.
      expect(textOf(yield* mcp.callTool("add", { a: 1, b: 2 }))).toBe("3")
    }).pipe(Effect.scoped))
})

describe("McpClient listen: the server ends the subscription", () => {
  it.live("nothing to honour: the ack is empty and the stream ends when the listen result arrives", () =>
    Effect.gen(function*() {
      const url = yield* modernServer("--reject")
      const mcp = yield* client({ url, protocol: "modern" })
      const subscription = yield* mcp.listen({ resourcesListChanged: false })
      expect(subscription.acknowledged).toStrictEqual({})
      expect(Chunk.size(yield* Stream.runCollect(subscription.notifications))).toBe(0)
    }).pipe(Effect.scoped))
})

describe("McpClient auto mode against effect-mcp's dual-era server", () => {
  it.live("picks 2026-07-28 on the demo, and the session era when told to", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(DemoServer.layer)))
      const port = Context.get(server, NodeMcpServer.NodeMcpServer).address.port
      const modern = yield* client({ url: `http://127.0.0.1:${port}/mcp`, standaloneStream: false })
      expect(yield* modern.era).toBe("modern")
      expect((yield* modern.discoverResult).supportedVersions).toContain("2026-07-28")
      expect((yield* modern.listAllTools).length).toBeGreaterThan(0)
      const legacy = yield* client({ url: `http://127.0.0.1:${port}/mcp`, standaloneStream: false, protocol: "legacy" })
      expect(yield* legacy.era).toBe("legacy")
      expect((yield* legacy.listAllTools).length).toBeGreaterThan(0)
    }).pipe(Effect.scoped))
})

describe("McpClient auto mode falls back to the session era", () => {
  it.live("the official 1.32 server; listen maps to the session's notifications", () =>
    Effect.gen(function*() {
      const url = yield* fixtureServer([nodeFixture("sdk-server.mjs"), "--http"])
      const mcp = yield* client({ url })
      expect(yield* mcp.era).toBe("legacy")
      expect(textOf(yield* mcp.callTool("add", { a: 4, b: 5 }))).toBe("9")
      const subscription = yield* mcp.listen({ toolsListChanged: true, resourceSubscriptions: [] })
      expect(typeof subscription.subscriptionId).toBe("string")
      expect(subscription.acknowledged).toStrictEqual({ toolsListChanged: true })
      // `toggle` adds or removes a tool; the session's GET stream may open after the first toggle, so keep toggling
      // until the list change arrives.
      const first = yield* Effect.race(
        subscription.notifications.pipe(Stream.take(1), Stream.runCollect),
        Effect.forever(Effect.zipRight(mcp.callTool("toggle"), Effect.sleep("50 millis")))
      )
      expect(Chunk.toReadonlyArray(first).map((n) => n.method)).toStrictEqual(["notifications/tools/list_changed"])
    }).pipe(Effect.scoped))
})

/** A hand-written HTTP server answering every POST with `answer`; the methods it was sent, for the scope. */
const rawServer = (
  answer: (method: string, id: unknown, params: unknown) => { status: number; type: string; body: string }
) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly url: string
      readonly methods: Array<string>
      readonly bodies: Array<string>
      readonly headers: Array<Http.IncomingHttpHeaders>
      readonly server: Http.Server
    }>((resume) => {
      const methods: Array<string> = []
      const bodies: Array<string> = []
      const headers: Array<Http.IncomingHttpHeaders> = []
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8").on("data", (chunk: string) => {
          body += chunk
        }).on("end", () => {
          let method = `${req.method ?? "?"}`
          let id: unknown = null
          let params: unknown = undefined
          try {
            const parsed: unknown = JSON.parse(body)
            if (typeof parsed === "object" && parsed !== null && "method" in parsed) {
              method = String(parsed.method)
              id = "id" in parsed ? parsed.id : null
              params = "params" in parsed ? parsed.params : undefined
            }
          } catch {
            // A GET (the legacy SSE attempt) has no body.
          }
          methods.push(method)
          bodies.push(body)
          headers.push(req.headers)
          const { body: text, status, type } = answer(method, id, params)
          res.writeHead(status, { "content-type": type }).end(text)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/mcp`, methods, bodies, headers, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const rpcError = (code: number, data?: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code, message: "refused", ...(data === undefined ? {} : { data }) } })

describe("McpClient auto mode: classifying the discover probe", () => {
  it.live("a -32022 that names only session-era versions is a legacy server: initialize follows", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer(() => ({
        status: 400,
        type: "application/json",
        body: rpcError(-32022, { supported: ["2025-11-25"], requested: "2026-07-28" })
      }))
      yield* Effect.flip(client({ url: raw.url }))
      expect(raw.methods.slice(0, 2)).toStrictEqual(["server/discover", "initialize"])
    }).pipe(Effect.scoped))

  it.live("a -32022 that names only modern versions this client does not speak fails: no fallback", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer(() => ({
        status: 400,
        type: "application/json",
        body: rpcError(-32022, { supported: ["2027-01-01"], requested: "2026-07-28" })
      }))
      const error = yield* Effect.flip(client({ url: raw.url }))
      expect(error).toMatchObject({ reason: "HttpStatus", status: 400, code: -32022 })
      expect(raw.methods).toStrictEqual(["server/discover"])
    }).pipe(Effect.scoped))

  it.live("a -32022 that lists the very revision refused: claimed once more (SEP-2575), and not a third time", () =>
    Effect.gen(function*() {
      let refusals = 1
      const raw = yield* rawServer((_method, id) =>
        refusals-- > 0
          ? { status: 400, type: "application/json", body: rpcError(-32022, { supported: ["2026-07-28"], requested: "2026-07-28" }) }
          : json(id, discovered)
      )
      const mcp = yield* client({ url: raw.url })
      expect(yield* mcp.era).toBe("modern")
      expect(raw.methods).toStrictEqual(["server/discover", "server/discover"])

      const stubborn = yield* rawServer(() => ({
        status: 400,
        type: "application/json",
        body: rpcError(-32022, { supported: ["2026-07-28"], requested: "2026-07-28" })
      }))
      const error = yield* Effect.flip(client({ url: stubborn.url }))
      expect(error).toMatchObject({ reason: "HttpStatus", status: 400, code: -32022 })
      expect(stubborn.methods).toStrictEqual(["server/discover", "server/discover"])
    }).pipe(Effect.scoped))

  it.live("a 404 HTML page is not a modern answer: initialize, then the legacy SSE transport, are tried", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer(() => ({ status: 404, type: "text/html", body: "<html>Not Found</html>" }))
      const error = yield* Effect.flip(client({ url: raw.url }))
      expect(raw.methods).toStrictEqual(["server/discover", "initialize", "GET"])
      expect(error.message).toContain("Neither transport works")
    }).pipe(Effect.scoped))

  it.live("a 401 says nothing about the era: the client fails without falling back", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer(() => ({ status: 401, type: "application/json", body: rpcError(-32001) }))
      const error = yield* Effect.flip(client({ url: raw.url }))
      expect(error).toMatchObject({ reason: "HttpStatus", status: 401 })
      expect(raw.methods).toStrictEqual(["server/discover"])
    }).pipe(Effect.scoped))
})

const json = (id: unknown, result: unknown) => ({
  status: 200,
  type: "application/json",
  body: JSON.stringify({ jsonrpc: "2.0", id, result })
})
const discovered = { resultType: "complete", supportedVersions: ["2026-07-28"], capabilities: { tools: {} } }

describe("McpClient: the MRTR driver against a hand-written modern server", () => {
  it.live("a request the client has no handler for fails with InputRequired naming the method", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer((method, id) =>
        method === "server/discover"
          ? json(id, discovered)
          : json(id, { resultType: "input_required", inputRequests: { where: { method: "roots/list" } } })
      )
      const mcp = yield* client({ url: raw.url })
      const error = yield* Effect.flip(mcp.callTool("anything"))
      expect([error.reason, error.method]).toStrictEqual(["InputRequired", "roots/list"])
    }).pipe(Effect.scoped))

  it.live("requestState is echoed as given, under a new id each round; past maxInputRounds the call fails", () =>
    Effect.gen(function*() {
      const state = "Zm9v\u00e9 \"quoted\" ✓"
      const raw = yield* rawServer((method, id) =>
        method === "server/discover" ? json(id, discovered) : json(id, { resultType: "input_required", requestState: state })
      )
      const mcp = yield* client({ url: raw.url, maxInputRounds: 3 })
      const error = yield* Effect.flip(mcp.callTool("slow"))
      expect([error.reason, error.method]).toStrictEqual(["InputRequired", "tools/call"])
      const calls = raw.bodies.slice(1).map((body): unknown => JSON.parse(body))
      expect(calls).toHaveLength(4)
      const ids = calls.map((call) => typeof call === "object" && call !== null && "id" in call ? call.id : undefined)
      expect(new Set(ids).size).toBe(4)
      for (const call of calls.slice(1)) expect(call).toMatchObject({ params: { name: "slow", requestState: state } })
      expect(calls[0]).not.toHaveProperty("params.requestState")
    }).pipe(Effect.scoped))

  it.live("an unknown resultType is a Protocol error", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer((method, id) =>
        method === "server/discover" ? json(id, discovered) : json(id, { resultType: "task", taskId: "t" })
      )
      const mcp = yield* client({ url: raw.url })
      const error = yield* Effect.flip(mcp.callTool("later"))
      expect(error.reason).toBe("Protocol")
    }).pipe(Effect.scoped))
})

describe("McpClient, 2026-07-28 over stdio (the official 2.x serveStdio)", () => {
  it.live("auto mode probes with server/discover and speaks the modern era, MRTR included", () =>
    Effect.gen(function*() {
      const mcp = yield* Layer.build(
        NodeMcpClient.layerStdio({ command: process.execPath, args: [fixture("modern-server.mjs"), "--stdio"] }).pipe(
          Layer.provide(elicitation)
        )
      ).pipe(Effect.map(Context.get(McpClient.McpClient)))
      expect(yield* mcp.era).toBe("modern")
      expect(yield* mcp.serverInfo).toMatchObject({ name: "modern-fixture" })
      expect(textOf(yield* mcp.callTool("add", { a: 20, b: 22 }))).toBe("42")
      expect(textOf(yield* mcp.callTool("confirm", { action: "deploy" }))).toBe("deploy: confirmed (state-for-deploy)")
    }).pipe(Effect.scoped))

  it.live("legacy mode over stdio: initialize on the same server", () =>
    Effect.gen(function*() {
      const mcp = yield* Layer.build(
        NodeMcpClient.layerStdio({
          command: process.execPath,
          args: [fixture("modern-server.mjs"), "--stdio"],
          protocol: "legacy"
        })
      ).pipe(Effect.map(Context.get(McpClient.McpClient)))
      expect(yield* mcp.era).toBe("legacy")
      expect(textOf(yield* mcp.callTool("add", { a: 1, b: 2 }))).toBe("3")
    }).pipe(Effect.scoped))
})

// SEP-2243: the client mirrors the arguments a tool's listing marks with x-mcp-header in Mcp-Param-* headers.
describe("McpClient, 2026-07-28: Mcp-Param-* headers", () => {
  const routeTool = {
    name: "route",
    inputSchema: {
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        priority: { type: "integer", "x-mcp-header": "Priority" },
        fast: { type: "boolean", "x-mcp-header": "Fast" },
        verbose: { type: "boolean", "x-mcp-header": "Verbose" },
        note: { type: "string" }
      }
    }
  }
  const invalidTool = {
    name: "invalid",
    inputSchema: { type: "object", properties: { score: { type: "number", "x-mcp-header": "Score" } } }
  }

  it.live("sends them once the tool is listed: plain values as they are, others in the base64 sentinel", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer((method, id) =>
        method === "server/discover"
          ? json(id, discovered)
          : method === "tools/list"
          ? json(id, { resultType: "complete", tools: [routeTool, invalidTool] })
          : json(id, { resultType: "complete", content: [] })
      )
      // A configured header in the Mcp-Param-* namespace is never sent: only arguments fill it.
      const mcp = yield* client({ url: raw.url, protocol: "modern", headers: { "Mcp-Param-Region": "forged" } })
      const callHeaders = () => raw.headers[raw.methods.lastIndexOf("tools/call")]!
      const params = (headers: Http.IncomingHttpHeaders) =>
        Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith("mcp-param-")))
      // Not listed yet: nothing to go by.
      yield* mcp.callTool("route", { region: "eu" })
      expect(params(callHeaders())).toStrictEqual({})
      // The tool whose declaration breaks the rules (a number) is dropped from the listing, as the spec asks.
      expect((yield* mcp.listAllTools).map((tool) => tool.name)).toStrictEqual(["route"])
      yield* mcp.callTool("route", { region: "eu-west", priority: 3, fast: false, verbose: null, note: "n" })
      expect(params(callHeaders())).toStrictEqual({
        "mcp-param-region": "eu-west",
        "mcp-param-priority": "3",
        "mcp-param-fast": "false"
      })
      for (const region of ["Zürich", " padded ", "tab\tbed", "line\r\nbreak", "=?base64?SGk=?="]) {
        yield* mcp.callTool("route", { region })
        expect(params(callHeaders()), region).toStrictEqual({
          "mcp-param-region": `=?base64?${Buffer.from(region, "utf8").toString("base64")}?=`
        })
      }
      // Called anyway (by name), a tool whose declarations break the spec's rules gets no headers.
      yield* mcp.callTool("invalid", { score: 1.5 })
      expect(params(callHeaders())).toStrictEqual({})
    }).pipe(Effect.scoped))

  it.live("a call refused with -32020 is retried once, after listing the tools; refused again, it fails", () =>
    Effect.gen(function*() {
      const raw = yield* rawServer((method, id) =>
        method === "server/discover"
          ? json(id, discovered)
          : method === "tools/list"
          ? json(id, { resultType: "complete", tools: [routeTool] })
          : { status: 400, type: "application/json", body: rpcError(-32020) }
      )
      const mcp = yield* client({ url: raw.url, protocol: "modern" })
      const refused = yield* Effect.flip(mcp.callTool("route", { region: "eu" }))
      expect(refused).toMatchObject({ status: 400, code: -32020 })
      expect(raw.methods).toStrictEqual(["server/discover", "tools/call", "tools/list", "tools/call"])
    }).pipe(Effect.scoped))

  it.live("against an effect-mcp server that checks them: calls go through, non-ASCII included", () =>
    Effect.gen(function*() {
      const Route = McpTool.make("route", {
        input: Schema.Struct({ region: Schema.String, priority: Schema.optional(Schema.Int) }),
        headers: { region: "Region", priority: "Priority" },
        handler: ({ priority, region }) => Effect.succeed(`${region}:${priority ?? "-"}`)
      })
      const served = yield* Layer.build(
        NodeMcpServer.layer({ port: 0 }).pipe(
          Layer.provide(Route.pipe(Layer.provideMerge(McpServer.layer({ name: "route", version: "1" }))))
        )
      )
      const url = `http://127.0.0.1:${Context.get(served, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      const mcp = yield* client({ url, protocol: "modern" })
      // Before any listing the client cannot know the headers: the server refuses (-32020), the client lists the
      // tools and retries once, and the call goes through.
      expect(textOf(yield* mcp.callTool("route", { region: "eu" }))).toBe("eu:-")
      expect(textOf(yield* mcp.callTool("route", { region: "Zürich ", priority: 7 }))).toBe("Zürich :7")
    }).pipe(Effect.scoped))

  it.live("extensions declared in the options reach the server, beside the handlers' capabilities", () =>
    Effect.gen(function*() {
      const Caps = McpTool.make("caps", {
        input: Schema.Struct({}),
        handler: () => Effect.map(CurrentSession, (session) => JSON.stringify(session.clientCapabilities))
      })
      const served = yield* Layer.build(
        NodeMcpServer.layer({ port: 0 }).pipe(
          Layer.provide(Caps.pipe(Layer.provideMerge(McpServer.layer({ name: "caps", version: "1" }))))
        )
      )
      const url = `http://127.0.0.1:${Context.get(served, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      const extensions = { "io.modelcontextprotocol/tasks": {} }
      for (const protocol of ["modern", "legacy"] as const) {
        const mcp = yield* client({ url, protocol, capabilities: { extensions } }, elicitation)
        const declared = JSON.parse(textOf(yield* mcp.callTool("caps", {})))
        expect(declared).toMatchObject({ extensions, elicitation: {} })
      }
    }).pipe(Effect.scoped))

  it.live("tasks/get, tasks/update and tasks/cancel mirror the task id in Mcp-Name, as the server requires", () =>
    Effect.gen(function*() {
      const Job = McpTool.make("job", {
        input: Schema.Struct({}),
        taskSupport: "optional",
        handler: () => Effect.succeed("done")
      })
      const served = yield* Layer.build(
        NodeMcpServer.layer({ port: 0 }).pipe(
          Layer.provide(Job.pipe(Layer.provideMerge(McpServer.layer({ name: "jobs", version: "1" }))))
        )
      )
      const url = `http://127.0.0.1:${Context.get(served, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      const mcp = yield* client({
        url,
        protocol: "modern",
        capabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } }
      })
      // The server reads the body only once the headers agree with it: an unknown task is -32602, not -32020.
      for (const [method, params] of [
        ["tasks/get", { taskId: "no-such-task" }],
        ["tasks/update", { taskId: "no-such-task", inputResponses: {} }],
        ["tasks/cancel", { taskId: "no-such-task" }]
      ] as const) {
        const refused = yield* Effect.flip(mcp.request(method, params, Schema.Unknown))
        expect({ method, reason: refused.reason, code: refused.code }).toStrictEqual({ method, reason: "RpcError", code: -32602 })
      }
    }).pipe(Effect.scoped))
})

// A client remembers what each endpoint speaks: a session-era server is probed with server/discover once.
describe("McpClient auto mode: the era is remembered per client", () => {
  const initializeResult = {
    protocolVersion: "2025-11-25",
    capabilities: {},
    serverInfo: { name: "legacy-raw", version: "1" }
  }
  const legacyOrModern = (modern: () => boolean) => (method: string, id: unknown) => {
    if (method === "server/discover") {
      return modern()
        ? json(id, { ...discovered, _meta: { "io.modelcontextprotocol/serverInfo": { name: "modern-raw", version: "2" } } })
        : { status: 200, type: "application/json", body: JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32601, message: "nope" } }) }
    }
    if (method === "initialize") {
      return modern()
        ? { status: 400, type: "application/json", body: rpcError(-32022, { supported: ["2026-07-28"], requested: "2025-11-25" }) }
        : json(id, initializeResult)
    }
    if (method === "notifications/initialized") return { status: 202, type: "application/json", body: "" }
    return json(id, { resultType: "complete", tools: [] })
  }

  it.live("a second connect of the same layer goes straight to initialize; a server that changed is probed again", () =>
    Effect.gen(function*() {
      let modern = false
      const raw = yield* rawServer(legacyOrModern(() => modern))
      // Streamable HTTP only: the auto transport's fallback to HTTP+SSE is another matter.
      const layer = McpClient.layerStreamableHttp({ url: raw.url }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const connect = Effect.flatMap(Layer.build(layer), (context) => Context.get(context, McpClient.McpClient).era).pipe(
        Effect.scoped
      )
      expect(yield* connect).toBe("legacy")
      expect(raw.methods).toStrictEqual(["server/discover", "initialize", "notifications/initialized"])
      raw.methods.length = 0
      expect(yield* connect).toBe("legacy")
      expect(raw.methods).toStrictEqual(["initialize", "notifications/initialized"])
      // The server moved to 2026-07-28: the remembered initialize fails, the client probes and speaks modern.
      raw.methods.length = 0
      modern = true
      expect(yield* connect).toBe("modern")
      expect(raw.methods).toStrictEqual(["initialize", "server/discover"])
      // A different layer remembers nothing.
      raw.methods.length = 0
      modern = false
      const fresh = McpClient.layerStreamableHttp({ url: raw.url }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      yield* Effect.scoped(Layer.build(fresh))
      expect(raw.methods[0]).toBe("server/discover")
    }).pipe(Effect.scoped))
})

/**
 * A TCP proxy on 127.0.0.1 in front of `port`, for the scope: `sever` destroys every connection through it (a drop
 * with no listen result); `stop` also stops accepting, so the server is gone for good.
 */
const tcpProxy = (port: number) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const track = (socket: Net.Socket) => {
        sockets.add(socket)
        socket.once("close", () => sockets.delete(socket))
      }
      const server = Net.createServer((downstream) => {
        const upstream = Net.connect(port, "127.0.0.1")
        track(downstream)
        track(upstream)
        downstream.pipe(upstream).on("error", () => downstream.destroy())
        upstream.pipe(downstream).on("error", () => upstream.destroy())
        downstream.on("error", () => upstream.destroy()).on("close", () => upstream.destroy())
        upstream.on("error", () => downstream.destroy()).on("close", () => downstream.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const proxied = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${proxied}/mcp`, server, sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        if (!server.listening) return resume(Effect.void)
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ server, sockets, url }) => ({
    url,
    sever: Effect.sync(() => {
      for (const socket of sockets) socket.destroy()
    }),
    stop: Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
  })))

/** An effect-mcp server with one tool (so tools/list_changed is offered) on a port of its own, for the scope. */
const listChangingServer = Effect.gen(function*() {
  const Echo = McpTool.make("echo", {
    description: "Echoes",
    input: Schema.Struct({ text: Schema.String }),
    handler: ({ text }) => Effect.succeed(text)
  })
  const context = yield* Layer.build(
    NodeMcpServer.layer({ port: 0 }).pipe(
      Layer.provideMerge(Echo.pipe(Layer.provideMerge(McpServer.layer({ name: "listen-test", version: "1.0.0" }))))
    )
  )
  return {
    port: Context.get(context, NodeMcpServer.NodeMcpServer).address.port,
    server: Context.get(context, McpServer.McpServer),
    registry: Context.get(context, SessionRegistry.SessionRegistry)
  }
})

/** Adds a tool: a tools/list_changed for every listen stream that asked for them. */
const changeTools = (server: McpServer.McpServerService, name: string) =>
  server.addTool({ tool: { name, inputSchema: { type: "object" } }, call: () => Effect.succeed({ content: [] }) })

const subscriptionIdOf = (event: McpClient.SubscriptionEvent): unknown => {
  if (McpClient.isReconnected(event)) return undefined
  const params = event.params
  const meta = typeof params === "object" && params !== null && "_meta" in params ? params._meta : undefined
  return typeof meta === "object" && meta !== null && "io.modelcontextprotocol/subscriptionId" in meta
    ? meta["io.modelcontextprotocol/subscriptionId"]
    : undefined
}

// Bounded real waits: the proxy and the server are real sockets, so the schedules are short rather than on a TestClock.
const quick = Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(40)))

describe("McpClient listen: reconnecting a dropped stream (2026-07-28)", () => {
  it.live("a drop without the listen result: a new request, a Reconnected mark, then the notifications go on", () =>
    Effect.gen(function*() {
      const { port, server } = yield* listChangingServer
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: quick })
      expect(subscription.acknowledged).toStrictEqual({ toolsListChanged: true })
      expect(yield* subscription.currentSubscriptionId).toBe(subscription.subscriptionId)
      const events = yield* Queue.unbounded<McpClient.SubscriptionEvent>()
      const reader = yield* subscription.events.pipe(
        Stream.runForEach((event) => Queue.offer(events, event)),
        Effect.forkScoped
      )

      // Before the drop: the notification is tagged with the first request's id.
      yield* changeTools(server, "one")
      const before = yield* Queue.take(events)
      expect(before).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(subscriptionIdOf(before)).toBe(subscription.subscriptionId)

      yield* proxy.sever
      const mark = yield* Queue.take(events)
      if (!McpClient.isReconnected(mark)) return expect.fail(`expected a Reconnected mark, got ${JSON.stringify(mark)}`)
      expect(mark.subscriptionId).not.toBe(subscription.subscriptionId)
      expect(mark.acknowledged).toStrictEqual({ toolsListChanged: true })
      expect(mark.attempts).toBeGreaterThanOrEqual(1)
      expect(mark.cause.reason).toBe("Transport")
      expect(yield* subscription.currentSubscriptionId).toBe(mark.subscriptionId)

      // After the reconnection: the same stream, the new request's id.
      yield* changeTools(server, "two")
      const after = yield* Queue.take(events)
      expect(after).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(subscriptionIdOf(after)).toBe(mark.subscriptionId)

      // Twice: a reconnection that worked starts the schedule over.
      yield* proxy.sever
      const again = yield* Queue.take(events)
      expect(McpClient.isReconnected(again) ? again.attempts : 0).toBeGreaterThanOrEqual(1)
      yield* changeTools(server, "three")
      expect(yield* Queue.take(events)).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(reader.unsafePoll()).toBeNull()
    }).pipe(Effect.scoped))

  it.live("notifications alone carry on across a reconnection, without the mark", () =>
    Effect.gen(function*() {
      const { port, server } = yield* listChangingServer
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: quick })
      yield* proxy.sever
      // Changes made while the stream is away are lost, so keep changing until one arrives on the new request.
      let n = 0
      const received = yield* Effect.race(
        subscription.notifications.pipe(Stream.take(1), Stream.runCollect),
        Effect.forever(
          Effect.zipRight(Effect.suspend(() => changeTools(server, `tool-${++n}`)), Effect.sleep("50 millis"))
        )
      )
      const [notification] = Chunk.toReadonlyArray(received)
      expect(notification).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(notification === undefined ? undefined : subscriptionIdOf(notification)).toBe(
        yield* subscription.currentSubscriptionId
      )
      expect(yield* subscription.currentSubscriptionId).not.toBe(subscription.subscriptionId)
    }).pipe(Effect.scoped))

  it.live("the server gone for good: the schedule gives up and the stream fails with the last error", () =>
    Effect.gen(function*() {
      const { port } = yield* listChangingServer
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern" })
      const subscription = yield* mcp.listen(
        { toolsListChanged: true },
        { reconnect: Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(3))) }
      )
      yield* proxy.stop
      const error = yield* Effect.flip(Stream.runCollect(subscription.notifications))
      expect(error.reason).toBe("Transport")
      expect(error.message).toContain("Could not reach")
    }).pipe(Effect.scoped))

  it.live("reconnect: false fails the stream at the first drop", () =>
    Effect.gen(function*() {
      const { port } = yield* listChangingServer
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: false })
      yield* proxy.sever
      const error = yield* Effect.flip(Stream.runCollect(subscription.notifications))
      expect(error.reason).toBe("Transport")
      expect(yield* subscription.currentSubscriptionId).toBe(subscription.subscriptionId)
    }).pipe(Effect.scoped))

  it.live("the client's listenReconnect is the default of its listens: false fails the stream at the first drop", () =>
    Effect.gen(function*() {
      const { port } = yield* listChangingServer
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern", listenReconnect: false })
      const subscription = yield* mcp.listen({ toolsListChanged: true })
      yield* proxy.sever
      const error = yield* Effect.flip(Stream.runCollect(subscription.events))
      expect(error.reason).toBe("Transport")
    }).pipe(Effect.scoped))

  it.live("the server ending the subscription with its result ends the stream: no reconnection", () =>
    Effect.gen(function*() {
      const { port, registry } = yield* listChangingServer
      const mcp = yield* client({ url: `http://127.0.0.1:${port}/mcp`, protocol: "modern" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: quick })
      const collected = yield* Stream.runCollect(subscription.events).pipe(Effect.fork)
      // The listen stream's session is the only one open; closing it sends the listen result.
      const sessions = yield* registry.sessions
      expect(sessions.length).toBe(1)
      yield* Effect.forEach(sessions, (session) => session.close)
      const events = Chunk.toReadonlyArray(yield* collected.await.pipe(Effect.flatten))
      expect(events.filter(McpClient.isReconnected)).toStrictEqual([])
      expect(yield* subscription.currentSubscriptionId).toBe(subscription.subscriptionId)
      // No listen stream came back.
      expect((yield* registry.sessions).length).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a JSON-RPC error answering a reconnection is not retried: the stream fails with it", () =>
    Effect.gen(function*() {
      const { port } = yield* Layer.build(
        NodeMcpServer.layer({ port: 0, sessions: { maxListeners: 1 } }).pipe(
          Layer.provideMerge(McpTool.make("echo", {
            description: "Echoes",
            input: Schema.Struct({ text: Schema.String }),
            handler: ({ text }) => Effect.succeed(text)
          }).pipe(Layer.provideMerge(McpServer.layer({ name: "listen-test", version: "1.0.0" }))))
        )
      ).pipe(Effect.map((context) => ({ port: Context.get(context, NodeMcpServer.NodeMcpServer).address.port })))
      const proxy = yield* tcpProxy(port)
      const mcp = yield* client({ url: proxy.url, protocol: "modern" })
      // Slow enough that the other client, retrying every 20 ms, takes the slot first.
      const subscription = yield* mcp.listen(
        { toolsListChanged: true },
        { reconnect: Schedule.spaced("500 millis").pipe(Schedule.intersect(Schedule.recurs(3))) }
      )
      // The one listen slot is taken by another client straight to the server while the first is cut off.
      const other = yield* client({ url: `http://127.0.0.1:${port}/mcp`, protocol: "modern" })
      yield* proxy.sever
      const taken = yield* other.listen({ toolsListChanged: true }, { reconnect: false }).pipe(
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(50))))
      )
      expect(taken.acknowledged).toStrictEqual({ toolsListChanged: true })
      const error = yield* Effect.flip(Stream.runCollect(subscription.notifications))
      expect([error.reason, error.code]).toStrictEqual(["RpcError", -32603])
    }).pipe(Effect.scoped))
})

/**
 * A hand-written modern server whose listen requests go: acknowledged then cut; `second` (a gateway's 503 while the
 * server restarts, or a stream that never acknowledges); acknowledged, one tools/list_changed, held open. The ids
 * of the listen requests, for the scope.
 */
const flakyListenServer = (second: "503" | "silent") => Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly ids: Array<unknown>; readonly server: Http.Server }>((resume) => {
    const ids: Array<unknown> = []
    const sse = (res: Http.ServerResponse, messages: ReadonlyArray<unknown>) => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      for (const message of messages) res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
    }
    const tagged = (id: unknown, method: string, params: object) => ({
      jsonrpc: "2.0",
      method,
      params: { ...params, _meta: { "io.modelcontextprotocol/subscriptionId": id } }
    })
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk
      }).on("end", () => {
        const parsed: unknown = body === "" ? undefined : JSON.parse(body)
        const method = typeof parsed === "object" && parsed !== null && "method" in parsed ? parsed.method : undefined
        const id = typeof parsed === "object" && parsed !== null && "id" in parsed ? parsed.id : undefined
        if (method === "server/discover") {
          const result = { ...discovered, capabilities: { tools: { listChanged: true } } }
          return res.writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ jsonrpc: "2.0", id, result }))
        }
        if (method !== "subscriptions/listen") return res.writeHead(202).end()
        ids.push(id)
        const ack = tagged(id, "notifications/subscriptions/acknowledged", {
          notifications: { toolsListChanged: true }
        })
        if (ids.length === 1) {
          sse(res, [ack])
          setTimeout(() => res.socket?.destroy(), 50)
        } else if (ids.length === 2) {
          if (second === "503") res.writeHead(503, { "content-type": "text/plain" }).end("restarting")
          else sse(res, [])
        } else {
          sse(res, [ack, tagged(id, "notifications/tools/list_changed", {})])
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/mcp`, ids, server }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

describe("McpClient listen: reconnecting through a gateway's 503, or a server that does not acknowledge", () => {
  it.live("a reconnection not acknowledged within requestTimeout is dropped and tried again", () =>
    Effect.gen(function*() {
      const { ids, url } = yield* flakyListenServer("silent")
      const mcp = yield* client({ url, protocol: "modern", requestTimeout: "300 millis" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: quick })
      const events = Chunk.toReadonlyArray(yield* subscription.events.pipe(Stream.take(2), Stream.runCollect))
      expect(ids.length).toBe(3)
      expect(events[0]).toMatchObject({ _tag: "Reconnected", subscriptionId: ids[2], attempts: 2 })
      expect(events[1]).toMatchObject({ method: "notifications/tools/list_changed" })
    }).pipe(Effect.scoped))

  it.live("a 503 while reconnecting is one more attempt; the mark counts them and names the new request", () =>
    Effect.gen(function*() {
      const { ids, url } = yield* flakyListenServer("503")
      const mcp = yield* client({ url, protocol: "modern" })
      const subscription = yield* mcp.listen({ toolsListChanged: true }, { reconnect: quick })
      const events = Chunk.toReadonlyArray(yield* subscription.events.pipe(Stream.take(2), Stream.runCollect))
      expect(ids.length).toBe(3)
      expect(new Set(ids).size).toBe(3)
      const [mark, notification] = events
      expect(mark).toBeInstanceOf(McpClient.Reconnected)
      expect(mark).toMatchObject({ subscriptionId: ids[2], attempts: 2, acknowledged: { toolsListChanged: true } })
      expect(notification).toMatchObject({ method: "notifications/tools/list_changed" })
      expect(yield* subscription.currentSubscriptionId).toBe(ids[2])
    }).pipe(Effect.scoped))
})

describe("McpClient.defaultListenReconnect", () => {
  it.effect("waits 100 ms, doubling, each wait capped at 5 s, and gives up after 8 attempts (on the TestClock)", () =>
    Effect.gen(function*() {
      const dropped = new McpClientError({ reason: "Transport", message: "dropped" })
      const driver = yield* Schedule.driver(McpClient.defaultListenReconnect)
      // When each attempt would go out, as the listen stream drives the schedule: one `next` per drop.
      const attempts = yield* Effect.gen(function*() {
        const times: Array<number> = []
        while (Either.isRight(yield* Effect.either(driver.next(dropped)))) times.push(yield* Clock.currentTimeMillis)
        return times
      }).pipe(Effect.fork)
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(attempts)).toStrictEqual([100, 300, 700, 1500, 3100, 6300, 11300, 16300])
    }))
})
