/**
 * Wizards hosted as durable runs: input, back-navigation and the commit go through the engine
 * (signals, state, a durable step), on a memory store with a simulated clock.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunFailedError } from '../../src/index.js';
import { KeelError } from '../../src/core/errors.js';
import {
  defineWizardWorkflow,
  HostedRunErrorCode,
  parseWizardDefinition,
  startWizard,
  wizardBack,
  wizardEvents,
  wizardInput,
  type CommitHandler,
  type WizardHostOptions,
  type WizardSnapshot,
} from '../../src/wizard/index.js';
import { testEngine } from '../engine/helpers.js';

function wizardWorkflow(file: string, options: WizardHostOptions = {}) {
  const path = fileURLToPath(new URL(`../../examples/wizards/${file}`, import.meta.url));
  return defineWizardWorkflow(parseWizardDefinition(readFileSync(path, 'utf8'), { source: `examples/wizards/${file}` }), options);
}

async function started(file: string, options: WizardHostOptions = {}) {
  const workflow = wizardWorkflow(file, options);
  const { engine } = testEngine({ workflows: [workflow] });
  await engine.start();
  return { engine, workflow };
}

describe('durable wizard runs', () => {
  it('onboard end to end: validation keeps the step, choices, back keeps answers, protected steps refuse, one commit', async () => {
    const commits: unknown[] = [];
    const createUser: CommitHandler = (answers, { requestId }) => {
      commits.push({ answers, requestId });
      return { userId: 'u-1' };
    };
    const { engine } = await started('onboard.yaml', { commit: { 'create-user': createUser } });

    let r = await startWizard(engine, 'onboard', { id: 'onb-1' });
    expect(r).toMatchObject({ runId: 'onb-1', status: 'waiting', prompt: { slug: 'name', title: 'Full name' } });
    expect(r.events.map((e) => e.type)).toEqual(['wizard.step.started']);
    expect((await engine.getRun('onb-1')).kind).toBe('tree');

    r = await wizardInput(engine, 'onb-1', 'A');
    expect(r.error).toBe('Enter at least 2 characters');
    expect(r.prompt?.slug).toBe('name');
    expect(r.events.map((e) => e.type)).toEqual(['wizard.validation.failed']);

    r = await wizardInput(engine, 'onb-1', 'Ada Lovelace');
    expect(r.error).toBeUndefined();
    expect(r.prompt?.slug).toBe('email');
    r = await wizardInput(engine, 'onb-1', 'ada');
    expect(r.error).toBe('Enter an email address such as ada@example.com');
    r = await wizardInput(engine, 'onb-1', 'ada@example.com');
    expect(r.prompt).toMatchObject({ slug: 'role', field_type: 'choice', choices: ['admin', 'developer', 'designer', 'viewer'] });

    // A choice by 1-based index.
    r = await wizardInput(engine, 'onb-1', '2');
    expect(r.prompt?.slug).toBe('summary');
    expect(r.prompt?.summary?.answers).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com', role: 'developer' });

    // Back to the name keeps every answer; the kept one is offered again.
    r = await wizardBack(engine, 'onb-1', 'name');
    expect(r.prompt).toMatchObject({ slug: 'name', current_value: 'Ada Lovelace' });
    expect(r.answers).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com', role: 'developer' });
    expect(r.events.map((e) => e.type)).toEqual(['wizard.backtrack', 'wizard.step.started']);
    await wizardInput(engine, 'onb-1', 'Ada King');
    await wizardInput(engine, 'onb-1', 'ada@example.com');
    // A choice by unique prefix, case-insensitive.
    r = await wizardInput(engine, 'onb-1', 'Desi');
    expect(r.prompt?.slug).toBe('summary');

    // The summary is protected, and so is the commit.
    r = await wizardInput(engine, 'onb-1', 'yes');
    expect(r.prompt?.slug).toBe('commit');
    const blocked = await wizardBack(engine, 'onb-1', 'summary');
    expect(blocked.error).toBe("Cannot backtrack to protected step: 'summary'");
    expect(blocked.prompt?.slug).toBe('commit');
    expect(blocked.events.map((e) => e.type)).toEqual(['wizard.backtrack.blocked']);
    expect((await wizardInput(engine, 'onb-1', 'maybe')).error).toBe('Please confirm commit to apply your changes.');

    r = await wizardInput(engine, 'onb-1', 'yes');
    expect(r.status).toBe('completed');
    expect(r.prompt).toBeNull();
    expect(r.result).toEqual({ userId: 'u-1' });
    expect(r.events.map((e) => e.type)).toEqual(['wizard.commit.started', 'wizard.commit.succeeded', 'wizard.completed']);
    expect(commits).toEqual([{ answers: { name: 'Ada King', email: 'ada@example.com', role: 'designer' }, requestId: 'onboard:commit:1' }]);
    expect(await engine.handle('onb-1').result()).toEqual({
      answers: { name: 'Ada King', email: 'ada@example.com', role: 'designer' },
      committed: true,
      result: { userId: 'u-1' },
    });

    // History: the commit ran as one durable step, and every wizard event is there in order.
    const history = await engine.history('onb-1');
    expect(history.filter((e) => e.type === 'step.completed').map((e) => (e as { name: string }).name)).toEqual(['commit']);
    const types = wizardEvents(history).map((e) => e.type);
    expect(types.filter((t) => t === 'wizard.step.started')).toHaveLength(9);
    expect(types).toContain('wizard.summary.shown');
    expect(types.slice(-3)).toEqual(['wizard.commit.started', 'wizard.commit.succeeded', 'wizard.completed']);

    // A finished run takes no input.
    const late = await wizardInput(engine, 'onb-1', 'again').catch((e: unknown) => e);
    expect(late).toBeInstanceOf(KeelError);
    expect(late).toMatchObject({ code: HostedRunErrorCode.Finished });
    expect((late as Error).message).toContain("Wizard run 'onb-1' is completed; only a waiting wizard run takes input");
  });

  it('coerces numbers, keeps protected steps (allow_backtrack: false) and shows the snapshot in the run state', async () => {
    const { engine } = await started('approval.yaml', { commit: (answers) => ({ ticket: 'PO-1', answers }) });
    const { runId } = await startWizard(engine, 'approval');
    for (const value of ['', 'Standing desk']) await wizardInput(engine, runId, value);
    expect((await wizardInput(engine, runId, '0')).error).toBe('amount must be greater than 0 (you entered 0)');
    for (const value of ['749.5', '2', 'Yes', 'fin']) await wizardInput(engine, runId, value);
    const r = await wizardInput(engine, runId, '');
    expect(r.answers).toEqual({ item: 'Standing desk', amount: 749.5, quantity: 2, urgent: true, approver: 'finance' });
    expect((await wizardBack(engine, runId, 'approver')).error).toBe("Cannot backtrack to protected step: 'approver'");
    expect((await wizardBack(engine, runId, 'nope')).error).toContain("Unknown step: 'nope'");

    const state = (await engine.getRun(runId)).state.wizard as WizardSnapshot;
    expect(state).toMatchObject({ status: 'waiting', prompt: { slug: 'summary', step_kind: 'summary' }, answers: r.answers });
    expect(state.lastInput?.rejected).toBe('unknown_step');
  });

  it('a failing commit fails the run with the handler message, with nothing committed', async () => {
    let calls = 0;
    const { engine } = await started('onboard.yaml', {
      commit: () => {
        calls++;
        throw new Error('The directory refused the account: email already taken');
      },
    });
    const { runId } = await startWizard(engine, 'onboard');
    for (const v of ['Ada Lovelace', 'ada@example.com', 'admin', 'yes']) await wizardInput(engine, runId, v);
    const r = await wizardInput(engine, runId, 'yes');
    expect(r.status).toBe('failed');
    expect(r.error).toBe('The directory refused the account: email already taken');
    expect(r.events.map((e) => e.type)).toEqual(['wizard.commit.started', 'wizard.commit.failed']);
    const failure = await engine.handle(runId).result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RunFailedError);
    const run = await engine.getRun(runId);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ name: 'WizardCommitError', message: 'The directory refused the account: email already taken' });
    expect(calls).toBe(1);
    await expect(wizardBack(engine, runId, 'name')).rejects.toMatchObject({ code: HostedRunErrorCode.Finished });
  });

  it('an unknown commit hook fails the run with a clear message; unknown wizards and non-wizard runs are refused', async () => {
    const { engine } = await started('quick.yaml');
    await expect(startWizard(engine, 'nope')).rejects.toMatchObject({ code: HostedRunErrorCode.UnknownDefinition, message: expect.stringContaining('Known wizards: quick') });
    const { runId } = await startWizard(engine, 'quick');
    await wizardInput(engine, runId, 'Keel');
    const r = await wizardInput(engine, runId, '4');
    expect(r).toMatchObject({ status: 'completed', answers: { topic: 'Keel', rating: 4 } });
    expect(await engine.handle(runId).result()).toEqual({ answers: { topic: 'Keel', rating: 4 }, committed: false });

    const onboard = wizardWorkflow('onboard.yaml');
    engine.register(onboard);
    const o = await startWizard(engine, 'onboard');
    for (const v of ['Ada Lovelace', 'ada@example.com', 'admin', 'yes']) await wizardInput(engine, o.runId, v);
    const failed = await wizardInput(engine, o.runId, 'yes');
    expect(failed).toMatchObject({ status: 'failed', error: "Unknown commit handler: 'create-user'" });
  });

  it('ingest: the action step calls its resource provider as a durable step; a refusal keeps the step', async () => {
    const previews: string[] = [];
    const { engine } = await started('ingest.json', {
      commit: (answers) => ({ started: answers.table }),
      providers: {
        'source-preview': (resourceId) => {
          previews.push(resourceId);
          if (resourceId.includes('missing')) throw new Error(`No such file: ${resourceId}`);
          return { columns: ['name', 'age'] };
        },
      },
    });
    const { runId } = await startWizard(engine, 'ingest');
    expect((await wizardInput(engine, runId, 'ftp://x')).error).toBe('Enter a URL starting with s3://, https:// or file://');
    const refused = await wizardInput(engine, runId, 's3://bucket/missing.csv');
    expect(refused).toMatchObject({ status: 'waiting', error: 'No such file: s3://bucket/missing.csv', prompt: { slug: 'source' } });
    let r = await wizardInput(engine, runId, 's3://bucket/people.csv');
    expect(r.prompt?.slug).toBe('columns');
    expect(r.events.map((e) => e.type)).toContain('wizard.action.executed');
    for (const v of ['add', 'name', 'string', 'add', 'age', '2', 'done', 'people', 'yes']) {
      expect((await wizardInput(engine, runId, v)).error, v).toBeUndefined();
    }
    r = await wizardInput(engine, runId, 'yes');
    expect(r).toMatchObject({ status: 'completed', result: { started: 'people' } });
    expect(r.answers).toMatchObject({ columns: [{ column: 'name', type: 'string' }, { column: 'age', type: 'integer' }] });
    expect(previews).toEqual(['s3://bucket/missing.csv', 's3://bucket/people.csv']);
    const steps = (await engine.history(runId))
      .filter((e) => e.type === 'step.completed' || e.type === 'step.failed')
      .map((e) => (e as { name: string }).name);
    expect(steps).toEqual(['action:source', 'action:source', 'commit']);
  });
});
