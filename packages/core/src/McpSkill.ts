/**
 * Declaring skills (the extension `io.modelcontextprotocol/skills`, SEP-2640): a skill is a directory of files,
 * a `SKILL.md` (YAML frontmatter with `name` and `description`, then instructions for an agent) and whatever it
 * refers to. Like a tool, a skill is a `Layer` that registers into `McpServer`, from values (`make`) or from a
 * folder on disk (`fromDirectory`):
 *
 * ```ts
 * const Refunds = McpSkill.make({
 *   prefix: "acme/billing",
 *   skill: "---\nname: refunds\ndescription: Process refund requests\n---\n\nRead references/POLICY.md first.\n",
 *   files: { "references/POLICY.md": "# Refund policy\n..." }
 * })
 * ```
 *
 * Each file is a resource at `skill://<prefix>/<name>/<path>` (an `McpResource` layer, so `resources/list` and
 * `resources/read` serve it; `SKILL.md` named and described from its frontmatter, as `text/markdown`), and the
 * skill's entry (its frontmatter, and every file's `sha256:` digest and size) is served by `skills/list` and
 * `skills/get`; the directories the files make are read with `resources/directory/read`. While at least one skill
 * is registered the server declares the extension (`{ directoryRead: true }`). Skills come and go with their layers,
 * and sessions hear of it as `notifications/resources/list_changed`, in both eras.
 *
 * The skill is checked when its layer is built (the frontmatter parses, its `name` follows the Agent Skills rules,
 * the paths stay inside the skill, the extension's limits of 512 files and 16 MiB hold): a skill that does not is
 * a `SkillError`, and the layer fails.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Skills from "./internal/server/skills.js"
import * as SkillFile from "./internal/shared/skillFile.js"
import type * as McpSchema from "./McpSchema.js"
import * as McpResource from "./McpResource.js"
import { McpServer } from "./McpServer.js"

/** The extension's identifier, under which a server declares it in `capabilities.extensions`. @since 0.1.0 */
export const EXTENSION = Skills.EXTENSION

/** The MIME type of `SKILL.md`, and of the Markdown files of a skill. @since 0.1.0 */
export const MARKDOWN = "text/markdown"

/** The most files a skill may have, `SKILL.md` included (the extension's limit). @since 0.1.0 */
export const MAX_FILES = 512

/** The most bytes a skill's files may add up to (the extension's limit, 16 MiB). @since 0.1.0 */
export const MAX_BYTES = 16 * 1024 * 1024

/** Why a skill cannot be served: what is wrong with it, or the I/O error reading it. @since 0.1.0 */
export class SkillError extends Data.TaggedError("SkillError")<{
  /** Where the skill came from: its directory, or its prefix and name. */
  readonly skill: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** A file's content: text (sent as text, digested as its UTF-8 bytes) or bytes. @since 0.1.0 */
export type Content = string | Uint8Array

/** What `make` takes. @since 0.1.0 */
export interface Options {
  /**
   * The organizational prefix of the skill's path (`acme/billing`), before its name: the skill is then served at
   * `skill://acme/billing/<name>/SKILL.md`. None by default (`skill://<name>/SKILL.md`).
   */
  readonly prefix?: string | undefined
  /** The content of `SKILL.md`. */
  readonly skill: string
  /** The supporting files, by path from the skill's root (`references/FORMS.md`). */
  readonly files?: { readonly [path: string]: Content } | undefined
  /** MIME types by file extension (`{ ".tsv": "text/tab-separated-values" }`), over the built-in ones. */
  readonly mimeTypes?: { readonly [extension: string]: string } | undefined
}

/** What `fromDirectory` takes. @since 0.1.0 */
export interface DirectoryOptions {
  /** As for `make`. */
  readonly prefix?: string | undefined
  /** As for `make`. */
  readonly mimeTypes?: { readonly [extension: string]: string } | undefined
}

/** A skill's layer: it registers the skill's files and entry, and fails with `SkillError` for an invalid skill. @since 0.1.0 */
export type SkillLayer<R = never> = Layer.Layer<never, SkillError, McpServer | R>

const TYPES: { readonly [extension: string]: string } = {
  ".md": MARKDOWN,
  ".markdown": MARKDOWN,
  ".txt": "text/plain",
  ".html": "text/html",
  ".css": "text/css",
  ".csv": "text/csv",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".ts": "text/x-typescript",
  ".py": "text/x-python",
  ".sh": "text/x-shellscript",
  ".json": "application/json",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".xml": "application/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".pdf": "application/pdf",
  ".zip": "application/zip"
}

const TEXTUAL = /^text\/|^application\/(?:json|yaml|xml)$|\+xml$/

const SKILL_MD = "SKILL.md"

/** A file ready to serve: its path in the skill, its bytes, and its text when it is served as text. */
interface File {
  readonly path: string
  readonly bytes: Uint8Array
  readonly text: string | undefined
}

const utf8 = new TextEncoder()
// Fatal, and keeping a byte order mark: a text served must encode back to exactly the bytes digested.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const textOf = (bytes: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

const extensionOf = (path: string): string => {
  const base = path.slice(path.lastIndexOf("/") + 1)
  const dot = base.lastIndexOf(".")
  return dot <= 0 ? "" : base.slice(dot).toLowerCase()
}

/** A relative path of plain segments: no empty, `.` or `..` segment, no backslash. */
const isPlainPath = (path: string): boolean =>
  path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== ".." && !segment.includes("\\"))

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/")

