/**
 * The MCP methods, one table: each method once, with its params and result schemas (from `McpSchema`), who sends
 * it, the revisions that have it, the capability it needs, whether its 2026-07-28 result is cacheable and whether
 * it may come back `input_required`. What the rest of the code knows of methods is derived from it: the server's
 * dispatch (a handler per method it serves, params decoded by the table's schema), the client's result decoders
 * and its typed calls (`McpClient`'s `send`, params `Params<M>` and result `Result<M>`, and the named calls on it),
 * each revision's `removedMethods`, the multi round-trip carriers, the cacheable results.
 *
 * As in `@effect/rpc`, a method is one definition, and the types of the sides are derived from the table: a
 * server handler table or a client decoder table missing a method does not compile.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Methods from "./internal/shared/methods.js"
import * as McpSchema from "./McpSchema.js"

/**
 * What is known of a method apart from its schemas: its kind, its sender, the revisions that have it, the
 * capability it needs, caching and multi round-trip. See `internal/shared/methods.ts`.
 *
 * @since 0.1.0
 */
export type Facts = Methods.Facts

type Facts_ = typeof Methods.facts

const request = <
  const M extends Methods.Name,
  P extends Schema.Schema.AnyNoContext,
  R extends Schema.Schema.AnyNoContext
>(name: M, params: P, result: R) => ({ ...Methods.facts[name], name, params, result })

const notification = <const M extends Methods.Name, P extends Schema.Schema.AnyNoContext>(name: M, params: P) => ({
  ...Methods.facts[name],
  name,
  params,
  result: undefined
})

/**
 * Every MCP method, by name: its facts, `params` (the schema its params decode with) and `result` (the schema its
 * result decodes with; none for a notification).
 *
 * @since 0.1.0
 */
export const table = {
  "initialize": request("initialize", McpSchema.InitializeParams, McpSchema.InitializeResult),
  "ping": request("ping", McpSchema.EmptyParams, McpSchema.EmptyResult),
  "server/discover": request("server/discover", McpSchema.EmptyParams, McpSchema.DiscoverResult),
  "subscriptions/listen": request("subscriptions/listen", McpSchema.ListenParams, McpSchema.EmptyResult),
  "tools/list": request("tools/list", McpSchema.PaginatedParams, McpSchema.ListToolsResult),
  "tools/call": request("tools/call", McpSchema.CallToolParams, McpSchema.CallToolOrTaskResult),
  "tasks/get": request("tasks/get", McpSchema.TaskIdParams, McpSchema.GetTaskResult),
  "tasks/update": request("tasks/update", McpSchema.UpdateTaskParams, McpSchema.EmptyResult),
  "tasks/cancel": request("tasks/cancel", McpSchema.TaskIdParams, McpSchema.EmptyResult),
  "resources/list": request("resources/list", McpSchema.PaginatedParams, McpSchema.ListResourcesResult),
  "resources/templates/list": request(
    "resources/templates/list",
    McpSchema.PaginatedParams,
    McpSchema.ListResourceTemplatesResult
  ),
  "resources/read": request("resources/read", McpSchema.ReadResourceParams, McpSchema.ReadResourceResult),
  "resources/subscribe": request("resources/subscribe", McpSchema.SubscribeParams, McpSchema.EmptyResult),
  "resources/unsubscribe": request("resources/unsubscribe", McpSchema.SubscribeParams, McpSchema.EmptyResult),
  "skills/list": request("skills/list", McpSchema.PaginatedParams, McpSchema.ListSkillsResult),
  "skills/get": request("skills/get", McpSchema.GetSkillParams, McpSchema.GetSkillResult),
  "resources/directory/read": request(
    "resources/directory/read",
    McpSchema.ReadDirectoryParams,
    McpSchema.ReadDirectoryResult
  ),
  "prompts/list": request("prompts/list", McpSchema.PaginatedParams, McpSchema.ListPromptsResult),
  "prompts/get": request("prompts/get", McpSchema.GetPromptParams, McpSchema.GetPromptResult),
  "logging/setLevel": request("logging/setLevel", McpSchema.SetLevelParams, McpSchema.EmptyResult),
  "completion/complete": request("completion/complete", McpSchema.CompleteParams, McpSchema.CompleteResult),
  "sampling/createMessage": request(
    "sampling/createMessage",
    McpSchema.CreateMessageParams,
    McpSchema.CreateMessageResult
  ),
  "elicitation/create": request("elicitation/create", McpSchema.ElicitParams, McpSchema.ElicitResult),
  "roots/list": request("roots/list", McpSchema.EmptyParams, McpSchema.ListRootsResult),
  "notifications/initialized": notification("notifications/initialized", McpSchema.EmptyParams),
  "notifications/cancelled": notification("notifications/cancelled", McpSchema.CancelledParams),
  "notifications/progress": notification("notifications/progress", McpSchema.ProgressParams),
  "notifications/message": notification("notifications/message", McpSchema.LoggingMessageParams),
  "notifications/tools/list_changed": notification("notifications/tools/list_changed", McpSchema.EmptyParams),
  "notifications/resources/list_changed": notification("notifications/resources/list_changed", McpSchema.EmptyParams),
  "notifications/resources/updated": notification("notifications/resources/updated", McpSchema.ResourceUpdatedParams),
  "notifications/prompts/list_changed": notification("notifications/prompts/list_changed", McpSchema.EmptyParams),
  "notifications/tasks": notification("notifications/tasks", McpSchema.TaskStatusParams),
  "notifications/subscriptions/acknowledged": notification(
    "notifications/subscriptions/acknowledged",
    McpSchema.ListenParams
  ),
  "notifications/roots/list_changed": notification("notifications/roots/list_changed", McpSchema.EmptyParams)
} as const satisfies { readonly [M in Methods.Name]: { readonly name: M } }

