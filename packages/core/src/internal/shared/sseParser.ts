/**
 * An incremental Server-Sent Events parser, following the WHATWG event-stream rules: lines end in CRLF, LF or
 * CR (a CR at the end of one chunk and an LF at the start of the next are one line end), `:` starts a comment,
 * one space after the field's colon is dropped, `data` lines join with LF, a blank line dispatches, and an
 * event with no `data` field is not dispatched.
 *
 * @internal
 */
import * as Stream from "effect/Stream"
import type { Event } from "../../Sse.js"

/** @internal */
export interface Parser {
  /** Feeds one chunk of text; returns the events it completed. */
  readonly feed: (chunk: string) => ReadonlyArray<Event>
}

/** @internal */
export const make = (): Parser => {
  const lineEnd = /[\r\n]/g
  let buffer = ""
  let skipLeadingLf = false
  let data: Array<string> | undefined
  let event: string | undefined
  let id: string | undefined
  let retry: number | undefined

  const line = (text: string, out: Array<Event>) => {
    if (text === "") {
      if (data !== undefined) {
        out.push({
          data: data.join("\n"),
          ...(event === undefined ? {} : { event }),
          ...(id === undefined ? {} : { id }),
          ...(retry === undefined ? {} : { retry })
        })
      }
      data = event = id = retry = undefined
      return
    }
    if (text.charCodeAt(0) === 58 /* ':' */) return
    const colon = text.indexOf(":")
    const field = colon < 0 ? text : text.slice(0, colon)
    let value = colon < 0 ? "" : text.slice(colon + 1)
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1)
    switch (field) {
      case "data":
        ;(data ??= []).push(value)
        break
      case "event":
        event = value
        break
      case "id":
        if (!value.includes("\0")) id = value
        break
      case "retry":
        if (/^\d+$/.test(value)) retry = Number(value)
        break
    }
  }

  return {
    feed: (chunk) => {
      if (skipLeadingLf && chunk.charCodeAt(0) === 10) chunk = chunk.slice(1)
      skipLeadingLf = false
      buffer += chunk
      const out: Array<Event> = []
      let start = 0
      lineEnd.lastIndex = 0
      for (let match = lineEnd.exec(buffer); match !== null; match = lineEnd.exec(buffer)) {
        const end = match.index
        let next = end + 1
        if (buffer.charCodeAt(end) === 13) {
          if (next === buffer.length) skipLeadingLf = true
          else if (buffer.charCodeAt(next) === 10) next++
        }
        line(buffer.slice(start, end), out)
        start = next
        lineEnd.lastIndex = next
      }
      buffer = buffer.slice(start)
      return out
    }
  }
}

/**
 * Decodes a byte stream into SSE events. An event cut off by the end of the stream is dropped, as the format
 * requires.
 *
 * @internal
 */
export const decode = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Event, E, R> =>
  Stream.suspend(() => {
    const parser = make()
    return bytes.pipe(Stream.decodeText(), Stream.mapConcat(parser.feed))
  })
