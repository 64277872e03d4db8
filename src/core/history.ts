/**
 * History: the append-only, ordered list of events of one run. It is the source of truth
 * (DESIGN §3): a run's state is whatever replaying its history against its code gives.
 *
 * Glossary
 * - `seq`: 1, 2, 3 … per run, no gaps. The run's one writer (the lease holder) numbers its appends,
 *   and the store refuses one that does not follow the history (RunWrite.seq).
 * - `pos`: the position of a durable command (step, sleep, signal wait, child, state write, recorded
 *   value) in the run's code, assigned in call order starting at 1. Several events share a pos
 *   (a step's attempts). Replay matches commands to history by pos, and the first event at a pos
 *   says which command was there (its kind and name).
 */
import type { SerializedError } from './errors.js';

export const EventType = {
  RunStarted: 'run.started',
  StepStarted: 'step.started',
  StepCompleted: 'step.completed',
  StepFailed: 'step.failed',
  TimerScheduled: 'timer.scheduled',
  TimerFired: 'timer.fired',
  SignalReceived: 'signal.received',
  StateSet: 'state.set',
  ValueRecorded: 'value.recorded',
  ChildStarted: 'child.started',
  ChildCompleted: 'child.completed',
  HumanRequested: 'human.requested',
  HumanCompleted: 'human.completed',
  RunResumed: 'run.resumed',
  RunCompleted: 'run.completed',
  RunFailed: 'run.failed',
  RunCancelled: 'run.cancelled',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** Why a timer exists: a sleep, a step's retry back-off, or the timeout of a signal wait. */
export type TimerPurpose = 'sleep' | 'retry' | 'signal-timeout';

export type EventData =
  | { type: 'run.started'; workflow: string; version: string; input: unknown; parentId?: string }
  /** An attempt still running when the engine wrote (a quick attempt is recorded by its end alone). */
  | { type: 'step.started'; pos: number; name: string; attempt: number }
  | { type: 'step.completed'; pos: number; name: string; attempt: number; result: unknown }
  | {
      type: 'step.failed';
      pos: number;
      name: string;
      attempt: number;
      error: SerializedError;
      /** When set, the step will be attempted again at this instant (epoch ms). */
      retryAt?: number;
    }
  | { type: 'timer.scheduled'; pos: number; purpose: TimerPurpose; fireAt: number; name?: string }
  | { type: 'timer.fired'; pos: number }
  | { type: 'signal.received'; pos: number; name: string; payload: unknown; signalId: number }
  | { type: 'state.set'; pos: number; key: string; value: unknown }
  | { type: 'value.recorded'; pos: number; kind: RecordedValueKind; value: unknown }
  | { type: 'child.started'; pos: number; childId: string; workflow: string }
  | { type: 'child.completed'; pos: number; childId: string; result?: unknown; error?: SerializedError }
  | {
      type: 'human.requested';
      pos: number;
      taskId: string;
      name: string;
      title: string;
      description?: string;
      assignee?: string;
      deadlineAt?: number;
    }
  | {
      type: 'human.completed';
      pos: number;
      taskId: string;
      name: string;
      /** 'expired': the deadline passed first (recorded by the run's own timer). */
      status: 'completed' | 'cancelled' | 'expired';
      data?: unknown;
      by?: string;
    }
  /** A failed run was reopened (`engine.resume`): step failures recorded before it may run again. */
  | { type: 'run.resumed'; previousError: SerializedError }
  | { type: 'run.completed'; result: unknown }
  | { type: 'run.failed'; error: SerializedError }
  | { type: 'run.cancelled'; reason?: string };

export type RecordedValueKind = 'now' | 'random' | 'uuid';

/** An event as stored: its data plus the run, the sequence number and the time of append. */
export type HistoryEvent = EventData & { runId: string; seq: number; at: number };

/** The events that belong to a command position. */
export type PositionedEvent = Extract<EventData, { pos: number }>;

export function hasPosition(e: EventData): e is PositionedEvent {
  return 'pos' in e;
}

/** What command a positioned event stands for, used in replay checks and error messages. */
export function describeCommand(e: PositionedEvent): { kind: string; name: string } {
  switch (e.type) {
    case 'step.started':
    case 'step.completed':
    case 'step.failed':
      return { kind: 'step', name: e.name };
    case 'timer.scheduled':
      return e.purpose === 'signal-timeout'
        ? { kind: 'signal', name: e.name ?? '' }
        : e.purpose === 'retry'
          ? { kind: 'step', name: e.name ?? '' }
          : { kind: 'sleep', name: '' };
    case 'timer.fired':
      return { kind: 'timer', name: '' };
    case 'signal.received':
      return { kind: 'signal', name: e.name };
    case 'state.set':
      return { kind: 'state', name: e.key };
    case 'value.recorded':
      return { kind: e.kind, name: '' };
    case 'child.started':
      return { kind: 'child', name: e.workflow };
    case 'child.completed':
      return { kind: 'child', name: e.childId };
    case 'human.requested':
    case 'human.completed':
      return { kind: 'human task', name: e.name };
  }
}

export const TERMINAL_EVENTS: ReadonlySet<EventType> = new Set(['run.completed', 'run.failed', 'run.cancelled']);
