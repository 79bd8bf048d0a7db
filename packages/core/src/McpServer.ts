/**
 * The MCP server service: what is registered (tools, resources, prompts), the lifecycle (`initialize`, version
 * negotiation, `ping`) and the dispatcher that sessions hand decoded messages to.
 *
 * The methods it serves are those of the method table (`McpMethod`), each with its handler
 * (`internal/server/handlers.ts`); the dispatcher (`internal/server/dispatch.ts`) looks the method up among those
 * of the session's revision, decodes its params with the table's schema (built once), and runs its handler in a
 * fiber the session owns; the response goes to the reply sink the transport gave with the message. Nothing here
 * knows about transports.
 *
 * A tool that declares `taskSupport` may answer `tools/call` with a task (the extension
 * `io.modelcontextprotocol/tasks`, see `McpTask`) for clients that declare the extension; the server serves
 * `tasks/get`, `tasks/update` and `tasks/cancel` for them, from a store whose tasks live in the server's scope.
 *
 * Listings (`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`) are sorted by name (URI,
 * URI template), so they do not depend on the order layers registered in, and paged by `pageSize` with opaque
 * cursors that name the last item given, so a cursor stays valid while registrations change. Each is built once
 * per change of registrations, its pages when first asked for; tools once per JSON Schema dialect
 * (`internal/server/registry.ts`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as JsonRpc from "./JsonRpc.js"
import * as Dispatch from "./internal/server/dispatch.js"
import * as Handlers from "./internal/server/handlers.js"
import * as Links from "./internal/server/links.js"
import * as Mrtr from "./internal/server/mrtr.js"
import { type ListKind, Registry } from "./internal/server/registry.js"
import * as Middleware from "./internal/server/middleware.js"
import type { Audience, SessionState } from "./internal/server/session.js"
import * as Tasks from "./internal/server/tasks.js"
import type * as McpSchema from "./McpSchema.js"
import * as McpTelemetry from "./McpTelemetry.js"
import type * as McpTask from "./McpTask.js"

/**
 * `ToolEntry` (a registered tool: its listing and how to call it), `Completer` (suggests values for an argument),
 * `ResourceEntry`, `ResourceTemplateEntry` and `PromptEntry`: what `McpTool`, `McpResource` and `McpPrompt` register.
 *
 * @since 0.1.0
 */
export type {
  Completer,
  PromptEntry,
  ResourceEntry,
  ResourceTemplateEntry,
  ToolEntry
} from "./internal/server/registry.js"
import type { PromptEntry, ResourceEntry, ResourceTemplateEntry, ToolEntry } from "./internal/server/registry.js"
/** A registered skill (SEP-2640): its entry and its files' listings. What `McpSkill` registers. @since 0.1.0 */
export type { SkillEntry } from "./internal/server/skills.js"
import type { SkillEntry } from "./internal/server/skills.js"

import type { Step } from "./internal/server/middleware.js"

/** The cache hints of 2026-07-28 results. @since 0.1.0 */
export type { CacheHints } from "./internal/server/dispatch.js"
import type { CacheHints } from "./internal/server/dispatch.js"

