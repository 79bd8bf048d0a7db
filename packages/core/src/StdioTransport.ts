/**
 * The stdio transport: newline-delimited JSON-RPC on a byte stream in and a text sink out, one session whose
 * life is the input's. What a desktop client starts as a local process speaks this.
 *
 * The session is opened in the caller's scope and `serve` ends when the input does (EOF), so closing stdin ends
 * the session and runs every finalizer. A line that is not JSON gets a -32700 error and the session goes on;
 * nothing but protocol messages is ever written to the output.
 *
 * Platform-neutral: `@effect-mcp/node`'s `NodeMcpStdio.serve` feeds it the process's stdin and stdout.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import * as Inbound from "./internal/server/inbound.js"
import * as Links from "./internal/server/links.js"
import * as Listen from "./internal/server/listen.js"
import * as Sessionless from "./internal/revisions/sessionless.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpSchema from "./McpSchema.js"
import type { Session, Sink } from "./McpSession.js"
import * as McpServerTransport from "./McpServerTransport.js"
import type { SessionRegistry } from "./SessionRegistry.js"

/** @since 0.1.0 */
export interface Options {
  /** The longest line accepted, in characters; a longer one is answered with -32600 and skipped. Default 4 MiB. */
  readonly maxLineLength?: number | undefined
  /**
   * Bytes the client may leave unread on the output; past it the session ends, so a client that stops reading
   * cannot grow the server's memory. Default 8 MiB. (The output's `write` says when it is over.)
   */
  readonly maxBacklog?: number | undefined
}

/** The transport name its session is registered with. @since 0.1.0 */
export const TRANSPORT = "stdio"

/**
 * Splits text chunks into lines (`\n` or `\r\n`), holding at most `max` characters of an unfinished line: the
 * rest of a longer line is dropped and the line is reported as too long.
 */
const lineSplitter = (max: number, onLine: (line: string) => void, onTooLong: () => void) => {
  let buffer = ""
  let overflowed = false
  return {
    push: (text: string): void => {
      let start = 0
      let newline: number
      while ((newline = text.indexOf("\n", start)) >= 0) {
        const piece = text.slice(start, newline)
        start = newline + 1
        if (overflowed || buffer.length + piece.length > max) {
          overflowed = false
          buffer = ""
          onTooLong()
          continue
        }
        const line = buffer + piece
        buffer = ""
        onLine(line.endsWith("\r") ? line.slice(0, -1) : line)
      }
      const rest = text.slice(start)
      if (overflowed) return
      if (buffer.length + rest.length > max) {
        overflowed = true
        buffer = ""
      } else {
        buffer += rest
      }
    },
    end: (): void => {
      if (overflowed) onTooLong()
      else if (buffer.trim() !== "") onLine(buffer)
      buffer = ""
      overflowed = false
    }
  }
}

type Refuse = (error: JsonRpc.JsonRpcError, id?: JsonRpc.RequestId | null) => void

/**
 * Requests that name their revision in `_meta` (2026-07-28) on the stdio stream: each is served by a session of
 * its own, closed once answered; `notifications/cancelled` for one closes its session, which interrupts the
 * handler and sends nothing more. Its finalizers, in the caller's scope, let what is in flight finish (within the
 * drain period) and end the listen subscriptions, which go first.
 */
