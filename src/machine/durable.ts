/**
 * Durable machine runs: an Orca machine hosted by the engine as a run of kind `'machine'`
 * (DESIGN §3 "Machines are hosted as runs").
 *
 * The run's code is an ordinary workflow function that drives the pure interpreter, so a machine
 * inherits durability, replay, leases, timers, signals, children, cancellation and crash recovery
 * from the engine with no special case there:
 * - an event sent to the machine is the signal `event` with payload `{ id, type, payload }`;
 * - an effect (an action declared `+ Effect<T>`) runs as the step `effect:<T>:<effect id>`, with
 *   retries; its result is merged into the context;
 * - `timeout:` is a durable timer: the timeout of the signal wait, or a durable sleep, due at the
 *   instant the state was entered plus its duration; on expiry the interpreter gets `@timeout`;
 * - `invoke:` starts a child run of the invoked machine (`ctx.child`), which runs while the parent
 *   keeps taking events; its end reaches the parent as `@invoke.done` / `@invoke.error`;
 * - after every event the snapshot (state value, context, timers, children) and the event's
 *   result are written with `ctx.state.set('machine', …)`: that is the queryable run state
 *   (`engine.getRun(id).state.machine`) and, being recorded in history, the record of every event
 *   and transition.
 *
 * Determinism: the interpreter is pure, and actions and guards passed here must be too (they run
 * again when a run is replayed). When the machine waits on several things at once (the next event
 * and a running child, say), which one came first is itself recorded (the step `machine:select`),
 * so a replay takes them in the same order as the live run did.
 */
import { readFile } from 'node:fs/promises';
import { coerceError, KeelError } from '../core/errors.js';
import type { EngineEvent } from '../engine/events.js';
import type { AnyWorkflow, RetryPolicy, StepContext, WorkflowContext, WorkflowDefinition } from '../engine/workflow.js';
import type { MachineDef, OrcaFile } from './ast.js';
import type { Effect } from './event-bus.js';
import {
  activeLeaves,
  applyEffectResult,
  initialState,
  MachineEventType,
  stateText,
  transition,
  type ActionImplementation,
  type GuardImplementation,
  type MachineCommand,
  type MachineContext,
  type MachineEvent,
  type MachineSnapshot,
  type StateValue,
  type TimerRecord,
  type TransitionResult,
} from './interpreter.js';
import { parseLegacyOrca } from './parse-legacy.js';
import { parseOrcaMarkdown } from './parse-markdown.js';
import { verifyFile } from './verify.js';
import type { VerifyIssue } from './verify-types.js';

// ---------------------------------------------------------------------------------------------
// Public types

export const MachineRunCode = {
  /** The run exists but is not a machine run. */
  NotAMachine: 'MACHINE_NOT_A_MACHINE',
  /** The machine run has completed, failed or been cancelled: it takes no more events. */
  RunEnded: 'MACHINE_RUN_ENDED',
  /** No worker processed the event in time. */
  EventTimeout: 'MACHINE_EVENT_TIMEOUT',
  /** The machine file has verifier errors. */
  Invalid: 'MACHINE_INVALID',
  /** An effect type has no handler (recorded as the effect step's failure). */
  EffectHandlerMissing: 'MACHINE_EFFECT_HANDLER_MISSING',
  /** The event name is not usable (empty, or reserved with '@'). */
  InvalidEvent: 'ORCA_INVALID_EVENT',
} as const;

/** The name of the signal that carries events to a machine run. */
export const MACHINE_EVENT_SIGNAL = 'event';
/** The run-state key of the machine snapshot. */
export const MACHINE_STATE_KEY = 'machine';

/** Input of a machine run: the initial context, laid over the machine's defaults. */
export interface MachineInput {
  context?: MachineContext;
}

/** Output of a machine run that reached a top-level final state. */
export interface MachineOutput {
  /** Dotted leaf paths, e.g. `settled`. */
  state: string;
  value: StateValue;
  context: MachineContext;
}

