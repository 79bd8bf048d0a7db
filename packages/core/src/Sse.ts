/**
 * Server-Sent Events: framing, keep-alive comments and the response headers every MCP stream needs.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/** One SSE event. @since 0.1.0 */
export interface Event {
  readonly event?: string | undefined
  readonly id?: string | undefined
  /** Reconnection delay the client should use, in milliseconds. */
  readonly retry?: number | undefined
  readonly data: string
}

/**
 * Frames one event. Multi-line data is split over `data:` lines as the format requires.
 *
 * @since 0.1.0
 */
export const encode = (event: Event): string => {
  let frame = ""
  if (event.event !== undefined) frame += `event: ${event.event}\n`
  if (event.id !== undefined) frame += `id: ${event.id}\n`
  if (event.retry !== undefined) frame += `retry: ${event.retry}\n`
  frame += event.data.includes("\n") ? event.data.split(/\r?\n/).map((line) => `data: ${line}\n`).join("") : `data: ${event.data}\n`
  return frame + "\n"
}

/**
 * Frames a JSON-RPC message as a `message` event. JSON has no raw newlines, so this is one line of data.
 *
 * @since 0.1.0
 */
export const encodeMessage = (message: unknown, id?: string): string => encodeJson(JSON.stringify(message), id)

/**
 * Frames a message already serialized as JSON as a `message` event: for a caller that needs the JSON text for
 * something else too (its size), so the message is serialized once.
 *
 * @since 0.1.0
 */
export const encodeJson = (json: string, id?: string): string =>
  id === undefined ? `event: message\ndata: ${json}\n\n` : `event: message\nid: ${id}\ndata: ${json}\n\n`

/** A comment line: ignored by clients, but it keeps proxies and idle timers from cutting the stream. @since 0.1.0 */
export const comment = (text: string): string => `: ${text}\n\n`

/** The default keep-alive interval: proxies and Node's own timers cut idle streams at about 300 s. @since 0.1.0 */
export const DEFAULT_KEEP_ALIVE: Duration.Duration = Duration.seconds(15)

/** Headers of every SSE response: no caching or transformation, no proxy buffering. @since 0.1.0 */
export const headers: Readonly<Record<string, string>> = {
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no"
}
