/**
 * Durable behavior-tree runs (DESIGN §3): a tree is hosted as a run of kind 'tree' whose code
 * drives the pure {@link TreeLogic}.
 *
 * The run loop ticks until the tree waits or ends:
 * - task commands run as durable steps `task:<task>` (those of one transition in parallel, in
 *   call order) and their outcomes go back as `task.result` events;
 * - at every wait the run records a {@link TreeRunSnapshot} with `ctx.state.set('tree', …)`:
 *   the blackboard, the prompts of waiting interactive leaves and the notices since the last wait;
 * - it then waits for the signal `input` (`{ id?, name, value }`), or until the earliest timeout
 *   deadline of the tree, after which it ticks again;
 * - `success` completes the run with the blackboard, `failure` fails it; a cancelled run halts the
 *   tree's active nodes (their halt hooks run) in the process that applies the cancel.
 * Every tick time comes from `ctx.now()`, so a replay sees the same times.
 */
import { coerceError, KeelError } from '../core/errors.js';
import type { Duration } from '../util/duration.js';
import type { RetryPolicy, WorkflowContext, WorkflowDefinition } from '../engine/workflow.js';
import type { BlackboardOptions } from './blackboard.js';
import { buildTree, type TreeDefinition, type TreeRegistry } from './definition.js';
import { TickLimitError } from './errors.js';
import type { TaskOutcome } from './leaves.js';
import { createTreeLogic, type TreeLogic, type TreeTransition } from './logic.js';
import type { TaskCommand, TreeNotice } from './node.js';
import { isTerminalStatus, Status } from './status.js';
import type { TreeSnapshot } from './tree.js';
import { HostedRunErrorCode, waitForRunState, type HostEngine, type WaitOptions } from './durable-host.js';

export const TREE_STATE_KEY = 'tree';
export const TREE_SIGNAL = 'input';

export interface TaskContext {
  task: string;
  /** Id of the task leaf. */
  node: string;
  runId: string;
  attempt: number;
  signal: AbortSignal;
}

/** Does the I/O of a task leaf; its return value is the leaf's output. Throw to make the leaf fail. */
export type TaskHandler = (input: unknown, context: TaskContext) => unknown;

export interface TreeHostOptions {
  /** Actions, conditions and subtrees the definition names. */
  registry: TreeRegistry;
  /** Task handlers by task name. A task without one fails its leaf with a message saying so. */
  tasks?: Readonly<Record<string, TaskHandler>>;
  /** Retries of a task step. Default: one attempt — retries belong in the tree (a `retry` node). */
  taskRetry?: RetryPolicy;
  /** Per-attempt timeout of a task step (a tree `timeout` node bounds waits, not a step in flight). */
  taskTimeout?: Duration;
  /** Blackboard schemas. */
  blackboard?: BlackboardOptions;
  /** Workflow version (default '1'): change it when the tree's shape changes under running runs. */
  version?: string;
}

/** The input of a tree run. */
export interface TreeRunInput {
  /** Initial blackboard values, over the definition's. */
  blackboard?: Record<string, unknown>;
}

/** The run state `tree` at a wait. JSON. */
export interface TreeRunSnapshot {
  tree: string;
  status: Status;
  /** Blackboard values, without the tree's own `__bt_…` keys. */
  blackboard: Record<string, unknown>;
  /** Prompts of the interactive leaves waiting for input, by leaf name. */
  prompts: Record<string, unknown>;
  /** Notices of the transitions since the previous snapshot. */
  notices: TreeNotice[];
  /** The earliest timeout deadline (epoch ms), when the tree ticks again by itself. */
  deadline?: number;
  lastInput: { id: string; name: string } | null;
  /** The tree's snapshot (resume authority for tools; the run itself replays). */
  state: TreeSnapshot;
}

export interface TreeRunOutput {
  status: 'success';
  blackboard: Record<string, unknown>;
}

/** A tree run ended in `failure`; the message lists the `<key>.error` values tasks left behind. */
export class TreeFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeFailedError';
  }
}

export interface TreeWorkflow extends WorkflowDefinition<TreeRunInput | undefined, TreeRunOutput> {
  readonly logic: TreeLogic;
}

const visible = (values: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(values).filter(([k]) => !k.startsWith('__bt_')));

/**
 * Host a tree as a durable workflow (kind 'tree', named after the tree).
 *
 * @example
 * ```ts
 * const pipeline = defineTreeWorkflow(parseTreeDefinition(text), {
 *   registry: ingestRegistry(),
 *   tasks: { extract: (url) => readRows(url), load: (req) => db.insert(req) },
 * });
 * const run = await engine.run(pipeline, { blackboard: { source: 's3://…', columns, table } });
 * const { blackboard } = await run.result();
 * ```
 */
