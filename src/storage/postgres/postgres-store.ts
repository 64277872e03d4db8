/**
 * The PostgreSQL store: the Store port on a `pg` connection pool, with the semantics of the memory
 * store (the contract suite runs against both), for many worker processes on one database.
 *
 * - Claims use `FOR UPDATE SKIP LOCKED`: workers claiming at once take disjoint runs without waiting
 *   on each other, and a run being written (its row locked) is skipped rather than waited for.
 * - Fencing: every write starts with `UPDATE runs … WHERE id = $1 AND lease_token = $2 AND status =
 *   'running'`; a stale token matches nothing and nothing of that write is applied.
 * - Group commit in one round trip: a batch is one call of the `apply_writes` function (see
 *   migrations.ts), one transaction; its common writes (steps, state, ends) are applied by one
 *   set-based statement. The batch carries a client-chosen id recorded with its results
 *   in the same transaction, so a batch whose commit outcome is unknown (the connection dropped
 *   mid-call) is simply sent again: applied once, or its stored results returned.
 * - Starts are batched too: {@link PostgresStore.createRuns} inserts the runs started in one turn of
 *   the event loop with one statement. The fixed statements are named, so each connection parses
 *   and plans them once.
 * - Connection loss: operations retry with backoff on connection errors, deadlocks and
 *   serialization failures, as long as retrying is safe (reads, idempotent updates, write batches
 *   by their id; anything else only when the connection could not even be opened). The pool
 *   replaces dead connections by itself.
 * - Wake-ups: triggers NOTIFY `<schema>.wake` when a run becomes due or gets a wake-up time;
 *   {@link PostgresStore.subscribe} listens on a dedicated connection that reconnects with backoff.
 * - Times are epoch milliseconds from the caller (bigint columns); the store reads no clock for run
 *   semantics (only the write log's pruning uses server time).
 */
