/**
 * 2024-11-05: the first revision, served over HTTP+SSE (a GET stream and a POST endpoint) and stdio.
 * @internal
 */
import type { Revision } from "./revision.js"

const none: ReadonlySet<string> = new Set()

/** @internal */
export const v2024_11_05: Revision = {
  version: "2024-11-05",
  negotiation: "initialize",
  sessions: true,
  batches: false,
  jsonSchemaDialect: "draft-07",
  primingEvents: false,
  removedMethods: none,
  resourceNotFoundCode: -32002
}