/** The payload of the `event` signal. */
export interface MachineEventMessage {
  /** Correlates the event with its result in the run state (a UUID from {@link sendEvent}). */
  id: string;
  type: string;
  payload?: unknown;
}

export interface EffectReport {
  id: string;
  effect: string;
  ok: boolean;
  error?: string;
}

/**
 * What `engine.getRun(id).state.machine` holds: the interpreter's snapshot plus the state as text
 * and the last event with its result.
 */
export interface MachineRunState extends MachineSnapshot {
  /** The configuration as text (`exploration.overworld`). */
  readonly state: string;
  /** `null` right after the start. */
  readonly lastEvent: {
    id: string;
    type: string;
    result: TransitionResult;
    /** Effects the event caused, when there were any. */
    effects?: EffectReport[];
  } | null;
}

/** Runs an effect durably: the returned value is the effect's data (a plain object is merged into the context). */
export type DurableEffectHandler = (effect: Effect, step: StepContext) => unknown;

export interface MachineWorkflowOptions {
  /** Pure, synchronous actions `(ctx, payload) => patch`; they run again on replay. */
  actions?: Readonly<Record<string, ActionImplementation>>;
  /** Pure guard implementations; they take precedence over `## guards` expressions. */
  guards?: Readonly<Record<string, GuardImplementation>>;
  /** Effect handlers by effect type (the T of `Effect<T>`). A missing one fails the effect. */
  effects?: Readonly<Record<string, DurableEffectHandler>>;
  /** Retry policy of effect steps (default: the engine's, 3 attempts from 1 s doubling). */
  retry?: RetryPolicy;
  /** Machines that `invoke:` may start, by name (those of the same file). */
  machines?: readonly MachineDef[];
  /**
   * Cancels a child run when its invoking state is exited. Without it, a child left behind keeps
   * running and its end is ignored. {@link loadMachine} wires it to `engine.cancel`.
   */
  cancelRun?: (runId: string, reason: string) => Promise<void>;
}

/** A machine's workflow definition; it keeps the machine for tools (REPLs, UIs). */
export interface MachineWorkflow extends WorkflowDefinition<MachineInput | undefined, MachineOutput> {
  readonly kind: 'machine';
  readonly machine: MachineDef;
}

/** The part of the engine that machine functions use (structural, so that the engine may call them). */
export interface MachineEngine {
  register(workflow: AnyWorkflow): void;
  signal(runId: string, name: string, payload?: unknown): Promise<void>;
  cancel(runId: string, reason?: string): Promise<void>;
  getRun(id: string): Promise<{ kind: string; workflow: string; status: string; state: Record<string, unknown> }>;
  history(id: string): Promise<readonly { type: string; key?: string; value?: unknown }[]>;
  on(type: '*', listener: (event: EngineEvent) => void): () => void;
}

// ---------------------------------------------------------------------------------------------
// Definitions

/**
 * Defines the workflow that hosts a machine as a durable run. Register it (and the definitions
 * of the machines it invokes: {@link defineMachineWorkflows} makes them all) and start it with
 * `engine.run(definition, { context })`.
 *
 * @example
 * const toggle = defineMachineWorkflow(parseMachine(source), {
 *   actions: { increment_count: (ctx) => ({ count: Number(ctx.count) + 1 }) },
 * });
 * const engine = createEngine({ store: 'sqlite:./keel.db', workflows: [toggle] });
 * await engine.start();
 * const run = await engine.run(toggle, { context: { count: 0 } });
 * const result = await sendEvent(engine, run.id, 'toggle'); // { taken: true, from: 'off', to: 'on', … }
 */
export function defineMachineWorkflow(machine: MachineDef, options: MachineWorkflowOptions = {}): MachineWorkflow {
  const catalog = new Catalog([machine, ...(options.machines ?? [])], options);
  return catalog.get(machine);
}

/** Definitions for several machines (one file) that may invoke one another, in the given order. */
export function defineMachineWorkflows(machines: readonly MachineDef[], options: MachineWorkflowOptions = {}): MachineWorkflow[] {
  const catalog = new Catalog(machines, options);
  return machines.map((m) => catalog.get(m));
}

