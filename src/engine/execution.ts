/**
 * One run's workflow code, executing on this worker under a lease.
 *
 * The same code path serves a live run and a replay: every durable call takes the next position
 * (1, 2, 3 … in call order) and first looks in the history loaded at claim time. A recorded
 * outcome is returned from there; the first call beyond the history executes for real. While a run
 * stays on this worker its coroutine simply continues (no replay on the hot path). When the run has
 * nothing left to do but wait (a timer, a signal, a child), it is suspended in the store, its lease
 * is released and this object is dropped; the next claim replays it from history.
 */
import {
  CancelledError,
  ChildFailedError,
  coerceError,
  deserializeError,
  KeelError,
  ErrorCode,
  NonDeterminismError,
  serializeError,
  TimeoutError,
  type SerializedError,
} from '../core/errors.js';
import { describeCommand, hasPosition, type EventData, type HistoryEvent, type PositionedEvent } from '../core/history.js';
import { taskSignal, type NewHumanTask, type TaskOutcome } from '../core/human-task.js';
import { validate, type StandardSchemaV1 } from '../core/schema.js';
import {
  CANCEL_SIGNAL,
  childSignal,
  type InboxMessage,
  type Lease,
  type RunRecord,
  type RunWrite,
  type WriteResult,
} from '../core/store.js';
import { toMs, type Duration } from '../util/duration.js';
import { uuidv7 } from '../util/ids.js';
import { toJsonValue } from '../util/json.js';
import type { ExecutionHost } from './host.js';
import { deriveJsonSchema, type HumanTaskOptions, type HumanTaskResult } from './human-task.js';
import type { RetryPolicy, StepContext, StepOptions, WorkflowContext, WorkflowDefinition } from './workflow.js';

/** A wait the run cannot satisfy by itself: it ends when a timer passes or a message arrives. */
interface Wait {
  pos: number;
  wakeAt?: number;
  signal?: string;
  onTimer?: () => void;
  onMessage?: (message: InboxMessage) => void;
}

/** What a child run tells its parent when it ends. */
export interface ChildOutcome {
  status: 'completed' | 'failed' | 'cancelled';
  output?: unknown;
  error?: SerializedError;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A step attempt in flight: aborting it fails the attempt at once and aborts its signal. */
interface RunningStep {
  abort(reason: Error): void;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/** What a step attempt's function is given. Its AbortController is made only if the step reads
 * its signal: most steps never do. */
class AttemptContext implements StepContext {
  private controller: AbortController | undefined;
  private ended = false;

  constructor(
    readonly runId: string,
    readonly step: string,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(new CancelledError('The step attempt has ended.'));
    }
    return this.controller.signal;
  }

  /** The attempt is over: a signal read from now on is already aborted. */
  end(): void {
    this.ended = true;
  }

  /** The attempt is abandoned (timeout, cancel, stop): its signal aborts with the reason. */
  abort(reason: Error): void {
    this.controller?.abort(reason);
    this.ended = true;
  }
}

interface ResolvedRetry {
  maxAttempts: number;
  initialDelayMs: number;
  backoff: number;
  maxDelayMs: number;
  jitter: number;
  nonRetryable: readonly string[];
}

export function resolveRetry(policy: RetryPolicy | undefined): ResolvedRetry {
  return {
    maxAttempts: Math.max(1, Math.floor(policy?.maxAttempts ?? 3)),
    initialDelayMs: toMs(policy?.initialDelay ?? '1s', 'retry initialDelay'),
    backoff: policy?.backoff ?? 2,
    maxDelayMs: toMs(policy?.maxDelay ?? '1h', 'retry maxDelay'),
    jitter: Math.min(1, Math.max(0, policy?.jitter ?? 0)),
    nonRetryable: policy?.nonRetryable ?? [],
  };
}

/** The delay before the attempt that follows the `failures`-th failure. */
export function retryDelay(policy: ResolvedRetry, failures: number, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoff ** (failures - 1));
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

export class RunExecution {
  readonly runId: string;
  private readonly token: number;
  /** The seq of the last event written (or queued) for this run: the next write appends after it. */
  private seq: number;
  private pos = 0;
  private readonly byPos = new Map<number, PositionedEvent[]>();
  private readonly maxHistoryPos: number;
  private readonly state: Record<string, unknown> = {};
  /** Unconsumed messages not yet taken by a wait. */
  private inbox: InboxMessage[];
  private readonly seenMessages = new Set<number>();
  private readonly waits = new Set<Wait>();
  /** Children started and not yet reported back: cancelled along with this run. */
  private readonly openChildren = new Set<string>();
  private readonly running = new Set<RunningStep>();
  private inFlight = 0;
  private checkScheduled = false;
  private suspending = false;
  private cancelWanted: string | undefined;
  /** Set once the run has finished, suspended, been parked or halted: no more commands run. */
  private done = false;
  private readonly ctx: WorkflowContext;
  private staleLastError: boolean;
  /** Final step failures recorded before a `run.resumed` marker: those steps run again. */
  private readonly reopenedFailures = new Set<PositionedEvent>();

