/**
 * Requests the server sends the client (sampling, elicitation, roots), in process: handlers ask through
 * `CurrentSession`, the library's own client answers with its `McpClientHandlers` layers, and `TestClock` drives
 * the timeouts. A recording transport shows what went over the wire in both directions.
 */
import { NodeMcpServer } from "@effect-mcp/node"
import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as DemoServer from "../src/DemoServer.js"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import * as McpClientTransport from "@effect-mcp/core/McpClientTransport"
import * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import { ClientRequestError, CurrentSession, type Sink } from "@effect-mcp/core/McpSession"
import * as McpResource from "@effect-mcp/core/McpResource"
import * as McpTest from "@effect-mcp/core/McpTest"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import { capture } from "../../node/test/utils/logs.js"

const textOf = (result: McpSchema.CallToolResult): string =>
  result.content.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")

const textOfSampled = (message: { readonly content: McpSchema.SamplingMessage["content"] }): string => {
  const blocks: ReadonlyArray<McpSchema.SamplingContent> = Array.isArray(message.content)
    ? message.content
    : [message.content]
  return blocks.map((block) => block.type === "text" ? block.text : `[${block.type}]`).join("")
}

// --- The server ------------------------------------------------------------------------------------------------

const Summarize = McpTool.make("summarize", {
  input: Schema.Struct({ text: Schema.String, timeoutSeconds: Schema.optional(Schema.Number) }),
  handler: ({ text, timeoutSeconds }) =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const result = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: `Summarize: ${text}` } }],
        systemPrompt: "Be brief",
        maxTokens: 100
      }, timeoutSeconds === undefined ? undefined : { timeout: Duration.seconds(timeoutSeconds) })
      return `${result.model}: ${textOfSampled(result)}`
    })
})

const Form = Schema.Struct({
  confirm: Schema.Boolean.annotations({ title: "Confirm", description: "Go ahead?" }),
  size: Schema.Literal("small", "large").annotations({ title: "Size", default: "small" }),
  copies: Schema.Int.pipe(Schema.between(1, 10)).annotations({ title: "Copies" }),
  note: Schema.optionalWith(Schema.String.annotations({ title: "Note" }), { default: () => "none" }),
  email: Schema.optional(Schema.String.annotations({ title: "Email", jsonSchema: { format: "email" } })),
  colors: Schema.optional(
    Schema.Array(Schema.Union(
      Schema.Literal("r").annotations({ title: "Red" }),
      Schema.Literal("g").annotations({ title: "Green" })
    )).annotations({ title: "Colors" })
  ),
  // The legacy titled enum: labels given as `enumNames` in a `jsonSchema` annotation.
  paper: Schema.optional(
    Schema.Literal("a4", "letter").annotations({ title: "Paper", jsonSchema: { enumNames: ["A4", "US Letter"] } })
  )
})

const Confirm = McpTool.make("confirm", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const answer = yield* session.elicit("Print it?", Form)
      return answer.action === "accept" ? `accepted ${JSON.stringify(answer.content)}` : answer.action
    })
})

const Visit = McpTool.make("visit", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const { action, elicitationId } = yield* session.elicitUrl({
        message: "Sign in, please",
        url: "https://example.com/sign-in",
        elicitationId: "e-1"
      })
      return `${action} ${elicitationId}`
    })
})

const ListRoots = McpTool.make("roots", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const roots = yield* session.listRoots()
      return roots.map((root) => root.name === undefined ? root.uri : `${root.name}=${root.uri}`).join(",")
    })
})

/** The capabilities the client declared, as the server sees them. */
const Capabilities = McpTool.make("capabilities", {
  input: Schema.Struct({}),
  handler: () => Effect.map(CurrentSession, (session) => JSON.stringify(session.clientCapabilities))
})

/** Reports a failed request to the client by its fields, so a test can see what kind of error it was. */
const Probe = McpTool.make("probe", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const outcome = yield* Effect.either(session.listRoots())
      if (outcome._tag === "Right") return "answered"
      const error = outcome.left
      return error._tag === "CapabilityNotDeclared"
        ? `${error._tag} ${error.capability}`
        : `${error._tag} ${error.reason} ${error.code ?? ""} ${error.message}`
    })
})

