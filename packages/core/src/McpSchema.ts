/**
 * MCP message schemas for revisions 2024-11-05 through 2025-11-25, and the version constants.
 *
 * Params schemas are decoded on the server (only for the method called); result schemas are decoded by the
 * client. Unknown fields are dropped on decode, so newer peers with extra fields are still understood.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as McpRevision from "./McpRevision.js"

/** Every session-era revision this library speaks, oldest first (see `McpRevision`). @since 0.1.0 */
export const SUPPORTED_PROTOCOL_VERSIONS: ReadonlyArray<string> = McpRevision.sessionEra.map((revision) => revision.version)

/** The newest session-era revision, answered when the client asks for one we do not speak. @since 0.1.0 */
export const LATEST_PROTOCOL_VERSION = McpRevision.latestSessionEra.version

/** The revision assumed for Streamable HTTP requests without an `MCP-Protocol-Version` header. @since 0.1.0 */
export const DEFAULT_NEGOTIATED_VERSION = "2025-03-26"

const Obj = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Meta = Schema.optional(Obj)

/** The `_meta` of a listing or result: metadata by key, for clients and extensions rather than models. @since 0.1.0 */
export type Meta = { readonly [key: string]: unknown }

/** An icon a client may show for a server, tool, resource or prompt (2025-11-25). @since 0.1.0 */
export const Icon = Schema.Struct({
  /** An `http(s):` URL or a `data:` URI. */
  src: Schema.String,
  mimeType: Schema.optional(Schema.String),
  /** `"48x48"`-style sizes, or `"any"` for scalable formats. */
  sizes: Schema.optional(Schema.Array(Schema.String)),
  /** The background the icon is designed for. */
  theme: Schema.optional(Schema.Literal("light", "dark"))
})
/** @since 0.1.0 */
export type Icon = typeof Icon.Type

const Icons = Schema.optional(Schema.Array(Icon))

/** The progress token a request may carry in `_meta`. @since 0.1.0 */
export const ProgressToken = Schema.Union(Schema.String, Schema.Number)
/** @since 0.1.0 */
export type ProgressToken = typeof ProgressToken.Type

/** Name and version of a client or server. @since 0.1.0 */
export const Implementation = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  websiteUrl: Schema.optional(Schema.String),
  icons: Icons
})
/** @since 0.1.0 */
export type Implementation = typeof Implementation.Type

/** What a client can do; kept open because every revision adds fields. @since 0.1.0 */
export const ClientCapabilities = Schema.Struct({
  roots: Schema.optional(Schema.Struct({ listChanged: Schema.optional(Schema.Boolean) })),
  /** `context`: `includeContext` other than "none" is understood; `tools`: `tools` and `toolChoice` (2025-11-25). */
  sampling: Schema.optional(Schema.Struct({ context: Schema.optional(Obj), tools: Schema.optional(Obj) }, Obj)),
  /** The modes offered (2025-11-25); an empty object means form mode only, as before modes existed. */
  elicitation: Schema.optional(Schema.Struct({ form: Schema.optional(Obj), url: Schema.optional(Obj) }, Obj)),
  experimental: Schema.optional(Obj),
  /** Extensions the client supports, by identifier (e.g. `io.modelcontextprotocol/tasks`). */
  extensions: Schema.optional(Obj)
})
/** @since 0.1.0 */
export type ClientCapabilities = typeof ClientCapabilities.Type

/** What a server offers. @since 0.1.0 */
export const ServerCapabilities = Schema.Struct({
  tools: Schema.optional(Schema.Struct({ listChanged: Schema.optional(Schema.Boolean) })),
  resources: Schema.optional(Schema.Struct({
    subscribe: Schema.optional(Schema.Boolean),
    listChanged: Schema.optional(Schema.Boolean)
  })),
  prompts: Schema.optional(Schema.Struct({ listChanged: Schema.optional(Schema.Boolean) })),
  logging: Schema.optional(Obj),
  completions: Schema.optional(Obj),
  experimental: Schema.optional(Obj),
  /** Extensions the server supports, by identifier (e.g. `io.modelcontextprotocol/tasks`). */
  extensions: Schema.optional(Obj)
})
/** @since 0.1.0 */
export type ServerCapabilities = typeof ServerCapabilities.Type

