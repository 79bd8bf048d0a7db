/**
 * What a server has registered (tools, resources, templates, prompts), its listings and the capabilities that
 * follow from it. Listings and capabilities change only when something registers, so they are built once per
 * change (their pages when first asked for); tool schemas differ by JSON Schema dialect and by whether the
 * revision shows `execution.taskSupport`, so tools are listed once per such view.
 *
 * Listings are sorted by name (URI, URI template), so they do not depend on the order layers registered in, and
 * paged with opaque cursors that name the last item given (see `pagination.ts`).
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as JsonRpc from "../../JsonRpc.js"
import type * as McpSchema from "../../McpSchema.js"
import type { CurrentSessionService } from "../../McpSession.js"
import type * as McpTask from "../../McpTask.js"
import type { Revision } from "../revisions/revision.js"
import * as ParamHeaders from "../shared/paramHeaders.js"
import * as Pagination from "./pagination.js"
import * as Skills from "./skills.js"
import * as Tasks from "./tasks.js"
import type { Viewer, Visibility } from "./visibility.js"

/**
 * A registered tool: its listing and how to call it. Built by `McpTool.make` or a definition's `toLayer`.
 *
 * @since 0.1.0
 */
export interface ToolEntry {
  /**
   * The tool as `tools/list` shows it from 2025-11-25 on: its schemas in JSON Schema 2020-12. Its input schema's
   * `x-mcp-header` declarations, read once when the tool is added, are the `Mcp-Param-*` headers the server
   * checks on 2026-07-28 calls over HTTP (invalid ones are ignored here; `McpTool` refuses them).
   */
  readonly tool: McpSchema.Tool
  /** The tool as older revisions see it: its schemas in JSON Schema draft-07. Default: `tool`. */
  readonly toolDraft07?: McpSchema.Tool | undefined
  readonly call: (
    args: unknown,
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.CallToolResult, JsonRpc.JsonRpcError>
  /** Whether a call may become a task (the tasks extension). Default `"forbidden"`. */
  readonly taskSupport?: McpTask.TaskSupport | undefined
  /** When a task-supporting call becomes a task. Default `"immediate"`. */
  readonly taskStart?: McpTask.TaskStart | undefined
  /** Which sessions see it (`McpVisibility`); every one by default. */
  readonly visible?: Visibility | undefined
}

/** Suggests values for one argument of a prompt or resource template. @since 0.1.0 */
export type Completer = (
  value: string,
  context: { readonly [argument: string]: string },
  current: CurrentSessionService
) => Effect.Effect<ReadonlyArray<string>, JsonRpc.JsonRpcError>

/** A registered resource with a fixed URI. Built by `McpResource.make`. @since 0.1.0 */
export interface ResourceEntry {
  readonly resource: McpSchema.Resource
  /** Which sessions see it (`McpVisibility`); every one by default. */
  readonly visible?: Visibility | undefined
  readonly read: (
    uri: string,
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.ReadResourceResult, JsonRpc.JsonRpcError>
}

/** A registered URI template. Built by `McpResource.template`. @since 0.1.0 */
export interface ResourceTemplateEntry {
  readonly template: McpSchema.ResourceTemplate
  /** Which sessions see it (`McpVisibility`); every one by default. */
  readonly visible?: Visibility | undefined
  /** The template's variables when `uri` matches it. */
  readonly match: (uri: string) => { readonly [variable: string]: string } | undefined
  readonly read: (
    uri: string,
    variables: { readonly [variable: string]: string },
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.ReadResourceResult, JsonRpc.JsonRpcError>
  readonly complete: { readonly [variable: string]: Completer }
}

/** A registered prompt. Built by `McpPrompt.make`. @since 0.1.0 */
export interface PromptEntry {
  readonly prompt: McpSchema.Prompt
  /** Which sessions see it (`McpVisibility`); every one by default. */
  readonly visible?: Visibility | undefined
  readonly get: (
    args: { readonly [argument: string]: string },
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.GetPromptResult, JsonRpc.JsonRpcError>
  readonly complete: { readonly [argument: string]: Completer }
}

/** Which list a change touches: what sessions are told (`notifications/<kind>/list_changed`). @internal */
export type ListKind = "tools" | "resources" | "prompts"

/** How many of `entries` have a visibility rule. */
const count = (entries: Iterable<{ readonly visible?: Visibility | undefined }>): number => {
  let n = 0
  for (const entry of entries) if (entry.visible !== undefined) n++
  return n
}

/** Listing views kept at once, per listing; past it they are built again as asked. */
const MAX_VIEWS = 256

const newViews = () => ({
  tools: new Map<string, Pagination.Pages<McpSchema.ListToolsResult>>(),
  resources: new Map<string, Pagination.Pages<McpSchema.ListResourcesResult>>(),
  templates: new Map<string, Pagination.Pages<McpSchema.ListResourceTemplatesResult>>(),
  prompts: new Map<string, Pagination.Pages<McpSchema.ListPromptsResult>>()
})

/** The pages of a listing as a view shows it: built once per view and change, like the shared ones. */
const viewed = <R>(
  views: Map<string, Pagination.Pages<R>>,
  view: string,
  build: () => Pagination.Pages<R>
): Pagination.Pages<R> => {
  const cached = views.get(view)
  if (cached !== undefined) return cached
  // Views are few (the distinct sets of scopes or flags), but a rule can tell sessions apart: keep them bounded.
  if (views.size >= MAX_VIEWS) views.clear()
  const pages = build()
  views.set(view, pages)
  return pages
}

const next = (nextCursor: string | undefined) => nextCursor === undefined ? {} : { nextCursor }

/** The tool as `revision` lists it: in its dialect, with `execution.taskSupport` where it shows that. */
const toolAt = (revision: Revision) => (entry: ToolEntry): McpSchema.Tool => {
  const tool = revision.jsonSchemaDialect === "draft-07" ? entry.toolDraft07 ?? entry.tool : entry.tool
  return !revision.toolTaskSupport || entry.taskSupport === undefined || entry.taskSupport === "forbidden"
    ? tool
    : { ...tool, execution: { taskSupport: entry.taskSupport } }
}

/** How a revision's tool listings differ: by dialect, and by whether they show `execution.taskSupport`. */
const variantOf = (revision: Revision) => `${revision.jsonSchemaDialect}${revision.toolTaskSupport ? "+taskSupport" : ""}`

const resourcesPage = (page: ReadonlyArray<ResourceEntry>) => ({ resources: page.map((entry) => entry.resource) })
const templatesPage = (page: ReadonlyArray<ResourceTemplateEntry>) => ({
  resourceTemplates: page.map((entry) => entry.template)
})
const promptsPage = (page: ReadonlyArray<PromptEntry>) => ({ prompts: page.map((entry) => entry.prompt) })

/**
 * What one listing lists: its items, each item's key in the listing's pages (`Pagination`) and in a view
 * (`viewOf`: the key behind `prefix`, as resources and templates share one view).
 */
interface Source<A extends { readonly visible?: Visibility | undefined }> {
  readonly kind: ListKind
  /** The listing's name, in its cursors. */
  readonly list: string
  readonly items: () => Iterable<A>
  readonly key: (item: A) => string
  readonly prefix: string
}

const source = <A extends { readonly visible?: Visibility | undefined }>(
  kind: ListKind,
  list: string,
  prefix: string,
  items: () => Iterable<A>,
  key: (item: A) => string
): Source<A> => ({ kind, list, prefix, items, key })

/**
 * The registrations of one server, and what is derived from them.
 * @internal
 */
export class Registry {
  readonly tools = new Map<string, ToolEntry>()
  /** SEP-2243: each tool's `Mcp-Param-*` declarations, read from its listing when it registers, not per request. */
  readonly paramHeaders = new Map<string, ReadonlyArray<ParamHeaders.ParamHeader>>()
  readonly resources = new Map<string, ResourceEntry>()
  readonly templates: Array<ResourceTemplateEntry> = []
  readonly prompts = new Map<string, PromptEntry>()
  /** The skills extension's entries; their files are among `resources`. */
  readonly skills: Skills.Catalog

