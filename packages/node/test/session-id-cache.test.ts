/**
 * The server's session-ID cache: a TLS 1.2 client that resumes without a
 * ticket (`openssl s_client -tls1_2 -no_ticket -sess_out/-sess_in`, our own
 * client against a server without tickets) resumes, on both server paths;
 * with `sessionCacheSize: 0` or after a reload it does not. The cache's own
 * bounds (entries, lifetime, TLS 1.3 sessions left out) are checked on the
 * class, with real session encodings.
 */
import { constants } from "node:crypto"
import * as path from "node:path"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Loopback, Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import { isTls13Session, SessionIdCache } from "../src/internal/sessionIdCache.ts"
import { credential } from "./helpers.ts"
import { hasOpenssl, peerTest } from "./interop-support.ts"

const PATHS: ReadonlyArray<TlsOptions.Path> = ["native", "duplex"]

/** A server that answers each connection's first line with `ok` and ends. */
const okServer = (issued: CertificateAuthority.Issued, options: Partial<TlsOptions.ServerOptions>) =>
  NodeTls.serve({ credentials: [credential(issued)], shutdownTimeout: "100 millis", ...options }, (connection, _peer) =>
    Effect.andThen(
      connection.reader.readUntil("\n"),
      Effect.andThen(connection.writer.write("ok\n"), connection.writer.end)
    )
  )

describe.skipIf(!hasOpenssl)("session IDs against openssl s_client -no_ticket (needs openssl and stdbuf)", () => {
  for (const serverPath of PATHS) {
    peerTest(
      `${serverPath} server: a TLS 1.2 client without tickets resumes by session ID; with sessionCacheSize 0 it does not`,
      25,
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const files = yield* TempFiles.pem(issued)
        const dir = yield* TempFiles.directory()
        for (const sessionCacheSize of [undefined, 0]) {
          const server = yield* okServer(issued, {
            path: serverPath,
            ...(sessionCacheSize === undefined ? {} : { sessionCacheSize })
          })
          const sessionFile = path.join(dir, `session-${serverPath}-${sessionCacheSize ?? "default"}.pem`)
          const handshake = (args: ReadonlyArray<string>) =>
            Effect.gen(function* () {
              const peer = yield* Peer.opensslClient({
                port: server.address.port,
                ca: files.ca,
                servername: "localhost",
                args: ["-tls1_2", "-no_ticket", ...args]
              })
              yield* peer.write("hello\n")
              yield* peer.waitFor(/^ok$/m, { stream: "stdout" })
              yield* peer.exited
              return peer.stdoutText()
            }).pipe(Effect.scoped)
          const first = yield* handshake(["-sess_out", sessionFile])
          assert.match(first, /^New, TLSv1\.2/m)
          const second = yield* handshake(["-sess_in", sessionFile])
          if (sessionCacheSize === 0) assert.match(second, /^New, TLSv1\.2/m, "no cache: a full handshake")
          else assert.match(second, /^Reused, TLSv1\.2/m, "resumed by session ID")
        }
      })
    )
  }
})

describe("session IDs with our client", () => {
  for (const serverPath of PATHS) {
    it.live(
      `${serverPath} server without tickets: our TLS 1.2 client resumes by session ID, not after a reload, not without a cache`,
      () =>
        Effect.gen(function* () {
          const issued = yield* CertificateAuthority.issueServer()
          const visit = (port: number, client: NodeTlsClient.Client) =>
            Effect.scoped(
              Effect.gen(function* () {
                const connection = yield* client.connect({ host: "127.0.0.1", port })
                yield* connection.writer.write("hi\n")
                yield* connection.reader.readUntil("\n")
                return connection.session.resumed
              })
            )
          const clientOptions = { ca: issued.ca, servername: "localhost", maxVersion: "TLSv1.2" } as const
          const server = yield* okServer(issued, { path: serverPath, tickets: false })
          const client = yield* NodeTlsClient.make(clientOptions)
          assert.isFalse(yield* visit(server.address.port, client))
          assert.isTrue(yield* visit(server.address.port, client), "the second connection resumes")
          // A reload brings new contexts and a new cache: the old session is gone.
          yield* server.reload([credential(issued)])
          assert.isFalse(yield* visit(server.address.port, client), "no resumption across a reload")
          assert.isTrue(yield* visit(server.address.port, client))

          const uncached = yield* okServer(issued, { path: serverPath, tickets: false, sessionCacheSize: 0 })
          const other = yield* NodeTlsClient.make(clientOptions)
          assert.isFalse(yield* visit(uncached.address.port, other))
          assert.isFalse(yield* visit(uncached.address.port, other), "no cache, no resumption by ID")
        }).pipe(Effect.scoped),
      30_000
    )
  }

  it.live("sessionCacheSize must be a whole number, 0 or more: a typed error that names it", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      for (const sessionCacheSize of [-1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(
          Effect.scoped(NodeTlsServer.makeAcceptor({ credentials: [credential(issued)], sessionCacheSize }))
        )
        assert.strictEqual(error._tag, "TlsConfigError")
        assert.include(error.message, "sessionCacheSize")
      }
    })
  )
})