  constructor(
    /** @internal */ readonly host: ExecutionHost,
    private readonly run: RunRecord,
    lease: Lease,
    history: HistoryEvent[],
    inbox: InboxMessage[],
    private readonly definition: WorkflowDefinition,
  ) {
    this.runId = run.id;
    this.token = lease.token;
    this.seq = Math.max(run.lastSeq, history.at(-1)?.seq ?? 0);
    let max = 0;
    let finalFailures: PositionedEvent[] = [];
    for (const e of history) {
      if (e.type === 'run.resumed') {
        for (const f of finalFailures) this.reopenedFailures.add(f);
        finalFailures = [];
      }
      if (!hasPosition(e)) continue;
      if (e.type === 'step.failed' && e.retryAt === undefined) finalFailures.push(e);
      let list = this.byPos.get(e.pos);
      if (!list) this.byPos.set(e.pos, (list = []));
      list.push(e);
      if (e.pos > max) max = e.pos;
      if (e.type === 'child.started') this.openChildren.add(e.childId);
      if (e.type === 'child.completed') this.openChildren.delete(e.childId);
    }
    this.maxHistoryPos = max;
    this.inbox = inbox;
    for (const m of inbox) this.seenMessages.add(m.id);
    this.ctx = new RunContext(this, definition.name);
    this.staleLastError = run.lastError !== undefined;
  }

  get isDone(): boolean {
    return this.done;
  }

  get stepsInFlight(): number {
    return this.running.size;
  }

  /** @internal (RunContext) */
  stateValue(key: string): unknown {
    return this.state[key];
  }

  /** Position of the latest durable call. */
  get position(): number {
    return this.pos;
  }

  /** True while the code is re-executing calls that history already holds. */
  get replaying(): boolean {
    return this.pos < this.maxHistoryPos;
  }

  start(): void {
    if (this.inbox.some((m) => m.name === CANCEL_SIGNAL)) {
      void this.cancel('cancel requested');
      return;
    }
    let promise: Promise<unknown>;
    try {
      promise = this.definition.run(this.ctx, this.run.input);
    } catch (err) {
      promise = Promise.reject(coerceError(err));
    }
    promise.then(
      (value) => this.onReturn(value),
      (err: unknown) => this.onThrow(err),
    );
  }

  /** A message for this run arrived (a signal, a child's outcome, a cancel request). */
  deliver(message: InboxMessage): void {
    if (this.done || this.seenMessages.has(message.id)) return;
    this.seenMessages.add(message.id);
    if (message.name === CANCEL_SIGNAL) {
      if (this.suspending) this.cancelWanted = 'cancel requested';
      else void this.cancel('cancel requested');
      return;
    }
    this.inbox.push(message);
    if (!this.suspending) this.matchInbox();
  }

  /** Stop executing here without changing the run (engine stop, lease lost). */
  halt(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.abortSteps(reason);
  }

  // -------------------------------------------------------------------------------------------
  // Context

  /** Take the next position and check it against history. */
  private next(kind: string, name: string): { pos: number; events: PositionedEvent[] | undefined } {
    // A command past the recorded history, once the history is full: the run ends here.
    if (this.seq >= this.host.maxHistoryEvents && !this.replaying && !this.done) this.historyFull(kind, name);
    const pos = ++this.pos;
    const events = this.byPos.get(pos);
    if (events) {
      const recorded = describeCommand(events[0] as PositionedEvent);
      if (recorded.kind !== kind || recorded.name !== name) {
        const what = (k: string, n: string): string => (n === '' ? k : `${k} '${n}'`);
        this.park(new NonDeterminismError(this.runId, pos, what(recorded.kind, recorded.name), what(kind, name)));
      }
    } else if (this.host.replayOnly && pos > this.maxHistoryPos && !this.done) {
      // Past the end of the history (a position inside it may hold nothing: a wait that lost a race).
      this.done = true;
      this.host.suspended(this, null);
    }
    return { pos, events };
  }

  /** Fail the run: its history holds maxHistoryEvents events, and `kind` `name` would add more. */
  private historyFull(kind: string, name: string): void {
    const limit = this.host.maxHistoryEvents;
    void this.onThrow(
      new KeelError(
        ErrorCode.HistoryTooLong,
        `Run '${this.runId}' has ${this.seq.toLocaleString('en-US')} events in its history, as many as a run may hold ` +
          `(maxHistoryEvents ${limit.toLocaleString('en-US')}); it failed at ${kind} '${name}'. ` +
          'A workflow that loops for ever should end its run and start a new one with what it carries.',
        { details: { runId: this.runId, events: this.seq, maxHistoryEvents: limit } },
      ),
    );
  }

  private get blocked(): boolean {
    return this.done || this.host.stopping;
  }

