/**
 * The conformance suite on the runtime that runs the tests: a path the
 * runtime runs gets the whole suite; a path it refuses (`Runtime`) gets one
 * test instead, that a connection on that path fails before any byte with
 * `TlsRuntimeError` naming the runtime. The refusal's title ends in
 * `[refused]`, which the runtime matrix (`packages/runtimes`) reports as such.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Runtime from "@effect-tls/node/Runtime"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { type ConformanceOptions, conformance } from "@effect-tls/test/Conformance"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Registers the suite for `options` on `path`, or, where this runtime refuses
 * the path, the check that `attempt` (a connection on that path) fails with
 * the refusal.
 */
export const conformanceOn = (
  path: TlsOptions.Path,
  options: ConformanceOptions,
  attempt: Effect.Effect<TlsConnection, TlsError, Scope.Scope>
): void => {
  const { name, version } = Runtime.current
  if (Runtime.paths().includes(path)) {
    conformance(options)
    return
  }
  describe(`conformance: ${options.name}`, () => {
    it.live(`the ${path} path is refused on ${name} ${version} with TlsRuntimeError before any byte [refused]`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Effect.scoped(attempt))
        assert.strictEqual(error._tag, "TlsRuntimeError", error.message)
        if (error._tag !== "TlsRuntimeError") return
        assert.deepStrictEqual(
          [error.reason._tag, error.reason.runtime, error.reason.version, error.reason.path],
          ["PathUnsupported", name, version, path]
        )
      })
    )
  })
}