/** The entry and the resource layers of a skill, or why it cannot be served. */
const build = (
  source: string,
  prefix: string | undefined,
  files: ReadonlyArray<File>,
  mimeTypes: { readonly [extension: string]: string } | undefined
): Effect.Effect<SkillLayer, SkillError> =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(new SkillError({ skill: source, message }))
    const skillMd = files.find((file) => file.path === SKILL_MD)
    if (skillMd?.text === undefined) return yield* fail(`it has no ${SKILL_MD} in UTF-8 at its root`)
    const frontmatter = SkillFile.frontmatterOf(skillMd.text)
    if (Either.isLeft(frontmatter)) return yield* fail(`${SKILL_MD}: ${frontmatter.left}`)
    const { description, name } = frontmatter.right
    if (typeof name !== "string" || !SkillFile.NAME.test(name)) {
      return yield* fail(`${SKILL_MD}: its name must be 1-64 of a-z, 0-9 and single inner hyphens, got ${JSON.stringify(name)}`)
    }
    if (typeof description !== "string" || description === "") return yield* fail(`${SKILL_MD}: it has no description`)
    if (prefix !== undefined && !isPlainPath(prefix)) return yield* fail(`its prefix ${JSON.stringify(prefix)} is not a plain path`)
    const outside = files.find((file) => !isPlainPath(file.path))
    if (outside !== undefined) return yield* fail(`the path ${JSON.stringify(outside.path)} is not a plain path inside the skill`)
    const total = files.reduce((sum, file) => sum + file.bytes.length, 0)
    if (files.length > MAX_FILES || total > MAX_BYTES) {
      return yield* fail(`it has ${files.length} files of ${total} bytes, over the limits of ${MAX_FILES} files and ${MAX_BYTES} bytes`)
    }
    const root = `skill://${prefix === undefined ? "" : `${encodePath(prefix)}/`}${name}`
    const uri = `${root}/${SKILL_MD}`
    const served = yield* Effect.forEach(files, (file) =>
      Effect.map(SkillFile.digestOf(file.bytes), (digest) => {
        const isSkillMd = file === skillMd
        const mimeType = isSkillMd ? MARKDOWN : mimeTypes?.[extensionOf(file.path)] ?? TYPES[extensionOf(file.path)]
        const listing: McpSchema.Resource = {
          uri: isSkillMd ? uri : `${root}/${encodePath(file.path)}`,
          name: isSkillMd ? name : file.path.slice(file.path.lastIndexOf("/") + 1),
          ...(isSkillMd ? { description } : {}),
          mimeType: mimeType ?? "application/octet-stream",
          size: file.bytes.length
        }
        // Text of a textual type goes as text, the rest as base64: the digest covers the raw bytes either way.
        const body: Content = file.text !== undefined && TEXTUAL.test(listing.mimeType ?? "") ? file.text : file.bytes
        return { listing, digest, body }
      }))
    const entry: Skills.SkillEntry = {
      skill: {
        uri,
        frontmatter: { ...frontmatter.right, name, description },
        resources: served.map(({ digest, listing }) => ({ uri: listing.uri, digest, size: listing.size ?? 0 }))
      },
      files: served.map(({ listing }) => listing)
    }
    const resources = served.map(({ body, listing }) =>
      McpResource.make({ ...listing, name: listing.name, read: Effect.succeed(body) })
    )
    const register = Layer.scopedDiscard(Effect.gen(function*() {
      const server = yield* McpServer
      yield* server.addSkill(entry)
      yield* Effect.addFinalizer(() => server.removeSkill(uri))
    }))
    return Layer.mergeAll(register, ...resources)
  })

const filesOf = (skill: string, files: { readonly [path: string]: Content }): ReadonlyArray<File> =>
  [[SKILL_MD, skill] as const, ...Object.entries(files)].map(([path, content]) =>
    typeof content === "string"
      ? { path, bytes: utf8.encode(content), text: content }
      : { path, bytes: content, text: textOf(content) }
  )

/**
 * Declares a skill from values: `SKILL.md`'s content and the supporting files by path.
 *
 * @since 0.1.0
 */
export const make = (options: Options): SkillLayer => {
  const files = options.files ?? {}
  const source = `${options.prefix === undefined ? "" : `${options.prefix}/`}(${SKILL_MD} given as a value)`
  if (SKILL_MD in files) {
    return Layer.fail(new SkillError({ skill: source, message: `files must not hold ${SKILL_MD}: it is the skill option` }))
  }
  return Layer.unwrapEffect(build(source, options.prefix, filesOf(options.skill, files), options.mimeTypes))
}

/** Every file under `directory` (but those in or under a folder whose name starts with a dot), read. */
const readTree = (directory: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(directory, { recursive: true })
    const files: Array<File> = []
    for (const name of names.map((name) => name.split(path.sep).join("/")).sort()) {
      if (name.split("/").some((segment) => segment.startsWith("."))) continue
      const full = path.join(directory, name)
      const info = yield* fs.stat(full)
      if (info.type !== "File") continue
      const bytes = yield* fs.readFile(full)
      files.push({ path: name, bytes, text: textOf(bytes) })
    }
    return files
  })

/**
 * Declares the skill in a folder on disk: `SKILL.md` at its root and every file under it, read once when the
 * layer is built (dotfiles and dot-folders left out). The skill's name is its frontmatter's, which the Agent
 * Skills specification has match the folder's name.
 *
 * @since 0.1.0
 */
export const fromDirectory = (
  directory: string,
  options: DirectoryOptions = {}
): SkillLayer<FileSystem.FileSystem | Path.Path> =>
  Layer.unwrapEffect(
    readTree(directory).pipe(
      Effect.mapError((cause: PlatformError.PlatformError) =>
        new SkillError({ skill: directory, message: `it cannot be read: ${cause.message}`, cause })
      ),
      Effect.flatMap((files) => build(directory, options.prefix, files, options.mimeTypes))
    )
  )
