/**
 * The SQLite store: the Store port on one SQLite file through better-sqlite3, with the semantics of
 * the memory store (the contract suite runs against both).
 *
 * - WAL mode, so readers in other connections and processes (`keel ls` while a worker runs) see the
 *   last committed state without blocking the writer, and the writer does not block them.
 * - Durability: `'process'` (default) is `synchronous=NORMAL`: a commit survives a crash of the
 *   process, and may be lost on power failure; `'power'` is `synchronous=FULL`: it survives both.
 * - better-sqlite3 is synchronous; every method does its work at once and returns a settled promise.
 *   Errors become rejections, never synchronous throws.
 * - Statements are prepared once per open connection. Mutations that read before they write run in
 *   `BEGIN IMMEDIATE` transactions, so two processes on one file serialise on the write lock up
 *   front (waiting up to the busy timeout) instead of failing to upgrade a read lock.
 */
import { resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { coerceError, ConfigError, ConflictError, ErrorCode, KeelError, NotFoundError } from '../../core/errors.js';
import type { EventData, HistoryEvent } from '../../core/history.js';
import {
  reopenConflict,
  settleConflict,
  taskSignal,
  type HumanTaskRecord,
  type ListTasksQuery,
  type NewHumanTask,
  type TaskOutcome,
  type TaskPage,
  type TaskStatus,
} from '../../core/human-task.js';
import { appendsOnly, CANCEL_SIGNAL, invalidStatusCursor, isTerminal, statusChangeLimit } from '../../core/store.js';
import type {
  ClaimedRun,
  CreateRunResult,
  InboxMessage,
  Lease,
  ListRunsQuery,
  NewRun,
  RunKind,
  RunPage,
  RunRecord,
  RunStatus,
  RunWrite,
  StatusChangePage,
  StatusChangeQuery,
  Store,
  WriteResult,
} from '../../core/store.js';
import { decimalCursor, encodeCursor, pageRequest } from '../../util/json.js';
import {
  fromJson,
  type InboxRow,
  newRunRecord,
  rowToMessage,
  rowToRun,
  rowToTask,
  runColumnsWith,
  type RunRow,
  startedEvent,
  TASK_COLUMNS,
  type TaskRow,
  toJson,
} from '../sql-rows.js';
import { Checkpointer, type CheckpointResult } from './checkpointer.js';
import { assertSchemaNotNewer, migrate, SCHEMA_VERSION, schemaVersion } from './migrations.js';

export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or ':memory:' for a private in-memory database. */
  path: string;
  /** `'process'` (default): commits survive a process crash (`synchronous=NORMAL`). `'power'`: they
   * also survive power loss (`synchronous=FULL`), at the cost of an fsync per commit. */
  durability?: 'process' | 'power';
  /** How long to wait for another connection's write lock before failing with STORE_BUSY (default 5000). */
  busyTimeoutMs?: number;
  /** Open read-only (e.g. a CLI inspecting a worker's file): no migration, no pragma changes; the
   * schema must already be current. */
  readonly?: boolean;
  /**
   * Where WAL checkpoints run. `'background'` (default): once the store has committed
   * {@link BACKGROUND_CHECKPOINTS_AFTER} writes (a worker, not a CLI command), on a thread of their
   * own (see checkpointer.ts), so that commits never stall for one. `'inline'`: in the commit that
   * crosses SQLite's threshold, as SQLite does by default.
   */
  checkpoints?: 'background' | 'inline';
  /** Told when something went wrong that the store works around (e.g. the checkpoint thread failed
   * and checkpoints run inline again). */
  onWarning?: (message: string, error: Error) => void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Pages of WAL after which a commit checkpoints, when checkpoints run inline (~40 MB): a busy
 * worker dirties the same index pages over and over, and each checkpoint (an fsync) then writes
 * them once instead of ten times. */
const INLINE_CHECKPOINT_PAGES = 10_000;

/** Write batches after which a store moves its checkpoints to a thread: a worker gets there in
 * well under a second of work; a CLI command that writes once never starts the thread. */
export const BACKGROUND_CHECKPOINTS_AFTER = 1_000;

interface EventRow {
  seq: number;
  at: number;
  data: string;
}

interface StatusChangeRow {
  id: number;
  run_id: string;
  workflow: string;
  status: RunStatus;
  at: number;
}

/** A run write with every value already turned into JSON text, so that serialisation errors
 * happen before the transaction starts and a batch is refused as a whole. */
interface PreparedWrite {
  runId: string;
  token: number;
  seq: number | undefined;
  /** Only appends events: the run row is not written. */
  appendsOnly: boolean;
  events: string[];
  consume: readonly number[];
  state: string | null;
  /** undefined: keep; null: clear; text: set. */
  lastError: string | null | undefined;
  createRuns: readonly PreparedRun[];
  createTasks: readonly { task: NewHumanTask; jsonSchema: string | null }[];
  expireTasks: readonly string[];
  deliver: readonly { runId: string; name: string; payload: string | null }[];
  transition:
    | { status: 'waiting'; wakeAt: number | null; waitingFor: string }
    | { status: 'completed' | 'failed' | 'cancelled'; output: string | null; error: string | null }
    | undefined;
}

interface PreparedRun {
  run: NewRun;
  input: string | null;
  started: string;
}

function prepareRun(run: NewRun, parentId: string | undefined): PreparedRun {
  const withParent = parentId === undefined ? run : { ...run, parentId };
  return { run: withParent, input: toJson(run.input), started: JSON.stringify(startedEvent(run, parentId)) };
}

/** What an absent list of a write becomes: one shared empty list, not a new one per write. */
const NONE: readonly never[] = Object.freeze([]);

function prepareWrite(w: RunWrite): PreparedWrite {
  const t = w.transition;
  return {
    runId: w.runId,
    token: w.token,
    seq: w.seq,
    appendsOnly: appendsOnly(w),
    events: w.events.map((e) => JSON.stringify(e)),
    consume: w.consume ?? NONE,
    state: w.state === undefined ? null : JSON.stringify(w.state),
    lastError: w.lastError === undefined ? undefined : w.lastError === null ? null : JSON.stringify(w.lastError),
    // A child's parent defaults to the run that creates it.
    createRuns: w.createRuns?.map((c) => prepareRun(c, c.parentId ?? w.runId)) ?? NONE,
    createTasks: w.createTasks?.map((task) => ({ task, jsonSchema: toJson(task.jsonSchema) })) ?? NONE,
    expireTasks: w.expireTasks ?? NONE,
    deliver: w.deliver?.map((d) => ({ runId: d.runId, name: d.name, payload: toJson(d.payload) })) ?? NONE,
    transition:
      t === undefined
        ? undefined
        : t.status === 'waiting'
          ? { status: 'waiting', wakeAt: t.wakeAt, waitingFor: JSON.stringify(t.waitingFor) }
          : {
              status: t.status,
              output: t.status === 'completed' ? toJson(t.output) : null,
              error: t.status === 'failed' ? JSON.stringify(t.error) : null,
            },
  };
}

/** A row count for LIMIT: SQLite reads a negative LIMIT as "no limit" and refuses a fraction. */
function countLimit(n: number): number {
  return Number.isNaN(n) ? 0 : Math.max(0, Math.floor(Math.min(n, Number.MAX_SAFE_INTEGER)));
}

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT). */
function isBusy(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY');
}

