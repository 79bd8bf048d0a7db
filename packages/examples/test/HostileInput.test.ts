/**
 * Hostile input, property-based (fast-check, as `effect/FastCheck`):
 *
 * - the JSON-RPC decoder against a reference model written from the JSON-RPC 2.0 spec;
 * - the whole HTTP front on a real demo server on 127.0.0.1: random and mutated bodies, headers, methods and
 *   paths never crash it, leave no session behind, log nothing at Error level, and get a status the spec allows
 *   for the route, with a JSON-RPC error body (id null) for every refusal;
 * - the stdio transport under random chunking of valid, garbage and over-long lines.
 *
 * Every property runs from a fixed seed, printed once, so a failure reproduces: `HOSTILE_SEED=<n>` picks another
 * and `HOSTILE_RUNS=<factor>` scales the run counts. Each property is bounded by its run count and a time limit,
 * and stops by itself at whichever comes first; it must have made a minimum of runs by then, or it fails, and it
 * prints how many it made.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeMcpServer } from "@effect-mcp/node"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import type * as Http from "node:http"
import * as DemoServer from "../src/DemoServer.js"
import * as Schema from "effect/Schema"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientHandlers from "@effect-mcp/core/McpClientHandlers"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTest from "@effect-mcp/core/McpTest"
import * as McpTool from "@effect-mcp/core/McpTool"
import * as SessionRegistry from "@effect-mcp/core/SessionRegistry"
import * as StdioTransport from "@effect-mcp/core/StdioTransport"
import { assertServing, connectClient, eventually, withDemo } from "./utils/demo.js"
import { boundedRequest, type BoundedResult, errorOf, parseObject, requestPromise } from "../../node/test/utils/http.js"
import { type CapturedLogs, capture } from "../../node/test/utils/logs.js"
import { MODERN_VERSION, postModernBody } from "../../core/test/utils/modern.js"

const envNumber = (name: string): number | undefined => {
  const value = process.env[name]
  const n = value === undefined || value === "" ? Number.NaN : Number(value)
  return Number.isFinite(n) ? n : undefined
}

const SEED = Math.trunc(envNumber("HOSTILE_SEED") ?? 0x4d43_5021)
const SCALE = envNumber("HOSTILE_RUNS") ?? 1
console.log(`[HostileInput] fast-check seed ${SEED} (HOSTILE_SEED=<n> to change), runs x${SCALE}`)

/** How much a property must and may do: every number scales with `HOSTILE_RUNS`. */
interface Bounds {
  /** Runs at most: the property stops there when it has time. */
  readonly numRuns: number
  /** Time at most: the property stops there when it is slower. */
  readonly timeLimitMs: number
  /**
   * Runs at least, or the property fails: one stopped by its time limit after a handful of cases has not checked
   * what it says. About a third of `numRuns`, which this file's properties reach in well under half their time
   * limit on a busy 2-core machine.
   */
  readonly minRuns: number
}

const bounds = (numRuns: number, timeLimitMs: number, minRuns: number): Bounds => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  timeLimitMs: Math.round(timeLimitMs * SCALE),
  minRuns: Math.max(1, Math.round(minRuns * SCALE))
})

/**
 * Checks `property` within `limits`, as `fc.assert` would, then fails unless it made `minRuns` runs before its
 * time limit; prints the count either way.
 */
const checkProperty = async <Ts>(
  name: string,
  property: FastCheck.IRawProperty<Ts>,
  limits: Bounds,
  examples: FastCheck.Parameters<Ts>["examples"] = []
): Promise<void> => {
  const details = await fc.check(property, {
    seed: SEED,
    numRuns: limits.numRuns,
    interruptAfterTimeLimit: limits.timeLimitMs,
    // Stopping at the time limit is no failure by itself: the count of runs is checked below instead.
    markInterruptAsFailure: false,
    examples
  })
  if (details.failed) {
    throw new Error(fc.defaultReportMessage(details) ?? `${name}: failed`, { cause: details.errorInstance })
  }
  console.log(
    `[HostileInput] ${name}: ${details.numRuns} runs (at least ${limits.minRuns}, at most ${limits.numRuns}` +
      `${details.interrupted ? `, stopped by the ${limits.timeLimitMs} ms limit` : ""})`
  )
  expect(details.numRuns, `${name}: runs made within ${limits.timeLimitMs} ms`).toBeGreaterThanOrEqual(limits.minRuns)
}

/** A vitest timeout with room for a property's time limit, its shrinking and its server's start and stop. */
const timeoutFor = (limits: Bounds): number => limits.timeLimitMs + 30_000

// --- The decoder --------------------------------------------------------------------------------------------------

type Kind = "request" | "notification" | "success" | "failure" | "invalid"

const own = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key)
const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)
const isModelId = (u: unknown): boolean => typeof u === "string" || (typeof u === "number" && Number.isFinite(u))

/**
 * What JSON-RPC 2.0 says a value is, written from the spec rather than from the decoder: a method makes it a
 * request (with an id) or a notification; otherwise exactly one of `result` and `error` makes it a response, and
 * an error object has a numeric `code` and a string `message`.
 */
const model = (u: unknown): Kind => {
  if (!isRecord(u) || u["jsonrpc"] !== "2.0") return "invalid"
  if (own(u, "method")) {
    if (typeof u["method"] !== "string") return "invalid"
    if (!own(u, "id")) return "notification"
    return isModelId(u["id"]) ? "request" : "invalid"
  }
  const result = own(u, "result")
  const error = own(u, "error")
  if (result && !error) return isModelId(u["id"]) ? "success" : "invalid"
  if (error && !result) {
    const e = u["error"]
    const idOk = u["id"] === null || isModelId(u["id"])
    return idOk && isRecord(e) && typeof e["code"] === "number" && typeof e["message"] === "string"
      ? "failure"
      : "invalid"
  }
  return "invalid"
}

