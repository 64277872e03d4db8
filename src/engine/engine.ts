/**
 * The engine: the public API of DESIGN §4 and the worker loop that advances runs.
 *
 * - Starting a run writes it to the store before `run()` returns; on a started engine the run is
 *   created already claimed and executes at once (no claim round trip on the hot path).
 * - The worker loop claims due runs (pending, woken by a timer or signal, or left behind by a dead
 *   worker), loads them cold and replays them; it sleeps until the next wake-up, a local poke, or the
 *   poll interval (which notices work written by other processes).
 * - Leases are renewed while runs execute; every write carries the lease's fencing token.
 */
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import {
  ConflictError,
  ConfigError,
  deserializeError,
  ErrorCode,
  KeelError,
  NotFoundError,
  coerceError,
  serializeError,
  type SerializedError,
} from '../core/errors.js';
import type { HistoryEvent } from '../core/history.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { ListTasksQuery, TaskOutcome } from '../core/human-task.js';
import { validate } from '../core/schema.js';
import {
  CANCEL_SIGNAL,
  isTerminal,
  MAX_HISTORY_EVENTS,
  type CreateRunResult,
  type InboxMessage,
  type Lease,
  type ListRunsQuery,
  type RunKind,
  type RunRecord,
  type RunStatus,
  type RunWrite,
  type StatusChange,
  type StatusChangeQuery,
  type Store,
  type WriteResult,
} from '../core/store.js';
import { uuidv7 } from '../util/ids.js';
import { canonicalJson, toJsonValue } from '../util/json.js';
import { loadMachine, sendEvent, type LoadMachineOptions, type MachineWorkflow, type SendEventOptions } from '../machine/durable.js';
import type { TransitionResult } from '../machine/interpreter.js';
import {
  startWizard as startWizardRun,
  wizardBack as wizardBackRun,
  wizardInput as wizardInputRun,
  type WizardCallOptions,
  type WizardReply,
} from '../wizard/durable.js';
import { EngineEvents, type EngineEvent, type EngineEventType, type Listener } from './events.js';
import { RunExecution, type ChildOutcome } from './execution.js';
import { checkAnswer, toTaskInfo, type HumanTaskInfo } from './human-task.js';
import type { ExecutionHost, FaultHook, FaultPoint } from './host.js';
import { storeFromUrl } from './store-url.js';
import { systemClock } from './system-clock.js';
import type { AnyWorkflow, WorkflowDefinition } from './workflow.js';
import { RunCreator, Writer } from './writer.js';


export interface EngineOptions {
  /** A Store, or a URL: 'sqlite:./keel.db', 'sqlite::memory:', 'memory:', 'postgres://…'. Default: the
   * URL in KEEL_DATABASE_URL, else DATABASE_URL. */
  store?: Store | string;
  workflows?: AnyWorkflow[];
  clock?: Clock;
  logger?: Logger;
  /** Identifies this worker in leases; default '<host>/<pid>/<random>'. */
  workerId?: string;
  /** How long a claim lasts without renewal (default 30 s). */
  leaseMs?: number;
  /** How often to look for work written by other processes (default 1 s). */
  pollIntervalMs?: number;
  /** Runs executing at once on this worker (default 1000). */
  maxConcurrentRuns?: number;
  /** How long `stop()` waits for steps in flight (default 10 s). */
  stopTimeoutMs?: number;
  /** How long a run held back by a non-determinism error waits before it is tried again (default 60 s). */
  parkRetryMs?: number;
  /**
   * How many events a run's history may hold (default and most: {@link MAX_HISTORY_EVENTS}). Once
   * its history holds this many, a run fails with HISTORY_TOO_LONG at its first command past what
   * is recorded (what it queued by then is still stored; a replay of the recorded commands is not
   * stopped): a loop that never ends should end its run and start a new one with what it carries.
   */
  maxHistoryEvents?: number;
  /** Testing: named fault points (see FaultPoint). */
  faults?: FaultHook;
}

export interface RunOptions {
  /** Caller-chosen id: starting the same id again returns the same run (idempotent). */
  id?: string;
}

export interface RunHandle<O = unknown> {
  readonly id: string;
  /** Waits until the run ends: its output, or a RunFailedError / RunCancelledError. */
  result(): Promise<O>;
}

export interface RunInfo {
  id: string;
  kind: RunKind;
  workflow: string;
  version: string;
  status: RunStatus;
  input: unknown;
  output?: unknown;
  error?: SerializedError;
  state: Record<string, unknown>;
  parentId?: string;
  createdAt: Date;
  updatedAt: Date;
  completedAt?: Date;
  wakeAt?: Date;
  waitingFor?: string[];
  /** A problem that keeps the run from advancing (e.g. NON_DETERMINISM), while it is retried. */
  lastError?: SerializedError;
}

/** One change of a run's status, from the store's status-change feed ({@link Engine.statusChanges}). */
export interface StatusChangeInfo {
  /** Continue after this change with `statusChanges({ after: cursor })`. */
  cursor: string;
  runId: string;
  workflow: string;
  status: RunStatus;
  at: Date;
}