  /** @internal (RunContext) */
  async step<T>(name: string, fn: (s: StepContext) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    if (this.blocked) return never();
    const { pos, events } = this.next('step', name);
    if (this.done) return never();
    let attempt = 1;
    let failures = 0;
    if (events) {
      for (const e of events) {
        if (e.type === 'step.completed') return e.result as T;
        // The next attempt follows the last one recorded: by its end (an attempt that ended quickly
        // has no start recorded), or by its start alone (the worker died during it).
        if (e.type === 'step.started' || e.type === 'step.failed') attempt = Math.max(attempt, e.attempt + 1);
        if (e.type === 'step.failed') {
          failures++;
          // A run resumed after this failure tries the step again with a fresh retry budget.
          if (this.reopenedFailures.has(e)) failures = 0;
          else if (e.retryAt === undefined) throw deserializeError(e.error);
        }
      }
      const last = events[events.length - 1];
      if (last?.type === 'step.failed' && last.retryAt !== undefined && !this.reopenedFailures.has(last)) {
        await this.waitTimer(pos, last.retryAt);
      }
    }
    let policy: ResolvedRetry | undefined;
    const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout, `timeout of step '${name}'`);
    for (;;) {
      // A step's function may use what earlier steps returned: their records are stored first.
      if (this.unstored > 0 && !(await this.recordsStored())) return never();
      if (this.blocked) return never();
      if (this.host.listens('step.started')) this.host.emit({ type: 'step.started', runId: this.runId, step: name, attempt });
      const pending = this.attempt(fn, name, attempt, timeoutMs);
      let outcome: Outcome<T>;
      if (pending instanceof Promise) {
        // The start is recorded only if the attempt is still running when the writer takes it: an
        // attempt that ends first is recorded by its end alone, one row, not two.
        const start = { settled: false };
        this.queue({ events: [{ type: 'step.started', pos, name, attempt }] }, () => !start.settled);
        outcome = await pending;
        start.settled = true;
      } else {
        // A synchronous step's outcome is at hand: no start to record, no promise, no microtask turn.
        outcome = pending;
      }
      if (this.done) return never();
      let error: Error;
      if (outcome.ok) {
        let value: T;
        try {
          value = toJsonValue(outcome.value, `The result of step '${name}'`);
        } catch (err) {
          error = coerceError(err);
          await this.write({ events: [{ type: 'step.failed', pos, name, attempt, error: serializeError(error) }] });
          throw error;
        }
        this.host.fault?.('step.afterSideEffect', { runId: this.runId, pos, step: name });
        // The code goes on at once: what it does next is deterministic and writes nothing but
        // through the writer, after this record. Only the next step's function (a side effect that
        // may use this value) waits until the record is stored. So a record and the writes that
        // follow it at once (the run's end, a timer) reach the store in one transaction.
        const observed = this.host.fault !== undefined || this.host.listens('step.completed');
        this.queueRecord(
          { events: [{ type: 'step.completed', pos, name, attempt, result: value }] },
          observed
            ? () => {
                this.host.fault?.('step.afterRecord', { runId: this.runId, pos, step: name });
                if (this.host.listens('step.completed')) this.host.emit({ type: 'step.completed', runId: this.runId, step: name, attempt });
              }
            : undefined,
        );
        return value;
      }
      error = outcome.error;
      failures++;
      const serialized = serializeError(error);
      policy ??= resolveRetry(options.retry);
      const retry =
        failures < policy.maxAttempts && !policy.nonRetryable.includes(error.name) && !(error instanceof CancelledError);
      const retryAt = retry ? this.host.clock.now() + retryDelay(policy, failures, Math.random) : undefined;
      const failed: EventData = { type: 'step.failed', pos, name, attempt, error: serialized };
      if (retryAt !== undefined) failed.retryAt = retryAt;
      await this.write({ events: [failed] });
      this.host.emit({ type: 'step.failed', runId: this.runId, step: name, attempt, error: serialized, willRetry: retry });
      if (retryAt === undefined) throw deserializeError(serialized);
      await this.waitTimer(pos, retryAt);
      attempt++;
    }
  }

  /**
   * Run one attempt of a step. A synchronous step (most are) ends here and its outcome is returned
   * as it is; an asynchronous one is tracked while it runs, so that a timeout, a cancel or the
   * engine stopping can abort it, and its outcome comes as a promise.
   */
  private attempt<T>(
    fn: (s: StepContext) => T | Promise<T>,
    name: string,
    attempt: number,
    timeoutMs: number | undefined,
  ): Outcome<T> | Promise<Outcome<T>> {
    const context = new AttemptContext(this.runId, name, attempt);
    let value: T | Promise<T>;
    try {
      value = fn(context);
    } catch (err) {
      context.end();
      return this.attemptEnded({ ok: false, error: coerceError(err) });
    }
    if (!(value instanceof Promise)) {
      context.end();
      return this.attemptEnded({ ok: true, value });
    }
    const running = value;
    this.inFlight++;
    return new Promise((resolve) => {
      let settled = false;
      let cancelTimer: (() => void) | undefined;
      const step: RunningStep = {
        abort: (reason) => {
          context.abort(reason);
          finish({ ok: false, error: reason });
        },
      };
      const finish = (outcome: Outcome<T>): void => {
        if (settled) return;
        settled = true;
        context.end();
        cancelTimer?.();
        this.running.delete(step);
        this.inFlight--;
        resolve(this.attemptEnded(outcome));
      };
      this.running.add(step);
      if (timeoutMs !== undefined) {
        cancelTimer = this.host.clock.setTimer(timeoutMs, () =>
          step.abort(new TimeoutError(`Step '${name}' timed out after ${timeoutMs} ms (attempt ${attempt}).`)),
        );
      }
      running.then(
        (v: T) => finish({ ok: true, value: v }),
        (err: unknown) => finish({ ok: false, error: coerceError(err) }),
      );
    });
  }