const TERMINAL_SQL = "('completed', 'failed', 'cancelled')";

/**
 * A run's history is a range of the events table's integer key: event `seq` of the run numbered
 * `num` is at (num << SEQ_BITS) + seq (see migration 5), so a run holds at most MAX_SEQ events
 * (the engine ends a run long before: maxHistoryEvents) and a file numbers at most MAX_RUN_NUM
 * runs in its life.
 */
const SEQ_BITS = 28;
const MAX_SEQ = 2 ** SEQ_BITS - 1;
/** The key of the run after the last one must still fit in 63 bits. */
export const MAX_RUN_NUM = 2 ** (63 - SEQ_BITS) - 2;
/** The range of run `r`'s events after seq `after`. */
const historyOf = (r: string, after: string): string => `e.key > (${r}.num << ${SEQ_BITS}) + ${after} AND e.key < ((${r}.num + 1) << ${SEQ_BITS})`;
/** An event's seq, from its key. */
const SEQ = `e.key & ${MAX_SEQ}`;
/** A column of run `r`'s last event (NULL without history): one seek to the end of its range. */
const lastEvent = (column: 'key' | 'at'): string => `(SELECT e.${column} FROM events e WHERE ${historyOf('r', '0')} ORDER BY e.key DESC LIMIT 1)`;
/** Where run `r`'s history ends (NULL without history). */
const LAST_SEQ = `(${lastEvent('key')} & ${MAX_SEQ})`;

/** A step's append leaves the run row as it is, so a run's last seq and the time it last changed
 * are read from its history. */
const RUN_COLUMNS = runColumnsWith({
  last_seq: `coalesce(${LAST_SEQ}, 0)`,
  updated_at: `max(r.updated_at, coalesce(${lastEvent('at')}, 0))`,
});

/** How many runs one transaction of pruneRuns deletes. */
const PRUNE_BATCH = 500;

