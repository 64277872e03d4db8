/**
 * The Store port: everything the engine needs from persistence. Memory, SQLite and PostgreSQL
 * adapters implement it and pass one contract suite (test/store-contract.ts).
 *
 * Invariants every adapter keeps
 * - A write ({@link RunWrite}) is atomic: its events, inbox consumption, run-row update, child
 *   creation and deliveries commit together or not at all.
 * - Fencing: a write or lease operation carries the lease token it was given; if the run's current
 *   token differs (another worker claimed it since), the write is refused as `fenced` and nothing of
 *   it is applied. Tokens only grow.
 * - Terminal statuses (`completed`, `failed`, `cancelled`) never change again.
 * - Signals are never lost: a signal is stored in the run's inbox before `sendSignal` returns, and is
 *   consumed only by a write that records its receipt.
 * - Times are epoch milliseconds supplied by the caller (the engine's clock); adapters never read
 *   the wall clock themselves, so a simulated clock works against every store.
 * - Fencing is by token: a write under an expired lease is still accepted as long as no other
 *   worker has claimed the run since (the claim is what changes the token). A write that names the
 *   seq of its first event is also refused when the history does not end just before it.
 * - When a run ends (completed, failed, cancelled) its unconsumed messages are dropped: a terminal
 *   run takes no more signals. Its pending human tasks become `cancelled` in the same write.
 * - Errors other than fencing (a value JSON cannot hold, a database error) reject the whole
 *   `write` call; nothing of the batch is applied.
 * - Every change of a run's status (creation, claim, suspension, release, end, reopening) is
 *   recorded in the status-change feed in the same transaction as the change itself; the feed
 *   reads in commit order, so a reader that continues after a cursor misses nothing and sees
 *   nothing twice. The last change of a run in the feed is its current status.
 */
import { ErrorCode, KeelError, type SerializedError } from './errors.js';
import type { EventData, HistoryEvent } from './history.js';
import type { HumanTaskRecord, ListTasksQuery, NewHumanTask, TaskOutcome, TaskPage } from './human-task.js';

export const RUN_STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled']);
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** What a run executes: a code workflow, an Orca machine or a behavior tree. */
export type RunKind = 'workflow' | 'machine' | 'tree';

/** Inbox names the engine reserves; user signal names may not start with '@'. */
export const CANCEL_SIGNAL = '@cancel';
export const childSignal = (childId: string): string => `@child:${childId}`;

export interface RunRecord {
  id: string;
  kind: RunKind;
  workflow: string;
  version: string;
  status: RunStatus;
  input: unknown;
  output?: unknown;
  error?: SerializedError;
  /** Queryable run state written by `ctx.state.set`. */
  state: Record<string, unknown>;
  parentId?: string;
  createdAt: number;
  /** When the run last changed: its latest history event, status change or state write. */
  updatedAt: number;
  completedAt?: number;
  /** When a pending or waiting run becomes due (timer, retry, a signal it waits for). */
  wakeAt?: number;
  /** Inbox names that wake the run while it is waiting (as of its last suspension). */
  waitingFor?: string[];
  leaseOwner?: string;
  leaseExpiresAt?: number;
  /** Fencing token of the latest claim; 0 before the first claim. */
  leaseToken: number;
  /** seq of the last history event. */
  lastSeq: number;
  /** A problem that keeps the run from advancing without failing it (e.g. non-determinism). */
  lastError?: SerializedError;
}

export interface NewRun {
  id: string;
  kind: RunKind;
  workflow: string;
  version: string;
  input: unknown;
  parentId?: string;
  /** When set, the run is created already claimed by this owner (the hot path: no claim round trip). */
  claim?: { owner: string; expiresAt: number };
}

export interface CreateRunResult {
  created: boolean;
  run: RunRecord;
  /** Present when the run was created with `claim`. */
  lease?: Lease;
}

export interface Lease {
  runId: string;
  owner: string;
  token: number;
  expiresAt: number;
}

/** A run claimed by `claimDueRuns`, read in the same call. */
export interface ClaimedRun {
  lease: Lease;
  run: RunRecord;
  /** Its history after run.started (seq > 1): empty for a run that has not executed yet. */
  history: HistoryEvent[];
  /** Its unconsumed inbox messages, oldest first. */
  inbox: InboxMessage[];
}

export interface InboxMessage {
  id: number;
  runId: string;
  name: string;
  payload: unknown;
  sentAt: number;
}

/** How a write changes the run row besides appending events. */
export type RunTransition =
  /** Release the lease and wait. If the inbox already holds a message named in `waitingFor` (or a
   * cancel request), the run is NOT suspended: it stays claimed and the write result lists them. */
  | { status: 'waiting'; wakeAt: number | null; waitingFor: string[] }
  | { status: 'completed'; output: unknown }
  | { status: 'failed'; error: SerializedError }
  | { status: 'cancelled' };

/**
 * The most events one run's history may hold, whatever the store: every store holds at least
 * this many. The engine fails a run at this many (maxHistoryEvents); it stays well inside what the
 * SQLite store's history key numbers (2^28 - 1 per run), with room for what a run queues between
 * two checks (a `Promise.all` of many steps) and for its failure.
 */
