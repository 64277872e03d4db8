/**
 * `keel wizard list|start|resume`, `keel input`, `keel back`: wizards in the terminal, a thin
 * shell over the durable wizard API (src/wizard/durable.ts).
 *
 * Each command runs an engine in this process for as long as it talks to the run, so no separate
 * worker is needed; the run itself lives in the store, and any process can continue it. The engine
 * also registers the config's workflows, so that runs of theirs it claims meanwhile go on.
 *
 * Settings, like every command's (src/cli/config.ts: environment < config file < flags): the store
 * (`--store`, `store`, $KEEL_STORE; default sqlite:./keel.db) and the wizards folder
 * (`--definitions <dir>`, `wizards`, $KEEL_DEFINITIONS; default ./definitions, else the package's
 * examples/wizards).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as clack from '@clack/prompts';
import type { Command } from 'commander';
import { createEngine, type Engine } from '../engine/engine.js';
import { ConfigError, KeelError } from '../core/errors.js';
import {
  loadWizardDefinitions,
  startWizard,
  wizardBack,
  wizardInput,
  wizardSnapshot,
  wizardWorkflows,
  type CommitHandler,
  type ResourceProvider,
  type WizardReply,
  type WizardWorkflow,
} from '../wizard/durable.js';
import type { PromptBundle } from '../wizard/events.js';
import { StepKind } from '../wizard/types.js';
import { loadWorkflows, resolveSettings, type SettingFlags } from './config.js';

export interface CliSettings extends SettingFlags {
  json?: boolean;
}

/** The wizards folder: as set (flag, config file, $KEEL_DEFINITIONS), else ./definitions, else the bundled examples. */
export function definitionsDir(given: string | undefined): string {
  if (given !== undefined) {
    if (!existsSync(given)) {
      throw new ConfigError(`The wizard definitions folder '${given}' does not exist; create it, or set another with --definitions <dir> or \`wizards\` in the config file.`);
    }
    return resolve(given);
  }
  if (existsSync('definitions')) return resolve('definitions');
  return fileURLToPath(new URL('../../examples/wizards/', import.meta.url));
}

/**
 * The CLI's commit handler: it has no system to apply answers to, so it records them — they
 * become the run's result, which keeps every example usable end to end.
 */
const recordAnswers: CommitHandler = (answers, { hook, requestId }) => ({ hook, requestId, answers });

/** Likewise for action steps: every provider answers with what it was asked for. */
const echoProvider: ResourceProvider = (resourceId, { provider }) => ({ provider, resourceId, checked: true });
const echoProviders = new Proxy<Record<string, ResourceProvider>>({}, { get: (_t, name) => (typeof name === 'string' ? echoProvider : undefined) });

/** An engine with the folder's wizards and the config's workflows, started in this process; stopped after `fn`. */
export async function withWizardEngine<T>(o: CliSettings, fn: (engine: Engine, wizards: Map<string, WizardWorkflow>) => Promise<T>): Promise<T> {
  const resolved = await resolveSettings(o);
  const folder = definitionsDir(resolved.wizards);
  const engine = createEngine({ store: resolved.store, workflows: await loadWorkflows(resolved), pollIntervalMs: 200 });
  try {
    loadWizardDefinitions(engine, folder, { commit: recordAnswers, providers: echoProviders });
    await engine.start();
    return await fn(engine, wizardWorkflows(engine));
  } finally {
    await engine.stop();
  }
}

/** Resolve a run id by unique prefix. */
export async function resolveRunId(engine: Engine, idOrPrefix: string): Promise<string> {
  const matches = await engine.findRunIds(idOrPrefix, 11);
  if (matches.includes(idOrPrefix) || matches.length === 0) return idOrPrefix;
  if (matches.length === 1) return matches[0] as string;
  throw new KeelError('AMBIGUOUS_ID', `'${idOrPrefix}' matches ${matches.length > 10 ? 'more than 10' : matches.length} runs (${matches.slice(0, 10).join(', ')}); give more of the id.`);
}

