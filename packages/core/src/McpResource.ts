/**
 * Declaring resources: fixed URIs (`make`) and RFC 6570 URI templates (`template`). Like tools, each
 * declaration is a `Layer` that registers into `McpServer` and carries its handler's requirements. As a tool's,
 * a resource's or template's own `middleware` run around each read (and each completion of a template), and
 * what they provide leaves the handler's requirements: the layer needs the middleware instead.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Middleware from "./internal/server/middleware.js"
import { describeParseError } from "./internal/shared/parseError.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpMiddleware from "./McpMiddleware.js"
import type * as McpSchema from "./McpSchema.js"
import { type Completer, McpServer } from "./McpServer.js"
import type { CurrentSession } from "./McpSession.js"
import type { Visibility } from "./McpVisibility.js"

/**
 * What a read returns: text, bytes (sent as base64), whole contents, or a whole result (for its `_meta`).
 *
 * @since 0.1.0
 */
export type Body =
  | string
  | Uint8Array
  | McpSchema.ResourceContents
  | ReadonlyArray<McpSchema.ResourceContents>
  | McpSchema.ReadResourceResult

/** Listing fields shared by resources and templates. @since 0.1.0 */
export interface Listing {
  /** A short name, also shown to the model. */
  readonly name: string
  /** A display name for people. */
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
  /** Who the resource is for (`audience`), how much it matters (`priority`), when it changed (`lastModified`). */
  readonly annotations?: McpSchema.Annotations | undefined
  /** Icons a client may show (2025-11-25). */
  readonly icons?: ReadonlyArray<McpSchema.Icon> | undefined
  /** The listing's `_meta`. */
  readonly _meta?: McpSchema.Meta | undefined
  /** Which sessions see it (`McpVisibility`); the others get the error of a resource that does not exist. */
  readonly visible?: Visibility | undefined
}

/**
 * The layer of a resource or template whose handlers need `R` and whose middleware are `M`: it needs what they
 * need but `CurrentSession` and what `M` provide, and `M` themselves.
 *
 * @since 0.1.0
 */
export type ResourceLayer<R, M extends McpMiddleware.Any = never> = Layer.Layer<
  never,
  never,
  McpServer | Exclude<McpMiddleware.Applied<R, M>, CurrentSession>
>

/** An item's own middleware option. @since 0.1.0 */
export interface WithMiddleware<M extends McpMiddleware.Any> {
  /**
   * Middleware around every read (and completion) of this item, in order (the first outermost), inside the
   * server-wide ones (`McpMiddleware`): what they provide, the handlers may use; the layer needs them.
   */
  readonly middleware?: ReadonlyArray<M> | undefined
}

/** The entry's visibility rule, when it has one. */
const visibleOf = (options: Listing) => options.visible === undefined ? {} : { visible: options.visible }

const listing = (options: Listing) => ({
  name: options.name,
  ...(options.title === undefined ? {} : { title: options.title }),
  ...(options.description === undefined ? {} : { description: options.description }),
  ...(options.mimeType === undefined ? {} : { mimeType: options.mimeType }),
  ...(options.icons === undefined ? {} : { icons: options.icons }),
  ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  ...(options._meta === undefined ? {} : { _meta: options._meta })
})

const toResult = (uri: string, mimeType: string | undefined, body: Body): McpSchema.ReadResourceResult => {
  const mime = mimeType === undefined ? {} : { mimeType }
  if (typeof body === "string") return { contents: [{ uri, ...mime, text: body }] }
  if (body instanceof Uint8Array) return { contents: [{ uri, ...mime, blob: Encoding.encodeBase64(body) }] }
  if ("uri" in body) return { contents: [body] }
  if ("contents" in body) return body
  return { contents: body }
}

/**
 * Declares a resource with a fixed URI, registered while the layer lives (sessions hear of it coming and going).
 * `McpServer.notifyResourceUpdated(uri)` tells the sessions subscribed to it that it changed.
 *
 * @since 0.1.0
 */
export const make = <E, R, M extends McpMiddleware.Any = never>(options: Listing & WithMiddleware<M> & {
  readonly uri: string
  /** The size of the raw content in bytes, when known: hosts show it and budget context with it. */
  readonly size?: number | undefined
  readonly read: Effect.Effect<Body, E, R>
}): ResourceLayer<R, M> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    // What the layer was given: what the handler needs but `CurrentSession` and what its middleware provide.
    const context = yield* Effect.context<never>()
    const run = Middleware.itemRunner(
      McpMiddleware.chainOf(options.middleware, context),
      context,
      `resource ${options.uri}`
    )
    yield* server.addResource({
      resource: {
        uri: options.uri,
        ...listing(options),
        ...(options.size === undefined ? {} : { size: options.size })
      },
      ...visibleOf(options),
      read: (uri, current) =>
        Effect.map(
          run(options.read, current, () => Middleware.requestOf("resources/read", { uri }, current)),
          (body) => toResult(uri, options.mimeType, body)
        )
    })
    yield* Effect.addFinalizer(() => server.removeResource(options.uri))
  }))

/** The variables of a URI template, as matched. @since 0.1.0 */
export type Variables = { readonly [variable: string]: string }

/** An expression's operator (RFC 6570 §2.2) among those matched: simple, reserved, fragment and path segments. */
type Operator = "" | "+" | "#" | "/"

/** One variable of a template, by where its value may go. */
interface Slot {
  readonly name: string
  readonly operator: Operator
  readonly explode: boolean
}

