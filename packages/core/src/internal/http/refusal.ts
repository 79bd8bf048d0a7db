/**
 * Every way the HTTP front refuses a request, as tagged errors, and the one place where each becomes its status
 * and its JSON-RPC error body (`id: null`: a refusal answers the HTTP request, not a JSON-RPC one).
 * @internal
 */
import * as Data from "effect/Data"
import { RETRY_AFTER_SECONDS } from "../../Budget.js"
import * as JsonRpc from "../../JsonRpc.js"

/** An `Origin` or `Host` outside the allow-lists (DNS rebinding): 403. @internal */
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly reason: string }> {}

/** The path is not served with this method: 405 with `Allow`. @internal */
export class MethodNotAllowed extends Data.TaggedError("MethodNotAllowed")<{
  readonly allow: string
  readonly reason: string
}> {}

/** `Accept` lacks what the answer needs: 406. @internal */
export class NotAcceptable extends Data.TaggedError("NotAcceptable")<{ readonly needs: string }> {}

/** The body is not JSON: 415. @internal */
export class UnsupportedMediaType extends Data.TaggedError("UnsupportedMediaType")<{}> {}

/** The body is over the limit: 413. @internal */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{ readonly limit: number }> {}

/** The body is not valid JSON: 400 with -32700. @internal */
export class ParseError extends Data.TaggedError("ParseError")<{ readonly reason: string }> {}

/** The body or a header is not a valid request here: 400 with -32600. @internal */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly reason: string }> {}

/** An `MCP-Protocol-Version` the server does not speak: 400. @internal */
export class BadProtocolVersion extends Data.TaggedError("BadProtocolVersion")<{ readonly reason: string }> {}

/** No live session has that id (never existed, ended, or belongs to another transport): 404. @internal */
export class SessionNotFound extends Data.TaggedError("SessionNotFound")<{}> {}

/** No MCP endpoint at that path: 404. @internal */
export class NoSuchPath extends Data.TaggedError("NoSuchPath")<{ readonly path: string }> {}

/**
 * No bearer token, or one the verifier rejects: 401 with the `WWW-Authenticate` challenge (RFC 6750, RFC 9728)
 * that sends the client to the protected resource metadata.
 * @internal
 */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly challenge: string
  readonly reason: string
}> {}

/** The token lacks a scope the request needs: 403 with an `insufficient_scope` challenge. @internal */
export class InsufficientScope extends Data.TaggedError("InsufficientScope")<{
  readonly challenge: string
  readonly reason: string
}> {}

/** A server-wide budget is spent (the session cap, a drain...): 503 with `Retry-After`. @internal */
export class ServiceUnavailable extends Data.TaggedError("ServiceUnavailable")<{ readonly reason: string }> {}

/** The client is past its own share of a budget while others are still served: 429 with `Retry-After`. @internal */
export class TooManyRequests extends Data.TaggedError("TooManyRequests")<{ readonly reason: string }> {}

/**
 * A 2026-07-28 request refused before any handler runs (its envelope, its mirrored headers, its version, its
 * method). Unlike the refusals of a session it answers the JSON-RPC request, so it carries the request's id, and a
 * 2026-07-28 client reads its code to tell a sessionless server from one with sessions: never answer such a
 * request with a session's refusal.
 * @internal
 */
export class SessionlessRefusal extends Data.TaggedError("SessionlessRefusal")<{
  readonly code: number
  readonly reason: string
  readonly id: JsonRpc.RequestId | null
  readonly data?: unknown
}> {}

/** 2026-07-28 codes (`basic/index.mdx` §Error Codes). @internal */
export const SessionlessCode = {
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022
} as const

/**
 * The HTTP status of a 2026-07-28 error response, by its code: the envelope's and routing errors are 400, an
 * unknown method 404 (both MUSTs of the spec); anything a handler raised stays in-band at 200, so the first
 * request of a client that speaks both kinds of revision is not misread as a session's rejection.
 * @internal
 */
export const sessionlessStatus = (code: number): number => {
  switch (code) {
    case JsonRpc.ErrorCode.MethodNotFound:
      return 404
    case JsonRpc.ErrorCode.ParseError:
    case JsonRpc.ErrorCode.InvalidRequest:
    case SessionlessCode.HeaderMismatch:
    case SessionlessCode.MissingRequiredClientCapability:
    case SessionlessCode.UnsupportedProtocolVersion:
      return 400
    default:
      return 200
  }
}

