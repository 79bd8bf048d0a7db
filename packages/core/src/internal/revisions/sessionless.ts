/**
 * The 2026-07-28 (sessionless) era on a session-era endpoint: how a message is recognized as modern, and the
 * ladder of checks a modern request passes before any handler sees it, in the order the conformance suite
 * expects (envelope, mirrored headers, version, method). Shared by the HTTP and stdio transports; stdio has no
 * headers, so it skips that rung.
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"
import * as McpRevision from "../../McpRevision.js"
import * as McpSchema from "../../McpSchema.js"
import * as InputBounds from "../shared/inputBounds.js"
import * as ParamHeaders from "../shared/paramHeaders.js"
import { SessionlessCode, SessionlessRefusal } from "../http/refusal.js"

/** The sessionless revisions served, for -32022's `data.supported` and `server/discover`. @internal */
export const MODERN_VERSIONS: ReadonlyArray<string> = McpRevision.sessionless.map((revision) => revision.version)

/** The reserved `_meta` keys. @internal */
export const Meta = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId"
} as const

/** What a modern request says about its client, for this request only. @internal */
export interface Envelope {
  readonly version: string
  readonly clientCapabilities: McpSchema.ClientCapabilities
  readonly clientInfo: McpSchema.Implementation | undefined
  /** As sent: the server checks it (an invalid level is -32602 in-band). */
  readonly logLevel: unknown
}

const decodeCapabilities = Schema.decodeUnknownEither(McpSchema.ClientCapabilities)
const decodeImplementation = Schema.decodeUnknownEither(McpSchema.Implementation)

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const metaOf = (message: JsonRpc.Message): { readonly [key: string]: unknown } | undefined => {
  if (!("method" in message) || !isRecord(message.params)) return undefined
  const meta = message.params._meta
  return isRecord(meta) ? meta : undefined
}

/** True when the message claims the modern era in its body (`_meta` names a protocol version). @internal */
export const hasClaim = (message: JsonRpc.Message): boolean => {
  const meta = metaOf(message)
  return meta !== undefined && Meta.protocolVersion in meta
}

/**
 * True for an `MCP-Protocol-Version` header that names a revision without sessions, or none served: such a request
 * goes up this ladder, so that it is answered with this era's error (-32022) rather than a session's 400.
 * @internal
 */
export const headerNamesNoSession = (version: string | undefined): boolean =>
  version !== undefined && McpRevision.get(version)?.sessions !== true

/**
 * True when the message is served without a session: a request or notification whose body names its revision in
 * `_meta`, or whose `MCP-Protocol-Version` names a revision without sessions.
 * @internal
 */
export const servedWithoutSession = (message: JsonRpc.Message, headerVersion: string | undefined): boolean =>
  "method" in message && (hasClaim(message) || headerNamesNoSession(headerVersion))

/** The tasks extension's methods, whose `Mcp-Name` mirrors `params.taskId` (SEP-2663 §Routing Headers). */
const TASK_METHODS: ReadonlySet<string> = new Set(["tasks/get", "tasks/update", "tasks/cancel"])

/** What `Mcp-Name` mirrors for a method, if anything. */
const nameOf = (request: JsonRpc.Request): string | undefined => {
  if (!isRecord(request.params)) return undefined
  const key = request.method === "resources/read"
    ? "uri"
    : request.method === "tools/call" || request.method === "prompts/get"
    ? "name"
    : TASK_METHODS.has(request.method)
    ? "taskId"
    : undefined
  if (key === undefined) return undefined
  const value = request.params[key]
  return typeof value === "string" ? value : undefined
}

const unsupported = (id: JsonRpc.RequestId, requested: string) =>
  new SessionlessRefusal({
    code: SessionlessCode.UnsupportedProtocolVersion,
    reason: `Unsupported protocol version: ${requested} (supported: ${MODERN_VERSIONS.join(", ")})`,
    id,
    data: { supported: MODERN_VERSIONS, requested }
  })

const mismatch = (id: JsonRpc.RequestId, reason: string) =>
  new SessionlessRefusal({ code: SessionlessCode.HeaderMismatch, reason: `Header mismatch: ${reason}`, id })

