/**
 * What a signal means to the process. `connect` ends with exit code 130 when
 * interrupted; `serve` is meant to run until a signal, so for it SIGINT and
 * SIGTERM are the normal way to stop and the exit code is 0 once it has
 * shut down gracefully.
 */

let signalIsSuccess = false

/** Called by `serve` once it is listening. */
export const markSignalIsSuccess = (): void => {
  signalIsSuccess = true
}

/** The exit code of an interrupted run. */
export const interruptedExitCode = (): number => (signalIsSuccess ? 0 : 130)
