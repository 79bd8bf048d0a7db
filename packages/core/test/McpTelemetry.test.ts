import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as JsonRpc from "../src/JsonRpc.js"
import { McpClient } from "../src/McpClient.js"
import * as McpClientHandlers from "../src/McpClientHandlers.js"
import type * as McpSchema from "../src/McpSchema.js"
import * as McpServer from "../src/McpServer.js"
import { CurrentSession, type Session } from "../src/McpSession.js"
import * as McpTask from "../src/McpTask.js"
import * as McpTelemetry from "../src/McpTelemetry.js"
import * as McpTest from "../src/McpTest.js"
import * as McpTool from "../src/McpTool.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { exchange, resultOf } from "./utils/sessions.js"
import { recording } from "./utils/tracing.js"

const Echo = McpTool.make("echo", {
  input: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})

const Oops = McpTool.make("oops", {
  input: Schema.Struct({}),
  handler: () => Effect.fail("oops")
})

const Server = Layer.mergeAll(Echo, Oops).pipe(Layer.provideMerge(McpServer.layer({ name: "traced", version: "1.0.0" })))

const one = (spans: ReadonlyArray<Tracer.Span>, name: string, kind: Tracer.SpanKind) => {
  const found = spans.filter((span) => span.name === name && span.kind === kind)
  expect(found, `${kind} span ${name}`).toHaveLength(1)
  return found[0]!
}

const parentId = (span: Tracer.Span) => Option.map(span.parent, (parent) => parent.spanId).pipe(Option.getOrUndefined)

/** The spans from `span` up to its root: their names. */
const ancestry = (span: Tracer.AnySpan): ReadonlyArray<string> =>
  span._tag === "ExternalSpan"
    ? [`external ${span.spanId}`]
    : [span.name, ...Option.match(span.parent, { onNone: () => [], onSome: ancestry })]

/** A trace the client continues, as an app that received it from elsewhere would: with its tracestate. */
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const upstream = Tracer.externalSpan({
  traceId: TRACE_ID,
  spanId: "00f067aa0ba902b7",
  sampled: true,
  context: Context.make(McpTelemetry.TraceState, "vendor=abc")
})

/** What a handler knows of the trace context it runs in: the baggage's `tenant`, and the tracestate. */
const heard = Effect.map(
  Effect.all([McpTelemetry.baggage, McpTelemetry.currentTraceState]),
  ([baggage, state]) => ({ tenant: baggage.get("tenant"), tracestate: Option.getOrUndefined(state) })
)

/** A tool that asks the client everything a server can ask, and says what trace context it ran in. */
const Ask = McpTool.make("ask", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const session = yield* CurrentSession
      const context = yield* heard
      const sampled = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: "hi" } }],
        maxTokens: 10
      })
      const roots = yield* session.listRoots()
      const elicited = yield* session.elicit("ok?", Schema.Struct({ ok: Schema.Boolean }))
      return JSON.stringify({ ...context, model: sampled.model, roots: roots.length, action: elicited.action })
    })
})

/** The client's handlers of what `Ask` asks, each recording the trace context and `_meta` it was called with. */
const clientHandlers = () => {
  const seen: Array<{ readonly method: string; readonly tenant: string | undefined; readonly tracestate: string | undefined; readonly meta: unknown }> = []
  const record = (method: string, meta: unknown) =>
    Effect.map(heard, (context) => {
      seen.push({ method, ...context, meta })
    })
  const layer = Layer.mergeAll(
    McpClientHandlers.layerSampling((params) =>
      Effect.as(record("sampling/createMessage", params._meta), {
        role: "assistant" as const,
        content: { type: "text" as const, text: "hello" },
        model: "test-model"
      })
    ),
    McpClientHandlers.layerRoots(Effect.as(record("roots/list", undefined), [{ uri: "file:///work", name: "work" }])),
    McpClientHandlers.layerElicitation((params) =>
      Effect.as(record("elicitation/create", params._meta), { action: "accept" as const, content: { ok: true } })
    )
  )
  return { seen, layer }
}

