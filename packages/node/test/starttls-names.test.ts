/**
 * The deprecated `Starttls` names are the upgrades themselves: programs
 * written against the earlier release connect as before.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as Starttls from "@effect-tls/node/Starttls"
import { CertificateAuthority, MemoryTransport } from "@effect-tls/test"
import * as Effect from "effect/Effect"

describe("Starttls (deprecated names)", () => {
  it("client and server are NodeTls.upgradeClient and NodeTls.upgradeServer", () => {
    assert.strictEqual(Starttls.client, NodeTls.upgradeClient)
    assert.strictEqual(Starttls.server, NodeTls.upgradeServer)
  })

  it.live("a client and a server made with the old names talk", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const issued = yield* pki.issueServer()
      const { a, b } = MemoryTransport.makePair()
      const [client, server] = yield* Effect.all(
        [
          Starttls.client(a, { ca: pki.root, servername: "localhost" }),
          Starttls.server(b, { credentials: [{ cert: issued.chain, key: issued.redactedKey }] })
        ],
        { concurrency: 2 }
      )
      yield* client.writer.write("hello")
      const read = yield* server.reader.readExactly(5)
      assert.strictEqual(new TextDecoder().decode(read), "hello")
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
