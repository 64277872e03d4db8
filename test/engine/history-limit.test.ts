/**
 * A run's history is bounded (maxHistoryEvents, at most MAX_HISTORY_EVENTS on every store): a
 * workflow that never ends fails with HISTORY_TOO_LONG instead of growing its history for ever.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, defineWorkflow, ErrorCode, MAX_HISTORY_EVENTS, RunFailedError } from '../../src/index.js';
import { testEngine, until } from './helpers.js';

const forever = defineWorkflow({
  name: 'forever',
  async run(ctx) {
    for (let i = 0; ; i++) await ctx.step(`tick ${i}`, () => i);
  },
});

describe('the history limit', () => {
  it('fails a run at its first command once its history holds maxHistoryEvents events, and records why', async () => {
    const { engine } = testEngine({ workflows: [forever], maxHistoryEvents: 10 });
    await engine.start();
    const run = await engine.run(forever, undefined);
    const failure = await run.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(RunFailedError);
    const history = await engine.history(run.id);
    const last = history[history.length - 1];
    expect(last?.type).toBe('run.failed');
    expect(last?.type === 'run.failed' && last.error.code).toBe(ErrorCode.HistoryTooLong);
    expect(last?.type === 'run.failed' && last.error.message).toMatch(/has 10 events in its history, as many as a run may hold \(maxHistoryEvents 10\); it failed at step 'tick 10'/);
    // The check is at each command, against the events written: when 'tick 10' is called, the
    // history holds run.started and ticks 0 to 8, and the record of tick 9 is on its way. Then the
    // failure: 12 events in all, and no step ran past the limit.
    expect(history).toHaveLength(12);
    expect(history.filter((e) => e.type === 'step.completed').map((e) => e.type === 'step.completed' && e.name)).toEqual(
      Array.from({ length: 10 }, (_, i) => `tick ${i}`),
    );
    expect((await engine.getRun(run.id))?.status).toBe('failed');
  });

  it('replays a run recorded past a lower limit, and fails it at its first command past its history', async () => {
    const steps = defineWorkflow({
      name: 'steps-then-wait',
      async run(ctx) {
        for (let i = 0; i < 5; i++) await ctx.step(`s${i}`, () => i);
        await ctx.waitForSignal('go');
        return ctx.step('after', () => 'done');
      },
    });
    const first = testEngine({ workflows: [steps] });
    await first.engine.start();
    const run = await first.engine.run(steps, undefined);
    await until(async () => (await first.engine.getRun(run.id))?.status === 'waiting', 'the run to wait');
    await first.engine.stop();

    const { engine } = testEngine({ workflows: [steps], store: first.store, maxHistoryEvents: 3 });
    await engine.start();
    await engine.signal(run.id, 'go', null);
    await until(async () => (await engine.getRun(run.id))?.status === 'failed', 'the run to fail');
    const history = await engine.history(run.id);
    const last = history[history.length - 1];
    // The steps replay from history; the wait is the first command past it (a wait is recorded
    // only when its signal is taken), so the run fails there, the signal untaken.
    expect(last?.type === 'run.failed' && last.error.message).toMatch(/has 6 events in its history, .* it failed at signal 'go'/);
    expect(history.map((e) => ('name' in e ? `${e.type}:${e.name}` : e.type))).toEqual([
      'run.started',
      ...Array.from({ length: 5 }, (_, i) => `step.completed:s${i}`),
      'run.failed',
    ]);
  });

  it('takes a limit from 2 up to MAX_HISTORY_EVENTS, and refuses anything else with CONFIG_INVALID', () => {
    for (const bad of [1, 2.5, MAX_HISTORY_EVENTS + 1, Number.NaN]) {
      let error: unknown;
      try {
        testEngine({ workflows: [forever], maxHistoryEvents: bad });
      } catch (err) {
        error = err;
      }
      expect(error, String(bad)).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe(ErrorCode.Config);
      expect((error as Error).message).toContain('maxHistoryEvents must be a whole number from 2 to 250,000,000');
    }
  });
});
