/**
 * `subscriptions/listen` (2026-07-28): a long-lived stream of the change notifications a client asked for. A
 * listen stream is served by a session of its own in the `SessionRegistry`, like any other, so the server's
 * broadcasts (list changes, `notifyResourceUpdated`) reach it the way they reach session-era sessions, and it
 * ends with its connection, on shutdown, or when the server closes it. Its writer lets through only the kinds
 * asked for, each tagged with the listen request's id.
 * @internal
 */
import * as JsonRpc from "../../JsonRpc.js"
import type * as McpSchema from "../../McpSchema.js"
import type { Sink } from "../../McpSession.js"
import { Meta } from "../revisions/sessionless.js"
import { declares, missingExtension } from "./tasks.js"

/** What a client asked to hear about, as honoured. @internal */
export interface Filter {
  readonly toolsListChanged?: true
  readonly promptsListChanged?: true
  readonly resourcesListChanged?: true
  readonly resourceSubscriptions?: ReadonlyArray<string>
  /** Tasks whose `notifications/tasks` the client wants (the tasks extension). */
  readonly taskIds?: ReadonlyArray<string>
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The filter of a listen request's params as honoured, or -32602: unknown kinds left out, and so are the kinds
 * the server cannot produce by its `capabilities` (a list change of a list it does not announce as changing,
 * resource updates without `resources.subscribe`, task notifications without the tasks extension), so the
 * acknowledgement promises nothing that cannot come. Task ids from a client whose `clientCapabilities` lack the
 * tasks extension are -32021.
 * @internal
 */
export const filterOf = (
  params: unknown,
  capabilities: McpSchema.ServerCapabilities,
  clientCapabilities: McpSchema.ClientCapabilities
): Filter | JsonRpc.JsonRpcError => {
  const notifications = isRecord(params) ? params.notifications : undefined
  if (!isRecord(notifications)) {
    return JsonRpc.invalidParams("Invalid params: subscriptions/listen needs a notifications filter")
  }
  const uris = notifications.resourceSubscriptions
  if (uris !== undefined && !(Array.isArray(uris) && uris.every((u) => typeof u === "string"))) {
    return JsonRpc.invalidParams("Invalid params: resourceSubscriptions must be an array of URIs")
  }
  const taskIds = notifications.taskIds
  if (taskIds !== undefined && !(Array.isArray(taskIds) && taskIds.every((t) => typeof t === "string"))) {
    return JsonRpc.invalidParams("Invalid params: taskIds must be an array of task ids")
  }
  if (taskIds !== undefined && taskIds.length > 0 && !declares(clientCapabilities)) return missingExtension()
  const can = {
    tools: capabilities.tools?.listChanged === true,
    prompts: capabilities.prompts?.listChanged === true,
    resources: capabilities.resources?.listChanged === true,
    updates: capabilities.resources?.subscribe === true,
    tasks: declares(capabilities)
  }
  return {
    ...(notifications.toolsListChanged === true && can.tools ? { toolsListChanged: true } : {}),
    ...(notifications.promptsListChanged === true && can.prompts ? { promptsListChanged: true } : {}),
    ...(notifications.resourcesListChanged === true && can.resources ? { resourcesListChanged: true } : {}),
    ...(uris !== undefined && uris.length > 0 && can.updates
      ? { resourceSubscriptions: uris.filter((u) => typeof u === "string") }
      : {}),
    ...(taskIds !== undefined && taskIds.length > 0 && can.tasks
      ? { taskIds: taskIds.filter((t) => typeof t === "string") }
      : {})
  }
}

/**
 * The answer to a listen request past the server's cap on listen streams (`maxListeners`): in-band, with the
 * request's id, as a handler's error would be (MCP defines no code for it).
 * @internal
 */
export const tooMany = (limit: number): JsonRpc.JsonRpcError =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.InternalError,
    message: `Too many listen streams: the server serves at most ${limit} at once; retry later`,
    data: { limit }
  })

/**
 * The answer to a listen whose client is at its own limit of listen streams.
 * @internal
 */
export const tooManyForClient = (limit: number): JsonRpc.JsonRpcError =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.InternalError,
    message: `Too many listen streams: this client may hold at most ${limit} at once`,
    data: { limit }
  })

/**
 * The answer to a listen whose `resourceSubscriptions` are past what a filter (or all of this client's, or the
 * server's) may hold, in bytes.
 * @internal
 */
export const tooManySubscriptions = (limit: number, scope: "filter" | "client" | "server"): JsonRpc.JsonRpcError =>
  new JsonRpc.JsonRpcError({
    code: JsonRpc.ErrorCode.InvalidParams,
    message: scope === "filter"
      ? `Invalid params: resourceSubscriptions are past the limit of ${limit} bytes for one listen stream`
      : scope === "client"
      ? `Too many subscriptions: this client's listen streams may hold at most ${limit} bytes of them`
      : `Too many subscriptions: the server holds at most ${limit} bytes of them; retry later`,
    data: { limit }
  })

const tag = (id: JsonRpc.RequestId) => ({ [Meta.subscriptionId]: id })

/** The first message of a listen stream: what is honoured. @internal */
export const acknowledged = (id: JsonRpc.RequestId, filter: Filter): JsonRpc.Notification =>
  JsonRpc.notification("notifications/subscriptions/acknowledged", { notifications: filter, _meta: tag(id) })

/** The listen result, sent when the server ends the stream on purpose (a drop without it invites a reconnect). @internal */
export const closing = (id: JsonRpc.RequestId): JsonRpc.Message =>
  JsonRpc.success(id, { resultType: "complete", _meta: tag(id) })

/** A filter as either side holds it: the server's as honoured, the client's as asked. @internal */
export interface FilterLike {
  readonly toolsListChanged?: boolean | undefined
  readonly promptsListChanged?: boolean | undefined
  readonly resourcesListChanged?: boolean | undefined
  readonly resourceSubscriptions?: ReadonlyArray<string> | undefined
  readonly taskIds?: ReadonlyArray<string> | undefined
}

/**
 * Which filter field lets a message through: the server uses it for its listen streams, the client to map a
 * listen onto a session's notifications.
 * @internal
 */
export const accepts = (filter: FilterLike, message: JsonRpc.Message): boolean => {
  if (!JsonRpc.isNotification(message)) return false
  switch (message.method) {
    case "notifications/tools/list_changed":
      return filter.toolsListChanged === true
    case "notifications/prompts/list_changed":
      return filter.promptsListChanged === true
    case "notifications/resources/list_changed":
      return filter.resourcesListChanged === true
    case "notifications/resources/updated": {
      const uri = isRecord(message.params) ? message.params.uri : undefined
      return typeof uri === "string" && filter.resourceSubscriptions?.includes(uri) === true
    }
    case "notifications/tasks": {
      const taskId = isRecord(message.params) ? message.params.taskId : undefined
      return typeof taskId === "string" && filter.taskIds?.includes(taskId) === true
    }
    default:
      // Progress and logs never go on a listen stream.
      return false
  }
}

/** The writer of a listen session: only the kinds asked for, tagged with the subscription id. @internal */
export const sinkFor = (id: JsonRpc.RequestId, filter: Filter, write: Sink): Sink => (message) => {
  if (!accepts(filter, message) || !JsonRpc.isNotification(message)) return true
  const params = isRecord(message.params) ? message.params : {}
  const meta = isRecord(params._meta) ? params._meta : {}
  return write(JsonRpc.notification(message.method, { ...params, _meta: { ...meta, ...tag(id) } }))
}
