import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TlsError from "../src/TlsError.ts"

const unknownCa = new TlsError.TlsHandshakeError({
  reason: new TlsError.UnknownCa({
    code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    detail: "unable to get local issuer certificate",
    cause: new Error("original")
  })
})

describe("TlsError", () => {
  it.effect("catchReason catches one reason of one class, with the reason and the error narrowed to it", () =>
    Effect.gen(function* () {
      const failing: Effect.Effect<string, TlsError.TlsError> = Effect.fail(unknownCa)
      const caught = yield* failing.pipe(
        Effect.catchReason("TlsHandshakeError", "UnknownCa", (reason, error) =>
          Effect.succeed(`${reason._tag} ${reason.code} ${error.reason._tag}`)
        )
      )
      assert.strictEqual(caught, "UnknownCa UNABLE_TO_GET_ISSUER_CERT_LOCALLY UnknownCa")
    })
  )

  it.effect("other reasons and other classes pass through catchReason unchanged", () =>
    Effect.gen(function* () {
      const expired = new TlsError.TlsHandshakeError({ reason: new TlsError.CertificateExpired({}) })
      const timeout = new TlsError.TlsTransportError({ reason: new TlsError.Timeout({ detail: "connect" }) })
      for (const error of [expired, timeout] satisfies ReadonlyArray<TlsError.TlsError>) {
        const failing: Effect.Effect<string, TlsError.TlsError> = Effect.fail(error)
        const result = yield* failing.pipe(
          Effect.catchReason("TlsHandshakeError", "UnknownCa", () => Effect.succeed("caught")),
          Effect.flip
        )
        assert.strictEqual(result, error)
      }
    })
  )

  it.effect("catchReasons handles several reasons; the rest stay in the error channel", () =>
    Effect.gen(function* () {
      const handle = (error: TlsError.TlsError) =>
        Effect.fail(error).pipe(
          Effect.catchReasons("TlsHandshakeError", {
            UnknownCa: () => Effect.succeed("trust"),
            AlertReceived: (reason) => Effect.succeed(`alert ${reason.alert}`)
          }),
          Effect.catchTag("TlsHandshakeError", (other) => Effect.succeed(`other ${other.reason._tag}`)),
          Effect.catchTag("TlsTransportError", (other) => Effect.succeed(`transport ${other.reason._tag}`)),
          Effect.orElseSucceed(() => "unexpected")
        )
      assert.strictEqual(yield* handle(unknownCa), "trust")
      assert.strictEqual(
        yield* handle(new TlsError.TlsHandshakeError({ reason: new TlsError.AlertReceived({ alert: 40 }) })),
        "alert 40"
      )
      assert.strictEqual(
        yield* handle(new TlsError.TlsHandshakeError({ reason: new TlsError.NotTls({ protocol: "HTTP" }) })),
        "other NotTls"
      )
      assert.strictEqual(
        yield* handle(new TlsError.TlsTransportError({ reason: new TlsError.ConnectionRefused({}) })),
        "transport ConnectionRefused"
      )
    })
  )

  it("the error keeps its tag, shares its reason's cause, and its message names the reason and the detail", () => {
    assert.strictEqual(unknownCa._tag, "TlsHandshakeError")
    assert.isTrue(TlsError.isTlsError(unknownCa))
    assert.strictEqual((unknownCa.cause as Error).message, "original")
    assert.strictEqual(unknownCa.reason.cause, unknownCa.cause)
    assert.strictEqual(
      unknownCa.message,
      "handshake failed: UnknownCa (UNABLE_TO_GET_ISSUER_CERT_LOCALLY): unable to get local issuer certificate"
    )
    assert.strictEqual(
      new TlsError.TlsConfigError({
        reason: new TlsError.InvalidOption({ path: "port", expected: "an integer from 0 to 65535", value: 70000 })
      }).message,
      "invalid configuration: port: expected an integer from 0 to 65535, got 70000"
    )
    // A secret's value is left out, not shown as undefined.
    assert.strictEqual(
      new TlsError.InvalidOption({ path: "credentials[0].key", expected: "a Redacted PEM key" }).message,
      "credentials[0].key: expected a Redacted PEM key"
    )
  })

  it("isFatal: a refused operation is not fatal, a closed connection and every other failure are", () => {
    const state = (reason: TlsError.StateFailureReason) => new TlsError.TlsStateError({ reason })
    assert.isFalse(TlsError.isFatal(state(new TlsError.WriteAfterEnd({}))))
    assert.isFalse(TlsError.isFatal(state(new TlsError.Stalled({}))))
    assert.isTrue(TlsError.isFatal(state(new TlsError.ConnectionClosed({}))))
    assert.isFalse(
      TlsError.isFatal(
        new TlsError.TlsConfigError({
          reason: new TlsError.InvalidArgument({ argument: "readExactly(n)", expected: "n >= 0", value: -1 })
        })
      )
    )
    assert.isTrue(TlsError.isFatal(unknownCa))
  })
})
