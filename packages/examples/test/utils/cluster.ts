/**
 * A cluster of demo processes on one `redis-server` of the test's own: each instance is `dist/main.js --redis`
 * (built by `tsc -b`, which `npm test` runs first) on a free port, killed when the test's scope closes. And the
 * raw requests a client of either transport sends, to any instance.
 */
import type * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { startRedis } from "../../../cluster/test/utils/redisServer.js"
import { type HttpResult, parseObject, request, SseReader } from "../../../node/test/utils/http.js"
import { type DemoExit, startDemoProcess } from "./demoProcess.js"

/** The key every instance of the tests' clusters shares. */
export const CLUSTER_KEY = "a-test-cluster-key-of-at-least-32-characters"

export interface Instance {
  readonly port: number
  readonly child: ChildProcess.ChildProcess
  /** What it printed so far. */
  readonly output: () => string
  /** Resolves with how it exited. */
  readonly exited: Promise<DemoExit>
  readonly signal: (signal: NodeJS.Signals) => void
}

/** Starts one demo instance in the cluster on `redisUrl`, for the current scope; `flags` are added to its own. */
export const startInstance = (
  redisUrl: string,
  leaseMs: number,
  flags: ReadonlyArray<string> = []
): Effect.Effect<Instance, never, Scope.Scope> =>
  // Port 0, read back from the demo's start-up line: a port picked beforehand could be taken before it binds.
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() =>
        startDemoProcess(
          [
            ...["--port", "0", "--advertise", "http://127.0.0.1", "--redis", redisUrl, "--lease-ms", String(leaseMs)],
            ...flags
          ],
          { env: { ...process.env, EFFECT_MCP_CLUSTER_KEY: CLUSTER_KEY } }
        )
      ),
      ({ child }) =>
        Effect.sync(() => {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.kill("SIGCONT")
          child.kill("SIGKILL")
        })
    ),
    ({ child, exited, output, port }) => ({ port, child, output, exited, signal: (signal) => void child.kill(signal) })
  )

/** A `redis-server` and `count` demo instances in the cluster on it, for the current scope. */
export const startCluster = (count: number, leaseMs: number) =>
  Effect.gen(function*() {
    const redis = yield* startRedis
    const instances: ReadonlyArray<Instance> = yield* Effect.all(
      Array.from({ length: count }, () => startInstance(redis.url, leaseMs)),
      { concurrency: "unbounded" }
    )
    return { redis, instances }
  })

const STREAMABLE = { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" }

const initializeRequest = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: { elicitation: {} },
    clientInfo: { name: "cluster-test", version: "1" }
  }
}

/** A POST to `/mcp` of a Streamable HTTP session (or none, for `initialize`). */
export const post = (port: number, sessionId: string | undefined, message: unknown, timeoutMs = 10_000) =>
  request({
    port,
    path: "/mcp",
    body: JSON.stringify(message),
    headers: { ...STREAMABLE, ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }) }
  }).pipe(Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`no answer in ${timeoutMs} ms`) }), Effect.orDie)

/** Opens a Streamable HTTP session on the instance at `port` (initialize, then initialized); gives its id. */
export const openSession = (port: number, initializedOn: number = port) =>
  Effect.gen(function*() {
    const opened = yield* post(port, undefined, initializeRequest)
    const id = opened.headers["mcp-session-id"]
    if (opened.status !== 200 || typeof id !== "string") {
      return yield* Effect.die(new Error(`initialize failed: ${opened.status} ${opened.body}`))
    }
    const initialized = yield* post(initializedOn, id, { jsonrpc: "2.0", method: "notifications/initialized" })
    if (initialized.status !== 202) return yield* Effect.die(new Error(`initialized: ${initialized.status}`))
    return id
  })

/** A notification every session takes: 202 from a live session. */
export const ping = { jsonrpc: "2.0", method: "notifications/roots/list_changed" }

/** A POST to `/messages` of a legacy SSE session. */
export const postMessage = (port: number, sessionId: string, message: unknown) =>
  request({ port, path: `/messages?session_id=${sessionId}`, body: JSON.stringify(message) })

/** The JSON-RPC messages of an SSE body, in order. */
export const messagesOf = (body: string) =>
  body.split("\n").filter((line) => line.startsWith("data:")).map((line) => parseObject(line.slice(5).trim()))

/** A streamed request to a Streamable HTTP session (POST or GET), read as it comes; `destroy` cuts it. */
export class StreamedRequest extends SseReader {
  headers: Http.IncomingHttpHeaders = {}
  /** Resolves once the answer's head came (or the request failed). */
  readonly response: Promise<void>
  private readonly request: Http.ClientRequest
  private responded: () => void = () => undefined

  constructor(
    port: number,
    method: "POST" | "GET",
    headers: Http.OutgoingHttpHeaders,
    body?: unknown
  ) {
    super()
    this.response = new Promise((resolve) => this.responded = resolve)
    const text = body === undefined ? undefined : JSON.stringify(body)
    this.request = Http.request({
      host: "127.0.0.1",
      port,
      method,
      path: "/mcp",
      agent: false,
      headers: {
        ...STREAMABLE,
        ...(text === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
        ...headers
      }
    })
    this.request.on("response", (response) => {
      this.status = response.statusCode
      this.headers = response.headers
      this.responded()
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => this.push(chunk))
      response.on("end", () => this.finish("end"))
      response.on("aborted", () => this.finish("error"))
      response.on("error", () => this.finish("error"))
    })
    this.request.on("error", () => {
      this.responded()
      this.finish("error")
    })
    this.request.end(text)
  }

  /** The first JSON-RPC message that matches, past or future. */
  json(predicate: (message: { readonly [key: string]: unknown }) => boolean, timeoutMs?: number) {
    return this.waitFor((event) => event.data !== "" && predicate(parseObject(event.data)), timeoutMs).then((event) => ({
      id: event.id,
      message: parseObject(event.data)
    }))
  }

  destroy(): void {
    this.request.destroy()
  }
}

/** Opens a streamed request owned by the current scope. */
export const streamed = (
  port: number,
  method: "POST" | "GET",
  headers: Http.OutgoingHttpHeaders,
  body?: unknown
): Effect.Effect<StreamedRequest, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new StreamedRequest(port, method, headers, body)),
    (stream) => Effect.sync(() => stream.destroy())
  )

/** The statuses a series of probes saw, and when the first of a status came (ms since `since`). */
export const firstOf = (seen: ReadonlyArray<{ readonly status: number; readonly at: number }>, status: number) =>
  seen.find((probe) => probe.status === status)?.at

export type { HttpResult }
