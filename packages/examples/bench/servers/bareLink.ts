/**
 * The bare relay's link (bench only, no effect-mcp code): what a `bareRelay.ts` router and the floor server
 * (`bare.ts --link-port`) exchange over one TCP connection. A frame is a u32 length, a u32 id and that many
 * bytes: a head of lines (`METHOD URL` or the status, then `name: value` lines), an empty line, the raw body.
 * Every frame sent in one turn of the event loop goes out in one write. It is the least a relay can do, so the
 * cluster bench can show what relaying itself costs on the machine beside what effect-mcp's link costs.
 */
import type * as net from "node:net"

const PREFIX = 8
const EMPTY = Buffer.alloc(0)

/** A decoded head: its first line, the headers (names as sent), and the body after it. */
export interface Message {
  readonly first: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Buffer
}

/** Splits a frame's bytes into its head lines and its body. */
export const decode = (payload: Buffer): Message => {
  const end = payload.indexOf("\n\n")
  const lines = payload.toString("latin1", 0, end).split("\n")
  const headers: Array<readonly [string, string]> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(": ")
    headers.push([line.slice(0, colon), line.slice(colon + 2)])
  }
  return { first: lines[0]!, headers, body: payload.subarray(end + 2) }
}

/** A head as sent: the first line, the headers given, and the empty line before the body. */
export const head = (first: string, headers: Iterable<readonly [string, string]>): string => {
  let text = first
  for (const [name, value] of headers) text += `\n${name}: ${value}`
  return text + "\n\n"
}

/** Reassembles frames from a connection's chunks, which cut them anywhere. */
export class FrameReader {
  private rest: Buffer = EMPTY

  constructor(private readonly onFrame: (id: number, payload: Buffer) => void) {}

  readonly push = (chunk: Buffer): void => {
    const data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk])
    let offset = 0
    while (data.length - offset >= PREFIX) {
      const length = data.readUInt32BE(offset)
      if (data.length - offset - PREFIX < length) break
      this.onFrame(data.readUInt32BE(offset + 4), data.subarray(offset + PREFIX, offset + PREFIX + length))
      offset += PREFIX + length
    }
    this.rest = offset === data.length ? EMPTY : data.subarray(offset)
  }
}

/** Queues frames and writes all of one turn's in one write (one syscall and one wake-up on the other side). */
export class TurnWriter {
  private frames: Array<Buffer> = []

  constructor(private readonly socket: net.Socket) {}

  send(id: number, headText: string, body: Buffer | string): void {
    const headLength = Buffer.byteLength(headText, "latin1")
    const bodyLength = typeof body === "string" ? Buffer.byteLength(body) : body.length
    const frame = Buffer.allocUnsafe(PREFIX + headLength + bodyLength)
    frame.writeUInt32BE(headLength + bodyLength, 0)
    frame.writeUInt32BE(id, 4)
    frame.write(headText, PREFIX, "latin1")
    if (typeof body === "string") frame.write(body, PREFIX + headLength)
    else body.copy(frame, PREFIX + headLength)
    if (this.frames.push(frame) === 1) setImmediate(this.flush)
  }

  private readonly flush = (): void => {
    const frames = this.frames
    this.frames = []
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))
  }
}
