/**
 * `store: '…'` in createEngine: the URL forms Keel understands. Adapters are loaded on demand,
 * so an application that uses memory never loads a database driver.
 */
import { ConfigError, ErrorCode } from '../core/errors.js';
import type { Store } from '../core/store.js';
import { MemoryStore } from '../storage/memory/memory-store.js';

const FORMS =
  "'memory:', 'sqlite:./path/to/keel.db', 'sqlite::memory:' (optionally '?durability=power&busyTimeoutMs=10000'), " +
  "'postgres://user:password@host:5432/db' (optionally '?schema=keel')";

export async function storeFromUrl(url: string): Promise<Store> {
  const text = url.trim();
  if (text === 'memory:' || text === 'memory') return new MemoryStore();
  if (text.startsWith('sqlite:')) {
    const rest = text.slice('sqlite:'.length);
    const [rawPath = '', query = ''] = rest.split('?', 2);
    const path = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
    if (path === '') throw invalid(url, 'the path is missing');
    const params = new URLSearchParams(query);
    const durability = params.get('durability') ?? 'process';
    if (durability !== 'process' && durability !== 'power') {
      throw invalid(url, `durability must be 'process' or 'power', not '${durability}'`);
    }
    const busy = params.get('busyTimeoutMs');
    const busyTimeoutMs = busy === null ? undefined : Number(busy);
    if (busyTimeoutMs !== undefined && !(/^\d+$/.test(busy ?? '') && Number.isSafeInteger(busyTimeoutMs))) {
      throw invalid(url, `busyTimeoutMs must be a whole number of milliseconds, not '${busy}'`);
    }
    for (const key of params.keys()) {
      if (key !== 'durability' && key !== 'busyTimeoutMs') throw invalid(url, `unknown option '${key}'`);
    }
    const { SqliteStore } = await import('../storage/sqlite/index.js');
    return new SqliteStore({ path, durability, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
  }
  if (text.startsWith('postgres://') || text.startsWith('postgresql://')) {
    // '?schema=' is Keel's; every other parameter (sslmode, …) is left to pg in the URL.
    const parsed = parseUrl(text, url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    const { PostgresStore } = await import('../storage/postgres/index.js');
    return new PostgresStore({ connectionString: parsed.toString(), ...(schema === undefined ? {} : { schema }) });
  }
  throw invalid(url, 'unknown scheme');
}

function parseUrl(text: string, url: string): URL {
  try {
    return new URL(text);
  } catch {
    throw invalid(url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@'), 'it is not a valid URL');
  }
}

function invalid(url: string, why: string): ConfigError {
  return new ConfigError(`Invalid store URL '${url}': ${why}. Use one of ${FORMS}, or pass a Store object.`, ErrorCode.InvalidStoreUrl);
}
