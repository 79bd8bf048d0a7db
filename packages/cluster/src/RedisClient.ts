/**
 * The little of Redis the cluster uses, as a service of ours: send a command, run a script. `layer` provides it
 * over node-redis (`redis`); a test, or another backend speaking the same commands, can provide its own.
 *
 * It fails fast rather than waiting: the offline queue is off, so a command sent while the connection is down
 * fails at once, and every command has a deadline (`commandTimeout`), so a Redis that stopped answering (frozen,
 * paused, partitioned away) fails it within that time. The cluster decides what a failure means (503, never a
 * wrong 404); the client reconnects by itself.
 *
 * Reads go on a connection of their own (the read-only commands and scripts, see `fromSend`): Redis answers a
 * connection's commands in order, so a write it holds (`CLIENT PAUSE ... WRITE`, as in a failover) would hold
 * every later command of its connection, the lease lookups with it. Nothing the cluster does needs a read to
 * see a write whose reply has not come back: each read follows the writes it must see in sequence.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createClient } from "redis"

/** A reply, as RESP2 gives it: a string, an integer, nil, or an array of replies. @since 0.1.0 */
export type Reply = string | number | null | ReadonlyArray<Reply>

/** Redis could not be reached in time, or it answered with an error. @since 0.1.0 */
export class RedisError extends Data.TaggedError("RedisError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * A Lua script, sent by its digest once Redis knows it (`EVALSHA`), in full otherwise. A read-only one goes as
 * `EVALSHA_RO` (Redis 7), with the reads: Redis runs it while it holds writes, a replica may serve it, and it is
 * told apart from writes in Redis's command counts.
 *
 * @since 0.1.0
 */
export interface Script {
  readonly source: string
  readonly sha1: string
  readonly readOnly: boolean
}

/** A script from its source. @since 0.1.0 */
export const script = (source: string, options: { readonly readOnly?: boolean } = {}): Script => ({
  source,
  sha1: createHash("sha1").update(source).digest("hex"),
  readOnly: options.readOnly === true
})

/** @since 0.1.0 */
export interface RedisClientService {
  /**
   * Sends one command (`["SET", key, value, "PX", "3000"]`) and gives its reply. A read may go on a connection of
   * its own (`fromSend`): one that must see a write is sent once the write's reply came back, not beside it.
   */
  readonly send: (command: ReadonlyArray<string>) => Effect.Effect<Reply, RedisError>
  /** Runs a script with its keys and arguments. */
  readonly eval: (
    script: Script,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string>
  ) => Effect.Effect<Reply, RedisError>
  /**
   * Hears a channel's messages for the caller's scope, on a connection of its own, subscribed again after every
   * reconnection (what is published while it is away is not heard). Publish with `send(["PUBLISH", ...])`.
   */
  readonly subscribe: (
    channel: string,
    onMessage: (message: string) => void
  ) => Effect.Effect<void, RedisError, Scope.Scope>
}

/**
 * The Redis the cluster uses.
 *
 * @since 0.1.0
 */
export class RedisClient extends Context.Tag("@effect-mcp/cluster/RedisClient")<RedisClient, RedisClientService>() {}

/** The commands that only read, which `fromSend` gives to its `read`; named as Redis names them. */
const READS: ReadonlySet<string> = new Set([
  "GET",
  "MGET",
  "EXISTS",
  "STRLEN",
  "PTTL",
  "TTL",
  "TIME",
  "EVAL_RO",
  "EVALSHA_RO"
])

const isRead = (command: ReadonlyArray<string>): boolean => {
  const name = command[0]
  return name !== undefined && (READS.has(name) || READS.has(name.toUpperCase()))
}

/**
 * A client from a way to send commands and one to subscribe: scripts go by digest, and in full the first time
 * Redis does not know it (after a restart, or a failover to a replica that never saw it). `read`, when given,
 * sends the read-only commands (`GET`, `MGET`, `EXISTS`, `STRLEN`, `PTTL`, `TTL`, `TIME`) and scripts instead of
 * `send`: over a connection of its own, a read is not held behind a write that Redis holds.
 *
 * @since 0.1.0
 */
export const fromSend = (
  send: RedisClientService["send"],
  subscribe: RedisClientService["subscribe"],
  read: RedisClientService["send"] = send
): RedisClientService => ({
  send: read === send ? send : (command) => isRead(command) ? read(command) : send(command),
  subscribe,
  eval: (script, keys, args) => {
    const tail = [String(keys.length), ...keys, ...args]
    const to = script.readOnly ? read : send
    const suffix = script.readOnly ? "_RO" : ""
    return Effect.catchIf(
      to([`EVALSHA${suffix}`, script.sha1, ...tail]),
      (error) => error.reason.startsWith("NOSCRIPT"),
      () => to([`EVAL${suffix}`, script.source, ...tail])
    )
  }
})

/** @since 0.1.0 */
export interface Options {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly url: string
  /** How long a command may take before it fails. Default 500 ms. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** How long the first connection may take before building the layer fails. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * For `rediss://`: the CA that signed the server's certificate, when it is not one Node trusts (a private CA),
   * and this client's own certificate and key, when Redis asks for one (`tls-auth-clients`). PEM text.
   */
  readonly tls?: TlsOptions | undefined
}

/** What a `rediss://` connection trusts and presents. @since 0.1.0 */
export interface TlsOptions {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

// Only what was given: node-redis merges these socket options with what the URL says (TLS on, host, port).
const tlsSocket = (tls: TlsOptions | undefined) => ({
  ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
  ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
  ...(tls?.key === undefined ? {} : { key: tls.key })
})

const replyOf = (value: unknown): Reply | RedisError => {
  if (value === null || typeof value === "string" || typeof value === "number") return value
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8")
  if (Array.isArray(value)) {
    const replies: Array<Reply> = []
    for (const item of value) {
      const reply = replyOf(item)
      if (reply instanceof RedisError) return reply
      replies.push(reply)
    }
    return replies
  }
  return new RedisError({ reason: `unexpected reply of type ${typeof value}` })
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

type NodeRedis = ReturnType<typeof createClient>

/** `start` (connecting, subscribing) done within `limit`, or a failure that says what could not be done. */
const within = <A>(what: string, limit: Duration.Duration, start: () => Promise<A>) =>
  Effect.tryPromise({
    try: start,
    catch: (cause) => new RedisError({ reason: `cannot ${what}: ${messageOf(cause)}`, cause })
  }).pipe(
    Effect.timeoutFail({
      duration: limit,
      onTimeout: () => new RedisError({ reason: `cannot ${what} within ${Duration.format(limit)}` })
    })
  )

/** A connection of the client, closed with the scope; node-redis reports every failed reconnection to "error". */
const opened = (client: NodeRedis) =>
  Effect.as(
    Effect.acquireRelease(
      Effect.sync(() => client.on("error", () => {})),
      () => Effect.sync(() => client.destroy())
    ),
    client
  )

/** Sends a command on one connection, with a deadline on its reply. */
const sender = (client: NodeRedis, timeoutMs: number): RedisClientService["send"] => {
  // node-redis's own command timeout covers only the wait to be sent: the deadline covers the reply too.
  const late = () => new RedisError({ reason: `Redis did not answer within ${timeoutMs} ms` })
  return (command) =>
    Effect.tryPromise({
      try: () => client.sendCommand(command),
      catch: (cause) => new RedisError({ reason: messageOf(cause), cause })
    }).pipe(
      Effect.timeoutFail({ duration: timeoutMs, onTimeout: late }),
      Effect.flatMap((value) => {
        const reply = replyOf(value)
        return reply instanceof RedisError ? Effect.fail(reply) : Effect.succeed(reply)
      })
    )
}

// Connecting needs no credentials: a missing or refused one shows only at the first command, so at start-up.
const admitted = (send: RedisClientService["send"]) =>
  Effect.mapError(
    send(["PING"]),
    (error) => new RedisError({ reason: `Redis refused this client: ${error.reason}`, cause: error })
  )

/**
 * A node-redis client in the current scope: its connections (one for writes and everything else, one for the
 * reads, one more for each `subscribe`) connected and let in within `connectTimeout`, or it fails; closed with
 * the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<RedisClientService, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.toMillis(Duration.decode(options.commandTimeout ?? Duration.millis(500)))
    const connectTimeout = Duration.decode(options.connectTimeout ?? Duration.seconds(5))
    const client = yield* opened(createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        ...tlsSocket(options.tls),
        connectTimeout: Math.max(timeout, 1000),
        // Keep trying, soon: a Redis that restarts should be found again within about a beat.
        reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500)
      }
    }))
    // The same URL, TLS and credentials, and the same way of failing fast.
    const reader = yield* opened(client.duplicate())
    yield* Effect.all(
      [client, reader].map((connection) => within("connect to Redis", connectTimeout, () => connection.connect())),
      { concurrency: "unbounded", discard: true }
    )
    const send = sender(client, timeout)
    const read = sender(reader, timeout)
    const subscribe = (channel: string, onMessage: (message: string) => void) =>
      Effect.flatMap(opened(client.duplicate()), (subscriber) =>
        within(
          `subscribe to ${channel}`,
          connectTimeout,
          () => subscriber.connect().then(() => subscriber.subscribe(channel, onMessage))
        ))
    yield* Effect.all([admitted(send), admitted(read)], { concurrency: "unbounded", discard: true })
    return fromSend(send, subscribe, read)
  })

/**
 * The client as a layer over node-redis.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RedisClient, RedisError> =>
  Layer.scoped(RedisClient, make(options))