/** `initialize` params. @since 0.1.0 */
export const InitializeParams = Schema.Struct({
  protocolVersion: Schema.String,
  capabilities: ClientCapabilities,
  clientInfo: Implementation
})
/** @since 0.1.0 */
export type InitializeParams = typeof InitializeParams.Type

/** `initialize` result. @since 0.1.0 */
export const InitializeResult = Schema.Struct({
  protocolVersion: Schema.String,
  capabilities: ServerCapabilities,
  serverInfo: Implementation,
  instructions: Schema.optional(Schema.String),
  _meta: Meta
})
/** @since 0.1.0 */
export type InitializeResult = typeof InitializeResult.Type

/**
 * The params of a message that takes none (`ping`, `server/discover`, the `list_changed` notifications): only
 * `_meta`, whatever else is sent is ignored.
 *
 * @since 0.1.0
 */
export const EmptyParams = Schema.Struct({ _meta: Meta })

/** The result of a request that answers nothing but that it was done (`ping`, `logging/setLevel`...). @since 0.1.0 */
export const EmptyResult = Schema.Struct({ _meta: Meta })

/** `notifications/progress` params (`McpClient.Progress`). @since 0.1.0 */
export const ProgressParams = Schema.Struct({
  progressToken: ProgressToken,
  progress: Schema.Number,
  total: Schema.optional(Schema.Number),
  message: Schema.optional(Schema.String)
})

/**
 * The answer to `server/discover` (2026-07-28, `McpClient.DiscoverResult`): the revisions the server speaks, its
 * capabilities, its instructions, and its `serverInfo` in `_meta`.
 *
 * @since 0.1.0
 */
export const DiscoverResult = Schema.Struct({
  supportedVersions: Schema.Array(Schema.String),
  capabilities: ServerCapabilities,
  instructions: Schema.optional(Schema.String),
  resultType: Schema.optional(Schema.String),
  ttlMs: Schema.optional(Schema.Number),
  cacheScope: Schema.optional(Schema.String),
  _meta: Meta
})
/** @since 0.1.0 */
export type DiscoverResult = typeof DiscoverResult.Type

/** The change notifications a 2026-07-28 `subscriptions/listen` asks for (`McpClient.SubscriptionFilter`). @since 0.1.0 */
export const SubscriptionFilter = Schema.Struct({
  toolsListChanged: Schema.optional(Schema.Boolean),
  promptsListChanged: Schema.optional(Schema.Boolean),
  resourcesListChanged: Schema.optional(Schema.Boolean),
  resourceSubscriptions: Schema.optional(Schema.Array(Schema.String))
})
/** @since 0.1.0 */
export type SubscriptionFilter = typeof SubscriptionFilter.Type

/** `subscriptions/listen` params, and `notifications/subscriptions/acknowledged`'s: what is listened to. @since 0.1.0 */
export const ListenParams = Schema.Struct({ notifications: Schema.optional(SubscriptionFilter), _meta: Meta })

/** Params of every list request (`tools/list`, `prompts/list`...). @since 0.1.0 */
export const PaginatedParams = Schema.Struct({ cursor: Schema.optional(Schema.String) })

/** What every page of a listing has besides its items: the cursor of the next page, when there is one, and `_meta`. */
const PageFields = { nextCursor: Schema.optional(Schema.String), _meta: Meta }

