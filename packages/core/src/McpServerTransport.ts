/**
 * The server's transport seam: what a transport is given, and what it provides. Every transport of the server
 * (Streamable HTTP, HTTP+SSE, stdio, the test kit) is written against it, and so is a transport of your own.
 *
 * A transport is given a `Host`: it opens sessions there (`open` when the caller's scope owns the session, as a
 * stdio process or an in-memory pipe does; `openDetached` when the session outlives a connection, as an HTTP
 * session does) and finds them again by id (`find`). It then talks to each session through four operations of
 * `Session`: `offer` hands it a client message with where the answers go, `setWriter` says where the messages
 * the server starts go, `hold` keeps it from idle expiry while a connection is open, and `end` (or `close`)
 * ends it when the connection goes. The registry behind the host does the rest: budgets, expiry, drain.
 *
 * What a transport provides depends on what carries it:
 *
 * - an HTTP transport is an `Http`: the routes it serves, built once per front from the host. `HttpTransport`
 *   serves them beside its built-in ones, with the front's security, auth and budgets in front of them;
 * - a transport that owns its connection (stdio, a socket, a pipe) is an effect that serves it until it ends,
 *   over `host` (see `StdioTransport.serve`).
 *
 * ```ts
 * // A line transport: one JSON-RPC message per line in, one per line out, one session while the lines last.
 * const serveLines = (lines: Stream.Stream<string>, write: (line: string) => void) =>
 *   Effect.scoped(Effect.gen(function*() {
 *     const host = yield* McpServerTransport.host
 *     const writer = (message: JsonRpc.Message) => {
 *       write(JSON.stringify(message))
 *       return true
 *     }
 *     const session = yield* Effect.orDie(host.open({ transport: "lines", protocolVersion: "2025-11-25", writer }))
 *     yield* Stream.runForEach(lines, (line) =>
 *       Effect.sync(() => {
 *         const decoded = JsonRpc.decodeBody(line)
 *         if (Either.isRight(decoded) && decoded.right._tag === "Single") session.offer(decoded.right.message, writer)
 *       }))
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Exchange, Route } from "./HttpExchange.js"
import * as Refusal from "./internal/http/refusal.js"
import * as Links from "./internal/server/links.js"
import type { Principal } from "./McpAuth.js"
import type { Session } from "./McpSession.js"
import {
  type Budgets,
  type OpenError,
  type OpenOptions,
  type PlacementService,
  SessionRegistry,
  type SessionRegistryService
} from "./SessionRegistry.js"

/**
 * What a transport is given: the registry's operations it may use, and nothing of the server's state besides.
 *
 * @since 0.1.0
 */
export interface Host {
  /**
   * Opens a session owned by the caller's scope: it ends when that scope closes (the connection the caller serves
   * ends), or earlier by any other way a session ends.
   */
  readonly open: (options: OpenOptions) => Effect.Effect<Session, OpenError, Scope.Scope>
  /**
   * Opens a session that lives until it is closed, expires or the server shuts down: for a session that outlives
   * its connections, or one a connection ends by calling `end`.
   */
  readonly openDetached: (options: OpenOptions) => Effect.Effect<Session, OpenError>
  /**
   * The live session with this id, opened by `transport`, that `principal` may use; undefined otherwise (unknown,
   * closed, another transport's or another party's: all the same to a client, which must not tell them apart).
   * Synchronous: a transport looks a session up on every request.
   */
  readonly find: (id: string, transport: string, principal: Principal | undefined) => Session | undefined
  /**
   * For a server that runs as several instances (`SessionRegistry.Placement`): takes a request that names a
   * session of another instance to that instance, and answers it with that instance's answer (or 404 when the
   * session is gone, 503 with `Retry-After` when its instance cannot be reached now). True once the exchange is
   * taken; false when the id is not another instance's, so the transport goes on as for any id (always false for
   * one process). `bodyLimit` bounds the body of a POST, which the transport must not have read.
   */
  readonly forward: (exchange: Exchange, id: string, principal: Principal | undefined, bodyLimit: number) => boolean
  /**
   * For a server that runs as several instances: answers a POST to session `id` (found live here) whose `body`
   * repeats a request another instance relayed here and may have given up on (its client retried), with that
   * request's answer. True if it did (the transport then does nothing more); always false for one process.
   */
  readonly repeated: (exchange: Exchange, id: string, body: string) => boolean
  /** True once the server drains on shutdown: new sessions are refused. */
  readonly isDraining: () => boolean
  /** How long a draining server lets the work in flight finish. */
  readonly drainTimeout: Duration.Duration
  /** The budgets sessions are counted against, for a transport that charges work of its own (a batch's body). */
  readonly budgets: Budgets
}

