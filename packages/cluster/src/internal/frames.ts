/**
 * The frames of the link between instances, and how they are written and read. A frame is a 4-byte length (of
 * what follows), a 4-byte request id, a 1-byte kind, a 4-byte head length, the head (a few lines of text, or
 * nothing) and the body: raw bytes, never escaped into the head. Frames written in one turn of the event loop leave in
 * one write, so 50 requests that came together cost one syscall, not 50.
 * @internal
 */
import type * as Net from "node:net"

/** The kinds of frames. @internal */
export const Kind = {
  /** Relaying instance → owner: a request (head: `RequestHead`; body: the request body). */
  Request: 1,
  /** Relaying instance → owner: the client went away. */
  Close: 2,
  /** Owner → relaying instance: the request was taken in (its answer may take longer). */
  Ack: 3,
  /** Owner → relaying instance: a whole answer (head: `AnswerHead`; body: the answer body). */
  Answer: 4,
  /** Owner → relaying instance: a streamed answer begins (head: `AnswerHead`). */
  Open: 5,
  /** Owner → relaying instance: a chunk of a streamed answer (body). */
  Data: 6,
  /** Owner → relaying instance: the streamed answer ended. */
  End: 7,
  /** Owner → connecting instance, first: its challenge (head: a nonce). */
  Challenge: 10,
  /** Connecting instance → owner: the answer to the challenge, and a challenge of its own (head). */
  Proof: 11,
  /** Owner → connecting instance: the answer to that challenge (head); the link is open. */
  Proven: 12
} as const

/** Request headers, as an exchange gives them. @internal */
export type Headers = { readonly [name: string]: string | ReadonlyArray<string> | undefined }

/** A request as it crosses the link. @internal */
export interface RequestHead {
  readonly method: string
  readonly url: string
  readonly headers: Headers
  /** The client's address, as the relaying instance saw it. */
  readonly address: string | undefined
  /** The session id. */
  readonly session: string
  /** Whether there is a body (a GET has none, a POST's may be empty). */
  readonly hasBody: boolean
}

/** An answer's status and headers as they cross the link. @internal */
export interface AnswerHead {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly hasBody: boolean
}

// Heads are lines, not JSON: a method, a URL, an address, a session id and HTTP header names and values cannot
// hold a line break (HTTP forbids it, and Node and fetch refuse it), so nothing needs escaping, and writing or
// reading a head is a join or a split.

const appendHeaders = (lines: Array<string>, headers: Headers | Readonly<Record<string, string>>): void => {
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (typeof value === "string") {
      if (!value.includes("\n")) lines.push(name, value)
    } else {
      for (const one of value) if (!one.includes("\n")) lines.push(name, one)
    }
  }
}

/** @internal */
export const encodeRequestHead = (head: RequestHead): string => {
  const lines = [head.method, head.url, head.address ?? "", head.session, head.hasBody ? "1" : "0"]
  appendHeaders(lines, head.headers)
  return lines.join("\n")
}

/** Header lines from `from` on, as an object; undefined if they do not pair up. */
const headersOf = (lines: ReadonlyArray<string>, from: number): Record<string, string | Array<string>> | undefined => {
  if ((lines.length - from) % 2 !== 0) return undefined
  const headers: Record<string, string | Array<string>> = {}
  for (let i = from; i < lines.length; i += 2) {
    const name = lines[i]!
    if (name === "__proto__") continue
    const value = lines[i + 1]!
    const known = headers[name]
    headers[name] = known === undefined ? value : typeof known === "string" ? [known, value] : [...known, value]
  }
  return headers
}

/** @internal */
export const decodeRequestHead = (text: string): RequestHead | undefined => {
  const lines = text.split("\n")
  if (lines.length < 5) return undefined
  const headers = headersOf(lines, 5)
  if (headers === undefined) return undefined
  return {
    method: lines[0]!,
    url: lines[1]!,
    address: lines[2] === "" ? undefined : lines[2],
    session: lines[3]!,
    hasBody: lines[4] === "1",
    headers
  }
}

/** @internal */
export const encodeAnswerHead = (status: number, headers: Readonly<Record<string, string>>, hasBody: boolean): string => {
  const lines = [String(status), hasBody ? "1" : "0"]
  appendHeaders(lines, headers)
  return lines.join("\n")
}

