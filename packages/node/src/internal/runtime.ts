/**
 * Which JavaScript runtime runs the library, and what its `node:tls` cannot
 * do that a path needs. Every entry was found by the conformance suite on
 * the runtime and version named, has a minimal reproduction in the guide
 * (`docs/runtimes.md`) and a regression test
 * (`packages/node/test/runtime.test.ts`) that fails once the runtime behaves,
 * so that the refusal can be lifted.
 */
import { PathUnsupported, TlsRuntimeError } from "@effect-tls/core/TlsError"
import * as Effect from "effect/Effect"
import type * as TlsOptions from "../TlsOptions.ts"

/** The runtimes the library knows. */
export type Name = "node" | "bun" | "deno"

/** A runtime and its version. */
export interface Runtime {
  readonly name: Name
  readonly version: string
}

/** The Deno global's part the detection reads. */
interface DenoGlobal {
  readonly version?: { readonly deno?: string }
}

/** The runtime this process runs on: Bun and Deno say so in globals of their own, and pose as Node otherwise. */
export const detect = (): Runtime => {
  const bun = process.versions.bun
  if (typeof bun === "string") return { name: "bun", version: bun }
  const deno: DenoGlobal | undefined = Reflect.get(globalThis, "Deno")
  const denoVersion = deno?.version?.deno
  if (typeof denoVersion === "string") return { name: "deno", version: denoVersion }
  return { name: "node", version: process.versions.node }
}

/** Detected once: a process does not change runtimes. */
export const current: Runtime = detect()

/**
 * What a path needs that a runtime does not do, with the version it was
 * found on. A path not named for a runtime runs there.
 */
const missing: Readonly<
  Record<Name, Partial<Record<TlsOptions.Path, { readonly foundOn: string; readonly detail: string }>>>
> = {
  node: {},
  bun: {
    duplex: {
      foundOn: "1.4.4",
      detail:
        "a node:tls TLSSocket over a stream.Duplex answers the peer's close_notify with its own at once and then " +
        "drops, without calling back or failing, every write still queued or made later (no TLS half-close), " +
        "so a connection whose peer ends its side first would lose data; the native path (TCP) is not affected"
    }
  },
  deno: {
    native: {
      foundOn: "2.9.6",
      detail:
        "a node:tls TLSSocket on a TCP socket that was paused during a transfer never emits its 'end' (a reader " +
        "that stops reading for a while waits forever), and its write() never holds back (a peer that does not " +
        "read makes the process buffer without bound)"
    },
    duplex: {
      foundOn: "2.9.6",
      detail:
        "a node:tls TLSSocket over a stream.Duplex hands the stream's end to its TLS layer before the close_notify " +
        "that came just ahead of it, at random, so a clean close is reported as a truncation; and over TCP most " +
        "handshakes did not complete within 10 s when the IO fiber yields between its steps (the conformance suite)"
    }
  }
}

/** The refusal of `path` on `runtime`, or `undefined` when the runtime runs it. */
export const refusal = (path: TlsOptions.Path, runtime: Runtime = current): TlsRuntimeError | undefined => {
  const gap = missing[runtime.name][path]
  if (gap === undefined) return undefined
  return new TlsRuntimeError({
    reason: new PathUnsupported({
      runtime: runtime.name,
      version: runtime.version,
      path,
      detail: `${gap.detail} (found on ${runtime.name} ${gap.foundOn})`
    })
  })
}

/** The paths `runtime` runs. */
export const paths = (runtime: Runtime = current): ReadonlyArray<TlsOptions.Path> =>
  (["native", "duplex"] as const).filter((path) => missing[runtime.name][path] === undefined)

/**
 * The path `connect` and `serve` take when none is given: native where the
 * runtime runs it (the fastest), else duplex (refused too on a runtime that
 * runs neither, Deno 2.9.6: the refusal then names it).
 */
export const defaultPath = (runtime: Runtime = current): TlsOptions.Path =>
  missing[runtime.name].native === undefined ? "native" : "duplex"

/** Succeeds when `runtime` runs `path`, else fails with its refusal. */
export const check = (path: TlsOptions.Path, runtime: Runtime = current): Effect.Effect<void, TlsRuntimeError> =>
  Effect.suspend(() => {
    const refused = refusal(path, runtime)
    return refused === undefined ? Effect.void : Effect.fail(refused)
  })
