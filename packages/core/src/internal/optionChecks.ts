/**
 * The checks of option values shared by every option set (the connection's,
 * the Node client's and server's): each returns the value in force or a
 * `TlsConfigError` `InvalidOption` naming the option, the value and what is
 * allowed. No check throws, whatever the value (a garbage string, `NaN`, an
 * object where a number belongs).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOption, TlsConfigError } from "../TlsError.ts"

/** @internal */
export const refuse = (path: string, expected: string, value: unknown): TlsConfigError =>
  new TlsConfigError({ reason: new InvalidOption({ path, expected, value }) })

/** What a bound accepts, in the words of the error. */
export const DURATION_EXPECTED =
  'a positive finite duration (a number of milliseconds, or a string such as "10 seconds")'

/**
 * A bound (a timeout): a `Duration.Input` that is positive and finite. Zero
 * and negative bounds are refused rather than read as "none" or "expire at
 * once", and so is infinity: every wait of the library is bounded.
 */
export const duration = (
  path: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration
): Duration.Duration | TlsConfigError => {
  if (value === undefined) return fallback
  if (typeof value === "number" && !Number.isFinite(value)) return refuse(path, DURATION_EXPECTED, value)
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.fromInput(value)
  } catch {
    decoded = Option.none()
  }
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || !Duration.isPositive(decoded.value)) {
    return refuse(path, DURATION_EXPECTED, value)
  }
  return decoded.value
}

/** An integer from `minimum` to `maximum` (inclusive); `expected` says it in words. */
export const integer = (
  path: string,
  value: number | undefined,
  fallback: number,
  minimum: number,
  maximum: number,
  expected: string
): number | TlsConfigError => {
  if (value === undefined) return fallback
  return typeof value === "number" && Number.isSafeInteger(value) && value >= minimum && value <= maximum
    ? value
    : refuse(path, expected, value)
}

/** A count of bytes or items that must be at least one. */
export const positiveInteger = (
  path: string,
  value: number | undefined,
  fallback: number,
  unit: string
): number | TlsConfigError =>
  integer(path, value, fallback, 1, Number.MAX_SAFE_INTEGER, `a whole number of ${unit}, 1 or more`)

/** A check's verdict as an effect: the value, or the failure. */
export const lift = <A>(checked: A | TlsConfigError): Effect.Effect<Exclude<A, TlsConfigError>, TlsConfigError> =>
  // `instanceof` does not narrow a type parameter: the other branch is the value.
  checked instanceof TlsConfigError ? Effect.fail(checked) : Effect.succeed(checked as Exclude<A, TlsConfigError>)
