import type { TaskOutcome } from './leaves.js';
import type { TreeCommand, TreeNotice } from './node.js';
import { Timeout } from './decorators.js';
import { BehaviorTreeError, SnapshotMismatchError, TreeErrorCode } from './errors.js';
import { isTerminalStatus, Status } from './status.js';
import type { BehaviorTree, TreeSnapshot } from './tree.js';
import type { BlackboardSnapshot } from './blackboard.js';

/**
 * What the engine sends a hosted tree. Every event carries the instant it happened (`now`,
 * epoch ms) so that timeouts are measured on the engine's clock and restored trees agree.
 */
export type TreeEvent =
  /** Tick again (after a timer, or to continue a tree that returned `running`). */
  | { type: 'tick'; now?: number }
  /** Input for the interactive leaf `name` (a wizard answer, a human decision). */
  | { type: 'input'; name: string; value: unknown; now?: number }
  /** The outcome of a task command, for the task leaf with id `node`. */
  | { type: 'task.result'; node: string; outcome: TaskOutcome; now?: number }
  /** The run is cancelled: active nodes are halted. */
  | { type: 'cancel'; now?: number };

/** What a hosted tree answers with: its next state and what the host must do. */
export interface TreeTransition {
  /** Persist this (it is JSON) at every wait; it is the resume authority. */
  state: TreeSnapshot;
  /**
   * `success`/`failure`: the run ends. `waiting`: park the run until an input or a task result
   * arrives (see `prompts` and `commands`). `running`: the tick budget of one transition was used
   * up; send a `tick` event again (after `deadline`, if set).
   */
  status: Status;
  /** Task commands to execute as durable steps; report each back with a `task.result` event. */
  commands: TreeCommand[];
  /** Notices to record in the run's history (e.g. the events of a wizard leaf), in order. */
  notices: TreeNotice[];
  /** Prompts of the waiting interactive leaves, by name. */
  prompts: Record<string, unknown>;
  /** The earliest timeout deadline of an active timeout node: schedule a `tick` timer for it. */
  deadline?: number;
}

export interface TreeInput {
  /** Initial blackboard values. */
  blackboard?: Record<string, unknown>;
  now?: number;
}

/**
 * A tree as pure logic for the engine (DESIGN §2): `initial`, `transition`, `persist`, `restore`.
 * The state is the tree's JSON snapshot, so persisting is free and a crash loses nothing.
 */
export interface TreeLogic {
  readonly name: string;
  initial(input?: TreeInput): TreeTransition;
  transition(state: TreeSnapshot, event: TreeEvent): TreeTransition;
  persist(state: TreeSnapshot): unknown;
  restore(json: unknown): TreeSnapshot;
}

export interface TreeLogicOptions {
  /** Ticks one transition may take before it hands back `running`. Default 10,000. */
  ticksPerTransition?: number;
}

/**
 * Host a tree as pure logic. `build` is called once; the tree instance is then reused for every
 * run, restored from the given state before each transition, so transitions depend only on
 * their arguments.
 *
 * @example
 * ```ts
 * const logic = createTreeLogic(() => buildTree(definition, registry));
 * let t = logic.initial({ blackboard: { source: 's3://x' }, now: clock.now() });
 * while (t.status === 'waiting' && t.commands.length > 0) {
 *   const [cmd] = t.commands;                   // run cmd.task as a durable step, then:
 *   t = logic.transition(t.state, { type: 'task.result', node: cmd.node, outcome: { ok: true }, now: clock.now() });
 * }
 * ```
 */
export function createTreeLogic(build: () => BehaviorTree, options: TreeLogicOptions = {}): TreeLogic {
  const budget = options.ticksPerTransition ?? 10_000;
  let instance: BehaviorTree | undefined;
  // The blackboard as built (a definition's initial values): every run starts from it.
  let pristine: BlackboardSnapshot | undefined;
  const tree = (): BehaviorTree => {
    if (!instance) {
      instance = build();
      pristine = instance.blackboard.snapshot();
    }
    return instance;
  };

  const finish = (t: BehaviorTree, status: Status): TreeTransition => {
    const out: TreeTransition = { state: t.snapshot(), status, commands: t.takeCommands(), notices: t.takeNotices(), prompts: t.prompts() };
    let deadline: number | undefined;
    for (const node of t.nodes) {
      if (node instanceof Timeout && node.deadline !== undefined) deadline = Math.min(deadline ?? Infinity, node.deadline);
    }
    if (deadline !== undefined) out.deadline = deadline;
    return out;
  };

  return {
    get name() {
      return tree().name;
    },
    initial(input = {}) {
      const t = tree();
      t.reset();
      t.takeCommands();
      t.takeNotices();
      t.blackboard.load(pristine as BlackboardSnapshot);
      // Copies: ticks must not change the caller's objects (transitions are pure).
      for (const [key, value] of Object.entries(structuredClone(input.blackboard ?? {}))) t.blackboard.set(key, value);
      return finish(t, t.runTicks(budget, input.now));
    },
    transition(state, event) {
      const t = tree();
      t.restore(state);
      if (state.status !== null && isTerminalStatus(state.status)) return finish(t, state.status);
      switch (event.type) {
        case 'cancel': {
          t.halt(event.now);
          const out = finish(t, Status.Failure);
          // Recorded as terminal, so later events leave the cancelled tree alone.
          out.state.status = Status.Failure;
          return out;
        }
        case 'input':
          t.input(event.name, structuredClone(event.value));
          break;
        case 'task.result':
          if (!t.nodes.some((node) => node.id === event.node)) {
            throw new BehaviorTreeError(
              TreeErrorCode.Snapshot,
              `Tree '${t.name}' has no node '${event.node}'; a task outcome must carry the node id of the task command it answers.`,
            );
          }
          t.deliverTaskResult(event.node, structuredClone(event.outcome));
          break;
        case 'tick':
          break;
      }
      return finish(t, t.runTicks(budget, event.now));
    },
    persist(state) {
      return state;
    },
    restore(json) {
      const s = json as Partial<TreeSnapshot> | null;
      if (s === null || typeof s !== 'object' || s.version !== 1 || typeof s.shape !== 'string' || typeof s.nodes !== 'object') {
        throw new SnapshotMismatchError('The stored value is not a tree snapshot (version 1).');
      }
      if (s.shape !== tree().shape) {
        throw new SnapshotMismatchError(
          `The stored snapshot of '${String(s.tree)}' does not fit tree '${tree().name}' (its shape changed); ` +
            `resume it with the definition version it started with.`,
        );
      }
      return s as TreeSnapshot;
    },
  };
}
