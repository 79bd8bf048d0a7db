/**
 * What the server does for each method it serves, as the dispatcher's handler table (`dispatch.ts`): the
 * lifecycle (`initialize`, `ping`, `server/discover`, `logging/setLevel`), tools and their tasks, resources,
 * prompts and completions. Params arrive decoded; each handler looks up what is registered and runs it with the
 * session's `CurrentSession`.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JsonRpc from "../../JsonRpc.js"
import type * as McpMethod from "../../McpMethod.js"
import * as McpRevision from "../../McpRevision.js"
import * as McpSchema from "../../McpSchema.js"
import type { Sink } from "../../McpSession.js"
import * as Sessionless from "../revisions/sessionless.js"
import type { Handler, Handlers } from "./dispatch.js"
import type * as Pagination from "./pagination.js"
import type { PromptEntry, Registry, ResourceEntry, ResourceTemplateEntry, ToolEntry } from "./registry.js"
import { makeCurrent, type SessionState } from "./session.js"
import * as Skills from "./skills.js"
import * as Tasks from "./tasks.js"
import type { Visibility } from "./visibility.js"

/** What the handlers serve from. @internal */
export interface Inputs {
  readonly registry: Registry
  readonly store: Tasks.Store
  readonly info: McpSchema.Implementation
  readonly instructions: string | undefined
}

const MAX_COMPLETIONS = 100

const progressTokenOf = (params: unknown): McpSchema.ProgressToken | undefined => {
  if (typeof params !== "object" || params === null || !("_meta" in params)) return undefined
  const meta = params._meta
  if (typeof meta !== "object" || meta === null || !("progressToken" in meta)) return undefined
  const token = meta.progressToken
  return typeof token === "string" || typeof token === "number" ? token : undefined
}

const resourceNotFound = (uri: string) =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.ResourceNotFound,
    message: `Resource not found: ${uri}`,
    data: { uri }
  })

const listing = <R>(pages: Pagination.Pages<R>, cursor: string | undefined) =>
  Either.match(pages(cursor), { onLeft: Effect.fail, onRight: Effect.succeed })

/** A listing as the session sees it, when some items are hidden from some sessions. */
const viewedListing = <R>(pages: Effect.Effect<Pagination.Pages<R>>, cursor: string | undefined) =>
  Effect.flatMap(pages, (pages) => listing(pages, cursor))

/**
 * `serve` when `entry` is visible to `session`, else `unknown`, the very failure of an item never registered,
 * so a hidden item cannot be told from an absent one. Nothing is asked of an item without a rule.
 */
