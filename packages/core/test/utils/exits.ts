import * as Exit from "effect/Exit"
import type { TlsError } from "../../src/TlsError.ts"

/** How an exit ended, for assertions: `success`, or each reason (`Error/Reason` for a failure, else its tag). */
export const reasonOf = (exit: Exit.Exit<unknown, TlsError>): string =>
  Exit.isFailure(exit)
    ? exit.cause.reasons
        .map((reason) => (reason._tag === "Fail" ? `${reason.error._tag}/${reason.error.reason._tag}` : reason._tag))
        .join(",")
    : "success"