const ServerLive = Layer.mergeAll(Summarize, Confirm, Visit, ListRoots, Capabilities, Probe).pipe(
  Layer.provideMerge(McpServer.layer({ name: "s2c", version: "1.0.0", clientRequestTimeout: "10 seconds" }))
)

// --- A client whose traffic is recorded ------------------------------------------------------------------------

interface Recorded {
  readonly client: McpClient.McpClientService
  /** What the server sent the client, in order. */
  readonly received: Array<JsonRpc.Message>
  /** What the client sent the server, in order. */
  readonly sent: Array<JsonRpc.Message>
}

/** A client of `ServerLive` over the in-process transport, with what travels each way recorded. */
const recorded = (options: McpClient.Options = {}): Effect.Effect<Recorded, never, McpServer.McpServer | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* McpTest.makeTransport
    const received: Array<JsonRpc.Message> = []
    const sent: Array<JsonRpc.Message> = []
    const recording: McpClientTransport.McpClientTransportService = {
      ...transport,
      run: (onMessage) => transport.run((message) => Effect.zipRight(Effect.sync(() => received.push(message)), onMessage(message))),
      send: (message) => Effect.zipRight(Effect.sync(() => sent.push(message)), transport.send(message))
    }
    const client = yield* McpClient.make(options).pipe(
      Effect.provideService(McpClientTransport.McpClientTransport, recording),
      Effect.orDie
    )
    return { client, received, sent }
  })

const requestsOf = (messages: ReadonlyArray<JsonRpc.Message>, method?: string) =>
  messages.filter((m): m is JsonRpc.Request => JsonRpc.isRequest(m) && (method === undefined || m.method === method))

const notificationsOf = (messages: ReadonlyArray<JsonRpc.Message>, method: string) =>
  messages.filter((m): m is JsonRpc.Notification => JsonRpc.isNotification(m) && m.method === method)

/** Runs `body` with the server built in the test's scope and the client handlers of `handlers`. */
const withHandlers = <A, E, ROut>(
  handlers: Layer.Layer<ROut>,
  body: (recorded: Recorded) => Effect.Effect<A, E, Scope.Scope | McpServer.McpServer>,
  options: McpClient.Options = {}
): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.merge(ServerLive, handlers))
    return yield* Effect.flatMap(recorded(options), body).pipe(Effect.provide(context))
  }).pipe(Effect.scoped)

const sampledBy = (model: string) =>
  McpClientHandlers.layerSampling((params) =>
    Effect.succeed<McpSchema.CreateMessageResult>({
      role: "assistant",
      content: {
        type: "text",
        text: `${params.systemPrompt}; ${params.maxTokens} tokens; ${params.messages.map(textOfSampled).join()}`
      },
      model
    })
  )

