/**
 * Where the client's OAuth keeps what it obtained: its registration with each authorization server (by issuer,
 * since a client id means nothing to another server) and the tokens for each MCP server (by the server's URL,
 * with the issuer that granted them). `layerMemory` keeps them for the life of the layer; `layerFile` keeps them
 * in a JSON file, so a CLI app does not ask its user to authorize again on each run.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A client's registration with one authorization server.
 *
 * @since 0.1.0
 */
export const ClientRegistration = Schema.Struct({
  clientId: Schema.String,
  clientSecret: Schema.optional(Schema.String),
  tokenEndpointAuthMethod: Schema.optional(Schema.String),
  /** The redirect URI it was registered with: a client sent back elsewhere registers again. */
  redirectUri: Schema.optional(Schema.String),
  /** When the secret expires, in milliseconds since the epoch (RFC 7591 `client_secret_expires_at`). */
  secretExpiresAt: Schema.optional(Schema.Number)
})
/** @since 0.1.0 */
export type ClientRegistration = typeof ClientRegistration.Type

/**
 * The tokens for one MCP server, and what refreshing them needs without discovering everything again.
 *
 * @since 0.1.0
 */
export const Tokens = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.optional(Schema.String),
  /** When the access token expires, in milliseconds since the epoch; unknown when the server did not say. */
  expiresAt: Schema.optional(Schema.Number),
  /** The scopes granted, space-separated. */
  scope: Schema.optional(Schema.String),
  /** The authorization server that issued them. */
  issuer: Schema.String,
  tokenEndpoint: Schema.String,
  /** The resource indicator (RFC 8707) they were issued for. */
  resource: Schema.String
})
/** @since 0.1.0 */
export type Tokens = typeof Tokens.Type

/**
 * The store could not be read or written. The client fails with it rather than carry on without its credentials.
 *
 * @since 0.1.0
 */
export class TokenStoreError extends Data.TaggedError("TokenStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** @since 0.1.0 */
export interface TokenStoreService {
  readonly client: (issuer: string) => Effect.Effect<Option.Option<ClientRegistration>, TokenStoreError>
  readonly setClient: (issuer: string, client: ClientRegistration) => Effect.Effect<void, TokenStoreError>
  /** The tokens for the MCP server at `server` (its canonical URL). */
  readonly tokens: (server: string) => Effect.Effect<Option.Option<Tokens>, TokenStoreError>
  readonly setTokens: (server: string, tokens: Tokens) => Effect.Effect<void, TokenStoreError>
  readonly removeTokens: (server: string) => Effect.Effect<void, TokenStoreError>
}

/**
 * Where the client keeps its registrations and tokens. Without one in context, each HTTP transport keeps its own
 * in memory.
 *
 * @since 0.1.0
 */
export class TokenStore extends Context.Tag("@effect-mcp/core/TokenStore")<TokenStore, TokenStoreService>() {}

const Contents = Schema.Struct({
  clients: Schema.Record({ key: Schema.String, value: ClientRegistration }),
  tokens: Schema.Record({ key: Schema.String, value: Tokens })
})
type Contents = typeof Contents.Type

const empty: Contents = { clients: {}, tokens: {} }

/** A store over whole contents read and written by `load` and `save`, one change at a time. */
const fromContents = (
  load: Effect.Effect<Contents, TokenStoreError>,
  save: (contents: Contents) => Effect.Effect<void, TokenStoreError>
): Effect.Effect<TokenStoreService> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    const update = (change: (contents: Contents) => Contents) =>
      lock.withPermits(1)(Effect.flatMap(load, (contents) => save(change(contents))))
    return {
      client: (issuer) => Effect.map(load, (contents) => Option.fromNullable(contents.clients[issuer])),
      setClient: (issuer, client) => update((c) => ({ ...c, clients: { ...c.clients, [issuer]: client } })),
      tokens: (server) => Effect.map(load, (contents) => Option.fromNullable(contents.tokens[server])),
      setTokens: (server, tokens) => update((c) => ({ ...c, tokens: { ...c.tokens, [server]: tokens } })),
      removeTokens: (server) =>
        update((c) => ({ ...c, tokens: Object.fromEntries(Object.entries(c.tokens).filter(([key]) => key !== server)) }))
    }
  })

/**
 * A store in memory.
 *
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<TokenStoreService> = Effect.suspend(() => {
  let contents = empty
  return fromContents(
    Effect.sync(() => contents),
    (next) =>
      Effect.sync(() => {
        contents = next
      })
  )
})

/**
 * A store in memory, for the life of the layer.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)

const decodeContents = Schema.decode(Schema.parseJson(Contents))
const encodeContents = Schema.encode(Schema.parseJson(Contents, { space: 2 }))

/**
 * A store in a JSON file, readable by its owner only (it holds secrets). A missing file is an empty store; one
 * that cannot be read or parsed is a `TokenStoreError`, never silently replaced. Writes go to a temporary file
 * renamed over the old one, so a crash never leaves half a file.
 *
 * @since 0.1.0
 */
export const makeFile = (path: string): Effect.Effect<TokenStoreService, never, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => {
    const failed = (message: string) => (cause: unknown) => new TokenStoreError({ message, cause })
    const load = fs.exists(path).pipe(
      Effect.flatMap((exists) =>
        exists
          ? Effect.flatMap(fs.readFileString(path), decodeContents)
          : Effect.succeed(empty)
      ),
      Effect.mapError(failed(`Could not read the token store ${path}`))
    )
    const save = (contents: Contents) =>
      encodeContents(contents).pipe(
        Effect.flatMap((text) => fs.writeFileString(`${path}.tmp`, text, { mode: 0o600 })),
        Effect.zipRight(fs.rename(`${path}.tmp`, path)),
        Effect.mapError(failed(`Could not write the token store ${path}`))
      )
    return fromContents(load, save)
  })

/**
 * A store in a JSON file (see `makeFile`). Needs a `FileSystem` (`NodeContext.layer` on Node).
 *
 * @since 0.1.0
 */
export const layerFile = (path: string): Layer.Layer<TokenStore, never, FileSystem.FileSystem> =>
  Layer.effect(TokenStore, makeFile(path))
