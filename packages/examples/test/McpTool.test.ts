import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Ajv2020 } from "ajv/dist/2020.js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as DemoServer from "../src/DemoServer.js"
import * as JsonRpc from "@effect-mcp/core/JsonRpc"
import * as McpClient from "@effect-mcp/core/McpClient"
import * as McpSchema from "@effect-mcp/core/McpSchema"
import * as McpServer from "@effect-mcp/core/McpServer"
import * as McpTest from "@effect-mcp/core/McpTest"
import * as McpTool from "@effect-mcp/core/McpTool"
import { capture } from "../../node/test/utils/logs.js"
import { sdkClient, serveHttp } from "../../core/test/utils/serve.js"

// ---------------------------------------------------------------------------------------------------------------
// A nasty input: refinements, optional fields, unions and enums, nested structs, a class, recursion

class Person extends Schema.Class<Person>("Person")({
  name: Schema.String,
  age: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}) {}

interface Tree {
  readonly value: number
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Schema<Tree> = Schema.Struct({
  value: Schema.Number,
  children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree))
}).annotations({ identifier: "Tree" })

enum Color {
  Red = "red",
  Green = "green"
}

const Nasty = Schema.Struct({
  name: Schema.NonEmptyTrimmedString.annotations({ description: "Who is asking" }),
  count: Schema.optional(Schema.Int.pipe(Schema.between(1, 10))),
  retries: Schema.Int.annotations({ title: "Retries", description: "How often to try again" }),
  kind: Schema.Literal("a", "b"),
  color: Schema.Enums(Color),
  shape: Schema.Union(
    Schema.Struct({ _tag: Schema.Literal("circle"), radius: Schema.Number.pipe(Schema.positive()) }),
    Schema.Struct({ _tag: Schema.Literal("square"), side: Schema.Number })
  ),
  nested: Schema.Struct({ deep: Schema.Struct({ amount: Schema.NumberFromString }) }),
  person: Person,
  tree: Tree,
  when: Schema.Date,
  note: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String.pipe(Schema.maxLength(5))).pipe(Schema.minItems(1)),
  id: Schema.UUID,
  scores: Schema.Record({ key: Schema.String, value: Schema.Number }),
  pair: Schema.Tuple(Schema.String, Schema.Number),
  email: Schema.TemplateLiteral(Schema.String, "@", Schema.String),
  extra: Schema.Unknown
})

const NastyTool = McpTool.make("nasty", {
  input: Nasty,
  output: Schema.Struct({ tree: Tree, person: Person }),
  handler: ({ person, tree }) => Effect.succeed({ tree, person })
})

const NoArguments = McpTool.make("no_arguments", {
  input: Schema.Struct({}),
  handler: () => Effect.succeed("nothing to do")
})

const ClassInput = McpTool.make("class_input", {
  input: Person,
  handler: (person) => Effect.succeed(person.name)
})

const RecursiveInput = McpTool.make("recursive_input", {
  input: Tree,
  handler: (tree) => Effect.succeed(String(tree.children.length))
})

const UnionInput = McpTool.make("union_input", {
  input: Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Number })),
  handler: (input) => Effect.succeed("a" in input ? input.a : String(input.b))
})

// `shared` keeps a definition in `$defs` by name; the same struct unmarked is inlined.
const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number })
const SharedInput = McpTool.make("shared_input", {
  input: Schema.Struct({ from: McpTool.shared("point")(Point), to: McpTool.shared("point")(Point), mid: Point }),
  handler: () => Effect.succeed("ok")
})

const SchemaServer = Layer.mergeAll(NastyTool, NoArguments, ClassInput, RecursiveInput, UnionInput, SharedInput).pipe(
  Layer.provideMerge(DemoServer.layer)
)

/** The tools as a client of `protocolVersion` lists them, by name. */
const toolsAt = (protocolVersion: string) =>
  Effect.gen(function*() {
    const client = yield* McpTest.makeClient({ protocolVersion })
    expect((yield* client.initializeResult).protocolVersion).toBe(protocolVersion)
    const { tools } = yield* client.listTools()
    return new Map(tools.map((tool) => [tool.name, tool]))
  })

/** The `_meta` of a 2026-07-28 request. */
const modernMeta = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1.0.0" }
}

/** The `$schema` a revision's tool schemas carry at their root: 2020-12's is named, draft-07's left out. */
const dialectOf = (version: string) =>
  version === "2025-11-25" ? { $schema: "https://json-schema.org/draft/2020-12/schema" } : {}

