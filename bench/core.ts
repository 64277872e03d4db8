/**
 * Core benchmark (SQLite, durability 'process'): overhead per durable step, 3-step workflows per
 * second, and process RSS with many waiting runs in the store. Prints figures; asserts nothing.
 *
 *   npm run bench
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
// The package as users run it: its compiled `dist/` (npm run bench builds it first).
import { createEngine, defineWorkflow } from 'keel';
import { SqliteStore } from 'keel/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const rssMb = (): number => process.memoryUsage().rss / 1024 / 1024;

const STEPS = 2_000;
const manySteps = defineWorkflow({
  name: 'many-steps',
  async run(ctx, input: { steps: number }) {
    let x = 0;
    for (let i = 0; i < input.steps; i++) x = await ctx.step(`s${i}`, () => x + 1);
    return x;
  },
});
const threeSteps = defineWorkflow({
  name: 'three-steps',
  async run(ctx, input: { n: number }) {
    const a = await ctx.step('a', () => input.n + 1);
    const b = await ctx.step('b', () => a * 2);
    return ctx.step('c', () => b - 1);
  },
});
const waiter = defineWorkflow({
  name: 'waiter',
  async run(ctx) {
    return ctx.waitForSignal('go');
  },
});

/** Median and range of a list of figures. */
function spread(xs: number[], digits = 1): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${fmt(s[Math.floor(s.length / 2)] as number, digits)} (${fmt(s[0] as number, digits)}–${fmt(s[s.length - 1] as number, digits)})`;
}

async function stepOverhead(): Promise<void> {
  const engine = createEngine({ store: `sqlite:${join(dir, 'steps.db')}`, workflows: [manySteps] });
  await engine.start();
  await (await engine.run(manySteps, { steps: STEPS })).result(); // warm up
  // Rounds of one run stepping sequentially: this machine's speed varies from second to second
  // (other tenants, the disk), so the median round is the figure, printed with the range.
  const rounds: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await (await engine.run(manySteps, { steps: STEPS })).result();
    rounds.push(((performance.now() - t0) * 1000) / STEPS);
  }
  await engine.stop();
  const mean = rounds.reduce((a, b) => a + b, 0) / rounds.length;
  console.log(`durable step overhead (sequential, one run):   ${spread(rounds)} µs per step, mean ${fmt(mean)}   (target ≤ 25)`);
  console.log(`  (median of ${rounds.length} runs of ${fmt(STEPS, 0)} steps, with the range)`);
}

/**
 * µs per call of `call`, in 10 rounds of STEPS calls after STEPS to warm up. A call that returns a
 * promise is awaited; one that does not runs without a turn of the microtask queue.
 */
async function perCall(call: () => unknown): Promise<number[]> {
  const many = async (): Promise<void> => {
    for (let i = 0; i < STEPS; i++) {
      const result = call();
      if (result instanceof Promise) await result;
    }
  };
  await many();
  const rounds: number[] = [];
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    await many();
    rounds.push(((performance.now() - t0) * 1000) / STEPS);
  }
  return rounds;
}

/**
 * The floor under any durable step on this machine: one SQLite commit of one small row into one
 * b-tree (one page of WAL, as a step's record on a sequential run), WAL, synchronous=NORMAL,
 * checkpoints left out (a busy Keel store runs them on their own thread).
 */
async function commitFloor(): Promise<void> {
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (data TEXT)');
  const insert = db.prepare('INSERT INTO t (data) VALUES (?)');
  const rounds = await perCall(() => insert.run('{"type":"step.completed","pos":1,"name":"s1","attempt":1,"result":2}'));
  db.close();
  console.log(`  (floor on this machine: one bare SQLite commit of one row = ${spread(rounds)} µs)`);
}

/**
 * What a step's record costs in the store alone, between the floor and the engine: `store.write` of
 * one step.completed event at its seq, sequentially, on a claimed run, as the engine sends it. The
 * step overhead above is this plus the engine's own work.
 */
async function storeRecord(): Promise<void> {
  const store = new SqliteStore({ path: join(dir, 'store.db') });
  await store.open();
  const { lease } = await store.createRun(
    { id: 'bench', kind: 'workflow', workflow: 'many-steps', version: '1', input: null, claim: { owner: 'bench', expiresAt: Date.now() + 3_600_000 } },
    Date.now(),
  );
  if (!lease) throw new Error('the run was not created claimed');
  let seq = 1;
  const record = async (): Promise<void> => {
    seq++;
    const [result] = await store.write(
      [{ runId: 'bench', token: lease.token, seq, events: [{ type: 'step.completed', pos: seq - 1, name: `s${seq - 1}`, attempt: 1, result: seq }] }],
      Date.now(),
    );
    if (!result?.ok) throw new Error(`step record ${seq} was refused`);
  };
  const rounds = await perCall(record);
  await store.close();
  console.log(`  (one step's record through the store alone, store.write without the engine = ${spread(rounds)} µs)`);
}

