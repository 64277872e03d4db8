/**
 * Behavior trees (DESIGN §2–3): pure logic that the engine hosts as runs.
 *
 * Build trees in code from the node classes, or from data with {@link parseTreeDefinition} and
 * {@link buildTree}; host them with {@link createTreeLogic}.
 */
export { Status, isStatus, isActive, isTerminalStatus } from './status.js';
export {
  TreeErrorCode,
  BehaviorTreeError,
  InvalidTreeStructureError,
  NodeExecutionError,
  TickLimitError,
  TreeDefinitionError,
  BlackboardError,
  SnapshotMismatchError,
} from './errors.js';
export { Blackboard, type BlackboardOptions, type BlackboardSnapshot } from './blackboard.js';
export { validateSync, issuePath, type SchemaIssue } from './schema.js';
export { TreeNode, type TickContext, type TreeCommand, type TaskCommand, type TreeNotice } from './node.js';
export { Sequence, ReactiveSequence } from './sequence.js';
export { Selector, ReactiveFallback } from './selector.js';
export { Parallel, type ParallelPolicy } from './parallel.js';
export { Decorator, Inverter, ForceSuccess, ForceFailure, Retry, Repeat, Timeout } from './decorators.js';
export {
  Action,
  Condition,
  InteractiveLeaf,
  TaskLeaf,
  inputKey,
  promptKey,
  taskResultKey,
  type ActionFn,
  type ConditionFn,
  type LeafContext,
  type ActionOptions,
  type InteractiveOptions,
  type TaskOptions,
  type TaskOutcome,
} from './leaves.js';
export { Subtree } from './subtree.js';
export { BehaviorTree, type BehaviorTreeOptions, type TreeClock, type TreeSnapshot } from './tree.js';
export {
  TreeRegistry,
  parseTreeDefinition,
  checkTreeDefinition,
  buildTree,
  type TreeDefinition,
  type NodeDefinition,
  type NodeType,
  type RegisteredAction,
  type RegisteredCondition,
  type ParseOptions,
  type BuildTreeOptions,
} from './definition.js';
export { createTreeLogic, type TreeLogic, type TreeEvent, type TreeTransition, type TreeInput, type TreeLogicOptions } from './logic.js';
export {
  TREE_STATE_KEY,
  TREE_SIGNAL,
  TreeFailedError,
  defineTreeWorkflow,
  treeInput,
  type TreeWorkflow,
  type TreeHostOptions,
  type TreeRunInput,
  type TreeRunOutput,
  type TreeRunSnapshot,
  type TaskHandler,
  type TaskContext,
} from './durable.js';
export { HostedRunErrorCode, waitForRunState, type HostEngine, type HostedRunInfo, type WaitOptions } from './durable-host.js';
