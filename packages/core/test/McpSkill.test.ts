/**
 * Skills on the server (`McpSkill`, SEP-2640): the entry and its digests, the files as resources, the directories,
 * the capability, skills coming and going, and skills refused when built; in process (session era) and over real
 * sockets in both eras; and a skill read from a folder on disk.
 */
import { describe, expect, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as McpClient from "../src/McpClient.js"
import * as McpSchema from "../src/McpSchema.js"
import * as McpServer from "../src/McpServer.js"
import * as McpSkill from "../src/McpSkill.js"
import * as McpTest from "../src/McpTest.js"
import { serveHttp } from "./utils/serve.js"

const SKILL_MD = [
  "---",
  "name: refunds",
  "description: Process customer refund requests per company policy",
  "license: Apache-2.0",
  "metadata:",
  "  version: \"2.1\"",
  "  owners: [billing, support]",
  "---",
  "",
  "# Refunds",
  "",
  "Read references/POLICY.md, then pick a template from templates/.",
  ""
].join("\n")

// The SHA-256 of "abc" (FIPS 180-2, appendix B.1): the digest is checked against a value computed elsewhere.
const ABC_DIGEST = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

const Refunds = McpSkill.make({
  prefix: "acme/billing",
  skill: SKILL_MD,
  files: {
    "references/POLICY.md": "abc",
    "templates/email.md": "Dear customer,\n",
    "templates/regional/eu.md": "Dear EU customer,\n",
    "assets/logo.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xff])
  }
})

const server = (pageSize?: number) => McpServer.layer({ name: "skills", version: "1.0.0", ...(pageSize === undefined ? {} : { pageSize }) })
const ServerLive = Refunds.pipe(Layer.provideMerge(server()))

const ROOT = "skill://acme/billing/refunds"
const URI = `${ROOT}/SKILL.md`

const request = <A, I>(method: string, params: unknown, schema: Schema.Schema<A, I>) =>
  Effect.flatMap(McpClient.McpClient, (client) => client.request(method, params, schema))

const listSkills = request("skills/list", {}, McpSchema.ListSkillsResult)
const readDirectory = (uri: string, cursor?: string) =>
  request("resources/directory/read", cursor === undefined ? { uri } : { uri, cursor }, McpSchema.ReadDirectoryResult)

const codeOf = <A, E extends { readonly code?: number | undefined }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => error.code)

