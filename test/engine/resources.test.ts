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

describe('the event loop keeps turning', () => {
  it('a long run of synchronous steps on SQLite lets timers and I/O in while it goes', async () => {
    // The writer flushes at the end of each tick and SQLite answers at once, so without its yield
    // a run of quick steps would never hand the event loop back (no timer, socket or lease renewal).
    const many = defineWorkflow({
      name: 'many',
      async run(ctx) {
        let x = 0;
        for (let i = 0; i < 3_000; i++) x = await ctx.step(`s${i}`, () => x + 1);
        return x;
      },
    });
    const engine = createEngine({ store: `sqlite:${join(dir, 'turns.db')}`, workflows: [many] });
    await engine.start();
    // The time of each turn of the event loop while the run goes.
    const turns: number[] = [];
    let running = true;
    const turn = (): void => {
      turns.push(performance.now());
      if (running) setImmediate(turn);
    };
    const run = await engine.run(many, undefined);
    setImmediate(turn);
    expect(await run.result()).toBe(3_000);
    running = false;
    await engine.stop();
    // The writer lets the loop turn after each ~2 ms of flushing. The median gap between turns says
    // so whatever the machine's hiccups: a stall of the disk lengthens one gap, not the median.
    const gaps = turns.slice(1).map((t, i) => t - (turns[i] as number)).sort((a, b) => a - b);
    expect(turns.length).toBeGreaterThan(5);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThanOrEqual(5);
  });
});
