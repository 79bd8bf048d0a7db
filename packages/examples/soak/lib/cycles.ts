/**
 * One soak cycle: a client connects over one transport, does random work and ends at a random moment. Every
 * answer is checked; anything unexpected fails the cycle with a `SoakError` whose category the report counts.
 *
 * - legacy SSE: GET /sse, POSTs to its endpoint; ends by cutting the stream (idle, mid-call, right away, with a
 *   POST racing it or cut mid-body).
 * - Streamable HTTP: POSTs to /mcp; ends by DELETE (idle or mid-call), or is abandoned (idle, mid-call, with its
 *   GET stream cut, with a POST cut mid-body) for idle expiry to collect.
 * - stdio: the demo as a process of its own; ends by closing stdin, SIGTERM (idle or mid-call), or SIGKILL
 *   mid-call.
 *
 * The server may also end a session itself, as configured: one with nothing in flight for its idle timeout, one
 * whose handshake (`initialize`, then `notifications/initialized`) is not complete after `HANDSHAKE_TIMEOUT_MS`.
 * No cycle waits that long on purpose, but on a loaded machine the soak's own client can stall that long between
 * two requests. Such a session is a legit end, counted as ending `expired` (its id still goes to the final 404
 * check), but only when the client's own clock proves the server's limit had passed: the silence it measures
 * (from the end of one answer to sending the next request; for the handshake, from sending the GET or receiving
 * the `initialize` answer) is never longer than the one the server saw. Any other 404 still fails the cycle.
 */
import { spawn } from "node:child_process"
import type * as http from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { watchChild } from "../../harness/children.js"
import {
  initializeParams,
  type Reply,
  SseParser,
  isJsonObject,
  type JsonObject,
  jsonRpcNotification,
  jsonRpcRequest,
  PROTOCOL_VERSION
} from "../../harness/http.js"
import { ACCEPT_BOTH, cutPost, messagesOf, postUntil, send, SoakError, SseConnection, TIMEOUT_MS } from "./client.js"
import { type Random } from "./random.js"
import { LogWatch } from "../../harness/logs.js"
import { DEMO_MAIN } from "./server.js"

export type Transport = "sse" | "streamable" | "stdio"

/**
 * Every way each transport's cycle can end, with the relative weight of a random pick. The driver checks that
 * each of them ran (an `expired` session is a legit accident, not a way of ending a cycle picks).
 */
export const ENDINGS = {
  sse: [
    ["disconnect", 6],
    ["disconnect-mid-call", 2],
    ["disconnect-early", 1],
    ["disconnect-mid-post", 1],
    ["disconnect-cut-post", 1]
  ],
  streamable: [
    ["delete", 4],
    ["abandon", 3],
    ["abandon-mid-call", 1],
    ["delete-mid-call", 1],
    ["abandon-stream", 1],
    ["abandon-cut-post", 1]
  ],
  stdio: [["eof", 3], ["sigterm", 2], ["sigterm-mid-call", 1], ["sigkill-mid-call", 1]]
} as const satisfies { readonly [T in Transport]: ReadonlyArray<readonly [string, number]> }

export type Ending<T extends Transport> = (typeof ENDINGS)[T][number][0]

/** The ending a cycle was asked for, or a random one by the weights. */
const endingOf = <T extends Transport>(transport: T, random: Random, asked: Ending<T> | undefined): Ending<T> => {
  const endings: ReadonlyArray<readonly [Ending<T>, number]> = ENDINGS[transport]
  return asked ?? random.pick(endings.map(([ending]) => ending), endings.map(([, weight]) => weight))
}

export interface CycleResult {
  readonly transport: Transport | "modern"
  readonly ending: string
  /** Session ids the server gave out, for the final check that each is gone. */
  readonly sessionIds: ReadonlyArray<string>
}

export interface CycleContext {
  readonly port: number
  /** Keep-alive connections for short requests, as a real client pools them. */
  readonly agent: http.Agent
  /** The server's session idle timeout. */
  readonly idleTimeoutMs: number
  /**
   * Called with a response's `X-Upstream` header (the instance behind nginx that answered, in the cluster mode) when
   * a session was opened: the instance that owns it.
   */
  readonly sawOwner?: (upstream: string) => void
  /** Called for every request whose answer was received and checked. */
  readonly answered?: () => void
  /** Called with the ids the cycle was given so far, each time it is given one: known even if it fails later. */
  readonly opened?: (sessionIds: ReadonlyArray<string>) => void
}