export const MAX_HISTORY_EVENTS = 250_000_000;

export interface RunWrite {
  runId: string;
  token: number;
  /**
   * The seq of the first of `events` (the next ones follow it): where the writer, which holds the
   * lease and so alone appends to the history, knows the history ends. A write whose seq does not
   * follow the stored history is refused as `fenced`, like a stale token. Omitted, the events go
   * after the last one stored. The engine always sets it: appends at an explicit position need no
   * read-modify-write of the run row, and a write resent after a lost connection is recognised.
   */
  seq?: number;
  events: EventData[];
  /** Inbox message ids this write consumes (their receipt is among `events`). */
  consume?: number[];
  /** The run's whole queryable state after this write. */
  state?: Record<string, unknown>;
  transition?: RunTransition;
  /** Child runs created atomically with this write; `claim` on them is ignored. */
  createRuns?: NewRun[];
  /** Messages to other runs (e.g. a child telling its parent it ended); dropped for terminal runs. */
  deliver?: { runId: string; name: string; payload: unknown }[];
  /** Record (or clear, with null) a problem that keeps the run from advancing. */
  lastError?: SerializedError | null;
  /** Human tasks of this run created atomically with this write (their `human.requested` is among
   * `events`). */
  createTasks?: NewHumanTask[];
  /** Ids of this run's tasks that this write marks `expired`; a task no longer pending is left as it is. */
  expireTasks?: string[];
}

/** A write that only appends events: the hot path of a step, with nothing else of the run changing. */
export function appendsOnly(w: RunWrite): boolean {
  return (
    w.transition === undefined &&
    w.state === undefined &&
    w.lastError === undefined &&
    !w.consume?.length &&
    !w.createRuns?.length &&
    !w.deliver?.length &&
    !w.createTasks?.length &&
    !w.expireTasks?.length
  );
}

export type WriteResult =
  | { ok: true; lastSeq: number; suspended: boolean; pending: InboxMessage[] }
  | { ok: false; reason: 'fenced' };

export interface ListRunsQuery {
  status?: RunStatus | RunStatus[];
  workflow?: string;
  parentId?: string;
  /** At most this many (default 50, max 1000). */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface RunPage {
  runs: RunRecord[];
  nextCursor?: string;
}

/** One change of a run's status, as the store's status-change feed records it. */
export interface StatusChange {
  /** Opaque position in the feed: `statusChanges({ after: cursor })` continues after this change. */
  cursor: string;
  runId: string;
  workflow: string;
  /** The status the run changed to. */
  status: RunStatus;
  /** When (epoch ms, the caller's `now` of the change: the run's `updatedAt` then). */
  at: number;
}

export interface StatusChangeQuery {
  /** A cursor from an earlier read: only the changes after it. Omitted: from the oldest change kept. */
  after?: string;
  /** At most this many (default 100, max 1000). */
  limit?: number;
}

export interface StatusChangePage {
  /** In commit order. */
  changes: StatusChange[];
  /** Where to continue: the cursor of the last change returned, or the query's `after` (the start
   * of the feed when omitted) when there was none. */
  cursor: string;
}

/** The page size of a status-change read: whole, between 1 and 1000, default 100. */
export function statusChangeLimit(limit: number | undefined): number {
  const wanted = limit ?? 100;
  return Number.isNaN(wanted) ? 1 : Math.min(Math.max(Math.floor(wanted), 1), 1000);
}

/** The error for a status-change cursor a store cannot read: malformed, or never issued by it
 * (ahead of every change it has recorded: a cursor of another database, or of a restored backup). */
export function invalidStatusCursor(cursor: string, store: string, problem: 'malformed' | 'unknown'): KeelError {
  const what =
    problem === 'malformed'
      ? `is not a status-change cursor of ${store}`
      : `is ahead of every status change ${store} has recorded (a cursor of another database, or of one restored from an older backup)`;
  return new KeelError(
    ErrorCode.InvalidCursor,
    `The cursor '${cursor}' ${what}. Pass the cursor of a change read from this store unchanged, or omit it to start from the end of the feed.`,
    { details: { cursor, problem } },
  );
}

export interface Store {
  /** A short label for messages, e.g. 'sqlite:./keel.db'. */
  readonly label: string;
  /** Connect and migrate. Idempotent. */
  open(): Promise<void>;
  close(): Promise<void>;

  /** Create a run, or return the existing one with that id (`created: false`). */
  createRun(run: NewRun, now: number): Promise<CreateRunResult>;
  /** Optional batch form of createRun, one transaction for all (the engine groups the runs started
   * in one turn of the event loop). Results are in input order; each is as createRun's. */
  createRuns?(runs: NewRun[], now: number): Promise<CreateRunResult[]>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Ids that start with `prefix` (at most `limit`), for resolving abbreviated ids. */
  findRunIds(prefix: string, limit: number): Promise<string[]>;
  listRuns(query: ListRunsQuery): Promise<RunPage>;
  history(runId: string, afterSeq?: number): Promise<HistoryEvent[]>;
  /** Unconsumed inbox messages of a run, oldest first. */
  inbox(runId: string): Promise<InboxMessage[]>;

