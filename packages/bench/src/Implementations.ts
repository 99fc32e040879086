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
export const raw: RawImplementation = { _tag: "Raw", id: "raw", label: "node:tls", resumption: true }

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
  Floor.implementation
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