/** Annotations shared by content and resources. @since 0.1.0 */
export const Annotations = Schema.Struct({
  /** Who the data is for. */
  audience: Schema.optional(Schema.Array(Schema.Literal("user", "assistant"))),
  /** How important it is, from 0 (optional) to 1 (effectively required). */
  priority: Schema.optional(Schema.Number),
  /** When it last changed, as an ISO 8601 timestamp (`"2025-01-12T15:00:58Z"`). */
  lastModified: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export type Annotations = typeof Annotations.Type

/** Text content. @since 0.1.0 */
export const TextContent = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})
/** Base64 image content. @since 0.1.0 */
export const ImageContent = Schema.Struct({
  type: Schema.Literal("image"),
  data: Schema.String,
  mimeType: Schema.String,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})
/** Base64 audio content (2025-03-26 and later). @since 0.1.0 */
export const AudioContent = Schema.Struct({
  type: Schema.Literal("audio"),
  data: Schema.String,
  mimeType: Schema.String,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})

/** The text or base64 contents of a resource. @since 0.1.0 */
export const ResourceContents = Schema.Union(
  Schema.Struct({
    uri: Schema.String,
    mimeType: Schema.optional(Schema.String),
    text: Schema.String,
    _meta: Meta
  }),
  Schema.Struct({
    uri: Schema.String,
    mimeType: Schema.optional(Schema.String),
    blob: Schema.String,
    _meta: Meta
  })
)
/** @since 0.1.0 */
export type ResourceContents = typeof ResourceContents.Type

/** A resource embedded in content. @since 0.1.0 */
export const EmbeddedResource = Schema.Struct({
  type: Schema.Literal("resource"),
  resource: ResourceContents,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})

/** A link to a resource (2025-06-18 and later). @since 0.1.0 */
export const ResourceLink = Schema.Struct({
  type: Schema.Literal("resource_link"),
  uri: Schema.String,
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  mimeType: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  icons: Icons,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})

/** Any content block. @since 0.1.0 */
export const Content = Schema.Union(TextContent, ImageContent, AudioContent, EmbeddedResource, ResourceLink)
/** @since 0.1.0 */
export type Content = typeof Content.Type

/** Behaviour hints about a tool. @since 0.1.0 */
export const ToolAnnotations = Schema.Struct({
  title: Schema.optional(Schema.String),
  readOnlyHint: Schema.optional(Schema.Boolean),
  destructiveHint: Schema.optional(Schema.Boolean),
  idempotentHint: Schema.optional(Schema.Boolean),
  openWorldHint: Schema.optional(Schema.Boolean)
})
/** @since 0.1.0 */
export type ToolAnnotations = typeof ToolAnnotations.Type

/** A tool as listed by `tools/list`. @since 0.1.0 */
export const Tool = Schema.Struct({
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  icons: Icons,
  inputSchema: Obj,
  outputSchema: Schema.optional(Obj),
  annotations: Schema.optional(ToolAnnotations),
  /** How the tool runs: whether a call may become a task (the tasks extension). */
  execution: Schema.optional(Schema.Struct({
    taskSupport: Schema.optional(Schema.Literal("forbidden", "optional", "required"))
  })),
  _meta: Meta
})
/** @since 0.1.0 */
export type Tool = typeof Tool.Type

/** `tools/list` result. @since 0.1.0 */
export const ListToolsResult = Schema.Struct({ tools: Schema.Array(Tool), ...PageFields })
/** @since 0.1.0 */
export type ListToolsResult = typeof ListToolsResult.Type

/** `tools/call` params. @since 0.1.0 */
export const CallToolParams = Schema.Struct({
  name: Schema.String,
  arguments: Schema.optional(Obj),
  _meta: Schema.optional(Schema.Struct({ progressToken: Schema.optional(ProgressToken) }))
})
/** @since 0.1.0 */
export type CallToolParams = typeof CallToolParams.Type

/** `tools/call` result. @since 0.1.0 */
export const CallToolResult = Schema.Struct({
  content: Schema.Array(Content),
  structuredContent: Schema.optional(Obj),
  isError: Schema.optional(Schema.Boolean),
  _meta: Meta
})
/** @since 0.1.0 */
export type CallToolResult = typeof CallToolResult.Type

