/**
 * Human tasks as workflow code and API callers see them: the options of `ctx.humanTask`, the
 * result the code handles, the task as the engine reports it, and the JSON Schema plumbing.
 *
 * Validation happens twice, on purpose:
 * - when a person completes a task (any process: a worker, the HTTP server, the CLI) the answer is
 *   checked against the task's stored JSON Schema, so a bad answer is refused at once with the
 *   field named and the task stays pending. The stored JSON Schema is the only form of the schema
 *   every process has: the Standard Schema object lives in the workflow code, at a call site that
 *   only a replay of the run could reach.
 * - when the run takes the answer, it is parsed with the Standard Schema given to `ctx.humanTask`
 *   (which may be stricter than its JSON Schema, e.g. refinements, and applies transforms). Should
 *   that fail, `ctx.humanTask` throws the ValidationError into the workflow code.
 */
import type { StandardSchemaV1 } from '../core/schema.js';
import { validate } from '../core/schema.js';
import type { HumanTaskRecord } from '../core/human-task.js';
import type { Duration } from '../util/duration.js';

export interface HumanTaskOptions<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** One line shown to the person, e.g. 'Check the shipping address'. */
  title: string;
  description?: string;
  /** The answer's schema (any Standard Schema). */
  schema: S;
  /** JSON Schema of the answer, stored with the task to draw a form and check answers. Derived from
   * `schema` when it is a zod 4 schema; give it for other validators. */
  jsonSchema?: Record<string, unknown>;
  /** Who should answer (free text: a user id, an e-mail, a group). */
  assignee?: string;
  /** When the task expires: a duration from now ('3d') or an instant. */
  deadline?: Duration | Date;
}

/**
 * What `ctx.humanTask` resolves to. Switch on `status`:
 *
 * - `completed`: a person answered; `data` is the answer parsed by the task's schema, `by` who
 *   answered (when the caller said).
 * - `expired`: the deadline passed first.
 * - `cancelled`: an operator cancelled the task (`engine.cancelHumanTask`).
 *
 * @example
 * const review = await ctx.humanTask('review', { title: 'Approve the refund', schema: z.object({ ok: z.boolean() }), deadline: '2d' });
 * if (review.status !== 'completed') return 'no answer';
 * if (review.data.ok) await ctx.step('refund', refund);
 */
export type HumanTaskResult<T> =
  | { status: 'completed'; taskId: string; data: T; by?: string }
  | { status: 'expired'; taskId: string }
  | { status: 'cancelled'; taskId: string; by?: string };

/** A human task as the engine reports it (times as Dates). */
export interface HumanTaskInfo extends Omit<HumanTaskRecord, 'pos' | 'createdAt' | 'completedAt' | 'deadlineAt'> {
  createdAt: Date;
  completedAt?: Date;
  deadlineAt?: Date;
}

export function toTaskInfo(t: HumanTaskRecord): HumanTaskInfo {
  const info: HumanTaskInfo = {
    id: t.id,
    runId: t.runId,
    workflow: t.workflow,
    name: t.name,
    title: t.title,
    status: t.status,
    createdAt: new Date(t.createdAt),
  };
  if (t.description !== undefined) info.description = t.description;
  if (t.jsonSchema !== undefined) info.jsonSchema = t.jsonSchema;
  if (t.assignee !== undefined) info.assignee = t.assignee;
  if (t.data !== undefined) info.data = t.data;
  if (t.completedBy !== undefined) info.completedBy = t.completedBy;
  if (t.completedAt !== undefined) info.completedAt = new Date(t.completedAt);
  if (t.deadlineAt !== undefined) info.deadlineAt = new Date(t.deadlineAt);
  return info;
}

/** The JSON Schema of a zod 4 schema (its input side: what a person types), else undefined. Zod is
 * loaded only when a zod schema is seen. A schema zod cannot express (or a zod 3 schema) gives none. */
export async function deriveJsonSchema(schema: StandardSchemaV1): Promise<Record<string, unknown> | undefined> {
  if (schema['~standard'].vendor !== 'zod') return undefined;
  try {
    const { z } = await import('zod');
    return z.toJSONSchema(schema as unknown as Parameters<typeof z.toJSONSchema>[0], { io: 'input', unrepresentable: 'any' });
  } catch {
    return undefined;
  }
}

/**
 * Check a person's answer against the task's stored JSON Schema; throws a ValidationError naming
 * the field. A task without a JSON Schema, or with one zod cannot read back, takes any JSON value
 * here: the run still parses it with its own schema.
 */
export async function checkAnswer(task: HumanTaskRecord, data: unknown): Promise<void> {
  if (task.jsonSchema === undefined) return;
  const { z } = await import('zod');
  let schema: StandardSchemaV1;
  try {
    schema = z.fromJSONSchema(task.jsonSchema);
  } catch {
    return;
  }
  await validate(schema, data, `The answer to human task '${task.id}' (${task.name})`);
}
