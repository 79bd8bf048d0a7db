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
import { Registry } from "./internal/server/registry.js"
import type { Audience } from "./internal/server/session.js"
import * as Tasks from "./internal/server/tasks.js"
import type * as McpSchema from "./McpSchema.js"
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
  /** Removes the skill whose `SKILL.md` is at `uri`, if any. */
  readonly removeSkill: (uri: string) => Effect.Effect<void>
  /** Sends `notifications/resources/updated` to the sessions subscribed to `uri` (`resources/subscribe`). */
  readonly notifyResourceUpdated: (uri: string) => Effect.Effect<void>
  /** The capabilities `initialize` announces, derived from what is registered. */
  readonly capabilities: () => McpSchema.ServerCapabilities
  /** The live tasks: how many there are (each ends `ttlMs` after it began, or when the server stops). */
  readonly tasks: { readonly size: Effect.Effect<number> }
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
    return build(options, store, audiences)
  })

/** The options checked, with their defaults: what the dispatcher needs besides its handlers. */
const settingsOf = (options: Options, info: McpSchema.Implementation, registry: Registry): Dispatch.Settings => {
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
    paramHeaders: (tool) => registry.paramHeaders.get(tool)
  }
}

const build = (options: Options, store: Tasks.Store, audiences: Set<Audience>): McpServerService => {
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
  const registry = new Registry(pageSize, (kind) => {
    for (const audience of audiences) audience.listChanged(listChanged[kind])
  })
  const dispatcher = Dispatch.make(
    Handlers.make({ registry, store, info, instructions: options.instructions }),
    settingsOf(options, info, registry)
  )
  const service: McpServerService = {
    info,
    capabilities: () => registry.capabilities(),
    tasks: { size: store.size },
    addTool: (entry) => Effect.sync(() => registry.addTool(entry)),
    addResource: (entry) => Effect.sync(() => registry.addResource(entry)),
    addResourceTemplate: (entry) => Effect.sync(() => registry.addTemplate(entry)),
    addPrompt: (entry) => Effect.sync(() => registry.addPrompt(entry)),
    addSkill: (entry) => Effect.sync(() => registry.skills.add(entry)),
    removeTool: (name) => Effect.sync(() => registry.removeTool(name)),
    removeResource: (uri) => Effect.sync(() => registry.removeResource(uri)),
    removeResourceTemplate: (uriTemplate) => Effect.sync(() => registry.removeTemplate(uriTemplate)),
    removePrompt: (name) => Effect.sync(() => registry.removePrompt(name)),
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

/**
 * The server as a layer. Provide it to the layers that declare tools, resources and prompts.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<McpServer> => Layer.scoped(McpServer, make(options))