  private readonly toolSource = source<ToolEntry>("tools", "tools", "", () => this.tools.values(), (e) => e.tool.name)
  private readonly resourceSource = source<ResourceEntry>("resources", "resources", "r:", () => this.resources.values(), (e) =>
    e.resource.uri)
  /** A URI template registered twice is listed once: reads and completions use the first registration. */
  private readonly templateSource = source<ResourceTemplateEntry>("resources", "resourceTemplates", "t:", () => this.templates, (e) =>
    e.template.uriTemplate)
  private readonly promptSource = source<PromptEntry>("prompts", "prompts", "", () => this.prompts.values(), (e) => e.prompt.name)

  private toolPages = new Map<string, Pagination.Pages<McpSchema.ListToolsResult>>()
  private resourcePages: Pagination.Pages<McpSchema.ListResourcesResult> | undefined
  private templatePages: Pagination.Pages<McpSchema.ListResourceTemplatesResult> | undefined
  private promptPages: Pagination.Pages<McpSchema.ListPromptsResult> | undefined
  private caps: McpSchema.ServerCapabilities | undefined
  /** Per list, how many items have a visibility rule: while none, sessions list from the shared pages. */
  private readonly ruled: Record<ListKind, number> = { tools: 0, resources: 0, prompts: 0 }
  /** Pages of listings some items are hidden from, by the view they show (which ruled items are seen). */
  private views = newViews()
  /** The view each session was last given, per list; a session that goes is forgotten with it. */
  private readonly seen = new WeakMap<Viewer, Partial<Record<ListKind, string>>>()

