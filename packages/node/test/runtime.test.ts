/**
 * The runtime table (`src/internal/runtime.ts`) and the behaviours behind
 * its refusals. Each reproduction here is the guide's (docs/runtimes.md),
 * reduced to node:tls, net and stream alone: it must misbehave on the
 * runtime whose refusal names it, so that this file fails once that runtime
 * behaves and the refusal can be lifted, and it must behave on Node, where
 * both paths run. The runtime matrix (`packages/runtimes`) runs this file on
 * Node 22, Bun and Deno; the main run on Node 24.
 */
import type * as net from "node:net"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as CertificateAuthority from "@effect-tls/test/CertificateAuthority"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as NodeInternals from "../src/internal/engine/nodeInternals.ts"
import * as internal from "../src/internal/runtime.ts"
import * as Runtime from "../src/Runtime.ts"

const bun = { name: "bun", version: "1.4.4" } as const
const deno = { name: "deno", version: "2.9.6" } as const
const node = { name: "node", version: "24.21.0" } as const

describe("Runtime", () => {
  it("detects the runtime from its own globals", () => {
    const expected = typeof process.versions.bun === "string" ? "bun" : "Deno" in globalThis ? "deno" : "node"
    assert.strictEqual(Runtime.current.name, expected)
    assert.match(Runtime.current.version, /^\d+\.\d+\.\d+/)
  })

  it("Node runs both paths, Bun the native one, Deno none; the default is the first it runs", () => {
    assert.deepStrictEqual(Runtime.paths(node), ["native", "duplex"])
    assert.deepStrictEqual(Runtime.paths(bun), ["native"])
    assert.deepStrictEqual(Runtime.paths(deno), [])
    assert.strictEqual(Runtime.defaultPath(node), "native")
    assert.strictEqual(Runtime.defaultPath(bun), "native")
  })

  it.effect(
    "a refused path fails with TlsRuntimeError naming the runtime, its version, the path and what is missing",
    () =>
      Effect.gen(function* () {
        const refused = yield* Effect.flip(Runtime.supports("duplex", { name: "bun", version: "1.5.0" }))
        assert.deepStrictEqual(
          [refused._tag, refused.reason._tag, refused.reason.runtime, refused.reason.version, refused.reason.path],
          ["TlsRuntimeError", "PathUnsupported", "bun", "1.5.0", "duplex"]
        )
        assert.match(refused.reason.detail, /close_notify/)
        assert.match(refused.reason.detail, /found on bun 1\.4\.4/)
        assert.match(refused.message, /the duplex path cannot run on bun 1\.5\.0/)
        const nativeOnDeno = yield* Effect.flip(Runtime.supports("native", deno))
        assert.match(nativeOnDeno.reason.detail, /'end'/)
        const duplexOnDeno = yield* Effect.flip(Runtime.supports("duplex", deno))
        assert.match(duplexOnDeno.reason.detail, /truncat/)
        yield* Runtime.supports("native", bun)
        yield* Runtime.supports("duplex", node)
        yield* Runtime.supports("native", node)
      })
  )
})

// -----------------------------------------------------------------------------
// the reproductions
// -----------------------------------------------------------------------------

const credentials = Effect.runPromise(CertificateAuthority.issueServer())

/** Resolves with what `run` reports, or with `timedOut` after `ms` (the misbehaviours include hangs). */
const bounded = <A>(ms: number, timedOut: A, run: (done: (a: A) => void) => () => void): Promise<A> =>
  new Promise((resolve) => {
    let cleanup = () => {}
    const timer = setTimeout(() => {
      cleanup()
      resolve(timedOut)
    }, ms)
    cleanup = run((a) => {
      clearTimeout(timer)
      cleanup()
      resolve(a)
    })
  })

/** One end of an in-memory pair: a write is pushed to the other end on the next turn. */
class Wire extends Duplex {
  peer: Wire | undefined
  finalCalled = false
  constructor() {
    super({ allowHalfOpen: true, autoDestroy: false })
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    setImmediate(() => this.peer?.push(chunk))
    callback()
  }
  override _final(callback: () => void): void {
    this.finalCalled = true
    setImmediate(() => this.peer?.push(null))
    callback()
  }
}

/** Node's TLSSocket takes `allowHalfOpen` as net.Socket does; its typings leave it out. */
const halfOpen = { allowHalfOpen: true }

const wires = () => {
  const a = new Wire()
  const b = new Wire()
  a.peer = b
  b.peer = a
  return { a, b }
}