import pg from 'pg';
import type { Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { coerceError, ConflictError, ErrorCode, KeelError, NotFoundError } from '../../core/errors.js';
import type { EventData, HistoryEvent } from '../../core/history.js';
import { appendsOnly, invalidStatusCursor, isTerminal, statusChangeLimit } from '../../core/store.js';
import type {
  ClaimedRun,
  CreateRunResult,
  InboxMessage,
  Lease,
  ListRunsQuery,
  NewRun,
  RunPage,
  RunRecord,
  RunStatus,
  RunWrite,
  StatusChangePage,
  StatusChangeQuery,
  Store,
  WriteResult,
} from '../../core/store.js';
import { uuidv7 } from '../../util/ids.js';
import { redactUrl } from '../../util/url.js';
import { encodeCursor, pageRequest } from '../../util/json.js';
import {
  fromJson,
  type InboxRow,
  newRunRecord,
  rowToMessage,
  rowToRun,
  rowToTask,
  RUN_COLUMNS,
  type RunRow,
  startedEvent,
  TASK_COLUMNS,
  type TaskRow,
  toJson,
} from '../sql-rows.js';
import { migrate, quoteIdent, SCHEMA_VERSION, schemaVersion } from './migrations.js';
import {
  reopenConflict,
  settleConflict,
  taskSignal,
  type HumanTaskRecord,
  type ListTasksQuery,
  type TaskOutcome,
  type TaskPage,
} from '../../core/human-task.js';

export interface PostgresStoreOptions {
  /** e.g. 'postgres://user:password@host:5432/db'. One of connectionString and pool is required. */
  connectionString?: string;
  /** A pool the application owns: the store uses it and never ends it. */
  pool?: Pool;
  /** Schema holding Keel's tables (created if missing). Default 'keel'. */
  schema?: string;
  /** Pool size when the store creates the pool (default 10). */
  max?: number;
  /** `application_name` of the store's connections (default 'keel'), shown in pg_stat_activity. */
  applicationName?: string;
  /** How long to keep retrying an operation through connection errors before giving up (default 30 s). */
  retryForMs?: number;
  /** How long to wait for a new connection before failing (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * How long a statement waits for a lock that another session holds before it fails with
   * STORE_BUSY (default 10 s; 0 waits without bound). Keel's own statements hold locks for
   * milliseconds, so a long wait means a transaction elsewhere holds Keel's rows. Set on the
   * connections the store creates (PostgreSQL's `lock_timeout`); with your own pool, set it there.
   * Opening the store waits for another worker's migration without this bound.
   */
  lockTimeoutMs?: number;
  /** Log for connection trouble the store rides through (default: silent). */
  onWarning?: (message: string, error: Error) => void;
}

/** The compact JSON shape apply_writes reads (keys are short: this is the hot path). Undefined
 * values vanish in JSON.stringify, which is exactly "SQL NULL = undefined" on the server. */
function prepareWrite(w: RunWrite): Record<string, unknown> {
  const t = w.transition;
  return {
    r: w.runId,
    k: w.token,
    q: w.seq,
    e: w.events,
    c: w.consume ?? [],
    s: w.state,
    le: w.lastError === undefined ? 0 : w.lastError === null ? 2 : 1,
    lev: w.lastError ?? undefined,
    cr: (w.createRuns ?? []).map((c) => {
      // A child's parent defaults to the run that creates it.
      const parent = c.parentId ?? w.runId;
      return { id: c.id, kind: c.kind, workflow: c.workflow, version: c.version, input: c.input, parent, started: startedEvent(c, parent) };
    }),
    d: (w.deliver ?? []).map((d) => ({ r: d.runId, n: d.name, p: d.payload })),
    t:
      t === undefined
        ? undefined
        : t.status === 'waiting'
          ? { s: 'waiting', w: t.wakeAt, f: t.waitingFor }
          : { s: t.status, o: t.status === 'completed' ? t.output : undefined, x: t.status === 'failed' ? t.error : undefined },
  };
}

/** The parameters of the append statement: a write that only appends events at `seq`. */
function appendValues(w: RunWrite, seq: number, now: number): unknown[] {
  return [w.runId, w.token, seq, w.events.map((e) => JSON.stringify(e)), now];
}

/** A write of one run that write_run can apply: no inbox consumption, children, deliveries or
 * tasks, and no transition or a terminal one. */
function isOneRunWrite(w: RunWrite): boolean {
  return (
    w.transition?.status !== 'waiting' && !w.consume?.length && !w.createRuns?.length && !w.deliver?.length && !w.createTasks?.length && !w.expireTasks?.length
  );
}

/** The arguments of write_run, in its order (events fourth, as in appendValues). */
function writeRunValues(w: RunWrite, seq: number, now: number): unknown[] {
  const t = w.transition?.status === 'waiting' ? undefined : w.transition;
  return [
    w.runId,
    w.token,
    seq,
    w.events.map((e) => JSON.stringify(e)),
    now,
    w.state === undefined ? null : JSON.stringify(w.state),
    w.lastError === undefined ? 0 : w.lastError === null ? 2 : 1,
    w.lastError ? JSON.stringify(w.lastError) : null,
    t?.status ?? null,
    t?.status === 'completed' ? toJson(t.output) : null,
    t?.status === 'failed' ? JSON.stringify(t.error) : null,
  ];
}

type RawResult =
  | { ok: true; lastSeq: number; suspended: boolean; pending: { id: number; runId: string; name: string; payload: string | null; sentAt: number }[] }
  | { ok: false; reason: 'fenced' };

/** A status-change cursor: the (transaction id, row id) of a change, `<tx>.<id>` in decimal. */
interface FeedPosition {
  tx: string;
  id: string;
}

const FEED_START: FeedPosition = { tx: '0', id: '0' };

/** The position a cursor names, undefined when the text is not a cursor (both numbers in range:
 * xid8 is unsigned 64-bit, the id a bigint). */
function feedPosition(cursor: string): FeedPosition | undefined {
  const m = /^(\d{1,20})\.(\d{1,19})$/.exec(cursor);
  if (!m) return undefined;
  const [, tx = '', id = ''] = m;
  if (BigInt(tx) >= 2n ** 64n || BigInt(id) >= 2n ** 63n) return undefined;
  return { tx: BigInt(tx).toString(), id: BigInt(id).toString() };
}

const feedCursor = (p: FeedPosition): string => `${p.tx}.${p.id}`;

/** SQLSTATEs of a transaction the server rolled back and reported so: repeating it is always safe. */
const ROLLED_BACK_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** SQLSTATEs of connection trouble (with the rolled-back ones, worth a retry). */
const RETRYABLE_SQLSTATES = new Set([
  ...ROLLED_BACK_SQLSTATES,
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
]);

/** Connection-level trouble: no SQLSTATE of an ordinary statement error, or a state listed above. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code !== undefined) {
    if (RETRYABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
    // Node socket errors.
    if (/^E[A-Z]+$/.test(code)) return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code);
    return false;
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect/i.test(
    message,
  );
}


/** 32-bit FNV-1a of a string, as 8 hex digits. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The default of {@link PostgresStoreOptions.lockTimeoutMs}. */
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** SQLSTATE lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/** How an operation may be retried after a connection error. */
type Retry = 'always' | 'if-not-sent';

export class PostgresStore implements Store {
  readonly label: string;
  readonly schema: string;
  private readonly q: string;
  private readonly options: PostgresStoreOptions;
  private poolValue: Pool | undefined;
  private readonly ownsPool: boolean;
  private opening: Promise<void> | undefined;
  private closed = false;
  /** How many migrations the last open() applied (0 if the schema was current or another worker did it). */
  migrationsApplied = 0;
  private readonly sql: ReturnType<typeof statements>;
  private readonly statementNames: Map<string, string>;
  private listener: WakeListener | undefined;
  private lastPrune = 0;

  constructor(options: PostgresStoreOptions) {
    if (!options.connectionString && !options.pool) {
      throw new KeelError(ErrorCode.Config, 'PostgresStore needs a connectionString or a pool, e.g. { connectionString: process.env.KEEL_DATABASE_URL }.');
    }
    const { lockTimeoutMs } = options;
    if (lockTimeoutMs !== undefined && !(Number.isSafeInteger(lockTimeoutMs) && lockTimeoutMs >= 0)) {
      throw new KeelError(ErrorCode.Config, `PostgresStore lockTimeoutMs must be a whole number of milliseconds ≥ 0, not ${String(lockTimeoutMs)}.`);
    }
    this.options = { ...options };
    this.schema = options.schema ?? 'keel';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.schema) || /^pg_/i.test(this.schema)) {
      throw new KeelError(
        ErrorCode.Config,
        `Invalid PostgreSQL schema name '${this.schema}': use letters, digits and underscores (at most 63), starting with a letter or underscore and not with 'pg_' (reserved by PostgreSQL).`,
      );
    }
    this.q = quoteIdent(this.schema);
    this.sql = statements(this.q);
    // Named by a hash of the text: stores of different schemas may share a pool (and its connections).
    this.statementNames = new Map(Object.values(this.sql).map((text) => [text, `keel_${fnv1a(text)}`]));
    this.label = `postgres:${options.connectionString ? redactUrl(options.connectionString) : 'pool'}${this.schema === 'keel' ? '' : ` (schema ${this.schema})`}`;
    this.ownsPool = !options.pool;
    this.poolValue = options.pool;
  }

  /** The pool, for tests and tools that need raw access. */
  get pool(): Pool {
    if (!this.poolValue) throw new KeelError(ErrorCode.InvalidState, `The store ${this.label} is not open: call open() before using it.`);
    return this.poolValue;
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new KeelError(ErrorCode.InvalidState, `The store ${this.label} was closed; create a new one.`));
    return (this.opening ??= this.connect().catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    }));
  }

  private async connect(): Promise<void> {
    if (!this.poolValue) {
      const config: PoolConfig = {
        connectionString: this.options.connectionString,
        max: this.options.max ?? 10,
        application_name: this.options.applicationName ?? 'keel',
        connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
        // Sent at connection start (pg leaves 0 unsent: no bound).
        lock_timeout: this.lockTimeoutMs,
      };
      const pool = new pg.Pool(config);
      // An idle connection that dies (server restart, pg_terminate_backend) is dropped by the pool
      // and replaced on next use; without a listener the error would crash the process.
      pool.on('error', (err) => this.warn('An idle PostgreSQL connection failed; the pool replaces it', err));
      // A connection can also fail while checked out between queries, or after it was released
      // with an error; pg then emits 'error' on the client, which would crash the process without
      // a listener. The failure itself reaches the caller through its query, or the pool drops it.
      pool.on('connect', (client) => client.on('error', (err) => this.warn('A PostgreSQL connection failed', err)));
      this.poolValue = pool;
    }
    let client: PoolClient;
    try {
      client = await this.poolValue.connect();
    } catch (err) {
      if (this.ownsPool) {
        const pool = this.poolValue;
        this.poolValue = undefined;
        await pool.end().catch(() => {});
      }
      throw this.unreachable(err);
    }
    try {
      this.migrationsApplied = await migrate(client, this.schema, this.label);
      client.release();
    } catch (err) {
      client.release(coerceError(err));
      throw this.failure(err);
    }
  }

  private get lockTimeoutMs(): number {
    return this.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  /** What an operation that failed throws: the error, or STORE_BUSY for a lock wait cut short. */
  private failure(err: unknown): Error {
    if ((err as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) return coerceError(err);
    const ms = this.lockTimeoutMs;
    // With the application's own pool, the bound is whatever lock_timeout its connections have.
    const bound = this.ownsPool ? `the lock timeout (${ms.toLocaleString('en-US')} ms)` : "the lock_timeout of the pool's connections";
    const raise = this.ownsPool ? 'raise lockTimeoutMs' : "raise the pool's lock_timeout";
    return new KeelError(
      ErrorCode.StoreBusy,
      `PostgreSQL store ${this.label} is busy: a statement waited longer than ${bound} for a lock that another session holds, ` +
        `and did not happen. A long transaction elsewhere holds Keel's rows or tables: look for it in pg_stat_activity ` +
        `(state 'idle in transaction') and pg_locks. Try again; ${raise} if such waits are expected.`,
      { cause: err, details: { store: this.label, ...(this.ownsPool ? { lockTimeoutMs: ms } : {}) } },
    );
  }

  /** A clear error for a database that cannot be reached at start: host, database, what to check. */
  private unreachable(err: unknown): KeelError {
    const cause = coerceError(err);
    const url = this.options.connectionString;
    let where = 'the database of the given pool';
    if (url) {
      try {
        const u = new URL(url);
        const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || u.username || 'postgres';
        where = `host ${u.hostname || 'localhost'}:${u.port || '5432'}, database '${db}' (${redactUrl(url)})`;
      } catch {
        where = redactUrl(url);
      }
    }
    const code = (cause as { code?: unknown }).code;
    const hint =
      code === '3D000'
        ? 'the database does not exist: create it (createdb) or fix the name in the URL'
        : code === '28P01' || code === '28000'
          ? 'the user or password was refused: check the credentials in the URL and pg_hba.conf'
          : 'check that the server is running and accepts TCP connections on that host and port, and that the URL in KEEL_DATABASE_URL / DATABASE_URL (or the store option) is right';
    return new KeelError(ErrorCode.StoreUnreachable, `Cannot connect to PostgreSQL at ${where}: ${cause.message}. ${hint[0]?.toUpperCase()}${hint.slice(1)}.`, {
      cause,
      details: { store: this.label },
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
    await this.opening?.catch(() => {});
    const pool = this.poolValue;
    this.poolValue = undefined;
    if (pool && this.ownsPool) await pool.end();
  }

  private warn(message: string, err: unknown): void {
    this.options.onWarning?.(message, coerceError(err));
  }

  /**
   * Run `fn` on a pooled connection, retrying through connection errors with backoff (50 ms up to
   * 2 s, for `retryForMs`). `'always'`: safe to repeat (reads, idempotent updates, keyed batches);
   * `'if-not-sent'`: retried only when no connection could be had, since the statement may have
   * committed.
   */
  private async withClient<T>(retry: Retry, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const pool = this.pool;
    const deadline = Date.now() + (this.options.retryForMs ?? 30_000);
    let delay = 50;
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient | undefined;
      let sent = false;
      try {
        client = await pool.connect();
        sent = true;
        const result = await fn(client);
        client.release();
        return result;
      } catch (err) {
        // A failed connection is destroyed rather than returned to the pool.
        client?.release(isConnectionError(err) ? coerceError(err) : undefined);
        const code = (err as { code?: unknown }).code;
        const rolledBack = typeof code === 'string' && ROLLED_BACK_SQLSTATES.has(code);
        const retryable = ((isConnectionError(err) && (retry === 'always' || !sent)) || rolledBack) && !this.closed;
        if (!retryable || Date.now() + delay > deadline) throw this.failure(err);
        this.warn(`PostgreSQL connection error (attempt ${attempt}); retrying in ${delay} ms`, err);
        await sleep(delay);
        delay = Math.min(2_000, delay * 2);
      }
    }
  }

  private rows<R extends QueryResultRow>(retry: Retry, text: string, values: unknown[]): Promise<R[]> {
    // The store's fixed statements are prepared once per connection (named): parsed and planned
    // once instead of on every call. Dynamic ones (listRuns) are sent unnamed.
    const name = this.statementNames.get(text);
    return this.withClient(retry, async (c) => (await c.query<R>(name === undefined ? { text, values } : { name, text, values })).rows);
  }

  async createRun(input: NewRun, now: number): Promise<{ created: boolean; run: RunRecord; lease?: Lease }> {
    const claim = input.claim;
    const started = JSON.stringify(startedEvent(input, input.parentId));
    const values = [
      input.id,
      input.kind,
      input.workflow,
      input.version,
      claim ? 'running' : 'pending',
      toJson(input.input),
      input.parentId ?? null,
      now,
      claim ? null : now,
      claim?.owner ?? null,
      claim?.expiresAt ?? null,
      claim ? 1 : 0,
      started,
    ];
    // Retried only if nothing was sent: a repeat after an unknown outcome would report an existing
    // run as not created and lose its claim until the lease expires.
    const rows = await this.rows<RunRow & { created: boolean }>('if-not-sent', this.sql.createRun, values);
    const row = rows[0] ?? (await this.rows<RunRow>('always', this.sql.getRun, [input.id]))[0];
    if (!row) throw new KeelError(ErrorCode.InvalidState, `Run '${input.id}' vanished while it was being created.`);
    const created = rows[0]?.created === true;
    const run = rowToRun(row);
    if (created && claim) return { created, run, lease: { runId: run.id, owner: claim.owner, token: 1, expiresAt: claim.expiresAt } };
    return { created, run };
  }

  /**
   * Many runs in one statement, one round trip and one commit (the engine groups the runs started in
   * one turn of the event loop). New runs' records are built here from what was inserted, so the hot
   * path reads nothing back; runs that already existed (idempotent starts, rare) are read afterwards.
   */
  async createRuns(inputs: NewRun[], now: number): Promise<CreateRunResult[]> {
    if (inputs.length === 0) return [];
    // The same id twice: only the first is sent (a second insert would repeat its run.started
    // event); the others report the run as existing, like a second createRun would.
    const first = new Map<string, NewRun>();
    for (const input of inputs) if (!first.has(input.id)) first.set(input.id, input);
    const batch = [...first.values()];
    const inputJson = batch.map((r) => toJson(r.input));
    // Retried only if nothing was sent (as createRun): a repeat after an unknown outcome would
    // report the runs as existing and lose their claims until the leases expire.
    const inserted = await this.rows<{ id: string }>('if-not-sent', this.sql.createRuns, [
      batch.map((r) => r.id),
      batch.map((r) => r.kind),
      batch.map((r) => r.workflow),
      batch.map((r) => r.version),
      inputJson,
      batch.map((r) => r.parentId ?? null),
      batch.map((r) => JSON.stringify(startedEvent(r, r.parentId))),
      batch.map((r) => r.claim?.owner ?? null),
      batch.map((r) => r.claim?.expiresAt ?? null),
      now,
    ]);
    const created = new Set(inserted.map((r) => r.id));
    const sent = new Map(batch.map((r, i) => [r, i]));
    // Runs that existed before, and repeats of an id within the batch: read back as stored.
    const missing = new Set(inputs.filter((r) => !created.has(r.id) || !sent.has(r)).map((r) => r.id));
    const existing = new Map<string, RunRecord>();
    if (missing.size > 0) {
      for (const row of await this.rows<RunRow>('always', this.sql.getRuns, [[...missing]])) existing.set(row.id, rowToRun(row));
    }
    return inputs.map((input) => {
      const index = sent.get(input);
      if (index !== undefined && created.has(input.id)) {
        const run = newRunRecord(input, inputJson[index] ?? null, now);
        const claim = input.claim;
        return claim ? { created: true, run, lease: { runId: run.id, owner: claim.owner, token: 1, expiresAt: claim.expiresAt } } : { created: true, run };
      }
      const run = existing.get(input.id);
      if (!run) throw new KeelError(ErrorCode.InvalidState, `Run '${input.id}' vanished while it was being created.`);
      return { created: false, run };
    });
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.rows<RunRow>('always', this.sql.getRun, [id]);
    return row ? rowToRun(row) : undefined;
  }

  async findRunIds(prefix: string, limit: number): Promise<string[]> {
    const rows = await this.rows<{ id: string }>('always', this.sql.findIds, [prefix, Math.max(0, limit)]);
    return rows.map((r) => r.id);
  }

  async listRuns(query: ListRunsQuery): Promise<RunPage> {
    const { limit, after, statuses } = pageRequest(query);
    if (statuses?.length === 0) return { runs: [] };
    const where: string[] = [];
    const values: unknown[] = [];
    if (statuses) {
      values.push(statuses);
      where.push(statuses.length === 1 ? `status = ($${values.length}::text[])[1]` : `status = ANY ($${values.length}::text[])`);
    }
    if (query.workflow !== undefined) {
      values.push(query.workflow);
      where.push(`workflow = $${values.length}`);
    }
    if (query.parentId !== undefined) {
      values.push(query.parentId);
      where.push(`parent_id = $${values.length}`);
    }
    if (after) {
      values.push(after.createdAt, after.id);
      where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
    }
    values.push(limit + 1); // one more than the page tells whether there is a next page
    const text = `SELECT ${RUN_COLUMNS} FROM ${this.q}.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                  ORDER BY created_at DESC, id DESC LIMIT $${values.length}`;
    const rows = await this.rows<RunRow>('always', text, values);
    const runs = rows.slice(0, limit).map(rowToRun);
    const last = runs[runs.length - 1];
    return rows.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.id) } : { runs };
  }

  async history(runId: string, afterSeq = 0): Promise<HistoryEvent[]> {
    const rows = await this.rows<{ seq: number; at: string; data: string }>('always', this.sql.history, [runId, afterSeq]);
    return rows.map((r) => ({ ...(JSON.parse(r.data) as EventData), runId, seq: r.seq, at: Number(r.at) }));
  }

  async inbox(runId: string): Promise<InboxMessage[]> {
    return (await this.rows<InboxRow>('always', this.sql.inbox, [runId])).map(rowToMessage);
  }

  async sendSignal(runId: string, name: string, payload: unknown, now: number): Promise<InboxMessage> {
    const json = toJson(payload);
    // Not repeated after an unknown outcome: that could store the signal twice.
    const [row] = await this.rows<{ status: RunStatus; id: string | null }>('if-not-sent', this.sql.sendSignal, [runId, name, json, now]);
    if (!row) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
    if (row.id === null || isTerminal(row.status)) {
      throw new ConflictError(`Run '${runId}' is ${row.status}; it takes no more signals.`, { runId, status: row.status });
    }
    return { id: Number(row.id), runId, name, payload: fromJson(json), sentAt: now };
  }

  async claimDue(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<Lease[]> {
    const expiresAt = opts.now + opts.leaseMs;
    if (opts.limit <= 0) return [];
    // Repeating after an unknown outcome is safe: runs claimed by the lost attempt come back when
    // their lease expires.
    const rows = await this.rows<{ id: string; lease_token: number; due_at: string }>('always', this.sql.claimDue, [
      opts.now,
      opts.limit,
      opts.owner,
      expiresAt,
    ]);
    return rows
      .sort((a, b) => Number(a.due_at) - Number(b.due_at))
      .map((r) => ({ runId: r.id, owner: opts.owner, token: r.lease_token, expiresAt }));
  }

  async claimDueRuns(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<ClaimedRun[]> {
    const expiresAt = opts.now + opts.leaseMs;
    if (opts.limit <= 0) return [];
    type Row = RunRow & {
      claimed_due_at: string;
      history_seq: number[] | null;
      history_at: string[] | null;
      history_data: string[] | null;
      inbox: InboxRow[] | null;
    };
    // Repeating after an unknown outcome is safe, as for claimDue.
    const rows = await this.rows<Row>('always', this.sql.claimDueRuns, [opts.now, opts.limit, opts.owner, expiresAt]);
    return rows
      .sort((a, b) => Number(a.claimed_due_at) - Number(b.claimed_due_at))
      .map((r): ClaimedRun => {
        const runId = r.id;
        const ats = r.history_at ?? [];
        const datas = r.history_data ?? [];
        const history = (r.history_seq ?? []).map((seq, i): HistoryEvent => ({ ...(JSON.parse(datas[i] as string) as EventData), runId, seq, at: Number(ats[i]) }));
        return {
          lease: { runId, owner: opts.owner, token: r.lease_token, expiresAt },
          run: rowToRun(r),
          history,
          inbox: (r.inbox ?? []).map(rowToMessage),
        };
      });
  }

  async claimRun(runId: string, opts: { owner: string; now: number; leaseMs: number }): Promise<Lease | undefined> {
    const expiresAt = opts.now + opts.leaseMs;
    const [row] = await this.rows<{ lease_token: number }>('if-not-sent', this.sql.claimRun, [runId, opts.owner, expiresAt, opts.now]);
    return row ? { runId, owner: opts.owner, token: row.lease_token, expiresAt } : undefined;
  }

  async renewLeases(
    leases: { runId: string; token: number }[],
    expiresAt: number,
  ): Promise<{ lost: string[]; cancelRequested: string[] }> {
    if (leases.length === 0) return { lost: [], cancelRequested: [] };
    const rows = await this.rows<{ id: string; cancel: boolean }>('always', this.sql.renew, [
      leases.map((l) => l.runId),
      leases.map((l) => l.token),
      expiresAt,
    ]);
    const renewed = new Set(rows.map((r) => r.id));
    return {
      lost: leases.filter((l) => !renewed.has(l.runId)).map((l) => l.runId),
      cancelRequested: rows.filter((r) => r.cancel).map((r) => r.id),
    };
  }

  async releaseLease(runId: string, token: number, now: number): Promise<void> {
    await this.rows('always', this.sql.release, [runId, token, now]);
  }

  async leaseOwners(): Promise<string[]> {
    return (await this.rows<{ owner: string }>('always', this.sql.leaseOwners, [])).map((r) => r.owner);
  }

  async expireLeases(owners: string[]): Promise<number> {
    if (owners.length === 0) return 0;
    return (await this.rows<{ id: string }>('always', this.sql.expireLeases, [owners])).length;
  }

  async nextWakeAt(): Promise<number | undefined> {
    const [row] = await this.rows<{ at: string | null }>('always', this.sql.nextWakeAt, []);
    return row?.at == null ? undefined : Number(row.at);
  }

  async write(batch: RunWrite[], now: number): Promise<WriteResult[]> {
    if (batch.length === 0) return [];
    // One statement per batch. Serialised first: a value JSON cannot hold refuses the batch before
    // anything is sent.
    // - one write of sequential work that numbers its events (a step's record, a state change, a
    //   run's end): append or write_run, typed parameters, recognised by its seq when resent;
    // - writes that create or expire human tasks (rare: one per task): apply_writes_with_tasks,
    //   retried by batch id;
    // - everything else: apply_writes, retried by batch id.
    const only = batch.length === 1 ? (batch[0] as RunWrite) : undefined;
    if (only?.seq !== undefined && only.events.length > 0) {
      if (appendsOnly(only)) return [await this.numbered(only, only.seq, this.sql.append, appendValues(only, only.seq, now))];
      if (isOneRunWrite(only)) return [await this.numbered(only, only.seq, this.sql.writeRun, writeRunValues(only, only.seq, now))];
    }
    // Time-ordered, so the write log's index grows at its right edge instead of at random places.
    const batchId = uuidv7();
    const [text, values] = batch.some((w) => w.createTasks?.length || w.expireTasks?.length)
      ? [
          this.sql.writeWithTasks,
          [batchId, JSON.stringify(batch.map(prepareWrite)), JSON.stringify(batch.map((w) => ({ r: w.runId, c: w.createTasks ?? [], x: w.expireTasks ?? [] }))), now],
        ]
      : [this.sql.write, [batchId, JSON.stringify(batch.map(prepareWrite)), now]];
    let row: { results: RawResult[] } | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        [row] = await this.rows<{ results: RawResult[] }>('always', text, values);
        break;
      } catch (err) {
        // A retry raced the lost attempt, which committed after all: the next call finds its results.
        if ((err as { code?: unknown }).code !== '23505' || attempt >= 3) throw err;
      }
    }
    if (!row) throw new KeelError(ErrorCode.InvalidState, 'A write statement returned no row');
    this.maybePrune();
    return row.results.map((r) =>
      r.ok
        ? {
            ok: true,
            lastSeq: r.lastSeq,
            suspended: r.suspended,
            pending: r.pending.map((m) => ({ id: Number(m.id), runId: m.runId, name: m.name, payload: fromJson(m.payload), sentAt: Number(m.sentAt) })),
          }
        : { ok: false, reason: 'fenced' },
    );
  }

  /**
   * One write of sequential work that numbers its events (a step's record: `append`; a state
   * change or a run's end: `write_run`): one statement, the fence and the position checked by the
   * run row's UPDATE, no write log. A statement sent again after a lost connection finds the
   * history already past `seq` and matches nothing; then, if the events stored there are this
   * write's, the first attempt committed.
   */
  private async numbered(w: RunWrite, seq: number, text: string, values: unknown[]): Promise<WriteResult> {
    const data = values[3] as string[];
    const lastSeq = seq + data.length - 1;
    const name = this.statementNames.get(text) as string;
    let attempts = 0;
    return this.withClient('always', async (c) => {
      attempts++;
      const res = await c.query<{ ok?: boolean }>({ name, text, values });
      if (res.rows[0]?.ok ?? res.rowCount === data.length) return { ok: true, lastSeq, suspended: false, pending: [] };
      if (attempts > 1) {
        const stored = await c.query<{ data: string[] | null }>({
          name: this.statementNames.get(this.sql.appended),
          text: this.sql.appended,
          values: [w.runId, seq, lastSeq],
        });
        const found = stored.rows[0]?.data ?? [];
        if (found.length === data.length && found.every((d, i) => d === data[i])) return { ok: true, lastSeq, suspended: false, pending: [] };
      }
      return { ok: false, reason: 'fenced' };
    });
  }

  /** Drop write-log rows old enough that no retry can still ask for them (at most once a minute). */
  private maybePrune(): void {
    const t = Date.now();
    if (t - this.lastPrune < 60_000) return;
    this.lastPrune = t;
    this.rows('always', this.sql.prune, []).catch((err: unknown) => this.warn('Pruning the write log failed', err));
  }

  /**
   * Call `onWake` whenever another connection made a run due or gave it a wake-up time (LISTEN on
   * `<schema>.wake`), and once after every reconnection (notifications may have been missed).
   * The listening connection is dedicated, shared by all subscribers, and reconnects with backoff.
   */
  async subscribe(onWake: () => void): Promise<() => Promise<void>> {
    await this.open();
    this.listener ??= new WakeListener(this.poolOptions(), `${this.schema}.wake`, (m, e) => this.warn(m, e));
    const listener = this.listener;
    await listener.add(onWake);
    return async () => {
      if (listener.remove(onWake) === 0 && this.listener === listener) {
        this.listener = undefined;
        await listener.close();
      }
    };
  }

  private poolOptions(): pg.ClientConfig {
    const opts: pg.ClientConfig = (this.poolValue as { options?: pg.ClientConfig } | undefined)?.options ?? {};
    return {
      ...opts,
      connectionString: this.options.connectionString ?? opts.connectionString,
      application_name: `${this.options.applicationName ?? 'keel'}-listen`,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Human tasks and reopening (kept together at the end of the class)

  async getTask(id: string): Promise<HumanTaskRecord | undefined> {
    const [row] = await this.rows<TaskRow>('always', `SELECT ${TASK_COLUMNS} FROM ${this.q}.tasks WHERE id = $1`, [id]);
    return row ? rowToTask(row) : undefined;
  }

  async listTasks(query: ListTasksQuery): Promise<TaskPage> {
    const { limit, after, statuses } = pageRequest(query);
    if (statuses?.length === 0) return { tasks: [] };
    const where: string[] = [];
    const values: unknown[] = [];
    if (statuses) {
      values.push(statuses);
      where.push(`status = ANY ($${values.length}::text[])`);
    }
    for (const [column, value] of [
      ['workflow', query.workflow],
      ['assignee', query.assignee],
      ['run_id', query.runId],
    ] as const) {
      if (value === undefined) continue;
      values.push(value);
      where.push(`${column} = $${values.length}`);
    }
    if (after) {
      values.push(after.createdAt, after.id);
      where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
    }
    values.push(limit + 1);
    const text = `SELECT ${TASK_COLUMNS} FROM ${this.q}.tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                  ORDER BY created_at DESC, id DESC LIMIT $${values.length}`;
    const rows = await this.rows<TaskRow>('always', text, values);
    const tasks = rows.slice(0, limit).map(rowToTask);
    const last = tasks[tasks.length - 1];
    return rows.length > limit && last ? { tasks, nextCursor: encodeCursor(last.createdAt, last.id) } : { tasks };
  }

  async settleTask(id: string, outcome: TaskOutcome, now: number): Promise<{ task: HumanTaskRecord; message: InboxMessage }> {
    const payload = toJson(outcome);
    const data = outcome.status === 'completed' ? toJson(outcome.data) : null;
    // Not repeated after an unknown outcome: the answer could be stored twice.
    const [row] = await this.rows<{ result: string; message_id: string | null }>(
      'if-not-sent',
      `SELECT result, message_id FROM ${this.q}.settle_task($1, $2, $3, $4, $5, $6)`,
      [id, outcome.status, data, outcome.by ?? null, payload, now],
    );
    const task = await this.getTask(id);
    if (!row || !task) throw new NotFoundError('Human task', id, 'list open tasks with `keel tasks ls`');
    if (row.result !== 'ok' || row.message_id === null) {
      const problem = settleConflict(task, outcome, now, row.result === 'run-ended');
      throw problem ?? new ConflictError(`Human task '${id}' could not be settled (${row.result}).`, { taskId: id });
    }
    const message: InboxMessage = { id: Number(row.message_id), runId: task.runId, name: taskSignal(id), payload: fromJson(payload), sentAt: now };
    return { task, message };
  }

  async reopenRun(runId: string, event: EventData, now: number): Promise<RunRecord> {
    const [row] = await this.rows<RunRow>(
      'if-not-sent',
      `WITH upd AS (
         UPDATE ${this.q}.runs SET status = 'pending', wake_at = $2, updated_at = $2, error = NULL, completed_at = NULL,
                                   last_error = NULL, last_seq = last_seq + 1
         WHERE id = $1 AND status = 'failed'
         RETURNING ${RUN_COLUMNS}
       ), ev AS (
         INSERT INTO ${this.q}.events (run_id, seq, at, data) SELECT id, last_seq, $2, $3 FROM upd
       )
       SELECT ${RUN_COLUMNS} FROM upd`,
      [runId, now, JSON.stringify(event)],
    );
    if (row) return rowToRun(row);
    const current = await this.getRun(runId);
    if (!current) throw new NotFoundError('Run', runId, 'check the id with `keel ls`');
    throw reopenConflict(runId, current.status);
  }

  /** Store.pruneRuns: one statement, so the runs, their events, inboxes, tasks and status changes go together. */
  async pruneRuns(before: number, options: { dryRun?: boolean } = {}): Promise<number> {
    const match = `SELECT id FROM ${this.q}.runs WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < $1`;
    if (options.dryRun) {
      const [row] = await this.rows<{ n: string }>('always', `SELECT count(*) AS n FROM (${match}) m`, [before]);
      return Number(row?.n ?? 0);
    }
    const [row] = await this.rows<{ n: string }>(
      'always',
      // The runs first, with their condition on the DELETE itself: a run resumed while this waited
      // for its row is checked again as it is now, and kept, history and all.
      `WITH r AS (DELETE FROM ${this.q}.runs WHERE id IN (${match}) AND status IN ('completed', 'failed', 'cancelled') AND completed_at < $1 RETURNING id),
         e AS (DELETE FROM ${this.q}.events WHERE run_id IN (SELECT id FROM r)),
         i AS (DELETE FROM ${this.q}.inbox WHERE run_id IN (SELECT id FROM r)),
         t AS (DELETE FROM ${this.q}.tasks WHERE run_id IN (SELECT id FROM r)),
         c AS (DELETE FROM ${this.q}.status_changes WHERE run_id IN (SELECT id FROM r))
       SELECT count(*) AS n FROM r`,
      [before],
    );
    return Number(row?.n ?? 0);
  }

  /**
   * Store.statusChanges: rows in (tx, id) order, only below the xmin of this statement's snapshot
   * (see migration 4), in one statement with the check that the cursor was issued here: its
   * transaction id is below the next one to be assigned, and its row id at most the last one drawn.
   */
  async statusChanges(query: StatusChangeQuery): Promise<StatusChangePage> {
    const after = query.after === undefined ? FEED_START : feedPosition(query.after);
    if (!after) throw invalidStatusCursor(query.after as string, this.label, 'malformed');
    const rows = await this.rows<{ known: boolean; id: string | null; tx: string | null; run_id: string; workflow: string; status: RunStatus; at: string }>(
      'always',
      this.sql.statusChanges,
      [after.tx, after.id, statusChangeLimit(query.limit)],
    );
    if (rows[0]?.known !== true) throw invalidStatusCursor(query.after as string, this.label, 'unknown');
    const changes = rows
      .filter((r) => r.id !== null && r.tx !== null)
      .map((r) => ({ cursor: feedCursor({ tx: r.tx as string, id: r.id as string }), runId: r.run_id, workflow: r.workflow, status: r.status, at: Number(r.at) }));
    return { changes, cursor: changes.at(-1)?.cursor ?? feedCursor(after) };
  }

  async statusChangesEnd(): Promise<string> {
    const [row] = await this.rows<{ tx: string; id: string }>('always', this.sql.statusChangesEnd, []);
    return feedCursor(row ?? FEED_START);
  }

  async schemaInfo(): Promise<{ version: number; supported: number }> {
    await this.open();
    const version = await this.withClient('always', (c) => schemaVersion(c, this.schema));
    return { version, supported: SCHEMA_VERSION };
  }
}

function statements(q: string) {
  const terminal = "('completed', 'failed', 'cancelled')";
  // claimDue and claimDueRuns: the due runs, oldest due first, skipping rows another worker is
  // claiming; then the claim of each (RETURNING left to the statement).
  const due = `due AS (SELECT id, due_at FROM ${q}.runs WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  const claimDue = `
      UPDATE ${q}.runs r SET status = 'running', lease_token = r.lease_token + 1, lease_owner = $3,
                            lease_expires_at = $4, updated_at = $1, wake_at = NULL
      FROM due WHERE r.id = due.id`;
  return {
    getRun: `SELECT ${RUN_COLUMNS} FROM ${q}.runs WHERE id = $1`,
    createRun: `
      WITH ins AS (
        INSERT INTO ${q}.runs (id, kind, workflow, version, status, input, parent_id, created_at, updated_at,
                              wake_at, lease_owner, lease_expires_at, lease_token, last_seq)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, 1)
        ON CONFLICT (id) DO NOTHING
        RETURNING ${RUN_COLUMNS}
      ), ev AS (
        INSERT INTO ${q}.events (run_id, seq, at, data) SELECT id, 1, $8, $13 FROM ins
      )
      SELECT ${RUN_COLUMNS}, true AS created FROM ins
      UNION ALL
      SELECT ${RUN_COLUMNS}, false AS created FROM ${q}.runs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
    getRuns: `SELECT ${RUN_COLUMNS} FROM ${q}.runs WHERE id = ANY ($1::text[])`,
    createRuns: `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
          AS i(id, kind, workflow, version, input, parent_id, started, lease_owner, lease_expires_at)
      ), ins AS (
        INSERT INTO ${q}.runs (id, kind, workflow, version, status, input, parent_id, created_at, updated_at,
                              wake_at, lease_owner, lease_expires_at, lease_token, last_seq)
        SELECT id, kind, workflow, version, CASE WHEN lease_owner IS NULL THEN 'pending' ELSE 'running' END, input, parent_id,
               $10, $10, CASE WHEN lease_owner IS NULL THEN $10::bigint END, lease_owner, lease_expires_at,
               CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END, 1
        FROM input
        ON CONFLICT (id) DO NOTHING
        RETURNING id
      ), ev AS (
        INSERT INTO ${q}.events (run_id, seq, at, data) SELECT input.id, 1, $10, input.started FROM input JOIN ins ON ins.id = input.id
      )
      SELECT id FROM ins`,
    findIds: `SELECT id FROM ${q}.runs WHERE id >= $1 AND starts_with(id, $1) ORDER BY id LIMIT $2`,
    history: `SELECT seq, at, data FROM ${q}.events WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
    inbox: `SELECT id, run_id, name, payload, sent_at FROM ${q}.inbox WHERE run_id = $1 ORDER BY id`,
    sendSignal: `SELECT run_status AS status, message_id AS id FROM ${q}.send_signal($1, $2, $3, $4)`,
    claimDue: `WITH ${due} ${claimDue} RETURNING r.id, r.lease_token, due.due_at`,
    // claimDue, returning each claimed run with its history after run.started (as arrays) and its
    // inbox (as JSON), read in the statement's snapshot: a signal that commits meanwhile is found
    // when the run next suspends (the suspension reads the inbox again).
    claimDueRuns: `
      WITH ${due}, claimed AS (${claimDue} RETURNING r.*, due.due_at AS claimed_due_at)
      SELECT ${RUN_COLUMNS}, c.claimed_due_at,
             h.seqs AS history_seq, h.ats AS history_at, h.datas AS history_data,
             (SELECT json_agg(json_build_object('id', i.id, 'run_id', i.run_id, 'name', i.name, 'payload', i.payload, 'sent_at', i.sent_at) ORDER BY i.id)
              FROM ${q}.inbox i WHERE i.run_id = c.id) AS inbox
      FROM claimed c
      LEFT JOIN LATERAL (
        SELECT array_agg(e.seq ORDER BY e.seq) AS seqs, array_agg(e.at ORDER BY e.seq) AS ats, array_agg(e.data ORDER BY e.seq) AS datas
        FROM ${q}.events e WHERE e.run_id = c.id AND e.seq > 1
      ) h ON true`,
    claimRun: `
      UPDATE ${q}.runs SET status = 'running', lease_token = lease_token + 1, lease_owner = $2, lease_expires_at = $3,
                          updated_at = $4, wake_at = NULL
      WHERE id = $1 AND status NOT IN ${terminal}
        AND NOT (status = 'running' AND coalesce(lease_expires_at, 0) > $4)
      RETURNING lease_token`,
    renew: `
      WITH upd AS (
        UPDATE ${q}.runs r SET lease_expires_at = $3
        FROM unnest($1::text[], $2::int[]) AS l(id, token)
        WHERE r.id = l.id AND r.lease_token = l.token AND r.status = 'running'
        RETURNING r.id
      )
      SELECT upd.id, EXISTS (SELECT 1 FROM ${q}.inbox i WHERE i.run_id = upd.id AND i.name = '@cancel') AS cancel FROM upd`,
    release: `
      UPDATE ${q}.runs SET status = 'pending', wake_at = $3, updated_at = $3, lease_owner = NULL, lease_expires_at = NULL
      WHERE id = $1 AND lease_token = $2 AND status = 'running'`,
    leaseOwners: `SELECT DISTINCT lease_owner AS owner FROM ${q}.runs WHERE status = 'running' AND lease_owner IS NOT NULL`,
    expireLeases: `
      UPDATE ${q}.runs SET lease_expires_at = 0 WHERE status = 'running' AND lease_owner = ANY ($1::text[]) RETURNING id`,
    nextWakeAt: `SELECT min(due_at) AS at FROM ${q}.runs WHERE due_at IS NOT NULL`,
    write: `SELECT ${q}.apply_writes($1, $2, $3) AS results`,
    writeWithTasks: `SELECT ${q}.apply_writes_with_tasks($1, $2, $3, $4) AS results`,
    // A write that only appends events at seq $3 (see append): the run must be running under token
    // $2 with its history ending at $3 - 1. Returns one row per event stored, none when fenced.
    append: `
      WITH head AS (
        UPDATE ${q}.runs r SET last_seq = $3::integer + cardinality($4::text[]) - 1, updated_at = $5
        WHERE r.id = $1 AND r.lease_token = $2 AND r.status = 'running' AND r.last_seq = $3::integer - 1
        RETURNING r.id
      )
      INSERT INTO ${q}.events (run_id, seq, at, data)
      SELECT h.id, $3::integer + x.ord::integer - 1, $5, x.data FROM head h, unnest($4::text[]) WITH ORDINALITY AS x(data, ord)
      RETURNING seq`,
    appended: `SELECT array_agg(data ORDER BY seq) AS data FROM ${q}.events WHERE run_id = $1 AND seq BETWEEN $2 AND $3`,
    writeRun: `SELECT ${q}.write_run($1, $2, $3, $4::text[], $5, $6, $7, $8, $9, $10, $11) AS ok`,
    prune: `DELETE FROM ${q}.write_log WHERE created < now() - interval '15 minutes'`,
    // The row of `known` always comes back; the page's rows are joined to it (none when unknown).
    statusChanges: `
      WITH page AS (
        SELECT c.id, c.tx, c.run_id, c.workflow, c.status, c.at FROM ${q}.status_changes c
        WHERE (c.tx, c.id) > ($1::xid8, $2::bigint) AND c.tx < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY c.tx, c.id LIMIT $3
      ), cursor AS (
        SELECT $1::xid8 < pg_snapshot_xmax(pg_current_snapshot())
               AND $2::bigint <= (SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM ${q}.status_changes_id_seq s) AS known
      )
      SELECT cursor.known, page.id, page.tx::text AS tx, page.run_id, page.workflow, page.status, page.at
      FROM cursor LEFT JOIN page ON cursor.known
      ORDER BY page.tx, page.id`,
    statusChangesEnd: `
      SELECT c.tx::text AS tx, c.id FROM ${q}.status_changes c
      WHERE c.tx < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY c.tx DESC, c.id DESC LIMIT 1`,
  };
}

/** The dedicated LISTEN connection: reconnects with backoff (100 ms up to 5 s) until closed. */
class WakeListener {
  private client: pg.Client | undefined;
  private readonly subscribers = new Set<() => void>();
  private closed = false;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay = 100;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  async add(onWake: () => void): Promise<void> {
    this.subscribers.add(onWake);
    if (!this.client && !this.connecting) {
      this.connecting = this.connect();
      try {
        await this.connecting;
      } finally {
        this.connecting = undefined;
      }
    } else if (this.connecting) {
      await this.connecting.catch(() => {});
    }
  }

  remove(onWake: () => void): number {
    this.subscribers.delete(onWake);
    return this.subscribers.size;
  }

  private notify(): void {
    for (const s of [...this.subscribers]) {
      try {
        s();
      } catch (err) {
        this.warn('A wake-up subscriber threw', err);
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.notify();
    });
    client.on('error', (err) => {
      this.warn('The PostgreSQL LISTEN connection failed; reconnecting', err);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    await client.connect();
    try {
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.delay = 100;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().then(
        // Anything may have become due while we were not listening.
        () => this.notify(),
        (err: unknown) => {
          this.warn(`Reconnecting the PostgreSQL LISTEN connection failed; retrying in ${this.delay} ms`, err);
          this.delay = Math.min(5_000, this.delay * 2);
          this.scheduleReconnect();
        },
      );
    }, this.delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