/** What the server says about itself, and how it lists. @since 0.1.0 */
export interface Options {
  /** `serverInfo.name`. */
  readonly name: string
  /** `serverInfo.version`. */
  readonly version: string
  /** `serverInfo.title`: a display name for people. */
  readonly title?: string | undefined
  /** `serverInfo.description`: what the server does (2025-11-25). */
  readonly description?: string | undefined
  /** `serverInfo.websiteUrl` (2025-11-25). */
  readonly websiteUrl?: string | undefined
  /** `serverInfo.icons` (2025-11-25). */
  readonly icons?: ReadonlyArray<McpSchema.Icon> | undefined
  /** Sent in the `initialize` result: how a model should use this server. */
  readonly instructions?: string | undefined
  /**
   * How many tools, resources, templates or prompts one list request returns; a longer listing is paged with
   * `nextCursor`. A positive integer (or `Infinity` for no paging). Default 100.
   */
  readonly pageSize?: number | undefined
  /**
   * How long a request the server sends the client (`createMessage`, `elicit`, `listRoots`...) waits for its
   * answer, unless the call gives its own `timeout`. Default 60 seconds.
   */
  readonly clientRequestTimeout?: Duration.DurationInput | undefined
  /**
   * The cache hints of 2026-07-28 results (`server/discover`, the four listings, `resources/read`): how long a
   * client or intermediary may reuse one, and whether it may be shared across users (`"public"`) or only within
   * the same authorization (`"private"`). Default `{ ttlMs: 0, cacheScope: "private" }`: never reuse.
   */
  readonly cache?: CacheHints | undefined
  /**
   * How 2026-07-28 multi round-trip requests seal `requestState`. Give every instance behind a load balancer the
   * same `key` (32 random bytes) so a retry may land on any of them. Default: a random key per server, and a
   * state accepted for 600 seconds.
   */
  readonly requestState?: RequestStateOptions | undefined
  /**
   * The tasks extension (`io.modelcontextprotocol/tasks`): how long a task stays readable, the poll interval
   * clients are told, and how many tasks may live at once. Default `{ ttlMs: 3_600_000, pollIntervalMs: 1_000,
   * maxTasks: 1_000 }`. Tasks exist only for tools that declare `taskSupport`.
   */
  readonly tasks?: McpTask.Options | undefined
  /**
   * A span and the `mcp.server.*` metrics per request (`McpTelemetry`). Default: on when the server is built
   * with a tracer other than Effect's default one (as `@effect/opentelemetry`'s layers install); off, nothing
   * is added to a request's path.
   */
  readonly telemetry?: boolean | undefined
}

/** How `requestState` is sealed (AES-256-GCM). @since 0.1.0 */
export interface RequestStateOptions {
  /** The 32-byte key; instances sharing it accept each other's state. */
  readonly key?: Uint8Array | undefined
  /** How long a state stays valid. Default 600 seconds. */
  readonly ttl?: Duration.DurationInput | undefined
}

const DEFAULT_PAGE_SIZE = 100

const DEFAULT_CACHE: CacheHints = { ttlMs: 0, cacheScope: "private" }

const DEFAULT_CLIENT_REQUEST_TIMEOUT = Duration.seconds(60)

/** @since 0.1.0 */
export interface McpServerService {
  readonly info: McpSchema.Implementation
  readonly addTool: (entry: ToolEntry) => Effect.Effect<void>
  readonly addResource: (entry: ResourceEntry) => Effect.Effect<void>
  readonly addResourceTemplate: (entry: ResourceTemplateEntry) => Effect.Effect<void>
  readonly addPrompt: (entry: PromptEntry) => Effect.Effect<void>
  /** Adds a skill's entry (its files are registered as resources); the server then declares the skills extension. */
  readonly addSkill: (entry: SkillEntry) => Effect.Effect<void>
  /** Removes the tool of that name, if any; initialized sessions get `notifications/tools/list_changed`. */
  readonly removeTool: (name: string) => Effect.Effect<void>
  /** Removes the resource of that URI, if any; sessions get `notifications/resources/list_changed`. */
  readonly removeResource: (uri: string) => Effect.Effect<void>
  /** Removes the resource template, if any; sessions get `notifications/resources/list_changed`. */
  readonly removeResourceTemplate: (uriTemplate: string) => Effect.Effect<void>
  /** Removes the prompt of that name, if any; sessions get `notifications/prompts/list_changed`. */
  readonly removePrompt: (name: string) => Effect.Effect<void>
  /**
   * Asks the visibility rules (`McpVisibility`) again for every session that was given a listing, and sends
   * `notifications/<list>/list_changed` to those whose view of a list changed: for rules that read something
   * that changed (a flag, a role in a database).
   */
  readonly refreshVisibility: Effect.Effect<void>
  /** Removes the skill whose `SKILL.md` is at `uri`, if any. */
  readonly removeSkill: (uri: string) => Effect.Effect<void>
  /** Sends `notifications/resources/updated` to the sessions subscribed to `uri` (`resources/subscribe`). */
  readonly notifyResourceUpdated: (uri: string) => Effect.Effect<void>
  /** The capabilities `initialize` announces, derived from what is registered. */
  readonly capabilities: () => McpSchema.ServerCapabilities
  /** The live tasks: how many there are (each ends `ttlMs` after it began, or when the server stops). */
  readonly tasks: { readonly size: Effect.Effect<number> }
  /**
   * Runs `chain` around every request the server serves, after those added before it (see
   * `McpMiddleware.serve`); the effect it returns removes it.
   */
  readonly addMiddleware: (chain: Step) => Effect.Effect<Effect.Effect<void>>
}

