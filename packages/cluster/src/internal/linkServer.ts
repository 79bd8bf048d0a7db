/**
 * The owner's end of the links: a TCP server the other instances connect to, each connection proven with the
 * cluster key before anything else is read from it. Every request frame becomes an `Exchange` handed to the same
 * front a direct request takes (security, authorization, the session's checks), so what goes back is exactly
 * what the client would have got here: the status, headers and body, or an SSE answer chunk by chunk with its
 * end. A client that went away at the relaying instance closes the exchange here, as does a link that drops.
 *
 * A JSON-RPC request that reaches the owner twice within a short window (same session, same id, same body: a
 * client's retry after a 503 whose first try the owner took in after all) runs once: the retry gets the first
 * one's answer.
 * @internal
 */
import type { Body, Exchange, ResponseHeaders, ResponseStream } from "@effect-mcp/core/HttpExchange"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import type { RequestHead } from "./frames.js"
import { decodeRequestHead, encodeAnswerHead, Kind, MAX_FRAME, MAX_HANDSHAKE_FRAME, Reader, Writer } from "./frames.js"
import * as Auth from "./linkAuth.js"

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
}

/** The owner's end of the links, listening. @internal */
export interface LinkServer {
  /** The port it listens on. */
  readonly port: number
  /** Sets the front that serves relayed requests (until then they get 503); returns how to unset it. */
  readonly serve: (front: (exchange: Exchange) => void) => () => void
  /** Stops listening and drops every link. */
  readonly close: () => void
}

/** What a proven connection's requests are served by: the front, and the requests seen lately. */
interface Host {
  front: ((exchange: Exchange) => void) | undefined
  /** The requests in flight, and those remembered after their answer. */
  readonly recent: Map<string, Recording>
  readonly watch: LoopWatch
  readonly answered: Remembered
  readonly windowMs: number
}

/**
 * Whether this process's event loop was held lately (a CPU-bound tool, a long GC): a request read then may have
 * waited past the sender's ack timeout, so the sender may have answered 503 and the client may retry it. A timer
 * notes each turn; a read that finds the last note older than `thresholdMs` marks the loop held for a window.
 */
class LoopWatch {
  private last = performance.now()
  private heldUntil = 0
  private readonly timer = setInterval(() => this.last = performance.now(), LOOP_TICK_MS).unref()

  constructor(private readonly thresholdMs: number, private readonly windowMs: number) {}

  held(): boolean {
    const now = performance.now()
    if (now - this.last > this.thresholdMs) this.heldUntil = now + this.windowMs
    return now < this.heldUntil
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

const LOOP_TICK_MS = 50

/** The most requests remembered at once: past it the oldest are forgotten first. */
const MAX_RECENT = 10_000

/** The requests answered, oldest first, each forgotten once its window passed: a queue read from `head`. */
class Remembered {
  private entries: Array<{ readonly key: string; readonly recording: Recording; readonly until: number }> = []
  private head = 0

  add(recent: Map<string, Recording>, key: string, recording: Recording, windowMs: number): void {
    const now = performance.now()
    const entries = this.entries
    while (this.head < entries.length && (entries[this.head]!.until <= now || entries.length - this.head >= MAX_RECENT)) {
      const old = entries[this.head++]!
      if (recent.get(old.key) === old.recording) recent.delete(old.key)
    }
    // Compacted now and then, not on every removal: the queue stays linear in what it holds.
    if (this.head > 1_024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head)
      this.head = 0
    }
    this.entries.push({ key, recording, until: now + windowMs })
  }
}

const UNAVAILABLE_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: null,
  error: { code: -32000, message: "Service Unavailable: the instance is not serving now" }
})

/** The answer of a request, kept for its duplicates: what it was, and who else waits for it. */
class Recording {
  status: number | undefined = undefined
  headers: ResponseHeaders | undefined = undefined
  body: string | undefined = undefined
  readonly chunks: Array<string> = []
  streaming = false
  ended = false
  readonly followers = new Set<Served>()

  /** Gives a duplicate what the answer was so far, and the rest as it comes. */
  follow(served: Served): void {
    if (this.ended && !this.streaming) {
      return served.respond(this.status ?? 500, this.headers ?? {}, this.body)
    }
    if (this.streaming) {
      const stream = served.stream(this.headers ?? {})
      for (const chunk of this.chunks) stream.write(chunk)
      if (this.ended) return stream.end()
    }
    this.followers.add(served)
    served.onClose(() => this.followers.delete(served))
  }

  answered(status: number, headers: ResponseHeaders, body: string | undefined): void {
    this.status = status
    this.headers = headers
    this.body = body
    this.ended = true
    for (const served of this.followers) served.respond(status, headers, body)
  }

  opened(headers: ResponseHeaders): void {
    this.status = 200
    this.headers = headers
    this.streaming = true
    for (const served of this.followers) served.stream(headers)
  }

  wrote(chunk: string): void {
    this.chunks.push(chunk)
    for (const served of this.followers) served.streamed?.write(chunk)
  }

  finished(): void {
    this.ended = true
    for (const served of Array.from(this.followers)) served.streamed?.end()
  }
}