/** One definition object per machine, so that a child's definition is the one registered. */
class Catalog {
  private readonly byName = new Map<string, MachineDef>();
  private readonly defs = new Map<MachineDef, MachineWorkflow>();

  constructor(
    machines: readonly MachineDef[],
    private readonly options: MachineWorkflowOptions,
  ) {
    for (const m of machines) if (!this.byName.has(m.name)) this.byName.set(m.name, m);
  }

  find(name: string): MachineWorkflow | undefined {
    const machine = this.byName.get(name);
    return machine && this.get(machine);
  }

  get(machine: MachineDef): MachineWorkflow {
    let def = this.defs.get(machine);
    if (def === undefined) {
      if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(machine.name)) {
        throw new KeelError(MachineRunCode.Invalid, `Machine name '${machine.name}' cannot name a workflow: use letters, digits and '_'.`);
      }
      def = {
        kind: 'machine',
        name: machine.name,
        version: machine.version,
        machine,
        run: (ctx, input) => new MachineHost(ctx, machine, this, this.options).run(input),
      };
      this.defs.set(machine, def);
    }
    return def;
  }
}

// ---------------------------------------------------------------------------------------------
// The run's code

/** What the machine is waiting on besides its own work. */
type Outcome =
  | { kind: 'signal'; message: unknown }
  /** A timer-ish wait passed `deadline`: fire the machine timers due by then. */
  | { kind: 'time'; deadline: number }
  | { kind: 'child'; invokeId: string; ok: true; output: MachineOutput }
  | { kind: 'child'; invokeId: string; ok: false; error: string };

interface Source {
  id: string;
  /** For waits that end by time: when. */
  deadline: number | undefined;
  isSignal: boolean;
  promise: Promise<Outcome>;
}

const SELECT_STEP = 'machine:select';

class EffectHandlerMissingError extends KeelError {
  constructor(effect: string) {
    super(
      MachineRunCode.EffectHandlerMissing,
      `No handler registered for effect type: ${effect}. Pass effects: { ${effect}: async (effect) => … } to defineMachineWorkflow or loadMachine.`,
    );
  }
}

class MachineHost {
  private snapshot!: MachineSnapshot;
  private readonly sources = new Map<string, Source>();
  private sourceCount = 0;
  /** Events raised by the host itself (an invoke that cannot start), processed before waiting. */
  private readonly raised: MachineEvent[] = [];
  /** Child run ids, and the ids of the waits for them, by invoke id. */
  private readonly childRuns = new Map<string, string>();
  private readonly childSources = new Map<string, string>();
  private events = 0;

  constructor(
    private readonly ctx: WorkflowContext,
    private readonly machine: MachineDef,
    private readonly catalog: Catalog,
    private readonly options: MachineWorkflowOptions,
  ) {}

  private get interpreterOptions(): { actions?: Readonly<Record<string, ActionImplementation>>; guards?: Readonly<Record<string, GuardImplementation>> } {
    const out: { actions?: Readonly<Record<string, ActionImplementation>>; guards?: Readonly<Record<string, GuardImplementation>> } = {};
    if (this.options.actions) out.actions = this.options.actions;
    if (this.options.guards) out.guards = this.options.guards;
    return out;
  }

