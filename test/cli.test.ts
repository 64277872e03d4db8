import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, defineWorkflow } from '../src/index.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
const store = `sqlite:${join(dir, 'cli.db')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function keel(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', main, ...args, '--store', store]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const approval = defineWorkflow({
  name: 'approval',
  async run(ctx) {
    return ctx.waitForSignal<string>('decide');
  },
});

describe('keel CLI on a SQLite file', () => {
  it('lists, inspects by prefix, signals and cancels runs', async () => {
    const engine = createEngine({ store, workflows: [approval] });
    await engine.run(approval, undefined, { id: 'approval-alpha' });
    await engine.run(approval, undefined, { id: 'approval-beta' });
    await engine.stop();

    const ls = await keel('ls', '--json');
    expect(ls.code, ls.stderr).toBe(0);
    const page = JSON.parse(ls.stdout) as { runs: { id: string; status: string }[] };
    expect(page.runs.map((r) => r.id).sort()).toEqual(['approval-alpha', 'approval-beta']);
    expect((await keel('ls')).stdout).toMatch(/ID\s+WORKFLOW\s+STATUS/);

    const inspect = await keel('inspect', 'approval-a');
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain('approval-alpha  approval@1  pending');
    expect(inspect.stdout).toContain('run.started');

    const ambiguous = await keel('inspect', 'approval');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain("'approval' matches 2 runs");

    expect((await keel('signal', 'approval-alpha', 'decide', '"yes"')).code).toBe(0);
    const badJson = await keel('signal', 'approval-alpha', 'decide', 'yes');
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('not valid JSON');

    expect((await keel('cancel', 'approval-b')).stdout).toContain('Cancelled approval-beta.');
    const worker = createEngine({ store, workflows: [approval] });
    await worker.start();
    expect(await worker.handle('approval-alpha').result()).toBe('yes');
    expect((await worker.getRun('approval-beta')).status).toBe('cancelled');
    await worker.stop();

    const filtered = JSON.parse((await keel('ls', '--status', 'cancelled', '--json')).stdout) as { runs: { id: string }[] };
    expect(filtered.runs.map((r) => r.id)).toEqual(['approval-beta']);
  });

  it('explains bad arguments and unknown runs with a code and exit status 1', async () => {
    const bad = await keel('ls', '--status', 'sleeping');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Unknown status 'sleeping'");
    const missing = await keel('inspect', 'no-such-run', '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const version = await run(process.execPath, ['--import', 'tsx', main, 'version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
