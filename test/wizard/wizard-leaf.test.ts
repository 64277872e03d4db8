import { describe, expect, it } from 'vitest';
import { Action, BehaviorTree, createTreeLogic, Sequence, type TreeTransition } from '../../src/tree/index.js';
import { WizardLeaf, WizardTask, type PromptBundle, type WizardEvent } from '../../src/wizard/index.js';
import { example } from './helpers.js';

describe('a wizard hosted as a leaf of a behavior tree', () => {
  const onboard = example('onboard.yaml');
  const logic = createTreeLogic(
    () =>
      new BehaviorTree(
        new Sequence('signup', [
          new WizardLeaf('onboard', onboard, { output: 'account' }),
          new Action('greet', ({ blackboard }) => {
            const account = blackboard.get<{ answers: { name: string } }>('account');
            blackboard.set('greeting', `Welcome, ${account?.answers.name ?? '?'}`);
          }),
        ]),
      ),
  );
  const send = (t: TreeTransition, value: unknown): TreeTransition => logic.transition(t.state, { type: 'input', name: 'onboard', value, now: 0 });
  const prompt = (t: TreeTransition): PromptBundle => t.prompts.onboard as PromptBundle;
  const events = (t: TreeTransition): string[] => t.notices.map((n) => (n.event as WizardEvent).type);

  it('runs the wizard through input, back, summary and a commit task, then continues the tree', () => {
    let t = logic.initial({ now: 0 });
    expect(t.status).toBe('waiting');
    expect(prompt(t).slug).toBe('name');
    expect(events(t)).toEqual(['wizard.step.started']);

    t = send(t, 'A');
    expect(prompt(t)).toMatchObject({ slug: 'name', validation_error: 'Enter at least 2 characters' });
    expect(events(t)).toEqual(['wizard.validation.failed']);

    for (const value of ['Ada Lovelace', 'ada@example.com']) t = send(t, value);
    t = send(t, { type: 'back', slug: 'name' });
    expect(prompt(t)).toMatchObject({ slug: 'name', current_value: 'Ada Lovelace' });
    t = send(t, { type: 'back', slug: 'summary' });
    expect(prompt(t).validation_error).toBe("Cannot backtrack to protected step: 'summary'");
    expect(events(t)).toEqual(['wizard.backtrack.blocked']);

    for (const value of ['Ada King', 'ada@example.com', 'admin', 'yes', 'yes']) t = send(t, value);
    expect(t.commands).toEqual([
      {
        type: 'task',
        node: '0.0',
        task: WizardTask.Commit,
        input: { type: 'commit', requestId: 'onboard:commit:1', wizard: 'onboard', hook: 'create-user', answers: { name: 'Ada King', email: 'ada@example.com', role: 'admin' } },
      },
    ]);

    // The snapshot taken while committing resumes, and the outcome completes the wizard.
    const stored = logic.restore(JSON.parse(JSON.stringify(logic.persist(t.state))));
    t = logic.transition(stored, { type: 'task.result', node: '0.0', outcome: { ok: true, value: { id: 1 } }, now: 0 });
    expect(t.status).toBe('success');
    expect(events(t)).toEqual(['wizard.commit.succeeded', 'wizard.completed']);
    expect(t.state.blackboard.values.greeting).toBe('Welcome, Ada King');
    expect(t.state.blackboard.values.account).toEqual({ answers: { name: 'Ada King', email: 'ada@example.com', role: 'admin' }, committed: true, commitResult: { id: 1 } });
    expect(t.prompts).toEqual({});
  });

  it('fails the tree when the commit fails', () => {
    let t = logic.initial({ now: 0 });
    for (const value of ['Ada Lovelace', 'ada@example.com', 'admin', 'yes', 'yes']) t = send(t, value);
    t = logic.transition(t.state, { type: 'task.result', node: '0.0', outcome: { ok: false, error: 'quota exceeded' }, now: 0 });
    expect(t.status).toBe('failure');
    expect(t.state.blackboard.values['account.error']).toBe('quota exceeded');
    expect(events(t)).toEqual(['wizard.commit.failed']);
  });
});
