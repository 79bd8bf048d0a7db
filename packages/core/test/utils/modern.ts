/**
 * A 2026-07-28 POST as a conforming client sends it, for the tests of the sessionless era: the `MCP-Protocol-Version`,
 * `Mcp-Method` and `Mcp-Name` headers mirrored from the body (`Mcp-Name` from `name`, `uri` or `taskId`), unless
 * `headers` overrides them. The answer is read whole, JSON or a request's own SSE stream (whose last data line is
 * the answer).
 */
export const MODERN_VERSION = "2026-07-28"

export const postModern = (
  url: string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
  id: number = 1
) => {
  const mirrored = params.name ?? params.uri ?? params.taskId
  const name = typeof mirrored === "string" ? mirrored : undefined
  return postModernBody(url, method, name, JSON.stringify({ jsonrpc: "2.0", id, method, params }), headers)
    .then(({ headers, status, text }) => ({ status, body: JSON.parse(text), headers }))
}

/**
 * The same POST with its body given as text (which may hold what `JSON.stringify` never writes: `1e309`, a
 * `__proto__` key) and `Mcp-Name` given as is; the answer's JSON text, from a JSON body or a request's own SSE
 * stream (its last data line).
 */
export const postModernBody = async (
  url: string,
  method: string,
  name: string | undefined,
  body: string,
  headers: Record<string, string> = {}
) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN_VERSION,
      "mcp-method": method,
      ...(name === undefined ? {} : { "mcp-name": name }),
      ...headers
    },
    body
  })
  const raw = await response.text()
  const text = response.headers.get("content-type")?.includes("text/event-stream")
    ? raw.split("\n").filter((l) => l.startsWith("data: ")).at(-1)!.slice(6)
    : raw
  return { status: response.status, text, headers: response.headers }
}

/** Opens a `subscriptions/listen` stream with the mirrored headers; the caller reads (and ends) the response. */
export const openListen = (
  url: string,
  id: number | string,
  params: Record<string, unknown>,
  accept = "application/json, text/event-stream"
): Promise<Response> =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept,
      "mcp-protocol-version": MODERN_VERSION,
      "mcp-method": "subscriptions/listen"
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "subscriptions/listen", params })
  })
