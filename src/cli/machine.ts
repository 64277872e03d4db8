/**
 * `keel machine …`: Orca state machines from the command line — verify, draw, convert, and run a
 * machine durably in an interactive session. A thin shell over `keel/machine` (STYLE §6).
 *
 * `run` and `send` read their settings like every command (src/cli/config.ts: environment < config
 * file < flags): the store (`run` tries machines in memory when none is set), and the config's
 * workflows, registered beside the machine so that runs of theirs the engine claims go on.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { KeelError } from '../core/errors.js';
import { createEngine, type Engine } from '../engine/engine.js';
import type { MachineDef } from '../machine/ast.js';
import { compileMermaid } from '../machine/compile-mermaid.js';
import { legacyToMarkdown } from '../machine/convert.js';
import { loadMachine, MACHINE_STATE_KEY, readOrcaFile, sendEvent, type MachineRunState, type MachineWorkflow } from '../machine/durable.js';
import { OrcaParseError } from '../machine/errors.js';
import { availableEvents, type TransitionResult } from '../machine/interpreter.js';
import { verifyFile } from '../machine/verify.js';
import type { VerifyIssue } from '../machine/verify-types.js';
import { loadWorkflows, resolveSettings, type SettingFlags, type Settings } from './config.js';

const out = (text: string): void => void process.stdout.write(`${text}\n`);

/** Adds the `machine` command group to the `keel` program. */
export function registerMachineCommands(program: Command): void {
  const machine = program.command('machine').description('Orca state machines: verify, draw, convert and run them');

  machine
    .command('verify')
    .description('verify an Orca file (exit 1 on errors, 0 with warnings only)')
    .argument('<file>', '.orca.md or legacy .orca file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { json?: boolean }) => {
      const issues = await verifyIssues(file);
      const errors = issues.filter((i) => i.severity === 'error').length;
      const warnings = issues.length - errors;
      if (o.json) out(JSON.stringify({ file, valid: errors === 0, errors: issues }, null, 2));
      else out(formatIssues(file, issues, errors, warnings));
      if (errors > 0) process.exitCode = 1;
    });

  machine
    .command('mermaid')
    .description('print a machine as a Mermaid stateDiagram-v2')
    .argument('<file>', '.orca.md or legacy .orca file')
    .option('-m, --machine <name>', 'which machine of the file (default: every one, separated by a blank line)')
    .action(async (file: string, o: { machine?: string }) => {
      const { file: parsed } = await readOrcaFile(file);
      const machines = o.machine === undefined ? parsed.machines : [pick(parsed.machines, o.machine, file)];
      out(machines.map((m) => compileMermaid(m).trimEnd()).join('\n\n'));
    });

  machine
    .command('convert')
    .description('convert a legacy .orca file to .orca.md')
    .argument('<file>', 'legacy .orca file')
    .option('-o, --output <file>', 'write here instead of printing')
    .action(async (file: string, o: { output?: string }) => {
      const markdown = legacyToMarkdown(await readFile(file, 'utf8'), { fileName: file });
      if (o.output === undefined) {
        process.stdout.write(markdown.endsWith('\n') ? markdown : `${markdown}\n`);
      } else {
        await writeFile(o.output, markdown);
        out(`Wrote ${o.output}.`);
      }
    });

  machine
    .command('run')
    .description('run a machine durably in an interactive session: shows its state and context, offers the events it accepts')
    .argument('<file>', '.orca.md or legacy .orca file')
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite::memory:)')
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs)')
    .option('-m, --machine <name>', 'which machine of the file (default: the first)')
    .option('--context <json>', 'initial context, laid over the defaults')
    .option('--id <runId>', 'run id: continues that run when it exists in the store')
    .option('--accept <codes>', 'verifier error codes to accept, comma-separated (e.g. INCOMPLETE_EVENT_HANDLING)')
    .action(async (file: string, o: RunOptions) => {
      await runSession(file, o);
    });

  machine
    .command('send')
    .description('send one event to a machine run and print the transition result (for scripts)')
    .argument('<file>', 'the .orca.md or .orca file of the run’s machine')
    .argument('<runId>')
    .argument('<event>')
    .argument('[payload]', 'JSON payload')
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite:./keel.db)')
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs)')
    .option('--accept <codes>', 'verifier error codes to accept, comma-separated')
    .option('--no-worker', 'only send: let another process (e.g. a `keel machine run` session) execute the run')
    .option('--timeout <ms>', 'how long to wait for the result', '30000')
    .option('--json', 'machine-readable output')
    .action(async (file: string, runId: string, event: string, payload: string | undefined, o: SendOptions) => {
      const settings = await resolveSettings(o);
      const engine = createEngine({ store: settings.store });
      try {
        await withWorkflows(engine, settings, await loadMachine(engine, file, acceptOption(o.accept)));
        if (o.worker) await engine.start();
        const result = await sendEvent(engine, runId, event, parseJson(payload, 'payload'), { timeoutMs: Number(o.timeout) });
        const state = await machineState(engine, runId);
        if (o.json) out(JSON.stringify({ runId, event, result, state: state?.state, context: state?.context }, null, 2));
        else out(formatResult(event, result));
      } finally {
        await engine.stop();
      }
    });
}