describe("requests to the client", () => {
  it.effect("sampling: the tool gets the client's message; the client declared sampling because it has a handler", () =>
    withHandlers(sampledBy("model-a"), ({ client, received }) =>
      Effect.gen(function*() {
        const result = yield* client.callTool("summarize", { text: "a long story" })
        expect(textOf(result)).toBe("model-a: Be brief; 100 tokens; Summarize: a long story")
        expect(JSON.parse(textOf(yield* client.callTool("capabilities")))).toEqual({ sampling: {} })
        const [request] = requestsOf(received, "sampling/createMessage")
        expect(request?.params).toEqual({
          messages: [{ role: "user", content: { type: "text", text: "Summarize: a long story" } }],
          systemPrompt: "Be brief",
          maxTokens: 100
        })
      })))

  it.effect("elicitation: the form comes from the Schema, and the answer is decoded with it", () => {
    let seen: McpSchema.ElicitParams | undefined
    const handlers = McpClientHandlers.layerElicitation((params) =>
      Effect.sync(() => {
        seen = params
        return { action: "accept", content: { confirm: true, size: "large", copies: 2, colors: ["g"] } }
      })
    )
    return withHandlers(handlers, ({ client }) =>
      Effect.gen(function*() {
        const answer = textOf(yield* client.callTool("confirm"))
        expect(answer.startsWith("accepted ")).toBe(true)
        // Decoded with the form's schema: the default of `note` filled in.
        expect(JSON.parse(answer.slice("accepted ".length))).toEqual({
          confirm: true,
          size: "large",
          copies: 2,
          colors: ["g"],
          note: "none"
        })
        expect(seen).toEqual({
          message: "Print it?",
          requestedSchema: {
            type: "object",
            properties: {
              confirm: { type: "boolean", title: "Confirm", description: "Go ahead?" },
              size: { type: "string", title: "Size", enum: ["small", "large"], default: "small" },
              copies: {
                type: "integer",
                title: "Copies",
                description: "a number between 1 and 10",
                minimum: 1,
                maximum: 10
              },
              note: { type: "string", title: "Note", default: "none" },
              email: { type: "string", title: "Email", format: "email" },
              colors: {
                type: "array",
                title: "Colors",
                items: { anyOf: [{ const: "r", title: "Red" }, { const: "g", title: "Green" }] }
              },
              paper: { type: "string", title: "Paper", enum: ["a4", "letter"], enumNames: ["A4", "US Letter"] }
            },
            required: ["confirm", "size", "copies"]
          }
        })
        expect(JSON.parse(textOf(yield* client.callTool("capabilities")))).toEqual({ elicitation: { form: {} } })
      }))
  })

  it.effect("elicitation: decline and cancel come back as such; content the form rejects is a Protocol error", () => {
    const answers: Array<McpSchema.ElicitResult> = [
      { action: "decline" },
      { action: "cancel" },
      { action: "accept", content: { confirm: "yes" } }
    ]
    const handlers = McpClientHandlers.layerElicitation(() => Effect.sync(() => answers.shift()!))
    return withHandlers(handlers, ({ client }) =>
      Effect.gen(function*() {
        expect(textOf(yield* client.callTool("confirm"))).toBe("decline")
        expect(textOf(yield* client.callTool("confirm"))).toBe("cancel")
        const invalid = yield* client.callTool("confirm")
        expect(invalid.isError).toBe(true)
        expect(textOf(invalid)).toContain("elicitation/create is invalid")
      }))
  })

  it.effect("URL-mode elicitation needs elicitation.url, which layerElicitation declares with url: true", () => {
    let seen: McpSchema.ElicitParams | undefined
    const handler = (params: McpSchema.ElicitParams) =>
      Effect.sync((): McpSchema.ElicitResult => {
        seen = params
        return { action: "accept" }
      })
    return Effect.gen(function*() {
      yield* withHandlers(McpClientHandlers.layerElicitation(handler, { url: true }), ({ client }) =>
        Effect.gen(function*() {
          expect(textOf(yield* client.callTool("visit"))).toBe("accept e-1")
          expect(seen).toEqual({
            mode: "url",
            message: "Sign in, please",
            url: "https://example.com/sign-in",
            elicitationId: "e-1"
          })
          expect(JSON.parse(textOf(yield* client.callTool("capabilities")))).toEqual({
            elicitation: { form: {}, url: {} }
          })
        }))
      yield* withHandlers(McpClientHandlers.layerElicitation(handler), ({ client, received }) =>
        Effect.gen(function*() {
          const refused = yield* client.callTool("visit")
          expect(refused.isError).toBe(true)
          expect(textOf(refused)).toContain("elicitation.url")
          expect(requestsOf(received, "elicitation/create")).toEqual([])
        }))
    })
  })

  it.effect("roots: listed from the layer; a SubscriptionRef's changes are announced", () =>
    Effect.gen(function*() {
      const ref = yield* SubscriptionRef.make<ReadonlyArray<McpSchema.Root>>([{ uri: "file:///a", name: "a" }])
      yield* withHandlers(McpClientHandlers.layerRootsRef(ref), ({ client, sent }) =>
        Effect.gen(function*() {
          expect(textOf(yield* client.callTool("roots"))).toBe("a=file:///a")
          expect(JSON.parse(textOf(yield* client.callTool("capabilities")))).toEqual({ roots: { listChanged: true } })
          expect(notificationsOf(sent, "notifications/roots/list_changed")).toEqual([])
          yield* SubscriptionRef.set(ref, [{ uri: "file:///a", name: "a" }, { uri: "file:///b" }])
          // The announcement goes out from the client's own fiber: wait for it.
          while (notificationsOf(sent, "notifications/roots/list_changed").length === 0) yield* Effect.yieldNow()
          expect(textOf(yield* client.callTool("roots"))).toBe("a=file:///a,file:///b")
          yield* client.rootsChanged
          expect(notificationsOf(sent, "notifications/roots/list_changed")).toHaveLength(2)
        }))
    }))

  it.effect("a client without handlers: CapabilityNotDeclared, nothing sent, and options cannot claim otherwise", () =>
    withHandlers(Layer.empty, ({ client, received }) =>
      Effect.gen(function*() {
        // Declared in the options, but nothing would answer: not declared.
        expect(JSON.parse(textOf(yield* client.callTool("capabilities")))).toEqual({ experimental: { x: {} } })
        for (const [tool, capability] of [["summarize", "sampling"], ["confirm", "elicitation"], ["roots", "roots"]]) {
          const result = yield* client.callTool(tool!, tool === "summarize" ? { text: "x" } : {})
          expect(result.isError).toBe(true)
          expect(textOf(result)).toBe(
            `The client did not declare the capability ${capability}, which ${
              tool === "summarize" ? "sampling/createMessage" : tool === "confirm" ? "elicitation/create" : "roots/list"
            } needs`
          )
        }
        expect(textOf(yield* client.callTool("probe"))).toBe("CapabilityNotDeclared roots")
        expect(requestsOf(received)).toEqual([])
      }), { capabilities: { sampling: {}, roots: { listChanged: true }, elicitation: {}, experimental: { x: {} } } }))

  it.effect("an error answer is a ClientRequestError with the client's code", () =>
    withHandlers(
      McpClientHandlers.layerRoots(Effect.fail(new JsonRpc.JsonRpcError({ code: -1, message: "User rejected" }))),
      ({ client }) =>
        Effect.gen(function*() {
          expect(textOf(yield* client.callTool("probe"))).toBe(
            "ClientRequestError RpcError -1 The client answered roots/list with an error: User rejected"
          )
        })
    ))

  it.effect("a timeout fails the request and cancels it on the client", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const never = McpClientHandlers.layerSampling(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
      )
      yield* withHandlers(never, ({ client, received }) =>
        Effect.gen(function*() {
          // The server's default is 10 seconds here; this call asks for 3.
          const call = yield* Effect.fork(client.callTool("summarize", { text: "x", timeoutSeconds: 3 }))
          yield* Deferred.await(started)
          yield* TestClock.adjust("2 seconds")
          expect(Option.isNone(yield* Fiber.poll(call))).toBe(true)
          yield* TestClock.adjust("1 second")
          const result = yield* Fiber.join(call)
          expect(result.isError).toBe(true)
          expect(textOf(result)).toBe("The client did not answer sampling/createMessage within 3s")
          yield* Deferred.await(interrupted)
          const [request] = requestsOf(received, "sampling/createMessage")
          expect(notificationsOf(received, "notifications/cancelled").map((n) => n.params)).toEqual([
            { requestId: request!.id, reason: "No answer within 3s" }
          ])
        }))
    }))

  it.effect("cancelling the client's call cancels the request its handler is waiting on", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const never = McpClientHandlers.layerSampling(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
      )
      yield* withHandlers(never, ({ client, received, sent }) =>
        Effect.gen(function*() {
          const call = yield* Effect.fork(client.callTool("summarize", { text: "x" }))
          yield* Deferred.await(started)
          yield* Fiber.interrupt(call)
          yield* Deferred.await(interrupted)
          const [toolCall] = requestsOf(sent, "tools/call")
          const [sampling] = requestsOf(received, "sampling/createMessage")
          expect(notificationsOf(sent, "notifications/cancelled").map((n) => n.params)).toMatchObject([
            { requestId: toolCall!.id }
          ])
          expect(notificationsOf(received, "notifications/cancelled").map((n) => n.params)).toEqual([
            { requestId: sampling!.id, reason: "The request was cancelled" }
          ])
        }))
    }))
})

