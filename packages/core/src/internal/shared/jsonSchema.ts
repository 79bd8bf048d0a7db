/**
 * The JSON Schema a tool shows a model, from an Effect `Schema`: always an object schema, in the dialect the
 * session's revision expects, without what Effect's generator adds for its own purposes.
 *
 * Effect's `JSONSchema.make` is the starting point; what this module changes, and why:
 *
 * - Dialect: 2025-11-25 made JSON Schema 2020-12 the default dialect (`$defs`, `prefixItems`); older revisions
 *   are read as draft-07 in practice (`definitions`, `items` arrays), which is what the official SDKs' validators
 *   assume. The 2020-12 variant names its dialect in `$schema` (as SEP-1613's examples do, and the conformance
 *   suite checks); the draft-07 one leaves it out, as the older revisions never asked for it. The official
 *   TypeScript SDK client (1.32) compiles output schemas with an Ajv of draft-07 that does not validate schemas
 *   against their meta-schema (`validateSchema: false`), so a 2020-12 `$schema` does not trouble it.
 * - References: Effect moves every schema with an identifier (`Int`, `Trimmed`, `UUID`, classes...) into `$defs`
 *   and points at it, often with sibling keywords that draft-07 ignores. Every definition that is not recursive
 *   is inlined, so the model reads one flat schema and Effect's identifiers disappear; recursive ones (`suspend`)
 *   stay in `$defs`/`definitions`, and so do those the user marked as shared (`McpTool.shared`: a `jsonSchema`
 *   annotation with the `SHARED` marker, which is removed).
 * - Effect's titles: its filters title themselves like code (`lessThanOrEqualTo(600000)`, `int`), which is noise
 *   to a model; they go. Titles and descriptions the user wrote stay.
 * - Effect's descriptions: those of its filters restate a constraint the schema already carries as a keyword
 *   (`a number between 1 and 10` next to `minimum`/`maximum`) and go; those that say what the keywords cannot
 *   (`a string to be decoded into a Date`) stay.
 * - Effect's markers: `$id: "/schemas/..."`, `$comment: "/schemas/enums"` and the enum members' TypeScript
 *   names go; an `Enums` becomes a plain `enum`, an empty struct an object with no properties.
 *
 * A user's title or description is only removed in the unlikely case it is word for word one Effect generates.
 * @internal
 */
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import type * as Schema from "effect/Schema"
import * as McpRevision from "../../McpRevision.js"

/**
 * JSON Schema dialects the MCP revisions use.
 * @internal
 */
export type Dialect = McpRevision.JsonSchemaDialect

/** The dialect a revision's tool schemas are read in (draft-07 for one this library does not know). @internal */
export const dialectOf = (protocolVersion: string): Dialect =>
  McpRevision.get(protocolVersion)?.jsonSchemaDialect ?? "draft-07"

/**
 * The `$schema` of the 2020-12 variant.
 * @internal
 */
export const DIALECT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

/**
 * The keyword `McpTool.shared` puts on a definition (through a `jsonSchema` annotation, which Effect merges into
 * it) so that it stays in `$defs` rather than being inlined; it is removed from the listing.
 * @internal
 */
export const SHARED = "x-effect-mcp-shared"

/** @internal */
export type JsonObject = { readonly [key: string]: unknown }

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * An object schema in both dialects.
 * @internal
 */
export interface ObjectSchemas {
  readonly "2020-12": JsonObject
  readonly "draft-07": JsonObject
}

/**
 * The JSON Schema of `schema`'s encoded side in both dialects, or why it cannot be a tool's input or output
 * schema (it does not describe an object, or Effect cannot express it in JSON Schema).
 * @internal
 */
export const objectSchemas = <A, I>(schema: Schema.Schema<A, I, never>): Either.Either<ObjectSchemas, string> =>
  Either.flatMap(objectSchema(schema, "2020-12"), (latest) =>
    Either.map(objectSchema(schema, "draft-07"), (draft07): ObjectSchemas => ({
      "2020-12": latest,
      "draft-07": draft07
    })))

