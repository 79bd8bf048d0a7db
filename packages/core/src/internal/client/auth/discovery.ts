/**
 * Discovery, as the MCP authorization spec (2025-11-25) orders it: the protected resource metadata (RFC 9728),
 * from the challenge's `resource_metadata`, else at the well-known URIs (path-suffixed, then root); then the
 * authorization server's metadata (RFC 8414, then OpenID Connect discovery, path-aware). A server without
 * resource metadata is a 2025-03-26 one: its origin is the authorization server, with default endpoints when it
 * publishes no metadata either.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { McpAuthError, type Step } from "./types.js"

/** The members of protected resource metadata the flow reads. @internal */
export const ResourceMetadata = Schema.Struct({
  resource: Schema.String,
  authorization_servers: Schema.NonEmptyArray(Schema.String),
  scopes_supported: Schema.optional(Schema.Array(Schema.String))
})
/** @internal */
export type ResourceMetadata = typeof ResourceMetadata.Type

/** The members of authorization server metadata the flow reads. @internal */
export const ServerMetadata = Schema.Struct({
  issuer: Schema.String,
  authorization_endpoint: Schema.optional(Schema.String),
  token_endpoint: Schema.String,
  registration_endpoint: Schema.optional(Schema.String),
  scopes_supported: Schema.optional(Schema.Array(Schema.String)),
  grant_types_supported: Schema.optional(Schema.Array(Schema.String)),
  code_challenge_methods_supported: Schema.optional(Schema.Array(Schema.String)),
  token_endpoint_auth_methods_supported: Schema.optional(Schema.Array(Schema.String)),
  client_id_metadata_document_supported: Schema.optional(Schema.Boolean),
  authorization_response_iss_parameter_supported: Schema.optional(Schema.Boolean)
})
/** @internal */
export type ServerMetadata = typeof ServerMetadata.Type

/** What discovery found out about where and how to authorize. @internal */
export interface Discovered {
  /** The resource indicator to ask tokens for (RFC 8707). */
  readonly resource: string
  readonly resourceMetadata: Option.Option<ResourceMetadata>
  readonly server: ServerMetadata
}

/**
 * The canonical URI of an MCP server (RFC 8707, the spec's "Canonical Server URI"): no fragment, no trailing
 * slash; scheme and host lowercase (as `URL` writes them).
 * @internal
 */
export const canonicalUri = (url: URL): string => {
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")
  return `${url.origin}${path}${url.search}`
}

/**
 * True when resource metadata's `resource` names the server at `url`: the same origin, and a path that is the
 * server's or one of its parents (a resource may cover every endpoint under it).
 * @internal
 */
