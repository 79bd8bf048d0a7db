/**
 * The relaying end of the links between instances: one persistent TCP connection per owner address, proven with
 * the cluster key before anything else crosses it, many requests in flight on it by id. A request is one frame
 * (a head of a few lines and the raw body); the owner's answer comes back as one frame, or as a stream of chunks
 * with its end. A client that goes away is told to the owner at once (a frame), so the owner's exchange closes
 * as it would for a client of its own.
 *
 * A request is failed (its caller answers 503 or 404, never 202) when the link drops before its answer began,
 * and when the owner has not taken it in within the ack timeout (a frozen owner, or one whose event loop is held):
 * the owner acknowledges every request it has not answered within a quarter of that timeout, so a long tool call
 * is not mistaken for a slow owner.
 * @internal
 */
import type { Exchange, ResponseStream } from "@effect-mcp/core/HttpExchange"
import type * as Net from "node:net"
import { answerHeadDecoder, encodeRequestHead, Kind, MAX_FRAME, MAX_HANDSHAKE_FRAME, Reader, Writer } from "./frames.js"
import * as Auth from "./linkAuth.js"
import * as LinkSocket from "./linkSocket.js"

/** What the caller hears of a relayed request. @internal */
export interface Events {
  /** Once, when it stops waiting: the answer began, the request failed or was given up, or the client went. */
  readonly settled: () => void
  /** Once, if no answer began: the link dropped, or the owner did not take the request in time. */
  readonly failed: () => void
}

/** One relayed request in flight. @internal */
export interface Relayed {
  /** Gives up before the answer began, so the caller answers instead: false if it is too late for that. */
  abort(): boolean
}

/** @internal */
export interface Config {
  /** The links' key (`Auth.linkKey`). */
  readonly key: Uint8Array
  /** How long an owner may take to take a request in. */
  readonly ackTimeoutMs: number
  /** How its connections are made (plain TCP or TLS); plain TCP when absent. */
  readonly sockets?: LinkSocket.Sockets | undefined
}

/** The links of one instance to the owners it relays to. @internal */
export interface Links {
  /** Sends the exchange's request, with `body`, to the owner at `address` (`host:port`), and relays the answer. */
  readonly relay: (
    address: string,
    exchange: Exchange,
    session: string,
    body: string | undefined,
    events: Events
  ) => Relayed
  /** Closes every link, failing what is in flight. */
  readonly close: () => void
}

/** A request in flight on a link. */
class InFlight implements Relayed {
  acked = false
  answered = false
  stream: ResponseStream | undefined = undefined
  readonly deadline: number

  constructor(
    readonly link: Link,
    readonly id: number,
    readonly exchange: Exchange,
    readonly events: Events,
    now: number
  ) {
    this.deadline = now + link.config.ackTimeoutMs
  }

  abort(): boolean {
    if (this.answered || !this.link.forget(this)) return false
    this.answered = true
    this.link.writer?.send(this.id, Kind.Close, undefined, undefined)
    this.events.settled()
    return true
  }

  /** The answer begins here. */
  begin(): void {
    this.answered = true
    this.events.settled()
  }

  /** Not answered: the caller answers (503 or 404). */
  fail(): void {
    if (this.answered) return
    this.answered = true
    this.events.settled()
    this.events.failed()
  }
}

/** One connection to one owner address. */
class Link {
  readonly socket: Net.Socket
  writer: Writer | undefined = undefined
  private readonly waiting: Array<() => void> = []
  private readonly inFlight = new Map<number, InFlight>()
  private nextId = 1
  private timer: ReturnType<typeof setInterval> | undefined = undefined
  private readonly challenge = Auth.nonce()
  private readonly decodeHead = answerHeadDecoder()
  closed = false

  constructor(readonly config: Config, readonly address: string, private readonly gone: (link: Link) => void) {
    const colon = address.lastIndexOf(":")
    this.socket = (config.sockets ?? LinkSocket.plain).connect(
      address.slice(0, colon).replace(/^\[|\]$/g, ""),
      Number(address.slice(colon + 1))
    )
    const reader = new Reader((id, kind, head, body) => this.frame(id, kind, head, body), MAX_HANDSHAKE_FRAME)
    this.socket.on("data", (chunk: Buffer) => {
      if (!reader.push(chunk)) this.socket.destroy()
      else if (this.writer !== undefined) reader.max = MAX_FRAME
    })
    this.socket.on("error", () => undefined)
    this.socket.on("close", () => this.drop())
  }

