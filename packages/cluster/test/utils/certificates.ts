/**
 * Certificates made with `openssl` at test time: CAs of the test's own and the certificates they sign (for
 * 127.0.0.1 and a DNS name, good for both ends of a TLS connection), in a directory removed with the scope.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import { commandPath } from "./redisServer.js"

/** The path of `openssl`, installed first where it is missing and can be. */
export const opensslPath = (): string => commandPath("openssl", ["openssl"])

/** A certificate and its key, with the CA that signed it: PEM text. */
export interface Pem {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

/** A CA of the test's own. */
export interface Authority {
  readonly ca: string
  /** A certificate for 127.0.0.1 and `dns`, signed by this CA. */
  readonly sign: (dns: string) => Pem
}

/** Makes CAs (`authority`) in a temporary directory removed with the scope. */
export const certificateMaker = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-mcp-certificates-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  const openssl = opensslPath()
  let serial = 0
  const run = (args: ReadonlyArray<string>) => ChildProcess.execFileSync(openssl, args, { stdio: "ignore" })
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  const at = (file: string) => Path.join(dir, file)
  const read = (file: string) => Fs.readFileSync(at(file), "utf8")
  return {
    /** Where they are made: a test may keep files of its own there. */
    dir,
    authority: (name: string): Authority => {
      run(["req", "-x509", ...ec, "-keyout", at(`${name}.key`), "-out", at(`${name}.pem`), "-days", "2", "-subj", `/CN=${name}`])
      const ca = read(`${name}.pem`)
      return {
        ca,
        sign: (dns) => {
          const id = `leaf-${++serial}`
          run(["req", ...ec, "-keyout", at(`${id}.key`), "-out", at(`${id}.csr`), "-subj", `/CN=${id}`])
          Fs.writeFileSync(at(`${id}.ext`), `subjectAltName=DNS:${dns},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`)
          run(["x509", "-req", "-in", at(`${id}.csr`), "-CA", at(`${name}.pem`), "-CAkey", at(`${name}.key`),
            "-set_serial", String(serial), "-days", "2", "-out", at(`${id}.pem`), "-extfile", at(`${id}.ext`)])
          return { ca, cert: read(`${id}.pem`), key: read(`${id}.key`) }
        }
      }
    }
  }
})
