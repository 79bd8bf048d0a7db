import { describe, expect, it } from "@effect/vitest"
import type { Principal } from "@effect-mcp/core/McpAuth"
import { isValidSessionId } from "@effect-mcp/core/McpSession"
import * as SessionId from "../src/internal/sessionId.js"

const key = Buffer.from("k".repeat(32))
const otherKey = Buffer.from("o".repeat(32))
const alice: Principal = { subject: "alice", issuer: "https://as.example", scopes: [], claims: {} }
const aliceRefreshed: Principal = { ...alice, scopes: ["mcp"], expiresAt: Date.now() + 60_000 }
const mallory: Principal = { subject: "mallory", issuer: "https://as.example", scopes: [], claims: {} }

describe("SessionId", () => {
  it("names its incarnation, is visible ASCII and carries 128 random bits", () => {
    const incarnation = SessionId.newIncarnation()
    const ids = new Set(Array.from({ length: 1_000 }, () => SessionId.mint(key, incarnation, undefined)))
    expect(ids.size).toBe(1_000)
    for (const id of ids) {
      expect(id).toHaveLength(SessionId.LENGTH)
      expect(isValidSessionId(id)).toBe(true)
      expect(id.startsWith(incarnation)).toBe(true)
      expect(SessionId.ownerOf(key, id, undefined)).toBe(incarnation)
    }
  })

  it("is bound to its principal's party, across token refreshes", () => {
    const incarnation = SessionId.newIncarnation()
    const id = SessionId.mint(key, incarnation, alice)
    expect(SessionId.ownerOf(key, id, alice)).toBe(incarnation)
    expect(SessionId.ownerOf(key, id, aliceRefreshed)).toBe(incarnation)
    expect(SessionId.ownerOf(key, id, mallory)).toBeUndefined()
    expect(SessionId.ownerOf(key, id, undefined)).toBeUndefined()
    expect(SessionId.ownerOf(key, SessionId.mint(key, incarnation, undefined), alice)).toBeUndefined()
  })

  it("tells a forged or altered id from the cluster's", () => {
    const incarnation = SessionId.newIncarnation()
    const id = SessionId.mint(key, incarnation, undefined)
    expect(SessionId.ownerOf(otherKey, id, undefined)).toBeUndefined()
    const flipped = id.slice(0, 20) + (id[20] === "A" ? "B" : "A") + id.slice(21)
    expect(SessionId.ownerOf(key, flipped, undefined)).toBeUndefined()
    const otherOwner = SessionId.newIncarnation() + id.slice(SessionId.PREFIX_LENGTH)
    expect(SessionId.ownerOf(key, otherOwner, undefined)).toBeUndefined()
    expect(SessionId.ownerOf(key, id.slice(0, -1) + "!", undefined)).toBeUndefined()
    expect(SessionId.ownerOf(key, "0123456789abcdef0123456789abcdef", undefined)).toBeUndefined()
    expect(SessionId.ownerOf(key, "", undefined)).toBeUndefined()
  })
})
