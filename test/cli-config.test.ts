/**
 * The built `keel` binary (`npm run build`, then bin/keel.js) as child processes, in a folder whose
 * only setting is its keel.config.json: `keel wizard`, `input`, `back` and `keel machine run|send`
 * use the store, the wizards folder and the workflows the config file names, with the precedence
 * of every command (environment < config file < flags).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repoRoot, 'bin/keel.js');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Settings from the environment that would otherwise reach the binary. */
const CLEAN_ENV = { KEEL_STORE: '', KEEL_DATABASE_URL: '', KEEL_DEFINITIONS: '', KEEL_CONFIG: '', KEEL_WORKFLOWS: '' };

/** Run `keel <args>` in `cwd` with `stdin`; never rejects. */
function keel(cwd: string, args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...CLEAN_ENV, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(options.stdin ?? '');
  });
}

const json = (r: { out: string; err: string; code: number | null }): Record<string, unknown> => {
  try {
    return JSON.parse(r.out) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}): ${r.out} ${r.err}`);
  }
};

/** The status of a run in a SQLite file, read directly (undefined: no such run, or no file). */
function statusIn(file: string, runId: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[string], { status: string }>('SELECT status FROM runs WHERE id = ?').get(runId)?.status;
  } finally {
    db.close();
  }
}

const WIZARD = `name: survey
steps:
  - topic
  - slug: rating
    prompt: How would you rate it, from 1 to 5?
    field_type: integer
    state_schema: { type: integer, minimum: 1, maximum: 5 }
`;

const MACHINE = `# machine Lamp

## events

- toggle

## state off [initial]
> The lamp is off

## state on
> The lamp is on

## transitions

