/**
 * How a client comes to speak with a server: whether it has sessions (the `server/discover` probe, unless the
 * client was told, or remembers, that the endpoint has them), the `initialize` handshake of a server with them, the
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
import * as Sessionless from "./sessionless.js"
import type { Options } from "./options.js"
import type { McpClientTransportService } from "./transport.js"

/** The answer to `server/discover` (`McpClient.DiscoverResult`). @internal */
export const DiscoverResult = McpSchema.DiscoverResult
type DiscoverResult = McpSchema.DiscoverResult

const decodeServerInfo = Schema.decodeUnknownOption(McpSchema.Implementation)

/**
 * The revision claimed in each request's `_meta` once the server turned out sessionless (and while probing), with the
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
    this.version === undefined ? params : Sessionless.withRequestMeta(params, {
      [Sessionless.PROTOCOL_VERSION_KEY]: this.version,
      [Sessionless.CLIENT_CAPABILITIES_KEY]: this.capabilities,
      [Sessionless.CLIENT_INFO_KEY]: this.clientInfo
    })
}

/**
 * What the client was told to speak (`Options.protocol`, whose values name the choice by era): sessionless
 * revisions only, revisions with sessions only, or whichever the server has.
 */
const speaks = (options: Options): "sessionless" | "sessions" | "auto" =>
  options.protocol === "modern" ? "sessionless" : options.protocol === "legacy" ? "sessions" : "auto"

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

/** The handshake of a server with sessions: `initialize`, the version check, `notifications/initialized`. @internal */
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
 * `server/discover` claiming `version`: its result when the server is sessionless, undefined when it has sessions
 * (see `Sessionless.classifyProbe`). A -32022 naming a sessionless revision this client speaks is retried
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
    // Only a DiscoverResult is a sessionless server's answer: a server with sessions that answers any method with
    // some result (some test servers do) still has sessions.
    Effect.flatMap((result) =>
      Effect.catchAll(decoders["server/discover"](result), (error) =>
        speaks(inputs.options) === "sessionless"
          ? Effect.fail(error)
          : Effect.logDebug("MCP server answered server/discover with something other than a DiscoverResult").pipe(
            Effect.zipRight(Effect.sync(() => {
              inputs.claim.version = undefined
              return undefined
            }))
          ))
    ),
    Effect.catchAll((error) => {
      const verdict = Sessionless.classifyProbe(error, tried)
      if (verdict._tag === "Retry") return probe(inputs, verdict.version, [...tried, version])
      inputs.claim.version = undefined
      return verdict._tag === "Initialize" && speaks(inputs.options) !== "sessionless"
        ? Effect.succeed(undefined)
        : Effect.fail(error)
    })
  )

/** What connecting found: a discover result (sessionless), or an `initialize` result (sessions). */
interface Connected {
  readonly discovered: DiscoverResult | undefined
  readonly initialized: McpSchema.InitializeResult | undefined
}

/** The probe, then `initialize` when the server has sessions. */
const probeThenInitialize = (inputs: Inputs): Effect.Effect<Connected, McpClientError> =>
  Effect.gen(function*() {
    const newest = Sessionless.SESSIONLESS_VERSIONS[0]
    const discovered = speaks(inputs.options) === "sessions" || newest === undefined
      ? undefined
      : yield* probe(inputs, newest, [])
    return { discovered, initialized: discovered === undefined ? yield* initialize(inputs) : undefined }
  })

/**
 * Finds out whether the server has sessions and runs its handshake; in `auto` mode, an endpoint `withSessions`
 * holds gets `initialize` at once (and is probed again when that fails), and what was found is remembered.
 * @internal
 */
export const connect = (
  inputs: Inputs,
  withSessions: Sessionless.SessionEndpoints
): Effect.Effect<Server, McpClientError> =>
  Effect.gen(function*() {
    const auto = speaks(inputs.options) === "auto"
    const endpoint = inputs.transport.endpoint ?? ""
    const connected: Connected = auto && withSessions.has(endpoint)
      ? yield* initialize(inputs).pipe(
        Effect.map((initialized) => ({ discovered: undefined, initialized })),
        // The server may have changed since: forget, and find out again.
        Effect.catchAll((error) =>
          Effect.logDebug("MCP server no longer answers initialize as it did; probing it again", error).pipe(
            Effect.zipRight(Effect.sync(() => withSessions.delete(endpoint))),
            Effect.zipRight(probeThenInitialize(inputs))
          )
        )
      )
      : yield* probeThenInitialize(inputs)
    const server = new Server(connected, inputs.claim.version)
    if (auto && server.sessions) withSessions.add(endpoint)
    return server
  })

/**
 * What the client knows of the server it speaks to: whether it has sessions, its discover result, and its
 * `initialize` result, which a new session replaces (the one place it changes). Whichever the server answered,
 * the other is built from it.
 * @internal
 */
export class Server {
  /** The server has sessions: it answered `initialize`, not `server/discover`. */
  readonly sessions: boolean
  private readonly discovered: DiscoverResult | undefined
  private initialized: McpSchema.InitializeResult

  constructor(connected: Connected, claimed: string | undefined) {
    const discovered = connected.discovered
    this.sessions = discovered === undefined
    this.discovered = discovered
    this.initialized = connected.initialized ?? {
      protocolVersion: claimed ?? Sessionless.SESSIONLESS_VERSIONS[0] ?? McpSchema.LATEST_PROTOCOL_VERSION,
      capabilities: discovered?.capabilities ?? {},
      serverInfo: Option.getOrElse(
        decodeServerInfo(discovered?._meta?.[Sessionless.SERVER_INFO_KEY]),
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

  /** The discover result; from a server with sessions, one built from the `initialize` result. */
  get discoverResult(): DiscoverResult {
    const initialized = this.initialized
    return this.discovered ?? {
      resultType: "complete",
      supportedVersions: [initialized.protocolVersion],
      capabilities: initialized.capabilities,
      ...(initialized.instructions === undefined ? {} : { instructions: initialized.instructions }),
      _meta: { [Sessionless.SERVER_INFO_KEY]: initialized.serverInfo }
    }
  }
}
