/**
 * The parsed command lines of `connect` and `serve`: what `Cli` builds from
 * the flags and what the commands and `library` read.
 */
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import type * as Duration from "effect/Duration"
import type { Address, Mode } from "./args.ts"

/** The parsed command line of `connect`. */
export interface ConnectSettings {
  readonly target: Address
  readonly servername: string | undefined
  readonly ca: string | undefined
  readonly cert: string | undefined
  readonly key: string | undefined
  readonly alpn: ReadonlyArray<string> | undefined
  readonly insecure: boolean
  readonly path: TlsOptions.Path
  readonly starttls: "smtp" | undefined
  readonly minVersion: "1.2" | "1.3" | undefined
  readonly keylog: string | undefined
  readonly connectTimeout: Duration.Duration | undefined
  readonly handshakeTimeout: Duration.Duration | undefined
  readonly verbose: boolean
}

/** The parsed command line of `serve`. */
export interface ServeSettings {
  readonly host: string
  readonly port: number
  readonly credentials: ReadonlyArray<{ readonly cert: string; readonly key: string }>
  readonly ca: string | undefined
  readonly clientCert: "none" | "verify" | "require"
  readonly alpn: ReadonlyArray<string> | undefined
  readonly path: TlsOptions.Path
  readonly maxConnections: number | undefined
  readonly handshakeTimeout: Duration.Duration | undefined
  readonly idleTimeout: Duration.Duration | undefined
  readonly shutdownTimeout: Duration.Duration | undefined
  readonly mode: Mode
  readonly verbose: boolean
}
