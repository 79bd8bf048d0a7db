/**
 * Who sees an item: a rule per tool, resource, template or prompt, asked per session. Items without one are seen
 * by every session, and a server with none lists from its shared pages as it always did (`registry.ts`).
 * @internal
 */
import type * as Effect from "effect/Effect"
import type { Session } from "../../McpSession.js"

/** What a visibility rule sees of a session. @since 0.1.0 */
export type Viewer = Pick<Session, "id" | "transport" | "protocolVersion" | "clientInfo" | "clientCapabilities" | "principal">

/** Whether a session sees an item. @since 0.1.0 */
export type Visibility = (viewer: Viewer) => Effect.Effect<boolean>
