/**
 * PostgreSQL-style TLS: the client opens TCP, sends an `SSLRequest`, the
 * server answers `S`, and TLS starts on the same socket. Over TLS, the client
 * logs in with SCRAM-SHA-256-PLUS bound to the TLS session (`tls-exporter`),
 * with the message framing of the PostgreSQL protocol (a type byte, then a
 * 32-bit length). Bytes a client pipelines after its `SSLRequest` fail the
 * upgrade (`PlaintextInjection`; PostgreSQL's CVE-2021-23214 was this bug).
 *
 * Run: `pnpm example postgres-sslrequest`
 */
import * as net from "node:net"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import { isTlsError } from "@effect-tls/core/TlsError"
import * as TlsSession from "@effect-tls/core/TlsSession"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import * as Plaintext from "@effect-tls/node/Plaintext"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Scram from "../docs/examples/scram.ts"

const SSL_REQUEST_CODE = 80877103
const PROTOCOL_3_0 = 196608
const MECHANISM = "SCRAM-SHA-256-PLUS"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const int32 = (value: number) => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setInt32(0, value)
  return bytes
}
const readInt32 = (bytes: Uint8Array, offset = 0) => new DataView(bytes.buffer, bytes.byteOffset).getInt32(offset)
const concat = (...parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts)
const cstring = (text: string) => encoder.encode(`${text}\0`)

/** A protocol message: type byte, length (itself included), body. */
const message = (type: string, body: Uint8Array) => concat(encoder.encode(type), int32(body.length + 4), body)
const readMessage = (reader: TlsConnection.ReadHalf) =>
  Effect.gen(function* () {
    const header = yield* reader.readExactly(5)
    const length = readInt32(header, 1)
    if (length < 4 || length > 64 * 1024) return yield* Effect.fail(new Error(`bad message length ${length}`))
    return { type: String.fromCharCode(header[0] ?? 0), body: yield* reader.readExactly(length - 4) }
  })
/** An authentication request (`R`) with its code and data. */
const authentication = (code: number, data: Uint8Array = new Uint8Array(0)) => message("R", concat(int32(code), data))

// -----------------------------------------------------------------------------
// server
// -----------------------------------------------------------------------------

const login = (tls: TlsConnection.TlsConnection, users: ReadonlyMap<string, Scram.StoredCredential>) =>
  Effect.gen(function* () {
    // The startup message has no type byte: length, protocol, then name/value pairs.
    const length = readInt32(yield* tls.reader.readExactly(4))
    const startup = yield* tls.reader.readExactly(length - 4)
    const fields = decoder.decode(startup.subarray(4)).split("\0")
    const user = fields[fields.indexOf("user") + 1] ?? ""
    const credential = users.get(user)
    if (readInt32(startup) !== PROTOCOL_3_0 || credential === undefined) {
      return yield* Effect.fail(new Error(`no such user: ${user}`))
    }
    const binding = yield* TlsSession.tlsExporterChannelBinding(tls.session)
    yield* tls.writer.write(authentication(10, concat(cstring(MECHANISM), new Uint8Array([0]))))
    const initial = yield* readMessage(tls.reader) // 'p': mechanism, length, client-first
    const mechanismEnd = initial.body.indexOf(0)
    const clientFirst = decoder.decode(initial.body.subarray(mechanismEnd + 5))
    const first = yield* Scram.serverFirst(clientFirst, credential)
    yield* tls.writer.write(authentication(11, encoder.encode(first.message)))
    const response = yield* readMessage(tls.reader) // 'p': client-final
    const final = yield* Scram.serverFinal({ first, clientFinal: decoder.decode(response.body), credential, binding })
    yield* tls.writer.writeAll([
      authentication(12, encoder.encode(final)),
      authentication(0),
      message("Z", encoder.encode("I"))
    ])
    return user
  })

/** One client: the 8-byte `SSLRequest` in plaintext, `S`, then TLS and the login. */
const session = (
  socket: net.Socket,
  acceptor: NodeTlsServer.Acceptor,
  users: ReadonlyMap<string, Scram.StoredCredential>
) =>
  Effect.gen(function* () {
    const plain = yield* Plaintext.make(yield* NodeTransport.fromSocket(socket))
    const request = yield* plain.readExactly(8)
    if (readInt32(request) !== 8 || readInt32(request, 4) !== SSL_REQUEST_CODE) {
      return yield* Effect.fail(new Error("expected an SSLRequest"))
    }
    yield* plain.write("S")
    const tls = yield* acceptor.upgrade(plain)
    const user = yield* login(tls, users)
    yield* tls.writer.end
    return user
  })

