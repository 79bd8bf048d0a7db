/**
 * The redirect step of the client's OAuth for CLI apps: a loopback server on 127.0.0.1 receives the authorization
 * response (RFC 8252 section 7.3), and the user's browser is opened on the authorization URL, or the URL is
 * printed when no browser can be opened.
 *
 * ```ts
 * McpClient.layerStreamableHttp({ url, auth: {} }).pipe(Layer.provide(NodeMcpClientAuth.layerLoopback()))
 * ```
 *
 * @since 0.1.0
 */
import * as McpClientAuth from "@effect-mcp/core/McpClientAuth"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"

/** @since 0.1.0 */
export interface LoopbackOptions {
  /** The port to listen on. Default 0: one the system picks (the redirect URI then names it). */
  readonly port?: number | undefined
  /** The redirect URI's path. Default `/callback`. */
  readonly path?: string | undefined
  /** Open the browser on the authorization URL. Default true; the URL is printed on stderr either way. */
  readonly openBrowser?: boolean | undefined
  /** How long the user has to authorize. Default 5 minutes. */
  readonly timeout?: number | undefined
}

const PAGE = "<!doctype html><title>Authorized</title><p>You may close this window and return to the app.</p>"

/** The command that opens a URL in the user's browser on this platform. */
const opener = (): readonly [string, ReadonlyArray<string>] =>
  process.platform === "darwin"
    ? ["open", []]
    : process.platform === "win32"
    ? ["cmd", ["/c", "start", ""]]
    : ["xdg-open", []]

/** Opens the browser on `url`; false when it could not (no browser, no display). */
const openBrowser = (url: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const [command, args] = opener()
    const child = ChildProcess.spawn(command, [...args, url], { stdio: "ignore", detached: true })
    child.once("error", () => resume(Effect.succeed(false)))
    child.once("spawn", () => {
      child.unref()
      resume(Effect.succeed(true))
    })
  })

/**
 * An `AuthorizationHandler` that listens on 127.0.0.1 for the redirect, for the life of the layer. One
 * authorization at a time: the redirect answers the one waiting.
 *
 * @since 0.1.0
 */
export const layerLoopback = (options: LoopbackOptions = {}): Layer.Layer<McpClientAuth.AuthorizationHandler> =>
  Layer.scoped(
    McpClientAuth.AuthorizationHandler,
    Effect.gen(function*() {
      const path = options.path ?? "/callback"
      let waiting: Deferred.Deferred<string> | undefined
      const server = Http.createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://127.0.0.1")
        if (url.pathname !== path || waiting === undefined) {
          response.writeHead(404).end()
          return
        }
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE)
        Deferred.unsafeDone(waiting, Effect.succeed(url.href))
      })
      const port = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          // Listening on the loopback address only: nothing else may deliver a code.
          server.listen(options.port ?? 0, "127.0.0.1", () => {
            const address = server.address()
            resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
          })
          return Effect.void
        }),
        () =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const redirectUri = `http://127.0.0.1:${port}${path}`
      const lock = yield* Effect.makeSemaphore(1)
      const authorize = (url: URL) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const redirect = yield* Deferred.make<string>()
          waiting = redirect
          const opened = options.openBrowser === false ? false : yield* openBrowser(url.href)
          yield* Effect.sync(() =>
            process.stderr.write(
              `${opened ? "If your browser did not open, visit" : "To authorize, visit"}:\n  ${url.href}\n`
            )
          )
          const location = yield* Deferred.await(redirect).pipe(
            Effect.timeoutFail({
              duration: options.timeout ?? 5 * 60_000,
              onTimeout: () =>
                new McpClientAuth.McpAuthError({ step: "authorization", message: "The user did not authorize in time" })
            }),
            Effect.ensuring(Effect.sync(() => {
              waiting = undefined
            }))
          )
          return yield* McpClientAuth.responseFromRedirect(location)
        }))
      return { redirectUri, authorize }
    })
  )
