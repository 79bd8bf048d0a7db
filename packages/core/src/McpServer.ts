/**
 * The MCP server service: what is registered (tools, resources, prompts), the lifecycle (`initialize`, version
 * negotiation, `ping`) and the dispatcher that sessions hand decoded messages to.
 *
 * Dispatch is a map lookup, then the params of that one method are decoded with its schema (built once), then
 * its handler runs in a fiber the session owns, and the response goes to the reply sink the transport gave with
 * the message. Nothing here knows about transports.
 *
 * A tool that declares `taskSupport` may answer `tools/call` with a task (the extension
 * `io.modelcontextprotocol/tasks`, see `McpTask`) for clients that declare the extension; the server serves
 * `tasks/get`, `tasks/update` and `tasks/cancel` for them, from a store whose tasks live in the server's scope.
 *
 * Listings (`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`) are sorted by name (URI,
 * URI template), so they do not depend on the order layers registered in, and paged by `pageSize` with opaque
 * cursors that name the last item given, so a cursor stays valid while registrations change. Each is built once
 * per change of registrations, its pages when first asked for; tools once per JSON Schema dialect.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Deferred from "effect/Deferred"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Links from "./internal/server/links.js"
import * as JsonRpc from "./JsonRpc.js"
import * as McpRevision from "./McpRevision.js"
import { type Dialect, dialectOf } from "./internal/shared/jsonSchema.js"
import * as Modern from "./internal/revisions/sessionless.js"
import * as ParamHeaders from "./internal/shared/paramHeaders.js"
import * as Mrtr from "./internal/server/mrtr.js"
import * as Pagination from "./internal/server/pagination.js"
import type { Audience, Dispatcher, SessionState } from "./internal/server/session.js"
import { makeCurrent } from "./internal/server/session.js"
import * as Tasks from "./internal/server/tasks.js"
import * as McpSchema from "./McpSchema.js"
import type { CurrentSessionService, Sink } from "./McpSession.js"
import type * as McpTask from "./McpTask.js"

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
  readonly read: (
    uri: string,
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.ReadResourceResult, JsonRpc.JsonRpcError>
}

/** A registered URI template. Built by `McpResource.template`. @since 0.1.0 */
export interface ResourceTemplateEntry {
  readonly template: McpSchema.ResourceTemplate
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
  readonly get: (
    args: { readonly [argument: string]: string },
    current: CurrentSessionService
  ) => Effect.Effect<McpSchema.GetPromptResult, JsonRpc.JsonRpcError>
  readonly complete: { readonly [argument: string]: Completer }
}

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