/** The run given with --run, or the most recent waiting wizard run. */
async function targetRun(engine: Engine, run: string | undefined): Promise<string> {
  if (run !== undefined) return resolveRunId(engine, run);
  const { runs } = await engine.listRuns({ status: ['waiting', 'pending', 'running'], limit: 200 });
  const latest = runs
    .filter((r) => r.kind === 'tree' && r.state.wizard !== undefined)
    .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())[0];
  if (!latest) throw new KeelError('NO_WIZARD_RUN', 'No wizard run is waiting for input; start one with `keel wizard start <name>` or pass --run <id>.');
  return latest.id;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const show = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** The answers as a two-column table, in step order, with the steps' titles. */
function answersTable(wizard: WizardWorkflow | undefined, answers: Record<string, unknown>): string {
  const steps = wizard?.wizard.steps ?? [];
  const rows = Object.entries(answers).map(([slug, value]) => [steps.find((s) => s.slug === slug)?.title ?? slug, show(value)]);
  return table([['STEP', 'ANSWER'], ...rows]);
}

/** A prompt as plain text (non-interactive output and the REPL). */
export function formatPrompt(prompt: PromptBundle, wizard?: WizardWorkflow): string {
  const total = wizard?.wizard.steps.length;
  const lines = [`[${prompt.step_index + 1}${total ? `/${total}` : ''}] ${prompt.title} (${prompt.slug})`, prompt.prompt];
  if (prompt.choices) lines.push(...prompt.choices.map((c, i) => `  ${i + 1}. ${c}`));
  if (prompt.items) lines.push(prompt.items.length ? prompt.items.map((item, i) => `  ${i + 1}. ${show(item)}`).join('\n') : '  (no items yet)');
  if (prompt.summary) lines.push(answersTable(wizard, prompt.summary.answers));
  if (prompt.current_value !== undefined) lines.push(`(current answer: ${show(prompt.current_value)})`);
  return lines.join('\n');
}

/** A reply as plain text: the error, then the next prompt or the outcome. */
export function formatReply(reply: WizardReply, wizard?: WizardWorkflow): string {
  const lines: string[] = [];
  if (reply.error !== undefined) lines.push(`✗ ${reply.error}`);
  if (reply.status === 'completed') lines.push(`Completed.${reply.result !== undefined ? ` Result: ${JSON.stringify(reply.result)}` : ''}`, answersTable(wizard, reply.answers));
  else if (reply.status === 'failed') lines.push('The wizard failed; nothing was applied.');
  else if (reply.prompt) lines.push(formatPrompt(reply.prompt, wizard));
  return lines.join('\n');
}

function print(o: CliSettings, reply: WizardReply, text: () => string): void {
  const { state: _state, ...shown } = reply;
  process.stdout.write(o.json ? `${JSON.stringify(shown, null, 2)}\n` : `${text()}\n`);
  // Scripts can tell a refused answer (2) and a failed wizard (1) from an accepted answer (0).
  if (reply.status === 'failed') process.exitCode = 1;
  else if (reply.error !== undefined) process.exitCode = 2;
}

const settings = (c: Command): Command =>
  c
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite:./keel.db)')
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs)')
    .option('--definitions <dir>', 'wizard definitions folder (default from the config, $KEEL_DEFINITIONS, ./definitions, or the examples)')
    .option('--json', 'machine-readable output');

