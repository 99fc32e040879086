/**
 * The kit's process, relay, temporary-file and loopback helpers, with plain
 * commands (`sh`, `cat`) and node:net sockets.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as CertificateAuthority from "../src/CertificateAuthority.ts"
import * as Loopback from "../src/Loopback.ts"
import * as Peer from "../src/Peer.ts"
import * as Relay from "../src/Relay.ts"
import * as TempFiles from "../src/TempFiles.ts"

/** Whether a process with this pid exists (signal 0 checks without signalling). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Waits until no process has this pid, at most 5 seconds: a killed process
 * whose parent is gone is reaped by init a moment later, and nothing tells us.
 */
const gone = (pid: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 5_000
    for (let i = 0; i < 500 && alive(pid) && Date.now() < deadline; i++) yield* Effect.sleep(10)
    assert.isFalse(alive(pid), `process ${pid} is gone`)
  })

/** A client socket to 127.0.0.1:`port`, connected; destroyed with the scope. */
const connect = (port: number) =>
  Effect.acquireRelease(
    Effect.callback<net.Socket, Error>((resume) => {
      const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
      socket.once("error", (error) => resume(Effect.fail(error)))
      socket.once("connect", () => {
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** The next `bytes` bytes `socket` receives, as text (at most 5 seconds). */
const receive = (socket: net.Socket, bytes: number) =>
  Effect.callback<string>((resume) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1")
      if (text.length >= bytes) {
        socket.removeListener("data", onData)
        resume(Effect.succeed(text))
      }
    }
    socket.on("data", onData)
    return Effect.sync(() => socket.removeListener("data", onData))
  }).pipe(Effect.timeout("5 seconds"))

/** Waits (at most 5 seconds) for `socket` to end or close; whether it was a reset. */
const ended = (socket: net.Socket) =>
  Effect.callback<"end" | "reset">((resume) => {
    socket.once("end", () => resume(Effect.succeed("end")))
    socket.once("error", (error: Error & { code?: string }) =>
      resume(Effect.succeed(error.code === "ECONNRESET" ? "reset" : "end"))
    )
  }).pipe(Effect.timeout("5 seconds"))

describe("Peer", () => {
  it.live("output is awaitable by pattern, per stream, from a mark, a number of times; stdin and exit", () =>
    Effect.gen(function* () {
      const peer = yield* Peer.start("sh", [
        "-c",
        'echo ready; while read line; do echo "got $line"; echo err >&2; done'
      ])
      yield* peer.waitFor(/^ready$/m, { stream: "stdout" })
      const from = peer.mark()
      yield* peer.write("one\ntwo\n")
      const match = yield* peer.waitFor(/got (\w+)/, { from, count: 2 })
      assert.strictEqual(match[1], "two")
      yield* peer.waitFor(/err/, { stream: "stderr", count: 2 })
      yield* peer.endInput
      assert.deepStrictEqual(yield* peer.exited, { code: 0, signal: null })
      assert.strictEqual(peer.stdoutText(), "ready\ngot one\ngot two\n")
      assert.strictEqual(peer.stderr(), "err\nerr\n")
      assert.match(peer.output(), /^ready\n/)
    }).pipe(Effect.scoped)
  )

  it.live("a wait fails at its bound, and when the output ends first, quoting what the peer printed", () =>
    Effect.gen(function* () {
      const peer = yield* Peer.start("sh", ["-c", "echo hello; read line"], { timeout: "200 millis" })
      const timeout = yield* Effect.flip(peer.waitFor(/never/))
      assert.strictEqual(timeout.reason._tag, "Timeout")
      assert.include(timeout.message, "hello")
      yield* peer.endInput
      const exited = yield* Effect.flip(peer.waitFor(/never/, { timeout: "5 seconds" }))
      assert.strictEqual(exited.reason._tag, "Exited")
      const missing = yield* Effect.flip(Peer.start("effect-tls-no-such-command", []))
      assert.strictEqual(missing.reason._tag, "Spawn")
    }).pipe(Effect.scoped)
  )

  it.live("closing the scope ends the whole process group, a child that ignores SIGTERM included", () =>
    Effect.gen(function* () {
      const pids = yield* Effect.scoped(
        Effect.gen(function* () {
          // The child ignores SIGTERM: SIGKILL after the kill timeout ends it.
          const peer = yield* Peer.start("sh", ["-c", "sh -c 'trap \"\" TERM; echo $$; exec sleep 60' & wait"], {
            killTimeout: "300 millis"
          })
          const match = yield* peer.waitFor(/^(\d+)$/m)
          return { leader: peer.pid, child: Number(match[1]) }
        })
      )
      assert.isFalse(alive(pids.leader), "the leader is gone")
      yield* gone(pids.child)
    })
  )

  it.live("a peer that ignores SIGTERM is killed after its kill timeout", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const pid = yield* Effect.scoped(
        Effect.gen(function* () {
          // The ignored signal stays ignored in the shell's child too.
          const peer = yield* Peer.start("sh", ["-c", "trap '' TERM; echo ready; sleep 60; echo late"], {
            killTimeout: "300 millis"
          })
          yield* peer.waitFor(/ready/)
          return peer.pid
        })
      )
      assert.isAtLeast(Date.now() - started, 300)
      assert.isFalse(alive(pid), "the leader is gone")
    })
  )

  it.live("run: input, exit code and output of a command run to its end; stdout to a function", () =>
    Effect.gen(function* () {
      const done = yield* Peer.run("sh", ["-c", "cat; echo oops >&2; exit 3"], { input: "abc" })
      assert.strictEqual(done.code, 3)
      assert.strictEqual(done.stdoutText, "abc")
      assert.deepStrictEqual([...done.stdout], [0x61, 0x62, 0x63])
      assert.strictEqual(done.stderr, "oops\n")
      const chunks: Array<Buffer> = []
      const bulk = yield* Peer.start("sh", ["-c", "head -c 100000 /dev/zero"], {
        stdout: (chunk) => chunks.push(chunk)
      })
      assert.strictEqual((yield* bulk.exited).code, 0)
      assert.strictEqual(Buffer.concat(chunks).length, 100_000)
      assert.strictEqual(bulk.stdout().length, 0)
      assert.isTrue(Peer.available("sh", "cat"))
      assert.isFalse(Peer.available("sh", "effect-tls-no-such-command"))
    }).pipe(Effect.scoped)
  )
})

describe("Loopback", () => {
  it.live("listen hands over accepted sockets and destroys them with the scope; a closed port refuses", () =>
    Effect.gen(function* () {
      const listener = yield* Loopback.listen()
      yield* connect(listener.port)
      const socket = yield* listener.accept
      assert.strictEqual(listener.openSockets(), 1)
      socket.destroy()
      yield* listener.allClosed
      assert.strictEqual(listener.openSockets(), 0)
      const port = yield* Loopback.closedPort
      const refused = yield* Effect.exit(Effect.scoped(connect(port)))
      assert.isTrue(Exit.isFailure(refused))
      yield* Peer.waitForPort(listener.port)
    }).pipe(Effect.scoped)
  )
})

describe("Relay", () => {
  it.live("carries both ways; a paused direction holds its bytes until resumed; end is a FIN; reset an RST", () =>
    Effect.gen(function* () {
      const listener = yield* Loopback.listen({ allowHalfOpen: true })
      const relay = yield* Relay.make(listener.port)
      const client = yield* connect(relay.port)
      const server = yield* listener.accept
      client.write("ping")
      assert.strictEqual(yield* receive(server, 4), "ping")
      yield* relay.pause("toClient")
      server.write("held")
      const early = yield* receive(client, 4).pipe(Effect.timeoutOption("100 millis"))
      assert.isTrue(Option.isNone(early))
      const late = yield* Effect.forkChild(receive(client, 4), { startImmediately: true })
      yield* relay.resume("toClient")
      assert.strictEqual(yield* Fiber.join(late), "held")
      const fin = yield* Effect.forkChild(ended(server), { startImmediately: true })
      yield* relay.end("toServer")
      assert.strictEqual(yield* Fiber.join(fin), "end")
      const reset = yield* Effect.forkChild(ended(client), { startImmediately: true })
      yield* relay.reset
      assert.strictEqual(yield* Fiber.join(reset), "reset")
      assert.isTrue(Option.isSome(yield* relay.awaitClosed("downstream")))
    }).pipe(Effect.scoped)
  )

  it.live("onRecord sees whole TLS records, however the bytes were split, and can replace them", () =>
    Effect.gen(function* () {
      const listener = yield* Loopback.listen()
      const seen: Array<number> = []
      const relay = yield* Relay.make(listener.port, {
        onRecord: (_direction, index, record) => {
          seen.push(index)
          return index === 1 ? Buffer.alloc(0) : record
        }
      })
      const client = yield* connect(relay.port)
      const server = yield* listener.accept
      const record = (byte: number) => Buffer.from([0x17, 3, 3, 0, 2, byte, byte])
      const bytes = Buffer.concat([record(1), record(2), record(3)])
      // Split inside the first record's header and inside the third record. The pauses only make it
      // likely that the relay reads the parts apart; the records must come out whole either way.
      client.write(bytes.subarray(0, 3))
      yield* Effect.sleep("20 millis")
      client.write(bytes.subarray(3, 17))
      yield* Effect.sleep("20 millis")
      client.write(bytes.subarray(17))
      const got = yield* receive(server, 14)
      assert.deepStrictEqual([...Buffer.from(got, "latin1")], [...record(1), ...record(3)])
      assert.deepStrictEqual(seen, [0, 1, 2])
    }).pipe(Effect.scoped)
  )
})

describe("TempFiles", () => {
  it.live("the PEM files of an issued certificate, the key private, removed with the scope", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const files = yield* Effect.scoped(
        Effect.gen(function* () {
          const files = yield* TempFiles.pem(issued)
          assert.strictEqual(readFileSync(files.cert, "utf8"), issued.cert)
          assert.strictEqual(readFileSync(files.chain, "utf8"), issued.chain)
          assert.strictEqual(readFileSync(files.key, "utf8"), issued.key)
          assert.strictEqual(readFileSync(files.ca, "utf8"), issued.ca)
          assert.strictEqual(statSync(files.key).mode & 0o777, 0o600)
          const dir = yield* TempFiles.directory({ "a.txt": "a" })
          assert.strictEqual(readFileSync(`${dir}/a.txt`, "utf8"), "a")
          return files
        })
      )
      assert.isFalse(existsSync(files.dir))
    })
  )
})
