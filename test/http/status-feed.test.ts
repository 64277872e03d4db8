/**
 * `GET /events` end to end: a real socket, a SQLite file, a server stopped and started again, and a
 * worker in a child process changing run statuses while no server runs. A client that reconnects
 * with Last-Event-ID receives every change, once, in the store's order.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { createHttpApp } from '../../src/http/app.js';
import { listen, type RunningServer } from '../../src/http/server.js';
import { feedWorkflows } from '../fixtures/feed-workflows.js';
import { readSse, type SseMessage } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Change {
  id: string | undefined;
  runId: string;
  status: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An engine with its worker and an HTTP server (no auth) on the SQLite file; stop() ends both. */
async function serve(path: string): Promise<{ engine: Engine; server: RunningServer; stop: () => Promise<void> }> {
  const engine = createEngine({ store: `sqlite:${path}`, workflows: feedWorkflows, pollIntervalMs: 20 });
  await engine.start();
  const http = createHttpApp(engine, { auth: false, pollIntervalMs: 20 });
  const server = await listen(http, { port: 0 });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.close();
    await engine.stop();
  };
  cleanups.push(stop);
  return { engine, server, stop };
}

/** Open `GET /events`: once this resolves, the stream's starting point is fixed (20 s at most in all). */
async function open(url: string, lastEventId?: string): Promise<Response> {
  const res = await fetch(`${url}/events`, {
    headers: lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId },
    signal: AbortSignal.timeout(20_000),
  });
  expect(res.status).toBe(200);
  return res;
}

/** Read status changes from an open stream until `done` holds for those received. */
async function follow(res: Response, done: (changes: Change[]) => boolean): Promise<Change[]> {
  const toChange = (m: SseMessage): Change => {
    const data = JSON.parse(m.data) as { cursor: string; runId: string; status: string };
    expect(data.cursor).toBe(m.id);
    return { id: m.id, runId: data.runId, status: data.status };
  };
  const messages = await readSse(res, (m) => done(m.map(toChange)));
  expect(messages.every((m) => m.event === 'status')).toBe(true);
  return messages.map(toChange);
}

const has = (changes: Change[], runId: string, status: string): boolean => changes.some((c) => c.runId === runId && c.status === status);

/** Run the worker of test/fixtures/feed-worker.ts on the file until it exits. */
async function runWorker(path: string): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', join(repoRoot, 'test/fixtures/feed-worker.ts'), path], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout);
}

describe('GET /events across a server restart and another worker process', () => {
  it('a client that reconnects with Last-Event-ID receives every status change once, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-feed-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'keel.db');

    // Server A: the client follows from the end of the feed while two runs start.
    const a = await serve(path);
    const following = follow(await open(a.server.url), (c) => has(c, 'g1', 'waiting') && has(c, 'q1', 'completed'));
    for (const [workflow, id] of [['gate', 'g1'], ['quick', 'q1']]) {
      const started = await fetch(`${a.server.url}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workflow, id }) });
      expect(started.status).toBe(201);
    }
    const first = await following;
    const lastEventId = first.at(-1)?.id;
    await a.stop();

    // No server runs: a worker in another process ends g1 and starts and ends two runs of its own.
    expect(await runWorker(path)).toEqual({ done: ['fulfilled', 'fulfilled', 'rejected'] });

    // Server B on the same file: the client reconnects with the last id it saw.
    const b = await serve(path);
    const rest = await follow(await open(b.server.url, lastEventId), (c) => has(c, 'g1', 'completed') && has(c, 'q2', 'completed') && has(c, 'f1', 'failed'));

    const received = [...first, ...rest];
    // Once each, and exactly the store's feed from the first change received on.
    const ids = received.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const feed = (await b.engine.statusChanges({ limit: 1000 })).changes;
    const from = feed.findIndex((c) => c.cursor === ids[0]);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(received).toEqual(feed.slice(from).map((c) => ({ id: c.cursor, runId: c.runId, status: c.status })));
    // What the worker process did, change by change.
    const of = (runId: string) => rest.filter((c) => c.runId === runId).map((c) => c.status);
    expect(of('g1')).toEqual(['running', 'completed']);
    expect(of('q2')).toEqual(['running', 'completed']);
    expect(of('f1')).toEqual(['running', 'failed']);
    expect(first.filter((c) => c.runId === 'g1').map((c) => c.status)).toEqual(['running', 'waiting']);
  });
});
