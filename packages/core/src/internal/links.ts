/**
 * What the server's own parts need from one another and a user never should: an `McpServer`'s dispatcher and
 * change audience (for the `SessionRegistry`), and what a registry passes on to its transports (the tools'
 * mirrored headers, the server's capabilities now). They are kept here, keyed by the public service object, so
 * the public services stay read-only views with nothing `@internal` on them.
 * @internal
 */
import type * as McpSchema from "../McpSchema.js"
import type { ParamHeader } from "./paramHeaders.js"
import type { Audience, Dispatcher } from "./session.js"

/** What a `SessionRegistry` needs from its server. @internal */
export interface ServerLink {
  /** How sessions hand messages to the server. */
  readonly dispatcher: Dispatcher
  /** Where the server's changes go: a registry attaches itself for its sessions; the result detaches it. */
  readonly attach: (audience: Audience) => () => void
}

/** What a transport needs from its registry beyond the public service. @internal */
export interface RegistryLink {
  /** The `Mcp-Param-*` headers a call of the tool mirrors (SEP-2243), for the HTTP front's checks. */
  readonly paramHeaders: (tool: string) => ReadonlyArray<ParamHeader> | undefined
  /** The server's capabilities now, for what a listen stream can honour. */
  readonly capabilities: () => McpSchema.ServerCapabilities
}

const servers = new WeakMap<object, ServerLink>()
const registries = new WeakMap<object, RegistryLink>()

const missing = (what: string) =>
  new Error(`${what} was not built by effect-mcp's own constructor (make / layer), so it cannot be served`)

/** Records the link of a server service made by `McpServer.make`, and returns the service. @internal */
export const linkServer = <S extends object>(service: S, link: ServerLink): S => {
  servers.set(service, link)
  return service
}

/** The link of a server service; a defect for a service not made by `McpServer.make`. @internal */
export const serverLink = (service: object): ServerLink => {
  const link = servers.get(service)
  if (link === undefined) throw missing("The McpServer service")
  return link
}

/** Records the link of a registry service made by `SessionRegistry.make`, and returns the service. @internal */
export const linkRegistry = <S extends object>(service: S, link: RegistryLink): S => {
  registries.set(service, link)
  return service
}

/** The link of a registry service; a defect for a service not made by `SessionRegistry.make`. @internal */
export const registryLink = (service: object): RegistryLink => {
  const link = registries.get(service)
  if (link === undefined) throw missing("The SessionRegistry service")
  return link
}