  /** Store a message in the run's inbox; wakes the run if it waits for that name. Throws
   * NotFoundError for an unknown run and ConflictError for a terminal one. */
  sendSignal(runId: string, name: string, payload: unknown, now: number): Promise<InboxMessage>;

  /** Claim up to `limit` runs that are due at `now` (pending, waiting and due, or running under an
   * expired lease), oldest due first. Each claim increments the run's fencing token. */
  claimDue(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<Lease[]>;
  /** Optional: claim as claimDue does, and read each claimed run with its history and inbox in the
   * same call (a worker loads what it claims; this saves it two or three reads per run). */
  claimDueRuns?(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<ClaimedRun[]>;
  /** Claim one run if it is not terminal and not held under a live lease. */
  claimRun(runId: string, opts: { owner: string; now: number; leaseMs: number }): Promise<Lease | undefined>;
  /** Extend leases; reports the ones lost (token changed) and the ones whose run has a cancel request. */
  renewLeases(
    leases: { runId: string; token: number }[],
    expiresAt: number,
  ): Promise<{ lost: string[]; cancelRequested: string[] }>;
  /** Give a run back without changing it: it becomes pending and due at `now`. */
  releaseLease(runId: string, token: number, now: number): Promise<void>;
  /** Owners currently holding leases on running runs (to find dead local workers). */
  leaseOwners(): Promise<string[]>;
  /** Make every lease of these owners expire now, so their runs are claimable at once. */
  expireLeases(owners: string[]): Promise<number>;
  /** The earliest wake-up time among pending and waiting runs, and lease expiries of running runs
   * (a dead worker's runs become claimable then), if any. */
  nextWakeAt(): Promise<number | undefined>;

  /** Apply writes, each atomically and independently (a fenced write does not affect the others);
   * adapters may commit the whole batch in one transaction (group commit). */
  write(batch: RunWrite[], now: number): Promise<WriteResult[]>;

  /**
   * Optional: push wake-ups from other processes. `onWake` is called (with no arguments, possibly
   * spuriously, possibly coalesced) when another connection made a run due or gave one a wake-up
   * time: a new pending run, a signal or delivery that wakes a waiting run, a suspension with a
   * timer, a released or expired lease. The engine then claims and re-reads the next wake-up at
   * once instead of at its next poll; polling stays the fallback, so a missed wake-up only costs
   * latency. Resolves once listening; the returned function stops listening. Stores shared by one
   * process only (memory, SQLite) need not implement it.
   */
  subscribe?(onWake: () => void): Promise<() => Promise<void>>;

  // -------------------------------------------------------------------------------------------
  // Human tasks (created by RunWrite.createTasks, see core/human-task.ts)

  getTask(id: string): Promise<HumanTaskRecord | undefined>;
  /** Newest first, like listRuns. */
  listTasks(query: ListTasksQuery): Promise<TaskPage>;
  /**
   * A person settles a pending task: in one transaction the task is marked with the outcome and the
   * outcome is stored in its run's inbox as a message named `taskSignal(id)` (waking the run).
   * NotFoundError for an unknown task; ConflictError when it is not pending, or when completing it
   * at or after its deadline. The caller validates the data first.
   */
  settleTask(id: string, outcome: TaskOutcome, now: number): Promise<{ task: HumanTaskRecord; message: InboxMessage }>;

  /**
   * Reopen a failed run (resume from its failed step): in one transaction `event` is appended to
   * its history, the run becomes `pending` and due at `now`, and its error and end time are cleared.
   * NotFoundError for an unknown run, ConflictError unless it is `failed`.
   */
  reopenRun(runId: string, event: EventData, now: number): Promise<RunRecord>;

  /**
   * Optional: delete terminal runs (completed, failed, cancelled) that ended before `before`
   * (epoch ms), each with its history and inbox all or nothing, and their status changes; with
   * `dryRun` only count them. A store may work in batches (SQLite deletes 500 runs per transaction,
   * then sweeps the status changes, so that writers are never held up for long).
   * Returns how many runs were (or would be) deleted. Runs that are not terminal are never touched.
   */
  pruneRuns?(before: number, options?: { dryRun?: boolean }): Promise<number>;

  /**
   * The status-change feed: changes of every run's status after `query.after`, in commit order
   * (see {@link StatusChange}). Changes committed by any process on this store appear; a change
   * still in an open transaction is not returned, and neither is anything after it, so a reader
   * that continues from the returned cursor never skips a change that commits late. The feed keeps
   * a run's changes as long as the run: `pruneRuns` removes them with it. Rejects a cursor that is
   * malformed or unknown to this store with an INVALID_CURSOR error.
   */
  statusChanges(query: StatusChangeQuery): Promise<StatusChangePage>;
  /** The cursor of the end of the feed now: reading after it returns only changes that commit later
   * (or are still in open transactions). Where a new follower starts. */
  statusChangesEnd(): Promise<string>;

  /** Optional: the schema version the store holds and the newest this code supports (for `keel doctor`). */
  schemaInfo?(): Promise<{ version: number; supported: number }>;
}
