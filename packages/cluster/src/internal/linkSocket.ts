/**
 * How the links' sockets are made: plain TCP, or TLS with the user's certificates, or TLS keyed by the cluster
 * key (TLS-PSK). It is the one place a link's transport is chosen: `link.ts` and `linkServer.ts` read and write
 * the socket they are given the same way whichever it is, so frames, batching and the HMAC challenge (which still
 * runs inside TLS, binding the link to the cluster key in every mode) are the same. The certificates are read and
 * the keys derived once per instance, not per connection.
 * @internal
 */
import { createHmac } from "node:crypto"
import * as Net from "node:net"
import * as Tls from "node:tls"

/**
 * The certificates of TLS on the links, PEM text: `ca` signed the certificate of every instance (each end checks
 * the other's against it), `cert` and `key` are this instance's. Instances are usually reached by IP, so the
 * owner's certificate is not checked to name anything unless `servername` is given: then it must name that.
 */
export interface Certificates {
  readonly ca: string
  readonly cert: string
  readonly key: string
  readonly servername?: string | undefined
}

/**
 * TLS on the links: the user's `Certificates`, or `"cluster-key"`: TLS 1.2 with a pre-shared key derived from the
 * cluster key (ECDHE-PSK ciphers, so past traffic stays secret if the key leaks later), nothing else to set up.
 */
export type Options = Certificates | "cluster-key"

/** Makes the sockets of this instance's links. @internal */
export interface Sockets {
  /** Connects to an owner's link; it may be written at once (TLS holds what is written until its handshake). */
  readonly connect: (host: string, port: number) => Net.Socket
  /** A server whose listener gets each connection once frames may cross it (after the TLS handshake, with TLS). */
  readonly server: (onSocket: (socket: Net.Socket) => void) => Net.Server
}

/** Plain TCP: the links of a private network. @internal */
export const plain: Sockets = {
  connect: (host, port) => Net.connect({ host, port, noDelay: true }),
  server: (onSocket) => Net.createServer(onSocket)
}

/** The sockets the options ask for; `linkKey` (`linkAuth.linkKey`) keys `"cluster-key"`. @internal */
export const make = (tls: Options | undefined, linkKey: Uint8Array): Sockets =>
  tls === undefined ? plain : tls === "cluster-key" ? preShared(linkKey) : certified(tls)

/** How long a connection may take to finish its TLS handshake (the link's own handshake has its deadline after). */
const HANDSHAKE_MS = 5_000

/** TLS on both ends: `context` (read once) and what each end adds to it. */
const overTls = (
  context: Tls.SecureContextOptions,
  client: Omit<Tls.ConnectionOptions, "host" | "port" | "secureContext">,
  server: Tls.TlsOptions
): Sockets => {
  const secureContext = Tls.createSecureContext(context)
  return {
    connect: (host, port) => Tls.connect({ ...client, host, port, secureContext }).setNoDelay(true),
    server: (onSocket) => Tls.createServer({ ...context, ...server, handshakeTimeout: HANDSHAKE_MS }, onSocket)
  }
}

// Both ends are this library on Node 20 or later: TLS 1.3 only. Any certificate the cluster's CA signed is an
// instance's, whatever address it was reached by, unless a name is asked for.
const certified = (given: Certificates): Sockets =>
  overTls(
    { ca: given.ca, cert: given.cert, key: given.key, minVersion: "TLSv1.3" },
    given.servername === undefined ? { checkServerIdentity: () => undefined } : { servername: given.servername },
    { requestCert: true, rejectUnauthorized: true }
  )

// TLS-PSK is TLS 1.2 in Node (its TLS 1.3 PSK callbacks serve resumption, not external keys); ephemeral ECDH
// first, so a key that leaks later does not open what was recorded.
const PSK_CIPHERS = "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384"

const preShared = (linkKey: Uint8Array): Sockets => {
  const psk = createHmac("sha256", linkKey).update("effect-mcp/link-psk").digest()
  // Sent in the clear: it tells another cluster's instance apart (refused as an unknown identity), nothing more.
  const identity = createHmac("sha256", linkKey).update("effect-mcp/link-psk-identity").digest("base64url").slice(0, 22)
  return overTls(
    { ciphers: PSK_CIPHERS, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" },
    // No certificate: the key is the proof.
    { pskCallback: () => ({ psk, identity }), checkServerIdentity: () => undefined },
    { pskCallback: (_socket, given) => (given === identity ? psk : null) }
  )
}
