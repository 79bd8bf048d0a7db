import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as JsonRpc from "../../JsonRpc.js"
import { CurrentSession, type CurrentSessionService } from "../../McpSession.js"

/**
 * Runs an item's handlers (a tool's, a resource's, a prompt's) with the context its layer captured plus the
 * current session, on top of the fiber's own; made once per item.
 *
 * What `Effect.provide(effect, context)` does, without its cost on the hot path: `provide` restores the fiber's
 * context with `acquireUseRelease`, whose masking and exit bookkeeping cost more per `tools/call` than the rest of
 * the handler's set-up together, and merges two contexts per call. Here the context is set and put back after
 * success or failure; when the handler is interrupted it is not put back, which only the finalizers still to run
 * in that fiber could see, and they see a superset of what they had (the merge keeps every service of the
 * fiber's context). And the fiber's context is one object for every untraced request of a server (its sessions'
 * runtime context), so its merge with what the item captured is made when it changes, not per call: a call
 * copies the context once, to add its session.
 *
 * The cast is sound by construction: the handler needs `R`, and `R` is covered by what its layer captured (every
 * service it needs but `CurrentSession` and what its middleware provide), the middleware's services (`services`,
 * which then include the captured ones) and `CurrentSession`, which is added. TypeScript cannot see that through
 * the generic `Exclude`, hence this one helper.
 * @internal
 */
export const makeProvider = (captured: Context.Context<never>) => {
  let parentSeen: Context.Context<never> | undefined
  let mergedSeen = captured
  const over = (parent: Context.Context<never>, services: Context.Context<never>): Context.Context<never> => {
    if (services !== captured) return Context.merge(parent, services)
    if (parent !== parentSeen) {
      parentSeen = parent
      mergedSeen = Context.merge(parent, captured)
    }
    return mergedSeen
  }
  return <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    current: CurrentSessionService,
    services: Context.Context<never> = captured
  ): Effect.Effect<A, E> =>
    Effect.flatMap(
      FiberRef.getAndUpdate(
        FiberRef.currentContext,
        (parent) => Context.add(over(parent, services), CurrentSession, current)
      ),
      (parent) => Effect.matchCauseEffect(effect as Effect.Effect<A, E>, restoring<A, E>(parent))
    )
}

/** What `makeProvider` makes: runs a handler with its item's services, or those its middleware gave. @internal */
export type Provider = ReturnType<typeof makeProvider>

/** Puts the fiber's context back, then ends as the handler did. */
const restoring = <A, E>(parent: Context.Context<never>) => ({
  onSuccess: (value: A) => Effect.as(FiberRef.set(FiberRef.currentContext, parent), value),
  onFailure: (cause: Cause.Cause<E>) => Effect.zipRight(FiberRef.set(FiberRef.currentContext, parent), Effect.failCause(cause))
})

/**
 * Human-readable text for a handler's typed failure: its `message` when it has one.
 * @internal
 */
export const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * Turns what a handler's Effect ended with into a JSON-RPC error: typed `JsonRpcError`s pass through, other
 * failures become -32603 with their message, defects are logged and become a bare -32603.
 * @internal
 */
export const toJsonRpcError = (label: string) => <A, E>(
  effect: Effect.Effect<A, E>
): Effect.Effect<A, JsonRpc.JsonRpcError> =>
  Effect.catchAllCause(effect, (cause) => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const error = failure.value
      return Effect.fail(
        error instanceof JsonRpc.JsonRpcError ? error : JsonRpc.internalError(`${label}: ${messageOf(error)}`)
      )
    }
    return Effect.zipRight(Effect.logError(`${label} failed`, cause), Effect.fail(JsonRpc.internalError()))
  })

// An optional field's type is `Union(T, undefined)`: its description is on `T`.
const descriptionOf = (ast: SchemaAST.AST): Option.Option<string> => {
  const own = SchemaAST.getDescriptionAnnotation(ast)
  if (Option.isSome(own) || !SchemaAST.isUnion(ast)) return own
  return Option.firstSomeOf(ast.types.filter((t) => !SchemaAST.isUndefinedKeyword(t)).map(descriptionOf))
}

/**
 * The property names of a struct schema's encoded side, with whether each is required and its description:
 * what `prompts/list` shows as a prompt's arguments.
 * @internal
 */
export const structFields = <A, I>(
  schema: Schema.Schema<A, I, never>
): ReadonlyArray<{ readonly name: string; readonly required: boolean; readonly description: string | undefined }> => {
  const ast = SchemaAST.encodedAST(schema.ast)
  if (!SchemaAST.isTypeLiteral(ast)) return []
  return ast.propertySignatures.flatMap((ps) =>
    typeof ps.name === "string"
      ? [{
        name: ps.name,
        required: !ps.isOptional,
        description: Option.getOrUndefined(
          Option.orElse(SchemaAST.getDescriptionAnnotation(ps), () => descriptionOf(ps.type))
        )
      }]
      : []
  )
}