describe("SessionIdCache", () => {
  /** The DER of the first session a plain node:tls server made for a client at `maxVersion` (its `newSession`). */
  const realSession = (maxVersion: tls.SecureVersion) =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const sessions: Array<Buffer> = []
      // Without tickets, as a TLS 1.2 server makes a session by ID only then.
      const server = tls.createServer(
        { cert: issued.chain, key: issued.key, secureOptions: constants.SSL_OP_NO_TICKET },
        (socket) => {
          socket.on("error", () => {})
          socket.end("x")
        }
      )
      server.on("newSession", (_id: Buffer, session: Buffer, done: () => void) => {
        sessions.push(session)
        done()
      })
      const port = yield* Loopback.serve(server)
      yield* Effect.callback<void, Error>((resume) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: issued.ca, servername: "localhost", maxVersion })
        socket.on("error", (error) => resume(Effect.fail(error)))
        socket.on("end", () => resume(Effect.void))
        socket.resume()
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("10 seconds"))
      const [session] = sessions
      if (session === undefined) return yield* Effect.die(new Error(`no ${maxVersion} session was made`))
      return session
    })

  it.live("keeps TLS 1.2 sessions and leaves TLS 1.3 ones out (OpenSSL's encoding, read from real sessions)", () =>
    Effect.gen(function* () {
      const tls12 = yield* realSession("TLSv1.2")
      const tls13 = yield* realSession("TLSv1.3")
      assert.isFalse(isTls13Session(tls12))
      assert.isTrue(isTls13Session(tls13))
      const cache = new SessionIdCache(4, 1000)
      cache.store(Buffer.from("a"), tls12)
      cache.store(Buffer.from("b"), tls13)
      assert.strictEqual(cache.size, 1)
      assert.strictEqual(cache.lookup(Buffer.from("a")), tls12)
      assert.isUndefined(cache.lookup(Buffer.from("b")))
    }).pipe(Effect.scoped)
  )

  it("holds at most maxEntries, evicting the least recently stored or resumed; an entry expires after its lifetime", () => {
    let now = 0
    const cache = new SessionIdCache(2, 1000, () => now)
    const session = (name: string) => Buffer.from(`not a TLS 1.3 session: ${name}`)
    const a = session("a")
    const b = session("b")
    const c = session("c")
    cache.store(Buffer.from("a"), a)
    cache.store(Buffer.from("b"), b)
    // Resuming a makes it the most recent: c evicts b.
    assert.strictEqual(cache.lookup(Buffer.from("a")), a)
    cache.store(Buffer.from("c"), c)
    assert.strictEqual(cache.size, 2)
    assert.isUndefined(cache.lookup(Buffer.from("b")))
    assert.strictEqual(cache.lookup(Buffer.from("c")), c)
    now = 999
    assert.strictEqual(cache.lookup(Buffer.from("a")), a, "alive until its lifetime is over")
    now = 1000
    assert.isUndefined(cache.lookup(Buffer.from("a")), "expired")
    assert.isUndefined(cache.lookup(Buffer.from("c")))
    assert.strictEqual(cache.size, 0, "expired entries met are dropped")
  })
})
