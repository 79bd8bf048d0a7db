/**
 * The skills a server serves (SEP-2640, `io.modelcontextprotocol/skills`): their entries, the `skills/list`,
 * `skills/get` and `resources/directory/read` handlers, and the capability they declare. A skill's files are
 * ordinary resources (`McpSkill` registers them as such); what is here is what the extension adds on top: the
 * entries with their digests, and the directories the files' URIs make.
 *
 * Like the registry's listings, the listing and the directory tree are built once per change, their pages when
 * first asked for.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JsonRpc from "../../JsonRpc.js"
import type * as McpSchema from "../../McpSchema.js"
import { SKILLS_EXTENSION } from "../shared/methods.js"
import type { Handler } from "./dispatch.js"
import * as Pagination from "./pagination.js"

/** The extension's identifier. @internal */
export const EXTENSION = SKILLS_EXTENSION

/** The MIME type of a directory resource. @internal */
export const DIRECTORY = "inode/directory"

/**
 * A registered skill: its entry and the listing of each of its files (what a directory read shows of them).
 * Built by `McpSkill`.
 *
 * @since 0.1.0
 */
export interface SkillEntry {
  readonly skill: McpSchema.Skill
  readonly files: ReadonlyArray<McpSchema.Resource>
}

/** The URI up to the last `/`, when there is a path after the authority: a file's or directory's parent. */
const parentOf = (uri: string): string | undefined => {
  const scheme = uri.indexOf("://")
  const slash = uri.lastIndexOf("/")
  return scheme < 0 || slash <= scheme + 2 ? undefined : uri.slice(0, slash)
}

const directory = (uri: string): McpSchema.Resource => ({
  uri,
  name: uri.slice(uri.lastIndexOf("/") + 1),
  mimeType: DIRECTORY
})

/** Every directory the files' URIs pass through (down to the authority), with its direct children by URI. */
const treeOf = (entries: Iterable<SkillEntry>): Map<string, Map<string, McpSchema.Resource>> => {
  const tree = new Map<string, Map<string, McpSchema.Resource>>()
  const place = (child: McpSchema.Resource): void => {
    const parent = parentOf(child.uri)
    if (parent === undefined) return
    let children = tree.get(parent)
    if (children === undefined) {
      children = new Map()
      tree.set(parent, children)
      place(directory(parent))
    }
    children.set(child.uri, child)
  }
  for (const entry of entries) for (const file of entry.files) place(file)
  return tree
}

const next = (nextCursor: string | undefined) => nextCursor === undefined ? {} : { nextCursor }

/**
 * The skills of one server.
 * @internal
 */
export class Catalog {
  readonly skills = new Map<string, SkillEntry>()
  private listPages: Pagination.Pages<McpSchema.ListSkillsResult> | undefined
  private tree: Map<string, Map<string, McpSchema.Resource>> | undefined
  private directoryPages = new Map<string, Pagination.Pages<McpSchema.ReadDirectoryResult>>()

  constructor(
    private readonly pageSize: number,
    /** Tells the registry the capabilities may have changed. */
    private readonly onChange: () => void
  ) {}

  private changed(): void {
    this.listPages = this.tree = undefined
    this.directoryPages = new Map()
    this.onChange()
  }

  add(entry: SkillEntry): void {
    this.skills.set(entry.skill.uri, entry)
    this.changed()
  }

  remove(uri: string): void {
    if (this.skills.delete(uri)) this.changed()
  }

  /** What the server declares under `extensions` while it has skills. */
  capability(): { readonly [EXTENSION]: { readonly directoryRead: true } } | undefined {
    return this.skills.size === 0 ? undefined : { [EXTENSION]: { directoryRead: true } }
  }

  list(cursor: string | undefined): Either.Either<McpSchema.ListSkillsResult, JsonRpc.JsonRpcError> {
    this.listPages ??= Pagination.make({
      list: "skills",
      items: this.skills.values(),
      key: (entry) => entry.skill.uri,
      pageSize: this.pageSize,
      // An entry is never split across pages: a page holds whole entries.
      result: (page, nextCursor) => ({ skills: page.map((entry) => entry.skill), ...next(nextCursor) })
    })
    return this.listPages(cursor)
  }

  get(uri: string): Either.Either<McpSchema.GetSkillResult, JsonRpc.JsonRpcError> {
    const entry = this.skills.get(uri)
    return entry === undefined
      ? Either.left(JsonRpc.invalidParams(`No skill is served at ${uri}`))
      : Either.right({ skill: entry.skill })
  }

  /** The direct children of a directory the skills' files make; -32602 for any other URI. */
  readDirectory(uri: string, cursor: string | undefined): Either.Either<McpSchema.ReadDirectoryResult, JsonRpc.JsonRpcError> {
    let pages = this.directoryPages.get(uri)
    if (pages === undefined) {
      this.tree ??= treeOf(this.skills.values())
      const children = this.tree.get(uri)
      if (children === undefined) return Either.left(JsonRpc.invalidParams(`${uri} is not a directory resource`))
      pages = Pagination.make({
        list: `directory ${uri}`,
        items: children.values(),
        key: (child) => child.uri,
        pageSize: this.pageSize,
        result: (page, nextCursor) => ({ resources: page, ...next(nextCursor) })
      })
      this.directoryPages.set(uri, pages)
    }
    return pages(cursor)
  }
}

const answer = <A>(result: Either.Either<A, JsonRpc.JsonRpcError>) =>
  Either.match(result, { onLeft: Effect.fail, onRight: Effect.succeed })

/** A server without skills has not declared the extension: its methods are unknown there. */
const declared = <A>(catalog: Catalog, method: string, result: () => Either.Either<A, JsonRpc.JsonRpcError>) =>
  catalog.skills.size === 0 ? Effect.fail(JsonRpc.methodNotFound(method)) : answer(result())

/**
 * The extension's handlers, for the dispatcher's table.
 * @internal
 */
export const handlers = (catalog: Catalog): {
  readonly "skills/list": Handler<"skills/list">
  readonly "skills/get": Handler<"skills/get">
  readonly "resources/directory/read": Handler<"resources/directory/read">
} => ({
  "skills/list": ({ cursor }) => declared(catalog, "skills/list", () => catalog.list(cursor)),
  "skills/get": ({ uri }) => declared(catalog, "skills/get", () => catalog.get(uri)),
  "resources/directory/read": ({ cursor, uri }) =>
    declared(catalog, "resources/directory/read", () => catalog.readDirectory(uri, cursor))
})
