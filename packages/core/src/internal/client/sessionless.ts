/**
 * The 2026-07-28 (sessionless) envelope from the client's side: the per-request `_meta`, the headers that mirror
 * a request, the `server/discover` probe's classifier, and which endpoints the client found to have sessions.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as JsonRpc from "../../JsonRpc.js"
import type { McpClientError } from "../../McpClientError.js"
import * as McpMethod from "../../McpMethod.js"
import * as McpRevision from "../../McpRevision.js"
import * as ParamHeaders from "../shared/paramHeaders.js"

/** The sessionless revisions this client speaks, newest first. @internal */
export const SESSIONLESS_VERSIONS: ReadonlyArray<string> = McpRevision.sessionless.map((revision) => revision.version)
  .reverse()

/** @internal */
export const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
/** @internal */
export const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
/** @internal */
export const CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
/** @internal */
export const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
/** @internal */
export const SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"

/** The spec's codes for errors of the 2026-07-28 envelope. @internal */
export const HEADER_MISMATCH = -32020
/** @internal */
export const MISSING_CLIENT_CAPABILITY = -32021
/** @internal */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022

const isRecord = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * `params` with the per-request `_meta` of a sessionless revision merged in (what the caller put in `_meta`, a
 * progress token, stays).
 * @internal
 */
export const withRequestMeta = (
  params: unknown,
  meta: { readonly [key: string]: unknown }
): { readonly [key: string]: unknown } => {
  const base = isRecord(params) ? params : {}
  const existing = isRecord(base._meta) ? base._meta : {}
  return { ...base, _meta: { ...existing, ...meta } }
}

/** The protocol version a request claims in its `_meta`, when it claims one. @internal */
export const claimedVersion = (message: JsonRpc.Message): string | undefined => {
  if (!("method" in message) || !("id" in message) || !isRecord(message.params)) return undefined
  const meta = message.params._meta
  if (!isRecord(meta)) return undefined
  const version = meta[PROTOCOL_VERSION_KEY]
  return typeof version === "string" ? version : undefined
}

/**
 * A header value as the spec wants it: as is when it is plain visible ASCII without surrounding whitespace, else
 * (or when it looks like the sentinel itself) `=?base64?…?=` of its UTF-8 bytes.
 * @internal
 */
export const headerValue = ParamHeaders.encodeValue

/**
 * The HTTP headers that mirror a sessionless request: `MCP-Protocol-Version`, `Mcp-Method`, and `Mcp-Name` for
 * the methods that name what they act on (the tasks extension's name their task, SEP-2663 §Routing Headers, and
 * a server refuses them without it). Undefined for a message that claims no sessionless revision.
 * @internal
 */
export const requestHeaders = (message: JsonRpc.Message): Record<string, string> | undefined => {
  const version = claimedVersion(message)
  if (version === undefined || !("method" in message)) return undefined
  const headers: Record<string, string> = { "mcp-protocol-version": version, "mcp-method": message.method }
  const params = isRecord(message.params) ? message.params : {}
  const key = McpMethod.routingName(message.method)
  const name = key === undefined ? undefined : params[key]
  if (typeof name === "string") headers["mcp-name"] = headerValue(name)
  return headers
}

const UnsupportedVersionData = Schema.Struct({ supported: Schema.Array(Schema.String) })
const decodeUnsupportedVersionData = Schema.decodeUnknownOption(UnsupportedVersionData)

/** What the answer to a `server/discover` probe says about the server. @internal */
export type Verdict =
  | { readonly _tag: "Initialize" }
  | { readonly _tag: "Retry"; readonly version: string }
  | { readonly _tag: "Fail" }

/**
 * The TypeScript SDK's probe classifier, for the error that answered `server/discover`: a -32022 naming a
 * sessionless revision this client speaks means retry with it (one naming only revisions with sessions means
 * `Initialize`: the server has sessions); -32020/-32021 come only from a sessionless server (fail: the request
 * itself is wrong); -32601, any other in-band error, and a 4xx other than 401/403 without a recognized sessionless
 * body mean `Initialize`. 401, 403, 5xx, a lost connection, a timeout say nothing of what the server speaks: fail.
 * @internal
 */
