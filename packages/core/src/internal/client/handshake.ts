/**
 * How a client comes to speak with a server: which era (the `server/discover` probe, unless the client was told,
 * or remembers, that the endpoint is of the session era), the `initialize` handshake of the session era, the
 * 2026-07-28 `_meta` every request then carries, and what the client knows of the server afterwards. Kept apart
 * from correlation, which only moves messages, and from recovery, which runs the handshake again.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as JsonRpc from "../../JsonRpc.js"
import { McpClientError } from "../../McpClientError.js"
import * as McpSchema from "../../McpSchema.js"
import type { Correlation, Envelope } from "./correlation.js"
import { decoders } from "./decode.js"
import * as Telemetry from "../shared/telemetry.js"
import * as ClientModern from "./modern.js"
import type { Options } from "./options.js"
import type { McpClientTransportService } from "./transport.js"

// Public as `McpClient.Era`; declared here, where the era is found, so that the modules typed by it need not
// import `McpClient`, which imports them.
/**
 * The era of the server the client speaks to: `modern` is 2026-07-28 (sessionless: `_meta` on every request,
 * `server/discover`, no `initialize`), `legacy` the session era (`initialize`, 2024-11-05 to 2025-11-25).
 *
 * @since 0.1.0
 */
export type Era = "modern" | "legacy"

/** The answer to `server/discover` (`McpClient.DiscoverResult`). @internal */
export const DiscoverResult = McpSchema.DiscoverResult
type DiscoverResult = McpSchema.DiscoverResult

const decodeServerInfo = Schema.decodeUnknownOption(McpSchema.Implementation)

/**
 * The revision claimed in each request's `_meta` once the server turned out modern (and while probing), with the
 * client's capabilities and info: the one place it is set.
 * @internal
 */
export class Claim implements Envelope {
  version: string | undefined = undefined
  constructor(
    private readonly capabilities: McpSchema.ClientCapabilities,
    private readonly clientInfo: McpSchema.Implementation
  ) {}
  readonly wrap = (params: unknown): unknown =>
    this.version === undefined ? params : ClientModern.withRequestMeta(params, {
      [ClientModern.PROTOCOL_VERSION_KEY]: this.version,
      [ClientModern.CLIENT_CAPABILITIES_KEY]: this.capabilities,
      [ClientModern.CLIENT_INFO_KEY]: this.clientInfo
    })
}

/** What the handshake needs. @internal */
export interface Inputs {
  readonly options: Options
  readonly transport: McpClientTransportService
  readonly correlation: Correlation
  readonly claim: Claim
  readonly capabilities: McpSchema.ClientCapabilities
  readonly clientInfo: McpSchema.Implementation
}

/** A handshake request, in a client span of the conventions when the client traces (`McpTelemetry`). */
const call = (inputs: Inputs, method: "initialize" | "server/discover", params: unknown) => {
  const request = inputs.correlation.call(method, params)
  return inputs.correlation.tracing ? Telemetry.clientCall(method, params)(request) : request
}

/** The session era's handshake: `initialize`, the version check, `notifications/initialized`. @internal */
export const initialize = (inputs: Inputs): Effect.Effect<McpSchema.InitializeResult, McpClientError> =>
  Effect.gen(function*() {
    const params: McpSchema.InitializeParams = {
      protocolVersion: inputs.options.protocolVersion ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: inputs.capabilities,
      clientInfo: inputs.clientInfo
    }
    const result = yield* Effect.flatMap(call(inputs, "initialize", params), decoders.initialize)
    if (!McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(result.protocolVersion)) {
      return yield* new McpClientError({
        reason: "Protocol",
        message: `The server chose protocol version ${result.protocolVersion}, which this client does not speak`
      })
    }
    yield* inputs.transport.initialized(result.protocolVersion)
    yield* inputs.correlation.send(JsonRpc.notification("notifications/initialized"))
    return result
  })

/**
 * `server/discover` claiming `version`: its result when the server is modern, undefined when it is of the
 * session era (see `ClientModern.classifyProbe`). A -32022 naming a modern revision this client speaks is retried
 * with it unless an earlier answer refused it too (`tried`, the revisions claimed before this one): so even the
 * revision just refused is claimed once more, as the SDK's corrective retry does (SEP-2575: the server says what it
 * speaks, the client retries), and no revision more than twice.
 */
