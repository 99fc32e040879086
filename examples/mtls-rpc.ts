/**
 * RPC over mutual TLS: length-prefixed JSON requests; the server knows its
 * callers by their certificates and answers only those it authorizes.
 *
 * Run: `pnpm example mtls-rpc`
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { readFrame, writeFrame } from "../docs/examples/reading.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

interface Request {
  readonly method: "add" | "whoami"
  readonly params: ReadonlyArray<number>
}

const send = (writer: TlsConnection.WriteHalf, value: unknown) =>
  writeFrame(writer, encoder.encode(JSON.stringify(value)))
const receive = (reader: TlsConnection.ReadHalf) =>
  Effect.map(readFrame(reader, 64 * 1024), (bytes): unknown => JSON.parse(decoder.decode(bytes)))

/** Serves requests until the client ends; the caller is named by its certificate's subject. */
const serve = (tls: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    const caller = tls.session.peerCertificates[0]?.subject ?? ""
    for (let served = 0; served < 1000; served++) {
      // The client's close_notify ends the loop: readExactly fails with EndOfStream.
      const next = yield* Effect.option(receive(tls.reader))
      if (next._tag === "None") return
      const request = next.value as Request
      if (caller !== "CN=billing") {
        yield* send(tls.writer, { error: `${caller} may not call ${request.method}` })
      } else if (request.method === "add") {
        yield* send(tls.writer, { result: request.params.reduce((a, b) => a + b, 0) })
      } else {
        yield* send(tls.writer, { result: caller })
      }
    }
  })

export const main = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make({ name: "mtls-rpc example" })
    const serverCert = yield* pki.issueServer()
    const billing = yield* pki.issueClient({ commonName: "billing" })
    const guest = yield* pki.issueClient({ commonName: "guest" })
    const server = yield* NodeTls.serve(
      {
        credentials: [{ cert: serverCert.chain, key: serverCert.redactedKey }],
        clientAuth: { mode: "require", ca: pki.root },
        alpn: ["rpc/1"]
      },
      serve
    )
    const call = (who: typeof billing, request: Request) =>
      Effect.scoped(
        Effect.gen(function* () {
          const client = yield* NodeTlsClient.make({
            ca: pki.root,
            credential: { cert: who.chain, key: who.redactedKey },
            alpn: ["rpc/1"]
          })
          const tls = yield* client.connect({ host: "127.0.0.1", port: server.address.port, servername: "localhost" })
          yield* send(tls.writer, request)
          const answer = yield* receive(tls.reader)
          yield* tls.writer.end
          return answer
        })
      )
    const sum = yield* call(billing, { method: "add", params: [1, 2, 39] })
    const denied = yield* call(guest, { method: "add", params: [1] })
    yield* Console.log(`billing add(1, 2, 39) -> ${JSON.stringify(sum)}`)
    yield* Console.log(`guest add(1) -> ${JSON.stringify(denied)}`)
    return { sum, denied }
  })
)

if (import.meta.main) NodeRuntime.runMain(main)
