/**
 * What both sides of the skills extension (SEP-2640) read the same way: a `SKILL.md`'s YAML frontmatter, a file's
 * digest, and whether two JSON values are equal. The server derives an entry from these; the client checks what it
 * reads against an entry with them, so the two cannot disagree on what "the frontmatter" or "the digest" is.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { parse } from "yaml"

/** The skill name rules of the Agent Skills specification: 1-64 of `a-z0-9-`, no hyphen at an end or doubled. */
export const NAME = /^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/

/** A `SKILL.md`'s frontmatter block: `---` lines around YAML, at the very start (after a byte order mark). */
const BLOCK = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/

/** A JSON object. @internal */
export type JsonObject = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The frontmatter of a `SKILL.md` as a JSON object, or why there is none. YAML's core schema, so a date stays the
 * string it was written as, which is also what the entry's JSON carries.
 * @internal
 */
export const frontmatterOf = (text: string): Either.Either<JsonObject, string> => {
  const block = BLOCK.exec(text)
  if (block === null) return Either.left("it does not begin with a --- delimited YAML frontmatter block")
  let value: unknown
  try {
    value = parse(block[1]!, { schema: "core", maxAliasCount: 20 })
  } catch (error) {
    return Either.left(`its frontmatter is not YAML: ${error instanceof Error ? error.message : String(error)}`)
  }
  return isObject(value) ? Either.right(value) : Either.left("its frontmatter is not a YAML mapping")
}

const hex = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * `sha256:` and the lowercase hex SHA-256 of `bytes`: a skill file's digest.
 * @internal
 */
export const digestOf = (bytes: Uint8Array): Effect.Effect<string> =>
  Effect.map(
    // A copy over a plain ArrayBuffer, which is what WebCrypto takes (the bytes may sit on a shared one).
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new Uint8Array(bytes))),
    (digest) => `sha256:${hex(digest)}`
  )

/**
 * Whether two JSON values are equal: the same keys (in any order) with equal values, arrays item by item.
 * @internal
 */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
  if (!isObject(a) || !isObject(b) || Array.isArray(b)) return false
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => key in b && jsonEqual(a[key], b[key]))
}
