import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { createEngine, defineWorkflow, ErrorCode, type EngineEvent, type KeelError } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite/index.js';
import { replayHistory, SimulatedClock } from '../../src/testing/index.js';
import { testEngine, until } from '../engine/helpers.js';

const address = z.object({ street: z.string().min(1), zip: z.string().regex(/^\d{5}$/) });

const review = defineWorkflow({
  name: 'review',
  async run(ctx, input: { deadline?: string }) {
    const answer = await ctx.humanTask('address', {
      title: 'Check the address',
      description: 'The customer typed it in a hurry.',
      schema: address,
      assignee: 'alice',
      ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
    });
    if (answer.status !== 'completed') return { status: answer.status };
    const label = await ctx.step('label', () => `${answer.data.street} ${answer.data.zip}`);
    return { status: 'completed', label, by: answer.by ?? null };
  },
});

const other = defineWorkflow({
  name: 'other',
  async run(ctx) {
    const r = await ctx.humanTask('ok', { title: 'OK?', schema: z.boolean(), assignee: 'bob' });
    return r.status;
  },
});

async function pendingTask(engine: ReturnType<typeof testEngine>['engine'], runId: string) {
  let found: Awaited<ReturnType<typeof engine.listHumanTasks>>['tasks'][number] | undefined;
  await until(async () => {
    found = (await engine.listHumanTasks({ runId, status: 'pending' })).tasks[0];
    return found !== undefined;
  }, 'the task to be created');
  return found!;
}

const errorOf = (p: Promise<unknown>): Promise<KeelError> => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as KeelError);

