/**
 * What every `Exchange` over a request that is not `node:http`'s shares: reading a body from a byte stream within
 * a limit, discarding a body nobody reads, and the bookkeeping of the connection closing. `PlatformHttpTransport`
 * (an `@effect/platform` request) and `WebHandler` (a web-standard `Request`) both build on it.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type Body, BodyBuffer, declaredLength, type Headers } from "../../HttpExchange.js"

/** One decoder for every body: decoding without `stream` keeps no state between calls. */
const utf8 = new TextDecoder()

/**
 * Past the limit a body is read and dropped, so the client finishes sending and can read its 413; past this much
 * it is not worth reading on, and the read stops (as the Node server closes the connection there).
 */
const DRAIN_LIMIT = 64 * 1024 * 1024

const TOO_LARGE: Body = { _tag: "TooLarge" }
const FAILED: Body = { _tag: "Failed" }

/**
 * Reads a request body of `limit` bytes at most, held in one `BodyBuffer` (sized from a declared length within
 * the limit). Never fails: a stream that fails is a `Failed` body.
 * @internal
 */
export const readBody = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  headers: Headers,
  limit: number
): Effect.Effect<Body, never, R> =>
  Effect.suspend(() => {
    const buffer = new BodyBuffer(limit, declaredLength(headers, limit))
    let size = 0
    return body.pipe(
      // The chunk that crosses the drain limit is the last one read.
      Stream.takeUntil((chunk) => (size += chunk.length) > DRAIN_LIMIT),
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          if (size <= limit) buffer.append(chunk)
          else buffer.clear()
        })
      ),
      Effect.match({
        onFailure: () => FAILED,
        onSuccess: (): Body => size > limit ? TOO_LARGE : { _tag: "Text", text: utf8.decode(buffer.bytes()) }
      }),
      Effect.ensuring(Effect.sync(() => buffer.clear()))
    )
  })

/**
 * Reads a body nobody will use and drops it. A streamed response's request may carry one (a GET may): left
 * unread, it fills the server's buffer and the server stops reading the socket, so a client that goes away is not
 * seen until a write fails, which on an idle stream is the next keep-alive. Read, the close is seen at once.
 * @internal
 */
export const discardBody = <E, R>(body: Stream.Stream<Uint8Array, E, R>): Effect.Effect<void, never, R> =>
  Effect.ignore(Stream.runDrain(body))

/**
 * The callbacks of `Exchange.onClose` and the one moment they run: `close` runs them once, in order; a callback
 * added after that runs at once.
 * @internal
 */
export class CloseSignal {
  private callbacks: Array<() => void> | undefined = []

  /** True once `close` ran. */
  get closed(): boolean {
    return this.callbacks === undefined
  }

  onClose(f: () => void): void {
    if (this.callbacks === undefined) f()
    else this.callbacks.push(f)
  }

  /** Runs the callbacks, the first time only. */
  close(): void {
    const callbacks = this.callbacks
    if (callbacks === undefined) return
    this.callbacks = undefined
    for (const f of callbacks) f()
  }
}