| Source | Event  | Guard | Target | Action |
|--------|--------|-------|--------|--------|
| off    | toggle |       | on     |        |
| on     | toggle |       | off    |        |
`;

/** A project folder: keel.config.json naming a store under data/, a wizards folder and a workflow module. */
function project(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cli-config-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'wizards'));
  writeFileSync(join(dir, 'wizards/survey.yaml'), WIZARD);
  writeFileSync(join(dir, 'lamp.orca.md'), MACHINE);
  writeFileSync(
    join(dir, 'flows.mjs'),
    `import { defineWorkflow } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'dist/index.js')).href)};\n` +
      `export const ping = defineWorkflow({ name: 'ping', async run(ctx) { return ctx.step('pong', () => 'pong'); } });\n`,
  );
  writeFileSync(join(dir, 'keel.config.json'), JSON.stringify(config, null, 2));
  return dir;
}

const CONFIG = { store: 'sqlite:./data/keel.db', wizards: './wizards', workflows: ['./flows.mjs'] };

beforeAll(async () => {
  await exec('npm', ['run', 'build'], { cwd: repoRoot });
}, 180_000);

describe('the built keel binary with only a config file', () => {
  it('keel wizard, input and back use the config’s store and wizards folder', async () => {
    const dir = project(CONFIG);
    const db = join(dir, 'data/keel.db');
    const list = await keel(dir, ['wizard', 'list', '--json']);
    expect(list.code, list.err).toBe(0);
    expect((JSON.parse(list.out) as { name: string }[]).map((w) => w.name)).toEqual(['survey']);

    const start = await keel(dir, ['wizard', 'start', 'survey', '--no-interactive', '--id', 's-1', '--json']);
    expect(json(start)).toMatchObject({ runId: 's-1', status: 'waiting', prompt: { slug: 'topic' } });
    expect(json(await keel(dir, ['input', 'Keel', '--json']))).toMatchObject({ runId: 's-1', prompt: { slug: 'rating' } });
    expect(json(await keel(dir, ['back', 'topic', '--json']))).toMatchObject({ prompt: { slug: 'topic', current_value: 'Keel' } });
    await keel(dir, ['input', 'Keel again']);
    expect(json(await keel(dir, ['input', '4', '--json']))).toMatchObject({ runId: 's-1', status: 'completed', answers: { topic: 'Keel again', rating: 4 } });

    // The run lives in the config's store, and nowhere else.
    expect(statusIn(db, 's-1')).toBe('completed');
    expect(existsSync(join(dir, 'keel.db'))).toBe(false);
    // Another command on the same config sees it.
    expect(json(await keel(dir, ['inspect', 's-1', '--json']))).toMatchObject({ run: { id: 's-1', workflow: 'survey', status: 'completed' } });
  });

  it('keel machine run and send use the config’s store: a session’s run goes on in the next process', async () => {
    const dir = project(CONFIG);
    const db = join(dir, 'data/keel.db');
    const first = await keel(dir, ['machine', 'run', 'lamp.orca.md', '--id', 'lamp-1'], { stdin: 'toggle\nq\n' });
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain(`Lamp — run lamp-1 on sqlite:${db}`);
    expect(first.out).toContain('✓ toggle: off → on');

    const sent = await keel(dir, ['machine', 'send', 'lamp.orca.md', 'lamp-1', 'toggle', '--json']);
    expect(sent.code, sent.err).toBe(0);
    expect(json(sent)).toMatchObject({ runId: 'lamp-1', result: { taken: true, from: 'on', to: 'off' }, state: 'off' });
    expect(statusIn(db, 'lamp-1')).toBeDefined();
    expect(existsSync(join(dir, 'keel.db'))).toBe(false);
  });

  it('a flag beats the config file, and the config file beats the environment', async () => {
    const dir = project(CONFIG);
    const env = { KEEL_STORE: `sqlite:${join(dir, 'data/env.db')}`, KEEL_DEFINITIONS: join(repoRoot, 'examples/wizards') };
    expect((await keel(dir, ['wizard', 'start', 'survey', '--no-interactive', '--id', 'w-config'], { env })).code).toBe(0);
    expect(statusIn(join(dir, 'data/keel.db'), 'w-config')).toBeDefined();
    expect(existsSync(join(dir, 'data/env.db'))).toBe(false);

    const flagged = await keel(dir, ['wizard', 'start', 'quick', '--no-interactive', '--id', 'w-flag', '--store', `sqlite:${join(dir, 'data/flag.db')}`, '--definitions', join(repoRoot, 'examples/wizards')], { env });
    expect(flagged.code, flagged.err).toBe(0);
    expect(statusIn(join(dir, 'data/flag.db'), 'w-flag')).toBeDefined();
    expect(statusIn(join(dir, 'data/keel.db'), 'w-flag')).toBeUndefined();

    // Without a config file, the environment applies (`machine run` would otherwise use memory).
    const bare = mkdtempSync(join(tmpdir(), 'keel-cli-bare-'));
    dirs.push(bare);
    writeFileSync(join(bare, 'lamp.orca.md'), MACHINE);
    const fromEnv = await keel(bare, ['machine', 'run', 'lamp.orca.md', '--id', 'lamp-env'], { stdin: 'q\n', env: { KEEL_STORE: `sqlite:${join(bare, 'env.db')}` } });
    expect(fromEnv.code, fromEnv.err).toBe(0);
    expect(statusIn(join(bare, 'env.db'), 'lamp-env')).toBeDefined();
  });

  it('a config file whose entries cannot be used is a clear error', async () => {
    const missing = project({ ...CONFIG, workflows: ['./missing.mjs'] });
    for (const args of [['wizard', 'list'], ['machine', 'send', 'lamp.orca.md', 'lamp-1', 'toggle']]) {
      const r = await keel(missing, args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/The module '.*missing\.mjs' does not exist\. \[CONFIG_INVALID\]/);
    }
    const noFolder = project({ ...CONFIG, wizards: './nowhere' });
    const r = await keel(noFolder, ['wizard', 'list']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/The wizard definitions folder '.*nowhere' does not exist; create it, or set another .*\[CONFIG_INVALID\]/);
    const wrongType = project({ ...CONFIG, store: 42 });
    const t = await keel(wrongType, ['machine', 'send', 'lamp.orca.md', 'lamp-1', 'toggle']);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/`store` in the config file '.*keel\.config\.json' must be a string, not 42\./);
  });
});
