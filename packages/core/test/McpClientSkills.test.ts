/**
 * Skills from the client's side (`McpClientSkills`, SEP-2640), against effect-mcp's own server in process: listing
 * reads no file, a load reads `SKILL.md` only and verifies it, a supporting file is read and verified on demand,
 * and content that is not what its entry says (size, digest, frontmatter, unlisted) is refused.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as McpClient from "../src/McpClient.js"
import * as McpClientSkills from "../src/McpClientSkills.js"
import type * as McpSchema from "../src/McpSchema.js"
import * as McpResource from "../src/McpResource.js"
import * as McpServer from "../src/McpServer.js"
import * as McpSkill from "../src/McpSkill.js"
import * as McpTest from "../src/McpTest.js"

const SKILL_MD = "---\nname: pdf-processing\ndescription: Extract, fill, and assemble PDF documents\n---\n\nSee references/FORMS.md.\n"
const FORMS = "# Forms\n"
const URI = "skill://pdf-processing/SKILL.md"
const FORMS_URI = "skill://pdf-processing/references/FORMS.md"

const server = McpServer.layer({ name: "skills", version: "1.0.0" })

/** A server that counts the reads of each skill file, so a test sees what the client fetched. */
const counted = (reads: Map<string, number>, files: { readonly [uri: string]: string }) =>
  Layer.mergeAll(Layer.empty, ...Object.entries(files).map(([uri, text]) =>
    McpResource.make({
      uri,
      name: uri,
      read: Effect.sync(() => {
        reads.set(uri, (reads.get(uri) ?? 0) + 1)
        return text
      })
    })
  ))

/**
 * A skill whose entry is `entry` and whose files are served as `files`: hand-registered, so the two can disagree
 * as a tampered or stale server's would.
 */
const skillServer = (entry: McpSchema.Skill, files: { readonly [uri: string]: string }, reads = new Map<string, number>()) =>
  Layer.mergeAll(
    counted(reads, files),
    Layer.effectDiscard(Effect.flatMap(McpServer.McpServer, (s) => s.addSkill({ skill: entry, files: [] })))
  ).pipe(Layer.provideMerge(server))

/** The entry `McpSkill` publishes for the untampered skill. */
const honestEntry = Effect.gen(function*() {
  const [skill] = yield* McpClientSkills.listAll
  return skill!
}).pipe(
  Effect.provide(McpTest.layer(
    McpSkill.make({ skill: SKILL_MD, files: { "references/FORMS.md": FORMS } }).pipe(Layer.provideMerge(server))
  ))
)

const refusal = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.flip(effect), (error) =>
    error instanceof McpClientSkills.SkillVerificationError ? `${error.reason}: ${error.uri}` : `other: ${String(error)}`)

describe("McpClientSkills", () => {
  it.effect("lists without reading, loads SKILL.md only, reads a supporting file when asked, all verified", () =>
    Effect.gen(function*() {
      const entry = yield* honestEntry
      const reads = new Map<string, number>()
      yield* Effect.gen(function*() {
        expect(yield* McpClientSkills.declared).toBe(true)
        const skills = yield* McpClientSkills.listAll
        expect(skills).toEqual([entry])
        expect(yield* McpClientSkills.get(URI)).toEqual(entry)
        expect([...reads.keys()]).toEqual([])
        const loaded = yield* McpClientSkills.load(skills[0]!)
        expect(loaded.text).toBe(SKILL_MD)
        expect(loaded.instructions).toBe("\nSee references/FORMS.md.\n")
        expect([...reads.keys()]).toEqual([URI])
        const forms = yield* McpClientSkills.readFile(loaded.skill, "references/FORMS.md")
        expect(forms.text).toBe(FORMS)
        expect(forms.bytes).toEqual(new TextEncoder().encode(FORMS))
        expect(Object.fromEntries(reads)).toEqual({ [URI]: 1, [FORMS_URI]: 1 })
      }).pipe(Effect.provide(McpTest.layer(skillServer(entry, { [URI]: SKILL_MD, [FORMS_URI]: FORMS }, reads))))
    }))

  it.effect("refuses content whose size, digest or frontmatter is not its entry's, and files it does not list", () =>
    Effect.gen(function*() {
      const entry = yield* honestEntry
      const check = (
        files: { readonly [uri: string]: string },
        effect: Effect.Effect<unknown, unknown, McpClient.McpClient> = McpClientSkills.load(entry)
      ) =>
        refusal(effect).pipe(Effect.provide(McpTest.layer(skillServer(entry, files))))
      // The same length, other bytes: only the digest tells.
      expect(yield* check({ [URI]: SKILL_MD.replace("See", "Sea") })).toBe(`digest: ${URI}`)
      expect(yield* check({ [URI]: `${SKILL_MD}more` })).toBe(`size: ${URI}`)
      expect(yield* check({ [URI]: SKILL_MD, [FORMS_URI]: "# Farms\n" }, McpClientSkills.readFile(entry, FORMS_URI)))
        .toBe(`digest: ${FORMS_URI}`)
      // Not listed: refused before anything is read.
      expect(yield* check({}, McpClientSkills.readFile(entry, "scripts/run.sh")))
        .toBe("unlisted: skill://pdf-processing/scripts/run.sh")
    }))

  it.effect("refuses a SKILL.md whose frontmatter differs from its entry's even when its digest matches", () =>
    Effect.gen(function*() {
      const tampered = SKILL_MD.replace("Extract, fill, and assemble PDF documents", "Exfiltrate credentials")
      // The entry describes the tampered file's bytes, but its frontmatter is the honest one.
      const honest = yield* honestEntry
      const described = yield* McpClientSkills.listAll.pipe(
        Effect.provide(McpTest.layer(McpSkill.make({ skill: tampered }).pipe(Layer.provideMerge(server))))
      )
      const entry: McpSchema.Skill = { ...honest, resources: described[0]!.resources }
      const result = yield* refusal(McpClientSkills.load(entry)).pipe(
        Effect.provide(McpTest.layer(skillServer(entry, { [URI]: tampered })))
      )
      expect(result).toBe(`frontmatter: ${URI}`)
    }))

  it.effect("refuses an entry that is not one to load: a dynamic one (unless allowed), a name not in its URI", () =>
    Effect.gen(function*() {
      const honest = yield* honestEntry
      const dynamic: McpSchema.Skill = { ...honest, resources: "dynamic" }
      const files = { [URI]: SKILL_MD }
      expect(yield* refusal(McpClientSkills.load(dynamic)).pipe(Effect.provide(McpTest.layer(skillServer(dynamic, files)))))
        .toBe(`dynamic: ${URI}`)
      const loaded = yield* McpClientSkills.load(dynamic, { allowDynamic: true }).pipe(
        Effect.provide(McpTest.layer(skillServer(dynamic, files)))
      )
      expect(loaded.text).toBe(SKILL_MD)
      const misnamed: McpSchema.Skill = { ...honest, frontmatter: { ...honest.frontmatter, name: "other" } }
      expect(yield* refusal(McpClientSkills.load(misnamed)).pipe(Effect.provide(McpTest.layer(skillServer(misnamed, files)))))
        .toBe(`entry: ${URI}`)
    }))
})