/**
 * The JSON Schema of `schema`'s encoded side in one dialect, as an object schema.
 * @internal
 */
export const objectSchema = <A, I>(
  schema: Schema.Schema<A, I, never>,
  dialect: Dialect
): Either.Either<JsonObject, string> => {
  let generated: unknown
  try {
    generated = JSONSchema.make(schema, { target: dialect === "2020-12" ? "jsonSchema2020-12" : "jsonSchema7" })
  } catch (error) {
    return Either.left(error instanceof Error ? error.message : String(error))
  }
  if (!isObject(generated)) return Either.left("Effect produced no JSON Schema")
  const { $defs, $schema: _, ...body } = generated
  const defs = isObject($defs) ? $defs : {}
  const cleaner = new Cleaner(defs, dialect)
  // The root must be an object schema itself, not a reference to one, even when its definition is recursive.
  const rootRef = typeof body.$ref === "string" ? cleaner.definitionName(body.$ref) : undefined
  let root: unknown
  if (rootRef !== undefined && rootRef in defs) {
    const { $ref: _ref, ...siblings } = body
    root = merge(cleaner.clean(defs[rootRef]), cleaner.cleanKeywords(siblings))
  } else {
    root = cleaner.cleanObject(body)
  }
  if (!isObject(root) || !cleaner.describesObject(root, new Set())) {
    return Either.left(`the JSON Schema is not an object schema: ${JSON.stringify(root)}`)
  }
  const kept = cleaner.keptDefinitions()
  const defsKey = dialect === "2020-12" ? "$defs" : "definitions"
  return Either.right({
    ...(dialect === "2020-12" ? { $schema: DIALECT_2020_12 } : {}),
    ...(root.type === "object" ? {} : { type: "object" }),
    ...root,
    ...(Array.isArray(root.anyOf) || Array.isArray(root.oneOf) ? {} : {
      properties: isObject(root.properties) ? root.properties : {},
      required: Array.isArray(root.required) ? root.required : []
    }),
    ...(kept === undefined ? {} : { [defsKey]: kept })
  })
}

// --- Cleaning --------------------------------------------------------------------------------------------------------

/** Keywords whose value is a map of schemas. */
const SCHEMA_MAPS: ReadonlySet<string> = new Set(["properties", "patternProperties", "dependentSchemas"])
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS: ReadonlySet<string> = new Set(["anyOf", "oneOf", "allOf", "prefixItems"])
/** Keywords whose value is a schema (or, for `items` in draft-07, a list of them). */
const SCHEMA_VALUES: ReadonlySet<string> = new Set([
  "additionalProperties",
  "items",
  "additionalItems",
  "not",
  "propertyNames",
  "contains",
  "contentSchema",
  "if",
  "then",
  "else",
  "unevaluatedProperties",
  "unevaluatedItems"
])
/** Keywords that annotate rather than constrain: when two schemas are merged, the more specific one wins. */
const ANNOTATIONS: ReadonlySet<string> = new Set(["title", "description", "default", "examples", "$comment"])

// The titles of Effect's own filters (Schema.ts): a filter's name, with its arguments when it has any; and the
// titles of its keywords (SchemaAST.ts: `unknown`, `object`...).
const EFFECT_TITLE = new RegExp(
  "^(?:string|number|boolean|bigint|symbol|object|unknown|any|never|void|undefined|" +
    "int|finite|nonNaN|positive|negative|nonPositive|nonNegative|greaterThan|greaterThanOrEqualTo|lessThan|" +
    "lessThanOrEqualTo|between|multipleOf|trimmed|lowercased|uppercased|capitalized|uncapitalized|nonEmptyString|" +
    "maxLength|minLength|length|startsWith|endsWith|includes|minItems|maxItems|itemsCount|parseJson)" +
    "(?:\\([\\s\\S]*\\))?$"
)
// A template literal's title is its TypeScript type, in backquotes.
const TEMPLATE_TITLE = /^`[\s\S]*`$/