const probe = (
  inputs: Inputs,
  version: string,
  tried: ReadonlyArray<string>
): Effect.Effect<DiscoverResult | undefined, McpClientError> =>
  Effect.suspend(() => {
    inputs.claim.version = version
    return call(inputs, "server/discover", undefined)
  }).pipe(
    // Only a DiscoverResult is a modern answer: a session-era server that answers any method with some
    // result (some test servers do) is still of the session era.
    Effect.flatMap((result) =>
      Effect.catchAll(decoders["server/discover"](result), (error) =>
        inputs.options.protocol === "modern"
          ? Effect.fail(error)
          : Effect.logDebug("MCP server answered server/discover with something other than a DiscoverResult").pipe(
            Effect.zipRight(Effect.sync(() => {
              inputs.claim.version = undefined
              return undefined
            }))
          ))
    ),
    Effect.catchAll((error) => {
      const verdict = ClientModern.classifyProbe(error, tried)
      if (verdict._tag === "Retry") return probe(inputs, verdict.version, [...tried, version])
      inputs.claim.version = undefined
      return verdict._tag === "Legacy" && inputs.options.protocol !== "modern"
        ? Effect.succeed(undefined)
        : Effect.fail(error)
    })
  )

/** What connecting found: a discover result (modern), or an `initialize` result (the session era). */
interface Connected {
  readonly discovered: DiscoverResult | undefined
  readonly initialized: McpSchema.InitializeResult | undefined
}

/** The probe, then `initialize` when the server is of the session era. */
const probeThenInitialize = (inputs: Inputs): Effect.Effect<Connected, McpClientError> =>
  Effect.gen(function*() {
    const newest = ClientModern.MODERN_PROTOCOL_VERSIONS[0]
    const discovered = inputs.options.protocol === "legacy" || newest === undefined
      ? undefined
      : yield* probe(inputs, newest, [])
    return { discovered, initialized: discovered === undefined ? yield* initialize(inputs) : undefined }
  })

/**
 * Finds out the server's era and runs its handshake; in `auto` mode, an endpoint `eras` remembers as of the
 * session era gets `initialize` at once (and is probed again when that fails), and what was found is remembered.
 * @internal
 */
export const connect = (inputs: Inputs, eras: ClientModern.EraMemory): Effect.Effect<Server, McpClientError> =>
  Effect.gen(function*() {
    const protocol = inputs.options.protocol ?? "auto"
    const endpoint = inputs.transport.endpoint ?? ""
    const remembered = protocol === "auto" ? eras.get(endpoint) : undefined
    const connected: Connected = remembered === "legacy"
      ? yield* initialize(inputs).pipe(
        Effect.map((initialized) => ({ discovered: undefined, initialized })),
        // The server may have changed since: forget, and find out again.
        Effect.catchAll((error) =>
          Effect.logDebug("MCP server no longer answers initialize as it did; probing its era again", error).pipe(
            Effect.zipRight(Effect.sync(() => eras.forget(endpoint))),
            Effect.zipRight(probeThenInitialize(inputs))
          )
        )
      )
      : yield* probeThenInitialize(inputs)
    const server = new Server(connected, inputs.claim.version)
    if (protocol === "auto") eras.remember(endpoint, server.era)
    return server
  })

/**
 * What the client knows of the server it speaks to: its era, its discover result, and its `initialize` result,
 * which a new session replaces (the one place it changes). In either era the other's view is built from it.
 * @internal
 */
export class Server {
  readonly era: Era
  private readonly discovered: DiscoverResult | undefined
  private initialized: McpSchema.InitializeResult

  constructor(connected: Connected, modernVersion: string | undefined) {
    const discovered = connected.discovered
    this.era = discovered === undefined ? "legacy" : "modern"
    this.discovered = discovered
    this.initialized = connected.initialized ?? {
      protocolVersion: modernVersion ?? ClientModern.MODERN_PROTOCOL_VERSIONS[0] ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: discovered?.capabilities ?? {},
      serverInfo: Option.getOrElse(
        decodeServerInfo(discovered?._meta?.[ClientModern.SERVER_INFO_KEY]),
        () => ({ name: "unknown", version: "unknown" })
      ),
      ...(discovered?.instructions === undefined ? {} : { instructions: discovered.instructions })
    }
  }

  /** The `initialize` result of the current session (or the one built from the discover result). */
  get initializeResult(): McpSchema.InitializeResult {
    return this.initialized
  }

  /** A new session's `initialize` result, after recovery. */
  reinitialized(result: McpSchema.InitializeResult): void {
    this.initialized = result
  }

  /** The discover result; in the session era, one built from the `initialize` result. */
  get discoverResult(): DiscoverResult {
    const initialized = this.initialized
    return this.discovered ?? {
      resultType: "complete",
      supportedVersions: [initialized.protocolVersion],
      capabilities: initialized.capabilities,
      ...(initialized.instructions === undefined ? {} : { instructions: initialized.instructions }),
      _meta: { [ClientModern.SERVER_INFO_KEY]: initialized.serverInfo }
    }
  }
}
