import { describe, expect, it } from 'vitest';
import { bearer, fixture, post, readSse } from './helpers.js';

describe('HTTP app (app.request, no socket)', () => {
  it('health needs no credentials; everything else does', async () => {
    const { http } = await fixture();
    expect(await (await http.app.request('/health')).json()).toEqual({ ok: true });
    const res = await http.app.request('/runs');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED', details: null } });
    expect((await http.app.request('/runs', { headers: bearer('keel_000000000000_nope') })).status).toBe(401);
    expect((await http.app.request('/runs', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });

  it('scopes: read cannot write, write cannot administer', async () => {
    const { http, read, write, admin } = await fixture();
    expect((await http.app.request('/runs', { headers: bearer(read) })).status).toBe(200);
    const denied = await http.app.request('/runs', post(read, { workflow: 'approval', input: { amount: 5 } }));
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: { code: 'FORBIDDEN', details: { needed: 'write', held: 'read' } } });
    expect((await http.app.request('/admin/prune', post(write, { olderThan: '30d' }))).status).toBe(403);
    const pruned = await http.app.request('/admin/prune', post(admin, { olderThan: '30d', dryRun: true }));
    expect(pruned.status).toBe(200);
    expect(await pruned.json()).toMatchObject({ runs: 0, dryRun: true });
  });

  it('starts, lists, gets, signals a run and reads its history', async () => {
    const { http, engine, write, read } = await fixture();
    const started = await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 5 }, id: 'a-1' }));
    expect(started.status).toBe(201);
    expect(await started.json()).toMatchObject({ id: 'a-1', workflow: 'approval', input: { amount: 5 } });
    // Same id, same input: the same run (idempotent); different input: 409.
    expect((await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 5 }, id: 'a-1' }))).status).toBe(201);
    const conflict = await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 6 }, id: 'a-1' }));
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: 'CONFLICT' } });

    const list = (await (await http.app.request('/runs?status=pending,running,waiting&workflow=approval', { headers: bearer(read) })).json()) as { runs: { id: string }[] };
    expect(list.runs.map((r) => r.id)).toEqual(['a-1']);
    expect((await http.app.request('/runs?status=sleeping', { headers: bearer(read) })).status).toBe(400);
    expect((await http.app.request('/runs?limit=0', { headers: bearer(read) })).status).toBe(400);

    const signal = await http.app.request('/runs/a-1/signals', post(write, { name: 'decide', payload: true }));
    expect(signal.status).toBe(202);
    expect(await engine.handle('a-1').result()).toEqual({ approved: true, amount: 5 });
    const run = (await (await http.app.request('/runs/a-1', { headers: bearer(read) })).json()) as { status: string; output: unknown };
    expect(run).toMatchObject({ status: 'completed', output: { approved: true, amount: 5 } });
    const history = (await (await http.app.request('/runs/a-1/history?afterSeq=1', { headers: bearer(read) })).json()) as { events: { seq: number; type: string }[] };
    expect(history.events[0]?.seq).toBe(2);
    expect(history.events.at(-1)?.type).toBe('run.completed');
    // A signal to an ended run is a conflict.
    expect((await http.app.request('/runs/a-1/signals', post(write, { name: 'decide', payload: true }))).status).toBe(409);
  });

  it('paginates runs with a cursor', async () => {
    const { http, write, read } = await fixture();
    for (const id of ['p1', 'p2', 'p3']) await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 1 }, id }));
    const first = (await (await http.app.request('/runs?limit=2', { headers: bearer(read) })).json()) as { runs: { id: string }[]; nextCursor?: string };
    expect(first.runs).toHaveLength(2);
    expect(first.nextCursor).toBeDefined();
    const second = (await (await http.app.request(`/runs?limit=2&cursor=${first.nextCursor}`, { headers: bearer(read) })).json()) as { runs: { id: string }[] };
    expect([...first.runs, ...second.runs].map((r) => r.id).sort()).toEqual(['p1', 'p2', 'p3']);
    const badCursor = await http.app.request('/runs?cursor=zzz', { headers: bearer(read) });
    expect(badCursor.status).toBe(400);
    expect(((await badCursor.json()) as { error: { code: string } }).error.code).toBe('INVALID_CURSOR');
  });

  it('answers every error as { error: { code, message, details } } with the right status', async () => {
    const { http, write, read } = await fixture({ maxBodyBytes: 1024 });
    const cases: [Promise<Response>, number, string][] = [
      [Promise.resolve(http.app.request('/runs', post(write, '{"workflow": '))), 400, 'BAD_REQUEST'],
      [Promise.resolve(http.app.request('/runs/nope', { headers: bearer(read) })), 404, 'NOT_FOUND'],
      [Promise.resolve(http.app.request('/nowhere', { headers: bearer(read) })), 404, 'ROUTE_NOT_FOUND'],
      [Promise.resolve(http.app.request('/runs', post(write, { workflow: 'nope' }))), 404, 'UNKNOWN_WORKFLOW'],
      [Promise.resolve(http.app.request('/runs', post(write, { input: 1 }))), 422, 'VALIDATION_FAILED'],
      [Promise.resolve(http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: -1 } }))), 422, 'VALIDATION_FAILED'],
      [Promise.resolve(http.app.request('/runs', post(write, { workflow: 'approval', input: { pad: 'x'.repeat(2000) } }))), 413, 'PAYLOAD_TOO_LARGE'],
      [Promise.resolve(http.app.request('/runs/nope/cancel', post(write, {}))), 404, 'NOT_FOUND'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
      expect(body.error.message.length).toBeGreaterThan(0);
    }
    const invalid = (await (await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 'x' } }))).json()) as {
      error: { details: { issues: { path: string }[] } };
    };
    expect(invalid.error.details.issues[0]?.path).toBe('amount');
  });

  it('lists definitions with JSON Schemas of input and output', async () => {
    const { http, read } = await fixture();
    const { definitions } = (await (await http.app.request('/definitions', { headers: bearer(read) })).json()) as {
      definitions: { name: string; inputSchema: { properties?: Record<string, unknown> } | null; outputSchema: unknown }[];
    };
    const approval = definitions.find((d) => d.name === 'approval');
    expect(approval?.inputSchema?.properties).toHaveProperty('amount');
    expect(approval?.outputSchema).toMatchObject({ type: 'object' });
    expect(definitions.find((d) => d.name === 'boom')?.inputSchema).toBeNull();
  });

  it('serves an OpenAPI 3.1 document built from the validation schemas', async () => {
    const { http, read } = await fixture();
    const doc = (await (await http.app.request('/openapi.json', { headers: bearer(read) })).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> }; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/runs', '/runs/{id}', '/runs/{id}/events', '/events', '/runs/{id}/signals']));
    expect(doc.paths['/runs']?.post?.requestBody?.content['application/json']?.schema.$ref).toBe('#/components/schemas/StartRun');
    expect(doc.components.schemas.StartRun?.properties).toHaveProperty('workflow');
    expect(doc.components.schemas.Error).toBeDefined();
    expect(Object.keys(doc.paths['/runs']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '401', '403', '413', '422']));
  });

  it('streams a run history as SSE and resumes after Last-Event-ID', async () => {
    const { http, engine, write, read } = await fixture();
    await http.app.request('/runs', post(write, { workflow: 'approval', input: { amount: 7 }, id: 's-1' }));
    const first = await http.app.request('/runs/s-1/events', { headers: bearer(read) });
    expect(first.headers.get('content-type')).toContain('text/event-stream');
    const early = await readSse(first, (m) => m.some((x) => x.event === 'timer.scheduled' || x.event === 'step.completed'));
    expect(early[0]).toMatchObject({ id: '1', event: 'run.started' });
    const lastId = early.at(-1)?.id as string;
    await engine.signal('s-1', 'decide', false);
    const rest = await readSse(await http.app.request('/runs/s-1/events', { headers: { ...bearer(read), 'last-event-id': lastId } }), () => false);
    const seqs = [...early, ...rest].filter((m) => m.id !== undefined).map((m) => Number(m.id));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // nothing missed, nothing twice
    expect(rest.at(-1)?.event).toBe('end');
    expect(rest.at(-2)?.event).toBe('run.completed');
  });

  it('streams status changes of all runs from the store, resumes exactly after Last-Event-ID, and refuses a bad one with 400', async () => {
    const { http, engine, write, read } = await fixture();
    await engine.run('approval', { amount: 1 }, { id: 'before' });
    for (let i = 0; i < 500 && (await engine.getRun('before')).status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 5));
    // Without Last-Event-ID the stream starts at the end of the feed: nothing from before it.
    const res = await http.app.request('/events', { headers: bearer(read) });
    expect(res.status).toBe(200);
    const reading = readSse(res, (m) => m.some((x) => x.data.includes('"failed"')));
    await http.app.request('/runs', post(write, { workflow: 'boom', id: 'b-1' }));
    const messages = await reading;
    const changes = messages.map((m) => ({ id: m.id, event: m.event, ...(JSON.parse(m.data) as { cursor: string; runId: string; workflow: string; status: string; at: string }) }));
    expect(changes.map((c) => c.runId)).not.toContain('before');
    expect(changes.filter((c) => c.runId === 'b-1').map((c) => c.status)).toEqual(['running', 'failed']);
    expect(changes[0]).toMatchObject({ event: 'status', workflow: 'boom', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown });
    expect(changes.every((c) => c.id === c.cursor)).toBe(true);
    // The store's feed from the stream's first change on, as the stream sent it.
    const feed = (await engine.statusChanges({ limit: 1000 })).changes.map((c) => c.cursor);
    expect(feed.slice(feed.indexOf(changes[0]?.cursor as string))).toEqual(changes.map((c) => c.cursor));

    // Resuming after the first change gives exactly the ones after it (header or query parameter).
    const first = changes[0]?.cursor as string;
    const rest = changes.slice(1).map((c) => c.cursor);
    const byHeader = await readSse(await http.app.request('/events', { headers: { ...bearer(read), 'last-event-id': first } }), (m) => m.length >= rest.length);
    const byQuery = await readSse(await http.app.request(`/events?lastEventId=${first}`, { headers: bearer(read) }), (m) => m.length >= rest.length);
    expect(byHeader.map((m) => m.id)).toEqual(rest);
    expect(byQuery.map((m) => m.id)).toEqual(rest);

    for (const bad of ['old-5', '99999999']) {
      const refused = await http.app.request('/events', { headers: { ...bearer(read), 'last-event-id': bad } });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/json');
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('INVALID_CURSOR');
      expect(body.error.message).toContain(`'${bad}'`);
    }
  });

  it('CORS answers preflight for allowed origins only', async () => {
    const { http } = await fixture({ cors: { origin: ['https://ops.example'] } });
    const ok = await http.app.request('/runs', { method: 'OPTIONS', headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    const other = await http.app.request('/runs', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

