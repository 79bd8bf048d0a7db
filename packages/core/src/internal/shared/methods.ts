/**
 * The MCP methods as facts without their schemas: who sends each, which revisions have it, what it needs and how
 * it is carried. `McpMethod` adds the schemas and is the table the rest of the code reads; these facts sit below
 * it because the revision modules derive their `removedMethods` from them, and `McpSchema` (which the table needs)
 * reads the revision list: the table itself would close that circle.
 * @internal
 */

/** The first revision, which every method this library serves from the start dates from. */
const FIRST = "2024-11-05"
/** The sessionless revision: methods it added and removed. */
const SESSIONLESS = "2026-07-28"

/** The tasks extension's identifier (`McpTask.EXTENSION`). @internal */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks"

/** The skills extension's identifier (SEP-2640, `McpSkill.EXTENSION`). @internal */
export const SKILLS_EXTENSION = "io.modelcontextprotocol/skills"

/**
 * What is known of one method apart from its schemas.
 * @internal
 */
export interface Facts {
  readonly kind: "request" | "notification"
  /** Who sends it: the client (the server serves it), the server (the client serves it), or either. */
  readonly from: "client" | "server" | "both"
  /** The first revision that has it, as this library serves it. */
  readonly since: string
  /** The revision that removed it, if one did: a request for it there gets -32601. */
  readonly removedIn: string | undefined
  /** The path of the receiver's capability it needs (`["resources", "subscribe"]`), if any. */
  readonly capability: ReadonlyArray<string> | undefined
  /** Its 2026-07-28 result carries cache hints (`ttlMs`, `cacheScope`). */
  readonly cacheable: boolean
  /** At 2026-07-28 it may come back `input_required` (SEP-2322 multi round-trip). */
  readonly carrier: boolean
  /**
   * At 2026-07-28 a server may embed it in an `input_required` result or a task's `inputRequests`; the prefix of
   * the keys it gets there when the handler names none (`elicit-0`).
   */
  readonly inputKind: string | undefined
  /** The param `Mcp-Name` mirrors at 2026-07-28 over HTTP (SEP-2663 §Routing Headers), if any. */
  readonly routingName: "name" | "uri" | "taskId" | undefined
  /** Served before `initialize` completes (session era). */
  readonly beforeInitialize: boolean
  /** Answered by the transport with a stream it holds open (`subscriptions/listen`), not by the dispatcher. */
  readonly streamed: boolean
}

const base = {
  since: FIRST,
  removedIn: undefined,
  capability: undefined,
  cacheable: false,
  carrier: false,
  inputKind: undefined,
  routingName: undefined,
  beforeInitialize: false,
  streamed: false
} as const

type Options = Partial<Omit<Facts, "kind" | "from" | "streamed">>

/** A method's facts, with what the types derive from kept literal: its kind, its sender, whether it streams. */
type Typed<Kind extends Facts["kind"], From extends Facts["from"], Streamed extends boolean> = Facts & {
  readonly kind: Kind
  readonly from: From
  readonly streamed: Streamed
}

const request = <const From extends Facts["from"]>(
  from: From,
  options: Options = {}
): Typed<"request", From, false> => ({ ...base, ...options, kind: "request", from, streamed: false })

/** A request the transport answers with a stream it holds open. */
const streamed = <const From extends Facts["from"]>(
  from: From,
  options: Options = {}
): Typed<"request", From, true> => ({ ...base, ...options, kind: "request", from, streamed: true })

const notification = <const From extends Facts["from"]>(
  from: From,
  options: Options = {}
): Typed<"notification", From, false> => ({ ...base, ...options, kind: "notification", from, streamed: false })

/**
 * Every method, by name.
 * @internal
 */