const kindOf = (decoded: Either.Either<JsonRpc.Message, JsonRpc.JsonRpcError>): Kind => {
  if (Either.isLeft(decoded)) return "invalid"
  const message = decoded.right
  if (JsonRpc.isRequest(message)) return "request"
  if (JsonRpc.isNotification(message)) return "notification"
  return "error" in message ? "failure" : "success"
}

const fc = FastCheck

const anyId = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
const validId = anyId.map((id) => (Object.is(id, -0) ? 0 : id))
const smallJson = fc.jsonValue({ maxDepth: 3 })
const errorObject = fc.record(
  { code: fc.integer(), message: fc.string(), data: smallJson },
  { requiredKeys: ["code", "message"] }
)

/** Valid messages of every kind, with JSON-safe contents. */
const validMessage: FastCheck.Arbitrary<JsonRpc.Message> = fc.oneof(
  fc.record({ id: validId, method: fc.string(), params: smallJson }, { requiredKeys: ["id", "method"] }).map((m) =>
    ({ jsonrpc: "2.0" as const, ...m })
  ),
  fc.record({ method: fc.string(), params: smallJson }, { requiredKeys: ["method"] }).map((m) =>
    ({ jsonrpc: "2.0" as const, ...m })
  ),
  fc.record({ id: validId, result: smallJson }).map((m) => ({ jsonrpc: "2.0" as const, ...m })),
  fc.record({ id: fc.option(validId, { nil: null }), error: errorObject }).map((m) =>
    ({ jsonrpc: "2.0" as const, ...m })
  )
)

/** Any value of the shapes JSON-RPC values take, valid or not: each field may be missing or of any type. */
const envelope = fc.record({
  jsonrpc: fc.oneof(fc.constant("2.0"), fc.constant("1.0"), fc.constant(2), smallJson),
  id: fc.oneof(validId, fc.constant(null), smallJson),
  method: fc.oneof(fc.string(), smallJson),
  params: smallJson,
  result: smallJson,
  error: fc.oneof(
    errorObject,
    fc.record({ code: smallJson, message: smallJson, data: smallJson }, { requiredKeys: [] }),
    smallJson
  ),
  extra: smallJson
}, { requiredKeys: [] })

describe("HostileInput: the JSON-RPC decoder", () => {
  const decodeMessageLimits = bounds(500, 3_000, 150)
  it("decodeMessage never throws on any value, JSON or not", () =>
    checkProperty("decodeMessage", fc.property(fc.anything(), (value) => {
      const decoded = JsonRpc.decodeMessage(value)
      if (Either.isLeft(decoded)) expect(decoded.left.code).toBe(JsonRpc.ErrorCode.InvalidRequest)
    }), decodeMessageLimits), timeoutFor(decodeMessageLimits))

  const decodeBodyLimits = bounds(1_000, 3_000, 300)
  it("decodeBody never throws on any string, and -32700 is exactly what JSON.parse rejects", () =>
    checkProperty("decodeBody", fc.property(
      fc.oneof(
        fc.string(),
        fc.string({ unit: "binary" }),
        fc.json(),
        fc.string({ unit: fc.constantFrom("[", "]", "{", "}", "\"", ":", ",", "1", " ") })
      ),
      (text) => {
        let parses = true
        try {
          JSON.parse(text)
        } catch {
          parses = false
        }
        const decoded = JsonRpc.decodeBody(text)
        expect(Either.isLeft(decoded) && decoded.left.code === JsonRpc.ErrorCode.ParseError).toBe(!parses)
      }
    ), decodeBodyLimits), timeoutFor(decodeBodyLimits))

  const roundTripLimits = bounds(500, 3_000, 150)
  it("valid messages round-trip through JSON text, alone and in batches", () =>
    checkProperty("round trip", fc.property(fc.array(validMessage, { minLength: 1, maxLength: 4 }), (messages) => {
      for (const message of messages) {
        const decoded = JsonRpc.decodeBody(JSON.stringify(message))
        if (Either.isLeft(decoded) || decoded.right._tag !== "Single") {
          throw new Error(`not decoded: ${JSON.stringify(message)}`)
        }
        expect(JSON.stringify(decoded.right.message)).toBe(JSON.stringify(message))
        expect(kindOf(Either.right(decoded.right.message))).toBe(model(message))
      }
      const batch = JsonRpc.decodeBody(JSON.stringify(messages))
      if (Either.isLeft(batch) || batch.right._tag !== "Batch") throw new Error("batch not decoded")
      expect(batch.right.messages.map((m) => Either.isRight(m) ? JSON.stringify(m.right) : undefined)).toEqual(
        messages.map((m) => JSON.stringify(m))
      )
    }), roundTripLimits), timeoutFor(roundTripLimits))

  const classificationLimits = bounds(2_000, 3_000, 600)
  it("the classification matches the reference model, on values and on their JSON text", () =>
    checkProperty(
      "classification",
      fc.property(fc.oneof(envelope, validMessage, fc.jsonValue(), fc.anything()), (value) => {
        let text: string | undefined
        try {
          text = JSON.stringify(value)
        } catch {
          text = undefined
        }
        expect(kindOf(JsonRpc.decodeMessage(value)), text).toBe(model(value))
        if (text === undefined) return
        // What survives JSON, as a body.
        const parsed: unknown = JSON.parse(text)
        const decoded = JsonRpc.decodeBody(text)
        if (!Array.isArray(parsed)) {
          const single = Either.isRight(decoded) && decoded.right._tag === "Single"
            ? kindOf(Either.right(decoded.right.message))
            : Either.isLeft(decoded)
            ? "invalid"
            : "a batch"
          expect(single, text).toBe(model(parsed))
        } else if (parsed.length === 0) {
          expect(Either.isLeft(decoded), text).toBe(true)
        } else {
          if (Either.isLeft(decoded) || decoded.right._tag !== "Batch") throw new Error(`not a batch: ${text}`)
          expect(decoded.right.messages.map(kindOf), text).toEqual(parsed.map(model))
        }
      }),
      classificationLimits,
      // Found by this property (see the regression below): run first on every seed.
      [
        [{ jsonrpc: "2.0", id: 1, error: { code: -32000 } }],
        [{ jsonrpc: "2.0", id: 1, result: 1, error: { code: 1, message: "" } }]
      ]
    ), timeoutFor(classificationLimits))

  it("regression: an error object without a string message, or both result and error, is no response", () => {
    // Found by the model: such a message used to be a Failure, and a client that received one built its
    // McpClientError with `message: undefined`, which the error's schema rejects with a defect.
    for (const value of [
      { jsonrpc: "2.0", id: 1, error: { code: -32000 } },
      { jsonrpc: "2.0", id: 1, error: { code: -32000, message: 7 } },
      { jsonrpc: "2.0", id: null, error: { code: 1, message: null } },
      { jsonrpc: "2.0", id: 1, result: {}, error: { code: 1, message: "m" } }
    ]) {
      expect(kindOf(JsonRpc.decodeMessage(value)), JSON.stringify(value)).toBe("invalid")
    }
  })
})