  constructor(
    private readonly pageSize: number,
    /** Tells the sessions a list changed. */
    private readonly onChange: (kind: ListKind) => void
  ) {
    this.skills = new Skills.Catalog(pageSize, () => {
      this.caps = undefined
    })
  }

  private changed(kind: ListKind): void {
    this.toolPages = new Map()
    this.views = newViews()
    this.resourcePages = this.templatePages = this.promptPages = this.caps = undefined
    this.ruled.tools = count(this.tools.values())
    this.ruled.resources = count(this.resources.values()) + count(this.templates)
    this.ruled.prompts = count(this.prompts.values())
    this.onChange(kind)
  }

  /** Whether some item of `kind` is hidden from some sessions. */
  hasRules(kind: ListKind): boolean {
    return this.ruled[kind] > 0
  }

  /**
   * What `viewer` sees of the items of `kind` that have a rule: their keys, in order, as one string. Two
   * sessions with the same view list the same pages; a session whose view changed is told its list changed.
   */
  viewOf(kind: ListKind, viewer: Viewer): Effect.Effect<string> {
    if (this.ruled[kind] === 0) return Effect.sync(() => this.record(viewer, kind, ""))
    const keyed: Array<readonly [string, Visibility]> = []
    const take = <A extends { readonly visible?: Visibility | undefined }>(source: Source<A>) => {
      for (const item of source.items()) {
        if (item.visible !== undefined) keyed.push([source.prefix + source.key(item), item.visible])
      }
    }
    if (kind === "tools") take(this.toolSource)
    else if (kind === "prompts") take(this.promptSource)
    else {
      take(this.resourceSource)
      take(this.templateSource)
    }
    return Effect.map(
      Effect.forEach(keyed, ([key, rule]) => Effect.map(rule(viewer), (seen) => seen ? key : undefined)),
      (seen) => this.record(viewer, kind, seen.filter((key) => key !== undefined).sort().join("\n"))
    )
  }