/** A relayed request, served here. */
class Served implements Exchange {
  readonly method: string
  readonly url: string
  readonly headers: RequestHead["headers"]
  readonly remoteAddress: string | undefined
  private callbacks: Array<() => void> | undefined = []
  /** The answer is complete. */
  private done = false
  private acked = false
  /** The client at the other end went away (or the link did). */
  gone = false
  streamed: ResponseStream | undefined = undefined
  recording: Recording | undefined = undefined

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
    this.recording?.answered(status, headers, body)
    this.close()
  }

  stream(headers: ResponseHeaders): ResponseStream {
    if (this.streamed !== undefined) return this.streamed
    this.acked = true
    const connection = this.connection
    if (!this.gone) connection.writer.send(this.id, Kind.Open, encodeAnswerHead(200, headers, false), undefined)
    this.recording?.opened(headers)
    const served = this
    const stream: ResponseStream = {
      write: (chunk) => {
        if (served.done) return false
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

  /** The client went away before the answer ended. */
  lose(): void {
    this.gone = true
    this.close()
  }

  /** The exchange is done with: its answer ended, or its client went. */
  private close(): void {
    this.connection.served.delete(this.id)
    const callbacks = this.callbacks
    if (callbacks === undefined) return
    this.callbacks = undefined
    for (const f of callbacks) f()
  }
}

/** Whether an exchange is one relayed here over a link: it is answered here, never relayed again. @internal */
export const isRelayed = (exchange: Exchange): boolean => exchange instanceof Served

/** The key a JSON-RPC request is deduplicated by, or undefined for anything else (notifications, answers). */
const dedupeKey = (head: RequestHead, body: string | undefined): string | undefined => {
  if (head.method !== "POST" || body === undefined || !body.includes("\"method\"") || !body.includes("\"id\"")) {
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined
  if (!("id" in parsed) || !("method" in parsed) || typeof parsed.method !== "string") return undefined
  return typeof parsed.id === "string" || typeof parsed.id === "number" ? `${head.session}\u0000${body}` : undefined
}

/** One proven connection from another instance. */
class Connection {
  readonly writer: Writer
  readonly served = new Map<number, Served>()
  // Requests are acknowledged only if still unanswered a while after they came (most are answered sooner, and
  // their answer is the acknowledgement): those of the last interval are acknowledged at the end of the next.
  private older: Array<Served> = []
  private newer: Array<Served> = []
  private timer: ReturnType<typeof setInterval> | undefined = undefined

  constructor(readonly socket: Net.Socket, private readonly host: Host, private readonly ackDelayMs: number) {
    this.writer = new Writer(socket)
  }

  frame(id: number, kind: number, head: string | undefined, body: Buffer): void {
    if (kind === Kind.Close) return this.served.get(id)?.lose()
    if (kind !== Kind.Request || head === undefined) return
    const parsed = decodeRequestHead(head)
    if (parsed === undefined) return void this.socket.destroy()
    const text = parsed.hasBody ? body.toString("utf8") : undefined
    const served = new Served(this, id, parsed, text, body.length)
    this.served.set(id, served)
    this.newer.push(served)
    this.timer ??= setInterval(this.acknowledge, this.ackDelayMs)
    const front = this.host.front
    if (front === undefined) {
      return served.respond(503, { "content-type": "application/json", "retry-after": "1" }, UNAVAILABLE_BODY)
    }
    const key = dedupeKey(parsed, text)
    if (key === undefined) return front(served)
    const recent = this.host.recent
    const first = recent.get(key)
    if (first !== undefined) return first.follow(served)
    const recording = new Recording()
    served.recording = recording
    recent.set(key, recording)
    const late = this.host.watch.held()
    served.onClose(() => {
      // A request its sender may have given up on (its client went, or it was read late) is remembered a while
      // after its answer, so a retry that comes after it still runs once; any other is forgotten with its answer,
      // as is a refusal, so a retry runs.
      const refused = recording.status !== undefined && recording.status >= 400
      if (!refused && (served.gone || late || this.host.watch.held())) {
        this.host.answered.add(recent, key, recording, this.host.windowMs)
      } else if (recent.get(key) === recording) recent.delete(key)
    })
    front(served)
  }

  private readonly acknowledge = (): void => {
    for (const served of this.older) served.ack()
    this.older = this.newer
    this.newer = []
    if (this.older.length === 0) {
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
    reader.max = MAX_FRAME
  }, MAX_HANDSHAKE_FRAME)
  const deadline = setTimeout(() => socket.destroy(), HANDSHAKE_MS)
  socket.on("data", (chunk: Buffer) => {
    if (!reader.push(chunk)) socket.destroy()
  })
  socket.on("error", () => undefined)
  socket.on("close", () => {
    clearTimeout(deadline)
    connection?.drop()
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
    const host: Host = {
      front: undefined,
      recent: new Map(),
      watch: new LoopWatch(LOOP_TICK_MS + config.ackTimeoutMs / 4, config.dedupeWindowMs),
      answered: new Remembered(),
      windowMs: config.dedupeWindowMs
    }
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      accept(config, host, socket)
    })
    const failed = (error: Error) => {
      host.watch.stop()
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
        close: () => {
          host.watch.stop()
          server.close()
          for (const socket of sockets) socket.destroy()
        }
      }))
    })
  })
