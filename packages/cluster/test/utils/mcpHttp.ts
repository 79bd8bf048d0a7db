/**
 * What the link tests say to an instance over Streamable HTTP (2025-06-18): a POST and its whole answer, and a
 * session opened and initialized.
 */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"

/** The headers of every POST. */
export const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-06-18"
}

/** A whole answer. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: string
}

/** POSTs `message` to `url` (the MCP endpoint), on `session` if given. */
export const postTo = (url: string, session: string | undefined, message: unknown) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { ...HEADERS, ...(session === undefined ? {} : { "mcp-session-id": session }) },
      body: JSON.stringify(message)
    })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

/** Opens a session at `url` and completes its handshake; its id. */
export const openSessionAt = (url: string, clientName: string) =>
  Effect.gen(function*() {
    const opened = yield* postTo(url, undefined, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: clientName, version: "1" } }
    })
    const id = opened.headers.get("mcp-session-id")
    if (opened.status !== 200 || id === null) return yield* Effect.die(new Error(`initialize: ${opened.status}`))
    expect((yield* postTo(url, id, { jsonrpc: "2.0", method: "notifications/initialized" })).status).toBe(202)
    return id
  })

/** A notification any session takes (202). */
export const ping = { jsonrpc: "2.0", method: "notifications/roots/list_changed" }
