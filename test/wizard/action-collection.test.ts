import { describe, expect, it } from 'vitest';
import { createWizard, defineWizardDefinition, RESOURCE_NOT_CONFIGURED } from '../../src/wizard/index.js';
import { answer, example, types } from './helpers.js';

describe('action steps', () => {
  const wizard = example('ingest.json');

  it('validates, asks the host for the resource, and records the result on success', () => {
    let r = wizard.start();
    expect(r.prompt).toMatchObject({ slug: 'source', step_kind: 'action', resource_provider: 'source-preview' });
    r = wizard.input(r.state, 'ftp://x');
    expect(r.error).toBe('Enter a URL starting with s3://, https:// or file://');
    expect(r.commands).toEqual([]);

    r = wizard.input(r.state, 's3://bucket/people.csv');
    expect(r.status).toBe('acting');
    expect(r.commands).toEqual([
      { type: 'resource', requestId: 'ingest:source:1', wizard: 'ingest', slug: 'source', provider: 'source-preview', resourceId: 's3://bucket/people.csv', value: 's3://bucket/people.csv' },
    ]);
    expect(wizard.input(r.state, 'again').rejected).toBe('busy');

    r = wizard.actionOutcome(r.state, { ok: true, data: { columns: ['name', 'age'], rows: 2 } });
    expect(r.status).toBe('waiting');
    expect(r.events[0]).toEqual({ type: 'wizard.action.executed', wizard: 'ingest', slug: 'source', provider: 'source-preview', resource_id: 's3://bucket/people.csv', ok: true });
    expect(r.state.resourceResults.source).toEqual({ columns: ['name', 'age'], rows: 2 });
    expect(r.state.answers.source).toBe('s3://bucket/people.csv');
    expect(r.prompt?.slug).toBe('columns');
  });

  it('keeps the person on the step with the message when the action fails, and asks again with a new request id', () => {
    let r = wizard.input(wizard.start().state, 's3://bucket/missing.csv');
    r = wizard.actionOutcome(r.state, { ok: false, error: RESOURCE_NOT_CONFIGURED });
    expect(r.status).toBe('waiting');
    expect(r.error).toBe('Resource engine is not configured for this action.');
    expect(types(r)).toEqual(['wizard.action.executed', 'wizard.validation.failed']);
    expect(r.prompt?.slug).toBe('source');
    expect(r.state.answers.source).toBeUndefined();
    r = wizard.input(r.state, 's3://bucket/people.csv');
    expect(r.commands[0]?.requestId).toBe('ingest:source:2');
  });

  it('a confirm action with a fixed resource id runs only on yes', () => {
    const w = createWizard(defineWizardDefinition({ name: 'a', steps: [{ slug: 'sync', kind: 'action', fieldType: 'confirm', resourceProvider: 'crm', resourceId: 'contacts' }] }));
    expect(w.input(w.start().state, 'no').error).toBe('Please confirm to run this action.');
    expect(w.input(w.start().state, 'yes').commands[0]).toMatchObject({ provider: 'crm', resourceId: 'contacts', value: true });
  });

  it('refuses an outcome nobody asked for', () => {
    expect(() => wizard.actionOutcome(wizard.start().state, { ok: true })).toThrow(/has no pending resource command/);
  });
});