/** `tasks/get` and `tasks/cancel` params: the task. @since 0.1.0 */
export const TaskIdParams = Schema.Struct({ taskId: Schema.String })

/** `tasks/update` params: answers to the task's `inputRequests`, by key. @since 0.1.0 */
export const UpdateTaskParams = Schema.Struct({
  taskId: Schema.String,
  inputResponses: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/** A task's status (the tasks extension, `io.modelcontextprotocol/tasks`). @since 0.1.0 */
export const TaskStatus = Schema.Literal("working", "input_required", "completed", "failed", "cancelled")
/** @since 0.1.0 */
export type TaskStatus = typeof TaskStatus.Type

const TaskFields = {
  taskId: Schema.String,
  status: TaskStatus,
  statusMessage: Schema.optional(Schema.String),
  createdAt: Schema.String,
  lastUpdatedAt: Schema.String,
  /** How long the server keeps the task readable after it began; null for no limit. */
  ttlMs: Schema.optional(Schema.NullOr(Schema.Number)),
  /** How often the server would like to be polled. */
  pollIntervalMs: Schema.optional(Schema.Number),
  _meta: Meta
}

/**
 * What a `tools/call` answers when the server made the call a task (the tasks extension): a handle to poll with
 * `tasks/get` instead of the tool's result. Flat: the task's fields beside `resultType: "task"`.
 *
 * @since 0.1.0
 */
export const CreateTaskResult = Schema.Struct({ resultType: Schema.Literal("task"), ...TaskFields })
/** @since 0.1.0 */
export type CreateTaskResult = typeof CreateTaskResult.Type

/**
 * `tasks/get` result: the task as it is now, with what the client must act on inlined: the asks it must answer
 * (`inputRequests`, while `input_required`), the tool's result (`completed`), or the JSON-RPC error (`failed`).
 *
 * @since 0.1.0
 */
export const GetTaskResult = Schema.Struct({
  ...TaskFields,
  resultType: Schema.optional(Schema.String),
  inputRequests: Schema.optional(Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ method: Schema.String, params: Schema.optional(Schema.Unknown) })
  })),
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Struct({
    code: Schema.Number,
    message: Schema.String,
    data: Schema.optional(Schema.Unknown)
  }))
})
/** @since 0.1.0 */
export type GetTaskResult = typeof GetTaskResult.Type

/** `notifications/tasks` params: a task's status changed (the tasks extension). @since 0.1.0 */
export const TaskStatusParams = Schema.Struct(TaskFields)

/**
 * What a `tools/call` answers: the tool's result, or, when the server made the call a task (the tasks
 * extension), the task's handle.
 *
 * @since 0.1.0
 */
export const CallToolOrTaskResult = Schema.Union(CreateTaskResult, CallToolResult)
/** @since 0.1.0 */
export type CallToolOrTaskResult = typeof CallToolOrTaskResult.Type

/** A resource as listed by `resources/list`. @since 0.1.0 */
export const Resource = Schema.Struct({
  uri: Schema.String,
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  mimeType: Schema.optional(Schema.String),
  /** The size of the raw content in bytes, before any encoding. */
  size: Schema.optional(Schema.Number),
  icons: Icons,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})
/** @since 0.1.0 */
export type Resource = typeof Resource.Type

/** A URI template as listed by `resources/templates/list`. @since 0.1.0 */
export const ResourceTemplate = Schema.Struct({
  uriTemplate: Schema.String,
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  mimeType: Schema.optional(Schema.String),
  icons: Icons,
  annotations: Schema.optional(Annotations),
  _meta: Meta
})
/** @since 0.1.0 */
export type ResourceTemplate = typeof ResourceTemplate.Type

