/**
 * Skills from the client's side (the extension `io.modelcontextprotocol/skills`, SEP-2640), on the public
 * `McpClient`: list a server's skills without fetching any of their files, load one when it is needed, and read
 * its supporting files as the skill refers to them, each checked against the skill's entry before it is handed
 * over.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const skills = yield* McpClientSkills.listAll            // entries only: nothing is read yet
 *   const skill = yield* McpClientSkills.load(skills[0]!)     // SKILL.md, verified
 *   const guide = yield* McpClientSkills.readFile(skill.skill, "references/GUIDE.md")
 * })
 * ```
 *
 * What is checked, as the extension has a host check it: a file must be listed in the entry's `resources`, its
 * byte length must be the entry's `size` and its SHA-256 the entry's `digest`, and a `SKILL.md`'s frontmatter must
 * equal the entry's field by field. Anything else fails with `SkillVerificationError`, and the content is not
 * given: to pick up a skill that changed, `get` its entry again and load that.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { SKILLS_EXTENSION } from "./internal/shared/methods.js"
import * as SkillFiles from "./internal/shared/skillFile.js"
import { McpClient, type McpClientError } from "./McpClient.js"
import * as McpSchema from "./McpSchema.js"

/** The extension's identifier. @since 0.1.0 */
export const EXTENSION = SKILLS_EXTENSION

/** The most files and bytes a skill may have for `load` to take it (the extension's limits). @since 0.1.0 */
export const LIMITS = { files: 512, bytes: 16 * 1024 * 1024 } as const

/**
 * A skill's content is not what its entry describes, so it is not handed over:
 *
 * - `entry`: the entry itself is not one to load (its URI does not end in its name's `SKILL.md`, its resources do
 *   not list `SKILL.md`, or it is over the limits);
 * - `dynamic`: the entry publishes no digests (`"resources": "dynamic"`) and `allowDynamic` was not given;
 * - `unlisted`: the file is not among the entry's resources;
 * - `missing`: the server's answer holds no content for the file;
 * - `size`, `digest`: the file's byte length or SHA-256 differs from the entry's;
 * - `frontmatter`: the `SKILL.md` has no frontmatter, or it differs from the entry's.
 *
 * @since 0.1.0
 */
export class SkillVerificationError extends Data.TaggedError("SkillVerificationError")<{
  readonly reason: "entry" | "dynamic" | "unlisted" | "missing" | "size" | "digest" | "frontmatter"
  /** The skill's URI (its `SKILL.md`). */
  readonly skill: string
  /** The file that failed. */
  readonly uri: string
  readonly message: string
}> {}

/** A file of a skill, verified. @since 0.1.0 */
export interface SkillFile {
  readonly uri: string
  readonly mimeType: string | undefined
  /** The raw bytes, as digested. */
  readonly bytes: Uint8Array
  /** The content as text, when the server sent it as text. */
  readonly text: string | undefined
}

/** A loaded skill: its entry and its verified `SKILL.md`. @since 0.1.0 */
export interface LoadedSkill {
  readonly skill: McpSchema.Skill
  readonly file: SkillFile
  /** `SKILL.md` whole. */
  readonly text: string
  /** `SKILL.md` after its frontmatter: the instructions. */
  readonly instructions: string
}

/** Options of `load` and `readFile`. @since 0.1.0 */
export interface LoadOptions {
  /**
   * Take a skill whose entry has `"resources": "dynamic"`: its files cannot be verified (only the frontmatter is),
   * and the extension lets a host decline it. Default `false`.
   */
  readonly allowDynamic?: boolean | undefined
}

/** Whether the server declares the extension, and with it `skills/list` and `skills/get`. @since 0.1.0 */
export const declared: Effect.Effect<boolean, never, McpClient> = Effect.flatMap(
  McpClient,
  (client) => Effect.map(client.capabilities, (capabilities) => capabilities.extensions?.[EXTENSION] !== undefined)
)