// The descriptions of Effect's own filters that only restate a keyword next to them (Schema.ts).
const EFFECT_DESCRIPTIONS: ReadonlyArray<RegExp> = [
  /^an integer$/,
  /^a finite number$/,
  /^a number excluding NaN$/,
  /^a (?:positive|negative|non-positive|non-negative) number$/,
  /^a number (?:greater|less) than(?: or equal to)? \S+$/,
  /^a number between \S+ and \S+$/,
  /^a number divisible by \S+$/,
  /^a string with no leading or trailing whitespace$/,
  /^an? (?:lowercase|uppercase|capitalized|uncapitalized) string$/,
  /^a non empty string$/,
  /^a single character$/,
  /^a string (?:at most|at least) \d+ character\(s\)(?: and at most \d+ character\(s\))? long$/,
  /^a string \d+ character\(s\) long$/,
  /^a string matching the pattern [\s\S]*$/,
  /^a string (?:starting with|ending with|including) [\s\S]*$/,
  /^a Universally Unique Identifier$/,
  /^an array of (?:at least|at most|exactly) \d+ item\(s\)$/,
  /^a template literal$/,
  /^an object in the TypeScript meaning, i\.e\. the `object` type$/
]

const isEffectTitle = (title: string) => EFFECT_TITLE.test(title) || TEMPLATE_TITLE.test(title)
const isEffectDescription = (description: string) => EFFECT_DESCRIPTIONS.some((pattern) => pattern.test(description))

const EMPTY_STRUCT = "/schemas/%7B%7D"
const ENUMS = "/schemas/enums"

/** Two schemas as one: keys side by side when only annotations overlap, `allOf` otherwise. */
const merge = (base: unknown, extra: JsonObject): unknown => {
  if (Object.keys(extra).length === 0) return base
  if (!isObject(base)) return { allOf: [base], ...extra }
  const conflict = Object.keys(extra).some((key) => key in base && !ANNOTATIONS.has(key))
  return conflict ? { allOf: [base], ...extra } : { ...base, ...extra }
}

const unescapePointer = (segment: string) => segment.replace(/~1/g, "/").replace(/~0/g, "~")
const escapePointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1")

/** Names of the definitions a schema refers to, anywhere inside it. */
const referencesIn = (value: unknown, into: Set<string>): void => {
  if (Array.isArray(value)) {
    for (const item of value) referencesIn(item, into)
    return
  }
  if (!isObject(value)) return
  for (const [key, child] of Object.entries(value)) {
    if (key === "$ref" && typeof child === "string" && child.startsWith("#/$defs/")) {
      into.add(unescapePointer(child.slice("#/$defs/".length)))
    } else {
      referencesIn(child, into)
    }
  }
}

class Cleaner {
  /** Definitions on a reference cycle, which cannot be inlined, and those marked as shared: they stay. */
  private readonly recursive: ReadonlySet<string>
  /** Definitions that stay and are referred to so far, which the result must carry. */
  private readonly kept = new Set<string>()

  constructor(private readonly defs: JsonObject, private readonly dialect: Dialect) {
    const edges = new Map<string, Set<string>>()
    for (const [name, def] of Object.entries(defs)) {
      const refs = new Set<string>()
      referencesIn(def, refs)
      edges.set(name, refs)
    }
    const recursive = new Set<string>()
    for (const name of edges.keys()) {
      const seen = new Set<string>()
      const stack = Array.from(edges.get(name) ?? [])
      while (stack.length > 0) {
        const next = stack.pop()!
        if (next === name) {
          recursive.add(name)
          break
        }
        if (seen.has(next)) continue
        seen.add(next)
        for (const ref of edges.get(next) ?? []) stack.push(ref)
      }
    }
    for (const [name, def] of Object.entries(defs)) {
      if (isObject(def) && def[SHARED] === true) recursive.add(name)
    }
    this.recursive = recursive
  }

  definitionName(ref: string): string | undefined {
    return ref.startsWith("#/$defs/") ? unescapePointer(ref.slice("#/$defs/".length)) : undefined
  }

