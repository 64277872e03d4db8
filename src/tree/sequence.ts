import { TreeNode, type TickContext } from './node.js';
import { isActive, Status } from './status.js';

function memoryIndex(memory: unknown): number {
  const index = (memory as { index?: unknown } | undefined)?.index;
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : 0;
}

/**
 * Sequence with memory: ticks its children in order from the one it stopped at.
 *
 * - A child that is `running` or `waiting` makes the sequence return that status and remember
 *   the child, so the next tick resumes there (earlier children are not re-ticked).
 * - A `failure` resets the sequence to its first child and returns `failure`.
 * - When every child has succeeded it returns `success` and resets. An empty sequence succeeds.
 */
export class Sequence extends TreeNode {
  readonly type: string = 'sequence';
  protected index = 0;

  constructor(name: string, children: readonly TreeNode[] = []) {
    super(name);
    for (const child of children) this.addChild(child);
  }

  protected onTick(ctx: TickContext): Status {
    while (this.index < this.children.length) {
      const status = (this.children[this.index] as TreeNode).tick(ctx);
      if (status === Status.Running || status === Status.Waiting) return status;
      if (status === Status.Failure) {
        this.index = 0;
        return Status.Failure;
      }
      this.index++;
    }
    this.index = 0;
    return Status.Success;
  }

  protected override resetMemory(): void {
    this.index = 0;
  }

  override saveMemory(): unknown {
    return this.index === 0 ? undefined : { index: this.index };
  }

  override loadMemory(memory: unknown): void {
    this.index = memoryIndex(memory);
  }

  /** Move to a child (how a wizard backtracks): later children are halted and reset. */
  jumpTo(index: number, ctx: TickContext): void {
    this.haltChildren(ctx);
    for (let i = index; i < this.children.length; i++) (this.children[i] as TreeNode).reset();
    this.index = index;
  }
}

/**
 * Reactive sequence: re-ticks every child from the first on each tick, so conditions in front of
 * a long action are checked again while it runs. When an earlier child fails or becomes active,
 * the children after it that were active are halted.
 */
export class ReactiveSequence extends TreeNode {
  readonly type: string = 'reactive_sequence';

  constructor(name: string, children: readonly TreeNode[] = []) {
    super(name);
    for (const child of children) this.addChild(child);
  }

  protected onTick(ctx: TickContext): Status {
    for (let i = 0; i < this.children.length; i++) {
      const status = (this.children[i] as TreeNode).tick(ctx);
      if (isActive(status) || status === Status.Failure) {
        this.haltChildren(ctx, i + 1);
        return status;
      }
    }
    return Status.Success;
  }
}