/** One page of the server's skills (`skills/list`): their entries, none of their files. @since 0.1.0 */
export const list = (
  options: { readonly cursor?: string | undefined } = {}
): Effect.Effect<McpSchema.ListSkillsResult, McpClientError, McpClient> =>
  Effect.flatMap(McpClient, (client) =>
    client.request(
      "skills/list",
      options.cursor === undefined ? {} : { cursor: options.cursor },
      McpSchema.ListSkillsResult
    ))

/** Every skill of the server, page after page, following `nextCursor`. @since 0.1.0 */
export const listAll: Effect.Effect<ReadonlyArray<McpSchema.Skill>, McpClientError, McpClient> = Effect.gen(
  function*() {
    const skills: Array<McpSchema.Skill> = []
    const seen = new Set<string>()
    let cursor: string | undefined
    do {
      const page = yield* list({ cursor })
      skills.push(...page.skills)
      cursor = page.nextCursor
      // A cursor given twice would page forever.
      if (cursor !== undefined && seen.has(cursor)) break
      if (cursor !== undefined) seen.add(cursor)
    } while (cursor !== undefined)
    return skills
  }
)

/** The entry of the skill whose `SKILL.md` is at `uri` (`skills/get`): for a skill named elsewhere, or a refresh. @since 0.1.0 */
export const get = (uri: string): Effect.Effect<McpSchema.Skill, McpClientError, McpClient> =>
  Effect.flatMap(McpClient, (client) =>
    Effect.map(client.request("skills/get", { uri }, McpSchema.GetSkillResult), (result) => result.skill))

/**
 * The direct children of a directory resource (`resources/directory/read`), for a server that declares
 * `directoryRead`: what the server serves now, which may be ahead of or behind an entry one holds.
 *
 * @since 0.1.0
 */
export const readDirectory = (
  uri: string,
  options: { readonly cursor?: string | undefined } = {}
): Effect.Effect<McpSchema.ReadDirectoryResult, McpClientError, McpClient> =>
  Effect.flatMap(McpClient, (client) =>
    client.request(
      "resources/directory/read",
      options.cursor === undefined ? { uri } : { uri, cursor: options.cursor },
      McpSchema.ReadDirectoryResult
    ))

const SKILL_MD = "/SKILL.md"

const rootOf = (skill: McpSchema.Skill) => skill.uri.slice(0, skill.uri.length - SKILL_MD.length)

const utf8 = new TextEncoder()

/** The bytes of `uri` in a read's answer, and its text when sent as text. */
const contentOf = (result: McpSchema.ReadResourceResult, uri: string) => {
  const contents = result.contents.find((c) => c.uri === uri)
  if (contents === undefined) return undefined
  if ("text" in contents) return { mimeType: contents.mimeType, bytes: utf8.encode(contents.text), text: contents.text }
  return Either.match(Encoding.decodeBase64(contents.blob), {
    onLeft: () => undefined,
    onRight: (bytes) => ({ mimeType: contents.mimeType, bytes, text: undefined })
  })
}

/** What is wrong with an entry before anything of it is read, if anything. */
const entryProblem = (
  skill: McpSchema.Skill,
  options: LoadOptions
): Pick<SkillVerificationError, "reason" | "message"> | undefined => {
  if (!skill.uri.endsWith(`/${skill.frontmatter.name}${SKILL_MD}`)) {
    return { reason: "entry", message: `${skill.uri} is not the SKILL.md of a skill named ${skill.frontmatter.name}` }
  }
  if (skill.resources === "dynamic") {
    return options.allowDynamic === true
      ? undefined
      : { reason: "dynamic", message: `${skill.uri} publishes no digests ("resources": "dynamic")` }
  }
  if (!skill.resources.some((resource) => resource.uri === skill.uri)) {
    return { reason: "entry", message: `the resources of ${skill.uri} do not list its SKILL.md` }
  }
  const bytes = skill.resources.reduce((sum, resource) => sum + resource.size, 0)
  if (skill.resources.length > LIMITS.files || bytes > LIMITS.bytes) {
    return {
      reason: "entry",
      message: `${skill.uri} has ${skill.resources.length} files of ${bytes} bytes, over the limits of ` +
        `${LIMITS.files} files and ${LIMITS.bytes} bytes`
    }
  }
  return undefined
}

