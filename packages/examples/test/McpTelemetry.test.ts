/**
 * OpenTelemetry over real OTLP/HTTP: the built demo runs with `--otel URL`, a client in this process exports its
 * own spans with `@effect/opentelemetry`, and a small collector on 127.0.0.1 receives both. The client's span of
 * a tool call is the parent of the demo's server span, whose child is the handler's: one trace across processes.
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as NodeMcpClient from "@effect-mcp/node/NodeMcpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import type * as Net from "node:net"
import { startDemoProcess } from "./utils/demoProcess.js"

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: { readonly stringValue?: string } }>
}

/** OTLP's span kinds. */
const SERVER = 2
const CLIENT = 3

const portOf = (address: string | Net.AddressInfo | null): number => {
  if (address === null || typeof address === "string") throw new Error("not a TCP server")
  return address.port
}

/** A collector of OTLP/HTTP JSON on 127.0.0.1: the spans posted to `/v1/traces`, and which services sent them. */
const collector = Effect.acquireRelease(
  Effect.promise(async () => {
    const spans: Array<OtlpSpan & { readonly service: string }> = []
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        if (request.url === "/v1/traces") {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          for (const resource of body.resourceSpans ?? []) {
            const service = resource.resource?.attributes?.find((a: { key: string }) => a.key === "service.name")
              ?.value?.stringValue ?? ""
            for (const scope of resource.scopeSpans ?? []) {
              for (const span of scope.spans ?? []) spans.push({ ...span, service })
            }
          }
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { url: `http://127.0.0.1:${portOf(server.address())}`, spans, server }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

/** The built demo with `args` on port 0, once it listens; `stop` ends it with SIGTERM and gives its exit code. */
const demo = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(() => startDemoProcess(["--port", "0", ...args])),
    (demo) => Effect.promise(demo.stop)
  ).pipe(Effect.map((demo) => ({
    port: demo.port,
    stop: () => demo.stop().then((exit) => exit.code)
  })))

const attribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value.stringValue

describe("McpTelemetry over OTLP/HTTP", () => {
  it.scopedLive("the demo's --otel exports server and handler spans under the client's, in one trace", () =>
    Effect.gen(function*() {
      const otlp = yield* collector
      const server = yield* demo(["--otel", otlp.url])
      const port = server.port

      // The client's spans, exported by its own OTLP layer, flushed when its scope closes.
      const ClientTelemetry = Otlp.layerJson({ baseUrl: otlp.url, resource: { serviceName: "telemetry-test" } }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        const result = yield* client.callTool("echo", { text: "traced" })
        expect(result.content).toEqual([{ type: "text", text: "traced" }])
      }).pipe(
        Effect.provide(NodeMcpClient.layerHttp({ url: `http://127.0.0.1:${port}/mcp` })),
        Effect.provide(ClientTelemetry),
        Effect.scoped
      )
      // The demo flushes its spans as it shuts down.
      expect(yield* Effect.promise(server.stop)).toBe(0)

      const clientSpan = otlp.spans.find((s) => s.name === "tools/call echo" && s.kind === CLIENT)
      const serverSpan = otlp.spans.find((s) => s.name === "tools/call echo" && s.kind === SERVER)
      expect(clientSpan?.service).toBe("telemetry-test")
      expect(serverSpan?.service).toBe("effect-mcp-demo")
      const handlerSpan = otlp.spans.find((s) => s.name === "McpTool echo" && s.service === "effect-mcp-demo")
      expect(serverSpan!.traceId).toBe(clientSpan!.traceId)
      expect(serverSpan!.parentSpanId).toBe(clientSpan!.spanId)
      expect(handlerSpan!.traceId).toBe(clientSpan!.traceId)
      expect(handlerSpan!.parentSpanId).toBe(serverSpan!.spanId)

      expect(attribute(serverSpan!, "mcp.method.name")).toBe("tools/call")
      expect(attribute(serverSpan!, "gen_ai.tool.name")).toBe("echo")
      expect(attribute(serverSpan!, "gen_ai.operation.name")).toBe("execute_tool")
      expect(attribute(serverSpan!, "network.transport")).toBe("tcp")
      expect(attribute(serverSpan!, "mcp.protocol.version")).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(attribute(serverSpan!, "jsonrpc.request.id")).toMatch(/^\d+$/)
      expect(attribute(clientSpan!, "mcp.method.name")).toBe("tools/call")
      expect(attribute(clientSpan!, "gen_ai.tool.name")).toBe("echo")
    }), 30_000)
})