// --- The HTTP front -----------------------------------------------------------------------------------------------

const BOTH = "application/json, text/event-stream"
const VERSION = "2025-11-25"

/** Session ids are known only once the server runs: the arbitraries name them, each run resolves them. */
type IdToken =
  | { readonly _tag: "Streamable" }
  | { readonly _tag: "Legacy" }
  | { readonly _tag: "Literal"; readonly value: string }

/** A body: text, raw bytes, or one whose size or depth is described rather than generated (cheap to shrink). */
type BodySpec =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Padded"; readonly size: number }
  | {
    readonly _tag: "Nested"
    readonly depth: number
    readonly open: string
    readonly close: string
    readonly where: Where
  }

/** Where a deeply nested value goes: a whole body, an id, params, or a field of params some schema checks. */
const WHERE = ["top", "id", "params", "text", "meta", "uri", "prompt", "initialize", "result"] as const
type Where = (typeof WHERE)[number]
const call = (method: string, params: string) => `{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}`
const NESTED: Record<Where, (deep: string) => string> = {
  top: (deep) => deep,
  id: (deep) => `{"jsonrpc":"2.0","id":${deep},"method":"ping"}`,
  params: (deep) => call("tools/list", deep),
  text: (deep) => call("tools/call", `{"name":"echo","arguments":{"text":${deep}}}`),
  meta: (deep) => call("tools/call", `{"name":"add","arguments":{"a":1,"b":2},"_meta":{"progressToken":${deep}}}`),
  uri: (deep) => call("resources/read", `{"uri":${deep}}`),
  prompt: (deep) => call("prompts/get", `{"name":"review","arguments":${deep}}`),
  initialize: (deep) => call("initialize", `{"protocolVersion":${deep}}`),
  result: (deep) => `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":${deep}}}`
}

interface Case {
  readonly method: string
  readonly path: string
  readonly query: IdToken | undefined
  readonly body: BodySpec
  readonly chunked: boolean
  readonly headers: {
    readonly contentType: string | undefined
    readonly accept: string | undefined
    readonly sessionId: IdToken | undefined
    readonly protocolVersion: string | undefined
    readonly origin: string | undefined
    readonly host: string | undefined
    readonly lastEventId: string | undefined
  }
}

/** Header values `node:http` will send: tab, visible ASCII and Latin-1 (it refuses control characters). */
const headerValue = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constantFrom("\t", "\u00e9", "\u00ff")
  ),
  maxLength: 40
})
/** Request-target characters `node:http` will send. */
const pathChars = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 24
})

const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
)
const idToken: FastCheck.Arbitrary<IdToken> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<IdToken>({ _tag: "Streamable" }) },
  { weight: 2, arbitrary: fc.constant<IdToken>({ _tag: "Legacy" }) },
  { weight: 2, arbitrary: hex32.map((value): IdToken => ({ _tag: "Literal", value })) },
  { weight: 1, arbitrary: headerValue.map((value): IdToken => ({ _tag: "Literal", value })) },
  { weight: 1, arbitrary: fc.constant<IdToken>({ _tag: "Literal", value: "a".repeat(300) }) }
)

const toolCall = fc.oneof(
  fc.record({ name: fc.constant("echo"), arguments: fc.record({ text: fc.string() }) }),
  fc.record({ name: fc.constant("add"), arguments: fc.record({ a: fc.double(), b: fc.integer() }) }),
  fc.record({
    name: fc.constant("sleep"),
    arguments: fc.record({ ms: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(600_000), fc.integer()) }),
    _meta: fc.record({ progressToken: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()) })
  }, { requiredKeys: ["name", "arguments"] }),
  fc.record({ name: fc.string({ maxLength: 8 }), arguments: smallJson }, { requiredKeys: [] })
)
const requestId = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.string({ maxLength: 3 }))

/** Messages a client of the demo sends. */
const mcpMessage: FastCheck.Arbitrary<{ readonly [key: string]: unknown }> = fc.oneof(
  fc.record({
    id: requestId,
    method: fc.constant("initialize"),
    params: fc.record({
      protocolVersion: fc.constantFrom(VERSION, "2025-06-18", "2025-03-26", "2024-11-05", "1999-01-01"),
      capabilities: fc.constant({}),
      clientInfo: fc.constant({ name: "hostile", version: "0" })
    })
  }),
  fc.constant({ method: "notifications/initialized" }),
  fc.record({ id: requestId, method: fc.constantFrom("ping", "tools/list", "resources/list", "prompts/list") }),
  fc.record({ id: requestId, method: fc.constant("tools/call"), params: toolCall }),
  fc.record({
    id: requestId,
    method: fc.constant("resources/read"),
    params: fc.record({ uri: fc.constantFrom("demo://readme", "demo://greetings/Ada", "demo://nope") })
  }),
  fc.record({
    id: requestId,
    method: fc.constant("prompts/get"),
    params: fc.record({ name: fc.constant("review"), arguments: fc.record({ code: fc.string() }) })
  }),
  fc.record({ method: fc.constant("notifications/cancelled"), params: fc.record({ requestId }) }),
  fc.record({ id: requestId, result: smallJson }),
  fc.record({ id: requestId, method: fc.string({ maxLength: 12 }), params: smallJson })
).map((m) => ({ jsonrpc: "2.0", ...m }))

