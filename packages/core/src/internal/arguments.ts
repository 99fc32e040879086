/**
 * The checks of the read operations' arguments, shared by the connection's
 * read half and the transport channel: a refused argument is a
 * `TlsConfigError` `InvalidArgument`, and the operation changes nothing.
 */
import { InvalidArgument, TlsConfigError } from "../TlsError.ts"

const refuse = (argument: string, expected: string, value: unknown) =>
  new TlsConfigError({ reason: new InvalidArgument({ argument, expected, value }) })

const isByteCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

/** The refusal of `readExactly(n)`'s count, if it is not a byte count. */
export const readExactly = (n: number): TlsConfigError | undefined =>
  isByteCount(n) ? undefined : refuse("readExactly(n)", "a whole number of bytes, 0 or more", n)

/** The refusal of `readUntil`'s delimiter (empty) or bound (not a byte count), if either is wrong. */
export const readUntil = (delimiter: Uint8Array, maxBytes: number): TlsConfigError | undefined =>
  delimiter.length === 0
    ? refuse("readUntil(delimiter)", "a delimiter of at least one byte", "")
    : isByteCount(maxBytes)
      ? undefined
      : refuse("readUntil(delimiter, { maxBytes })", "a whole number of bytes, 0 or more", maxBytes)
