/**
 * The HTTP API as a Hono app: a pure `(Request) => Response` over the engine's public API
 * (STYLE §6). Binding it to a socket is server.ts's job; tests call `app.request()`.
 *
 * Every route but `GET /health` needs credentials (auth.ts): GET routes the 'read' scope, routes
 * that change runs 'write', `POST /admin/prune` 'admin'.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { coerceError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { RunStatus } from '../core/store.js';
import type { StandardSchemaV1 } from '../core/schema.js';
import type { Engine } from '../engine/engine.js';
import { toMs } from '../util/duration.js';
import { Authenticator, type AuthOptions } from './auth.js';
import { errorResponse, HttpErrorCode } from './errors.js';
import { openApiDocument } from './openapi.js';
import { register, route, type Route } from './route.js';
import * as s from './schemas.js';
import { firstStatusPage, streamRunHistory, streamStatusChanges } from './sse.js';
import { taskRoutes } from './task-routes.js';

export interface CorsOptions {
  /** Allowed origins: '*', or a list of exact origins. */
  origin: string | string[];
  credentials?: boolean;
  maxAgeSeconds?: number;
}

export interface HttpAppOptions {
  /** Credentials every route but /health needs; `false` turns authentication off (local development only). */
  auth: AuthOptions | Authenticator | false;
  /** Largest accepted request body in bytes (default 1 MiB); larger → 413. */
  maxBodyBytes?: number;
  /** CORS for browsers; off by default. */
  cors?: CorsOptions;
  logger?: Logger;
  /** How often SSE streams look for changes made by other processes (default 1000 ms). */
  pollIntervalMs?: number;
  /** Keep-alive comment interval on idle SSE streams (default 15 s). */
  heartbeatMs?: number;
  /** Reported in /openapi.json (default the package version given by the caller, else '0.0.0'). */
  version?: string;
}

export interface HttpApp {
  app: Hono;
  /** Ends open event streams and stops listening to the engine (graceful shutdown). */
  close(): void;
}

/** JSON Schema of a definition's input or output, when its Standard Schema can describe itself. */
function jsonSchemaOf(schema: StandardSchemaV1 | undefined, io: 'input' | 'output'): Record<string, unknown> | null {
  const converter = (schema as { '~standard'?: { jsonSchema?: Record<'input' | 'output', (o: { target: string }) => Record<string, unknown>> } } | undefined)?.[
    '~standard'
  ]?.jsonSchema;
  if (!converter) return null;
  try {
    return converter[io]({ target: 'draft-2020-12' });
  } catch {
    return null; // a schema with parts JSON Schema cannot express (transforms, custom checks)
  }
}

const json = (c: Context, body: unknown, status = 200): Response => c.json(body as object, status as 200);