/** @internal */
export type Refusal =
  | Forbidden
  | MethodNotAllowed
  | NotAcceptable
  | UnsupportedMediaType
  | PayloadTooLarge
  | ParseError
  | BadRequest
  | BadProtocolVersion
  | SessionNotFound
  | NoSuchPath
  | Unauthorized
  | InsufficientScope
  | ServiceUnavailable
  | TooManyRequests
  | SessionlessRefusal

/** What a refusal looks like on the wire. @internal */
export interface RefusalResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const JSON_HEADERS: Readonly<Record<string, string>> = { "content-type": "application/json" }

const RETRY_AFTER: Readonly<Record<string, string>> = { "retry-after": String(RETRY_AFTER_SECONDS) }

const response = (
  status: number,
  code: number,
  message: string,
  extra?: Readonly<Record<string, string>>
): RefusalResponse => {
  const body = JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } })
  return {
    status,
    headers: extra === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extra },
    body
  }
}

/** The one mapping from refusal to response. @internal */
export const toResponse = (refusal: Refusal): RefusalResponse => {
  switch (refusal._tag) {
    case "Forbidden":
      return response(403, JsonRpc.ErrorCode.ConnectionClosed, refusal.reason)
    case "MethodNotAllowed":
      return response(405, JsonRpc.ErrorCode.ConnectionClosed, `Method Not Allowed: ${refusal.reason}`, {
        allow: refusal.allow
      })
    case "NotAcceptable":
      return response(406, JsonRpc.ErrorCode.ConnectionClosed, `Not Acceptable: the client must accept ${refusal.needs}`)
    case "UnsupportedMediaType":
      return response(
        415,
        JsonRpc.ErrorCode.InvalidRequest,
        "Unsupported Media Type: Content-Type must be application/json"
      )
    case "PayloadTooLarge":
      return response(
        413,
        JsonRpc.ErrorCode.InvalidRequest,
        `Payload Too Large: the body exceeds ${refusal.limit} bytes`
      )
    case "ParseError":
      return response(400, JsonRpc.ErrorCode.ParseError, refusal.reason)
    case "BadRequest":
      return response(400, JsonRpc.ErrorCode.InvalidRequest, refusal.reason)
    case "BadProtocolVersion":
      return response(400, JsonRpc.ErrorCode.InvalidRequest, refusal.reason)
    case "SessionNotFound":
      return response(404, JsonRpc.ErrorCode.ConnectionClosed, "Not Found: unknown or closed session")
    case "NoSuchPath":
      return response(404, JsonRpc.ErrorCode.MethodNotFound, `Not Found: no MCP endpoint at ${refusal.path}`)
    case "Unauthorized":
      return response(401, JsonRpc.ErrorCode.ConnectionClosed, `Unauthorized: ${refusal.reason}`, {
        "www-authenticate": refusal.challenge
      })
    case "InsufficientScope":
      return response(403, JsonRpc.ErrorCode.ConnectionClosed, `Forbidden: ${refusal.reason}`, {
        "www-authenticate": refusal.challenge
      })
    case "SessionlessRefusal": {
      // The envelope's -32602 is 400 too (a MUST), unlike a handler's in-band -32602.
      const status = refusal.code === JsonRpc.ErrorCode.InvalidParams ? 400 : sessionlessStatus(refusal.code)
      const error = refusal.data === undefined
        ? { code: refusal.code, message: refusal.reason }
        : { code: refusal.code, message: refusal.reason, data: refusal.data }
      return { status, headers: JSON_HEADERS, body: JSON.stringify({ jsonrpc: "2.0", id: refusal.id, error }) }
    }
    case "ServiceUnavailable":
      return response(503, JsonRpc.ErrorCode.ConnectionClosed, `Service Unavailable: ${refusal.reason}`, RETRY_AFTER)
    case "TooManyRequests":
      return response(429, JsonRpc.ErrorCode.ConnectionClosed, `Too Many Requests: ${refusal.reason}`, RETRY_AFTER)
  }
}
