/**
 * Echo server and client: the server echoes every byte back until the client
 * ends its side; the client sends a few lines and prints what comes back.
 *
 * Run: `pnpm example echo` (or `pnpm exec node examples/echo.ts`)
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

export const main = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make({ name: "echo example" })
    const cert = yield* pki.issueServer()
    const server = yield* NodeTls.serve({ credentials: [{ cert: cert.chain, key: cert.redactedKey }] }, (tls) =>
      Stream.run(tls.reader.stream, tls.writer.sink)
    )
    yield* Console.log(`echo server on ${server.address.host}:${server.address.port}`)

    const tls = yield* NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: pki.root })
    yield* Console.log(`connected: ${tls.session.protocol} ${tls.session.cipher} ${tls.session.group ?? ""}`)
    const lines = ["hello", "over TLS", "bye"]
    yield* tls.writer.writeAll(lines.map((line) => `${line}\n`))
    yield* tls.writer.end
    const echoed = yield* tls.reader.stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
    for (const line of echoed) yield* Console.log(`echoed: ${line}`)
    return echoed
  })
)

if (import.meta.main) NodeRuntime.runMain(main)