/** Register the wizard commands on the `keel` program. */
export function registerWizardCommands(program: Command): void {
  const wizard = program.command('wizard').description('transactional wizards: list, start (interactive) and resume');

  settings(wizard.command('list').description('list the wizards of the definitions folder')).action(async (o: CliSettings) => {
    const list = await withWizardEngine(o, (_e, wizards) =>
      Promise.resolve(
        [...wizards.values()].map((w) => ({ name: w.name, title: w.wizard.definition.title ?? null, steps: w.wizard.steps.map((s) => s.slug) })),
      ),
    );
    process.stdout.write(
      o.json
        ? `${JSON.stringify(list, null, 2)}\n`
        : `${list.length === 0 ? 'No wizards.' : table([['NAME', 'TITLE', 'STEPS'], ...list.map((w) => [w.name, w.title ?? '', w.steps.join(' → ')])])}\n`,
    );
  });

  settings(
    wizard
      .command('start')
      .description('start a wizard run: interactive prompts, or with --no-interactive print the run id and the first prompt')
      .argument('<name>', 'wizard name (see `keel wizard list`)'),
  )
    .option('--id <id>', 'run id (starting the same id again resumes that run)')
    .option('--no-interactive', 'print the run id and the first prompt, then exit; answer with `keel input`')
    .action(async (name: string, o: CliSettings & { id?: string; interactive: boolean }) => {
      await withWizardEngine(o, async (engine, wizards) => {
        const reply = await startWizard(engine, name, o.id === undefined ? {} : { id: o.id });
        if (o.interactive && !o.json && process.stdin.isTTY) return interactive(engine, reply, wizards.get(name));
        print(o, reply, () => `Started wizard '${name}': run ${reply.runId}\n${formatReply(reply, wizards.get(name))}`);
      });
    });

  settings(wizard.command('resume').description('continue a waiting wizard run interactively').argument('[id]', 'run id or unique prefix (default: the most recent waiting wizard run)'))
    .action(async (idArg: string | undefined, o: CliSettings) => {
      await withWizardEngine(o, async (engine, wizards) => {
        const runId = await targetRun(engine, idArg);
        const { run, snapshot } = await wizardSnapshot(engine, runId);
        const reply: WizardReply = { runId, status: snapshot.status, prompt: snapshot.prompt, answers: snapshot.answers, events: [], state: snapshot.state };
        if (!o.json && process.stdin.isTTY) return interactive(engine, reply, wizards.get(run.workflow));
        print(o, reply, () => formatReply(reply, wizards.get(run.workflow)));
      });
    });

  settings(program.command('input').description('answer the current step of a wizard run').argument('<value>', 'the answer'))
    .option('--run <id>', 'run id or unique prefix (default: the most recent waiting wizard run)')
    .action(async (value: string, o: CliSettings & { run?: string }) => {
      await withWizardEngine(o, async (engine, wizards) => {
        const runId = await targetRun(engine, o.run);
        const reply = await wizardInput(engine, runId, value);
        print(o, reply, () => formatReply(reply, wizards.get((reply.prompt?.wizard ?? reply.state.wizard))));
      });
    });

  settings(program.command('back').description('go back to an earlier step of a wizard run (answers are kept)').argument('<slug>', 'the step to go back to'))
    .option('--run <id>', 'run id or unique prefix (default: the most recent waiting wizard run)')
    .action(async (slug: string, o: CliSettings & { run?: string }) => {
      await withWizardEngine(o, async (engine, wizards) => {
        const runId = await targetRun(engine, o.run);
        const reply = await wizardBack(engine, runId, slug);
        print(o, reply, () => formatReply(reply, wizards.get(reply.state.wizard)));
      });
    });
}

// ---------------------------------------------------------------------------------------------
// Interactive

const BACK = '\u0000back';