/** A valid message with a field removed, retyped or added. */
const mutated = fc.tuple(
  mcpMessage,
  fc.nat(),
  fc.constantFrom("remove", "retype", "add"),
  smallJson,
  fc.string({ maxLength: 8 })
).map(([message, pick, how, value, name]) => {
  const keys = Object.keys(message)
  const key = keys[pick % keys.length]!
  const copy: { [key: string]: unknown } = { ...message }
  if (how === "remove") delete copy[key]
  else if (how === "retype") copy[key] = value
  else copy[name] = value
  return copy
})

const json = (value: unknown): BodySpec => ({ _tag: "Text", text: JSON.stringify(value) })
const text = (text: string): BodySpec => ({ _tag: "Text", text })

const bodySpec: FastCheck.Arbitrary<BodySpec> = fc.oneof(
  { weight: 6, arbitrary: mcpMessage.map(json) },
  { weight: 4, arbitrary: mutated.map(json) },
  { weight: 2, arbitrary: fc.array(fc.oneof(mcpMessage, mutated), { maxLength: 3 }).map(json) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map(text) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map(text) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): BodySpec => ({ _tag: "Bytes", bytes })) },
  { weight: 1, arbitrary: fc.constant(text("")) },
  // Big and deep values within the 4 MiB limit, and now and then one byte over it.
  {
    weight: 1,
    arbitrary: fc.oneof(fc.integer({ min: 1_000, max: 3_500_000 }), fc.constant(4 * 1024 * 1024 + 1))
      .map((size): BodySpec => ({ _tag: "Padded", size }))
  },
  {
    weight: 1,
    arbitrary: fc.record({
      depth: fc.integer({ min: 100, max: 200_000 }),
      brackets: fc.constantFrom(["[", "]"] as const, ["{\"a\":", "}"] as const),
      where: fc.constantFrom(...WHERE)
    }).map(({ brackets: [open, close], depth, where }): BodySpec => ({ _tag: "Nested", depth, open, close, where }))
  }
)

const maybe = <A>(arbitrary: FastCheck.Arbitrary<A>, weight = 1) =>
  fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary })

const hostileCase: FastCheck.Arbitrary<Case> = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom("POST", "GET", "DELETE") },
    { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "SEARCH") }
  ),
  path: fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom("/mcp", "/sse", "/messages") },
    {
      weight: 2,
      arbitrary: fc.constantFrom("/", "/mcp/", "/MCP", "//mcp", "/sse/../mcp", "/messages/", "/mcp%00", "*")
    },
    { weight: 1, arbitrary: pathChars.map((p) => `/${p}`) }
  ),
  query: maybe(idToken),
  body: bodySpec,
  chunked: fc.boolean(),
  headers: fc.record({
    contentType: maybe(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/vnd.x+json"
          )
        },
        { weight: 1, arbitrary: fc.constantFrom("text/plain", "", "multipart/form-data; b=x", "application/jsonx") },
        { weight: 1, arbitrary: headerValue }
      ),
      1
    ),
    accept: maybe(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(BOTH, "application/json", "text/event-stream", "*/*", "application/*, text/*")
        },
        { weight: 1, arbitrary: fc.constantFrom("text/html", "", "application/xml") },
        { weight: 1, arbitrary: headerValue }
      ),
      1
    ),
    sessionId: maybe(idToken, 2),
    protocolVersion: maybe(
      fc.oneof(fc.constantFrom(VERSION, "2025-06-18", "2025-03-26", "2024-11-05", "2026-07-28"), headerValue),
      3
    ),
    // "self" is the server's own origin, resolved once its port is known.
    origin: maybe(
      fc.oneof(
        fc.constantFrom("self", "http://localhost:5173", "http://evil.example", "null", "https://127.0.0.1.evil.x"),
        headerValue
      ),
      4
    ),
    host: maybe(
      fc.oneof(
        fc.constantFrom("localhost", "evil.example", "127.0.0.1.evil.example", "[::1]:1"),
        headerValue.filter((h) => h.trim() !== "")
      ),
      4
    ),
    lastEventId: maybe(fc.oneof(fc.constantFrom("0:1", "x:0", ":1", "abc:99999999999999999"), headerValue), 4)
  })
})

/** Statuses the spec and the SDKs' conventions allow per route, under the demo's defaults. */
const allowedStatuses = (method: string, path: string): ReadonlySet<number> => {
  switch (path) {
    case "/mcp":
      if (method === "POST") return new Set([200, 202, 400, 403, 404, 406, 413, 415, 503])
      if (method === "GET") return new Set([200, 400, 403, 404, 406])
      if (method === "DELETE") return new Set([204, 400, 403, 404])
      return new Set([403, 405])
    case "/sse":
      return method === "GET" ? new Set([200, 403, 503]) : new Set([403, 405])
    case "/messages":
      return method === "POST" ? new Set([202, 400, 403, 404, 413, 415]) : new Set([403, 405])
    default:
      return new Set([404])
  }
}

