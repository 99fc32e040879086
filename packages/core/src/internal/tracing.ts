/**
 * Spans that cost nothing when nobody can see them.
 */
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"

/**
 * `Effect.withSpan` when a tracing backend is installed and tracing is
 * enabled; otherwise `self` as it is. Under Effect's native tracer a span is
 * recorded nowhere, and only code running inside it could see it, which for
 * these spans is the library's own: making one, with its clock readings and
 * attributes, is then work for nobody, on every connection. No call-site
 * stack either: capturing one costs more than a resumed handshake.
 */
export const withSpan =
  (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) =>
      fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer || !fiber.getRef(References.TracerEnabled)
        ? self
        : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
    )
