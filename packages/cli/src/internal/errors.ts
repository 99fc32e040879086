/**
 * The command's own failures, besides the library's `TlsError`s.
 */
import * as Data from "effect/Data"

/** The arguments do not go together, or name a file that cannot be used; `detail` says how. */
export class InvalidArguments extends Data.TaggedError("InvalidArguments")<{ readonly detail: string }> {}

/**
 * The command line is valid word by word but not as a whole (`--cert`
 * without `--key`), or a file it names cannot be used. Exit code 2.
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly reason: InvalidArguments
}> {}
