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

describe('how a step is recorded', () => {
  it('a quick step by its result alone; a step still running when the engine writes, by its start too', async () => {
    let release: (v: string) => void = () => {};
    const slowResult = new Promise<string>((r) => (release = r));
    const wf = defineWorkflow({
      name: 'quick-and-slow',
      async run(ctx) {
        const a = await ctx.step('quick', () => 1);
        const b = await ctx.step('slow', () => slowResult);
        return { a, b };
      },
    });
    const { engine } = setup([wf]);
    await engine.start();
    const run = await engine.run(wf, undefined, { id: 'qs' });
    const types = async () => (await engine.history('qs')).map((e) => (e.type.startsWith('step.') ? `${e.type} ${(e as { name: string }).name}` : e.type));
    // The slow step's start is in the store while it runs (an operator sees what the run is doing).
    for (let i = 0; i < 100 && !(await types()).includes('step.started slow'); i++) await new Promise((r) => setImmediate(r));
    expect(await types()).toEqual(['run.started', 'step.completed quick', 'step.started slow']);
    release('done');
    expect(await run.result()).toEqual({ a: 1, b: 'done' });
    expect(await types()).toEqual(['run.started', 'step.completed quick', 'step.started slow', 'step.completed slow', 'run.completed']);
  });
});

describe('timers and listing', () => {
  it('sleepUntil waits for an instant; listRuns filters by status and workflow and pages with a cursor', async () => {
    const { SimulatedClock: Clock, MemoryStore } = await import('../../src/testing/index.js');
    const clock = new Clock({ autoAdvance: true });
    const engine = createEngine({ store: new MemoryStore(), clock });
    engines.push(engine);
    const until2031 = defineWorkflow({
      name: 'until',
      async run(ctx) {
        await ctx.sleepUntil(new Date(Date.UTC(2031, 0, 1)));
        return ctx.now().toISOString();
      },
    });
    const parked = defineWorkflow({
      name: 'parked',
      async run(ctx) {
        return ctx.waitForSignal('never');
      },
    });
    await engine.start();
    expect(await (await engine.run(until2031, undefined)).result()).toBe('2031-01-01T00:00:00.000Z');
    for (let i = 0; i < 5; i++) await engine.run(parked, undefined, { id: `p${i}` });
    const waiting = async () => (await engine.listRuns({ status: 'waiting' })).runs.length;
    for (let i = 0; i < 100 && (await waiting()) < 5; i++) await new Promise((r) => setImmediate(r));
    const first = await engine.listRuns({ workflow: 'parked', limit: 2 });
    expect(first.runs).toHaveLength(2);
    expect(first.nextCursor).toBeDefined();
    const second = await engine.listRuns({ workflow: 'parked', limit: 2, cursor: first.nextCursor as string });
    const third = await engine.listRuns({ workflow: 'parked', limit: 2, cursor: second.nextCursor as string });
    expect([...first.runs, ...second.runs, ...third.runs].map((r) => r.id).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(third.nextCursor).toBeUndefined();
    expect((await engine.listRuns({ status: ['completed'] })).runs.map((r) => r.workflow)).toEqual(['until']);
    expect((await engine.listRuns({ status: 'waiting', workflow: 'until' })).runs).toHaveLength(0);
  });
});
