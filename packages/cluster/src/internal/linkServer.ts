/**
 * The owner's end of the links: a TCP server the other instances connect to, each connection proven with the
 * cluster key before anything else is read from it. Every request frame becomes an `Exchange` handed to the same
 * front a direct request takes (security, authorization, the session's checks), so what goes back is exactly
 * what the client would have got here: the status, headers and body, or an SSE answer chunk by chunk with its
 * end. A client that went away at the relaying instance closes the exchange here, as does a link that drops.
 *
 * A JSON-RPC request that reaches the owner twice within a short window (same session, same id, same body: a
 * client's retry after a 503 whose first try the owner took in after all) runs once: the retry, relayed or sent
 * straight here, gets the first one's answer, once the front found its session still live (`repeated`). A retry follows only a try its sender may have given up on: one read while or after this
 * process's event loop was held, or whose client or link went before its answer ended. Only those are recorded
 * (when that is seen, with what was answered so far), so the requests of a healthy owner cost nothing for it.
 * @internal
 */
import type { Body, Exchange, ResponseHeaders, ResponseStream } from "@effect-mcp/core/HttpExchange"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import type { RequestHead } from "./frames.js"
import { encodeAnswerHead, Kind, MAX_FRAME, MAX_HANDSHAKE_FRAME, Reader, requestHeadDecoder, Writer } from "./frames.js"
import * as Auth from "./linkAuth.js"
import * as LinkSocket from "./linkSocket.js"

/** @internal */
export interface Config {
  readonly key: Uint8Array
  /** Where to listen. */
  readonly host: string
  readonly port: number
  /** How long a request is remembered for deduplication once answered. */
  readonly dedupeWindowMs: number
  /** The ack timeout of the instances that connect (theirs is told on connecting; this one is for the rest). */
  readonly ackTimeoutMs: number
  /** How the server is made (plain TCP or TLS); plain TCP when absent. */
  readonly sockets?: LinkSocket.Sockets | undefined
}

/** The owner's end of the links, listening. @internal */
export interface LinkServer {
  /** The port it listens on. */
  readonly port: number
  /** Sets the front that serves relayed requests (until then they get 503); returns how to unset it. */
  readonly serve: (front: (exchange: Exchange) => void) => () => void
  /**
   * Answers a POST (relayed or direct) to the live session `session` that repeats a request relayed here its
   * sender may have given up on, with that request's answer: true if it did (see `PlacementService.repeated`).
   */
  readonly repeated: (exchange: Exchange, session: string, body: string) => boolean
  /** Stops listening and drops every link. */
  readonly close: () => void
}

/** What a proven connection's requests are served by: the front, and the requests recorded for their retries. */
interface Host {
  front: ((exchange: Exchange) => void) | undefined
  readonly connections: Set<Connection>
  readonly retries: Retries
  /**
   * Whether the event loop was held lately; the first time a hold is seen, every request in flight is recorded
   * for its retries (its sender may have given up on it meanwhile).
   */
  readonly held: () => boolean
}

/**
 * Whether this process's event loop was held lately (a CPU-bound tool, a long GC): a request read then may have
 * waited past the sender's ack timeout, so the sender may have answered 503 and the client may retry it. A timer
 * notes each turn; the timer or a read that finds the last note older than `thresholdMs` marks the loop held for
 * a window, and says so once (`onHold`).
 */
class LoopWatch {
  private last = performance.now()
  private heldUntil = 0
  private readonly timer = setInterval(() => {
    this.held()
    this.last = performance.now()
  }, LOOP_TICK_MS).unref()

  constructor(
    private readonly thresholdMs: number,
    private readonly windowMs: number,
    private readonly onHold: () => void
  ) {}