const EXPRESSION = /\{([+#/]?)([A-Za-z0-9_]+)(\*?)\}/g
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A dot segment, as written or percent-encoded: what resolving a path would climb with. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i

/** The pattern of a slot's value (with the `/` its operator adds, outside the group). */
const patternOf = ({ explode, operator }: Slot): string => {
  switch (operator) {
    case "":
      return "([^/?#]+)"
    case "+":
      return "(.+)"
    case "#":
      return "#(.+)"
    case "/":
      return explode ? "((?:/[^/?#]+)+)" : "/([^/?#]+)"
  }
}

/** One segment's value, decoded; undefined when it is not one segment (a `/` or `\\` encoded in it, a dot segment). */
const segmentOf = (raw: string): string | undefined => {
  let value: string
  try {
    value = decodeURIComponent(raw)
  } catch {
    return undefined
  }
  return value.includes("/") || value.includes("\\") || value === "." || value === ".." ? undefined : value
}

/** A slot's value from what its group matched, or undefined when the URI does not match after all. */
const valueOf = (slot: Slot, raw: string): string | undefined => {
  switch (slot.operator) {
    case "":
      return segmentOf(raw)
    case "/": {
      if (!slot.explode) return segmentOf(raw)
      const segments: Array<string> = []
      for (const segment of raw.slice(1).split("/")) {
        const value = segmentOf(segment)
        if (value === undefined) return undefined
        segments.push(value)
      }
      return segments.join("/")
    }
    case "+":
    case "#":
      // Reserved values may span segments (RFC 6570 §3.2.3) and stay as written, but never climb out of one.
      return raw.split("/").some((segment) => DOT_SEGMENT.test(segment)) ? undefined : raw
  }
}

/**
 * Compiles a URI template into a matcher, for the expressions resource templates use (RFC 6570):
 *
 * - `{var}` matches one path segment, percent-decoded. A value that would be more than a segment once decoded
 *   (an encoded `/` or `\\`) or a dot segment (`.`, `..`) does not match, so a handler given a name never gets a
 *   path (`demo://greetings/..%2F..%2Fetc%2Fpasswd` is no greeting);
 * - `{/var}` is one segment after a `/`, decoded the same way; `{/var*}` one or more, as `a/b/c`;
 * - `{+var}` (and `{#var}` after a `#`) may span segments and keeps its value as written, but no segment of it
 *   may be a dot segment.
 *
 * A URI that matches no template is an unknown resource. Other expressions are matched literally.
 *
 * @since 0.1.0
 */
export const compileTemplate = (uriTemplate: string): (uri: string) => Variables | undefined => {
  const slots: Array<Slot> = []
  let pattern = "^"
  let last = 0
  for (const match of uriTemplate.matchAll(EXPRESSION)) {
    pattern += escapeRegex(uriTemplate.slice(last, match.index))
    const operator = match[1]
    const slot: Slot = {
      name: match[2]!,
      operator: operator === "+" || operator === "#" || operator === "/" ? operator : "",
      explode: match[3] === "*"
    }
    pattern += patternOf(slot)
    slots.push(slot)
    last = match.index + match[0].length
  }
  pattern += escapeRegex(uriTemplate.slice(last)) + "$"
  const regex = new RegExp(pattern)
  return (uri) => {
    const match = regex.exec(uri)
    if (match === null) return undefined
    const variables: Record<string, string> = {}
    for (let i = 0; i < slots.length; i++) {
      const value = valueOf(slots[i]!, match[i + 1]!)
      if (value === undefined) return undefined
      variables[slots[i]!.name] = value
    }
    return variables
  }
}

/**
 * Declares a family of resources by URI template, e.g. `"notes://{id}"`, registered while the layer lives. `params` decodes the matched
 * variables (strings) into what `read` takes; a value it rejects is answered with -32602.
 *
 * @since 0.1.0
 */
export const template = <A, I extends Variables, E, R, M extends McpMiddleware.Any = never>(options: Listing & WithMiddleware<M> & {
  readonly uriTemplate: string
  readonly params: Schema.Schema<A, I, never>
  readonly read: (params: A, uri: string) => Effect.Effect<Body, E, R>
  /** Completers for `completion/complete`, by variable name. */
  readonly complete?: {
    readonly [K in keyof I]?: (value: string, context: Variables) => Effect.Effect<ReadonlyArray<string>, E, R>
  } | undefined
}): ResourceLayer<R, M> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* McpServer
    const context = yield* Effect.context<never>()
    const decode = Schema.decodeUnknownEither(options.params)
    const run = Middleware.itemRunner(
      McpMiddleware.chainOf(options.middleware, context),
      context,
      `resource template ${options.uriTemplate}`
    )
    const ref = { type: "ref/resource", uri: options.uriTemplate }
    const complete: Record<string, Completer> = {}
    for (const [name, completer] of Object.entries(options.complete ?? {})) {
      if (typeof completer !== "function") continue
      complete[name] = (value, args, current) =>
        run(completer(value, args), current, () =>
          Middleware.requestOf("completion/complete", { ref, argument: { name, value } }, current))
    }
    yield* server.addResourceTemplate({
      template: { uriTemplate: options.uriTemplate, ...listing(options) },
      match: compileTemplate(options.uriTemplate),
      complete,
      ...visibleOf(options),
      read: (uri, variables, current) => {
        const params = decode(variables)
        // Decoded first, refused only once the middleware let the read through: they see every read.
        const read: Effect.Effect<Body, E | JsonRpc.JsonRpcError, R> = Either.isLeft(params)
          ? Effect.fail(JsonRpc.invalidParams(`Invalid resource URI ${uri}: ${describeParseError(params.left)}`))
          : options.read(params.right, uri)
        return Effect.map(
          run(read, current, () => Middleware.requestOf("resources/read", { uri }, current)),
          (body) => toResult(uri, options.mimeType, body)
        )
      }
    })
    yield* Effect.addFinalizer(() => server.removeResourceTemplate(options.uriTemplate))
  }))
