/**
 * The per-connection spans. Core keeps the same rule for its own span
 * (`core/src/internal/tracing.ts`): the packages share no internal modules.
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
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
    Effect.withFiber((fiber) => (tracesIn(fiber) ? span(self, name, attributes) : self))

/**
 * Whether `connectionSpan` records spans in this fiber's context: a server
 * asks once, for the context every connection it accepts runs in, instead of
 * once per connection.
 */
export const tracing: Effect.Effect<boolean> = Effect.withFiber((fiber) => Effect.succeed(tracesIn(fiber)))

/** The span of `connectionSpan`, for a caller that asked `tracing` already. */
export const span = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  attributes?: Record<string, unknown>
): Effect.Effect<A, E, R> => Effect.withSpan(self, name, { attributes, captureStackTrace: false })

const tracesIn = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer && fiber.getRef(References.TracerEnabled)