/** `resources/list` result. @since 0.1.0 */
export const ListResourcesResult = Schema.Struct({ resources: Schema.Array(Resource), ...PageFields })
/** @since 0.1.0 */
export type ListResourcesResult = typeof ListResourcesResult.Type
/** `resources/templates/list` result. @since 0.1.0 */
export const ListResourceTemplatesResult = Schema.Struct({
  resourceTemplates: Schema.Array(ResourceTemplate),
  ...PageFields
})
/** @since 0.1.0 */
export type ListResourceTemplatesResult = typeof ListResourceTemplatesResult.Type

/** `resources/read` params. @since 0.1.0 */
export const ReadResourceParams = Schema.Struct({ uri: Schema.String })

/** `resources/read` result. @since 0.1.0 */
export const ReadResourceResult = Schema.Struct({ contents: Schema.Array(ResourceContents), _meta: Meta })
/** @since 0.1.0 */
export type ReadResourceResult = typeof ReadResourceResult.Type

/** One argument a prompt takes. @since 0.1.0 */
export const PromptArgument = Schema.Struct({
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  required: Schema.optional(Schema.Boolean)
})

/** A prompt as listed by `prompts/list`. @since 0.1.0 */
export const Prompt = Schema.Struct({
  name: Schema.String,
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  icons: Icons,
  arguments: Schema.optional(Schema.Array(PromptArgument)),
  _meta: Meta
})
/** @since 0.1.0 */
export type Prompt = typeof Prompt.Type

/** `prompts/list` result. @since 0.1.0 */
export const ListPromptsResult = Schema.Struct({ prompts: Schema.Array(Prompt), ...PageFields })
/** @since 0.1.0 */
export type ListPromptsResult = typeof ListPromptsResult.Type

/** `prompts/get` params. @since 0.1.0 */
export const GetPromptParams = Schema.Struct({
  name: Schema.String,
  arguments: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})

/** One message of a prompt. @since 0.1.0 */
export const PromptMessage = Schema.Struct({
  role: Schema.Literal("user", "assistant"),
  content: Content
})
/** @since 0.1.0 */
export type PromptMessage = typeof PromptMessage.Type

/** `prompts/get` result. @since 0.1.0 */
export const GetPromptResult = Schema.Struct({
  description: Schema.optional(Schema.String),
  messages: Schema.Array(PromptMessage),
  _meta: Meta
})
/** @since 0.1.0 */
export type GetPromptResult = typeof GetPromptResult.Type

/** Syslog severities used by `logging/setLevel` and `notifications/message`. @since 0.1.0 */
export const LoggingLevel = Schema.Literal(
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency"
)
/** @since 0.1.0 */
export type LoggingLevel = typeof LoggingLevel.Type

/** `logging/setLevel` params. @since 0.1.0 */
export const SetLevelParams = Schema.Struct({ level: LoggingLevel })

/** `notifications/cancelled` params. @since 0.1.0 */
export const CancelledParams = Schema.Struct({
  requestId: Schema.Union(Schema.String, Schema.Number),
  reason: Schema.optional(Schema.String)
})

/** `completion/complete` params. @since 0.1.0 */
export const CompleteParams = Schema.Struct({
  ref: Schema.Union(
    Schema.Struct({ type: Schema.Literal("ref/prompt"), name: Schema.String }),
    Schema.Struct({ type: Schema.Literal("ref/resource"), uri: Schema.String })
  ),
  argument: Schema.Struct({ name: Schema.String, value: Schema.String }),
  context: Schema.optional(Schema.Struct({
    arguments: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
  }))
})
/** @since 0.1.0 */
export type CompleteParams = typeof CompleteParams.Type

/** `completion/complete` result. @since 0.1.0 */
export const CompleteResult = Schema.Struct({
  completion: Schema.Struct({
    values: Schema.Array(Schema.String),
    total: Schema.optional(Schema.Number),
    hasMore: Schema.optional(Schema.Boolean)
  }),
  _meta: Meta
})
/** @since 0.1.0 */
export type CompleteResult = typeof CompleteResult.Type

