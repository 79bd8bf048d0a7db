/**
 * 2026-07-28: sessionless. No `initialize`: every request names the revision and the client's capabilities in its
 * `_meta`; no session id, GET stream, DELETE or ping; change notifications through `subscriptions/listen`; a
 * missing resource is -32602 with `data.uri` (the -32002 code is retired).
 * @internal
 */
import * as Methods from "../shared/methods.js"
import type { Revision } from "./revision.js"
import { v2025_11_25 } from "./v2025_11_25.js"

/** @internal */
export const v2026_07_28: Revision = {
  ...v2025_11_25,
  version: "2026-07-28",
  negotiation: "per-request",
  sessions: false,
  // No resumability: a request's stream is its answer, and a listen stream is asked for again.
  primingEvents: false,
  ...Methods.step(v2025_11_25, "2026-07-28"),
  resourceNotFoundCode: -32602,
  resultEnvelope: true,
  inputRounds: true,
  toolTaskSupport: true,
  // A request's `_meta` names its log level, if it wants logs; listen streams carry task status.
  logsWithoutLevel: false,
  pushesTaskStatus: true,
  headerMismatchCode: -32020
}