/**
 * TLS half-close over a Duplex: the client ends its side first, the server
 * answers after its 'end'. What the client reads: "world" where it works.
 */
const halfCloseOverDuplex = async (): Promise<string> => {
  const issued = await credentials
  const { a, b } = wires()
  const server = new tls.TLSSocket(b, {
    isServer: true,
    cert: issued.chain,
    key: Redacted.value(issued.redactedKey),
    ...halfOpen
  })
  const client = tls.connect({ socket: a, ca: issued.ca, servername: "localhost", ...halfOpen })
  return bounded(5_000, "(stalled)", (done) => {
    let got = ""
    server.on("data", () => {})
    server.on("end", () => setImmediate(() => server.end("world")))
    server.on("error", () => {})
    client.on("error", (error) => done(`(error: ${error.message})`))
    client.on("secureConnect", () => client.end("hello"))
    client.on("data", (chunk: Buffer) => {
      got += chunk.toString("utf8")
    })
    client.on("end", () => done(got))
    return () => {
      client.destroy()
      server.destroy()
    }
  })
}

/** A TLSSocket over a Duplex that ends its side: whether it ends that Duplex (its `_final`) within 2 s. */
const endsTheDuplexUnder = async (): Promise<boolean> => {
  const issued = await credentials
  const { a, b } = wires()
  const server = new tls.TLSSocket(b, { isServer: true, cert: issued.chain, key: Redacted.value(issued.redactedKey) })
  const client = tls.connect({ socket: a, ca: issued.ca, servername: "localhost", ...halfOpen })
  server.on("data", () => {})
  server.on("error", () => {})
  client.on("error", () => {})
  return bounded(2_000, a.finalCalled, (done) => {
    client.on("secureConnect", () => client.end("hello"))
    const poll = setInterval(() => {
      if (a.finalCalled) done(true)
    }, 10)
    return () => {
      clearInterval(poll)
      client.destroy()
      server.destroy()
    }
  })
}

/**
 * A client TLSSocket on TCP that pauses itself for a millisecond after every
 * chunk, as the native path does when its read buffer is full: whether its
 * 'end' comes once the server's 4 MiB arrived.
 */
const pausedTlsSocketEnds = async (): Promise<string> => {
  const issued = await credentials
  const total = 4 << 20
  const listener = tls.createServer({ cert: issued.chain, key: Redacted.value(issued.redactedKey) }, (socket) => {
    socket.on("error", () => {})
    socket.end(Buffer.alloc(total, 7))
  })
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve))
  const address = listener.address() as net.AddressInfo
  return bounded(8_000, "(no 'end')", (done) => {
    let got = 0
    const client = tls.connect({ host: "127.0.0.1", port: address.port, ca: issued.ca, servername: "localhost" })
    client.on("error", (error) => done(`(error: ${error.message})`))
    client.on("data", (chunk: Buffer) => {
      got += chunk.length
      if (!client.isPaused()) {
        client.pause()
        setTimeout(() => client.resume(), 1)
      }
    })
    client.on("end", () => done(`${got} bytes, then the end`))
    return () => {
      client.destroy()
      listener.close()
    }
  }).then((seen) => (seen === "(no 'end')" ? seen : seen.startsWith(String(total)) ? "all, then the end" : seen))
}

const on = Runtime.current.name

describe("the reproductions behind the refusals", () => {
  it("bun: a TLSSocket over a Duplex whose peer ends first drops the answer (the duplex path is refused)", async () => {
    const read = await halfCloseOverDuplex()
    if (on === "bun") assert.strictEqual(read, "", "Bun now reads the answer: lift the refusal of the duplex path")
    if (on === "node") assert.strictEqual(read, "world")
  }, 20_000)

  it("deno: a TLSSocket over a Duplex never ends that Duplex (the duplex mode ends on 'finish' there)", async () => {
    const ended = await endsTheDuplexUnder()
    assert.strictEqual(ended, !NodeInternals.finishEndsOutput)
    if (on === "node") assert.isTrue(ended)
  }, 20_000)

  it("deno: a paused TLSSocket on TCP never emits 'end' (the native path is refused)", async () => {
    const seen = await pausedTlsSocketEnds()
    if (on === "deno") {
      assert.strictEqual(seen, "(no 'end')", "Deno now ends a paused TLSSocket: lift the refusal of the native path")
    }
    if (on === "node") assert.strictEqual(seen, "all, then the end")
    assert.strictEqual(internal.refusal("native") === undefined, seen === "all, then the end")
  }, 30_000)
})