/** The cache hints of 2026-07-28 results. @since 0.1.0 */
export interface CacheHints {
  /** Milliseconds a result may be reused; a non-negative integer. */
  readonly ttlMs: number
  readonly cacheScope: "public" | "private"
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

/** 2026-07-28 results that carry cache hints. */
const CACHEABLE: ReadonlySet<string> = new Set([
  "server/discover",
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read"
])

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** @since 0.1.0 */
export interface McpServerService {
  readonly info: McpSchema.Implementation
  readonly addTool: (entry: ToolEntry) => Effect.Effect<void>
  readonly addResource: (entry: ResourceEntry) => Effect.Effect<void>
  readonly addResourceTemplate: (entry: ResourceTemplateEntry) => Effect.Effect<void>
  readonly addPrompt: (entry: PromptEntry) => Effect.Effect<void>
  /** Removes the tool of that name, if any; initialized sessions get `notifications/tools/list_changed`. */
  readonly removeTool: (name: string) => Effect.Effect<void>
  /** Removes the resource of that URI, if any; sessions get `notifications/resources/list_changed`. */
  readonly removeResource: (uri: string) => Effect.Effect<void>
  /** Removes the resource template, if any; sessions get `notifications/resources/list_changed`. */
  readonly removeResourceTemplate: (uriTemplate: string) => Effect.Effect<void>
  /** Removes the prompt of that name, if any; sessions get `notifications/prompts/list_changed`. */
  readonly removePrompt: (name: string) => Effect.Effect<void>
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

type Method = (
  session: SessionState,
  request: JsonRpc.Request,
  sink: Sink
) => Effect.Effect<unknown, JsonRpc.JsonRpcError>

const decodeInitialize = JsonRpc.paramsDecoder(McpSchema.InitializeParams)
const decodeList = JsonRpc.paramsDecoder(McpSchema.PaginatedParams)
const decodeCallTool = JsonRpc.paramsDecoder(McpSchema.CallToolParams)
const decodeReadResource = JsonRpc.paramsDecoder(McpSchema.ReadResourceParams)
const decodeGetPrompt = JsonRpc.paramsDecoder(McpSchema.GetPromptParams)
const decodeSetLevel = JsonRpc.paramsDecoder(McpSchema.SetLevelParams)
const decodeComplete = JsonRpc.paramsDecoder(McpSchema.CompleteParams)
const decodeCancelled = JsonRpc.paramsDecoder(McpSchema.CancelledParams)
const decodeSubscribe = JsonRpc.paramsDecoder(McpSchema.SubscribeParams)

const DEFAULT_CLIENT_REQUEST_TIMEOUT = Duration.seconds(60)

/** What a change to the registrations tells initialized sessions: one notification object, shared by all. */
const listChanged = {
  tools: JsonRpc.notification("notifications/tools/list_changed"),
  resources: JsonRpc.notification("notifications/resources/list_changed"),
  prompts: JsonRpc.notification("notifications/prompts/list_changed")
} as const

const progressTokenOf = (params: unknown): McpSchema.ProgressToken | undefined => {
  if (typeof params !== "object" || params === null || !("_meta" in params)) return undefined
  const meta = params._meta
  if (typeof meta !== "object" || meta === null || !("progressToken" in meta)) return undefined
  const token = meta.progressToken
  return typeof token === "string" || typeof token === "number" ? token : undefined
}

const MAX_COMPLETIONS = 100

const decodeTaskId = (params: unknown): Either.Either<string, JsonRpc.JsonRpcError> =>
  isRecord(params) && typeof params.taskId === "string"
    ? Either.right(params.taskId)
    : Either.left(JsonRpc.invalidParams("Invalid params: taskId must be a string"))

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

const build = (options: Options, store: Tasks.Store, audiences: Set<Audience>): McpServerService => {
  const info: McpSchema.Implementation = {
    name: options.name,
    version: options.version,
    ...(options.title === undefined ? {} : { title: options.title }),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.websiteUrl === undefined ? {} : { websiteUrl: options.websiteUrl }),
    ...(options.icons === undefined ? {} : { icons: options.icons })
  }
  const tools = new Map<string, ToolEntry>()
  // SEP-2243: each tool's `Mcp-Param-*` declarations, read from its listing when it registers, not per request.
  const paramHeaders = new Map<string, ReadonlyArray<ParamHeaders.ParamHeader>>()
  const resources = new Map<string, ResourceEntry>()
  const templates: Array<ResourceTemplateEntry> = []
  const prompts = new Map<string, PromptEntry>()
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
  if (!(pageSize >= 1) || (Number.isFinite(pageSize) && !Number.isInteger(pageSize))) {
    throw new RangeError(`McpServer: pageSize must be a positive integer or Infinity, got ${pageSize}`)
  }

  const cache = options.cache ?? DEFAULT_CACHE
  if (!(Number.isInteger(cache.ttlMs) && cache.ttlMs >= 0)) {
    throw new RangeError(`McpServer: cache.ttlMs must be a non-negative integer, got ${cache.ttlMs}`)
  }
  const stateKey = options.requestState?.key ?? Mrtr.randomKey()
  if (stateKey.length !== 32) {
    throw new RangeError(`McpServer: requestState.key must be 32 bytes, got ${stateKey.length}`)
  }
  const stateOptions: Mrtr.StateOptions = {
    key: stateKey,
    ttlMs: Duration.toMillis(options.requestState?.ttl ?? Duration.seconds(600))
  }

