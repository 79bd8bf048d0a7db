/** The SSE parser the client reads server-sent events with (internal: the client's transports feed it bytes). */
import { describe, expect, it } from "@effect/vitest"
import * as SseParser from "../src/internal/shared/sseParser.js"

describe("SSE parser", () => {
  const parse = (chunks: ReadonlyArray<string>) => {
    const parser = SseParser.make()
    return chunks.flatMap((chunk) => parser.feed(chunk))
  }

  it("reads events split anywhere, with any line ending", () => {
    const text = "event: endpoint\r\ndata: /messages?session_id=1\r\n\r\n: keep-alive\n\nid: 7\rdata: a\rdata:b\r\r"
    const expected = [
      { event: "endpoint", data: "/messages?session_id=1" },
      { id: "7", data: "a\nb" }
    ]
    expect(parse([text])).toEqual(expected)
    for (let i = 1; i < text.length; i++) {
      expect(parse([text.slice(0, i), text.slice(i)])).toEqual(expected)
    }
    expect(parse(text.split(""))).toEqual(expected)
  })

  it("keeps the priming event, drops events without data and a cut-off event", () => {
    expect(parse(["id: 1\nretry: 500\ndata:\n\nevent: x\n\ndata: cut"])).toEqual([{ id: "1", retry: 500, data: "" }])
  })
})
