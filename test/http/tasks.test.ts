/**
 * Human tasks and resume over HTTP, on a real socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, defineWorkflow, type WorkflowContext } from '../../src/index.js';
import { createHttpApp } from '../../src/http/app.js';
import { listen, type RunningServer } from '../../src/http/server.js';
import { MemoryStore } from '../../src/testing/index.js';
import { ApiKeyFile } from '../../src/http/api-keys.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type TaskContext = WorkflowContext & {
  humanTask(name: string, options: { title: string; schema: z.ZodType }): Promise<{ status: string; data?: unknown; by?: string }>;
};

const review = defineWorkflow({
  name: 'review',
  async run(ctx) {
    const answer = await (ctx as TaskContext).humanTask('address', { title: 'Check the address', schema: z.object({ street: z.string().min(1) }) });
    return answer;
  },
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('human tasks and resume over a real socket', () => {
  it('lists the task of a waiting run, validates the answer, completes it once, and the run ends with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-tasks-'));
    const engine = createEngine({ store: new MemoryStore(), workflows: [review], pollIntervalMs: 20 });
    await engine.start();
    const keys = new ApiKeyFile(join(dir, 'keys.json'));
    const { secret } = keys.create('ops', 'write');
    const http = createHttpApp(engine, { auth: { keys } });
    const server: RunningServer = await listen(http, { port: 0 });
    closers.push(async () => {
      await server.close();
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const h = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    await fetch(`${server.url}/runs`, { method: 'POST', headers: h, body: JSON.stringify({ workflow: 'review', id: 'rev-1' }) });

    let tasks: { id: string; runId: string; status: string }[] = [];
    for (let i = 0; i < 500 && tasks.length === 0; i++) {
      tasks = ((await (await fetch(`${server.url}/tasks?status=pending`, { headers: h })).json()) as { tasks: typeof tasks }).tasks;
      if (tasks.length === 0) await new Promise((r) => setImmediate(r));
    }
    const task = tasks.find((t) => t.runId === 'rev-1');
    expect(task).toBeDefined();
    const id = task?.id as string;
    expect((await fetch(`${server.url}/tasks/${id}`, { headers: h })).status).toBe(200);

    const invalid = await fetch(`${server.url}/tasks/${id}/complete`, { method: 'POST', headers: h, body: JSON.stringify({ data: { street: '' } }) });
    expect(invalid.status).toBe(422);
    const done = await fetch(`${server.url}/tasks/${id}/complete`, { method: 'POST', headers: h, body: JSON.stringify({ data: { street: 'Main St 1' }, by: 'alice' }) });
    expect(done.status).toBe(200);
    const again = await fetch(`${server.url}/tasks/${id}/complete`, { method: 'POST', headers: h, body: JSON.stringify({ data: { street: 'Elm' } }) });
    expect(again.status).toBe(409);
    expect(await engine.handle('rev-1').result()).toMatchObject({ status: 'completed', data: { street: 'Main St 1' }, by: 'alice' });
    expect((await fetch(`${server.url}/tasks/missing`, { headers: h })).status).toBe(404);

    // Only a failed run can be resumed.
    const notFailed = await fetch(`${server.url}/runs/rev-1/resume`, { method: 'POST', headers: h });
    expect(notFailed.status).toBe(409);
    expect((await fetch(`${server.url}/runs/missing/resume`, { method: 'POST', headers: h })).status).toBe(404);
  });
});
