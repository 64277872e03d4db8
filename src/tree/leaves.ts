import type { Blackboard } from './blackboard.js';
import { NodeExecutionError } from './errors.js';
import { describeValue, TreeNode, type TickContext } from './node.js';
import { isStatus, Status } from './status.js';

/** What an action or condition function is given. */
export interface LeafContext {
  readonly blackboard: Blackboard;
  /** The time of the tick in epoch ms; use it instead of `Date.now()` so restored trees agree. */
  readonly now: number;
  /** The node being ticked (its `id` and `name` help in messages). */
  readonly node: TreeNode;
}

/**
 * An action returns `undefined` (success), a {@link Status} (passed through), or anything else
 * (failure — as in Palm; return a status when you mean one). Actions are synchronous: work with
 * side effects belongs in a {@link TaskLeaf}, which the engine runs as a durable step.
 */
export type ActionFn = (ctx: LeafContext) => unknown;
export type ConditionFn = (ctx: LeafContext) => boolean;

function isThenable(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

export interface ActionOptions {
  /** Runs when the action is halted while `running` (release what it started). */
  halt?: (ctx: LeafContext) => void;
}

export class Action extends TreeNode {
  readonly type = 'action';
  readonly #fn: ActionFn;
  readonly #halt: ((ctx: LeafContext) => void) | undefined;

  constructor(name: string, fn: ActionFn, options: ActionOptions = {}) {
    super(name);
    this.#fn = fn;
    this.#halt = options.halt;
  }

  protected onTick(ctx: TickContext): Status {
    const result = this.#fn({ blackboard: ctx.blackboard, now: ctx.now, node: this });
    if (result === undefined) return Status.Success;
    if (isStatus(result)) return result;
    if (isThenable(result)) {
      throw new NodeExecutionError(
        this.id,
        `${this.describe()} returned a Promise. Actions run inside a pure tick and must be synchronous; ` +
          `use a task leaf for asynchronous or side-effecting work (the engine runs it as a durable step).`,
      );
    }
    return Status.Failure;
  }

  protected override onHalt(ctx: TickContext): void {
    this.#halt?.({ blackboard: ctx.blackboard, now: ctx.now, node: this });
  }
}

/** Succeeds when the predicate holds, fails otherwise. Never active. */
export class Condition extends TreeNode {
  readonly type = 'condition';
  readonly #fn: ConditionFn;

  constructor(name: string, fn: ConditionFn) {
    super(name);
    this.#fn = fn;
  }

  protected onTick(ctx: TickContext): Status {
    const result: unknown = this.#fn({ blackboard: ctx.blackboard, now: ctx.now, node: this });
    if (typeof result !== 'boolean') {
      throw new NodeExecutionError(this.id, `${this.describe()} returned ${describeValue(result)}; a condition returns true or false.`);
    }
    return result ? Status.Success : Status.Failure;
  }
}

/** Blackboard key an interactive leaf reads its input from (and consumes). */
export const inputKey = (name: string): string => `__bt_input__:${name}`;
/** Blackboard key an interactive leaf publishes its prompt to while it waits. */
export const promptKey = (name: string): string => `__bt_prompt__:${name}`;
/** Blackboard key a task leaf's outcome is delivered to. */
export const taskResultKey = (nodeId: string): string => `__bt_task__:${nodeId}`;

export interface InteractiveOptions {
  /** What to publish as the prompt (any JSON); default `{ name }`. */
  prompt?: unknown;
  /**
   * Handle the input: return a status (e.g. `waiting` to ask again), or undefined for success.
   * By default the value is stored on the blackboard under `output` (default: the leaf's name).
   */
  onInput?: (value: unknown, ctx: LeafContext) => Status | undefined;
  output?: string;
}

/**
 * Interactive leaf: waits for a value from outside the tree.
 *
 * It reads and consumes `__bt_input__:<name>`. Without input it publishes its prompt to
 * `__bt_prompt__:<name>` and returns `waiting`; with input it withdraws the prompt and handles the
 * value. Halting it withdraws the prompt.
 */
export class InteractiveLeaf extends TreeNode {
  readonly type = 'interactive';
  readonly #options: InteractiveOptions;

  constructor(name: string, options: InteractiveOptions = {}) {
    super(name);
    this.#options = options;
  }

  protected onTick(ctx: TickContext): Status {
    const key = inputKey(this.name);
    if (!ctx.blackboard.has(key)) {
      this.requestInput(ctx);
      return Status.Waiting;
    }
    const value = ctx.blackboard.take(key);
    ctx.blackboard.delete(promptKey(this.name));
    const leaf: LeafContext = { blackboard: ctx.blackboard, now: ctx.now, node: this };
    if (this.#options.onInput) {
      const status = this.#options.onInput(value, leaf) ?? Status.Success;
      // Asking again means the prompt must be visible again.
      if (status === Status.Waiting) this.requestInput(ctx);
      return status;
    }
    ctx.blackboard.set(this.#options.output ?? this.name, value);
    return Status.Success;
  }

  /** Publish the prompt. Override to publish a richer bundle. */
  protected requestInput(ctx: TickContext): void {
    ctx.blackboard.set(promptKey(this.name), this.#options.prompt ?? { name: this.name });
  }

  protected override onHalt(ctx: TickContext): void {
    ctx.blackboard.delete(promptKey(this.name));
  }
}

/** The outcome of a host task, delivered back with {@link BehaviorTree.deliverTaskResult}. */
export type TaskOutcome = { ok: true; value?: unknown } | { ok: false; error: string };

export interface TaskOptions {
  /** Builds the task's input from the blackboard (JSON); default: undefined. */
  input?: (ctx: LeafContext) => unknown;
  /** Blackboard key for the task's value on success. */
  output?: string;
}

/**
 * Task leaf: asks the host to run a named task (the engine runs it as a durable step) and waits
 * for the outcome. The command is issued once; the node then waits until the outcome arrives at
 * `__bt_task__:<node id>`, and succeeds or fails with it. Failure messages go to `<output>.error`
 * (or `<name>.error`).
 */
export class TaskLeaf extends TreeNode {
  readonly type = 'task';
  readonly task: string;
  readonly #options: TaskOptions;
  #requested = false;

  constructor(name: string, task: string, options: TaskOptions = {}) {
    super(name);
    this.task = task;
    this.#options = options;
  }

  protected onTick(ctx: TickContext): Status {
    const key = taskResultKey(this.id);
    if (this.#requested && ctx.blackboard.has(key)) {
      const outcome = ctx.blackboard.take<TaskOutcome>(key) as TaskOutcome;
      this.#requested = false;
      if (outcome.ok) {
        if (this.#options.output !== undefined) ctx.blackboard.set(this.#options.output, outcome.value);
        return Status.Success;
      }
      ctx.blackboard.set(`${this.#options.output ?? this.name}.error`, outcome.error);
      return Status.Failure;
    }
    if (!this.#requested) {
      const input = this.#options.input?.({ blackboard: ctx.blackboard, now: ctx.now, node: this });
      ctx.commands.push({ type: 'task', node: this.id, task: this.task, input });
      this.#requested = true;
    }
    return Status.Waiting;
  }

  protected override onHalt(ctx: TickContext): void {
    // An outcome that arrives after a halt belongs to a run of the task nobody waits for any more.
    ctx.blackboard.delete(taskResultKey(this.id));
  }

  protected override resetMemory(): void {
    this.#requested = false;
  }

  override saveMemory(): unknown {
    return this.#requested ? { requested: true } : undefined;
  }

  override loadMemory(memory: unknown): void {
    this.#requested = (memory as { requested?: unknown } | undefined)?.requested === true;
  }
}
