/**
 * A machine survives a process kill: a worker process runs a machine on a SQLite file and is killed
 * with SIGKILL; this process opens the same file and finds the run in the same state with the same
 * context, and further events work.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { loadMachine, MACHINE_STATE_KEY, sendEvent, type MachineRunState } from '../../src/machine/index.js';

const worker = fileURLToPath(new URL('./fixtures/durable/crash-machine-worker.ts', import.meta.url));
const orderFile = fileURLToPath(new URL('./fixtures/durable/order-with-shipping.orca.md', import.meta.url));
const dirs: string[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runWorker(env: Record<string, string>): Promise<{ signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ signal, out, err }));
  });
}

function setup(mode: string): { env: Record<string, string>; db: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keel-machine-crash-'));
  dirs.push(dir);
  const db = join(dir, 'keel.db');
  const log = join(dir, 'effects.log');
  return { env: { KEEL_DB: db, SIDE_EFFECTS: log, MODE: mode }, db, log };
}

async function recoveringEngine(db: string, log: string[]): Promise<Engine> {
  const engine = createEngine({ store: `sqlite:${db}`, pollIntervalMs: 20 });
  engines.push(engine);
  await loadMachine(engine, orderFile, {
    actions: {
      keep_tracking: (_ctx, p) => ({ tracking: (p as { context: { tracking: string } }).context.tracking }),
      set_tracking: (_ctx, p) => ({ tracking: (p as { tracking: string }).tracking }),
    },
    effects: {
      Charge: () => {
        log.push('charge');
        return { charge_id: 'recharged' };
      },
    },
  });
  return engine;
}

async function stateOf(engine: Engine, runId: string): Promise<MachineRunState> {
  return (await engine.getRun(runId)).state[MACHINE_STATE_KEY] as MachineRunState;
}

describe('machine runs survive SIGKILL', () => {
  it('after events: the same state and context in the next process, and further events work', async () => {
    const { env, db, log } = setup('after-events');
    const { signal, out, err } = await runWorker(env);
    expect(signal, err).toBe('SIGKILL');
    const before = JSON.parse(/^STATE (.*)$/m.exec(out)?.[1] ?? 'null') as MachineRunState;
    expect(before).toMatchObject({ state: 'packing', context: { order_id: 'o-crash', charge_id: 'ch_o-crash' } });

    const charges: string[] = [];
    const engine = await recoveringEngine(db, charges);
    const after = await stateOf(engine, 'crash-order');
    expect(after.state).toBe(before.state);
    expect(after.context).toEqual(before.context);
    expect(after.timers).toEqual(before.timers);

    await engine.start();
    expect(await sendEvent(engine, 'crash-order', 'packed')).toMatchObject({ taken: true, from: 'packing', to: 'shipping' });
    const childId = `crash-order:${(await stateOf(engine, 'crash-order')).children?.[0]?.id}`;
    for (let i = 0; i < 2000 && (await engine.getRun(childId).catch(() => undefined))?.state[MACHINE_STATE_KEY] === undefined; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await sendEvent(engine, childId, 'handed_over', { tracking: 'T-crash' });
    await sendEvent(engine, childId, 'arrived');
    await expect(engine.handle('crash-order').result()).resolves.toMatchObject({
      state: 'delivered',
      context: { order_id: 'o-crash', charge_id: 'ch_o-crash', tracking: 'T-crash' },
    });
    // The recorded effect never ran again.
    expect(charges).toEqual([]);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('mid-effect: the event is processed again and the effect re-runs (at least once), then the machine goes on', async () => {
    const { env, db, log } = setup('mid-effect');
    const { signal, err } = await runWorker(env);
    expect(signal, err).toBe('SIGKILL');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);

    const charges: string[] = [];
    const engine = await recoveringEngine(db, charges);
    // The event was received but its step never recorded: the stored state is still the start.
    expect(await stateOf(engine, 'crash-order')).toMatchObject({ state: 'new', lastEvent: null });
    await engine.start();
    for (let i = 0; i < 2000 && (await stateOf(engine, 'crash-order')).lastEvent?.id !== 'pay-1'; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await stateOf(engine, 'crash-order')).toMatchObject({ state: 'charging', context: { charge_id: 'recharged' } });
    expect(charges).toEqual(['charge']);
    expect(await sendEvent(engine, 'crash-order', 'packed')).toMatchObject({ taken: true, to: 'packing' });
  });
});