const bodyBytes = (spec: BodySpec): Buffer => {
  switch (spec._tag) {
    case "Text":
      return Buffer.from(spec.text)
    case "Bytes":
      return Buffer.from(spec.bytes)
    case "Padded": {
      const frame = JSON.stringify(JsonRpc.request(1, "tools/call", { name: "echo", arguments: { text: "" } }))
      const at = frame.lastIndexOf("\"\"") + 1
      return Buffer.from(frame.slice(0, at) + "x".repeat(Math.max(0, spec.size - frame.length)) + frame.slice(at))
    }
    case "Nested": {
      const deep = spec.open.repeat(spec.depth) + (spec.open === "[" ? "" : "1") + spec.close.repeat(spec.depth)
      return Buffer.from(NESTED[spec.where](deep))
    }
  }
}

const plain: Case["headers"] = {
  contentType: "application/json",
  accept: BOTH,
  sessionId: undefined,
  protocolVersion: undefined,
  origin: undefined,
  host: undefined,
  lastEventId: undefined
}

/** Cases this property found, run first on every seed. */
const REGRESSIONS: Array<[Case]> = [
  // A GET /sse carrying a body the server never reads: Node stopped reading the socket once the request's buffer
  // was full, so the client's disconnect went unseen and the session stayed open until the next keep-alive
  // (15 s). Fixed in NodeExchange.stream, which now discards such a body.
  [{
    method: "GET",
    path: "/sse",
    query: undefined,
    body: { _tag: "Padded", size: 1_000_000 },
    chunked: true,
    headers: plain
  }],
  // Tool arguments nested 2,087 levels deep (12 KB): describing the parse error overflowed the stack in Effect's
  // formatter, and a bad request became an internal error logged at Error level. Fixed in
  // internal/shared/parseError.ts, used wherever params are decoded.
  ...WHERE.map((where): [Case] => [{
    method: "POST",
    path: "/mcp",
    query: undefined,
    body: { _tag: "Nested", depth: 5_000, open: "{\"a\":", close: "}", where },
    chunked: false,
    headers: { ...plain, sessionId: { _tag: "Streamable" } }
  }])
]

describe("HostileInput: the HTTP front", () => {
  // Each run is a request to a real server, and the wait for its sessions to settle.
  const httpLimits = bounds(300, 12_000, 100)
  it.live("random and mutated requests: allowed statuses, JSON-RPC refusals, no session left, no crash", () =>
    withDemo({}, ({ logs, port, registry }) =>
      Effect.gen(function*() {
        // The sessions the test keeps open, as targets of valid-looking and foreign ids.
        const legacy = yield* connectClient(port)
        yield* legacy.initialize
        const openStreamable = async (): Promise<string> => {
          const result = await requestPromise({
            port,
            path: "/mcp",
            body: JSON.stringify(JsonRpc.request(0, "initialize", {
              protocolVersion: VERSION,
              capabilities: {},
              clientInfo: { name: "hostile", version: "0" }
            })),
            headers: { accept: BOTH }
          })
          const id = result.headers["mcp-session-id"]
          if (result.status !== 200 || typeof id !== "string") throw new Error(`initialize answered ${result.status}`)
          return id
        }
        const del = (id: string) =>
          requestPromise({ port, path: "/mcp", method: "DELETE", body: "", headers: { "mcp-session-id": id } })
        let streamable = yield* Effect.promise(openStreamable)
        const kept = 2
        const sizeIs = (n: number) => Effect.map(registry.size, (size) => size === n)
        const resolve = (token: IdToken): string =>
          token._tag === "Streamable" ? streamable : token._tag === "Legacy" ? legacy.sessionId : token.value

        const property = fc.asyncProperty(hostileCase, async (c) => {
          const problemsBefore = logs.problems().length
          const query = c.query === undefined ? "" : `?session_id=${encodeURIComponent(resolve(c.query))}`
          const headers: Http.OutgoingHttpHeaders = {
            "content-type": c.headers.contentType,
            accept: c.headers.accept,
            "mcp-session-id": c.headers.sessionId === undefined ? undefined : resolve(c.headers.sessionId),
            "mcp-protocol-version": c.headers.protocolVersion,
            origin: c.headers.origin === "self" ? `http://127.0.0.1:${port}` : c.headers.origin,
            host: c.headers.host,
            "last-event-id": c.headers.lastEventId
          }
          const label = `${c.method} ${c.path}${query} ${JSON.stringify(headers)}`
          const result: BoundedResult = await boundedRequest({
            port,
            method: c.method,
            path: c.path + query,
            body: bodyBytes(c.body),
            chunked: c.chunked,
            headers,
            readMs: 40,
            answerMs: 10_000
          })
          const allowed = allowedStatuses(c.method, c.path)
          expect(allowed.has(result.status), `${label}: ${result.status} ${result.body.slice(0, 200)}`).toBe(true)
          if (result.status >= 400 && c.method !== "HEAD") {
            // Every refusal: a JSON-RPC error without an id, a negative code, a message.
            expect(String(result.headers["content-type"]), label).toMatch(/^application\/json/)
            expect(errorOf(result.body).code, label).toBeLessThan(0)
          }
          if (result.status === 202 || result.status === 204) expect(result.body, label).toBe("")
          const isJson = /^application\/json/.test(String(result.headers["content-type"]))
          if (result.status === 200 && !result.cut && isJson) {
            // A JSON answer answers the request(s): JSON-RPC responses.
            const answers: Array<unknown> = [JSON.parse(result.body)].flat()
            for (const m of answers) {
              expect(isRecord(m) && m["jsonrpc"] === "2.0" && ("result" in m || "error" in m), label).toBe(true)
            }
          }
          // What the request opened is the test's: a new session is ended, an ended fixture replaced.
          const minted = result.headers["mcp-session-id"]
          if (typeof minted === "string" && minted !== streamable) {
            expect((await del(minted)).status, `DELETE ${minted} after ${label}`).toBe(204)
          }
          if (c.method === "DELETE" && result.status === 204 && headers["mcp-session-id"] === streamable) {
            streamable = await openStreamable()
          }
          const settled = await Effect.runPromise(Effect.either(Effect.sandbox(eventually(sizeIs(kept), 5_000))))
          if (Either.isLeft(settled)) {
            const open = await Effect.runPromise(registry.sessions)
            throw new Error(
              `${label}: sessions open ${JSON.stringify(open.map((s) => [s.id, s.transport, s.isOpen]))}, ` +
                `kept ${streamable} and ${legacy.sessionId}`
            )
          }
          const problems = logs.problems().slice(problemsBefore)
          expect(problems.map((p) => `${p.message}: ${Cause.pretty(p.cause)}`), label).toEqual([])
        })
        yield* Effect.promise(() => checkProperty("HTTP front", property, httpLimits, REGRESSIONS))

        // The server still serves; the legacy session the test kept is untouched; nothing else is open.
        expect((yield* legacy.request("tools/list")).result).toBeDefined()
        yield* assertServing(port)
        yield* Effect.promise(() => del(streamable))
        yield* eventually(sizeIs(1))
      })), timeoutFor(httpLimits))
})

