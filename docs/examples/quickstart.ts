/**
 * The README's client and server: an echo server and a client that sends a
 * line and reads it back. The guide's test runs them on 127.0.0.1 with
 * certificates from the test kit.
 */
// #region imports
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
// #endregion imports

// #region server
/** Echoes every byte until the client ends its side, then ends ours. */
export const echoServer = (credential: TlsOptions.Credential) =>
  NodeTls.serve({ credentials: [credential], host: "127.0.0.1", port: 0 }, (tls) =>
    Stream.run(tls.reader.stream, tls.writer.sink)
  )
// #endregion server

// #region client
/** Sends one line over TLS and returns the echo. */
export const hello = (port: number, ca: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tls = yield* NodeTls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" })
      yield* tls.writer.write("hello, TLS\n")
      const line = yield* tls.reader.readUntil("\n")
      yield* tls.writer.end
      return `${new TextDecoder().decode(line)} (${tls.session.protocol}, ${tls.session.cipher})`
    })
  )
// #endregion client
