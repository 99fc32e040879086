import type { TlsSession } from "@effect-tls/core/TlsSession"
import * as Effect from "effect/Effect"

/** A session for engines without cryptography: fixed names, deterministic exporter output. */
export const fakeSession = (role: "client" | "server", protocol: string): TlsSession => ({
  protocol,
  cipher: "NULL",
  group: undefined,
  alpn: undefined,
  servername: undefined,
  peerCertificates: [],
  peerVerified: false,
  resumed: false,
  role,
  exportKeyingMaterial: (options) =>
    Effect.sync(() => {
      // Deterministic and equal on both sides, so channel-binding code can be exercised.
      const out = new Uint8Array(options.length)
      let h = 2166136261
      for (let i = 0; i < options.label.length; i++) h = Math.imul(h ^ options.label.charCodeAt(i), 16777619)
      for (let i = 0; i < out.length; i++) {
        h = Math.imul(h ^ i, 16777619)
        out[i] = h & 0xff
      }
      return out
    })
})