// --- stdio ---------------------------------------------------------------------------------------------------------

const MAX_LINE = 512

/** One line of stdin and what it must cause on stdout. */
type StdioLine =
  /** Answered exactly once, with its id. */
  | { readonly _tag: "Request"; readonly method: string; readonly params: unknown }
  /** Answered by nothing. */
  | { readonly _tag: "Quiet"; readonly text: string }
  /** Answered by one error without an id. */
  | { readonly _tag: "Garbage"; readonly bytes: Uint8Array }
  /** Over the limit: one error without an id, and the request in it is never served. */
  | { readonly _tag: "Long"; readonly padding: number }

const encoder = new TextEncoder()
const noNewline = (bytes: Uint8Array) => bytes.filter((b) => b !== 0x0a)

const stdioLine: FastCheck.Arbitrary<StdioLine> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.oneof(
      fc.constant({ method: "ping", params: undefined }),
      fc.constant({ method: "tools/list", params: undefined }),
      // Multi-byte characters, which a chunk boundary may split, and characters JSON escapes.
      fc.string({
        unit: fc.oneof(
          fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
          fc.constantFrom("é", "€", "😀", "\n", "\r", "\u2028", "\u0000", "\"")
        )
      }).map((text) => ({ method: "tools/call", params: { name: "echo", arguments: { text } } })),
      fc.tuple(fc.double(), fc.double())
        .map(([a, b]) => ({ method: "tools/call", params: { name: "add", arguments: { a, b } } })),
      fc.record({ name: fc.string({ maxLength: 6 }), arguments: smallJson })
        .map((params) => ({ method: "tools/call", params })),
      fc.constant({ method: "resources/read", params: { uri: "demo://readme" } }),
      fc.string({ maxLength: 10 }).map((method) => ({ method, params: undefined }))
    ).map((r): StdioLine => ({ _tag: "Request", ...r }))
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "   ",
      "\t",
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
      "{\"jsonrpc\":\"2.0\",\"id\":\"nobody\",\"result\":{}}"
    ).map((text): StdioLine => ({ _tag: "Quiet", text }))
  },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.string({ unit: "binary", maxLength: 60 }).map((s) => encoder.encode(`x${s}`)),
      fc.uint8Array({ maxLength: 60 }).map((bytes) => Uint8Array.of(0x78, ...bytes)),
      fc.constantFrom(
        "[]",
        "[1]",
        "null",
        "42",
        "\"ping\"",
        "{}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
        "[{\"jsonrpc\":\"2.0\",\"id\":\"batched\",\"method\":\"ping\"}]",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}"
      ).map((text) => encoder.encode(text))
    ).map((bytes): StdioLine => ({ _tag: "Garbage", bytes: noNewline(bytes) }))
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_LINE, max: 4 * MAX_LINE }).map((padding): StdioLine => ({ _tag: "Long", padding }))
  }
)

const stdioCase = fc.record({
  lines: fc.array(fc.tuple(stdioLine, fc.constantFrom("\n", "\r\n")), { maxLength: 30 }),
  /** Where the byte stream is cut into chunks (taken modulo its length). */
  cuts: fc.array(fc.nat(), { maxLength: 64 }),
  /** A last line of garbage left without its newline: EOF ends it. */
  tail: fc.option(fc.constantFrom("not json", "[]"), { nil: undefined })
})

