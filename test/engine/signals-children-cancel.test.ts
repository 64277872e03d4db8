import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChildFailedError, defineWorkflow, ErrorCode, KeelError, RunCancelledError, type CancelledRun, type WorkflowDefinition } from '../../src/index.js';
import { MemoryStore, SimulatedClock } from '../../src/testing/index.js';
import { testEngine, until } from './helpers.js';

describe('signals', () => {
  const waiter = defineWorkflow({
    name: 'waiter',
    async run(ctx) {
      const first = await ctx.waitForSignal<string>('go');
      const second = await ctx.waitForSignal<string>('go');
      return [first, second];
    },
  });

  it('buffers signals sent before the wait and consumes them in order', async () => {
    const { engine } = testEngine();
    const run = await engine.run(waiter, undefined, { id: 'w1' });
    // The engine is not started yet: nothing waits, both signals are buffered in the inbox.
    await engine.signal('w1', 'go', 'one');
    await engine.signal('w1', 'go', 'two');
    await engine.start();
    expect(await run.result()).toEqual(['one', 'two']);
    const received = (await engine.history('w1')).filter((e) => e.type === 'signal.received');
    expect(received.map((e) => e.type === 'signal.received' && e.payload)).toEqual(['one', 'two']);
  });

  it('delivers a signal sent while the run waits', async () => {
    const { engine, store } = testEngine();
    await engine.start();
    const run = await engine.run(waiter, undefined, { id: 'w2' });
    await until(async () => (await store.getRun('w2'))?.status === 'waiting', 'the run to wait');
    await engine.signal('w2', 'go', 'a');
    await engine.signal('w2', 'go', 'b');
    expect(await run.result()).toEqual(['a', 'b']);
  });

  it('refuses a signal to an unknown run with NOT_FOUND', async () => {
    const { engine } = testEngine();
    const err = await engine.signal('nope', 'go', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeelError);
    expect((err as KeelError).code).toBe(ErrorCode.NotFound);
    expect((err as Error).message).toContain("Run 'nope' was not found");
  });

  it('refuses reserved signal names', async () => {
    const { engine } = testEngine();
    await engine.run(waiter, undefined, { id: 'w3' });
    await expect(engine.signal('w3', '@cancel')).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  it('returns undefined when the wait times out', async () => {
    const { engine, clock } = testEngine();
    const wf = defineWorkflow({
      name: 'times-out',
      async run(ctx) {
        const before = ctx.now().getTime();
        const answer = await ctx.waitForSignal('answer', { timeout: '1d' });
        return { answer: answer ?? null, waited: ctx.now().getTime() - before };
      },
    });
    await engine.start();
    const start = clock.now();
    const run = await engine.run(wf, undefined);
    expect(await run.result()).toEqual({ answer: null, waited: 86_400_000 });
    expect(clock.now() - start).toBe(86_400_000);
    const types = (await engine.history(run.id)).map((e) => e.type);
    expect(types).toEqual(['run.started', 'value.recorded', 'timer.scheduled', 'timer.fired', 'value.recorded', 'run.completed']);
  });

  it('a signal that arrives before the timeout wins', async () => {
    const { engine, store } = testEngine({ autoAdvance: false });
    const wf = defineWorkflow({
      name: 'answered',
      async run(ctx) {
        return (await ctx.waitForSignal<number>('answer', { timeout: '1h' })) ?? 'timeout';
      },
    });
    await engine.start();
    const run = await engine.run(wf, undefined);
    await until(async () => (await store.getRun(run.id))?.status === 'waiting', 'the run to wait');
    await engine.signal(run.id, 'answer', 42);
    expect(await run.result()).toBe(42);
  });
});

describe('starting runs', () => {
  const echo = defineWorkflow({
    name: 'echo',
    input: z.object({ n: z.number().int().min(0) }),
    async run(ctx, input) {
      return ctx.step('echo', () => input.n);
    },
  });

  it('is idempotent by id and refuses the same id with other input', async () => {
    const { engine } = testEngine();
    await engine.start();
    const a = await engine.run(echo, { n: 1 }, { id: 'same' });
    const b = await engine.run(echo, { n: 1 }, { id: 'same' });
    expect(b.id).toBe(a.id);
    expect(await a.result()).toBe(1);
    expect((await engine.listRuns()).runs).toHaveLength(1);
    const err = await engine.run(echo, { n: 2 }, { id: 'same' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Conflict });
    expect((err as Error).message).toContain("Run 'same' already exists");
  });

  it('rejects invalid input naming the field and the rule, and stores nothing', async () => {
    const { engine } = testEngine();
    const err = await engine.run(echo, { n: -1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Validation });
    expect((err as Error).message).toMatch(/Input of workflow 'echo' is invalid: n: .*(>=|greater).*0/i);
    const err2 = await engine.run(echo, { n: 'x' } as unknown as { n: number }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/n: .*expected number/i);
    expect((await engine.listRuns()).runs).toHaveLength(0);
  });

  it('rejects an unknown workflow name with UNKNOWN_WORKFLOW and lists the known ones', async () => {
    const { engine } = testEngine({ workflows: [echo] });
    const err = await engine.run('ecko', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.UnknownWorkflow });
    expect((err as Error).message).toContain("Unknown workflow 'ecko'");
    expect((err as Error).message).toContain('Known workflows: echo');
  });
});

describe('children and parallel steps', () => {
  const double = defineWorkflow({
    name: 'double',
    input: z.object({ n: z.number() }),
    async run(ctx, input) {
      return ctx.step('double', () => input.n * 2);
    },
  });
  const failing = defineWorkflow({
    name: 'failing-child',
    async run(ctx) {
      await ctx.step('explode', () => {
        throw new RangeError('out of range');
      }, { retry: { maxAttempts: 1 } });
    },
  });

  it('runs children and steps in parallel with deterministic positions', async () => {
    const parent = defineWorkflow({
      name: 'parent',
      async run(ctx) {
        const [a, b, c] = await Promise.all([
          ctx.child(double, { n: 1 }),
          ctx.child(double, { n: 2 }, { id: 'explicit-child' }),
          ctx.step('local', () => 'x'),
        ]);
        let failure = '';
        try {
          await ctx.child(failing, undefined);
        } catch (err) {
          failure = `${(err as Error).name}: ${((err as Error).cause as Error).name}`;
          expect(err).toBeInstanceOf(ChildFailedError);
        }
        return { a, b, c, failure };
      },
    });
    const { engine } = testEngine({ workflows: [parent, double, failing] });
    await engine.start();
    const run = await engine.run(parent, undefined, { id: 'p' });
    expect(await run.result()).toEqual({ a: 2, b: 4, c: 'x', failure: 'ChildFailedError: RangeError' });
    expect((await engine.getRun('p:1')).parentId).toBe('p');
    expect((await engine.getRun('explicit-child')).status).toBe('completed');
    expect((await engine.listRuns({ parentId: 'p' })).runs).toHaveLength(3);
  });
});

describe('cancellation', () => {
  it('cancels a waiting run and drops its timer', async () => {
    const { engine, store } = testEngine({ autoAdvance: false });
    const sleeper = defineWorkflow({
      name: 'sleeper',
      async run(ctx) {
        await ctx.sleep('7d');
        return 'woke';
      },
    });
    await engine.start();
    const run = await engine.run(sleeper, undefined);
    await until(async () => (await store.getRun(run.id))?.status === 'waiting', 'the run to wait');
    await engine.cancel(run.id);
    await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
    const info = await engine.getRun(run.id);
    expect(info.status).toBe('cancelled');
    expect(info.wakeAt).toBeUndefined();
    expect(await store.nextWakeAt()).toBeUndefined();
    await engine.cancel(run.id); // cancelling again does nothing
  });

  it('cancels a parent with its children, aborting a running step', async () => {
    let abortedWith: unknown;
    let stepStarted = false;
    const busyChild = defineWorkflow({
      name: 'busy-child',
      async run(ctx) {
        await ctx.step('long', ({ signal }) =>
          new Promise((_, reject) => {
            stepStarted = true;
            signal.addEventListener('abort', () => {
              abortedWith = signal.reason;
              reject(signal.reason as Error);
            });
          }),
        );
      },
    });
    const waitingChild = defineWorkflow({
      name: 'waiting-child',
      async run(ctx) {
        await ctx.waitForSignal('never');
      },
    });
    const parent = defineWorkflow({
      name: 'cancel-parent',
      async run(ctx) {
        await Promise.all([ctx.child(busyChild, undefined), ctx.child(waitingChild, undefined)]);
      },
    });
    const { engine, store } = testEngine({ workflows: [parent, busyChild, waitingChild], autoAdvance: false });
    await engine.start();
    const run = await engine.run(parent, undefined, { id: 'cp' });
    await until(async () => stepStarted && (await store.getRun('cp:2'))?.status === 'waiting' && (await store.getRun('cp'))?.status === 'waiting', 'children to run');
    await engine.cancel('cp');
    await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
    await until(async () => (await store.getRun('cp:1'))?.status === 'cancelled' && (await store.getRun('cp:2'))?.status === 'cancelled', 'children to be cancelled');
    expect((abortedWith as Error).name).toBe('CancelledError');
    const types = (await engine.history('cp:1')).map((e) => e.type);
    expect(types.at(-1)).toBe('run.cancelled');
    expect(types).not.toContain('step.completed');
  });

  describe("a definition's onCancel hook", () => {
    const calls: { runId: string; state: unknown; reason: string; now: number; ctxIsTheRuns: boolean }[] = [];
    const contexts = new Map<string, unknown>();
    const working = new Set<string>();
    /** Input 'work': a step that runs until it is aborted; 'wait': a wait for a signal (the run suspends). */
    const hosted = (onCancel: (run: CancelledRun) => void): WorkflowDefinition<'work' | 'wait', string> => ({
      kind: 'workflow',
      name: 'hosted',
      version: '1',
      async run(ctx, input) {
        contexts.set(ctx.runId, ctx);
        await ctx.state.set('phase', input);
        if (input === 'work') {
          await ctx.step('work', ({ signal }) =>
            new Promise((_, reject) => {
              working.add(ctx.runId);
              signal.addEventListener('abort', () => reject(signal.reason as Error));
            }),
          );
        }
        await ctx.waitForSignal('go');
        return 'went';
      },
      onCancel,
    });
    const record = (run: CancelledRun): void => {
      calls.push({ runId: run.runId, state: run.state, reason: run.reason, now: run.now, ctxIsTheRuns: contexts.get(run.runId) === run.ctx });
    };

    it('is called once, with the state and the context of the code, when a run executing here is cancelled; then run.cancelled is recorded', async () => {
      calls.length = 0;
      const workflow = hosted(record);
      const { engine, clock } = testEngine({ workflows: [workflow], autoAdvance: false });
      await engine.start();
      const run = await engine.run(workflow, 'work', { id: 'h1' });
      await until(() => working.has('h1'), 'the step to run');
      await engine.cancel('h1', 'no longer needed');
      await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
      expect(calls).toEqual([{ runId: 'h1', state: { phase: 'work' }, reason: 'no longer needed', now: clock.now(), ctxIsTheRuns: true }]);
      expect((await engine.history('h1')).at(-1)).toMatchObject({ type: 'run.cancelled', reason: 'no longer needed' });
      await engine.cancel('h1');
      expect(calls).toHaveLength(1);
    });

    it('is called with the stored state for a run that is not executing (suspended at a wait)', async () => {
      calls.length = 0;
      const workflow = hosted(record);
      const store = new MemoryStore();
      const clock = new SimulatedClock({ autoAdvance: false });
      const first = testEngine({ workflows: [workflow], store, clock }).engine;
      await first.start();
      await first.run(workflow, 'wait', { id: 'h2' });
      await until(async () => (await store.getRun('h2'))?.status === 'waiting', 'the run to wait');
      await first.stop();
      contexts.clear();
      const second = testEngine({ workflows: [workflow], store, clock }).engine; // not started: cancels from the store
      await second.cancel('h2');
      expect(calls).toEqual([{ runId: 'h2', state: { phase: 'wait' }, reason: 'cancelled by request', now: clock.now(), ctxIsTheRuns: false }]);
      expect((await second.getRun('h2')).status).toBe('cancelled');
    });

    it('that throws is logged, and the run is cancelled all the same', async () => {
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
      const workflow = hosted(() => {
        throw new Error('release failed');
      });
      const { engine, store } = testEngine({ workflows: [workflow], autoAdvance: false, logger });
      await engine.start();
      const run = await engine.run(workflow, 'wait', { id: 'h3' });
      await until(async () => (await store.getRun('h3'))?.status === 'waiting', 'the run to wait');
      await engine.cancel('h3');
      await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
      expect((await engine.getRun('h3')).status).toBe('cancelled');
      expect(warnings).toEqual(["The cancel hook of workflow 'hosted' threw; the run is cancelled all the same"]);
    });
  });
});
