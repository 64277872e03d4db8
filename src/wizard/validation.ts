import type { StandardSchemaV1 } from '@standard-schema/spec';
import { matchChoice } from './choice.js';
import { compileSchema, flowMessagesFor, jsonSchemaType, propertySchema, schemaMessages } from './schema.js';
import { FieldType, type FieldDefinition, type SchemaSource } from './types.js';

/**
 * What a custom validation rule is given and may answer: `true`/`undefined` when the value is
 * fine, a message (or several) when it is not, `false` for a generic "Invalid value".
 */
export type ValidationRule = (
  value: unknown,
  params: Record<string, unknown>,
  context: { wizard: string; slug: string; answers: Readonly<Record<string, unknown>> },
) => boolean | string | string[] | undefined;

/** A field with its schemas compiled once. */
export interface CompiledField extends FieldDefinition {
  compiledSchema: StandardSchemaV1 | undefined;
  /** The JSON type text input is coerced to (from the first schema that says, else the field type). */
  coerceTo: string | undefined;
}

export function compileField(field: FieldDefinition, flowSchema: SchemaSource | undefined): CompiledField {
  // Coercion uses the first schema found: the field's own, then the flow schema's property.
  const fromSchema = jsonSchemaType(field.schema) ?? jsonSchemaType(propertySchema(flowSchema, field.slug));
  const fromType = field.fieldType === FieldType.Integer ? 'integer' : field.fieldType === FieldType.Number ? 'number' : undefined;
  return {
    ...field,
    compiledSchema: field.schema === undefined ? undefined : compileSchema(field.schema),
    coerceTo: fromSchema ?? fromType,
  };
}

/**
 * Coerce text input to the type a schema or field type asks for (WIZARDS.md "Validation order" 1):
 * integer "27" and "27.0" → 27 ("27.5" stays text); number → a float; boolean true/yes/1 and
 * false/no/0. Anything that does not convert is left as it was, for validation to report.
 */
export function coerce(value: unknown, to: string | undefined): unknown {
  if (typeof value !== 'string' || to === undefined) return value;
  const text = value.trim();
  switch (to) {
    case 'integer': {
      if (!/^[+-]?\d+(\.0*)?$/.test(text)) return value;
      return Number(text);
    }
    case 'number': {
      if (text === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return value;
      return Number(text);
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (lower === 'true' || lower === 'yes' || lower === '1') return true;
      if (lower === 'false' || lower === 'no' || lower === '0') return false;
      return value;
    }
    default:
      return value;
  }
}

const CONFIRM_ACCEPTED = new Map<unknown, boolean>([
  [true, true],
  [false, false],
  ['yes', true],
  ['no', false],
  ['Yes', true],
  ['No', false],
]);

/** Exactly what counts as "yes" at a summary or commit step. */
export function isAffirmative(value: unknown): boolean {
  return value === true || value === 'yes' || value === 'Yes' || value === 'YES';
}

export function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export interface ValidateContext {
  wizard: string;
  /** The answers so far (the flow schema check puts this value in place of the field's own). */
  answers: Readonly<Record<string, unknown>>;
  rules: ReadonlyMap<string, ValidationRule>;
  /** The compiled flow schema; absent for collection item fields. */
  flowSchema: StandardSchemaV1 | undefined;
}

export type FieldOutcome = { ok: true; value: unknown; empty: boolean } | { ok: false; errors: string[] };

/**
 * Validate one answer in the order of WIZARDS.md: coercion, built-in checks (required, choice,
 * confirm, number types), declarative rules, the field's schema, then the flow schema for this
 * key. Built-in failures stop there; each later stage reports all its messages.
 */
export function validateField(field: CompiledField, raw: unknown, ctx: ValidateContext): FieldOutcome {
  let value = coerce(raw, field.coerceTo);

  // 2. Built-in checks.
  if (isEmpty(value)) {
    if (field.required) return { ok: false, errors: ['This field is required'] };
    return { ok: true, value: undefined, empty: true };
  }
  if (field.fieldType === FieldType.Choice && field.choices) {
    const match = matchChoice(value, field.choices);
    if (!match.ok) return { ok: false, errors: [match.message] };
    value = match.value;
  }
  if (field.fieldType === FieldType.Confirm) {
    const answer = CONFIRM_ACCEPTED.get(value);
    if (answer === undefined) return { ok: false, errors: ['Please answer yes or no'] };
    // Stored as a boolean: commit handlers should not have to know that "Yes" means true.
    value = answer;
  }
  if (field.fieldType === FieldType.Integer && !(typeof value === 'number' && Number.isInteger(value))) {
    return { ok: false, errors: ['Enter a whole number, for example 27'] };
  }
  if (field.fieldType === FieldType.Number && !(typeof value === 'number' && Number.isFinite(value))) {
    return { ok: false, errors: ['Enter a number, for example 2.5'] };
  }

  // 3. Declarative rules.
  const errors: string[] = [];
  for (const { rule, params } of field.validation) {
    const message = runRule(rule, params, value, field, ctx);
    if (message !== undefined) errors.push(...message);
  }
  if (errors.length > 0) return { ok: false, errors };

  // 4. The field's schema.
  if (field.compiledSchema) {
    const messages = schemaMessages(field.compiledSchema, value, field.slug, `field '${field.slug}'`);
    if (messages.length > 0) return { ok: false, errors: messages };
  }

  // 5. The flow schema, for this key.
  if (ctx.flowSchema) {
    const messages = flowMessagesFor(ctx.flowSchema, { ...ctx.answers, [field.slug]: value }, field.slug);
    if (messages.length > 0) return { ok: false, errors: messages };
  }
  return { ok: true, value, empty: false };
}

function runRule(rule: string, params: Record<string, unknown>, value: unknown, field: CompiledField, ctx: ValidateContext): string[] | undefined {
  const text = typeof value === 'string' ? value : Array.isArray(value) ? undefined : JSON.stringify(value);
  const length = Array.isArray(value) ? value.length : (text ?? '').length;
  switch (rule) {
    case 'required':
      return isEmpty(value) ? ['This field is required'] : undefined;
    case 'min_length': {
      const min = typeof params.min === 'number' ? params.min : 1;
      return length < min ? [`Enter at least ${min} character${min === 1 ? '' : 's'}`] : undefined;
    }
    case 'max_length': {
      const max = typeof params.max === 'number' ? params.max : 10_000;
      return length > max ? [`Enter at most ${max} character${max === 1 ? '' : 's'}`] : undefined;
    }
    case 'regex': {
      const pattern = typeof params.pattern === 'string' ? params.pattern : '';
      // Like Python's re.search: the pattern may match anywhere unless it is anchored.
      if (new RegExp(pattern).test(text ?? '')) return undefined;
      return [typeof params.message === 'string' ? params.message : `Enter a value that matches ${pattern}`];
    }
    case 'not_empty':
      return (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0) ? ['This field must not be empty'] : undefined;
    default: {
      const custom = ctx.rules.get(rule);
      if (!custom) return [`Unknown validation rule: '${rule}'`];
      let verdict: ReturnType<ValidationRule>;
      try {
        verdict = custom(value, params, { wizard: ctx.wizard, slug: field.slug, answers: ctx.answers });
      } catch (err) {
        return [`Validation rule '${rule}' failed: ${err instanceof Error ? err.message : String(err)}`];
      }
      if (verdict === true || verdict === undefined) return undefined;
      if (verdict === false) return ['Invalid value'];
      return typeof verdict === 'string' ? [verdict] : verdict;
    }
  }
}
