import { ConnectionReset, Other, Timeout, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { transportError } from "../errors.ts"
import * as Pulled from "./pulled.ts"

/**
 * Classifies a `SocketError`. A close with code 1000 is the clean end of the
 * stream (Effect sockets report every end as an error); anything else breaks
 * the transport.
 */
export const fromSocketError = (error: Socket.SocketError): TlsTransportError | typeof Pulled.End => {
  const reason = error.reason
  switch (reason._tag) {
    case "SocketCloseError":
      return reason.code === 1000
        ? Pulled.End
        : new TlsTransportError({
            reason: new ConnectionReset({
              code: String(reason.code),
              detail: `the socket closed with code ${reason.code}${reason.closeReason ? `: ${reason.closeReason}` : ""}`,
              cause: error
            })
          })
    case "SocketOpenError":
      return reason.kind === "Timeout"
        ? new TlsTransportError({ reason: new Timeout({ detail: "the socket did not open in time", cause: error }) })
        : transportError(reason.cause, "open")
    case "SocketReadError":
      return transportError(reason.cause, "read")
    case "SocketWriteError":
      return transportError(reason.cause, "write")
    case "SocketUpgradeError":
      return new TlsTransportError({ reason: new Other({ detail: "socket upgrade failed", cause: error }) })
  }
}

const asFailure = (error: Socket.SocketError): TlsTransportError => {
  const mapped = fromSocketError(error)
  return mapped === Pulled.End
    ? new TlsTransportError({ reason: new ConnectionReset({ detail: "the socket closed", cause: error }) })
    : mapped
}

/**
 * An Effect `Socket` as a transport. Acquires the socket's reader (which
 * opens the connection) in a child of the current scope, and its writer in
 * another; ending the write side releases the writer (a half-close where the
 * socket supports it), destroying releases both.
 */
export const make = Effect.fnUntraced(function* (
  socket: Socket.Socket,
  bounds: Pulled.Bounds
): Effect.fn.Return<Transport, TlsTransportError, Scope.Scope> {
  const scope = yield* Effect.scope
  const readScope = yield* Scope.fork(scope)
  const writeScope = yield* Scope.fork(scope)
  const pull = yield* Scope.provide(Socket.readerBytes(socket), readScope).pipe(Effect.mapError(asFailure))
  const writer = yield* Scope.provide(socket.writer, writeScope)
  return yield* Pulled.make(
    {
      pull: Effect.catch(pull, (error) => {
        const mapped = fromSocketError(error)
        return mapped === Pulled.End ? Effect.succeed(Pulled.End) : Effect.fail(mapped)
      }),
      write: (chunks) => {
        const [first, ...rest] = chunks
        return first === undefined ? Effect.void : Effect.mapError(writer.writeAll([first, ...rest]), asFailure)
      },
      end: Scope.close(writeScope, Exit.void),
      release: Effect.andThen(Scope.close(readScope, Exit.void), Scope.close(writeScope, Exit.void))
    },
    bounds
  )
})