/**
 * Checks a modern request up to its method, in the order the spec's ladder and the conformance suite give:
 * the `_meta` envelope (-32602), the mirrored headers when there are any (-32020, which wins even when the body's
 * version is not served), the version (-32022), a removed method (-32601). `headerOf` is absent on stdio.
 * `paramHeadersOf` gives a tool's `Mcp-Param-*` declarations (SEP-2243), checked with the other mirrored headers.
 * @internal
 */
export const check = (
  request: JsonRpc.Request,
  headerOf: ((name: string) => string | undefined) | undefined,
  paramHeadersOf?: (tool: string) => ReadonlyArray<ParamHeaders.ParamHeader> | undefined
): Envelope | SessionlessRefusal => {
  const id = request.id
  const meta = metaOf(request)
  // What is decoded here, before `Session.offer` checks the rest, is held to the same bounds: the envelope's
  // `_meta` (an envelope error, 400), and the whole of a listen's params, which never reach `offer`.
  const problem = InputBounds.problemOf(request.method === "subscriptions/listen" ? request.params : meta)
  if (problem !== undefined) {
    return new SessionlessRefusal({ code: JsonRpc.ErrorCode.InvalidParams, reason: `Invalid params: ${problem}`, id })
  }
  const version = meta?.[Meta.protocolVersion]
  const headerVersion = headerOf?.("mcp-protocol-version")
  if (version === undefined && headerVersion !== undefined && !MODERN_VERSIONS.includes(headerVersion)) {
    // Routed here by a header naming no revision served at all: the answer that lists what is.
    return unsupported(id, headerVersion)
  }
  const capabilities = decodeCapabilities(meta?.[Meta.clientCapabilities])
  if (meta === undefined || typeof version !== "string" || Either.isLeft(capabilities)) {
    return new SessionlessRefusal({
      code: JsonRpc.ErrorCode.InvalidParams,
      reason: `Invalid params: _meta must carry ${Meta.protocolVersion} (a string) and ${Meta.clientCapabilities} (an object)`,
      id
    })
  }
  if (headerOf !== undefined) {
    const header = (name: string, expected: string) => {
      const raw = headerOf(name)
      if (raw === undefined) return mismatch(id, `the ${name} header is required`)
      const value = ParamHeaders.decodeValue(raw)
      if (value === undefined) return mismatch(id, `the ${name} header is not a valid value`)
      return value === expected ? undefined : mismatch(id, `the ${name} header does not match the body`)
    }
    const refused = header("mcp-protocol-version", version) ?? header("mcp-method", request.method)
    if (refused !== undefined) return refused
    const name = nameOf(request)
    if (name !== undefined) {
      const refusedName = header("mcp-name", name)
      if (refusedName !== undefined) return refusedName
    }
    const declared = request.method === "tools/call" && name !== undefined ? paramHeadersOf?.(name) : undefined
    if (declared !== undefined && declared.length > 0 && isRecord(request.params)) {
      const reason = ParamHeaders.mismatch(declared, request.params.arguments, headerOf)
      if (reason !== undefined) return mismatch(id, reason)
    }
  }
  const revision = McpRevision.get(version)
  if (revision === undefined || revision.negotiation !== "per-request") return unsupported(id, version)
  if (revision.removedMethods.has(request.method)) {
    return new SessionlessRefusal({
      code: JsonRpc.ErrorCode.MethodNotFound,
      reason: `Method not found: ${request.method} (removed in ${version})`,
      id
    })
  }
  // clientInfo is self-reported and optional: one that does not decode is left out, not refused.
  const clientInfo = decodeImplementation(meta[Meta.clientInfo])
  return {
    version,
    clientCapabilities: capabilities.right,
    clientInfo: Either.getOrUndefined(clientInfo),
    logLevel: meta[Meta.logLevel]
  }
}

/** A batch with a modern element: 2026-07-28 has no batches (400, -32600). @internal */
export const batchRefusal = new SessionlessRefusal({
  code: JsonRpc.ErrorCode.InvalidRequest,
  reason: `Invalid request: JSON-RPC batches are not part of ${MODERN_VERSIONS.join(", ")}`,
  id: null
})
