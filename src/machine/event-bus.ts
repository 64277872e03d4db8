/**
 * The in-process event bus of Orca hosts (ORCA.md §4.5 "EventBus"): publish/subscribe of
 * lifecycle events, the registry of effect handlers, and request/response with correlation ids.
 *
 * - A subscriber that throws or rejects never affects the others or the publisher; its error goes
 *   to `onHandlerError` (a bus is observation, not control flow).
 * - Subscribing the same handler twice to the same type is a no-op.
 * - Time comes from an injected {@link Clock}, so tests drive timeouts without sleeping (STYLE §9).
 *
 * There is no global bus: pass one to each actor that should share it.
 */
import { coerceError, TimeoutError } from '../core/errors.js';

export const OrcaEventType = {
  StateChanged: 'orca.state.changed',
  TransitionStarted: 'orca.transition.started',
  TransitionCompleted: 'orca.transition.completed',
  EffectExecuting: 'orca.effect.executing',
  EffectCompleted: 'orca.effect.completed',
  EffectFailed: 'orca.effect.failed',
  MachineStarted: 'orca.machine.started',
  MachineStopped: 'orca.machine.stopped',
  WorkflowStateChanged: 'workflow.state.changed',
  AgentTaskAssigned: 'agent.task.assigned',
  AgentTaskCompleted: 'agent.task.completed',
  SchedulingQuery: 'scheduling.query',
  SchedulingQueryResponse: 'scheduling.query_response',
} as const;

/** Subscribe to this type to receive every event. */
export const ANY_EVENT = '*';

export interface BusEvent<P = unknown> {
  type: string;
  source: string;
  /** The machine event that caused it, when there is one. */
  eventName?: string;
  correlationId?: string;
  /** Epoch ms, from the bus's clock. */
  timestamp: number;
  payload: P;
}

export type BusHandler = (event: BusEvent) => void | Promise<void>;

/** What a publisher supplies; the bus stamps the time, and the source defaults to 'orca'. */
export type PublishInput = Omit<BusEvent, 'timestamp' | 'source'> & { source?: string };

/** Time for hosts: the current instant and one-shot timers that return their cancel function. */
export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};

export interface Effect {
  /** The T of `Effect<T>`. */
  type: string;
  payload: unknown;
}

export type EffectOutcome = { status: 'success'; data: unknown } | { status: 'failure'; error: string };

/** Runs an effect; the returned value is its data (a plain object is merged into the context). */
export type EffectHandler = (effect: Effect) => unknown;

export interface EventBusOptions {
  clock?: Clock;
  /** Correlation ids for requests; default `crypto.randomUUID()`. */
  ids?: () => string;
  /** Called with the error of a subscriber that threw or rejected. */
  onHandlerError?: (error: Error, event: BusEvent) => void;
}

/** Runs one handler, turning a throw or a rejection into a failure outcome. */
export async function runEffectHandler(handler: EffectHandler, effect: Effect): Promise<EffectOutcome> {
  try {
    return { status: 'success', data: await handler(effect) };
  } catch (err) {
    return { status: 'failure', error: coerceError(err).message };
  }
}

export class EventBus {
  readonly clock: Clock;
  private readonly ids: () => string;
  private readonly onHandlerError: ((error: Error, event: BusEvent) => void) | undefined;
  private readonly handlers = new Map<string, Set<BusHandler>>();
  private readonly effectHandlers = new Map<string, EffectHandler>();

  constructor(options: EventBusOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.ids = options.ids ?? (() => globalThis.crypto.randomUUID());
    this.onHandlerError = options.onHandlerError;
  }

  /** Subscribes a handler (`'*'` for every type); returns its unsubscribe function. */
  subscribe(type: string, handler: BusHandler): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(handler);
    return () => {
      this.unsubscribe(type, handler);
    };
  }

  /** Returns whether the handler was subscribed. */
  unsubscribe(type: string, handler: BusHandler): boolean {
    const set = this.handlers.get(type);
    if (set === undefined) return false;
    const removed = set.delete(handler);
    if (set.size === 0) this.handlers.delete(type);
    return removed;
  }

  subscriberCount(type: string): number {
    return this.handlers.get(type)?.size ?? 0;
  }

  /**
   * Delivers an event to its subscribers concurrently and resolves when all have finished. Never
   * rejects: a failing subscriber is reported to `onHandlerError` and the others still run.
   */
  async publish(input: PublishInput): Promise<void> {
    const event: BusEvent = { ...input, source: input.source ?? 'orca', timestamp: this.clock.now() };
    // Copy first: a handler may (un)subscribe while the event is being delivered.
    const targets = [...(this.handlers.get(event.type) ?? []), ...(this.handlers.get(ANY_EVENT) ?? [])];
    if (targets.length === 0) return;
    const pending: Promise<void>[] = [];
    for (const handler of targets) {
      try {
        const out = handler(event);
        if (out instanceof Promise) pending.push(out.catch((err: unknown) => this.report(err, event)));
      } catch (err) {
        this.report(err, event);
      }
    }
    if (pending.length > 0) await Promise.all(pending);
  }

  private report(err: unknown, event: BusEvent): void {
    try {
      this.onHandlerError?.(coerceError(err), event);
    } catch {
      // The error reporter itself failed: nothing sensible is left to do with it.
    }
  }

  /** Registers the handler of one effect type, replacing any earlier one; returns its removal. */
  registerEffectHandler(type: string, handler: EffectHandler): () => void {
    this.effectHandlers.set(type, handler);
    return () => {
      if (this.effectHandlers.get(type) === handler) this.effectHandlers.delete(type);
    };
  }

  hasEffectHandler(type: string): boolean {
    return this.effectHandlers.has(type);
  }

  /** Runs the registered handler; a missing handler or a throw is a failure outcome, never a rejection. */
  executeEffect(effect: Effect): Promise<EffectOutcome> {
    const handler = this.effectHandlers.get(effect.type);
    if (handler === undefined) {
      return Promise.resolve({ status: 'failure', error: `No handler registered for effect type: ${effect.type}` });
    }
    return runEffectHandler(handler, effect);
  }

  /**
   * Publishes `requestType` with a correlation id and resolves with the payload of the first
   * `responseType` event that carries the same id. Rejects with a `TimeoutError` after
   * `timeoutMs` (default 5 s). The response subscription is always removed.
   *
   * @example
   * const slots = await bus.requestResponse('scheduling.query', { day }, 'scheduling.query_response');
   */
  requestResponse(
    requestType: string,
    payload: unknown,
    responseType: string,
    options: { correlationId?: string; timeoutMs?: number; source?: string } = {},
  ): Promise<unknown> {
    const correlationId = options.correlationId ?? this.ids();
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const settle = (): void => {
        settled = true;
        unsubscribe();
        cancelTimer();
      };
      const unsubscribe = this.subscribe(responseType, (event) => {
        if (settled || event.correlationId !== correlationId) return;
        settle();
        resolve(event.payload);
      });
      let cancelTimer: () => void = () => undefined;
      cancelTimer = this.clock.setTimer(timeoutMs, () => {
        if (settled) return;
        settle();
        reject(new TimeoutError(`Request ${correlationId} timed out after ${timeoutMs}ms`));
      });
      // A responder may answer synchronously inside publish: the subscription is already in place.
      void this.publish({ type: requestType, payload, correlationId, source: options.source ?? 'orca' });
    });
  }
}

export function createEventBus(options?: EventBusOptions): EventBus {
  return new EventBus(options);
}
