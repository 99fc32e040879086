/**
 * Runs a workload on whichever kind of implementation it is given.
 */
import type { Credentials } from "../Credentials.ts"
import type { Implementation } from "../Implementation.ts"
import type { Behaviour, HeldConnections, Sample, ServerHandle, Task } from "../Workload.ts"
import * as EffectWorkloads from "./effect.ts"
import * as RawWorkloads from "./raw.ts"

/** @internal */
export const serve = (
  implementation: Implementation,
  credentials: Credentials,
  behaviour: Behaviour
): Promise<ServerHandle> =>
  implementation._tag === "Raw"
    ? RawWorkloads.serve(credentials, behaviour, implementation.overJsDuplex)
    : EffectWorkloads.serve(implementation, credentials, behaviour)

/** @internal */
export const run = (
  implementation: Implementation,
  credentials: Credentials,
  port: number,
  task: Task
): Promise<Sample> =>
  implementation._tag === "Raw"
    ? RawWorkloads.run(credentials, port, task, implementation.overJsDuplex)
    : EffectWorkloads.run(implementation, credentials, port, task)

/** @internal */
export const hold = (
  implementation: Implementation,
  credentials: Credentials,
  port: number,
  count: number
): Promise<HeldConnections> =>
  implementation._tag === "Raw"
    ? RawWorkloads.hold(credentials, port, count, implementation.overJsDuplex)
    : EffectWorkloads.hold(implementation, credentials, port, count)
