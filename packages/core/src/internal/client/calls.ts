/**
 * The client's typed calls: one request to its decoded result (with a progress token when asked, in a span), the
 * listings a page at a time or all of them, tools called by name or by their shared definition, prompts,
 * resources, completions. Everything here is built on `request`; how a request goes out, comes back complete or
 * recovers is the other parts' business.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { McpClientError, ToolError } from "../../McpClientError.js"
import * as McpSchema from "../../McpSchema.js"
import type * as McpTool from "../../McpTool.js"
import * as ParamHeaders from "../shared/paramHeaders.js"
import { describeParseError } from "../shared/parseError.js"
import * as Telemetry from "../shared/telemetry.js"
import type { Correlation } from "./correlation.js"
import type * as McpMethod from "../../McpMethod.js"
import type { Revision } from "../revisions/revision.js"
import { decoders } from "./decode.js"
import type { ListOptions, McpClientService, Request, RequestOptions, Send, SendName } from "./service.js"
import { isCreateTaskResult } from "./tasks.js"

const withProgressToken = (params: unknown, token: McpSchema.ProgressToken): { readonly [key: string]: unknown } => {
  const base: { readonly [key: string]: unknown } =
    typeof params === "object" && params !== null && !Array.isArray(params) ? { ...params } : {}
  const meta = base._meta
  return { ...base, _meta: typeof meta === "object" && meta !== null ? { ...meta, progressToken: token } : { progressToken: token } }
}

/**
 * `request` on top of `complete` (a request to its complete result, recovered): with `onProgress`, a progress
 * token for the request's `notifications/progress`.
 * @internal
 */
export const makeRequest = (
  correlation: Correlation,
  complete: (method: string, params: unknown) => Effect.Effect<unknown, McpClientError>
): Request =>
(method, params, decode, requestOptions) => {
  const onProgress = requestOptions?.onProgress
  const spanned = correlation.tracing ? Telemetry.clientCall(method, params) : Effect.withSpan(`McpClient ${method}`)
  if (onProgress === undefined) {
    return complete(method, params).pipe(Effect.flatMap(decode), spanned)
  }
  return correlation.withProgress(
    onProgress,
    (token) => complete(method, withProgressToken(params, token)).pipe(Effect.flatMap(decode))
  ).pipe(spanned)
}

/** A request the server serves, to its result decoded by the table's schema; its params as they come. */
type Call = <M extends SendName>(
  method: M,
  params: unknown,
  options?: RequestOptions
) => Effect.Effect<McpMethod.Result<M>, McpClientError>

/** `call` on top of `request`: the decoder is the method's, from the table. */
const typed = (request: Request): Call => (method, params, options) =>
  request(method, params, decoders[method], options)

const listParams = (options: ListOptions | undefined) =>
  options?.cursor === undefined ? undefined : { cursor: options.cursor }

/**
 * Every item of a paged listing. A server that gives a cursor it gave before would page forever: that is a
 * `Protocol` error.
 */
const listAll = <R extends { readonly nextCursor?: string | undefined }, A>(
  method: string,
  page: (options: ListOptions) => Effect.Effect<R, McpClientError>,
  items: (result: R) => ReadonlyArray<A>
): Effect.Effect<ReadonlyArray<A>, McpClientError> =>
  Effect.gen(function*() {
    const all: Array<A> = []
    const seen = new Set<string>()
    let cursor: string | undefined = undefined
    while (true) {
      const result: R = yield* page({ cursor })
      all.push(...items(result))
      if (result.nextCursor === undefined) return all
      if (seen.has(result.nextCursor)) {
        return yield* new McpClientError({
          reason: "Protocol",
          message: `The server answered ${method} with a cursor it had given before`
        })
      }
      seen.add(result.nextCursor)
      cursor = result.nextCursor
    }
  })