export class RunFailedError extends KeelError {
  constructor(runId: string, error: SerializedError) {
    const cause = deserializeError(error);
    super('RUN_FAILED', `Run '${runId}' failed: ${error.name}: ${error.message}`, { cause, details: { runId } });
  }
}

export class RunCancelledError extends KeelError {
  constructor(runId: string) {
    super('RUN_CANCELLED', `Run '${runId}' was cancelled.`, { details: { runId } });
  }
}

function toInfo(r: RunRecord): RunInfo {
  const info: RunInfo = {
    id: r.id,
    kind: r.kind,
    workflow: r.workflow,
    version: r.version,
    status: r.status,
    input: r.input,
    state: r.state,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
  if (r.output !== undefined) info.output = r.output;
  if (r.error) info.error = r.error;
  if (r.parentId !== undefined) info.parentId = r.parentId;
  if (r.completedAt !== undefined) info.completedAt = new Date(r.completedAt);
  if (r.wakeAt !== undefined) info.wakeAt = new Date(r.wakeAt);
  if (r.waitingFor) info.waitingFor = r.waitingFor;
  if (r.lastError) info.lastError = r.lastError;
  return info;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Engine {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly workerId: string;
  private readonly events: EngineEvents;
  private readonly registry = new Map<string, Map<string, AnyWorkflow>>();
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly maxConcurrentRuns: number;
  private readonly stopTimeoutMs: number;
  private readonly faults: FaultHook | undefined;
  private readonly active = new Map<string, { execution: RunExecution; token: number }>();
  private readonly resultWaiters = new Map<string, Set<{ resolve: (outcome: ChildOutcome | undefined) => void; due: number }>>();
  private resultPoll: NodeJS.Timeout | undefined;
  private resultPollAt = 0;
  /** The store once it is open (the hot path takes it from here instead of awaiting store()). */
  private storeValue: Store | undefined;
  private storePromise: Promise<Store> | undefined;
  private readonly ownsStore: boolean;
  private writerValue: Writer | undefined;
  private creator: RunCreator | undefined;
  private started = false;
  private stoppingFlag = false;
  private loopDone: Promise<void> | undefined;
  private wakeRequested = false;
  /** Claimed runs whose history is still being read. */
  private loading = 0;
  /** Due runs may be left unclaimed because this worker was full or its last claim was full. */
  private backlog = false;
  private wakeResolver: (() => void) | undefined;
  private cancelRenewal: (() => void) | undefined;
  /** Stops the store's push wake-ups (Store.subscribe), when it has them. */
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly host: ExecutionHost;

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.workerId = options.workerId ?? `${hostname()}/${process.pid}/${crypto.randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.maxConcurrentRuns = options.maxConcurrentRuns ?? 1_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.faults = options.faults;
    this.events = new EngineEvents((error, event) =>
      this.logger.error('An engine event listener threw', { event: event.type, error: coerceError(error).message }),
    );
    const storeOption = options.store ?? storeUrlFromEnv();
    if (typeof storeOption === 'string') {
      this.ownsStore = true;
      this.storePromise = storeFromUrl(storeOption).then((s) => this.openStore(s));
      // Surfaced by the first call that needs the store.
      this.storePromise.catch(() => {});
    } else {
      // Opened on first use, by store().
      this.ownsStore = false;
    }
    for (const w of options.workflows ?? []) this.register(w);
    const parkRetryMs = options.parkRetryMs ?? 60_000;
    const maxHistoryEvents = options.maxHistoryEvents ?? MAX_HISTORY_EVENTS;
    if (!Number.isInteger(maxHistoryEvents) || maxHistoryEvents < 2 || maxHistoryEvents > MAX_HISTORY_EVENTS) {
      throw new ConfigError(
        `maxHistoryEvents must be a whole number from 2 to ${MAX_HISTORY_EVENTS.toLocaleString('en-US')}, not ${String(options.maxHistoryEvents)}.`,
      );
    }
    const isStopping = (): boolean => this.stoppingFlag;
    this.host = {
      clock: this.clock,
      logger: this.logger,
      get stopping() {
        return isStopping();
      },
      parkRetryMs,
      maxHistoryEvents,
      submit: (w, prepare) => this.writer.submit(w, prepare),
      post: (w, done, prepare) =>
        this.writer.post(
          w,
          (r) => done(r),
          (e) => done(undefined, e),
          prepare,
        ),
      emit: (e) => this.events.emit(e),
      listens: (type) => this.events.listens(type),
      ...(this.faults ? { fault: (point: FaultPoint, info: { runId: string; pos?: number; step?: string }) => this.fault(point, info) } : {}),
      requireWorkflow: (name) => void this.definition(name),
      wake: () => this.wake(),
      suspended: (execution) => this.release(execution),
      ended: (execution, outcome, delivered) => this.onEnded(execution, outcome, delivered),
      lost: (execution) => this.release(execution),
    };
  }

  /** Register a workflow definition (also done by `workflows` in the options). */
  register(workflow: AnyWorkflow): void {
    let versions = this.registry.get(workflow.name);
    if (!versions) this.registry.set(workflow.name, (versions = new Map<string, AnyWorkflow>()));
    const existing = versions.get(workflow.version);
    if (existing && existing !== workflow) {
      throw new ConfigError(
        `Workflow '${workflow.name}' version ${workflow.version} is registered twice with different code; give the new one another version.`,
      );
    }
    versions.set(workflow.version, workflow);
  }

  /** Registered definitions, newest version last per name. */
  definitions(): AnyWorkflow[] {
    return [...this.registry.values()].flatMap((versions) => [...versions.values()]);
  }

  on<T extends EngineEventType>(type: T, listener: Listener<T>): () => void;
  on(type: '*', listener: (event: EngineEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    return this.events.on(type as '*', listener as (event: EngineEvent) => void);
  }

  get stopping(): boolean {
    return this.stoppingFlag;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Open the store and start the worker loop in this process. */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.stoppingFlag) throw new KeelError(ErrorCode.EngineStopped, 'This engine was stopped; create a new one.');
    const store = await this.store();
    this.started = true;
    // Other processes' new runs, signals and timers wake this worker at once; polling stays the fallback.
    this.unsubscribe = await store.subscribe?.(() => this.wake()).catch((err: unknown) => {
      this.logger.warn('Push wake-ups from the store are unavailable; polling for work', { error: coerceError(err).message });
      return undefined;
    });
    await this.recoverDeadWorkers(store);
    this.loopDone = this.loop();
  }

  /**
   * Stop gracefully: claim nothing new, let steps in flight finish (up to `stopTimeoutMs`), record
   * them, give the remaining runs back to the store, and release every resource.
   */
  async stop(): Promise<void> {
    if (this.stoppingFlag) return;
    this.stoppingFlag = true;
    this.wake();
    await this.loopDone;
    await this.unsubscribe?.().catch(() => {});
    this.cancelRenewal?.();
    const deadline = Date.now() + this.stopTimeoutMs;
    while ([...this.active.values()].some((a) => a.execution.stepsInFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.writerValue) await this.writerValue.drain();
    const store = this.storeValue;
    for (const [runId, { execution, token }] of [...this.active]) {
      execution.halt('engine stopping');
      this.active.delete(runId);
      if (store) await store.releaseLease(runId, token, this.clock.now());
    }
    if (this.writerValue) await this.writerValue.drain();
    if (this.resultPoll) clearTimeout(this.resultPoll);
    this.resultPoll = undefined;
    for (const waiters of this.resultWaiters.values()) for (const w of waiters) w.resolve(undefined);
    this.resultWaiters.clear();
    if (this.ownsStore) {
      const s = this.storeValue ?? (await this.storePromise?.catch(() => undefined));
      await s?.close();
    }
  }

  private async openStore(store: Store): Promise<Store> {
    await store.open();
    this.storeValue = store;
    return store;
  }

  /** The opened store (opened once, on first use). */
  private store(): Promise<Store> {
    return (this.storePromise ??= this.openStore(this.options.store as Store));
  }

  private get writer(): Writer {
    return (this.writerValue ??= new Writer(this.storeValue as Store, this.clock));
  }

  // -------------------------------------------------------------------------------------------
  // Public API

  /**
   * Start a run (or return the existing run with the same id). The run is in the store before this
   * returns. The same id with different input or another workflow is a CONFLICT error.
   */
  async run<I, O>(workflow: WorkflowDefinition<I, O> | string, input: I, options: RunOptions = {}): Promise<RunHandle<O>> {
    let definition: AnyWorkflow;
    if (typeof workflow === 'string') definition = this.definition(workflow);
    else {
      const known = this.registry.get(workflow.name)?.get(workflow.version);
      if (!known) this.register(workflow);
      definition = known ?? workflow;
    }
    const value = toJsonValue(
      definition.input ? await validate(definition.input, input, `Input of workflow '${definition.name}'`) : input,
      `The input of workflow '${definition.name}'`,
    );
    if (options.id !== undefined && (typeof options.id !== 'string' || !/^[^\s]{1,200}$/.test(options.id))) {
      throw new KeelError(ErrorCode.Validation, `Invalid run id '${String(options.id)}': use 1–200 characters without spaces.`);
    }
    const id = options.id ?? uuidv7();
    const store = this.storeValue ?? (await this.store());
    const now = this.clock.now();
    // Claim at creation (no claim round trip) while this worker has room; count the run as taken
    // from now on, so that many runs started at once do not overfill it.
    const claim =
      this.started && !this.stoppingFlag && this.active.size + this.loading < this.maxConcurrentRuns
        ? { owner: this.workerId, expiresAt: now + this.leaseMs }
        : undefined;
    if (claim) this.loading++;
    this.creator ??= new RunCreator(store, this.clock);
    let created: CreateRunResult;
    try {
      created = await this.creator.create({
        id,
        kind: definition.kind,
        workflow: definition.name,
        version: definition.version,
        input: value,
        ...(claim ? { claim } : {}),
      });
    } finally {
      if (claim) this.loading--;
    }
    if (!created.created) {
      const r = created.run;
      if (r.workflow !== definition.name || canonicalJson(r.input) !== canonicalJson(value)) {
        throw new ConflictError(
          `Run '${id}' already exists for workflow '${r.workflow}' with different input; starting the same id again must repeat the same workflow and input, or use a new id.`,
          { runId: id },
        );
      }
      return this.handle<O>(id);
    }
    if (this.events.listens('run.started')) this.events.emit({ type: 'run.started', runId: id, workflow: definition.name });
    if (created.lease) this.execute(created.run, created.lease, [], [], definition);
    else {
      this.backlog = true;
      this.wake();
    }
    return this.handle<O>(id);
  }

  /**
   * Parse and verify an Orca file (source text or a path to `.orca.md` / `.orca`) and register its
   * machines; start one with `engine.run(name, { context })`.
   */
  loadMachine(sourceOrPath: string, options?: LoadMachineOptions): Promise<MachineWorkflow[]> {
    return loadMachine(this, sourceOrPath, options);
  }

  /** Send an event to a machine run; resolves with the transition result once it is processed. */
  sendEvent(runId: string, event: string, payload?: unknown, options?: SendEventOptions): Promise<TransitionResult> {
    return sendEvent(this, runId, event, payload, options);
  }

  /** Start a run of a registered wizard and return its first prompt (same id = same run). */
  startWizard(name: string, options: { id?: string } & WizardCallOptions = {}): Promise<WizardReply> {
    return startWizardRun(this, name, options);
  }

  /** Answer the current step of a wizard run; resolves once the run has taken the answer. */
  wizardInput(runId: string, value: unknown, options: WizardCallOptions = {}): Promise<WizardReply> {
    return wizardInputRun(this, runId, value, options);
  }

  /** Go back to an earlier step of a wizard run (answers are kept). */
  wizardBack(runId: string, slug: string, options: WizardCallOptions = {}): Promise<WizardReply> {
    return wizardBackRun(this, runId, slug, options);
  }

  /** A handle on an existing run. */
  handle<O = unknown>(id: string): RunHandle<O> {
    return { id, result: () => this.result<O>(id) };
  }

  /** Send a signal to a run; stored before this returns, buffered until the run waits for it. */
  async signal(runId: string, name: string, payload?: unknown): Promise<void> {
    if (typeof name !== 'string' || name === '' || name.startsWith('@')) {
      throw new KeelError(ErrorCode.Validation, `Invalid signal name '${String(name)}': use a non-empty name that does not start with '@'.`);
    }
    const store = await this.store();
    const message = await store.sendSignal(runId, name, toJsonValue(payload, `The payload of signal '${name}'`), this.clock.now());
    const local = this.active.get(runId);
    if (local) local.execution.deliver(message);
    else this.wake();
  }

  /**
   * Cancel a run: pending timers are dropped, a running step sees its AbortSignal aborted, and the
   * run's open children are cancelled too. Cancelling a cancelled run does nothing.
   */
  async cancel(runId: string, reason = 'cancelled by request'): Promise<void> {
    const store = await this.store();
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
    if (run.status === 'cancelled') return;
    if (isTerminal(run.status)) {
      throw new ConflictError(`Run '${runId}' is already ${run.status}; only pending, running or waiting runs can be cancelled.`, {
        runId,
        status: run.status,
      });
    }
    const local = this.active.get(runId);
    if (local) {
      await local.execution.cancel(reason);
      return;
    }
    const lease = await store.claimRun(runId, { owner: this.workerId, now: this.clock.now(), leaseMs: this.leaseMs });
    if (!lease) {
      // Held by another live worker: it sees the request when it renews its lease or suspends the run.
      await store.sendSignal(runId, CANCEL_SIGNAL, { reason }, this.clock.now());
      return;
    }
    const [fresh, history, inbox] = await Promise.all([store.getRun(runId), store.history(runId), store.inbox(runId)]);
    const definition = this.registry.get(run.workflow)?.get(run.version) ?? placeholderDefinition(run);
    const execution = new RunExecution(this.host, fresh ?? run, lease, history, inbox, definition);
    this.track(runId, execution, lease.token);
    await execution.cancel(reason);
  }

  /**
   * Resume a failed run from its failed step: the steps it recorded keep their results, the step
   * that failed runs again (with a fresh retry budget), and the run continues from there. History
   * stays append-only: a `run.resumed` event marks the point. Resolves with the reopened run
   * (`pending`); wait for its end with `engine.handle(id).result()`.
   * NOT_FOUND for an unknown run; CONFLICT unless the run is `failed`.
   *
   * @example
   * await engine.resume('order-42');
   * await engine.handle('order-42').result();
   */
  async resume(runId: string): Promise<RunInfo> {
    const store = await this.store();
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
    if (run.status !== 'failed' || !run.error) {
      throw new ConflictError(`Run '${runId}' is ${run.status}; only a failed run can be resumed.`, { runId, status: run.status });
    }
    const reopened = await store.reopenRun(runId, { type: 'run.resumed', previousError: run.error }, this.clock.now());
    this.events.emit({ type: 'run.reopened', runId });
    this.wake();
    return toInfo(reopened);
  }

  // -------------------------------------------------------------------------------------------
  // Human tasks

  /** Human tasks, newest first; filter by status, workflow, assignee or run. */
  async listHumanTasks(query: ListTasksQuery = {}): Promise<{ tasks: HumanTaskInfo[]; nextCursor?: string }> {
    const store = await this.store();
    const page = await store.listTasks(query);
    return page.nextCursor === undefined
      ? { tasks: page.tasks.map(toTaskInfo) }
      : { tasks: page.tasks.map(toTaskInfo), nextCursor: page.nextCursor };
  }

  /** One human task; NOT_FOUND for an unknown id. */
  async getHumanTask(id: string): Promise<HumanTaskInfo> {
    const store = await this.store();
    const task = await store.getTask(id);
    if (!task) throw new NotFoundError('Human task', id, 'list open tasks with `keel tasks ls`');
    return toTaskInfo(task);
  }

  /**
   * Answer a pending human task; its run continues with the answer. The answer is checked against
   * the task's JSON Schema first: a violation is a VALIDATION_FAILED error naming the field, and the
   * task stays pending. NOT_FOUND for an unknown task; CONFLICT when it is no longer pending (or its
   * deadline has passed).
   *
   * @example
   * await engine.completeHumanTask(task.id, { street: 'Main St 1' }, { by: 'alice' });
   */
  async completeHumanTask(id: string, data: unknown, options: { by?: string } = {}): Promise<HumanTaskInfo> {
    const store = await this.store();
    const task = await store.getTask(id);
    if (!task) throw new NotFoundError('Human task', id, 'list open tasks with `keel tasks ls`');
    const value = toJsonValue(data, `The answer to human task '${id}'`);
    // A task already settled is a conflict whatever the answer: say that rather than a schema error.
    if (task.status === 'pending') await checkAnswer(task, value);
    const outcome: TaskOutcome = options.by === undefined ? { status: 'completed', data: value } : { status: 'completed', data: value, by: options.by };
    return this.settleTask(id, outcome);
  }

  /** Cancel a pending human task; its run continues with a `cancelled` result. CONFLICT unless pending. */
  async cancelHumanTask(id: string, options: { by?: string } = {}): Promise<HumanTaskInfo> {
    return this.settleTask(id, options.by === undefined ? { status: 'cancelled' } : { status: 'cancelled', by: options.by });
  }

  private async settleTask(id: string, outcome: TaskOutcome): Promise<HumanTaskInfo> {
    const store = await this.store();
    const { task, message } = await store.settleTask(id, outcome, this.clock.now());
    const local = this.active.get(task.runId);
    if (local) local.execution.deliver(message);
    else this.wake();
    return toTaskInfo(task);
  }

  /** Run ids that start with `prefix`, sorted (for resolving abbreviated ids). */
  async findRunIds(prefix: string, limit = 10): Promise<string[]> {
    const store = await this.store();
    return store.findRunIds(prefix, limit);
  }

  async getRun(id: string): Promise<RunInfo> {
    const store = await this.store();
    const run = await store.getRun(id);
    if (!run) throw new NotFoundError('Run', id, 'check the id with `keel ls`');
    return toInfo(run);
  }

  async listRuns(query: ListRunsQuery = {}): Promise<{ runs: RunInfo[]; nextCursor?: string }> {
    const store = await this.store();
    const page = await store.listRuns(query);
    return page.nextCursor === undefined
      ? { runs: page.runs.map(toInfo) }
      : { runs: page.runs.map(toInfo), nextCursor: page.nextCursor };
  }

  /** The run's history; with `afterSeq`, only the events after that seq (for followers such as SSE). */
  async history(id: string, options: { afterSeq?: number } = {}): Promise<HistoryEvent[]> {
    const store = await this.store();
    const events = await store.history(id, options.afterSeq ?? 0);
    if (events.length === 0 && !(await store.getRun(id))) throw new NotFoundError('Run', id, 'check the id with `keel ls`');
    return events;
  }

  /**
   * Status changes of every run, whichever process made them, in commit order: after `after` (a
   * change's cursor), else from the oldest kept. Continuing from the returned `cursor` misses
   * nothing and repeats nothing, across restarts too; start from {@link statusChangesEnd} to follow
   * only what happens next. A malformed or foreign cursor is an INVALID_CURSOR error.
   *
   * @example
   * let cursor = await engine.statusChangesEnd();
   * for (;;) {
   *   const page = await engine.statusChanges({ after: cursor });
   *   for (const c of page.changes) console.log(c.runId, c.status);
   *   cursor = page.cursor;
   *   if (page.changes.length === 0) await sleep(1000);
   * }
   */
  async statusChanges(query: StatusChangeQuery = {}): Promise<{ changes: StatusChangeInfo[]; cursor: string }> {
    const store = await this.store();
    const page = await store.statusChanges(query);
    return { changes: page.changes.map((c: StatusChange) => ({ ...c, at: new Date(c.at) })), cursor: page.cursor };
  }

  /** The cursor of the end of the status-change feed now: reading after it gives only later changes. */
  async statusChangesEnd(): Promise<string> {
    const store = await this.store();
    return store.statusChangesEnd();
  }

  /**
   * Delete runs that ended (completed, failed or cancelled) before `before`, with their histories
   * and status changes; with `dryRun`, only count them. Needs a store with `pruneRuns` (memory,
   * SQLite, PostgreSQL).
   */
  async prune(before: Date, options: { dryRun?: boolean } = {}): Promise<{ runs: number; dryRun: boolean }> {
    const store = await this.store();
    if (!store.pruneRuns) throw new KeelError(ErrorCode.Config, `The store ${store.label} cannot prune runs.`);
    const dryRun = options.dryRun ?? false;
    return { runs: await store.pruneRuns(before.getTime(), { dryRun }), dryRun };
  }

  /** The store's label and, when it reports it, its schema version (opens the store: fails if unreachable). */
  async storeInfo(): Promise<{ label: string; schema?: { version: number; supported: number } }> {
    const store = await this.store();
    const schema = await store.schemaInfo?.();
    return schema ? { label: store.label, schema } : { label: store.label };
  }

  private async result<O>(id: string): Promise<O> {
    const store = await this.store();
    // Runs may end in another process, so the store is read again now and then, less often the
    // longer a run takes (from the poll interval up to 30 s); a run ending here answers at once.
    let delay = this.pollIntervalMs;
    for (;;) {
      const outcome = this.active.has(id)
        ? undefined
        : await store.getRun(id).then((run) => {
            if (!run) throw new NotFoundError('Run', id, 'check the id with `keel ls`');
            return isTerminal(run.status) ? ({ status: run.status, output: run.output, error: run.error } as ChildOutcome) : undefined;
          });
      const ended = outcome ?? (await this.nextOutcome(id, delay));
      delay = Math.min(delay * 2, Math.max(30_000, this.pollIntervalMs));
      if (!ended) continue;
      if (ended.status === 'completed') return ended.output as O;
      if (ended.status === 'failed') throw new RunFailedError(id, ended.error ?? serializeError(new Error('unknown failure')));
      throw new RunCancelledError(id);
    }
  }

  /** The outcome of a run that ends on this worker, or undefined after `delay` ms (it may end elsewhere). */
  private nextOutcome(id: string, delay: number): Promise<ChildOutcome | undefined> {
    return new Promise((resolve) => {
      let waiters = this.resultWaiters.get(id);
      if (!waiters) this.resultWaiters.set(id, (waiters = new Set()));
      const waiter = { resolve, due: Date.now() + delay };
      waiters.add(waiter);
      this.armResultPoll(delay);
    });
  }

  /** One timer for all result waiters, woken at the earliest due time. */
  private armResultPoll(delay: number): void {
    const at = Date.now() + delay;
    if (this.resultPoll && this.resultPollAt <= at) return;
    if (this.resultPoll) clearTimeout(this.resultPoll);
    this.resultPollAt = at;
    this.resultPoll = setTimeout(() => {
      this.resultPoll = undefined;
      const now = Date.now();
      let next = Infinity;
      for (const [id, waiters] of this.resultWaiters) {
        for (const w of waiters) {
          if (w.due <= now) {
            waiters.delete(w);
            w.resolve(undefined);
          } else next = Math.min(next, w.due);
        }
        if (waiters.size === 0) this.resultWaiters.delete(id);
      }
      if (next !== Infinity) this.armResultPoll(next - now);
    }, delay);
  }

  // -------------------------------------------------------------------------------------------
  // Worker

  private definition(name: string, version?: string): AnyWorkflow {
    const versions = this.registry.get(name);
    const found = versions && (version === undefined ? [...versions.values()].pop() : versions.get(version));
    if (!found) {
      const known = [...this.registry.keys()].sort();
      throw new KeelError(
        ErrorCode.UnknownWorkflow,
        `Unknown workflow '${name}'${version === undefined ? '' : ` version ${version}`}: register it with createEngine({ workflows: [...] }). ` +
          (known.length ? `Known workflows: ${known.join(', ')}.` : 'No workflows are registered.'),
        { details: { name, known } },
      );
    }
    return found;
  }

  private wake(): void {
    this.wakeRequested = true;
    const resolve = this.wakeResolver;
    this.wakeResolver = undefined;
    resolve?.();
  }

  private fault(point: FaultPoint, info: { runId: string; pos?: number; step?: string }): void {
    this.faults?.(point, info);
  }

  private async loop(): Promise<void> {
    const store = await this.store();
    while (!this.stoppingFlag) {
      this.wakeRequested = false;
      const capacity = Math.min(100, this.maxConcurrentRuns - this.active.size - this.loading);
      let claimed = 0;
      // Full: due runs may be waiting for a place, so the next run to end must look again.
      if (capacity <= 0) this.backlog = true;
      if (capacity > 0) {
        try {
          const claim = { owner: this.workerId, now: this.clock.now(), leaseMs: this.leaseMs, limit: capacity };
          // A store that reads what it claims in the same call saves two or three reads per run.
          const batch = store.claimDueRuns ? await store.claimDueRuns(claim) : await store.claimDue(claim);
          claimed = batch.length;
          // A full claim may have left due runs behind.
          this.backlog = claimed === capacity;
          for (const item of batch) {
            this.loading++;
            const loaded = 'lease' in item ? this.begin(store, item.lease, item.run, item.history, item.inbox) : this.load(store, item);
            void loaded.finally(() => this.loading--);
          }
        } catch (err) {
          this.logger.error('Claiming runs failed; trying again', { error: coerceError(err).message });
        }
      }
      if (this.stoppingFlag) break;
      if ((capacity > 0 && claimed === capacity) || this.wakeRequested) continue;
      await this.idle(store);
    }
  }

  /** Wait for a poke, the next due wake-up, or the poll interval. */
  private async idle(store: Store): Promise<void> {
    let next: number | undefined;
    try {
      next = await store.nextWakeAt();
    } catch (err) {
      this.logger.error('Reading the next wake-up failed', { error: coerceError(err).message });
    }
    if (this.wakeRequested || this.stoppingFlag) return;
    const now = this.clock.now();
    if (this.active.size + this.loading >= this.maxConcurrentRuns) {
      // Full: a run ending here wakes the loop; until then nothing more can be taken.
      next = undefined;
    } else if (next !== undefined && next <= now) {
      // Due but not claimable (e.g. its lease is held): don't spin, look again shortly.
      next = now + Math.min(this.pollIntervalMs, 50);
    }
    await new Promise<void>((resolve) => {
      const cancels: (() => void)[] = [];
      const done = (): void => {
        for (const c of cancels) c();
        if (this.wakeResolver === done) this.wakeResolver = undefined;
        resolve();
      };
      this.wakeResolver = done;
      const poll = setTimeout(done, this.pollIntervalMs);
      cancels.push(() => clearTimeout(poll));
      if (next !== undefined) {
        const at = next;
        cancels.push(this.clock.setTimer(Math.max(0, at - now), done));
        if (this.clock.idle) {
          // Tell a simulated clock it may skip ahead, once every queued callback has run and only
          // if nothing is executing or being loaded by then.
          const check = setImmediate(() => {
            if (this.wakeResolver === done && this.active.size === 0 && this.loading === 0) this.clock.idle?.(at);
          });
          cancels.push(() => clearImmediate(check));
        }
      }
    });
  }

  /** Read a claimed run, its history and inbox, and begin executing it. */
  private async load(store: Store, lease: Lease): Promise<void> {
    try {
      const [run, inbox] = await Promise.all([store.getRun(lease.runId), store.inbox(lease.runId)]);
      if (!run) return;
      // A run that never executed holds only run.started: nothing to replay, nothing to read.
      const history = run.lastSeq <= 1 ? [] : await store.history(lease.runId);
      await this.begin(store, lease, run, history, inbox);
    } catch (err) {
      await this.giveBack(store, lease, 'Loading a run failed', err);
    }
  }

  /** Begin executing a claimed run that has been read (replaying its history), or give it back. */
  private async begin(store: Store, lease: Lease, run: RunRecord, history: HistoryEvent[], inbox: InboxMessage[]): Promise<void> {
    try {
      const definition = this.registry.get(run.workflow)?.get(run.version);
      if (!definition) {
        const error = new KeelError(
          ErrorCode.UnknownWorkflow,
          `Run '${run.id}' needs workflow '${run.workflow}' version ${run.version}, which this worker does not have; register it, and the run continues.`,
        );
        this.logger.error(error.message, { runId: run.id });
        await this.writer.submit({
          runId: run.id,
          token: lease.token,
          events: [],
          lastError: serializeError(error),
          transition: { status: 'waiting', wakeAt: this.clock.now() + (this.options.parkRetryMs ?? 60_000), waitingFor: run.waitingFor ?? [] },
        });
        return;
      }
      if (this.stoppingFlag) {
        // stop() began while the run was loading: give it back untouched.
        await store.releaseLease(lease.runId, lease.token, this.clock.now());
        return;
      }
      this.events.emit({ type: 'run.resumed', runId: run.id, workflow: run.workflow });
      this.execute(run, lease, history, inbox, definition);
    } catch (err) {
      await this.giveBack(store, lease, 'Starting a claimed run failed', err);
    }
  }

  /** A claimed run could not be read or started here: log why, and release it for another try. */
  private async giveBack(store: Store, lease: Lease, what: string, err: unknown): Promise<void> {
    this.logger.error(`${what}; giving it back`, { runId: lease.runId, error: coerceError(err).message });
    await store.releaseLease(lease.runId, lease.token, this.clock.now()).catch(() => {});
  }

  private execute(run: RunRecord, lease: Lease, history: HistoryEvent[], inbox: InboxMessage[], definition: AnyWorkflow): void {
    const previous = this.active.get(run.id);
    if (previous) previous.execution.halt('claimed again');
    const execution = new RunExecution(this.host, run, lease, history, inbox, definition);
    this.track(run.id, execution, lease.token);
    execution.start();
  }

  private track(runId: string, execution: RunExecution, token: number): void {
    this.active.set(runId, { execution, token });
    this.armRenewal();
  }

  /**
   * Renew leases on the engine's clock while runs execute here, so that simulated time moves
   * leases forward as it moves everything else. Not armed while nothing executes.
   */
  private armRenewal(): void {
    if (this.cancelRenewal || this.stoppingFlag) return;
    this.cancelRenewal = this.clock.setTimer(Math.max(10, Math.floor(this.leaseMs / 3)), () => {
      this.cancelRenewal = undefined;
      void this.renewLeases().finally(() => {
        if (this.active.size > 0) this.armRenewal();
      });
    });
  }

  private release(execution: RunExecution): void {
    if (this.active.get(execution.runId)?.execution === execution) this.active.delete(execution.runId);
    this.wake();
    if (execution.isDone) this.fault('run.suspended', { runId: execution.runId });
  }

  private onEnded(execution: RunExecution, outcome: ChildOutcome, delivered: RunWrite['deliver']): void {
    if (this.active.get(execution.runId)?.execution === execution) this.active.delete(execution.runId);
    const runId = execution.runId;
    if (outcome.status === 'completed') this.events.emit({ type: 'run.completed', runId, output: outcome.output });
    else if (outcome.status === 'failed') this.events.emit({ type: 'run.failed', runId, error: outcome.error as SerializedError });
    else this.events.emit({ type: 'run.cancelled', runId });
    const waiters = this.resultWaiters.get(runId);
    this.resultWaiters.delete(runId);
    for (const waiter of waiters ?? []) waiter.resolve(outcome);
    for (const d of delivered ?? []) {
      const target = this.active.get(d.runId);
      if (!target) continue;
      if (d.name === CANCEL_SIGNAL) void target.execution.cancel('parent cancelled');
      // A parent executing here learns of its child's end now, not only when it next suspends.
      else void this.refreshInbox(d.runId, target.execution);
    }
    // Look for work again only when this end can change what there is to claim: it freed a place
    // while due runs were left unclaimed (the backlog), or told other runs (a parent) it ended; and
    // when nothing executes any more,
    // so that a simulated clock may skip ahead. Otherwise a claim now finds nothing new, and on a
    // shared store costs two round trips (claim, next wake-up) per ended run, beside the next start.
    const executing = this.active.size + this.loading;
    if (this.backlog || (delivered?.length ?? 0) > 0 || (executing === 0 && this.clock.idle)) this.wake();
  }

  private async refreshInbox(runId: string, execution: RunExecution): Promise<void> {
    try {
      const store = await this.store();
      for (const message of await store.inbox(runId)) execution.deliver(message);
    } catch (err) {
      this.logger.warn('Reading an inbox failed; the run sees its messages when it next waits', {
        runId,
        error: coerceError(err).message,
      });
    }
  }

  private async renewLeases(): Promise<void> {
    const store = this.storeValue;
    if (!store || this.active.size === 0) return;
    const leases = [...this.active].map(([runId, a]) => ({ runId, token: a.token }));
    try {
      const { lost, cancelRequested } = await store.renewLeases(leases, this.clock.now() + this.leaseMs);
      for (const runId of lost) {
        const a = this.active.get(runId);
        if (!a) continue;
        a.execution.halt('lease lost');
        this.active.delete(runId);
      }
      for (const runId of cancelRequested) void this.active.get(runId)?.execution.cancel('cancel requested');
    } catch (err) {
      this.logger.error('Renewing leases failed', { error: coerceError(err).message });
    }
  }

  /** Runs left `running` by a worker process on this host that no longer exists are claimable at once. */
  private async recoverDeadWorkers(store: Store): Promise<void> {
    const me = hostname();
    const dead = (await store.leaseOwners()).filter((owner) => {
      const [host, pid] = owner.split('/');
      const n = Number(pid);
      return host === me && Number.isInteger(n) && n !== process.pid && !isAlive(n);
    });
    if (dead.length > 0) {
      const n = await store.expireLeases(dead);
      this.logger.info('Recovering runs of stopped workers', { workers: dead.length, runs: n });
    }
  }
}

/** A stand-in for cancelling a run whose code this process does not have: cancel never runs code. */
function placeholderDefinition(run: RunRecord): AnyWorkflow {
  return { kind: run.kind, name: run.workflow, version: run.version, run: () => new Promise(() => {}) };
}

function storeUrlFromEnv(): string {
  const url = process.env.KEEL_DATABASE_URL || process.env.DATABASE_URL;
  if (url) return url;
  throw new ConfigError(
    "No store: pass createEngine({ store }) (a Store, or a URL such as 'sqlite:./keel.db' or 'postgres://user@host/db'), " +
      'or set KEEL_DATABASE_URL (or DATABASE_URL) to one of those URLs.',
  );
}

/** Create an engine. Call `start()` to run workflows in this process; without it the engine is a client. */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}

export type { WriteResult };
