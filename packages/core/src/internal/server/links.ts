/**
 * What the server's own parts need from one another and a user never should: an `McpServer`'s dispatcher and
 * change audience (for the `SessionRegistry`), and what a registry passes on to its transports (the tools'
 * mirrored headers, the server's capabilities now). They are kept here, keyed by the public service object, so
 * the public services stay read-only views with nothing `@internal` on them.
 * @internal
 */
import type * as McpSchema from "../../McpSchema.js"
import type { PlacementService } from "./registry/placement.js"
import type { ParamHeader } from "../shared/paramHeaders.js"
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
  /** Where the sessions live when the server runs as several instances; undefined for one process. */
  readonly placement: PlacementService | undefined
}

/** A table of links keyed by the service they belong to. */
const table = <L>(what: string) => {
  const links = new WeakMap<object, L>()
  return {
    /** Records the link of a service made by effect-mcp's own constructor, and returns the service. */
    link: <S extends object>(service: S, link: L): S => {
      links.set(service, link)
      return service
    },
    /** The link of a service; a defect for one not made by effect-mcp's own constructor (`make`, `layer`). */
    of: (service: object): L => {
      const link = links.get(service)
      if (link === undefined) {
        throw new Error(`${what} was not built by effect-mcp's own constructor (make / layer), so it cannot be served`)
      }
      return link
    }
  }
}

const servers = table<ServerLink>("The McpServer service")
const registries = table<RegistryLink>("The SessionRegistry service")

/** Records the link of a server service made by `McpServer.make`, and returns the service. @internal */
export const linkServer = servers.link

/** The link of a server service; a defect for a service not made by `McpServer.make`. @internal */
export const serverLink = servers.of

/** Records the link of a registry service made by `SessionRegistry.make`, and returns the service. @internal */
export const linkRegistry = registries.link

/** The link of a registry service; a defect for a service not made by `SessionRegistry.make`. @internal */
export const registryLink = registries.of