  held(): boolean {
    const now = performance.now()
    if (now - this.last > this.thresholdMs) {
      this.last = now
      this.heldUntil = now + this.windowMs
      this.onHold()
    }
    return now < this.heldUntil
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

const LOOP_TICK_MS = 50

/** The most requests remembered at once: past it the oldest are forgotten first. */
const MAX_RECENT = 10_000

/**
 * The requests recorded for their retries, by key (`dedupeKey`): those in flight, and those remembered for a
 * window after their answer (oldest first, a queue read from `head`, swept by a timer while it holds any).
 */
class Retries {
  readonly recent = new Map<string, Recording>()
  private entries: Array<{ readonly key: string; readonly recording: Recording; readonly until: number }> = []
  private head = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(readonly windowMs: number) {}

  /** The recorded request a POST to `session` with `body` repeats, if any: looked for only while any is. */
  firstOf(session: string, body: string): Recording | undefined {
    if (this.recent.size === 0) return undefined
    const key = dedupeKey("POST", session, body)
    return key === undefined ? undefined : this.recent.get(key)
  }

  /**
   * Records a request its sender may give up on, with what was answered so far, so its retries follow it: not
   * one that is not a JSON-RPC request, nor one whose streamed answer began unrecorded (its start is gone).
   */
  record(served: Served): void {
    if (served.recording !== undefined || (served.streamed !== undefined && served.chunks === undefined)) return
    const key = served.key()
    if (key === undefined || this.recent.has(key)) return
    const recording = new Recording(served)
    served.recording = recording
    this.recent.set(key, recording)
    if (served.closed) this.settle(key, recording)
    else served.onClose(() => this.settle(key, recording))
  }

  /** Its answer ended or its client went: remembered a while, unless it was refused (then a retry runs). */
  private settle(key: string, recording: Recording): void {
    if (recording.status !== undefined && recording.status >= 400) {
      if (this.recent.get(key) === recording) this.recent.delete(key)
      return
    }
    this.sweep()
    this.entries.push({ key, recording, until: performance.now() + this.windowMs })
    this.timer ??= setTimeout(this.tick, this.windowMs).unref()
  }

  private sweep(): void {
    const now = performance.now()
    const entries = this.entries
    while (this.head < entries.length && (entries[this.head]!.until <= now || entries.length - this.head >= MAX_RECENT)) {
      const old = entries[this.head++]!
      if (this.recent.get(old.key) === old.recording) this.recent.delete(old.key)
    }
    // Compacted now and then, not on every removal: the queue stays linear in what it holds.
    if (this.head > 1_024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head)
      this.head = 0
    }
  }

  private readonly tick = (): void => {
    this.timer = undefined
    this.sweep()
    if (this.head < this.entries.length) {
      const next = this.entries[this.head]!.until - performance.now()
      this.timer = setTimeout(this.tick, Math.max(1, next)).unref()
    } else {
      this.entries = []
      this.head = 0
    }
  }

  stop(): void {
    clearTimeout(this.timer)
  }
}

const UNAVAILABLE_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: null,
  error: { code: -32000, message: "Service Unavailable: the instance is not serving now" }
})

/** The answer of a request, kept for its duplicates: what it was so far, and who else waits for it. */
class Recording {
  status: number | undefined
  headers: ResponseHeaders | undefined
  body: string | undefined
  readonly chunks: Array<string>
  streaming: boolean
  ended: boolean
  /** The duplicates waiting for the rest of the answer, with their streams once it streams. */
  readonly followers = new Map<Exchange, ResponseStream | undefined>()
  /** The request recorded. */
  readonly source: Served

  constructor(served: Served) {
    this.source = served
    this.status = served.status
    this.headers = served.answerHeaders
    this.body = served.answerBody
    this.chunks = served.chunks === undefined ? [] : served.chunks.slice()
    this.streaming = served.streamed !== undefined
    this.ended = served.closed && !served.gone
  }

  /** Gives a duplicate (relayed here, or sent straight here) what the answer was so far, and the rest as it comes. */
  follow(exchange: Exchange): void {
    if (this.ended && !this.streaming) {
      return exchange.respond(this.status ?? 500, this.headers ?? {}, this.body)
    }
    let stream: ResponseStream | undefined
    if (this.streaming) {
      stream = exchange.stream(this.headers ?? {})
      for (const chunk of this.chunks) stream.write(chunk)
      if (this.ended) return stream.end()
    }
    this.followers.set(exchange, stream)
    exchange.onClose(() => this.followers.delete(exchange))
  }

