/**
 * The scripted wizard CLI as child processes on a SQLite file: `wizard start --no-interactive`,
 * `input` and `back` with --json, the default run, and the errors scripts see.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'keel-wizard-cli-'));
const store = `sqlite:${join(dir, 'cli.db')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function keel(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', main, ...args, '--store', store], {
      env: { ...process.env, KEEL_DEFINITIONS: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const json = (r: { stdout: string; stderr: string; code: number }): Record<string, unknown> => {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`);
  }
};

describe('keel wizard for scripts', () => {
  it('starts without prompts, takes input and back, and refuses a finished run', async () => {
    const list = await keel('wizard', 'list', '--json');
    expect((JSON.parse(list.stdout) as { name: string }[]).map((w) => w.name)).toEqual(['approval', 'ingest', 'onboard', 'quick']);

    const start = await keel('wizard', 'start', 'quick', '--no-interactive', '--id', 'quick-1');
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toContain("Started wizard 'quick': run quick-1");
    expect(start.stdout).toContain('[1/2] Topic (topic)\nEnter value for topic');

    // Without --run: the most recent waiting wizard run.
    expect(json(await keel('input', 'Keel', '--json'))).toMatchObject({ runId: 'quick-1', status: 'waiting', prompt: { slug: 'rating' } });

    const refused = await keel('input', '9', '--json');
    expect(refused.code).toBe(2);
    expect(json(refused)).toMatchObject({ error: 'rating must be at most 5 (you entered 9)', prompt: { slug: 'rating' } });

    const back = await keel('back', 'topic', '--run', 'quick', '--json');
    expect(json(back)).toMatchObject({ prompt: { slug: 'topic', current_value: 'Keel' }, answers: { topic: 'Keel' } });
    expect((json(back).events as { type: string }[]).map((e) => e.type)).toEqual(['wizard.backtrack', 'wizard.step.started']);

    expect((await keel('input', 'Keel again')).stdout).toContain('[2/2] Rating (rating)');
    const done = await keel('input', '4', '--json');
    expect(json(done)).toMatchObject({ status: 'completed', prompt: null, answers: { topic: 'Keel again', rating: 4 } });

    const late = await keel('input', '5', '--run', 'quick-1', '--json');
    expect(late.code).toBe(1);
    expect(JSON.parse(late.stderr)).toMatchObject({ error: { code: 'RUN_FINISHED', message: expect.stringContaining("Wizard run 'quick-1' is completed") } });
  });
});
