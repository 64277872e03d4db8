import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/core/errors.js';
import type { EventData } from '../src/core/history.js';
import type { Lease, RunWrite, StatusChange, Store, WriteResult } from '../src/core/store.js';
import { MemoryStore } from '../src/storage/memory/index.js';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { SCHEMA_VERSION } from '../src/storage/postgres/migrations.js';
import { describeStoreContract } from './store-contract.js';
import { createTestDatabase } from './postgres/pg-helpers.js';

const T0 = 1_700_000_000_000;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let schemas = 0;

beforeAll(async () => {
  db = await createTestDatabase('store');
});

afterAll(async () => {
  await db?.drop();
});

/** Each contract test runs in its own schema of the file's database, dropped afterwards. */
describeStoreContract('postgres', () => {
  const schema = `contract_${++schemas}`;
  const store = new PostgresStore({ connectionString: db.url, schema, max: 4 });
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await store.close();
    },
  });
});

/**
 * The status changes of a store after `after`, once `count` of them are readable: a change is
 * readable once every transaction that started before it on the server has ended, and other test
 * files run beside this one.
 */
async function feedOf(store: Store, count: number, after?: string): Promise<StatusChange[]> {
  const changes: StatusChange[] = [];
  let cursor = after;
  for (const deadline = Date.now() + 10_000; changes.length < count && Date.now() < deadline; ) {
    const page = await store.statusChanges({ ...(cursor === undefined ? {} : { after: cursor }), limit: 1000 });
    changes.push(...page.changes);
    cursor = page.cursor;
    if (page.changes.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
  return changes;
}

/** SQL that removes what versions 4 (the status-change feed) and later created (versions 3 and 5
 * only replace apply_writes, so they can be applied again). */
const dropFeed = (q: string): string =>
  `DROP FUNCTION ${q}.write_run; DROP FUNCTION ${q}.record_status_change() CASCADE; DROP TABLE ${q}.status_changes`;

describe('PostgresStore', () => {
  const opened: PostgresStore[] = [];
  let n = 0;

  async function openStore(options: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {}): Promise<PostgresStore> {
    const store = new PostgresStore({ connectionString: db.url, schema: `store_${++n}`, max: 3, ...options });
    opened.push(store);
    await store.open();
    return store;
  }

  async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  afterAll(async () => {
    for (const s of opened.reverse()) {
      await s.close().catch(() => {});
      await sql(`DROP SCHEMA IF EXISTS "${s.schema}" CASCADE`);
    }
  });

  async function claimed(store: PostgresStore, id: string) {
    const { lease } = await store.createRun(
      { id, kind: 'workflow', workflow: 'w', version: '1', input: null, claim: { owner: 'w1', expiresAt: T0 + 60_000 } },
      T0,
    );
    return lease!;
  }

  it('migrates into the configured schema once; opening again applies nothing', async () => {
    const store = await openStore({ schema: 'my_app_keel' });
    expect(store.migrationsApplied).toBe(SCHEMA_VERSION);
    const tables = await sql<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'my_app_keel' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(['events', 'inbox', 'runs', 'schema_migrations', 'status_changes', 'tasks', 'write_log']);
    const again = await openStore({ schema: 'my_app_keel' });
    expect(again.migrationsApplied).toBe(0);
    expect(await sql('SELECT version FROM my_app_keel.schema_migrations ORDER BY version')).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });

  it('migrates a version 1 schema (before human tasks) forward, keeping its runs', async () => {
    const store = await openStore();
    await store.createRun({ id: 'old', kind: 'workflow', workflow: 'order', version: '1', input: {} }, T0);
    const q = `"${store.schema}"`;
    // Back to what version 1 created.
    await sql(`${dropFeed(q)}; DROP TRIGGER runs_end_tasks ON ${q}.runs; DROP FUNCTION ${q}.cancel_run_tasks(); DROP FUNCTION ${q}.settle_task;
               DROP FUNCTION ${q}.apply_writes_with_tasks; DROP TABLE ${q}.tasks; DELETE FROM ${q}.schema_migrations WHERE version > 1`);
    const again = await openStore({ schema: store.schema });
    expect(again.migrationsApplied).toBe(SCHEMA_VERSION - 1);
    expect((await again.getRun('old'))?.status).toBe('pending');
    expect(await again.listTasks({})).toEqual({ tasks: [] });
  });

  it('upgrades a schema of an older version: only the missing migrations are applied', async () => {
    const store = await openStore();
    // Back to version 2: version 3 only replaces apply_writes, so it can be applied again.
    await sql(`${dropFeed(`"${store.schema}"`)}; DELETE FROM "${store.schema}".schema_migrations WHERE version > 2`);
    const upgraded = await openStore({ schema: store.schema });
    expect(upgraded.migrationsApplied).toBe(SCHEMA_VERSION - 2);
    const { lease } = await upgraded.createRun({ id: 'r', kind: 'workflow', workflow: 'w', version: '1', input: 1, claim: { owner: 'w1', expiresAt: T0 + 9 } }, T0);
    expect(await upgraded.write([{ runId: 'r', token: lease?.token ?? 0, events: [], transition: { status: 'completed', output: 2 } }], T0 + 1)).toEqual([
      { ok: true, lastSeq: 1, suspended: false, pending: [] },
    ]);
  });

  it('migrates a version 3 schema (before the status-change feed): the feed starts with every run’s current status', async () => {
    const store = await openStore();
    const q = `"${store.schema}"`;
    await sql(`${dropFeed(q)}; DELETE FROM ${q}.schema_migrations WHERE version > 3`);
    await store.createRun({ id: 'b', kind: 'workflow', workflow: 'order', version: '1', input: {} }, T0 + 5);
    await claimed(store, 'a');
    await sql(`UPDATE ${q}.runs SET updated_at = $1 WHERE id = 'a'`, [T0 + 9]);
    await store.createRun({ id: 'c', kind: 'workflow', workflow: 'order', version: '1', input: {} }, T0 + 5);
    const again = await openStore({ schema: store.schema });
    expect(again.migrationsApplied).toBe(SCHEMA_VERSION - 3);
    const { changes } = await again.statusChanges({});
    expect(changes.map((c) => [c.runId, c.status, c.at])).toEqual([
      ['b', 'pending', T0 + 5],
      ['c', 'pending', T0 + 5],
      ['a', 'running', T0 + 9],
    ]);
  });

  it('refuses a schema newer than the code with SCHEMA_TOO_NEW and changes nothing', async () => {
    const store = await openStore();
    await sql(`INSERT INTO "${store.schema}".schema_migrations (version, description) VALUES ($1, 'from the future')`, [SCHEMA_VERSION + 1]);
    const newer = new PostgresStore({ connectionString: db.url, schema: store.schema });
    opened.push(newer);
    await expect(newer.open()).rejects.toMatchObject({
      code: ErrorCode.SchemaTooNew,
      details: { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION },
    });
    expect(await sql(`SELECT count(*)::int AS n FROM "${store.schema}".schema_migrations`)).toEqual([{ n: SCHEMA_VERSION + 1 }]);
  });

  it('a statement kept waiting for a lock past lockTimeoutMs fails with STORE_BUSY and writes nothing', async () => {
    const store = await openStore({ lockTimeoutMs: 100 });
    const lease = await claimed(store, 'locked');
    const append: RunWrite = { runId: 'locked', token: lease.token, seq: 2, events: [{ type: 'step.completed', pos: 1, name: 's1', attempt: 1, result: 1 }] };
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // Another session's transaction holds the run's row.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${store.schema}".runs WHERE id = 'locked' FOR UPDATE`);
      const err = await store.write([append], T0 + 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: ErrorCode.StoreBusy, details: { lockTimeoutMs: 100 } });
      expect((err as Error).message).toMatch(/waited longer than the lock timeout \(100 ms\) for a lock that another session holds, and did not happen/);
      expect((err as Error).message).toContain('pg_stat_activity');
      // Over the application's own pool, the bound is that pool's lock_timeout, and the error says
      // so; a migration over its one connection gives it back with the lock_timeout its owner SET.
      const pool = new pg.Pool({ connectionString: db.url, max: 1 });
      pool.on('connect', (client) => void client.query('SET lock_timeout = 100'));
      const migrating = new PostgresStore({ pool, schema: `${store.schema}_own` });
      const own = new PostgresStore({ pool, schema: store.schema });
      try {
        await migrating.open();
        expect(migrating.migrationsApplied).toBe(SCHEMA_VERSION);
        expect((await pool.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]?.lock_timeout).toBe('100ms');
        await own.open();
        const ownErr = await own.write([append], T0 + 1).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(ownErr).toMatchObject({ code: ErrorCode.StoreBusy, details: { store: own.label } });
        expect((ownErr as Error).message).toMatch(/longer than the lock_timeout of the pool's connections .*raise the pool's lock_timeout/);
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${store.schema}_own" CASCADE`);
        await migrating.close();
        await own.close();
        await pool.end();
      }
      await holder.query('ROLLBACK');
      expect(await store.history('locked')).toHaveLength(1);
      expect(await store.write([append], T0 + 2)).toMatchObject([{ ok: true, lastSeq: 2 }]);
    } finally {
      await holder.end();
    }
    expect(() => new PostgresStore({ connectionString: db.url, lockTimeoutMs: -1 })).toThrow(/lockTimeoutMs must be a whole number of milliseconds ≥ 0, not -1/);
  });

  it("opening waits for another worker's migration longer than lockTimeoutMs, and the store's connections keep the bound", async () => {
    const schema = `store_${++n}`;
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // The advisory lock that migrations take, held as by a worker that is migrating.
      await holder.query("SELECT pg_advisory_lock(x'6b65656c'::int, hashtext($1))", [schema]);
      const store = new PostgresStore({ connectionString: db.url, schema, max: 3, lockTimeoutMs: 50 });
      opened.push(store);
      let done = false;
      const opening = store.open().then(() => {
        done = true;
      });
      const waiting = async (): Promise<boolean> =>
        (await sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))[0]?.n === 1;
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 10));
      expect(await waiting()).toBe(true);
      // Five times the lock timeout: a bound on this wait would have ended it by now.
      await new Promise((r) => setTimeout(r, 250));
      expect(done).toBe(false);
      expect(await waiting()).toBe(true);
      await holder.query("SELECT pg_advisory_unlock(x'6b65656c'::int, hashtext($1))", [schema]);
      await opening;
      expect(store.migrationsApplied).toBe(SCHEMA_VERSION);
      expect((await store.pool.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]?.lock_timeout).toBe('50ms');
    } finally {
      await holder.end();
    }
  });

  it('names host and database, hides the password and says what to check when the server is unreachable', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://keel:s3cret@127.0.0.1:1/orders', connectTimeoutMs: 2_000 });
    const err = (await store.open().catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe(ErrorCode.StoreUnreachable);
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).toContain("database 'orders'");
    expect(err.message).toMatch(/check that the server is running/i);
    expect(err.message).not.toContain('s3cret');
    expect(store.label).not.toContain('s3cret');

    const missing = new PostgresStore({ connectionString: `${db.url}_missing` });
    await expect(missing.open()).rejects.toMatchObject({ code: ErrorCode.StoreUnreachable, message: expect.stringMatching(/does not exist/) });
  });

  it('createRuns: one statement for the batch; an id repeated in the batch or raced by another worker is created once', async () => {
    const store = await openStore();
    const other = await openStore({ schema: store.schema });
    const run = (id: string, claim?: { owner: string; expiresAt: number }) => ({
      id,
      kind: 'workflow' as const,
      workflow: 'w',
      version: '1',
      input: { id },
      ...(claim ? { claim } : {}),
    });
    const results = await store.createRuns([run('a', { owner: 'w1', expiresAt: T0 + 9 }), run('b'), run('a', { owner: 'w2', expiresAt: T0 + 9 })], T0);
    expect(results.map((r) => [r.run.id, r.created, r.lease?.owner])).toEqual([
      ['a', true, 'w1'],
      ['b', true, undefined],
      ['a', false, undefined],
    ]);
    expect(results[2]?.run).toEqual(results[0]?.run);
    expect(await store.getRun('a')).toEqual(results[0]?.run);
    expect(await store.getRun('b')).toEqual(results[1]?.run);
    expect(await store.history('a')).toHaveLength(1);

    // Two workers creating the same ids at once: each run is created by exactly one of them.
    const ids = Array.from({ length: 50 }, (_, i) => `race-${i}`);
    const [x, y] = await Promise.all([
      store.createRuns(ids.map((id) => run(id, { owner: 'w1', expiresAt: T0 + 9 })), T0),
      other.createRuns(ids.map((id) => run(id, { owner: 'w2', expiresAt: T0 + 9 })), T0),
    ]);
    ids.forEach((id, i) => {
      expect([x?.[i]?.created, y?.[i]?.created].filter(Boolean)).toHaveLength(1);
      expect(x?.[i]?.run).toEqual(y?.[i]?.run);
    });
    const [counts] = await sql<{ events: string }>(`SELECT count(*) AS events FROM "${store.schema}".events WHERE run_id LIKE 'race-%'`);
    expect(Number(counts?.events)).toBe(50);
  });

  it('a mixed batch (set-based common writes beside looped ones) ends exactly as on the memory store', async () => {
    const pgStore = await openStore();
    const memory = new MemoryStore();
    const ev = (pos: number): EventData => ({ type: 'step.started', pos, name: `s${pos}`, attempt: 1 });
    const ends = async (store: Store, oneByOne = false) => {
      const leases = new Map<string, Lease>();
      for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'p', 'stale']) {
        const { lease } = await store.createRun(
          { id, kind: 'workflow', workflow: 'w', version: '1', input: id, ...(id === 'g' ? { parentId: 'p' } : {}), claim: { owner: 'w1', expiresAt: T0 + 99 } },
          T0,
        );
        leases.set(id, lease as Lease);
      }
      const token = (id: string): number => leases.get(id)?.token ?? 0;
      await store.sendSignal('c', 'unwaited', { x: 1 }, T0 + 1); // dropped when c ends
      const sig = await store.sendSignal('d', 'go', 'payload', T0 + 1);
      await store.claimRun('stale', { owner: 'w2', now: T0 + 100, leaseMs: 99 }); // token 2: the token-1 write is fenced
      const batch: RunWrite[] = [
          { runId: 'a', token: token('a'), events: [ev(1), ev(2)], state: { k: 'v' }, lastError: { name: 'E', message: 'held' } },
          { runId: 'b', token: token('b'), events: [ev(1)] },
          { runId: 'c', token: token('c'), events: [{ type: 'run.completed', result: null }], transition: { status: 'completed', output: null } },
          { runId: 'd', token: token('d'), events: [{ type: 'signal.received', pos: 1, name: 'go', payload: 'payload', signalId: sig.id }], consume: [sig.id] },
          { runId: 'b', token: token('b'), events: [ev(2)], transition: { status: 'waiting', wakeAt: T0 + 500, waitingFor: ['later'] } },
          { runId: 'stale', token: 1, events: [ev(1)], transition: { status: 'completed', output: 1 } },
          { runId: 'e', token: token('e'), events: [], lastError: null, transition: { status: 'failed', error: { name: 'Error', message: 'boom' } } },
          { runId: 'g', token: token('g'), events: [{ type: 'run.completed', result: 7 }], transition: { status: 'completed', output: 7 }, deliver: [{ runId: 'p', name: '@child:g', payload: { status: 'completed', output: 7 } }] },
          { runId: 'f', token: token('f'), events: [ev(1)], transition: { status: 'cancelled' } },
          { runId: 'a', token: token('a'), events: [ev(3)] },
      ];
      const results: WriteResult[] = [];
      if (oneByOne) for (const w of batch) results.push(...(await store.write([w], T0 + 2)));
      else results.push(...(await store.write(batch, T0 + 2)));
      const runs = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'p', 'stale'].map(async (id) => ({
        run: await store.getRun(id),
        history: (await store.history(id)).map(({ at: _at, ...e }) => e),
        inbox: (await store.inbox(id)).map(({ id: _id, ...m }) => m),
      })));
      return { results: results.map((r) => (r.ok ? { ...r, pending: r.pending.map(({ id: _id, ...m }) => m) } : r)), runs };
    };
    const expected = await ends(memory);
    expect(await ends(pgStore)).toEqual(expected);
    // The status changes of each run, the set-based path's ends included (runs of one batch may
    // interleave differently: only each run's own order is fixed).
    const memoryFeed = (await memory.statusChanges({ limit: 1000 })).changes;
    const byRun = (changes: StatusChange[]) =>
      Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'p', 'stale'].map((id) => [id, changes.filter((c) => c.runId === id).map((c) => [c.status, c.at])]));
    expect(byRun(await feedOf(pgStore, memoryFeed.length))).toEqual(byRun(memoryFeed));
    expect(expected.results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, true, true, true, true]);
    // The same writes one per batch (the short path for one common write, the loop for the others).
    const alone = await openStore();
    const expectedAlone = await ends(new MemoryStore(), true);
    expect(await ends(alone, true)).toEqual(expectedAlone);
  });

  it('status-change feed: never reads past a change whose transaction is still open, though a later one committed', async () => {
    const store = await openStore();
    const q = `"${store.schema}"`;
    await store.createRun({ id: 'a', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0);
    const [created] = await feedOf(store, 1);
    const cursor = created?.cursor as string;

    // Transaction 1 claims 'a' and stays open: its change row takes the next id.
    const held = new pg.Client({ connectionString: db.url });
    await held.connect();
    try {
      await held.query('BEGIN');
      await held.query(`UPDATE ${q}.runs SET status = 'running', lease_token = lease_token + 1, lease_owner = 'held', lease_expires_at = $1, updated_at = $2 WHERE id = 'a'`, [
        T0 + 60_000,
        T0 + 1,
      ]);
      // Transaction 2 starts 'b' and commits: its row has a larger id, and is committed first.
      await store.createRun({ id: 'b', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0 + 2);
      const [ids] = await sql<{ a: string; b: string }>(
        `SELECT max(id) FILTER (WHERE run_id = 'a') AS a, max(id) FILTER (WHERE run_id = 'b') AS b FROM ${q}.status_changes`,
      );
      expect(Number(ids?.b)).toBeGreaterThan(Number(ids?.a)); // 'b' was readable by id alone, ahead of 'a'
      // The reader stays behind the open transaction: moving past 'b' now would skip 'a' for good.
      expect(await store.statusChanges({ after: cursor })).toEqual({ changes: [], cursor });
      expect(await store.statusChangesEnd()).toBe(cursor);
      await held.query('COMMIT');
    } finally {
      await held.end();
    }
    const changes = await feedOf(store, 2, cursor);
    expect(changes.map((c) => [c.runId, c.status, c.at])).toEqual([
      ['a', 'running', T0 + 1],
      ['b', 'pending', T0 + 2],
    ]);
  });

  it('status-change feed: a cursor whose transaction id is not assigned yet is unknown', async () => {
    const store = await openStore();
    await store.createRun({ id: 'a', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0);
    await expect(store.statusChanges({ after: '9000000000000000000.1' })).rejects.toMatchObject({ code: ErrorCode.InvalidCursor, details: { problem: 'unknown' } });
    await expect(store.statusChanges({ after: '18446744073709551616.1' })).rejects.toMatchObject({ code: ErrorCode.InvalidCursor, details: { problem: 'malformed' } });
  });

  it('a write batch sent twice with the same id applies once and returns the same results', async () => {
    const store = await openStore();
    const lease = await claimed(store, 'r1');
    const batch = JSON.stringify([{ r: 'r1', k: lease.token, e: [{ type: 'step.started', pos: 1, name: 'a', attempt: 1 }], c: [], cr: [], d: [], le: 0 }]);
    const id = crypto.randomUUID();
    const call = `SELECT "${store.schema}".apply_writes($1, $2, $3) AS r`;
    const [first] = await sql<{ r: unknown }>(call, [id, batch, T0 + 1]);
    const [second] = await sql<{ r: unknown }>(call, [id, batch, T0 + 2]);
    expect(first?.r).toEqual([{ ok: true, lastSeq: 2, suspended: false, pending: [] }]);
    expect(second?.r).toEqual(first?.r);
    expect(await store.history('r1')).toHaveLength(2);
  });

  it('rides through pg_terminate_backend: idle connections are replaced, a cut write is sent again and applied once', async () => {
    const store = await openStore({ applicationName: 'keel-terminate-test' });
    const lease = await claimed(store, 'r1');
    const kill = () => sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keel-terminate-test'");

    await kill();
    expect(await store.write([{ runId: 'r1', token: lease.token, events: [{ type: 'step.started', pos: 1, name: 'a', attempt: 1 }] }], T0 + 1)).toEqual([
      { ok: true, lastSeq: 2, suspended: false, pending: [] },
    ]);

    // Hold the run's row lock so the next write blocks inside its call, then cut its connection.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM "${store.schema}".runs WHERE id = 'r1' FOR UPDATE`);
    const pending = store.write([{ runId: 'r1', token: lease.token, events: [{ type: 'step.completed', pos: 1, name: 'a', attempt: 1, result: 42 }] }], T0 + 2);
    for (let i = 0; i < 100; i++) {
      const waiting = await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = 'keel-terminate-test' AND wait_event_type = 'Lock'");
      if (waiting.length > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await kill();
    await blocker.query('COMMIT');
    await blocker.end();
    expect(await pending).toEqual([{ ok: true, lastSeq: 3, suspended: false, pending: [] }]);
    const history = await store.history('r1');
    expect(history.map((e) => e.type)).toEqual(['run.started', 'step.started', 'step.completed']);
  });

  it('a step append or a run end whose commit succeeded but whose answer was lost is sent again and recognised, not applied twice', async () => {
    // A proxy between the store and the server that, once armed, cuts the connection as the
    // server's answer to the next query arrives: after its ReadyForQuery, so the statement has
    // committed, and before the store has read any of it.
    const upstream = new URL(db.url);
    let armed = false;
    let cuts = 0;
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
      client.on('data', (d) => server.write(d));
      server.on('data', (d: Buffer) => {
        if (armed && hasReadyForQuery(d)) {
          armed = false;
          cuts++;
          client.destroy();
          server.destroy();
          return;
        }
        client.write(d);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    let store: PostgresStore | undefined;
    try {
      const via = new URL(db.url);
      via.hostname = '127.0.0.1';
      via.port = String((proxy.address() as net.AddressInfo).port);
      store = await openStore({ connectionString: via.toString(), max: 1 });
      const lease = await claimed(store, 'r1');
      const step: EventData[] = [
        { type: 'step.started', pos: 1, name: 'a', attempt: 1 },
        { type: 'step.completed', pos: 1, name: 'a', attempt: 1, result: 42 },
      ];
      armed = true;
      expect(await store.write([{ runId: 'r1', token: lease.token, seq: 2, events: step }], T0 + 1)).toEqual([
        { ok: true, lastSeq: 3, suspended: false, pending: [] },
      ]);
      expect(cuts).toBe(1);
      expect((await store.history('r1')).map((e) => [e.seq, e.type])).toEqual([
        [1, 'run.started'],
        [2, 'step.started'],
        [3, 'step.completed'],
      ]);
      // The same position taken by other events is a stale write, not a lost answer.
      armed = true;
      const other: EventData[] = [{ type: 'step.started', pos: 2, name: 'b', attempt: 1 }];
      await store.write([{ runId: 'r1', token: lease.token, seq: 4, events: other }], T0 + 2);
      expect(cuts).toBe(2);
      expect(await store.write([{ runId: 'r1', token: lease.token, seq: 4, events: [{ ...other[0]!, attempt: 2 } as EventData] }], T0 + 3)).toEqual([
        { ok: false, reason: 'fenced' },
      ]);
      expect(await store.history('r1')).toHaveLength(4);
      // The run's end (write_run) likewise.
      armed = true;
      const end: RunWrite = { runId: 'r1', token: lease.token, seq: 5, events: [{ type: 'run.completed', result: 42 }], transition: { status: 'completed', output: 42 } };
      expect(await store.write([end], T0 + 4)).toEqual([{ ok: true, lastSeq: 5, suspended: false, pending: [] }]);
      expect(cuts).toBe(3);
      expect(await store.getRun('r1')).toMatchObject({ status: 'completed', output: 42, lastSeq: 5, completedAt: T0 + 4 });
      expect(await store.write([end], T0 + 5)).toEqual([{ ok: false, reason: 'fenced' }]);
    } finally {
      await store?.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('subscribe: wakes on a new run from another connection, and again after its connection is cut', async () => {
    const store = await openStore({ applicationName: 'keel-listen-test' });
    const other = new PostgresStore({ connectionString: db.url, schema: store.schema });
    opened.push(other);
    await other.open();
    let wakes = 0;
    const unsubscribe = await store.subscribe(() => wakes++);
    const waitFor = async (what: string, cond: () => boolean) => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      if (!cond()) throw new Error(`timed out waiting for ${what}`);
    };

    await other.createRun({ id: 'a', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0);
    await waitFor('first wake', () => wakes >= 1);

    // A claimed run is not news for other workers; a suspension with a timer is.
    const before = wakes;
    const lease = await claimed(other, 'b');
    await new Promise((r) => setTimeout(r, 100));
    expect(wakes).toBe(before);
    await other.write([{ runId: 'b', token: lease.token, events: [], transition: { status: 'waiting', wakeAt: T0 + 50, waitingFor: [] } }], T0 + 1);
    await waitFor('timer wake', () => wakes > before);

    await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keel-listen-test-listen'");
    const afterCut = wakes;
    await waitFor('reconnection', () => wakes > afterCut); // one wake on reconnecting
    const reconnected = wakes;
    await other.sendSignal('a', 'x', 1, T0 + 2); // a pending run: no wake needed
    await other.createRun({ id: 'c', kind: 'workflow', workflow: 'w', version: '1', input: null }, T0);
    await waitFor('wake after reconnection', () => wakes > reconnected);
    await unsubscribe();
  });
});

/** Whether a chunk of the server's side of the protocol holds a ReadyForQuery message ('Z'). */
function hasReadyForQuery(chunk: Buffer): boolean {
  for (let at = 0; at + 5 <= chunk.length; at += 1 + chunk.readUInt32BE(at + 1)) {
    if (chunk[at] === 0x5a) return true;
  }
  return false;
}
