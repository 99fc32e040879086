/**
 * The workloads over raw `node:tls`, the reference: callbacks and events, one
 * shared `SecureContext` per client, sessions resumed with the `session`
 * option and the `'session'` event, as a careful Node program would do.
 */
import * as net from "node:net"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import * as Credentials from "../Credentials.ts"
import {
  type Behaviour,
  block,
  type HeldConnections,
  type Sample,
  type ServerHandle,
  signalByte,
  startTimer,
  type Task
} from "../Workload.ts"

/** Writes `bytes` in `chunkSize` writes, respecting `write`'s backpressure, then calls `done`. */
const pump = (
  socket: tls.TLSSocket,
  bytes: number,
  chunkSize: number,
  done: () => void,
  counter?: { written: number }
): void => {
  const chunk = block(chunkSize)
  let sent = 0
  const go = (): void => {
    while (sent < bytes) {
      const n = Math.min(chunkSize, bytes - sent)
      const more = socket.write(n === chunkSize ? chunk : chunk.subarray(0, n))
      sent += n
      if (counter !== undefined) counter.written += n
      if (!more) {
        socket.once("drain", go)
        return
      }
    }
    done()
  }
  go()
}

/** Calls `done` once `n` bytes arrived (the socket flows from then on). */
const onBytes = (socket: tls.TLSSocket, n: number, done: () => void): void => {
  let total = 0
  const onData = (data: Buffer) => {
    total += data.length
    if (total >= n) {
      socket.off("data", onData)
      socket.resume()
      done()
    }
  }
  socket.on("data", onData)
}

const handle = (behaviour: Behaviour, socket: tls.TLSSocket, counter: { written: number }): void => {
  switch (behaviour._tag) {
    case "Source":
      onBytes(socket, 1, () => pump(socket, behaviour.bytes, behaviour.chunkSize, () => socket.end()))
      return
    case "Sink":
      onBytes(socket, behaviour.bytes, () => socket.write(signalByte))
      return
    case "Echo":
      socket.on("data", (data: Buffer) => socket.write(data))
      return
    case "Idle":
      socket.resume()
      return
    case "Flood":
      pump(socket, behaviour.bytes, behaviour.chunkSize, () => {}, counter)
      return
  }
}

/**
 * A JavaScript duplex over `tcp` that moves bytes both ways with backpressure,
 * as a careful program would write it: a TLSSocket on it runs on Node's
 * `JSStreamSocket`, as the TLSSockets of effect-tls's duplex path do.
 */
const jsDuplexOver = (tcp: net.Socket): Duplex => {
  const whenDrained = (callback: () => void, ok: boolean) => (ok ? callback() : tcp.once("drain", callback))
  const duplex = new Duplex({
    read() {
      tcp.resume()
    },
    write(chunk: Buffer, _encoding, callback) {
      whenDrained(() => callback(), tcp.write(chunk))
    },
    writev(chunks, callback) {
      tcp.cork()
      let ok = true
      for (const { chunk } of chunks) ok = tcp.write(chunk)
      tcp.uncork()
      whenDrained(() => callback(), ok)
    },
    final(callback) {
      tcp.end()
      callback()
    },
    destroy(error, callback) {
      tcp.destroy()
      callback(error)
    }
  })
  tcp.on("data", (data: Buffer) => {
    if (!duplex.push(data)) tcp.pause()
  })
  tcp.on("end", () => duplex.push(null))
  tcp.on("error", (error) => duplex.destroy(error))
  tcp.on("close", () => duplex.destroy())
  return duplex
}

/** A TLS server whose TLSSockets sit on JavaScript duplexes over the accepted TCP sockets. */
const jsDuplexServer = (
  credentials: Credentials.Credentials,
  onSecure: (socket: tls.TLSSocket) => void
): net.Server => {
  // One context for every connection: its ticket keys resume sessions across them.
  const secureContext = tls.createSecureContext(Credentials.serverOptions(credentials))
  return net.createServer((tcp) => {
    const socket = new tls.TLSSocket(jsDuplexOver(tcp), { isServer: true, secureContext })
    // A server TLSSocket outside a tls.Server reports its errors as '_tlsError'.
    socket.on("_tlsError", () => socket.destroy())
    socket.on("error", () => {})
    socket.once("secure", () => onSecure(socket))
  })
}

/** @internal */
export const serve = (
  credentials: Credentials.Credentials,
  behaviour: Behaviour,
  overJsDuplex: boolean
): Promise<ServerHandle> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    const counter = { written: 0 }
    const onSecure = (socket: tls.TLSSocket) => handle(behaviour, socket, counter)
    const server: net.Server = overJsDuplex
      ? jsDuplexServer(credentials, onSecure)
      : tls.createServer(Credentials.serverOptions(credentials), onSecure)
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      // Resets from clients that close while the server writes are expected.
      socket.on("error", () => {})
    })
    if (server instanceof tls.Server) server.on("tlsClientError", () => {})
    server.once("error", reject)
    server.listen(0, Credentials.host, () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        written: () => counter.written,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            for (const socket of sockets) socket.destroy()
          })
      })
    })
  })