/** The owner named by a response's `X-Upstream` header, when there is one, told to the context. */
const noteOwner = (ctx: CycleContext, headers: http.IncomingHttpHeaders): void => {
  const upstream = headers["x-upstream"]
  if (typeof upstream === "string") ctx.sawOwner?.(upstream)
}

/**
 * How long the demo lets a session take to complete its handshake: SessionRegistry's default, which the demo
 * keeps.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000

/** When a cycle last heard from its session, to tell a session the server expired from a lost one. */
class Silence {
  /** The silence before the latest request was sent, in ms. */
  beforeLast = 0
  private heardAt = performance.now()

  /** Sends a request, noting the silence before it and, once it is over, that the session was heard from. */
  async around<A>(request: () => Promise<A>): Promise<A> {
    this.beforeLast = performance.now() - this.heardAt
    try {
      return await request()
    } finally {
      this.heard()
    }
  }

  /** The session was last busy now (a stream of its just closed). */
  heard(): void {
    this.heardAt = performance.now()
  }
}

const INITIALIZE_PARAMS = initializeParams("effect-mcp-soak")

const sleepParams = (ms: number, progressToken: string) => ({
  name: "sleep",
  arguments: { ms },
  _meta: { progressToken }
})

const expectStatus = (what: string, status: number, expected: number, body = ""): void => {
  if (status !== expected) {
    throw new SoakError(`${what}: HTTP ${status}`, `expected ${expected}; ${body.slice(0, 200)}`, status)
  }
}

/** What a piece of work sends, and how to check its answer. */
interface Work {
  readonly name: string
  readonly method: string
  readonly params?: unknown
  /** Throws when the answer is wrong. */
  readonly check: (response: JsonObject) => void
  /** The progress token of a call that reports progress before its answer. */
  readonly progress: string | undefined
}

const resultOf = (name: string, response: JsonObject): JsonObject => {
  const result = response["result"]
  if (!isJsonObject(result)) throw new SoakError(`${name}: no result`, JSON.stringify(response).slice(0, 200))
  return result
}

const textOf = (result: JsonObject): unknown => {
  const content = result["content"]
  const first: unknown = Array.isArray(content) ? content[0] : undefined
  return isJsonObject(first) ? first["text"] : undefined
}

const errorCode = (name: string, response: JsonObject): number => {
  const error = response["error"]
  if (!isJsonObject(error) || typeof error["code"] !== "number") {
    throw new SoakError(`${name}: no error`, JSON.stringify(response).slice(0, 200))
  }
  return error["code"]
}

/** A random request and its check. `sleepMs` bounds the sleep tool. */
const randomWork = (random: Random, sleepMs: number): Work => {
  const kinds = ["list", "echo", "add", "sleep", "ping", "unknown", "bad-params"] as const
  switch (random.pick(kinds, [2, 4, 3, 2, 1, 1, 1])) {
    case "list":
      return {
        name: "tools/list",
        method: "tools/list",
        progress: undefined,
        check: (response) => {
          const tools = resultOf("tools/list", response)["tools"]
          const names = Array.isArray(tools)
            ? tools.map((t: unknown) => isJsonObject(t) ? t["name"] : undefined).sort()
            : []
          if (!["add", "echo", "sleep"].every((name) => names.includes(name))) {
            throw new SoakError("tools/list: wrong tools", JSON.stringify(names))
          }
        }
      }
    case "echo": {
      const text = random.text(random.int(0, 64))
      return {
        name: "echo",
        method: "tools/call",
        params: { name: "echo", arguments: { text } },
        progress: undefined,
        check: (response) => {
          if (textOf(resultOf("echo", response)) !== text) {
            throw new SoakError("echo: wrong text", JSON.stringify(response).slice(0, 200))
          }
        }
      }
    }
    case "add": {
      const a = random.int(-1e6, 1e6)
      const b = random.int(-1e6, 1e6)
      return {
        name: "add",
        method: "tools/call",
        params: { name: "add", arguments: { a, b } },
        progress: undefined,
        check: (response) => {
          const sum = resultOf("add", response)["structuredContent"]
          if (!isJsonObject(sum) || sum["sum"] !== a + b) {
            throw new SoakError("add: wrong sum", JSON.stringify(response).slice(0, 200))
          }
        }
      }
    }
    case "sleep": {
      const ms = random.int(0, sleepMs)
      const token = `p${random.int(0, 1e9)}`
      return {
        name: "sleep",
        method: "tools/call",
        params: { name: "sleep", arguments: { ms }, _meta: { progressToken: token } },
        progress: token,
        check: (response) => {
          if (textOf(resultOf("sleep", response)) !== `slept ${ms} ms`) {
            throw new SoakError("sleep: wrong answer", JSON.stringify(response).slice(0, 200))
          }
        }
      }
    }
    case "ping":
      return {
        name: "ping",
        method: "ping",
        progress: undefined,
        check: (response) => void resultOf("ping", response)
      }
    case "unknown":
      return {
        name: "unknown method",
        method: `soak/${random.text(6)}`,
        progress: undefined,
        check: (response) => {
          const code = errorCode("unknown method", response)
          if (code !== -32601) throw new SoakError("unknown method: wrong code", JSON.stringify(response).slice(0, 200))
        }
      }
    case "bad-params":
      return {
        name: "bad params",
        method: "tools/call",
        params: { name: "add", arguments: { a: "one", b: [2] } },
        progress: undefined,
        check: (response) => {
          // 2025-11-25 reports bad tool arguments as a tool error, earlier revisions as -32602.
          const result = response["result"]
          if (isJsonObject(result) ? result["isError"] !== true : errorCode("bad params", response) !== -32602) {
            throw new SoakError("bad params: not refused", JSON.stringify(response).slice(0, 200))
          }
        }
      }
  }
}

