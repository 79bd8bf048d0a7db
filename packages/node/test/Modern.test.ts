/**
 * The 2026-07-28 era on the session-era endpoint, over real sockets: the routing ladder, `server/discover` and
 * what every result carries, multi round-trip requests with a sealed `requestState`, cancellation by
 * disconnecting, and the same routing on stdio.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeMcpServer } from "@effect-mcp/node"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as McpPrompt from "@effect-mcp/core/McpPrompt"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as StdioTransport from "@effect-mcp/core/StdioTransport"
import { serveHttp, sdkClient } from "../../core/test/utils/serve.js"
import { openListen, postModern } from "../../core/test/utils/modern.js"

const V = "2026-07-28"
const meta = (capabilities: object = {}, extra: object = {}) => ({
  "io.modelcontextprotocol/protocolVersion": V,
  "io.modelcontextprotocol/clientCapabilities": capabilities,
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" },
  ...extra
})

/** A modern POST with the mirrored headers, unless `headers` overrides them. */
const modern = postModern

const STATE_KEY = new Uint8Array(32).fill(7)

/**
 * The test server. `finalized` is completed when the `slow` tool's handler is interrupted, `started` once it
 * runs: a test waits on them rather than on time.
 */
const server = (finalized?: Deferred.Deferred<void>, started?: Deferred.Deferred<void>) => {
  const Greet = McpTool.make("greet", {
    description: "Asks the user's name, then a colour",
    input: Schema.Struct({ greeting: Schema.String }),
    handler: ({ greeting }) =>
      Effect.gen(function*() {
        const session = yield* CurrentSession
        const name = yield* session.elicit("Name?", Schema.Struct({ name: Schema.String }))
        const colour = yield* session.elicit("Colour?", Schema.Struct({ colour: Schema.String }))
        if (name.action !== "accept" || colour.action !== "accept") return "declined"
        return `${greeting}, ${name.content.name} (${colour.content.colour})`
      })
  })
  const Sample = McpTool.make("sample", {
    description: "Needs sampling",
    input: Schema.Struct({}),
    handler: () =>
      Effect.flatMap(CurrentSession, (session) =>
        Effect.map(
          session.createMessage({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 }),
          () => "sampled"
        ))
  })
  const Log = McpTool.make("log", {
    description: "Logs",
    input: Schema.Struct({}),
    handler: () => Effect.as(Effect.flatMap(CurrentSession, (session) => session.log("warning", "careful")), "logged")
  })
  const Slow = McpTool.make("slow", {
    description: "Runs until cancelled",
    input: Schema.Struct({}),
    handler: () =>
      // `started` inside `onInterrupt`: an interruption right after it still completes `finalized`.
      Effect.zipRight(started === undefined ? Effect.void : Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.onInterrupt(() => finalized === undefined ? Effect.void : Deferred.succeed(finalized, undefined)),
        Effect.as("never")
      )
  })
  const Toggle = Layer.unwrapEffect(Effect.map(McpServer.McpServer, (mcp) => {
    let present = false
    return McpTool.make("toggle", {
      description: "Adds or removes a tool",
      input: Schema.Struct({}),
      handler: () =>
        Effect.as(
          Effect.suspend(() =>
            (present = !present)
              ? mcp.addTool({ tool: { name: "extra", inputSchema: { type: "object" } }, call: () => Effect.succeed({ content: [] }) })
              : mcp.removeTool("extra")
          ),
          "toggled"
        )
    })
  }))
  return Layer.mergeAll(Greet, Sample, Log, Slow, Toggle).pipe(
    Layer.provideMerge(McpServer.layer({
      name: "modern-test",
      version: "1.0.0",
      cache: { ttlMs: 5000, cacheScope: "public" },
      requestState: { key: STATE_KEY }
    }))
  )
}