  private refTo(name: string): string {
    return (this.dialect === "2020-12" ? "#/$defs/" : "#/definitions/") + escapePointer(name)
  }

  /** The recursive definitions the cleaned schema refers to, cleaned themselves; undefined when none. */
  keptDefinitions(): JsonObject | undefined {
    const out: Record<string, unknown> = {}
    // Cleaning a definition may refer to further recursive ones: go on until nothing new turns up.
    let pending = Array.from(this.kept)
    while (pending.length > 0) {
      for (const name of pending) out[name] = this.clean(this.defs[name])
      pending = Array.from(this.kept).filter((name) => !(name in out))
    }
    return Object.keys(out).length === 0 ? undefined : out
  }

  /** Whether a cleaned schema only accepts objects (a struct, a record, a union of them...). */
  describesObject(schema: unknown, visiting: Set<string>): boolean {
    if (!isObject(schema)) return false
    if (schema.type === "object") return true
    if (typeof schema.$ref === "string") {
      // Only kept (recursive) definitions are still referred to, under the dialect's path.
      const prefix = this.refTo("")
      const name = schema.$ref.startsWith(prefix) ? unescapePointer(schema.$ref.slice(prefix.length)) : undefined
      if (name === undefined || visiting.has(name)) return false
      visiting.add(name)
      return this.describesObject(this.clean(this.defs[name]), visiting)
    }
    const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined
    if (union !== undefined) return union.length > 0 && union.every((member) => this.describesObject(member, visiting))
    if (Array.isArray(schema.allOf)) return schema.allOf.some((member) => this.describesObject(member, visiting))
    return false
  }

  /** A schema without Effect's internals, with its references resolved. */
  clean(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map((item) => this.clean(item))
    return isObject(schema) ? this.cleanObject(schema) : schema
  }

  cleanObject(schema: JsonObject): unknown {
    if (typeof schema.$ref === "string") {
      const { $ref, ...siblings } = schema
      const name = this.definitionName($ref)
      const extra = this.cleanKeywords(siblings)
      if (name === undefined || !(name in this.defs)) return { $ref, ...extra }
      if (!this.recursive.has(name)) return merge(this.clean(this.defs[name]), extra)
      this.kept.add(name)
      const ref = { $ref: this.refTo(name) }
      if (Object.keys(extra).length === 0) return ref
      // Draft-07 ignores the siblings of `$ref`.
      return this.dialect === "draft-07" ? { allOf: [ref], ...extra } : { ...ref, ...extra }
    }
    return this.cleanKeywords(schema)
  }

  /** An object schema's keywords, cleaned; a `$ref` among them is kept as it is. */
  cleanKeywords(schema: JsonObject): JsonObject {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(schema)) {
      if (SCHEMA_MAPS.has(key) && isObject(value)) {
        const map: Record<string, unknown> = {}
        for (const [name, child] of Object.entries(value)) map[name] = this.clean(child)
        out[key] = map
      } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
        out[key] = value.map((child) => this.clean(child))
      } else if (SCHEMA_VALUES.has(key)) {
        out[key] = this.clean(value)
      } else if (key === "title" && typeof value === "string" && isEffectTitle(value)) {
        continue
      } else if (key === "description" && typeof value === "string" && isEffectDescription(value)) {
        continue
      } else if (key === "$id" && typeof value === "string" && value.startsWith("/schemas/")) {
        continue
      } else if (key === SHARED) {
        continue
      } else {
        out[key] = value
      }
    }
    if (schema.$id === EMPTY_STRUCT) {
      // Effect reads `{}` as "any value but null and undefined" (`anyOf` object, array); as a tool's argument or
      // result it is an object with no fields.
      const { anyOf: _, ...rest } = out
      return { type: "object", properties: {}, required: [], additionalProperties: false, ...rest }
    }
    if (schema.$comment === ENUMS && Array.isArray(out.anyOf)) return enumOf(out)
    return flattenAllOf(out)
  }
}