/**
 * An HTTP transport: the routes it serves, built once per front in the front's scope (which ends its streams when
 * it closes). `HttpTransport` routes to them by path after its security checks and authorization.
 *
 * @since 0.1.0
 */
export interface Http {
  /** The name its sessions are opened with, so that `find` keeps each transport's sessions to it. */
  readonly name: string
  readonly routes: (host: Host) => Effect.Effect<ReadonlyArray<Route>, never, Scope.Scope>
}

/** One host per registry: transports built over the same registry share it. */
const hosts = new WeakMap<SessionRegistryService, Host>()

const notHere = () => false

const refuse = (exchange: Exchange, refusal: Refusal.Refusal): void => {
  const response = Refusal.toResponse(refusal)
  exchange.respond(response.status, response.headers, response.body)
}

const unreachable = new Refusal.ServiceUnavailable({
  reason: "the instance that holds this session cannot be reached now"
})
const notFound = new Refusal.SessionNotFound()
const unreadable = new Refusal.ParseError({ reason: "Bad Request: the body could not be read" })

/** Takes a request for another instance's session there, its POST body read within the transport's limit. */
const forwardWith = (placement: PlacementService) => {
  const relay = (exchange: Exchange, id: string, body: string | undefined) =>
    placement.relay(exchange, id, body, (why) => refuse(exchange, why === "NotFound" ? notFound : unreachable))
  return (exchange: Exchange, id: string, principal: Principal | undefined, bodyLimit: number): boolean => {
    if (!placement.elsewhere(exchange, id, principal)) return false
    if (exchange.method !== "POST") {
      relay(exchange, id, undefined)
      return true
    }
    exchange.readBody(bodyLimit, (body) => {
      switch (body._tag) {
        case "TooLarge":
          return refuse(exchange, new Refusal.PayloadTooLarge({ limit: bodyLimit }))
        case "Failed":
          return refuse(exchange, unreadable)
        case "Text":
          return relay(exchange, id, body.text)
      }
    })
    return true
  }
}

/**
 * The host over a registry: what its transports are given.
 *
 * @since 0.1.0
 */
export const fromRegistry = (registry: SessionRegistryService): Host => {
  const known = hosts.get(registry)
  if (known !== undefined) return known
  const placement = Links.registryLink(registry).placement
  const made: Host = {
    open: registry.open,
    openDetached: registry.openDetached,
    find: (id, transport, principal) => {
      const session = registry.unsafeLookup(id)
      return session !== undefined && session.isOpen && session.transport === transport &&
          (placement === undefined || placement.holds(id)) && session.authorize(principal)
        ? session
        : undefined
    },
    forward: placement === undefined
      ? notHere
      : forwardWith(placement),
    repeated: placement?.repeated ?? notHere,
    isDraining: registry.isDraining,
    drainTimeout: registry.drainTimeout,
    budgets: registry.budgets
  }
  // What the built-in transports need beyond the host (the tools' mirrored headers, the server's capabilities)
  // is found from it as from its registry.
  const host = Links.linkRegistry(made, Links.registryLink(registry))
  hosts.set(registry, host)
  return host
}

/**
 * The host over the `SessionRegistry` in context.
 *
 * @since 0.1.0
 */
export const host: Effect.Effect<Host, never, SessionRegistry> = Effect.map(SessionRegistry, fromRegistry)
