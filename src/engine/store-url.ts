/**
 * `store: '…'` in createEngine: the URL forms Keel understands. Adapters are loaded on demand,
 * so an application that uses memory never loads a database driver.
 */
import { ConfigError, ErrorCode } from '../core/errors.js';
import type { Store } from '../core/store.js';
import { MemoryStore } from '../storage/memory/memory-store.js';
import { redactUrl } from '../util/url.js';

const FORMS =
  "'memory:', 'sqlite:./path/to/keel.db', 'sqlite::memory:' (optionally '?durability=power&busyTimeoutMs=10000'), " +
  "'postgres://user:password@host:5432/db' (optionally '?schema=keel&lockTimeoutMs=10000')";

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
    const busyTimeoutMs = wholeMs(url, params, 'busyTimeoutMs');
    for (const key of params.keys()) {
      if (key !== 'durability' && key !== 'busyTimeoutMs') throw invalid(url, `unknown option '${key}'`);
    }
    const { SqliteStore } = await import('../storage/sqlite/index.js');
    return new SqliteStore({ path, durability, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
  }
  if (text.startsWith('postgres://') || text.startsWith('postgresql://')) {
    // '?schema=' and '?lockTimeoutMs=' are Keel's; every other parameter (sslmode, …) is left to pg in the URL.
    const parsed = parseUrl(text, url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    const lockTimeoutMs = wholeMs(url, parsed.searchParams, 'lockTimeoutMs');
    parsed.searchParams.delete('schema');
    parsed.searchParams.delete('lockTimeoutMs');
    const { PostgresStore } = await import('../storage/postgres/index.js');
    return new PostgresStore({
      connectionString: parsed.toString(),
      ...(schema === undefined ? {} : { schema }),
      ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    });
  }
  throw invalid(url, 'unknown scheme');
}

/** A whole number of milliseconds from a URL parameter, undefined when absent. */
function wholeMs(url: string, params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  const ms = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(ms)) throw invalid(url, `${name} must be a whole number of milliseconds, not '${text}'`);
  return ms;
}

function parseUrl(text: string, url: string): URL {
  try {
    return new URL(text);
  } catch {
    throw invalid(url, 'it is not a valid URL');
  }
}

/** The error for a URL Keel cannot use, which never shows the URL's password. */
function invalid(url: string, why: string): ConfigError {
  return new ConfigError(`Invalid store URL '${redactUrl(url)}': ${why}. Use one of ${FORMS}, or pass a Store object.`, ErrorCode.InvalidStoreUrl);
}
