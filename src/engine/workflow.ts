/**
 * Workflow definitions and the context their code sees.
 */
import type { StandardSchemaV1 } from '../core/schema.js';
import type { RunKind } from '../core/store.js';
import type { Duration } from '../util/duration.js';
import type { HumanTaskOptions, HumanTaskResult } from './human-task.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (default 3; 1 means no retry). */
  maxAttempts?: number;
  /** Delay before the second attempt (default '1s'). */
  initialDelay?: Duration;
  /** Each further delay is the previous one times this factor (default 2). */
  backoff?: number;
  /** Upper bound of a delay (default '1h'). */
  maxDelay?: Duration;
  /** Random spread as a fraction of the delay, 0..1 (default 0): 0.2 draws from ±20%. */
  jitter?: number;
  /** Error names that fail the step at once, without retrying. */
  nonRetryable?: string[];
}

export interface StepOptions {
  retry?: RetryPolicy;
  /** Per attempt: the step's AbortSignal is aborted and the attempt fails with a TimeoutError. */
  timeout?: Duration;
}

export interface StepContext {
  /** Aborted when the attempt times out, or the run is cancelled or stops on this worker. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
  runId: string;
  step: string;
}

export interface WorkflowLog {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What workflow code uses. Every method is durable: its outcome is recorded in the run's history
 * and, when the run is replayed after a crash, returned from there instead of happening again.
 * Code between these calls must be deterministic: no `Date.now()`, `Math.random()` or I/O outside
 * a step (use `ctx.now()`, `ctx.random()`, `ctx.uuid()`, `ctx.step()`).
 */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflow: string;
  /** Run `fn` at least once and record its result exactly once; never re-run once recorded. */
  step<T>(name: string, fn: (step: StepContext) => T | Promise<T>, options?: StepOptions): Promise<T>;
  /** Wait durably: '30s', '1h', '2d' or milliseconds. No worker is held while waiting. */
  sleep(duration: Duration): Promise<void>;
  sleepUntil(instant: Date | number): Promise<void>;
  /** The next signal of that name (buffered if it came earlier); `undefined` when the timeout passes. */
  waitForSignal<T = unknown>(name: string, options?: { timeout?: Duration }): Promise<T | undefined>;
  /**
   * Ask a person for structured input and wait durably for the answer. The task is stored (listed
   * by `engine.listHumanTasks`, answered by `engine.completeHumanTask`) with the JSON Schema of
   * `schema`; the result says whether it was completed (with the parsed answer), expired at its
   * deadline, or cancelled. An answer the schema rejects throws a ValidationError here.
   *
   * @example
   * const r = await ctx.humanTask('address', { title: 'Check the address', schema: z.object({ street: z.string() }), deadline: '1d' });
   * if (r.status === 'completed') await ctx.step('ship', () => ship(r.data.street));
   */
  humanTask<S extends StandardSchemaV1>(
    name: string,
    options: HumanTaskOptions<S>,
  ): Promise<HumanTaskResult<StandardSchemaV1.InferOutput<S>>>;
  /** Start a child run and wait for its result; a failed child throws a ChildFailedError. */
  child<I, O>(workflow: WorkflowDefinition<I, O>, input: I, options?: { id?: string }): Promise<O>;
  /** Queryable run state (shown by getRun), recorded in history. */
  readonly state: {
    set(key: string, value: unknown): Promise<void>;
    get<T = unknown>(key: string): T | undefined;
  };
  /** The current time, recorded so that a replay sees the same value. */
  now(): Date;
  /** A random number in [0, 1), recorded. */
  random(): number;
  /** A random UUID, recorded. */
  uuid(): string;
  /** Logs with the run id; silent while the run is replaying its history. */
  readonly log: WorkflowLog;
}

/** What {@link WorkflowDefinition.onCancel} is told of the run being cancelled. */
export interface CancelledRun {
  readonly runId: string;
  /**
   * The context this worker gave the run's code (the same object), to tell one execution from
   * another. Its methods must not be called: the run records nothing more.
   */
  readonly ctx: WorkflowContext;
  /** The run's queryable state as it stands (`ctx.state`). */
  readonly state: Readonly<Record<string, unknown>>;
  readonly reason: string;
  /** The engine clock's time, epoch ms. */
  readonly now: number;
}

export interface WorkflowDefinition<I = unknown, O = unknown> {
  /** 'workflow' for defineWorkflow; machines and trees are hosted as runs of their own kind. */
  readonly kind: RunKind;
  readonly name: string;
  readonly version: string;
  readonly input?: StandardSchemaV1;
  readonly output?: StandardSchemaV1;
  readonly run: (ctx: WorkflowContext, input: I) => Promise<O>;
  /**
   * For hosts of pure logic (a tree halts its active nodes): called just before `run.cancelled` is
   * recorded, in the process that applies the cancel (the worker executing the run, or, for a run
   * that no worker holds, the one that cancels it, when it has this definition). Synchronous and
   * not durable: if that process stops before the cancel is stored, the process that applies it
   * later calls it again. What it throws is logged, and the run is cancelled all the same.
   */
  readonly onCancel?: (run: CancelledRun) => void;
}

type InputOf<S, Fallback> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Fallback;

/**
 * Define a durable workflow.
 *
 * @example
 * const greet = defineWorkflow({
 *   name: 'greet',
 *   input: z.object({ name: z.string() }),
 *   async run(ctx, input) {
 *     const text = await ctx.step('compose', () => `Hello, ${input.name}`);
 *     await ctx.sleep('1h');
 *     return text;
 *   },
 * });
 */
export function defineWorkflow<
  SI extends StandardSchemaV1 | undefined = undefined,
  O = unknown,
  I = InputOf<SI, unknown>,
>(definition: {
  name: string;
  version?: string;
  input?: SI;
  output?: StandardSchemaV1<unknown, O>;
  run: (ctx: WorkflowContext, input: I) => Promise<O>;
}): WorkflowDefinition<I, O> {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(definition.name)) {
    throw new TypeError(
      `Invalid workflow name '${definition.name}': use 1–200 letters, digits, '_', '.', ':' or '-'.`,
    );
  }
  const out: WorkflowDefinition<I, O> = {
    kind: 'workflow',
    name: definition.name,
    version: definition.version ?? '1',
    run: definition.run,
  };
  if (definition.input) (out as { input?: StandardSchemaV1 }).input = definition.input;
  if (definition.output) (out as { output?: StandardSchemaV1 }).output = definition.output;
  return out;
}

/** A definition of any input and output type, for registries and lists. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyWorkflow = WorkflowDefinition<any, any>;
