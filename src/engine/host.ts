import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { RunWrite, WriteResult } from '../core/store.js';
import type { EngineEvent } from './events.js';
import type { ChildOutcome, RunExecution } from './execution.js';

/**
 * Named fault points (STYLE §12): tests crash the engine at exact places by passing a `faults`
 * hook that kills the process when a point is reached.
 */
export const FaultPoint = {
  /** A step's function returned; its record has not been written. */
  StepAfterSideEffect: 'step.afterSideEffect',
  /** A step's record is committed; the next command has not started. */
  StepAfterRecord: 'step.afterRecord',
  /** A run was just suspended to wait for a timer, signal or child. */
  RunSuspended: 'run.suspended',
} as const;
export type FaultPoint = (typeof FaultPoint)[keyof typeof FaultPoint];

export type FaultHook = (point: FaultPoint, info: { runId: string; pos?: number; step?: string }) => void;

/** What a RunExecution needs from the engine that hosts it. */
export interface ExecutionHost {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stopping: boolean;
  /** Replay only (history checks): the first command beyond the history ends the execution. */
  readonly replayOnly?: boolean;
  /** How long a run parked by a non-determinism error waits before it is tried again. */
  readonly parkRetryMs: number;
  /** A run whose history holds this many events fails at its next command past it (HISTORY_TOO_LONG). */
  readonly maxHistoryEvents: number;
  /** Queue a write and wait for its result. `prepare`, when given, runs as the write leaves the
   * queue for the store (in queue order): it may complete the write (e.g. number its events), or
   * return false to drop it (resolved as applied, with nothing written). */
  submit(write: RunWrite, prepare?: (write: RunWrite) => boolean): Promise<WriteResult>;
  /** Queue a write nobody awaits; `done` gets its result, or the store error. */
  post(write: RunWrite, done: (result: WriteResult | undefined, error?: unknown) => void, prepare?: (write: RunWrite) => boolean): void;
  emit(event: EngineEvent): void;
  /** Whether anyone listens to events of this type (so that the hot path builds none for nobody). */
  listens(type: EngineEvent['type']): boolean;
  /** Present only when a test crashes the engine at fault points. */
  readonly fault?: (point: FaultPoint, info: { runId: string; pos?: number; step?: string }) => void;
  /** Throws an UNKNOWN_WORKFLOW error when no definition of that name is registered. */
  requireWorkflow(name: string, version: string): void;
  /** New work may be due: look for it now. */
  wake(): void;
  suspended(execution: RunExecution, wakeAt: number | null): void;
  ended(execution: RunExecution, outcome: ChildOutcome, delivered: { runId: string; name: string; payload: unknown }[]): void;
  lost(execution: RunExecution): void;
}