describe("HostileInput: stdio", () => {
  // Each run is a whole stdio session on the demo server.
  const stdioLimits = bounds(150, 6_000, 50)
  it.live("random chunkings of valid, garbage, over-long lines: each request answered once, one message a line", () =>
    Effect.gen(function*() {
      const property = fc.asyncProperty(stdioCase, async ({ cuts, lines, tail }) => {
        const requests = new Set<string>()
        /** What each echo must come back with: text split across chunks mid-character included. */
        const echoes = new Map<string, string>()
        const refused = new Set<string>()
        /** Errors without an id before EOF; an unfinished last line gets its own at EOF. */
        let nullErrors = 0
        const parts: Array<Uint8Array> = [
          encoder.encode(JSON.stringify(JsonRpc.request("init", "initialize", {
            protocolVersion: VERSION,
            capabilities: {},
            clientInfo: { name: "hostile", version: "0" }
          })) + "\n")
        ]
        requests.add("init")
        lines.forEach(([line, ending], index) => {
          switch (line._tag) {
            case "Request": {
              const id = `r${index}`
              requests.add(id)
              const params = line.params
              if (isRecord(params) && params["name"] === "echo" && isRecord(params["arguments"])) {
                echoes.set(id, String(params["arguments"]["text"]))
              }
              parts.push(encoder.encode(JSON.stringify(JsonRpc.request(id, line.method, params)) + ending))
              break
            }
            case "Quiet":
              parts.push(encoder.encode(line.text + ending))
              break
            case "Garbage":
              nullErrors++
              parts.push(line.bytes, encoder.encode(ending))
              break
            case "Long": {
              const id = `long${index}`
              refused.add(id)
              nullErrors++
              const params = { name: "echo", arguments: { text: "x".repeat(line.padding) } }
              parts.push(encoder.encode(JSON.stringify(JsonRpc.request(id, "tools/call", params)) + ending))
              break
            }
          }
        })
        if (tail !== undefined) parts.push(encoder.encode(tail))
        const all = Buffer.concat(parts)
        const at = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b)
        const chunks = [...at, all.length].map((end, i) => all.subarray(i === 0 ? 0 : at[i - 1], end))

        const out: Array<string> = []
        const parsed = () =>
          out.map((text) => {
            expect(text.endsWith("\n"), text).toBe(true)
            expect(text.slice(0, -1), text).not.toContain("\n")
            const message: unknown = JSON.parse(text)
            if (!isRecord(message) || message["jsonrpc"] !== "2.0") throw new Error(`not JSON-RPC: ${text}`)
            return message
          })
        const answered = () => {
          const counts = new Map<unknown, number>()
          for (const m of parsed()) if (!("method" in m)) counts.set(m["id"], (counts.get(m["id"]) ?? 0) + 1)
          return counts
        }
        const complete = () => {
          const counts = answered()
          return [...requests].every((id) => counts.has(id)) && (counts.get(null) ?? 0) >= nullErrors
        }
        // The input ends once everything was answered, or after a bound: EOF ends the session and what runs in it.
        const waited = Effect.gen(function*() {
          const until = Date.now() + 15_000
          while (!complete() && Date.now() < until) yield* Effect.sleep("5 millis")
        })
        const logs = capture()
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          // Built in this scope: the demo's tools are registered for as long as it lives.
          const server = yield* Layer.build(DemoServer.layer)
          const registry = yield* SessionRegistry.make({ idleTimeout: "1 minute" }).pipe(Effect.provide(server))
          const input = Stream.concat(Stream.fromIterable(chunks), Stream.drain(Stream.fromEffect(waited)))
          yield* StdioTransport.serve(input, (text) => {
            out.push(text)
            return true
          }, { maxLineLength: MAX_LINE }).pipe(Effect.provideService(SessionRegistry.SessionRegistry, registry))
          expect(yield* registry.size).toBe(0)
        })).pipe(Effect.provide(logs.layer)))

        const counts = answered()
        for (const id of requests) expect(counts.get(id), `answers to ${id}`).toBe(1)
        for (const id of refused) expect(counts.has(id), `${id} was over the limit`).toBe(false)
        expect(counts.get(null) ?? 0, "errors without an id").toBe(nullErrors + (tail === undefined ? 0 : 1))
        expect([...counts.keys()].filter((id) => id !== null && !requests.has(String(id)))).toEqual([])
        for (const message of parsed()) {
          const text = echoes.get(String(message["id"]))
          if (text !== undefined) expect(message["result"]).toEqual({ content: [{ type: "text", text }] })
        }
        expect(logs.problems().map((p) => p.message)).toEqual([])
      })
      yield* Effect.promise(() => checkProperty("stdio", property, stdioLimits))
    }), timeoutFor(stdioLimits))
})

// --- Values inside messages -----------------------------------------------------------------------------------------

/** The JSON text of a value nested `depth` objects deep (built as text: `JSON.stringify` would recurse). */
const nested = (depth: number): string => `${"{\"v\":".repeat(depth)}"leaf"${"}".repeat(depth)}`

/** Tools that record what their handlers saw, and the demo's `add` and `review`. */
const recordingServer = (seen: Array<unknown>) => {
  const record = <A>(value: A) => Effect.sync(() => (seen.push(value), "seen"))
  return Layer.mergeAll(
    McpTool.make("echo", { input: Schema.Struct({ text: Schema.String }), handler: ({ text }) => record(text) }),
    McpTool.make("route", {
      input: Schema.Struct({ region: Schema.String }),
      headers: { region: "Region" },
      handler: ({ region }) => record(region)
    }),
    McpTool.make("keep", { input: Schema.Struct({ value: Schema.Unknown }), handler: ({ value }) => record(value) }),
    DemoServer.Add,
    DemoServer.Review
  ).pipe(Layer.provideMerge(McpServer.layer({ name: "inputs", version: "0" })))
}

/** Serves the recording server on 127.0.0.1 for the scope, logging to `logs`; its Streamable HTTP endpoint. */
const serveRecording = (seen: Array<unknown>, logs: CapturedLogs) =>
  Layer.build(NodeMcpServer.layer({ port: 0 }).pipe(Layer.provide(recordingServer(seen)))).pipe(
    Effect.map((context) => `http://127.0.0.1:${Context.get(context, NodeMcpServer.NodeMcpServer).address.port}/mcp`),
    Effect.orDie,
    Effect.provide(logs.layer)
  )

const modernMeta = JSON.stringify({
  "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
  "io.modelcontextprotocol/clientCapabilities": {}
})

/**
 * A 2026-07-28 request whose params are written as JSON text (`{META}` stands for the `_meta` envelope), so that
 * the body may hold what `JSON.stringify` never writes (`1e309`, a `__proto__` key); the answer, JSON or SSE.
 */
const postText = async (url: string, method: string, name: string | undefined, params: string, headers = {}) => {
  const body = `{"jsonrpc":"2.0","id":7,"method":${JSON.stringify(method)},"params":${params.replace("{META}", modernMeta)}}`
  const { status, text } = await postModernBody(url, method, name, body, headers)
  return { status, body: parseObject(text) }
}

const callText = (url: string, name: string, args: string, headers = {}) =>
  postText(url, "tools/call", name, `{"name":${JSON.stringify(name)},"arguments":${args},"_meta":{META}}`, headers)

