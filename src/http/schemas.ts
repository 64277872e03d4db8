/**
 * The zod schemas of the HTTP API: handlers validate requests with them and /openapi.json is
 * generated from them (z.toJSONSchema), so the document cannot drift from what is enforced.
 * Response schemas document the shapes the handlers return.
 */
import { z } from 'zod';
import { TASK_STATUSES } from '../core/human-task.js';
import { RUN_STATUSES } from '../core/store.js';

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable error code, e.g. NOT_FOUND, CONFLICT, VALIDATION_FAILED.' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).nullable(),
    }),
  })
  .meta({ id: 'Error' });

const serializedError = z
  .object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional(), data: z.record(z.string(), z.unknown()).optional() })
  .meta({ id: 'SerializedError' });

export const runSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['workflow', 'machine', 'tree']),
    workflow: z.string(),
    version: z.string(),
    status: z.enum(RUN_STATUSES),
    input: z.unknown(),
    output: z.unknown().optional(),
    error: serializedError.optional(),
    state: z.record(z.string(), z.unknown()),
    parentId: z.string().optional(),
    createdAt: z.string().meta({ format: 'date-time' }),
    updatedAt: z.string().meta({ format: 'date-time' }),
    completedAt: z.string().meta({ format: 'date-time' }).optional(),
    wakeAt: z.string().meta({ format: 'date-time' }).optional(),
    waitingFor: z.array(z.string()).optional(),
    lastError: serializedError.optional(),
  })
  .meta({ id: 'Run' });

export const historyEventSchema = z
  .looseObject({ runId: z.string(), seq: z.number().int(), at: z.number().meta({ description: 'epoch ms' }), type: z.string() })
  .meta({ id: 'HistoryEvent', description: 'One history event; the other fields depend on `type`.' });

export const definitionSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    kind: z.enum(['workflow', 'machine', 'tree']),
    inputSchema: z.record(z.string(), z.unknown()).nullable().meta({ description: 'JSON Schema of the input, when the definition has a schema that can describe itself.' }),
    outputSchema: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'Definition' });

export const runIdParams = z.object({ id: z.string().min(1).max(200) });
export const nameParams = z.object({ name: z.string().min(1).max(200) });

const statusList = z
  .string()
  .regex(new RegExp(`^(${RUN_STATUSES.join('|')})(,(${RUN_STATUSES.join('|')}))*$`), `a status or comma-separated statuses (${RUN_STATUSES.join(', ')})`)
  .meta({ description: `One status, or several separated by commas: ${RUN_STATUSES.join(', ')}.` });

export const listRunsQuery = z.object({
  status: statusList.optional(),
  workflow: z.string().min(1).optional(),
  parentId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).optional().meta({ description: 'The nextCursor of the previous page.' }),
});

export const historyQuery = z.object({
  afterSeq: z.coerce.number().int().min(0).optional().meta({ description: 'Only events with a greater seq.' }),
});

export const runEventsQuery = z.object({
  lastEventId: z.coerce.number().int().min(0).optional().meta({ description: 'Same as the Last-Event-ID header, for clients that cannot set headers.' }),
});

export const statusEventsQuery = z.object({
  lastEventId: z.string().min(1).optional().meta({ description: 'Same as the Last-Event-ID header (a status event id), for clients that cannot set headers.' }),
});

export const startRunBody = z
  .object({
    workflow: z.string().min(1).meta({ description: 'Definition name (its newest version is started).' }),
    input: z.unknown().optional(),
    id: z.string().regex(/^\S{1,200}$/, '1–200 characters without spaces').optional().meta({ description: 'Caller-chosen id: the same id again returns the same run.' }),
  })
  .meta({ id: 'StartRun' });

export const signalBody = z.object({ name: z.string().min(1).regex(/^[^@]/, "must not start with '@'"), payload: z.unknown().optional() }).meta({ id: 'Signal' });
export const cancelBody = z.object({ reason: z.string().max(1000).optional() }).optional();
export const machineEventBody = z.object({ event: z.string().min(1), payload: z.unknown().optional() }).meta({ id: 'MachineEvent' });
export const wizardStartBody = z.object({ id: z.string().regex(/^\S{1,200}$/).optional() }).optional();
export const wizardInputBody = z.object({ value: z.unknown() }).meta({ id: 'WizardInput' });
export const wizardBackBody = z.object({ slug: z.string().min(1) }).meta({ id: 'WizardBack' });

export const taskIdParams = z.object({ id: z.string().min(1).max(200) });
export const listTasksQuery = z.object({
  status: z.enum(TASK_STATUSES).optional(),
  workflow: z.string().min(1).optional(),
  assignee: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).optional(),
});
export const completeTaskBody = z.object({ data: z.unknown(), by: z.string().min(1).optional() }).meta({ id: 'CompleteTask' });

export const pruneBody = z
  .object({
    olderThan: z.string().min(1).meta({ description: "Delete runs that ended longer ago than this duration, e.g. '30d', '12h'." }),
    dryRun: z.boolean().optional(),
  })
  .meta({ id: 'Prune' });

export const runListSchema = z.object({ runs: z.array(runSchema), nextCursor: z.string().optional() });
export const historySchema = z.object({ events: z.array(historyEventSchema) });
export const anyObject = z.record(z.string(), z.unknown());