/**
 * The server service. Handlers register into it from their own layers (see `McpTool.make`), so the server
 * layer is provided to them: `Layer.mergeAll(tools...).pipe(Layer.provideMerge(McpServer.layer(...)))`.
 *
 * @since 0.1.0
 */
export class McpServer extends Context.Tag("@effect-mcp/core/McpServer")<McpServer, McpServerService>() {}


/** What a change to the registrations tells initialized sessions: one notification object, shared by all. */
const listChanged = {
  tools: JsonRpc.notification("notifications/tools/list_changed"),
  resources: JsonRpc.notification("notifications/resources/list_changed"),
  prompts: JsonRpc.notification("notifications/prompts/list_changed")
} as const

/**
 * Builds the server service in the current scope, which its tasks live in: closing it ends them.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<McpServerService, never, Scope.Scope> =>
  Effect.gen(function*() {
    // A task's status changes go where list changes go: the registries attached to this server.
    const audiences = new Set<Audience>()
    const store = yield* Tasks.makeStore(Tasks.settingsOf(options.tasks), (owner, notification) => {
      for (const audience of audiences) audience.taskStatus(owner, notification)
    })
    const telemetry = options.telemetry ?? (yield* McpTelemetry.isTracing)
    return build(options, store, audiences, telemetry)
  })

/** The options checked, with their defaults: what the dispatcher needs besides its handlers. */
const settingsOf = (
  options: Options,
  info: McpSchema.Implementation,
  registry: Registry,
  telemetry: boolean
): Dispatch.Settings => {
  const cache = options.cache ?? DEFAULT_CACHE
  if (!(Number.isInteger(cache.ttlMs) && cache.ttlMs >= 0)) {
    throw new RangeError(`McpServer: cache.ttlMs must be a non-negative integer, got ${cache.ttlMs}`)
  }
  const stateKey = options.requestState?.key ?? Mrtr.randomKey()
  if (stateKey.length !== 32) {
    throw new RangeError(`McpServer: requestState.key must be 32 bytes, got ${stateKey.length}`)
  }
  return {
    info,
    cache,
    requestState: {
      key: stateKey,
      ttlMs: Duration.toMillis(options.requestState?.ttl ?? Duration.seconds(600))
    },
    clientRequestTimeout: Duration.decode(options.clientRequestTimeout ?? DEFAULT_CLIENT_REQUEST_TIMEOUT),
    paramHeaders: (tool) => registry.paramHeaders.get(tool),
    telemetry
  }
}

