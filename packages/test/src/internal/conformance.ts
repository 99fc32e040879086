import { describe } from "@effect/vitest"
import type { ConformanceOptions } from "../Conformance.ts"
import * as Halves from "./conformance/halves.ts"
import * as Interruption from "./conformance/interruption.ts"
import * as Lifetime from "./conformance/lifetime.ts"
import { registration } from "./conformance/support.ts"

/** @internal */
export const conformance = (options: ConformanceOptions): void => {
  const suite = registration(options)
  describe(`conformance: ${options.name}`, () => {
    Halves.register(suite)
    Interruption.register(suite)
    Lifetime.register(suite)
  })
}