describe("Session requests, outside any handler", () => {
  /** A session of its own registry whose writer records; initialized with `capabilities` through the server. */
  const session = (capabilities: McpSchema.ClientCapabilities, writer = true) =>
    Effect.gen(function*() {
      const registry = yield* SessionRegistry.make()
      const written: Array<JsonRpc.Message> = []
      const sink: Sink = (message) => {
        written.push(message)
        return true
      }
      const session = yield* Effect.orDie(registry.open({
        transport: "memory",
        protocolVersion: "2025-11-25",
        ...(writer ? { writer: sink } : {})
      }))
      yield* Effect.async<void>((resume) => {
        session.offer(
          JsonRpc.request(0, "initialize", {
            protocolVersion: "2025-11-25",
            capabilities,
            clientInfo: { name: "raw", version: "1" }
          }),
          () => true,
          () => resume(Effect.void)
        )
      })
      written.length = 0
      /** The request the session wrote last. */
      const lastRequest = Effect.suspend(() => {
        const request = requestsOf(written).at(-1)
        return request === undefined ? Effect.dieMessage("nothing was requested") : Effect.succeed(request)
      })
      return { session, written, lastRequest }
    }).pipe(Effect.provide(McpServer.layer({ name: "raw", version: "1" })))

  it.scoped("go out on the session's writer; the client's response resolves them, errors and bad results fail", () =>
    Effect.gen(function*() {
      const { lastRequest, session: s, written } = yield* session({ roots: {}, sampling: {} })
      const listing = yield* Effect.fork(s.listRoots())
      const request = yield* Effect.zipRight(Effect.yieldNow(), lastRequest)
      expect(request).toMatchObject({ method: "roots/list" })
      expect(s.offer(JsonRpc.success(request.id, { roots: [{ uri: "file:///x" }] }), () => true)).toBe(true)
      expect(yield* Fiber.join(listing)).toEqual([{ uri: "file:///x" }])

      const refused = yield* Effect.fork(Effect.flip(s.createMessage({ messages: [], maxTokens: 1 })))
      const second = yield* Effect.zipRight(Effect.yieldNow(), lastRequest)
      expect(second.id).not.toBe(request.id)
      s.offer(JsonRpc.failure(second.id, new JsonRpc.JsonRpcError({ code: -1, message: "no" })), () => true)
      expect(yield* Fiber.join(refused)).toMatchObject({ _tag: "ClientRequestError", reason: "RpcError", code: -1 })

      const generic = yield* Effect.fork(Effect.flip(s.request("x/y", { a: 1 }, Schema.Struct({ ok: Schema.Boolean }))))
      const third = yield* Effect.zipRight(Effect.yieldNow(), lastRequest)
      expect(third).toEqual({ jsonrpc: "2.0", id: third.id, method: "x/y", params: { a: 1 } })
      s.offer(JsonRpc.success(third.id, { ok: "yes" }), () => true)
      expect(yield* Fiber.join(generic)).toMatchObject({ reason: "Protocol" })
      // Answers nobody waits for are ignored.
      expect(s.offer(JsonRpc.success(third.id, { ok: true }), () => true)).toBe(true)
      expect(notificationsOf(written, "notifications/cancelled")).toEqual([])
    }))

  it.scoped("the session closing fails what is pending with Closed; without a writer nothing can be sent", () =>
    Effect.gen(function*() {
      const { session: s } = yield* session({ roots: {} })
      const listing = yield* Effect.fork(s.listRoots())
      yield* Effect.yieldNow()
      yield* s.close
      const exit = yield* Fiber.await(listing)
      expect(exit).toEqual(Exit.fail(expect.any(ClientRequestError)))
      expect(yield* Effect.flip(Fiber.join(listing))).toMatchObject({ reason: "Closed" })
      expect(yield* Effect.flip(s.listRoots())).toMatchObject({ reason: "Closed" })

      const { session: mute } = yield* session({ roots: {} }, false)
      const error = yield* Effect.flip(mute.listRoots())
      expect(error).toMatchObject({ reason: "Closed", message: "There is no open stream to send roots/list on" })
    }))

  it.scoped("a standalone request that times out is cancelled on the writer", () =>
    Effect.gen(function*() {
      const { lastRequest, session: s, written } = yield* session({ roots: {} })
      const listing = yield* Effect.fork(Effect.flip(s.listRoots({ timeout: "1 minute" })))
      const request = yield* Effect.zipRight(Effect.yieldNow(), lastRequest)
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(listing)).toMatchObject({ reason: "Timeout" })
      expect(notificationsOf(written, "notifications/cancelled").map((n) => n.params)).toEqual([
        { requestId: request.id, reason: "No answer within 1m" }
      ])
    }))
})