  async run(input: MachineInput | undefined): Promise<MachineOutput> {
    const context = input?.context;
    // A machine that cannot start (an action that throws on entry) fails the run: a definition bug.
    const start = initialState(this.machine, { ...this.interpreterOptions, ...(context ? { context } : {}) });
    this.snapshot = start.snapshot;
    await this.execute(start.commands);
    await this.record(null);

    while (this.snapshot.status === 'active') {
      const event = this.raised.shift();
      if (event) {
        await this.process(`host:${++this.events}`, event);
        continue;
      }
      this.arm();
      const { source, outcome } = await this.next();
      this.sources.delete(source.id);
      switch (outcome.kind) {
        case 'signal':
          await this.onMessage(outcome.message);
          break;
        case 'time':
          // A signal wait also ends with `undefined` for a signal sent without a payload (e.g.
          // `keel signal <id> event`): only a wait whose deadline has passed timed out.
          if (source.isSignal && this.ctx.now().getTime() < outcome.deadline) await this.onMessage(undefined);
          else await this.fireTimers(outcome.deadline);
          break;
        case 'child': {
          // A child whose state was exited since (and stopped) no longer counts.
          if (!this.snapshot.children?.some((c) => c.id === outcome.invokeId)) break;
          const payload = outcome.ok
            ? { id: outcome.invokeId, finalState: outcome.output.state, context: outcome.output.context }
            : { id: outcome.invokeId, error: outcome.error };
          await this.process(`child:${outcome.invokeId}`, {
            type: outcome.ok ? MachineEventType.InvokeDone : MachineEventType.InvokeError,
            payload,
          });
          break;
        }
      }
    }
    return { state: stateText(this.machine, this.snapshot), value: this.snapshot.value, context: this.snapshot.context };
  }

  /** Makes sure something wakes the machine for the next event and for its earliest timer. */
  private arm(): void {
    const earliest = earliestDue(this.snapshot.timers);
    const covered = earliest !== undefined && [...this.sources.values()].some((s) => s.deadline !== undefined && s.deadline <= earliest);
    const signal = [...this.sources.values()].some((s) => s.isSignal);
    if (!signal) {
      let deadline: number | undefined;
      let timeout: number | undefined;
      if (earliest !== undefined && !covered) {
        deadline = earliest;
        timeout = Math.max(0, earliest - this.ctx.now().getTime());
      }
      const wait = this.ctx.waitForSignal(MACHINE_EVENT_SIGNAL, timeout === undefined ? {} : { timeout });
      this.add(
        true,
        deadline,
        wait.then((message): Outcome => (message === undefined && deadline !== undefined ? { kind: 'time', deadline } : { kind: 'signal', message })),
      );
    } else if (earliest !== undefined && !covered) {
      // The signal wait was armed before this timer existed (a child's end moved the machine):
      // a durable sleep covers the timer.
      const sleep = this.ctx.sleepUntil(earliest);
      this.add(false, earliest, sleep.then((): Outcome => ({ kind: 'time', deadline: earliest })));
    }
  }

  private add(isSignal: boolean, deadline: number | undefined, promise: Promise<Outcome>): string {
    const id = `w${++this.sourceCount}`;
    this.sources.set(id, { id, deadline, isSignal, promise });
    return id;
  }

  /** The next outcome; when several waits are open, the order they came in is recorded. */
  private async next(): Promise<{ source: Source; outcome: Outcome }> {
    const list = [...this.sources.values()];
    if (list.length === 1) {
      const only = list[0] as Source;
      return { source: only, outcome: await only.promise };
    }
    const first = await Promise.race(list.map((s) => s.promise.then(() => s.id)));
    // On replay the step returns the live run's choice, whatever raced first this time.
    const chosen = await this.ctx.step(SELECT_STEP, () => first);
    const source = this.sources.get(chosen);
    if (source === undefined) {
      throw new KeelError(
        'NON_DETERMINISM',
        `Machine '${this.machine.name}' (run '${this.ctx.runId}'): history chose wait '${chosen}', which this code does not have; ` +
          'the machine definition changed under a running run. Register the old version for old runs.',
      );
    }
    return { source, outcome: await source.promise };
  }

  private async onMessage(message: unknown): Promise<void> {
    const n = ++this.events;
    const m = (message !== null && typeof message === 'object' ? message : {}) as Partial<MachineEventMessage>;
    const id = typeof m.id === 'string' && m.id !== '' ? m.id : `event:${n}`;
    const type = typeof message === 'string' ? message : m.type;
    if (typeof type !== 'string' || type === '' || type.startsWith('@')) {
      // Never a crash of the run: a bad event is answered and recorded like any refused event.
      const error = `Invalid event ${JSON.stringify(type)}: an event is a non-empty name that does not start with '@'.`;
      await this.record({ id, type: String(type), result: this.refused(error) });
      return;
    }
    await this.process(id, m.payload === undefined ? { type } : { type, payload: m.payload });
  }