export function defineTreeWorkflow(definition: TreeDefinition, options: TreeHostOptions): TreeWorkflow {
  const logic = createTreeLogic(() => buildTree(definition, options.registry, options.blackboard ? { blackboard: options.blackboard } : {}));
  // Built now, so a definition that does not fit the registry fails at definition time, not in a run.
  void logic.name;
  // The tree state of each run executing on this worker, by its context, for a cancel that comes
  // between two waits (the run state holds the tree as of the last wait).
  const live = new WeakMap<WorkflowContext, () => TreeSnapshot>();

  const runTask = (ctx: WorkflowContext, command: TaskCommand): Promise<TaskOutcome> =>
    ctx
      .step(
        `task:${command.task}`,
        async (s) => {
          const handler = options.tasks?.[command.task];
          if (!handler) throw new Error(`No handler for task '${command.task}': pass it in defineTreeWorkflow(…, { tasks }).`);
          return (await handler(structuredClone(command.input), { task: command.task, node: command.node, runId: ctx.runId, attempt: s.attempt, signal: s.signal })) ?? null;
        },
        { retry: options.taskRetry ?? { maxAttempts: 1 }, ...(options.taskTimeout === undefined ? {} : { timeout: options.taskTimeout }) },
      )
      .then(
        (value): TaskOutcome => ({ ok: true, value }),
        (err: unknown): TaskOutcome => ({ ok: false, error: coerceError(err).message }),
      );

  return {
    kind: 'tree',
    name: definition.name,
    version: options.version ?? '1',
    logic,
    onCancel({ ctx, state, now }) {
      const recorded = (state[TREE_STATE_KEY] as TreeRunSnapshot | undefined)?.state;
      const tree = live.get(ctx)?.() ?? (recorded === undefined ? undefined : logic.restore(recorded));
      if (tree) logic.transition(tree, { type: 'cancel', now });
    },
    async run(ctx, input) {
      const now = (): number => ctx.now().getTime();
      let t: TreeTransition = logic.initial({ blackboard: input?.blackboard ?? {}, now: now() });
      live.set(ctx, () => t.state);
      let notices: TreeNotice[] = [...t.notices];
      let lastInput: TreeRunSnapshot['lastInput'] = null;
      const record = async (): Promise<void> => {
        const snapshot: TreeRunSnapshot = {
          tree: logic.name,
          status: t.status,
          blackboard: visible(t.state.blackboard.values),
          prompts: t.prompts,
          notices,
          lastInput,
          state: t.state,
        };
        if (t.deadline !== undefined) snapshot.deadline = t.deadline;
        notices = [];
        await ctx.state.set(TREE_STATE_KEY, snapshot);
      };
      for (;;) {
        if (t.commands.length > 0 && !isTerminalStatus(t.status)) {
          const commands = t.commands;
          const outcomes = await Promise.all(commands.map((c) => runTask(ctx, c)));
          const next: TaskCommand[] = [];
          commands.forEach((command, i) => {
            t = logic.transition(t.state, { type: 'task.result', node: command.node, outcome: outcomes[i] as TaskOutcome, now: now() });
            next.push(...t.commands);
            notices.push(...t.notices);
          });
          t = { ...t, commands: next };
          continue;
        }
        if (t.status === Status.Success) {
          await record();
          return { status: 'success', blackboard: visible(t.state.blackboard.values) };
        }
        if (t.status === Status.Failure) {
          await record();
          const errors = Object.entries(visible(t.state.blackboard.values)).filter(([k]) => k.endsWith('.error'));
          throw new TreeFailedError(
            `Tree '${logic.name}' ended in failure${errors.length ? `: ${errors.map(([k, v]) => `${k}: ${String(v)}`).join('; ')}` : ''}.`,
          );
        }
        if (t.status === Status.Running && t.deadline === undefined) {
          // Ticks are pure: without a deadline to wait for, ticking again changes nothing.
          throw new TickLimitError(10_000, logic.name);
        }
        await record();
        const at = now();
        const timeout = t.deadline === undefined ? undefined : Math.max(0, t.deadline - at);
        const payload = await ctx.waitForSignal<{ id?: unknown; name?: unknown; value?: unknown }>(
          TREE_SIGNAL,
          timeout === undefined ? {} : { timeout },
        );
        if (payload === undefined) {
          t = logic.transition(t.state, { type: 'tick', now: now() });
        } else if (payload !== null && typeof payload === 'object' && typeof payload.name === 'string') {
          lastInput = { id: typeof payload.id === 'string' ? payload.id : '', name: payload.name };
          t = logic.transition(t.state, { type: 'input', name: payload.name, value: payload.value ?? null, now: now() });
        } else {
          ctx.log.warn("Ignored a tree input without a name; send { name, value } to the signal 'input'.");
          t = { ...t, commands: [], notices: [] };
        }
        notices.push(...t.notices);
      }
    },
  };
}

/** Give input to the interactive leaf `name` of a tree run; resolves with the snapshot once the tree has taken it. */
export async function treeInput(engine: HostEngine, runId: string, name: string, value: unknown, options: WaitOptions = {}): Promise<TreeRunSnapshot> {
  const run = await engine.getRun(runId);
  if (run.kind !== 'tree' || run.state[TREE_STATE_KEY] === undefined) {
    throw new KeelError(HostedRunErrorCode.WrongKind, `Run '${runId}' is not a tree run; give the id of a run of a tree workflow.`, { details: { runId } });
  }
  const id = crypto.randomUUID();
  await engine.signal(runId, TREE_SIGNAL, { id, name, value });
  return waitForRunState<TreeRunSnapshot>(engine, runId, TREE_STATE_KEY, (s) => s.lastInput?.id === id, options);
}