  // Listings and capabilities change only when something registers, so they are built once per change (their
  // pages when first asked for). Tool schemas differ by JSON Schema dialect, so tools are listed once per dialect.
  // 2026-07-28 listings also show `execution.taskSupport`; session-era ones do not, as a 2025-11-25 client would
  // read it as the core tasks of that revision (client-directed), which this server does not serve.
  let toolPages: { [D in Dialect | "modern"]?: Pagination.Pages<McpSchema.ListToolsResult> } = {}
  let resourcePages: Pagination.Pages<McpSchema.ListResourcesResult> | undefined
  let templatePages: Pagination.Pages<McpSchema.ListResourceTemplatesResult> | undefined
  let promptPages: Pagination.Pages<McpSchema.ListPromptsResult> | undefined
  let caps: McpSchema.ServerCapabilities | undefined
  const changed = (kind: keyof typeof listChanged) => {
    toolPages = {}
    resourcePages = templatePages = promptPages = caps = undefined
    for (const audience of audiences) audience.listChanged(listChanged[kind])
  }
  const orFail = <A>(either: Either.Either<A, JsonRpc.JsonRpcError>) =>
    Either.isRight(either) ? Effect.succeed(either.right) : Effect.fail(either.left)
  const next = (nextCursor: string | undefined) => nextCursor === undefined ? {} : { nextCursor }

  const withExecution = (entry: ToolEntry): McpSchema.Tool =>
    entry.taskSupport === undefined || entry.taskSupport === "forbidden"
      ? entry.tool
      : { ...entry.tool, execution: { taskSupport: entry.taskSupport } }
  const toolList = (dialect: Dialect | "modern") =>
    toolPages[dialect] ??= Pagination.make({
      list: "tools",
      items: tools.values(),
      key: (entry) => entry.tool.name,
      pageSize,
      result: (page, nextCursor): McpSchema.ListToolsResult => ({
        tools: page.map((entry) =>
          dialect === "modern"
            ? withExecution(entry)
            : dialect === "draft-07"
            ? entry.toolDraft07 ?? entry.tool
            : entry.tool
        ),
        ...next(nextCursor)
      })
    })
  const resourceList = () =>
    resourcePages ??= Pagination.make({
      list: "resources",
      items: resources.values(),
      key: (entry) => entry.resource.uri,
      pageSize,
      result: (page, nextCursor): McpSchema.ListResourcesResult => ({
        resources: page.map((entry) => entry.resource),
        ...next(nextCursor)
      })
    })
  // A URI template registered twice is listed once: reads and completions use the first registration.
  const templateList = () =>
    templatePages ??= Pagination.make({
      list: "resourceTemplates",
      items: templates,
      key: (entry) => entry.template.uriTemplate,
      pageSize,
      result: (page, nextCursor): McpSchema.ListResourceTemplatesResult => ({
        resourceTemplates: page.map((entry) => entry.template),
        ...next(nextCursor)
      })
    })
  const promptList = () =>
    promptPages ??= Pagination.make({
      list: "prompts",
      items: prompts.values(),
      key: (entry) => entry.prompt.name,
      pageSize,
      result: (page, nextCursor): McpSchema.ListPromptsResult => ({
        prompts: page.map((entry) => entry.prompt),
        ...next(nextCursor)
      })
    })
  const listing = <R>(request: JsonRpc.Request, pages: () => Pagination.Pages<R>) =>
    Effect.suspend(() => orFail(Either.flatMap(decodeList(request.params), ({ cursor }) => pages()(cursor))))

  const capabilities = (): McpSchema.ServerCapabilities =>
    caps ??= {
      logging: {},
      ...(tools.size > 0 ? { tools: { listChanged: true } } : {}),
      ...(resources.size > 0 || templates.length > 0 ? { resources: { subscribe: true, listChanged: true } } : {}),
      ...(prompts.size > 0 ? { prompts: { listChanged: true } } : {}),
      ...(templates.some((t) => Object.keys(t.complete).length > 0) ||
          Array.from(prompts.values()).some((p) => Object.keys(p.complete).length > 0)
        ? { completions: {} }
        : {}),
      ...(Array.from(tools.values()).some((t) => (t.taskSupport ?? "forbidden") !== "forbidden")
        ? { extensions: { [Tasks.EXTENSION]: {} } }
        : {})
    }

