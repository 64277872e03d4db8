import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { z } from 'zod';
import { createEngine, defineWorkflow, type Engine } from '../../src/index.js';
import { ApiKeyFile } from '../../src/http/api-keys.js';
import { createHttpApp, type HttpApp, type HttpAppOptions } from '../../src/http/app.js';
import { MemoryStore } from '../../src/testing/index.js';

export const approval = defineWorkflow({
  name: 'approval',
  input: z.object({ amount: z.number().positive() }),
  output: z.object({ approved: z.boolean(), amount: z.number() }),
  async run(ctx, input) {
    await ctx.step('check', () => input.amount < 1000);
    const decision = await ctx.waitForSignal<boolean>('decide');
    await ctx.step('record', () => decision);
    return { approved: decision === true, amount: input.amount };
  },
});

export const boom = defineWorkflow({
  name: 'boom',
  async run(ctx) {
    await ctx.step('explode', () => {
      throw new Error('kaboom');
    }, { retry: { maxAttempts: 1 } });
  },
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export interface Fixture {
  engine: Engine;
  http: HttpApp;
  keys: ApiKeyFile;
  read: string;
  write: string;
  admin: string;
  dir: string;
}

/** A started engine on a memory store, an app with a fresh keys file, and one key per scope. */
export async function fixture(options: Partial<HttpAppOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-http-'));
  const engine = createEngine({ store: new MemoryStore(), workflows: [approval, boom], pollIntervalMs: 20 });
  await engine.start();
  const keys = new ApiKeyFile(join(dir, 'keys.json'));
  const read = keys.create('reader', 'read').secret;
  const write = keys.create('writer', 'write').secret;
  const admin = keys.create('root', 'admin').secret;
  const http = createHttpApp(engine, { auth: { keys }, pollIntervalMs: 20, ...options });
  cleanups.push(async () => {
    http.close();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, http, keys, read, write, admin, dir };
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

export function post(key: string, body: unknown): RequestInit {
  return { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

/** Read SSE messages from a response body until `stop` says so (or the stream ends). */
export async function readSse(
  res: Response,
  stop: (messages: SseMessage[]) => boolean,
): Promise<SseMessage[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const messages: SseMessage[] = [];
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const m: SseMessage = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'id') m.id = v;
          else if (field === 'event') m.event = v;
          else if (field === 'data') m.data += v;
        }
        if (block.split('\n').every((l) => l.startsWith(':'))) continue;
        messages.push(m);
        if (stop(messages)) return messages;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return messages;
}

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}
