import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, defineWorkflow } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-res-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;

describe('every start has a release', () => {
  it('leaves no timer behind after stop, with runs waiting and a result waiter pending', async () => {
    const before = timers();
    const waits = defineWorkflow({
      name: 'waits',
      async run(ctx) {
        await ctx.step('one', () => 1);
        return ctx.waitForSignal('go', { timeout: '1h' });
      },
    });
    const engine = createEngine({ store: `sqlite:${join(dir, 'res.db')}`, workflows: [waits] });
    await engine.start();
    const runs = await Promise.all([engine.run(waits, undefined), engine.run(waits, undefined)]);
    const pending = runs[0].result().catch(() => 'stopped');
    for (let i = 0; i < 200 && (await engine.listRuns({ status: 'waiting' })).runs.length < 2; i++) await new Promise((r) => setImmediate(r));
    expect(timers()).toBeGreaterThan(before);
    await engine.stop();
    await pending;
    await new Promise((r) => setImmediate(r));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
