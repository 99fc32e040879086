/**
 * The JavaScript runtime the library runs on (Node, Bun or Deno through its
 * Node compatibility) and the paths it can run safely there. A path whose
 * runtime lacks a behaviour it relies on is refused before any byte is sent,
 * with a `TlsRuntimeError` naming the runtime, its version and what is
 * missing, instead of losing data or hanging: the duplex path on Bun (no TLS
 * half-close over a `stream.Duplex`), and both on Deno 2.9.6 (a paused TLS
 * socket loses its end; close_notify and the end of a duplex arrive out of
 * order). `connect` and `serve` take {@link defaultPath} when no path is
 * given, so that they work wherever a path does; the guide's runtime page
 * (`docs/runtimes.md`) has each case, its version and a minimal reproduction.
 *
 * @example
 * ```ts
 * import * as Runtime from "@effect-tls/node/Runtime"
 *
 * console.log(`${Runtime.current.name} ${Runtime.current.version}: ${Runtime.paths().join(", ")}`)
 * ```
 *
 * @since 0.1.0
 */
import type { TlsRuntimeError } from "@effect-tls/core/TlsError"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/runtime.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * A runtime and its version, as it reports them (`process.versions.bun`,
 * `Deno.version.deno`, `process.versions.node`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Runtime {
  readonly name: "node" | "bun" | "deno"
  readonly version: string
}

/**
 * The runtime of this process.
 *
 * @since 0.1.0
 * @category constants
 */
export const current: Runtime = internal.current

/**
 * The paths `runtime` (default: this one) runs, in order of preference.
 *
 * @since 0.1.0
 * @category getters
 */
export const paths: (runtime?: Runtime) => ReadonlyArray<TlsOptions.Path> = internal.paths

/**
 * The path `connect` and `serve` take when the options name none: `native`
 * where the runtime runs it, else `duplex` (which Deno refuses too).
 *
 * @since 0.1.0
 * @category getters
 */
export const defaultPath: (runtime?: Runtime) => TlsOptions.Path = internal.defaultPath

/**
 * Succeeds when `runtime` (default: this one) runs `path`, else fails with
 * the `TlsRuntimeError` every connection on that path would fail with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const supports: (path: TlsOptions.Path, runtime?: Runtime) => Effect.Effect<void, TlsRuntimeError> =
  internal.check