/** An `Enums` as one `enum` of its values, without the members' TypeScript names. */
const enumOf = (schema: JsonObject): JsonObject => {
  const { anyOf, $comment: _, ...rest } = schema
  const members = Array.isArray(anyOf) ? anyOf.filter(isObject) : []
  const values = members.flatMap((member) => Array.isArray(member.enum) ? member.enum : [])
  const types = new Set(members.map((member) => member.type))
  const [type] = types
  return { ...(types.size === 1 && typeof type === "string" ? { type } : {}), enum: values, ...rest }
}

/** `{ allOf: [s], ...annotations }` as `s` with the annotations, when nothing else overlaps. */
const flattenAllOf = (schema: JsonObject): JsonObject => {
  const { allOf, ...rest } = schema
  if (!Array.isArray(allOf) || allOf.length !== 1) return schema
  const [only] = allOf
  // A reference stays wrapped: draft-07 ignores the siblings of `$ref`.
  if (!isObject(only) || typeof only.$ref === "string") return schema
  const conflict = Object.keys(rest).some((key) => key in only && !ANNOTATIONS.has(key))
  return conflict ? schema : { ...only, ...rest }
}

// --- Hand-written schemas --------------------------------------------------------------------------------------------

/**
 * A hand-written 2020-12 schema in draft-07, for the sessions of revisions before 2025-11-25: what has a draft-07
 * spelling gets it (`$defs` and references to it, `$anchor`, `prefixItems`, `dependentRequired` and
 * `dependentSchemas`, a `$ref` with siblings, the 2020-12 `$schema`, which goes); what has none (`unevaluated*`)
 * stays, for a draft-07 validator to ignore.
 * @internal
 */
export const toDraft07 = (schema: JsonObject): JsonObject => {
  const converted = draft07Of(schema)
  return isObject(converted) ? converted : schema
}

const DEFS_PREFIX = "#/$defs/"

const draft07Of = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(draft07Of)
  if (!isObject(schema)) return schema
  const out: Record<string, unknown> = {}
  const dependencies: Record<string, unknown> = {}
  const mapOf = (value: unknown) => {
    if (!isObject(value)) return value
    const map: Record<string, unknown> = {}
    for (const [name, child] of Object.entries(value)) map[name] = draft07Of(child)
    return map
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$schema" && value === DIALECT_2020_12) continue
    if (key === "$defs" || key === "definitions") {
      const defs = mapOf(value)
      out.definitions = { ...(isObject(out.definitions) ? out.definitions : {}), ...(isObject(defs) ? defs : {}) }
    } else if (key === "$ref" && typeof value === "string" && value.startsWith(DEFS_PREFIX)) {
      out.$ref = "#/definitions/" + value.slice(DEFS_PREFIX.length)
    } else if (key === "$anchor" && typeof value === "string") {
      if (schema.$id === undefined) out.$id = `#${value}`
    } else if (key === "prefixItems") {
      out.items = draft07Of(value)
      if (schema.items !== undefined) out.additionalItems = draft07Of(schema.items)
    } else if (key === "items" && schema.prefixItems !== undefined) {
      continue
    } else if (key === "dependentRequired" && isObject(value)) {
      Object.assign(dependencies, value)
    } else if (key === "dependentSchemas" && isObject(value)) {
      Object.assign(dependencies, mapOf(value))
    } else if (SCHEMA_MAPS.has(key)) {
      out[key] = mapOf(value)
    } else if (SCHEMA_LISTS.has(key) || SCHEMA_VALUES.has(key)) {
      out[key] = draft07Of(value)
    } else {
      out[key] = value
    }
  }
  if (Object.keys(dependencies).length > 0) {
    out.dependencies = { ...(isObject(out.dependencies) ? out.dependencies : {}), ...dependencies }
  }
  // Draft-07 ignores the siblings of `$ref`.
  if (typeof out.$ref === "string" && Object.keys(out).length > 1) {
    const { $ref, $id, ...siblings } = out
    return { ...($id === undefined ? {} : { $id }), allOf: [{ $ref }], ...siblings }
  }
  return out
}