/** `resources/subscribe` and `resources/unsubscribe` params. @since 0.1.0 */
export const SubscribeParams = Schema.Struct({ uri: Schema.String })
/** @since 0.1.0 */
export type SubscribeParams = typeof SubscribeParams.Type

/** `notifications/message` params: a log message. @since 0.1.0 */
export const LoggingMessageParams = Schema.Struct({
  level: LoggingLevel,
  logger: Schema.optional(Schema.String),
  data: Schema.Unknown
})

/** `notifications/resources/updated` params. @since 0.1.0 */
export const ResourceUpdatedParams = Schema.Struct({ uri: Schema.String, _meta: Meta })

// --- Requests the server sends the client ----------------------------------------------------------------------

/** Who speaks a message. @since 0.1.0 */
export const Role = Schema.Literal("user", "assistant")
/** @since 0.1.0 */
export type Role = typeof Role.Type

/** A model's request to call a tool, in a sampled message (2025-11-25). @since 0.1.0 */
export const ToolUseContent = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Obj,
  _meta: Meta
})

/** The result of a tool use, sent back to the model in a sampling request (2025-11-25). @since 0.1.0 */
export const ToolResultContent = Schema.Struct({
  type: Schema.Literal("tool_result"),
  toolUseId: Schema.String,
  content: Schema.Array(Content),
  structuredContent: Schema.optional(Obj),
  isError: Schema.optional(Schema.Boolean),
  _meta: Meta
})

/** A content block of a sampling message. @since 0.1.0 */
export const SamplingContent = Schema.Union(TextContent, ImageContent, AudioContent, ToolUseContent, ToolResultContent)
/** @since 0.1.0 */
export type SamplingContent = typeof SamplingContent.Type

/** One message of a sampling conversation: one content block, or several (2025-11-25). @since 0.1.0 */
export const SamplingMessage = Schema.Struct({
  role: Role,
  content: Schema.Union(SamplingContent, Schema.Array(SamplingContent)),
  _meta: Meta
})
/** @since 0.1.0 */
export type SamplingMessage = typeof SamplingMessage.Type

/** The server's advice on which model to pick; the client may ignore it. @since 0.1.0 */
export const ModelPreferences = Schema.Struct({
  hints: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.optional(Schema.String) }))),
  costPriority: Schema.optional(Schema.Number),
  speedPriority: Schema.optional(Schema.Number),
  intelligencePriority: Schema.optional(Schema.Number)
})

/** `sampling/createMessage` params. @since 0.1.0 */
export const CreateMessageParams = Schema.Struct({
  messages: Schema.Array(SamplingMessage),
  modelPreferences: Schema.optional(ModelPreferences),
  systemPrompt: Schema.optional(Schema.String),
  includeContext: Schema.optional(Schema.Literal("none", "thisServer", "allServers")),
  temperature: Schema.optional(Schema.Number),
  maxTokens: Schema.Number,
  stopSequences: Schema.optional(Schema.Array(Schema.String)),
  metadata: Schema.optional(Obj),
  /** Tools the model may call (needs the client's `sampling.tools`). */
  tools: Schema.optional(Schema.Array(Tool)),
  toolChoice: Schema.optional(Schema.Struct({ mode: Schema.optional(Schema.Literal("auto", "required", "none")) })),
  _meta: Meta
})
/** @since 0.1.0 */
export type CreateMessageParams = typeof CreateMessageParams.Type

/** `sampling/createMessage` result: the sampled message and the model that wrote it. @since 0.1.0 */
export const CreateMessageResult = Schema.Struct({
  role: Role,
  content: Schema.Union(SamplingContent, Schema.Array(SamplingContent)),
  model: Schema.String,
  /** "endTurn", "stopSequence", "maxTokens", "toolUse", or the provider's own reason. */
  stopReason: Schema.optional(Schema.String),
  _meta: Meta
})
/** @since 0.1.0 */
export type CreateMessageResult = typeof CreateMessageResult.Type

