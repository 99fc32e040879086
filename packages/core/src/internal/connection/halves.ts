/**
 * What the application holds: the connection and its two halves. They touch
 * only the buffers and the driver's read-only state and waits; the IO fiber
 * does the rest.
 */
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { CloseOutcome } from "../../CloseOutcome.ts"
import type * as TlsConnection from "../../TlsConnection.ts"
import type { TlsError } from "../../TlsError.ts"
import type { TlsEvent } from "../../TlsEvent.ts"
import type { TlsSession } from "../../TlsSession.ts"
import type { ReadBuffer } from "../buffers/readBuffer.ts"
import { DEFAULT_FRAME_BYTES } from "../constants.ts"
import type { Driver } from "./driver.ts"

/** @internal */
export const TypeId: "~@effect-tls/core/TlsConnection" = "~@effect-tls/core/TlsConnection"

/** @internal */
export const isTlsConnection = (u: unknown): u is TlsConnection.TlsConnection => Predicate.hasProperty(u, TypeId)

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === "string" ? encoder.encode(chunk) : chunk)

// The values handed to the application are class instances, their getters on
// the prototype: V8 keeps an object literal with a getter as a dictionary,
// which costs memory on every connection. The function values (`write`,
// `readExactly`, ...) are getters too, each making its function on first use
// and returning that one from then on (so that `const { write } =
// connection.writer` works, and gives the same function every time): most
// connections use one or two of them, and each is a closure a connection
// would otherwise keep for its whole life. Each such field is written and
// read by its getter only, by whichever fiber asks first.

type ReadExactly = TlsConnection.ReadHalf["readExactly"]
type ReadUntil = TlsConnection.ReadHalf["readUntil"]
type Write = TlsConnection.WriteHalf["write"]
type WriteAll = TlsConnection.WriteHalf["writeAll"]

class Reader implements TlsConnection.ReadHalf {
  private readonly buffer: ReadBuffer
  private readExactlyFunction: ReadExactly | undefined = undefined
  private readUntilFunction: ReadUntil | undefined = undefined

  constructor(buffer: ReadBuffer) {
    this.buffer = buffer
  }

  get readExactly(): ReadExactly {
    const buffer = this.buffer
    this.readExactlyFunction ??= (n) => buffer.readExactly(n)
    return this.readExactlyFunction
  }

  get readUntil(): ReadUntil {
    const buffer = this.buffer
    this.readUntilFunction ??= (delimiter, options) =>
      buffer.readUntil(toBytes(delimiter), options?.maxBytes ?? DEFAULT_FRAME_BYTES)
    return this.readUntilFunction
  }

  get read(): Effect.Effect<Option.Option<Uint8Array>, TlsError> {
    return this.buffer.read
  }

  get stream(): Stream.Stream<Uint8Array, TlsError> {
    return Stream.fromPull(Effect.succeed(this.buffer.pull))
  }
}

class Writer implements TlsConnection.WriteHalf {
  private readonly driver: Driver
  private writeFunction: Write | undefined = undefined
  private writeAllFunction: WriteAll | undefined = undefined

  constructor(driver: Driver) {
    this.driver = driver
  }

  get write(): Write {
    const buffer = this.driver.writeBuffer
    this.writeFunction ??= (chunk) => buffer.write(toBytes(chunk))
    return this.writeFunction
  }

  get writeAll(): WriteAll {
    const buffer = this.driver.writeBuffer
    this.writeAllFunction ??= (chunks) => buffer.write(Array.from(chunks, toBytes))
    return this.writeAllFunction
  }

  /**
   * Completes once the bytes accepted before it was called were handed to the
   * transport. The IO fiber decides that (`flushedBytes`): the engine is
   * asked only from its own fiber.
   */
  get flush(): Effect.Effect<void, TlsError> {
    const driver = this.driver
    return Effect.suspend(() => {
      if (driver.writeBuffer.isClosed) return Effect.fail(driver.closedError())
      const target = driver.writeBuffer.acceptedBytes
      driver.wantFlush(target)
      return driver.awaitSending("flush", () => {
        const lifecycle = driver.lifecycle
        if (lifecycle._tag === "Closed" && lifecycle.outcome._tag === "Failed")
          return Effect.fail(lifecycle.outcome.error)
        if (driver.flushedBytes >= target) return Effect.void
        if (lifecycle._tag === "Closed") return Effect.fail(driver.closedError())
        return undefined
      })
    })
  }

  /** close_notify after the pending writes, then the FIN: completes once both were handed on. */
  get end(): Effect.Effect<void, TlsError> {
    const driver = this.driver
    return Effect.suspend(() => {
      if (driver.writeBuffer.isClosed) return Effect.fail(driver.closedError())
      driver.writeBuffer.requestEnd()
      return driver.awaitSending("end", () => {
        if (driver.send._tag === "Done") return Effect.void
        if (driver.lifecycle._tag === "Closed") return Effect.fail(driver.closedError())
        return undefined
      })
    })
  }

  get sink(): Sink.Sink<void, Uint8Array, never, TlsError> {
    const buffer = this.driver.writeBuffer
    return Sink.mapEffect(
      Sink.forEachArray((chunks: ReadonlyArray<Uint8Array>) => buffer.write(chunks)),
      () => this.end
    )
  }
}

/** @internal */
export class Connection implements TlsConnection.TlsConnection {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly reader: TlsConnection.ReadHalf
  readonly writer: TlsConnection.WriteHalf
  readonly session: TlsSession
  /** Read by `TlsConnection.close`. */
  readonly driver: Driver

  constructor(driver: Driver, session: TlsSession) {
    this.driver = driver
    this.session = session
    this.reader = new Reader(driver.readBuffer)
    this.writer = new Writer(driver)
  }

  get events(): Stream.Stream<TlsEvent> {
    return this.driver.hub.stream
  }

  get closed(): Effect.Effect<CloseOutcome> {
    return awaitClosed(this.driver)
  }

  get stats(): Effect.Effect<TlsConnection.TlsStats> {
    return Effect.sync(() => ({
      bytesRead: this.driver.bytesRead,
      bytesWritten: this.driver.bytesWritten,
      eventsDropped: this.driver.hub.droppedTotal,
      // Buffered bytes let tests (and monitoring) check the memory bounds of contract point 5.
      readBuffered: this.driver.readBuffer.bytes,
      writeBuffered: this.driver.writeBuffer.bytes
    }))
  }
}

/** Waits for the connection's outcome. */
export const awaitClosed = (driver: Driver): Effect.Effect<CloseOutcome> =>
  driver.awaitProgress(() => {
    const lifecycle = driver.lifecycle
    return lifecycle._tag === "Closed" ? Effect.succeed(lifecycle.outcome) : undefined
  })
