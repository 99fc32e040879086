/**
 * The per-connection spans. Core keeps the same rule for its own span
 * (`core/src/internal/tracing.ts`): the packages share no internal modules.
 */
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"

/**
 * `Effect.withSpan`, without a call-site stack, when a tracing backend is
 * installed and tracing is enabled; otherwise `self` as it is. Under Effect's
 * native tracer a span is recorded nowhere, and only the code inside it (the
 * library's own, for these spans) could see it: a span made anyway is work for
 * nobody on every connection.
 */
export const connectionSpan =
  (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) =>
      fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer || !fiber.getRef(References.TracerEnabled)
        ? self
        : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
    )
