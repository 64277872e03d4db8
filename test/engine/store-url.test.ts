import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    ['./keel.db', 'unknown scheme'],
  ])('refuses %s with INVALID_STORE_URL', async (url, why) => {
    const engine = createEngine({ store: url, workflows: [hello] });
    const err = await engine.run(hello, { name: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidStoreUrl });
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain("'sqlite:./path/to/keel.db'");
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
