/**
 * Test databases on the real PostgreSQL server (127.0.0.1:5432, trust auth, user postgres): each
 * test file gets its own database, dropped afterwards, so nothing is left behind.
 */
import pg from 'pg';

export const PG_HOST = process.env.KEEL_TEST_PG_HOST ?? '127.0.0.1';
export const PG_PORT = Number(process.env.KEEL_TEST_PG_PORT ?? 5432);
export const PG_USER = process.env.KEEL_TEST_PG_USER ?? 'postgres';

export function pgUrl(database: string): string {
  return `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${database}`;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Create a fresh database named after `tag`; returns its URL and a drop function. */
export async function createTestDatabase(tag: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `keel_test_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: pgUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
