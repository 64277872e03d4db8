import { describe, expect, it } from 'vitest';
import { defineWorkflow, RunFailedError } from '../../src/index.js';
import { testEngine } from './helpers.js';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
  constructor(readonly reason: string) {
    super(`declined: ${reason}`);
  }
}

describe('step retries', () => {
  it('waits the policy delays between attempts (initial 1s, backoff 2, max 5s)', async () => {
    const attempts: number[] = [];
    const { engine, clock } = testEngine();
    const flaky = defineWorkflow({
      name: 'flaky',
      async run(ctx) {
        return ctx.step(
          'call',
          ({ attempt }) => {
            attempts.push(clock.now());
            if (attempt < 5) throw new Error(`attempt ${attempt} failed`);
            return 'ok';
          },
          { retry: { maxAttempts: 5, initialDelay: '1s', backoff: 2, maxDelay: '5s' } },
        );
      },
    });
    await engine.start();
    const run = await engine.run(flaky, undefined);
    expect(await run.result()).toBe('ok');
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    expect(gaps).toEqual([1_000, 2_000, 4_000, 5_000]);
    const failed = (await engine.history(run.id)).filter((e) => e.type === 'step.failed');
    expect(failed).toHaveLength(4);
    expect(failed.every((e) => e.type === 'step.failed' && e.retryAt !== undefined)).toBe(true);
  });

  it('keeps jittered delays within the spread', async () => {
    const attempts: number[] = [];
    const { engine, clock } = testEngine();
    const wf = defineWorkflow({
      name: 'jitter',
      async run(ctx) {
        return ctx.step(
          'call',
          ({ attempt }) => {
            attempts.push(clock.now());
            if (attempt < 4) throw new Error('again');
            return attempt;
          },
          { retry: { maxAttempts: 4, initialDelay: '10s', backoff: 1, jitter: 0.5 } },
        );
      },
    });
    await engine.start();
    expect(await (await engine.run(wf, undefined)).result()).toBe(4);
    for (let i = 1; i < attempts.length; i++) {
      const gap = (attempts[i] as number) - (attempts[i - 1] as number);
      expect(gap).toBeGreaterThanOrEqual(5_000);
      expect(gap).toBeLessThanOrEqual(15_000);
    }
  });

  it('fails the run at once on a non-retryable error, with name, message and stack in history', async () => {
    let calls = 0;
    const { engine } = testEngine();
    const pay = defineWorkflow({
      name: 'pay',
      async run(ctx) {
        await ctx.step(
          'charge',
          () => {
            calls++;
            throw new PaymentDeclined('insufficient funds');
          },
          { retry: { maxAttempts: 5, nonRetryable: ['PaymentDeclined'] } },
        );
        return 'unreachable';
      },
    });
    await engine.start();
    const run = await engine.run(pay, undefined);
    const err = await run.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as RunFailedError).message).toContain('PaymentDeclined: declined: insufficient funds');
    expect(calls).toBe(1);
    const history = await engine.history(run.id);
    const stepFailed = history.find((e) => e.type === 'step.failed');
    const runFailed = history.find((e) => e.type === 'run.failed');
    expect(stepFailed).toMatchObject({ name: 'charge', attempt: 1, error: { name: 'PaymentDeclined', message: 'declined: insufficient funds', data: { reason: 'insufficient funds' } } });
    expect(stepFailed && 'retryAt' in stepFailed).toBe(false);
    expect(runFailed).toMatchObject({ error: { name: 'PaymentDeclined', message: 'declined: insufficient funds' } });
    const stack = runFailed?.type === 'run.failed' ? runFailed.error.stack : undefined;
    expect(stack).toContain('PaymentDeclined: declined: insufficient funds');
    expect(stack).toContain('retries.test.ts');
    expect((await engine.getRun(run.id)).status).toBe('failed');
  });

  it('fails after maxAttempts and lets the code catch the step error', async () => {
    const { engine } = testEngine();
    const wf = defineWorkflow({
      name: 'gives-up',
      async run(ctx) {
        try {
          await ctx.step('call', () => Promise.reject(new TypeError('boom')), { retry: { maxAttempts: 2, initialDelay: 10 } });
          return 'no';
        } catch (err) {
          return `caught ${(err as Error).name}: ${(err as Error).message}`;
        }
      },
    });
    await engine.start();
    expect(await (await engine.run(wf, undefined)).result()).toBe('caught TypeError: boom');
  });

  it('aborts a step that runs past its timeout and counts it as a failed attempt', async () => {
    const { engine, clock } = testEngine({ autoAdvance: false });
    let aborted: unknown;
    const wf = defineWorkflow({
      name: 'slow',
      async run(ctx) {
        return ctx.step(
          'hang',
          ({ signal, attempt }) =>
            attempt === 1
              ? new Promise((_, reject) => {
                  signal.addEventListener('abort', () => {
                    aborted = signal.reason;
                    reject(new Error('aborted'));
                  });
                })
              : 'second try',
          { timeout: '30s', retry: { maxAttempts: 2, initialDelay: '1s' } },
        );
      },
    });
    await engine.start();
    const run = await engine.run(wf, undefined);
    await new Promise((r) => setTimeout(r, 20));
    await clock.advance('30s');
    await new Promise((r) => setTimeout(r, 20));
    await clock.advance('1s');
    expect(await run.result()).toBe('second try');
    expect((aborted as Error).name).toBe('TimeoutError');
    const h = await engine.history(run.id);
    const failed = h.find((e) => e.type === 'step.failed');
    expect(failed).toMatchObject({ attempt: 1, error: { name: 'TimeoutError' } });
  });

  it('normalises a non-Error thrown by a step', async () => {
    const { engine } = testEngine();
    const wf = defineWorkflow({
      name: 'throws-object',
      async run(ctx) {
        await ctx.step('weird', () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the test
          throw { code: 42 };
        }, { retry: { maxAttempts: 1 } });
      },
    });
    await engine.start();
    const err = (await (await engine.run(wf, undefined)).result().catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('NonErrorThrown: Non-error value thrown: {"code":42}');
  });
});
