/**
 * End to end over a real socket: @hono/node-server on port 0, requests with fetch.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/http/server.js';
import { createHttpApp } from '../../src/http/app.js';
import { bearer, fixture, post, readSse } from './helpers.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0).reverse()) await s.close();
});

async function serveFixture(options: Parameters<typeof fixture>[0] = {}) {
  const f = await fixture(options);
  const server = await listen(f.http, { port: 0 });
  servers.push(server);
  return { ...f, server };
}

describe('HTTP end to end on a real socket', () => {
  it('starts a run, follows its history over SSE with Last-Event-ID reconnection, and signals it to completion', async () => {
    const { server, write, read } = await serveFixture();
    const started = await fetch(`${server.url}/runs`, post(write, { workflow: 'approval', input: { amount: 42 }, id: 'e2e-1' }));
    expect(started.status).toBe(201);

    // First connection: read until the run waits for its signal, then drop the connection.
    const first = await readSse(await fetch(`${server.url}/runs/e2e-1/events`, { headers: bearer(read) }), (m) => m.some((x) => x.event === 'step.completed'));
    const lastId = first.at(-1)?.id;
    expect(first[0]).toMatchObject({ id: '1', event: 'run.started' });

    // While disconnected, the run moves on.
    const signalled = await fetch(`${server.url}/runs/e2e-1/signals`, post(write, { name: 'decide', payload: true }));
    expect(signalled.status).toBe(202);

    const rest = await readSse(
      await fetch(`${server.url}/runs/e2e-1/events`, { headers: { ...bearer(read), 'Last-Event-ID': String(lastId) } }),
      () => false,
    );
    const all = [...first, ...rest].filter((m) => m.id !== undefined);
    expect(all.map((m) => Number(m.id))).toEqual(all.map((_, i) => i + 1));
    expect(all.map((m) => m.event)).toEqual(expect.arrayContaining(['signal.received', 'run.completed']));
    expect(rest.at(-1)?.event).toBe('end');

    const run = (await (await fetch(`${server.url}/runs/e2e-1`, { headers: bearer(read) })).json()) as { status: string; output: unknown };
    expect(run).toMatchObject({ status: 'completed', output: { approved: true, amount: 42 } });
  });

  it('answers every error status with a JSON error over the wire', async () => {
    const { server, read, write } = await serveFixture({ maxBodyBytes: 2048 });
    const u = server.url;
    await fetch(`${u}/runs`, post(write, { workflow: 'approval', input: { amount: 1 }, id: 'dup' }));
    const checks: [Response, number, string][] = [
      [await fetch(`${u}/runs`, post(write, '{not json')), 400, 'BAD_REQUEST'],
      [await fetch(`${u}/runs?limit=abc`, { headers: bearer(read) }), 400, 'BAD_REQUEST'],
      [await fetch(`${u}/runs`), 401, 'UNAUTHORIZED'],
      [await fetch(`${u}/runs`, post(read, { workflow: 'approval', input: { amount: 1 } })), 403, 'FORBIDDEN'],
      [await fetch(`${u}/runs/missing`, { headers: bearer(read) }), 404, 'NOT_FOUND'],
      [await fetch(`${u}/runs`, post(write, { workflow: 'approval', input: { amount: 2 }, id: 'dup' })), 409, 'CONFLICT'],
      [await fetch(`${u}/runs`, post(write, { workflow: 'approval', input: { big: 'x'.repeat(5000) } })), 413, 'PAYLOAD_TOO_LARGE'],
      [await fetch(`${u}/runs`, post(write, { workflow: 'approval', input: { amount: 'many' } })), 422, 'VALIDATION_FAILED'],
    ];
    for (const [res, status, code] of checks) {
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
      expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
      expect(body.error).toHaveProperty('details');
    }
  });

  it('refuses a revoked key at once, and never echoes a secret', async () => {
    const { server, keys } = await serveFixture();
    const { key, secret } = keys.create('temp', 'read');
    expect((await fetch(`${server.url}/runs`, { headers: bearer(secret) })).status).toBe(200);
    keys.revoke(key.id);
    const refused = await fetch(`${server.url}/runs`, { headers: bearer(secret) });
    expect(refused.status).toBe(401);
    const text = await refused.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(-20));
    expect(JSON.stringify(keys.list())).not.toContain(secret.slice(-20));
  });

  it('closes gracefully with an event stream open', async () => {
    const { server, read } = await serveFixture();
    const res = await fetch(`${server.url}/events`, { headers: bearer(read) });
    expect(res.status).toBe(200);
    const reading = readSse(res, () => false);
    await server.close();
    servers.splice(0);
    expect(await reading).toEqual([]);
  });
});

describe('JWT bearer tokens against a JWKS served over HTTP', () => {
  let jwksServer: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (jwksServer ? jwksServer.close(() => r()) : r()));
    jwksServer = undefined;
  });

  it('accepts tokens of the issuer and audience, maps scopes, refuses the rest', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer?.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const f = await fixture();
    const http = createHttpApp(f.engine, { auth: { keys: f.keys, jwt: { jwksUrl, issuer: 'https://id.example', audience: 'keel' } } });
    const server: RunningServer = await listen(http, { port: 0 });
    servers.push(server);
    const token = (scope: string, claims: { iss?: string; aud?: string } = {}) =>
      new SignJWT({ scope })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject('ops@example')
        .setIssuer(claims.iss ?? 'https://id.example')
        .setAudience(claims.aud ?? 'keel')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);

    const writer = await token('openid keel:write');
    expect((await fetch(`${server.url}/runs`, post(writer, { workflow: 'approval', input: { amount: 3 } }))).status).toBe(201);
    const reader = await token('keel:read');
    expect((await fetch(`${server.url}/runs`, { headers: bearer(reader) })).status).toBe(200);
    expect((await fetch(`${server.url}/runs`, post(reader, { workflow: 'approval', input: { amount: 3 } }))).status).toBe(403);
    expect((await fetch(`${server.url}/runs`, { headers: bearer(await token('keel:read', { aud: 'other' })) })).status).toBe(401);
    expect((await fetch(`${server.url}/runs`, { headers: bearer(await token('keel:read', { iss: 'https://evil.example' })) })).status).toBe(401);
    expect((await fetch(`${server.url}/runs`, { headers: bearer(await token('profile')) })).status).toBe(403);
    expect((await fetch(`${server.url}/runs`, { headers: bearer(`${writer.slice(0, -4)}AAAA`) })).status).toBe(401);
    // API keys keep working next to JWTs.
    expect((await fetch(`${server.url}/runs`, { headers: bearer(f.read) })).status).toBe(200);
  });
});
