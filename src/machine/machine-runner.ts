/**
 * A small in-memory host for Orca machines: it drives the pure interpreter and executes its
 * commands — effect handlers, timers on an injected clock, child machines — and publishes the
 * lifecycle on an {@link EventBus}. The durable host is the engine; this one is for tests, REPLs
 * and embedding a machine in a process that needs no persistence.
 *
 * Events are processed one at a time, in arrival order: `send` queues the event and resolves when
 * it and everything it caused (its effects included) has run. A timer that fires or a child that
 * finishes queues its event the same way.
 */
import { coerceError, KeelError } from '../core/errors.js';
import type { MachineDef } from './ast.js';
import { EventBus, OrcaEventType, runEffectHandler, systemClock, type Clock, type EffectHandler, type EffectOutcome } from './event-bus.js';
import {
  applyEffectResult,
  initialState,
  MachineErrorCode,
  MachineEventType,
  restore,
  stateText,
  transition,
  type ActionImplementation,
  type GuardImplementation,
  type MachineCommand,
  type MachineContext,
  type MachineEvent,
  type MachineSnapshot,
  type TransitionResult,
} from './interpreter.js';

export interface MachineActorOptions {
  /** Pure actions `(ctx, payload) => patch`, applied inside each step. */
  actions?: Readonly<Record<string, ActionImplementation>>;
  guards?: Readonly<Record<string, GuardImplementation>>;
  /** Effect handlers by effect type; types missing here go to the bus's registry. */
  effects?: Readonly<Record<string, EffectHandler>>;
  bus?: EventBus;
  /** Default: the bus's clock, else the system clock. */
  clock?: Clock;
  /** Initial context, laid over the machine's defaults. */
  context?: MachineContext;
  /** Machines that `invoke:` may start, by name. */
  machines?: readonly MachineDef[];
  /** The `source` of published events; default the machine name. */
  source?: string;
  /** Called after every taken transition, once its effects have run. */
  onTransition?: (from: MachineSnapshot, to: MachineSnapshot, result: TransitionResult) => void | Promise<void>;
  /** Called once when a top-level final state is reached. */
  onDone?: (snapshot: MachineSnapshot) => void;
  /** Called when processing an event throws (the `send` that caused it rejects too). */
  onError?: (error: Error) => void;
}

export type MachineActorStatus = 'idle' | 'running' | 'done' | 'stopped';

export interface MachineActor {
  readonly machine: MachineDef;
  readonly status: MachineActorStatus;
  /** Enters the initial state and runs its entry actions and effects. Idempotent. */
  start(): Promise<void>;
  /** Sends an event; resolves with the transition result once its effects have run. */
  send(event: string | MachineEvent, payload?: unknown): Promise<TransitionResult>;
  /** Cancels timers, stops children, publishes `orca.machine.stopped`. */
  stop(): Promise<void>;
  snapshot(): MachineSnapshot;
  /** Activates from a stored snapshot without running entry actions; re-arms its timers. */
  resume(snapshot: MachineSnapshot | string): Promise<void>;
  /** Running children by invoke id. */
  children(): ReadonlyMap<string, MachineActor>;
  /** Resolves when every queued event (timer expiries and child reports included) has been processed. */
  settled(): Promise<void>;
}

export class MachineNotActiveError extends KeelError {
  constructor(machine: string, status: MachineActorStatus) {
    super(
      MachineErrorCode.NotActive,
      `Machine '${machine}' is ${status === 'idle' ? 'not started' : 'stopped'}: call start() (or resume()) before send().`,
      { details: { machine, status } },
    );
  }
}

/**
 * @example
 * const actor = createMachineActor(machine, { actions: { increment_count: (ctx) => ({ count: ctx.count + 1 }) } });
 * await actor.start();
 * const result = await actor.send('toggle');
 */
export function createMachineActor(machine: MachineDef, options: MachineActorOptions = {}): MachineActor {
  return new Actor(machine, options);
}

class Actor implements MachineActor {
  status: MachineActorStatus = 'idle';
  private current: MachineSnapshot | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly bus: EventBus;
  private readonly clock: Clock;
  private readonly source: string;
  private readonly timers = new Map<string, () => void>();
  private readonly running = new Map<string, Actor>();

