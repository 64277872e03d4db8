import { describe, expect, it } from 'vitest';
import { defineWorkflow, NonDeterminismError, type EngineEvent } from '../../src/index.js';
import { MemoryStore, SimulatedClock } from '../../src/testing/index.js';
import { testEngine, until } from './helpers.js';

function checkout(stepName: string) {
  return defineWorkflow({
    name: 'checkout',
    async run(ctx) {
      const id = ctx.uuid();
      const roll = ctx.random();
      const t = ctx.now().getTime();
      await ctx.state.set('phase', 'charging');
      ctx.log.info('charging');
      const charged = await ctx.step(stepName, () => `charged-${id}`);
      const go = await ctx.waitForSignal<string>('ship');
      await ctx.state.set('phase', 'shipping');
      ctx.log.info('shipping');
      await ctx.step('ship', () => go);
      return { id, roll, t, charged, phase: ctx.state.get<string>('phase') };
    },
  });
}

function capture(): { lines: string[]; logger: { debug(): void; info(m: string): void; warn(): void; error(): void } } {
  const lines: string[] = [];
  return { lines, logger: { debug() {}, info: (m: string) => lines.push(m), warn() {}, error() {} } };
}

describe('replay', () => {
  it('replays recorded values after a restart: uuid, random, now and state come from history', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock({ autoAdvance: true });
    const first = capture();
    const a = testEngine({ store, clock, workflows: [checkout('charge')], logger: first.logger }).engine;
    await a.start();
    const run = await a.run('checkout', undefined, { id: 'c1' });
    await until(async () => (await store.getRun('c1'))?.status === 'waiting', 'the run to wait');
    expect((await a.getRun('c1')).state).toEqual({ phase: 'charging' });
    await a.stop();

    const second = capture();
    const b = testEngine({ store, clock, workflows: [checkout('charge')], logger: second.logger }).engine;
    const resumed: EngineEvent[] = [];
    b.on('run.resumed', (e) => resumed.push(e));
    await b.start();
    await b.signal('c1', 'ship', 'go');
    const result = (await run.result()) as { id: string; roll: number; t: number; charged: string; phase: string };
    expect(resumed).toHaveLength(1);
    expect(result.charged).toBe(`charged-${result.id}`);
    expect(result.phase).toBe('shipping');
    const recorded = (await b.history('c1')).filter((e) => e.type === 'value.recorded');
    expect(recorded.map((e) => e.type === 'value.recorded' && e.value)).toEqual([result.id, result.roll, result.t]);
    // ctx.log is silent while replaying: the second engine logs only what came after the history.
    expect(first.lines).toEqual(['charging']);
    expect(second.lines).toEqual(['shipping']);
  });

  it('raises NonDeterminismError when a recorded step was renamed, keeps the run, and resumes with the old code', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock({ autoAdvance: false });
    const a = testEngine({ store, clock, workflows: [checkout('charge')] }).engine;
    await a.start();
    await a.run('checkout', undefined, { id: 'c2' });
    await until(async () => (await store.getRun('c2'))?.status === 'waiting', 'the run to wait');
    await a.stop();
    const before = await store.history('c2');

    const b = testEngine({ store, clock, workflows: [checkout('charge-card')], parkRetryMs: 60_000 }).engine;
    const errors: NonDeterminismError[] = [];
    b.on('run.error', (e) => errors.push(e.error));
    await b.start();
    await b.signal('c2', 'ship', 'go');
    await until(() => errors.length > 0, 'the non-determinism error');
    const err = errors[0] as NonDeterminismError;
    expect(err).toBeInstanceOf(NonDeterminismError);
    expect(err.code).toBe('NON_DETERMINISM');
    expect(err.runId).toBe('c2');
    expect(err.position).toBe(5);
    expect(err.expected).toBe("step 'charge'");
    expect(err.actual).toBe("step 'charge-card'");
    expect(err.message).toContain("Run 'c2' is not deterministic at position 5");
    await until(async () => (await store.getRun('c2'))?.status === 'waiting', 'the run to be parked');
    const parked = await b.getRun('c2');
    expect(parked.lastError).toMatchObject({ code: 'NON_DETERMINISM' });
    expect(parked.wakeAt?.getTime()).toBe(clock.now() + 60_000);
    expect(await store.history('c2')).toEqual(before);
    await b.stop();

    // The old code is deployed again: the run continues from where it was.
    const c = testEngine({ store, clock, workflows: [checkout('charge')] }).engine;
    await c.start();
    await clock.advance('1m');
    await until(async () => (await store.getRun('c2'))?.status === 'completed', 'the run to complete');
    expect((await c.getRun('c2')).lastError).toBeUndefined();
  });

  it('raises NonDeterminismError when the code ends before its history does', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    const twoSteps = defineWorkflow({
      name: 'shrinking',
      async run(ctx) {
        await ctx.step('one', () => 1);
        await ctx.step('two', () => 2);
        await ctx.waitForSignal('x');
      },
    });
    const a = testEngine({ store, clock, workflows: [twoSteps] }).engine;
    await a.start();
    await a.run(twoSteps, undefined, { id: 's' });
    await until(async () => (await store.getRun('s'))?.status === 'waiting', 'the run to wait');
    await a.stop();
    const oneStep = defineWorkflow({
      name: 'shrinking',
      async run(ctx) {
        await ctx.step('one', () => 1);
      },
    });
    const b = testEngine({ store, clock, workflows: [oneStep] }).engine;
    const errors: NonDeterminismError[] = [];
    b.on('run.error', (e) => errors.push(e.error));
    await b.start();
    await b.signal('s', 'x');
    await until(() => errors.length > 0, 'the error');
    expect(errors[0]?.expected).toBe("step 'two'");
    expect(errors[0]?.actual).toBe('the end of the workflow');
  });
});

describe('engine events', () => {
  it('reports run and step lifecycle to observers, and a throwing listener harms nothing', async () => {
    const { engine } = testEngine();
    const seen: string[] = [];
    engine.on('*', (e) => seen.push(e.type));
    engine.on('step.completed', () => {
      throw new Error('bad listener');
    });
    const wf = defineWorkflow({
      name: 'observed',
      async run(ctx) {
        await ctx.step('a', () => 1);
        await ctx.sleep('1m');
        return 'done';
      },
    });
    await engine.start();
    expect(await (await engine.run(wf, undefined)).result()).toBe('done');
    expect(seen).toEqual(['run.started', 'step.started', 'step.completed', 'run.waiting', 'run.resumed', 'run.completed']);
  });
});
