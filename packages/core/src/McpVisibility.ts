/**
 * Items only some sessions see: a tool, resource, template or prompt given `visible` is listed to, and served
 * for, the sessions its rule accepts; the others find it absent from lists and get the same error on call as for
 * one never registered. Rules are Effects, so they may read anything (a feature flag in a `Ref`, a database);
 * when what they read changes, `McpServer.refreshVisibility` tells the sessions whose view changed, and only
 * those (`notifications/<list>/list_changed`). Registering or removing an item with a rule tells only the
 * sessions that see it.
 *
 * ```ts
 * const Admin = McpTool.make("purge", {
 *   input: Schema.Struct({}),
 *   visible: McpVisibility.scopes("admin"),
 *   handler: () => Effect.succeed("purged")
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { hasScopes, type Principal } from "./McpAuth.js"
import type { Viewer, Visibility } from "./internal/server/visibility.js"

/** `Viewer` (what a rule sees of a session) and `Visibility` (a rule). @since 0.1.0 */
export type { Viewer, Visibility } from "./internal/server/visibility.js"

/** Seen by sessions whose principal has every one of `scopes`; never without authorization. @since 0.1.0 */
export const scopes = (...scopes: ReadonlyArray<string>): Visibility => (viewer) =>
  Effect.succeed(viewer.principal !== undefined && hasScopes(viewer.principal, scopes))

/** Seen by sessions whose principal `predicate` accepts; never without authorization. @since 0.1.0 */
export const principal = (predicate: (principal: Principal) => boolean): Visibility => (viewer) =>
  Effect.succeed(viewer.principal !== undefined && predicate(viewer.principal))

/** Seen by sessions an Effect predicate accepts; a failure of it hides the item. @since 0.1.0 */
export const when = <E>(predicate: (viewer: Viewer) => Effect.Effect<boolean, E>): Visibility => (viewer) =>
  Effect.orElseSucceed(predicate(viewer), () => false)