/** Every value of `key` anywhere in `value`. */
const valuesOf = (value: unknown, key: string): Array<unknown> => {
  if (Array.isArray(value)) return value.flatMap((item) => valuesOf(item, key))
  if (typeof value !== "object" || value === null) return []
  return Object.entries(value).flatMap(([k, v]) => (k === key ? [v] : []).concat(valuesOf(v, key)))
}

const sample: typeof Nasty.Type = {
  name: "Ada",
  count: 3,
  retries: 2,
  kind: "a",
  color: Color.Green,
  shape: { _tag: "circle", radius: 1 },
  nested: { deep: { amount: 12.5 } },
  person: new Person({ name: "Grace", age: 85 }),
  tree: { value: 1, children: [{ value: 2, children: [] }] },
  when: new Date("2025-01-12T15:00:58Z"),
  note: null,
  tags: ["x"],
  id: "123e4567-e89b-12d3-a456-426614174000",
  scores: { a: 1 },
  pair: ["p", 2],
  email: "ada@example.com",
  extra: { anything: true }
}

describe("McpTool", () => {
  describe("inputSchema and outputSchema", () => {
    it.scoped("the demo's sleep shows its bounds, without Effect's titles and descriptions", () =>
      Effect.gen(function*() {
        for (const version of ["2025-06-18", "2025-11-25"]) {
          const tools = yield* toolsAt(version)
          expect(tools.get("sleep")?.inputSchema).toEqual({
            ...dialectOf(version),
            type: "object",
            required: ["ms"],
            properties: { ms: { type: "number", minimum: 0, maximum: 600_000 } },
            additionalProperties: false
          })
          expect(tools.get("add")?.outputSchema).toEqual({
            ...dialectOf(version),
            type: "object",
            required: ["sum"],
            properties: { sum: { type: "number" } },
            additionalProperties: false
          })
        }
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("a nasty schema: flat, Effect's internals gone, the user's annotations kept, recursion in $defs", () =>
      Effect.gen(function*() {
        const tools = yield* toolsAt("2025-11-25")
        const schema = tools.get("nasty")!.inputSchema
        expect(schema.type).toBe("object")
        expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema")
        expect(schema.additionalProperties).toBe(false)
        expect(schema.required).toEqual(Object.keys(Nasty.fields).filter((name) => name !== "count"))
        expect(schema.properties).toEqual({
          name: { type: "string", pattern: "^\\S[\\s\\S]*\\S$|^\\S$|^$", minLength: 1, description: "Who is asking" },
          count: { type: "integer", minimum: 1, maximum: 10 },
          retries: { type: "integer", title: "Retries", description: "How often to try again" },
          kind: { type: "string", enum: ["a", "b"] },
          color: { type: "string", enum: ["red", "green"] },
          shape: {
            anyOf: [
              {
                type: "object",
                required: ["_tag", "radius"],
                properties: { _tag: { type: "string", enum: ["circle"] }, radius: { type: "number", exclusiveMinimum: 0 } },
                additionalProperties: false
              },
              {
                type: "object",
                required: ["_tag", "side"],
                properties: { _tag: { type: "string", enum: ["square"] }, side: { type: "number" } },
                additionalProperties: false
              }
            ]
          },
          nested: {
            type: "object",
            required: ["deep"],
            properties: {
              deep: {
                type: "object",
                required: ["amount"],
                properties: { amount: { type: "string", description: "a string to be decoded into a number" } },
                additionalProperties: false
              }
            },
            additionalProperties: false
          },
          person: {
            type: "object",
            required: ["name"],
            properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
            additionalProperties: false
          },
          tree: { $ref: "#/$defs/Tree" },
          when: { type: "string", description: "a string to be decoded into a Date" },
          note: { anyOf: [{ type: "string" }, { type: "null" }] },
          tags: { type: "array", items: { type: "string", maxLength: 5 }, minItems: 1 },
          id: {
            type: "string",
            format: "uuid",
            pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
          },
          scores: { type: "object", required: [], properties: {}, additionalProperties: { type: "number" } },
          pair: { type: "array", minItems: 2, prefixItems: [{ type: "string" }, { type: "number" }], items: false },
          email: { type: "string", pattern: "^[\\s\\S]*?@[\\s\\S]*?$" },
          extra: {}
        })
        expect(schema.$defs).toEqual({
          Tree: {
            type: "object",
            required: ["value", "children"],
            properties: { value: { type: "number" }, children: { type: "array", items: { $ref: "#/$defs/Tree" } } },
            additionalProperties: false
          }
        })
        // Nothing of Effect's own: no markers, no generated titles, only the one the user wrote; the dialect is
        // named once, at the root.
        for (const tool of tools.values()) {
          for (const key of ["$id", "$comment", "definitions"]) {
            expect(valuesOf(tool.inputSchema, key)).toEqual([])
            expect(valuesOf(tool.outputSchema, key)).toEqual([])
          }
          expect(valuesOf(tool.inputSchema, "$schema")).toEqual(["https://json-schema.org/draft/2020-12/schema"])
          if (tool.outputSchema !== undefined) {
            expect(valuesOf(tool.outputSchema, "$schema")).toEqual(["https://json-schema.org/draft/2020-12/schema"])
          }
        }
        expect(valuesOf(schema, "title")).toEqual(["Retries"])
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("older revisions get draft-07: definitions, tuples as items arrays", () =>
      Effect.gen(function*() {
        const tools = yield* toolsAt("2025-06-18")
        const schema = tools.get("nasty")!.inputSchema
        expect(schema.$defs).toBeUndefined()
        expect(schema.$schema).toBeUndefined()
        expect(Object.keys(schema.definitions ?? {})).toEqual(["Tree"])
        expect(valuesOf(schema, "$ref")).toEqual(["#/definitions/Tree", "#/definitions/Tree"])
        expect(schema.properties).toMatchObject({
          pair: { type: "array", minItems: 2, items: [{ type: "string" }, { type: "number" }], additionalItems: false }
        })
        const output = tools.get("nasty")!.outputSchema!
        expect(valuesOf(output, "$ref")).toEqual(["#/definitions/Tree", "#/definitions/Tree"])
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("each dialect's schema is valid in it and accepts what the tool accepts", () =>
      Effect.gen(function*() {
        const encoded = Schema.encodeSync(Nasty)(sample)
        const { tree: _, ...withoutTree } = encoded
        const broken = [{ ...encoded, count: 11 }, { ...encoded, color: "blue" }, { ...encoded, extra2: 1 }, withoutTree]
        for (const [version, ajv] of [["2025-11-25", new Ajv2020({ strict: true })], ["2025-06-18", new Ajv({ strict: true })]] as const) {
          ajv.addFormat("uuid", /^[0-9a-f-]{36}$/i)
          const tools = yield* toolsAt(version)
          const validate = ajv.compile(tools.get("nasty")!.inputSchema)
          expect(validate(encoded), JSON.stringify(validate.errors)).toBe(true)
          for (const wrong of broken) expect(validate(wrong)).toBe(false)
          const output = ajv.compile(tools.get("nasty")!.outputSchema!)
          expect(output(Schema.encodeSync(Schema.Struct({ tree: Tree, person: Person }))(sample))).toBe(true)
        }
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("the root is always an object schema: an empty struct, a class, a recursive schema, a union", () =>
      Effect.gen(function*() {
        for (const version of ["2025-06-18", "2025-11-25"]) {
          const tools = yield* toolsAt(version)
          const defs = version === "2025-11-25" ? "$defs" : "definitions"
          expect(tools.get("no_arguments")?.inputSchema).toEqual({
            ...dialectOf(version),
            type: "object",
            properties: {},
            required: [],
            additionalProperties: false
          })
          expect(tools.get("class_input")?.inputSchema).toEqual({
            ...dialectOf(version),
            type: "object",
            required: ["name"],
            properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
            additionalProperties: false
          })
          const recursive = tools.get("recursive_input")!.inputSchema
          expect(recursive).toMatchObject({ type: "object", required: ["value", "children"] })
          expect(Object.keys(recursive[defs] ?? {})).toEqual(["Tree"])
          const union = tools.get("union_input")!.inputSchema
          expect(union.type).toBe("object")
          expect(union.anyOf).toHaveLength(2)
        }
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("shared: a definition kept by name in $defs (definitions for draft-07), without its marker", () =>
      Effect.gen(function*() {
        const point = {
          type: "object",
          required: ["x", "y"],
          properties: { x: { type: "number" }, y: { type: "number" } },
          additionalProperties: false
        }
        for (const [version, defs] of [["2025-11-25", "$defs"], ["2025-06-18", "definitions"]] as const) {
          const tools = yield* toolsAt(version)
          expect(tools.get("shared_input")?.inputSchema).toEqual({
            ...dialectOf(version),
            type: "object",
            required: ["from", "to", "mid"],
            properties: { from: { $ref: `#/${defs}/point` }, to: { $ref: `#/${defs}/point` }, mid: point },
            additionalProperties: false,
            [defs]: { point }
          })
        }
        const client = yield* McpTest.makeClient()
        const p = { x: 1, y: 2 }
        expect((yield* client.callTool("shared_input", { from: p, to: p, mid: p })).isError).toBeUndefined()
      }).pipe(Effect.provide(SchemaServer)))

    it.scoped("calls decode with the same schemas as before", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        const result = yield* client.callTool("nasty", Schema.encodeSync(Nasty)(sample))
        expect(result.isError).toBeUndefined()
        expect(result.structuredContent).toEqual({
          tree: sample.tree,
          person: { name: "Grace", age: 85 }
        })
        expect((yield* client.callTool("recursive_input", { value: 1, children: [] })).content).toEqual([
          { type: "text", text: "0" }
        ])
      }).pipe(Effect.provide(SchemaServer)))

    it.effect("an input that is not an object fails the tool's layer, saying why", () =>
      Effect.gen(function*() {
        const NotAnObject = McpTool.make("not_an_object", {
          input: Schema.String,
          handler: (text) => Effect.succeed(text)
        })
        const exit = yield* Effect.exit(Layer.build(
          NotAnObject.pipe(Layer.provideMerge(McpServer.layer({ name: "bad", version: "1" })))
        ).pipe(Effect.scoped))
        expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(
          /Tool not_an_object: its input schema cannot be listed: the JSON Schema is not an object schema/
        )
      }))
  })

  describe("shared definitions", () => {
    // What a shared module would export: definitions only, no handlers, nothing of the server.
    const Divide = McpTool.define("divide", {
      description: "Divides a by b",
      input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
      output: Schema.Struct({ quotient: Schema.Number })
    })
    // Transformations both ways: the client sends a Date and gets one back; the wire carries strings.
    const Later = McpTool.define("later", {
      input: Schema.Struct({ from: Schema.Date, days: Schema.NumberFromString }),
      output: Schema.Struct({ at: Schema.Date })
    })
    const Shout = McpTool.define("shout", { input: Schema.Struct({ text: Schema.String }) })

    class DivisionByZero extends Data.TaggedError("DivisionByZero")<{ readonly message: string }> {}
    class Calendar extends Context.Tag("test/Calendar")<Calendar, { readonly dayMs: number }>() {}

    const DivideLive = Divide.toLayer(({ a, b }) =>
      b === 0 ? Effect.fail(new DivisionByZero({ message: `cannot divide ${a} by zero` })) : Effect.succeed({ quotient: a / b })
    )
    const LaterLive = McpTool.implement(Later, ({ days, from }) =>
      Effect.map(Calendar, ({ dayMs }) => ({ at: new Date(from.getTime() + days * dayMs) })))
    const ShoutLive = Shout.toLayer(({ text }) => Effect.succeed(text.toUpperCase()))

    const DefinedServer = Layer.mergeAll(DivideLive, ShoutLive, LaterLive.pipe(Layer.provide(Layer.succeed(Calendar, { dayMs: 86_400_000 })))).pipe(
      Layer.provideMerge(DemoServer.layer)
    )

    const from = new Date("2025-01-12T15:00:58Z")

    it("types: the handler's requirements show in the layer; call gives the decoded output or the whole result", () => {
      expectTypeOf(DivideLive).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer>>()
      expectTypeOf(LaterLive).toEqualTypeOf<Layer.Layer<never, never, McpServer.McpServer | Calendar>>()
      expectTypeOf<ReturnType<typeof callDivide>>().toEqualTypeOf<
        Effect.Effect<{ readonly quotient: number }, McpClient.McpClientError | McpClient.ToolError, McpClient.McpClient>
      >()
      expectTypeOf<ReturnType<typeof callShout>>().toEqualTypeOf<
        Effect.Effect<McpSchema.CallToolResult, McpClient.McpClientError | McpClient.ToolError, McpClient.McpClient>
      >()
    })
    const callDivide = () => Effect.flatMap(McpClient.McpClient, (client) => client.call(Divide, { a: 1, b: 2 }))
    const callShout = () => Effect.flatMap(McpClient.McpClient, (client) => client.call(Shout, { text: "x" }))

    /** Every way of calling, from any client: the same answers. */
    const exercise = (client: McpClient.McpClientService) =>
      Effect.gen(function*() {
        expect(yield* client.call(Divide, { a: 1, b: 4 })).toEqual({ quotient: 0.25 })
        expect(yield* client.call(DemoServer.AddTool, { a: 1, b: 2 })).toEqual({ sum: 3 })
        expect(yield* client.call(Later, { from, days: 2 })).toEqual({ at: new Date("2025-01-14T15:00:58Z") })
        expect((yield* client.call(Shout, { text: "hey" })).content).toEqual([{ type: "text", text: "HEY" }])
        const refused = yield* Effect.flip(client.call(Divide, { a: 1, b: 0 }))
        expect(refused).toBeInstanceOf(McpClient.ToolError)
        expect(refused).toMatchObject({ _tag: "ToolError", tool: "divide", message: "cannot divide 1 by zero" })
      })

    it.scoped("the server implements them, the in-process client calls them", () =>
      Effect.flatMap(McpTest.makeClient(), exercise).pipe(Effect.provide(DefinedServer)))

    it.scopedLive("over Streamable HTTP, with the library's client and with the official SDK client", () =>
      Effect.gen(function*() {
        const url = yield* serveHttp(DefinedServer)
        yield* Effect.flatMap(McpClient.makeStreamableHttp({ url }), exercise).pipe(
          Effect.provide(NodeHttpClient.layerUndici)
        )
        // The official client validates structuredContent against the listed outputSchema, which names 2020-12 in
        // `$schema` (it negotiates 2025-11-25): its Ajv (draft-07, `validateSchema: false`) compiles it all the same.
        const sdk = yield* sdkClient(url)
        const seen = yield* Effect.promise(async () => {
          const { tools } = await sdk.listTools()
          return {
            outputDialect: tools.find((tool) => tool.name === "later")?.outputSchema?.$schema,
            later: await sdk.callTool({ name: "later", arguments: { from: from.toISOString(), days: "2" } }),
            divide: await sdk.callTool({ name: "divide", arguments: { a: 1, b: 0 } })
          }
        })
        expect(seen.outputDialect).toBe("https://json-schema.org/draft/2020-12/schema")
        expect(seen.later.structuredContent).toEqual({ at: "2025-01-14T15:00:58.000Z" })
        expect(seen.divide).toEqual({ content: [{ type: "text", text: "cannot divide 1 by zero" }], isError: true })
      }))

    it.scoped("arguments the server refuses are a ToolError from 2025-11-25, an RpcError before", () =>
      Effect.gen(function*() {
        // A definition the server knows with another input: what a client built against an older server sends.
        const Stale = McpTool.define("divide", {
          input: Schema.Struct({ a: Schema.String }),
          output: Schema.Struct({ quotient: Schema.Number })
        })
        const latest = yield* McpTest.makeClient()
        const refused = yield* Effect.flip(latest.call(Stale, { a: "one" }))
        expect(refused).toMatchObject({ _tag: "ToolError", tool: "divide" })
        expect(refused.message).toMatch(/^Invalid arguments for tool divide/)
        const older = yield* McpTest.makeClient({ protocolVersion: "2025-06-18" })
        expect(yield* Effect.flip(older.call(Stale, { a: "one" }))).toMatchObject({
          _tag: "McpClientError",
          reason: "RpcError",
          code: JsonRpc.ErrorCode.InvalidParams
        })
      }).pipe(Effect.provide(DefinedServer)))

    it.scoped("a result that does not match the definition's output is a Protocol error", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        // `shout` has no structured output, `add` another one.
        const NotStructured = McpTool.define("shout", {
          input: Schema.Struct({ text: Schema.String }),
          output: Schema.Struct({ loud: Schema.String })
        })
        const Mismatched = McpTool.define("add", {
          input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
          output: Schema.Struct({ total: Schema.Number })
        })
        expect(yield* Effect.flip(client.call(NotStructured, { text: "x" }))).toMatchObject({
          reason: "Protocol",
          message: "Tool shout answered without the structuredContent its output schema promises"
        })
        const mismatch = yield* Effect.flip(client.call(Mismatched, { a: 1, b: 2 }))
        expect(mismatch).toMatchObject({ _tag: "McpClientError", reason: "Protocol" })
        expect(mismatch.message).toMatch(/^Invalid structuredContent from tool add/)
      }).pipe(Effect.provide(DefinedServer)))

    it.effect("make is define and implement in one: the same listing", () =>
      Effect.gen(function*() {
        const input = Schema.Struct({ a: Schema.Number, b: Schema.Number })
        const output = Schema.Struct({ quotient: Schema.Number })
        const handler = ({ a, b }: typeof input.Type) => Effect.succeed({ quotient: a / b })
        const listed = (tool: Layer.Layer<never, never, McpServer.McpServer>) =>
          Effect.gen(function*() {
            const client = yield* McpTest.makeClient()
            return (yield* client.listTools()).tools
          }).pipe(Effect.scoped, Effect.provide(tool.pipe(Layer.provideMerge(McpServer.layer({ name: "x", version: "1" })))))
        const made = yield* listed(McpTool.make("divide", { title: "Divide", input, output, handler }))
        const defined = yield* listed(McpTool.define("divide", { title: "Divide", input, output }).toLayer(handler))
        expect(made).toEqual(defined)
        expect(made[0]).toMatchObject({ name: "divide", title: "Divide", outputSchema: { type: "object" } })
      }))
  })

  // SEP-2243 (2026-07-28): arguments mirrored in Mcp-Param-* headers, checked by the server over Streamable HTTP.
  describe("headers", () => {
    const Route = McpTool.make("route", {
      description: "Routes by region and priority",
      input: Schema.Struct({
        region: Schema.String,
        priority: Schema.optional(Schema.Int),
        verbose: Schema.optional(Schema.NullOr(Schema.Boolean)),
        fast: Schema.optional(Schema.Boolean),
        note: Schema.optional(Schema.String)
      }),
      headers: { region: "Region", priority: "Priority", fast: "Fast" },
      handler: ({ priority, region }) => Effect.succeed(`${region}:${priority ?? "-"}`)
    })
    const RouteServer = Route.pipe(Layer.provideMerge(McpServer.layer({ name: "route", version: "1" })))

    /** A 2026-07-28 `tools/call` of `route` over HTTP, with the standard headers and `extra`. */
    const call = async (url: string, args: Record<string, unknown>, extra: Record<string, string>) => {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "route",
          ...extra
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: { name: "route", arguments: args, _meta: modernMeta }
        })
      })
      const body: unknown = await response.json()
      return { status: response.status, body }
    }
    const b64 = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`

    it.scoped("the listing carries x-mcp-header on the declared properties, in both dialects", () =>
      Effect.gen(function*() {
        for (const version of ["2025-11-25", "2025-03-26"]) {
          const schema = (yield* toolsAt(version)).get("route")!.inputSchema
          expect(schema.properties).toMatchObject({
            region: { type: "string", "x-mcp-header": "Region" },
            priority: { type: "integer", "x-mcp-header": "Priority" },
            fast: { type: "boolean", "x-mcp-header": "Fast" }
          })
          expect(valuesOf(schema, "x-mcp-header")).toHaveLength(3)
        }
      }).pipe(Effect.provide(RouteServer)))

    it.scopedLive("a call whose headers agree with its arguments is served", () =>
      Effect.gen(function*() {
        const url = yield* serveHttp(RouteServer)
        const served = (args: Record<string, unknown>, headers: Record<string, string>) =>
          Effect.promise(() => call(url, args, headers)).pipe(Effect.map((result) => {
            expect(result, JSON.stringify(result)).toMatchObject({ status: 200, body: { id: 7, result: {} } })
            expect(result.body).not.toHaveProperty("error")
            return result.body
          }))
        // Plain, and with only the arguments sent (absent and null ones need no header).
        expect(yield* served({ region: "eu-west", verbose: null }, { "mcp-param-region": "eu-west" })).toMatchObject({
          result: { content: [{ type: "text", text: "eu-west:-" }] }
        })
        // Base64: the sentinel is decoded, and a non-ASCII value can only come that way.
        yield* served({ region: "Zürich " }, { "mcp-param-region": b64("Zürich ") })
        // A value that is not the sentinel is literal, even when it looks like base64 or half a sentinel.
        yield* served({ region: "SGVsbG8=" }, { "mcp-param-region": "SGVsbG8=" })
        yield* served({ region: "=?base64?SGVsbG8=" }, { "mcp-param-region": "=?base64?SGVsbG8=" })
        // Integers compare as numbers, booleans as true/false; header names ignore case.
        yield* served({ region: "r", priority: 42, fast: false }, {
          "MCP-PARAM-REGION": "r",
          "mcp-param-priority": "42.0",
          "Mcp-Param-Fast": "false"
        })
      }))

    it.scopedLive("a call whose headers are missing, undecodable or disagree is refused: 400, -32020", () =>
      Effect.gen(function*() {
        const url = yield* serveHttp(RouteServer)
        const cases: ReadonlyArray<readonly [string, Record<string, unknown>, Record<string, string>]> = [
          ["missing", { region: "eu" }, {}],
          ["mismatched", { region: "eu" }, { "mcp-param-region": "us" }],
          ["case of the value", { region: "eu" }, { "mcp-param-region": "EU" }],
          ["bad base64 padding", { region: "Hello" }, { "mcp-param-region": "=?base64?SGVsbG8?=" }],
          ["bad base64 characters", { region: "Hello" }, { "mcp-param-region": "=?base64?SGVs!!!bG8=?=" }],
          ["base64 that is not UTF-8", { region: "x" }, { "mcp-param-region": "=?base64?/w==?=" }],
          ["the literal base64, not decoded", { region: "Hello" }, { "mcp-param-region": "SGVsbG8=" }],
          ["an integer that differs", { region: "eu", priority: 3 }, { "mcp-param-region": "eu", "mcp-param-priority": "4" }],
          ["an integer that is no number", { region: "eu", priority: 3 }, { "mcp-param-region": "eu", "mcp-param-priority": "three" }],
          ["a boolean spelled otherwise", { region: "eu", fast: true }, { "mcp-param-region": "eu", "mcp-param-fast": "True" }],
          ["a header without its argument", { region: "eu" }, { "mcp-param-region": "eu", "mcp-param-priority": "1" }]
        ]
        for (const [label, args, headers] of cases) {
          const result = yield* Effect.promise(() => call(url, args, headers))
          expect(result, label).toMatchObject({ status: 400, body: { id: 7, error: { code: -32020 } } })
        }
      }))

    it.effect("declarations the spec rules out fail the tool's layer, saying why", () =>
      Effect.gen(function*() {
        const built = (tool: Layer.Layer<never, never, McpServer.McpServer>) =>
          Effect.exit(Layer.build(tool.pipe(Layer.provideMerge(McpServer.layer({ name: "bad", version: "1" })))).pipe(
            Effect.scoped
          )).pipe(Effect.map((exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "built"))
        const input = Schema.Struct({ score: Schema.Number, tags: Schema.Array(Schema.String), a: Schema.String, b: Schema.String })
        const handler = () => Effect.succeed("ok")
        expect(yield* built(McpTool.make("n", { input, headers: { score: "Score" }, handler }))).toMatch(
          /Tool n: its headers cannot be declared: .*only string, integer and boolean/
        )
        expect(yield* built(McpTool.make("d", { input, headers: { a: "Same", b: "same" }, handler }))).toMatch(
          /Tool d: its headers cannot be declared: .*declared twice/
        )
        expect(yield* built(McpTool.make("t", { input, headers: { a: "Not a token" }, handler }))).toMatch(
          /Tool t: its headers cannot be declared: .*HTTP token/
        )
        // A hand-written schema must list the argument it mirrors.
        const listed = { type: "object", properties: { a: { type: "string" } } }
        expect(yield* built(McpTool.make("m", { input, jsonSchema: { input: listed }, headers: { b: "B" }, handler })))
          .toMatch(/Tool m: its headers cannot be declared: headers: b is not a property/)
        expect(yield* built(McpTool.make("ok", { input, headers: { a: "A" }, handler }))).toBe("built")
      }))

    it("only string, number and boolean arguments can be named, by their encoded names", () => {
      const input = Schema.Struct({
        region: Schema.String,
        count: Schema.optional(Schema.NumberFromString),
        nested: Schema.Struct({ x: Schema.String })
      })
      expectTypeOf<McpTool.HeaderArgument<typeof input.Encoded>>().toEqualTypeOf<"region" | "count">()
    })
  })

  describe("jsonSchema", () => {
    const listed = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { $anchor: "addressDef", type: "object", properties: { city: { type: "string" } } } },
      properties: {
        address: { $ref: "#/$defs/address" },
        pair: { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false },
        phone: { type: "string" },
        email: { type: "string" }
      },
      anyOf: [{ required: ["phone"] }, { required: ["email"] }],
      if: { required: ["phone"] },
      then: { properties: { phone: { minLength: 3 } } },
      else: { required: ["email"] },
      dependentRequired: { phone: ["address"] },
      additionalProperties: false
    }
    const Contact = McpTool.make("contact", {
      input: Schema.Struct({
        address: Schema.optional(Schema.Struct({ city: Schema.optional(Schema.String) })),
        pair: Schema.optional(Schema.Tuple(Schema.String, Schema.Int)),
        phone: Schema.optional(Schema.String),
        email: Schema.optional(Schema.String)
      }),
      output: Schema.Struct({ ok: Schema.Boolean }),
      jsonSchema: { input: listed, output: { type: "object", properties: { ok: { const: true } } } },
      handler: () => Effect.succeed({ ok: true })
    })
    const ContactServer = Contact.pipe(Layer.provideMerge(McpServer.layer({ name: "contact", version: "1" })))

    it.scopedLive("at 2026-07-28 and 2025-11-25 the listing is the schema as written", () =>
      Effect.gen(function*() {
        expect((yield* toolsAt("2025-11-25")).get("contact")).toMatchObject({
          inputSchema: listed,
          outputSchema: { type: "object", properties: { ok: { const: true } } }
        })
        const url = yield* serveHttp(ContactServer)
        const response = yield* Effect.promise(() =>
          fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
              "mcp-protocol-version": "2026-07-28",
              "mcp-method": "tools/list"
            },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: modernMeta } })
          }).then((r) => r.json())
        )
        expect(response.result.tools[0].inputSchema).toStrictEqual(listed)
      }).pipe(Effect.provide(ContactServer)))

    it.scoped("before 2025-11-25 it is listed in draft-07, valid there, and accepting what it accepted", () =>
      Effect.gen(function*() {
        const schema = (yield* toolsAt("2025-03-26")).get("contact")!.inputSchema
        expect(schema).toStrictEqual({
          type: "object",
          definitions: { address: { $id: "#addressDef", type: "object", properties: { city: { type: "string" } } } },
          properties: {
            address: { $ref: "#/definitions/address" },
            pair: { type: "array", items: [{ type: "string" }, { type: "integer" }], additionalItems: false },
            phone: { type: "string" },
            email: { type: "string" }
          },
          anyOf: [{ required: ["phone"] }, { required: ["email"] }],
          if: { required: ["phone"] },
          then: { properties: { phone: { minLength: 3 } } },
          else: { required: ["email"] },
          dependencies: { phone: ["address"] },
          additionalProperties: false
        })
        const draft07 = new Ajv({ strict: false }).compile(schema)
        const latest = new Ajv2020({ strict: false }).compile(listed)
        const samples = [
          { phone: "12345", address: { city: "Oslo" } },
          { email: "a@b.c", pair: ["x", 1] },
          { phone: "12" , address: {} },
          { phone: "12345" },
          {},
          { email: "a@b.c", pair: ["x", "y"] },
          { email: "a@b.c", extra: 1 }
        ]
        for (const sample of samples) expect(draft07(sample), JSON.stringify(sample)).toBe(latest(sample))
        expect(samples.map((sample) => latest(sample))).toStrictEqual([true, true, false, false, false, false, false])
      }).pipe(Effect.provide(ContactServer)))

    it.scoped("the Effect schema still decodes the arguments", () =>
      Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        expect((yield* client.callTool("contact", { phone: "12345" })).structuredContent).toEqual({ ok: true })
        const refused = yield* client.callTool("contact", { phone: 12345 })
        expect(refused.isError).toBe(true)
      }).pipe(Effect.provide(ContactServer)))

    it.effect("a hand-written schema that does not describe an object fails the tool's layer", () =>
      Effect.gen(function*() {
        const NotAnObject = McpTool.make("array_listed", {
          input: Schema.Struct({}),
          jsonSchema: { input: { type: "array" } },
          handler: () => Effect.succeed("x")
        })
        const exit = yield* Effect.exit(Layer.build(
          NotAnObject.pipe(Layer.provideMerge(McpServer.layer({ name: "bad", version: "1" })))
        ).pipe(Effect.scoped))
        expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(
          /Tool array_listed: its input schema cannot be listed: a tool's JSON Schema must have type "object"/
        )
      }))
  })

  describe("structured results as the wire carries them", () => {
    it.scoped("a result its output schema rejects once it is JSON is a tool error, logged at Warning", () => {
      const logs = capture()
      return Effect.gen(function*() {
        const client = yield* McpTest.makeClient()
        // Finite arguments, an infinite sum: JSON would carry { sum: null }, which the outputSchema forbids.
        expect(yield* client.callTool("add", { a: 1e308, b: 1e308 })).toEqual({
          content: [{ type: "text", text: "Tool add produced a result that does not conform to its output schema" }],
          isError: true
        })
        // Through the shared definition, a ToolError rather than an output it cannot decode.
        expect(yield* Effect.flip(client.call(DemoServer.AddTool, { a: -1e308, b: -1e308 }))).toMatchObject({
          _tag: "ToolError",
          tool: "add"
        })
        expect(yield* client.call(DemoServer.AddTool, { a: 1e308, b: 1 })).toEqual({ sum: 1e308 })
        expect(logs.problems()).toEqual([])
        const warnings = logs.entries.filter((entry) => entry.level._tag === "Warning").map((entry) => entry.message)
        expect(warnings).toEqual([
          expect.stringMatching(/^tool add returned a value its output schema rejects: as JSON, .*sum/s),
          expect.stringMatching(/^tool add returned a value its output schema rejects: as JSON/)
        ])
      }).pipe(Effect.provide(DemoServer.layer), Effect.provide(logs.layer))
    })
  })
})
