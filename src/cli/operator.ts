/**
 * Operator commands: `keel init`, `dev`, `worker`, `serve`, `run`, `stats`, `doctor`, `prune`,
 * `keys …` and, when the engine has human tasks, `tasks …`. A thin shell over the public API and
 * keel/http; settings come from config.ts (environment < config file < flags).
 */
import { spawn } from 'node:child_process';
import { TASK_STATUSES, type TaskStatus } from '../core/human-task.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../core/errors.js';
import type { HistoryEvent } from '../core/history.js';
import { RUN_STATUSES, type RunStatus } from '../core/store.js';
import { createEngine, type Engine, type RunInfo } from '../engine/engine.js';
import { createHttpApp } from '../http/app.js';
import { listen } from '../http/server.js';
import { toMs } from '../util/duration.js';
import { redactUrl } from '../util/url.js';
import { loadWorkflows, resolveSettings, type SettingFlags, type Settings } from './config.js';
import { registerKeyCommands } from './keys.js';
import { resolveRunId, table } from './wizard.js';

interface Flags extends SettingFlags {
  json?: boolean;
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);
const print = (o: Flags, value: unknown, text: () => string): void => out(o.json ? JSON.stringify(value, null, 2) : text());

const settingsOptions = (c: Command): Command =>
  c
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs, or $KEEL_CONFIG)')
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite:./keel.db)')
    .option('--json', 'machine-readable output');

async function engineFor(o: Flags, withWorkflows = true): Promise<{ engine: Engine; settings: Settings }> {
  const settings = await resolveSettings(o);
  const workflows = withWorkflows ? await loadWorkflows(settings) : [];
  return { engine: createEngine({ store: settings.store, workflows }), settings };
}