  constructor(
    readonly machine: MachineDef,
    private readonly options: MachineActorOptions,
  ) {
    this.bus = options.bus ?? new EventBus(options.clock ? { clock: options.clock } : {});
    this.clock = options.clock ?? options.bus?.clock ?? systemClock;
    this.source = options.source ?? machine.name;
  }

  snapshot(): MachineSnapshot {
    if (this.current === undefined) throw new MachineNotActiveError(this.machine.name, this.status);
    return this.current;
  }

  children(): ReadonlyMap<string, MachineActor> {
    return this.running;
  }

  async settled(): Promise<void> {
    // Processing an event may queue more (a child finishing): wait until the tail stops moving.
    for (let tail = this.queue; ; tail = this.queue) {
      await tail;
      await Promise.all([...this.running.values()].map((c) => c.settled()));
      if (tail === this.queue) return;
    }
  }

  start(): Promise<void> {
    if (this.status !== 'idle') return Promise.resolve();
    this.status = 'running';
    return this.enqueue(async () => {
      const out = initialState(this.machine, { ...this.interpreterOptions(), ...(this.options.context ? { context: this.options.context } : {}) });
      this.current = out.snapshot;
      await this.publish(OrcaEventType.MachineStarted, { machine: this.machine.name, state: stateText(this.machine, out.snapshot) });
      await this.execute(out.commands, undefined);
    });
  }

  resume(stored: MachineSnapshot | string): Promise<void> {
    if (this.status === 'running') return Promise.reject(new KeelError(MachineErrorCode.NotActive, `Machine '${this.machine.name}' is already running; resume() is for an actor that has not started.`));
    const snapshot = restore(this.machine, stored);
    this.status = snapshot.status === 'done' ? 'done' : 'running';
    return this.enqueue(async () => {
      this.current = snapshot;
      // A snapshot of another version is not refused (the host decides); subscribers see both.
      await this.publish(OrcaEventType.MachineStarted, {
        machine: this.machine.name,
        state: stateText(this.machine, snapshot),
        resumed: true,
        version: this.machine.version,
        snapshotVersion: snapshot.version,
      });
      const now = this.clock.now();
      for (const t of snapshot.timers ?? []) this.armTimer(t.id, t.state, t.dueAt === undefined ? t.ms : Math.max(0, t.dueAt - now));
      // An in-memory host keeps no child state: children start again from their input.
      for (const c of snapshot.children ?? []) await this.startChild(c.id, c.machine, c.input ?? {});
    });
  }