  answered(status: number, headers: ResponseHeaders, body: string | undefined): void {
    this.status = status
    this.headers = headers
    this.body = body
    this.ended = true
    for (const exchange of Array.from(this.followers.keys())) exchange.respond(status, headers, body)
  }

  opened(headers: ResponseHeaders): void {
    this.status = 200
    this.headers = headers
    this.streaming = true
    for (const exchange of this.followers.keys()) this.followers.set(exchange, exchange.stream(headers))
  }

  wrote(chunk: string): void {
    this.chunks.push(chunk)
    for (const stream of this.followers.values()) stream?.write(chunk)
  }

  finished(): void {
    this.ended = true
    for (const stream of Array.from(this.followers.values())) stream?.end()
  }
}

/** A relayed request, served here. */
class Served implements Exchange {
  readonly method: string
  readonly url: string
  readonly headers: RequestHead["headers"]
  readonly remoteAddress: string | undefined
  private readonly session: string
  private callbacks: Array<() => void> | undefined = []
  /** The answer is complete. */
  private done = false
  private acked = false
  /** The client at the other end went away (or the link did). */
  gone = false
  /** The answer ended, or the client went. */
  closed = false
  streamed: ResponseStream | undefined = undefined
  recording: Recording | undefined = undefined
  // What was answered so far, so the request can be recorded for its retries at any point.
  status: number | undefined = undefined
  answerHeaders: ResponseHeaders | undefined = undefined
  answerBody: string | undefined = undefined
  /** A streamed answer's chunks so far, kept only for a request that could be retried. */
  chunks: Array<string> | undefined = undefined
  private dedupe: string | undefined | null = null
  /** The connection's tick it came in. */
  tick = 0

  constructor(
    private readonly connection: Connection,
    readonly id: number,
    head: RequestHead,
    private readonly body: string | undefined,
    private readonly bodyBytes: number
  ) {
    this.method = head.method
    this.url = head.url
    this.headers = head.headers
    this.remoteAddress = head.address
    this.session = head.session
  }

  /** The key its retries share, or undefined if it is not a JSON-RPC request. */
  key(): string | undefined {
    if (this.dedupe === null) this.dedupe = dedupeKey(this.method, this.session, this.body)
    return this.dedupe
  }

  readBody(limit: number, done: (body: Body) => void): void {
    done(this.bodyBytes > limit ? { _tag: "TooLarge" } : { _tag: "Text", text: this.body ?? "" })
  }

  respond(status: number, headers: ResponseHeaders, body?: string): void {
    if (this.done || this.streamed !== undefined) return
    this.acked = true
    if (!this.gone) {
      this.connection.writer.send(this.id, Kind.Answer, encodeAnswerHead(status, headers, body !== undefined), body)
    }
    this.done = true
    this.status = status
    this.answerHeaders = headers
    this.answerBody = body
    this.recording?.answered(status, headers, body)
    this.close()
  }

  stream(headers: ResponseHeaders): ResponseStream {
    if (this.streamed !== undefined) return this.streamed
    this.acked = true
    const connection = this.connection
    if (!this.gone) connection.writer.send(this.id, Kind.Open, encodeAnswerHead(200, headers, false), undefined)
    this.status = 200
    this.answerHeaders = headers
    // A POST's answer may be replayed to a retry of it, so its chunks are kept until it ends; whether it is a
    // request at all is told without parsing it, which only a recording needs.
    if (mayBeRequest(this.method, this.body)) this.chunks = []
    this.recording?.opened(headers)
    const served = this
    const stream: ResponseStream = {
      write: (chunk) => {
        if (served.done) return false
        served.chunks?.push(chunk)
        served.recording?.wrote(chunk)
        if (served.gone) return false
        connection.writer.send(served.id, Kind.Data, undefined, chunk)
        return true
      },
      end: () => {
        if (served.done) return
        served.done = true
        if (!served.gone) connection.writer.send(served.id, Kind.End, undefined, undefined)
        served.recording?.finished()
        served.close()
      },
      get isOpen() {
        return !served.done && !served.gone
      },
      get backlog() {
        return connection.writer.backlog
      }
    }
    this.streamed = stream
    return stream
  }

  onClose(f: () => void): void {
    if (this.callbacks === undefined) f()
    else this.callbacks.push(f)
  }

