import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, defineWorkflow, ErrorCode } from '../../src/index.js';
import { SimulatedClock } from '../../src/testing/index.js';

const clock = () => new SimulatedClock({ autoAdvance: true });

const dir = mkdtempSync(join(tmpdir(), 'keel-url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hello = defineWorkflow({
  name: 'hello',
  async run(ctx, input: { name: string }) {
    const text = await ctx.step('compose', () => `Hello, ${input.name}`);
    await ctx.sleep('1h');
    return text;
  },
});

describe('store URLs', () => {
  it.each([
    ['postgre://x', 'unknown scheme'],
    ['sqlite:', 'the path is missing'],
    ['sqlite:./a.db?durability=maybe', "durability must be 'process' or 'power'"],
    ['sqlite:./a.db?journal=off', "unknown option 'journal'"],
    ['sqlite:./a.db?busyTimeoutMs=5s', "busyTimeoutMs must be a whole number of milliseconds, not '5s'"],
    ['sqlite:./a.db?busyTimeoutMs=-1', "busyTimeoutMs must be a whole number of milliseconds, not '-1'"],
    ['postgres://keel:s3cret@db.example:5432/app?lockTimeoutMs=soon', "lockTimeoutMs must be a whole number of milliseconds, not 'soon'"],
    ['postgre://keel:s3cret@db.example:5432/app', 'unknown scheme'],
    ['./keel.db', 'unknown scheme'],
  ])('refuses %s with INVALID_STORE_URL', async (url, why) => {
    const engine = createEngine({ store: url, workflows: [hello] });
    const err = await engine.run(hello, { name: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidStoreUrl });
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain("'sqlite:./path/to/keel.db'");
    expect((err as Error).message).not.toContain('s3cret');
    await engine.stop();
  });

  it('runs on a SQLite file given as a URL, and the file keeps the run after the engine stops', async () => {
    const path = join(dir, 'hello.db');
    const engine = createEngine({ store: `sqlite:${path}?durability=power`, workflows: [hello], clock: clock() });
    await engine.start();
    const run = await engine.run(hello, { name: 'Ada' }, { id: 'h1' });
    expect(await run.result()).toBe('Hello, Ada');
    await engine.stop();
    const reader = createEngine({ store: `sqlite:${path}`, workflows: [hello] });
    expect((await reader.getRun('h1')).status).toBe('completed');
    expect((await reader.history('h1')).map((e) => e.type)).toEqual([
      'run.started',
      'step.completed',
      'timer.scheduled',
      'timer.fired',
      'run.completed',
    ]);
    await reader.stop();
  });

  it("takes the busy timeout from '?busyTimeoutMs=': a start kept waiting longer by another process's write lock fails with STORE_BUSY", async () => {
    const path = join(dir, 'busy.db');
    const url = `sqlite:${path}?busyTimeoutMs=40`;
    const first = createEngine({ store: url, workflows: [hello] });
    await first.run(hello, { name: 'first' }, { id: 'b1' }); // the file exists, migrated
    await first.stop();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const engine = createEngine({ store: url, workflows: [hello] });
      const err = await engine.run(hello, { name: 'x' }, { id: 'b2' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.StoreBusy, details: { busyTimeoutMs: 40 } });
      expect((err as Error).message).toContain('the busy timeout (40 ms)');
      other.exec('ROLLBACK');
      await expect(engine.getRun('b2')).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await engine.stop();
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });

  it('runs on memory: and sqlite::memory:', async () => {
    for (const url of ['memory:', 'sqlite::memory:']) {
      const engine = createEngine({ store: url, workflows: [hello], clock: clock() });
      await engine.start();
      expect(await (await engine.run(hello, { name: url })).result()).toBe(`Hello, ${url}`);
      await engine.stop();
    }
  });
});

describe('an engine given a Store object', () => {
  it('opens it on first use: a client that never starts starts runs, which a worker then finishes', async () => {
    const path = join(dir, 'client.db');
    const { SqliteStore } = await import('../../src/storage/sqlite/index.js');
    const clientStore = new SqliteStore({ path });
    const client = createEngine({ store: clientStore, workflows: [hello] });
    const handle = await client.run(hello, { name: 'client' }, { id: 'c1' });
    expect((await client.getRun('c1')).status).toBe('pending');
    const worker = createEngine({ store: `sqlite:${path}`, workflows: [hello], clock: clock() });
    await worker.start();
    expect(await worker.handle(handle.id).result()).toBe('Hello, client');
    await worker.stop();
    await client.stop();
    await clientStore.close();
  });
});
