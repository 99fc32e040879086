/**
 * The registry of implementations under test.
 *
 * @since 0.1.0
 */
import type { Implementation, ImplementationId, RawImplementation } from "./Implementation.ts"
import * as EffectSocket from "./implementations/effectSocket.ts"
import * as EffectTls from "./implementations/effectTls.ts"
import * as Floor from "./implementations/floor.ts"

/**
 * Raw `node:tls` with a shared `SecureContext`: the reference of every ratio.
 *
 * @since 0.1.0
 * @category implementations
 */
export const raw: RawImplementation = {
  _tag: "Raw",
  id: "raw",
  label: "node:tls",
  resumption: true,
  overJsDuplex: false
}

/**
 * Raw `node:tls` with every TLSSocket over a JavaScript duplex that moves its
 * ciphertext to and from the TCP socket: what the duplex path costs with
 * nothing of effect-tls around it (`duplex/jsduplex`).
 *
 * @since 0.1.0
 * @category implementations
 */
export const jsDuplex: RawImplementation = {
  _tag: "Raw",
  id: "jsduplex",
  label: "node:tls over a JS duplex",
  resumption: true,
  overJsDuplex: true,
  measuredIn: ["bulk", "pingpong"]
}

/**
 * Every implementation, in table order.
 *
 * @since 0.1.0
 * @category implementations
 */
export const all: ReadonlyArray<Implementation> = [
  raw,
  EffectSocket.implementation,
  EffectTls.native,
  EffectTls.duplex,
  EffectTls.simple,
  Floor.implementation,
  jsDuplex
]

/**
 * @since 0.1.0
 * @category getters
 */
export const get = (id: ImplementationId): Implementation => {
  const found = all.find((implementation) => implementation.id === id)
  if (found === undefined) throw new Error(`unknown implementation ${id}`)
  return found
}