export const resourceCovers = (resource: string, url: URL): boolean => {
  let named: URL
  try {
    named = new URL(resource)
  } catch {
    return false
  }
  if (named.origin !== url.origin || named.hash !== "") return false
  const prefix = named.pathname.endsWith("/") ? named.pathname : `${named.pathname}/`
  const path = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`
  return path.startsWith(prefix)
}

const fail = (step: Step, message: string, status?: number) => new McpAuthError({ step, message, status })

/**
 * GETs a JSON document: `None` when the server has none there (a 4xx), an error for anything else that is not
 * a document of `schema`.
 */
const fetchDocument = <A, I>(
  http: HttpClient.HttpClient,
  step: Step,
  url: string,
  schema: Schema.Schema<A, I>
): Effect.Effect<Option.Option<A>, McpAuthError> =>
  Effect.gen(function*() {
    const response = yield* http.execute(HttpClientRequest.get(url, { acceptJson: true })).pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `Could not fetch ${url}`, cause }))
    )
    if (response.status >= 400 && response.status < 500) {
      yield* Effect.ignore(response.arrayBuffer)
      return Option.none()
    }
    if (response.status !== 200) {
      yield* Effect.ignore(response.arrayBuffer)
      return yield* fail(step, `${url} answered ${response.status}`, response.status)
    }
    const json = yield* response.json.pipe(
      Effect.mapError((cause) => new McpAuthError({ step, message: `${url} did not answer JSON`, cause }))
    )
    return Option.some(
      yield* Schema.decodeUnknown(schema)(json).pipe(
        Effect.mapError((cause) => new McpAuthError({ step, message: `${url} is not valid metadata: ${cause.message}` }))
      )
    )
  })

/** The first of `urls` that has a document; `None` when none has. */
const firstDocument = <A, I>(
  http: HttpClient.HttpClient,
  step: Step,
  urls: ReadonlyArray<string>,
  schema: Schema.Schema<A, I>
): Effect.Effect<Option.Option<A>, McpAuthError> =>
  Effect.reduce(
    urls,
    Option.none<A>(),
    (found, url) => Option.isSome(found) ? Effect.succeed(found) : fetchDocument(http, step, url, schema)
  )

/** RFC 9728 section 3.1: the well-known path between the origin and the resource's path. */
const wellKnown = (url: URL, name: string): string => {
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")
  return `${url.origin}/.well-known/${name}${path}`
}

/**
 * The resource metadata of the server at `url`: the challenge's `resource_metadata` when it names one, else the
 * path-suffixed well-known URI, then the root one. A document whose `resource` does not cover the server is
 * refused: tokens asked for it would go to someone else.
 * @internal
 */
export const resourceMetadata = (
  http: HttpClient.HttpClient,
  url: URL,
  fromChallenge: string | undefined
): Effect.Effect<Option.Option<ResourceMetadata>, McpAuthError> => {
  const step = "protected resource metadata"
  const root = `${url.origin}/.well-known/oauth-protected-resource`
  const pathed = wellKnown(url, "oauth-protected-resource")
  const urls = fromChallenge !== undefined ? [fromChallenge] : pathed === root ? [root] : [pathed, root]
  return firstDocument(http, step, urls, ResourceMetadata).pipe(
    Effect.filterOrFail(
      (metadata) => Option.isNone(metadata) || resourceCovers(metadata.value.resource, url),
      (metadata) =>
        fail(
          step,
          `The protected resource metadata names the resource ${
            Option.getOrElse(Option.map(metadata, (m) => m.resource), () => "")
          }, not ${url.href}: refusing to ask for tokens for it`
        )
    )
  )
}

/**
 * Where an authorization server's metadata may be, in the spec's order: for an issuer with a path, RFC 8414's
 * path insertion, OpenID Connect's path insertion, then OpenID Connect's path appending; for one without, RFC
 * 8414's then OpenID Connect's.
 * @internal
 */
export const serverMetadataUrls = (issuer: URL): ReadonlyArray<string> => {
  const path = issuer.pathname === "/" ? "" : issuer.pathname.replace(/\/$/, "")
  return path === ""
    ? [`${issuer.origin}/.well-known/oauth-authorization-server`, `${issuer.origin}/.well-known/openid-configuration`]
    : [
      `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
      `${issuer.origin}/.well-known/openid-configuration${path}`,
      `${issuer.origin}${path}/.well-known/openid-configuration`
    ]
}

/** The endpoints a 2025-03-26 server without metadata has (that revision's fallbacks). */
const defaultEndpoints = (origin: string): ServerMetadata => ({
  issuer: origin,
  authorization_endpoint: `${origin}/authorize`,
  token_endpoint: `${origin}/token`,
  registration_endpoint: `${origin}/register`,
  code_challenge_methods_supported: ["S256"]
})

/**
 * Everything the flow needs to know before it asks for a token.
 * @internal
 */
export const discover = (
  http: HttpClient.HttpClient,
  url: URL,
  fromChallenge: string | undefined
): Effect.Effect<Discovered, McpAuthError> =>
  Effect.gen(function*() {
    const step = "authorization server metadata"
    const resource = yield* resourceMetadata(http, url, fromChallenge)
    if (Option.isNone(resource)) {
      // 2025-03-26: the MCP server's origin is the authorization server.
      const server = yield* firstDocument(http, step, serverMetadataUrls(new URL(url.origin)), ServerMetadata)
      return {
        resource: canonicalUri(url),
        resourceMetadata: resource,
        server: Option.getOrElse(server, () => defaultEndpoints(url.origin))
      }
    }
    const issuer = resource.value.authorization_servers[0]
    const issuerUrl = yield* Effect.try({
      try: () => new URL(issuer),
      catch: () => fail(step, `The authorization server ${issuer} is not a URL`)
    })
    const server = yield* firstDocument(http, step, serverMetadataUrls(issuerUrl), ServerMetadata)
    if (Option.isNone(server)) {
      return yield* fail(step, `The authorization server ${issuer} publishes no metadata`)
    }
    // RFC 8414 section 3.3: metadata that names another issuer is not this server's.
    if (server.value.issuer !== issuer) {
      return yield* fail(step, `The metadata of ${issuer} names another issuer: ${server.value.issuer}`)
    }
    return { resource: resource.value.resource, resourceMetadata: resource, server: server.value }
  })