export function createHttpApp(engine: Engine, options: HttpAppOptions): HttpApp {
  const logger = options.logger ?? silentLogger;
  const auth = options.auth === false ? undefined : options.auth instanceof Authenticator ? options.auth : new Authenticator(options.auth);
  const streamOptions = { pollMs: options.pollIntervalMs ?? 1000, heartbeatMs: options.heartbeatMs ?? 15_000 };
  const streams = new AbortController();
  const app = new Hono();

  app.onError((err, c) => {
    const { status, body, unexpected } = errorResponse(err);
    // Only the error's name and message are logged: never headers, bodies or credentials.
    if (unexpected) logger.error('Request failed', { method: c.req.method, path: c.req.path, error: `${unexpected.name}: ${unexpected.message}` });
    return json(c, body, status);
  });
  app.notFound((c) => json(c, { error: { code: HttpErrorCode.RouteNotFound, message: `No route ${c.req.method} ${c.req.path}; see /openapi.json.`, details: null } }, 404));

  app.use('*', async (c, next) => {
    const started = Date.now();
    await next();
    logger.info('http', { method: c.req.method, path: c.req.path, status: c.res.status, ms: Date.now() - started });
  });
  if (options.cors) {
    app.use(
      '*',
      cors({
        origin: options.cors.origin,
        credentials: options.cors.credentials ?? false,
        maxAge: options.cors.maxAgeSeconds ?? 600,
        allowHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID', 'X-API-Key'],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
      }),
    );
  }
  const maxBytes = options.maxBodyBytes ?? 1024 * 1024;
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => json(c, { error: { code: HttpErrorCode.TooLarge, message: `The request body is larger than ${maxBytes} bytes.`, details: { limit: maxBytes } } }, 413),
    }),
  );

  const routes: Route[] = [
    route({
      method: 'get', path: '/health', operationId: 'health', summary: 'Liveness: answers without credentials.', tag: 'meta', scope: 'public',
      responses: { 200: { description: 'The server is up.', schema: z.object({ ok: z.literal(true) }) } },
      handler: ({ c }) => Promise.resolve(json(c, { ok: true })),
    }),
    route({
      method: 'get', path: '/definitions', operationId: 'listDefinitions', summary: 'Registered workflows, machines and trees, with the JSON Schemas of their input and output.', tag: 'definitions', scope: 'read',
      responses: { 200: { description: 'Definitions.', schema: z.object({ definitions: z.array(s.definitionSchema) }) } },
      handler: ({ c }) =>
        Promise.resolve(
          json(c, {
            definitions: engine.definitions().map((d) => ({
              name: d.name,
              version: d.version,
              kind: d.kind,
              inputSchema: jsonSchemaOf(d.input, 'input'),
              outputSchema: jsonSchemaOf(d.output, 'output'),
            })),
          }),
        ),
    }),
    route({
      method: 'post', path: '/runs', operationId: 'startRun', summary: 'Start a run (the same id again returns the same run).', tag: 'runs', scope: 'write',
      body: s.startRunBody, errors: [404, 409, 422],
      responses: { 201: { description: 'The run, started.', schema: s.runSchema } },
      handler: async ({ body, c }) => {
        const handle = await engine.run(body.workflow, body.input, body.id === undefined ? {} : { id: body.id });
        return json(c, await engine.getRun(handle.id), 201);
      },
    }),
    route({
      method: 'get', path: '/runs', operationId: 'listRuns', summary: 'Runs, newest first, with filters and cursor pagination.', tag: 'runs', scope: 'read',
      query: s.listRunsQuery, errors: [422],
      responses: { 200: { description: 'A page of runs.', schema: s.runListSchema } },
      handler: async ({ query, c }) => {
        const statuses = query.status?.split(',') as RunStatus[] | undefined;
        const page = await engine.listRuns({
          ...(statuses ? { status: statuses } : {}),
          ...(query.workflow ? { workflow: query.workflow } : {}),
          ...(query.parentId ? { parentId: query.parentId } : {}),
          ...(query.limit ? { limit: query.limit } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
        });
        return json(c, page);
      },
    }),
    route({
      method: 'get', path: '/runs/:id', operationId: 'getRun', summary: 'One run.', tag: 'runs', scope: 'read',
      params: s.runIdParams, errors: [404],
      responses: { 200: { description: 'The run.', schema: s.runSchema } },
      handler: async ({ params, c }) => json(c, await engine.getRun(params.id)),
    }),
    route({
      method: 'get', path: '/runs/:id/history', operationId: 'getHistory', summary: "A run's history.", tag: 'runs', scope: 'read',
      params: s.runIdParams, query: s.historyQuery, errors: [404],
      responses: { 200: { description: 'Events in seq order.', schema: s.historySchema } },
      handler: async ({ params, query, c }) => json(c, { events: await engine.history(params.id, { afterSeq: query.afterSeq ?? 0 }) }),
    }),
    route({
      method: 'get', path: '/runs/:id/events', operationId: 'followRun', summary: "Server-sent events: the run's history, live. Event id = seq; reconnect with Last-Event-ID. Ends with `event: end` after the terminal event.", tag: 'runs', scope: 'read',
      params: s.runIdParams, query: s.runEventsQuery, errors: [404],
      responses: { 200: { description: 'text/event-stream of history events (event = type, data = JSON).', sse: true } },
      handler: async ({ params, query, c }) => {
        await engine.getRun(params.id); // 404 as JSON before the stream starts
        const header = c.req.header('last-event-id');
        const after = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header.trim()) : (query.lastEventId ?? 0);
        return streamSSE(c, (stream) => streamRunHistory(engine, params.id, after, stream, streams.signal, streamOptions), (err) =>
          Promise.resolve(logger.warn('A run event stream failed', { runId: params.id, error: coerceError(err).message })),
        );
      },
    }),
    route({
      method: 'get', path: '/events', operationId: 'followStatuses', summary: "Server-sent events: every change of every run's status, from the store, whichever process made it, in commit order. Event id = the change's cursor; reconnect with Last-Event-ID to continue exactly after it (across server restarts too). Without one, the stream starts at the end of the feed. A malformed or unknown cursor answers 400.", tag: 'runs', scope: 'read',
      query: s.statusEventsQuery,
      responses: { 200: { description: 'text/event-stream of `status` events (data: cursor, runId, workflow, status, at).', sse: true } },
      handler: async ({ query, c }) => {
        const header = c.req.header('last-event-id')?.trim();
        const last = header === undefined || header === '' ? query.lastEventId : header;
        const first = await firstStatusPage(engine, last);
        return streamSSE(c, (stream) => streamStatusChanges(engine, first, stream, streams.signal, streamOptions), (err) =>
          Promise.resolve(logger.warn('The status event stream failed', { error: coerceError(err).message })),
        );
      },
    }),
    route({
      method: 'post', path: '/runs/:id/signals', operationId: 'signalRun', summary: 'Send a signal to a run (stored before this answers).', tag: 'runs', scope: 'write',
      params: s.runIdParams, body: s.signalBody, errors: [404, 409],
      responses: { 202: { description: 'Stored in the run inbox.', schema: z.object({ runId: z.string(), signal: z.string() }) } },
      handler: async ({ params, body, c }) => {
        await engine.signal(params.id, body.name, body.payload);
        return json(c, { runId: params.id, signal: body.name }, 202);
      },
    }),
    route({
      method: 'post', path: '/runs/:id/cancel', operationId: 'cancelRun', summary: 'Cancel a run and its children.', tag: 'runs', scope: 'write',
      params: s.runIdParams, body: s.cancelBody, errors: [404, 409],
      responses: { 200: { description: 'The run after the request (cancelled, or about to be on its worker).', schema: s.runSchema } },
      handler: async ({ params, body, c }) => {
        await engine.cancel(params.id, body?.reason);
        return json(c, await engine.getRun(params.id));
      },
    }),
    route({
      method: 'post', path: '/runs/:id/machine-events', operationId: 'sendMachineEvent', summary: 'Send an event to a machine run; answers with the transition.', tag: 'machines', scope: 'write',
      params: s.runIdParams, body: s.machineEventBody, errors: [404, 409, 422, 504],
      responses: { 200: { description: 'The transition result.', schema: s.anyObject } },
      handler: async ({ params, body, c }) => json(c, await engine.sendEvent(params.id, body.event, body.payload)),
    }),
    route({
      method: 'post', path: '/wizards/:name/start', operationId: 'startWizard', summary: 'Start a wizard run and get its first prompt.', tag: 'wizards', scope: 'write',
      params: s.nameParams, body: s.wizardStartBody, errors: [404, 409],
      responses: { 200: { description: 'The wizard reply.', schema: s.anyObject } },
      handler: async ({ params, body, c }) => json(c, await engine.startWizard(params.name, body?.id === undefined ? {} : { id: body.id })),
    }),
    route({
      method: 'post', path: '/runs/:id/wizard/input', operationId: 'wizardInput', summary: 'Answer the current step of a wizard run.', tag: 'wizards', scope: 'write',
      params: s.runIdParams, body: s.wizardInputBody, errors: [404, 409, 504],
      responses: { 200: { description: 'The wizard reply (a refused answer has `error`).', schema: s.anyObject } },
      handler: async ({ params, body, c }) => json(c, await engine.wizardInput(params.id, body.value)),
    }),
    route({
      method: 'post', path: '/runs/:id/wizard/back', operationId: 'wizardBack', summary: 'Go back to an earlier step of a wizard run.', tag: 'wizards', scope: 'write',
      params: s.runIdParams, body: s.wizardBackBody, errors: [404, 409, 504],
      responses: { 200: { description: 'The wizard reply.', schema: s.anyObject } },
      handler: async ({ params, body, c }) => json(c, await engine.wizardBack(params.id, body.slug)),
    }),
    route({
      method: 'post', path: '/admin/prune', operationId: 'prune', summary: 'Delete runs that ended before a cutoff (or count them with dryRun).', tag: 'admin', scope: 'admin',
      body: s.pruneBody,
      responses: { 200: { description: 'How many runs were (or would be) deleted.', schema: z.object({ runs: z.number().int(), dryRun: z.boolean(), before: z.string() }) } },
      handler: async ({ body, c }) => {
        const before = new Date(Date.now() - toMs(body.olderThan, 'olderThan'));
        return json(c, { ...(await engine.prune(before, { dryRun: body.dryRun ?? false })), before: before.toISOString() });
      },
    }),
    ...taskRoutes(engine),
  ];
  const doc = openApiDocument(routes, { title: 'Keel', version: options.version ?? '0.0.0' });
  routes.push(
    route({
      method: 'get', path: '/openapi.json', operationId: 'openapi', summary: 'This API as OpenAPI 3.1.', tag: 'meta', scope: 'read',
      responses: { 200: { description: 'The OpenAPI document.' } },
      handler: ({ c }) => Promise.resolve(json(c, doc)),
    }),
  );
  for (const r of routes) register(app, r, auth);

  return {
    app,
    close: () => {
      streams.abort();
    },
  };
}