  /** A `tasks/*` method: only for clients that declared the extension on this request (or at `initialize`). */
  const tasksMethod = (
    session: SessionState,
    request: JsonRpc.Request,
    f: (taskId: string) => Effect.Effect<unknown, JsonRpc.JsonRpcError>
  ) =>
    Effect.suspend(() => {
      if (!Tasks.declares(session.clientCapabilities)) return Effect.fail(Tasks.missingExtension())
      return Either.match(decodeTaskId(request.params), { onLeft: Effect.fail, onRight: f })
    })

  const resourceNotFound = (uri: string) =>
    new JsonRpc.JsonRpcError({
      code: JsonRpc.ErrorCode.ResourceNotFound,
      message: `Resource not found: ${uri}`,
      data: { uri }
    })
  const isKnownResource = (uri: string) => resources.has(uri) || templates.some((t) => t.match(uri) !== undefined)

  const methods = new Map<string, Method>([
    ["initialize", (session, request) =>
      Effect.suspend(() => {
        const params = decodeInitialize(request.params)
        if (Either.isLeft(params)) return Effect.fail(params.left)
        if (session.phase === "initialized") {
          return Effect.fail(JsonRpc.invalidRequest("Invalid request: the session is already initialized"))
        }
        const requested = params.right.protocolVersion
        const version = McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
          ? requested
          : McpSchema.LATEST_PROTOCOL_VERSION
        session.initialize(version, params.right.clientInfo, params.right.capabilities)
        const result: McpSchema.InitializeResult = {
          protocolVersion: version,
          capabilities: capabilities(),
          serverInfo: info,
          ...(options.instructions === undefined ? {} : { instructions: options.instructions })
        }
        return Effect.succeed(result)
      })],
    ["ping", () => Effect.succeed({})],
    ["tools/list", (session, request) =>
      listing(request, () => toolList(session.isModern ? "modern" : dialectOf(session.protocolVersion)))],
    ["tools/call", (session, request, sink) =>
      Effect.suspend(() => {
        const params = decodeCallTool(request.params)
        if (Either.isLeft(params)) return Effect.fail(params.left)
        const entry = tools.get(params.right.name)
        if (entry === undefined) return Effect.fail(JsonRpc.invalidParams(`Unknown tool: ${params.right.name}`))
        const args = params.right.arguments ?? {}
        const progressToken = params.right._meta?.progressToken
        const support = entry.taskSupport ?? "forbidden"
        // A legacy `task` param is ignored (the decoder drops it): the server alone decides what becomes a task.
        if (support === "forbidden") return entry.call(args, makeCurrent(session, request.id, progressToken, sink))
        if (!Tasks.declares(session.clientCapabilities)) {
          return support === "required"
            ? Effect.fail(Tasks.missingExtension())
            : entry.call(args, makeCurrent(session, request.id, progressToken, sink))
        }
        return store.call({
          owner: session.principal,
          start: entry.taskStart ?? "immediate",
          asker: session,
          reply: sink,
          run: (asker, reply) => entry.call(args, makeCurrent(session, request.id, progressToken, reply, asker))
        })
      })],
    ["tasks/get", (session, request) =>
      tasksMethod(session, request, (taskId) => store.get(taskId, session.principal))],
    ["tasks/update", (session, request) =>
      tasksMethod(session, request, (taskId) => {
        const responses = isRecord(request.params) ? request.params.inputResponses : undefined
        return isRecord(responses)
          ? store.update(taskId, session.principal, responses)
          : Effect.fail(JsonRpc.invalidParams("Invalid params: inputResponses must be an object"))
      })],
    ["tasks/cancel", (session, request) =>
      tasksMethod(session, request, (taskId) => store.cancel(taskId, session.principal))],
    ["resources/list", (_, request) => listing(request, resourceList)],
    ["resources/templates/list", (_, request) => listing(request, templateList)],
    ["resources/read", (session, request, sink) =>
      Effect.suspend(() => {
        const params = decodeReadResource(request.params)
        if (Either.isLeft(params)) return Effect.fail(params.left)
        const uri = params.right.uri
        const current = makeCurrent(session, request.id, progressTokenOf(request.params), sink)
        const entry = resources.get(uri)
        if (entry !== undefined) return entry.read(uri, current)
        for (const template of templates) {
          const variables = template.match(uri)
          if (variables !== undefined) return template.read(uri, variables, current)
        }
        return Effect.fail(resourceNotFound(uri))
      })],
    ["resources/subscribe", (session, request) =>
      Effect.flatMap(orFail(decodeSubscribe(request.params)), ({ uri }) => {
        if (!isKnownResource(uri)) return Effect.fail(resourceNotFound(uri))
        const refused = session.subscribeCharged(uri)
        return refused === undefined ? Effect.succeed({}) : Effect.fail(refused)
      })],
    ["resources/unsubscribe", (session, request) =>
      Effect.map(orFail(decodeSubscribe(request.params)), ({ uri }) => {
        session.unsubscribe(uri)
        return {}
      })],
    ["prompts/list", (_, request) => listing(request, promptList)],
    ["prompts/get", (session, request, sink) =>
      Effect.suspend(() => {
        const params = decodeGetPrompt(request.params)
        if (Either.isLeft(params)) return Effect.fail(params.left)
        const entry = prompts.get(params.right.name)
        if (entry === undefined) return Effect.fail(JsonRpc.invalidParams(`Unknown prompt: ${params.right.name}`))
        return entry.get(
          params.right.arguments ?? {},
          makeCurrent(session, request.id, progressTokenOf(request.params), sink)
        )
      })],
    ["logging/setLevel", (session, request) =>
      Effect.map(orFail(decodeSetLevel(request.params)), ({ level }) => {
        session.setLogLevel(level)
        return {}
      })],
    ["completion/complete", (session, request, sink) =>
      Effect.flatMap(orFail(decodeComplete(request.params)), ({ argument, context, ref }) => {
        const completers = ref.type === "ref/prompt"
          ? prompts.get(ref.name)?.complete
          : templates.find((t) => t.template.uriTemplate === ref.uri)?.complete
        if (completers === undefined) {
          return Effect.fail(
            JsonRpc.invalidParams(
              ref.type === "ref/prompt" ? `Unknown prompt: ${ref.name}` : `Unknown resource template: ${ref.uri}`
            )
          )
        }
        const completer = completers[argument.name]
        if (completer === undefined) return Effect.succeed({ completion: { values: [], total: 0, hasMore: false } })
        const current = makeCurrent(session, request.id, progressTokenOf(request.params), sink)
        return Effect.map(completer(argument.value, context?.arguments ?? {}, current), (values) => ({
          completion: {
            values: values.slice(0, MAX_COMPLETIONS),
            total: values.length,
            hasMore: values.length > MAX_COMPLETIONS
          }
        }))
      })]
  ])

