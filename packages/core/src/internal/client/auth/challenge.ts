/**
 * The `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 section 3, RFC 9728 section 5.1): what a 401
 * or 403 tells the client about where to authorize and with which scopes.
 *
 * @internal
 */

/** @internal */
export interface Challenge {
  readonly error?: string | undefined
  readonly errorDescription?: string | undefined
  /** The scopes the request needs, space-separated. */
  readonly scope?: string | undefined
  /** Where the resource's metadata is (RFC 9728). */
  readonly resourceMetadata?: string | undefined
}

const PARAM = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*,?/y
const SCHEME = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?=\s|$|,)\s*,?/y

const unquote = (value: string): string =>
  value.startsWith("\"") ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value

/** Every challenge of the header, by scheme (lowercase), with its parameters. */
const challenges = (header: string): Map<string, Map<string, string>> => {
  const found = new Map<string, Map<string, string>>()
  let params: Map<string, string> | undefined
  let at = 0
  while (at < header.length) {
    PARAM.lastIndex = at
    const param = PARAM.exec(header)
    if (param !== null && params !== undefined) {
      params.set(param[1]!.toLowerCase(), unquote(param[2]!))
      at = PARAM.lastIndex
      continue
    }
    SCHEME.lastIndex = at
    const scheme = SCHEME.exec(header)
    if (scheme === null) break
    params = new Map()
    found.set(scheme[1]!.toLowerCase(), params)
    at = SCHEME.lastIndex
  }
  return found
}

/**
 * The `Bearer` challenge of a response's `WWW-Authenticate`; empty when it has none.
 * @internal
 */
export const parse = (header: string | undefined): Challenge => {
  const bearer = header === undefined ? undefined : challenges(header).get("bearer")
  if (bearer === undefined) return {}
  return {
    error: bearer.get("error"),
    errorDescription: bearer.get("error_description"),
    scope: bearer.get("scope"),
    resourceMetadata: bearer.get("resource_metadata")
  }
}

/**
 * The scopes of a space-separated list.
 * @internal
 */
export const scopesOf = (scope: string | undefined): ReadonlyArray<string> =>
  scope === undefined ? [] : scope.split(" ").filter((s) => s !== "")
