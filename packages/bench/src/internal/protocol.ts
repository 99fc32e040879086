/**
 * The requests the parent sends to a worker process over IPC, and the
 * memory figures a worker reports.
 */
import type { Credentials } from "../Credentials.ts"
import type { ImplementationId } from "../Implementation.ts"
import type { Behaviour, Task } from "../Workload.ts"

/** @internal */
export type Request =
  | {
      readonly op: "serve"
      readonly implementation: ImplementationId
      readonly credentials: Credentials
      readonly behaviour: Behaviour
    }
  | { readonly op: "written"; readonly handle: number }
  | {
      readonly op: "run"
      readonly implementation: ImplementationId
      readonly credentials: Credentials
      readonly port: number
      readonly task: Task
    }
  | {
      readonly op: "hold"
      readonly implementation: ImplementationId
      readonly credentials: Credentials
      readonly port: number
      readonly count: number
    }
  | { readonly op: "close"; readonly handle: number }
  | { readonly op: "cpu" }
  | { readonly op: "memory" }

/** @internal */
export interface Memory {
  readonly rss: number
  readonly heapUsed: number
  /** Memory of ArrayBuffers and Buffers (where received bytes wait). */
  readonly arrayBuffers: number
}

/** @internal */
export type Envelope = { readonly id: number; readonly request: Request }

/** @internal */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
