import { describe, expect, it } from "@effect/vitest"
import { BodyBuffer, declaredLength } from "../src/HttpExchange.js"

const utf8 = new TextDecoder()

describe("HttpExchange.BodyBuffer", () => {
  it("keeps a body that came in one chunk as that chunk, without copying it", () => {
    const chunk = new TextEncoder().encode("{\"jsonrpc\":\"2.0\"}")
    const body = new BodyBuffer(1024)
    body.append(chunk)
    expect(body.bytes()).toBe(chunk)
    expect(body.held).toBe(chunk.length)
  })

  it("holds about its own size when trickled one byte at a time, and decodes whole", () => {
    const text = JSON.stringify({ name: "Zoë ☃ 𝄞".repeat(2000) })
    const bytes = new TextEncoder().encode(text)
    const body = new BodyBuffer(4 * 1024 * 1024)
    for (let i = 0; i < bytes.length; i++) {
      body.append(bytes.subarray(i, i + 1))
      // Doubling: never more than twice what arrived, past the first kilobyte.
      expect(body.held).toBeLessThanOrEqual(Math.max(2 * body.size, 1024))
      expect(body.heldAfter(0)).toBe(body.held)
    }
    expect(body.size).toBe(bytes.length)
    expect(utf8.decode(body.bytes())).toBe(text)
  })

  it("is sized once from a declared length, and never grows past the limit", () => {
    const declared = new BodyBuffer(100, 10)
    expect(declared.heldAfter(1)).toBe(1)
    declared.append(new Uint8Array([1]))
    expect(declared.heldAfter(1)).toBe(10)
    declared.append(new Uint8Array([2]))
    expect(declared.held).toBe(10)
    const limited = new BodyBuffer(1500)
    limited.append(new Uint8Array(1000))
    limited.append(new Uint8Array(1))
    expect(limited.held).toBe(1500)
    limited.clear()
    expect([limited.size, limited.held, limited.bytes().length]).toEqual([0, 0, 0])
  })

  it("reads a declared length only when it is a plain number within the limit", () => {
    expect(declaredLength({ "content-length": "42" }, 100)).toBe(42)
    for (const value of [undefined, "", "x", "-1", "1e3", " 4", "101", "9".repeat(20)]) {
      expect(declaredLength({ "content-length": value }, 100)).toBeUndefined()
    }
  })
})