describe("McpSkill", () => {
  it.effect("skills/list gives the entry: the frontmatter verbatim, every file with its digest and size", () =>
    Effect.gen(function*() {
      const { nextCursor, skills } = yield* listSkills
      expect(nextCursor).toBeUndefined()
      expect(skills).toHaveLength(1)
      const [skill] = skills
      expect(skill!.uri).toBe(URI)
      expect(skill!.frontmatter).toEqual({
        name: "refunds",
        description: "Process customer refund requests per company policy",
        license: "Apache-2.0",
        metadata: { version: "2.1", owners: ["billing", "support"] }
      })
      const resources = skill!.resources === "dynamic" ? [] : skill!.resources
      expect(resources.map((r) => r.uri).sort()).toEqual([
        `${ROOT}/SKILL.md`,
        `${ROOT}/assets/logo.png`,
        `${ROOT}/references/POLICY.md`,
        `${ROOT}/templates/email.md`,
        `${ROOT}/templates/regional/eu.md`
      ])
      expect(resources.find((r) => r.uri.endsWith("POLICY.md"))).toEqual({
        uri: `${ROOT}/references/POLICY.md`,
        digest: ABC_DIGEST,
        size: 3
      })
      expect(resources.find((r) => r.uri === URI)?.size).toBe(new TextEncoder().encode(SKILL_MD).length)
      for (const resource of resources) expect(resource.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      // skills/get gives the same entry.
      const got = yield* request("skills/get", { uri: URI }, McpSchema.GetSkillResult)
      expect(got.skill).toEqual(skill)
    }).pipe(Effect.provide(McpTest.layer(ServerLive))))

  it.effect("the files are resources: SKILL.md named and described from its frontmatter, bytes as base64", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const resources = yield* client.listAllResources
      expect(resources.find((r) => r.uri === URI)).toEqual({
        uri: URI,
        name: "refunds",
        description: "Process customer refund requests per company policy",
        mimeType: "text/markdown",
        size: new TextEncoder().encode(SKILL_MD).length
      })
      const skillMd = yield* client.readResource(URI)
      expect(skillMd.contents).toEqual([{ uri: URI, mimeType: "text/markdown", text: SKILL_MD }])
      const logo = yield* client.readResource(`${ROOT}/assets/logo.png`)
      expect(logo.contents).toEqual([{ uri: `${ROOT}/assets/logo.png`, mimeType: "image/png", blob: "iVBOR/8=" }])
    }).pipe(Effect.provide(McpTest.layer(ServerLive))))

  it.effect("an unknown skill is -32602, for skills/get and for a directory read of a file or unknown URI", () =>
    Effect.gen(function*() {
      expect(yield* codeOf(request("skills/get", { uri: "skill://acme/billing/chargebacks/SKILL.md" }, McpSchema.GetSkillResult)))
        .toBe(-32602)
      expect(yield* codeOf(readDirectory(URI))).toBe(-32602)
      expect(yield* codeOf(readDirectory("skill://nowhere"))).toBe(-32602)
    }).pipe(Effect.provide(McpTest.layer(ServerLive))))

  it.effect("resources/directory/read lists direct children, subdirectories as inode/directory, up to the authority", () =>
    Effect.gen(function*() {
      const names = (result: McpSchema.ReadDirectoryResult) => result.resources.map((r) => `${r.name}:${r.mimeType}`)
      // SKILL.md goes by its skill's name.
      expect(names(yield* readDirectory(ROOT))).toEqual([
        "refunds:text/markdown",
        "assets:inode/directory",
        "references:inode/directory",
        "templates:inode/directory"
      ])
      expect(names(yield* readDirectory(`${ROOT}/templates`))).toEqual([
        "email.md:text/markdown",
        "regional:inode/directory"
      ])
      expect(names(yield* readDirectory("skill://acme"))).toEqual(["billing:inode/directory"])
      expect((yield* readDirectory("skill://acme/billing")).resources).toEqual([
        { uri: ROOT, name: "refunds", mimeType: "inode/directory" }
      ])
    }).pipe(Effect.provide(McpTest.layer(ServerLive))))

  it.effect("listings and directories are paged: an entry whole per page, a cursor that comes back", () =>
    Effect.gen(function*() {
      const first = yield* listSkills
      expect(first.skills.map((s) => s.uri)).toEqual([URI])
      const second = yield* request("skills/list", { cursor: first.nextCursor }, McpSchema.ListSkillsResult)
      expect(second.skills.map((s) => s.uri)).toEqual(["skill://other/SKILL.md"])
      expect(second.nextCursor).toBeUndefined()
      const page = yield* readDirectory(`${ROOT}/templates`)
      expect(page.resources.map((r) => r.name)).toEqual(["email.md"])
      const rest = yield* readDirectory(`${ROOT}/templates`, page.nextCursor)
      expect(rest.resources.map((r) => r.name)).toEqual(["regional"])
      expect(rest.nextCursor).toBeUndefined()
      expect(yield* codeOf(readDirectory(ROOT, page.nextCursor))).toBe(-32602)
    }).pipe(Effect.provide(McpTest.layer(
      Layer.mergeAll(
        Refunds,
        McpSkill.make({ skill: "---\nname: other\ndescription: Another skill\n---\n" })
      ).pipe(Layer.provideMerge(server(1)))
    ))))

  it.effect("the server declares the extension with directoryRead, and resources, while it has skills", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const capabilities = yield* client.capabilities
      expect(capabilities.extensions).toEqual({ [McpSkill.EXTENSION]: { directoryRead: true } })
      expect(capabilities.resources).toBeDefined()
    }).pipe(Effect.provide(McpTest.layer(ServerLive))))

  it.effect("without skills there is no extension, and its methods are unknown (-32601)", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      expect((yield* client.capabilities).extensions).toBeUndefined()
      expect(yield* codeOf(listSkills)).toBe(-32601)
      expect(yield* codeOf(readDirectory(ROOT))).toBe(-32601)
    }).pipe(Effect.provide(McpTest.layer(server()))))

  it.scoped("a skill that comes and goes: resources list_changed each time, and the listing follows", () =>
    Effect.gen(function*() {
      const serverContext = yield* Layer.build(server())
      const client = yield* McpTest.makeClient().pipe(Effect.provide(serverContext))
      const changes = yield* client.subscribe
      const heard = yield* changes.pipe(
        Stream.filter((n) => n.method === "notifications/resources/list_changed"),
        Stream.take(2),
        Stream.runDrain,
        Effect.fork
      )
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(Refunds, scope).pipe(Effect.provide(serverContext))
      const withSkill = yield* client.request("skills/list", {}, McpSchema.ListSkillsResult)
      expect(withSkill.skills.map((s) => s.uri)).toEqual([URI])
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(heard)
      expect((yield* client.capabilities).extensions).toBeUndefined()
      expect((yield* client.listAllResources).filter((r) => r.uri.startsWith("skill://"))).toEqual([])
    }))

  it.effect("a skill that breaks the rules fails its layer with SkillError, saying why", () =>
    Effect.gen(function*() {
      const failure = (skill: McpSkill.SkillLayer) =>
        Effect.map(Effect.flip(Layer.build(skill.pipe(Layer.provide(server())))), (error) => error.message)
      expect(yield* failure(McpSkill.make({ skill: "# no frontmatter\n" }))).toMatch(/frontmatter/)
      expect(yield* failure(McpSkill.make({ skill: "---\nname: Bad--Name\ndescription: x\n---\n" }))).toMatch(/name/)
      expect(yield* failure(McpSkill.make({ skill: "---\nname: ok\n---\n" }))).toMatch(/description/)
      expect(yield* failure(McpSkill.make({ skill: "---\nname: ok\ndescription: x\n---\n", files: { "../up.md": "x" } })))
        .toMatch(/plain path/)
      expect(yield* failure(McpSkill.make({ skill: "---\nname: ok\ndescription: [unclosed\n---\n" }))).toMatch(/YAML/)
      const many = Object.fromEntries(Array.from({ length: McpSkill.MAX_FILES }, (_, i) => [`f${i}.txt`, "x"]))
      expect(yield* failure(McpSkill.make({ skill: "---\nname: ok\ndescription: x\n---\n", files: many }))).toMatch(/limits/)
    }).pipe(Effect.scoped))

  it.scoped("from a folder on disk: every file but dot ones, as the same entry values give", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-mcp-skill-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const skillDir = NodePath.join(dir, "refunds")
      Fs.mkdirSync(NodePath.join(skillDir, "references"), { recursive: true })
      Fs.mkdirSync(NodePath.join(skillDir, ".git"))
      Fs.writeFileSync(NodePath.join(skillDir, "SKILL.md"), SKILL_MD)
      Fs.writeFileSync(NodePath.join(skillDir, "references", "POLICY.md"), "abc")
      Fs.writeFileSync(NodePath.join(skillDir, ".git", "HEAD"), "ref: main\n")
      const fromDisk = McpSkill.fromDirectory(skillDir, { prefix: "acme/billing" }).pipe(
        Layer.provideMerge(server()),
        Layer.provide(NodeContext.layer)
      )
      const client = yield* McpTest.makeClient().pipe(Effect.provide(yield* Layer.build(fromDisk)))
      const { skills } = yield* client.request("skills/list", {}, McpSchema.ListSkillsResult)
      const fromValues = yield* McpTest.makeClient().pipe(
        Effect.provide(yield* Layer.build(
          McpSkill.make({ prefix: "acme/billing", skill: SKILL_MD, files: { "references/POLICY.md": "abc" } })
            .pipe(Layer.provideMerge(server()))
        ))
      )
      expect(skills).toEqual((yield* fromValues.request("skills/list", {}, McpSchema.ListSkillsResult)).skills)
      // A folder that is not there fails the layer with the I/O error's reason.
      const missing = yield* Effect.flip(Layer.build(
        McpSkill.fromDirectory(NodePath.join(dir, "absent")).pipe(Layer.provide(server()), Layer.provide(NodeContext.layer))
      ))
      expect(missing).toBeInstanceOf(McpSkill.SkillError)
      expect(missing.message).toMatch(/cannot be read/)
    }))

  for (const protocol of ["legacy", "modern"] as const) {
    it.scopedLive(`over HTTP in the ${protocol} era: list, get, read, directory`, () =>
      Effect.gen(function*() {
        const url = yield* serveHttp(Layer.orDie(ServerLive))
        const context = yield* Layer.build(
          McpClient.layerStreamableHttp({ url, protocol }).pipe(Layer.provide(FetchHttpClient.layer))
        )
        const c = yield* Effect.provide(McpClient.McpClient, context)
        expect(yield* c.era).toBe(protocol)
        const listed = yield* Effect.provide(listSkills, context)
        expect(listed.skills.map((s) => s.uri)).toEqual([URI])
        const raw = yield* c.request("skills/get", { uri: URI }, Schema.Unknown)
        // 2026-07-28 results carry the cache hints, as skills/get extends CacheableResult.
        expect(typeof raw === "object" && raw !== null && "ttlMs" in raw).toBe(protocol === "modern")
        const read = yield* c.readResource(`${ROOT}/references/POLICY.md`)
        expect(read.contents).toEqual([{ uri: `${ROOT}/references/POLICY.md`, mimeType: "text/markdown", text: "abc" }])
        const dir = yield* Effect.provide(readDirectory(`${ROOT}/references`), context)
        expect(dir.resources.map((r) => r.uri)).toEqual([`${ROOT}/references/POLICY.md`])
        expect(Option.isSome(yield* c.sessionId)).toBe(protocol === "legacy")
      }))
  }
})
