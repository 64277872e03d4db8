import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildTree, createTreeLogic, parseTreeDefinition } from '../../src/tree/index.js';
import { ingestRegistry } from '../../examples/trees/ingest-pipeline.js';
import { answer, example, types } from './helpers.js';

describe('example wizards load and complete', () => {
  it('quick: derived titles, integer schema with a human message, answers as the result', () => {
    const quick = example('quick.yaml');
    let r = quick.start();
    expect(r.prompt).toMatchObject({ slug: 'topic', title: 'Topic', prompt: 'Enter value for topic' });
    r = answer(quick, r, 'Keel');
    expect(quick.input(r.state, '9').error).toBe('rating must be at most 5 (you entered 9)');
    expect(quick.input(r.state, '4.5').error).toBe('Enter a whole number, for example 27');
    r = answer(quick, r, '4');
    expect(r.status).toBe('completed');
    expect(r.events.at(-1)).toEqual({ type: 'wizard.completed', wizard: 'quick', answers: { topic: 'Keel', rating: 4 }, committed: false });
  });

  it('approval: introduction, coercion, a whole-flow limit, and a commit', () => {
    const approval = example('approval.yaml');
    let r = approval.start();
    expect(r.prompt).toMatchObject({ slug: 'intro', step_kind: 'introduction' });
    r = answer(approval, r, '', 'Standing desk');
    expect(approval.input(r.state, '0').error).toBe('amount must be greater than 0 (you entered 0)');
    expect(approval.input(r.state, '20000').error).toBe('amount must be at most 10000 (you entered 20000)');
    r = answer(approval, r, '749.5');
    expect(approval.input(r.state, '0').error).toBe('quantity must be at least 1 (you entered 0)');
    r = answer(approval, r, '2', 'Yes', '2', '');
    expect(r.prompt?.slug).toBe('summary');
    expect(r.prompt?.summary?.answers).toEqual({ item: 'Standing desk', amount: 749.5, quantity: 2, urgent: true, approver: 'finance' });
    r = answer(approval, r, 'yes', 'yes');
    expect(r.commands[0]).toMatchObject({ type: 'commit', hook: 'submit-approval' });
    r = approval.commitOutcome(r.state, { ok: true, data: { ticket: 'PO-1' } });
    expect(r.status).toBe('completed');
  });

  it('ingest: the wizard commits, and its commit hook runs the extract → transform → load tree', () => {
    const ingest = example('ingest.json');
    let r = ingest.input(ingest.start().state, 's3://bucket/people.csv');
    r = ingest.actionOutcome(r.state, { ok: true, data: { columns: ['name', 'age'] } });
    r = answer(ingest, r, { op: 'add', item: { column: 'name', type: 'string' } }, { op: 'add', item: { column: 'age', type: 'integer' } }, 'done');
    r = answer(ingest, r, 'people', 'yes', 'yes');
    const [commit] = r.commands;
    expect(commit).toMatchObject({ type: 'commit', hook: 'start-ingest' });
    if (commit?.type !== 'commit') throw new Error('expected a commit command');

    // The host's `start-ingest` handler: run the pipeline tree with the answers on its blackboard.
    const path = fileURLToPath(new URL('../../examples/trees/ingest-pipeline.yaml', import.meta.url));
    const definition = parseTreeDefinition(readFileSync(path, 'utf8'), { source: 'examples/trees/ingest-pipeline.yaml' });
    const pipeline = createTreeLogic(() => buildTree(definition, ingestRegistry()));
    let t = pipeline.initial({ blackboard: commit.answers, now: 0 });
    expect(t.status).toBe('waiting');
    expect(t.commands).toEqual([{ type: 'task', node: '0.0.0', task: 'extract', input: 's3://bucket/people.csv' }]);

    // extract fails once; the retry node asks for it again.
    t = pipeline.transition(t.state, { type: 'task.result', node: '0.0.0', outcome: { ok: false, error: 'throttled' }, now: 1 });
    expect(t.commands).toEqual([{ type: 'task', node: '0.0.0', task: 'extract', input: 's3://bucket/people.csv' }]);
    t = pipeline.transition(t.state, {
      type: 'task.result',
      node: '0.0.0',
      outcome: { ok: true, value: [{ name: 'Ada', age: '36' }, { name: 'Alan', age: '41' }] },
      now: 2,
    });
    expect(t.commands).toEqual([
      {
        type: 'task',
        node: '0.2.1.0',
        task: 'load',
        input: { table: 'people', rows: [{ name: 'Ada', age: 36 }, { name: 'Alan', age: 41 }], batchSize: 500 },
      },
    ]);
    expect(t.deadline).toBe(2 + 10 * 60_000);
    t = pipeline.transition(t.state, { type: 'task.result', node: '0.2.1.0', outcome: { ok: true, value: 2 }, now: 3 });
    expect(t.status).toBe('success');
    expect(t.state.blackboard.values.loaded).toBe(2);

    r = ingest.commitOutcome(r.state, { ok: true, data: { loaded: 2 } });
    expect(r.status).toBe('completed');
    expect(types(r)).toEqual(['wizard.commit.succeeded', 'wizard.completed']);
  });

  it('ingest pipeline: an empty extract skips the load', () => {
    const path = fileURLToPath(new URL('../../examples/trees/ingest-pipeline.yaml', import.meta.url));
    const pipeline = createTreeLogic(() => buildTree(parseTreeDefinition(readFileSync(path, 'utf8')), ingestRegistry()));
    let t = pipeline.initial({ blackboard: { source: 'file:///empty.csv', columns: [{ column: 'a', type: 'string' }], table: 't' }, now: 0 });
    t = pipeline.transition(t.state, { type: 'task.result', node: '0.0.0', outcome: { ok: true, value: [] }, now: 1 });
    expect(t.status).toBe('success');
    expect(t.commands).toEqual([]);
  });
});