  private async fireTimers(deadline: number): Promise<void> {
    const due = [...(this.snapshot.timers ?? [])]
      .filter((t) => t.dueAt !== undefined && t.dueAt <= deadline)
      .sort((a, b) => (a.dueAt as number) - (b.dueAt as number));
    for (const timer of due) {
      // An earlier timeout may have left the state (and cancelled this timer).
      if (!this.snapshot.timers?.some((t) => t.id === timer.id) || this.snapshot.status !== 'active') continue;
      await this.process(`timeout:${timer.id}`, { type: MachineEventType.Timeout, payload: { id: timer.id, state: timer.state } });
    }
  }

  /** One event: transition, execute its commands, record the snapshot and the result. */
  private async process(id: string, event: MachineEvent): Promise<void> {
    let result: TransitionResult;
    let commands: readonly MachineCommand[] = [];
    try {
      const out = transition(this.machine, this.snapshot, event, this.interpreterOptions);
      this.snapshot = out.snapshot;
      result = out.result;
      commands = out.commands;
    } catch (err) {
      // A throwing action or guard refuses the event; the machine stays where it was.
      result = this.refused(coerceError(err).message);
    }
    const effects = await this.execute(commands);
    await this.record(effects.length > 0 ? { id, type: event.type, result, effects } : { id, type: event.type, result });
  }

  /** The result of an event refused before the interpreter could take it. */
  private refused(error: string): TransitionResult {
    const text = stateText(this.machine, this.snapshot);
    const leaf = activeLeaves(this.machine, this.snapshot)[0]?.split('.').pop() ?? text;
    return { taken: false, from: text, to: text, leaf, error };
  }

  private async record(lastEvent: MachineRunState['lastEvent']): Promise<void> {
    const state: MachineRunState = { ...this.snapshot, state: stateText(this.machine, this.snapshot), lastEvent };
    await this.ctx.state.set(MACHINE_STATE_KEY, state);
  }

  private async execute(commands: readonly MachineCommand[]): Promise<EffectReport[]> {
    const reports: EffectReport[] = [];
    if (commands.length === 0) return reports;
    // Timers count from the moment the state was entered, before its entry effects ran.
    if (commands.some((c) => c.type === 'startTimer')) {
      const now = this.ctx.now().getTime();
      const timers = (this.snapshot.timers ?? []).map((t): TimerRecord =>
        t.dueAt === undefined && commands.some((c) => c.type === 'startTimer' && c.id === t.id) ? { ...t, dueAt: now + t.ms } : t,
      );
      this.snapshot = { ...this.snapshot, timers };
    }
    for (const command of commands) {
      switch (command.type) {
        case 'effect':
          reports.push(await this.runEffect(command));
          break;
        case 'invoke':
          this.invoke(command.id, command.machine, command.input);
          break;
        case 'stopChild':
          await this.stopChild(command.id);
          break;
        case 'action': // no implementation: skipped, as upstream skips a missing handler
        case 'startTimer': // armed from the snapshot's timers before the next wait
        case 'cancelTimer': // gone from the snapshot; a wait armed for it finds nothing due
        case 'done':
          break;
      }
    }
    return reports;
  }

