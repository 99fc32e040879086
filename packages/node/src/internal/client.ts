/**
 * A client from its resolved context and the options its connections read
 * per call (connection options, path, connect timeout): `NodeTlsClient.make`
 * gives each client a context of its own, the one-call forms share one per
 * configuration (`sharedClient`).
 */

import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import * as Effect from "effect/Effect"
import type { Client } from "../NodeTlsClient.ts"
import type * as TlsOptions from "../TlsOptions.ts"
import { type ClientContext, sharedClientContext } from "./context.ts"
import { makeDuplexEngine, makeNativeEngine } from "./engine/index.ts"
import { establish, upgrade } from "./handover.ts"
import { decodePerConnection, decodeTarget, type PerConnectionValues, pathOf } from "./options.ts"
import * as Runtime from "./runtime.ts"
import { connectionSpan } from "./spans.ts"
import * as Net from "./transports/net.ts"

/** The connections of `context`, with `options`' per-connection settings. */
export const clientOf = (
  context: ClientContext,
  options: PerConnectionValues & {
    /** As given: `TlsConnection.make` decodes it, once per object. */
    readonly connection?: TlsConnection.ConnectionOptions | undefined
    readonly servername?: string | undefined
  }
): Client => {
  const connectTimeout = options.connectTimeout
  const path = pathOf(options)
  return {
    cachedSessions: Effect.sync(context.cachedSessions),
    connect: (target) =>
      Effect.uninterruptibleMask((restore) => {
        if (path === "duplex") {
          return Effect.flatMap(
            restore(Net.openSocket({ host: target.host, port: target.port, connectTimeout })),
            // From here the socket is never without an owner: the transport
            // takes it, and `establish` destroys it unless the connection is made.
            (socket) => {
              const { tls, extras } = context.engineOptions(target)
              return establish(restore, makeDuplexEngine("client", tls, extras), new Net.NetTransport(socket), {
                options: options.connection
              })
            }
          )
        }
        // The TLSSocket dials TCP itself (no socket to hand over), within the
        // connect timeout the connection applies while it connects. The
        // engine options are read now: they carry the latest session ticket.
        return Effect.flatMap(decodeTarget(target), ({ port }) => {
          const { tls, extras } = context.engineOptions(target)
          const engine = makeNativeEngine("client", { host: target.host, port }, tls, extras)
          return establish(restore, engine, Transport.native, { options: options.connection, connectTimeout })
        })
      }).pipe(
        connectionSpan("NodeTlsClient.connect", {
          "server.address": target.host,
          "server.port": target.port,
          "tls.path": path
        })
      ),
    upgrade: (over, target) => {
      const host = target?.host ?? target?.servername ?? options.servername ?? "localhost"
      return upgrade(over, "client", () => context.engineOptions({ ...target, host }), options.connection).pipe(
        connectionSpan("NodeTlsClient.upgrade")
      )
    }
  }
}

/**
 * The client of the one-call forms (`NodeTls.connect`, `NodeTls.upgradeClient`):
 * its SecureContext and session cache are shared with every other call with
 * equal options (see `sharedClientContext`); its connection options, path and
 * connect timeout are this call's.
 */
export const sharedClient = (options: TlsOptions.ClientOptions): Effect.Effect<Client, TlsError> =>
  Effect.flatMap(decodePerConnection(options), (perConnection) =>
    Effect.andThen(
      // A path this runtime refuses fails before anything is built or shared.
      Runtime.check(pathOf(perConnection)),
      Effect.map(sharedClientContext(options), (context) =>
        clientOf(context, { ...perConnection, connection: options.connection, servername: options.servername })
      )
    )
  )