describe("McpTelemetry", () => {
  it.effect("a span per request on both sides, named and attributed by the conventions, the client's the server's parent", () => {
    const { spans, tracer } = recording()
    return Effect.gen(function*() {
      const client = yield* McpClient
      yield* client.callTool("echo", { text: "hi" })
      yield* client.callTool("oops", {})
      yield* Effect.either(client.callTool("missing", {}))

      const clientSpan = one(spans, "tools/call echo", "client")
      const serverSpan = one(spans, "tools/call echo", "server")
      const handlerSpan = one(spans, "McpTool echo", "internal")
      // The trace goes on from client to server (through `_meta.traceparent`) to the handler.
      expect(serverSpan.traceId).toBe(clientSpan.traceId)
      expect(parentId(serverSpan)).toBe(clientSpan.spanId)
      expect(parentId(handlerSpan)).toBe(serverSpan.spanId)
      expect(Object.fromEntries(serverSpan.attributes)).toMatchObject({
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "mcp.protocol.version": "2025-11-25",
        "jsonrpc.request.id": expect.any(String)
      })
      expect(serverSpan.attributes.get("mcp.session.id")).toEqual(expect.any(String))
      expect(Object.fromEntries(clientSpan.attributes)).toMatchObject({
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo"
      })
      expect(serverSpan.attributes.has("error.type")).toBe(false)
      // A tool result with isError, on both sides.
      expect(one(spans, "tools/call oops", "server").attributes.get("error.type")).toBe("tool_error")
      expect(one(spans, "tools/call oops", "client").attributes.get("error.type")).toBe("tool_error")
      // A JSON-RPC error: its code, and the span's status is an error.
      const missing = one(spans, "tools/call missing", "server")
      expect(missing.attributes.get("error.type")).toBe("-32602")
      expect(missing.attributes.get("rpc.response.status_code")).toBe("-32602")
      expect(missing.status._tag === "Ended" && missing.status.exit._tag).toBe("Failure")
      expect(one(spans, "tools/call missing", "client").attributes.get("error.type")).toBe("-32602")
      // `initialize` too.
      one(spans, "initialize", "server")

      const histogram = MetricState.isHistogramState
      const server = yield* Metric.value(
        McpTelemetry.serverOperationDuration.pipe(
          Metric.tagged("mcp.method.name", "tools/call"),
          Metric.tagged("gen_ai.tool.name", "echo"),
          Metric.tagged("mcp.protocol.version", "2025-11-25")
        )
      )
      expect(histogram(server) && server.count).toBeGreaterThanOrEqual(1)
      const clientSide = yield* Metric.value(
        McpTelemetry.clientOperationDuration.pipe(
          Metric.tagged("mcp.method.name", "tools/call"),
          Metric.tagged("gen_ai.tool.name", "echo"),
          Metric.tagged("gen_ai.operation.name", "execute_tool")
        )
      )
      expect(histogram(clientSide) && clientSide.count).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.provide(McpTest.layer(Server)), Effect.withTracer(tracer))
  })

  it("trace context: a traceparent is read as the remote parent, and written from a span", () => {
    const parent = McpTelemetry.parentOf({ _meta: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } })
    expect(Option.map(parent, ({ sampled, spanId, traceId }) => ({ traceId, spanId, sampled }))).toEqual(Option.some({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      sampled: true
    }))
    for (const bad of ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x"]) {
      expect(McpTelemetry.parentOf({ _meta: { traceparent: bad } })).toEqual(Option.none())
    }
    const span = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" })
    expect(McpTelemetry.inject({ name: "echo", _meta: { progressToken: 1, baggage: "a=b" } }, span)).toEqual({
      name: "echo",
      _meta: { progressToken: 1, baggage: "a=b", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }
    })
  })

  it.effect("without a tracer, nothing is traced: isTracing is false", () =>
    Effect.map(McpTelemetry.isTracing, (tracing) => expect(tracing).toBe(false)))

  it.effect("the server's requests to the client: a client span there, the client's handler a server span under it, one trace with its tracestate and baggage", () => {
    const { spans, tracer } = recording()
    const handlers = clientHandlers()
    return Effect.gen(function*() {
      const client = yield* McpClient
      const result = yield* client.callTool("ask", {}).pipe(
        McpTelemetry.withBaggage({ tenant: "acme" }),
        Effect.withParentSpan(upstream)
      )
      // The server's handler runs with the baggage and tracestate the client's request carried...
      const text = result.content[0]?.type === "text" ? result.content[0].text : ""
      expect(JSON.parse(text)).toEqual({
        tenant: "acme",
        tracestate: "vendor=abc",
        model: "test-model",
        roots: 1,
        action: "accept"
      })
      // ...and so do the client's handlers of the requests it sends on.
      expect(handlers.seen.map(({ method, tenant, tracestate }) => ({ method, tenant, tracestate }))).toEqual([
        { method: "sampling/createMessage", tenant: "acme", tracestate: "vendor=abc" },
        { method: "roots/list", tenant: "acme", tracestate: "vendor=abc" },
        { method: "elicitation/create", tenant: "acme", tracestate: "vendor=abc" }
      ])

      const call = one(spans, "tools/call ask", "client")
      expect(parentId(call)).toBe(upstream.spanId)
      const tool = one(spans, "McpTool ask", "internal")
      for (const method of ["sampling/createMessage", "roots/list", "elicitation/create"]) {
        const asked = one(spans, method, "client")
        const answered = one(spans, method, "server")
        expect(asked.traceId).toBe(TRACE_ID)
        expect(answered.traceId).toBe(TRACE_ID)
        // Client span on the server, under the tool's handler; the client's handler under it, across the wire.
        expect(parentId(asked)).toBe(tool.spanId)
        expect(parentId(answered)).toBe(asked.spanId)
        expect(asked.attributes.get("mcp.method.name")).toBe(method)
        expect(answered.attributes.get("jsonrpc.request.id")).toEqual(expect.any(String))
        // Both ends name the same request.
        expect(asked.attributes.get("jsonrpc.request.id")).toBe(answered.attributes.get("jsonrpc.request.id"))
        expect(answered.status._tag).toBe("Ended")
      }
      // Each side's chain ends at the other's span, which it knows from `_meta` only: client, server, client.
      expect(ancestry(one(spans, "sampling/createMessage", "client"))).toEqual([
        "sampling/createMessage",
        "McpTool ask",
        "tools/call ask",
        `external ${call.spanId}`
      ])
      expect(ancestry(call)).toEqual(["tools/call ask", `external ${upstream.spanId}`])
      // The wire: each request the server sent carried its span, the tracestate and the baggage.
      const sampling = handlers.seen[0]!.meta
      expect(sampling).toEqual({
        traceparent: `00-${TRACE_ID}-${one(spans, "sampling/createMessage", "client").spanId}-01`,
        tracestate: "vendor=abc",
        baggage: "tenant=acme"
      })

      // The handshake: the probe (which this session-era server does not know) and `initialize`, client spans,
      // the server's `initialize` under the client's.
      expect(one(spans, "server/discover", "client").attributes.get("error.type")).toBe("-32601")
      const initialize = one(spans, "initialize", "client")
      expect(parentId(one(spans, "initialize", "server"))).toBe(initialize.spanId)
    }).pipe(
      Effect.provide(McpTest.layer(Layer.mergeAll(Ask).pipe(Layer.provideMerge(McpServer.layer({ name: "asks", version: "1.0.0" })))).pipe(
        Layer.provide(handlers.layer)
      )),
      Effect.withTracer(tracer)
    )
  })

  it.effect("untraced, no trace context travels: no _meta on the server's requests, no baggage on either side", () => {
    const handlers = clientHandlers()
    return Effect.gen(function*() {
      const client = yield* McpClient
      const result = yield* client.callTool("ask", {}).pipe(McpTelemetry.withBaggage({ tenant: "acme" }))
      const text = result.content[0]?.type === "text" ? result.content[0].text : ""
      expect(JSON.parse(text)).toMatchObject({ model: "test-model" })
      expect(JSON.parse(text)).not.toHaveProperty("tenant")
      expect(handlers.seen.map(({ meta, tenant }) => ({ meta, tenant }))).toEqual([
        { meta: undefined, tenant: undefined },
        { meta: undefined, tenant: undefined },
        { meta: undefined, tenant: undefined }
      ])
    }).pipe(
      Effect.provide(McpTest.layer(Layer.mergeAll(Ask).pipe(Layer.provideMerge(McpServer.layer({ name: "asks", version: "1.0.0" })))).pipe(
        Layer.provide(handlers.layer)
      ))
    )
  })

  it("trace context: tracestate and baggage are read from _meta and written from the span and the baggage", () => {
    const parent = McpTelemetry.parentOf({
      _meta: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`, tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" }
    })
    expect(Option.flatMap(parent, (span) => Option.fromNullable(McpTelemetry.traceStateOf(span)))).toEqual(
      Option.some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    )
    // A child of a span whose trace has a tracestate carries it; `_meta`'s own tracestate and baggage win.
    const child = Tracer.externalSpan({ traceId: TRACE_ID, spanId: "1111111111111111" })
    expect(McpTelemetry.traceStateOf(child)).toBeUndefined()
    expect(McpTelemetry.inject({ name: "x" }, upstream, new Map([["tenant", "a c/me"], ["user", "7"]]))).toEqual({
      name: "x",
      _meta: {
        traceparent: `00-${TRACE_ID}-${upstream.spanId}-01`,
        tracestate: "vendor=abc",
        baggage: "tenant=a%20c%2Fme,user=7"
      }
    })
    expect(McpTelemetry.inject({ _meta: { tracestate: "mine=1", baggage: "mine=2" } }, upstream, new Map([["tenant", "x"]])))
      .toEqual({ _meta: { traceparent: `00-${TRACE_ID}-${upstream.spanId}-01`, tracestate: "mine=1", baggage: "mine=2" } })
    // W3C Baggage: properties dropped, values decoded, malformed members skipped; what is not a token is no name.
    expect(McpTelemetry.decodeBaggage(" tenant = a%20c ; prop=1 ,bad,=x,ok=%E2%9C%93,broken=%E0%A4%A")).toEqual(
      new Map([["tenant", "a c"], ["ok", "✓"]])
    )
    expect(McpTelemetry.encodeBaggage(new Map([["a b", "x"], ["ok", "✓"]]))).toBe("ok=%E2%9C%93")
    expect(McpTelemetry.encodeBaggage(new Map(Array.from({ length: 70 }, (_, i) => [`k${i}`, "v"]))).split(",")).toHaveLength(64)
    expect(McpTelemetry.baggageOf({ _meta: { baggage: "bad" } })).toBeUndefined()
    expect(McpTelemetry.baggageOf({ _meta: { baggage: "tenant=acme" } })).toEqual(new Map([["tenant", "acme"]]))
  })

  it.effect("withBaggage adds to the baggage for the effect it wraps, replacing entries of the same name", () =>
    Effect.gen(function*() {
      const inner = yield* McpTelemetry.baggage.pipe(
        McpTelemetry.withBaggage({ user: "7", tenant: "beta" }),
        McpTelemetry.withBaggage({ tenant: "acme", region: "eu" })
      )
      expect(inner).toEqual(new Map([["tenant", "beta"], ["region", "eu"], ["user", "7"]]))
      expect((yield* McpTelemetry.baggage).size).toBe(0)
    }))

  describe("a task's life as a span", () => {
    const Review = McpTool.make("review", {
      input: Schema.Struct({}),
      taskSupport: "required",
      handler: () =>
        Effect.flatMap(CurrentSession, (session) => session.elicit("ok?", Schema.Struct({ ok: Schema.Boolean }))).pipe(
          Effect.map((answer) => answer.action)
        )
    })
    const Stall = McpTool.make("stall", {
      input: Schema.Struct({}),
      taskSupport: "required",
      handler: () => Effect.never
    })
    const capabilities: McpSchema.ClientCapabilities = { elicitation: {}, extensions: { [McpTask.EXTENSION]: {} } }
    const Server = SessionRegistry.layer({ idleTimeout: Duration.infinity }).pipe(
      Layer.provideMerge(
        Layer.merge(Review, Stall).pipe(Layer.provideMerge(McpServer.layer({ name: "tasks", version: "1.0.0" })))
      )
    )
    /** A session of each era, with the tasks extension and elicitation declared. */
    const sessions: ReadonlyArray<{
      readonly name: string
      readonly open: Effect.Effect<Session, never, SessionRegistry.SessionRegistry | Scope.Scope>
    }> = [
      {
        name: "2025-11-25",
        open: Effect.gen(function*() {
          const registry = yield* SessionRegistry.SessionRegistry
          const session = yield* Effect.orDie(
            registry.open({ transport: "memory", protocolVersion: "2025-11-25", writer: () => true })
          )
          yield* exchange(session, "initialize", {
            protocolVersion: "2025-11-25",
            capabilities,
            clientInfo: { name: "test", version: "1.0.0" }
          })
          session.offer(JsonRpc.notification("notifications/initialized"), () => true)
          return session
        })
      },
      {
        name: "2026-07-28",
        open: Effect.flatMap(SessionRegistry.SessionRegistry, (registry) =>
          Effect.orDie(
            registry.open({ transport: "memory", protocolVersion: "2026-07-28", modern: { clientCapabilities: capabilities } })
          ))
      }
    ]
    const settle = Effect.repeatN(Effect.yieldNow(), 20)

    for (const era of sessions) {
      it.effect(`${era.name}: from the call that made it to its end, under the tools/call, its handler and asks inside`, () => {
        const { spans, tracer } = recording()
        return Effect.gen(function*() {
          const session = yield* era.open
          const traceparent = `00-${TRACE_ID}-00f067aa0ba902b7-01`
          const meta = { traceparent, tracestate: "vendor=abc", baggage: "tenant=acme" }
          const created = resultOf(yield* exchange(session, "tools/call", { name: "review", arguments: {}, _meta: meta }))
          const taskId = String(created.taskId)
          yield* settle
          const parked = resultOf(yield* exchange(session, "tasks/get", { taskId }))
          expect(parked.status).toBe("input_required")
          const asks = parked.inputRequests as { readonly [key: string]: { readonly params: { readonly _meta?: unknown } } }
          const [key, ask] = Object.entries(asks)[0]!
          // The ask a task parks carries the trace on, as a request to the client would.
          const asked = one(spans, "elicitation/create", "client")
          expect(ask.params._meta).toEqual({
            traceparent: `00-${TRACE_ID}-${asked.spanId}-01`,
            tracestate: "vendor=abc",
            baggage: "tenant=acme"
          })
          resultOf(yield* exchange(session, "tasks/update", { taskId, inputResponses: { [key]: { action: "accept", content: { ok: true } } } }))
          yield* settle
          expect(resultOf(yield* exchange(session, "tasks/get", { taskId })).status).toBe("completed")

          const task = one(spans, "McpTask review", "internal")
          expect(task.status._tag).toBe("Ended")
          expect(task.traceId).toBe(TRACE_ID)
          expect(Object.fromEntries(task.attributes)).toMatchObject({
            "mcp.task.id": taskId,
            "mcp.task.status": "completed",
            "gen_ai.tool.name": "review"
          })
          // Under the tools/call that made it (through the store's own span), the client's span its root.
          expect(ancestry(task)).toEqual(["McpTask review", "McpTask.call", "tools/call review", `external 00f067aa0ba902b7`])
          const handler = one(spans, "McpTool review", "internal")
          expect(parentId(handler)).toBe(task.spanId)
          expect(parentId(asked)).toBe(handler.spanId)
        }).pipe(Effect.scoped, Effect.provide(Server), Effect.withTracer(tracer))
      })

      it.effect(`${era.name}: a cancelled task's span ends when it is cancelled, saying so`, () => {
        const { spans, tracer } = recording()
        return Effect.gen(function*() {
          const session = yield* era.open
          const taskId = String(resultOf(yield* exchange(session, "tools/call", { name: "stall", arguments: {} })).taskId)
          yield* settle
          const task = one(spans, "McpTask stall", "internal")
          expect(task.status._tag).toBe("Started")
          resultOf(yield* exchange(session, "tasks/cancel", { taskId }))
          yield* settle
          expect(task.status._tag === "Ended" && task.status.exit._tag).toBe("Failure")
          expect(task.attributes.get("mcp.task.status")).toBe("cancelled")
        }).pipe(Effect.scoped, Effect.provide(Server), Effect.withTracer(tracer))
      })
    }
  })
})
