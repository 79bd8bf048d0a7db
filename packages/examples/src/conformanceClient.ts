#!/usr/bin/env node
/**
 * The client program the official conformance suite drives: `conformance client --command "node
 * packages/examples/dist/conformanceClient.js" --scenario <name>` (or `npm run conformance:client`). The suite
 * starts a server of its own for the scenario, appends its URL to the command and names the scenario in
 * `MCP_CONFORMANCE_SCENARIO`; this program does what the scenario expects of a client, with effect-mcp's
 * `McpClient` over Streamable HTTP, and exits 0, or 1 with the reason on stderr.
 *
 * @since 0.1.0
 */
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpClientAuth from "@effect-mcp/core/McpClientAuth"
import * as McpClientSkills from "@effect-mcp/core/McpClientSkills"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const url = process.argv.at(-1)
const scenario = process.env["MCP_CONFORMANCE_SCENARIO"]

/** The calls a scenario asks for in `MCP_CONFORMANCE_CONTEXT` (`toolCalls`), when it asks for any. */
const ToolCalls = Schema.parseJson(Schema.Struct({
  toolCalls: Schema.Array(Schema.Struct({
    name: Schema.String,
    arguments: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }))
}))

/** What the client needs of an `elicitation/create` form: each field's default, when it has one. */
const ElicitParams = Schema.Struct({
  message: Schema.String,
  requestedSchema: Schema.Struct({
    properties: Schema.Record({ key: Schema.String, value: Schema.Struct({ default: Schema.optional(Schema.Unknown) }) })
  })
})
const decodeElicitParams = Schema.decodeUnknown(ElicitParams)

/**
 * Answers `elicitation/create` as a user who accepts the form as shown: every field that has a default (SEP-1034)
 * at that default. effect-mcp's client has no form of its own; an app shows the form, and pre-filling it with the
 * defaults is the app's part, which this stands in for.
 */
const acceptDefaults: McpClient.ServerRequestHandler = {
  method: "elicitation/create",
  capabilities: { elicitation: {} },
  handle: (params) =>
    decodeElicitParams(params).pipe(
      Effect.mapError((error) => JsonRpc.invalidParams(ParseResult.TreeFormatter.formatErrorSync(error))),
      Effect.map(({ requestedSchema }) => {
        const content: Record<string, unknown> = {}
        for (const [name, field] of Object.entries(requestedSchema.properties)) {
          if (field.default !== undefined) content[name] = field.default
        }
        return { action: "accept", content }
      })
    )
}

/** Calls a tool and fails when it reports an error, so a broken scenario shows in the exit code. */
const call = (name: string, args?: { readonly [key: string]: unknown }) =>
  Effect.flatMap(McpClient.McpClient, (client) => client.callTool(name, args)).pipe(
    Effect.filterOrFail(
      (result) => result.isError !== true,
      (result) => new Error(`${name} reported an error: ${JSON.stringify(result.content)}`)
    )
  )

/**
 * SEP-2640: list the skills and load the first, which the scenario has tampered with so that verification fails
 * for `reason`. Loading must fail for that reason; a skill that loads anyway is used as a host would, by reading
 * its other files, which the suite sees (and the program fails).
 */
const loadTampered = (reason: McpClientSkills.SkillVerificationError["reason"]) =>
  Effect.gen(function*() {
    const [skill] = yield* McpClientSkills.listAll
    if (skill === undefined) return yield* Effect.fail(new Error("the server listed no skill"))
    const loaded = yield* Effect.either(McpClientSkills.load(skill))
    if (loaded._tag === "Left") {
      if (loaded.left._tag === "SkillVerificationError" && loaded.left.reason === reason) {
        process.stderr.write(`refused, as expected: ${loaded.left.message}\n`)
        return
      }
      return yield* Effect.fail(loaded.left)
    }
    if (skill.resources !== "dynamic") {
      for (const file of skill.resources) yield* McpClientSkills.readFile(skill, file.uri)
    }
    return yield* Effect.fail(new Error(`the skill loaded although its ${reason} does not match its entry`))
  })

