import { Blackboard, type BlackboardSnapshot } from './blackboard.js';
import { SnapshotMismatchError, TickLimitError } from './errors.js';
import { inputKey, promptKey, taskResultKey, type TaskOutcome } from './leaves.js';
import type { TickContext, TreeCommand, TreeNode, TreeNotice } from './node.js';
import { isStatus, Status } from './status.js';

/** A clock: epoch milliseconds. The engine passes its Clock port; tests pass a fake. */
export interface TreeClock {
  now(): number;
}

export interface BehaviorTreeOptions {
  /** Used in messages and snapshots. Default: the root's name. */
  name?: string;
  blackboard?: Blackboard;
  /** Time source for ticks that do not carry their own instant. Default: `Date.now`. */
  clock?: TreeClock;
}

/**
 * The persisted form of a tree: every node's status and memory, keyed by node id, plus the
 * blackboard. JSON only. `shape` guards against restoring into a different tree.
 */
export interface TreeSnapshot {
  version: 1;
  tree: string;
  shape: string;
  status: Status | null;
  nodes: Record<string, { status?: Status; memory?: unknown }>;
  blackboard: BlackboardSnapshot;
}

const systemClock: TreeClock = { now: () => Date.now() };

/**
 * A behavior tree: a root node, a blackboard and a clock.
 *
 * @example
 * ```ts
 * const tree = new BehaviorTree(
 *   new Sequence('main', [
 *     new Condition('has-input', ({ blackboard }) => blackboard.has('rows')),
 *     new Action('count', ({ blackboard }) => void blackboard.set('n', blackboard.get<unknown[]>('rows')?.length)),
 *   ]),
 * );
 * tree.blackboard.set('rows', [1, 2]);
 * tree.tickUntilTerminal(); // 'success'
 * ```
 */
export class BehaviorTree {
  readonly root: TreeNode;
  readonly name: string;
  blackboard: Blackboard;
  readonly clock: TreeClock;
  /** Nodes in depth-first order; `nodes[i].id` is their position path. */
  readonly nodes: readonly TreeNode[];
  readonly shape: string;
  #status: Status | undefined;
  #commands: TreeCommand[] = [];
  #notices: TreeNotice[] = [];

  constructor(root: TreeNode, options: BehaviorTreeOptions = {}) {
    this.root = root;
    this.name = options.name ?? root.name;
    this.blackboard = options.blackboard ?? new Blackboard();
    this.clock = options.clock ?? systemClock;
    const nodes: TreeNode[] = [];
    const visit = (node: TreeNode, id: string): void => {
      node.id = id;
      nodes.push(node);
      node.children.forEach((child, i) => visit(child, `${id}.${i}`));
    };
    visit(root, '0');
    this.nodes = nodes;
    this.shape = shapeOf(nodes);
  }

  /** The status of the last tick; undefined before the first. */
  get status(): Status | undefined {
    return this.#status;
  }

  /** Tick the root once. `now` overrides the clock (hosts pass the instant of their event). */
  tick(now?: number): Status {
    const ctx: TickContext = { blackboard: this.blackboard, now: now ?? this.clock.now(), commands: this.#commands, notices: this.#notices };
    this.#status = this.root.tick(ctx);
    return this.#status;
  }

  /**
   * Tick until the tree succeeds, fails or waits. Throws {@link TickLimitError} when it is still
   * `running` after `maxTicks` ticks.
   */
  tickUntilTerminal(options: { maxTicks?: number; now?: number } = {}): Status {
    const maxTicks = options.maxTicks ?? 10_000;
    const status = this.runTicks(maxTicks, options.now);
    if (status === Status.Running) throw new TickLimitError(maxTicks, this.name);
    return status;
  }

  /** Like {@link tickUntilTerminal} but returns `running` at the limit instead of throwing. */
  runTicks(maxTicks: number, now?: number): Status {
    let status: Status = Status.Running;
    for (let i = 0; i < maxTicks && status === Status.Running; i++) status = this.tick(now);
    return status;
  }

  /** Halt every active node (the run was cancelled, or is being replaced). */
  halt(now?: number): void {
    this.root.halt({ blackboard: this.blackboard, now: now ?? this.clock.now(), commands: this.#commands, notices: this.#notices });
    this.#status = undefined;
  }

  /** Forget all node memory (not the blackboard). */
  reset(): void {
    this.root.reset();
    this.#status = undefined;
  }

  /** Deliver input to the interactive leaf `name`; it consumes it on the next tick. */
  input(name: string, value: unknown): void {
    this.blackboard.set(inputKey(name), value);
  }

  /** Prompts of the interactive leaves that are waiting, by leaf name. */
  prompts(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const prefix = promptKey('');
    for (const key of this.blackboard.keys()) {
      if (key.startsWith(prefix)) out[key.slice(prefix.length)] = this.blackboard.get(key);
    }
    return out;
  }

  /** Deliver the outcome of a task command; the task leaf picks it up on the next tick. */
  deliverTaskResult(nodeId: string, outcome: TaskOutcome): void {
    this.blackboard.set(taskResultKey(nodeId), outcome);
  }

  /** Commands issued since the last call (task requests for the host). */
  takeCommands(): TreeCommand[] {
    const out = this.#commands;
    this.#commands = [];
    return out;
  }

  /** Notices reported since the last call (events for the run's history). */
  takeNotices(): TreeNotice[] {
    const out = this.#notices;
    this.#notices = [];
    return out;
  }

  snapshot(): TreeSnapshot {
    const nodes: TreeSnapshot['nodes'] = {};
    for (const node of this.nodes) {
      const memory = node.saveMemory();
      if (node.status === undefined && memory === undefined) continue;
      const entry: { status?: Status; memory?: unknown } = {};
      if (node.status !== undefined) entry.status = node.status;
      if (memory !== undefined) entry.memory = memory;
      nodes[node.id] = entry;
    }
    return {
      version: 1,
      tree: this.name,
      shape: this.shape,
      status: this.#status ?? null,
      nodes: structuredClone(nodes),
      blackboard: this.blackboard.snapshot(),
    };
  }

  /**
   * Put the tree back exactly as it was when `snapshot` was taken: every node's status and memory,
   * and the blackboard. Throws {@link SnapshotMismatchError} if the snapshot is of another tree shape.
   */
  restore(snapshot: TreeSnapshot): void {
    if (snapshot.version !== 1 || typeof snapshot.nodes !== 'object') {
      throw new SnapshotMismatchError(`This is not a tree snapshot (version 1); pass the value returned by snapshot().`);
    }
    if (snapshot.shape !== this.shape) {
      throw new SnapshotMismatchError(
        `The snapshot of tree '${snapshot.tree}' was taken from a tree of a different shape than '${this.name}'. ` +
          `A running tree must be resumed with the definition it started with; register changed trees under a new version.`,
      );
    }
    for (const node of this.nodes) {
      const entry = snapshot.nodes[node.id];
      node.status = entry?.status !== undefined && isStatus(entry.status) ? entry.status : undefined;
      node.loadMemory(entry?.memory === undefined ? undefined : structuredClone(entry.memory));
    }
    this.blackboard.load(snapshot.blackboard);
    this.#status = snapshot.status ?? undefined;
    this.#commands = [];
    this.#notices = [];
  }
}

function shapeOf(nodes: readonly TreeNode[]): string {
  // FNV-1a over "id:type:name" of every node: cheap, stable, and short enough to store each time.
  let hash = 0x811c9dc5;
  for (const node of nodes) {
    const text = `${node.id}:${node.type}:${node.name};`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return `${nodes.length}-${hash.toString(16)}`;
}
