/**
 * Rows of the SQL stores (SQLite and PostgreSQL share their tables' columns) and the records they
 * map to. Numbers may come back as strings (pg returns bigint that way): every time is read with
 * Number, which is exact for epoch milliseconds.
 */
import type { SerializedError } from '../core/errors.js';
import type { HumanTaskRecord, TaskStatus } from '../core/human-task.js';
import type { EventData } from '../core/history.js';
import type { InboxMessage, NewRun, RunKind, RunRecord, RunStatus } from '../core/store.js';

type Num = number | string;

const RUN_FIELDS = [
  'id', 'kind', 'workflow', 'version', 'status', 'input', 'output', 'error', 'state', 'parent_id', 'created_at', 'updated_at',
  'completed_at', 'wake_at', 'waiting_for', 'lease_owner', 'lease_expires_at', 'lease_token', 'last_seq', 'last_error',
] as const;

/** The columns of a {@link RunRow}, as stored. */
export const RUN_COLUMNS = RUN_FIELDS.join(', ');

/** The columns of a {@link RunRow} from `runs r`, some of them computed by the given expressions
 * (SQLite derives last_seq and updated_at from the run's events). */
export function runColumnsWith(computed: Partial<Record<(typeof RUN_FIELDS)[number], string>>): string {
  return RUN_FIELDS.map((f) => (computed[f] === undefined ? `r.${f}` : `${computed[f]} AS ${f}`)).join(', ');
}

export interface RunRow<N extends Num = Num> {
  id: string;
  kind: RunKind;
  workflow: string;
  version: string;
  status: RunStatus;
  input: string | null;
  output: string | null;
  error: string | null;
  state: string;
  parent_id: string | null;
  created_at: N;
  updated_at: N;
  completed_at: N | null;
  wake_at: N | null;
  /** JSON text in SQLite, a text[] in PostgreSQL. */
  waiting_for: string | string[] | null;
  lease_owner: string | null;
  lease_expires_at: N | null;
  lease_token: number;
  last_seq: number;
  last_error: string | null;
}

export interface InboxRow<N extends Num = Num> {
  id: N;
  run_id: string;
  name: string;
  payload: string | null;
  sent_at: N;
}

export const TASK_COLUMNS =
  'id, run_id, workflow, pos, name, title, description, json_schema, assignee, status, data, completed_by, created_at, completed_at, deadline_at';

export interface TaskRow<N extends Num = Num> {
  id: string;
  run_id: string;
  workflow: string;
  pos: number;
  name: string;
  title: string;
  description: string | null;
  json_schema: string | null;
  assignee: string | null;
  status: TaskStatus;
  data: string | null;
  completed_by: string | null;
  created_at: N;
  completed_at: N | null;
  deadline_at: N | null;
}

/** JSON text for a column; SQL NULL for undefined (and for what JSON drops, like a function). */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : (JSON.stringify(value) ?? null);
}

export function fromJson(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

export function rowToRun(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: row.id,
    kind: row.kind,
    workflow: row.workflow,
    version: row.version,
    status: row.status,
    input: fromJson(row.input),
    state: JSON.parse(row.state) as Record<string, unknown>,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    leaseToken: row.lease_token,
    lastSeq: row.last_seq,
  };
  if (row.output !== null) run.output = JSON.parse(row.output);
  if (row.error !== null) run.error = JSON.parse(row.error) as SerializedError;
  if (row.parent_id !== null) run.parentId = row.parent_id;
  if (row.completed_at !== null) run.completedAt = Number(row.completed_at);
  if (row.wake_at !== null) run.wakeAt = Number(row.wake_at);
  if (row.waiting_for !== null) {
    run.waitingFor = typeof row.waiting_for === 'string' ? (JSON.parse(row.waiting_for) as string[]) : row.waiting_for;
  }
  if (row.lease_owner !== null) run.leaseOwner = row.lease_owner;
  if (row.lease_expires_at !== null) run.leaseExpiresAt = Number(row.lease_expires_at);
  if (row.last_error !== null) run.lastError = JSON.parse(row.last_error) as SerializedError;
  return run;
}

export function rowToMessage(row: InboxRow): InboxMessage {
  return { id: Number(row.id), runId: row.run_id, name: row.name, payload: fromJson(row.payload), sentAt: Number(row.sent_at) };
}

export function rowToTask(row: TaskRow): HumanTaskRecord {
  const task: HumanTaskRecord = {
    id: row.id,
    runId: row.run_id,
    workflow: row.workflow,
    pos: row.pos,
    name: row.name,
    title: row.title,
    status: row.status,
    createdAt: Number(row.created_at),
  };
  if (row.description !== null) task.description = row.description;
  if (row.json_schema !== null) task.jsonSchema = JSON.parse(row.json_schema) as Record<string, unknown>;
  if (row.assignee !== null) task.assignee = row.assignee;
  if (row.data !== null) task.data = JSON.parse(row.data);
  if (row.completed_by !== null) task.completedBy = row.completed_by;
  if (row.completed_at !== null) task.completedAt = Number(row.completed_at);
  if (row.deadline_at !== null) task.deadlineAt = Number(row.deadline_at);
  return task;
}

/** The record of a run just created from `input` (with its input as stored, `inputJson`), built
 * without reading it back. */
export function newRunRecord(input: NewRun, inputJson: string | null, now: number): RunRecord {
  const claim = input.claim;
  const run: RunRecord = {
    id: input.id,
    kind: input.kind,
    workflow: input.workflow,
    version: input.version,
    status: claim ? 'running' : 'pending',
    input: fromJson(inputJson),
    state: {},
    createdAt: now,
    updatedAt: now,
    leaseToken: claim ? 1 : 0,
    lastSeq: 1,
  };
  if (input.parentId !== undefined) run.parentId = input.parentId;
  if (claim) {
    run.leaseOwner = claim.owner;
    run.leaseExpiresAt = claim.expiresAt;
  } else run.wakeAt = now;
  return run;
}

/** A new run's first event. */
export function startedEvent(run: NewRun, parentId: string | undefined): EventData {
  const started: EventData = { type: 'run.started', workflow: run.workflow, version: run.version, input: run.input };
  if (parentId !== undefined) started.parentId = parentId;
  return started;
}
