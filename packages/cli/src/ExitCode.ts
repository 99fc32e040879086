/**
 * The exit codes of the `effect-tls` command, and the one-line error report
 * that goes with every non-zero exit.
 *
 * @since 0.1.0
 */
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"

/**
 * The process exit codes. Each failure class has its own, so that scripts can
 * tell a server that is down from one whose certificate is wrong.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  /** The peer closed cleanly (close_notify), or the server was stopped by a signal. */
  Ok: 0,
  /** Any other failure: a file that cannot be read, an unexpected error. */
  Failure: 1,
  /** The command line is invalid. */
  Usage: 2,
  /** The connection could not be opened or broke: refused, reset, unknown host, connect timeout. */
  Connection: 3,
  /**
   * The TLS handshake failed: certificate verification, protocol version,
   * ALPN, handshake timeout, a peer that does not speak TLS; also a TLS 1.3
   * server's refusal of the client certificate, which arrives as an alert
   * after the client's handshake completed (a refusal by close_notify alone
   * cannot be told from a clean close, and exits 0).
   */
  Handshake: 4,
  /** The peer ended the connection without close_notify: the data may be cut short. */
  Truncated: 5,
  /** A TLS protocol failure after the handshake (bad record MAC, fatal alert). */
  Protocol: 6,
  /** Interrupted (SIGINT or SIGTERM) before the connection ended. */
  Interrupted: 130
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * The exit code table as shown by `--help`.
 *
 * @since 0.1.0
 * @category constants
 */
export const help: string = [
  `exit codes: ${ExitCode.Ok} clean close (or serve stopped by a signal)`,
  `${ExitCode.Failure} other error`,
  `${ExitCode.Usage} invalid arguments`,
  `${ExitCode.Connection} connection failed (refused, reset, unknown host, connect timeout)`,
  `${ExitCode.Handshake} TLS handshake failed (certificate, version, ALPN, timeout)`,
  `${ExitCode.Truncated} truncated: the peer closed without close_notify`,
  `${ExitCode.Protocol} TLS protocol error after the handshake`,
  `${ExitCode.Interrupted} interrupted`
].join("; ")

/**
 * The exit code for a library failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTlsError = (error: TlsError): ExitCode => {
  switch (error._tag) {
    case "TlsTransportError":
      return ExitCode.Connection
    case "TlsHandshakeError":
      return ExitCode.Handshake
    case "TlsTruncationError":
      return ExitCode.Truncated
    case "TlsProtocolError":
      return ExitCode.Protocol
    case "TlsConfigError":
      return ExitCode.Usage
    case "TlsStateError":
    case "TlsRuntimeError":
      return ExitCode.Failure
  }
}

/**
 * The failure the command ends with once it has reported the error: it
 * carries the exit code for `NodeRuntime.runMain` and tells it not to report
 * the error again.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliExit extends Data.TaggedError("CliExit")<{
  readonly code: ExitCode
}> {
  /** @since 0.1.0 */
  override readonly [Runtime.errorExitCode]: number = this.code
  /** @since 0.1.0 */
  override readonly [Runtime.errorReported]: boolean = false
}

/**
 * The single stderr line for a failure: `error: <Tag>: <reason>: <detail>`.
 * The detail includes the library's or OpenSSL's code when there is one; the
 * reason and detail are left out when the error has none.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatError = (error: unknown): string => {
  if (!Predicate.isObject(error)) return `error: Error: ${String(error)}`
  const tag = readString(error, "_tag") ?? (error instanceof Error ? error.name : "Error")
  // The library's errors and a PlatformError carry their reason as a tagged
  // class of its own, which holds the code and the detail.
  const nested: unknown = (error as Record<string, unknown>).reason
  const source: object = Predicate.isObject(nested) ? nested : error
  const reason = Predicate.isObject(nested) ? readString(nested, "_tag") : readString(error, "reason")
  const code = readString(source, "code")
  const ownDetail = readString(source, "detail")
  const detail =
    ownDetail !== undefined
      ? code !== undefined && !ownDetail.includes(code)
        ? `${ownDetail} (${code})`
        : ownDetail
      : code !== undefined
        ? code
        : nested instanceof Error && nested.message !== reason
          ? // A reason with fields of its own (an invalid option) says them in its message.
            nested.message.replaceAll(/\s+/g, " ").trim()
          : (reason === undefined || Predicate.isObject(nested)) && error instanceof Error
            ? error.message
            : undefined
  return ["error", tag, reason, detail].filter((part) => part !== undefined && part !== "").join(": ")
}

const readString = (error: object, key: string): string | undefined => {
  const value: unknown = (error as Record<string, unknown>)[key]
  return typeof value === "string" ? value.replaceAll(/\s+/g, " ").trim() : undefined
}