/** What each scenario expects the client to do once it is connected and initialized. */
const scenarios: { readonly [name: string]: Effect.Effect<unknown, unknown, McpClient.McpClient> } = {
  // The handshake is the test: protocol version and clientInfo.
  "initialize": Effect.flatMap(McpClient.McpClient, (client) => client.listTools()),
  "tools_call": Effect.zipRight(
    Effect.flatMap(McpClient.McpClient, (client) => client.listTools()),
    call("add_numbers", { a: 5, b: 3 })
  ),
  // The server asks for the form during the call, on the call's stream; the answer goes back as a POST.
  "elicitation-sep1034-client-defaults": call("test_client_elicitation_defaults", {}),
  // The server ends the call's stream after the priming event: the client waits `retry` and resumes with GET and
  // Last-Event-ID, where the answer comes.
  "sse-retry": Effect.zipRight(
    Effect.flatMap(McpClient.McpClient, (client) => client.listTools()),
    call("test_reconnection", {})
  ),
  // 2026-07-28 (SEP-2243): list, then make the context's calls; the client mirrors the arguments the listing marks
  // with x-mcp-header in Mcp-Param-* headers.
  "http-custom-headers": Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    yield* client.listAllTools
    const { toolCalls } = yield* Schema.decodeUnknown(ToolCalls)(process.env["MCP_CONFORMANCE_CONTEXT"] ?? "{}")
    for (const { arguments: args, name } of toolCalls) yield* call(name, args)
  }),
  // SEP-2243: the client drops the tools whose x-mcp-header declarations are invalid; this calls every tool it
  // keeps, with a string for each string property.
  "http-invalid-tool-headers": Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    for (const tool of yield* client.listAllTools) {
      const properties = tool.inputSchema.properties
      const args: Record<string, unknown> = {}
      if (typeof properties === "object" && properties !== null) {
        for (const [name, property] of Object.entries(properties)) {
          if (typeof property === "object" && property !== null && "type" in property && property.type === "string") {
            args[name] = "value"
          }
        }
      }
      yield* call(tool.name, args)
    }
  }),
  // SEP-2575: the first request is refused with the versions the server speaks; the client retries with one of them.
  // Every request then carries the revision in `_meta` and the header.
  "request-metadata": Effect.zipRight(
    Effect.flatMap(McpClient.McpClient, (client) => client.listTools()),
    Effect.flatMap(McpClient.McpClient, (client) => client.ping)
  ),
  // SEP-2322: two calls that come back `input_required` (with and without `requestState`), a plain call while the
  // first is between rounds, and a result without `resultType`.
  "sep-2322-client-request-state": Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    yield* client.listTools()
    yield* Effect.all([call("test_mrtr_echo_state", {}), call("test_mrtr_unrelated", {})], { concurrency: 2 })
    yield* call("test_mrtr_no_state", {})
    yield* call("test_mrtr_no_result_type", {})
  }),
  // SEP-2243: Mcp-Method on every POST, Mcp-Name on calls, reads and prompt gets: one of each.
  "http-standard-headers": Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    for (const tool of yield* client.listAllTools) yield* call(tool.name, {})
    for (const resource of yield* client.listAllResources) yield* client.readResource(resource.uri)
    for (const prompt of yield* client.listAllPrompts) yield* client.getPrompt(prompt.name)
  }),
  // SEP-2640: listing skills reads none of their files.
  "sep-2640-client-no-prefetch": Effect.flatMap(McpClientSkills.listAll, (skills) =>
    skills.length === 0 ? Effect.fail(new Error("the server listed no skill")) : Effect.void),
  "sep-2640-client-verify-digest": loadTampered("digest"),
  "sep-2640-client-verify-size": loadTampered("size"),
  "sep-2640-client-verify-frontmatter": loadTampered("frontmatter"),
  // SEP-2106: listing a tool whose schema has a network `$ref` must not fetch it.
  "json-schema-ref-no-deref": Effect.flatMap(McpClient.McpClient, (client) => client.listAllTools),
  // SEP-1613 / SEP-2106: the listed schema goes back verbatim to the echo tool; what the client kept is compared.
  "json-schema-2020-12-preservation": Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    const tools = yield* client.listAllTools
    const focal = tools.find((tool) => tool.name === "json_schema_2020_12_tool")
    if (focal === undefined) return yield* Effect.fail(new Error("the server listed no json_schema_2020_12_tool"))
    yield* call("json_schema_echo", { schema: focal.inputSchema })
  })
}

/** What an `auth/*` scenario hands the client in `MCP_CONFORMANCE_CONTEXT`: credentials registered beforehand. */
const AuthContext = Schema.parseJson(Schema.Struct({
  client_id: Schema.optional(Schema.String),
  client_secret: Schema.optional(Schema.String),
  private_key_pem: Schema.optional(Schema.String),
  signing_algorithm: Schema.optional(Schema.String),
  // Enterprise-managed authorization (SEP-990): the user's ID token and the identity provider that exchanges it.
  idp_client_id: Schema.optional(Schema.String),
  idp_id_token: Schema.optional(Schema.String),
  idp_token_endpoint: Schema.optional(Schema.String),
  // Workload identity federation (SEP-1933): the workload's JWT, issued for the authorization server.
  valid_jwt: Schema.optional(Schema.String)
}))