  /** Acknowledges the request if nothing answered it yet: the relaying instance then waits for the answer. */
  ack(): void {
    if (this.acked || this.gone) return
    this.acked = true
    this.connection.writer.send(this.id, Kind.Ack, undefined, undefined)
  }

  /** The client went away before the answer ended: its sender may retry it elsewhere. */
  lose(): void {
    if (this.closed) return
    this.gone = true
    this.connection.retries.record(this)
    this.close()
  }

  /** The exchange is done with: its answer ended, or its client went. */
  private close(): void {
    this.closed = true
    this.connection.served.delete(this.id)
    // Answered while or just after the event loop was held: its sender may have given up on it meanwhile.
    if (this.recording === undefined && this.connection.held()) this.connection.retries.record(this)
    const callbacks = this.callbacks
    this.chunks = undefined
    if (callbacks === undefined) return
    this.callbacks = undefined
    for (const f of callbacks) f()
  }
}

/** Whether an exchange is one relayed here over a link: it is answered here, never relayed again. @internal */
export const isRelayed = (exchange: Exchange): boolean => exchange instanceof Served

/** Whether a body could hold a JSON-RPC request, told without parsing it: false for most that do not. */
const mayBeRequest = (method: string, body: string | undefined): body is string =>
  method === "POST" && body !== undefined && body.includes("\"method\"") && body.includes("\"id\"")

/**
 * The key a JSON-RPC request is deduplicated by (its session and its whole body), or undefined for anything else
 * (notifications, answers, batches).
 */
