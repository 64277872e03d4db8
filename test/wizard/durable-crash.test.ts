/**
 * Wizard runs survive SIGKILL (real processes, a real SQLite file): after a kill the run waits at
 * the same step with the same answers; a commit killed after its side effect and before its
 * record is issued again with the same request id, and recorded once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/storage/sqlite/index.js';

const worker = fileURLToPath(new URL('../fixtures/wizard-crash-worker.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'keel-wizard-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { KEEL_DB: join(dir, 'keel.db'), OUT: join(dir, 'out.log'), COMMITS: join(dir, 'commits.log') };
const lines = (): string[] => (existsSync(env.OUT) ? readFileSync(env.OUT, 'utf8').split('\n').filter(Boolean) : []);

/** Run one generation; kill it with SIGKILL once `killWhen` holds for its output (polled, bounded). */
function generation(stage: string, killWhen?: (out: string[]) => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker], { env: { ...process.env, ...env, STAGE: stage }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = Date.now() + 30_000;
    const check = (): void => {
      if (killWhen?.(lines())) child.kill('SIGKILL');
      else if (Date.now() < deadline) timer = setTimeout(check, 25);
    };
    if (killWhen) check();
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, err });
    });
  });
}

describe('wizard runs across SIGKILL', () => {
  it('resume at the same step with the same answers, and commit exactly once in record', async () => {
    const first = await generation('answer', (out) => out.includes('READY'));
    expect(first.signal, first.err).toBe('SIGKILL');

    const second = await generation('commit');
    expect(second.signal, second.err).toBe('SIGKILL');
    const snapshot = lines().find((l) => l.startsWith('SNAPSHOT '));
    expect(JSON.parse((snapshot ?? 'SNAPSHOT null').slice(9))).toEqual({
      status: 'waiting',
      slug: 'role',
      answers: { name: 'Ada Lovelace', email: 'ada@example.com' },
    });
    expect(lines()).not.toContain('NOT KILLED');

    const third = await generation('recover');
    expect(third.code, third.err).toBe(0);
    const result = lines().find((l) => l.startsWith('RESULT '));
    expect(JSON.parse((result ?? 'RESULT null').slice(7))).toEqual({
      answers: { name: 'Ada Lovelace', email: 'ada@example.com', role: 'admin' },
      committed: true,
      result: { userId: 'u-1' },
    });

    // The handler ran twice (the first record never committed), both times with the same request id.
    const commits = readFileSync(env.COMMITS, 'utf8').split('\n').filter(Boolean);
    expect(commits).toHaveLength(2);
    expect(new Set(commits.map((c) => c.split(' ')[0]))).toEqual(new Set(['onboard:commit:1']));
    const store = new SqliteStore({ path: env.KEEL_DB });
    await store.open();
    try {
      const history = await store.history('wiz-1');
      expect(history.filter((e) => e.type === 'step.completed')).toHaveLength(1);
      expect(history.at(-1)?.type).toBe('run.completed');
    } finally {
      await store.close();
    }
  });
});