const build = (
  options: Options,
  store: Tasks.Store,
  audiences: Set<Audience>,
  telemetry: boolean
): McpServerService => {
  const info: McpSchema.Implementation = {
    name: options.name,
    version: options.version,
    ...(options.title === undefined ? {} : { title: options.title }),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.websiteUrl === undefined ? {} : { websiteUrl: options.websiteUrl }),
    ...(options.icons === undefined ? {} : { icons: options.icons })
  }
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
  if (!(pageSize >= 1) || (Number.isFinite(pageSize) && !Number.isInteger(pageSize))) {
    throw new RangeError(`McpServer: pageSize must be a positive integer or Infinity, got ${pageSize}`)
  }
  // While a change of items with visibility rules is under way, `targeted` tells the sessions, not the registry.
  let quiet = false
  const registry = new Registry(pageSize, (kind) => {
    if (quiet) return
    for (const audience of audiences) audience.listChanged(listChanged[kind])
  })
  const { change, refresh } = visibilityChanges(registry, audiences, (mutate) => {
    quiet = true
    try {
      mutate()
    } finally {
      quiet = false
    }
  })
  const dispatcher = Dispatch.make(
    Handlers.make({ registry, store, info, instructions: options.instructions }),
    settingsOf(options, info, registry, telemetry)
  )
  // The server-wide middleware, in the order added; the dispatcher's routes are composed again on each change.
  const installed: Array<Step> = []
  const addMiddleware = (chain: Step) =>
    Effect.sync(() => {
      installed.push(chain)
      dispatcher.setMiddleware(Middleware.compose(installed))
      return Effect.sync(() => {
        const index = installed.indexOf(chain)
        if (index >= 0) installed.splice(index, 1)
        dispatcher.setMiddleware(Middleware.compose(installed))
      })
    })
  const service: McpServerService = {
    info,
    addMiddleware,
    capabilities: () => registry.capabilities(),
    tasks: { size: store.size },
    refreshVisibility: refresh,
    addTool: (entry) => change("tools", registry.tools.get(entry.tool.name), entry, () => registry.addTool(entry)),
    addResource: (entry) =>
      change("resources", registry.resources.get(entry.resource.uri), entry, () => registry.addResource(entry)),
    addResourceTemplate: (entry) =>
      change("resources", templateOf(registry, entry.template.uriTemplate), entry, () => registry.addTemplate(entry)),
    addPrompt: (entry) => change("prompts", registry.prompts.get(entry.prompt.name), entry, () => registry.addPrompt(entry)),
    removeTool: (name) => change("tools", registry.tools.get(name), undefined, () => registry.removeTool(name)),
    removeResource: (uri) =>
      change("resources", registry.resources.get(uri), undefined, () => registry.removeResource(uri)),
    removeResourceTemplate: (uriTemplate) =>
      change("resources", templateOf(registry, uriTemplate), undefined, () => registry.removeTemplate(uriTemplate)),
    removePrompt: (name) => change("prompts", registry.prompts.get(name), undefined, () => registry.removePrompt(name)),
    addSkill: (entry) => Effect.sync(() => registry.skills.add(entry)),
    removeSkill: (uri) => Effect.sync(() => registry.skills.remove(uri)),
    notifyResourceUpdated: (uri) =>
      Effect.sync(() => {
        if (audiences.size === 0) return
        const notification = JsonRpc.notification("notifications/resources/updated", { uri })
        for (const audience of audiences) audience.resourceUpdated(uri, notification)
      })
  }
  // The session machinery's way in (`SessionRegistry`), kept off the public service.
  return Links.linkServer(service, {
    dispatcher,
    attach: (audience) => {
      audiences.add(audience)
      return () => {
        audiences.delete(audience)
      }
    }
  })
}

const templateOf = (registry: Registry, uriTemplate: string) =>
  registry.templates.find((t) => t.template.uriTemplate === uriTemplate)

type Ruled = { readonly visible?: unknown } | undefined

/**
 * How changes reach sessions once items may be hidden. A change that only involves items with rules (the one
 * replaced or removed, the one added) tells only the sessions whose view of that list changed: each session's
 * view is taken before the change (unless it was given one already) and compared after. Any other change tells
 * every session, as a change always did. `refresh` compares again the views of the sessions that were given one,
 * for rules that read something that changed.
 */
const visibilityChanges = (registry: Registry, audiences: ReadonlySet<Audience>, quietly: (mutate: () => void) => void) => {
  const initialized = () => {
    const sessions: Array<SessionState> = []
    for (const audience of audiences) {
      for (const session of audience.sessions()) if (session.phase === "initialized") sessions.push(session)
    }
    return sessions
  }
  const tell = (kind: ListKind, sessions: ReadonlyArray<SessionState>) =>
    Effect.forEach(sessions, (session) => {
      const before = registry.lastView(session, kind)
      return Effect.map(registry.viewOf(kind, session), (now) => {
        if (before !== undefined && now !== before) session.send(listChanged[kind])
      })
    }, { discard: true })
  const change = (kind: ListKind, old: Ruled, next: Ruled, mutate: () => void): Effect.Effect<void> => {
    const everyone = (old !== undefined && old.visible === undefined) || (next !== undefined && next.visible === undefined)
    if (everyone || (old === undefined && next === undefined)) return Effect.sync(mutate)
    return Effect.suspend(() => {
      const sessions = initialized()
      return Effect.zipRight(
        Effect.forEach(
          sessions.filter((session) => registry.lastView(session, kind) === undefined),
          (session) => registry.viewOf(kind, session),
          { discard: true }
        ),
        Effect.suspend(() => {
          quietly(mutate)
          return tell(kind, sessions)
        })
      )
    })
  }
  const refresh = Effect.suspend(() => {
    const sessions = initialized()
    return Effect.forEach(
      (["tools", "resources", "prompts"] as const).filter((kind) => registry.hasRules(kind)),
      (kind) => tell(kind, sessions.filter((session) => registry.lastView(session, kind) !== undefined)),
      { discard: true }
    )
  })
  return { change, refresh }
}

/**
 * The server as a layer. Provide it to the layers that declare tools, resources and prompts.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<McpServer> => Layer.scoped(McpServer, make(options))