// SEP-2243: a tool whose x-mcp-header declarations break the spec's rules is dropped (the spec says MUST), the
// others kept: its calls could not carry the headers a server checks.
type ToolsPage = Effect.Effect<McpMethod.Result<"tools/list">, McpClientError>
const listTools = (page: (params: McpMethod.Params<"tools/list"> | undefined) => ToolsPage) =>
(list?: ListOptions): ToolsPage =>
  Effect.flatMap(page(listParams(list)), (result) => {
    const invalid = result.tools.flatMap((tool) => {
      const declared = ParamHeaders.scan(tool.inputSchema)
      return Either.isLeft(declared) ? [`${tool.name} (${declared.left})`] : []
    })
    if (invalid.length === 0) return Effect.succeed(result)
    return Effect.as(
      Effect.logWarning(`MCP server lists tools with invalid x-mcp-header declarations, dropped: ${invalid.join("; ")}`),
      { ...result, tools: result.tools.filter((tool) => Either.isRight(ParamHeaders.scan(tool.inputSchema))) }
    )
  })

/** `tools/call` by name, to the tool's result. */
type CallTool = (
  name: string,
  args: McpMethod.Params<"tools/call">["arguments"],
  requestOptions?: RequestOptions
) => Effect.Effect<McpSchema.CallToolResult, McpClientError>

const isRecord = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * `call`: the arguments encoded with the tool's input schema, the result checked (an error result is a
 * `ToolError`) and, for a structured tool, its `structuredContent` decoded with the output schema.
 */
const callDefined = (callTool: CallTool): McpClientService["call"] => {
  function call<A, I, OA, OI extends McpTool.StructuredObject>(
    tool: McpTool.Definition<A, I, OA, OI>,
    input: A,
    requestOptions?: RequestOptions
  ): Effect.Effect<OA, McpClientError | ToolError>
  function call<A, I>(
    tool: McpTool.ContentDefinition<A, I>,
    input: A,
    requestOptions?: RequestOptions
  ): Effect.Effect<McpSchema.CallToolResult, McpClientError | ToolError>
  function call<A, I, OA, OI extends McpTool.StructuredObject>(
    tool: McpTool.Definition<A, I, OA, OI> | McpTool.ContentDefinition<A, I>,
    input: A,
    requestOptions?: RequestOptions
  ): Effect.Effect<OA | McpSchema.CallToolResult, McpClientError | ToolError> {
    return Effect.gen(function*() {
      // A value of the input's type that its own schema cannot encode is the caller's bug, as in @effect/rpc; so
      // is an input schema whose encoded side is no object, which no server can list as a tool's `inputSchema`.
      const encoded: unknown = yield* Effect.orDie(Schema.encode(tool.input)(input))
      const args = encoded === undefined || isRecord(encoded)
        ? encoded
        : yield* Effect.dieMessage(`The input schema of tool ${tool.name} encodes no object`)
      const result = yield* callTool(tool.name, args, requestOptions)
      if (result.isError === true) {
        const text = result.content.flatMap((block) => block.type === "text" ? [block.text] : []).join("\n")
        return yield* new ToolError({
          tool: tool.name,
          message: text === "" ? `Tool ${tool.name} failed` : text,
          content: result.content,
          ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent })
        })
      }
      if (tool.output === undefined) return result
      if (result.structuredContent === undefined) {
        return yield* new McpClientError({
          reason: "Protocol",
          message: `Tool ${tool.name} answered without the structuredContent its output schema promises`
        })
      }
      return yield* Effect.mapError(Schema.decodeUnknown(tool.output)(result.structuredContent), (error) =>
        new McpClientError({
          reason: "Protocol",
          message: `Invalid structuredContent from tool ${tool.name}: ${describeParseError(error)}`
        }))
    })
  }
  return call
}

/** What `send` needs of the client. @internal */
export interface SendInputs {
  readonly request: Request
  /** The revision spoken: where requests are mirrored in headers the server checks, a tool call may be refused. */
  readonly revision: Revision
}