  /** An attempt ended: waits beside it (a `Promise.all` with a signal) may now be all there is. */
  private attemptEnded<T>(outcome: Outcome<T>): Outcome<T> {
    if (this.waits.size > 0) this.scheduleCheck();
    return outcome;
  }

  /** @internal (RunContext) */
  sleep(duration: Duration): Promise<void> {
    const ms = toMs(duration, 'sleep duration');
    return this.sleepAt(() => this.host.clock.now() + ms);
  }

  /** @internal (RunContext) */
  sleepUntil(instant: Date | number): Promise<void> {
    const at = typeof instant === 'number' ? instant : instant.getTime();
    if (!Number.isFinite(at)) throw new TypeError('sleepUntil needs a valid Date or epoch milliseconds.');
    return this.sleepAt(() => at);
  }

  private async sleepAt(fireAtNow: () => number): Promise<void> {
    if (this.blocked) return never();
    const { pos, events } = this.next('sleep', '');
    if (this.done) return never();
    let fireAt: number | undefined;
    for (const e of events ?? []) {
      if (e.type === 'timer.fired') return;
      if (e.type === 'timer.scheduled') fireAt = e.fireAt;
    }
    if (fireAt === undefined) {
      fireAt = fireAtNow();
      this.queue({ events: [{ type: 'timer.scheduled', pos, purpose: 'sleep', fireAt }] });
    }
    await this.waitTimer(pos, fireAt);
    this.queue({ events: [{ type: 'timer.fired', pos }] });
  }

  /** @internal (RunContext) */
  async waitForSignal<T>(name: string, options: { timeout?: Duration } = {}): Promise<T | undefined> {
    if (name.startsWith('@') || name === '') {
      throw new KeelError(ErrorCode.Validation, `Invalid signal name '${name}': names starting with '@' are reserved and a name cannot be empty.`);
    }
    if (this.blocked) return never();
    const { pos, events } = this.next('signal', name);
    if (this.done) return never();
    let timeoutAt: number | undefined;
    for (const e of events ?? []) {
      if (e.type === 'signal.received') return e.payload as T;
      if (e.type === 'timer.fired') return undefined;
      if (e.type === 'timer.scheduled') timeoutAt = e.fireAt;
    }
    if (timeoutAt === undefined && options.timeout !== undefined) {
      timeoutAt = this.host.clock.now() + toMs(options.timeout, `timeout of signal '${name}'`);
      this.queue({ events: [{ type: 'timer.scheduled', pos, purpose: 'signal-timeout', fireAt: timeoutAt, name }] });
    }
    const received = (m: InboxMessage): T => {
      this.queue({ events: [{ type: 'signal.received', pos, name, payload: m.payload, signalId: m.id }], consume: [m.id] });
      return m.payload as T;
    };
    const buffered = this.takeMessage(name);
    if (buffered) return received(buffered);
    return new Promise<T | undefined>((resolve) => {
      const wait: Wait = { pos, signal: name, onMessage: (m) => resolve(received(m)) };
      if (timeoutAt !== undefined) {
        wait.wakeAt = timeoutAt;
        wait.onTimer = () => {
          this.queue({ events: [{ type: 'timer.fired', pos }] });
          resolve(undefined);
        };
      }
      this.addWait(wait);
    });
  }