/** Bodies that are not JSON-RPC requests, and the status each must get. */
const BAD_BODIES: ReadonlyArray<readonly [string, number]> = [
  ["{not json", 400],
  ["{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", 400],
  ["[]", 400],
  ["[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", 400],
  ["42", 400]
]

// --- Legacy SSE ------------------------------------------------------------------------------------------------

export const sseCycle = async (
  ctx: CycleContext,
  random: Random,
  asked?: Ending<"sse">
): Promise<CycleResult> => {
  const ending = endingOf("sse", random, asked)
  const openedAt = performance.now()
  const stream = new SseConnection(ctx.port, "/sse")
  const sessionIds: Array<string> = []
  let initialized = false
  const result = (): CycleResult => ({ transport: "sse", ending, sessionIds })
  try {
    if (ending === "disconnect-early") {
      // Cut at once, or just after the endpoint: the session may or may not have been opened.
      if (random.chance(0.5)) await stream.opened.catch(() => 0)
      if (stream.endpoint !== undefined) sessionIds.push(sessionOf(stream.endpoint))
      ctx.opened?.(sessionIds)
      return result()
    }
    const status = await stream.opened
    noteOwner(ctx, stream.headers)
    expectStatus("GET /sse", status, 200)
    const endpoint = await stream.waitEndpoint()
    sessionIds.push(sessionOf(endpoint))
    ctx.opened?.(sessionIds)
    const post = async (body: string, expected = 202) => {
      const reply = await send({
        port: ctx.port,
        method: "POST",
        path: endpoint,
        agent: ctx.agent,
        headers: { "content-type": "application/json" },
        body
      })
      expectStatus("POST /messages", reply.status, expected, reply.body)
    }
    let next = 0
    const call = async (method: string, params?: unknown): Promise<JsonObject> => {
      const id = `s${next++}`
      await post(jsonRpcRequest(id, method, params))
      const answer = await stream.waitFor(`the answer to ${method}`, (m) => m["id"] === id && !("method" in m))
      ctx.answered?.()
      return answer
    }
    const init = await call("initialize", INITIALIZE_PARAMS)
    if (resultOf("initialize", init)["protocolVersion"] !== PROTOCOL_VERSION) {
      throw new SoakError("initialize: wrong version", JSON.stringify(init).slice(0, 200))
    }
    await post(jsonRpcNotification("notifications/initialized"))
    initialized = true
    for (let steps = random.int(0, 6); steps > 0; steps--) {
      if (random.chance(0.1)) {
        const [body, expected] = random.item(BAD_BODIES)
        await post(body, expected)
        continue
      }
      const work = randomWork(random, 30)
      const answer = await call(work.method, work.params)
      work.check(answer)
      const token = work.progress
      if (token !== undefined && !stream.messages.some((m) => isProgressFor(m, token))) {
        throw new SoakError("sleep: no progress", "before its answer")
      }
    }
    if (ending === "disconnect-mid-call") {
      const token = `p${random.int(0, 1e9)}`
      await post(jsonRpcRequest("long", "tools/call", sleepParams(60_000, token)))
      if (random.chance(0.5)) await stream.waitFor("progress", (m) => isProgressFor(m, token))
    } else if (ending === "disconnect-mid-post") {
      // The stream goes while a POST is on its way: the POST gets 202 (the session took it) or 404 (it was gone).
      const racing = send({
        port: ctx.port,
        method: "POST",
        path: endpoint,
        agent: false,
        headers: { "content-type": "application/json" },
        body: jsonRpcRequest("last", "ping")
      })
      stream.destroy()
      const reply = await racing
      if (reply.status !== 202 && reply.status !== 404) {
        throw new SoakError(`POST racing a disconnect: HTTP ${reply.status}`, reply.body.slice(0, 200))
      }
    } else if (ending === "disconnect-cut-post") {
      await cutPost(ctx.port, endpoint, { "content-type": "application/json" }, jsonRpcRequest("cut", "ping"))
    }
    if (random.chance(0.3)) await sleep(random.int(0, 20))
    return result()
  } catch (error) {
    // The stream is open, so idle expiry never applies; the handshake timeout may, counted from the GET.
    const closed = error instanceof SoakError && (error.status === 404 || error.category === "stream ended")
    if (closed && !initialized && sessionIds.length > 0 && performance.now() - openedAt >= HANDSHAKE_TIMEOUT_MS) {
      return { transport: "sse", ending: "expired", sessionIds }
    }
    throw error
  } finally {
    stream.destroy()
  }
}