async function withEngine<T>(o: Flags, fn: (engine: Engine, settings: Settings) => Promise<T>, withWorkflows = false): Promise<T> {
  const { engine, settings } = await engineFor(o, withWorkflows);
  try {
    return await fn(engine, settings);
  } finally {
    await engine.stop();
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolveSignal) => {
    const on = (sig: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolveSignal(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

/** One line per history event, for progress and timelines. */
export function describeEvent(e: HistoryEvent): string {
  switch (e.type) {
    case 'run.started': return `started ${e.workflow}@${e.version}`;
    case 'step.started': return `step '${e.name}' attempt ${e.attempt}`;
    case 'step.completed': return `✓ step '${e.name}'`;
    case 'step.failed': return `✗ step '${e.name}' attempt ${e.attempt}: ${e.error.message}${e.retryAt !== undefined ? ` (retry at ${new Date(e.retryAt).toISOString()})` : ''}`;
    case 'timer.scheduled': return e.purpose === 'signal-timeout' ? `waiting for signal '${e.name ?? ''}' until ${new Date(e.fireAt).toISOString()}` : `${e.purpose} until ${new Date(e.fireAt).toISOString()}`;
    case 'timer.fired': return 'timer fired';
    case 'signal.received': return `signal '${e.name}' ${JSON.stringify(e.payload) ?? ''}`;
    case 'state.set': return `state ${e.key} = ${JSON.stringify(e.value)}`;
    case 'value.recorded': return `recorded ${e.kind}`;
    case 'child.started': return `child ${e.childId} (${e.workflow}) started`;
    case 'child.completed': return `child ${e.childId} ${e.error ? `failed: ${e.error.message}` : 'completed'}`;
    case 'run.completed': return `completed ${JSON.stringify(e.result) ?? ''}`;
    case 'run.failed': return `failed: ${e.error.name}: ${e.error.message}`;
    case 'run.cancelled': return `cancelled${e.reason ? `: ${e.reason}` : ''}`;
    default: return (e as { type: string }).type;
  }
}

/** A run's history as a timeline: offset from the start, event, what happened. */
export function timeline(history: readonly HistoryEvent[], withData = false): string {
  const t0 = history[0]?.at ?? 0;
  return table(
    history.map((h) => {
      const { type, seq, at, runId: _r, ...rest } = h as unknown as Record<string, unknown>;
      const row = [`#${String(seq)}`, `+${formatMs((at as number) - t0)}`, String(type), describeEvent(h)];
      if (withData) row.push(JSON.stringify(rest));
      return row;
    }),
  );
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

async function serveWith(settings: Settings, engine: Engine, version: string): Promise<() => Promise<void>> {
  const http = createHttpApp(engine, {
    auth: { keys: settings.keysFile, ...(settings.jwt ? { jwt: settings.jwt } : {}) },
    maxBodyBytes: settings.maxBodyBytes,
    ...(settings.cors ? { cors: settings.cors } : {}),
    version,
    logger: consoleLogger,
  });
  const server = await listen(http, { port: settings.port, host: settings.host });
  out(`Keel API on ${server.url} (store ${settings.store}; keys ${settings.keysFile}${settings.jwt ? `; JWT from ${settings.jwt.issuer}` : ''})`);
  return () => server.close();
}

/** Request and error lines on stderr, one JSON object each; fields never include credentials. */
const consoleLogger = {
  debug() {},
  info(message: string, fields?: Record<string, unknown>) {
    if (process.env.KEEL_LOG_REQUESTS) process.stderr.write(`${JSON.stringify({ level: 'info', message, ...fields })}\n`);
  },
  warn(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...fields })}\n`);
  },
  error(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`${JSON.stringify({ level: 'error', message, ...fields })}\n`);
  },
};

export function registerOperatorCommands(program: Command, version: string): void {
  program
    .command('init')
    .description('scaffold a project: package.json, keel.config.json, an example workflow and its test')
    .argument('[dir]', 'folder (created if missing)', '.')
    .option('--force', 'overwrite files that exist')
    .action((dir: string, o: { force?: boolean }) => {
      const root = resolve(dir);
      mkdirSync(join(root, 'src'), { recursive: true });
      mkdirSync(join(root, 'test'), { recursive: true });
      const name = basename(root).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'keel-app';
      const files: Record<string, string> = {
        'package.json': `${JSON.stringify(
          {
            name,
            private: true,
            type: 'module',
            scripts: { dev: 'keel dev', worker: 'keel worker', serve: 'keel serve', test: 'vitest run' },
            dependencies: { keel: `^${version}`, zod: '^4.0.0' },
            devDependencies: { tsx: '^4.0.0', typescript: '^5.9.0', vitest: '^4.0.0', '@types/node': '^20.0.0' },
          },
          null,
          2,
        )}\n`,
        'keel.config.json': `${JSON.stringify({ store: 'sqlite:./keel.db', workflows: ['./src/workflows.ts'], keysFile: './keel-keys.json', http: { port: 3000, host: '127.0.0.1' } }, null, 2)}\n`,
        'src/workflows.ts': `import { defineWorkflow } from 'keel';
import { z } from 'zod';

/** An example: a durable step, a wait for approval (a signal), and a second step. */
export const greet = defineWorkflow({
  name: 'greet',
  input: z.object({ name: z.string().min(1) }),
  async run(ctx, input) {
    const message = await ctx.step('compose', () => \`Hello, \${input.name}!\`);
    const approved = await ctx.waitForSignal<boolean>('approve', { timeout: '1d' });
    if (!approved) return { sent: false, message };
    await ctx.step('send', () => console.log(message));
    return { sent: true, message };
  },
});
`,
        'test/workflows.test.ts': `import { createEngine } from 'keel';
import { MemoryStore, SimulatedClock } from 'keel/testing';
import { expect, it } from 'vitest';
import { greet } from '../src/workflows.js';

it('greets once approved', async () => {
  const engine = createEngine({ store: new MemoryStore(), clock: new SimulatedClock({ autoAdvance: true }), workflows: [greet] });
  await engine.start();
  const run = await engine.run(greet, { name: 'Ada' });
  await engine.signal(run.id, 'approve', true);
  expect(await run.result()).toEqual({ sent: true, message: 'Hello, Ada!' });
  await engine.stop();
});
`,
        '.gitignore': 'node_modules\nkeel.db*\nkeel-keys.json\n',
        'tsconfig.json': `${JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true } }, null, 2)}\n`,
      };
      const written: string[] = [];
      const skipped: string[] = [];
      for (const [file, text] of Object.entries(files)) {
        const path = join(root, file);
        if (existsSync(path) && !o.force) {
          skipped.push(file);
          continue;
        }
        writeFileSync(path, text);
        written.push(file);
      }
      out(`Scaffolded ${root}: ${written.join(', ') || 'nothing'}${skipped.length ? ` (kept existing ${skipped.join(', ')}; --force overwrites)` : ''}.`);
      out(`Next: cd ${dir} && npm install && npx keel keys create me --scope admin && npx keel dev`);
    });

  settingsOptions(program.command('worker').description('run workflows: claim and advance runs until SIGINT/SIGTERM')).action(async (o: Flags) => {
    const { engine, settings } = await engineFor(o);
    await engine.start();
    out(`Worker ${engine.workerId} on ${settings.store} with ${engine.definitions().map((d) => d.name).join(', ') || 'no workflows'}.`);
    await untilSignal();
    await engine.stop();
  });

  const serveCommand = (c: Command): Command =>
    settingsOptions(c)
      .option('--port <port>', 'port (default from the config, $KEEL_PORT, or 3000)')
      .option('--host <host>', 'interface (default 127.0.0.1)')
      .option('--keys-file <path>', 'API keys file')
      .option('--no-worker', 'serve the API only; runs execute on separate workers');

  serveCommand(program.command('serve').description('serve the HTTP API (and run a worker) until SIGINT/SIGTERM')).action(async (o: Flags & { worker: boolean }) => {
    const { engine, settings } = await engineFor(o);
    if (o.worker) await engine.start();
    const close = await serveWith(settings, engine, version);
    await untilSignal();
    // The server first, so requests in flight finish against a live engine.
    await close();
    await engine.stop();
  });

  serveCommand(program.command('dev').description('worker + server, restarted when the workflow modules or the config change')).action(
    async (o: Flags & { worker: boolean }) => {
      const settings = await resolveSettings(o);
      // node --watch follows only modules Node itself loaded; workflow modules come through tsx's
      // tsImport, so their folders (and the config file) are watched by path. Not the project root:
      // the SQLite file changes all the time.
      const watched = new Set<string>(settings.workflows.filter((w): w is string => typeof w === 'string').map((w) => dirname(w)));
      if (settings.configFile) watched.add(settings.configFile);
      const watchArgs = watched.size > 0 ? [...watched].map((p) => `--watch-path=${p}`) : ['--watch'];
      const passthrough = process.argv.slice(process.argv.indexOf('dev') + 1);
      const entry = process.argv[1] as string;
      const child = spawn(process.execPath, [...process.execArgv, ...watchArgs, entry, 'serve', ...passthrough], { stdio: 'inherit' });
      const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
      process.on('SIGINT', forward('SIGINT'));
      process.on('SIGTERM', forward('SIGTERM'));
      await new Promise<void>((done) => child.on('exit', (code) => ((process.exitCode = code ?? 0), done())));
    },
  );

  settingsOptions(program.command('run').description('start a run; with --wait, show its steps live and print the result').argument('<workflow>', 'definition name'))
    .option('-i, --input <json>', 'input as JSON')
    .option('--id <id>', 'run id (the same id again returns the same run)')
    .option('-w, --wait', 'wait for the result, showing progress')
    .option('--worker', 'execute the run in this process while waiting (no separate worker needed)')
    .action(async (workflow: string, o: Flags & { input?: string; id?: string; wait?: boolean; worker?: boolean }) => {
      let input: unknown;
      try {
        input = o.input === undefined ? undefined : JSON.parse(o.input);
      } catch {
        throw new KeelError('INVALID_ARGUMENT', `--input is not valid JSON: ${o.input}. Quote it for the shell, e.g. --input '{"name":"Ada"}'.`);
      }
      const { engine } = await engineFor(o);
      try {
        if (o.worker) await engine.start();
        const handle = await engine.run(workflow, input, o.id === undefined ? {} : { id: o.id });
        if (!o.wait) return print(o, await engine.getRun(handle.id), () => `Started ${handle.id} (${workflow}).`);
        if (!o.json) out(`Run ${handle.id} (${workflow})`);
        const run = await follow(engine, handle.id, o.json ? undefined : (e) => out(`  ${describeEvent(e)}`));
        print(o, run, () => `${run.status}${run.output !== undefined ? `: ${JSON.stringify(run.output)}` : ''}${run.error ? `: ${run.error.message}` : ''}`);
        if (run.status !== 'completed') process.exitCode = 1;
      } finally {
        await engine.stop();
      }
    });

  settingsOptions(program.command('stats').description('runs by status and by workflow')).action(async (o: Flags) => {
    const stats = await withEngine(o, async (engine) => {
      const byStatus = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
      const byWorkflow: Record<string, Partial<Record<RunStatus, number>>> = {};
      // Pages through every run: fine for the sizes an operator inspects by hand; stores keep no counters.
      let cursor: string | undefined;
      do {
        const page = await engine.listRuns({ limit: 1000, ...(cursor ? { cursor } : {}) });
        for (const r of page.runs) {
          byStatus[r.status]++;
          const w = (byWorkflow[r.workflow] ??= {});
          w[r.status] = (w[r.status] ?? 0) + 1;
        }
        cursor = page.nextCursor;
      } while (cursor);
      return { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus, byWorkflow };
    });
    print(o, stats, () =>
      [
        `${stats.total} runs: ${RUN_STATUSES.map((s) => `${s} ${stats.byStatus[s]}`).join(', ')}`,
        '',
        table([['WORKFLOW', ...RUN_STATUSES.map((s) => s.toUpperCase())], ...Object.entries(stats.byWorkflow).map(([w, c]) => [w, ...RUN_STATUSES.map((s) => String(c[s] ?? 0))])]),
      ].join('\n'),
    );
  });

  settingsOptions(program.command('doctor').description('check the store, its schema, the definitions and stuck runs'))
    .option('--stuck-after <duration>', 'a run not advanced for this long counts as stuck', '5m')
    .action(async (o: Flags & { stuckAfter: string }) => {
      const checks: { check: string; ok: boolean; detail: string }[] = [];
      const settings = await resolveSettings(o);
      checks.push({ check: 'config', ok: true, detail: settings.configFile ?? 'no config file (environment and defaults)' });
      try {
        const definitions = (await loadWorkflows(settings)).map((d) => `${d.name}@${d.version}`);
        checks.push({ check: 'definitions', ok: definitions.length > 0, detail: definitions.length ? definitions.join(', ') : 'none loaded: set `workflows` in the config' });
      } catch (err) {
        checks.push({ check: 'definitions', ok: false, detail: (err as Error).message });
      }
      const engine = createEngine({ store: settings.store });
      try {
        const info = await engine.storeInfo();
        checks.push({ check: 'store', ok: true, detail: `${info.label} reachable` });
        if (info.schema) checks.push({ check: 'schema', ok: info.schema.version === info.schema.supported, detail: `version ${info.schema.version} (this Keel: ${info.schema.supported})` });
        const cutoff = Date.now() - toMs(o.stuckAfter, '--stuck-after');
        const { runs } = await engine.listRuns({ status: ['pending', 'running', 'waiting'], limit: 1000 });
        const stuck = runs.filter(
          (r) => r.lastError !== undefined || (r.status !== 'waiting' && r.updatedAt.getTime() < cutoff) || (r.status === 'waiting' && r.wakeAt !== undefined && r.wakeAt.getTime() < cutoff),
        );
        checks.push({
          check: 'stuck runs',
          ok: stuck.length === 0,
          detail: stuck.length === 0 ? `none of ${runs.length} open runs` : stuck.slice(0, 10).map((r) => `${r.id} (${r.status}${r.lastError ? `: ${r.lastError.code ?? r.lastError.message}` : ', no progress'})`).join(', '),
        });
      } catch (err) {
        checks.push({ check: 'store', ok: false, detail: `${redactUrl(settings.store)}: ${(err as Error).message}` });
      } finally {
        await engine.stop();
      }
      const ok = checks.every((c) => c.ok);
      print(o, { ok, checks }, () => checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}`).join('\n'));
      if (!ok) process.exitCode = 1;
    });

  settingsOptions(program.command('prune').description('delete runs that ended long ago, with their histories'))
    .option('--older-than <duration>', "ended longer ago than this, e.g. '30d'", '30d')
    .option('--dry-run', 'only count them')
    .action(async (o: Flags & { olderThan: string; dryRun?: boolean }) => {
      const before = new Date(Date.now() - toMs(o.olderThan, '--older-than'));
      const result = await withEngine(o, (engine) => engine.prune(before, { dryRun: o.dryRun ?? false }));
      print(o, { ...result, before: before.toISOString() }, () =>
        `${result.dryRun ? 'Would delete' : 'Deleted'} ${result.runs} run${result.runs === 1 ? '' : 's'} that ended before ${before.toISOString()}.`,
      );
    });

  registerKeyCommands(program);
  // Human tasks and `resume` come from the engine change that adds them (see http/task-routes.ts).
  registerTaskCommands(program);
}

/** Follow a run's history until it ends; `onEvent` sees each event once, in order. */
async function follow(engine: Engine, runId: string, onEvent: ((e: HistoryEvent) => void) | undefined): Promise<RunInfo> {
  let last = 0;
  let wake: (() => void) | undefined;
  const off = engine.on('*', (e) => {
    if (e.runId === runId) wake?.();
  });
  try {
    for (;;) {
      for (const e of await engine.history(runId, { afterSeq: last })) {
        onEvent?.(e);
        last = e.seq;
      }
      const run = await engine.getRun(runId);
      if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
        for (const e of await engine.history(runId, { afterSeq: last })) onEvent?.(e);
        return run;
      }
      // Woken by this process's engine, or every 250 ms for a worker elsewhere.
      await new Promise<void>((r) => {
        const t = setTimeout(r, 250);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  } finally {
    off();
  }
}

/** `keel tasks ls|show|complete`: registered only when the engine has human tasks (see http/task-routes.ts). */
function registerTaskCommands(program: Command): void {
  settingsOptions(program.command('resume').description('resume a failed run from its failed step').argument('<id>', 'run id or unique prefix')).action(
    async (idArg: string, o: Flags) => {
      const run = await withEngine(o, async (engine) => {
        const id = await resolveRunId(engine, idArg);
        await engine.resume(id);
        return engine.getRun(id);
      });
      print(o, run, () => `Resumed ${run.id}: ${run.status}; a worker continues it from its failed step.`);
    },
  );
  const tasks = program.command('tasks').description('human tasks: list, show, complete');
  const call = async <T>(o: Flags, fn: (api: Engine) => Promise<T>): Promise<T> => withEngine(o, fn);
  settingsOptions(tasks.command('ls').description('list human tasks'))
    .option('-s, --status <status>', 'e.g. pending')
    .option('-w, --workflow <name>')
    .option('-a, --assignee <who>')
    .action(async (o: Flags & { status?: string; workflow?: string; assignee?: string }) => {
      const list = await call(o, (api) =>
        api.listHumanTasks({ ...(o.status ? { status: taskStatus(o.status) } : {}), ...(o.workflow ? { workflow: o.workflow } : {}), ...(o.assignee ? { assignee: o.assignee } : {}) }),
      );
      print(o, list, () => JSON.stringify(list, null, 2));
    });
  settingsOptions(tasks.command('show').argument('<id>').description('show a task and the schema of its answer')).action(async (id: string, o: Flags) => {
    const task = await call(o, (api) => api.getHumanTask(id));
    print(o, task, () => JSON.stringify(task, null, 2));
  });
  settingsOptions(tasks.command('complete').argument('<id>').argument('<json>', 'the answer as JSON').description('complete a pending task'))
    .option('--by <who>', 'who answered')
    .action(async (id: string, text: string, o: Flags & { by?: string }) => {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new KeelError('INVALID_ARGUMENT', `The answer is not valid JSON: ${text}.`);
      }
      const task = await call(o, (api) => api.completeHumanTask(id, data, o.by === undefined ? {} : { by: o.by }));
      print(o, task, () => `Completed task ${id}.`);
    });
}

function taskStatus(text: string): TaskStatus {
  if ((TASK_STATUSES as readonly string[]).includes(text)) return text as TaskStatus;
  throw new KeelError('INVALID_ARGUMENT', `Unknown task status '${text}': use one of ${TASK_STATUSES.join(', ')}.`);
}