  /** @internal (RunContext) */
  async humanTask<S extends StandardSchemaV1>(
    name: string,
    options: HumanTaskOptions<S>,
  ): Promise<HumanTaskResult<StandardSchemaV1.InferOutput<S>>> {
    type Result = HumanTaskResult<StandardSchemaV1.InferOutput<S>>;
    if (typeof name !== 'string' || name === '') {
      throw new KeelError(ErrorCode.Validation, 'A human task needs a non-empty name, e.g. ctx.humanTask(\'review\', { … }).');
    }
    if (this.blocked) return never();
    const { pos, events } = this.next('human task', name);
    if (this.done) return never();
    let taskId: string | undefined;
    let deadlineAt: number | undefined;
    for (const e of events ?? []) {
      if (e.type === 'human.completed') return this.taskResult(e, options.schema);
      if (e.type === 'human.requested') {
        taskId = e.taskId;
        deadlineAt = e.deadlineAt;
      }
    }
    if (taskId === undefined) {
      const id = uuidv7(this.host.clock.now());
      const d = options.deadline;
      deadlineAt = d === undefined ? undefined : d instanceof Date ? d.getTime() : this.host.clock.now() + toMs(d, `deadline of human task '${name}'`);
      if (deadlineAt !== undefined && !Number.isFinite(deadlineAt)) {
        throw new KeelError(ErrorCode.Validation, `The deadline of human task '${name}' is not a valid date.`);
      }
      this.inFlight++;
      let jsonSchema: Record<string, unknown> | undefined;
      try {
        jsonSchema = options.jsonSchema ?? (await deriveJsonSchema(options.schema));
        if (jsonSchema !== undefined) jsonSchema = toJsonValue(jsonSchema, `The JSON Schema of human task '${name}'`);
      } finally {
        this.inFlight--;
        if (this.waits.size > 0) this.scheduleCheck();
      }
      if (this.done) return never();
      const requested: Extract<EventData, { type: 'human.requested' }> = { type: 'human.requested', pos, taskId: id, name, title: options.title };
      if (options.description !== undefined) requested.description = options.description;
      if (options.assignee !== undefined) requested.assignee = options.assignee;
      if (deadlineAt !== undefined) requested.deadlineAt = deadlineAt;
      const task: NewHumanTask = { id, pos, name, title: options.title };
      if (requested.description !== undefined) task.description = requested.description;
      if (requested.assignee !== undefined) task.assignee = requested.assignee;
      if (deadlineAt !== undefined) task.deadlineAt = deadlineAt;
      // The JSON Schema lives in the task row only: history stays compact and still says what was asked.
      if (jsonSchema !== undefined) task.jsonSchema = jsonSchema;
      await this.write({ events: [requested], createTasks: [task] });
      const emitted: Extract<Parameters<ExecutionHost['emit']>[0], { type: 'task.requested' }> = {
        type: 'task.requested',
        runId: this.runId,
        taskId: id,
        name,
        title: options.title,
      };
      if (options.assignee !== undefined) emitted.assignee = options.assignee;
      this.host.emit(emitted);
      taskId = id;
    }
    const id = taskId;
    const ended = (status: 'completed' | 'cancelled' | 'expired', outcome?: TaskOutcome): Extract<EventData, { type: 'human.completed' }> => {
      const event: Extract<EventData, { type: 'human.completed' }> = { type: 'human.completed', pos, taskId: id, name, status };
      if (outcome?.status === 'completed') event.data = outcome.data;
      if (outcome?.by !== undefined) event.by = outcome.by;
      const emitted: Extract<Parameters<ExecutionHost['emit']>[0], { type: 'task.completed' }> = {
        type: 'task.completed',
        runId: this.runId,
        taskId: id,
        name,
        status,
      };
      if (event.by !== undefined) emitted.by = event.by;
      this.host.emit(emitted);
      return event;
    };
    const arrived = (m: InboxMessage): Promise<Result> => {
      const outcome = m.payload as TaskOutcome;
      const event = ended(outcome.status, outcome);
      this.queue({ events: [event], consume: [m.id] });
      return this.taskResult(event, options.schema);
    };
    const buffered = this.takeMessage(taskSignal(id));
    if (buffered) return arrived(buffered);
    return new Promise<Result>((resolve, reject) => {
      const wait: Wait = { pos, signal: taskSignal(id), onMessage: (m) => void arrived(m).then(resolve, reject) };
      if (deadlineAt !== undefined) {
        wait.wakeAt = deadlineAt;
        wait.onTimer = () => {
          // The task row turns expired in the same write that records it, unless a person settled it first.
          this.queue({ events: [ended('expired')], expireTasks: [id] });
          resolve({ status: 'expired', taskId: id });
        };
      }
      this.addWait(wait);
    });
  }

  /** The result of an ended task; a completed answer is parsed by the task's schema (again on replay). */
  private async taskResult<T>(e: Extract<EventData, { type: 'human.completed' }>, schema: StandardSchemaV1): Promise<HumanTaskResult<T>> {
    if (e.status === 'expired') return { status: 'expired', taskId: e.taskId };
    const by = e.by === undefined ? {} : { by: e.by };
    if (e.status === 'cancelled') return { status: 'cancelled', taskId: e.taskId, ...by };
    this.inFlight++;
    try {
      const data = (await validate(schema, e.data, `The answer to human task '${e.name}'`)) as T;
      return { status: 'completed', taskId: e.taskId, data, ...by };
    } finally {
      this.inFlight--;
      if (this.waits.size > 0) this.scheduleCheck();
    }
  }

  /** @internal (RunContext) */
  async child<I, O>(workflow: WorkflowDefinition<I, O>, input: I, options: { id?: string } = {}): Promise<O> {
    if (this.blocked) return never();
    const { pos, events } = this.next('child', workflow.name);
    if (this.done) return never();
    let childId: string | undefined;
    for (const e of events ?? []) {
      if (e.type === 'child.completed') return this.childResult<O>(e.childId, workflow.name, e);
      if (e.type === 'child.started') childId = e.childId;
    }
    if (childId === undefined) {
      const id = options.id ?? `${this.runId}:${pos}`;
      this.host.requireWorkflow(workflow.name, workflow.version);
      this.inFlight++;
      let childInput: unknown = input;
      try {
        if (workflow.input) childInput = await validate(workflow.input, input, `Input of child workflow '${workflow.name}'`);
        childInput = toJsonValue(childInput, `The input of child workflow '${workflow.name}'`);
      } finally {
        this.inFlight--;
      }
      await this.write({
        events: [{ type: 'child.started', pos, childId: id, workflow: workflow.name }],
        createRuns: [{ id, kind: workflow.kind, workflow: workflow.name, version: workflow.version, input: childInput, parentId: this.runId }],
      });
      this.openChildren.add(id);
      this.host.wake();
      childId = id;
    }
    const id = childId;
    const signal = childSignal(id);
    const arrived = (m: InboxMessage): Promise<O> => {
      const outcome = m.payload as ChildOutcome;
      const event: EventData = { type: 'child.completed', pos, childId: id };
      if (outcome.status === 'completed') event.result = outcome.output;
      else event.error = outcome.error ?? serializeError(new CancelledError(`Child run '${id}' was cancelled.`));
      this.queue({ events: [event], consume: [m.id] });
      this.openChildren.delete(id);
      return this.childResult<O>(id, workflow.name, event);
    };
    const buffered = this.takeMessage(signal);
    if (buffered) return arrived(buffered);
    return new Promise<O>((resolve, reject) => {
      this.addWait({ pos, signal, onMessage: (m) => void arrived(m).then(resolve, reject) });
    });
  }

