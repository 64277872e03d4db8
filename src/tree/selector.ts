import { TreeNode, type TickContext } from './node.js';
import { isActive, Status } from './status.js';

/**
 * Selector (fallback) with memory: the mirror image of {@link Sequence}. It tries its children in
 * order and returns `success` on the first child that succeeds; `running`/`waiting` are returned
 * and the child remembered; when every child has failed it returns `failure` and resets.
 * An empty selector fails.
 */
export class Selector extends TreeNode {
  readonly type: string = 'selector';
  protected index = 0;

  constructor(name: string, children: readonly TreeNode[] = []) {
    super(name);
    for (const child of children) this.addChild(child);
  }

  protected onTick(ctx: TickContext): Status {
    while (this.index < this.children.length) {
      const status = (this.children[this.index] as TreeNode).tick(ctx);
      if (status === Status.Running || status === Status.Waiting) return status;
      if (status === Status.Success) {
        this.index = 0;
        return Status.Success;
      }
      this.index++;
    }
    this.index = 0;
    return Status.Failure;
  }

  protected override resetMemory(): void {
    this.index = 0;
  }

  override saveMemory(): unknown {
    return this.index === 0 ? undefined : { index: this.index };
  }

  override loadMemory(memory: unknown): void {
    const index = (memory as { index?: unknown } | undefined)?.index;
    this.index = typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : 0;
  }
}

/**
 * Reactive fallback: re-tries every child from the first on each tick, so a higher-priority
 * child that starts succeeding (or becomes active) pre-empts a lower one, which is halted.
 */
export class ReactiveFallback extends TreeNode {
  readonly type: string = 'reactive_fallback';

  constructor(name: string, children: readonly TreeNode[] = []) {
    super(name);
    for (const child of children) this.addChild(child);
  }

  protected onTick(ctx: TickContext): Status {
    for (let i = 0; i < this.children.length; i++) {
      const status = (this.children[i] as TreeNode).tick(ctx);
      if (isActive(status) || status === Status.Success) {
        this.haltChildren(ctx, i + 1);
        return status;
      }
    }
    return Status.Failure;
  }
}
