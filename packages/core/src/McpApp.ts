/**
 * MCP Apps (the extension `io.modelcontextprotocol/ui`, the `@modelcontextprotocol/ext-apps` SDK): a tool that comes
 * with an interactive HTML view, which the host renders in a sandboxed iframe and which talks back to the server
 * through the host. The tool and its view are one definition, and one layer:
 *
 * ```ts
 * const Calculator = McpApp.make("calculator", {
 *   description: "Adds two numbers, and shows a calculator",
 *   input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   output: Schema.Struct({ sum: Schema.Number }),
 *   view: { uri: "ui://demo/calculator.html", html: calculatorHtml, csp: { connectDomains: [] } },
 *   handler: ({ a, b }) => Effect.succeed({ sum: a + b })
 * })
 * ```
 *
 * The tool is listed with `_meta.ui.resourceUri` (and the older `_meta["ui/resourceUri"]`, which hosts still read)
 * and `_meta.ui.visibility`; the view is a resource at its `ui://` URI with the extension's MIME type
 * (`text/html;profile=mcp-app`) and, on its listing and its content, `_meta.ui` with the CSP domains and the
 * permissions it asks for. Its HTML is a value, or an effect run at each read (`file` reads it from disk).
 *
 * A tool only the view may call (a refresh, a page of data) has `visibility: ["app"]`: hosts keep it from the
 * model and let the server's views call it. It need not have a view of its own.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as McpSchema from "./McpSchema.js"
import * as McpResource from "./McpResource.js"
import type { McpServer } from "./McpServer.js"
import type { CurrentSession } from "./McpSession.js"
import * as McpTool from "./McpTool.js"

/** The extension's identifier, under which a host declares it in its capabilities. @since 0.1.0 */
export const EXTENSION = "io.modelcontextprotocol/ui"

/** The MIME type of a view: HTML in the MCP Apps profile. @since 0.1.0 */
export const MIME_TYPE = "text/html;profile=mcp-app"

/** The older `_meta` key of a tool's view, which hosts read where `_meta.ui.resourceUri` is missing. @since 0.1.0 */
export const RESOURCE_URI_META_KEY = "ui/resourceUri"

/** Who may call a tool: the model (the agent), the server's views, or both (the default). @since 0.1.0 */
export type Visibility = "model" | "app"

/** The origins a view may reach, as CSP directives the host writes (none by default: the secure default). @since 0.1.0 */
export interface Csp {
  /** `connect-src`: fetch, XHR, WebSocket. */
  readonly connectDomains?: ReadonlyArray<string> | undefined
  /** `img-src`, `script-src`, `style-src`, `font-src`, `media-src`. */
  readonly resourceDomains?: ReadonlyArray<string> | undefined
  /** `frame-src`: nested iframes. */
  readonly frameDomains?: ReadonlyArray<string> | undefined
  /** `base-uri`. */
  readonly baseUriDomains?: ReadonlyArray<string> | undefined
}

/** The browser features a view asks for; a host may grant them (the iframe's `allow`). @since 0.1.0 */
export interface Permissions {
  readonly camera?: {} | undefined
  readonly microphone?: {} | undefined
  readonly geolocation?: {} | undefined
  readonly clipboardWrite?: {} | undefined
}

/** A tool's view: its `ui://` resource. @since 0.1.0 */
export interface View<E = never, R = never> {
  readonly uri: `ui://${string}`
  /** The resource's name; the tool's name by default. */
  readonly name?: string | undefined
  readonly title?: string | undefined
  readonly description?: string | undefined
  /** The HTML, whole: a value, or an effect run at each read (see `file`). */
  readonly html: string | Effect.Effect<string, E, R>
  readonly csp?: Csp | undefined
  readonly permissions?: Permissions | undefined
  /** A dedicated origin for the view's sandbox, in the host's format. */
  readonly domain?: string | undefined
  /** Whether the view wants the host's border and background. */
  readonly prefersBorder?: boolean | undefined
}

