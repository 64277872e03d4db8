import { InvalidTreeStructureError } from './errors.js';
import { TreeNode, type TickContext } from './node.js';
import { Status } from './status.js';

/** A node with exactly one child that changes how the child's status is seen or repeated. */
export abstract class Decorator extends TreeNode {
  constructor(name: string, child: TreeNode) {
    super(name);
    this.addChild(child);
  }

  get child(): TreeNode {
    return this.children[0] as TreeNode;
  }
}

/** Swaps `success` and `failure`; `running` and `waiting` pass through. */
export class Inverter extends Decorator {
  readonly type = 'inverter';
  protected onTick(ctx: TickContext): Status {
    const status = this.child.tick(ctx);
    if (status === Status.Success) return Status.Failure;
    if (status === Status.Failure) return Status.Success;
    return status;
  }
}

/** Turns a finished child's result into `success`. */
export class ForceSuccess extends Decorator {
  readonly type = 'force_success';
  protected onTick(ctx: TickContext): Status {
    const status = this.child.tick(ctx);
    return status === Status.Failure ? Status.Success : status;
  }
}

/** Turns a finished child's result into `failure`. */
export class ForceFailure extends Decorator {
  readonly type = 'force_failure';
  protected onTick(ctx: TickContext): Status {
    const status = this.child.tick(ctx);
    return status === Status.Success ? Status.Failure : status;
  }
}

function counter(memory: unknown, key: string): number {
  const n = (memory as Record<string, unknown> | undefined)?.[key];
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Retry: when the child fails it is reset and ticked again within the same tick, up to
 * `maxAttempts` attempts in all; then the failure is returned. An active child keeps the attempt
 * count until it finishes.
 */
export class Retry extends Decorator {
  readonly type = 'retry';
  readonly maxAttempts: number;
  #attempts = 0;

  constructor(name: string, maxAttempts: number, child: TreeNode) {
    super(name, child);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidTreeStructureError(`Retry '${name}' needs maxAttempts ≥ 1 (a whole number), got ${maxAttempts}.`);
    }
    this.maxAttempts = maxAttempts;
  }

  get attempts(): number {
    return this.#attempts;
  }

  protected onTick(ctx: TickContext): Status {
    for (;;) {
      const status = this.child.tick(ctx);
      if (status !== Status.Failure) {
        if (status === Status.Success) this.#attempts = 0;
        return status;
      }
      this.#attempts++;
      if (this.#attempts >= this.maxAttempts) {
        this.#attempts = 0;
        return Status.Failure;
      }
      this.child.reset();
    }
  }

  protected override resetMemory(): void {
    this.#attempts = 0;
  }

  override saveMemory(): unknown {
    return this.#attempts === 0 ? undefined : { attempts: this.#attempts };
  }

  override loadMemory(memory: unknown): void {
    this.#attempts = counter(memory, 'attempts');
  }
}

/**
 * Repeat: runs the child to success `times` times, re-ticking it within the same tick; a failure
 * aborts and is returned. Without `times` it repeats for ever, one run per tick (it returns
 * `running` after each success), so a host or a tick limit can still stop it.
 */
export class Repeat extends Decorator {
  readonly type = 'repeat';
  readonly times: number | undefined;
  #count = 0;

  constructor(name: string, times: number | undefined, child: TreeNode) {
    super(name, child);
    if (times !== undefined && (!Number.isInteger(times) || times < 1)) {
      throw new InvalidTreeStructureError(`Repeat '${name}' needs times ≥ 1 (a whole number) or no limit, got ${times}.`);
    }
    this.times = times;
  }

  get count(): number {
    return this.#count;
  }

  protected onTick(ctx: TickContext): Status {
    for (;;) {
      const status = this.child.tick(ctx);
      if (status === Status.Failure) {
        this.#count = 0;
        return Status.Failure;
      }
      if (status !== Status.Success) return status;
      this.#count++;
      this.child.reset();
      if (this.times === undefined) return Status.Running;
      if (this.#count >= this.times) {
        this.#count = 0;
        return Status.Success;
      }
    }
  }

  protected override resetMemory(): void {
    this.#count = 0;
  }

  override saveMemory(): unknown {
    return this.#count === 0 ? undefined : { count: this.#count };
  }

  override loadMemory(memory: unknown): void {
    this.#count = counter(memory, 'count');
  }
}

/**
 * Timeout: fails and halts the child once `ms` have passed since the child was first ticked.
 *
 * Time comes from the tick context (the tree's injected clock, or the instant carried by the
 * host's event), never from `Date.now()` here, so a restored tree sees the same deadline.
 */
export class Timeout extends Decorator {
  readonly type = 'timeout';
  readonly ms: number;
  #startedAt: number | undefined;

  constructor(name: string, ms: number, child: TreeNode) {
    super(name, child);
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidTreeStructureError(`Timeout '${name}' needs a duration ≥ 0 ms, got ${ms}.`);
    }
    this.ms = ms;
  }

  protected onTick(ctx: TickContext): Status {
    this.#startedAt ??= ctx.now;
    if (ctx.now - this.#startedAt >= this.ms) {
      this.child.halt(ctx);
      this.child.reset();
      this.#startedAt = undefined;
      return Status.Failure;
    }
    const status = this.child.tick(ctx);
    if (status === Status.Success || status === Status.Failure) this.#startedAt = undefined;
    return status;
  }

  /** When the deadline falls, if the child is active: lets a host schedule a wake-up timer. */
  get deadline(): number | undefined {
    return this.#startedAt === undefined ? undefined : this.#startedAt + this.ms;
  }

  protected override resetMemory(): void {
    this.#startedAt = undefined;
  }

  override saveMemory(): unknown {
    return this.#startedAt === undefined ? undefined : { startedAt: this.#startedAt };
  }

  override loadMemory(memory: unknown): void {
    const at = (memory as { startedAt?: unknown } | undefined)?.startedAt;
    this.#startedAt = typeof at === 'number' ? at : undefined;
  }
}