  private async runEffect(command: Extract<MachineCommand, { type: 'effect' }>): Promise<EffectReport> {
    const handler = this.options.effects?.[command.effect];
    const effect: Effect = {
      type: command.effect,
      payload: { id: command.id, action: command.action, state: command.state, context: command.context, event: command.event },
    };
    const retry: RetryPolicy = {
      ...this.options.retry,
      nonRetryable: [...(this.options.retry?.nonRetryable ?? []), EffectHandlerMissingError.name],
    };
    try {
      const data = await this.ctx.step(
        `effect:${command.effect}:${command.id}`,
        async (step) => {
          if (handler === undefined) throw new EffectHandlerMissingError(command.effect);
          return (await handler(effect, step)) ?? null;
        },
        { retry },
      );
      this.snapshot = applyEffectResult(this.machine, this.snapshot, { id: command.id, ok: true, data }).snapshot;
      return { id: command.id, effect: command.effect, ok: true };
    } catch (err) {
      // Retries are spent: the effect failed, the machine goes on (upstream: orca.effect.failed).
      return { id: command.id, effect: command.effect, ok: false, error: coerceError(err).message };
    }
  }

  private invoke(invokeId: string, name: string, input: MachineContext): void {
    const child = this.catalog.find(name);
    if (child === undefined) {
      this.raised.push({
        type: MachineEventType.InvokeError,
        payload: { id: invokeId, error: `Unknown machine '${name}': put it in the same file, or pass it in the machines option.` },
      });
      return;
    }
    const runId = `${this.ctx.runId}:${invokeId}`;
    this.childRuns.set(invokeId, runId);
    const promise = this.ctx.child(child, { context: input }, { id: runId });
    const source = this.add(
      false,
      undefined,
      promise.then(
        (output): Outcome => ({ kind: 'child', invokeId, ok: true, output }),
        (err: unknown): Outcome => ({ kind: 'child', invokeId, ok: false, error: coerceError(err).message }),
      ),
    );
    this.childSources.set(invokeId, source);
  }

  private async stopChild(invokeId: string): Promise<void> {
    const runId = this.childRuns.get(invokeId) ?? `${this.ctx.runId}:${invokeId}`;
    // Its end is of no interest any more.
    const source = this.childSources.get(invokeId);
    if (source !== undefined) this.sources.delete(source);
    this.childSources.delete(invokeId);
    const cancel = this.options.cancelRun;
    if (cancel === undefined) return;
    await this.ctx.step(`machine:stop-child:${invokeId}`, async () => {
      try {
        await cancel(runId, `the state that invoked it was exited`);
      } catch {
        // Already ended (or never started): nothing left to stop.
      }
      return null;
    });
  }

}

function earliestDue(timers: readonly TimerRecord[] | undefined): number | undefined {
  let min: number | undefined;
  for (const t of timers ?? []) if (t.dueAt !== undefined && (min === undefined || t.dueAt < min)) min = t.dueAt;
  return min;
}




// ---------------------------------------------------------------------------------------------
// Sending events

export interface SendEventOptions {
  /** How long to wait for the run to process the event (default 30 s, real time). */
  timeoutMs?: number;
  /** How often to look at the run when it executes in another process (default 100 ms). */
  pollMs?: number;
}

/**
 * Sends an event to a machine run and waits until the run has processed it (its effects
 * included); returns the transition result. An event the current state does not accept gives
 * `taken: false` with the reason in `error`; the run goes on.
 *
 * The run must execute somewhere: on this engine after `engine.start()`, or on another worker of
 * the same store (then the result is found by polling).
 *
 * @example
 * const result = await sendEvent(engine, runId, 'submit_payment', { amount: 10 });
 * if (!result.taken) console.log(result.error);
 * @throws KeelError `NOT_FOUND`, `MACHINE_NOT_A_MACHINE`, `MACHINE_RUN_ENDED`, `ORCA_INVALID_EVENT`,
 *   `MACHINE_EVENT_TIMEOUT`.
 */
