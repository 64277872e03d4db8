import { KeelError } from '../core/errors.js';

/**
 * Error codes of the behavior-tree runtime. Stable strings: hosts and tests match on them.
 */
export const TreeErrorCode = {
  /** A child was added twice, or adding it would make a cycle. */
  Structure: 'TREE_STRUCTURE',
  /** A node threw, or returned something that is not a status. */
  NodeExecution: 'TREE_NODE_EXECUTION',
  /** `tickUntilTerminal` reached its tick limit while the tree was still running. */
  TickLimit: 'TREE_TICK_LIMIT',
  /** A tree definition (data) is malformed or names something that is not registered. */
  Definition: 'TREE_DEFINITION_INVALID',
  /** A blackboard operation was misused (scope stack, schema, non-JSON value). */
  Blackboard: 'TREE_BLACKBOARD',
  /** A snapshot does not fit the tree it is restored into. */
  Snapshot: 'TREE_SNAPSHOT_MISMATCH',
} as const;
export type TreeErrorCode = (typeof TreeErrorCode)[keyof typeof TreeErrorCode];

/** Root of the tree errors; `instanceof BehaviorTreeError` tells them from a user's own errors. */
export class BehaviorTreeError extends KeelError {}

export class InvalidTreeStructureError extends BehaviorTreeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(TreeErrorCode.Structure, message, details ? { details } : undefined);
  }
}

/**
 * A node failed in a way that is a bug rather than a `failure` status: it threw, or it returned a
 * value that is not a status. The original error is the `cause`.
 */
export class NodeExecutionError extends BehaviorTreeError {
  readonly nodePath: string;
  constructor(nodePath: string, message: string, cause?: unknown) {
    super(TreeErrorCode.NodeExecution, message, { cause, details: { node: nodePath } });
    this.nodePath = nodePath;
  }
}

export class TickLimitError extends BehaviorTreeError {
  constructor(limit: number, tree: string) {
    super(
      TreeErrorCode.TickLimit,
      `Tree '${tree}' was still running after ${limit} ticks. A node keeps returning 'running' ` +
        `(an unbounded repeat, or an action that never finishes); fix that node, or raise maxTicks if the work is really this long.`,
      { details: { limit, tree } },
    );
  }
}

export class TreeDefinitionError extends BehaviorTreeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(TreeErrorCode.Definition, message, details ? { details } : undefined);
  }
}

export class BlackboardError extends BehaviorTreeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(TreeErrorCode.Blackboard, message, details ? { details } : undefined);
  }
}

export class SnapshotMismatchError extends BehaviorTreeError {
  constructor(message: string) {
    super(TreeErrorCode.Snapshot, message);
  }
}