const sessionOf = (endpoint: string): string => {
  const id = new URL(endpoint, "http://x").searchParams.get("session_id")
  if (id === null) throw new SoakError("endpoint without session_id", endpoint)
  return id
}

const isProgressFor = (message: JsonObject, token: string): boolean => {
  const params = message["params"]
  return message["method"] === "notifications/progress" && isJsonObject(params) && params["progressToken"] === token
}

// --- Streamable HTTP -------------------------------------------------------------------------------------------

export const streamableCycle = async (
  ctx: CycleContext,
  random: Random,
  asked?: Ending<"streamable">
): Promise<CycleResult> => {
  const silence = new Silence()
  const state = { sessionIds: new Array<string>(), initialized: false }
  try {
    return await streamableLife(ctx, random, endingOf("streamable", random, asked), silence, state)
  } catch (error) {
    // The server expires a session silent for its idle timeout, or, before the handshake is complete, for the
    // handshake timeout (counted from the session's opening, before its `initialize` answer).
    const limit = state.initialized ? ctx.idleTimeoutMs : Math.min(ctx.idleTimeoutMs, HANDSHAKE_TIMEOUT_MS)
    if (error instanceof SoakError && error.status === 404 && state.sessionIds.length > 0 && silence.beforeLast >= limit) {
      return { transport: "streamable", ending: "expired", sessionIds: state.sessionIds }
    }
    if (error instanceof SoakError && error.status === 404) {
      // Said with the silence the client measured, so a 404 near the idle timeout can be told from a lost session.
      throw new SoakError(
        error.category,
        `${error.detail}; session ${state.sessionIds.at(-1)}, sent ${silence.beforeLast.toFixed(1)} ms after the last answer`,
        404
      )
    }
    throw error
  }
}

/** The id of the last event of a finished SSE body, if it had one. */
const lastEventId = (body: string): string | undefined => {
  let last: string | undefined
  const parser = new SseParser((event) => last = event.id ?? last)
  parser.push(body + "\n\n")
  return last
}

/**
 * The answer to a POST whose SSE stream ended before it (in the cluster mode, when the owner went): resumed as a
 * client would, with a GET carrying the stream's last event id. An owner gone answers that 404 (or 503 until its
 * lease lapses), which fails the cycle with that status; an owner still there sends the answer.
 */