  private childResult<O>(childId: string, workflow: string, e: Extract<EventData, { type: 'child.completed' }>): Promise<O> {
    if (e.error === undefined) return Promise.resolve(e.result as O);
    const cause = deserializeError(e.error);
    return Promise.reject(
      new ChildFailedError(`Child run '${childId}' (${workflow}) did not complete: ${cause.name}: ${cause.message}`, { cause }),
    );
  }

  /** @internal (RunContext) */
  async setState(key: string, value: unknown): Promise<void> {
    if (this.blocked) return never();
    const { pos, events } = this.next('state', key);
    if (this.done) return never();
    const stored = toJsonValue(value, `State '${key}'`);
    this.state[key] = stored;
    if (events) return;
    await this.write({ events: [{ type: 'state.set', pos, key, value: stored }], state: { ...this.state } });
    this.host.emit({ type: 'run.state', runId: this.runId, key, value: stored });
  }

  /** @internal (RunContext) */
  record(kind: 'now' | 'random' | 'uuid', produce: () => unknown): unknown {
    const { pos, events } = this.next(kind, '');
    const first = events?.[0];
    if (first?.type === 'value.recorded') return first.value;
    const value = produce();
    if (!this.done) this.queueRecord({ events: [{ type: 'value.recorded', pos, kind, value }] });
    return value;
  }

  // -------------------------------------------------------------------------------------------
  // Waiting and suspension

  private waitTimer(pos: number, wakeAt: number): Promise<void> {
    if (wakeAt <= this.host.clock.now()) return Promise.resolve();
    return new Promise<void>((resolve) => this.addWait({ pos, wakeAt, onTimer: resolve }));
  }

  private addWait(wait: Wait): void {
    this.waits.add(wait);
    this.scheduleCheck();
  }

  private takeMessage(name: string): InboxMessage | undefined {
    const index = this.inbox.findIndex((m) => m.name === name);
    if (index < 0) return undefined;
    return this.inbox.splice(index, 1)[0];
  }

  /** Hand buffered messages to the waits that want them, earliest position first. */
  private matchInbox(): void {
    if (this.inbox.length === 0) return;
    const ordered = [...this.waits].filter((w) => w.signal !== undefined).sort((a, b) => a.pos - b.pos);
    for (const wait of ordered) {
      const message = this.takeMessage(wait.signal as string);
      if (!message) continue;
      this.waits.delete(wait);
      wait.onMessage?.(message);
    }
  }

  private scheduleCheck(): void {
    if (this.checkScheduled || this.done) return;
    this.checkScheduled = true;
    // After every microtask has run: the code has gone as far as it can without new input.
    setImmediate(() => {
      this.checkScheduled = false;
      void this.check();
    });
  }

  private async check(): Promise<void> {
    if (this.done || this.suspending || this.inFlight > 0 || this.waits.size === 0) return;
    const now = this.host.clock.now();
    let fired = false;
    for (const wait of [...this.waits]) {
      if (wait.wakeAt !== undefined && wait.wakeAt <= now) {
        this.waits.delete(wait);
        wait.onTimer?.();
        fired = true;
      }
    }
    if (fired) {
      this.scheduleCheck();
      return;
    }
    let wakeAt: number | null = null;
    const waitingFor = new Set<string>();
    for (const wait of this.waits) {
      if (wait.wakeAt !== undefined && (wakeAt === null || wait.wakeAt < wakeAt)) wakeAt = wait.wakeAt;
      if (wait.signal !== undefined) waitingFor.add(wait.signal);
    }
    this.suspending = true;
    const result = await this.submit({
      runId: this.runId,
      token: this.token,
      events: [],
      transition: { status: 'waiting', wakeAt, waitingFor: [...waitingFor] },
    });
    this.suspending = false;
    if (!result) return;
    if (result.suspended) {
      this.done = true;
      this.host.emit({ type: 'run.waiting', runId: this.runId, wakeAt: wakeAt ?? undefined, waitingFor: [...waitingFor] });
      this.host.suspended(this, wakeAt);
      return;
    }
    for (const m of result.pending) this.deliver(m);
    if (this.cancelWanted !== undefined) {
      void this.cancel(this.cancelWanted);
      return;
    }
    this.matchInbox();
    this.scheduleCheck();
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  private async onReturn(value: unknown): Promise<void> {
    if (this.done) return;
    if (this.pos < this.maxHistoryPos) {
      const recorded = describeCommand((this.byPos.get(this.pos + 1) as PositionedEvent[])[0] as PositionedEvent);
      this.park(
        new NonDeterminismError(this.runId, this.pos + 1, `${recorded.kind} '${recorded.name}'`, 'the end of the workflow'),
      );
      return;
    }
    let output: unknown;
    try {
      output = this.definition.output
        ? await validate(this.definition.output, value, `Output of workflow '${this.definition.name}'`)
        : value;
      output = toJsonValue(output, `The output of workflow '${this.definition.name}'`);
    } catch (err) {
      return this.onThrow(err);
    }
    if (this.done) return;
    await this.end(
      { events: [{ type: 'run.completed', result: output }], transition: { status: 'completed', output } },
      { status: 'completed', output },
    );
  }

  private async onThrow(err: unknown): Promise<void> {
    if (this.done) return;
    const error = serializeError(err);
    await this.end({ events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } }, { status: 'failed', error });
  }

