/**
 * Human tasks as the store keeps them (DESIGN §1 "human task"): a request for structured input
 * from a person, created by `ctx.humanTask` atomically with the run's `human.requested` event, and
 * settled by a person (completed, cancelled) or by the run itself (expired at its deadline).
 *
 * Lifecycle: `pending` → `completed` | `cancelled` | `expired`. Only a pending task changes, and
 * only once. A person's answer reaches the run as an inbox message named {@link taskSignal}, stored
 * in the same transaction that settles the task, so it is never lost; when the run ends (any
 * terminal status) its pending tasks become `cancelled` in the same write.
 */
import { ConflictError } from './errors.js';

export const TASK_STATUSES = ['pending', 'completed', 'cancelled', 'expired'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The reserved inbox name on which a run hears that its task was settled by a person. */
export const taskSignal = (taskId: string): string => `@task:${taskId}`;

export interface HumanTaskRecord {
  id: string;
  runId: string;
  /** The run's workflow name (copied from the run, for listing by workflow). */
  workflow: string;
  /** Position of the `ctx.humanTask` call in the run's code. */
  pos: number;
  name: string;
  title: string;
  description?: string;
  /** JSON Schema of the expected answer, for drawing a form and validating answers anywhere. */
  jsonSchema?: Record<string, unknown>;
  assignee?: string;
  status: TaskStatus;
  /** The answer, once completed. */
  data?: unknown;
  /** Who completed or cancelled it. */
  completedBy?: string;
  createdAt: number;
  /** When it left `pending` (completed, cancelled or expired). */
  completedAt?: number;
  /** After this instant it can no longer be completed; the run expires it. */
  deadlineAt?: number;
}

/** A task created by a run write; run id and workflow come from the run. */
export type NewHumanTask = Pick<HumanTaskRecord, 'id' | 'pos' | 'name' | 'title' | 'description' | 'jsonSchema' | 'assignee' | 'deadlineAt'>;

export interface ListTasksQuery {
  status?: TaskStatus | TaskStatus[];
  workflow?: string;
  assignee?: string;
  runId?: string;
  /** At most this many (default 50, max 1000). */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface TaskPage {
  tasks: HumanTaskRecord[];
  nextCursor?: string;
}

/** How a person settles a task; also the payload of the {@link taskSignal} message to the run. */
export type TaskOutcome = { status: 'completed'; data: unknown; by?: string } | { status: 'cancelled'; by?: string };

/** Why a task cannot be settled now, shared by the stores so that their errors read the same. */
export function settleConflict(
  task: Pick<HumanTaskRecord, 'id' | 'status' | 'deadlineAt' | 'runId'>,
  outcome: TaskOutcome,
  now: number,
  runEnded: boolean,
): ConflictError | undefined {
  if (task.status !== 'pending') {
    return new ConflictError(`Human task '${task.id}' is already ${task.status}; only a pending task can be completed or cancelled.`, {
      taskId: task.id,
      status: task.status,
    });
  }
  if (outcome.status === 'completed' && task.deadlineAt !== undefined && now >= task.deadlineAt) {
    return new ConflictError(
      `Human task '${task.id}' passed its deadline (${new Date(task.deadlineAt).toISOString()}) and can no longer be completed; its run sees it as expired.`,
      { taskId: task.id, status: 'expired' },
    );
  }
  if (runEnded) {
    return new ConflictError(`The run of human task '${task.id}' has ended; the task can no longer be answered.`, {
      taskId: task.id,
      runId: task.runId,
    });
  }
  return undefined;
}

export function reopenConflict(runId: string, status: string): ConflictError {
  return new ConflictError(`Run '${runId}' is ${status}; only a failed run can be resumed.`, { runId, status });
}
