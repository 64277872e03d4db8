import type { Blackboard } from './blackboard.js';
import { BehaviorTreeError, InvalidTreeStructureError, NodeExecutionError } from './errors.js';
import { isActive, isStatus, type Status } from './status.js';

/** Work a tree asks its host to do: run a named task (a durable step) and report the outcome. */
export interface TaskCommand {
  type: 'task';
  /** Id of the task leaf; pass it back with the outcome. */
  node: string;
  task: string;
  input: unknown;
}
export type TreeCommand = TaskCommand;

/** Something a node reports for the run's history (e.g. a wizard's events); JSON data. */
export interface TreeNotice {
  /** Id of the node that reported it. */
  node: string;
  event: unknown;
}

/** What every node sees while it is ticked. */
export interface TickContext {
  readonly blackboard: Blackboard;
  /** The time of this tick in epoch milliseconds, from the injected clock or the host's event. */
  readonly now: number;
  /** Commands for the host, collected during the tick. */
  readonly commands: TreeCommand[];
  /** Notices for the host to record, collected during the tick. */
  readonly notices: TreeNotice[];
}

/**
 * Base of every node.
 *
 * A node is ticked by its parent and answers with a {@link Status}. `running` and `waiting` nodes
 * are *active*: if their parent stops ticking them (a reactive sibling took over, a parallel
 * finished, a timeout fired), the parent halts them, which runs their `onHalt` hook and clears
 * their memory. Memory (a sequence's index, a retry's attempts) is what {@link saveMemory}
 * persists, so the engine can snapshot a tree at a wait and continue it after a crash.
 */
export abstract class TreeNode {
  abstract readonly type: string;
  readonly name: string;
  parent: TreeNode | undefined;
  readonly children: TreeNode[] = [];
  /** Position in the tree (`0`, `0.1`, `0.1.2`), assigned when the tree is built; stable for one shape. */
  id = '';
  /** The last status this node returned; undefined while it is idle (never ticked, finished and reset, halted). */
  status: Status | undefined;
  #setUp = false;

  constructor(name: string) {
    this.name = name;
  }

  /** Tick this node once. Errors other than tree errors are wrapped in {@link NodeExecutionError}. */
  tick(ctx: TickContext): Status {
    let result: unknown;
    try {
      if (!this.#setUp) {
        this.setup(ctx);
        this.#setUp = true;
      }
      result = this.onTick(ctx);
    } catch (err) {
      if (err instanceof BehaviorTreeError) throw err;
      throw new NodeExecutionError(this.id, `${this.describe()} threw: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (!isStatus(result)) {
      throw new NodeExecutionError(
        this.id,
        `${this.describe()} returned ${describeValue(result)}, which is not a status; return 'success', 'failure', 'running' or 'waiting'.`,
      );
    }
    this.status = result;
    return result;
  }

  /**
   * Stop an active node that will not be ticked again: its active children are halted first, then
   * its own hook runs, then its memory is cleared. Halting an idle node does nothing.
   */
  halt(ctx: TickContext): void {
    if (!isActive(this.status)) return;
    for (const child of this.children) child.halt(ctx);
    this.onHalt(ctx);
    this.resetMemory();
    this.status = undefined;
  }

  /** Forget all memory, recursively, without running halt hooks. */
  reset(): void {
    this.resetMemory();
    this.status = undefined;
    for (const child of this.children) child.reset();
  }

  /**
   * Attach a child. A node has one parent: adding a node that already has one, or an ancestor of
   * this node (which would make a cycle), throws {@link InvalidTreeStructureError}.
   */
  addChild(child: TreeNode): this {
    if (child === this) {
      throw new InvalidTreeStructureError(`Cannot add ${this.describe()} as a child of itself: that would make a cycle.`);
    }
    for (let up = this.parent; up; up = up.parent) {
      if (up === child) {
        throw new InvalidTreeStructureError(
          `Cannot add ${child.describe()} under ${this.describe()}: it is an ancestor of that node, so this would make a cycle.`,
        );
      }
    }
    if (child.parent) {
      throw new InvalidTreeStructureError(
        `Cannot add ${child.describe()} under ${this.describe()}: it already has a parent (${child.parent.describe()}). ` +
          `A node can appear in a tree once; build a second node instead.`,
      );
    }
    child.parent = this;
    this.children.push(child);
    return this;
  }

  describe(): string {
    return this.name === this.type ? `${this.type} node` : `${this.type} '${this.name}'`;
  }

  /** JSON memory to persist; undefined when the node has none. */
  saveMemory(): unknown {
    return undefined;
  }

  loadMemory(_memory: unknown): void {
    // stateless by default
  }

  /** Runs once, before the first tick. */
  protected setup(_ctx: TickContext): void {
    // nothing by default
  }

  protected abstract onTick(ctx: TickContext): Status;

  /** Release what an active node holds (withdraw a prompt, forget a pending task). */
  protected onHalt(_ctx: TickContext): void {
    // nothing by default
  }

  protected resetMemory(): void {
    // stateless by default
  }

  /** Halt every active child; used when a node finishes while children are still active. */
  protected haltChildren(ctx: TickContext, from = 0): void {
    for (let i = from; i < this.children.length; i++) (this.children[i] as TreeNode).halt(ctx);
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}'`;
  if (value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function') return 'a Promise';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return `a ${typeof value} that JSON cannot show`;
  }
}

export { describeValue };