const resume = async (
  ctx: CycleContext,
  headers: http.OutgoingHttpHeaders,
  reply: Reply,
  requestId: number,
  name: string,
  silence: Silence
): Promise<JsonObject> => {
  const eventId = lastEventId(reply.body)
  if (!String(reply.headers["content-type"]).startsWith("text/event-stream") || eventId === undefined) {
    throw new SoakError(`${name}: no answer`, reply.body.slice(0, 200))
  }
  const stream = new SseConnection(ctx.port, "/mcp", { ...headers, "last-event-id": eventId })
  try {
    const status = await silence.around(() => stream.opened)
    if (status !== 200) throw new SoakError(`${name}: stream ended, resumed: HTTP ${status}`, `from ${eventId}`, status)
    return await stream.waitFor(`the answer to ${name}, resumed`, (m) => m["id"] === requestId && !("method" in m))
  } finally {
    stream.destroy()
    silence.heard()
  }
}

const streamableLife = async (
  ctx: CycleContext,
  random: Random,
  ending: Ending<"streamable">,
  silence: Silence,
  state: { readonly sessionIds: Array<string>; initialized: boolean }
): Promise<CycleResult> => {
  const sessionIds = state.sessionIds
  const init = await silence.around(() => send({
    port: ctx.port,
    method: "POST",
    path: "/mcp",
    agent: ctx.agent,
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH },
    body: jsonRpcRequest(0, "initialize", INITIALIZE_PARAMS)
  }))
  noteOwner(ctx, init.headers)
  expectStatus("initialize", init.status, 200, init.body)
  ctx.answered?.()
  const id = init.headers["mcp-session-id"]
  if (typeof id !== "string") throw new SoakError("initialize: no Mcp-Session-Id", init.body.slice(0, 200))
  sessionIds.push(id)
  ctx.opened?.(sessionIds)
  const headers = {
    "content-type": "application/json",
    accept: ACCEPT_BOTH,
    "mcp-session-id": id,
    "mcp-protocol-version": PROTOCOL_VERSION
  }
  const streamHeaders = { "mcp-session-id": id, "mcp-protocol-version": PROTOCOL_VERSION }
  const post = (body: string, extra: http.OutgoingHttpHeaders = {}) =>
    silence.around(() =>
      send({ port: ctx.port, method: "POST", path: "/mcp", agent: ctx.agent, headers: { ...headers, ...extra }, body })
    )
  const initialized = await post(jsonRpcNotification("notifications/initialized"))
  expectStatus("notifications/initialized", initialized.status, 202, initialized.body)
  state.initialized = true

  let next = 1
  for (let steps = random.int(0, 6); steps > 0; steps--) {
    const roll = random.int(0, 19)
    if (roll === 0) {
      const [body, expected] = random.item(BAD_BODIES)
      const reply = await post(body)
      expectStatus("bad body", reply.status, expected, reply.body)
    } else if (roll === 1) {
      const reply = await post(jsonRpcRequest(next++, "ping"), { "mcp-protocol-version": "1999-01-01" })
      expectStatus("bad protocol version", reply.status, 400, reply.body)
    } else if (roll === 2) {
      // The standalone GET stream, opened and cut.
      const stream = new SseConnection(ctx.port, "/mcp", streamHeaders)
      try {
        expectStatus("GET /mcp", await silence.around(() => stream.opened), 200)
        if (random.chance(0.5)) await sleep(random.int(0, 10))
      } finally {
        stream.destroy()
        // The open stream kept the session busy until now.
        silence.heard()
      }
    } else {
      const work = randomWork(random, 30)
      const requestId = next++
      const reply = await post(jsonRpcRequest(requestId, work.method, work.params))
      expectStatus(work.name, reply.status, 200, reply.body)
      const messages = messagesOf(reply)
      const answer = messages.find((m) => m["id"] === requestId && !("method" in m)) ??
        await resume(ctx, streamHeaders, reply, requestId, work.name, silence)
      work.check(answer)
      ctx.answered?.()
      const token = work.progress
      if (token !== undefined && !messages.some((m) => isProgressFor(m, token))) {
        throw new SoakError("sleep: no progress", reply.body.slice(0, 200))
      }
    }
  }

  const longCall = (ms: number) =>
    silence.around(() =>
      postUntil(
        ctx.port,
        "/mcp",
        headers,
        jsonRpcRequest("long", "tools/call", sleepParams(ms, "long")),
        (m) => m["method"] === "notifications/progress"
      )
    )
  switch (ending) {
    case "delete":
    case "delete-mid-call": {
      if (ending === "delete-mid-call") {
        // The call's stream is cut once it reports progress; DELETE ends the session with the call still running.
        const cut = await longCall(60_000)
        if (cut.status !== 200) throw new SoakError("long call: no progress", `HTTP ${cut.status}`, cut.status)
        // Its stream ended before any progress: in the cluster mode, the owner went.
        if (!cut.seen) throw new SoakError("stream ended", `long call: no progress before its stream ended; session ${id}`)
      }
      const reply = await silence.around(() =>
        send({
          port: ctx.port,
          method: "DELETE",
          path: "/mcp",
          agent: ctx.agent,
          headers: { "mcp-session-id": id, "mcp-protocol-version": PROTOCOL_VERSION }
        })
      )
      expectStatus("DELETE", reply.status, 204, reply.body)
      if (random.chance(0.3)) {
        const after = await post(jsonRpcRequest(next++, "ping"))
        expectStatus("POST after DELETE", after.status, 404, after.body)
      }
      break
    }
    case "abandon-mid-call": {
      // Cut mid-call and never come back: the call runs to its end, then idle expiry takes the session.
      const cut = await longCall(random.int(100, 1_500))
      if (cut.status !== 200) throw new SoakError("long call", `HTTP ${cut.status}`, cut.status)
      break
    }
    case "abandon-stream": {
      const stream = new SseConnection(ctx.port, "/mcp", streamHeaders)
      try {
        expectStatus("GET /mcp", await silence.around(() => stream.opened), 200)
      } finally {
        stream.destroy()
      }
      break
    }
    case "abandon-cut-post":
      // The connection goes while a request's body is half sent: nothing reaches the session.
      await cutPost(ctx.port, "/mcp", headers, jsonRpcRequest("cut", "ping", { pad: "x".repeat(2_000) }))
      break
    case "abandon":
      break
  }
  return { transport: "streamable", ending, sessionIds }
}

