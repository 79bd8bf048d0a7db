/**
 * Session ids that name their owner: base64url of the minting instance's incarnation (9 bytes, so its 12
 * characters are a prefix of the id), 16 random bytes, and a tag (8 bytes of HMAC-SHA256 under the cluster key
 * over the incarnation, the random bytes and the principal). 44 visible ASCII characters, 128 random bits. Any
 * instance tells from an id alone, with no round trip, whether one of the cluster's instances minted it for this
 * principal: a forged id, or another party's, fails the tag.
 * @internal
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import type { Principal } from "@effect-mcp/core/McpAuth"

const INCARNATION_BYTES = 9
const RANDOM_BYTES = 16
const TAG_BYTES = 8

/** The length of an id, in characters. @internal */
export const LENGTH = ((INCARNATION_BYTES + RANDOM_BYTES + TAG_BYTES) / 3) * 4

/** The length of the incarnation's prefix, in characters. @internal */
export const PREFIX_LENGTH = (INCARNATION_BYTES / 3) * 4

/** A fresh incarnation: one process's life in the cluster, until it fences. @internal */
export const newIncarnation = (): string => randomBytes(INCARNATION_BYTES).toString("base64url")

/** Who an id is bound to: the party (issuer and subject, as `McpAuth.isSameParty` compares), or nobody. */
const partyOf = (principal: Principal | undefined): string =>
  principal === undefined ? "-" : `p${principal.issuer ?? ""}\u0000${principal.subject}`

const tagOf = (key: Uint8Array, incarnation: Buffer, random: Buffer, principal: Principal | undefined): Buffer =>
  createHmac("sha256", key).update(incarnation).update(random).update(partyOf(principal)).digest().subarray(
    0,
    TAG_BYTES
  )

/** A new id for a session of `incarnation`. @internal */
export const mint = (key: Uint8Array, incarnation: string, principal: Principal | undefined): string => {
  const prefix = Buffer.from(incarnation, "base64url")
  const random = randomBytes(RANDOM_BYTES)
  return incarnation + Buffer.concat([random, tagOf(key, prefix, random, principal)]).toString("base64url")
}

/** The incarnation that minted `id` for `principal`, or undefined for an id that no instance minted so. @internal */
export const ownerOf = (key: Uint8Array, id: string, principal: Principal | undefined): string | undefined => {
  if (id.length !== LENGTH) return undefined
  const bytes = Buffer.from(id, "base64url")
  // Decoding skips what is not base64url: only an id that encodes back to itself is one.
  if (bytes.length !== INCARNATION_BYTES + RANDOM_BYTES + TAG_BYTES || bytes.toString("base64url") !== id) {
    return undefined
  }
  const incarnation = bytes.subarray(0, INCARNATION_BYTES)
  const random = bytes.subarray(INCARNATION_BYTES, INCARNATION_BYTES + RANDOM_BYTES)
  const tag = bytes.subarray(INCARNATION_BYTES + RANDOM_BYTES)
  return timingSafeEqual(tag, tagOf(key, incarnation, random, principal)) ? id.slice(0, PREFIX_LENGTH) : undefined
}

/** The most verified ids `verifier` remembers: past it, it starts over. */
const MAX_VERIFIED = 16_384

/**
 * `ownerOf` under one key, remembering the ids it verified for a party: a session's every request names its id,
 * and an HMAC per request is a good part of routing one. Only verified ids are remembered, so forged ones cannot
 * fill the memory; a full memory starts over.
 * @internal
 */
export const verifier = (key: Uint8Array) => {
  const verified = new Map<string, string>()
  return (id: string, principal: Principal | undefined): string | undefined => {
    if (id.length !== LENGTH) return undefined
    const remembered = id + partyOf(principal)
    const known = verified.get(remembered)
    if (known !== undefined) return known
    const owner = ownerOf(key, id, principal)
    if (owner === undefined) return undefined
    if (verified.size >= MAX_VERIFIED) verified.clear()
    verified.set(remembered, owner)
    return owner
  }
}