describe('collection steps', () => {
  const wizard = example('ingest.json');
  const atColumns = () => wizard.actionOutcome(wizard.input(wizard.start().state, 's3://b/f.csv').state, { ok: true, data: {} });

  it('adds items field by field from text commands', () => {
    let r = atColumns();
    expect(r.prompt).toMatchObject({ slug: 'columns', step_kind: 'collection', items: [], min_items: 1, max_items: 50 });
    r = answer(wizard, r, 'add');
    expect(r.prompt).toMatchObject({ slug: 'columns.column', title: 'Column', item_mode: 'add', item_index: 1, scope_stack: ['columns', 'column'], scope_depth: 2 });
    r = wizard.input(r.state, 'first name');
    expect(r.error).toBe('Use letters, digits and _ only');
    expect(r.prompt?.slug).toBe('columns.column');
    r = answer(wizard, r, 'name');
    expect(r.prompt).toMatchObject({ slug: 'columns.type', field_type: 'choice', choices: ['string', 'integer', 'number', 'boolean', 'date'] });
    r = answer(wizard, r, 'str');
    expect(r.events).toEqual([
      { type: 'wizard.collection.changed', wizard: 'ingest', slug: 'columns', op: 'add', index: 1, items: [{ column: 'name', type: 'string' }] },
    ]);
    expect(r.prompt).toMatchObject({ slug: 'columns', items: [{ column: 'name', type: 'string' }] });
  });

  it('edits an item (empty input keeps a value), removes one, and finishes with done', () => {
    let r = answer(wizard, atColumns(), 'add', 'name', '1', 'add', 'age', 'string');
    expect(r.state.answers.columns).toEqual([{ column: 'name', type: 'string' }, { column: 'age', type: 'string' }]);
    r = answer(wizard, r, 'edit 2');
    expect(r.prompt).toMatchObject({ slug: 'columns.column', item_mode: 'edit', item_index: 2, current_value: 'age' });
    r = answer(wizard, r, '', 'integer');
    expect(r.state.answers.columns).toEqual([{ column: 'name', type: 'string' }, { column: 'age', type: 'integer' }]);
    expect(r.events[0]).toMatchObject({ op: 'edit', index: 2 });
    r = answer(wizard, r, 'remove 1');
    expect(r.state.answers.columns).toEqual([{ column: 'age', type: 'integer' }]);
    r = answer(wizard, r, 'done');
    expect(types(r)).toEqual(['wizard.input.received', 'wizard.step.started']);
    expect(r.prompt?.slug).toBe('table');
  });

  it('explains bad commands, unknown items and the minimum', () => {
    const r = atColumns();
    expect(wizard.input(r.state, 'done').error).toBe('Add at least 1 item before you continue.');
    expect(wizard.input(r.state, 'edit 1').error).toBe('There are no items yet.');
    expect(wizard.input(r.state, 'dance').error).toBe('Type add, edit <number>, remove <number> or done.');
    const one = answer(wizard, r, 'add', 'name', 'string');
    expect(wizard.input(one.state, 'remove 3').error).toBe('There is no item 3; choose 1 to 1.');
  });

  it('takes structured operations with every field validated', () => {
    let r = atColumns();
    const bad = wizard.input(r.state, { op: 'add', item: { column: '1x', type: 'text' } });
    expect(bad.errors).toEqual(['Column: Use letters, digits and _ only', 'Type: Choose one of: string, integer, number, boolean, date']);
    expect(wizard.input(r.state, { op: 'add', item: { column: 'a', kind: 'x' } }).error).toBe("Unknown field 'kind'; fields: column, type.");
    r = answer(wizard, r, { op: 'add', item: { column: 'a', type: 'int' } }, { op: 'add', item: { column: 'b', type: 'date' } });
    r = answer(wizard, r, { op: 'edit', index: 1, item: { type: 'number' } }, { op: 'remove', index: 2 });
    expect(r.state.answers.columns).toEqual([{ column: 'a', type: 'number' }]);
    expect(wizard.input(r.state, { op: 'sort' }).error).toBe('Unknown collection operation "sort"; use op: add, edit, remove or done.');
    r = answer(wizard, r, { op: 'done' });
    expect(r.prompt?.slug).toBe('table');
  });

  it('enforces max_items', () => {
    const w = createWizard(
      defineWizardDefinition({ name: 'c', steps: [{ slug: 'tags', kind: 'collection', maxItems: 1, itemFields: ['tag'] }] }),
    );
    const r = answer(w, w.start(), { op: 'add', item: { tag: 'a' } });
    expect(w.input(r.state, 'add').error).toBe('You can add at most 1 item.');
  });

  it('keeps the items when going back to the collection', () => {
    let r = answer(wizard, atColumns(), { op: 'add', item: { column: 'a', type: 'string' } }, 'done');
    r = wizard.back(r.state, 'columns');
    expect(r.prompt).toMatchObject({ slug: 'columns', items: [{ column: 'a', type: 'string' }] });
  });
});