// --- 2026-07-28 (sessionless) ----------------------------------------------------------------------------------

const MODERN = "2026-07-28"

/** What a 2026-07-28 request carries in its `_meta` in place of a session. */
const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "effect-mcp-soak", version: "0.0.0" }
}

/**
 * A 2026-07-28 client's life: a few random calls, each a POST of its own with no session (any instance may serve
 * it), its answer checked as in the session era. `ping` and unknown methods are no 2026-07-28 requests: rolled again.
 */
export const modernCycle = async (ctx: CycleContext, random: Random): Promise<CycleResult> => {
  for (let steps = random.int(1, 6); steps > 0; steps--) {
    let work = randomWork(random, 30)
    while (work.name === "ping" || work.name === "unknown method") work = randomWork(random, 30)
    const params: JsonObject = isJsonObject(work.params) ? work.params : {}
    const meta = isJsonObject(params["_meta"]) ? params["_meta"] : {}
    const name = typeof params["name"] === "string" ? params["name"] : undefined
    const requestId = `m${steps}`
    const reply = await send({
      port: ctx.port,
      method: "POST",
      path: "/mcp",
      agent: ctx.agent,
      headers: {
        "content-type": "application/json",
        accept: ACCEPT_BOTH,
        "mcp-protocol-version": MODERN,
        "mcp-method": work.method,
        ...(name === undefined ? {} : { "mcp-name": name })
      },
      body: jsonRpcRequest(requestId, work.method, { ...params, _meta: { ...meta, ...MODERN_META } })
    })
    expectStatus(`2026-07-28 ${work.name}`, reply.status, 200, reply.body)
    const answer = messagesOf(reply).find((m) => m["id"] === requestId && !("method" in m))
    if (answer === undefined) throw new SoakError(`2026-07-28 ${work.name}: no answer`, reply.body.slice(0, 200))
    work.check(answer)
    ctx.answered?.()
  }
  return { transport: "modern", ending: "calls", sessionIds: [] }
}

// --- stdio -----------------------------------------------------------------------------------------------------

/** Lines of stdout, each one JSON-RPC message; anything else fails the cycle. */
class StdoutLines {
  readonly messages: Array<JsonObject> = []
  private rest = ""
  private waiters: Array<
    { readonly predicate: (m: JsonObject) => boolean; readonly resolve: (m: JsonObject) => void }
  > = []
  bad: string | undefined = undefined