/**
 * `send`: a request of the table, its result decoded by the table's schema. Where the revision mirrors requests in
 * headers (`headerMismatchCode`, 2026-07-28) a refused `tools/call` may mean the transport did not know the
 * tool's `Mcp-Param-*` headers (it learns them from `tools/list`): the tools are listed again and the call is
 * retried once. The server refuses such a call before any handler runs, so the retry cannot run a tool twice.
 * @internal
 */
export const makeSend = (inputs: SendInputs): Send => {
  const call = typed(inputs.request)
  const mismatch = inputs.revision.headerMismatchCode
  if (mismatch === undefined) return call
  const relist = listAll("tools/list", listTools((params) => call("tools/list", params)), (result) => result.tools)
  return (method, params, options) => {
    const once = call(method, params, options)
    return method !== "tools/call" ? once : Effect.catchIf(once, (error) => error.code === mismatch, () =>
      Effect.zipRight(relist, once))
  }
}

/** What the typed calls need of the client. @internal */
export interface Inputs {
  readonly send: Send
  /** Follows a task the server made of a `tools/call` to the tool's result. */
  readonly awaitTask: McpClientService["tasks"]["await"]
}

/** The typed calls of `McpClientService`. @internal */
export type Calls = Pick<
  McpClientService,
  | "send"
  | "ping"
  | "call"
  | "callTool"
  | "callToolTask"
  | "listTools"
  | "listAllTools"
  | "listResources"
  | "listAllResources"
  | "listResourceTemplates"
  | "listAllResourceTemplates"
  | "readResource"
  | "listPrompts"
  | "listAllPrompts"
  | "getPrompt"
  | "complete"
  | "setLoggingLevel"
  | "subscribeResource"
  | "unsubscribeResource"
>

/** The typed calls of one client, each a `send` of its method. @internal */
export const make = ({ awaitTask, send }: Inputs): Calls => {
  const tools = listTools((params) => send("tools/list", params))
  const callToolTask: Calls["callToolTask"] = (name, args, requestOptions) =>
    send("tools/call", args === undefined ? { name } : { name, arguments: args }, requestOptions)
  /** `tools/call` to the tool's result: a call the server made a task is followed to its end. */
  const callTool: CallTool = (name, args, requestOptions) =>
    Effect.flatMap(
      callToolTask(name, args, requestOptions),
      (result) => isCreateTaskResult(result) ? awaitTask(result) : Effect.succeed(result)
    )
  const listResources = (list?: ListOptions) => send("resources/list", listParams(list))
  const listResourceTemplates = (list?: ListOptions) => send("resources/templates/list", listParams(list))
  const listPrompts = (list?: ListOptions) => send("prompts/list", listParams(list))
  return {
    send,
    ping: Effect.asVoid(send("ping", undefined)),
    call: callDefined(callTool),
    callTool,
    callToolTask,
    listTools: tools,
    listAllTools: listAll("tools/list", tools, (result) => result.tools),
    listResources,
    listAllResources: listAll("resources/list", listResources, (result) => result.resources),
    listResourceTemplates,
    listAllResourceTemplates: listAll(
      "resources/templates/list",
      listResourceTemplates,
      (result) => result.resourceTemplates
    ),
    readResource: (uri, requestOptions) => send("resources/read", { uri }, requestOptions),
    listPrompts,
    listAllPrompts: listAll("prompts/list", listPrompts, (result) => result.prompts),
    getPrompt: (name, args, requestOptions) =>
      send("prompts/get", args === undefined ? { name } : { name, arguments: args }, requestOptions),
    complete: (params) => send("completion/complete", params),
    setLoggingLevel: (level) => Effect.asVoid(send("logging/setLevel", { level })),
    subscribeResource: (uri) => Effect.asVoid(send("resources/subscribe", { uri })),
    unsubscribeResource: (uri) => Effect.asVoid(send("resources/unsubscribe", { uri }))
  }
}
