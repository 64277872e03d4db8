import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, defineWorkflow, type Engine } from '../../src/index.js';
import { MemoryStore, SimulatedClock } from '../../src/testing/index.js';

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

function setup(workflows: Parameters<typeof createEngine>[0]['workflows'], clock = new SimulatedClock({ autoAdvance: true })) {
  const store = new MemoryStore();
  const engine = createEngine({ store, workflows, clock });
  engines.push(engine);
  return { engine, store, clock };
}

describe('a workflow with steps, a sleep and a signal', () => {
  const calls: string[] = [];
  const order = defineWorkflow({
    name: 'order',
    input: z.object({ orderId: z.string(), amount: z.number() }),
    async run(ctx, input) {
      const reserved = await ctx.step('reserve', () => {
        calls.push('reserve');
        return `r-${input.orderId}`;
      });
      const charged = await ctx.step('charge', () => {
        calls.push('charge');
        return input.amount * 100;
      });
      await ctx.sleep('1h');
      const approved = await ctx.waitForSignal<boolean>('approve');
      const shipped = await ctx.step('ship', () => {
        calls.push('ship');
        return approved ? 'shipped' : 'held';
      });
      return { reserved, charged, shipped, at: ctx.now().toISOString() };
    },
  });

  it('completes under the simulated clock at once, with the hour skipped', async () => {
    const { engine, clock } = setup([order]);
    const started = clock.now();
    await engine.start();
    const wallStart = Date.now();
    const run = await engine.run(order, { orderId: 'o1', amount: 12.5 }, { id: 'order-1' });
    await engine.signal('order-1', 'approve', true);
    const result = await run.result();
    expect(result).toEqual({
      reserved: 'r-o1',
      charged: 1250,
      shipped: 'shipped',
      at: new Date(started + 3_600_000).toISOString(),
    });
    expect(calls).toEqual(['reserve', 'charge', 'ship']);
    expect(Date.now() - wallStart).toBeLessThan(2_000);
    const history = await engine.history('order-1');
    const types = history.map((e) => e.type);
    expect(types[0]).toBe('run.started');
    expect(types.filter((t) => t === 'step.completed')).toHaveLength(3);
    expect(types).toContain('timer.scheduled');
    expect(types).toContain('timer.fired');
    expect(types).toContain('signal.received');
    expect(types.at(-1)).toBe('run.completed');
    expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
    const info = await engine.getRun('order-1');
    expect(info.status).toBe('completed');
    expect(info.output).toEqual(result);
  });
});
