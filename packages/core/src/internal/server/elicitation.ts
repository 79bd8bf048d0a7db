/**
 * The form of an elicitation, derived from an Effect `Schema`: the spec allows only a flat object of primitive
 * fields (strings, numbers, integers, booleans, string enums, arrays of string enums), so the schema's JSON Schema
 * is reduced to that subset, and anything else is refused.
 * @internal
 */
import * as Data from "effect/Data"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type * as McpSchema from "../../McpSchema.js"

type Json = { readonly [key: string]: unknown }

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const isStringArray = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every((v) => typeof v === "string")

/** Thrown (a defect) for a schema that cannot be a form: a programming error, found on the first call. */
class NotAForm extends Data.TaggedError("NotAForm")<{ readonly field: string; readonly why: string }> {
  constructor(field: string, why: string) {
    super({ field, why })
  }
  override get message(): string {
    return `elicit: ${this.field} ${this.why}; a form has only string, number, integer, boolean and string-enum fields`
  }
}

const text = (node: Json) => ({
  ...(typeof node.title === "string" ? { title: node.title } : {}),
  ...(typeof node.description === "string" ? { description: node.description } : {})
})

const numberKey = (node: Json, key: string) => typeof node[key] === "number" ? { [key]: node[key] } : {}

/** `anyOf` of one-value string enums, each with its label: a titled choice. */
const titledOptions = (node: Json): ReadonlyArray<{ const: string; title: string }> | undefined => {
  const anyOf = node.anyOf
  if (!Array.isArray(anyOf)) return undefined
  const options: Array<{ const: string; title: string }> = []
  for (const option of anyOf) {
    if (!isObject(option)) return undefined
    const value = option.const ?? (Array.isArray(option.enum) && option.enum.length === 1 ? option.enum[0] : undefined)
    if (typeof value !== "string") return undefined
    options.push({ const: value, title: typeof option.title === "string" ? option.title : value })
  }
  return options
}

const field = (name: string, node: Json, fallback: unknown): McpSchema.PrimitiveSchemaDefinition => {
  const given = node.default !== undefined ? node.default : fallback
  const options = titledOptions(node)
  if (options !== undefined) {
    return { type: "string", ...text(node), oneOf: options, ...(typeof given === "string" ? { default: given } : {}) }
  }
  switch (node.type) {
    case "string": {
      if (node.enum !== undefined) {
        if (!isStringArray(node.enum)) throw new NotAForm(`field "${name}"`, "is an enum of other values than strings")
        // The labels of the legacy titled enum (before `oneOf`), from a `jsonSchema` annotation: one per value.
        const names = node.enumNames
        if (names !== undefined && !(isStringArray(names) && names.length === node.enum.length)) {
          throw new NotAForm(`field "${name}"`, "has enumNames that are not one string per value of its enum")
        }
        return {
          type: "string",
          ...text(node),
          enum: node.enum,
          ...(names !== undefined ? { enumNames: names } : {}),
          ...(typeof given === "string" ? { default: given } : {})
        }
      }
      const format = node.format
      return {
        type: "string",
        ...text(node),
        ...numberKey(node, "minLength"),
        ...numberKey(node, "maxLength"),
        ...(format === "email" || format === "uri" || format === "date" || format === "date-time" ? { format } : {}),
        ...(typeof given === "string" ? { default: given } : {})
      }
    }
    case "number":
    case "integer": {
      if (node.enum !== undefined) throw new NotAForm(`field "${name}"`, "is an enum of numbers")
      return {
        type: node.type,
        ...text(node),
        ...numberKey(node, "minimum"),
        ...numberKey(node, "maximum"),
        ...(typeof given === "number" ? { default: given } : {})
      }
    }
    case "boolean":
      return { type: "boolean", ...text(node), ...(typeof given === "boolean" ? { default: given } : {}) }
    case "array": {
      const items = isObject(node.items) ? node.items : undefined
      const choices = items === undefined ? undefined : titledOptions(items)
      const common = {
        type: "array" as const,
        ...text(node),
        ...numberKey(node, "minItems"),
        ...numberKey(node, "maxItems"),
        ...(isStringArray(given) ? { default: given } : {})
      }
      if (choices !== undefined) return { ...common, items: { anyOf: choices } }
      if (items !== undefined && items.type === "string" && isStringArray(items.enum)) {
        return { ...common, items: { type: "string", enum: items.enum } }
      }
      throw new NotAForm(`field "${name}"`, "is an array of something other than a string enum")
    }
  }
  throw new NotAForm(`field "${name}"`, "is not a primitive")
}

/** `optionalWith(..., { default })` fields: their defaults, which the encoded side's JSON Schema does not show. */
const decodingDefaults = (ast: SchemaAST.AST): ReadonlyMap<PropertyKey, unknown> => {
  const defaults = new Map<PropertyKey, unknown>()
  if (SchemaAST.isTransformation(ast) && SchemaAST.isTypeLiteralTransformation(ast.transformation)) {
    for (const transformation of ast.transformation.propertySignatureTransformations) {
      const value = transformation.decode(Option.none())
      if (Option.isSome(value)) defaults.set(transformation.from, value.value)
    }
  }
  return defaults
}

const cache = new WeakMap<SchemaAST.AST, McpSchema.RequestedSchema>()

/**
 * The `requestedSchema` of a form whose fields are `schema`'s; throws for a schema that is not a flat struct of
 * primitives.
 * @internal
 */
export const requestedSchemaOf = <A, I>(schema: Schema.Schema<A, I, never>): McpSchema.RequestedSchema => {
  const cached = cache.get(schema.ast)
  if (cached !== undefined) return cached
  const json: unknown = JSONSchema.make(schema)
  const defs = isObject(json) && isObject(json.$defs) ? json.$defs : {}
  // A reference may carry keys of its own (a refinement of a named schema): they win over the definition's.
  const resolve = (node: unknown): Json => {
    if (!isObject(node)) return {}
    const { $ref: ref, ...own } = node
    if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
      return { ...resolve(defs[ref.slice("#/$defs/".length)]), ...own }
    }
    return node
  }
  const root = resolve(json)
  if (root.type !== "object" || !isObject(root.properties)) {
    throw new NotAForm("the schema", "is not a struct")
  }
  const defaults = decodingDefaults(schema.ast)
  const properties: Record<string, McpSchema.PrimitiveSchemaDefinition> = {}
  for (const [name, node] of Object.entries(root.properties)) {
    properties[name] = field(name, resolve(node), defaults.get(name))
  }
  const required = isStringArray(root.required) ? root.required : []
  const requested: McpSchema.RequestedSchema = {
    type: "object",
    properties,
    ...(required.length === 0 ? {} : { required })
  }
  cache.set(schema.ast, requested)
  return requested
}
