/**
 * A step's record is not awaited by the code, only by the next step's function: the code goes on
 * at once (so a last step's record and the run's end are one commit), while no side effect ever
 * runs before the values it may use are stored.
 */
import { describe, expect, it } from 'vitest';
import type { RunWrite, WriteResult } from '../../src/core/store.js';
import { defineWorkflow } from '../../src/index.js';
import { MemoryStore } from '../../src/testing/index.js';
import { testEngine, until } from './helpers.js';

/** A memory store that keeps every batch it was given, can hold batches back, and can fail one. */
class WatchedStore extends MemoryStore {
  readonly batches: RunWrite[][] = [];
  /** Event types stored so far, as `type` or `type:name`, in the order they were committed. */
  readonly stored: string[] = [];
  /** While set, a batch that matches waits for it before it is applied. */
  hold: { match: (w: RunWrite) => boolean; gate: Promise<void> } | undefined;
  /** The next batch that matches fails with a store error (once). */
  failNext: ((w: RunWrite) => boolean) | undefined;

  override async write(batch: RunWrite[], now: number): Promise<WriteResult[]> {
    this.batches.push(structuredClone(batch));
    const hold = this.hold;
    if (hold && batch.some(hold.match)) await hold.gate;
    const fail = this.failNext;
    if (fail && batch.some(fail)) {
      this.failNext = undefined;
      throw new Error('disk I/O error');
    }
    const results = await super.write(batch, now);
    batch.forEach((w, i) => {
      if (!results[i]?.ok) return;
      for (const e of w.events) this.stored.push('name' in e ? `${e.type}:${e.name}` : e.type);
    });
    return results;
  }
}

const completes = (step: string) => (w: RunWrite) => w.events.some((e) => e.type === 'step.completed' && e.name === step);

describe('step records', () => {
  it("store a workflow's last step and its end in one commit", async () => {
    const store = new WatchedStore();
    const three = defineWorkflow({
      name: 'three',
      async run(ctx, x: number) {
        const a = await ctx.step('s1', () => x + 1);
        const b = await ctx.step('s2', () => a + 1);
        return ctx.step('s3', () => b + 1);
      },
    });
    const { engine } = testEngine({ store, workflows: [three] });
    await engine.start();
    expect(await (await engine.run(three, 1, { id: 'r1' })).result()).toBe(4);
    const writes = store.batches.flat().filter((w) => w.runId === 'r1' && w.events.length > 0);
    expect(writes.map((w) => w.events.map((e) => ('name' in e ? `${e.type}:${e.name}` : e.type)))).toEqual([
      ['step.completed:s1'],
      ['step.completed:s2'],
      ['step.completed:s3', 'run.completed'],
    ]);
    expect(store.stored.filter((t) => t.startsWith('step.completed'))).toEqual(['step.completed:s1', 'step.completed:s2', 'step.completed:s3']);
  });

  it("hold the next step's function until the values it may use are stored", async () => {
    const store = new WatchedStore();
    const seen: { step: string; stored: string[] }[] = [];
    const flow = defineWorkflow({
      name: 'flow',
      async run(ctx) {
        const reserved = await ctx.step('reserve', () => 'r-1');
        const key = ctx.uuid();
        return ctx.step('charge', () => {
          seen.push({ step: 'charge', stored: [...store.stored] });
          return `${reserved}/${key}`;
        });
      },
    });
    let release!: () => void;
    store.hold = { match: completes('reserve'), gate: new Promise<void>((r) => (release = r)) };
    const { engine } = testEngine({ store, workflows: [flow] });
    await engine.start();
    const run = await engine.run(flow, undefined, { id: 'r2' });
    await until(() => store.batches.some((b) => b.some(completes('reserve'))), 'the record of reserve to be sent');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]); // the code has gone on, but charge waits for reserve's record
    release();
    const result = await run.result();
    expect(seen).toHaveLength(1);
    // Both the step's result and the uuid were stored before charge ran.
    expect(seen[0]?.stored).toEqual(expect.arrayContaining(['step.completed:reserve', 'value.recorded']));
    const history = await engine.history('r2');
    const uuid = history.find((e) => e.type === 'value.recorded');
    expect(result).toBe(`r-1/${uuid?.type === 'value.recorded' ? String(uuid.value) : '?'}`);
  });

  it('never run the next step after a record is refused; recovery re-runs the step, then goes on', async () => {
    const store = new WatchedStore();
    const calls: string[] = [];
    const flow = defineWorkflow({
      name: 'flow',
      async run(ctx) {
        const a = await ctx.step('a', () => {
          calls.push('a');
          return 1;
        });
        return ctx.step('b', () => {
          calls.push(`b after ${store.stored.filter((t) => t === 'step.completed:a').length} record(s) of a`);
          return a + 1;
        });
      },
    });
    store.failNext = completes('a');
    const { engine } = testEngine({ store, workflows: [flow], leaseMs: 1_000 });
    await engine.start();
    const run = await engine.run(flow, undefined, { id: 'r3' });
    expect(await run.result()).toBe(2);
    expect(calls).toEqual(['a', 'a', 'b after 1 record(s) of a']);
  });
});