  /** Cancel: abort running steps, record the end, and pass the cancel request on to open children. */
  async cancel(reason: string): Promise<void> {
    if (this.done) return;
    this.abortSteps(`Run '${this.runId}' was cancelled.`);
    this.callCancelHook(reason);
    const consume = this.inbox.filter((m) => m.name === CANCEL_SIGNAL).map((m) => m.id);
    await this.end(
      {
        events: [{ type: 'run.cancelled', reason }],
        transition: { status: 'cancelled' },
        consume,
        deliver: [...this.openChildren].map((id) => ({ runId: id, name: CANCEL_SIGNAL, payload: { reason: 'parent cancelled' } })),
      },
      { status: 'cancelled' },
    );
  }

  /** The definition's onCancel, with the state as stored when the run was loaded and as set since. */
  private callCancelHook(reason: string): void {
    const hook = this.definition.onCancel;
    if (!hook) return;
    try {
      hook({ runId: this.runId, ctx: this.ctx, state: { ...this.run.state, ...this.state }, reason, now: this.host.clock.now() });
    } catch (err) {
      this.host.logger.warn(`The cancel hook of ${this.definition.kind} '${this.definition.name}' threw; the run is cancelled all the same`, {
        runId: this.runId,
        error: coerceError(err).message,
      });
    }
  }

  private async end(write: Omit<RunWrite, 'runId' | 'token'>, outcome: ChildOutcome): Promise<void> {
    this.done = true;
    this.abortSteps(`Run '${this.runId}' has ended.`);
    const deliver = write.deliver ?? [];
    if (this.run.parentId !== undefined) {
      deliver.push({ runId: this.run.parentId, name: childSignal(this.runId), payload: outcome });
    }
    const result = await this.submit({ runId: this.runId, token: this.token, ...write, deliver });
    if (!result) return;
    this.host.ended(this, outcome, deliver);
  }

  /** Non-determinism: record nothing, keep the run as it is, and try again later (a fixed deploy resumes it). */
  private park(error: NonDeterminismError): void {
    if (this.done) return;
    this.done = true;
    this.abortSteps(error.message);
    this.host.emit({ type: 'run.error', runId: this.runId, error });
    this.host.logger.error(error.message, { runId: this.runId, code: error.code });
    void this.submit({
      runId: this.runId,
      token: this.token,
      events: [],
      lastError: serializeError(error),
      transition: { status: 'waiting', wakeAt: this.host.clock.now() + this.host.parkRetryMs, waitingFor: [] },
    }).then((result) => {
      if (result?.suspended) this.host.suspended(this, null);
      else if (result) {
        this.host.suspended(this, null);
        if (result.pending.some((m) => m.name === CANCEL_SIGNAL)) this.host.wake();
      }
    });
  }