/** Ask for one answer with clack; returns the answer, BACK, or undefined when the person cancelled. */
async function ask(prompt: PromptBundle, reply: WizardReply, wizard: WizardWorkflow | undefined): Promise<unknown> {
  const message = prompt.title === prompt.prompt ? prompt.prompt : `${prompt.title}: ${prompt.prompt}`;
  const canGoBack = prompt.step_index > 0;
  const backOption = canGoBack ? [{ value: BACK, label: '↩ Go back to an earlier step' }] : [];
  let answer: unknown;
  switch (prompt.step_kind) {
    case StepKind.Summary:
      clack.note(answersTable(wizard, prompt.summary?.answers ?? {}), 'Summary');
      answer = await clack.select({ message: prompt.prompt, options: [{ value: 'yes', label: 'Confirm' }, ...backOption] });
      break;
    case StepKind.Commit:
      answer = await clack.select({ message: prompt.prompt, options: [{ value: 'yes', label: 'Apply' }, ...backOption] });
      break;
    case StepKind.Introduction:
      clack.note(prompt.prompt, prompt.title);
      answer = await clack.select({ message: 'Ready?', options: [{ value: '', label: 'Begin' }] });
      break;
    default:
      if (prompt.items) clack.note(prompt.items.length ? prompt.items.map((item, i) => `${i + 1}. ${show(item)}`).join('\n') : '(no items yet)', prompt.title);
      if (prompt.field_type === 'choice' && prompt.choices) {
        const current = typeof prompt.current_value === 'string' ? prompt.current_value : undefined;
        answer = await clack.select({
          message,
          options: [...prompt.choices.map((c) => ({ value: c, label: c })), ...backOption],
          ...(current !== undefined && prompt.choices.includes(current) ? { initialValue: current } : {}),
        });
      } else if (prompt.field_type === 'confirm') {
        answer = await clack.select({ message, options: [{ value: 'yes', label: 'Yes' }, { value: 'no', label: 'No' }, ...backOption] });
      } else {
        const current = prompt.current_value;
        answer = await clack.text({
          message,
          placeholder: canGoBack ? 'type :back to revisit an earlier step' : '',
          ...(typeof current === 'string' || typeof current === 'number' || typeof current === 'boolean' ? { initialValue: String(current) } : {}),
          // The same pure wizard the run uses checks the answer in place; the run checks it again.
          validate: (value) => {
            const text = value ?? '';
            if (text.trim().startsWith(':back')) return undefined;
            const checked = wizard?.wizard.input(reply.state, text);
            return checked?.error;
          },
        });
        if (typeof answer === 'string' && answer.trim().startsWith(':back')) {
          const slug = answer.trim().slice(5).trim();
          return slug === '' ? BACK : { back: slug };
        }
      }
  }
  return clack.isCancel(answer) ? undefined : answer;
}

/** Which earlier step to go back to. */
async function pickStep(reply: WizardReply, wizard: WizardWorkflow | undefined): Promise<string | undefined> {
  const index = reply.prompt?.step_index ?? 0;
  const steps = (wizard?.wizard.steps ?? []).slice(0, index).filter((s) => s.allowBacktrack && ![StepKind.Introduction, StepKind.Summary, StepKind.Commit].includes(s.kind as 'summary'));
  if (steps.length === 0) {
    clack.log.warn('There is no earlier step to go back to.');
    return undefined;
  }
  const slug = await clack.select({ message: 'Go back to', options: steps.map((s) => ({ value: s.slug, label: s.title, hint: s.slug })) });
  return clack.isCancel(slug) ? undefined : slug;
}

async function interactive(engine: Engine, first: WizardReply, wizard: WizardWorkflow | undefined): Promise<void> {
  clack.intro(wizard?.wizard.definition.title ?? wizard?.name ?? first.prompt?.wizard ?? 'Wizard');
  let reply = first;
  for (;;) {
    if (reply.status === 'completed') {
      clack.note(answersTable(wizard, reply.answers), 'Answers');
      clack.outro(`Done. Run ${reply.runId} completed.`);
      return;
    }
    if (reply.status === 'failed') {
      clack.cancel(`${reply.error ?? 'The wizard failed.'} Nothing was applied.`);
      process.exitCode = 1;
      return;
    }
    const prompt = reply.prompt;
    if (!prompt) return;
    if (reply.error !== undefined) clack.log.error(reply.error);
    const answer = await ask(prompt, reply, wizard);
    if (answer === undefined) {
      clack.cancel(`Paused. The run waits at '${prompt.slug}': continue with \`keel wizard resume ${reply.runId}\` or \`keel input <value> --run ${reply.runId}\`.`);
      return;
    }
    if (answer === BACK || (typeof answer === 'object' && answer !== null && 'back' in answer)) {
      const slug = answer === BACK ? await pickStep(reply, wizard) : (answer as { back: string }).back;
      if (slug !== undefined) reply = await wizardBack(engine, reply.runId, slug);
      continue;
    }
    const slow = prompt.step_kind === StepKind.Commit || prompt.step_kind === StepKind.Action;
    const spin = slow ? clack.spinner() : undefined;
    spin?.start(prompt.step_kind === StepKind.Commit ? 'Applying your changes' : 'Running the action');
    try {
      reply = await wizardInput(engine, reply.runId, answer);
    } finally {
      if (spin) {
        if (reply.status === 'failed' || reply.error !== undefined) spin.error('Failed');
        else spin.stop(prompt.step_kind === StepKind.Commit ? 'Changes applied' : 'Done');
      }
    }
  }
}