/** Many runs at once: group commit shares each transaction among the steps of many runs. */
async function stepCostUnderLoad(): Promise<void> {
  const engine = createEngine({ store: `sqlite:${join(dir, 'steps-load.db')}`, workflows: [manySteps], maxConcurrentRuns: 1_000 });
  await engine.start();
  const runs = 500;
  const steps = 100;
  const t0 = performance.now();
  const handles = await Promise.all(Array.from({ length: runs }, () => engine.run(manySteps, { steps })));
  await Promise.all(handles.map((h) => h.result()));
  const us = ((performance.now() - t0) * 1000) / (runs * steps);
  await engine.stop();
  console.log(`durable step cost, ${runs} runs at once (group commit): ${fmt(us)} µs per step`);
}

async function throughput(): Promise<void> {
  const engine = createEngine({ store: `sqlite:${join(dir, 'throughput.db')}`, workflows: [threeSteps], maxConcurrentRuns: 2_000 });
  await engine.start();
  // Completions are counted from the engine's events: the figure is the worker's throughput, not
  // that of 20,000 clients each reading its result back.
  let completed = 0;
  let target = 0;
  let allDone: () => void = () => {};
  engine.on('run.completed', () => {
    if (++completed === target) allDone();
  });
  const batch = async (n: number): Promise<number> => {
    completed = 0;
    target = n;
    const done = new Promise<void>((r) => (allDone = r));
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => engine.run(threeSteps, { n: i })));
    await done;
    return performance.now() - t0;
  };
  await batch(1_000); // warm up
  const n = 20_000;
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push((n * 1000) / (await batch(n)));
  await engine.stop();
  console.log(`3-step workflows per second (${fmt(n, 0)} runs):      ${spread(rates, 0)} /s   (target ≥ 10,000)`);
  console.log(`  (median of ${rates.length} batches, with the range)`);
}

async function waitingMemory(): Promise<void> {
  const path = join(dir, 'waiting.db');
  const client = createEngine({ store: `sqlite:${path}`, workflows: [waiter] });
  const fill = async (count: number): Promise<void> => {
    const chunk = 2_000;
    for (let i = 0; i < count; i += chunk) {
      await Promise.all(Array.from({ length: Math.min(chunk, count - i) }, () => client.run(waiter, undefined)));
    }
  };
  const measure = async (label: string): Promise<void> => {
    // A worker claims every pending run, suspends it as waiting, and lets it go.
    const worker = createEngine({ store: `sqlite:${path}`, workflows: [waiter], maxConcurrentRuns: 2_000, pollIntervalMs: 50 });
    await worker.start();
    for (;;) {
      const open = await worker.listRuns({ status: ['pending', 'running'], limit: 1 });
      if (open.runs.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Without --expose-gc (npm run bench passes it) the heap figure would include garbage.
    global.gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const heap = process.memoryUsage().heapUsed / 1024 / 1024;
    const heapLabel = global.gc ? 'JS heap in use after GC' : 'JS heap in use, no forced GC: run with --expose-gc';
    console.log(`RSS with ${label.padEnd(8)} waiting runs in the store:  ${fmt(rssMb(), 0)} MB (${heapLabel}: ${fmt(heap, 0)} MB)`);
    await worker.stop();
  };
  await fill(1_000);
  await measure('1,000');
  await fill(99_000);
  await measure('100,000');
  await client.stop();
}

console.log(`Keel core benchmark — SQLite, durability 'process', Node ${process.version}\n`);
await stepOverhead();
await commitFloor();
await storeRecord();
await stepCostUnderLoad();
await throughput();
await waitingMemory();
rmSync(dir, { recursive: true, force: true });