/** Runs `body` against the recording server; the run fails if the server logged anything at Error level. */
const withRecording = <A>(body: (url: string, seen: ReadonlyArray<unknown>) => Promise<A>) =>
  Effect.gen(function*() {
    const logs = capture()
    const seen: Array<unknown> = []
    const url = yield* serveRecording(seen, logs)
    yield* Effect.promise(() => body(url, seen))
    expect(logs.problems().map((entry) => entry.message)).toEqual([])
  })

describe("HostileInput: values inside messages", () => {
  it.scopedLive("a __proto__ key is -32602 on every path, before a handler or the Mcp-Param-* check sees it", () =>
    withRecording(async (url, seen) => {
      const invalid = { status: 200, body: { id: 7, error: { code: JsonRpc.ErrorCode.InvalidParams } } }
      // Schema's Record decoding would make it the arguments' prototype, and the handler would read "INHERITED".
      const echo = await callText(url, "echo", `{"__proto__":{"text":"INHERITED"}}`)
      expect(echo).toMatchObject(invalid)
      expect(echo.body.error).toMatchObject({ message: "Invalid params: the key __proto__ is not allowed" })
      // Sent plainly, a mirrored argument without its header is refused; hidden, it must not get through instead.
      expect(await callText(url, "route", `{"region":"eu"}`)).toMatchObject({ status: 400, body: { error: { code: -32020 } } })
      expect(await callText(url, "route", `{"__proto__":{"region":"eu"}}`)).toMatchObject(invalid)
      // The other keys prototype pollution goes through, at any depth.
      expect(await callText(url, "keep", `{"value":{"a":[{"constructor":{"prototype":{}}}]}}`)).toMatchObject(invalid)
      // Prompt arguments, completion context and _meta go through the same check.
      expect(await postText(url, "prompts/get", "review", `{"name":"review","arguments":{"__proto__":{"code":"x"}},"_meta":{META}}`))
        .toMatchObject(invalid)
      expect(
        await postText(
          url,
          "completion/complete",
          undefined,
          `{"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"code","value":"x"},` +
            `"context":{"arguments":{"__proto__":{"focus":"y"}}},"_meta":{META}}`
        )
      ).toMatchObject(invalid)
      // In `_meta` it is the envelope that is invalid, refused before anything decodes it: 400, as the spec has
      // envelope errors answered.
      expect(await postText(url, "tools/list", undefined, `{"_meta":{"__proto__":{},${modernMeta.slice(1, -1)}}}`))
        .toMatchObject({ ...invalid, status: 400 })
      // The same values without those keys are served.
      expect(await callText(url, "echo", `{"text":"plain"}`)).toMatchObject({ status: 200, body: { result: {} } })
      expect(seen).toEqual(["plain"])
    }))

  it.scopedLive("arguments nested past the bound are -32602, not a stack overflow; within it they are served", () =>
    withRecording(async (url, seen) => {
      // 5,000 levels in some 30 KB: the arguments' digest (requestState binding) and Schema recursed on them.
      const deep = await callText(url, "keep", `{"value":${nested(5_000)}}`)
      expect(deep).toMatchObject({ status: 200, body: { id: 7, error: { code: JsonRpc.ErrorCode.InvalidParams } } })
      expect(deep.body.error).toMatchObject({ message: expect.stringContaining("more than 64 levels deep") })
      // params is level 1 and arguments level 2: 62 objects in value reach the 64th level, one more is past it.
      expect(await callText(url, "keep", `{"value":${nested(62)}}`)).toMatchObject({ body: { result: {} } })
      expect(await callText(url, "keep", `{"value":${nested(63)}}`)).toMatchObject({
        body: { error: { code: JsonRpc.ErrorCode.InvalidParams } }
      })
      expect(seen).toEqual([JSON.parse(nested(62))])
    }))

  it.scopedLive("a number past the doubles (1e309, which JSON.parse reads as Infinity) is -32602", () =>
    withRecording(async (url) => {
      const huge = await callText(url, "add", `{"a":1e309,"b":1}`)
      expect(huge).toMatchObject({ status: 200, body: { id: 7, error: { code: JsonRpc.ErrorCode.InvalidParams } } })
      expect(huge.body.error).toMatchObject({ message: expect.stringContaining("must be finite") })
      expect(await callText(url, "add", `{"a":-1e400,"b":1}`)).toMatchObject({
        body: { error: { code: JsonRpc.ErrorCode.InvalidParams } }
      })
      expect(await callText(url, "add", `{"a":1e308,"b":1}`)).toMatchObject({ body: { result: { structuredContent: { sum: 1e308 } } } })
    }))

  it.live("the session era too: a __proto__ key in tool arguments is answered -32602 with the request's id", () =>
    withDemo({}, ({ port }) =>
      Effect.gen(function*() {
        const client = yield* connectClient(port)
        yield* client.initialize
        const answer = yield* client.request("tools/call", { name: "echo", arguments: JSON.parse(`{"__proto__":{"text":"INHERITED"}}`) })
        expect(answer).toMatchObject({ error: { code: JsonRpc.ErrorCode.InvalidParams } })
        expect(answer).not.toHaveProperty("result")
      })))

  it.effect("a client's answer with a __proto__ key fails the ask instead of reaching the handler", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      // The form's schema decodes `content` as a record: the key would become its prototype, and `confirm` true.
      const result = yield* client.callTool("confirm", { action: "deploy" })
      expect(result).toMatchObject({
        isError: true,
        content: [{ type: "text", text: expect.stringContaining("the key __proto__ is not allowed") }]
      })
    }).pipe(
      Effect.provide(McpTest.layer(DemoServer.layer).pipe(
        Layer.provide(McpClientHandlers.layerElicitation(() =>
          Effect.sync(() => JSON.parse(`{"action":"accept","content":{"__proto__":{"confirm":true}}}`))
        ))
      ))
    ))
})