describe("with the official SDK client", () => {
  const Watched = McpResource.make({ uri: "test://watched", name: "watched", read: Effect.succeed("now") })
  const InteropLive = Watched.pipe(Layer.provideMerge(ServerLive))

  /** The server on a free port of 127.0.0.1, with its registry and `McpServer`, for the test's scope. */
  const serve = (options: NodeMcpServer.Options) => Effect.gen(function*() {
    const context = yield* Layer.build(NodeMcpServer.layer({ ...options, port: 0 }).pipe(Layer.provideMerge(InteropLive))).pipe(
      Effect.orDie
    )
    return {
      base: `http://127.0.0.1:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}`,
      registry: Context.get(context, SessionRegistry.SessionRegistry),
      server: Context.get(context, McpServer.McpServer)
    }
  })

  /** A client with handlers for everything a server may ask, and the notifications it got, in order. */
  const connect = (transport: "sse" | "streamable", base: string) =>
    Effect.gen(function*() {
      const notifications = yield* Queue.unbounded<{ readonly method: string; readonly params?: unknown }>()
      const aborted = yield* Deferred.make<void>()
      const client = new Client(
        { name: "sdk-client", version: "1.0.0" },
        { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } }
      )
      client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => {
        const content = request.params.messages[0]?.content
        const prompt = content !== undefined && !Array.isArray(content) && content.type === "text" ? content.text : ""
        // "hang" waits until the server cancels the request.
        if (prompt.includes("hang")) {
          return new Promise((_resolve, reject) =>
            extra.signal.addEventListener("abort", () => {
              Deferred.unsafeDone(aborted, Exit.void)
              reject(new Error("aborted"))
            })
          )
        }
        return Promise.resolve({
          role: "assistant" as const,
          content: { type: "text" as const, text: `sdk says ${prompt}` },
          model: "sdk-model"
        })
      })
      client.setRequestHandler(ElicitRequestSchema, (request) =>
        Promise.resolve(
          request.params.mode === "url"
            ? { action: "accept" as const }
            : { action: "accept" as const, content: { confirm: true, size: "large", copies: 3 } }
        ))
      client.setRequestHandler(ListRootsRequestSchema, () => Promise.resolve({ roots: [{ uri: "file:///sdk", name: "sdk" }] }))
      client.setNotificationHandler(ToolListChangedNotificationSchema, (notification) => {
        Queue.unsafeOffer(notifications, notification)
      })
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
        Queue.unsafeOffer(notifications, notification)
      })
      yield* Effect.acquireRelease(
        Effect.promise(() =>
          client.connect(
            transport === "sse"
              ? new SSEClientTransport(new URL(`${base}/sse`))
              : new StreamableHTTPClientTransport(new URL(`${base}/mcp`))
          )
        ),
        () => Effect.promise(() => client.close())
      )
      const callTool = (name: string, args: Record<string, unknown> = {}) =>
        Effect.promise(() => client.callTool({ name, arguments: args })).pipe(
          Effect.map((result) => Schema.decodeUnknownSync(McpSchema.CallToolResult)(result))
        )
      return { client, notifications, aborted, callTool }
    })

  const variants = [
    { name: "Streamable HTTP", transport: "streamable", options: {} },
    // A POST answered with JSON cannot carry the request: it goes on the session's GET stream instead.
    { name: "Streamable HTTP with JSON responses", transport: "streamable", options: { streamable: { enableJsonResponse: true } } },
    { name: "legacy HTTP+SSE", transport: "sse", options: {} }
  ] as const

  for (const { name, options, transport } of variants) {
    it.scopedLive(`${name}: sampling, elicitation, roots, cancellation, list changes, subscriptions`, () =>
      Effect.gen(function*() {
        const { base, registry, server } = yield* serve(options)
        const { aborted, callTool, client, notifications } = yield* connect(transport, base)

        // Outside any handler, on the session's own stream (over Streamable HTTP, once the client's GET is open).
        const [session] = yield* registry.sessions
        const roots = yield* session!.listRoots().pipe(
          Effect.retry({
            while: (error) => error._tag === "ClientRequestError" && error.reason === "Closed",
            schedule: Schedule.spaced("20 millis")
          })
        )
        expect(roots).toEqual([{ uri: "file:///sdk", name: "sdk" }])

        expect(textOf(yield* callTool("summarize", { text: "the story" }))).toBe("sdk-model: sdk says Summarize: the story")
        const confirmed = textOf(yield* callTool("confirm"))
        expect(JSON.parse(confirmed.slice("accepted ".length))).toEqual({ confirm: true, size: "large", copies: 3, note: "none" })
        expect(textOf(yield* callTool("visit"))).toBe("accept e-1")
        expect(textOf(yield* callTool("roots"))).toBe("sdk=file:///sdk")

        // A request that outlives its timeout is cancelled: the SDK aborts its handler.
        const timedOut = yield* callTool("summarize", { text: "hang", timeoutSeconds: 0.2 })
        expect(timedOut.isError).toBe(true)
        expect(textOf(timedOut)).toContain("did not answer sampling/createMessage")
        yield* Deferred.await(aborted)

        // A tool layer built and torn down while the client is connected.
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(
          McpTool.make("late", { input: Schema.Struct({}), handler: () => Effect.succeed("late") }),
          scope
        ).pipe(Effect.provideService(McpServer.McpServer, server))
        expect((yield* Queue.take(notifications)).method).toBe("notifications/tools/list_changed")
        const listed = yield* Effect.promise(() => client.listTools())
        expect(listed.tools.map((tool) => tool.name)).toContain("late")
        yield* Scope.close(scope, Exit.void)
        expect((yield* Queue.take(notifications)).method).toBe("notifications/tools/list_changed")
        expect((yield* Effect.promise(() => client.listTools())).tools.map((tool) => tool.name)).not.toContain("late")

        yield* Effect.promise(() => client.subscribeResource({ uri: "test://watched" }))
        yield* server.notifyResourceUpdated("test://other")
        yield* server.notifyResourceUpdated("test://watched")
        expect(yield* Queue.take(notifications)).toEqual({
          method: "notifications/resources/updated",
          params: { uri: "test://watched" }
        })
        yield* Effect.promise(() => client.unsubscribeResource({ uri: "test://watched" }))
        expect(session!.subscriptions.size).toBe(0)
      }), 30_000)
  }
})