const FieldText = {
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String)
}

/** A choice with a label, in a titled enum. */
const TitledOption = Schema.Struct({ const: Schema.String, title: Schema.String })

/**
 * One field of an elicitation form: a string, a number, a boolean, or a single or multiple choice of strings.
 * Most specific first, so that a titled enum is not read as a plain string.
 *
 * @since 0.1.0
 */
export const PrimitiveSchemaDefinition = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("array"),
    ...FieldText,
    minItems: Schema.optional(Schema.Number),
    maxItems: Schema.optional(Schema.Number),
    items: Schema.Union(
      Schema.Struct({ anyOf: Schema.Array(TitledOption) }),
      Schema.Struct({ type: Schema.Literal("string"), enum: Schema.Array(Schema.String) })
    ),
    default: Schema.optional(Schema.Array(Schema.String))
  }),
  Schema.Struct({
    type: Schema.Literal("string"),
    ...FieldText,
    oneOf: Schema.Array(TitledOption),
    default: Schema.optional(Schema.String)
  }),
  Schema.Struct({
    type: Schema.Literal("string"),
    ...FieldText,
    enum: Schema.Array(Schema.String),
    /** Labels of `enum`, in order (before titled enums existed). */
    enumNames: Schema.optional(Schema.Array(Schema.String)),
    default: Schema.optional(Schema.String)
  }),
  Schema.Struct({
    type: Schema.Literal("string"),
    ...FieldText,
    minLength: Schema.optional(Schema.Number),
    maxLength: Schema.optional(Schema.Number),
    format: Schema.optional(Schema.Literal("email", "uri", "date", "date-time")),
    default: Schema.optional(Schema.String)
  }),
  Schema.Struct({
    type: Schema.Literal("number", "integer"),
    ...FieldText,
    minimum: Schema.optional(Schema.Number),
    maximum: Schema.optional(Schema.Number),
    default: Schema.optional(Schema.Number)
  }),
  Schema.Struct({
    type: Schema.Literal("boolean"),
    ...FieldText,
    default: Schema.optional(Schema.Boolean)
  })
)
/** @since 0.1.0 */
export type PrimitiveSchemaDefinition = typeof PrimitiveSchemaDefinition.Type

/** The form an elicitation asks the user to fill: flat, primitive fields only. @since 0.1.0 */
export const RequestedSchema = Schema.Struct({
  $schema: Schema.optional(Schema.String),
  type: Schema.Literal("object"),
  properties: Schema.Record({ key: Schema.String, value: PrimitiveSchemaDefinition }),
  required: Schema.optional(Schema.Array(Schema.String))
})
/** @since 0.1.0 */
export type RequestedSchema = typeof RequestedSchema.Type

/** `elicitation/create` params in form mode (`mode` is absent before 2025-11-25). @since 0.1.0 */
export const ElicitFormParams = Schema.Struct({
  mode: Schema.optional(Schema.Literal("form")),
  message: Schema.String,
  requestedSchema: RequestedSchema,
  _meta: Meta
})
/** @since 0.1.0 */
export type ElicitFormParams = typeof ElicitFormParams.Type

/** `elicitation/create` params in URL mode (2025-11-25): the user is sent to `url`, out of band. @since 0.1.0 */
export const ElicitUrlParams = Schema.Struct({
  mode: Schema.Literal("url"),
  message: Schema.String,
  elicitationId: Schema.String,
  url: Schema.String,
  _meta: Meta
})
/** @since 0.1.0 */
export type ElicitUrlParams = typeof ElicitUrlParams.Type

/** `elicitation/create` params. @since 0.1.0 */
export const ElicitParams = Schema.Union(ElicitUrlParams, ElicitFormParams)
/** @since 0.1.0 */
export type ElicitParams = typeof ElicitParams.Type

