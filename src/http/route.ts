/**
 * One route = its method, path, required scope, zod schemas and handler. Registering a route adds
 * the validation (params and query → 400, body → 400 malformed / 422 schema) and authorisation in
 * front of the handler, and the same record feeds the OpenAPI document.
 */
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import type { Scope } from './api-keys.js';
import { Authenticator, type Principal } from './auth.js';
import { HttpError, HttpErrorCode } from './errors.js';

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** A text/event-stream response. */
  sse?: boolean;
}

export interface Route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post';
  /** Hono syntax: '/runs/:id'. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** 'public' routes need no credentials (health only). */
  scope: Scope | 'public';
  params?: P;
  query?: Q;
  body?: B;
  /** Success responses by status; error responses are added from what the route can fail with. */
  responses: Record<number, RouteResponse>;
  /** Error statuses this route can answer besides 400/401/403/413 (e.g. 404, 409, 422). */
  errors?: number[];
  handler: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B>; c: Context; principal: Principal | undefined }) => Promise<Response>;
}

/** Identity with inference, so handlers see typed params, query and body. */
export function route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(r: Route<P, Q, B>): Route {
  return r;
}

function issues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export function register(app: Hono, r: Route, auth: Authenticator | undefined): void {
  app.on(r.method.toUpperCase(), r.path, async (c) => {
    let principal: Principal | undefined;
    if (r.scope !== 'public' && auth) {
      principal = await auth.authenticate(c.req.raw.headers);
      Authenticator.authorize(principal, r.scope);
      c.set('principal' as never, principal.id as never);
    }
    const params = r.params ? r.params.safeParse(c.req.param()) : { success: true as const, data: undefined };
    if (!params.success) throw new HttpError(400, HttpErrorCode.BadRequest, 'Invalid path parameters.', { issues: issues(params.error) });
    const query = r.query ? r.query.safeParse(c.req.query()) : { success: true as const, data: undefined };
    if (!query.success) {
      const list = issues(query.error);
      throw new HttpError(400, HttpErrorCode.BadRequest, `Invalid query: ${list.map((i) => `${i.path}: ${i.message}`).join('; ')}.`, { issues: list });
    }
    let body: unknown;
    if (r.body) {
      const text = await c.req.text();
      let json: unknown;
      if (text.trim() !== '') {
        try {
          json = JSON.parse(text);
        } catch (err) {
          throw new HttpError(400, HttpErrorCode.BadRequest, `The request body is not valid JSON: ${(err as Error).message}.`);
        }
      }
      const parsed = r.body.safeParse(json);
      if (!parsed.success) {
        const list = issues(parsed.error);
        throw new HttpError(422, 'VALIDATION_FAILED', `The request body is invalid: ${list.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ')}.`, {
          issues: list,
        });
      }
      body = parsed.data;
    }
    return r.handler({ params: params.data, query: query.data, body, c, principal });
  });
}
