/** The engine on PostgreSQL: chosen by URL or by KEEL_DATABASE_URL / DATABASE_URL, woken by NOTIFY. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, defineWorkflow, ErrorCode, type Engine } from '../../src/index.js';
import { storeFromUrl } from '../../src/engine/store-url.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase } from './pg-helpers.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const engines: Engine[] = [];
const saved = { KEEL_DATABASE_URL: process.env.KEEL_DATABASE_URL, DATABASE_URL: process.env.DATABASE_URL };

beforeAll(async () => {
  db = await createTestDatabase('engine');
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(async () => {
  await db?.drop();
});

const greet = defineWorkflow({
  name: 'greet',
  async run(ctx, input: { name: string }) {
    const a = await ctx.step('hello', () => `hello ${input.name}`);
    const b = await ctx.waitForSignal<string>('suffix');
    return ctx.step('join', () => `${a}${b ?? ''}`);
  },
});

function track(engine: Engine): Engine {
  engines.push(engine);
  return engine;
}

describe('engine on PostgreSQL', () => {
  it("runs a workflow with store: 'postgres://…?schema=…'; a client engine's signal wakes the worker at once", async () => {
    // Polling once a minute: only the NOTIFY from the other engine can wake the worker in time.
    const worker = track(createEngine({ store: `${db.url}?schema=by_url`, workflows: [greet], pollIntervalMs: 60_000 }));
    await worker.start();
    const client = track(createEngine({ store: `${db.url.replace('postgres://', 'postgresql://')}?schema=by_url`, workflows: [greet], pollIntervalMs: 60_000 }));
    const handle = await client.run(greet, { name: 'pg' }, { id: 'g1' });
    const started = Date.now();
    for (let i = 0; i < 200 && (await client.getRun('g1')).status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await client.getRun('g1')).status).toBe('waiting');
    await client.signal('g1', 'suffix', '!');
    expect(await worker.handle('g1').result()).toBe('hello pg!');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await handle.result()).toBe('hello pg!');
  });

  it("takes '?lockTimeoutMs=' from the URL for the store's connections, and leaves the other parameters to pg", async () => {
    const store = await storeFromUrl(`${db.url}?schema=by_url_lock&lockTimeoutMs=1234&application_name=keel-url-test`);
    expect(store).toBeInstanceOf(PostgresStore);
    const pgStore = store as PostgresStore;
    try {
      await pgStore.open();
      const { rows } = await pgStore.pool.query<{ lock: string; app: string }>("SELECT current_setting('lock_timeout') AS lock, current_setting('application_name') AS app");
      expect(rows[0]).toEqual({ lock: '1234ms', app: 'keel-url-test' });
      expect(pgStore.schema).toBe('by_url_lock');
    } finally {
      await pgStore.pool.query('DROP SCHEMA IF EXISTS by_url_lock CASCADE');
      await pgStore.close();
    }
  });

  it('takes the store from KEEL_DATABASE_URL, else DATABASE_URL, and says what to set when neither is', async () => {
    delete process.env.KEEL_DATABASE_URL;
    delete process.env.DATABASE_URL;
    expect(() => createEngine({ workflows: [greet] })).toThrow(expect.objectContaining({ code: ErrorCode.Config, message: expect.stringMatching(/KEEL_DATABASE_URL/) }));

    process.env.DATABASE_URL = `${db.url}?schema=from_env`;
    const engine = track(createEngine({ workflows: [greet] }));
    await engine.start();
    await engine.run(greet, { name: 'env' }, { id: 'e1' });
    await engine.signal('e1', 'suffix', '?');
    expect(await engine.handle('e1').result()).toBe('hello env?');

    process.env.KEEL_DATABASE_URL = 'postgres://nobody@127.0.0.1:1/nowhere';
    const unreachable = track(createEngine({ workflows: [greet] }));
    await expect(unreachable.getRun('x')).rejects.toMatchObject({ code: ErrorCode.StoreUnreachable, message: expect.stringMatching(/127\.0\.0\.1:1, database 'nowhere'/) });
  });

  it('a human task answered through a client engine wakes the worker; a second answer is a conflict', async () => {
    const approve = defineWorkflow({
      name: 'approve',
      async run(ctx) {
        const r = await ctx.humanTask('approve', { title: 'Approve?', schema: z.object({ ok: z.boolean() }), assignee: 'ops' });
        return r.status === 'completed' ? r.data.ok : r.status;
      },
    });
    const store = `${db.url}?schema=tasks`;
    const worker = track(createEngine({ store, workflows: [approve], pollIntervalMs: 60_000 }));
    await worker.start();
    const client = track(createEngine({ store, workflows: [approve] }));
    await client.run(approve, undefined, { id: 'a1' });
    let taskId: string | undefined;
    for (let i = 0; i < 300 && taskId === undefined; i++) {
      taskId = (await client.listHumanTasks({ assignee: 'ops', status: 'pending' })).tasks[0]?.id;
      if (taskId === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(taskId).toBeDefined();
    await expect(client.completeHumanTask(taskId!, { ok: 'yes' })).rejects.toMatchObject({ code: ErrorCode.Validation, message: expect.stringContaining('ok') });
    expect(await client.completeHumanTask(taskId!, { ok: true }, { by: 'dana' })).toMatchObject({ status: 'completed', completedBy: 'dana' });
    expect(await worker.handle('a1').result()).toBe(true);
    await expect(client.completeHumanTask(taskId!, { ok: false })).rejects.toMatchObject({ code: ErrorCode.Conflict });
  });
});