  private abortSteps(reason: string | Error): void {
    if (this.running.size === 0) return;
    const error = typeof reason === 'string' ? new CancelledError(reason) : reason;
    for (const step of [...this.running]) step.abort(error);
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /**
   * Queue a write that the code need not wait for; FIFO order keeps it ahead of later writes.
   * `wanted`, asked as the write leaves the queue, may drop it (false); `done` is told whether it
   * was stored (a write that was not stops this execution).
   */
  private queue(write: Omit<RunWrite, 'runId' | 'token'>, wanted?: () => boolean, done?: (stored: boolean) => void): void {
    this.host.post(
      { runId: this.runId, token: this.token, ...write },
      (result, error) => {
        const stored = result?.ok === true;
        done?.(stored);
        if (!stored) this.writeFailed(error);
      },
      wanted ? (x) => wanted() && this.stamp(x) : this.stamp,
    );
  }

  /**
   * Queue a record of a value the code goes on with (a step's result, `ctx.uuid()`…) without
   * waiting for it; `stored` runs once it is committed. The next step's function waits for
   * {@link recordsStored}: so a side effect never uses a value that a crash could make the run see
   * differently. No promise is made unless a step has to wait (most records are stored first).
   */
  private queueRecord(write: Omit<RunWrite, 'runId' | 'token'>, stored?: () => void): void {
    this.unstored++;
    this.queue(write, undefined, (ok) => {
      this.unstored--;
      if (ok) stored?.();
      if (!ok || this.unstored === 0) this.settleRecords(ok);
    });
  }

  /** Records queued by {@link queueRecord} and not stored yet. */
  private unstored = 0;
  private recordsWaited: { promise: Promise<boolean>; settle: (stored: boolean) => void } | undefined;

  /** Resolves true once every record queued so far is stored, false if one was refused. */
  private recordsStored(): Promise<boolean> {
    if (!this.recordsWaited) {
      let settle!: (stored: boolean) => void;
      const promise = new Promise<boolean>((resolve) => (settle = resolve));
      this.recordsWaited = { promise, settle };
    }
    return this.recordsWaited.promise;
  }

  private settleRecords(stored: boolean): void {
    const waited = this.recordsWaited;
    this.recordsWaited = undefined;
    waited?.settle(stored);
  }

  /** A write the code waits for; never settles if the lease was lost. */
  private write(write: Omit<RunWrite, 'runId' | 'token'>): Promise<void> {
    this.inFlight++;
    return this.submit({ runId: this.runId, token: this.token, ...write }).then(this.written);
  }

  private readonly written = (result: WriteResult | undefined): Promise<void> | undefined => {
    this.inFlight--;
    if (!result) return never();
    if (this.waits.size > 0) this.scheduleCheck();
    return undefined;
  };

  /** Submit to the group-commit writer; on a fenced write or a store error, halt this execution
   * (the result is then undefined). */
  private submit(write: RunWrite): Promise<Extract<WriteResult, { ok: true }> | undefined> {
    return this.host.submit(write, this.stamp).then(this.accepted, this.refused);
  }

  private readonly accepted = (result: WriteResult): Extract<WriteResult, { ok: true }> | undefined => {
    if (result.ok) return result;
    this.writeFailed(undefined);
    return undefined;
  };

  private readonly refused = (err: unknown): undefined => {
    this.writeFailed(err);
    return undefined;
  };

  /**
   * As a write leaves the writer's queue (in queue order, which is the order of the store), number
   * its events from where this run's history ends, and clear a stale lastError: the run advances
   * again, so whatever held it back (e.g. non-determinism) is over.
   */
  private readonly stamp = (write: RunWrite): boolean => {
    write.seq = this.seq + 1;
    this.seq += write.events.length;
    if (this.staleLastError && write.lastError === undefined) {
      write.lastError = null;
      this.staleLastError = false;
    }
    return true;
  };

  /** A write was fenced (`error` undefined) or the store failed: stop executing here. */
  private writeFailed(error: unknown): void {
    if (error === undefined) this.host.logger.warn('Lease lost; another worker owns the run now', { runId: this.runId });
    else {
      this.host.logger.error('Store write failed; the run will be recovered when its lease expires', {
        runId: this.runId,
        error: coerceError(error).message,
      });
    }
    if (!this.done || !this.lostReported) this.lost();
  }

  private lostReported = false;

  private lost(): void {
    this.halt('lease lost');
    if (this.lostReported) return;
    this.lostReported = true;
    this.host.lost(this);
  }
}

/**
 * The `ctx` workflow code sees: methods on a prototype rather than closures per run, since a
 * worker holds thousands of runs at once.
 */
class RunContext implements WorkflowContext {
  readonly runId: string;
  readonly state: WorkflowContext['state'];
  readonly log: WorkflowContext['log'];

  constructor(
    private readonly x: RunExecution,
    readonly workflow: string,
  ) {
    this.runId = x.runId;
    this.state = new RunState(x);
    this.log = new RunLog(x);
  }

  step<T>(name: string, fn: (step: StepContext) => T | Promise<T>, options?: StepOptions): Promise<T> {
    return this.x.step(name, fn, options);
  }
  sleep(duration: Duration): Promise<void> {
    return this.x.sleep(duration);
  }
  sleepUntil(instant: Date | number): Promise<void> {
    return this.x.sleepUntil(instant);
  }
  waitForSignal<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T | undefined> {
    return this.x.waitForSignal<T>(name, options);
  }
  child<I, O>(workflow: WorkflowDefinition<I, O>, input: I, options?: { id?: string }): Promise<O> {
    return this.x.child(workflow, input, options);
  }
  humanTask<S extends StandardSchemaV1>(name: string, options: HumanTaskOptions<S>): Promise<HumanTaskResult<StandardSchemaV1.InferOutput<S>>> {
    return this.x.humanTask(name, options);
  }
  now(): Date {
    return new Date(this.x.record('now', () => this.x.host.clock.now()) as number);
  }
  random(): number {
    return this.x.record('random', Math.random) as number;
  }
  uuid(): string {
    return this.x.record('uuid', () => crypto.randomUUID()) as string;
  }
}

class RunState {
  constructor(private readonly x: RunExecution) {}
  set(key: string, value: unknown): Promise<void> {
    return this.x.setState(key, value);
  }
  get<T = unknown>(key: string): T | undefined {
    return this.x.stateValue(key) as T | undefined;
  }
}

/** ctx.log: silent while the run replays its history. */
class RunLog {
  constructor(private readonly x: RunExecution) {}
  debug(message: string, fields?: Record<string, unknown>): void {
    if (!this.x.replaying) this.x.host.logger.debug(message, { runId: this.x.runId, ...fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    if (!this.x.replaying) this.x.host.logger.info(message, { runId: this.x.runId, ...fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    if (!this.x.replaying) this.x.host.logger.warn(message, { runId: this.x.runId, ...fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    if (!this.x.replaying) this.x.host.logger.error(message, { runId: this.x.runId, ...fields });
  }
}
