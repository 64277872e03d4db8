/**
 * Store hot-path costs: µs per write of one-event items (a durable step is one such write), in
 * batches of 1 and of 100 (group commit), plus createRun and claimDue, on a SQLite file under both
 * durability levels and on the memory store for comparison. Each figure is the best of ROUNDS
 * rounds: on a shared machine the minimum is the figure least disturbed by other load.
 *
 *   node --import tsx --conditions=source bench/store.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lease, Store } from '../src/core/store.js';
import { MemoryStore } from '../src/storage/memory/index.js';
import { SqliteStore } from '../src/storage/sqlite/index.js';

const RUNS = 1000;
const WRITES = 20_000;
const T0 = 1_700_000_000_000;
const LEASE_MS = 3_600_000;

const ROUNDS = 3;
const usPer = (ms: number, n: number): string => ((ms * 1000) / n).toFixed(2).padStart(8);

/** Best-of-ROUNDS wall time in ms of `fn`. */
async function best(fn: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

async function bench(name: string, store: Store): Promise<void> {
  await store.open();
  let now = T0;

  const t = performance.now();
  const leases: Lease[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { lease } = await store.createRun(
      { id: `run-${i}`, kind: 'workflow', workflow: 'bench', version: '1', input: { i }, claim: { owner: 'w', expiresAt: now + LEASE_MS } },
      now,
    );
    if (lease) leases.push(lease);
  }
  const createMs = performance.now() - t;

  const pos = new Map<string, number>();
  const item = (k: number) => {
    const lease = leases[k % leases.length]!;
    const p = (pos.get(lease.runId) ?? 0) + 1;
    pos.set(lease.runId, p);
    return {
      runId: lease.runId,
      token: lease.token,
      events: [{ type: 'step.completed' as const, pos: p, name: 'charge', attempt: 1, result: { id: `ch_${k}`, amount: 42 } }],
    };
  };

  const single = await best(async () => {
    for (let k = 0; k < WRITES; k++) await store.write([item(k)], ++now);
  });
  const batched = await best(async () => {
    for (let k = 0; k < WRITES; k += 100) {
      const batch = Array.from({ length: 100 }, (_, j) => item(k + j));
      await store.write(batch, ++now);
    }
  });

  // claimDue over a backlog of 40,000 due runs: 100 claims of 1, then 100 claims of 100, per round.
  for (let i = 0; i < 40_000; i++) {
    await store.createRun({ id: `due-${i}`, kind: 'workflow', workflow: 'bench', version: '1', input: null }, now - 40_000 + i);
  }
  const claimOne = await best(async () => {
    for (let i = 0; i < 100; i++) await store.claimDue({ owner: 'w', now, leaseMs: LEASE_MS, limit: 1 });
  });
  const claimHundred = await best(async () => {
    for (let i = 0; i < 100; i++) await store.claimDue({ owner: 'w', now, leaseMs: LEASE_MS, limit: 100 });
  });

  await store.close();
  console.log(
    `${name.padEnd(22)} write×1 ${usPer(single, WRITES)} µs/item   write×100 ${usPer(batched, WRITES)} µs/item   ` +
      `createRun ${usPer(createMs, RUNS)} µs   claimDue(1) ${usPer(claimOne, 100)} µs/call   ` +
      `claimDue(100) ${usPer(claimHundred, 100 * 100)} µs/run`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
try {
  await bench('memory', new MemoryStore());
  await bench('sqlite process', new SqliteStore({ path: join(dir, 'process.db') }));
  await bench('sqlite power', new SqliteStore({ path: join(dir, 'power.db'), durability: 'power' }));
  await bench('sqlite :memory:', new SqliteStore({ path: ':memory:' }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