  private frame(id: number, kind: number, head: string | undefined, body: Buffer): void {
    if (this.writer === undefined) return this.handshake(kind, head)
    const request = this.inFlight.get(id)
    if (request === undefined) return
    switch (kind) {
      case Kind.Ack:
        request.acked = true
        return
      case Kind.Answer: {
        const answer = this.decodeHead(head)
        this.inFlight.delete(id)
        if (answer === undefined) return request.fail()
        request.begin()
        return request.exchange.respond(answer.status, answer.headers, answer.hasBody ? body.toString("utf8") : undefined)
      }
      case Kind.Open: {
        const answer = this.decodeHead(head)
        if (answer === undefined) {
          this.inFlight.delete(id)
          return request.fail()
        }
        request.acked = true
        request.begin()
        request.stream = request.exchange.stream(answer.headers)
        return
      }
      case Kind.Data:
        if (request.stream !== undefined && !request.stream.write(body.toString("utf8"))) {
          this.inFlight.delete(id)
          this.writer.send(id, Kind.Close, undefined, undefined)
        }
        return
      case Kind.End:
        this.inFlight.delete(id)
        return request.stream?.end()
    }
  }

  private handshake(kind: number, head: string | undefined): void {
    if (kind === Kind.Challenge && head !== undefined && this.socket.writable) {
      const writer = new Writer(this.socket)
      const proof = JSON.stringify({
        n: this.challenge,
        p: Auth.prove(this.config.key, "connecting", head, this.challenge),
        // The owner acknowledges what it has not answered well within this.
        t: this.config.ackTimeoutMs
      })
      writer.send(0, Kind.Proof, proof, undefined)
      this.ownerChallenge = head
      this.pendingWriter = writer
      return
    }
    if (kind === Kind.Proven && this.pendingWriter !== undefined && this.ownerChallenge !== undefined) {
      if (!Auth.verify(this.config.key, "owner", this.challenge, this.ownerChallenge, head)) {
        return void this.socket.destroy()
      }
      this.writer = this.pendingWriter
      for (const send of this.waiting.splice(0)) send()
      return
    }
    this.socket.destroy()
  }

  private ownerChallenge: string | undefined = undefined
  private pendingWriter: Writer | undefined = undefined

  send(exchange: Exchange, session: string, body: string | undefined, events: Events): InFlight {
    const id = this.nextId
    this.nextId = id === 0xffff_ffff ? 1 : id + 1
    const request = new InFlight(this, id, exchange, events, performance.now())
    this.inFlight.set(id, request)
    const text = encodeRequestHead({
      method: exchange.method,
      url: exchange.url,
      headers: exchange.headers,
      address: exchange.remoteAddress,
      session,
      hasBody: body !== undefined
    })
    const write = () => {
      if (this.inFlight.get(id) === request) this.writer?.send(id, Kind.Request, text, body)
    }
    if (this.writer !== undefined) write()
    else this.waiting.push(write)
    exchange.onClose(() => {
      if (!this.forget(request)) return
      this.writer?.send(id, Kind.Close, undefined, undefined)
      if (!request.answered) {
        request.answered = true
        events.settled()
      }
    })
    this.timer ??= setInterval(this.sweep, Math.max(10, Math.floor(this.config.ackTimeoutMs / 4)))
    return request
  }

  /** Removes a request in flight: false if it was not (any more). */
  forget(request: InFlight): boolean {
    if (this.inFlight.get(request.id) !== request) return false
    this.inFlight.delete(request.id)
    return true
  }

  /** Fails the requests the owner did not take in within the ack timeout; they are sent in deadline order. */
  private readonly sweep = (): void => {
    const now = performance.now()
    for (const request of this.inFlight.values()) {
      if (request.acked) continue
      if (request.deadline > now) break
      this.inFlight.delete(request.id)
      this.writer?.send(request.id, Kind.Close, undefined, undefined)
      request.fail()
    }
    if (this.inFlight.size === 0) this.stopSweep()
  }

  private stopSweep(): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** The link is gone: what was answered ends, what was not fails. */
  drop(): void {
    if (this.closed) return
    this.closed = true
    this.stopSweep()
    this.gone(this)
    this.waiting.length = 0
    const requests = Array.from(this.inFlight.values())
    this.inFlight.clear()
    for (const request of requests) {
      if (request.stream !== undefined) request.stream.end()
      else request.fail()
    }
  }
}

/** The links of this instance, made as owners are first relayed to. @internal */
export const make = (config: Config): Links => {
  const links = new Map<string, Link>()
  const forget = (link: Link) => {
    if (links.get(link.address) === link) links.delete(link.address)
  }
  return {
    relay: (address, exchange, session, body, events) => {
      let link = links.get(address)
      if (link === undefined || link.closed) {
        link = new Link(config, address, forget)
        links.set(address, link)
      }
      return link.send(exchange, session, body, events)
    },
    close: () => {
      for (const link of Array.from(links.values())) {
        link.socket.destroy()
        link.drop()
      }
      links.clear()
    }
  }
}