  send(event: string | MachineEvent, payload?: unknown): Promise<TransitionResult> {
    const e: MachineEvent = typeof event === 'string' ? (payload === undefined ? { type: event } : { type: event, payload }) : event;
    if (this.status === 'idle' || this.status === 'stopped') return Promise.reject(new MachineNotActiveError(this.machine.name, this.status));
    return this.enqueue(() => this.process(e));
  }

  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    const wasStarted = this.status !== 'idle';
    this.status = 'stopped';
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    const children = [...this.running.values()];
    this.running.clear();
    for (const child of children) await child.stop();
    if (wasStarted) {
      await this.publish(OrcaEventType.MachineStopped, {
        machine: this.machine.name,
        state: this.current ? stateText(this.machine, this.current) : undefined,
      });
    }
  }

  // -------------------------------------------------------------------------------------------

  private interpreterOptions(): { actions?: Readonly<Record<string, ActionImplementation>>; guards?: Readonly<Record<string, GuardImplementation>>; now: number } {
    const out: { actions?: Readonly<Record<string, ActionImplementation>>; guards?: Readonly<Record<string, GuardImplementation>>; now: number } = {
      now: this.clock.now(),
    };
    if (this.options.actions) out.actions = this.options.actions;
    if (this.options.guards) out.guards = this.options.guards;
    return out;
  }

  /** Runs `work` after everything queued before it; a failure is reported and rethrown to its caller only. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      try {
        return await work();
      } catch (err) {
        const error = coerceError(err);
        this.options.onError?.(error);
        throw error;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Queues an event raised by the host itself (a timer, a child); its failure is reported via onError. */
  private raise(event: MachineEvent): void {
    if (this.status !== 'running') return;
    this.enqueue(() => this.process(event)).catch(() => undefined);
  }

  private async publish(type: string, payload: unknown, eventName?: string): Promise<void> {
    await this.bus.publish(eventName === undefined ? { type, payload, source: this.source } : { type, payload, source: this.source, eventName });
  }

  private async process(event: MachineEvent): Promise<TransitionResult> {
    if (this.status === 'stopped' || this.current === undefined) throw new MachineNotActiveError(this.machine.name, this.status);
    const before = this.current;
    const out = transition(this.machine, before, event, this.interpreterOptions());
    this.current = out.snapshot;
    const result = out.result;
    if (!result.taken) {
      await this.execute(out.commands, event);
      return result;
    }
    const trigger = event.type === MachineEventType.Timeout ? 'timeout' : event.type;
    await this.publish(OrcaEventType.TransitionStarted, { from: result.from, to: result.to, trigger }, event.type);
    await this.execute(out.commands, event);
    await this.publish(OrcaEventType.StateChanged, { from: result.from, to: result.to, context: this.current.context }, event.type);
    await this.options.onTransition?.(before, this.current, result);
    await this.publish(OrcaEventType.TransitionCompleted, { from: result.from, to: result.to, trigger }, event.type);
    return result;
  }

  private async execute(commands: readonly MachineCommand[], event: MachineEvent | undefined): Promise<void> {
    for (const command of commands) {
      switch (command.type) {
        case 'action':
          // No implementation registered: skipped, as upstream skips a missing handler.
          break;
        case 'effect': {
          const effect = {
            type: command.effect,
            payload: { id: command.id, action: command.action, state: command.state, context: command.context, event: command.event },
          };
          await this.publish(OrcaEventType.EffectExecuting, { effect }, event?.type);
          const handler = this.options.effects?.[command.effect];
          const outcome: EffectOutcome = handler ? await runEffectHandler(handler, effect) : await this.bus.executeEffect(effect);
          if (outcome.status === 'success') {
            this.current = applyEffectResult(this.machine, this.snapshot(), { id: command.id, ok: true, data: outcome.data }).snapshot;
            await this.publish(OrcaEventType.EffectCompleted, { effect, result: outcome.data }, event?.type);
          } else {
            await this.publish(OrcaEventType.EffectFailed, { effect, error: outcome.error }, event?.type);
          }
          break;
        }
        case 'startTimer':
          this.armTimer(command.id, command.state, command.ms);
          break;
        case 'cancelTimer':
          this.timers.get(command.id)?.();
          this.timers.delete(command.id);
          break;
        case 'invoke':
          await this.startChild(command.id, command.machine, command.input);
          break;
        case 'stopChild': {
          const child = this.running.get(command.id);
          this.running.delete(command.id);
          await child?.stop();
          break;
        }
        case 'done':
          this.status = 'done';
          for (const cancel of this.timers.values()) cancel();
          this.timers.clear();
          this.options.onDone?.(this.snapshot());
          break;
      }
    }
  }

  private armTimer(id: string, state: string, ms: number): void {
    this.timers.get(id)?.();
    this.timers.set(
      id,
      this.clock.setTimer(ms, () => {
        if (!this.timers.delete(id)) return;
        this.raise({ type: MachineEventType.Timeout, payload: { id, state } });
      }),
    );
  }

  private async startChild(id: string, name: string, input: MachineContext): Promise<void> {
    const def = this.options.machines?.find((m) => m.name === name);
    if (def === undefined) {
      this.raise({ type: MachineEventType.InvokeError, payload: { id, error: `Unknown machine '${name}': pass it in the actor's machines option.` } });
      return;
    }
    let reported = false;
    const child = new Actor(def, {
      ...this.options,
      context: input,
      source: `${this.source}/${name}`,
      onTransition: undefined,
      onDone: (snapshot) => {
        reported = true;
        this.running.delete(id);
        this.raise({
          type: MachineEventType.InvokeDone,
          payload: { id, finalState: stateText(def, snapshot), context: snapshot.context },
        });
      },
      onError: (error) => {
        if (reported) return;
        reported = true;
        this.running.delete(id);
        this.raise({ type: MachineEventType.InvokeError, payload: { id, error: error.message } });
        // A failed child is finished: stop it so its timers do not fire into a dead run.
        child.stop().catch(() => undefined);
      },
    });
    this.running.set(id, child);
    try {
      await child.start();
    } catch {
      // Already reported through onError.
    }
  }
}
