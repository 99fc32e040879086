/**
 * The process entry point of `effect-tls`: runs {@link Cli.run} with Node's
 * services and turns its end into the exit code.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

/** Runs the command once; `signalIsSuccess` is this run's, read when it has ended. */
const main = (signalIsSuccess: Ref.Ref<boolean>): void =>
  Cli.run.pipe(
    Effect.provideService(Cli.SignalIsSuccess, signalIsSuccess),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({
      // `runMain` leaves a successful process to end by itself once nothing is
      // pending; stdin (paused, but still a handle) can keep it alive, so every
      // end is an explicit exit.
      teardown: (exit, onExit) =>
        Runtime.defaultTeardown(exit, (code) => {
          const final = Cli.exitCodeOverride(code, Ref.getUnsafe(signalIsSuccess))
          onExit(final)
          // stdout may be a pipe whose writes are still queued (a slow reader):
          // exiting now would cut the peer's data short. An empty write
          // completes once everything before it is written.
          process.stdout.write("", () => process.exit(final))
        })
    })
  )

main(Ref.makeUnsafe(false))
