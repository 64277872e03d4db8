import { describe, expect, it } from 'vitest';
import { createEngine, defineWorkflow } from '../../src/index.js';
import { MemoryStore, SimulatedClock } from '../../src/testing/index.js';
import { until } from './helpers.js';

/** A step whose completion the test controls. */
function gate() {
  let open: (value: string) => void = () => {};
  const promise = new Promise<string>((r) => (open = r));
  return { promise, open: (v: string) => open(v) };
}

describe('graceful stop', () => {
  it('waits for the step in flight, records it, and gives the run back for another worker', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    const g = gate();
    let calls = 0;
    const wf = defineWorkflow({
      name: 'slow-step',
      async run(ctx) {
        const a = await ctx.step('a', () => {
          calls++;
          return g.promise;
        });
        const b = await ctx.step('b', () => 'b');
        return a + b;
      },
    });
    const first = createEngine({ store, clock, workflows: [wf] });
    await first.start();
    const run = await first.run(wf, undefined, { id: 'gs' });
    await until(() => calls === 1, 'the step to start');
    const stopped = first.stop();
    g.open('a');
    await stopped;
    const record = await store.getRun('gs');
    expect(record?.status).toBe('pending');
    expect(record?.leaseOwner).toBeUndefined();
    expect((await store.history('gs')).filter((e) => e.type === 'step.completed').map((e) => e.type === 'step.completed' && e.name)).toEqual(['a']);

    const second = createEngine({ store, clock, workflows: [wf] });
    await second.start();
    expect(await second.handle('gs').result()).toBe('ab');
    expect(calls).toBe(1);
    await second.stop();
    expect(run.id).toBe('gs');
  });

  it('past its deadline aborts the step and releases the run; the step runs again elsewhere', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    const seen: string[] = [];
    const wf = defineWorkflow({
      name: 'stuck-step',
      async run(ctx) {
        return ctx.step('a', ({ attempt, signal }) => {
          seen.push(`attempt ${attempt}`);
          if (seen.length === 1) return new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
          return 'done';
        });
      },
    });
    const first = createEngine({ store, clock, workflows: [wf], stopTimeoutMs: 0 });
    await first.start();
    await first.run(wf, undefined, { id: 'stuck' });
    await until(() => seen.length === 1, 'the step to start');
    await first.stop();
    expect((await store.getRun('stuck'))?.status).toBe('pending');
    const second = createEngine({ store, clock, workflows: [wf] });
    await second.start();
    expect(await second.handle('stuck').result()).toBe('done');
    await second.stop();
  });
});

describe('leases and fencing', () => {
  it('a worker whose lease expired cannot record anything; the run is advanced by the new owner only', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    const g = gate();
    const executions: string[] = [];
    const wf = defineWorkflow({
      name: 'contended',
      async run(ctx) {
        const v = await ctx.step('work', () => {
          executions.push(`exec ${executions.length + 1}`);
          return executions.length === 1 ? g.promise : Promise.resolve('second');
        });
        return v;
      },
    });
    // Worker A starts the step and stalls; its lease is then taken away, as when a worker stalls
    // past its lease, and worker B claims the run.
    const a = createEngine({ store, clock, workflows: [wf], leaseMs: 10_000, workerId: 'host/1/a' });
    await a.start();
    await a.run(wf, undefined, { id: 'c' });
    await until(() => executions.length === 1, 'A to start the step');
    const b = createEngine({ store, clock, workflows: [wf], leaseMs: 10_000, workerId: 'host/2/b' });
    await store.expireLeases(['host/1/a']);
    await b.start();
    expect(await b.handle('c').result()).toBe('second');
    g.open('first'); // A's step finishes late: its record is refused (fenced)
    await new Promise((r) => setImmediate(r));
    await a.stop();
    await b.stop();
    const completed = (await store.history('c')).filter((e) => e.type === 'step.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ result: 'second' });
    expect((await store.getRun('c'))?.output).toBe('second');
    expect(executions).toEqual(['exec 1', 'exec 2']);
  });
});