export const facts = {
  "initialize": request("client", { removedIn: SESSIONLESS, beforeInitialize: true }),
  "ping": request("both", { removedIn: SESSIONLESS, beforeInitialize: true }),
  "server/discover": request("client", { since: SESSIONLESS, cacheable: true }),
  "subscriptions/listen": streamed("client", { since: SESSIONLESS }),
  "tools/list": request("client", { capability: ["tools"], cacheable: true }),
  "tools/call": request("client", { capability: ["tools"], carrier: true, routingName: "name" }),
  "tasks/get": request("client", { capability: ["extensions", TASKS_EXTENSION], routingName: "taskId" }),
  "tasks/update": request("client", { capability: ["extensions", TASKS_EXTENSION], routingName: "taskId" }),
  "tasks/cancel": request("client", { capability: ["extensions", TASKS_EXTENSION], routingName: "taskId" }),
  "resources/list": request("client", { capability: ["resources"], cacheable: true }),
  "resources/templates/list": request("client", { capability: ["resources"], cacheable: true }),
  "resources/read": request("client", { capability: ["resources"], cacheable: true, carrier: true, routingName: "uri" }),
  "resources/subscribe": request("client", { capability: ["resources", "subscribe"], removedIn: SESSIONLESS }),
  "resources/unsubscribe": request("client", { capability: ["resources", "subscribe"], removedIn: SESSIONLESS }),
  // The skills extension: in every revision, as skills are resources; what a server declares says whether it has them.
  "skills/list": request("client", { capability: ["extensions", SKILLS_EXTENSION], cacheable: true }),
  "skills/get": request("client", { capability: ["extensions", SKILLS_EXTENSION], cacheable: true }),
  "resources/directory/read": request("client", { capability: ["extensions", SKILLS_EXTENSION, "directoryRead"] }),
  "prompts/list": request("client", { capability: ["prompts"], cacheable: true }),
  "prompts/get": request("client", { capability: ["prompts"], carrier: true, routingName: "name" }),
  "logging/setLevel": request("client", { capability: ["logging"], removedIn: SESSIONLESS }),
  "completion/complete": request("client", { capability: ["completions"] }),
  "sampling/createMessage": request("server", { capability: ["sampling"], inputKind: "sample" }),
  "elicitation/create": request("server", { capability: ["elicitation"], inputKind: "elicit" }),
  "roots/list": request("server", { capability: ["roots"], inputKind: "roots" }),
  "notifications/initialized": notification("client", { removedIn: SESSIONLESS }),
  "notifications/cancelled": notification("both"),
  "notifications/progress": notification("both"),
  "notifications/message": notification("server", { capability: ["logging"] }),
  "notifications/tools/list_changed": notification("server", { capability: ["tools", "listChanged"] }),
  "notifications/resources/list_changed": notification("server", { capability: ["resources", "listChanged"] }),
  "notifications/resources/updated": notification("server", { capability: ["resources", "subscribe"] }),
  "notifications/prompts/list_changed": notification("server", { capability: ["prompts", "listChanged"] }),
  "notifications/tasks": notification("server", { capability: ["extensions", TASKS_EXTENSION] }),
  "notifications/subscriptions/acknowledged": notification("server", { since: SESSIONLESS }),
  // The sessionless revision has no channel for it: a server asks for the roots on each request that needs them.
  "notifications/roots/list_changed": notification("client", { capability: ["roots", "listChanged"], removedIn: SESSIONLESS })
}

/** A method's name. @internal */
export type Name = keyof typeof facts

const names = new Set<string>(Object.keys(facts))

/** True for the name of a method in the table. @internal */
export const isName = (name: string): name is Name => names.has(name)

/** The facts of each method, as a list. @internal */
export const all: ReadonlyArray<readonly [Name, Facts]> = Object.keys(facts).filter(isName).map((name) => [
  name,
  facts[name]
])

/**
 * What one revision has, from the one before it (none for the first): the methods it keeps plus those it adds,
 * and the requests removed by it or before it (a request for one is -32601). For a revision module's fields.
 * @internal
 */
export const step = (
  previous: { readonly methods: ReadonlySet<string>; readonly removedMethods: ReadonlySet<string> } | undefined,
  version: string
): { readonly methods: ReadonlySet<string>; readonly removedMethods: ReadonlySet<string> } => {
  const methods = new Set(previous?.methods)
  const removedMethods = new Set(previous?.removedMethods)
  for (const [name, method] of all) {
    if (method.since === version) methods.add(name)
    if (method.removedIn === version) {
      methods.delete(name)
      if (method.kind === "request") removedMethods.add(name)
    }
  }
  return { methods, removedMethods }
}
