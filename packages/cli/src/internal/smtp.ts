/**
 * The SMTP prologue of `connect --starttls smtp` (RFC 3207): read the
 * greeting, EHLO, check that STARTTLS is offered, send STARTTLS, read the go
 * ahead. After the upgrade the user speaks SMTP again from the start (a new
 * EHLO), as with `openssl s_client -starttls smtp`.
 */
import type { Plaintext } from "@effect-tls/node/Plaintext"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** The server's reply was not the one the prologue needs (or not SMTP at all); `detail` quotes it. */
export class UnexpectedReply extends Data.TaggedError("UnexpectedReply")<{ readonly detail: string }> {}

/** The server's EHLO reply does not offer STARTTLS. */
export class NotOffered extends Data.TaggedError("NotOffered")<{ readonly detail: string }> {}

/**
 * The server did not agree to start TLS; `reason` (a tagged class) says why.
 */
export class StarttlsError extends Data.TaggedError("StarttlsError")<{
  readonly reason: UnexpectedReply | NotOffered
}> {}

/** Lines of a reply are bounded: a server that never ends its reply is not followed forever. */
const MAX_REPLY_LINES = 100

/** Reads one (possibly multi-line) reply: its code and its lines without the code. */
const reply = (plain: Plaintext) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    for (let i = 0; i < MAX_REPLY_LINES; i++) {
      const text = yield* plain.readLine
      const match = /^(\d{3})([ -])(.*)$/.exec(text)
      if (match === null) {
        return yield* new StarttlsError({
          reason: new UnexpectedReply({ detail: `not an SMTP reply: ${JSON.stringify(text)}` })
        })
      }
      const [, code = "", separator, rest = ""] = match
      lines.push(rest)
      if (separator === " ") return { code: Number(code), lines, last: text }
    }
    return yield* new StarttlsError({
      reason: new UnexpectedReply({ detail: `reply longer than ${MAX_REPLY_LINES} lines` })
    })
  })

const expect = (plain: Plaintext, code: number, after: string) =>
  Effect.flatMap(reply(plain), (r) =>
    r.code === code
      ? Effect.succeed(r)
      : Effect.fail(
          new StarttlsError({ reason: new UnexpectedReply({ detail: `${after}: ${JSON.stringify(r.last)}` }) })
        )
  )

/** Runs the prologue; on success the channel is at the point where TLS starts. */
export const prologue = (plain: Plaintext, heloName: string) =>
  Effect.gen(function* () {
    yield* expect(plain, 220, "greeting")
    yield* plain.write(`EHLO ${heloName}\r\n`)
    const ehlo = yield* expect(plain, 250, "EHLO")
    if (!ehlo.lines.some((l) => /^STARTTLS\b/i.test(l))) {
      return yield* new StarttlsError({ reason: new NotOffered({ detail: "the server does not offer STARTTLS" }) })
    }
    yield* plain.write("STARTTLS\r\n")
    yield* expect(plain, 220, "STARTTLS")
  })
