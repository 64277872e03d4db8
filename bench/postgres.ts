/**
 * Keel vs DBOS Transact on the same PostgreSQL server, in the same script run, on the same 3-step
 * workflow: sequential latency per workflow (p50, p99) and throughput (workflows/s), Keel with 1
 * and 2 worker processes. Prints the ratios. Not a test: nothing is asserted.
 *
 * Sequential latency is mostly commits that wait for the disk, and this machine's disk varies from
 * second to second, so DBOS and Keel take turns: chunks of 50 workflows each, rotating which goes
 * first, all processes up all along. A third process takes the same turns with Keel's store alone:
 * the four writes the engine makes for one workflow (the run claimed at its start, two step
 * records, the last record with the end), through the PostgresStore, without the engine; Keel's
 * p50 less this one is the engine's own share. Beside the latencies the script prints what one
 * bare commit costs on this server and what each workflow wrote: its write transactions (each one
 * a commit that waits for the disk) and its bytes of WAL, read off the server's transaction-id and
 * WAL counters around each chunk (server-wide, so another process's writes would count too).
 *
 *   npm run bench:postgres            (KEEL_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres)
 *   env: BENCH_SEQ (sequential workflows, default 500), BENCH_N (throughput workflows, default 4000),
 *        BENCH_ROUNDS (default 1: measure both this many times, and print the ranges; each round
 *        notes the load average)
 *
 * A fresh database is created for the run and dropped at the end.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ADMIN_URL = process.env.KEEL_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SEQ = Number(process.env.BENCH_SEQ ?? 500);
const N = Number(process.env.BENCH_N ?? 4000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const WINDOW = 200; // workflows in flight at once in the throughput runs
const CHUNK = 50; // sequential workflows per turn when DBOS and Keel take turns

interface Figures {
  p50?: number;
  p99?: number;
  /** Write transactions per sequential workflow, server-wide: each a commit that waits for the disk. */
  commits?: number;
  /** Bytes of WAL per sequential workflow, server-wide. */
  walBytes?: number;
  throughput: number;
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

/**
 * Where the server's write counters stand: the next transaction id it will assign, and the end of
 * its WAL. Both are read from shared memory, so they are exact at once, unlike the statistics views
 * (pg_stat_wal, pg_stat_database), which a backend reports up to seconds later. Reading them assigns
 * no transaction id and writes no WAL.
 */
interface WriteMark {
  xid: bigint;
  lsn: string;
}

async function writeMark(client: pg.Client): Promise<WriteMark> {
  const { rows } = await client.query<{ xid: string; lsn: string }>(
    'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid, pg_current_wal_insert_lsn()::text AS lsn',
  );
  const row = rows[0];
  if (!row) throw new Error('the server returned no write counters');
  return { xid: BigInt(row.xid), lsn: row.lsn };
}

/** Write transactions and WAL bytes between two marks. */
async function writtenSince(client: pg.Client, before: WriteMark): Promise<{ commits: number; walBytes: number }> {
  const after = await writeMark(client);
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [after.lsn, before.lsn]);
  return { commits: Number(after.xid - before.xid), walBytes: Number(rows[0]?.bytes ?? NaN) };
}

/**
 * A child serving sequential chunks: reads `seq <n> <offset>` lines on stdin, runs n workflows one
 * after another and answers with their latencies (ms) as one JSON line; `exit` ends it. The parent
 * alternates chunks of DBOS and Keel, so both systems meet the same disk and the same load.
 */
async function serveSequential(once: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) await once(-1 - i); // warm-up
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, n = '0', offset = '0'] = line.trim().split(' ');
    if (command === 'exit') break;
    const lat: number[] = [];
    for (let i = 0; i < Number(n); i++) {
      const t = performance.now();
      await once(Number(offset) + i);
      lat.push(performance.now() - t);
    }
    process.stdout.write(`${JSON.stringify(lat)}\n`);
  }
  lines.close();
}

/**
 * Node flags of a child. DBOS's processes do not print deprecation warnings: the pg pool inside
 * DBOS Transact warns of its own concurrent queries on every start, which is DBOS's to fix and
 * would only clutter the figures. Keel's processes print theirs.
 */
function nodeFlags(system: Sequential): string[] {
  return system === 'dbos' ? ['--no-deprecation'] : [];
}