/** A client: one shared secure context and the latest session ticket. */
class RawClient {
  readonly context: tls.SecureContext
  session: Buffer | undefined = undefined
  readonly resume: boolean
  readonly options: tls.ConnectionOptions
  readonly overJsDuplex: boolean

  constructor(credentials: Credentials.Credentials, port: number, resume: boolean, overJsDuplex: boolean) {
    this.context = tls.createSecureContext({ ca: credentials.ca })
    this.resume = resume
    this.options = Credentials.clientOptions(credentials, port)
    this.overJsDuplex = overJsDuplex
  }

  connect(): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        ...this.options,
        ...(this.overJsDuplex
          ? { socket: jsDuplexOver(net.connect({ host: this.options.host ?? "", port: this.options.port ?? 0 })) }
          : {}),
        secureContext: this.context,
        ...(this.resume && this.session !== undefined ? { session: this.session } : {})
      })
      if (this.resume) {
        socket.on("session", (session: Buffer) => {
          this.session = session
        })
      }
      socket.once("secureConnect", () => {
        socket.off("error", reject)
        socket.on("error", () => {})
        resolve(socket)
      })
      socket.once("error", reject)
    })
  }
}

/** Ends the write side and waits until the socket is fully closed. */
const close = (socket: tls.TLSSocket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.closed) return resolve()
    socket.once("close", () => resolve())
    socket.resume()
    socket.end()
  })

/** Ends the write side and resolves once our FIN has been handed to the kernel. */
const endWrite = (socket: tls.TLSSocket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.writableFinished || socket.destroyed) return resolve()
    socket.once("finish", () => resolve())
    socket.once("close", () => resolve())
    socket.resume()
    socket.end()
  })

const handshakes = async (client: RawClient, count: number, concurrency: number): Promise<Sample> => {
  let resumed = 0
  const one = async () => {
    const socket = await client.connect()
    if (socket.isSessionReused()) resumed++
    await endWrite(socket)
  }
  // A first full handshake gives the resuming client a session.
  if (client.resume) await close(await client.connect())
  const stop = startTimer()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      for (let n = Math.floor((count + i) / concurrency); n > 0; n--) await one()
    })
  )
  return stop(resumed)
}

const until = (socket: tls.TLSSocket, n: number): Promise<void> =>
  new Promise((resolve, reject) => {
    socket.once("error", reject)
    onBytes(socket, n, () => {
      socket.off("error", reject)
      resolve()
    })
  })

/** @internal */
export const run = async (
  credentials: Credentials.Credentials,
  port: number,
  task: Task,
  overJsDuplex: boolean
): Promise<Sample> => {
  const client = new RawClient(credentials, port, task._tag === "Handshakes" && task.resume, overJsDuplex)
  if (task._tag === "Handshakes") return handshakes(client, task.count, task.concurrency)
  const socket = await client.connect()
  try {
    const stop = startTimer()
    switch (task._tag) {
      case "Download": {
        const done = until(socket, task.bytes)
        socket.write(signalByte)
        await done
        break
      }
      case "Upload": {
        const done = until(socket, 1)
        pump(socket, task.bytes, task.chunkSize, () => {})
        await done
        break
      }
      case "PingPong": {
        const message = block(task.size)
        await new Promise<void>((resolve, reject) => {
          let remaining = task.count
          let received = 0
          socket.once("error", reject)
          socket.on("data", (data: Buffer) => {
            received += data.length
            if (received < task.size) return
            received -= task.size
            if (--remaining === 0) return resolve()
            socket.write(message)
          })
          socket.write(message)
        })
        break
      }
      case "SmallWrites": {
        const done = until(socket, 1)
        const message = block(task.size)
        await new Promise<void>((resolve) => {
          let remaining = task.count
          const go = (): void => {
            while (remaining > 0) {
              remaining--
              if (!socket.write(message)) {
                socket.once("drain", go)
                return
              }
            }
            resolve()
          }
          go()
        })
        await done
        break
      }
    }
    return stop()
  } finally {
    await close(socket)
  }
}

/** @internal */
export const hold = async (
  credentials: Credentials.Credentials,
  port: number,
  count: number,
  overJsDuplex: boolean
): Promise<HeldConnections> => {
  const client = new RawClient(credentials, port, false, overJsDuplex)
  const sockets: Array<tls.TLSSocket> = []
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(8, count) }, async () => {
      while (next < count) {
        next++
        sockets.push(await client.connect())
      }
    })
  )
  return {
    count,
    close: async () => {
      await Promise.all(sockets.map((socket) => close(socket)))
    }
  }
}