const dedupeKey = (method: string, session: string, body: string | undefined): string | undefined => {
  if (!mayBeRequest(method, body)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined
  if (!("id" in parsed) || !("method" in parsed) || typeof parsed.method !== "string") return undefined
  return typeof parsed.id === "string" || typeof parsed.id === "number" ? `${session}\u0000${body}` : undefined
}

/** One proven connection from another instance. */
class Connection {
  readonly writer: Writer
  /** The requests in flight (unanswered), in the order they came. */
  readonly served = new Map<number, Served>()
  // Requests are acknowledged only if still unanswered a while after they came (most are answered sooner, and
  // their answer is the acknowledgement): at each tick, those that came before the last tick. Only the requests
  // in flight are looked at, so an answered one is not held on to until then.
  private tick = 0
  private timer: ReturnType<typeof setInterval> | undefined = undefined

  private readonly decodeHead = requestHeadDecoder()

  constructor(readonly socket: Net.Socket, private readonly host: Host, private readonly ackDelayMs: number) {
    this.writer = new Writer(socket)
  }

  get retries(): Retries {
    return this.host.retries
  }

  held(): boolean {
    return this.host.held()
  }

  frame(id: number, kind: number, head: string | undefined, body: Buffer): void {
    if (kind === Kind.Close) return this.served.get(id)?.lose()
    if (kind !== Kind.Request || head === undefined) return
    const parsed = this.decodeHead(head)
    if (parsed === undefined) return void this.socket.destroy()
    const text = parsed.hasBody ? body.toString("utf8") : undefined
    const served = new Served(this, id, parsed, text, body.length)
    const front = this.host.front
    // Before this request counts as in flight: a hold seen now records those that were (this one may repeat one:
    // the front, once it found the session live, gives it the first one's answer, see `repeated`).
    const held = front !== undefined && this.host.held()
    served.tick = this.tick
    this.served.set(id, served)
    this.timer ??= setInterval(this.acknowledge, this.ackDelayMs)
    if (front === undefined) {
      return served.respond(503, { "content-type": "application/json", "retry-after": "1" }, UNAVAILABLE_BODY)
    }
    // Read while or just after the loop was held: it may have waited past its sender's ack timeout.
    if (held) this.host.retries.record(served)
    front(served)
  }

  private readonly acknowledge = (): void => {
    const tick = this.tick++
    for (const served of this.served.values()) {
      // In arrival order: the first that came since the last tick ends the round.
      if (served.tick >= tick) break
      served.ack()
    }
    if (this.served.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  drop(): void {
    clearInterval(this.timer)
    for (const served of Array.from(this.served.values())) served.lose()
  }
}

/** Serves one incoming connection: the handshake first, then its requests. */
const accept = (config: Config, host: Host, socket: Net.Socket): void => {
  socket.setNoDelay(true)
  const challenge = Auth.nonce()
  let connection: Connection | undefined
  const handshake = new Writer(socket)
  const reader = new Reader((id, kind, head, body) => {
    if (connection !== undefined) return connection.frame(id, kind, head, body)
    let proof: unknown
    try {
      proof = kind === Kind.Proof && head !== undefined ? JSON.parse(head) : undefined
    } catch {
      proof = undefined
    }
    const theirs = typeof proof === "object" && proof !== null && "n" in proof && typeof proof.n === "string"
      ? proof.n
      : undefined
    const given = typeof proof === "object" && proof !== null && "p" in proof ? proof.p : undefined
    if (theirs === undefined || !Auth.verify(config.key, "connecting", challenge, theirs, given)) {
      return void socket.destroy()
    }
    clearTimeout(deadline)
    handshake.send(0, Kind.Proven, Auth.prove(config.key, "owner", theirs, challenge), undefined)
    // Acknowledged within half the connecting instance's ack timeout.
    const timeout = typeof proof === "object" && proof !== null && "t" in proof && typeof proof.t === "number"
      ? proof.t
      : DEFAULT_ACK_TIMEOUT_MS
    connection = new Connection(socket, host, Math.min(Math.max(Math.floor(timeout / 4), 1), MAX_ACK_DELAY_MS))
    host.connections.add(connection)
    reader.max = MAX_FRAME
  }, MAX_HANDSHAKE_FRAME)
  const deadline = setTimeout(() => socket.destroy(), HANDSHAKE_MS)
  socket.on("data", (chunk: Buffer) => {
    if (!reader.push(chunk)) socket.destroy()
  })
  socket.on("error", () => undefined)
  socket.on("close", () => {
    clearTimeout(deadline)
    if (connection === undefined) return
    host.connections.delete(connection)
    connection.drop()
  })
  handshake.send(0, Kind.Challenge, challenge, undefined)
}

const DEFAULT_ACK_TIMEOUT_MS = 2_000
const MAX_ACK_DELAY_MS = 10_000

/** How long a connection may take to prove itself. */
const HANDSHAKE_MS = 5_000

/** Listens for links; fails with the listen error (the port is taken...). @internal */
export const listen = (config: Config): Effect.Effect<LinkServer, Error> =>
  Effect.async((resume) => {
    const connections = new Set<Connection>()
    const retries = new Retries(config.dedupeWindowMs)
    // Every request in flight when a hold is seen may have been given up on by its sender meanwhile.
    const watch = new LoopWatch(LOOP_TICK_MS + config.ackTimeoutMs / 4, config.dedupeWindowMs, () => {
      for (const connection of connections) {
        for (const served of connection.served.values()) retries.record(served)
      }
    })
    const host: Host = { front: undefined, connections, retries, held: () => watch.held() }
    const repeated = (exchange: Exchange, session: string, body: string): boolean => {
      // A hold seen now records the requests in flight first: this may be a retry of one of them.
      watch.held()
      const first = retries.firstOf(session, body)
      // A relayed request recorded as it came is not a repeat of itself.
      if (first === undefined || first.source === exchange) return false
      first.follow(exchange)
      return true
    }
    const stop = () => {
      watch.stop()
      retries.stop()
    }
    const sockets = new Set<Net.Socket>()
    const server = (config.sockets ?? LinkSocket.plain).server((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      accept(config, host, socket)
    })
    const failed = (error: Error) => {
      stop()
      resume(Effect.fail(error))
    }
    server.once("error", failed)
    server.listen(config.port, config.host, () => {
      server.off("error", failed)
      const address = server.address()
      resume(Effect.succeed({
        port: typeof address === "object" && address !== null ? address.port : config.port,
        serve: (front) => {
          host.front = front
          return () => {
            if (host.front === front) host.front = undefined
          }
        },
        repeated,
        close: () => {
          stop()
          server.close()
          for (const socket of sockets) socket.destroy()
        }
      }))
    })
  })
