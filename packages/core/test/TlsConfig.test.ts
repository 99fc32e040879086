import { assert, describe, it } from "@effect/vitest"
import { TlsConfig, TlsConnection } from "@effect-tls/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

describe("TlsConfig", () => {
  it.effect("fills every default when nothing is configured", () =>
    Effect.gen(function* () {
      const config = yield* TlsConfig.config("tls").parse(ConfigProvider.fromUnknown({ tls: {} }))
      assert.strictEqual(config.readBufferBytes, TlsConnection.defaultOptions.readBufferBytes)
      assert.strictEqual(config.writeBufferBytes, TlsConnection.defaultOptions.writeBufferBytes)
      assert.strictEqual(Duration.toMillis(config.handshakeTimeout), 10_000)
      assert.strictEqual(Duration.toMillis(config.closeTimeout), 5_000)
    })
  )

  it.effect("reads strings from the environment provider", () =>
    Effect.gen(function* () {
      const provider = ConfigProvider.fromEnv({
        env: { TLS_readBufferBytes: "4096", TLS_handshakeTimeout: "250 millis" }
      })
      const config = yield* TlsConfig.config("TLS").parse(provider)
      assert.strictEqual(config.readBufferBytes, 4096)
      assert.strictEqual(Duration.toMillis(config.handshakeTimeout), 250)
    })
  )

  it.effect("rejects a buffer size that is not a positive integer", () =>
    Effect.gen(function* () {
      const result = yield* TlsConfig.config("tls")
        .parse(ConfigProvider.fromUnknown({ tls: { readBufferBytes: -1 } }))
        .pipe(Effect.flip)
      assert.strictEqual(result._tag, "ConfigError")
    })
  )

  it.effect("rejects a timeout that is zero, negative or not a duration, naming it", () =>
    Effect.gen(function* () {
      for (const value of ["0 seconds", "-5 seconds", "banana"]) {
        const error = yield* TlsConfig.config("tls")
          .parse(ConfigProvider.fromUnknown({ tls: { handshakeTimeout: value } }))
          .pipe(Effect.flip)
        assert.strictEqual(error._tag, "ConfigError", value)
        assert.include(String(error), "handshakeTimeout", value)
      }
      const zero = yield* TlsConfig.config("tls")
        .parse(ConfigProvider.fromUnknown({ tls: { closeTimeout: "0 seconds" } }))
        .pipe(Effect.flip)
      assert.include(String(zero), "a positive finite duration")
    })
  )
})