/** The Client ID Metadata Document URL the suite's `auth/basic-cimd` expects as the client id. */
const CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
/** Where the suite's authorization server sends the user back; nothing listens there (see `followRedirect`). */
const REDIRECT_URI = "http://127.0.0.1:3333/callback"

/**
 * The user's part of the authorization, as the suite's authorization server plays it: it approves at once and
 * redirects, so the redirect's `Location` is the authorization response.
 */
const followRedirect = McpClientAuth.layerAuthorizationHandler(REDIRECT_URI, (url) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url, { redirect: "manual" })
      const location = response.headers.get("location")
      if (location === null) throw new Error(`the authorization endpoint answered ${response.status} without a redirect`)
      return new URL(location, url)
    },
    catch: (cause) =>
      new McpClientAuth.McpAuthError({ step: "authorization", message: `Could not authorize: ${String(cause)}`, cause })
  }))

/**
 * The grant a scenario's context calls for: an identity provider's ID token means enterprise-managed authorization
 * (the JWT bearer grant with an ID-JAG, SEP-990), a workload's JWT the same grant with that JWT (SEP-1933); the
 * `client-credentials-*` scenarios, client credentials.
 */
const grantOf = (name: string, context: typeof AuthContext.Type): Partial<McpClientAuth.Options> => {
  const { idp_client_id, idp_id_token, idp_token_endpoint, valid_jwt } = context
  if (valid_jwt !== undefined) return { grant: "jwt_bearer", assertion: () => Effect.succeed(valid_jwt) }
  if (idp_id_token !== undefined && idp_token_endpoint !== undefined && idp_client_id !== undefined) {
    return {
      grant: "jwt_bearer",
      assertion: McpClientAuth.identityAssertion({
        tokenEndpoint: idp_token_endpoint,
        idToken: idp_id_token,
        clientId: idp_client_id
      })
    }
  }
  return name.startsWith("auth/client-credentials") ? { grant: "client_credentials" } : {}
}

/** The `auth` option of a scenario: the context's credentials, and the grant it calls for. */
const authOptions = (name: string) =>
  Effect.map(Schema.decodeUnknown(AuthContext)(process.env["MCP_CONFORMANCE_CONTEXT"] ?? "{}"), (context) => {
    const options: McpClientAuth.Options = {
      clientMetadataUrl: CLIENT_METADATA_URL,
      clientMetadata: { client_name: "effect-mcp-conformance-client" },
      clientId: context.client_id,
      clientSecret: context.client_secret,
      ...grantOf(name, context),
      ...(context.private_key_pem === undefined
        ? {}
        : { privateKey: { pem: context.private_key_pem, algorithm: context.signing_algorithm ?? "ES256" } })
    }
    return options
  })

/** Every `auth/*` scenario: connect (authorizing as the server asks), list the tools, call the suite's one. */
const authScenario = Effect.gen(function*() {
  const client = yield* McpClient.McpClient
  const tools = yield* client.listTools()
  if (tools.tools.some((tool) => tool.name === "test-tool")) yield* call("test-tool", {})
})

const main = Effect.gen(function*() {
  if (url === undefined || !/^https?:\/\//.test(url)) {
    return yield* Effect.dieMessage("usage: MCP_CONFORMANCE_SCENARIO=<scenario> conformanceClient.js <server url>")
  }
  const auth = scenario?.startsWith("auth/") === true
  const run = scenario === undefined ? undefined : auth ? authScenario : scenarios[scenario]
  if (run === undefined) {
    return yield* Effect.dieMessage(
      `unknown scenario ${scenario ?? "(MCP_CONFORMANCE_SCENARIO is not set)"}; known: ${Object.keys(scenarios).join(", ")}`
    )
  }
  const ClientLive = McpClient.layerStreamableHttp({
    url,
    clientInfo: { name: "effect-mcp-conformance-client", version: "0.1.0" },
    handlers: [acceptDefaults],
    requestTimeout: "20 seconds",
    ...(auth && scenario !== undefined ? { auth: yield* authOptions(scenario) } : {})
  }).pipe(Layer.provide(followRedirect), Layer.provide(FetchHttpClient.layer))
  yield* Effect.provide(run, ClientLive)
})

NodeRuntime.runMain(main)