/**
 * Reads one file of a skill and verifies it against the entry: `path` is the file's URI or its path from the
 * skill's root (`references/GUIDE.md`). Only a file the entry lists is read at all.
 *
 * @since 0.1.0
 */
export const readFile = (
  skill: McpSchema.Skill,
  path: string,
  options: LoadOptions = {}
): Effect.Effect<SkillFile, McpClientError | SkillVerificationError, McpClient> =>
  Effect.gen(function*() {
    const uri = path.includes("://") ? path : `${rootOf(skill)}/${path}`
    const refuse = (reason: SkillVerificationError["reason"], message: string) =>
      Effect.fail(new SkillVerificationError({ reason, skill: skill.uri, uri, message }))
    const problem = entryProblem(skill, options)
    if (problem !== undefined) return yield* refuse(problem.reason, problem.message)
    const listed = skill.resources === "dynamic" ? undefined : skill.resources.find((resource) => resource.uri === uri)
    if (skill.resources !== "dynamic" && listed === undefined) {
      return yield* refuse("unlisted", `${uri} is not a file of ${skill.uri}`)
    }
    const client = yield* McpClient
    const content = contentOf(yield* client.readResource(uri), uri)
    if (content === undefined) return yield* refuse("missing", `the server sent no content for ${uri}`)
    if (listed !== undefined) {
      if (content.bytes.length !== listed.size) {
        return yield* refuse("size", `${uri} is ${content.bytes.length} bytes, its entry says ${listed.size}`)
      }
      const digest = yield* SkillFiles.digestOf(content.bytes)
      if (digest !== listed.digest) return yield* refuse("digest", `${uri} hashes to ${digest}, its entry says ${listed.digest}`)
    }
    return { uri, ...content }
  })

const FRONTMATTER_END = /^\uFEFF?---\r?\n[\s\S]*?\r?\n---[ \t]*(?:\r?\n|$)/

/**
 * Loads a skill: reads its `SKILL.md`, verifies it (listed, size, digest), and checks that its frontmatter is the
 * entry's, field by field. Reads nothing else: supporting files are read when the skill refers to them
 * (`readFile`).
 *
 * @since 0.1.0
 */
export const load = (
  skill: McpSchema.Skill,
  options: LoadOptions = {}
): Effect.Effect<LoadedSkill, McpClientError | SkillVerificationError, McpClient> =>
  Effect.gen(function*() {
    const file = yield* readFile(skill, skill.uri, options)
    const text = file.text ?? new TextDecoder().decode(file.bytes)
    const refuse = (message: string) =>
      Effect.fail(new SkillVerificationError({ reason: "frontmatter", skill: skill.uri, uri: skill.uri, message }))
    const frontmatter = SkillFiles.frontmatterOf(text)
    if (Either.isLeft(frontmatter)) return yield* refuse(`${skill.uri}: ${frontmatter.left}`)
    if (!SkillFiles.jsonEqual(frontmatter.right, skill.frontmatter)) {
      const keys = new Set([...Object.keys(frontmatter.right), ...Object.keys(skill.frontmatter)])
      const differ = [...keys].filter((key) => !SkillFiles.jsonEqual(frontmatter.right[key], skill.frontmatter[key]))
      return yield* refuse(`the frontmatter of ${skill.uri} differs from its entry's in ${differ.join(", ")}`)
    }
    return { skill, file, text, instructions: text.replace(FRONTMATTER_END, "") }
  })
