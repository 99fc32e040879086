/**
 * A TLS server on Node's native path. Each accepted TCP socket is wrapped in a
 * server TLSSocket at once, so the connection's IO fiber owns it from the first
 * byte and the core handshake timeout applies (a client that never sends a
 * ClientHello is dropped). Every connection runs in its own fiber of a
 * supervised set: a handler that fails or dies closes only its connection.
 *
 * Closing the server's scope shuts it down gracefully: it stops accepting,
 * lets open connections finish until `shutdownTimeout`, then closes the rest
 * (each with close_notify, within the connection's close timeout).
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import type * as tls from "node:tls"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import { type TlsConfigError, type TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { lookupSni, type ServerContexts, serverContext, serverContexts, serverKeylog } from "./internal/context.ts"
import { errorCode } from "./internal/errors.ts"
import { makeFusedEngine } from "./internal/tlsSocketEngine.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number; readonly family: string }
  /**
   * Swaps the credentials without a restart: new handshakes use the new ones,
   * open connections go on. Fails with `TlsConfigError`, keeping the old ones.
   */
  readonly reload: (
    credentials: ReadonlyArray<TlsOptions.Credential>,
    sni?: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>>
  ) => Effect.Effect<void, TlsConfigError>
  /** Connections being served now. */
  readonly connections: Effect.Effect<number>
}

/**
 * The server as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class NodeTlsServer extends Context.Service<NodeTlsServer, Server>()("@effect-tls/node/NodeTlsServer") {}

/**
 * Defaults of the server's limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  maxConnections: 1024,
  idleTimeout: Duration.minutes(5),
  shutdownTimeout: Duration.seconds(10)
} as const

/**
 * Listens and serves every connection with `handler` in its own fiber, until
 * the scope closes. The connection is valid while the handler runs; when the
 * handler ends the connection is closed gracefully.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection) => Effect.Effect<void, E, R>
): Effect.Effect<Server, TlsError, Scope.Scope | R> =>
  Effect.gen(function* () {
    let contexts = yield* serverContexts(options)
    const idleTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.idleTimeout ?? defaults.idleTimeout))
    const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? defaults.shutdownTimeout)
    const keylog = serverKeylog(options.keylog)
    const clientAuth = options.clientAuth

    const sniCallback = (servername: string, callback: (error: Error | null, context?: tls.SecureContext) => void) => {
      const current = contexts
      const known = lookupSni(current, servername)
      if (known !== undefined) return callback(null, known)
      const resolve = options.resolveSni
      if (resolve === undefined) return callback(null, current.default)
      const name = servername.toLowerCase()
      if (current.resolved.has(name)) return callback(null, current.resolved.get(name) ?? current.default)
      void Effect.runPromiseExit(
        resolve(name).pipe(
          Effect.flatMap((credentials) =>
            credentials === undefined
              ? Effect.succeed(undefined)
              : serverContext(options, credentials, `credentials for ${name}`)
          )
        )
      ).then((exit) => {
        if (Exit.isSuccess(exit)) {
          current.resolved.set(name, exit.value)
          callback(null, exit.value ?? current.default)
        } else {
          callback(new Error(`the SNI resolver failed for ${name}: ${Cause.pretty(exit.cause)}`))
        }
      })
    }

    const set = yield* FiberSet.make<void, never>()
    const run = yield* FiberSet.runtime(set)<R>()

    const serveSocket = (socket: net.Socket, current: ServerContexts) =>
      Effect.scoped(
        Effect.gen(function* () {
          const engine = makeFusedEngine(
            "server",
            socket,
            {
              secureContext: current.default,
              ...(clientAuth === undefined
                ? {}
                : { requestCert: true, rejectUnauthorized: clientAuth.mode === "require" }),
              ...(options.alpn === undefined ? {} : { ALPNProtocols: [...options.alpn] }),
              ...(current.byName.size > 0 || options.resolveSni !== undefined ? { SNICallback: sniCallback } : {})
            },
            { ...keylog, idleTimeout }
          )
          const connection = yield* TlsConnection.make({
            engine,
            transport: Transport.fused,
            options: options.connection
          })
          yield* handler(connection)
        })
      ).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
            ? Effect.void
            : Effect.logDebug("TLS connection ended with a failure", exit.cause)
        ),
        Effect.ensuring(Effect.sync(() => socket.destroy())),
        Effect.withSpan("NodeTlsServer.connection")
      )

    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
    server.maxConnections = options.maxConnections ?? defaults.maxConnections
    server.on("connection", (socket) => {
      // Errors before the TLSSocket takes over reach it through the wrap; this keeps them from throwing.
      socket.on("error", () => {})
      run(serveSocket(socket, contexts))
    })

    const host = options.host ?? "127.0.0.1"
    yield* Effect.callback<void, TlsError>((resume) => {
      const onError = (error: Error) =>
        resume(
          Effect.fail(
            new TlsTransportError({ reason: "Other", code: errorCode(error), detail: error.message, cause: error })
          )
        )
      server.once("error", onError)
      server.listen(options.port ?? 0, host, () => {
        server.removeListener("error", onError)
        resume(Effect.void)
      })
      return Effect.sync(() => server.close())
    })
    server.on("error", () => {})

    // Added after the fiber set, so it runs first: stop accepting, give the
    // connections until the deadline, then interrupt them (each closes with
    // close_notify), and wait for the listener to be gone.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const closed = Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
        const drained = yield* FiberSet.awaitEmpty(set).pipe(Effect.timeoutOption(shutdownTimeout))
        if (drained._tag === "None") yield* FiberSet.clear(set)
        yield* closed
      })
    )

    const bound = server.address() as net.AddressInfo
    const result: Server = {
      address: { host: bound.address, port: bound.port, family: bound.family },
      reload: (credentials, sni) =>
        Effect.map(serverContexts(options, credentials, sni ?? options.sni), (next) => {
          contexts = next
        }),
      connections: FiberSet.size(set)
    }
    return result
  })

/**
 * A server layer: serves with `handler` while the layer is alive.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection) => Effect.Effect<void, E, R>
): Layer.Layer<NodeTlsServer, TlsError, R> => Layer.effect(NodeTlsServer, serve(options, handler))
