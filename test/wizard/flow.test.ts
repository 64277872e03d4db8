import { describe, expect, it } from 'vitest';
import { createWizard, defineWizardDefinition, WizardStateError } from '../../src/wizard/index.js';
import { answer, example, types } from './helpers.js';

describe('onboard, end to end over the pure API', () => {
  const wizard = example('onboard.yaml');

  it('asks each step, summarises, commits once, and completes', () => {
    let r = wizard.start();
    expect(r.status).toBe('waiting');
    expect(r.prompt).toMatchObject({ wizard: 'onboard', slug: 'name', title: 'Full name', field_type: 'text', step_index: 0, input_key: '__bt_input__:name', scope_stack: ['name'] });
    expect(types(r)).toEqual(['wizard.step.started']);

    r = wizard.input(r.state, 'Ada Lovelace');
    expect(types(r)).toEqual(['wizard.input.received', 'wizard.step.started']);
    r = answer(wizard, r, 'ada@example.com', 'dev');
    expect(r.prompt?.slug).toBe('summary');
    expect(types(r)).toEqual(['wizard.input.received', 'wizard.step.started', 'wizard.summary.shown']);
    expect(r.events[2]).toEqual({
      type: 'wizard.summary.shown',
      wizard: 'onboard',
      summary: { answers: { name: 'Ada Lovelace', email: 'ada@example.com', role: 'developer' } },
      schema_valid: true,
      errors: [],
    });
    expect(r.prompt).toMatchObject({ step_kind: 'summary', schema_valid: true, summary: { answers: { role: 'developer' } } });

    r = wizard.input(r.state, 'ok');
    expect(r.error).toBe('Please confirm the summary to continue.');
    r = wizard.input(r.state, 'Yes');
    expect(r.state.summaryAck).toBe(true);
    expect(r.prompt).toMatchObject({ slug: 'commit', step_kind: 'commit', commit_hook: 'create-user', field_type: 'confirm' });

    r = wizard.input(r.state, 'no');
    expect(r.error).toBe('Please confirm commit to apply your changes.');
    expect(r.commands).toEqual([]);

    r = wizard.input(r.state, 'YES');
    expect(r.status).toBe('committing');
    expect(r.commands).toEqual([
      { type: 'commit', requestId: 'onboard:commit:1', wizard: 'onboard', hook: 'create-user', answers: { name: 'Ada Lovelace', email: 'ada@example.com', role: 'developer' } },
    ]);
    expect(types(r)).toEqual(['wizard.commit.started']);
    expect(r.prompt?.busy).toBe('commit');

    const done = wizard.commitOutcome(r.state, { requestId: 'onboard:commit:1', ok: true, data: { userId: 7 } });
    expect(done.status).toBe('completed');
    expect(done.prompt).toBeNull();
    expect(done.state.committed).toBe(true);
    expect(done.state.commitResult).toEqual({ userId: 7 });
    expect(done.events).toEqual([
      { type: 'wizard.commit.succeeded', wizard: 'onboard', hook: 'create-user', result: { userId: 7 } },
      { type: 'wizard.completed', wizard: 'onboard', answers: { name: 'Ada Lovelace', email: 'ada@example.com', role: 'developer' }, committed: true },
    ]);
    expect(wizard.input(done.state, 'more').rejected).toBe('finished');
  });

  it('issues the commit command exactly once, even when asked again or resumed from storage', () => {
    let r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com', 'admin', 'yes', 'yes');
    expect(r.commands).toHaveLength(1);
    const command = r.commands[0];

    const again = wizard.input(r.state, 'yes');
    expect(again.commands).toEqual([]);
    expect(again.rejected).toBe('busy');
    expect(again.error).toBe('Your changes are being applied; wait until that has finished.');
    expect(wizard.back(r.state, 'name').rejected).toBe('busy');

    // A crash while committing: the stored state still knows the command, with the same id.
    const resumed = wizard.restore(JSON.parse(JSON.stringify(wizard.persist(r.state))));
    expect(wizard.pendingCommand(resumed)).toEqual(command);

    expect(() => wizard.commitOutcome(resumed, { requestId: 'onboard:commit:9', ok: true })).toThrow(WizardStateError);
    r = wizard.commitOutcome(resumed, { ok: true });
    expect(r.status).toBe('completed');
    expect(() => wizard.commitOutcome(r.state, { ok: true })).toThrow(/has no pending commit command/);
  });

  it('a failed commit fails the run with the message and commits nothing', () => {
    const r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com', 'admin', 'yes', 'yes');
    const failed = wizard.commitOutcome(r.state, { ok: false, error: 'email already taken' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe('email already taken');
    expect(failed.state.committed).toBe(false);
    expect(failed.state.commitError).toBe('email already taken');
    expect(failed.events).toEqual([{ type: 'wizard.commit.failed', wizard: 'onboard', hook: 'create-user', error: 'email already taken' }]);
    expect(failed.prompt).toBeNull();
    expect(wizard.input(failed.state, 'yes').rejected).toBe('finished');
  });

  it('never mutates the state it is given', () => {
    const start = wizard.start();
    const frozen = JSON.stringify(start.state);
    wizard.input(start.state, 'Ada Lovelace');
    wizard.input(start.state, '');
    expect(JSON.stringify(start.state)).toBe(frozen);
  });

  it('resumes from a stored state at the same step, and refuses a state of another definition', () => {
    const r = answer(wizard, wizard.start(), 'Ada Lovelace');
    const stored = JSON.parse(JSON.stringify(wizard.persist(r.state))) as unknown;
    const again = example('onboard.yaml');
    const restored = again.restore(stored);
    expect(again.prompt(restored)?.slug).toBe('email');
    expect(answer(again, { ...r, state: restored }, 'ada@example.com').prompt?.slug).toBe('role');

    const changed = createWizard(defineWizardDefinition({ name: 'onboard', steps: ['name', 'phone'] }));
    expect(() => changed.restore(stored)).toThrow(/different list of steps/);
    expect(() => example('quick.yaml').restore(stored)).toThrow(/belongs to wizard 'onboard', not 'quick'/);
    expect(() => wizard.restore({ nope: true })).toThrow(/not a wizard state/);
  });

  it('is driven the same way through initial() and transition(signal)', () => {
    let r = wizard.initial();
    expect(r.prompt?.slug).toBe('name');
    for (const value of ['Ada Lovelace', 'ada@example.com', 'viewer', 'yes', 'yes']) r = wizard.transition(r.state, { type: 'input', value });
    r = wizard.transition(r.state, { type: 'commit.result', ok: true, data: 1 });
    expect(r.status).toBe('completed');
  });
});

describe('summary re-validation', () => {
  // `start` is checked against `end`, which is asked later: only the summary can see the clash.
  const wizard = createWizard(
    defineWizardDefinition({
      name: 'trip',
      steps: [{ slug: 'start', validation: ['before_end'] }, 'end'],
      includeSummary: true,
    }),
    { rules: { before_end: (v, _p, { answers }) => answers.end === undefined || String(v) < (answers.end as string) || 'Start must be before the end date' } },
  );

  it('shows the summary with schema_valid false and refuses to continue until fixed', () => {
    let r = answer(wizard, wizard.start(), '2024-05-10', '2024-05-01');
    expect(r.prompt?.slug).toBe('summary');
    expect(r.prompt?.schema_valid).toBe(false);
    expect(r.prompt?.validation_errors).toEqual(['Start: Start must be before the end date']);
    expect(r.events.find((e) => e.type === 'wizard.summary.shown')).toMatchObject({ schema_valid: false });

    r = wizard.input(r.state, 'yes');
    expect(r.error).toBe('Start: Start must be before the end date');
    expect(r.status).toBe('waiting');
    expect(wizard.summary(r.state)).toEqual({ answers: { start: '2024-05-10', end: '2024-05-01' }, schemaValid: false, errors: ['Start: Start must be before the end date'] });

    r = wizard.back(r.state, 'start');
    r = answer(wizard, r, '2024-04-01', '2024-05-01');
    expect(r.prompt?.schema_valid).toBe(true);
    r = answer(wizard, r, 'yes');
    expect(r.status).toBe('completed');
  });

  it('reports missing required answers and whole-flow schema problems', () => {
    const flow = createWizard(
      defineWizardDefinition({ name: 'f', steps: ['a'], includeSummary: true, schema: { type: 'object', properties: { a: { type: 'string', maxLength: 3 } } } }),
    );
    expect(flow.validateAnswers({})).toEqual(['Missing required answer: a']);
    expect(flow.validateAnswers({ a: 'toolong' })).toEqual(['a must be at most 3 characters long']);
  });
});