/** The table's type. @since 0.1.0 */
export type Table = typeof table

/** A method's name. @since 0.1.0 */
export type Name = keyof Table

/** One method of the table. @since 0.1.0 */
export type Method<M extends Name> = Table[M]

type Sends = "client" | "server"

type Where<Kind extends Facts["kind"], From extends Sends> = {
  readonly [M in Name]: Facts_[M]["kind"] extends Kind ? From extends Facts_[M]["from"] | "both" ? M
    : Facts_[M]["from"] extends "both" ? M
    : never
    : never
}[Name]

/** A request the client sends and the server serves. @since 0.1.0 */
export type ServerRequestName = Where<"request", "client">

/** A request the server sends and the client serves. @since 0.1.0 */
export type ClientRequestName = Where<"request", "server">

/** A notification the client sends. @since 0.1.0 */
export type ClientNotificationName = Where<"notification", "client">

/** A notification the server sends. @since 0.1.0 */
export type ServerNotificationName = Where<"notification", "server">

/**
 * A request the server's dispatcher answers: a `ServerRequestName` but `subscriptions/listen`, which the
 * transport answers with the stream it holds open.
 *
 * @since 0.1.0
 */
export type DispatchedName = { readonly [M in ServerRequestName]: Facts_[M]["streamed"] extends true ? never : M }[
  ServerRequestName
]

/** The decoded params of a method. @since 0.1.0 */
export type Params<M extends Name> = Schema.Schema.Type<Table[M]["params"]>

/** A request's name. @since 0.1.0 */
export type RequestName = ServerRequestName | ClientRequestName

/** The decoded result of a request. @since 0.1.0 */
export type Result<M extends RequestName> = Schema.Schema.Type<Table[M]["result"]>

// The table seen as a mapped type, so that a generic name's schema is that name's (not the union of all).
const schemas: { readonly [M in Name]: { readonly params: Table[M]["params"]; readonly result: Table[M]["result"] } } =
  table

/** The schema a method's params decode with. @since 0.1.0 */
export const paramsOf = <M extends Name>(name: M): Table[M]["params"] => schemas[name].params

/** The schema a request's result decodes with. @since 0.1.0 */
export const resultOf = <M extends RequestName>(name: M): Table[M]["result"] => schemas[name].result

/** True for the name of a method in the table. @since 0.1.0 */
export const isName: (name: string) => name is Name = Methods.isName

/**
 * True when the server's dispatcher answers `name` (in some revision).
 *
 * @since 0.1.0
 */
export const isDispatched = (name: Name): name is DispatchedName => {
  const method = table[name]
  return method.kind === "request" && method.from !== "server" && !method.streamed
}

/**
 * True when the client serves `name`, a request from the server.
 *
 * @since 0.1.0
 */
export const isClientRequest = (name: Name): name is ClientRequestName => {
  const method = table[name]
  return method.kind === "request" && method.from !== "client"
}

const namesWhere = (f: (method: Facts) => boolean): ReadonlySet<Name> =>
  new Set(Methods.all.flatMap(([name, method]) => f(method) ? [name] : []))

/**
 * The requests that may come back `input_required` at 2026-07-28 (SEP-2322 multi round-trip).
 *
 * @since 0.1.0
 */
export const carriers: ReadonlySet<string> = namesWhere((method) => method.carrier)

/**
 * The requests whose 2026-07-28 results carry cache hints.
 *
 * @since 0.1.0
 */
export const cacheable: ReadonlySet<string> = namesWhere((method) => method.cacheable)

/**
 * The requests a server may embed in an `input_required` result or a task's `inputRequests`, each with the prefix
 * of the keys it gets there when the handler names none.
 *
 * @since 0.1.0
 */
export const inputKinds: ReadonlyMap<string, string> = new Map(
  Methods.all.flatMap(([name, method]) => method.inputKind === undefined ? [] : [[name, method.inputKind] as const])
)

/**
 * The param a request's `Mcp-Name` header mirrors at 2026-07-28 over HTTP, if any.
 *
 * @since 0.1.0
 */
export const routingName = (method: string): "name" | "uri" | "taskId" | undefined =>
  isName(method) ? table[method].routingName : undefined