/** What a form field's answer may be. @since 0.1.0 */
export const ElicitValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Array(Schema.String))

/** `elicitation/create` result; `content` only with `accept` in form mode. @since 0.1.0 */
export const ElicitResult = Schema.Struct({
  action: Schema.Literal("accept", "decline", "cancel"),
  content: Schema.optional(Schema.Record({ key: Schema.String, value: ElicitValue })),
  _meta: Meta
})
/** @since 0.1.0 */
export type ElicitResult = typeof ElicitResult.Type

/** A directory or file the client lets the server work on. @since 0.1.0 */
export const Root = Schema.Struct({
  uri: Schema.String,
  name: Schema.optional(Schema.String),
  _meta: Meta
})
/** @since 0.1.0 */
export type Root = typeof Root.Type

/** `roots/list` result. @since 0.1.0 */
export const ListRootsResult = Schema.Struct({ roots: Schema.Array(Root), _meta: Meta })
/** @since 0.1.0 */
export type ListRootsResult = typeof ListRootsResult.Type

// --- The skills extension (`io.modelcontextprotocol/skills`, SEP-2640) ---------------------------------------------

/** One file of a skill with the digest and size of its raw bytes (SEP-2640). @since 0.1.0 */
export const SkillResource = Schema.Struct({
  uri: Schema.String,
  /** `sha256:` and 64 lowercase hex digits: the SHA-256 of the file's raw bytes. */
  digest: Schema.String,
  /** The length in bytes of the file's raw content: the bytes `digest` covers. */
  size: Schema.Number
})
/** @since 0.1.0 */
export type SkillResource = typeof SkillResource.Type

/**
 * A skill's `SKILL.md` frontmatter as a JSON object: `name` and `description`, and every other field as written
 * (kept on decode, so a client can compare the whole of it with the file's).
 *
 * @since 0.1.0
 */
export const SkillFrontmatter = Schema.Struct(
  { name: Schema.String, description: Schema.String },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
/** @since 0.1.0 */
export type SkillFrontmatter = typeof SkillFrontmatter.Type

/** The entry of one skill, as `skills/list` and `skills/get` give it (SEP-2640). @since 0.1.0 */
export const Skill = Schema.Struct({
  /** The URI of the skill's `SKILL.md`. */
  uri: Schema.String,
  frontmatter: SkillFrontmatter,
  /** Every file of the skill, `SKILL.md` included, or `"dynamic"` when the content has no stable digests. */
  resources: Schema.Union(Schema.Array(SkillResource), Schema.Literal("dynamic")),
  _meta: Meta
})
/** @since 0.1.0 */
export type Skill = typeof Skill.Type

/** `skills/list` result. @since 0.1.0 */
export const ListSkillsResult = Schema.Struct({ skills: Schema.Array(Skill), ...PageFields })
/** @since 0.1.0 */
export type ListSkillsResult = typeof ListSkillsResult.Type

/** `skills/get` params: the URI of a skill's `SKILL.md`. @since 0.1.0 */
export const GetSkillParams = Schema.Struct({ uri: Schema.String })

/** `skills/get` result. @since 0.1.0 */
export const GetSkillResult = Schema.Struct({ skill: Skill, _meta: Meta })
/** @since 0.1.0 */
export type GetSkillResult = typeof GetSkillResult.Type

/** `resources/directory/read` params: a directory resource's URI, and the page. @since 0.1.0 */
export const ReadDirectoryParams = Schema.Struct({ uri: Schema.String, cursor: Schema.optional(Schema.String) })

/** `resources/directory/read` result: the directory's direct children. @since 0.1.0 */
export const ReadDirectoryResult = Schema.Struct({ resources: Schema.Array(Resource), ...PageFields })
/** @since 0.1.0 */
export type ReadDirectoryResult = typeof ReadDirectoryResult.Type
