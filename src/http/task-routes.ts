/**
 * Routes for human tasks and resuming a failed run: thin calls to the engine's
 * `listHumanTasks`, `getHumanTask`, `completeHumanTask`, `cancelHumanTask` and `resume`.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine/engine.js';
import { route, type Route } from './route.js';
import * as s from './schemas.js';

const json = (c: Context, body: unknown, status = 200): Response => c.json(body as object, status as 200);

export function taskRoutes(engine: Engine): Route[] {
  const routes: Route[] = [];
  {
    const api = engine;
    const resumable = engine;
    routes.push(
      route({
        method: 'post', path: '/runs/:id/resume', operationId: 'resumeRun', summary: 'Resume a failed run from its failed step (recorded steps are kept).', tag: 'runs', scope: 'write',
        params: s.runIdParams, errors: [404, 409],
        responses: { 200: { description: 'The run, reopened (pending).', schema: s.runSchema } },
        handler: async ({ params, c }) => {
          await resumable.resume(params.id);
          return json(c, await engine.getRun(params.id));
        },
      }),
      route({
        method: 'get', path: '/tasks', operationId: 'listTasks', summary: 'Human tasks, filtered by status, workflow and assignee.', tag: 'tasks', scope: 'read',
        query: s.listTasksQuery,
        responses: { 200: { description: 'Tasks.', schema: z.object({ tasks: z.array(s.anyObject) }) } },
        handler: async ({ query, c }) => {
          const result = await api.listHumanTasks(query);
          return json(c, Array.isArray(result) ? { tasks: result } : result);
        },
      }),
      route({
        method: 'get', path: '/tasks/:id', operationId: 'getTask', summary: 'One human task, with the JSON Schema of its answer.', tag: 'tasks', scope: 'read',
        params: s.taskIdParams, errors: [404],
        responses: { 200: { description: 'The task.', schema: s.anyObject } },
        handler: async ({ params, c }) => json(c, await api.getHumanTask(params.id)),
      }),
      route({
        method: 'post', path: '/tasks/:id/complete', operationId: 'completeTask', summary: "Complete a pending task; `data` is validated against the task's schema.", tag: 'tasks', scope: 'write',
        params: s.taskIdParams, body: s.completeTaskBody, errors: [404, 409, 422],
        responses: { 200: { description: 'The completed task.', schema: s.anyObject } },
        handler: async ({ params, body, c, principal }) => {
          // Who completed it: the caller's name for itself, else the credential's id (never a secret).
          const by = body.by ?? principal?.id;
          return json(c, await api.completeHumanTask(params.id, body.data, by === undefined ? {} : { by }));
        },
      }),
      route({
        method: 'post', path: '/tasks/:id/cancel', operationId: 'cancelTask', summary: 'Cancel a pending task.', tag: 'tasks', scope: 'write',
        params: s.taskIdParams, errors: [404, 409],
        responses: { 200: { description: 'The cancelled task.', schema: s.anyObject } },
        handler: async ({ params, c }) => json(c, await api.cancelHumanTask(params.id)),
      }),
    );
  }
  return routes;
}