export async function sendEvent(
  engine: MachineEngine,
  runId: string,
  event: string,
  payload?: unknown,
  options: SendEventOptions = {},
): Promise<TransitionResult> {
  if (typeof event !== 'string' || event === '' || event.startsWith('@')) {
    throw new KeelError(
      MachineRunCode.InvalidEvent,
      `Invalid event ${JSON.stringify(event)}: send one of the machine's events by name; names starting with '@' are reserved for the host.`,
    );
  }
  const info = await engine.getRun(runId);
  if (info.kind !== 'machine') {
    throw new KeelError(
      MachineRunCode.NotAMachine,
      `Run '${runId}' is a ${info.kind} run of '${info.workflow}', not a machine run: send it a signal with engine.signal(), or start a machine with engine.run(machineDefinition, { context }).`,
      { details: { runId, kind: info.kind } },
    );
  }
  if (isEnded(info.status)) throw runEnded(runId, info);

  const id = crypto.randomUUID();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pollMs = options.pollMs ?? 100;
  let settle: ((r: TransitionResult | Error) => void) | undefined;
  const outcome = new Promise<TransitionResult | Error>((resolve) => (settle = resolve));
  const done = (r: TransitionResult | Error): void => settle?.(r);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let poll: (lastSeen: string | undefined) => Promise<void> = () => Promise.resolve();
  // Events of this engine answer at once; polling (below) finds what other processes do.
  const unsubscribe = engine.on('*', (e) => {
    if (e.runId !== runId) return;
    if (e.type === 'run.state' && e.key === MACHINE_STATE_KEY) {
      const found = resultFor(e.value, id);
      if (found) done(found);
    } else if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') {
      poll(undefined).catch((err: unknown) => done(coerceError(err)));
    }
  });
  try {
    const message: MachineEventMessage = payload === undefined ? { id, type: event } : { id, type: event, payload };
    await engine.signal(runId, MACHINE_EVENT_SIGNAL, message);
    const deadline = Date.now() + timeoutMs;
    // Poll too: the run may execute in another process, and may end without taking the event.
    poll = async (lastSeen: string | undefined): Promise<void> => {
      if (finished) return;
      const run = await engine.getRun(runId);
      const state = run.state[MACHINE_STATE_KEY] as MachineRunState | undefined;
      const found = resultFor(state, id);
      if (found) return done(found);
      const seen = state?.lastEvent?.id;
      if (seen !== lastSeen || isEnded(run.status)) {
        // Events came and went since the last look: ours may have been overwritten; history has all.
        const fromHistory = await findInHistory(engine, runId, id);
        if (fromHistory) return done(fromHistory);
      }
      if (isEnded(run.status)) return done(runEnded(runId, run, event));
      if (Date.now() >= deadline) {
        return done(
          new KeelError(
            MachineRunCode.EventTimeout,
            `Machine run '${runId}' did not process event '${event}' within ${timeoutMs} ms: is an engine started (engine.start()) on its store with the machine registered? The event stays queued and is processed when the run executes.`,
            { details: { runId, event, id } },
          ),
        );
      }
      if (finished) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        poll(seen).catch((err: unknown) => done(coerceError(err)));
      }, pollMs);
    };
    await poll((info.state[MACHINE_STATE_KEY] as MachineRunState | undefined)?.lastEvent?.id);
    const result = await outcome;
    if (result instanceof Error) throw result;
    return result;
  } finally {
    finished = true;
    settle = undefined;
    if (timer !== undefined) clearTimeout(timer);
    unsubscribe();
  }
}

function isEnded(status: string): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

function runEnded(runId: string, run: { workflow: string; status: string; state: Record<string, unknown> }, event?: string): KeelError {
  const state = (run.state[MACHINE_STATE_KEY] as MachineRunState | undefined)?.state;
  return new KeelError(
    MachineRunCode.RunEnded,
    `Machine run '${runId}' (${run.workflow}) has ${run.status}${state ? ` in state '${state}'` : ''}${event ? ` before it took event '${event}'` : ''}; it takes no more events. Start a new run with engine.run().`,
    { details: { runId, status: run.status } },
  );
}

function resultFor(state: unknown, id: string): TransitionResult | undefined {
  const last = (state as MachineRunState | undefined)?.lastEvent;
  return last?.id === id ? last.result : undefined;
}