/** The parent's handle on a serving child. */
interface SequentialChild {
  chunk(n: number, offset: number): Promise<number[]>;
  close(): Promise<void>;
}

type Sequential = 'dbos' | 'keel' | 'store';

function startSequential(system: Sequential, url: string): Promise<SequentialChild> {
  const child = spawn(process.execPath, [...nodeFlags(system), '--import', 'tsx', fileURLToPath(import.meta.url), `${system}-seq`, url], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  const exited = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${system} child exited ${code}`)))),
  );
  return Promise.race([
    next().then((): SequentialChild => ({
      async chunk(n, offset) {
        const answer = next();
        child.stdin.write(`seq ${n} ${offset}\n`);
        return JSON.parse(await answer) as number[];
      },
      async close() {
        child.stdin.end('exit\n');
        await exited;
      },
    })),
    exited.then(() => {
      throw new Error(`${system} child exited before it was ready`);
    }),
  ]);
}

/**
 * Sequential latency of DBOS, Keel and Keel's store alone, in turns: chunks of CHUNK workflows,
 * rotating which system goes first, with the server's write counters read around each chunk.
 */
async function sequentialInTurns(url: string): Promise<Record<Sequential, Figures>> {
  const systems: Sequential[] = ['dbos', 'keel', 'store'];
  const children = await Promise.all(systems.map((system) => startSequential(system, url)));
  const lat: Record<Sequential, number[]> = { dbos: [], keel: [], store: [] };
  const written: Record<Sequential, { commits: number; walBytes: number }> = {
    dbos: { commits: 0, walBytes: 0 },
    keel: { commits: 0, walBytes: 0 },
    store: { commits: 0, walBytes: 0 },
  };
  const counters = new pg.Client({ connectionString: url });
  await counters.connect();
  try {
    for (let done = 0, c = 0; done < SEQ; done += CHUNK, c++) {
      for (let k = 0; k < systems.length; k++) {
        const i = (c + k) % systems.length;
        const system = systems[i] as Sequential;
        const before = await writeMark(counters);
        lat[system].push(...(await (children[i] as SequentialChild).chunk(Math.min(CHUNK, SEQ - done), done)));
        const chunk = await writtenSince(counters, before);
        written[system].commits += chunk.commits;
        written[system].walBytes += chunk.walBytes;
      }
    }
  } finally {
    await Promise.all([...children.map((child) => child.close()), counters.end()]);
  }
  const figures = (system: Sequential): Figures => {
    const sorted = [...lat[system]].sort((a, b) => a - b);
    const n = sorted.length;
    return { p50: pct(sorted, 50), p99: pct(sorted, 99), commits: written[system].commits / n, walBytes: written[system].walBytes / n, throughput: NaN };
  };
  return { dbos: figures('dbos'), keel: figures('keel'), store: figures('store') };
}

/** The floor under any durable write on this server: p50 of one autocommitted one-row INSERT. */
async function bareCommit(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE bench_floor (x integer)');
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await client.query('INSERT INTO bench_floor VALUES ($1)', [i]);
      if (i >= 50) lat.push(performance.now() - t);
    }
    await client.query('DROP TABLE bench_floor');
    return pct(lat.sort((a, b) => a - b), 50);
  } finally {
    await client.end();
  }
}

async function concurrent(once: (i: number) => Promise<unknown>, n: number, offset = 0): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < n) await once(offset + next++);
    }),
  );
  return performance.now() - t;
}

// ---------------------------------------------------------------------------------------------
// Keel's store alone, in its own process: `postgres.ts store-seq <url>`

/** The writes of one 3-step workflow as the engine makes them, through the store, sequentially. */
async function storeProcess(url: string): Promise<void> {
  const { PostgresStore } = await import('keel/postgres');
  const store = new PostgresStore({ connectionString: url, schema: 'keel', max: 10 });
  await store.open();
  const owner = `store/${process.pid}`;
  const once = async (i: number): Promise<void> => {
    const runId = `store-${i}-${process.pid}`;
    const { lease } = await store.createRun(
      { id: runId, kind: 'workflow', workflow: 'three', version: '1', input: i, claim: { owner, expiresAt: Date.now() + 30_000 } },
      Date.now(),
    );
    if (!lease) throw new Error(`run ${runId} was not created claimed`);
    const step = (pos: number) => ({ type: 'step.completed' as const, pos, name: `s${pos}`, attempt: 1, result: i + pos });
    const writes = [
      { runId, token: lease.token, seq: 2, events: [step(1)] },
      { runId, token: lease.token, seq: 3, events: [step(2)] },
      { runId, token: lease.token, seq: 4, events: [step(3), { type: 'run.completed' as const, result: i + 3 }], transition: { status: 'completed' as const, output: i + 3 } },
    ];
    for (const w of writes) {
      const [result] = await store.write([w], Date.now());
      if (!result?.ok) throw new Error(`a write of run ${runId} was refused`);
    }
  };
  await serveSequential(once);
  await store.close();
}

// ---------------------------------------------------------------------------------------------
// Keel worker process: `postgres.ts keel <url> <mode> <n> <offset> <startAt>`

async function keelWorker(url: string, mode: string, n: number, offset: number, startAt: number): Promise<void> {
  // The package as users run it: its compiled `dist/` (npm run bench:postgres builds it first).
  const { createEngine, defineWorkflow } = await import('keel');
  const { PostgresStore } = await import('keel/postgres');
  const three = defineWorkflow({
    name: 'three',
    async run(ctx, x: number) {
      const a = await ctx.step('s1', () => x + 1);
      const b = await ctx.step('s2', () => a + 1);
      return ctx.step('s3', () => b + 1);
    },
  });
  const store = new PostgresStore({ connectionString: url, schema: 'keel', max: 10 });
  const engine = createEngine({ store, workflows: [three] });
  await engine.start();
  const once = async (i: number) => (await engine.run(three, i, { id: `${mode}-${i}-${process.pid}` })).result();
  if (mode === 'seq') {
    await serveSequential(once);
    await engine.stop();
    await store.close();
    return;
  }
  await concurrent((i) => once(-1 - i), 100); // warm-up
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  const ms = await concurrent(once, n, offset);
  const out = { ms, end: Date.now() };
  await engine.stop();
  await store.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runKeel(url: string, mode: string, n: number, offset = 0, startAt = 0): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'keel', url, mode, String(n), String(offset), String(startAt)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>) : reject(new Error(`keel worker exited ${code}`))));
  });
}

async function keelThroughput(url: string, workers: number): Promise<number> {
  const startAt = Date.now() + 4_000; // every worker warmed up and waiting
  const each = Math.floor(N / workers);
  const results = await Promise.all(Array.from({ length: workers }, (_, w) => runKeel(url, `tp${workers}`, each, w * each, startAt)));
  const end = Math.max(...results.map((r) => r.end ?? 0));
  return (each * workers) / ((end - startAt) / 1000);
}

// ---------------------------------------------------------------------------------------------
// DBOS, in its own process too: `postgres.ts dbos <url>`

async function dbosProcess(url: string, mode: 'seq' | 'tp'): Promise<void> {
  const { DBOS } = await import('@dbos-inc/dbos-sdk');
  DBOS.setConfig({ name: 'keel-bench', systemDatabaseUrl: url, logLevel: 'error' });
  const s1 = DBOS.registerStep(async (x: number) => Promise.resolve(x + 1), { name: 's1' });
  const s2 = DBOS.registerStep(async (x: number) => Promise.resolve(x + 1), { name: 's2' });
  const s3 = DBOS.registerStep(async (x: number) => Promise.resolve(x + 1), { name: 's3' });
  const three = DBOS.registerWorkflow(
    async (x: number) => {
      const a = await s1(x);
      const b = await s2(a);
      return s3(b);
    },
    { name: 'three' },
  );
  await DBOS.launch();
  const once = (i: number) => three(i);
  if (mode === 'seq') {
    await serveSequential(once);
    await DBOS.shutdown();
    return;
  }
  await concurrent((i) => once(-1000 - i), 100); // warm-up
  const ms = await concurrent(once, N, 10_000);
  await DBOS.shutdown();
  process.stdout.write(`${JSON.stringify({ throughput: N / (ms / 1000) })}\n`);
}

function runDbos(url: string): Promise<{ throughput: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags('dbos'), '--import', 'tsx', fileURLToPath(import.meta.url), 'dbos', url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as { throughput: number }) : reject(new Error(`dbos exited ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [mode, url = '', ...rest] = process.argv.slice(2);
  if (mode === 'keel-seq') return keelWorker(url, 'seq', 0, 0, 0);
  if (mode === 'keel') return keelWorker(url, rest[0] ?? 'tp', Number(rest[1]), Number(rest[2]), Number(rest[3]));
  if (mode === 'dbos-seq') return dbosProcess(url, 'seq');
  if (mode === 'store-seq') return storeProcess(url);
  if (mode === 'dbos') return dbosProcess(url, 'tp');

  const name = `keel_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${name}`;
  const target = dbUrl.toString();
  try {
    console.log(
      `PostgreSQL ${target.replace(/:[^:@/]*@/, ':***@')}; ${SEQ} sequential workflows, ${N} for throughput (${WINDOW} in flight); ` +
        `${ROUNDS} round(s); sequential workflows in turns of ${CHUNK}: DBOS, Keel and Keel's store alone, rotating`,
    );
    const rows: { dbos: Figures; keel: Figures; store: Figures; keel2: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const load = loadavg()[0]?.toFixed(2);
      const sequential = await sequentialInTurns(target);
      const floor = await bareCommit(target);
      const dbos = { ...sequential.dbos, throughput: (await runDbos(target)).throughput };
      const keel1 = await keelThroughput(target, 1);
      const keel2 = await keelThroughput(target, 2);
      const keel = { ...sequential.keel, throughput: keel1 };
      const store = sequential.store;
      rows.push({ dbos, keel, store, keel2 });
      console.log(`round ${round} (load average ${load} before, ${loadavg()[0]?.toFixed(2)} after)`);
      console.log(`  one bare commit on this server (a one-row INSERT): p50 ${floor.toFixed(2)} ms`);
      const wrote = (f: Figures): string => `${f.commits?.toFixed(1)} commits, ${((f.walBytes ?? NaN) / 1024).toFixed(1)} KiB of WAL per workflow`;
      console.log(`  DBOS Transact  p50 ${dbos.p50?.toFixed(2)} ms  p99 ${dbos.p99?.toFixed(2)} ms  ${wrote(dbos)}  ${dbos.throughput.toFixed(0)} workflows/s`);
      console.log(`  Keel           p50 ${keel.p50?.toFixed(2)} ms  p99 ${keel.p99?.toFixed(2)} ms  ${wrote(keel)}`);
      console.log(`  Keel's store alone, its four writes of a workflow without the engine: p50 ${store.p50?.toFixed(2)} ms  p99 ${store.p99?.toFixed(2)} ms  ${wrote(store)}`);
      console.log(`  Keel 1 worker  ${keel1.toFixed(0)} workflows/s`);
      console.log(`  Keel 2 workers ${keel2.toFixed(0)} workflows/s`);
      const p50 = (keel.p50 ?? NaN) / (dbos.p50 ?? NaN);
      console.log(
        `  ratios: p50 Keel/DBOS ${p50.toFixed(2)} (target ≤ 0.33); throughput Keel/DBOS 1 worker ${(keel1 / dbos.throughput).toFixed(2)}×, ` +
          `2 workers ${(keel2 / dbos.throughput).toFixed(2)}× (target ≥ 5×)`,
      );
    }
    if (rows.length > 1) {
      const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
      console.log('ranges over the rounds:');
      console.log(`  DBOS p50 ${range(rows.map((r) => r.dbos.p50 ?? NaN), 2)} ms, ${range(rows.map((r) => r.dbos.throughput), 0)} workflows/s`);
      console.log(`  Keel's store alone p50 ${range(rows.map((r) => r.store.p50 ?? NaN), 2)} ms`);
      console.log(`  Keel p50 ${range(rows.map((r) => r.keel.p50 ?? NaN), 2)} ms, 1 worker ${range(rows.map((r) => r.keel.throughput), 0)}, 2 workers ${range(rows.map((r) => r.keel2), 0)} workflows/s`);
      console.log(
        `  p50 Keel/DBOS ${range(rows.map((r) => (r.keel.p50 ?? NaN) / (r.dbos.p50 ?? NaN)), 2)}; ` +
          `throughput Keel/DBOS 1 worker ${range(rows.map((r) => r.keel.throughput / r.dbos.throughput), 2)}×, 2 workers ${range(rows.map((r) => r.keel2 / r.dbos.throughput), 2)}×`,
      );
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
