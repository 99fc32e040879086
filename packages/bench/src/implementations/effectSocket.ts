/**
 * Effect 4.1's own TLS sockets: `NodeSocket.makeTls` and
 * `NodeSocketServer.makeTls` from `@effect/platform-node`, used the way their
 * documentation shows (trust anchors passed as `ca`, so `tls.connect` builds
 * a secure context per connection). They expose no session, so resumption
 * cannot be driven through them.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Credentials from "../Credentials.ts"
import type { Conn, EffectImplementation } from "../Implementation.ts"

const isEnd = (error: Socket.SocketError): boolean => error.reason._tag === "SocketCloseError"

/** Acquires the socket's reader (which opens the connection) and a writer that `end` releases. */
const toConn = (socket: Socket.Socket): Effect.Effect<Conn, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const reader = yield* socket.reader
    const writerScope = yield* Scope.fork(scope)
    const writer = yield* Scope.provide(socket.writer, writerScope)
    const conn: Conn<ReadonlyArray<Uint8Array | string> | undefined> = {
      // Its end is a failure, which the workload cannot take as a value: the one operation the adapter adds.
      read: Effect.catchIf(reader.pull, isEnd, () => Effect.undefined),
      // No encoding is set on the socket, so every chunk is a Buffer.
      chunks: (read) => read as ReadonlyArray<Uint8Array> | undefined,
      write: (chunk) => writer.write(chunk),
      end: Scope.close(writerScope, Exit.void),
      resumed: undefined
    }
    return conn
  })

/**
 * @since 0.1.0
 * @category implementations
 */
export const implementation: EffectImplementation = {
  _tag: "Effect",
  id: "effect",
  label: "Effect NodeSocket",
  resumption: false,
  serve: (credentials, handler) =>
    Effect.gen(function* () {
      const server = yield* NodeSocketServer.makeTls({
        ...Credentials.serverOptions(credentials),
        host: Credentials.host,
        port: 0
      })
      yield* Effect.forkScoped(
        server.run((socket) => Effect.scoped(Effect.flatMap(toConn(socket), handler)).pipe(Effect.ignore))
      )
      if (server.address._tag === "UnixPathAddress") return yield* Effect.die("the server bound a path")
      return server.address.port
    }),
  client: (credentials) =>
    Effect.succeed({
      connect: (port) =>
        Effect.flatMap(
          NodeSocket.makeTls({ ...Credentials.clientOptions(credentials, port), ca: credentials.ca }),
          toConn
        )
    })
}
