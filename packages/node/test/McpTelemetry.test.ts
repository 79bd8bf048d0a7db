/**
 * Tracing over real HTTP on 127.0.0.1, in both eras, with a recording tracer: the client's call continues the
 * trace it began in (with its tracestate and baggage), and what the server asks the client continues it the other
 * way, the client's handler under the server's request.
 */
import { describe, expect, it } from "@effect/vitest"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import * as McpServer from "@effect-mcp/core/McpServer"
import { CurrentSession } from "@effect-mcp/core/McpSession"
import * as McpTelemetry from "@effect-mcp/core/McpTelemetry"
import * as McpTool from "@effect-mcp/core/McpTool"
import { NodeMcpClient, NodeMcpServer } from "@effect-mcp/node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { recording } from "../../core/test/utils/tracing.js"

const parentId = (span: Tracer.Span) => Option.getOrUndefined(Option.map(span.parent, (parent) => parent.spanId))

/** What a handler knows of the trace context it runs in. */
const heard = Effect.map(
  Effect.all([McpTelemetry.baggage, McpTelemetry.currentTraceState]),
  ([baggage, state]) => `${baggage.get("tenant") ?? "-"} ${Option.getOrElse(state, () => "-")}`
)

const Ask = McpTool.make("ask", {
  input: Schema.Struct({}),
  handler: () =>
    Effect.gen(function*() {
      const context = yield* heard
      const session = yield* CurrentSession
      const sampled = yield* session.createMessage({
        messages: [{ role: "user", content: { type: "text", text: "hi" } }],
        maxTokens: 10
      })
      const content = Array.isArray(sampled.content) ? sampled.content[0] : sampled.content
      return `${context}; ${content?.type === "text" ? content.text : ""}`
    })
})

const Sampling = McpClientHandlers.layerSampling(() =>
  Effect.map(heard, (text) => ({ role: "assistant" as const, content: { type: "text" as const, text }, model: "m" }))
)

describe("McpTelemetry over HTTP", () => {
  for (const protocol of ["legacy", "modern"] as const) {
    it.scopedLive(`${protocol}: the server's sampling request continues the client's trace, tracestate and baggage included`, () => {
      const { spans, tracer } = recording()
      const traceId = protocol === "legacy" ? "4bf92f3577b34da6a3ce929d0e0e4736" : "5bf92f3577b34da6a3ce929d0e0e4736"
      const upstream = Tracer.externalSpan({
        traceId,
        spanId: "00f067aa0ba902b7",
        context: Context.make(McpTelemetry.TraceState, "vendor=abc")
      })
      return Effect.gen(function*() {
        const served = yield* Layer.build(
          NodeMcpServer.layer({ port: 0 }).pipe(
            Layer.provide(Ask.pipe(Layer.provideMerge(McpServer.layer({ name: "traced", version: "1.0.0" }))))
          )
        )
        const url = `http://127.0.0.1:${Context.get(served, NodeMcpServer.NodeMcpServer).address.port}/mcp`
        const client = Context.get(
          yield* Layer.build(NodeMcpClient.layerHttp({ url, protocol }).pipe(Layer.provide(Sampling))),
          McpClient.McpClient
        )
        const result = yield* client.callTool("ask", {}).pipe(
          McpTelemetry.withBaggage({ tenant: "acme" }),
          Effect.withParentSpan(upstream)
        )
        // The server's handler and the client's sampling handler both ran with the baggage and the tracestate.
        expect(result.content).toEqual([{ type: "text", text: "acme vendor=abc; acme vendor=abc" }])

        const of = (name: string, kind: Tracer.SpanKind) => spans.filter((s) => s.name === name && s.kind === kind)
        const calls = of("tools/call ask", "client")
        expect(calls).toHaveLength(1)
        const call = calls[0]!
        expect(parentId(call)).toBe(upstream.spanId)
        // Every round of the call (two at 2026-07-28: the ask comes back in the result) under the client's span.
        const rounds = of("tools/call ask", "server")
        expect(rounds).toHaveLength(protocol === "legacy" ? 1 : 2)
        for (const round of rounds) expect(parentId(round)).toBe(call.spanId)
        // The client's handler: a server span under the server's client span of the request that asked.
        const answered = of("sampling/createMessage", "server")
        expect(answered).toHaveLength(1)
        const asked = of("sampling/createMessage", "client")
        expect(asked.map((span) => span.spanId)).toContain(parentId(answered[0]!))
        for (const span of [call, ...rounds, ...answered, ...asked]) expect(span.traceId).toBe(traceId)
        // The handshake has its client span, the server's under it.
        const handshake = protocol === "legacy" ? "initialize" : "server/discover"
        const hello = of(handshake, "client")
        expect(hello).toHaveLength(1)
        expect(of(handshake, "server").map(parentId)).toEqual([hello[0]!.spanId])
      }).pipe(Effect.withTracer(tracer))
    }, 30_000)
  }
})
