/**
 * Real worker processes on the real PostgreSQL server: scale-out with a SIGKILLed worker, a worker
 * whose connections are cut with pg_terminate_backend, and four processes migrating one empty
 * database at once. Each test uses its own database, dropped afterwards.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/storage/postgres/migrations.js';
import { createTestDatabase } from './pg-helpers.js';
import { killAll, spawnScript, type Child } from './processes.js';

const SCALE_RUNS = Number(process.env.KEEL_SCALE_RUNS ?? 5_000);
const SCHEMA = 'keel';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(tag: string) {
  const db = await createTestDatabase(tag);
  const dir = mkdtempSync(join(tmpdir(), `keel-${tag}-`));
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const children: Child[] = [];
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.drop());
  cleanups.push(() => pool.end());
  cleanups.push(() => killAll(children));
  const env = (extra: Record<string, string>) => ({ KEEL_DATABASE_URL: db.url, KEEL_SCHEMA: SCHEMA, ...extra });
  const start = (script: string, extra: Record<string, string> = {}) => {
    const child = spawnScript(script, env(extra));
    children.push(child);
    return child;
  };
  const q = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<R>(text, values)).rows;
  return { db, dir, start, q };
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What each run's history must hold, in order, once duplicates of step.started (re-tried after a
 * takeover) are set aside: any interleaving of two workers would break it. */
const EXPECTED = ['run.started', 'step.completed:a', 'timer.scheduled', 'timer.fired', 'signal.received', 'step.completed:b', 'step.completed:c', 'run.completed'];

async function checkHistories(q: <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>, runs: number) {
  const statuses = await q<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM ${SCHEMA}.runs GROUP BY status`);
  expect(statuses).toEqual([{ status: 'completed', n: runs }]);
  const dupes = await q(
    `SELECT run_id, data::json->>'pos' AS pos, count(*) FROM ${SCHEMA}.events
     WHERE data::json->>'type' IN ('step.completed', 'timer.fired', 'signal.received', 'run.completed')
     GROUP BY 1, 2, data::json->>'type' HAVING count(*) > 1`,
  );
  expect(dupes).toEqual([]);
  const gaps = await q(
    `SELECT r.id FROM ${SCHEMA}.runs r JOIN ${SCHEMA}.events e ON e.run_id = r.id GROUP BY r.id, r.last_seq
     HAVING count(*) <> r.last_seq OR max(e.seq) <> r.last_seq`,
  );
  expect(gaps).toEqual([]);
  const rows = await q<{ run_id: string; seq: number; type: string; name: string | null }>(
    `SELECT run_id, seq, data::json->>'type' AS type, data::json->>'name' AS name FROM ${SCHEMA}.events ORDER BY run_id, seq`,
  );
  const byRun = new Map<string, string[]>();
  for (const r of rows) {
    if (r.type === 'step.started') continue;
    const list = byRun.get(r.run_id) ?? [];
    list.push(r.type === 'step.completed' ? `${r.type}:${r.name}` : r.type);
    byRun.set(r.run_id, list);
  }
  const bad = [...byRun].filter(([, list]) => list.join() !== EXPECTED.join());
  expect(bad.slice(0, 3)).toEqual([]);
  const outputs = await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${SCHEMA}.runs WHERE output::int = (substring(id from 6)::int + 1) * 2`);
  expect(outputs).toEqual([{ n: runs }]);
}

