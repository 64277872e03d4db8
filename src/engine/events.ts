/**
 * Typed engine events for observers (run and step lifecycle). A listener that throws is logged
 * and never affects the engine or the other listeners.
 */
import type { NonDeterminismError, SerializedError } from '../core/errors.js';

export type EngineEvent =
  | { type: 'run.started'; runId: string; workflow: string }
  | { type: 'run.resumed'; runId: string; workflow: string }
  | { type: 'run.waiting'; runId: string; wakeAt: number | undefined; waitingFor: string[] }
  | { type: 'run.completed'; runId: string; output: unknown }
  | { type: 'run.failed'; runId: string; error: SerializedError }
  | { type: 'run.cancelled'; runId: string }
  | { type: 'run.error'; runId: string; error: NonDeterminismError }
  /** A `ctx.state.set` was recorded (after its commit). */
  | { type: 'run.state'; runId: string; key: string; value: unknown }
  | { type: 'step.started'; runId: string; step: string; attempt: number }
  | { type: 'step.completed'; runId: string; step: string; attempt: number }
  | { type: 'step.failed'; runId: string; step: string; attempt: number; error: SerializedError; willRetry: boolean }
  /** A run created a human task (after its commit). */
  | { type: 'task.requested'; runId: string; taskId: string; name: string; title: string; assignee?: string }
  /** A run took the end of one of its human tasks: answered, cancelled, or expired at its deadline. */
  | { type: 'task.completed'; runId: string; taskId: string; name: string; status: 'completed' | 'cancelled' | 'expired'; by?: string }
  /** A failed run was reopened by `engine.resume`; it runs again from its failed step. */
  | { type: 'run.reopened'; runId: string };

export type EngineEventType = EngineEvent['type'];
export type EngineEventOf<T extends EngineEventType> = Extract<EngineEvent, { type: T }>;
export type Listener<T extends EngineEventType> = (event: EngineEventOf<T>) => void;

export class EngineEvents {
  private readonly listeners = new Map<string, Set<(e: EngineEvent) => void>>();

  constructor(private readonly onListenerError: (error: unknown, event: EngineEvent) => void) {}

  /** Listen to one event type, or '*' for all; returns the function that stops listening. */
  on<T extends EngineEventType>(type: T, listener: Listener<T>): () => void;
  on(type: '*', listener: (event: EngineEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    const l = listener as (e: EngineEvent) => void;
    set.add(l);
    return () => set.delete(l);
  }

  /** Whether a listener would receive events of this type. */
  listens(type: EngineEventType): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0 || (this.listeners.get('*')?.size ?? 0) > 0;
  }

  emit(event: EngineEvent): void {
    const specific = this.listeners.get(event.type);
    const all = this.listeners.get('*');
    if (!specific?.size && !all?.size) return;
    for (const set of [specific, all]) {
      for (const listener of set ?? []) {
        try {
          listener(event);
        } catch (err) {
          this.onListenerError(err, event);
        }
      }
    }
  }
}
