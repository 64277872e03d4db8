/**
 * API keys, kept in a JSON file (by default `keel-keys.json` next to the config).
 *
 * Why a file and not a table: keys are operator configuration, not run data. A file works with
 * every store (memory, SQLite, PostgreSQL) without a migration in each adapter, can be provisioned
 * by deployment tooling, and `keel keys create` needs no running server. The server re-reads the
 * file when its modification time or size changes, so a revoked key is refused on the next request.
 *
 * Only a hash of each secret is stored. Secrets are 32 random bytes, so a plain SHA-256 is enough:
 * a slow password hash protects low-entropy secrets from guessing, and 256 random bits cannot be
 * guessed. A key looks like `keel_<id>_<secret>`; the id (not secret) finds the record in O(1), the
 * secret's hash is compared in constant time. The file is written atomically with mode 0600.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, KeelError, NotFoundError } from '../core/errors.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** admin ⊇ write ⊇ read. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

const keyRecord = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(SCOPES),
  /** hex SHA-256 of the secret part. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  revokedAt: z.string().nullable().default(null),
});
export type ApiKeyRecord = z.infer<typeof keyRecord>;
const keyFile = z.object({ version: z.literal(1), keys: z.array(keyRecord) });

/** A key as listed: everything but the hash. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'hash'>;

const TOKEN = /^keel_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('keel_');
}

export class ApiKeyFile {
  private cache: { mtimeMs: number; size: number; keys: ApiKeyRecord[] } | undefined;

  constructor(readonly path: string) {}

  /** All keys, revoked ones included (without hashes). */
  list(): ApiKeyInfo[] {
    return this.read().map(({ hash: _hash, ...info }) => info);
  }

  /** Create a key; the returned `secret` is shown once and stored nowhere. */
  create(name: string, scope: Scope, now = new Date()): { key: ApiKeyInfo; secret: string } {
    if (!SCOPES.includes(scope)) throw new KeelError('INVALID_ARGUMENT', `Unknown scope '${String(scope)}': use one of ${SCOPES.join(', ')}.`);
    const keys = this.read();
    const id = randomBytes(6).toString('hex');
    const secretPart = randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = { id, name, scope, hash: sha256(secretPart), createdAt: now.toISOString(), revokedAt: null };
    this.write([...keys, record]);
    const { hash: _hash, ...key } = record;
    return { key, secret: `keel_${id}_${secretPart}` };
  }

  /** Revoke by id (or unique id prefix, or name when unique). Revoking twice is harmless. */
  revoke(idOrName: string, now = new Date()): ApiKeyInfo {
    const keys = this.read();
    const matches = keys.filter((k) => k.id === idOrName || k.name === idOrName || (idOrName.length >= 4 && k.id.startsWith(idOrName)));
    if (matches.length === 0) throw new NotFoundError('API key', idOrName, 'list keys with `keel keys ls`');
    if (matches.length > 1) throw new KeelError('AMBIGUOUS_ID', `'${idOrName}' matches ${matches.length} keys (${matches.map((k) => k.id).join(', ')}); give the id.`);
    const target = matches[0] as ApiKeyRecord;
    target.revokedAt ??= now.toISOString();
    this.write(keys);
    const { hash: _hash, ...info } = target;
    return info;
  }

  /** The key a presented token stands for, or undefined (unknown, wrong secret, revoked, malformed). */
  verify(token: string): ApiKeyInfo | undefined {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    const record = this.read().find((k) => k.id === m[1]);
    if (!record || record.revokedAt !== null) return undefined;
    const presented = Buffer.from(sha256(m[2] as string), 'hex');
    if (!timingSafeEqual(presented, Buffer.from(record.hash, 'hex'))) return undefined;
    const { hash: _hash, ...info } = record;
    return info;
  }

  private read(): ApiKeyRecord[] {
    if (!existsSync(this.path)) return [];
    const st = statSync(this.path);
    if (this.cache && this.cache.mtimeMs === st.mtimeMs && this.cache.size === st.size) return this.cache.keys;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`The API key file '${this.path}' is not valid JSON (${(err as Error).message}); restore it or remove it and create new keys.`);
    }
    const result = keyFile.safeParse(parsed);
    if (!result.success) throw new ConfigError(`The API key file '${this.path}' has an unexpected shape; restore it or remove it and create new keys.`);
    this.cache = { mtimeMs: st.mtimeMs, size: st.size, keys: result.data.keys };
    return result.data.keys;
  }

  private write(keys: ApiKeyRecord[]): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
    this.cache = undefined;
  }
}