interface SendOptions extends SettingFlags {
  accept?: string;
  worker: boolean;
  timeout: string;
  json?: boolean;
}

interface RunOptions extends SettingFlags {
  machine?: string;
  context?: string;
  id?: string;
  accept?: string;
}

/** Register the config's workflows beside the machines of the file (a machine of the file that the
 * config names too is registered once, from the file). */
async function withWorkflows(engine: Engine, settings: Settings, machines: MachineWorkflow[]): Promise<void> {
  for (const w of await loadWorkflows(settings)) {
    if (!machines.some((m) => m.name === w.name && m.version === w.version)) engine.register(w);
  }
}

// ---------------------------------------------------------------------------------------------
// verify

async function verifyIssues(file: string): Promise<VerifyIssue[]> {
  try {
    const { file: parsed } = await readOrcaFile(file);
    return verifyFile(parsed).errors;
  } catch (err) {
    // Parse errors are verification errors too, with their own codes and positions.
    if (!(err instanceof OrcaParseError)) throw err;
    return err.diagnostics.map((d) => ({
      code: d.code as unknown as VerifyIssue['code'],
      severity: 'error',
      message: d.message,
      location: { line: d.line, column: d.column },
    }));
  }
}

function formatIssues(file: string, issues: readonly VerifyIssue[], errors: number, warnings: number): string {
  if (issues.length === 0) return `${file}: valid, no issues.`;
  const lines = issues.map((i) => {
    const l = i.location;
    const where = [l?.machine, l?.state ?? l?.decisionTable, l?.event].filter((x) => x !== undefined).join('/');
    const line = l?.line !== undefined ? `${file}:${l.line}${l.column !== undefined ? `:${l.column}` : ''}` : file;
    return [
      `${i.severity.padEnd(7)} ${i.code}  ${line}${where ? `  (${where})` : ''}`,
      `        ${i.message}`,
      ...(i.suggestion ? [`        fix: ${i.suggestion}`] : []),
    ].join('\n');
  });
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const summary = `${file}: ${errors > 0 ? 'invalid' : 'valid'}, ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
  return `${lines.join('\n')}\n${summary}`;
}

// ---------------------------------------------------------------------------------------------
// run

function pick(machines: readonly MachineDef[], name: string, file: string): MachineDef {
  const found = machines.find((m) => m.name === name);
  if (found === undefined) {
    throw new KeelError('INVALID_ARGUMENT', `${file} has no machine '${name}': use one of ${machines.map((m) => m.name).join(', ')}.`);
  }
  return found;
}

function parseJson(text: string | undefined, what: string): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new KeelError('INVALID_ARGUMENT', `The ${what} is not valid JSON: ${text}. Quote strings, e.g. '"yes"' or '{"amount": 10}'.`);
  }
}

function acceptOption(accept: string | undefined): { accept?: string[] } {
  if (accept === undefined) return {};
  return { accept: accept.split(',').map((c) => c.trim()).filter((c) => c !== '') };
}

async function machineState(engine: Engine, runId: string): Promise<MachineRunState | undefined> {
  return (await engine.getRun(runId)).state[MACHINE_STATE_KEY] as MachineRunState | undefined;
}

function formatResult(event: string, r: TransitionResult): string {
  if (r.taken) return `✓ ${event}: ${r.from} → ${r.to}`;
  if (r.ignored) return `· ${event}: ignored in ${r.from}`;
  return `✗ ${event}: not taken${r.guardFailed ? ' (guard failed)' : ''}: ${r.error ?? 'no transition'}`;
}

function formatState(state: MachineRunState): string {
  return `state:   ${state.state}${state.status === 'done' ? ' (final)' : ''}\ncontext: ${JSON.stringify(state.context)}`;
}

/** Asks for the next event: `undefined` to quit. */
type Ask = (events: readonly string[]) => Promise<{ event: string; payload: unknown } | undefined>;

async function runSession(file: string, o: RunOptions): Promise<void> {
  // A session without a store set tries the machine in memory.
  const settings = await resolveSettings(o, { store: 'sqlite::memory:' });
  const engine = createEngine({ store: settings.store });
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const { ask, close, say } = interactive ? await clackPrompts() : linePrompts();
  try {
    const defs = await loadMachine(engine, file, acceptOption(o.accept));
    await withWorkflows(engine, settings, defs);
    const def: MachineWorkflow | undefined = o.machine === undefined ? defs[0] : defs.find((d) => d.name === o.machine);
    if (def === undefined) pick(defs.map((d) => d.machine), o.machine ?? '', file);
    const workflow = def as MachineWorkflow;
    await engine.start();
    let runId = o.id;
    const existing = runId === undefined ? undefined : await engine.getRun(runId).catch(() => undefined);
    if (existing === undefined) {
      const context = parseJson(o.context, '--context') as Record<string, unknown> | undefined;
      runId = (await engine.run(workflow, context === undefined ? {} : { context }, runId === undefined ? {} : { id: runId })).id;
    } else if (existing.workflow !== workflow.name) {
      throw new KeelError('INVALID_ARGUMENT', `Run '${runId}' is a run of '${existing.workflow}', not of machine '${workflow.name}': pick the machine with --machine.`);
    }
    const id = runId as string;
    say(`${workflow.name} — run ${id} on ${settings.store}`);
    for (;;) {
      const state = await waitForState(engine, id);
      say(formatState(state));
      if (state.status === 'done') {
        // The run returns right after it records its final state.
        await engine.handle(id).result().catch(() => undefined);
      }
      const run = await engine.getRun(id);
      if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
        say(`The run has ${run.status}.`);
        break;
      }
      const events = availableEvents(workflow.machine, state);
      const next = await ask(events);
      if (next === undefined) break;
      try {
        say(formatResult(next.event, await sendEvent(engine, id, next.event, next.payload)));
        const effects = (await machineState(engine, id))?.lastEvent?.effects ?? [];
        for (const e of effects) if (!e.ok) say(`  effect ${e.effect} failed: ${e.error ?? ''}`);
      } catch (err) {
        if (!(err instanceof KeelError)) throw err;
        say(`✗ ${err.message} [${err.code}]`);
      }
    }
  } finally {
    close();
    await engine.stop();
  }
}

/** The machine state once the run has written it (right after it starts). */
async function waitForState(engine: Engine, runId: string): Promise<MachineRunState> {
  for (let i = 0; ; i++) {
    const state = await machineState(engine, runId);
    if (state !== undefined) return state;
    if (i > 500) throw new KeelError('MACHINE_NOT_STARTED', `Run '${runId}' has not started its machine: is another process holding it?`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A terminal: arrow-key selection with @clack/prompts. */
async function clackPrompts(): Promise<{ ask: Ask; close: () => void; say: (text: string) => void }> {
  const p = await import('@clack/prompts');
  p.intro('keel machine run');
  const OTHER = '\u0000other';
  const QUIT = '\u0000quit';
  const ask: Ask = async (events) => {
    const choice = await p.select<string>({
      message: 'Send an event',
      options: [
        ...events.map((e) => ({ value: e, label: e })),
        { value: OTHER, label: 'other…', hint: 'type an event and a JSON payload' },
        { value: QUIT, label: 'quit' },
      ],
    });
    if (p.isCancel(choice) || choice === QUIT) return undefined;
    if (choice !== OTHER) return { event: choice, payload: undefined };
    const line = await p.text({ message: 'event [json payload]', placeholder: 'submit_payment {"amount": 10}' });
    if (p.isCancel(line)) return undefined;
    return parseLine(line);
  };
  return { ask, close: () => p.outro('bye'), say: (text) => p.log.message(text) };
}

/** Piped input (scripts, tests): one `event [json payload]` per line, or its number; `q` quits. */
function linePrompts(): { ask: Ask; close: () => void; say: (text: string) => void } {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask: Ask = async (events) => {
    out(`events:  ${events.length === 0 ? '(none)' : events.map((e, i) => `${i + 1}) ${e}`).join('  ')}  q) quit`);
    for (;;) {
      process.stdout.write('> ');
      const next = await lines.next();
      const text = next.done === true ? 'q' : next.value.trim();
      // Echo the input: piped lines are not shown by a terminal.
      out(text);
      if (text === '') continue;
      if (text === 'q' || text === 'quit') return undefined;
      const parsed = parseLine(text);
      const n = Number(parsed.event);
      if (Number.isInteger(n) && n >= 1 && n <= events.length) parsed.event = events[n - 1] as string;
      return parsed;
    }
  };
  return { ask, close: () => rl.close(), say: out };
}

function parseLine(line: string): { event: string; payload: unknown } {
  const text = line.trim();
  const space = text.search(/\s/);
  if (space < 0) return { event: text, payload: undefined };
  return { event: text.slice(0, space), payload: parseJson(text.slice(space + 1), 'payload') };
}
