/**
 * SMTP with STARTTLS: the example server and client of `@effect-tls/node`
 * (packages/node/examples/smtp-starttls-server.ts and -client.ts), run
 * against each other. The server refuses mail before TLS and rejects
 * plaintext pipelined after STARTTLS (the injection defence).
 *
 * Run: `pnpm example smtp-starttls`
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { send } from "../packages/node/examples/smtp-starttls-client.ts"
import { type Received, serve } from "../packages/node/examples/smtp-starttls-server.ts"

export const main = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make({ name: "smtp example" })
    const cert = yield* pki.issueServer()
    const received: Array<Received> = []
    const port = yield* serve(0, { credentials: [{ cert: cert.chain, key: cert.redactedKey }] }, (message) => {
      received.push(message)
    })
    yield* Console.log(`SMTP server with STARTTLS on 127.0.0.1:${port}`)
    const session = yield* send({
      port,
      tls: { ca: pki.root, servername: "localhost" },
      from: "alice@example.com",
      to: "bob@example.com",
      body: "Subject: hello\r\n\r\nSent over STARTTLS with effect-tls."
    })
    yield* Console.log(`client: sent over ${session.protocol} ${session.cipher}`)
    for (const message of received) {
      yield* Console.log(`server: from ${message.from} to ${message.to.join(", ")} over TLS: ${message.overTls}`)
    }
    return { protocol: session.protocol, received }
  })
)

if (import.meta.main) NodeRuntime.runMain(main)