// --- The seam itself ----------------------------------------------------------------------------------------------

/** A channel transport: what the server writes is collected; what the peer sends is offered to the session. */
const seamChannel = Effect.gen(function*() {
  // The server's layer is built in the test's scope: its tools are registered for as long as it lives.
  const server = yield* Layer.build(DemoServer.layer)
  const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" }).pipe(Effect.provide(server))
  const scope = yield* Scope.make()
  const written: Array<JsonRpc.Message> = []
  const writer: Sink = (message) => {
    written.push(message)
    return true
  }
  const session = yield* registry.open({ transport: "channel", protocolVersion: "2025-11-25", writer }).pipe(
    Scope.extend(scope)
  )
  const answers = (id: JsonRpc.RequestId) => written.filter((m) => JsonRpc.isResponse(m) && m.id === id)
  return { registry, scope, session, written, writer, answers }
})

const seamInitialize = JsonRpc.request(1, "initialize", {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "channel", version: "1" }
})

describe("the session seam, as a transport of your own uses it", () => {
  it.scoped("offer: requests answered on the reply sink, the handshake recorded, read-only facts", () =>
    Effect.gen(function*() {
      const { answers, session, writer } = yield* seamChannel
      expect(session.phase).toBe("awaiting-initialize")
      // Before initialize only ping is served.
      expect(session.offer(JsonRpc.request(0, "tools/list"), writer)).toBe(true)
      expect(answers(0)[0]).toMatchObject({ error: { code: JsonRpc.ErrorCode.InvalidRequest } })
      expect(session.offer(seamInitialize, writer)).toBe(true)
      expect(answers(1)[0]).toMatchObject({ result: { protocolVersion: "2025-06-18" } })
      expect(session.phase).toBe("initialized")
      expect(session.protocolVersion).toBe("2025-06-18")
      expect(session.clientInfo).toEqual({ name: "channel", version: "1" })
      // Each request's reply goes to the sink it was offered with, not to the session's writer.
      const own: Array<JsonRpc.Message> = []
      session.offer(JsonRpc.request(2, "tools/call", { name: "echo", arguments: { text: "x" } }), (m) => own.push(m) > 0)
      expect(own).toEqual([{ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "x" }] } }])
      expect(answers(2)).toEqual([])
      // A second request under an id still in flight is refused; the first runs on.
      session.offer(JsonRpc.request(3, "tools/call", { name: "sleep", arguments: { ms: 1000 } }), writer)
      session.offer(JsonRpc.request(3, "ping"), writer)
      expect(answers(3)[0]).toMatchObject({ error: { code: JsonRpc.ErrorCode.InvalidRequest } })
      yield* TestClock.adjust("1 second")
      expect(answers(3)[1]).toMatchObject({ result: { content: [{ type: "text", text: "slept 1000 ms" }] } })
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("settled: called once a request's handling ends, answered, cancelled or closed", () =>
    Effect.gen(function*() {
      const { scope, session, writer } = yield* seamChannel
      session.offer(seamInitialize, writer)
      const settled: Array<string> = []
      session.offer(JsonRpc.request("a", "ping"), writer, () => settled.push("a"))
      session.offer(JsonRpc.request("b", "tools/call", { name: "sleep", arguments: { ms: 60_000 } }), writer, () =>
        settled.push("b"))
      session.offer(JsonRpc.request("c", "tools/call", { name: "sleep", arguments: { ms: 60_000 } }), writer, () =>
        settled.push("c"))
      expect(settled).toEqual(["a"])
      expect(session.inFlight).toBe(2)
      session.offer(JsonRpc.notification("notifications/cancelled", { requestId: "b" }), writer)
      yield* Effect.yieldNow()
      expect(settled).toEqual(["a", "b"])
      yield* Scope.close(scope, Exit.void)
      expect(settled).toEqual(["a", "b", "c"])
      expect(session.inFlight).toBe(0)
    }).pipe(Effect.provide(capture().layer)))

  it.scoped("the writer carries what the server starts; a closed session takes nothing and sends nothing", () =>
    Effect.gen(function*() {
      const { registry, scope, session, writer, written } = yield* seamChannel
      expect(session.send(JsonRpc.notification("notifications/tools/list_changed"))).toBe(true)
      expect(written).toEqual([{ jsonrpc: "2.0", method: "notifications/tools/list_changed" }])
      const other: Array<JsonRpc.Message> = []
      session.setWriter((m) => other.push(m) > 0)
      session.send(JsonRpc.notification("notifications/resources/list_changed"))
      expect(other.length).toBe(1)
      // Holding the session busy keeps idle expiry away.
      const release = session.hold()
      yield* TestClock.adjust("5 minutes")
      expect(session.isOpen).toBe(true)
      release()
      yield* Scope.close(scope, Exit.void)
      expect(session.isOpen).toBe(false)
      yield* session.closed
      expect(session.offer(JsonRpc.request(9, "ping"), writer)).toBe(false)
      expect(session.send(JsonRpc.notification("x"))).toBe(false)
      expect(yield* registry.size).toBe(0)
    }).pipe(Effect.provide(capture().layer)))
})
