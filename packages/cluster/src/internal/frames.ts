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

/** The most request heads a `requestHeadDecoder` remembers: past it, it starts over. */
const MAX_REMEMBERED_HEADS = 256

/**
 * `decodeRequestHead`, remembering what it decoded: a session's requests repeat their head (same headers, same
 * client), so most are decoded once. What it returns is frozen, as it is shared by the requests that repeat it.
 * @internal
 */
export const requestHeadDecoder = (): (text: string) => RequestHead | undefined => {
  const known = new Map<string, RequestHead>()
  return (text) => {
    const remembered = known.get(text)
    if (remembered !== undefined) return remembered
    const head = decodeRequestHead(text)
    if (head === undefined) return undefined
    for (const name in head.headers) {
      const value = head.headers[name]
      if (typeof value === "object") Object.freeze(value)
    }
    Object.freeze(head.headers)
    if (known.size >= MAX_REMEMBERED_HEADS) known.clear()
    known.set(text, Object.freeze(head))
    return head
  }
}

/**
 * `decodeAnswerHead`, remembering the last it decoded: the answers on a link mostly repeat the one before (the
 * same status and headers). What it returns is frozen, as it is shared.
 * @internal
 */
export const answerHeadDecoder = (): (text: string | undefined) => AnswerHead | undefined => {
  let lastText: string | undefined
  let last: AnswerHead | undefined
  return (text) => {
    if (text !== undefined && text === lastText) return last
    const head = decodeAnswerHead(text)
    if (head === undefined) return undefined
    Object.freeze(head.headers)
    lastText = text
    last = Object.freeze(head)
    return last
  }
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

/** The heads of answers whose headers are a frozen object (the front's constants), by status and body. */
const frozenHeads = new WeakMap<object, Map<number, string>>()

/** @internal */
export const encodeAnswerHead = (status: number, headers: Readonly<Record<string, string>>, hasBody: boolean): string => {
  // Most answers share one of a few frozen header objects: their heads are encoded once.
  const frozen = Object.isFrozen(headers)
  const variant = status * 2 + (hasBody ? 1 : 0)
  const known = frozen ? frozenHeads.get(headers) : undefined
  const remembered = known?.get(variant)
  if (remembered !== undefined) return remembered
  const lines = [String(status), hasBody ? "1" : "0"]
  appendHeaders(lines, headers)
  const head = lines.join("\n")
  if (frozen) {
    if (known === undefined) frozenHeads.set(headers, new Map([[variant, head]]))
    else known.set(variant, head)
  }
  return head
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

/** The smallest buffer a turn's frames are written into. */
const TURN_BUFFER = 4 * 1024

/**
 * Writes frames to a socket, all those of one turn of the event loop in one write: flushed after the loop's
 * poll phase, so the requests that arrived on many client connections at once leave together. A turn's frames
 * are written into one buffer, made for that turn (the socket may hold on to it until it is sent).
 * @internal
 */
export class Writer {
  private buffer: Buffer = EMPTY
  private offset = 0
  private scheduled = false
  /** What the last turn wrote: the next turn's buffer is made that large at once, not grown to it. */
  private lastTurn = TURN_BUFFER

  constructor(private readonly socket: Net.Socket) {}

  /** Queues a frame; it leaves at the end of this turn of the event loop. */
  send(id: number, kind: number, head: string | undefined, body: string | Uint8Array | undefined): void {
    const headLength = head === undefined ? 0 : Buffer.byteLength(head)
    const bodyLength = body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.length
    const size = PREFIX + headLength + bodyLength
    this.reserve(size)
    const buffer = this.buffer
    const start = this.offset
    buffer.writeUInt32BE(size - 4, start)
    buffer.writeUInt32BE(id, start + 4)
    buffer[start + 8] = kind
    buffer.writeUInt32BE(headLength, start + 9)
    if (head !== undefined) buffer.write(head, start + PREFIX, headLength, "utf8")
    if (typeof body === "string") buffer.write(body, start + PREFIX + headLength, bodyLength, "utf8")
    else if (body !== undefined) buffer.set(body, start + PREFIX + headLength)
    this.offset = start + size
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }

  /** Bytes queued or written but not yet taken by the socket. */
  get backlog(): number {
    return this.offset + this.socket.writableLength
  }

  /** Makes room for `size` more bytes in this turn's buffer. */
  private reserve(size: number): void {
    const needed = this.offset + size
    if (needed <= this.buffer.length) return
    const next = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2, this.lastTurn))
    if (this.offset > 0) this.buffer.copy(next, 0, 0, this.offset)
    this.buffer = next
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const length = this.offset
    const buffer = this.buffer
    this.buffer = EMPTY
    this.offset = 0
    this.lastTurn = Math.max(TURN_BUFFER, length)
    if (length > 0 && !this.socket.destroyed) this.socket.write(buffer.subarray(0, length))
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