  /** The view of `kind` a session was last given (listed, or told of), if any. */
  lastView(viewer: Viewer, kind: ListKind): string | undefined {
    return this.seen.get(viewer)?.[kind]
  }

  private record(viewer: Viewer, kind: ListKind, view: string): string {
    const views = this.seen.get(viewer)
    if (views === undefined) this.seen.set(viewer, { [kind]: view })
    else views[kind] = view
    return view
  }


  /**
   * A listing as `viewer` sees it: the shared pages when no item of its kind has a rule, else those of its view
   * (the items without a rule and the ruled ones it sees), built once per view and change. `variant` tells apart
   * views of the same items shown differently (a tool listing's dialect).
   */
  private visibleList<A extends { readonly visible?: Visibility | undefined }, L>(
    viewer: Viewer,
    source: Source<A>,
    views: Map<string, Pagination.Pages<L>>,
    variant: string,
    pages: (items: Iterable<A>) => Pagination.Pages<L>,
    shared: () => Pagination.Pages<L>
  ): Effect.Effect<Pagination.Pages<L>> {
    if (this.ruled[source.kind] === 0) return Effect.succeed(shared())
    return Effect.map(this.viewOf(source.kind, viewer), (seen) => {
      const shown = new Set(seen.split("\n"))
      const visible = (item: A) => item.visible === undefined || shown.has(source.prefix + source.key(item))
      return viewed(views, `${variant}:${seen}`, () => pages(Array.from(source.items()).filter(visible)))
    })
  }

  /** `tools/list` for `viewer`: the shared pages when no tool has a rule. */
  toolListFor(revision: Revision, viewer: Viewer): Effect.Effect<Pagination.Pages<McpSchema.ListToolsResult>> {
    const show = toolAt(revision)
    const pages = (items: Iterable<ToolEntry>) => this.paged(this.toolSource, items, (page) => ({ tools: page.map(show) }))
    return this.visibleList(viewer, this.toolSource, this.views.tools, variantOf(revision), pages, () => this.toolList(revision))
  }

  /** `resources/list` for `viewer`. */
  resourceListFor(viewer: Viewer): Effect.Effect<Pagination.Pages<McpSchema.ListResourcesResult>> {
    const pages = (items: Iterable<ResourceEntry>) => this.paged(this.resourceSource, items, resourcesPage)
    return this.visibleList(viewer, this.resourceSource, this.views.resources, "", pages, () => this.resourceList())
  }

  /** `resources/templates/list` for `viewer`. */
  templateListFor(viewer: Viewer): Effect.Effect<Pagination.Pages<McpSchema.ListResourceTemplatesResult>> {
    const pages = (items: Iterable<ResourceTemplateEntry>) => this.paged(this.templateSource, items, templatesPage)
    return this.visibleList(viewer, this.templateSource, this.views.templates, "", pages, () => this.templateList())
  }

  /** `prompts/list` for `viewer`. */
  promptListFor(viewer: Viewer): Effect.Effect<Pagination.Pages<McpSchema.ListPromptsResult>> {
    const pages = (items: Iterable<PromptEntry>) => this.paged(this.promptSource, items, promptsPage)
    return this.visibleList(viewer, this.promptSource, this.views.prompts, "", pages, () => this.promptList())
  }

  addTool(entry: ToolEntry): void {
    this.tools.set(entry.tool.name, entry)
    // `McpTool` refuses invalid declarations when its layer is built; a hand-made entry's are ignored.
    const declared = Either.getOrElse(ParamHeaders.scan(entry.tool.inputSchema), () => [])
    if (declared.length > 0) this.paramHeaders.set(entry.tool.name, declared)
    else this.paramHeaders.delete(entry.tool.name)
    this.changed("tools")
  }

  removeTool(name: string): void {
    this.paramHeaders.delete(name)
    if (this.tools.delete(name)) this.changed("tools")
  }

  addResource(entry: ResourceEntry): void {
    this.resources.set(entry.resource.uri, entry)
    this.changed("resources")
  }

