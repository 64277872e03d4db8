import type { StandardSchemaV1 } from '@standard-schema/spec';
import { z } from 'zod';
import { issueHead, issuePath, validateSync } from '../tree/schema.js';
import type { JsonSchema, SchemaSource } from './types.js';

/**
 * Schemas of wizards: Standard Schemas given in code, or JSON Schemas given as data.
 *
 * JSON Schemas are compiled with zod's `fromJSONSchema` (zod is already a dependency, so no JSON
 * Schema validator is written here), and every issue is turned into a sentence a person filling
 * the wizard can act on ("age must be at least 18 (you entered 16)").
 */

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && '~standard' in value;
}

/** Compile a schema once; throws with zod's message when a JSON Schema cannot be compiled. */
export function compileSchema(source: SchemaSource): StandardSchemaV1 {
  return isStandardSchema(source) ? source : z.fromJSONSchema(source);
}

/** The JSON type a JSON Schema declares (first one of a list), used to coerce text input. */
export function jsonSchemaType(source: SchemaSource | undefined): string | undefined {
  if (source === undefined || isStandardSchema(source)) return undefined;
  const type = source.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((t): t is string => typeof t === 'string' && t !== 'null');
  return undefined;
}

/** The JSON Schema of one property of an object JSON Schema. */
export function propertySchema(source: SchemaSource | undefined, key: string): JsonSchema | undefined {
  if (source === undefined || isStandardSchema(source)) return undefined;
  const props = source.properties;
  if (props === null || typeof props !== 'object') return undefined;
  const prop = (props as Record<string, unknown>)[key];
  return prop !== null && typeof prop === 'object' && !Array.isArray(prop) ? (prop as JsonSchema) : undefined;
}

/** Validate `value` and return human messages ([] when valid). `label` names the value itself. */
export function schemaMessages(schema: StandardSchemaV1, value: unknown, label: string, what: string): string[] {
  const result = validateSync(schema, value, what);
  if (result.ok) return [];
  return unique(result.issues.map((i) => formatIssue(i.issue, value, label)));
}

/**
 * Check one answer against the whole-flow schema: the candidate answers (with this answer in
 * place) are validated, and only issues about this answer count — later answers may not exist yet.
 */
export function flowMessagesFor(schema: StandardSchemaV1, answers: Record<string, unknown>, slug: string): string[] {
  const result = validateSync(schema, answers, 'the wizard');
  if (result.ok) return [];
  return unique(result.issues.filter((i) => issueHead(i.issue) === slug).map((i) => formatIssue(i.issue, answers, '')));
}

/** Turn one schema issue into a sentence. `root` is the validated value; paths are read from it. */
export function formatIssue(issue: StandardSchemaV1.Issue, root: unknown, label: string): string {
  const path = issuePath(issue);
  const name = path === '' ? label || 'The value' : label ? `${label}.${path}` : path;
  const value = valueAt(root, issue);
  const entered = value === undefined ? '' : ` (you entered ${show(value)})`;
  const raw = issue as StandardSchemaV1.Issue & Record<string, unknown>;
  switch (raw.code) {
    case 'invalid_type':
      if (value === undefined) return `Missing required answer: ${name}`;
      return `${name} must be ${typeName(raw.expected)}${entered}`;
    case 'too_small':
    case 'too_big': {
      const small = raw.code === 'too_small';
      const bound = small ? raw.minimum : raw.maximum;
      const inclusive = raw.inclusive !== false;
      if (raw.origin === 'string') return `${name} must be at ${small ? 'least' : 'most'} ${String(bound)} characters long`;
      if (raw.origin === 'array' || raw.origin === 'set') return `${name} must have at ${small ? 'least' : 'most'} ${String(bound)} items`;
      const phrase = inclusive ? (small ? 'at least' : 'at most') : small ? 'greater than' : 'less than';
      return `${name} must be ${phrase} ${String(bound)}${entered}`;
    }
    case 'invalid_value':
      return `${name} must be one of: ${listOf(raw.values)}${entered}`;
    case 'invalid_union': {
      // JSON Schema enums of non-strings and type lists become unions: merge what each branch wanted.
      const branches = Array.isArray(raw.errors) ? (raw.errors as Record<string, unknown>[][]).flat() : [];
      if (branches.length > 0 && branches.every((b) => b.code === 'invalid_value')) {
        return `${name} must be one of: ${listOf(branches.flatMap((b) => (Array.isArray(b.values) ? (b.values as unknown[]) : [])))}${entered}`;
      }
      if (branches.length > 0 && branches.every((b) => b.code === 'invalid_type')) {
        return `${name} must be ${unique(branches.map((b) => typeName(b.expected))).join(' or ')}${entered}`;
      }
      return `${name} is not valid${entered}`;
    }
    case 'invalid_format':
      if (raw.format === 'regex') return `${name} does not have the expected format${entered}`;
      if (raw.format === 'email') return `${name} must be a valid email address${entered}`;
      return `${name} must be a valid ${String(raw.format)}${entered}`;
    case 'not_multiple_of':
      return `${name} must be a multiple of ${String(raw.divisor)}${entered}`;
    case 'unrecognized_keys':
      return `${name} has unexpected fields: ${listOf(raw.keys)}`;
    default:
      return `${name}: ${issue.message}`;
  }
}

function typeName(expected: unknown): string {
  switch (expected) {
    case 'int':
    case 'integer':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'string':
      return 'text';
    case 'boolean':
      return 'yes or no';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    case 'null':
      return 'empty';
    default:
      return `of type ${String(expected)}`;
  }
}

function valueAt(root: unknown, issue: StandardSchemaV1.Issue): unknown {
  let cur = root;
  for (const segment of issue.path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

function listOf(values: unknown): string {
  return Array.isArray(values) ? values.map((v) => (typeof v === 'string' ? v : show(v))).join(', ') : '';
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