const servedAlone = (
  host: McpServerTransport.Host,
  runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>,
  writer: Sink,
  refuse: Refuse
) =>
  Effect.gen(function*() {
    const registryLink = Links.registryLink(host)
    const alone = new Map<JsonRpc.RequestId, Session>()
    /** The fibers serving those requests, each until its answer is out: the end of input waits for them. */
    const serving = new Set<Fiber.RuntimeFiber<void, never>>()
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => Fiber.awaitAll(Array.from(serving))).pipe(
        Effect.timeoutOption(host.drainTimeout),
        Effect.zipRight(Effect.suspend(() => Fiber.interruptAll(Array.from(serving))))
      )
    )
    const serveAlone = (request: JsonRpc.Request) => {
      const envelope = Sessionless.check(request, undefined)
      if ("_tag" in envelope) {
        const error = new JsonRpc.JsonRpcError({ code: envelope.code, message: envelope.reason, data: envelope.data })
        return refuse(error, envelope.id)
      }
      if (request.method === "subscriptions/listen") return listen(request, envelope)
      const fiber = runFork(Effect.gen(function*() {
        const opened = yield* Effect.either(host.openDetached({
          transport: TRANSPORT,
          protocolVersion: envelope.version,
          sessionless: envelope
        }))
        if (Either.isLeft(opened)) {
          return refuse(JsonRpc.internalError("The server is shutting down or at its session limit"), request.id)
        }
        const ephemeral = opened.right
        alone.set(request.id, ephemeral)
        const done = () => {
          if (alone.get(request.id) === ephemeral) alone.delete(request.id)
          runFork(ephemeral.close)
        }
        if (!ephemeral.offer(request, writer, done)) done()
        yield* ephemeral.closed
      }))
      serving.add(fiber)
      fiber.addObserver(() => serving.delete(fiber))
    }
    /** A listen subscription on stdio: its session lives until `notifications/cancelled` names it, or the input ends. */
    const listen = (request: JsonRpc.Request, envelope: Sessionless.Envelope) => {
      const filter = Listen.filterOf(request.params, registryLink.capabilities(), envelope.clientCapabilities)
      if (filter instanceof JsonRpc.JsonRpcError) return refuse(filter, request.id)
      runFork(Effect.gen(function*() {
        const opened = yield* Effect.either(host.openDetached({
          transport: TRANSPORT,
          protocolVersion: envelope.version,
          sessionless: envelope,
          subscriptions: filter.resourceSubscriptions,
          listener: true
        }))
        if (Either.isLeft(opened)) {
          const error = opened.left
          return refuse(
            error._tag === "ListenerLimitExceeded"
              ? Listen.tooMany(error.limit)
              : JsonRpc.internalError("The server is shutting down"),
            request.id
          )
        }
        const subscription = opened.right
        writer(Listen.acknowledged(request.id, filter))
        subscription.setWriter(Listen.sinkFor(request.id, filter, writer))
        alone.set(request.id, subscription)
        listening.add(subscription)
        // Held busy for its whole life, so idle expiry never ends a quiet subscription.
        subscription.hold()
      }))
    }
    // Subscriptions end with the input (requests in flight get their answers first: that finalizer runs before).
    const listening = new Set<Session>()
    yield* Effect.addFinalizer(() => Effect.forEach(Array.from(listening), (session) => session.close, { discard: true }))
    const cancelAlone = (notification: JsonRpc.Notification) => {
      const params = notification.params
      if (typeof params !== "object" || params === null || !("requestId" in params)) return
      const requestId = params.requestId
      if (typeof requestId !== "string" && typeof requestId !== "number") return
      const ephemeral = alone.get(requestId)
      if (ephemeral === undefined) return
      alone.delete(requestId)
      runFork(ephemeral.close)
    }
    return { serve: serveAlone, cancel: cancelAlone }
  })

/**
 * Serves one session over `input` and `write` until `input` ends; the session closes then, or earlier if the
 * caller's fiber is interrupted or the client stops reading. `write` returns false once the client has left more
 * than the limit unread.
 *
 * @since 0.1.0
 */
export const serve = <E>(
  input: Stream.Stream<Uint8Array, E>,
  write: (text: string) => boolean,
  options: Options = {}
): Effect.Effect<void, E, SessionRegistry> =>
  Effect.scoped(Effect.gen(function*() {
    const host = yield* McpServerTransport.host
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let overflowing = false
    const writer: Sink = (message) => {
      let text: string
      try {
        text = JSON.stringify(message)
      } catch {
        return false
      }
      if (write(text + "\n") || overflowing) return true
      overflowing = true
      runFork(Inbound.overflowed(session))
      return true
    }
    const session = yield* Effect.orDie(host.open({
      transport: TRANSPORT,
      protocolVersion: McpSchema.LATEST_PROTOCOL_VERSION,
      writer
    }))
    // When stdin ends or a signal interrupts us, what the session took still gets its answer (or an error past
    // the drain period) before the session closes.
    yield* Effect.addFinalizer(() => session.drain(host.drainTimeout))
    const refuse: Refuse = (error, id = null) => {
      writer(JsonRpc.failure(id, error))
    }
    const alone = yield* servedAlone(host, runFork, writer, refuse)
    const onLine = (line: string) => {
      if (line.trim() === "") return
      const decoded = JsonRpc.decodeBody(line)
      if (Either.isLeft(decoded)) return refuse(decoded.left)
      if (decoded.right._tag === "Single") {
        const message = decoded.right.message
        if (JsonRpc.isRequest(message) && Sessionless.hasClaim(message)) return alone.serve(message)
        if (JsonRpc.isNotification(message) && message.method === "notifications/cancelled") alone.cancel(message)
        // A notification naming its revision has nothing to act on in this session (no handshake, no state).
        if (JsonRpc.isNotification(message) && Sessionless.hasClaim(message)) return
      } else if (decoded.right.messages.some((m) => Either.isRight(m) && Sessionless.hasClaim(m.right))) {
        return refuse(JsonRpc.invalidRequest(Sessionless.batchRefusal.reason))
      }
      const messages = Inbound.messagesOf(decoded.right, session.protocolVersion)
      if ("_tag" in messages) return refuse(JsonRpc.invalidRequest(messages.reason))
      for (const message of messages) session.offer(message, writer)
    }
    const maxLine = options.maxLineLength ?? Inbound.DEFAULT_MAX_BODY_SIZE
    const lines = lineSplitter(
      maxLine,
      onLine,
      () => refuse(JsonRpc.invalidRequest(`Invalid request: the line exceeds ${maxLine} characters`))
    )
    const decoder = new TextDecoder()
    const read = Effect.gen(function*() {
      yield* Stream.runForEach(input, (chunk) => Effect.sync(() => lines.push(decoder.decode(chunk, { stream: true }))))
      lines.push(decoder.decode())
      lines.end()
    })
    // Ends with the input, or with the session if it closes first (the client stopped reading).
    yield* Effect.raceFirst(read, session.closed)
  }))
