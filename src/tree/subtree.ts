import { TreeNode, type TickContext } from './node.js';
import type { Status } from './status.js';

/**
 * Subtree: a named tree used as a node of another tree. With `scope`, the subtree's ticks run
 * inside that blackboard scope, so its scoped values do not mix with its host's.
 */
export class Subtree extends TreeNode {
  readonly type = 'subtree';
  readonly scope: string | undefined;

  constructor(name: string, root: TreeNode, options: { scope?: string } = {}) {
    super(name);
    this.scope = options.scope;
    this.addChild(root);
  }

  protected onTick(ctx: TickContext): Status {
    const root = this.children[0] as TreeNode;
    if (this.scope === undefined) return root.tick(ctx);
    ctx.blackboard.enterScope(this.scope);
    try {
      return root.tick(ctx);
    } finally {
      ctx.blackboard.exitScope();
    }
  }
}
