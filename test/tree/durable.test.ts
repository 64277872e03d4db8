/**
 * Trees hosted as durable runs: tasks are durable steps, input arrives as signals, timeouts are
 * durable timers, and the blackboard is in the run state at every wait.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunCancelledError, RunFailedError } from '../../src/index.js';
import {
  defineTreeWorkflow,
  parseTreeDefinition,
  treeInput,
  TreeRegistry,
  waitForRunState,
  type TreeRunSnapshot,
} from '../../src/tree/index.js';
import { ingestRegistry } from '../../examples/trees/ingest-pipeline.js';
import { testEngine, until } from '../engine/helpers.js';

const pipelineText = readFileSync(fileURLToPath(new URL('../../examples/trees/ingest-pipeline.yaml', import.meta.url)), 'utf8');

describe('durable tree runs', () => {
  it('runs extract → transform → load with tasks as durable steps (a failed extract is retried by the tree)', async () => {
    const calls: string[] = [];
    let extracts = 0;
    const pipeline = defineTreeWorkflow(parseTreeDefinition(pipelineText, { source: 'ingest-pipeline.yaml' }), {
      registry: ingestRegistry(),
      tasks: {
        extract: (url) => {
          calls.push(`extract ${String(url)}`);
          if (++extracts === 1) throw new Error('throttled');
          return [{ name: 'Ada', age: '36' }, { name: 'Alan', age: '41' }];
        },
        load: (request) => {
          const { table, rows } = request as { table: string; rows: unknown[] };
          calls.push(`load ${table} ${rows.length}`);
          return rows.length;
        },
      },
    });
    const { engine } = testEngine({ workflows: [pipeline] });
    await engine.start();
    const run = await engine.run(pipeline, {
      blackboard: { source: 's3://bucket/people.csv', columns: [{ column: 'name', type: 'string' }, { column: 'age', type: 'integer' }], table: 'people' },
    });
    const output = await run.result();
    expect(output.status).toBe('success');
    expect(output.blackboard).toMatchObject({ loaded: 2, rows: [{ name: 'Ada', age: 36 }, { name: 'Alan', age: 41 }], batch_size: 500 });
    expect(calls).toEqual(['extract s3://bucket/people.csv', 'extract s3://bucket/people.csv', 'load people 2']);
    const info = await engine.getRun(run.id);
    expect(info.kind).toBe('tree');
    expect((info.state.tree as TreeRunSnapshot).blackboard.loaded).toBe(2);
    const steps = (await engine.history(run.id)).filter((e) => e.type === 'step.completed' || e.type === 'step.failed');
    expect(steps.map((e) => `${e.type} ${(e as { name: string }).name}`)).toEqual([
      'step.failed task:extract',
      'step.completed task:extract',
      'step.completed task:load',
    ]);
  });

  it('a tree that fails fails the run with the task errors', async () => {
    const pipeline = defineTreeWorkflow(parseTreeDefinition(pipelineText), {
      registry: ingestRegistry(),
      tasks: {
        extract: () => {
          throw new Error('bucket not found');
        },
      },
    });
    const { engine } = testEngine({ workflows: [pipeline] });
    await engine.start();
    const run = await engine.run(pipeline, { blackboard: { source: 's3://nope/x.csv', columns: [], table: 't' } });
    const err = await run.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailedError);
    expect((err as Error).message).toContain("Tree 'ingest-pipeline' ended in failure: raw_rows.error: bucket not found");
  });

  it('waits for input with the blackboard and prompt in the run state; a timeout node fires on a durable timer', async () => {
    const registry = new TreeRegistry();
    const approval = defineTreeWorkflow(
      {
        name: 'approve-spend',
        blackboard: { limit: 100 },
        root: {
          type: 'selector',
          children: [
            { type: 'timeout', duration: '1d', child: { type: 'interactive', name: 'decision', prompt: { question: 'Approve?' } } },
            { type: 'task', task: 'escalate', output: 'escalated' },
          ],
        },
      },
      { registry, tasks: { escalate: () => 'to-cfo' } },
    );
    // Input before the deadline: this clock moves only by hand, so the day cannot pass meanwhile.
    const manual = testEngine({ workflows: [approval], autoAdvance: false });
    await manual.engine.start();
    const answered = await manual.engine.run(approval, { blackboard: { amount: 40 } }, { id: 'answered' });
    const waiting = await waitForRunState<TreeRunSnapshot>(manual.engine, answered.id, 'tree', (s) => s.status === 'waiting');
    expect(waiting).toMatchObject({ prompts: { decision: { question: 'Approve?' } }, blackboard: { limit: 100, amount: 40 } });
    expect(waiting.deadline).toBe(manual.clock.now() + 86_400_000);
    const snapshot = await treeInput(manual.engine, answered.id, 'decision', 'yes');
    expect(snapshot).toMatchObject({ status: 'success', blackboard: { decision: 'yes' } });
    expect(await answered.result()).toMatchObject({ status: 'success', blackboard: { decision: 'yes' } });

    const { engine, clock } = testEngine({ workflows: [approval] });
    await engine.start();
    const start = clock.now();
    // No input: the simulated clock skips the day, the timeout fails the leaf, and the selector escalates.
    const ignored = await engine.run(approval, {}, { id: 'ignored' });
    expect(await ignored.result()).toMatchObject({ status: 'success', blackboard: { escalated: 'to-cfo' } });
    expect(clock.now() - start).toBeGreaterThanOrEqual(86_400_000);
  });

  describe('cancelled', () => {
    const halts: string[] = [];
    const registry = new TreeRegistry().action('hold', ({ blackboard }) => (blackboard.get('go') === true ? 'success' : 'waiting'), {
      halt: ({ blackboard, now }) => void halts.push(`hold halted at ${now}, limit ${String(blackboard.get('limit'))}`),
    });
    const working = new Set<string>();

    it('halts the active nodes of a tree suspended at a wait, from the tree recorded there', async () => {
      halts.length = 0;
      const held = defineTreeWorkflow(
        { name: 'held', blackboard: { limit: 7 }, root: { type: 'sequence', children: [{ type: 'action', action: 'hold' }, { type: 'task', task: 'after' }] } },
        { registry, tasks: { after: () => 'done' } },
      );
      const { engine, clock } = testEngine({ workflows: [held], autoAdvance: false });
      await engine.start();
      const run = await engine.run(held, {}, { id: 'held-1' });
      await waitForRunState<TreeRunSnapshot>(engine, run.id, 'tree', (s) => s.status === 'waiting');
      expect(halts).toEqual([]);
      await engine.cancel(run.id);
      await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
      expect(halts).toEqual([`hold halted at ${clock.now()}, limit 7`]);
    });

    it('halts the active nodes of a tree whose task is running, as they stand then', async () => {
      halts.length = 0;
      const busy = defineTreeWorkflow(
        {
          name: 'busy',
          blackboard: { limit: 9 },
          root: { type: 'parallel', policy: 'all', children: [{ type: 'task', task: 'slow' }, { type: 'action', action: 'hold' }] },
        },
        {
          registry,
          tasks: {
            slow: (_input, { runId, signal }) =>
              new Promise((_, reject) => {
                working.add(runId);
                signal.addEventListener('abort', () => reject(signal.reason as Error));
              }),
          },
        },
      );
      const { engine, clock } = testEngine({ workflows: [busy], autoAdvance: false });
      await engine.start();
      const run = await engine.run(busy, {}, { id: 'busy-1' });
      await until(() => working.has('busy-1'), 'the task to run');
      await engine.cancel(run.id);
      await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
      expect(halts).toEqual([`hold halted at ${clock.now()}, limit 9`]);
    });
  });
});
