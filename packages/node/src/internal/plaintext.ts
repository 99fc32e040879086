import { PlaintextInjection, type TlsConfigError, TlsHandshakeError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as TransportChannel from "@effect-tls/core/TransportChannel"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type { Plaintext } from "../Plaintext.ts"

/** The type id of `Plaintext` handles. */
export const TypeId: "~@effect-tls/node/Plaintext" = "~@effect-tls/node/Plaintext"

export const isPlaintext = (u: unknown): u is Plaintext => Predicate.hasProperty(u, TypeId)

export const make = (
  transport: Transport,
  options?: TransportChannel.Options
): Effect.Effect<Plaintext, TlsConfigError> =>
  Effect.map(TransportChannel.make(transport, options), (channel) => ({
    [TypeId]: TypeId,
    transport,
    read: channel.read,
    readExactly: (n) => channel.readExactly(n),
    readUntil: (delimiter, readOptions) => channel.readUntil(delimiter, readOptions),
    readLine: channel.readLine,
    write: (chunk) => channel.write(chunk),
    buffered: channel.buffered,
    release: channel.release
  }))

/**
 * Ends the prologue, if `over` is one: the transport to run TLS over, or the
 * injection error when the prologue left bytes unconsumed (the transport is
 * then destroyed before any TLS byte is sent). Run it where nothing can
 * interrupt between it and the handover of the transport to its connection.
 */
export const handOver = (over: Transport | Plaintext): Effect.Effect<Transport, TlsHandshakeError> => {
  if (!isPlaintext(over)) return Effect.succeed(over)
  return Effect.flatMap(over.release, (leftover) => {
    if (leftover === 0) return Effect.succeed(over.transport)
    over.transport.destroy()
    return Effect.fail(
      new TlsHandshakeError({
        reason: new PlaintextInjection({
          detail: `${leftover} bytes of plaintext arrived after the upgrade point and were not consumed by the prologue`
        })
      })
    )
  })
}

/** The transport under what an upgrade runs over. */
export const transportOf = (over: Transport | Plaintext): Transport => (isPlaintext(over) ? over.transport : over)