export const classifyProbe = (error: McpClientError, tried: ReadonlyArray<string>): Verdict => {
  if (error.reason !== "RpcError" && error.reason !== "HttpStatus") return { _tag: "Fail" }
  if (error.reason === "HttpStatus") {
    const status = error.status ?? 0
    if (status === 401 || status === 403 || status < 400 || status >= 500) return { _tag: "Fail" }
  }
  if (error.code === UNSUPPORTED_PROTOCOL_VERSION) {
    const data = decodeUnsupportedVersionData(error.data)
    if (data._tag === "Some") {
      const version = SESSIONLESS_VERSIONS.find((v) => data.value.supported.includes(v) && !tried.includes(v))
      if (version !== undefined) return { _tag: "Retry", version }
      // Only a server that names nothing but revisions with sessions has sessions.
      return data.value.supported.every((v) => McpRevision.get(v)?.negotiation === "initialize")
        ? { _tag: "Initialize" }
        : { _tag: "Fail" }
    }
    return { _tag: "Initialize" }
  }
  if (error.code === HEADER_MISMATCH || error.code === MISSING_CLIENT_CAPABILITY) return { _tag: "Fail" }
  return { _tag: "Initialize" }
}

/** The ids that tag the notifications of a listen stream. @internal */
export const subscriptionIdOf = (notification: JsonRpc.Notification): unknown => {
  const params = isRecord(notification.params) ? notification.params : {}
  const meta = isRecord(params._meta) ? params._meta : {}
  return meta[SUBSCRIPTION_ID_KEY]
}

/**
 * The `Mcp-Param-*` declarations (SEP-2243) of the tools a connection has seen listed: learnt from the answers to
 * its own `tools/list` requests (every page, any revision), so that a later sessionless `tools/call` of such a tool
 * mirrors its arguments in headers. A tool whose declarations break the spec's rules gets no headers (the server
 * will refuse its calls, which is what the spec wants of a client that drops it). Unknown tools get none either:
 * call `tools/list` first.
 * @internal
 */
export class ToolHeaders {
  private readonly byTool = new Map<string, ReadonlyArray<ParamHeaders.ParamHeader>>()
  private readonly listings = new Set<JsonRpc.RequestId>()

  /** Notes a `tools/list` request going out, to read its answer. */
  sent(message: JsonRpc.Message): void {
    if ("method" in message && "id" in message && message.method === "tools/list") this.listings.add(message.id)
  }

  /** Reads the answer to a `tools/list` request this connection sent. */
  received(message: JsonRpc.Message): void {
    if (!("id" in message) || "method" in message || message.id === null || !this.listings.has(message.id)) return
    this.listings.delete(message.id)
    if (!("result" in message) || !isRecord(message.result) || !Array.isArray(message.result.tools)) return
    for (const tool of message.result.tools) {
      if (!isRecord(tool) || typeof tool.name !== "string") continue
      const declared = isRecord(tool.inputSchema) ? ParamHeaders.scan(tool.inputSchema) : Either.right([])
      if (Either.isRight(declared) && declared.right.length > 0) this.byTool.set(tool.name, declared.right)
      else this.byTool.delete(tool.name)
    }
  }

  /** The `Mcp-Param-*` headers of a `tools/call`, when its tool declares some. */
  headersOf(message: JsonRpc.Message): Record<string, string> {
    if (!("method" in message) || message.method !== "tools/call" || !isRecord(message.params)) return {}
    const name = message.params.name
    const declared = typeof name === "string" ? this.byTool.get(name) : undefined
    return declared === undefined ? {} : ParamHeaders.headersOf(declared, message.params.arguments)
  }
}

/**
 * The endpoints one `McpClient` (its layer, or its `make` effect) found to have sessions, kept across connects: such
 * an endpoint is not probed with `server/discover` again but gets `initialize` at once. Only that saves a round
 * trip (a sessionless server's discover result is the handshake itself, so it is asked again).
 * @internal
 */
export class SessionEndpoints {
  private readonly endpoints = new Set<string>()
  has(endpoint: string): boolean {
    return this.endpoints.has(endpoint)
  }
  add(endpoint: string): void {
    this.endpoints.add(endpoint)
  }
  delete(endpoint: string): void {
    this.endpoints.delete(endpoint)
  }
}