/** Listens on 127.0.0.1; reports each session's result to `onSession`. */
export const serve = (
  acceptor: NodeTlsServer.Acceptor,
  users: ReadonlyMap<string, Scram.StoredCredential>,
  onSession: (result: string) => void
) =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.callback<net.Server>((resume) => {
        const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
          socket.on("error", () => {})
          Queue.offerUnsafe(accepted, socket)
        })
        s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) => Effect.callback<void>((resume) => void s.close(() => resume(Effect.void)))
    )
    yield* Queue.take(accepted).pipe(
      Effect.flatMap((socket) =>
        Effect.forkScoped(
          session(socket, acceptor, users).pipe(
            Effect.scoped,
            Effect.match({
              onFailure: (error) => onSession(`refused: ${isTlsError(error) ? error.reason._tag : error.message}`),
              onSuccess: (user) => onSession(`logged in: ${user}`)
            }),
            Effect.ensuring(Effect.sync(() => socket.destroy()))
          )
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )
    return (server.address() as net.AddressInfo).port
  })

// -----------------------------------------------------------------------------
// client
// -----------------------------------------------------------------------------

/** Connects, asks for TLS, logs in; `extra` is plaintext pipelined after the SSLRequest (an attack). */
export const connect = (options: {
  readonly port: number
  readonly ca: string
  readonly user: string
  readonly password: string
  readonly extra?: string | undefined
}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const plain = yield* Plaintext.make(yield* NodeTransport.connect({ host: "127.0.0.1", port: options.port }))
      yield* plain.write(concat(int32(8), int32(SSL_REQUEST_CODE), encoder.encode(options.extra ?? "")))
      const answer = yield* plain.readExactly(1)
      if (answer[0] !== "S".charCodeAt(0)) return yield* Effect.fail(new Error("the server refused TLS"))
      const tls = yield* NodeTls.upgradeClient(plain, { ca: options.ca, servername: "localhost" })
      const binding = yield* TlsSession.tlsExporterChannelBinding(tls.session)

      const params = concat(int32(PROTOCOL_3_0), cstring("user"), cstring(options.user), new Uint8Array([0]))
      yield* tls.writer.write(concat(int32(params.length + 4), params))
      const offer = yield* readMessage(tls.reader)
      if (!decoder.decode(offer.body.subarray(4)).split("\0").includes(MECHANISM)) {
        return yield* Effect.fail(new Error(`${MECHANISM} not offered`))
      }
      const first = Scram.clientFirst(options.user)
      const firstBytes = encoder.encode(first.message)
      yield* tls.writer.write(message("p", concat(cstring(MECHANISM), int32(firstBytes.length), firstBytes)))
      const serverFirst = decoder.decode((yield* readMessage(tls.reader)).body.subarray(4))
      const final = yield* Scram.clientFinal({ password: options.password, first, serverFirst, binding })
      yield* tls.writer.write(message("p", encoder.encode(final.message)))
      const serverFinal = decoder.decode((yield* readMessage(tls.reader)).body.subarray(4))
      if (serverFinal !== final.serverFinal) return yield* Effect.fail(new Error("the server's signature is wrong"))
      const ok = yield* readMessage(tls.reader)
      const ready = yield* readMessage(tls.reader)
      yield* tls.writer.end
      return {
        authenticated: ok.type === "R" && readInt32(ok.body) === 0,
        ready: ready.type,
        tls: tls.session.protocol
      }
    })
  )

export const main = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make({ name: "postgres example" })
    const cert = yield* pki.issueServer()
    const acceptor = yield* NodeTlsServer.makeAcceptor({ credentials: [{ cert: cert.chain, key: cert.redactedKey }] })
    const sessions = yield* Queue.unbounded<string>()
    const users = new Map([["alice", Scram.storeCredential("s3cret")]])
    const port = yield* serve(acceptor, users, (result) => Queue.offerUnsafe(sessions, result))

    const login = yield* connect({ port, ca: pki.root, user: "alice", password: "s3cret" })
    yield* Console.log(`client: ${JSON.stringify(login)}`)
    const honest = yield* Queue.take(sessions)
    yield* Console.log(`server: ${honest}`)

    const attack = yield* Effect.flip(
      connect({ port, ca: pki.root, user: "alice", password: "s3cret", extra: "Q\0\0\0\x0bSELECT 1\0" })
    )
    const injected = yield* Queue.take(sessions)
    yield* Console.log(`pipelined bytes after SSLRequest: client saw ${attack.message}; server ${injected}`)
    return { login, honest, injected }
  })
)

if (import.meta.main) NodeRuntime.runMain(main)
