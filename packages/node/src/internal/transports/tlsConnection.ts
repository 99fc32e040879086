import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import { ConnectionReset, Other, type TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Pulled from "./pulled.ts"

const asTransportError = (error: TlsError): TlsTransportError =>
  error._tag === "TlsTransportError"
    ? error
    : new TlsTransportError({
        reason: new (error._tag === "TlsTruncationError" ? ConnectionReset : Other)({
          code: error._tag,
          detail: `the outer TLS connection failed: ${error.message}`,
          cause: error
        })
      })

/**
 * A TLS connection as the transport of another (TLS inside TLS). The outer
 * connection's clean end (close_notify) is the inner transport's EOF; its
 * failures, truncation included, break the inner transport. Destroying the
 * transport stops using the outer connection; the outer connection itself
 * closes with the scope it was acquired in.
 */
export const make = (outer: TlsConnection, bounds: Pulled.Bounds): Effect.Effect<Transport, never, Scope.Scope> =>
  Pulled.make(
    {
      pull: outer.reader.read.pipe(
        Effect.map((chunk) => (chunk._tag === "None" ? Pulled.End : [chunk.value])),
        Effect.mapError(asTransportError)
      ),
      write: (chunks) => Effect.mapError(outer.writer.writeAll(chunks), asTransportError),
      end: Effect.mapError(outer.writer.end, asTransportError),
      release: Effect.void
    },
    bounds
  )