describe('PostgreSQL with real worker processes', () => {
  it(`scale-out: 4 workers share ${SCALE_RUNS} runs, one is SIGKILLed mid-run, the others finish its runs`, async () => {
    const { dir, start, q } = await setup('scale');
    const effects = (w: string) => join(dir, `${w}.effects`);
    const workers = ['w0', 'w1', 'w2', 'w3'].map((w) =>
      // Leases of 5 s: longer than the wait below for the victim's connections to close, so that its
      // runs are still held when they are read (with 2 s, a slow close under load let the others
      // take them all first). The victim's step b takes 200 ms, so that it dies in the middle of
      // runs whenever it is killed (its other steps take microseconds: it could hold none).
      start('worker.ts', {
        KEEL_WORKER: w,
        KEEL_EFFECTS: effects(w),
        KEEL_LEASE_MS: '5000',
        KEEL_APP: `keel-scale-${w}`,
        KEEL_SLOW_STEP_MS: w === 'w0' ? '200' : '0',
      }),
    );
    await Promise.all(workers.map((w) => w.waitFor('ready')));
    const t0 = Date.now();
    const client = start('client.ts', { KEEL_RUNS: String(SCALE_RUNS) });

    const completed = async () => (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${SCHEMA}.runs WHERE status = 'completed'`))[0]?.n ?? 0;
    await until('a third of the runs to complete', async () => (await completed()) >= SCALE_RUNS / 3, 240_000);
    const victim = workers[0]!;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // The signal is delivered asynchronously: the victim may still commit a batch stamped after
    // killedAt. Once it has exited, nothing it wrote can be stamped later than this.
    const deadAt = Date.now();
    // A statement the victim sent just before it died still runs to its end on the server, and
    // commits: wait until its connections are gone, so that everything it wrote is visible.
    await until(
      "the victim's connections to close",
      async () => (await q<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'keel-scale-w0%'"))[0]?.n === 0,
      30_000,
    );
    // Runs the victim died holding: still 'running' under its lease, which nobody renews any more.
    const held = await q<{ id: string; lease_expires_at: string }>(
      `SELECT id, lease_expires_at FROM ${SCHEMA}.runs WHERE status = 'running' AND lease_owner LIKE 'w0/%'`,
    );

    await client.waitFor('done', 240_000);
    await until('every run to complete', async () => (await completed()) === SCALE_RUNS, 240_000);
    const seconds = (Date.now() - t0) / 1000;
    for (const w of workers.slice(1)) w.proc.kill('SIGTERM');
    await Promise.all(workers.slice(1).map((w) => w.waitFor('stopped')));

    await checkHistories(q, SCALE_RUNS);

    // Side effects: every step ran at least once; the victim's unfinished runs were finished by others.
    const lines = ['w0', 'w1', 'w2', 'w3'].flatMap((w) =>
      existsSync(effects(w)) ? readFileSync(effects(w), 'utf8').trim().split('\n').filter(Boolean) : [],
    );
    const byWorker = new Map<string, Set<string>>();
    for (const line of lines) {
      const [runId, step, w] = line.split(' ');
      const key = `${runId} ${step}`;
      const set = byWorker.get(key) ?? new Set<string>();
      set.add(w!);
      byWorker.set(key, set);
    }
    expect(byWorker.size).toBe(SCALE_RUNS * 3);
    expect(held.length).toBeGreaterThan(0);
    // The victim died holding these runs; the others finished them (every run completed, above), but
    // none was advanced before its lease ran out: no event after the kill precedes the lease's expiry.
    const early = await q<{ run_id: string }>(
      `SELECT e.run_id FROM ${SCHEMA}.events e JOIN unnest($1::text[], $2::bigint[]) AS h(id, expires) ON h.id = e.run_id
       WHERE e.at > $3 AND e.at < h.expires`,
      [held.map((h) => h.id), held.map((h) => h.lease_expires_at), deadAt],
    );
    expect(early).toEqual([]);
    const resumed = await q<{ n: number }>(
      `SELECT count(DISTINCT run_id)::int AS n FROM ${SCHEMA}.events WHERE run_id = ANY ($1) AND at > $2`,
      [held.map((h) => h.id), killedAt],
    );
    expect(resumed[0]?.n).toBe(held.length);
    const takenOver = held.filter(({ id }) => ['a', 'b', 'c'].some((st) => [...(byWorker.get(`${id} ${st}`) ?? [])].some((w) => w !== 'w0')));
    console.log(
      `scale-out: ${SCALE_RUNS} runs in ${seconds.toFixed(1)} s with 4 workers (one killed after ${((killedAt - t0) / 1000).toFixed(1)} s holding ${held.length} runs); ` +
        `finished by the others after its lease expired, ${takenOver.length} of them running a step there; ${lines.length - SCALE_RUNS * 3} step side effects repeated`,
    );
  }, 300_000);

  it('connection drop: a worker whose backends are terminated mid-run completes every run exactly once', async () => {
    const { dir, start, q } = await setup('drop');
    const runs = 200;
    const worker = start('worker.ts', { KEEL_WORKER: 'w0', KEEL_EFFECTS: join(dir, 'w0.effects'), KEEL_LEASE_MS: '5000', KEEL_APP: 'keel-drop-worker' });
    await worker.waitFor('ready');
    const client = start('client.ts', { KEEL_RUNS: String(runs) });
    let kills = 0;
    let stop = false;
    const killer = (async () => {
      while (!stop) {
        const killed = await q<{ t: boolean }>(
          "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name LIKE 'keel-drop-worker%' AND pid <> pg_backend_pid()",
        );
        kills += killed.length;
        // Often enough to cut queries in flight, not so often that no query can finish on 2 cores.
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const completed = async () => (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${SCHEMA}.runs WHERE status = 'completed'`))[0]?.n ?? 0;
    try {
      await until('half of the runs', async () => (await completed()) >= runs / 2, 60_000);
    } finally {
      stop = true;
      await killer;
    }
    await client.waitFor('done', 120_000);
    await until('every run', async () => (await completed()) === runs, 120_000);
    worker.proc.kill('SIGTERM');
    await worker.waitFor('stopped');
    expect(kills).toBeGreaterThan(5);
    await checkHistories(q, runs);
  }, 200_000);

  it('migrations race: 4 processes open one empty database at the same instant; exactly one migrates', async () => {
    const { start, q } = await setup('migrate');
    const at = String(Date.now() + 1_500);
    const procs = [0, 1, 2, 3].map(() => start('migrate.ts', { KEEL_START_AT: at }));
    await Promise.all(procs.map((p) => p.exited));
    const applied = procs.map((p) => (JSON.parse(p.stdout.trim()) as { applied: number }).applied).sort();
    expect(applied).toEqual([0, 0, 0, SCHEMA_VERSION]);
    // Every version, all applied by the one process (one backend) that migrated.
    const rows = await q<{ version: number; applied_by: number }>(`SELECT version, applied_by FROM ${SCHEMA}.schema_migrations ORDER BY version`);
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.applied_by)).size).toBe(1);
  }, 60_000);
});
