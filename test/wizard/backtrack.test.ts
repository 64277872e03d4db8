import { describe, expect, it } from 'vitest';
import { createWizard, defineWizardDefinition } from '../../src/wizard/index.js';
import { answer, example, types } from './helpers.js';

describe('backtracking', () => {
  const wizard = example('onboard.yaml');

  it('goes back to an answered step, keeps the answers, and asks the later steps again', () => {
    let r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com', 'admin');
    expect(r.prompt?.slug).toBe('summary');
    r = wizard.back(r.state, 'email');
    expect(r.events).toEqual([
      { type: 'wizard.backtrack', wizard: 'onboard', from: 'summary', to: 'email' },
      { type: 'wizard.step.started', wizard: 'onboard', slug: 'email', step_index: 1, kind: 'input' },
    ]);
    expect(r.prompt).toMatchObject({ slug: 'email', current_value: 'ada@example.com' });
    expect(r.state.answers).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com', role: 'admin' });

    r = answer(wizard, r, 'ada@lovelace.org');
    expect(r.prompt).toMatchObject({ slug: 'role', current_value: 'admin' });
    r = answer(wizard, r, 'viewer');
    expect(r.prompt?.summary?.answers).toEqual({ name: 'Ada Lovelace', email: 'ada@lovelace.org', role: 'viewer' });
  });

  it('refuses protected steps with a message and a blocked event, leaving the state as it was', () => {
    const r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com', 'admin', 'yes');
    expect(r.prompt?.slug).toBe('commit');
    for (const slug of ['summary', 'commit']) {
      const refused = wizard.back(r.state, slug);
      expect(refused.error).toBe(`Cannot backtrack to protected step: '${slug}'`);
      expect(refused.rejected).toBe('protected_step');
      expect(types(refused)).toEqual(['wizard.backtrack.blocked']);
      expect(refused.state).toBe(r.state);
    }
  });

  it('refuses a step with allow_backtrack: false and the introduction', () => {
    const approval = example('approval.yaml');
    const r = answer(approval, approval.start(), '', 'Laptop', '1499.90', '1', 'no', 'finance');
    expect(r.prompt?.slug).toBe('justification');
    expect(approval.back(r.state, 'approver').error).toBe("Cannot backtrack to protected step: 'approver'");
    expect(approval.back(r.state, 'intro').events[0]).toMatchObject({ type: 'wizard.backtrack.blocked', slug: 'intro', reason: 'introduction step' });
    expect(approval.back(r.state, 'amount').prompt).toMatchObject({ slug: 'amount', current_value: 1499.9 });
  });

  it('names the steps when the slug is unknown, and refuses steps not reached yet', () => {
    const r = answer(wizard, wizard.start(), 'Ada Lovelace');
    expect(wizard.back(r.state, 'mail').error).toBe("Unknown step: 'mail'. Steps: name, email, role, summary, commit");
    expect(wizard.back(r.state, 'role')).toMatchObject({ rejected: 'not_reached', error: "You have not reached 'role' yet; answer the current step first." });
  });

  it('allows going forward again up to the furthest step reached', () => {
    let r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com');
    r = wizard.back(r.state, 'name');
    r = wizard.back(r.state, 'role');
    expect(r.error).toBeUndefined();
    expect(r.prompt?.slug).toBe('role');
  });

  it('is refused when the wizard turns backtracking off', () => {
    const strict = createWizard(defineWizardDefinition({ name: 's', steps: ['a', 'b'], allowBacktrack: false }));
    const r = answer(strict, strict.start(), 'x');
    expect(strict.back(r.state, 'a')).toMatchObject({ rejected: 'backtrack_disabled', error: 'Going back is not enabled for this wizard.' });
  });

  it('clears an earlier summary confirmation', () => {
    let r = answer(wizard, wizard.start(), 'Ada Lovelace', 'ada@example.com', 'admin', 'yes');
    expect(r.state.summaryAck).toBe(true);
    r = wizard.back(r.state, 'role');
    expect(r.state.summaryAck).toBe(false);
  });
});
