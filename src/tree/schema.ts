import type { StandardSchemaV1 } from '@standard-schema/spec';
import { BehaviorTreeError, TreeErrorCode } from './errors.js';

/** One problem found by a schema: a dotted path ('' for the value itself) and a message. */
export interface SchemaIssue {
  path: string;
  message: string;
  /** The raw Standard Schema issue, for callers that format messages themselves. */
  issue: StandardSchemaV1.Issue;
}

/**
 * Validate synchronously with any Standard Schema (zod, valibot, arktype …).
 *
 * Tree and wizard code is pure and synchronous (it runs inside a transition), so a schema that
 * answers with a Promise is refused with an error that says so, rather than silently awaited.
 */
export function validateSync(
  schema: StandardSchemaV1,
  value: unknown,
  what: string,
): { ok: true; value: unknown } | { ok: false; issues: SchemaIssue[] } {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) {
    // Swallow the rejection of a promise we refuse to wait for, so it is not reported as unhandled.
    result.catch(() => undefined);
    throw new BehaviorTreeError(
      TreeErrorCode.Blackboard,
      `The schema of ${what} validates asynchronously; trees and wizards need synchronous schemas (no async refinements).`,
    );
  }
  if (result.issues === undefined) return { ok: true, value: result.value };
  return { ok: false, issues: result.issues.map((issue) => ({ path: issuePath(issue), message: issue.message, issue })) };
}

/** The dotted path of an issue: `['items', 0, 'name']` becomes `items[0].name`. */
export function issuePath(issue: StandardSchemaV1.Issue): string {
  let out = '';
  for (const segment of issue.path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The first path segment of an issue, or undefined for an issue about the whole value. */
export function issueHead(issue: StandardSchemaV1.Issue): PropertyKey | undefined {
  const first = issue.path?.[0];
  return typeof first === 'object' ? first.key : first;
}
