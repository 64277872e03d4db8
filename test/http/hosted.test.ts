/**
 * Machines and wizards over HTTP, on a real socket: machine events, and a wizard's start, input
 * and back, through the same engine methods a library user calls.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { ApiKeyFile } from '../../src/http/api-keys.js';
import { createHttpApp } from '../../src/http/app.js';
import { listen } from '../../src/http/server.js';
import { defineMachineWorkflow } from '../../src/machine/index.js';
import { MemoryStore } from '../../src/testing/index.js';
import { defineWizardWorkflow, parseWizardDefinition } from '../../src/wizard/index.js';
import { loadExamples } from '../machine/examples.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const examples = await loadExamples();
const toggle = defineMachineWorkflow(examples.simpleToggle, {
  actions: { increment_count: (ctx) => ({ count: (typeof ctx.count === 'number' ? ctx.count : 0) + 1 }) },
});
const quickSource = readFileSync(fileURLToPath(new URL('../../examples/wizards/quick.yaml', import.meta.url)), 'utf8');
const quick = defineWizardWorkflow(parseWizardDefinition(quickSource, { source: 'examples/wizards/quick.yaml' }));

async function serve(): Promise<{ engine: Engine; url: string; post: (path: string, body: unknown) => Promise<Response> }> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hosted-'));
  const engine = createEngine({ store: new MemoryStore(), workflows: [toggle, quick], pollIntervalMs: 20 });
  await engine.start();
  const keys = new ApiKeyFile(join(dir, 'keys.json'));
  const { secret } = keys.create('ops', 'write');
  const server = await listen(createHttpApp(engine, { auth: { keys } }), { port: 0 });
  closers.push(async () => {
    await server.close();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
  return {
    engine,
    url: server.url,
    post: (path, body) => fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) }),
  };
}

describe('machines and wizards over a real socket', () => {
  it('sends events to a machine run and answers each with its transition; a malformed event or an unknown run is refused', async () => {
    const { engine, post } = await serve();
    const run = await engine.run(toggle, {}, { id: 'toggle-1' });

    const first = await post(`/runs/${run.id}/machine-events`, { event: 'toggle' });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ taken: true, from: 'off', to: 'on' });
    expect(await (await post(`/runs/${run.id}/machine-events`, { event: 'toggle' })).json()).toMatchObject({ taken: true, from: 'on', to: 'off' });
    const state = (await engine.getRun(run.id)).state.machine as { context: { count: number } };
    expect(state.context.count).toBe(2);

    const missing = await post('/runs/nope/machine-events', { event: 'toggle' });
    expect(missing.status).toBe(404);
    const malformed = await post(`/runs/${run.id}/machine-events`, { payload: 1 });
    expect(malformed.status).toBe(422);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });

  it('starts a wizard, refuses an invalid answer, goes back, and ends with the answers', async () => {
    const { engine, post } = await serve();

    const started = await post('/wizards/quick/start', { id: 'wiz-1' });
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ runId: 'wiz-1', status: 'waiting', prompt: { slug: 'topic' } });

    let reply = (await (await post('/runs/wiz-1/wizard/input', { value: 'keel' })).json()) as { prompt?: { slug: string }; error?: string };
    expect(reply.prompt?.slug).toBe('rating');
    reply = (await (await post('/runs/wiz-1/wizard/input', { value: 9 })).json()) as typeof reply;
    expect(reply.error).toBeDefined();
    expect(reply.prompt?.slug).toBe('rating');

    reply = (await (await post('/runs/wiz-1/wizard/back', { slug: 'topic' })).json()) as typeof reply;
    expect(reply.prompt?.slug).toBe('topic');
    await post('/runs/wiz-1/wizard/input', { value: 'durable runs' });
    const done = (await (await post('/runs/wiz-1/wizard/input', { value: 4 })).json()) as { status: string };
    expect(done.status).toBe('completed');
    expect((await engine.getRun('wiz-1')).output).toEqual({ answers: { topic: 'durable runs', rating: 4 }, committed: false });

    expect((await post('/wizards/nope/start', {})).status).toBe(404);
    expect((await post('/runs/wiz-1/wizard/input', { value: 1 })).status).toBe(409);
  });
});
