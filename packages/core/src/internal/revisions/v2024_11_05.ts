/**
 * 2024-11-05: the first revision, served over HTTP+SSE (a GET stream and a POST endpoint) and stdio.
 * @internal
 */
import * as Methods from "../shared/methods.js"
import type { Revision } from "./revision.js"

/** @internal */
export const v2024_11_05: Revision = {
  version: "2024-11-05",
  negotiation: "initialize",
  sessions: true,
  batches: false,
  jsonSchemaDialect: "draft-07",
  primingEvents: false,
  ...Methods.step(undefined, "2024-11-05"),
  resourceNotFoundCode: -32002,
  resultEnvelope: false,
  inputRounds: false,
  toolTaskSupport: false,
  logsWithoutLevel: true,
  pushesTaskStatus: false,
  headerMismatchCode: undefined
}