describe('human tasks', () => {
  it('creates a task, lists it, refuses a bad answer, takes a good one and refuses a second', async () => {
    const { engine } = testEngine();
    const events: EngineEvent[] = [];
    engine.on('*', (e) => events.push(e));
    await engine.start();
    const run = await engine.run(review, {}, { id: 'r1' });
    await engine.run(other, undefined, { id: 'o1' });
    const task = await pendingTask(engine, 'r1');
    await pendingTask(engine, 'o1');

    expect(task).toMatchObject({ runId: 'r1', workflow: 'review', name: 'address', title: 'Check the address', assignee: 'alice', status: 'pending' });
    expect(task.description).toBe('The customer typed it in a hurry.');
    expect(task.jsonSchema).toMatchObject({ type: 'object', properties: { street: { type: 'string' }, zip: { type: 'string' } } });
    await until(async () => (await engine.getRun('r1')).status === 'waiting', 'the run to wait');

    const ids = async (q: Parameters<typeof engine.listHumanTasks>[0]) => (await engine.listHumanTasks(q)).tasks.map((t) => t.runId).sort();
    expect(await ids({ status: 'pending' })).toEqual(['o1', 'r1']);
    expect(await ids({ workflow: 'review' })).toEqual(['r1']);
    expect(await ids({ assignee: 'bob' })).toEqual(['o1']);
    expect(await ids({ status: 'completed' })).toEqual([]);

    const bad = await errorOf(engine.completeHumanTask(task.id, { street: 'Main St 1', zip: 'abc' }, { by: 'alice' }));
    expect(bad.code).toBe(ErrorCode.Validation);
    expect(bad.message).toContain('zip');
    expect((await engine.getHumanTask(task.id)).status).toBe('pending');

    const done = await engine.completeHumanTask(task.id, { street: 'Main St 1', zip: '12345' }, { by: 'alice' });
    expect(done).toMatchObject({ status: 'completed', completedBy: 'alice', data: { street: 'Main St 1', zip: '12345' } });
    expect(await run.result()).toEqual({ status: 'completed', label: 'Main St 1 12345', by: 'alice' });

    const again = await errorOf(engine.completeHumanTask(task.id, { street: 'x', zip: '00000' }));
    expect(again.code).toBe(ErrorCode.Conflict);
    expect(again.message).toContain('already completed');

    const history = await engine.history('r1');
    expect(history.map((e) => e.type)).toEqual([
      'run.started', 'human.requested', 'human.completed', 'step.completed', 'run.completed',
    ]);
    expect(history[2]).toMatchObject({ status: 'completed', by: 'alice', data: { zip: '12345' } });
    expect(await replayHistory(review, history)).toEqual({ status: 'completed', output: { status: 'completed', label: 'Main St 1 12345', by: 'alice' } });
    expect(events.filter((e) => e.type.startsWith('task.')).map((e) => e.type)).toEqual(
      expect.arrayContaining(['task.requested', 'task.requested', 'task.completed']),
    );
  });

  it('answers NOT_FOUND for an unknown task', async () => {
    const { engine } = testEngine();
    expect((await errorOf(engine.getHumanTask('nope'))).code).toBe(ErrorCode.NotFound);
    expect((await errorOf(engine.completeHumanTask('nope', {}))).code).toBe(ErrorCode.NotFound);
    expect((await errorOf(engine.cancelHumanTask('nope'))).code).toBe(ErrorCode.NotFound);
  });

  it('tasks asked for at once are all created, and each answer goes to its own task', async () => {
    // Their requests reach the store in one batch, as one write of the run.
    const both = defineWorkflow({
      name: 'both',
      async run(ctx) {
        const [a, b] = await Promise.all([
          ctx.humanTask('first', { title: 'First?', schema: z.boolean() }),
          ctx.humanTask('second', { title: 'Second?', schema: z.boolean() }),
        ]);
        return [a.status === 'completed' && a.data, b.status === 'completed' && b.data];
      },
    });
    const { engine } = testEngine({ workflows: [both] });
    await engine.start();
    const run = await engine.run(both, undefined, { id: 'b1' });
    let tasks: Awaited<ReturnType<typeof engine.listHumanTasks>>['tasks'] = [];
    await until(async () => (tasks = (await engine.listHumanTasks({ runId: 'b1', status: 'pending' })).tasks).length === 2, 'both tasks');
    const byName = new Map(tasks.map((t) => [t.name, t]));
    await engine.completeHumanTask(byName.get('second')!.id, false);
    await engine.completeHumanTask(byName.get('first')!.id, true);
    expect(await run.result()).toEqual([true, false]);
  });

  it('expires the task at its deadline and the run sees it', async () => {
    const { engine, clock } = testEngine();
    await engine.start();
    const start = clock.now();
    const run = await engine.run(review, { deadline: '2d' }, { id: 'r2' });
    expect(await run.result()).toEqual({ status: 'expired' });
    expect(clock.now() - start).toBe(2 * 86_400_000);
    expect(await replayHistory(review, await engine.history('r2'))).toEqual({ status: 'completed', output: { status: 'expired' } });
    const [task] = (await engine.listHumanTasks({ runId: 'r2' })).tasks;
    expect(task).toMatchObject({ status: 'expired', deadlineAt: new Date(start + 2 * 86_400_000) });
    expect((await errorOf(engine.completeHumanTask(task!.id, { street: 'a', zip: '12345' }))).code).toBe(ErrorCode.Conflict);
  });

  it('cancelling a task resumes the run with a cancelled result', async () => {
    const { engine } = testEngine();
    await engine.start();
    const run = await engine.run(review, {}, { id: 'r3' });
    const task = await pendingTask(engine, 'r3');
    expect(await engine.cancelHumanTask(task.id, { by: 'ops' })).toMatchObject({ status: 'cancelled', completedBy: 'ops' });
    expect(await run.result()).toEqual({ status: 'cancelled' });
    expect((await errorOf(engine.cancelHumanTask(task.id))).code).toBe(ErrorCode.Conflict);
  });

  it('cancelling the run cancels its pending tasks', async () => {
    const { engine } = testEngine();
    await engine.start();
    await engine.run(review, {}, { id: 'r4' });
    const task = await pendingTask(engine, 'r4');
    await engine.cancel('r4');
    await until(async () => (await engine.getHumanTask(task.id)).status === 'cancelled', 'the task to be cancelled');
    const err = await errorOf(engine.completeHumanTask(task.id, { street: 'a', zip: '12345' }));
    expect(err.code).toBe(ErrorCode.Conflict);
  });

  it('an answer that arrives while the engine is not running waits in the store', async () => {
    const { engine, store, clock } = testEngine();
    await engine.start();
    await engine.run(review, {}, { id: 'r5' });
    const task = await pendingTask(engine, 'r5');
    await engine.stop();
    // A client engine (no worker) completes it; a new worker picks the run up.
    const client = createEngine({ store, clock, workflows: [review] });
    await client.completeHumanTask(task.id, { street: 'Side St', zip: '54321' });
    const worker = testEngine({ store, clock, workflows: [review] }).engine;
    await worker.start();
    expect(await worker.handle('r5').result()).toEqual({ status: 'completed', label: 'Side St 54321', by: null });
  });

  it('a task survives an engine restart on a SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-tasks-'));
    try {
      const path = join(dir, 'keel.db');
      const clock = new SimulatedClock({ autoAdvance: true });
      const first = createEngine({ store: new SqliteStore({ path }), clock, workflows: [review], pollIntervalMs: 20 });
      await first.start();
      await first.run(review, {}, { id: 's1' });
      let taskId: string | undefined;
      await until(async () => (taskId = (await first.listHumanTasks({ status: 'pending' })).tasks[0]?.id) !== undefined, 'the task');
      await first.stop();

      const store = new SqliteStore({ path });
      const second = createEngine({ store, clock, workflows: [review], pollIntervalMs: 20 });
      try {
        await second.start();
        expect(await second.getHumanTask(taskId!)).toMatchObject({ status: 'pending', assignee: 'alice' });
        await second.completeHumanTask(taskId!, { street: 'Dock 9', zip: '11111' }, { by: 'carol' });
        expect(await second.handle('s1').result()).toEqual({ status: 'completed', label: 'Dock 9 11111', by: 'carol' });
      } finally {
        await second.stop();
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores a given JSON Schema for a non-zod schema and leaves checking to the run', async () => {
    const { engine } = testEngine();
    const yes: StandardSchemaV1<unknown, 'yes'> = {
      '~standard': {
        version: 1,
        vendor: 'hand-made',
        validate: (v) => (v === 'yes' ? { value: 'yes' } : { issues: [{ message: 'say yes' }] }),
      },
    };
    const wf = defineWorkflow({
      name: 'hand-made',
      async run(ctx) {
        const r = await ctx.humanTask('confirm', { title: 'Confirm', schema: yes, jsonSchema: { type: 'string' } });
        return r.status === 'completed' ? r.data : r.status;
      },
    });
    await engine.start();
    const run = await engine.run(wf, undefined, { id: 'h1' });
    const task = await pendingTask(engine, 'h1');
    expect(task.jsonSchema).toEqual({ type: 'string' });
    expect((await errorOf(engine.completeHumanTask(task.id, 42))).code).toBe(ErrorCode.Validation);
    // Passes the JSON Schema, fails the run's own schema: ctx.humanTask throws into the code.
    await engine.completeHumanTask(task.id, 'no');
    const err = await errorOf(run.result());
    expect(err.message).toContain('say yes');
  });
});
