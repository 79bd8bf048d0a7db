/**
 * Describing a Schema parse error in a JSON-RPC error message.
 * @internal
 */
import * as ParseResult from "effect/ParseResult"

/**
 * Effect's tree description of a parse error. It prints the offending value recursively, so a value nested a
 * few thousand levels deep (a 12 KB body) overflows the stack, and a request with bad params would become an
 * internal error logged at Error level; such a value is then left out of the description.
 * @internal
 */
export const describeParseError = (error: ParseResult.ParseError): string => {
  try {
    return ParseResult.TreeFormatter.formatErrorSync(error)
  } catch {
    return "the value does not match the schema, and is nested too deeply to show"
  }
}
