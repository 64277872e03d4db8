/**
 * The `keel` command: a thin shell over the public API (STYLE §6). Every command takes
 * `--store <url>` (default: $KEEL_STORE, else sqlite:./keel.db) and `--json` for scripts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { createEngine, type Engine } from '../index.js';
import { KeelError } from '../core/errors.js';
import { RUN_STATUSES, type RunStatus } from '../core/store.js';
import { registerMachineCommands } from './machine.js';
import { registerWizardCommands } from './wizard.js';
import { registerRepl } from './repl.js';
import { registerOperatorCommands, timeline } from './operator.js';
import { resolveSettings } from './config.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface Common {
  store?: string;
  config?: string;
  json?: boolean;
}

async function withEngine<T>(o: Common, fn: (engine: Engine) => Promise<T>): Promise<T> {
  // Environment < config file < flags (src/cli/config.ts).
  const engine = createEngine({ store: (await resolveSettings(o)).store });
  try {
    return await fn(engine);
  } finally {
    await engine.stop();
  }
}

/** Resolve an id by unique prefix. */
async function resolveId(engine: Engine, idOrPrefix: string): Promise<string> {
  const matches = await engine.findRunIds(idOrPrefix, 11);
  if (matches.includes(idOrPrefix) || matches.length === 0) return idOrPrefix;
  if (matches.length === 1) return matches[0] as string;
  throw new KeelError('AMBIGUOUS_ID', `'${idOrPrefix}' matches ${matches.length > 10 ? 'more than 10' : matches.length} runs (${matches.slice(0, 10).join(', ')}); give more of the id.`);
}

function print(o: Common, value: unknown, text: () => string): void {
  process.stdout.write(o.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const program = new Command('keel')
  .description('Keel: durable workflows, state machines and wizards.')
  .version(pkg.version, '-v, --version')
  .showHelpAfterError()
  .exitOverride();

const common = (c: Command): Command =>
  c
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite:./keel.db)')
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs)')
    .option('--json', 'machine-readable output');

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`${pkg.version}\n`);
  });

common(program.command('ls').description('list runs, newest first'))
  .option('-s, --status <status>', `only runs with this status (${RUN_STATUSES.join(', ')})`)
  .option('-w, --workflow <name>', 'only runs of this workflow')
  .option('-n, --limit <n>', 'at most this many', '20')
  .option('--cursor <cursor>', 'continue after a previous page')
  .action(async (o: Common & { status?: string; workflow?: string; limit: string; cursor?: string }) => {
    if (o.status !== undefined && !RUN_STATUSES.includes(o.status as RunStatus)) {
      throw new KeelError('INVALID_ARGUMENT', `Unknown status '${o.status}': use one of ${RUN_STATUSES.join(', ')}.`);
    }
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new KeelError('INVALID_ARGUMENT', `--limit must be a positive integer, not '${o.limit}'.`);
    const page = await withEngine(o, (e) =>
      e.listRuns({
        limit,
        ...(o.status ? { status: o.status as RunStatus } : {}),
        ...(o.workflow ? { workflow: o.workflow } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
      }),
    );
    print(o, page, () =>
      page.runs.length === 0
        ? 'No runs.'
        : table([
            ['ID', 'WORKFLOW', 'STATUS', 'CREATED', 'UPDATED'],
            ...page.runs.map((r) => [r.id, r.workflow, r.status, r.createdAt.toISOString(), r.updatedAt.toISOString()]),
          ]) + (page.nextCursor ? `\n(more: --cursor ${page.nextCursor})` : ''),
    );
  });

common(program.command('inspect').description('show a run and a timeline of its history').argument('<id>', 'run id or unique prefix'))
  .option('-e, --events', 'every event with its full data')
  .action(async (idArg: string, o: Common & { events?: boolean }) => {
    const { run, history } = await withEngine(o, async (e) => {
      const id = await resolveId(e, idArg);
      return { run: await e.getRun(id), history: await e.history(id) };
    });
    print(o, { run, history }, () =>
      [
        `${run.id}  ${run.workflow}@${run.version}  ${run.status}`,
        `input:  ${JSON.stringify(run.input)}`,
        ...(run.output !== undefined ? [`output: ${JSON.stringify(run.output)}`] : []),
        ...(run.error ? [`error:  ${run.error.name}: ${run.error.message}`] : []),
        ...(Object.keys(run.state).length ? [`state:  ${JSON.stringify(run.state)}`] : []),
        ...(run.waitingFor?.length ? [`waits:  ${run.waitingFor.join(', ')}${run.wakeAt ? ` (until ${run.wakeAt.toISOString()})` : ''}`] : []),
        ...(run.lastError ? [`held:   ${run.lastError.message}`] : []),
        `started ${run.createdAt.toISOString()}, updated ${run.updatedAt.toISOString()}`,
        '',
        timeline(history, o.events ?? false),
      ].join('\n'),
    );
  });

common(program.command('signal').description('send a signal to a run').argument('<id>').argument('<name>').argument('[payload]', 'JSON payload'))
  .action(async (idArg: string, name: string, payload: string | undefined, o: Common) => {
    let value: unknown;
    try {
      value = payload === undefined ? undefined : JSON.parse(payload);
    } catch {
      throw new KeelError('INVALID_ARGUMENT', `The payload is not valid JSON: ${payload}. Quote strings, e.g. '"yes"'.`);
    }
    const id = await withEngine(o, async (e) => {
      const id = await resolveId(e, idArg);
      await e.signal(id, name, value);
      return id;
    });
    print(o, { runId: id, signal: name }, () => `Sent '${name}' to ${id}.`);
  });

common(program.command('cancel').description('cancel a run and its children').argument('<id>'))
  .action(async (idArg: string, o: Common) => {
    const id = await withEngine(o, async (e) => {
      const id = await resolveId(e, idArg);
      await e.cancel(id);
      return id;
    });
    print(o, { runId: id, cancelled: true }, () => `Cancelled ${id}.`);
  });

registerMachineCommands(program);
registerWizardCommands(program);
registerRepl(program);
registerOperatorCommands(program, pkg.version);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const e = err as Error & { code?: string };
  if (process.argv.includes('--json')) process.stderr.write(`${JSON.stringify({ error: { code: e.code ?? 'ERROR', message: e.message } })}\n`);
  else process.stderr.write(`keel: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(1);
}
