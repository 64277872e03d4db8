import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, KeelError } from '../src/core/errors.js';
import type { EventData } from '../src/core/history.js';
import { SqliteStore } from '../src/storage/sqlite/index.js';
import { BACKGROUND_CHECKPOINTS_AFTER, MAX_RUN_NUM } from '../src/storage/sqlite/sqlite-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/storage/sqlite/migrations.js';
import { describeStoreContract } from './store-contract.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const T0 = 1_700_000_000_000;

function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'keel-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describeStoreContract('sqlite file', () => {
  const { dir, remove } = tempDir();
  const store = new SqliteStore({ path: join(dir, 'keel.db') });
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close();
      remove();
    },
  });
});

describeStoreContract('sqlite :memory:', () => {
  const store = new SqliteStore({ path: ':memory:' });
  return Promise.resolve({ store, cleanup: () => store.close() });
});

describe('SqliteStore on a file', () => {
  let dir: string;
  let remove: () => void;
  let path: string;
  const opened: SqliteStore[] = [];

  async function openStore(options: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}): Promise<SqliteStore> {
    const store = new SqliteStore({ path, ...options });
    await store.open();
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    ({ dir, remove } = tempDir());
    path = join(dir, 'keel.db');
  });

  afterEach(async () => {
    for (const s of opened.splice(0).reverse()) await s.close();
    remove();
  });

  it('runs in WAL mode with synchronous NORMAL for process durability (the default) and FULL for power', async () => {
    const byDefault = await openStore();
    expect(byDefault.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(byDefault.database.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(byDefault.database.pragma('busy_timeout', { simple: true })).toBe(5000);
    await byDefault.close();

    const power = await openStore({ durability: 'power', busyTimeoutMs: 250 });
    expect(power.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(power.database.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(power.database.pragma('busy_timeout', { simple: true })).toBe(250);
  });

  describe('checkpoints', () => {
    /** A run claimed by 'w1', and `n` write batches of one step each on it. */
    async function steps(store: SqliteStore, n: number, id = 'busy'): Promise<void> {
      const { lease } = await store.createRun({ id, kind: 'workflow', workflow: 'w', version: '1', input: null, claim: { owner: 'w1', expiresAt: T0 + 60_000 } }, T0);
      for (let i = 0; i < n; i++) {
        const event: EventData = { type: 'step.completed', pos: i + 1, name: `s${i}`, attempt: 1, result: i };
        const [res] = await store.write([{ runId: id, token: lease!.token, seq: i + 2, events: [event] }], T0 + i);
        expect(res?.ok).toBe(true);
      }
    }
    const walBytes = (): number => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

    it('move to their thread once the store is busy: commits no longer checkpoint, the thread copies the WAL', async () => {
      const store = await openStore();
      await steps(store, BACKGROUND_CHECKPOINTS_AFTER - 1);
      expect(store.checkpointsInBackground).toBe(false);
      expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
      await steps(store, 1, 'next');
      expect(store.checkpointsInBackground).toBe(true);
      expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      // The thread's checkpoint copies every frame (no reader holds an older snapshot)…
      const done = await store.checkpoint();
      expect(done.busy).toBe(0);
      expect(done.log).toBeGreaterThan(0);
      expect(done.checkpointed).toBe(done.log);
      // …so the next commit starts the WAL again from its beginning instead of growing it.
      const size = walBytes();
      await steps(store, 20, 'after');
      expect(walBytes()).toBe(size);
      // Closing stops the thread first: the store's connection, the last, removes the WAL.
      await store.close();
      expect(existsSync(`${path}-wal`)).toBe(false);
      await expect((await openStore()).getRun('after')).resolves.toMatchObject({ lastSeq: 21 });
    });

    it('a process with nothing else to do closes the store and ends normally, the thread stopped', () => {
      // The thread never keeps the process alive, so close() itself must: else the process would
      // end with close() pending, and whatever follows it would never run (exit code 13).
      const script = `
        import { SqliteStore } from './src/storage/sqlite/index.ts';
        const store = new SqliteStore({ path: process.argv[1] });
        await store.open();
        const { lease } = await store.createRun({ id: 'r', kind: 'workflow', workflow: 'w', version: '1', input: null, claim: { owner: 'w1', expiresAt: 9e15 } }, 1);
        for (let i = 0; i < ${BACKGROUND_CHECKPOINTS_AFTER}; i++) {
          await store.write([{ runId: 'r', token: lease.token, seq: i + 2, events: [{ type: 'step.completed', pos: i + 1, name: 's', attempt: 1, result: i }] }], 2);
        }
        const background = store.checkpointsInBackground;
        await store.close();
        console.log(JSON.stringify({ background }));
      `;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { cwd: repoRoot, encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual({ background: true });
      expect(existsSync(`${path}-wal`)).toBe(false);
    });

    it('stay inline when asked, and go back inline, with a warning, if their thread dies', async () => {
      const inline = await openStore({ checkpoints: 'inline' });
      await steps(inline, BACKGROUND_CHECKPOINTS_AFTER);
      expect(inline.checkpointsInBackground).toBe(false);
      await inline.close();

      const warnings: string[] = [];
      const store = await openStore({ onWarning: (message, error) => warnings.push(`${message}: ${error.message}`) });
      await steps(store, BACKGROUND_CHECKPOINTS_AFTER, 'again');
      expect(store.checkpointsInBackground).toBe(true);
      // Closed and opened again, the store counts its writes afresh and moves to the thread again.
      await store.close();
      await store.open();
      expect(store.checkpointsInBackground).toBe(false);
      await steps(store, BACKGROUND_CHECKPOINTS_AFTER, 'reopened');
      expect(store.checkpointsInBackground).toBe(true);
      const thread = (store as unknown as { checkpointer: { worker: { terminate(): Promise<number> } } }).checkpointer.worker;
      await thread.terminate();
      for (let i = 0; i < 100 && store.checkpointsInBackground; i++) await new Promise((r) => setImmediate(r));
      expect(store.checkpointsInBackground).toBe(false);
      expect(store.database.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
      expect(warnings).toEqual(['WAL checkpoints run inline again: the checkpoint thread failed: The checkpoint thread stopped.']);
      expect((await store.checkpoint()).busy).toBe(0);
    });
  });

  it('migrates an empty file to the current schema version, and opening again is a no-op', async () => {
    const store = await openStore();
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = store.database
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((r) => r.name);
    expect(tables).toEqual(['events', 'inbox', 'runs', 'status_changes', 'tasks']);
    await store.open(); // idempotent
    await store.close();
    const again = await openStore();
    expect(again.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });

  it('migrates a version 1 file (before human tasks) forward, keeping its runs', async () => {
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!.sql);
    raw.pragma('user_version = 1');
    raw.prepare(
      `INSERT INTO runs (id, kind, workflow, version, status, input, state, created_at, updated_at, wake_at, lease_token, last_seq)
       VALUES ('old', 'workflow', 'order', '1', 'pending', '{}', '{}', 1, 1, 1, 0, 1)`,
    ).run();
    raw.close();
    const store = await openStore();
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((await store.getRun('old'))?.status).toBe('pending');
    expect(await store.listTasks({})).toEqual({ tasks: [] });
  });

  it('migrates a version 2 file (before the status-change feed): the feed starts with every run’s current status', async () => {
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) raw.exec(m.sql);
    raw.pragma('user_version = 2');
    const insert = raw.prepare<[string, string, number]>(
      `INSERT INTO runs (id, kind, workflow, version, status, input, state, created_at, updated_at, wake_at, lease_token, last_seq)
       VALUES (?, 'workflow', 'order', '1', ?, '{}', '{}', 1, ?, NULL, 0, 1)`,
    );
    insert.run('b', 'completed', T0 + 5);
    insert.run('a', 'waiting', T0 + 9);
    insert.run('c', 'pending', T0 + 5);
    raw.close();
    const store = await openStore();
    const { changes } = await store.statusChanges({});
    expect(changes.map((c) => [c.runId, c.status, c.at])).toEqual([
      ['b', 'completed', T0 + 5],
      ['c', 'pending', T0 + 5],
      ['a', 'waiting', T0 + 9],
    ]);
    await store.createRun({ id: 'd', kind: 'workflow', workflow: 'order', version: '1', input: null }, T0 + 10);
    expect((await store.statusChanges({ after: changes.at(-1)?.cursor })).changes.map((c) => c.runId)).toEqual(['d']);
  });

  it('migrates a version 3 file (history in a rowid table, last_seq on the run row): histories are kept, and read for lastSeq and updatedAt', async () => {
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(m.sql);
    raw.pragma('user_version = 3');
    raw.prepare(
      `INSERT INTO runs (id, kind, workflow, version, status, input, state, created_at, updated_at, lease_owner, lease_expires_at, lease_token, last_seq)
       VALUES ('old', 'workflow', 'order', '1', 'running', '{}', '{}', ?, ?, 'w1', ?, 1, 3)`,
    ).run(T0, T0 + 1, T0 + 60_000);
    const event = raw.prepare('INSERT INTO events (run_id, seq, at, data) VALUES (?, ?, ?, ?)');
    event.run('old', 1, T0, JSON.stringify({ type: 'run.started', workflow: 'order', version: '1', input: {} }));
    event.run('old', 2, T0 + 4, JSON.stringify({ type: 'step.started', pos: 1, name: 'a', attempt: 1 }));
    event.run('old', 3, T0 + 5, JSON.stringify({ type: 'step.completed', pos: 1, name: 'a', attempt: 1, result: 7 }));
    raw.close();
    const store = await openStore();
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await store.getRun('old')).toMatchObject({ status: 'running', lastSeq: 3, updatedAt: T0 + 5 });
    expect((await store.history('old')).map((e) => [e.seq, e.type, e.at])).toEqual([
      [1, 'run.started', T0],
      [2, 'step.started', T0 + 4],
      [3, 'step.completed', T0 + 5],
    ]);
    // The run goes on where its history ends.
    const step: EventData = { type: 'step.started', pos: 2, name: 'b', attempt: 1 };
    expect(await store.write([{ runId: 'old', token: 1, seq: 3, events: [step] }], T0 + 6)).toEqual([{ ok: false, reason: 'fenced' }]);
    expect(await store.write([{ runId: 'old', token: 1, seq: 4, events: [step] }], T0 + 6)).toEqual([{ ok: true, lastSeq: 4, suspended: false, pending: [] }]);
    expect(await store.getRun('old')).toMatchObject({ lastSeq: 4, updatedAt: T0 + 6 });
  });

  it('migrates a version 4 file (history keyed by run id): runs are numbered, histories kept in order, and they go on', async () => {
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) raw.exec(m.sql);
    raw.pragma('user_version = 4');
    const run = raw.prepare(
      `INSERT INTO runs (id, kind, workflow, version, status, input, state, created_at, updated_at, wake_at, lease_owner, lease_expires_at, lease_token)
       VALUES (?, 'workflow', 'order', '1', ?, '{}', '{}', ?, ?, ?, ?, ?, ?)`,
    );
    const event = raw.prepare('INSERT INTO events (run_id, seq, at, data) VALUES (?, ?, ?, ?)');
    const started = JSON.stringify({ type: 'run.started', workflow: 'order', version: '1', input: {} });
    const stepDone = (pos: number) => JSON.stringify({ type: 'step.completed', pos, name: `s${pos}`, attempt: 1, result: pos });
    // Created in the opposite order of their ids, with histories of different lengths.
    run.run('z-first', 'running', T0, T0, null, 'w1', T0 + 60_000, 2);
    run.run('a-second', 'pending', T0 + 1, T0 + 1, T0 + 1, null, null, 0);
    event.run('z-first', 1, T0, started);
    for (let seq = 2; seq <= 5; seq++) event.run('z-first', seq, T0 + seq, stepDone(seq - 1));
    event.run('a-second', 1, T0 + 1, started);
    raw.close();

    const store = await openStore();
    expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const numbers = store.database.prepare('SELECT id, num FROM runs ORDER BY num').all();
    expect(numbers).toEqual([
      { id: 'z-first', num: 1 },
      { id: 'a-second', num: 2 },
    ]);
    expect((await store.history('z-first')).map((e) => [e.seq, e.type, e.at])).toEqual([
      [1, 'run.started', T0],
      [2, 'step.completed', T0 + 2],
      [3, 'step.completed', T0 + 3],
      [4, 'step.completed', T0 + 4],
      [5, 'step.completed', T0 + 5],
    ]);
    expect((await store.history('z-first', 3)).map((e) => e.seq)).toEqual([4, 5]);
    expect((await store.history('a-second')).map((e) => e.type)).toEqual(['run.started']);
    expect(await store.getRun('z-first')).toMatchObject({ lastSeq: 5, updatedAt: T0 + 5 });
    // The running run goes on where its history ends; the pending one is claimed with its history.
    const next = JSON.parse(stepDone(5)) as EventData;
    expect(await store.write([{ runId: 'z-first', token: 2, seq: 5, events: [next] }], T0 + 6)).toEqual([{ ok: false, reason: 'fenced' }]);
    expect(await store.write([{ runId: 'z-first', token: 2, seq: 6, events: [next] }], T0 + 6)).toEqual([{ ok: true, lastSeq: 6, suspended: false, pending: [] }]);
    const [claimed] = await store.claimDueRuns({ owner: 'w2', now: T0 + 7, leaseMs: 1000, limit: 10 });
    expect(claimed?.run).toMatchObject({ id: 'a-second', lastSeq: 1 });
    // A new run takes the next number, its history its own range.
    await store.createRun({ id: 'new', kind: 'workflow', workflow: 'order', version: '1', input: null }, T0 + 8);
    expect(store.database.prepare("SELECT num FROM runs WHERE id = 'new'").get()).toEqual({ num: 3 });
    expect((await store.history('new')).map((e) => [e.seq, e.type])).toEqual([[1, 'run.started']]);
    expect((await store.history('z-first')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses to number more runs than its history key can hold, with a clear error, and creates nothing', async () => {
    const store = await openStore();
    await store.createRun({ id: 'last', kind: 'workflow', workflow: 'order', version: '1', input: null }, T0);
    store.database.prepare("UPDATE runs SET num = ? WHERE id = 'last'").run(MAX_RUN_NUM);
    const refused = await store.createRun({ id: 'one-too-many', kind: 'workflow', workflow: 'order', version: '1', input: null }, T0 + 1).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(KeelError);
    expect((refused as Error).message).toMatch(/This SQLite file has numbered 34,359,738,366 runs, the most one file can: run 'one-too-many' was not created/);
    expect(await store.getRun('one-too-many')).toBeUndefined();
    expect(await store.getRun('last')).toMatchObject({ id: 'last' });
  });

  it('refuses an event past what the history key of a run holds, rather than write it into the range of the next run', async () => {
    const store = await openStore();
    const claim = { owner: 'w1', expiresAt: T0 + 60_000 };
    const { lease } = await store.createRun({ id: 'long', kind: 'workflow', workflow: 'order', version: '1', input: null, claim }, T0);
    await store.createRun({ id: 'next', kind: 'workflow', workflow: 'order', version: '1', input: null }, T0);
    // The history of 'long' as if it held 2^28 - 1 events: its last possible key.
    store.database.prepare("UPDATE events SET key = key + 268435454 WHERE key = (SELECT (num << 28) + 1 FROM runs WHERE id = 'long')").run();
    expect(await store.getRun('long')).toMatchObject({ lastSeq: 268_435_455 });
    const step: EventData = { type: 'step.completed', pos: 1, name: 'a', attempt: 1, result: 1 };
    for (const events of [[step], [step, step]]) {
      const refused = await store.write([{ runId: 'long', token: lease!.token, seq: 268_435_456, events }], T0 + 1).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((refused as KeelError).code).toBe(ErrorCode.HistoryTooLong);
      expect((refused as Error).message).toContain("Run 'long' cannot hold event 268,435,456");
    }
    expect((await store.history('next')).map((e) => e.seq)).toEqual([1]);
  });

  it('pruning sweeps the status changes of pruned runs from a feed longer than one sweep batch, and keeps the others', async () => {
    const store = await openStore();
    const db = store.database;
    // A long feed: 50,000 changes of runs that were never kept, between the changes of real runs.
    const { lease } = await store.createRun({ id: 'old', kind: 'workflow', workflow: 'w', version: '1', input: null, claim: { owner: 'w1', expiresAt: T0 + 1000 } }, T0);
    await store.write([{ runId: 'old', token: lease!.token, events: [{ type: 'run.completed', result: 1 }], transition: { status: 'completed', output: 1 } }], T0 + 1);
    const insert = db.prepare("INSERT INTO status_changes (run_id, workflow, status, at) VALUES (?, 'w', 'completed', ?)");
    db.transaction(() => {
      for (let i = 0; i < 50_000; i++) insert.run(`gone-${i}`, T0 + 2);
    })();
    await store.createRun({ id: 'kept', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0 + 3);
    const count = (where: string): number => (db.prepare(`SELECT count(*) AS n FROM status_changes WHERE ${where}`).get() as { n: number }).n;
    expect(count("run_id = 'old'")).toBeGreaterThan(0);

    expect(await store.pruneRuns(T0 + 10)).toBe(1);
    expect(count('1 = 1')).toBe(count("run_id = 'kept'"));
    expect(count("run_id = 'kept'")).toBe(1);
    // The feed still continues after its last change.
    const end = await store.statusChangesEnd();
    await store.sendSignal('kept', '@cancel', null, T0 + 11);
    await store.createRun({ id: 'next', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0 + 12);
    expect((await store.statusChanges({ after: end })).changes.map((c) => c.runId)).toEqual(['next']);
  });

  it('prunes in batches: 1,200 ended runs go with their history, and one resumed meanwhile is kept', async () => {
    const store = await openStore();
    const ids = Array.from({ length: 1_200 }, (_, i) => `done-${String(i).padStart(4, '0')}`);
    for (const [i, id] of ids.entries()) {
      const { lease } = await store.createRun({ id, kind: 'workflow', workflow: 'w', version: '1', input: i, claim: { owner: 'w1', expiresAt: T0 + 1000 } }, T0);
      const error = { name: 'Error', message: 'boom' };
      await store.write([{ runId: id, token: lease!.token, events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } }], T0 + 1);
    }
    const db = store.database;
    const count = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(count('events')).toBe(2_400);

    // The candidates are read when the call starts; the last one is resumed before its batch comes.
    const pruning = store.pruneRuns(T0 + 10);
    const last = ids.at(-1) as string;
    await store.reopenRun(last, { type: 'run.resumed', previousError: { name: 'Error', message: 'boom' } }, T0 + 11);
    expect(await pruning).toBe(1_199);

    expect(count('runs')).toBe(1);
    expect((await store.getRun(last))?.status).toBe('pending');
    expect((await store.history(last)).map((e) => e.type)).toEqual(['run.started', 'run.failed', 'run.resumed']);
    expect(count('events')).toBe(3);
    expect(db.prepare('SELECT DISTINCT run_id AS id FROM status_changes').all()).toEqual([{ id: last }]);
  });

  it('keeps runs, history and inboxes across close and re-open', async () => {
    const first = await openStore();
    const { lease } = await first.createRun(
      { id: 'r1', kind: 'workflow', workflow: 'order', version: '1', input: { a: 1 }, claim: { owner: 'w1', expiresAt: T0 + 1000 } },
      T0,
    );
    await first.write([{ runId: 'r1', token: lease!.token, events: [{ type: 'step.started', pos: 1, name: 'charge', attempt: 1 }], state: { phase: 'charging' } }], T0 + 1);
    const msg = await first.sendSignal('r1', 'approve', true, T0 + 2);
    const run = await first.getRun('r1');
    const history = await first.history('r1');
    await first.close();

    const second = await openStore();
    expect(await second.getRun('r1')).toEqual(run);
    expect(await second.history('r1')).toEqual(history);
    expect(await second.inbox('r1')).toEqual([msg]);
    // Message ids keep growing after re-open, even once the newest message is consumed.
    await second.write([{ runId: 'r1', token: lease!.token, events: [], consume: [msg.id] }], T0 + 3);
    await second.close();
    const third = await openStore();
    const next = await third.sendSignal('r1', 'x', null, T0 + 4);
    expect(next.id).toBeGreaterThan(msg.id);
  });

  it('refuses a database whose schema is newer, with SCHEMA_TOO_NEW, and leaves the file unchanged', async () => {
    const raw = new Database(path);
    raw.exec('CREATE TABLE runs (id TEXT PRIMARY KEY); INSERT INTO runs VALUES (\'from-the-future\')');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = createHash('sha256').update(readFileSync(path)).digest('hex');

    const store = new SqliteStore({ path });
    await expect(store.open()).rejects.toMatchObject({
      code: ErrorCode.SchemaTooNew,
      details: { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION },
    });
    await expect(store.getRun('from-the-future')).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await expect(new SqliteStore({ path, readonly: true }).open()).rejects.toMatchObject({ code: ErrorCode.SchemaTooNew });

    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(before);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete'); // not switched to WAL
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it('opened read-only, refuses a file that is not migrated yet and cannot write', async () => {
    new Database(path).close(); // an empty file, schema version 0
    await expect(new SqliteStore({ path, readonly: true }).open()).rejects.toMatchObject({ code: ErrorCode.Config });
    await expect(new SqliteStore({ path: join(dir, 'missing.db'), readonly: true }).open()).rejects.toThrow();

    const writer = await openStore();
    await writer.createRun({ id: 'r1', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0);
    const reader = await openStore({ readonly: true });
    expect((await reader.getRun('r1'))?.status).toBe('pending');
    await expect(reader.createRun({ id: 'r2', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0)).rejects.toThrow(
      /readonly/i,
    );
  });

  it('a second, read-only connection reads while the first writes', async () => {
    const writer = await openStore();
    const reader = await openStore({ readonly: true });
    const { lease } = await writer.createRun(
      { id: 'r1', kind: 'workflow', workflow: 'order', version: '1', input: {}, claim: { owner: 'w1', expiresAt: T0 + 1000 } },
      T0,
    );
    expect((await reader.getRun('r1'))?.status).toBe('running');

    // Hold the write lock with an open transaction: the reader is not blocked and sees the last
    // committed state, not the uncommitted one.
    const db = writer.database;
    db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE runs SET status = 'failed' WHERE id = 'r1'").run();
    expect((await reader.getRun('r1'))?.status).toBe('running');
    expect((await reader.listRuns({})).runs.map((r) => r.id)).toEqual(['r1']);
    db.exec('ROLLBACK');

    for (let i = 1; i <= 20; i++) {
      const [res] = await writer.write([{ runId: 'r1', token: lease!.token, events: [{ type: 'step.started', pos: i, name: `s${i}`, attempt: 1 }] }], T0 + i);
      expect(res).toMatchObject({ ok: true, lastSeq: i + 1 });
      expect((await reader.getRun('r1'))?.lastSeq).toBe(i + 1);
    }
    expect(await reader.history('r1')).toHaveLength(21);
  });

  it('a separate process reading the file sees committed runs', async () => {
    const writer = await openStore();
    for (let i = 0; i < 3; i++) {
      await writer.createRun({ id: `run-${i}`, kind: 'workflow', workflow: 'order', version: '1', input: { i } }, T0 + i);
    }
    const { lease } = await writer.createRun(
      { id: 'live', kind: 'workflow', workflow: 'order', version: '1', input: {}, claim: { owner: 'w1', expiresAt: T0 + 1000 } },
      T0 + 10,
    );
    await writer.write([{ runId: 'live', token: lease!.token, events: [], transition: { status: 'completed', output: 'done' } }], T0 + 11);

    const script = `
      const Database = require('better-sqlite3');
      const db = new Database(process.argv[1], { readonly: true, fileMustExist: true });
      const rows = db.prepare('SELECT id, status, output FROM runs ORDER BY created_at, id').all();
      process.stdout.write(JSON.stringify(rows));
      db.close();
    `;
    // The writer stays open: the child reads through the WAL, as `keel ls` would next to a worker.
    const out = execFileSync(process.execPath, ['-e', script, path], { cwd: repoRoot, encoding: 'utf8' });
    const committed = [
      { id: 'run-0', status: 'pending', output: null },
      { id: 'run-1', status: 'pending', output: null },
      { id: 'run-2', status: 'pending', output: null },
      { id: 'live', status: 'completed', output: '"done"' },
    ];
    expect(JSON.parse(out)).toEqual(committed);

    // While the worker holds the write lock with uncommitted changes, the other process still
    // reads at once (no busy wait: its timeout is 0) and sees only what was committed.
    const db = writer.database;
    db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE runs SET status = 'failed'").run();
    const during = execFileSync(process.execPath, ['-e', script.replace('fileMustExist: true', 'fileMustExist: true, timeout: 0'), path], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    db.exec('ROLLBACK');
    expect(JSON.parse(during)).toEqual(committed);
  });

  it('a call kept waiting past the busy timeout fails with STORE_BUSY, naming the file, and writes nothing', async () => {
    await (await openStore()).close(); // the file at the current schema version
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE'); // another connection holds the write lock
    try {
      // A current file opens without taking the write lock, so the held lock does not stop it.
      const store = await openStore({ busyTimeoutMs: 50 });
      const input = { id: 'r1', kind: 'workflow' as const, workflow: 'w', version: '1', input: null };
      const err = await store.createRun(input, T0).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KeelError);
      expect(err).toMatchObject({ code: ErrorCode.StoreBusy, details: { path, busyTimeoutMs: 50 } });
      expect((err as Error).message).toContain(`The SQLite database ${path} is busy`);
      expect((err as Error).message).toMatch(/busy timeout \(50 ms\); the write that waited for it did not happen\. .*raise busyTimeoutMs/);
      expect((err as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });

      other.exec('COMMIT');
      expect(await store.getRun('r1')).toBeUndefined();
      expect((await store.createRun(input, T0)).created).toBe(true);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }

    // A file that needs migrating does take the lock: held elsewhere, open fails the same way.
    const fresh = join(dir, 'fresh.db');
    const holder = new Database(fresh);
    holder.exec('CREATE TABLE elsewhere (x); BEGIN IMMEDIATE; INSERT INTO elsewhere VALUES (1)');
    try {
      await expect(new SqliteStore({ path: fresh, busyTimeoutMs: 50 }).open()).rejects.toMatchObject({ code: ErrorCode.StoreBusy });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const migrated = new SqliteStore({ path: fresh });
    await migrated.open();
    expect((await migrated.schemaInfo()).version).toBe(SCHEMA_VERSION);
    await migrated.close();
  });

  it('worker processes racing on one file claim every run exactly once and are never fenced', async () => {
    const setup = await openStore();
    const ids = Array.from({ length: 600 }, (_, i) => `run-${String(i).padStart(3, '0')}`);
    for (const [i, id] of ids.entries()) {
      await setup.createRun({ id, kind: 'workflow', workflow: 'w', version: '1', input: null }, T0 - 1000 + i);
    }

    // Start three workers, wait until each has opened the file, then release them together.
    const script = join(repoRoot, 'test/fixtures/sqlite-claim-worker.ts');
    const workers = ['A', 'B', 'C'].map((owner) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', script, path, owner], {
        cwd: repoRoot,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      return { child, lines, exited };
    });
    for (const w of workers) expect((await w.lines.next()).value).toBe('ready');
    for (const w of workers) w.child.stdin.end('go\n');
    const reports: { claimed: string[]; results: string[] }[] = [];
    for (const w of workers) {
      const line = await w.lines.next();
      reports.push(JSON.parse(String(line.value)) as { claimed: string[]; results: string[] });
      expect(await w.exited).toBe(0);
    }

    const claimed = reports.flatMap((r) => r.claimed);
    expect([...claimed].sort()).toEqual(ids);
    expect(reports.filter((r) => r.claimed.length > 0).length).toBeGreaterThanOrEqual(2); // they did race
    expect(reports.flatMap((r) => r.results).every((r) => r === 'ok')).toBe(true);
    for (const id of ids) {
      expect(await setup.getRun(id)).toMatchObject({ status: 'completed', leaseToken: 1, lastSeq: 3 });
    }
    expect((await setup.history('run-000')).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('uses the indexes for claiming, listing and inbox reads', async () => {
    const store = await openStore();
    const plan = (sql: string) =>
      store.database
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((r) => r.detail)
        .join('; ');
    expect(plan('SELECT id FROM runs WHERE due_at <= 1 ORDER BY due_at LIMIT 10')).toMatch(/USING INDEX runs_due/);
    expect(plan('SELECT min(due_at) FROM runs WHERE due_at IS NOT NULL')).toMatch(/runs_due/);
    expect(plan("SELECT id FROM runs WHERE (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 5")).toMatch(
      /runs_list/,
    );
    expect(plan("SELECT id FROM runs WHERE status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 5")).toMatch(/runs_status_list/);
    expect(plan("SELECT id FROM runs WHERE workflow = 'w' ORDER BY created_at DESC, id DESC LIMIT 5")).toMatch(/runs_workflow_list/);
    expect(plan("SELECT id FROM runs WHERE parent_id = 'p' ORDER BY created_at DESC, id DESC LIMIT 5")).toMatch(/runs_parent_list/);
    expect(plan("SELECT id FROM inbox WHERE run_id = 'r' ORDER BY id")).toMatch(/inbox_run/);
    expect(plan("SELECT DISTINCT lease_owner FROM runs WHERE status = 'running' AND lease_owner IS NOT NULL")).toMatch(
      /runs_status_list/,
    );
  });

  it('rejects invalid options with a config error', () => {
    const invalid: unknown[] = [{ path: '' }, { path, durability: 'Power' }, { path, busyTimeoutMs: -1 }, { path, busyTimeoutMs: 1.5 }, { path, checkpoints: 'thread' }];
    for (const options of invalid) {
      expect(() => new SqliteStore(options as ConstructorParameters<typeof SqliteStore>[0])).toThrow(
        expect.objectContaining({ code: ErrorCode.Config }),
      );
    }
  });

  it('reports an unopened store clearly', async () => {
    const store = new SqliteStore({ path });
    await expect(store.getRun('x')).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    expect(store.label).toBe(`sqlite:${path}`);
    await store.close(); // closing a store that never opened is fine
  });
});
