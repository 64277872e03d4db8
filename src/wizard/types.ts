import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * Wizard definitions, as the rest of the code sees them once loaded and checked
 * (WIZARDS.md §1.4). Every optional setting has been given its default; see `definition.ts` for
 * what a user may write (camelCase in code, snake_case in JSON/YAML).
 */

export const FieldType = {
  Text: 'text',
  Choice: 'choice',
  Confirm: 'confirm',
  Number: 'number',
  Integer: 'integer',
} as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

export const StepKind = {
  Input: 'input',
  Introduction: 'introduction',
  Summary: 'summary',
  Commit: 'commit',
  Action: 'action',
  Collection: 'collection',
} as const;
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

/** A JSON Schema (the subset zod's `fromJSONSchema` understands: type, enum, minimum, properties, items …). */
export type JsonSchema = Record<string, unknown>;

/** A schema given in code (any Standard Schema, e.g. zod) or as data (JSON Schema). */
export type SchemaSource = JsonSchema | StandardSchemaV1;

/** One declarative validation rule: a built-in (`required`, `min_length`, `max_length`, `regex`, `not_empty`) or a registered one. */
export interface RuleSpec {
  rule: string;
  params: Record<string, unknown>;
}

/** A field: what one answer looks like and how it is checked. Steps are fields; so are the item fields of a collection. */
export interface FieldDefinition {
  slug: string;
  title: string;
  prompt: string;
  fieldType: FieldType;
  /** For `choice` fields: the allowed values, in display order. */
  choices: string[] | undefined;
  required: boolean;
  validation: RuleSpec[];
  /** Schema of this field's value itself (not of an object holding it). */
  schema: SchemaSource | undefined;
}

export interface StepDefinition extends FieldDefinition {
  kind: StepKind;
  /** False makes the step protected: `back` to it is refused. */
  allowBacktrack: boolean;
  /** Action steps: the resource provider the host calls. */
  resourceProvider: string | undefined;
  /** Action steps: the resource to fetch; default: the answer, as text. */
  resourceId: string | undefined;
  /** Commit steps: the handler the host runs as a durable step. */
  commitHook: string | undefined;
  /** Collection steps: the fields of one item. */
  itemFields: FieldDefinition[] | undefined;
  minItems: number;
  maxItems: number | undefined;
}

export interface WizardDefinition {
  name: string;
  title: string | undefined;
  description: string | undefined;
  steps: StepDefinition[];
  allowBacktrack: boolean;
  /** Schema of the whole answers object, checked per answer and again at summary and commit. */
  schema: SchemaSource | undefined;
  commitHook: string | undefined;
}
