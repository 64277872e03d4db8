import { ErrorCode, KeelError } from '../core/errors.js';

/**
 * Round-trip a value through JSON so that live execution sees exactly what replay will see
 * (a Date becomes its ISO string, undefined properties vanish). Throws a clear error for values
 * JSON cannot hold (BigInt, cycles).
 */
export function toJsonValue<T>(value: T, what: string): T {
  if (value === undefined || value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new KeelError(
      ErrorCode.NotSerializable,
      `${what} cannot be stored: ${(err as Error).message}. Durable values must be JSON-serialisable (no BigInt, functions or cycles).`,
      { cause: err },
    );
  }
  return (text === undefined ? undefined : JSON.parse(text)) as T;
}

/** JSON with object keys sorted, so equal values give equal text (idempotency checks). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  }) ?? 'null';
}

/** Cursor for newest-first pagination over (createdAt, id). */
export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'number' && typeof parsed[1] === 'string') {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw new KeelError(ErrorCode.InvalidCursor, `Invalid cursor '${cursor}': pass the nextCursor of a previous page unchanged, or omit it for the first page.`, {
    details: { cursor, problem: 'malformed' },
  });
}

/** The id a status-change cursor of the memory and SQLite stores names (its decimal text), or
 * undefined when the text is not one. */
export function decimalCursor(cursor: string): number | undefined {
  return /^\d{1,15}$/.test(cursor) ? Number(cursor) : undefined;
}

/**
 * The parts of a list query every store reads the same way: the page size (default 50, whole,
 * between 1 and 1000), the decoded cursor, and the statuses asked for (undefined: any).
 */
export function pageRequest<S extends string>(query: { limit?: number; cursor?: string; status?: S | S[] }): {
  limit: number;
  after: { createdAt: number; id: string } | undefined;
  statuses: S[] | undefined;
} {
  const wanted = query.limit ?? 50;
  const limit = Number.isNaN(wanted) ? 1 : Math.min(Math.max(Math.floor(wanted), 1), 1000);
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const statuses = query.status === undefined ? undefined : Array.isArray(query.status) ? query.status : [query.status];
  return { limit, after, statuses };
}
