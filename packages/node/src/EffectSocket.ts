/**
 * Interop with Effect's `Socket` (`effect/socket/Socket`), both ways:
 *
 * - {@link fromTlsConnection}: a TLS connection as an Effect `Socket`, so code
 *   written against `Socket` (`Socket.toChannel`, `Socket.toStream`, protocol
 *   clients) runs over this library's TLS, with the session, events and close
 *   outcome still reachable through `connection`.
 * - {@link toTransport}: an Effect `Socket` (TCP, a WebSocket, a duplex) as the
 *   transport of a TLS connection on the duplex path.
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsConfigError, TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Options from "./internal/options.ts"
import * as EffectSocketTransport from "./internal/transports/effectSocket.ts"
import type { BufferOptions } from "./NodeTransport.ts"

/**
 * An Effect `Socket` over a TLS connection, which stays reachable.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsSocket extends Socket.Socket {
  /** The TLS connection under the socket: session, events, close outcome. */
  readonly connection: TlsConnection.TlsConnection
}

const closeError = (code: number) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })
const readError = (cause: TlsError) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
const writeError = (cause: TlsError) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

/**
 * A TLS connection as an Effect `Socket`, following that module's contract:
 *
 * - acquiring `reader` never dials (the connection is established) and each
 *   `pull` yields the next plaintext chunk; the peer's close_notify fails it
 *   with `SocketCloseError` code 1000, a TLS failure (truncation included)
 *   with `SocketReadError` whose cause is the `TlsError`; closing the
 *   acquisition scope fails a suspended pull with code 1006 and loses no byte;
 * - `upgrade` is unsupported (the socket is already TLS);
 * - `write` and `writeAll` suspend while the connection's write buffer is
 *   full; a `CloseEvent` or the release of the writer's scope ends the write
 *   half (close_notify), the read half keeps reading.
 *
 * The connection's lifetime stays that of the scope it was acquired in.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTlsConnection = (connection: TlsConnection.TlsConnection): TlsSocket => {
  const reader: Socket.Socket["reader"] = Effect.gen(function* () {
    const released = yield* Deferred.make<never, Socket.SocketError>()
    yield* Effect.addFinalizer(() => Deferred.fail(released, closeError(1006)))
    const read = connection.reader.read.pipe(
      Effect.mapError(readError),
      Effect.flatMap((chunk) =>
        chunk._tag === "Some" ? Effect.succeed([chunk.value] as const) : Effect.fail(closeError(1000))
      )
    )
    // A read interrupted by the release loses nothing (contract point 4), so
    // racing it against the release is safe.
    const pull = Effect.raceFirst(read, Deferred.await(released))
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })

  const endWrite = Effect.ignore(connection.writer.end)
  const writer: Socket.Socket["writer"] = Effect.acquireRelease(
    Effect.succeed<Socket.Writer>({
      write: (chunk) =>
        Socket.isCloseEvent(chunk) ? endWrite : Effect.mapError(connection.writer.write(chunk), writeError),
      writeAll: (chunks) => Effect.mapError(connection.writer.writeAll(chunks), writeError)
    }),
    () => endWrite
  )

  return { ...Socket.make({ reader, writer }), connection }
}

/**
 * An Effect `Socket` as the transport of a TLS connection: run
 * `NodeTls.upgradeClient(transport, options)` (or `upgradeServer`) over it for
 * TLS over anything Effect can open (TCP with `NodeSocket.makeNet`, a WebSocket, a duplex).
 *
 * Acquiring the socket's reader (which opens the connection) happens here, in
 * the current scope; open failures are `TlsTransportError`s. Two fibers forked
 * into the scope pull and write, each buffering at most its bound. A close
 * with code 1000 is the end of the stream (so a TLS peer that stops without
 * close_notify is seen as truncation); any other close or failure breaks the
 * transport. Ending the write side releases the socket's writer (a half-close
 * where the socket supports it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toTransport = (
  socket: Socket.Socket,
  options?: BufferOptions
): Effect.Effect<Transport, TlsTransportError | TlsConfigError, Scope.Scope> =>
  Effect.flatMap(Options.decodeBufferOptions(options ?? {}), (bounds) => EffectSocketTransport.make(socket, bounds))
