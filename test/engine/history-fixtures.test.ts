import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineWorkflow, NonDeterminismError, type HistoryEvent } from '../../src/index.js';
import { replayHistory } from '../../src/testing/index.js';
import { fixtureChild, fixtureOrder, fixtureTimeout } from '../fixtures/workflows.js';

const load = (name: string): HistoryEvent[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/histories/${name}.json`, import.meta.url), 'utf8')) as HistoryEvent[];

describe('recorded histories still replay', () => {
  it('a completed order (retry, signal, sleep, parallel step and child)', async () => {
    const outcome = await replayHistory(fixtureOrder, load('order-approved'));
    expect(outcome).toMatchObject({ status: 'completed', output: { status: 'shipped', a: 'packed', b: 'picked sku-1' } });
  });

  it('its child', async () => {
    expect(await replayHistory(fixtureChild, load('order-approved-7'))).toEqual({ status: 'completed', output: 'picked sku-1' });
  });

  it('a signal wait that timed out', async () => {
    expect(await replayHistory(fixtureTimeout, load('timeout-expired'))).toEqual({ status: 'completed', output: 'timed out' });
  });

  it('a run still in flight (waiting out a retry)', async () => {
    expect(await replayHistory(fixtureOrder, load('order-in-flight'))).toEqual({ status: 'in-flight', position: 3 });
  });

  it('fails when the code changed incompatibly', async () => {
    const renamed = defineWorkflow({
      name: 'fixture-order',
      async run(ctx, input: { orderId: string; amount: number }) {
        ctx.uuid();
        await ctx.state.set('phase', 'charging');
        await ctx.step('charge-card', () => input.amount);
      },
    });
    const err = await replayHistory(renamed, load('order-approved')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonDeterminismError);
    expect((err as NonDeterminismError).position).toBe(3);
    expect((err as NonDeterminismError).expected).toBe("step 'charge'");
  });

  it('fails when the code now computes another result', async () => {
    const different = defineWorkflow({
      name: 'fixture-timeout',
      async run(ctx) {
        const answer = await ctx.waitForSignal<string>('answer', { timeout: '2h' });
        if (answer === undefined) {
          await ctx.step('escalate', () => 'escalated');
          return 'gave up';
        }
        return answer;
      },
    });
    await expect(replayHistory(different, load('timeout-expired'))).rejects.toThrow(/the result "timed out"/);
  });
});

describe('replayHistory with gaps', () => {
  it('replays past a wait that lost a race (a position with nothing recorded)', async () => {
    const { createEngine } = await import('../../src/index.js');
    const { MemoryStore, SimulatedClock } = await import('../../src/testing/index.js');
    const racing = defineWorkflow({
      name: 'racing',
      async run(ctx) {
        await Promise.race([ctx.waitForSignal('go'), ctx.sleep('1s')]);
        await ctx.step('after', () => 1);
        return 'ok';
      },
    });
    const engine = createEngine({ store: new MemoryStore(), workflows: [racing], clock: new SimulatedClock({ autoAdvance: true }) });
    await engine.start();
    const run = await engine.run(racing, undefined);
    expect(await run.result()).toBe('ok');
    const history = await engine.history(run.id);
    await engine.stop();
    expect(await replayHistory(racing, history)).toEqual({ status: 'completed', output: 'ok' });
  });
});
