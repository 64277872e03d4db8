/**
 * The OpenAPI 3.1 document, built from the route table: the same zod schemas the handlers
 * validate with, converted by z.toJSONSchema (JSON Schema 2020-12, which OpenAPI 3.1 uses).
 * Schemas with a `meta({ id })` become shared components.
 */
import { z } from 'zod';
import { errorSchema } from './schemas.js';
import type { Route } from './route.js';

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed request: invalid JSON, path parameter or query.',
  401: 'Missing or invalid credentials.',
  403: 'The credentials lack the scope this needs.',
  404: 'Not found.',
  409: 'Conflict with the current state (e.g. the run has ended, or the id exists with other input).',
  413: 'The request body is larger than the limit.',
  422: 'The body does not match the schema (or the workflow input schema).',
  503: 'The store or engine is unavailable.',
  504: 'No worker answered in time.',
};

type JsonSchema = Record<string, unknown>;

export function openApiDocument(routes: readonly Route[], info: { title: string; version: string }): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  // Schemas with a meta id come out as $defs (the root too, as a $ref); they move to components.
  const convert = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const raw = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
    const json = JSON.parse(JSON.stringify(raw).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
    const { $schema: _s, $defs: defs, ...rest } = json;
    for (const [id, def] of Object.entries((defs ?? {}) as Record<string, JsonSchema>)) components[id] ??= def;
    return rest;
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!(schema instanceof z.ZodObject)) continue;
      const shape: Record<string, z.ZodType> = schema.shape;
      for (const [name, prop] of Object.entries(shape)) {
        const optional = prop.safeParse(undefined).success;
        parameters.push({ name, in: where, required: where === 'path' || !optional, schema: convert(prop, 'input') });
      }
    }
    if (r.path.endsWith('/events') || r.path === '/events') {
      parameters.push({ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'Resume after this event id.' });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = res.sse
        ? { description: res.description, content: { 'text/event-stream': { schema: { type: 'string' } } } }
        : { description: res.description, ...(res.schema ? { content: { 'application/json': { schema: convert(res.schema, 'output') } } } : {}) };
    }
    const errors = new Set<number>([...(r.params || r.query ? [400] : []), ...(r.body ? [400, 413, 422] : []), ...(r.errors ?? [])]);
    if (r.scope !== 'public') {
      errors.add(401);
      errors.add(403);
    }
    for (const status of [...errors].sort()) {
      responses[String(status)] = { description: ERROR_TEXT[status] ?? 'Error.', content: { 'application/json': { schema: convert(errorSchema, 'output') } } };
    }
    (paths[path] ??= {})[r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(r.scope === 'public' ? { security: [] } : { 'x-keel-scope': r.scope }),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: r.body.safeParse(undefined).success === false, content: { 'application/json': { schema: convert(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Keel: durable workflows, state machines and wizards. Scopes: read < write < admin.' },
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: "A Keel API key ('keel_…') or a JWT from the configured issuer." } },
    },
    security: [{ bearer: [] }],
  };
}
