import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { TlsEvent } from "../TlsEvent.ts"

interface Follower {
  readonly queue: Queue.Queue<TlsEvent, Cause.Done>
  dropped: number
}

/**
 * Fans control events out to any number of followers without ever blocking
 * the publisher (the IO fiber): each follower has its own bounded queue, and a
 * follower whose queue is full misses events, counted and reported to it.
 * A short history is replayed to new followers, so that events from the
 * handshake (before anyone could follow) are seen; of the session tickets,
 * it keeps the latest, or none (`replayTickets` false: see
 * `Engine.replayTickets`).
 *
 * Written and read by the IO fiber (`publish`, `end`, and the close once it
 * stopped) and by followers subscribing and leaving (`stream`): all of it
 * runs in Effect operations, one at a time.
 */
export class EventHub {
  // Both made on first use: most connections publish a few events and have no follower.
  private followers: Set<Follower> | undefined = undefined
  private history: Array<TlsEvent> | undefined = undefined
  private ended = false
  droppedTotal = 0

  private readonly capacity: number
  private readonly replayTickets: boolean

  constructor(capacity: number, replayTickets = true) {
    this.capacity = capacity
    this.replayTickets = replayTickets
  }

  publish(event: TlsEvent): void {
    if (this.ended) return
    this.remember(event)
    if (this.followers === undefined) return
    for (const follower of this.followers) {
      if (!Queue.offerUnsafe(follower.queue, event)) {
        follower.dropped++
        this.droppedTotal++
      }
    }
  }

  private remember(event: TlsEvent): void {
    const isTicket = event._tag === "SessionTicket"
    if (isTicket && !this.replayTickets) return
    const history = this.history
    if (history === undefined) {
      // Exactly one slot: most connections publish one event (HandshakeDone)
      // and no more, and an empty array grows by 17 slots at its first push.
      this.history = [event]
      return
    }
    // Only the latest ticket is worth replaying (it is the one a client
    // resumes with), and each is a serialized session of several hundred
    // bytes that an idle connection would otherwise keep for its lifetime.
    if (isTicket) {
      const older = history.findIndex((kept) => kept._tag === "SessionTicket")
      if (older >= 0) history.splice(older, 1)
    }
    history.push(event)
    if (history.length > this.capacity) history.shift()
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    if (this.followers === undefined) return
    for (const follower of this.followers) Queue.endUnsafe(follower.queue)
  }

  /** A new follower's stream (built on use: an idle connection keeps none). */
  get stream(): Stream.Stream<TlsEvent> {
    return Stream.unwrap(
      Effect.acquireRelease(
        Effect.gen({ self: this }, function* () {
          const queue = yield* Queue.dropping<TlsEvent, Cause.Done>(this.capacity)
          const follower: Follower = { queue, dropped: 0 }
          if (this.history !== undefined) Queue.offerAllUnsafe(queue, this.history)
          if (this.ended) Queue.endUnsafe(queue)
          else {
            this.followers ??= new Set()
            this.followers.add(follower)
          }
          return follower
        }),
        (follower) =>
          Effect.sync(() => {
            this.followers?.delete(follower)
          })
      ).pipe(
        Effect.map((follower) =>
          Stream.fromPull<TlsEvent, Cause.Done, never, never, never>(
            Effect.succeed(
              Effect.map(Queue.takeAll(follower.queue), (events) => {
                if (follower.dropped === 0) return events
                const dropped = TlsEvent.EventsDropped({ count: follower.dropped })
                follower.dropped = 0
                return [dropped, ...events] as const
              })
            )
          )
        )
      )
    )
  }
}