function prepareStatements(db: Database.Database) {
  return {
    getRun: db.prepare<[string], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = ?`),
    runStatus: db.prepare<[string], { status: RunStatus }>('SELECT status FROM runs WHERE id = ?'),
    insertRun: db.prepare<
      [string, RunKind, string, string, RunStatus, string | null, string | null, number, number, number | null, string | null, number | null, number]
    >(
      `INSERT INTO runs (id, kind, workflow, version, status, input, state, parent_id, created_at, updated_at,
                         wake_at, lease_owner, lease_expires_at, lease_token)
       VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    ),
    /** An event of the run numbered num, at seq. */
    insertEvent: db.prepare<[number, number, number, string]>(`INSERT INTO events (key, at, data) VALUES ((? << ${SEQ_BITS}) + ?, ?, ?)`),
    findIdsFrom: db.prepare<[string, string, number], { id: string }>(
      'SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?',
    ),
    history: db.prepare<[number, string], EventRow>(
      `SELECT ${SEQ} AS seq, e.at, e.data FROM runs r JOIN events e ON ${historyOf('r', '?')} WHERE r.id = ? ORDER BY e.key`,
    ),
    /** The runs, histories after run.started, and inboxes of a JSON array of run ids. */
    runsIn: db.prepare<[string], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id IN (SELECT value FROM json_each(?))`),
    historiesIn: db.prepare<[string], EventRow & { run_id: string }>(
      `SELECT r.id AS run_id, ${SEQ} AS seq, e.at, e.data FROM runs r JOIN events e ON ${historyOf('r', '1')}
       WHERE r.id IN (SELECT value FROM json_each(?)) ORDER BY r.id, e.key`,
    ),
    inboxesIn: db.prepare<[string], InboxRow>(
      'SELECT id, run_id, name, payload, sent_at FROM inbox WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, id',
    ),
    inbox: db.prepare<[string], InboxRow>('SELECT id, run_id, name, payload, sent_at FROM inbox WHERE run_id = ? ORDER BY id'),
    insertInbox: db.prepare<[string, string, string | null, number]>(
      'INSERT INTO inbox (run_id, name, payload, sent_at) VALUES (?, ?, ?, ?)',
    ),
    /** Deliver from a write: stored only while the target exists and is not terminal. */
    deliverInbox: db.prepare<[string, string | null, number, string]>(
      `INSERT INTO inbox (run_id, name, payload, sent_at)
       SELECT id, ?, ?, ? FROM runs WHERE id = ? AND status NOT IN ${TERMINAL_SQL}`,
    ),
    /** A message wakes a waiting run at once if it waits for that name or it is a cancel request. */
    wake: db.prepare<[number, number, number, string, string, string]>(
      `UPDATE runs SET wake_at = min(coalesce(wake_at, ?), ?), updated_at = ?
       WHERE id = ? AND status = 'waiting'
         AND (? = '${CANCEL_SIGNAL}' OR EXISTS (SELECT 1 FROM json_each(waiting_for) WHERE value = ?))`,
    ),
    selectDue: db.prepare<[number, number], { id: string }>('SELECT id FROM runs WHERE due_at <= ? ORDER BY due_at LIMIT ?'),
    claim: db.prepare<[string, number, number, string], { lease_token: number }>(
      `UPDATE runs SET status = 'running', lease_token = lease_token + 1, lease_owner = ?, lease_expires_at = ?,
                       updated_at = ?, wake_at = NULL
       WHERE id = ? RETURNING lease_token`,
    ),
    claimIfFree: db.prepare<[string, number, number, string, number], { lease_token: number }>(
      `UPDATE runs SET status = 'running', lease_token = lease_token + 1, lease_owner = ?, lease_expires_at = ?,
                       updated_at = ?, wake_at = NULL
       WHERE id = ? AND status NOT IN ${TERMINAL_SQL}
         AND NOT (status = 'running' AND coalesce(lease_expires_at, 0) > ?)
       RETURNING lease_token`,
    ),
    renew: db.prepare<[number, string, number]>(
      "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
    ),
    hasCancel: db.prepare<[string], { one: number }>(
      `SELECT 1 AS one FROM inbox WHERE run_id = ? AND name = '${CANCEL_SIGNAL}' LIMIT 1`,
    ),
    release: db.prepare<[number, number, string, number]>(
      `UPDATE runs SET status = 'pending', wake_at = ?, updated_at = ?, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ? AND lease_token = ? AND status = 'running'`,
    ),
    leaseOwners: db.prepare<[], { owner: string }>(
      "SELECT DISTINCT lease_owner AS owner FROM runs WHERE status = 'running' AND lease_owner IS NOT NULL",
    ),
    expireLeases: db.prepare<[string]>(
      "UPDATE runs SET lease_expires_at = 0 WHERE status = 'running' AND lease_owner IN (SELECT value FROM json_each(?))",
    ),
    nextWakeAt: db.prepare<[], { at: number | null }>('SELECT min(due_at) AS at FROM runs WHERE due_at IS NOT NULL'),
    /** The fence of every write, read inside its transaction (which holds the write lock, so no
     * claim can come between): whether the run is running under this token, and where its history
     * ends. No row for an unknown run. */
    writeHead: db.prepare<[number, string], { live: number; num: number; last: number | null }>(
      `SELECT r.lease_token = ? AND r.status = 'running' AS live, r.num, ${LAST_SEQ} AS last FROM runs r WHERE r.id = ?`,
    ),
    lastSeq: db.prepare<[string], { num: number; last: number | null }>(`SELECT r.num, ${LAST_SEQ} AS last FROM runs r WHERE r.id = ?`),
    /**
     * One event appended at seq, fenced in the same statement (the run is running under the token
     * and its history ends just before seq): a step's record, one call into SQLite instead of a
     * head read and an insert; alone in a write, it needs no BEGIN and COMMIT either. Changes one
     * row, or none when fenced.
     */
    appendOne: db.prepare<[number, number, string, string, number, number]>(
      `INSERT INTO events (key, at, data)
       SELECT (r.num << ${SEQ_BITS}) + ?, ?, ? FROM runs r
       WHERE r.id = ? AND r.lease_token = ? AND r.status = 'running' AND ${LAST_SEQ} = ? - 1`,
    ),
    /** A write that changes more than the history: the row's time, state and lastError. */
    writeRun: db.prepare<[number, string | null, number, string | null, string]>(
      `UPDATE runs SET updated_at = ?, state = coalesce(?, state), last_error = CASE WHEN ? THEN last_error ELSE ? END
       WHERE id = ?`,
    ),
    consume: db.prepare<[number, string]>('DELETE FROM inbox WHERE id = ? AND run_id = ?'),
    pendingFor: db.prepare<[string, string], InboxRow>(
      `SELECT id, run_id, name, payload, sent_at FROM inbox
       WHERE run_id = ? AND (name = '${CANCEL_SIGNAL}' OR name IN (SELECT value FROM json_each(?)))
       ORDER BY id`,
    ),
    suspend: db.prepare<[string, number | null, string]>(
      `UPDATE runs SET status = 'waiting', waiting_for = ?, wake_at = ?, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ?`,
    ),
    /** A run's end, with what writeRun would set (the time, state, lastError) in the same UPDATE. */
    finish: db.prepare<[RunStatus, number, string | null, string | null, number, string | null, number, string | null, string]>(
      `UPDATE runs SET status = ?, completed_at = ?, output = ?, error = ?, updated_at = ?, state = coalesce(?, state),
                       last_error = CASE WHEN ? THEN last_error ELSE ? END,
                       wake_at = NULL, waiting_for = NULL, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ?`,
    ),
    clearInbox: db.prepare<[string]>('DELETE FROM inbox WHERE run_id = ?'),
    insertTask: db.prepare<
      [string, number, string, string, string | null, string | null, string | null, number, number | null, string]
    >(
      `INSERT OR IGNORE INTO tasks (id, run_id, workflow, pos, name, title, description, json_schema, assignee, status,
                                    created_at, deadline_at)
       SELECT ?, id, workflow, ?, ?, ?, ?, ?, ?, 'pending', ?, ? FROM runs WHERE id = ?`,
    ),
    expireTask: db.prepare<[number, string, string]>(
      "UPDATE tasks SET status = 'expired', completed_at = ? WHERE id = ? AND run_id = ? AND status = 'pending'",
    ),
    cancelRunTasks: db.prepare<[number, string]>(
      "UPDATE tasks SET status = 'cancelled', completed_at = ? WHERE run_id = ? AND status = 'pending'",
    ),
    getTask: db.prepare<[string], TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`),
    settleTask: db.prepare<[TaskStatus, string | null, string | null, number, string]>(
      'UPDATE tasks SET status = ?, data = ?, completed_by = ?, completed_at = ? WHERE id = ?',
    ),
    statusChanges: db.prepare<[number, number], StatusChangeRow>(
      'SELECT id, run_id, workflow, status, at FROM status_changes WHERE id > ? ORDER BY id LIMIT ?',
    ),
    /** The last status-change id ever issued (AUTOINCREMENT keeps it past pruning); no row before the first. */
    lastStatusChange: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'status_changes'"),
    reopenRun: db.prepare<[number, number, string]>(
      `UPDATE runs SET status = 'pending', wake_at = ?, updated_at = ?, error = NULL, completed_at = NULL, last_error = NULL
       WHERE id = ? AND status = 'failed'`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** The read-then-write operations, each one `BEGIN IMMEDIATE` transaction, built once per connection. */
function prepareTransactions(db: Database.Database, st: Statements) {
  // db.transaction() is cheap but not free: wrap each body once, not per call.
  const wrap = <A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) => {
    const tx = db.transaction(fn);
    return (...args: A) => tx.immediate(...args);
  };
  return {
    createRun: wrap((p: PreparedRun, now: number, claim: NewRun['claim']) => createOne(st, p, now, claim)),
    createRuns: wrap((prepared: PreparedRun[], inputs: NewRun[], now: number): CreateRunResult[] =>
      prepared.map((p, i) => {
        const claim = inputs[i]?.claim;
        const { created, run } = createOne(st, p, now, claim);
        return created && claim
          ? { created, run, lease: { runId: run.id, owner: claim.owner, token: 1, expiresAt: claim.expiresAt } }
          : { created, run };
      }),
    ),
    sendSignal: wrap((runId: string, name: string, payload: string | null, now: number): InboxMessage => {
      const row = st.runStatus.get(runId);
      if (!row) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
      if (isTerminal(row.status)) {
        throw new ConflictError(`Run '${runId}' is ${row.status}; it takes no more signals.`, { runId, status: row.status });
      }
      const id = Number(st.insertInbox.run(runId, name, payload, now).lastInsertRowid);
      st.wake.run(now, now, now, runId, name, name);
      return { id, runId, name, payload: fromJson(payload), sentAt: now };
    }),
    claimDue: wrap((owner: string, now: number, expiresAt: number, limit: number): Lease[] => claimLeases(st, owner, now, expiresAt, limit)),
    claimDueRuns: wrap((owner: string, now: number, expiresAt: number, limit: number): ClaimedRun[] => {
      const leases = claimLeases(st, owner, now, expiresAt, limit);
      if (leases.length === 0) return [];
      // Three reads for the whole batch, each a lookup per run in its index.
      const ids = JSON.stringify(leases.map((l) => l.runId));
      const rows = new Map(st.runsIn.all(ids).map((row) => [row.id, row]));
      const histories = new Map<string, HistoryEvent[]>();
      for (const e of st.historiesIn.all(ids)) {
        let list = histories.get(e.run_id);
        if (!list) histories.set(e.run_id, (list = []));
        list.push({ ...(JSON.parse(e.data) as EventData), runId: e.run_id, seq: e.seq, at: e.at });
      }
      const inboxes = new Map<string, InboxMessage[]>();
      for (const m of st.inboxesIn.all(ids)) {
        let list = inboxes.get(m.run_id);
        if (!list) inboxes.set(m.run_id, (list = []));
        list.push(rowToMessage(m));
      }
      return leases.map((lease): ClaimedRun => {
        const row = rows.get(lease.runId);
        if (!row) throw new Error(`Run '${lease.runId}' vanished while it was being claimed.`);
        return { lease, run: rowToRun(row), history: histories.get(lease.runId) ?? [], inbox: inboxes.get(lease.runId) ?? [] };
      });
    }),
    renewLeases: wrap((leases: { runId: string; token: number }[], expiresAt: number) => {
      const lost: string[] = [];
      const cancelRequested: string[] = [];
      for (const { runId, token } of leases) {
        if (st.renew.run(expiresAt, runId, token).changes === 0) lost.push(runId);
        else if (st.hasCancel.get(runId)) cancelRequested.push(runId);
      }
      return { lost, cancelRequested };
    }),
    settleTask: wrap((id: string, outcome: TaskOutcome, payload: string | null, now: number) => {
      const row = st.getTask.get(id);
      if (!row) throw new NotFoundError('Human task', id, 'list open tasks with `keel tasks ls`');
      const runStatus = st.runStatus.get(row.run_id)?.status;
      const problem = settleConflict(rowToTask(row), outcome, now, runStatus === undefined || isTerminal(runStatus));
      if (problem) throw problem;
      const data = outcome.status === 'completed' ? toJson(outcome.data) : null;
      st.settleTask.run(outcome.status, data, outcome.by ?? null, now, id);
      const name = taskSignal(id);
      const messageId = Number(st.insertInbox.run(row.run_id, name, payload, now).lastInsertRowid);
      st.wake.run(now, now, now, row.run_id, name, name);
      const task = st.getTask.get(id) as TaskRow;
      const message: InboxMessage = { id: messageId, runId: row.run_id, name, payload: fromJson(payload), sentAt: now };
      return { task: rowToTask(task), message };
    }),
    reopenRun: wrap((runId: string, event: string, now: number): RunRecord => {
      if (st.reopenRun.run(now, now, runId).changes === 0) {
        const row = st.runStatus.get(runId);
        if (!row) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
        throw reopenConflict(runId, row.status);
      }
      const head = st.lastSeq.get(runId) as { num: number; last: number | null };
      st.insertEvent.run(head.num, withinHistoryKey(runId, (head.last ?? 0) + 1), now, event);
      return rowToRun(st.getRun.get(runId) as RunRow);
    }),
    // Group commit: the whole batch is one transaction, each write applied on its own terms.
    write: wrap((batch: PreparedWrite[], now: number): WriteResult[] => batch.map((w) => applyWrite(st, w, now))),
  };
}