  removeResource(uri: string): void {
    if (this.resources.delete(uri)) this.changed("resources")
  }

  addTemplate(entry: ResourceTemplateEntry): void {
    // A template registered again replaces the old one, as a tool of the same name does.
    const index = this.templates.findIndex((t) => t.template.uriTemplate === entry.template.uriTemplate)
    if (index >= 0) this.templates[index] = entry
    else this.templates.push(entry)
    this.changed("resources")
  }

  removeTemplate(uriTemplate: string): void {
    const index = this.templates.findIndex((t) => t.template.uriTemplate === uriTemplate)
    if (index < 0) return
    this.templates.splice(index, 1)
    this.changed("resources")
  }

  addPrompt(entry: PromptEntry): void {
    this.prompts.set(entry.prompt.name, entry)
    this.changed("prompts")
  }

  removePrompt(name: string): void {
    if (this.prompts.delete(name)) this.changed("prompts")
  }

  /** A resource of that URI, fixed or matching a template. */
  isKnownResource(uri: string): boolean {
    return this.resources.has(uri) || this.templates.some((t) => t.match(uri) !== undefined)
  }

  /** The pages of one listing: each page's result, with `nextCursor` when there are more. */
  private paged<A extends { readonly visible?: Visibility | undefined }, R>(
    source: Source<A>,
    items: Iterable<A>,
    result: (page: ReadonlyArray<A>) => R
  ): Pagination.Pages<R & { readonly nextCursor?: string }> {
    return Pagination.make({
      list: source.list,
      items,
      key: source.key,
      pageSize: this.pageSize,
      result: (page, nextCursor) => ({ ...result(page), ...next(nextCursor) })
    })
  }

  /** The pages of `tools/list` as `revision` sees them. */
  toolList(revision: Revision): Pagination.Pages<McpSchema.ListToolsResult> {
    const view = variantOf(revision)
    let pages = this.toolPages.get(view)
    if (pages === undefined) {
      const show = toolAt(revision)
      pages = this.paged(this.toolSource, this.tools.values(), (page) => ({ tools: page.map(show) }))
      this.toolPages.set(view, pages)
    }
    return pages
  }

  resourceList(): Pagination.Pages<McpSchema.ListResourcesResult> {
    return this.resourcePages ??= this.paged(this.resourceSource, this.resources.values(), resourcesPage)
  }

  templateList(): Pagination.Pages<McpSchema.ListResourceTemplatesResult> {
    return this.templatePages ??= this.paged(this.templateSource, this.templates, templatesPage)
  }

  promptList(): Pagination.Pages<McpSchema.ListPromptsResult> {
    return this.promptPages ??= this.paged(this.promptSource, this.prompts.values(), promptsPage)
  }

  /** The capabilities `initialize` and `server/discover` announce, derived from what is registered. */
  capabilities(): McpSchema.ServerCapabilities {
    return this.caps ??= {
      logging: {},
      ...(this.tools.size > 0 ? { tools: { listChanged: true } } : {}),
      ...(this.resources.size > 0 || this.templates.length > 0
        ? { resources: { subscribe: true, listChanged: true } }
        : {}),
      ...(this.prompts.size > 0 ? { prompts: { listChanged: true } } : {}),
      ...(this.templates.some((t) => Object.keys(t.complete).length > 0) ||
          Array.from(this.prompts.values()).some((p) => Object.keys(p.complete).length > 0)
        ? { completions: {} }
        : {}),
      ...this.extensions()
    }
  }

  private extensions(): Pick<McpSchema.ServerCapabilities, "extensions"> {
    const tasks = Array.from(this.tools.values()).some((t) => (t.taskSupport ?? "forbidden") !== "forbidden")
    const skills = this.skills.capability()
    return tasks || skills !== undefined
      ? { extensions: { ...(tasks ? { [Tasks.EXTENSION]: {} } : {}), ...skills } }
      : {}
  }
}
