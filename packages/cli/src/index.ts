/**
 * @since 0.1.0
 */

/**
 * The `effect-tls` command: `connect` and `serve`.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"

/**
 * The exit codes of the command and its one-line error report.
 *
 * @since 0.1.0
 */
export * as ExitCode from "./ExitCode.ts"
