/**
 * Validation through any Standard Schema validator (zod, valibot, arktype, …), without depending
 * on one. A failure becomes a ValidationError whose issues name the field and the broken rule.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.js';

export type { StandardSchemaV1 };

export async function validate<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  subject: string,
): Promise<StandardSchemaV1.InferOutput<S>> {
  let result = schema['~standard'].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) throw new ValidationError(subject, result.issues.map(toIssue));
  return result.value;
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((p) => (typeof p === 'object' && p !== null && 'key' in p ? p.key : p))
    .map((k) => (typeof k === 'number' ? `[${k}]` : String(k)))
    .join('.')
    .replace(/\.\[/g, '[');
  return { path, message: issue.message };
}