/** What makes a tool an app's: its view, and who may call it. @since 0.1.0 */
export interface AppOptions<E, R> {
  /** The view the host shows for the tool's calls. */
  readonly view?: View<E, R> | undefined
  /** Who may call the tool; `["app"]` keeps it from the model. Default: both. */
  readonly visibility?: ReadonlyArray<Visibility> | undefined
}

/** An app tool's layer: the tool and its view. @since 0.1.0 */
export type AppLayer<R> = Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>>

/**
 * A view's HTML read from a file at each read, so an edit shows at the next: for `view.html`.
 *
 * @since 0.1.0
 */
export const file = (path: string): Effect.Effect<string, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path))

/** The tool's `_meta`: its own, with the view's URI (both keys) and the visibility under `ui`. */
const toolMeta = (meta: McpSchema.Meta | undefined, app: AppOptions<unknown, unknown>): McpSchema.Meta => {
  const own = meta?.ui
  const ui = {
    ...(typeof own === "object" && own !== null ? own : {}),
    ...(app.view === undefined ? {} : { resourceUri: app.view.uri }),
    ...(app.visibility === undefined ? {} : { visibility: app.visibility })
  }
  return {
    ...meta,
    ui,
    ...(app.view === undefined ? {} : { [RESOURCE_URI_META_KEY]: app.view.uri })
  }
}

/** The view's `_meta.ui`: what the host needs to sandbox it. */
const viewMeta = (view: View<unknown, unknown>): McpSchema.Meta => ({
  ui: {
    ...(view.csp === undefined ? {} : { csp: view.csp }),
    ...(view.permissions === undefined ? {} : { permissions: view.permissions }),
    ...(view.domain === undefined ? {} : { domain: view.domain }),
    ...(view.prefersBorder === undefined ? {} : { prefersBorder: view.prefersBorder })
  }
})

/**
 * The resource of a view, on its own: for a view several tools share (give each tool `_meta.ui.resourceUri`), or
 * one `make` does not declare.
 *
 * @since 0.1.0
 */
export const view = <E, R>(name: string, view: View<E, R>): Layer.Layer<never, never, McpServer | Exclude<R, CurrentSession>> => {
  const meta = viewMeta(view)
  const html = typeof view.html === "string" ? Effect.succeed(view.html) : view.html
  return McpResource.make({
    uri: view.uri,
    name: view.name ?? name,
    ...(view.title === undefined ? {} : { title: view.title }),
    ...(view.description === undefined ? {} : { description: view.description }),
    mimeType: MIME_TYPE,
    _meta: meta,
    read: Effect.map(html, (text): McpSchema.ResourceContents => ({ uri: view.uri, mimeType: MIME_TYPE, text, _meta: meta }))
  })
}

/**
 * Declares an app's tool: `McpTool.make` with its view (`view`) and who may call it (`visibility`), the tool and
 * the view's resource in one layer.
 *
 * @since 0.1.0
 */
export function make<A, I, OA, OI extends McpTool.StructuredObject, E, R, E2 = never, R2 = never>(
  name: string,
  options: McpTool.StructuredOptions<A, I, OA, OI, E, R> & AppOptions<E2, R2>
): AppLayer<R | R2>
export function make<A, I, E, R, E2 = never, R2 = never>(
  name: string,
  options: McpTool.Options<A, I, E, R, McpTool.Result> & AppOptions<E2, R2>
): AppLayer<R | R2>
export function make<A, I, OA, OI extends McpTool.StructuredObject, E, R, E2, R2>(
  name: string,
  options: (McpTool.Options<A, I, E, R, McpTool.Result> | McpTool.StructuredOptions<A, I, OA, OI, E, R>) & AppOptions<E2, R2>
): AppLayer<R | R2> {
  const _meta = toolMeta(options._meta, options)
  const tool = "output" in options ? McpTool.make(name, { ...options, _meta }) : McpTool.make(name, { ...options, _meta })
  return options.view === undefined ? tool : Layer.merge(tool, view(name, options.view))
}
