/**
 * SEP-2243's custom headers (2026-07-28): a tool's `inputSchema` may mark top-level arguments with
 * `x-mcp-header: "<Name>"`, and a `tools/call` over Streamable HTTP then mirrors each such argument in an
 * `Mcp-Param-<Name>` header, so that a gateway can route on it without reading the body. Both sides live here:
 * reading the declarations out of a listed schema (with the spec's rules on them), encoding a value for a header
 * (the client), and checking the headers of a request against its body (the server).
 *
 * The value encoding is the one of every mirrored header: plain visible ASCII without surrounding whitespace goes
 * as is; anything else (and anything that looks like the sentinel) as `=?base64?<base64 of the UTF-8>?=`.
 * @internal
 */
import * as Either from "effect/Either"

/** The keyword of a property that is mirrored in a header. @internal */
export const KEYWORD = "x-mcp-header"

/** The prefix of the mirrored headers' names. @internal */
export const PREFIX = "mcp-param-"

/** The JSON Schema types an argument mirrored in a header may have (never `number`: only integers compare). @internal */
export type ParamType = "string" | "integer" | "boolean"

/** One argument mirrored in a header. @internal */
export interface ParamHeader {
  /** The argument's name in `arguments`. */
  readonly argument: string
  /** The header's name after `Mcp-Param-`, as declared. */
  readonly name: string
  readonly type: ParamType
}

type JsonObject = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** RFC 9110 `token`: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const isParamType = (type: unknown): type is ParamType =>
  type === "string" || type === "integer" || type === "boolean"

/**
 * The header declarations of an input schema, or why they break the spec's rules: a non-empty token, unique
 * ignoring case, on a top-level property whose type is `string`, `integer` or `boolean`. Only the root's
 * `properties` are read: a declaration anywhere else is not reachable through property names alone, and the spec
 * rules those out.
 * @internal
 */
export const scan = (inputSchema: JsonObject): Either.Either<ReadonlyArray<ParamHeader>, string> => {
  const properties = isObject(inputSchema.properties) ? inputSchema.properties : {}
  const found: Array<ParamHeader> = []
  const seen = new Set<string>()
  for (const [argument, property] of Object.entries(properties)) {
    if (!isObject(property) || !(KEYWORD in property)) continue
    const name = property[KEYWORD]
    if (typeof name !== "string" || !TOKEN.test(name)) {
      return Either.left(`${KEYWORD} of ${argument} must be a non-empty HTTP token, got ${JSON.stringify(name)}`)
    }
    const type = property.type
    if (!isParamType(type)) {
      return Either.left(
        `${KEYWORD} ${name} is on ${argument}, whose type is ${JSON.stringify(type)}: ` +
          `only string, integer and boolean arguments may be mirrored in a header`
      )
    }
    const key = name.toLowerCase()
    if (seen.has(key)) return Either.left(`${KEYWORD} ${name} is declared twice (header names ignore case)`)
    seen.add(key)
    found.push({ argument, name, type })
  }
  return Either.right(found)
}

const PLAIN = /^[\x20-\x7e]*$/
const SENTINEL = /^=\?base64\?([\s\S]*)\?=$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Whether a value may go in a header as it is. */
const isPlain = (value: string) => PLAIN.test(value) && value.trim() === value && !SENTINEL.test(value)

/**
 * A value as a header carries it: as is when it is plain visible ASCII without surrounding whitespace and does not
 * look like the sentinel; else the sentinel with the base64 of its UTF-8 bytes.
 * @internal
 */
export const encodeValue = (value: string): string => {
  if (isPlain(value)) return value
  const bytes = new TextEncoder().encode(value)
  let binary = ""
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return `=?base64?${btoa(binary)}?=`
}

/**
 * A header value as the client meant it: the sentinel decoded (strict base64, with its padding, of valid UTF-8),
 * anything else literally when it is visible ASCII; undefined when it is neither.
 * @internal
 */
export const decodeValue = (raw: string): string | undefined => {
  const sentinel = SENTINEL.exec(raw)
  if (sentinel === null) return PLAIN.test(raw) && raw.trim() === raw ? raw : undefined
  const encoded = sentinel[1]!
  if (!BASE64.test(encoded)) return undefined
  try {
    const binary = atob(encoded)
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
  } catch {
    return undefined
  }
}

/**
 * The text an argument's value is mirrored as: a string as is, an integer in decimal, a boolean as `true` or
 * `false`. Undefined for `null`, an absent argument, or a value of another kind: no header is sent for those.
 * @internal
 */
export const textOf = (value: unknown): string | undefined =>
  typeof value === "string"
    ? value
    : typeof value === "boolean"
    ? String(value)
    : typeof value === "number" && Number.isFinite(value)
    ? String(value)
    : undefined

/** Decimal numbers as a header may write an integer (`42`, `-7`, `42.0`). */
const DECIMAL = /^[+-]?\d+(?:\.\d+)?$/

/** Whether a decoded header value says the same as the body's value, by the argument's declared type. */
const agrees = (header: string, value: unknown, type: ParamType): boolean => {
  // Integers compare numerically (`42` is `42.0`); a body value of the wrong kind compares as text.
  if (type === "integer" && typeof value === "number") return DECIMAL.test(header) && Number(header) === value
  if (type === "boolean" && typeof value === "boolean") return header === String(value)
  return header === textOf(value)
}

/**
 * What is wrong with a `tools/call`'s mirrored headers, or undefined when nothing is: a header missing while the
 * body has the value, present while the body has none (absent or `null`), not a valid value, or not the body's.
 * @internal
 */
export const mismatch = (
  declared: ReadonlyArray<ParamHeader>,
  args: unknown,
  headerOf: (name: string) => string | undefined
): string | undefined => {
  const values = isObject(args) ? args : {}
  for (const { argument, name, type } of declared) {
    const header = `Mcp-Param-${name}`
    const raw = headerOf(PREFIX + name.toLowerCase())
    const value = values[argument]
    if (value === undefined || value === null) {
      if (raw !== undefined) return `the ${header} header is sent but ${argument} is not`
      continue
    }
    if (raw === undefined) return `the ${header} header is required, as ${argument} is sent`
    const decoded = decodeValue(raw)
    if (decoded === undefined) return `the ${header} header is not a valid value`
    if (!agrees(decoded, value, type)) return `the ${header} header does not match ${argument}`
  }
  return undefined
}

/**
 * The `Mcp-Param-*` headers of a call with `args`, by the tool's declarations (lower-case names).
 * @internal
 */
export const headersOf = (
  declared: ReadonlyArray<ParamHeader>,
  args: unknown
): Record<string, string> => {
  const values = isObject(args) ? args : {}
  const headers: Record<string, string> = {}
  for (const { argument, name } of declared) {
    const text = textOf(values[argument])
    if (text !== undefined) headers[PREFIX + name.toLowerCase()] = encodeValue(text)
  }
  return headers
}
