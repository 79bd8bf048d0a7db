/**
 * The MCP protocol revisions this library speaks, each a value that holds what differs in it: how a client names
 * it, whether a body may batch, the JSON Schema dialect of tool schemas, whether SSE streams are primed for
 * resumption, the methods it removed, the code of a missing resource. Server, client and transports ask the
 * negotiated revision for these instead of comparing dates; each revision lives in its own module
 * (`internal/revisions/`), and adding the next one is a module there plus a line in `all`.
 *
 * @since 0.1.0
 */
import { v2024_11_05 } from "./internal/revisions/v2024_11_05.js"
import { v2025_03_26 } from "./internal/revisions/v2025_03_26.js"
import { v2025_06_18 } from "./internal/revisions/v2025_06_18.js"
import { v2025_11_25 } from "./internal/revisions/v2025_11_25.js"
import { v2026_07_28 } from "./internal/revisions/v2026_07_28.js"

/**
 * `Revision` (one revision and what differs in it), `Negotiation` (how a client names it) and
 * `JsonSchemaDialect`.
 *
 * @since 0.1.0
 */
export type { JsonSchemaDialect, Negotiation, Revision } from "./internal/revisions/revision.js"
import type { Revision } from "./internal/revisions/revision.js"

/**
 * Every revision served, oldest first.
 *
 * @since 0.1.0
 */
export const all: ReadonlyArray<Revision> = [v2024_11_05, v2025_03_26, v2025_06_18, v2025_11_25, v2026_07_28]

const byVersion = new Map(all.map((revision) => [revision.version, revision]))

/**
 * The revision of that name, if it is served.
 *
 * @since 0.1.0
 */
export const get = (version: string): Revision | undefined => byVersion.get(version)

/**
 * The revisions a client names in `initialize`, oldest first.
 *
 * @since 0.1.0
 */
export const sessionEra: ReadonlyArray<Revision> = all.filter((revision) => revision.negotiation === "initialize")

/**
 * The newest revision a client names in `initialize`: what a server with sessions answers a client that asks for
 * one it does not speak. The revisions after it are sessionless.
 *
 * @since 0.1.0
 */
export const latestSessionEra: Revision = v2025_11_25

/**
 * The revisions a client names in every request, oldest first.
 *
 * @since 0.1.0
 */
export const sessionless: ReadonlyArray<Revision> = all.filter((revision) => revision.negotiation === "per-request")