  const notInitialized = JsonRpc.invalidRequest("Invalid request: the session is not initialized; send initialize first")

  const answer = (request: JsonRpc.Request, reply: Sink) => ({
    onSuccess: (result: unknown) =>
      Effect.sync(() => {
        reply(JsonRpc.success(request.id, result))
      }),
    onFailure: (cause: Cause.Cause<JsonRpc.JsonRpcError>) => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        return Effect.sync(() => {
          reply(JsonRpc.failure(request.id, failure.value))
        })
      }
      // An interruption from inside answers nothing here; the session answers requests a shutdown stops.
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      return Effect.zipRight(
        Effect.logError(`${request.method} failed`, cause),
        Effect.sync(() => {
          reply(JsonRpc.failure(request.id, JsonRpc.internalError()))
        })
      )
    }
  })

  const refuse = (reply: Sink, response: JsonRpc.Response) =>
    Effect.sync(() => {
      reply(response)
    })

  // --- 2026-07-28 ---------------------------------------------------------------------------------------------

  const serverInfoMeta = { [Modern.Meta.serverInfo]: info }

  /** What every 2026-07-28 result carries: its type, who answered, and for the cacheable ones the hints. */
  const stamp = (request: JsonRpc.Request, result: unknown, retry: boolean): unknown => {
    if (!isRecord(result)) return result
    const meta = isRecord(result._meta) ? { ...result._meta, ...serverInfoMeta } : serverInfoMeta
    if (result.resultType !== undefined) return { ...result, _meta: meta }
    // Results of retries are not to be cached (`caching.mdx` §Cache Key).
    const hints = CACHEABLE.has(request.method) && !retry ? cache : {}
    return { ...result, ...hints, resultType: "complete", _meta: meta }
  }

  const discover = (): unknown => ({
    supportedVersions: [...Modern.MODERN_VERSIONS, ...[...McpSchema.SUPPORTED_PROTOCOL_VERSIONS].reverse()],
    capabilities: capabilities(),
    ...(options.instructions === undefined ? {} : { instructions: options.instructions })
  })

  /**
   * Runs a handler that may ask the client: asks the request's `inputResponses` (or the answers sealed in its
   * `requestState`) answer go on; the first that is not answered stops the run, which ends with an
   * `InputRequiredResult` (after letting asks made alongside it register, so one round can carry several).
   */
  const withRounds = (
    session: SessionState,
    request: JsonRpc.Request,
    run: Effect.Effect<unknown, JsonRpc.JsonRpcError>
  ): Effect.Effect<unknown, JsonRpc.JsonRpcError> =>
    Effect.gen(function*() {
      const params = isRecord(request.params) ? request.params : {}
      const target = typeof params.name === "string" ? params.name : typeof params.uri === "string" ? params.uri : ""
      const binding = yield* Mrtr.bindingOf(request.method, target, params.arguments, session.principal)
      const now = yield* Clock.currentTimeMillis
      const token = params.requestState
      if (token !== undefined && typeof token !== "string") return yield* Effect.fail(Mrtr.invalidState)
      const prior = token === undefined ? {} : yield* Mrtr.open(stateOptions, token, binding, now)
      const responses = isRecord(params.inputResponses) ? params.inputResponses : {}
      const rounds = new Mrtr.Rounds({ ...prior, ...responses })
      session.setRounds(rounds)
      const fiber = yield* Effect.fork(run)
      const outcome = yield* Effect.raceFirst(
        Effect.map(Effect.either(Fiber.join(fiber)), (done) => ({ _tag: "Done" as const, done })),
        Deferred.await(rounds.escape)
      )
      if (outcome._tag === "Done") {
        return yield* outcome.done
      }
      // Asks forked alongside the one that stopped the run get to register before it is interrupted.
      for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      if (outcome._tag === "MissingCapability") {
        return yield* Effect.fail(Mrtr.missingCapability(outcome.requiredCapabilities))
      }
      const requestState = yield* Mrtr.seal(stateOptions, binding, rounds.used, now)
      return { resultType: "input_required", inputRequests: { ...rounds.asked }, requestState }
    })

  /** A retired code is never emitted: a missing resource gets the revision's own code (2026-07-28: -32602). */
  const revisionError = (version: string) => (error: JsonRpc.JsonRpcError): JsonRpc.JsonRpcError => {
    const code = McpRevision.get(version)?.resourceNotFoundCode
    return error.code === JsonRpc.ErrorCode.ResourceNotFound && code !== undefined && code !== error.code
      ? new JsonRpc.JsonRpcError({ code, message: error.message, data: error.data })
      : error
  }

  const modernRequest = (session: SessionState, request: JsonRpc.Request, reply: Sink) => {
    if (session.hasInvalidLogLevel) {
      return refuse(
        reply,
        JsonRpc.failure(request.id, JsonRpc.invalidParams(`Invalid params: ${Modern.Meta.logLevel} is not a logging level`))
      )
    }
    const method = request.method === "server/discover"
      ? () => Effect.sync(discover)
      : McpRevision.get(session.protocolVersion)?.removedMethods.has(request.method) === true
      ? undefined
      : methods.get(request.method)
    if (method === undefined) return refuse(reply, JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method)))
    const params = isRecord(request.params) ? request.params : {}
    const retry = params.inputResponses !== undefined || params.requestState !== undefined
    const run = Mrtr.CARRIERS.has(request.method)
      ? withRounds(session, request, Effect.suspend(() => method(session, request, reply)))
      : method(session, request, reply)
    return Effect.matchCauseEffect(
      run.pipe(Effect.map((result) => stamp(request, result, retry)), Effect.mapError(revisionError(session.protocolVersion))),
      answer(request, reply)
    )
  }

  const dispatcher: Dispatcher = {
    clientRequestTimeout: Duration.decode(options.clientRequestTimeout ?? DEFAULT_CLIENT_REQUEST_TIMEOUT),
    paramHeaders: (tool) => paramHeaders.get(tool),
    request: (session, request, reply) => {
      if (session.isModern) return modernRequest(session, request, reply)
      const method = methods.get(request.method)
      if (method === undefined) return refuse(reply, JsonRpc.failure(request.id, JsonRpc.methodNotFound(request.method)))
      if (session.phase !== "initialized" && request.method !== "initialize" && request.method !== "ping") {
        return refuse(reply, JsonRpc.failure(request.id, notInitialized))
      }
      return Effect.matchCauseEffect(method(session, request, reply), answer(request, reply))
    },
    notification: (session, notification) => {
      if (notification.method !== "notifications/cancelled") return
      const params = decodeCancelled(notification.params)
      // Cancellation is advisory and a late one is harmless: the spec has the receiver ignore unknown ids.
      if (Either.isRight(params)) session.cancel(params.right.requestId)
    }
  }

  const service: McpServerService = {
    info,
    capabilities,
    tasks: { size: store.size },
    addTool: (entry) =>
      Effect.sync(() => {
        tools.set(entry.tool.name, entry)
        // `McpTool` refuses invalid declarations when its layer is built; a hand-made entry's are ignored.
        const declared = Either.getOrElse(ParamHeaders.scan(entry.tool.inputSchema), () => [])
        if (declared.length > 0) paramHeaders.set(entry.tool.name, declared)
        else paramHeaders.delete(entry.tool.name)
        changed("tools")
      }),
    addResource: (entry) =>
      Effect.sync(() => {
        resources.set(entry.resource.uri, entry)
        changed("resources")
      }),
    addResourceTemplate: (entry) =>
      Effect.sync(() => {
        // A template registered again replaces the old one, as a tool of the same name does.
        const index = templates.findIndex((t) => t.template.uriTemplate === entry.template.uriTemplate)
        if (index >= 0) templates[index] = entry
        else templates.push(entry)
        changed("resources")
      }),
    addPrompt: (entry) =>
      Effect.sync(() => {
        prompts.set(entry.prompt.name, entry)
        changed("prompts")
      }),
    removeTool: (name) =>
      Effect.sync(() => {
        paramHeaders.delete(name)
        if (tools.delete(name)) changed("tools")
      }),
    removeResource: (uri) =>
      Effect.sync(() => {
        if (resources.delete(uri)) changed("resources")
      }),
    removeResourceTemplate: (uriTemplate) =>
      Effect.sync(() => {
        const index = templates.findIndex((t) => t.template.uriTemplate === uriTemplate)
        if (index < 0) return
        templates.splice(index, 1)
        changed("resources")
      }),
    removePrompt: (name) =>
      Effect.sync(() => {
        if (prompts.delete(name)) changed("prompts")
      }),
    notifyResourceUpdated: (uri) =>
      Effect.sync(() => {
        if (audiences.size === 0) return
        const notification = JsonRpc.notification("notifications/resources/updated", { uri })
        for (const audience of audiences) audience.resourceUpdated(uri, notification)
      }),
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