const ifVisible = <A, E>(
  entry: { readonly visible?: Visibility | undefined },
  session: SessionState,
  unknown: () => Effect.Effect<A, E>,
  serve: () => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  entry.visible === undefined
    ? serve()
    : Effect.flatMap(entry.visible(session), (seen) => seen ? serve() : unknown())

const instructionsOf = (instructions: string | undefined) =>
  instructions === undefined ? {} : { instructions }

/** What a URI names for a session that may not see every resource: a fixed one, else the first template. */
const visibleResource = (registry: Registry, uri: string, session: SessionState): Effect.Effect<
  | { readonly _tag: "Resource"; readonly entry: ResourceEntry }
  | { readonly _tag: "Template"; readonly template: ResourceTemplateEntry; readonly variables: Variables }
  | undefined
> =>
  Effect.gen(function*() {
    const entry = registry.resources.get(uri)
    if (entry !== undefined && (entry.visible === undefined || (yield* entry.visible(session)))) {
      return { _tag: "Resource", entry } as const
    }
    for (const template of registry.templates) {
      const variables = template.match(uri)
      if (variables === undefined) continue
      if (template.visible === undefined || (yield* template.visible(session))) {
        return { _tag: "Template", template, variables } as const
      }
    }
    return undefined
  })

type Variables = { readonly [variable: string]: string }

/** `initialize`, `ping`, `server/discover`, `logging/setLevel`. */
const lifecycle = ({ info, instructions, registry }: Inputs) => {
  const initialize: Handler<"initialize"> = (params, session) => {
    if (session.phase === "initialized") {
      return Effect.fail(JsonRpc.invalidRequest("Invalid request: the session is already initialized"))
    }
    const requested = params.protocolVersion
    const version = McpSchema.SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
      ? requested
      : McpSchema.LATEST_PROTOCOL_VERSION
    session.initialize(version, params.clientInfo, params.capabilities)
    const result: McpSchema.InitializeResult = {
      protocolVersion: version,
      capabilities: registry.capabilities(),
      serverInfo: info,
      ...instructionsOf(instructions)
    }
    return Effect.succeed(result)
  }
  const supportedVersions = [...Sessionless.MODERN_VERSIONS, ...[...McpSchema.SUPPORTED_PROTOCOL_VERSIONS].reverse()]
  const discover: Handler<"server/discover"> = () =>
    Effect.sync(() => ({ supportedVersions, capabilities: registry.capabilities(), ...instructionsOf(instructions) }))
  const setLevel: Handler<"logging/setLevel"> = ({ level }, session) =>
    Effect.sync(() => {
      session.setLogLevel(level)
      return {}
    })
  return { "initialize": initialize, "ping": () => Effect.succeed({}), "server/discover": discover, "logging/setLevel": setLevel }
}

/** A `tasks/*` method: only for clients that declared the extension on this request (or at `initialize`). */
const task = <M extends "tasks/get" | "tasks/update" | "tasks/cancel">(handler: Handler<M>): Handler<M> =>
(params, session, request, reply) =>
  Tasks.declares(session.clientCapabilities)
    ? handler(params, session, request, reply)
    : Effect.fail(Tasks.missingExtension())

/** `tools/list`, `tools/call` and the tasks a call may become. */
const tools = ({ registry, store }: Inputs) => {
  const call: Handler<"tools/call"> = (params, session, request, sink) => {
    const entry = registry.tools.get(params.name)
    const unknown = () => Effect.fail(JsonRpc.invalidParams(`Unknown tool: ${params.name}`))
    if (entry === undefined) return unknown()
    return entry.visible === undefined
      ? callTool(entry, params, session, request, sink)
      : ifVisible(entry, session, unknown, () => callTool(entry, params, session, request, sink))
  }
  const callTool = (
    entry: ToolEntry,
    params: McpMethod.Params<"tools/call">,
    session: SessionState,
    request: JsonRpc.Request,
    sink: Sink
  ) => {
    const args = params.arguments ?? {}
    const progressToken = params._meta?.progressToken
    const support = entry.taskSupport ?? "forbidden"
    // A legacy `task` param is ignored (the decoder drops it): the server alone decides what becomes a task.
    if (support === "forbidden") return entry.call(args, makeCurrent(session, request.id, progressToken, sink))
    if (!Tasks.declares(session.clientCapabilities)) {
      return support === "required"
        ? Effect.fail(Tasks.missingExtension())
        : entry.call(args, makeCurrent(session, request.id, progressToken, sink))
    }
    return store.call({
      tool: params.name,
      owner: session.principal,
      start: entry.taskStart ?? "immediate",
      asker: session,
      reply: sink,
      run: (asker, reply) => entry.call(args, makeCurrent(session, request.id, progressToken, reply, asker))
    })
  }
  const list: Handler<"tools/list"> = ({ cursor }, session) => {
    const revision = McpRevision.get(session.protocolVersion) ?? McpRevision.latestSessionEra
    return registry.hasRules("tools")
      ? viewedListing(registry.toolListFor(revision, session), cursor)
      : listing(registry.toolList(revision), cursor)
  }
  return {
    "tools/list": list,
    "tools/call": call,
    "tasks/get": task<"tasks/get">(({ taskId }, session) => store.get(taskId, session.principal)),
    "tasks/update": task<"tasks/update">(({ inputResponses, taskId }, session) =>
      store.update(taskId, session.principal, inputResponses)
    ),
    "tasks/cancel": task<"tasks/cancel">(({ taskId }, session) => store.cancel(taskId, session.principal))
  }
}

/** `resources/*`. */
const resources = ({ registry }: Inputs) => {
  const read: Handler<"resources/read"> = ({ uri }, session, request, sink) => {
    const current = makeCurrent(session, request.id, progressTokenOf(request.params), sink)
    const entry = registry.resources.get(uri)
    if (entry !== undefined && entry.visible === undefined) return entry.read(uri, current)
    if (!registry.hasRules("resources")) {
      for (const template of registry.templates) {
        const variables = template.match(uri)
        if (variables !== undefined) return template.read(uri, variables, current)
      }
      return Effect.fail(resourceNotFound(uri))
    }
    // Some resources are hidden from some sessions: a hidden one is skipped as if it were not registered.
    return Effect.flatMap(visibleResource(registry, uri, session), (found) => {
      if (found === undefined) return Effect.fail(resourceNotFound(uri))
      return found._tag === "Resource"
        ? found.entry.read(uri, current)
        : found.template.read(uri, found.variables, current)
    })
  }
  const subscribe: Handler<"resources/subscribe"> = ({ uri }, session) => {
    const charge = () => {
      const refused = session.subscribeCharged(uri)
      return refused === undefined ? Effect.succeed({}) : Effect.fail(refused)
    }
    if (!registry.hasRules("resources")) {
      return registry.isKnownResource(uri) ? charge() : Effect.fail(resourceNotFound(uri))
    }
    return Effect.flatMap(
      visibleResource(registry, uri, session),
      (found) => found === undefined ? Effect.fail(resourceNotFound(uri)) : charge()
    )
  }
  const unsubscribe: Handler<"resources/unsubscribe"> = ({ uri }, session) =>
    Effect.sync(() => {
      session.unsubscribe(uri)
      return {}
    })
  const handlers: Pick<
    Handlers,
    "resources/list" | "resources/templates/list" | "resources/read" | "resources/subscribe" | "resources/unsubscribe"
  > = {
    "resources/list": ({ cursor }, session) =>
      registry.hasRules("resources")
        ? viewedListing(registry.resourceListFor(session), cursor)
        : listing(registry.resourceList(), cursor),
    "resources/templates/list": ({ cursor }, session) =>
      registry.hasRules("resources")
        ? viewedListing(registry.templateListFor(session), cursor)
        : listing(registry.templateList(), cursor),
    "resources/read": read,
    "resources/subscribe": subscribe,
    "resources/unsubscribe": unsubscribe
  }
  return handlers
}

/** `prompts/*` and `completion/complete`. */
const prompts = ({ registry }: Inputs) => {
  const get: Handler<"prompts/get"> = (params, session, request, sink) => {
    const entry = registry.prompts.get(params.name)
    const unknown = () => Effect.fail(JsonRpc.invalidParams(`Unknown prompt: ${params.name}`))
    if (entry === undefined) return unknown()
    return ifVisible(entry, session, unknown, () =>
      entry.get(params.arguments ?? {}, makeCurrent(session, request.id, progressTokenOf(request.params), sink)))
  }
  const complete: Handler<"completion/complete"> = ({ argument, context, ref }, session, request, sink) => {
    const owner = ref.type === "ref/prompt"
      ? registry.prompts.get(ref.name)
      : registry.templates.find((t) => t.template.uriTemplate === ref.uri)
    const unknown = () =>
      Effect.fail(
        JsonRpc.invalidParams(
          ref.type === "ref/prompt" ? `Unknown prompt: ${ref.name}` : `Unknown resource template: ${ref.uri}`
        )
      )
    if (owner === undefined) return unknown()
    return ifVisible(owner, session, unknown, () => completeWith(owner.complete, argument, context, session, request, sink))
  }
  const completeWith = (
    completers: PromptEntry["complete"],
    argument: McpMethod.Params<"completion/complete">["argument"],
    context: McpMethod.Params<"completion/complete">["context"],
    session: SessionState,
    request: JsonRpc.Request,
    sink: Sink
  ) => {
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
  }
  const handlers: Pick<Handlers, "prompts/list" | "prompts/get" | "completion/complete"> = {
    "prompts/list": ({ cursor }, session) =>
      registry.hasRules("prompts")
        ? viewedListing(registry.promptListFor(session), cursor)
        : listing(registry.promptList(), cursor),
    "prompts/get": get,
    "completion/complete": complete
  }
  return handlers
}

/**
 * The server's handler table: one handler per method its dispatcher serves.
 * @internal
 */
export const make = (inputs: Inputs): Handlers => ({
  ...lifecycle(inputs),
  ...tools(inputs),
  ...resources(inputs),
  ...prompts(inputs),
  ...Skills.handlers(inputs.registry.skills)
})
