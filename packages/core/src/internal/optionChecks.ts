/**
 * The integer checks of options outside a schema (a port, a connection
 * count), shared by the option sets built on the core: the value in force or
 * a `TlsConfigError` `InvalidOption` naming the option, the value and what is
 * allowed. No check throws, whatever the value.
 */
import * as Effect from "effect/Effect"
import { InvalidOption, TlsConfigError } from "../TlsError.ts"

/** An integer from `minimum` to `maximum` (inclusive), `fallback` when absent; `expected` says it in words. */
export const integer = (
  path: string,
  value: number | undefined,
  fallback: number,
  minimum: number,
  maximum: number,
  expected: string
): Effect.Effect<number, TlsConfigError> => {
  if (value === undefined) return Effect.succeed(fallback)
  return typeof value === "number" && Number.isSafeInteger(value) && value >= minimum && value <= maximum
    ? Effect.succeed(value)
    : Effect.fail(new TlsConfigError({ reason: new InvalidOption({ path, expected, value }) }))
}