interface Connection {
  db: Database.Database;
  st: Statements;
  tx: ReturnType<typeof prepareTransactions>;
  /** listRuns statements by filter shape (which filters, how many statuses). */
  listCache: Map<string, Database.Statement<unknown[], RunRow>>;
}

export class SqliteStore implements Store {
  readonly label: string;
  private readonly options: SqliteStoreOptions;
  private conn: Connection | undefined;
  private writes = 0;
  private checkpointer: Checkpointer | undefined;
  /** The file's absolute path as of construction, for the checkpoint thread (the process may chdir). */
  private readonly absolutePath: string;

  constructor(options: SqliteStoreOptions) {
    // Options often come from config files and environment variables: a typo must not quietly
    // give weaker durability than asked for.
    const { path, durability, busyTimeoutMs } = options;
    if (typeof path !== 'string' || path === '') {
      throw new ConfigError(`SqliteStore needs a path: a file path, or ':memory:' (got ${JSON.stringify(path)}).`);
    }
    if (durability !== undefined && durability !== 'process' && durability !== 'power') {
      throw new ConfigError(`SqliteStore durability must be 'process' or 'power', not ${JSON.stringify(durability)}.`);
    }
    if (busyTimeoutMs !== undefined && !(Number.isInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
      throw new ConfigError(`SqliteStore busyTimeoutMs must be a whole number of milliseconds ≥ 0, not ${String(busyTimeoutMs)}.`);
    }
    if (options.checkpoints !== undefined && options.checkpoints !== 'background' && options.checkpoints !== 'inline') {
      throw new ConfigError(`SqliteStore checkpoints must be 'background' or 'inline', not ${JSON.stringify(options.checkpoints)}.`);
    }
    this.options = { ...options };
    this.label = `sqlite:${options.path}`;
    this.absolutePath = resolvePath(path);
  }

  /** The open connection, for tests and tools that need raw access (e.g. pragmas). */
  get database(): Database.Database {
    return this.c.db;
  }

  private get c(): Connection {
    if (!this.conn) {
      throw new KeelError(ErrorCode.InvalidState, `The store ${this.label} is not open: call open() before using it.`);
    }
    return this.conn;
  }

  /**
   * Run `fn` now and report its outcome as a promise: a throw becomes a rejection. SQLITE_BUSY
   * (another connection kept the write lock past the busy timeout; the write that waited did not
   * happen) becomes a {@link KeelError} that says so.
   */
  private settle<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(isBusy(err) ? this.busy(err) : coerceError(err));
    }
  }

  private busy(cause: unknown): KeelError {
    const ms = this.options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    return new KeelError(
      ErrorCode.StoreBusy,
      `The SQLite database ${this.options.path} is busy: another connection held its write lock for longer than the busy ` +
        `timeout (${ms.toLocaleString('en-US')} ms); the write that waited for it did not happen. Another process may be ` +
        `migrating or pruning the file, or holding a transaction open. Try again; if it keeps happening, raise busyTimeoutMs ` +
        `(an option of SqliteStore, or '?busyTimeoutMs=' on a sqlite: store URL).`,
      { cause, details: { path: this.options.path, busyTimeoutMs: ms } },
    );
  }

  open(): Promise<void> {
    return this.settle(() => {
      if (!this.conn) this.conn = this.connect();
    });
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    this.writes = 0;
    // The thread's connection goes first, so that the store's, the last one, checkpoints the whole
    // WAL and removes it as it closes.
    await checkpointer?.close();
    return this.settle(() => {
      conn?.db.close();
    });
  }

  /** Whether WAL checkpoints run on the checkpoint thread now. */
  get checkpointsInBackground(): boolean {
    return this.checkpointer !== undefined;
  }

  /** Checkpoint the WAL now, passively (copying what no reader still needs), where checkpoints run. */
  checkpoint(): Promise<CheckpointResult> {
    if (this.checkpointer) return this.checkpointer.checkpoint();
    return this.settle(() => this.c.db.prepare<[], CheckpointResult>('PRAGMA wal_checkpoint(PASSIVE)').get() as CheckpointResult);
  }

  /** Count a write batch; the {@link BACKGROUND_CHECKPOINTS_AFTER}th moves checkpoints to their thread. */
  private counted(): void {
    if (++this.writes !== BACKGROUND_CHECKPOINTS_AFTER) return;
    const { path, readonly, checkpoints = 'background', durability, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS } = this.options;
    const conn = this.conn;
    if (!conn || readonly || checkpoints !== 'background' || path === ':memory:' || path === '') return;
    const checkpointer = new Checkpointer(this.absolutePath, { synchronous: durability === 'power' ? 'FULL' : 'NORMAL', busyTimeoutMs }, (error) => {
      if (this.checkpointer !== checkpointer) return;
      this.checkpointer = undefined;
      if (this.conn === conn) conn.db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
      this.options.onWarning?.('WAL checkpoints run inline again: the checkpoint thread failed', error);
    });
    this.checkpointer = checkpointer;
    conn.db.pragma('wal_autocheckpoint = 0');
  }

  private connect(): Connection {
    const { path, readonly = false, durability = 'process', busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS } = this.options;
    const db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
    try {
      // The version check comes first: a file from a newer Keel is refused before any pragma or
      // migration could change it.
      const found = assertSchemaNotNewer(db, this.label);
      if (readonly) {
        if (found < SCHEMA_VERSION) {
          throw new ConfigError(
            `The SQLite database ${path} is at schema version ${found}, older than this Keel (${SCHEMA_VERSION}), ` +
              `and it was opened read-only; open it once read-write (e.g. start a worker) to migrate it.`,
          );
        }
      } else {
        // SQLite keeps the old journal mode, silently, when it cannot switch (e.g. the file is on a
        // file system without shared memory); without WAL a reader would block the worker.
        const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
        if (mode !== 'wal' && path !== ':memory:') {
          throw new ConfigError(
            `The SQLite database ${path} could not be switched to WAL mode (it stays '${mode}'). ` +
              `Put it on a local file system; network file systems do not support WAL.`,
          );
        }
        db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
        // Until a busy store moves them to their thread, checkpoints run inline, every ~40 MB of WAL
        // rather than SQLite's default ~4 MB. The WAL is cut back to 64 MB when it starts again.
        db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
        db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
        // Statement journals (the undo log of one statement inside a batch transaction, kept for
        // statements that fire triggers) stay in memory instead of temporary files: written for
        // nearly every status change, they cost a file write per page otherwise.
        db.pragma('temp_store = MEMORY');
        migrate(db, this.label);
      }
      const st = prepareStatements(db);
      return { db, st, tx: prepareTransactions(db, st), listCache: new Map() };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  createRuns(inputs: NewRun[], now: number): Promise<CreateRunResult[]> {
    return this.settle(() => {
      const prepared = inputs.map((input) => prepareRun(input, input.parentId));
      return this.c.tx.createRuns(prepared, inputs, now);
    });
  }

  createRun(input: NewRun, now: number): Promise<{ created: boolean; run: RunRecord; lease?: Lease }> {
    return this.settle(() => {
      const claim = input.claim;
      const { created, run } = this.c.tx.createRun(prepareRun(input, input.parentId), now, claim);
      if (created && claim) {
        return { created, run, lease: { runId: run.id, owner: claim.owner, token: 1, expiresAt: claim.expiresAt } };
      }
      return { created, run };
    });
  }

  getRun(id: string): Promise<RunRecord | undefined> {
    return this.settle(() => {
      const row = this.c.st.getRun.get(id);
      return row ? rowToRun(row) : undefined;
    });
  }

  findRunIds(prefix: string, limit: number): Promise<string[]> {
    // A range on the primary key rather than LIKE: LIKE is case-insensitive and treats % and _ as
    // patterns. Every id in [prefix, prefix + U+10FFFF) starts with prefix (byte order of UTF-8).
    return this.settle(() =>
      this.c.st.findIdsFrom.all(prefix, `${prefix}\u{10FFFF}`, countLimit(limit)).map((r) => r.id),
    );
  }

  listRuns(query: ListRunsQuery): Promise<RunPage> {
    return this.settle(() => {
      const { limit, after, statuses } = pageRequest(query);
      if (statuses?.length === 0) return { runs: [] };

      const where: string[] = [];
      const params: unknown[] = [];
      if (statuses) {
        where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
        params.push(...statuses);
      }
      if (query.workflow !== undefined) {
        where.push('workflow = ?');
        params.push(query.workflow);
      }
      if (query.parentId !== undefined) {
        where.push('parent_id = ?');
        params.push(query.parentId);
      }
      if (after) {
        where.push('(created_at, id) < (?, ?)');
        params.push(after.createdAt, after.id);
      }
      params.push(limit + 1); // one more than the page tells whether there is a next page

      const key = [
        statuses?.length ?? '-',
        query.workflow === undefined ? '-' : 'w',
        query.parentId === undefined ? '-' : 'p',
        after ? 'c' : '-',
      ].join('');
      const { db, listCache } = this.c;
      let stmt = listCache.get(key);
      if (!stmt) {
        stmt = db.prepare<unknown[], RunRow>(
          `SELECT ${RUN_COLUMNS} FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
        );
        listCache.set(key, stmt);
      }
      const rows = stmt.all(...params);
      const runs = rows.slice(0, limit).map(rowToRun);
      const last = runs[runs.length - 1];
      return rows.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.id) } : { runs };
    });
  }

  history(runId: string, afterSeq = 0): Promise<HistoryEvent[]> {
    return this.settle(() =>
      this.c.st.history
        .all(afterSeq, runId)
        .map((r) => ({ ...(JSON.parse(r.data) as EventData), runId, seq: r.seq, at: r.at })),
    );
  }

  inbox(runId: string): Promise<InboxMessage[]> {
    return this.settle(() => this.c.st.inbox.all(runId).map(rowToMessage));
  }

  sendSignal(runId: string, name: string, payload: unknown, now: number): Promise<InboxMessage> {
    return this.settle(() => this.c.tx.sendSignal(runId, name, toJson(payload), now));
  }

  claimDue(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<Lease[]> {
    return this.settle(() => this.c.tx.claimDue(opts.owner, opts.now, opts.now + opts.leaseMs, countLimit(opts.limit)));
  }

  claimDueRuns(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<ClaimedRun[]> {
    return this.settle(() => this.c.tx.claimDueRuns(opts.owner, opts.now, opts.now + opts.leaseMs, countLimit(opts.limit)));
  }

  claimRun(runId: string, opts: { owner: string; now: number; leaseMs: number }): Promise<Lease | undefined> {
    return this.settle(() => {
      const expiresAt = opts.now + opts.leaseMs;
      const claimed = this.c.st.claimIfFree.get(opts.owner, expiresAt, opts.now, runId, opts.now);
      return claimed ? { runId, owner: opts.owner, token: claimed.lease_token, expiresAt } : undefined;
    });
  }

  renewLeases(
    leases: { runId: string; token: number }[],
    expiresAt: number,
  ): Promise<{ lost: string[]; cancelRequested: string[] }> {
    return this.settle(() => this.c.tx.renewLeases(leases, expiresAt));
  }

  releaseLease(runId: string, token: number, now: number): Promise<void> {
    return this.settle(() => {
      this.c.st.release.run(now, now, runId, token);
    });
  }

  leaseOwners(): Promise<string[]> {
    return this.settle(() => this.c.st.leaseOwners.all().map((r) => r.owner));
  }

  expireLeases(owners: string[]): Promise<number> {
    return this.settle(() => (owners.length === 0 ? 0 : this.c.st.expireLeases.run(JSON.stringify(owners)).changes));
  }

  nextWakeAt(): Promise<number | undefined> {
    return this.settle(() => this.c.st.nextWakeAt.get()?.at ?? undefined);
  }

  async pruneRuns(before: number, options: { dryRun?: boolean } = {}): Promise<number> {
    // Rare and operator-driven: statements are prepared per call rather than kept on the connection.
    const db = this.c.db;
    const match = `SELECT id FROM runs WHERE status IN ${TERMINAL_SQL} AND completed_at < ?`;
    if (options.dryRun) return this.settle(() => db.prepare<[number], { n: number }>(`SELECT count(*) AS n FROM (${match})`).get(before)?.n ?? 0);
    // The candidates are read first (a reader takes no lock), then deleted PRUNE_BATCH runs per
    // transaction, so that a large prune never holds the write lock for long: workers write in
    // between instead of waiting past their busy timeout. Each batch checks its runs again, since
    // one may have been resumed meanwhile; a run goes with its history, inbox and human tasks, all
    // or nothing.
    const candidates = await this.settle(() => db.prepare<[number], { id: string }>(match).all(before).map((r) => r.id));
    const inBatch = `SELECT value FROM json_each(?)`;
    const stillMatching = db.prepare<[string, number], { id: string }>(
      `SELECT id FROM runs WHERE id IN (${inBatch}) AND status IN ${TERMINAL_SQL} AND completed_at < ?`,
    );
    const runNumbers = db.prepare<[string], { num: number }>(`SELECT num FROM runs WHERE id IN (${inBatch})`);
    const deleteHistory = db.prepare<[number, number]>(`DELETE FROM events WHERE key > (? << ${SEQ_BITS}) AND key < ((? + 1) << ${SEQ_BITS})`);
    const deleteInbox = db.prepare<[string]>(`DELETE FROM inbox WHERE run_id IN (${inBatch})`);
    const deleteTasks = db.prepare<[string]>(`DELETE FROM tasks WHERE run_id IN (${inBatch})`);
    const deleteRuns = db.prepare<[string]>(`DELETE FROM runs WHERE id IN (${inBatch})`);
    const batch = db.transaction((ids: string[]): number => {
      const doomed = JSON.stringify(stillMatching.all(JSON.stringify(ids), before).map((r) => r.id));
      for (const { num } of runNumbers.all(doomed)) deleteHistory.run(num, num);
      deleteInbox.run(doomed);
      deleteTasks.run(doomed);
      return deleteRuns.run(doomed).changes;
    });
    let pruned = 0;
    for (let i = 0; i < candidates.length; i += PRUNE_BATCH) {
      const ids = candidates.slice(i, i + PRUNE_BATCH);
      pruned += await this.settle(() => batch.immediate(ids));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (pruned > 0) {
      const feedEnd = await this.settle(() => db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM status_changes').get()?.id ?? 0);
      await this.sweepStatusChanges(feedEnd);
    }
    return pruned;
  }

  /**
   * Delete the status changes of runs that no longer exist, up to `end`. The feed has no index on
   * run_id (it would cost every status change a second b-tree), so this walks it by id in short
   * transactions, letting other writers in between; a change is written with its run, so only
   * pruned runs leave changes behind.
   */
  private async sweepStatusChanges(end: number): Promise<void> {
    const sweep = this.c.db.prepare<[number, number]>(
      `DELETE FROM status_changes WHERE id > ? AND id <= ?
         AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = status_changes.run_id)`,
    );
    const BATCH = 20_000;
    const start = (this.c.db.prepare<[], { id: number | null }>('SELECT min(id) AS id FROM status_changes').get()?.id ?? 1) - 1;
    for (let from = start; from < end; from += BATCH) {
      await this.settle(() => sweep.run(from, Math.min(end, from + BATCH)));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  schemaInfo(): Promise<{ version: number; supported: number }> {
    return this.settle(() => ({ version: schemaVersion(this.c.db), supported: SCHEMA_VERSION }));
  }

  statusChanges(query: StatusChangeQuery): Promise<StatusChangePage> {
    return this.settle(() => {
      const { st } = this.c;
      const after = query.after === undefined ? 0 : decimalCursor(query.after);
      if (after === undefined) throw invalidStatusCursor(query.after as string, this.label, 'malformed');
      if (after > (st.lastStatusChange.get()?.seq ?? 0)) throw invalidStatusCursor(query.after as string, this.label, 'unknown');
      const changes = st.statusChanges
        .all(after, statusChangeLimit(query.limit))
        .map((r) => ({ cursor: String(r.id), runId: r.run_id, workflow: r.workflow, status: r.status, at: r.at }));
      return { changes, cursor: changes.at(-1)?.cursor ?? String(after) };
    });
  }

  statusChangesEnd(): Promise<string> {
    return this.settle(() => String(this.c.st.lastStatusChange.get()?.seq ?? 0));
  }

  write(batch: RunWrite[], now: number): Promise<WriteResult[]> {
    return this.settle(() => {
      if (batch.length === 0) return [];
      this.counted();
      // Serialise first: a value JSON cannot hold refuses the batch before anything is written.
      const prepared = batch.map(prepareWrite);
      // A lone step record is one statement (see appendOne): a transaction of its own, without
      // BEGIN and COMMIT.
      const only = prepared.length === 1 ? (prepared[0] as PreparedWrite) : undefined;
      if (only && isOneAppend(only)) return [applyWrite(this.c.st, only, now)];
      return this.c.tx.write(prepared, now);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Human tasks and reopening

  getTask(id: string): Promise<HumanTaskRecord | undefined> {
    return this.settle(() => {
      const row = this.c.st.getTask.get(id);
      return row ? rowToTask(row) : undefined;
    });
  }

  listTasks(query: ListTasksQuery): Promise<TaskPage> {
    return this.settle(() => {
      const { limit, after, statuses } = pageRequest(query);
      if (statuses?.length === 0) return { tasks: [] };
      const where: string[] = [];
      const params: unknown[] = [];
      if (statuses) {
        where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
        params.push(...statuses);
      }
      for (const [column, value] of [
        ['workflow', query.workflow],
        ['assignee', query.assignee],
        ['run_id', query.runId],
      ] as const) {
        if (value === undefined) continue;
        where.push(`${column} = ?`);
        params.push(value);
      }
      if (after) {
        where.push('(created_at, id) < (?, ?)');
        params.push(after.createdAt, after.id);
      }
      params.push(limit + 1);
      // Task lists are an operator's query, not a hot path: prepared per call.
      const rows = this.c.db
        .prepare<unknown[], TaskRow>(
          `SELECT ${TASK_COLUMNS} FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY created_at DESC, id DESC LIMIT ?`,
        )
        .all(...params);
      const tasks = rows.slice(0, limit).map(rowToTask);
      const last = tasks[tasks.length - 1];
      return rows.length > limit && last ? { tasks, nextCursor: encodeCursor(last.createdAt, last.id) } : { tasks };
    });
  }

  settleTask(id: string, outcome: TaskOutcome, now: number): Promise<{ task: HumanTaskRecord; message: InboxMessage }> {
    return this.settle(() => this.c.tx.settleTask(id, outcome, toJson(outcome), now));
  }

  reopenRun(runId: string, event: EventData, now: number): Promise<RunRecord> {
    return this.settle(() => this.c.tx.reopenRun(runId, JSON.stringify(event), now));
  }
}

/** Create a run unless its id exists; its record is built, or the existing one read. */
function createOne(st: Statements, p: PreparedRun, now: number, claim: NewRun['claim']): { created: boolean; run: RunRecord } {
  if (insertRun(st, p, now, claim) > 0) return { created: true, run: newRunRecord(p.run, p.input, now) };
  const row = st.getRun.get(p.run.id);
  if (!row) throw new Error(`Run '${p.run.id}' vanished inside the transaction that created it.`);
  return { created: false, run: rowToRun(row) };
}

/** Claim up to `limit` due runs, oldest due first. */
function claimLeases(st: Statements, owner: string, now: number, expiresAt: number, limit: number): Lease[] {
  return st.selectDue.all(now, limit).map(({ id }): Lease => {
    const claimed = st.claim.get(owner, expiresAt, now, id);
    if (!claimed) throw new Error(`Run '${id}' vanished while it was being claimed.`);
    return { runId: id, owner, token: claimed.lease_token, expiresAt };
  });
}

/** Insert a run row and its run.started event unless the id exists; returns the rows inserted. */
function insertRun(st: Statements, p: PreparedRun, now: number, claim: NewRun['claim']): number {
  const r = p.run;
  const inserted = st.insertRun.run(
    r.id,
    r.kind,
    r.workflow,
    r.version,
    claim ? 'running' : 'pending',
    p.input,
    r.parentId ?? null,
    now,
    now,
    claim ? null : now,
    claim?.owner ?? null,
    claim?.expiresAt ?? null,
    claim ? 1 : 0,
  );
  if (inserted.changes === 0) return 0;
  // The run's number is its rowid (num INTEGER PRIMARY KEY): the next after the highest.
  const num = Number(inserted.lastInsertRowid);
  if (num > MAX_RUN_NUM) {
    throw new KeelError(
      ErrorCode.InvalidState,
      `This SQLite file has numbered ${MAX_RUN_NUM.toLocaleString('en-US')} runs, the most one file can: run '${r.id}' was not created. Start a new store file for new runs.`,
    );
  }
  st.insertEvent.run(num, 1, now, p.started);
  return 1;
}

/**
 * The seq of an event about to be written, if the history key can hold it: a run's history ends
 * at MAX_SEQ (the engine fails a run long before, at maxHistoryEvents), and an event past it would
 * land in the next run's range.
 */
function withinHistoryKey(runId: string, seq: number): number {
  if (seq > MAX_SEQ) {
    throw new KeelError(
      ErrorCode.HistoryTooLong,
      `Run '${runId}' cannot hold event ${seq.toLocaleString('en-US')}: a run's history in a SQLite store holds at most ${MAX_SEQ.toLocaleString('en-US')} events.`,
    );
  }
  return seq;
}

/** A step's record: one event appended at a named seq, nothing else of the run changing. */
function isOneAppend(w: PreparedWrite): w is PreparedWrite & { seq: number } {
  return w.appendsOnly && w.seq !== undefined && w.events.length === 1;
}

/** One write inside the batch transaction. Fenced writes touch nothing: the fence is read first,
 * or, for a step's record, checked by the one statement that appends it. */
function applyWrite(st: Statements, w: PreparedWrite, now: number): WriteResult {
  if (isOneAppend(w)) {
    const { changes } = st.appendOne.run(withinHistoryKey(w.runId, w.seq), now, w.events[0] as string, w.runId, w.token, w.seq);
    return changes === 1 ? { ok: true, lastSeq: w.seq, suspended: false, pending: [] } : { ok: false, reason: 'fenced' };
  }
  const head = st.writeHead.get(w.token, w.runId);
  if (!head?.live) return { ok: false, reason: 'fenced' };
  let seq = head.last ?? 0;
  if (w.seq !== undefined && w.events.length > 0 && w.seq !== seq + 1) return { ok: false, reason: 'fenced' };
  for (const data of w.events) st.insertEvent.run(head.num, withinHistoryKey(w.runId, ++seq), now, data);
  const t = w.transition;
  const keepError = w.lastError === undefined ? 1 : 0;
  // A run's end sets these in its own UPDATE (below).
  if (!w.appendsOnly && (t === undefined || t.status === 'waiting')) st.writeRun.run(now, w.state, keepError, w.lastError ?? null, w.runId);
  for (const id of w.consume) st.consume.run(id, w.runId);
  for (const child of w.createRuns) insertRun(st, child, now, undefined);
  for (const d of w.deliver) {
    if (st.deliverInbox.run(d.name, d.payload, now, d.runId).changes > 0) st.wake.run(now, now, now, d.runId, d.name, d.name);
  }
  for (const { task: t, jsonSchema } of w.createTasks) {
    st.insertTask.run(t.id, t.pos, t.name, t.title, t.description ?? null, jsonSchema, t.assignee ?? null, now, t.deadlineAt ?? null, w.runId);
  }
  for (const id of w.expireTasks) st.expireTask.run(now, id, w.runId);

  let suspended = false;
  let pending: InboxMessage[] = [];
  if (t?.status === 'waiting') {
    pending = st.pendingFor.all(w.runId, t.waitingFor).map(rowToMessage);
    if (pending.length === 0) {
      st.suspend.run(t.waitingFor, t.wakeAt, w.runId);
      suspended = true;
    }
  } else if (t) {
    st.finish.run(t.status, now, t.output, t.error, now, w.state, keepError, w.lastError ?? null, w.runId);
    st.clearInbox.run(w.runId);
    // A terminal run takes no more messages, so nobody could answer its open tasks.
    st.cancelRunTasks.run(now, w.runId);
  }
  return { ok: true, lastSeq: seq, suspended, pending };
}
