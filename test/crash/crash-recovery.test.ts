/**
 * Crash recovery with real processes: a worker runs 200 five-step workflows on a SQLite file and is
 * killed with SIGKILL at a named fault point; a second worker recovers. Every run completes, every
 * step is recorded exactly once, and the side-effect log shows exactly the re-runs the crash
 * implies: the steps whose effect happened before the kill but whose record had not committed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/storage/sqlite/index.js';

const worker = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
const RUNS = 200;
const STEPS = ['s1', 's2', 's3', 's4', 's5'];
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runWorker(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** (run, step) pairs with a step.completed record, and how many records each has. */
async function recorded(db: string): Promise<Map<string, number>> {
  const store = new SqliteStore({ path: db });
  await store.open();
  const counts = new Map<string, number>();
  try {
    for (let i = 0; i < RUNS; i++) {
      const id = `run-${String(i).padStart(3, '0')}`;
      for (const e of await store.history(id)) {
        if (e.type === 'step.completed') counts.set(`${id} ${e.name}`, (counts.get(`${id} ${e.name}`) ?? 0) + 1);
      }
    }
  } finally {
    await store.close();
  }
  return counts;
}

function effects(log: string): { byPid: Map<string, string[]>; counts: Map<string, number> } {
  const byPid = new Map<string, string[]>();
  const counts = new Map<string, number>();
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [run, step, pid] = line.split(' ') as [string, string, string];
    const key = `${run} ${step}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    byPid.set(pid, [...(byPid.get(pid) ?? []), key]);
  }
  return { byPid, counts };
}

describe.each([
  { fault: 'step.afterSideEffect', at: 300, faultedReruns: true },
  { fault: 'step.afterRecord', at: 450, faultedReruns: false },
  { fault: 'run.suspended', at: 150, faultedReruns: false },
])('SIGKILL at $fault (hit $at)', ({ fault, at, faultedReruns }) => {
  it('recovers every run with each step recorded once and only the implied re-runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-crash-'));
    dirs.push(dir);
    const env = {
      KEEL_DB: join(dir, 'keel.db'),
      SIDE_EFFECTS: join(dir, 'effects.log'),
      FAULT_INFO: join(dir, 'fault.json'),
    };

    const first = await runWorker({ ...env, RUNS: String(RUNS), FAULT: fault, FAULT_AT: String(at) });
    expect(first.signal, first.err).toBe('SIGKILL');
    expect(existsSync(env.FAULT_INFO)).toBe(true);
    const faulted = JSON.parse(readFileSync(env.FAULT_INFO, 'utf8')) as { runId: string; step?: string };

    // What the first worker had done (side effects) and committed (records) when it died.
    const beforeRecords = await recorded(env.KEEL_DB);
    const firstEffects = effects(env.SIDE_EFFECTS).counts;
    const implied = [...firstEffects.keys()].filter((k) => !beforeRecords.has(k)).sort();

    const second = await runWorker({ ...env, RUNS: String(RUNS) });
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain('DONE');

    const after = await recorded(env.KEEL_DB);
    for (let i = 0; i < RUNS; i++) {
      for (const step of STEPS) expect(after.get(`run-${String(i).padStart(3, '0')} ${step}`)).toBe(1);
    }
    expect(after.size).toBe(RUNS * STEPS.length);

    const { counts, byPid } = effects(env.SIDE_EFFECTS);
    expect(byPid.size).toBe(2);
    expect(counts.size).toBe(RUNS * STEPS.length);
    const reruns = [...counts].filter(([, n]) => n > 1).map(([k]) => k).sort();
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    expect(reruns).toEqual(implied);
    if (faultedReruns) expect(reruns).toContain(`${faulted.runId} ${faulted.step}`);
    else if (faulted.step) expect(reruns).not.toContain(`${faulted.runId} ${faulted.step}`);

    const store = new SqliteStore({ path: env.KEEL_DB });
    await store.open();
    const done = await store.listRuns({ status: 'completed', limit: 1000 });
    expect(done.runs).toHaveLength(RUNS);
    for (const r of done.runs) expect(r.output).toBe(Number(r.id.slice(4)) * 10 + 5);
    await store.close();
  });
});