/** @internal */
export const decodeAnswerHead = (text: string | undefined): AnswerHead | undefined => {
  if (text === undefined) return undefined
  const lines = text.split("\n")
  const status = Number(lines[0])
  if (lines.length < 2 || !Number.isInteger(status)) return undefined
  const headers = headersOf(lines, 2)
  if (headers === undefined) return undefined
  const flat: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]!
    flat[name] = typeof value === "string" ? value : value.join(", ")
  }
  return { status, headers: flat, hasBody: lines[1] === "1" }
}

const PREFIX = 13

/** What a link may carry in one frame: more than any request or answer body the transports accept. @internal */
export const MAX_FRAME = 64 * 1024 * 1024

/** The most a frame may hold before the link is authenticated. @internal */
export const MAX_HANDSHAKE_FRAME = 512

const EMPTY = Buffer.alloc(0)

/**
 * Writes frames to a socket, all those of one turn of the event loop in one write: flushed after the loop's
 * poll phase, so the requests that arrived on many client connections at once leave together.
 * @internal
 */
export class Writer {
  private queue: Array<Buffer> = []
  private bytes = 0
  private scheduled = false

  constructor(private readonly socket: Net.Socket) {}

  /** Queues a frame; it leaves at the end of this turn of the event loop. */
  send(id: number, kind: number, head: string | undefined, body: string | Uint8Array | undefined): void {
    const headLength = head === undefined ? 0 : Buffer.byteLength(head)
    const bodyLength = body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.length
    const frame = Buffer.allocUnsafe(PREFIX + headLength + bodyLength)
    frame.writeUInt32BE(PREFIX - 4 + headLength + bodyLength, 0)
    frame.writeUInt32BE(id, 4)
    frame[8] = kind
    frame.writeUInt32BE(headLength, 9)
    if (head !== undefined) frame.write(head, PREFIX, "utf8")
    if (body !== undefined) {
      if (typeof body === "string") frame.write(body, PREFIX + headLength, "utf8")
      else frame.set(body, PREFIX + headLength)
    }
    this.queue.push(frame)
    this.bytes += frame.length
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }

  /** Bytes queued or written but not yet taken by the socket. */
  get backlog(): number {
    return this.bytes + this.socket.writableLength
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const queue = this.queue
    if (queue.length === 0 || this.socket.destroyed) return
    this.queue = []
    const bytes = this.bytes
    this.bytes = 0
    this.socket.write(queue.length === 1 ? queue[0]! : Buffer.concat(queue, bytes))
  }
}

/** One frame read: its body is a view of what was read, valid until the handler returns. @internal */
export type Handler = (id: number, kind: number, head: string | undefined, body: Buffer) => void

/**
 * Reads frames from what a socket delivers, in order. A frame over `max` (or malformed) stops the reader, which
 * then says so with `false`: the caller drops the link.
 * @internal
 */
export class Reader {
  private parts: Array<Buffer> = []
  private size = 0
  private need = 4
  max: number

  constructor(private readonly handle: Handler, max: number) {
    this.max = max
  }

  /**
   * Takes a chunk and handles every whole frame in it; false once the peer sent something it may not (a frame
   * too large, or one its handler could not read).
   */
  push(chunk: Buffer): boolean {
    try {
      return this.read(chunk)
    } catch {
      return false
    }
  }

  private read(chunk: Buffer): boolean {
    this.parts.push(chunk)
    this.size += chunk.length
    if (this.size < this.need) return true
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size)
    let offset = 0
    let need = 4
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset)
      if (length > this.max || length < PREFIX - 4) return false
      if (data.length - offset - 4 < length) {
        need = length + 4
        break
      }
      const headLength = data.readUInt32BE(offset + 9)
      if (headLength > length - (PREFIX - 4)) return false
      const headStart = offset + PREFIX
      const end = offset + 4 + length
      this.handle(
        data.readUInt32BE(offset + 4),
        data[offset + 8]!,
        headLength === 0 ? undefined : data.toString("utf8", headStart, headStart + headLength),
        end === headStart + headLength ? EMPTY : data.subarray(headStart + headLength, end)
      )
      offset = end
    }
    const rest = offset === data.length ? undefined : data.subarray(offset)
    this.parts = rest === undefined ? [] : [rest]
    this.size = rest === undefined ? 0 : rest.length
    this.need = need
    return true
  }
}