async function findInHistory(engine: MachineEngine, runId: string, id: string): Promise<TransitionResult | undefined> {
  const history = await engine.history(runId);
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (e?.type === 'state.set' && e.key === MACHINE_STATE_KEY) {
      const found = resultFor(e.value, id);
      if (found) return found;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface LoadMachineOptions extends Omit<MachineWorkflowOptions, 'machines' | 'cancelRun'> {
  /** Shown in messages; default the path, or '<source>'. */
  fileName?: string;
  /**
   * Verifier error codes to accept (e.g. `['INCOMPLETE_EVENT_HANDLING']`): the machine loads in
   * spite of them. Any other error refuses the file.
   */
  accept?: readonly string[];
}

/**
 * Parses an Orca file (`.orca.md`, or the legacy `.orca`: told by the extension, else by the
 * content), verifies it, and registers one machine definition per machine on the engine.
 *
 * @example
 * const [payment] = await loadMachine(engine, './payment.orca.md', { effects: { AuthRequest: authorize } });
 * const run = await engine.run(payment, { context: { amount: 10 } });
 * @throws OrcaParseError when the source does not parse; KeelError `MACHINE_INVALID` with the
 *   verifier's errors (in `details.errors`) when it does not verify.
 */
export async function loadMachine(engine: MachineEngine, sourceOrPath: string, options: LoadMachineOptions = {}): Promise<MachineWorkflow[]> {
  const { fileName, accept, ...rest } = options;
  const { file, name } = await readOrcaFile(sourceOrPath, fileName);
  const verdict = verifyFile(file);
  const errors = verdict.errors.filter((e) => e.severity === 'error' && !(accept ?? []).includes(e.code));
  if (errors.length > 0) throw new MachineInvalidError(name, errors);
  const defs = defineMachineWorkflows(file.machines, {
    ...rest,
    cancelRun: (runId, reason) => engine.cancel(runId, reason),
  });
  for (const def of defs) engine.register(def);
  return defs;
}

export class MachineInvalidError extends KeelError {
  readonly errors: readonly VerifyIssue[];
  constructor(fileName: string, errors: readonly VerifyIssue[]) {
    const shown = errors.slice(0, 10).map((e) => `  ${e.code}${e.location?.line ? ` (line ${e.location.line})` : ''}: ${e.message}`);
    const codes = [...new Set(errors.map((e) => e.code))];
    super(
      MachineRunCode.Invalid,
      `${fileName} does not verify (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${shown.join('\n')}${errors.length > 10 ? `\n  … and ${errors.length - 10} more` : ''}\n` +
        `Fix the machine (\`keel machine verify ${fileName}\` lists suggestions), or accept these codes: accept: ${JSON.stringify(codes)} (\`--accept ${codes.join(',')}\` on the command line).`,
      { details: { fileName, errors } },
    );
    this.errors = errors;
  }
}

/** Reads and parses an Orca source or file; the format is told by the extension, else by the content. */
export async function readOrcaFile(sourceOrPath: string, fileName?: string): Promise<{ file: OrcaFile; name: string; source: string }> {
  let source = sourceOrPath;
  let name = fileName ?? '<source>';
  if (looksLikePath(sourceOrPath)) {
    source = await readFile(sourceOrPath, 'utf8');
    name = fileName ?? sourceOrPath;
  }
  const legacy = name.endsWith('.orca') || (!/\.md$/i.test(name) && isLegacySource(source));
  const file = legacy ? parseLegacyOrca(source, { fileName: name }) : parseOrcaMarkdown(source, { fileName: name });
  return { file, name, source };
}

function looksLikePath(text: string): boolean {
  return !text.includes('\n') && /\.(orca|md)$/i.test(text.trim());
}

/** The legacy DSL starts with `machine Name` (after comments); markdown with a `# machine` heading. */
function isLegacySource(source: string): boolean {
  for (const line of source.split('\n')) {
    const text = line.trim();
    if (text === '' || (text.startsWith('#') && !/^#\s*machine\b/i.test(text))) continue;
    return /^machine\s+\w/.test(text);
  }
  return false;
}
