/** Child processes for the real-process tests: spawned with tsx and the 'source' condition. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

export function spawnScript(script: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', fileURLToPath(new URL(`fixtures/${script}`, import.meta.url))], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child: Child = {
    proc,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1))),
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        if (child.stdout.includes(text)) return resolve();
        const timer = setTimeout(() => reject(new Error(`${script}: no '${text}' within ${timeoutMs} ms; stderr: ${child.stderr.slice(-2000)}`)), timeoutMs);
        const check = (): void => {
          if (child.stdout.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout?.on('data', check);
        void child.exited.then(() => {
          if (!child.stdout.includes(text)) {
            clearTimeout(timer);
            reject(new Error(`${script} exited before '${text}'; stderr: ${child.stderr.slice(-2000)}`));
          }
        });
      }),
  };
  proc.stdout?.on('data', (d: Buffer) => (child.stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (child.stderr += d.toString()));
  return child;
}

/** Kill whatever is still running (SIGKILL), e.g. after a failed test. */
export async function killAll(children: Child[]): Promise<void> {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
}
