import { describe, expect, it } from 'vitest';
import { defineWorkflow, ErrorCode, RunFailedError, type KeelError } from '../../src/index.js';
import { replayHistory } from '../../src/testing/index.js';
import { testEngine, until } from './helpers.js';

describe('resume a failed run from its failed step', () => {
  it('keeps recorded steps, runs the failed step again, and completes', async () => {
    const calls = { a: 0, b: 0, c: 0 };
    let broken = true;
    const wf = defineWorkflow({
      name: 'flaky',
      async run(ctx) {
        const a = await ctx.step('a', () => ++calls.a);
        const b = await ctx.step(
          'b',
          () => {
            calls.b++;
            if (broken) throw new Error('the service is down');
            return 'ok';
          },
          { retry: { maxAttempts: 2, initialDelay: '1s' } },
        );
        const c = await ctx.step('c', () => ++calls.c);
        return { a, b, c };
      },
    });
    const { engine } = testEngine();
    await engine.start();
    const run = await engine.run(wf, undefined, { id: 'f1' });
    await expect(run.result()).rejects.toBeInstanceOf(RunFailedError);
    expect(calls).toEqual({ a: 1, b: 2, c: 0 });

    broken = false;
    const reopened = await engine.resume('f1');
    expect(reopened.status).toBe('pending');
    expect(reopened.error).toBeUndefined();
    expect(await engine.handle('f1').result()).toEqual({ a: 1, b: 'ok', c: 1 });
    expect(calls).toEqual({ a: 1, b: 3, c: 1 });

    const history = await engine.history('f1');
    const types = history.map((e) => e.type);
    expect(types.slice(types.indexOf('run.failed'))).toEqual([
      'run.failed', 'run.resumed', 'step.completed', 'step.completed', 'run.completed',
    ]);
    // The re-run attempt continues the attempt count of the failed step.
    const attemptsOfB = history.flatMap((e) => ((e.type === 'step.failed' || e.type === 'step.completed') && e.name === 'b' ? [e.attempt] : []));
    expect(attemptsOfB).toEqual([1, 2, 3]);
    expect((await engine.getRun('f1')).status).toBe('completed');
    // The whole history, failure and resume included, replays cold to the same end.
    expect(await replayHistory(wf, history)).toEqual({ status: 'completed', output: { a: 1, b: 'ok', c: 1 } });
  });

  it('gives the resumed step a fresh retry budget, and can resume again after another failure', async () => {
    let failures = 4;
    const wf = defineWorkflow({
      name: 'stubborn',
      async run(ctx) {
        return ctx.step(
          'call',
          () => {
            if (failures-- > 0) throw new Error('not yet');
            return 'done';
          },
          { retry: { maxAttempts: 2, initialDelay: '1s' } },
        );
      },
    });
    const { engine } = testEngine();
    await engine.start();
    await expect((await engine.run(wf, undefined, { id: 'f2' })).result()).rejects.toThrow('not yet');
    await engine.resume('f2');
    await expect(engine.handle('f2').result()).rejects.toThrow('not yet');
    expect(failures).toBe(0);
    await engine.resume('f2');
    expect(await engine.handle('f2').result()).toBe('done');
  });

  it('only resumes failed runs: CONFLICT otherwise, NOT_FOUND for an unknown id', async () => {
    const wf = defineWorkflow({ name: 'fine', run: () => Promise.resolve(1) });
    const waits = defineWorkflow({ name: 'waits', run: async (ctx) => ctx.waitForSignal('go') });
    const { engine, store } = testEngine();
    await engine.start();
    await (await engine.run(wf, undefined, { id: 'ok1' })).result();
    await engine.run(waits, undefined, { id: 'w1' });
    await until(async () => (await store.getRun('w1'))?.status === 'waiting', 'the run to wait');
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as KeelError);
    expect(await errorOf(engine.resume('ok1'))).toMatchObject({ code: ErrorCode.Conflict });
    expect(await errorOf(engine.resume('w1'))).toMatchObject({ code: ErrorCode.Conflict });
    const missing = await errorOf(engine.resume('nope'));
    expect(missing).toMatchObject({ code: ErrorCode.NotFound });
    expect(missing?.message).toContain("Run 'nope' was not found");
  });
});