  push(chunk: string): void {
    const lines = (this.rest + chunk).split("\n")
    this.rest = lines.pop() ?? ""
    for (const line of lines) {
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        parsed = undefined
      }
      if (!isJsonObject(parsed) || parsed["jsonrpc"] !== "2.0") {
        this.bad ??= line.slice(0, 200)
        continue
      }
      this.messages.push(parsed)
      const ready = this.waiters.filter((w) => w.predicate(parsed))
      this.waiters = this.waiters.filter((w) => !ready.includes(w))
      for (const waiter of ready) waiter.resolve(parsed)
    }
  }

  errorsWithoutId(): number {
    return this.messages.filter((m) => m["id"] === null && "error" in m).length
  }

  /** An unfinished last line: stdout must end on a newline. */
  get unfinished(): string {
    return this.rest
  }

  waitFor(what: string, predicate: (m: JsonObject) => boolean, exited: () => boolean): Promise<JsonObject> {
    const found = this.messages.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const started = Date.now()
      const timer = setInterval(() => {
        if (exited() || Date.now() - started > TIMEOUT_MS) {
          clearInterval(timer)
          reject(new SoakError(exited() ? "stdio: exited" : "timeout", `waiting for ${what}`))
        }
      }, 25)
      this.waiters.push({
        predicate,
        resolve: (m) => {
          clearInterval(timer)
          resolve(m)
        }
      })
    })
  }
}

export const stdioCycle = async (random: Random, asked?: Ending<"stdio">): Promise<CycleResult> => {
  const ending = endingOf("stdio", random, asked)
  // A short drain period: a signal mid-call lets the call finish or answers it with an error within 200 ms, and the
  // cycle's exit deadline stays well clear of it.
  const child = spawn(process.execPath, [DEMO_MAIN, "--stdio", "--drain-timeout", "200"], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  const watched = watchChild(child)
  const out = new StdoutLines()
  const logs = new LogWatch()
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => out.push(chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => logs.push(chunk))
  // A write after the process went (SIGKILL) is no failure of the server's.
  child.stdin.on("error", () => undefined)
  const gone = () => watched.exit() !== undefined
  const write = (line: string) => child.stdin.write(line + "\n")
  let next = 0
  const call = async (method: string, params?: unknown): Promise<JsonObject> => {
    const id = `c${next++}`
    write(jsonRpcRequest(id, method, params))
    return out.waitFor(`the answer to ${method}`, (m) => m["id"] === id && !("method" in m), gone)
  }
  try {
    const init = await call("initialize", INITIALIZE_PARAMS)
    resultOf("initialize", init)
    write(jsonRpcNotification("notifications/initialized"))
    // A process costs more than a connection: it gets more work.
    for (let steps = random.int(3, 30); steps > 0; steps--) {
      if (random.chance(0.1)) {
        // Answered with an error without an id; the session goes on.
        const before = out.errorsWithoutId()
        write(random.chance(0.5) ? "this is not json" : "{\"jsonrpc\":\"2.0\",\"id\":{}}")
        await out.waitFor("the error for a bad line", () => out.errorsWithoutId() > before, gone)
        continue
      }
      const work = randomWork(random, 20)
      work.check(await call(work.method, work.params))
    }
    if (ending === "sigterm-mid-call" || ending === "sigkill-mid-call") {
      write(jsonRpcRequest("long", "tools/call", sleepParams(60_000, "long")))
      await out.waitFor("progress", (m) => m["method"] === "notifications/progress", gone)
    }
    if (ending === "eof") child.stdin.end()
    else child.kill(ending === "sigkill-mid-call" ? "SIGKILL" : "SIGTERM")
    const code = await Promise.race([watched.exited, sleep(10_000, "none", { ref: false })])
    const expected = ending === "sigkill-mid-call" ? "SIGKILL" : 0
    if (code !== expected) throw new SoakError(`stdio ${ending}: exit ${code}`, `expected ${expected}`)
    if (out.bad !== undefined) throw new SoakError("stdio: a stdout line is no JSON-RPC message", out.bad)
    if (ending !== "sigkill-mid-call" && out.unfinished !== "") {
      throw new SoakError("stdio: stdout ends mid-line", out.unfinished.slice(0, 200))
    }
    if (logs.problemCount > 0) throw new SoakError("stdio: logged at Error level", logs.problems.join(" | "))
    return { transport: "stdio", ending, sessionIds: [] }
  } finally {
    if (!gone()) {
      child.kill("SIGKILL")
      await watched.exited
    }
  }
}