describe("2026-07-28", () => {
  it.scopedLive("routes by the ladder: envelope, headers, version, method; never a session-era refusal", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(server())
      yield* Effect.promise(async () => {
        // -32602 (400) for a missing or incomplete _meta, with the request's id.
        const noCaps = await modern(url, "tools/list", {
          _meta: { "io.modelcontextprotocol/protocolVersion": V }
        })
        expect(noCaps).toMatchObject({ status: 400, body: { id: 1, error: { code: -32602 } } })
        // -32020 (400) for a missing or mismatched header; the mismatch wins over an unsupported body version.
        expect(await modern(url, "tools/list", { _meta: meta() }, { "mcp-method": "prompts/list" }))
          .toMatchObject({ status: 400, body: { id: 1, error: { code: -32020 } } })
        const wrongVersion = await modern(url, "server/discover", {
          _meta: meta({}, { "io.modelcontextprotocol/protocolVersion": "v999.0.0" })
        })
        expect(wrongVersion).toMatchObject({ status: 400, body: { error: { code: -32020 } } })
        expect(await modern(url, "tools/call", { name: "log", arguments: {}, _meta: meta() }, { "mcp-name": "other" }))
          .toMatchObject({ status: 400, body: { error: { code: -32020 } } })
        // The base64 sentinel is decoded before comparing.
        const sentinel = `=?base64?${Buffer.from("log").toString("base64")}?=`
        expect(await modern(url, "tools/call", { name: "log", arguments: {}, _meta: meta() }, { "mcp-name": sentinel }))
          .toMatchObject({ status: 200, body: { result: { resultType: "complete" } } })
        // -32022 (400) with what is served, when header and body agree on a version that is not.
        const unsupported = await modern(url, "server/discover", {
          _meta: meta({}, { "io.modelcontextprotocol/protocolVersion": "v999.0.0" })
        }, { "mcp-protocol-version": "v999.0.0" })
        expect(unsupported).toMatchObject({
          status: 400,
          body: { id: 1, error: { code: -32022, data: { supported: [V], requested: "v999.0.0" } } }
        })
        // 404 -32601 for removed and unknown methods, even initialize.
        for (const method of ["initialize", "ping", "logging/setLevel", "resources/subscribe", "nope/nope"]) {
          expect(await modern(url, method, { _meta: meta() })).toMatchObject({
            status: 404,
            body: { id: 1, error: { code: -32601 } }
          })
        }
        // A session id is ignored, not looked up (no 404 for an unknown session).
        expect(await modern(url, "tools/list", { _meta: meta() }, { "mcp-session-id": "0123456789abcdef0123456789abcdef" }))
          .toMatchObject({ status: 200, body: { result: { tools: expect.any(Array) } } })
        // A batch with a modern element: 400 -32600.
        const batch = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: meta() } }])
        })
        expect(batch.status).toBe(400)
        expect(await batch.json()).toMatchObject({ error: { code: -32600 } })
        // A modern notification: 202.
        const notification = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": V },
          body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/whatever", params: { _meta: meta() } })
        })
        expect(notification.status).toBe(202)
      })
      // The session era on the same endpoint, as before.
      const client = yield* sdkClient(url)
      const tools = yield* Effect.promise(() => client.listTools())
      expect(tools.tools.map((t) => t.name)).toContain("greet")
      expect(tools).not.toHaveProperty("resultType")
    }))

  it.scopedLive("discover, resultType, serverInfo, configured cache hints; -32602 for a missing resource", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(server())
      yield* Effect.promise(async () => {
        const discover = await modern(url, "server/discover", { _meta: meta() })
        expect(discover.status).toBe(200)
        expect(discover.body.result).toMatchObject({
          supportedVersions: expect.arrayContaining([V, "2025-11-25"]),
          capabilities: { tools: { listChanged: true } },
          resultType: "complete",
          ttlMs: 5000,
          cacheScope: "public",
          _meta: { "io.modelcontextprotocol/serverInfo": { name: "modern-test", version: "1.0.0" } }
        })
        const list = await modern(url, "tools/list", { _meta: meta() })
        expect(list.body.result).toMatchObject({ resultType: "complete", ttlMs: 5000, cacheScope: "public" })
        // A tool result is complete, but not cacheable.
        const call = await modern(url, "tools/call", { name: "log", arguments: {}, _meta: meta() })
        expect(call.body.result.resultType).toBe("complete")
        expect(call.body.result).not.toHaveProperty("ttlMs")
        const missing = await modern(url, "resources/read", { uri: "x://nothing", _meta: meta() })
        expect(missing.body).toMatchObject({ error: { code: -32602, data: { uri: "x://nothing" } } })
      })
    }))

  it.scopedLive("logs only with logLevel, at or above it; an invalid level is -32602", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(server())
      yield* Effect.promise(async () => {
        const silent = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": V,
            "mcp-method": "tools/call",
            "mcp-name": "log"
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "log", arguments: {}, _meta: meta() } })
        })
        expect(await silent.text()).not.toContain("notifications/message")
        const logged = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": V,
            "mcp-method": "tools/call",
            "mcp-name": "log"
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "tools/call",
            params: { name: "log", arguments: {}, _meta: meta({}, { "io.modelcontextprotocol/logLevel": "info" }) }
          })
        })
        expect(await logged.text()).toContain("notifications/message")
        const invalid = await modern(url, "tools/call", {
          name: "log",
          arguments: {},
          _meta: meta({}, { "io.modelcontextprotocol/logLevel": "loud" })
        })
        expect(invalid.body).toMatchObject({ error: { code: -32602 } })
      })
    }))

  it.scopedLive("multi round-trip: asks come back as inputRequests, answers are sealed into requestState", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(server())
      yield* Effect.promise(async () => {
        const caps = { elicitation: {} }
        const params = { name: "greet", arguments: { greeting: "Hi" } }
        const first = await modern(url, "tools/call", { ...params, _meta: meta(caps) })
        expect(first.status).toBe(200)
        expect(first.body.result).toMatchObject({
          resultType: "input_required",
          inputRequests: { "elicit-0": { method: "elicitation/create", params: { message: "Name?" } } },
          requestState: expect.any(String)
        })
        expect(first.body.result).not.toHaveProperty("ttlMs")
        const name = { action: "accept", content: { name: "Ada" } }
        const second = await modern(url, "tools/call", {
          ...params,
          _meta: meta(caps),
          inputResponses: { "elicit-0": name },
          requestState: first.body.result.requestState
        }, {}, 2)
        expect(second.body.result).toMatchObject({
          resultType: "input_required",
          inputRequests: { "elicit-1": { method: "elicitation/create", params: { message: "Colour?" } } }
        })
        // The first answer is not sent again: it travels sealed in the state.
        const third = await modern(url, "tools/call", {
          ...params,
          _meta: meta(caps),
          inputResponses: { "elicit-1": { action: "accept", content: { colour: "green" } } },
          requestState: second.body.result.requestState
        }, {}, 3)
        expect(third.body.result).toMatchObject({
          resultType: "complete",
          content: [{ type: "text", text: "Hi, Ada (green)" }]
        })
        // A missing answer is asked again, not an error.
        const again = await modern(url, "tools/call", { ...params, _meta: meta(caps), inputResponses: { other: name } })
        expect(again.body.result).toMatchObject({ resultType: "input_required", inputRequests: { "elicit-0": {} } })
        // Tampered, or bound to other arguments: -32602.
        const tampered = await modern(url, "tools/call", {
          ...params,
          _meta: meta(caps),
          inputResponses: { "elicit-1": name },
          requestState: second.body.result.requestState + "x"
        })
        expect(tampered.body).toMatchObject({ error: { code: -32602 } })
        const foreign = await modern(url, "tools/call", {
          name: "greet",
          arguments: { greeting: "Bye" },
          _meta: meta(caps),
          inputResponses: { "elicit-1": name },
          requestState: second.body.result.requestState
        }, { "mcp-name": "greet" })
        expect(foreign.body).toMatchObject({ error: { code: -32602 } })
        // An ask the request has no capability for: -32021 (400) naming it.
        const undeclared = await modern(url, "tools/call", { name: "sample", arguments: {}, _meta: meta() })
        expect(undeclared).toMatchObject({
          status: 400,
          body: { id: 1, error: { code: -32021, data: { requiredCapabilities: { sampling: {} } } } }
        })
      })
    }))

  it.scopedLive("subscriptions/listen: the ack first, then only the kinds asked for, tagged with the listen id", () =>
    Effect.gen(function*() {
      const url = yield* serveHttp(server())
      yield* Effect.promise(async () => {
        const open = (id: number, notifications: object, accept = "application/json, text/event-stream") =>
          openListen(url, id, { _meta: meta(), notifications }, accept)
        // Always SSE: a client that accepts only JSON is refused.
        expect((await open(9, { toolsListChanged: true }, "application/json")).status).toBe(406)
        const tools = await open(7, { toolsListChanged: true })
        const prompts = await open(8, { promptsListChanged: true })
        expect(tools.headers.get("content-type")).toContain("text/event-stream")
        const reader = (response: Response) => {
          const body = response.body!.getReader()
          const decoder = new TextDecoder()
          let buffer = ""
          const next = async () => {
            while (true) {
              const line = buffer.split("\n").find((l) => l.startsWith("data: "))
              if (line !== undefined) {
                buffer = buffer.slice(buffer.indexOf(line) + line.length)
                return JSON.parse(line.slice(6))
              }
              const chunk = await body.read()
              if (chunk.done) return undefined
              buffer += decoder.decode(chunk.value, { stream: true })
            }
          }
          return { next, cancel: () => body.cancel() }
        }
        const toolsReader = reader(tools)
        const promptsReader = reader(prompts)
        const nextTools = toolsReader.next
        const nextPrompts = promptsReader.next
        expect(await nextTools()).toMatchObject({
          method: "notifications/subscriptions/acknowledged",
          params: { notifications: { toolsListChanged: true }, _meta: { "io.modelcontextprotocol/subscriptionId": 7 } }
        })
        expect(await nextPrompts()).toMatchObject({ method: "notifications/subscriptions/acknowledged" })
        await modern(url, "tools/call", { name: "toggle", arguments: {}, _meta: meta() })
        expect(await nextTools()).toMatchObject({
          method: "notifications/tools/list_changed",
          params: { _meta: { "io.modelcontextprotocol/subscriptionId": 7 } }
        })
        // Closing a listen stream ends its session (the filter itself is checked by the conformance run).
        await promptsReader.cancel()
        await toolsReader.cancel()
      })
    }))

  it.scopedLive("a listen stream acknowledges only the kinds the server's capabilities can produce", () =>
    Effect.gen(function*() {
      // Tools and prompts, no resources: resource list changes and updates can never come.
      const ToolsAndPrompts = Layer.mergeAll(
        McpTool.make("t", { input: Schema.Struct({}), handler: () => Effect.succeed("t") }),
        McpPrompt.make("p", { args: Schema.Struct({}), handler: () => Effect.succeed("p") })
      ).pipe(Layer.provideMerge(McpServer.layer({ name: "caps", version: "1" })))
      const url = yield* serveHttp(ToolsAndPrompts)
      const first = yield* Effect.promise(async () => {
        const response = await openListen(url, 3, {
          _meta: meta(),
          notifications: {
            toolsListChanged: true,
            promptsListChanged: true,
            resourcesListChanged: true,
            resourceSubscriptions: ["test://a"]
          }
        }, "text/event-stream")
        const body = response.body!.getReader()
        const decoder = new TextDecoder()
        let text = ""
        while (!text.includes("\n\n")) {
          const chunk = await body.read()
          if (chunk.done) break
          text += decoder.decode(chunk.value, { stream: true })
        }
        await body.cancel()
        return JSON.parse(text.split("\n").find((l) => l.startsWith("data: "))!.slice(6))
      })
      expect(first).toMatchObject({ method: "notifications/subscriptions/acknowledged" })
      expect(first.params.notifications).toStrictEqual({ toolsListChanged: true, promptsListChanged: true })
    }))

  it.scopedLive("past maxListeners a listen is answered with a JSON-RPC error; requests are still served", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeMcpServer.layer({ port: 0, sessions: { maxSessions: 1, maxListeners: 1 } }).pipe(
        Layer.provide(server())
      )).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none)))
      const url = `http://127.0.0.1:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      const listen = (id: number) => openListen(url, id, { _meta: meta(), notifications: { toolsListChanged: true } })
      yield* Effect.promise(async () => {
        const open = await listen(1)
        expect(open.headers.get("content-type")).toContain("text/event-stream")
        const reader = open.body!.getReader()
        await reader.read()
        // The one listen slot is taken: the next listen gets an error naming the limit, with its own id.
        const refused = await listen(2)
        expect(refused.status).toBe(200)
        expect(await refused.json()).toMatchObject({ id: 2, error: { code: -32603, data: { limit: 1 } } })
        // The listener does not hold the one session slot: a request is served.
        expect(await modern(url, "tools/list", { _meta: meta() })).toMatchObject({ status: 200, body: { result: {} } })
        await reader.cancel()
      })
    }))

  it.live("a server that shuts down ends each listen stream with its listen result", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(server())), scope)
      const url = `http://127.0.0.1:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}/mcp`
      const response = yield* Effect.promise(() =>
        openListen(url, "sub", { _meta: meta(), notifications: { toolsListChanged: true } }, "text/event-stream")
      )
      const body = response.body!.getReader()
      // The acknowledgement is out once the first chunk arrives; then the server shuts down.
      const first = yield* Effect.promise(() => body.read())
      yield* Scope.close(scope, Exit.void).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none)))
      let text = new TextDecoder().decode(first.value)
      while (true) {
        const chunk = yield* Effect.promise(() => body.read())
        if (chunk.done) break
        text += new TextDecoder().decode(chunk.value)
      }
      const messages = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)))
      expect(messages[0]).toMatchObject({ method: "notifications/subscriptions/acknowledged" })
      expect(messages.at(-1)).toEqual({
        jsonrpc: "2.0",
        id: "sub",
        result: { resultType: "complete", _meta: { "io.modelcontextprotocol/subscriptionId": "sub" } }
      })
    }))

  it.scopedLive("a client that disconnects cancels its request: the handler is interrupted", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const url = yield* serveHttp(server(interrupted, started))
      const controller = new AbortController()
      const pending = fetch(url, {
        method: "POST",
        signal: controller.signal,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "mcp-protocol-version": V,
          "mcp-method": "tools/call",
          "mcp-name": "slow"
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {}, _meta: meta() } })
      }).catch(() => undefined)
      // Hang up once the request is in its handler: before, the abort would cancel nothing on the server.
      yield* Deferred.await(started)
      expect(yield* Deferred.isDone(interrupted)).toBe(false)
      controller.abort()
      yield* Effect.promise(() => pending)
      yield* Deferred.await(interrupted)
    }))

  it.scoped("stdio: modern lines are routed the same way, beside a session-era session", () =>
    Effect.gen(function*() {
      const lines = [
        { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta() } },
        { jsonrpc: "2.0", id: 2, method: "ping", params: { _meta: meta() } },
        { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "greet", arguments: { greeting: "Yo" }, _meta: meta({ elicitation: {} }) } },
        { jsonrpc: "2.0", id: 4, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "v9" , "io.modelcontextprotocol/clientCapabilities": {} } } },
        { jsonrpc: "2.0", id: 5, method: "ping" }
      ]
      const input = Stream.make(new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join("\n") + "\n"))
      const out: Array<{ id?: unknown; result?: { [key: string]: unknown }; error?: { code: number } }> = []
      yield* StdioTransport.serve(input, (text) => {
        for (const line of text.split("\n")) if (line.trim() !== "") out.push(JSON.parse(line))
        return true
      }).pipe(Effect.provide(SessionRegistry.layer().pipe(Layer.provideMerge(server()))))
      const byId = (id: number) => out.find((m) => m.id === id)
      expect(byId(1)?.result).toMatchObject({ resultType: "complete", supportedVersions: expect.arrayContaining([V]) })
      expect(byId(2)?.error?.code).toBe(-32601)
      expect(byId(3)?.result).toMatchObject({ resultType: "input_required" })
      expect(byId(4)?.error?.code).toBe(-32022)
      // Session-era ping is answered as before (uninitialized sessions may ping).
      expect(byId(5)?.result).toEqual({})
    }))
})
