/**
 * Versioned schema of the SQLite store. The version lives in `PRAGMA user_version` (a field of the
 * file header, so it needs no table and is read before anything else is touched). Migrations only
 * ever get appended: a released migration is never edited, since files in the field already ran it.
 */
import type Database from 'better-sqlite3';
import { SchemaTooNewError } from '../../core/errors.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, history events and inboxes',
    sql: `
      CREATE TABLE runs (
        id               TEXT PRIMARY KEY NOT NULL,
        kind             TEXT NOT NULL,
        workflow         TEXT NOT NULL,
        version          TEXT NOT NULL,
        status           TEXT NOT NULL,
        -- JSON columns hold JSON text; SQL NULL stands for undefined, so null and undefined stay apart.
        input            TEXT,
        output           TEXT,
        error            TEXT,
        state            TEXT NOT NULL,
        parent_id        TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        completed_at     INTEGER,
        wake_at          INTEGER,
        waiting_for      TEXT,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        lease_token      INTEGER NOT NULL DEFAULT 0,
        last_seq         INTEGER NOT NULL,
        last_error       TEXT,
        -- When claimDue may take the run: the wake time of a pending or waiting run, the lease
        -- expiry of a running one (a dead worker's run), never for a terminal run. One indexed
        -- column serves both "due runs" and "expired leases" in a single ordered scan, and the
        -- hot-path write (events + last_seq) does not touch it.
        due_at           INTEGER GENERATED ALWAYS AS (
                           CASE status
                             WHEN 'pending' THEN wake_at
                             WHEN 'waiting' THEN wake_at
                             WHEN 'running' THEN coalesce(lease_expires_at, 0)
                           END) VIRTUAL
      );
      CREATE INDEX runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
      -- listRuns: newest first, alone or under one filter.
      CREATE INDEX runs_list ON runs (created_at DESC, id DESC);
      CREATE INDEX runs_status_list ON runs (status, created_at DESC, id DESC);
      CREATE INDEX runs_workflow_list ON runs (workflow, created_at DESC, id DESC);
      CREATE INDEX runs_parent_list ON runs (parent_id, created_at DESC, id DESC) WHERE parent_id IS NOT NULL;
      -- leaseOwners / expireLeases scan the running runs through runs_status_list; running runs are
      -- few (bounded by the workers' concurrency), so a lease-owner index would only cost claims.

      -- A rowid table with a unique (run_id, seq) index rather than WITHOUT ROWID: step results can
      -- be large, and large rows belong in a rowid table.
      CREATE TABLE events (
        id     INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        at     INTEGER NOT NULL,
        data   TEXT NOT NULL
      );
      CREATE UNIQUE INDEX events_run_seq ON events (run_id, seq);

      -- AUTOINCREMENT so that a message id is never reused after its message is consumed:
      -- signal.received events name the message they consumed.
      CREATE TABLE inbox (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id  TEXT NOT NULL,
        name    TEXT NOT NULL,
        payload TEXT,
        sent_at INTEGER NOT NULL
      );
      -- Entries are ordered by (run_id, rowid): a run's inbox, oldest first, in one range scan.
      CREATE INDEX inbox_run ON inbox (run_id);
    `,
  },
  {
    version: 2,
    description: 'human tasks',
    sql: `
      CREATE TABLE tasks (
        id           TEXT PRIMARY KEY NOT NULL,
        run_id       TEXT NOT NULL,
        workflow     TEXT NOT NULL,
        pos          INTEGER NOT NULL,
        name         TEXT NOT NULL,
        title        TEXT NOT NULL,
        description  TEXT,
        json_schema  TEXT,
        assignee     TEXT,
        status       TEXT NOT NULL,
        data         TEXT,
        completed_by TEXT,
        created_at   INTEGER NOT NULL,
        completed_at INTEGER,
        deadline_at  INTEGER
      );
      -- listTasks: newest first, alone or by status (the usual "open tasks" query).
      CREATE INDEX tasks_list ON tasks (created_at DESC, id DESC);
      CREATE INDEX tasks_status_list ON tasks (status, created_at DESC, id DESC);
      -- A run that ends cancels its pending tasks: a probe into this small index per ended run.
      CREATE INDEX tasks_pending_run ON tasks (run_id) WHERE status = 'pending';
    `,
  },
  {
    version: 3,
    description: 'the status-change feed, and human tasks by run',
    sql: `
      -- pruneRuns deletes a run's human tasks with it, a batch of runs at a time: by run, not by
      -- scanning every task once per batch. (Tasks are few beside steps: the index costs little.)
      CREATE INDEX tasks_run ON tasks (run_id);

      -- One row per change of a run's status, written by triggers on runs in the transaction that
      -- makes the change, so every code path records it. SQLite has one writer at a time, so id
      -- order is commit order and a reader continuing after an id misses nothing. AUTOINCREMENT:
      -- an id is never reused after its row is pruned, so a follower's cursor stays exact.
      CREATE TABLE status_changes (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id   TEXT NOT NULL,
        workflow TEXT NOT NULL,
        status   TEXT NOT NULL,
        at       INTEGER NOT NULL
      );
      -- No index on run_id: every run writes two or three changes, and a second b-tree per change
      -- cost a fifth of the throughput of short workflows. pruneRuns instead sweeps the feed for
      -- the changes of runs that no longer exist, in short batches (see sqlite-store.ts).

      -- updated_at is the caller's now of the change: every statement that changes a status sets it,
      -- or follows one in the same write that did.
      CREATE TRIGGER runs_status_insert AFTER INSERT ON runs
      BEGIN
        INSERT INTO status_changes (run_id, workflow, status, at) VALUES (NEW.id, NEW.workflow, NEW.status, NEW.updated_at);
      END;
      -- Taking over an expired lease (running to running) is no change.
      CREATE TRIGGER runs_status_update AFTER UPDATE OF status ON runs WHEN OLD.status IS NOT NEW.status
      BEGIN
        INSERT INTO status_changes (run_id, workflow, status, at) VALUES (NEW.id, NEW.workflow, NEW.status, NEW.updated_at);
      END;

      -- Runs that exist already start the feed with their current status.
      INSERT INTO status_changes (run_id, workflow, status, at)
      SELECT id, workflow, status, updated_at FROM runs ORDER BY updated_at, id;
    `,
  },
  {
    version: 4,
    description: 'history in one b-tree by (run, seq); a step append no longer rewrites the run row',
    sql: `
      -- A step's record is one row appended to its run's history, and on a sequential run one page
      -- of the WAL: the events live in the b-tree of their key, (run_id, seq), rather than in a rowid
      -- table beside a unique index on that key (two b-trees, two pages per commit). History rows
      -- are small (a step's result is usually tens of bytes), which is what WITHOUT ROWID is for.
      CREATE TABLE events_by_run (
        run_id TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        at     INTEGER NOT NULL,
        data   TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO events_by_run (run_id, seq, at, data) SELECT run_id, seq, at, data FROM events ORDER BY run_id, seq;
      DROP TABLE events;
      ALTER TABLE events_by_run RENAME TO events;

      -- Appending no longer touches the run row: a run's last seq is read from its history (the
      -- last key of its range), and its updated_at is the later of the row's and its last event's.
      ALTER TABLE runs DROP COLUMN last_seq;
    `,
  },
  {
    version: 5,
    description: 'runs numbered by an integer key; history keyed by (run number, seq) packed in one integer',
    sql: `
      -- A run's history is a range of one integer key, (run number << 28) + seq, in a rowid table:
      -- the newest run appends at the right edge of the tree, where SQLite adds a page without
      -- rebalancing its neighbours (one page of WAL per step's record, against about one and a half
      -- for a (run_id, seq) key), and a history row no longer repeats its run's id. The number is
      -- the run row's INTEGER PRIMARY KEY, so that it never changes (VACUUM keeps it). 28 bits of
      -- seq: a run holds at most 268,435,455 events; a file numbers at most 2^35 - 2 runs.
      CREATE TEMP TABLE history_within_28_bits (seq INTEGER CHECK (seq <= 268435455));
      INSERT INTO history_within_28_bits SELECT max(seq) FROM events;
      DROP TABLE history_within_28_bits;

      CREATE TABLE runs_numbered (
        num              INTEGER PRIMARY KEY,
        id               TEXT NOT NULL UNIQUE,
        kind             TEXT NOT NULL,
        workflow         TEXT NOT NULL,
        version          TEXT NOT NULL,
        status           TEXT NOT NULL,
        input            TEXT,
        output           TEXT,
        error            TEXT,
        state            TEXT NOT NULL,
        parent_id        TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        completed_at     INTEGER,
        wake_at          INTEGER,
        waiting_for      TEXT,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        lease_token      INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        due_at           INTEGER GENERATED ALWAYS AS (
                           CASE status
                             WHEN 'pending' THEN wake_at
                             WHEN 'waiting' THEN wake_at
                             WHEN 'running' THEN coalesce(lease_expires_at, 0)
                           END) VIRTUAL
      );
      INSERT INTO runs_numbered (id, kind, workflow, version, status, input, output, error, state, parent_id, created_at,
                                 updated_at, completed_at, wake_at, waiting_for, lease_owner, lease_expires_at, lease_token, last_error)
      SELECT id, kind, workflow, version, status, input, output, error, state, parent_id, created_at,
             updated_at, completed_at, wake_at, waiting_for, lease_owner, lease_expires_at, lease_token, last_error
      FROM runs ORDER BY created_at, id;

      CREATE TABLE events_numbered (
        key  INTEGER PRIMARY KEY,
        at   INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      INSERT INTO events_numbered (key, at, data)
      SELECT (r.num << 28) + e.seq, e.at, e.data FROM events e JOIN runs_numbered r ON r.id = e.run_id ORDER BY 1;

      DROP TABLE events;
      ALTER TABLE events_numbered RENAME TO events;
      DROP TABLE runs;
      ALTER TABLE runs_numbered RENAME TO runs;

      CREATE INDEX runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
      CREATE INDEX runs_list ON runs (created_at DESC, id DESC);
      CREATE INDEX runs_status_list ON runs (status, created_at DESC, id DESC);
      CREATE INDEX runs_workflow_list ON runs (workflow, created_at DESC, id DESC);
      CREATE INDEX runs_parent_list ON runs (parent_id, created_at DESC, id DESC) WHERE parent_id IS NOT NULL;
      CREATE TRIGGER runs_status_insert AFTER INSERT ON runs
      BEGIN
        INSERT INTO status_changes (run_id, workflow, status, at) VALUES (NEW.id, NEW.workflow, NEW.status, NEW.updated_at);
      END;
      CREATE TRIGGER runs_status_update AFTER UPDATE OF status ON runs WHEN OLD.status IS NOT NEW.status
      BEGIN
        INSERT INTO status_changes (run_id, workflow, status, at) VALUES (NEW.id, NEW.workflow, NEW.status, NEW.updated_at);
      END;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Throw SchemaTooNewError if the file was written by a newer Keel; changes nothing. */
export function assertSchemaNotNewer(db: Database.Database, label: string): number {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) throw new SchemaTooNewError(label, found, SCHEMA_VERSION);
  return found;
}

/**
 * Bring the schema up to {@link SCHEMA_VERSION}, all pending migrations in one immediate
 * transaction: either the file ends at the new version or it is left as it was. The version is
 * read again inside the transaction, so two processes opening a fresh file do not both migrate.
 * A file already at the version is left alone, without taking the write lock.
 */
export function migrate(db: Database.Database, label: string): void {
  // A current file needs no write lock: opening it must not wait for another process's writes.
  if (schemaVersion(db) === SCHEMA_VERSION) return;
  db.transaction(() => {
    const found = assertSchemaNotNewer(db, label);
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  }).immediate();
}
