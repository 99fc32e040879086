/**
 * Shared helpers of the real-peer tests: which peers are installed, the
 * server certificate's PEM files, digit-only payloads with their SHA-256, and
 * readers and writers that hash what passes. The peers themselves are the
 * test kit's (`Peer`).
 */
import { createHash, randomBytes } from "node:crypto"
import { it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { listen } from "./engine-path-support.ts"
import { credential, testServer } from "./helpers.ts"

/** OpenSSL's command-line tool, line-buffered by `stdbuf` (`Peer.openssl`). */
export const hasOpenssl = Peer.available("openssl", "stdbuf")
export const hasGnutls = Peer.available("gnutls-cli", "gnutls-serv")
/** A peer that binds every address can be put in a network namespace of its own and bridged out. */
export const hasNamespaces = Peer.available("unshare", "nsenter", "ip", "socat")

/**
 * A test against a real peer: scoped (the peer is stopped when it ends) and
 * bounded by `seconds`, vitest's own bound 5 seconds later.
 */
export const peerTest = (name: string, seconds: number, body: Effect.Effect<unknown, unknown, Scope.Scope>) =>
  it.live(name, () => body.pipe(Effect.scoped, Effect.timeout(`${seconds} seconds`)), (seconds + 5) * 1000)

/** Our server for one connection, serving `issued`: `accept` gives the connection, alive until the scope closes. */
export const ourServer = (issued: CertificateAuthority.Issued, options: Partial<TlsOptions.ServerOptions> = {}) =>
  testServer({ credentials: [credential(issued)], shutdownTimeout: "200 millis", ...options })

/** Our client (native path) to a peer on 127.0.0.1:`port` that serves a `localhost` certificate from `ca`. */
export const ourClient = (port: number, ca: string, options: Partial<NodeTls.ConnectOptions> = {}) =>
  NodeTls.connect({ host: "127.0.0.1", port, ca, servername: "localhost", ...options })

/** Our client on `path` to 127.0.0.1:`port` (the duplex path over a TCP transport). */
export const clientOn = (path: TlsOptions.Path, port: number, ca: string) =>
  path === "native"
    ? ourClient(port, ca)
    : Effect.flatMap(NodeTransport.connect({ host: "127.0.0.1", port }), (transport) =>
        NodeTls.upgradeClient(transport, { ca, servername: "localhost" })
      )

/**
 * Our server on `path` for one connection, serving `issued` on 127.0.0.1:
 * `accept` gives the connection, alive until the scope closes.
 */
export const serverOn = (path: TlsOptions.Path, issued: CertificateAuthority.Issued) =>
  Effect.gen(function* () {
    if (path === "native") return yield* ourServer(issued, { host: "127.0.0.1" })
    const listener = yield* listen
    return {
      port: listener.port,
      accept: Effect.gen(function* () {
        const socket = yield* listener.accept
        return yield* NodeTls.upgradeServer(yield* NodeTransport.fromSocket(socket), {
          credentials: [credential(issued)]
        })
      }).pipe(Effect.timeout("10 seconds"))
    }
  })

/** How many times `pattern` (a global regular expression) matches in `text`. */
export const count = (text: string, pattern: RegExp): number => (text.match(pattern) ?? []).length

/** A server certificate from the test PKI and its PEM files, removed with the scope. */
export const serverPem = Effect.gen(function* () {
  const server = yield* CertificateAuthority.issueServer()
  return { server, files: yield* TempFiles.pem(server) }
})

/** Bytes of one payload line: 63 decimal digits and a newline. 16 KiB holds 256 of them. */
export const LINE = 64

/**
 * `size` bytes (a multiple of `LINE`) of digit lines: no byte is a command
 * letter of s_server, s_client or gnutls-cli, nor a NUL (gnutls-serv's echo is
 * string-based), and the content is random, so a lost, duplicated or
 * reordered record changes the checksum.
 */
export const digitLines = (size: number): Buffer => {
  const bytes = randomBytes(size)
  for (let i = 0; i < size; i++) {
    bytes[i] = i % LINE === LINE - 1 ? 0x0a : 0x30 + ((bytes[i] ?? 0) % 10)
  }
  return bytes
}

export const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** A payload of `parts` pieces of `partSize` bytes, with the SHA-256 of the whole. */
export const payload = (parts: number, partSize: number) => {
  const pieces = Array.from({ length: parts }, () => digitLines(partSize))
  const hash = createHash("sha256")
  for (const piece of pieces) hash.update(piece)
  return { pieces, size: parts * partSize, sha256: hash.digest("hex") }
}

/** Reads at most `limit` bytes, or until the end: byte count and SHA-256. */
export const readHashed = (connection: TlsConnection.TlsConnection, limit: number) =>
  Effect.gen(function* () {
    const hash = createHash("sha256")
    let bytes = 0
    let ended = false
    // Bounded: at most one iteration per byte, and records carry up to 16 KiB.
    for (let i = 0; i < limit + 1 && bytes < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) {
        ended = true
        break
      }
      hash.update(chunk.value)
      bytes += chunk.value.length
    }
    return { bytes, sha256: hash.digest("hex"), ended }
  })

/** A streaming SHA-256 of what a peer prints, for `onStdout`. */
export const hashSink = () => {
  const hash = createHash("sha256")
  const state = { bytes: 0 }
  const waiters = new Set<() => void>()
  return {
    onStdout: (chunk: Buffer) => {
      hash.update(chunk)
      state.bytes += chunk.length
      for (const waiter of waiters) waiter()
    },
    bytes: () => state.bytes,
    /** Waits until `size` bytes arrived (at most `timeout`), then the SHA-256 of them. */
    digest: (size: number, timeout: string) =>
      Effect.callback<string>((resume) => {
        const check = () => {
          if (state.bytes >= size) {
            waiters.delete(check)
            resume(Effect.succeed(hash.digest("hex")))
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout as `${number} seconds`,
          orElse: () => Effect.fail(new Error(`the peer printed ${state.bytes} of ${size} bytes`))
        })
      )
  }
}

/**
 * The payload lines in a peer's output, without what it printed between
 * records (s_server and s_client print their reports on stdout too). Data
 * written in 16 KiB writes arrives in whole records of whole lines, so
 * reports fall between lines.
 */
export const payloadLines = (output: string): Buffer => {
  const lines = output.match(/^[0-9]{63}$/gm) ?? []
  return Buffer.from(lines.map((line) => `${line}\n`).join(""), "latin1")
}

/** Writes the pieces in order; fails with the first error. */
export const writePieces = (connection: TlsConnection.TlsConnection, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(pieces, (piece) => connection.writer.write(piece), { discard: true })
