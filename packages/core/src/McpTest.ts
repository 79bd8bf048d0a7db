/**
 * The in-process test kit: an `McpClient` connected to a server built from your own layers, with no sockets,
 * through an in-process `McpClientTransport` (`layerTransport`).
 * Messages take the path a transport gives them (a session opened through the server's transport seam,
 * `McpServerTransport`; handlers in the session's fibers) and go through JSON on the way, so what a test sees is
 * what a client would.
 *
 * Handlers run on the test's services, `TestClock` included: a tool that sleeps or times out is tested by
 * adjusting the clock, without waiting. What the server asks the client (sampling, elicitation, roots) is answered
 * by the `McpClientHandlers` layers provided to the client's layer:
 * `McpTest.layer(ServerLive).pipe(Layer.provide(McpClientHandlers.layerRoots(Effect.succeed(roots))))`.
 *
 * ```ts
 * it.effect("sleep answers after a minute", () =>
 *   Effect.gen(function*() {
 *     const client = yield* McpClient.McpClient
 *     const fiber = yield* Effect.fork(client.callTool("sleep", { ms: 60_000 }))
 *     yield* TestClock.adjust("60 seconds")
 *     const result = yield* Fiber.join(fiber)
 *   }).pipe(Effect.provide(McpTest.layer(ServerLive))))
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as JsonRpc from "./JsonRpc.js"
import * as McpClient from "./McpClient.js"
import { McpClientError } from "./McpClientError.js"
import * as McpClientTransport from "./McpClientTransport.js"
import * as McpSchema from "./McpSchema.js"
import { McpServer } from "./McpServer.js"
import * as McpServerTransport from "./McpServerTransport.js"
import * as SessionRegistry from "./SessionRegistry.js"

// What the wire would make of a message: JSON drops `undefined`, turns dates into strings, and refuses what it
// cannot encode.
const overTheWire = (message: JsonRpc.Message): Either.Either<JsonRpc.Message, string> => {
  let json: unknown
  try {
    json = JSON.parse(JSON.stringify(message))
  } catch (error) {
    return Either.left(error instanceof Error ? error.message : String(error))
  }
  return Either.mapLeft(JsonRpc.decodeMessage(json), (error) => error.message)
}

const memoryTransport = (receiver: McpClientTransport.Receiver) =>
  Effect.gen(function*() {
    // Its own registry, so a test sees no other test's sessions; no expiry, so `TestClock.adjust` cannot end it.
    const host = McpServerTransport.fromRegistry(yield* SessionRegistry.make({ idleTimeout: Duration.infinity }))
    const inbound = yield* Queue.unbounded<JsonRpc.Message>()
    const writer = (message: JsonRpc.Message): boolean => {
      const sent = overTheWire(message)
      if (Either.isRight(sent)) return Queue.unsafeOffer(inbound, sent.right)
      // A result JSON cannot carry would leave the request unanswered: answer it with the reason instead.
      if (!JsonRpc.isResponse(message) || message.id === null) return true
      return Queue.unsafeOffer(
        inbound,
        JsonRpc.failure(message.id, JsonRpc.internalError(`The server's response is not JSON: ${sent.left}`))
      )
    }
    const session = yield* Effect.orDie(
      host.open({ transport: "memory", protocolVersion: McpSchema.LATEST_PROTOCOL_VERSION, writer })
    )
    // One fiber delivers in order, as a stream would.
    yield* Queue.take(inbound).pipe(Effect.flatMap(receiver.receive), Effect.forever, Effect.forkScoped)

    const closed = new McpClientError({ reason: "Closed", message: "The in-process session is closed" })
    const connection: McpClientTransport.Connection = {
      send: (message) =>
        Effect.suspend(() => {
          const sent = overTheWire(message)
          if (Either.isLeft(sent)) {
            return Effect.fail(
              new McpClientError({ reason: "Protocol", message: `The message is not JSON: ${sent.left}` })
            )
          }
          return session.offer(sent.right, writer) ? Effect.void : Effect.fail(closed)
        }),
      sessionId: Effect.succeed(Option.some(session.id)),
      close: session.close
    }
    return connection
  })

/**
 * The in-process transport: a session of the `McpServer` in context, living in the current scope. For an
 * `McpClient` built by hand (`McpClient.make` with other options, several clients of one server...).
 *
 * @since 0.1.0
 */
export const makeTransport: Effect.Effect<
  McpClientTransport.McpClientTransportService,
  never,
  McpServer | Scope.Scope
> = McpClientTransport.make(memoryTransport)

/**
 * The in-process transport as a layer, for `McpClient.layer(options)`.
 *
 * @since 0.1.0
 */
export const layerTransport: Layer.Layer<McpClientTransport.McpClientTransport, never, McpServer> = Layer.scoped(
  McpClientTransport.McpClientTransport,
  makeTransport
)

/**
 * An initialized client of the `McpServer` in context, living in the current scope.
 *
 * @since 0.1.0
 */
export const makeClient = (
  options: McpClient.Options = {}
): Effect.Effect<McpClient.McpClientService, never, McpServer | Scope.Scope> =>
  // Nothing can fail between two in-process peers but a bug, so a failure is a defect.
  Effect.flatMap(makeTransport, (transport) =>
    McpClient.make(options).pipe(
      Effect.provideService(McpClientTransport.McpClientTransport, transport),
      Effect.orDie
    ))

/**
 * The client of a server built from `server` (your tools, resources and prompts with `McpServer.layer`). What
 * the server's layers require, the test provides.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  server: Layer.Layer<McpServer, E, R>,
  options: McpClient.Options = {}
): Layer.Layer<McpClient.McpClient, E, R> =>
  Layer.scoped(McpClient.McpClient, makeClient(options)).pipe(Layer.provide(server))
