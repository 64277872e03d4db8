import { InvalidTreeStructureError } from './errors.js';
import { TreeNode, type TickContext } from './node.js';
import { isStatus, isTerminalStatus, Status } from './status.js';

/**
 * When a {@link Parallel} succeeds: `all` children, `any` child, or at least `threshold` children.
 */
export type ParallelPolicy = 'all' | 'any' | { threshold: number };

/**
 * Parallel: ticks every unfinished child on each tick and caches each child's terminal result,
 * so finished children are not ticked again.
 *
 * - It succeeds as soon as enough children have succeeded (`all`: every one; `any`: one;
 *   `{ threshold: n }`: n), and fails as soon as that can no longer happen (with `all`, the
 *   first failure). The children still active at that moment are halted.
 * - Otherwise it returns `waiting` if any child waits, else `running`: a parallel that is only
 *   blocked on outside input must let the host park the run.
 */
export class Parallel extends TreeNode {
  readonly type: string = 'parallel';
  readonly policy: ParallelPolicy;
  #results: (Status | null)[] = [];

  constructor(name: string, policy: ParallelPolicy, children: readonly TreeNode[] = []) {
    super(name);
    this.policy = policy;
    for (const child of children) this.addChild(child);
    if (typeof policy === 'object') {
      const t = policy.threshold;
      if (!Number.isInteger(t) || t < 1 || t > children.length) {
        throw new InvalidTreeStructureError(
          `Parallel '${name}' has threshold ${t}, but it must be a whole number from 1 to its number of children (${children.length}).`,
        );
      }
    }
  }

  get threshold(): number {
    if (this.policy === 'all') return this.children.length;
    if (this.policy === 'any') return 1;
    return this.policy.threshold;
  }

  protected onTick(ctx: TickContext): Status {
    const n = this.children.length;
    const need = Math.min(this.threshold, n);
    if (need === 0) return Status.Success;
    let successes = 0;
    let failures = 0;
    let waiting = false;
    for (const r of this.#results) {
      if (r === Status.Success) successes++;
      else if (r === Status.Failure) failures++;
    }
    for (let i = 0; i < n; i++) {
      if (this.#results[i]) continue;
      const status = (this.children[i] as TreeNode).tick(ctx);
      if (isTerminalStatus(status)) {
        this.#results[i] = status;
        if (status === Status.Success) successes++;
        else failures++;
        if (successes >= need) return this.#finish(ctx, Status.Success);
        if (failures > n - need) return this.#finish(ctx, Status.Failure);
      } else if (status === Status.Waiting) {
        waiting = true;
      }
    }
    return waiting ? Status.Waiting : Status.Running;
  }

  #finish(ctx: TickContext, status: Status): Status {
    this.haltChildren(ctx);
    this.#results = [];
    return status;
  }

  protected override resetMemory(): void {
    this.#results = [];
  }

  override saveMemory(): unknown {
    return this.#results.some(Boolean) ? { results: this.#results.map((r) => r ?? null) } : undefined;
  }

  override loadMemory(memory: unknown): void {
    const results = (memory as { results?: unknown } | undefined)?.results;
    this.#results = Array.isArray(results) ? results.map((r) => (isStatus(r) ? r : null)) : [];
  }
}
