/**
 * The conformance suite's manual control of the wire (`WireControl`), made
 * from the wires of the kit: the memory transport pair's control, or a TCP
 * relay between a client and a server.
 *
 * @example
 * ```ts
 * import type { ConformancePair } from "@effect-tls/test/Conformance"
 * import * as TestPair from "@effect-tls/test/TestPair"
 * import * as Wire from "@effect-tls/test/Wire"
 * import * as Effect from "effect/Effect"
 *
 * export const scriptedPair = Effect.map(
 *   TestPair.make(),
 *   ({ client, server, wire }): ConformancePair => ({ client, server, wire: Wire.memory(wire) })
 * )
 *  * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Conformance from "./Conformance.ts"
import type * as MemoryTransport from "./MemoryTransport.ts"
import type * as Relay from "./Relay.ts"

/**
 * The control of a memory pair whose side `a` is the client (`aToB` carries
 * what the client sends), as the suite's `WireControl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memory = (control: MemoryTransport.Control): Conformance.WireControl => {
  const direction = (wire: Conformance.WireDirection): MemoryTransport.Direction =>
    wire === "clientToServer" ? "aToB" : "bToA"
  return {
    pause: (wire) => Effect.sync(() => control.pause(direction(wire))),
    resume: (wire) => Effect.sync(() => control.resume(direction(wire))),
    endWithoutCloseNotify: (wire) => Effect.sync(() => control.end(direction(wire))),
    reset: Effect.sync(() => control.reset())
  }
}

/**
 * A relay between the client and the server, as the suite's `WireControl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const relay = (through: Relay.Relay): Conformance.WireControl => {
  const direction = (wire: Conformance.WireDirection): Relay.Direction =>
    wire === "clientToServer" ? "toServer" : "toClient"
  return {
    pause: (wire) => through.pause(direction(wire)),
    resume: (wire) => through.resume(direction(wire)),
    endWithoutCloseNotify: (wire) => through.end(direction(wire)),
    reset: through.reset
  }
}
