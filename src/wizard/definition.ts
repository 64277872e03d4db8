import { parse as parseYaml } from 'yaml';
import { didYouMean } from '../tree/suggest.js';
import { WizardDefinitionError, type DefinitionProblem } from './errors.js';
import { compileSchema, isStandardSchema } from './schema.js';
import {
  FieldType,
  StepKind,
  type FieldDefinition,
  type RuleSpec,
  type SchemaSource,
  type StepDefinition,
  type WizardDefinition,
} from './types.js';

/** A field as written in code. Everything but `slug` has a default. */
export interface FieldSpec {
  slug: string;
  /** Default: the slug in title case (`full_name` → "Full Name"). */
  title?: string;
  /** Default: "Enter value for <slug>". */
  prompt?: string;
  fieldType?: FieldType;
  choices?: string[];
  /** Default true. */
  required?: boolean;
  validation?: (string | { rule: string; params?: Record<string, unknown> })[];
  schema?: SchemaSource;
}

/** A step as written in code. */
export interface StepSpec extends FieldSpec {
  /** Default 'input'. */
  kind?: StepKind;
  /** Default true (false for summary and commit steps). */
  allowBacktrack?: boolean;
  resourceProvider?: string;
  resourceId?: string;
  commitHook?: string;
  itemFields?: (FieldSpec | string)[];
  minItems?: number;
  maxItems?: number;
}

/** A wizard as written in code. In JSON/YAML the same keys are snake_case (`field_type`, `include_summary`). */
export interface WizardSpec {
  name: string;
  title?: string;
  description?: string;
  /** Steps; a bare string is a text step with that slug. */
  steps: (StepSpec | string)[];
  /** Default true. */
  allowBacktrack?: boolean;
  /** Append a summary step ("Review your answers and confirm to continue."). */
  includeSummary?: boolean;
  /** Append a commit step ("Apply changes and finalize?"); needs `commitHook`. */
  includeCommit?: boolean;
  summarySlug?: string;
  commitSlug?: string;
  commitHook?: string;
  /** Marks this step as the introduction (protected from backtracking, no answer recorded). */
  introductionSlug?: string;
  /** Schema of the whole answers object. */
  schema?: SchemaSource;
}

export const BUILTIN_RULES = ['required', 'min_length', 'max_length', 'regex', 'not_empty'] as const;

export interface LoadOptions {
  /** Where the definition came from (a file path), for messages. */
  source?: string;
  /** Names of registered custom validation rules; when given, unknown rule names are load errors. */
  rules?: Iterable<string>;
}

const SLUG = /^[A-Za-z][A-Za-z0-9_-]*$/;
const WIZARD_KEYS = [
  'name',
  'title',
  'description',
  'steps',
  'allowBacktrack',
  'includeSummary',
  'includeCommit',
  'summarySlug',
  'commitSlug',
  'commitHook',
  'introductionSlug',
  'schema',
] as const;
const FIELD_KEYS = ['slug', 'title', 'prompt', 'fieldType', 'choices', 'required', 'validation', 'schema'] as const;
const STEP_KEYS = [
  ...FIELD_KEYS,
  'kind',
  'allowBacktrack',
  'resourceProvider',
  'resourceId',
  'commitHook',
  'itemFields',
  'minItems',
  'maxItems',
] as const;
/** Palm's data names for two keys. */
const DATA_ALIASES: Record<string, string> = { step_kind: 'kind', state_schema: 'schema' };

type Style = 'code' | 'data';
const snake = (key: string): string => key.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

/** Title case like Python's `str.title()` after replacing underscores: `full_name` → "Full Name". */
export function titleFromSlug(slug: string): string {
  return slug.replaceAll('_', ' ').replace(/[A-Za-z]+/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
}

/**
 * Check a wizard written in code and fill in its defaults. Throws {@link WizardDefinitionError}
 * listing every problem (which step, what to fix).
 *
 * @example
 * ```ts
 * const onboard = defineWizardDefinition({
 *   name: 'onboard',
 *   steps: [
 *     { slug: 'name', prompt: 'Your full name?', validation: [{ rule: 'min_length', params: { min: 2 } }] },
 *     { slug: 'role', fieldType: 'choice', choices: ['admin', 'developer', 'viewer'] },
 *   ],
 *   includeSummary: true, includeCommit: true, commitHook: 'create-user',
 * });
 * ```
 */
export function defineWizardDefinition(spec: WizardSpec, options: LoadOptions = {}): WizardDefinition {
  return normalize(spec, 'code', options.source ?? `'${typeof spec?.name === 'string' ? spec.name : '?'}'`, options.rules);
}

/** Parse and check a wizard from JSON or YAML text (snake_case keys). */
export function parseWizardDefinition(text: string, options: LoadOptions & { format?: 'json' | 'yaml' } = {}): WizardDefinition {
  const source = options.source ?? '<wizard definition>';
  const format = options.format ?? (source.endsWith('.json') ? 'json' : 'yaml');
  let data: unknown;
  try {
    data = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new WizardDefinitionError(source, [{ where: '(file)', message: `not valid ${format.toUpperCase()}: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  return normalize(data, 'data', source, options.rules);
}

/** Check a wizard given as already-parsed data (snake_case keys). */
export function loadWizardDefinition(data: unknown, options: LoadOptions = {}): WizardDefinition {
  return normalize(data, 'data', options.source ?? '<wizard definition>', options.rules);
}

function normalize(raw: unknown, style: Style, source: string, rules: Iterable<string> | undefined): WizardDefinition {
  const problems: DefinitionProblem[] = [];
  const problem = (where: string, message: string): void => void problems.push({ where, message });
  const k = (key: string): string => (style === 'data' ? snake(key) : key);
  const known = rules === undefined ? undefined : new Set([...BUILTIN_RULES, ...rules]);

  if (!isObject(raw)) throw new WizardDefinitionError(source, [{ where: '(top level)', message: 'expected an object with `name` and `steps`.' }]);
  const top = readKeys(raw, WIZARD_KEYS, style, '(top level)', problem);

  const name = top.name;
  if (typeof name !== 'string' || name.trim() === '') problem(k('name'), 'a wizard needs a non-empty `name`.');
  const flag = (key: (typeof WIZARD_KEYS)[number], fallback: boolean): boolean => {
    const v = top[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') problem(k(key), `must be true or false, got ${JSON.stringify(v)}.`);
    return v === true;
  };
  const text = (key: (typeof WIZARD_KEYS)[number]): string | undefined => {
    const v = top[key];
    if (v !== undefined && typeof v !== 'string') problem(k(key), 'must be text.');
    return typeof v === 'string' ? v : undefined;
  };
  const allowBacktrack = flag('allowBacktrack', true);
  const includeSummary = flag('includeSummary', false);
  const includeCommit = flag('includeCommit', false);
  const summarySlug = text('summarySlug') ?? 'summary';
  const commitSlug = text('commitSlug') ?? 'commit';
  const commitHook = text('commitHook');
  const introductionSlug = text('introductionSlug');
  const schema = checkSchema(top.schema, k('schema'), problem);

  const rawSteps = top.steps;
  const steps: StepDefinition[] = [];
  // Where each kept step was written, for messages (a step with a fatal problem is left out).
  const places: string[] = [];
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) {
    problem(k('steps'), 'a wizard needs at least one step.');
  } else {
    rawSteps.forEach((rawStep, i) => {
      const step = checkStep(rawStep, i, style, problem, known);
      if (step) {
        steps.push(step);
        places.push(`steps[${i}]`);
      }
    });
  }
  if (includeSummary) {
    steps.push(autoStep(summarySlug, 'Summary', 'Review your answers and confirm to continue.', StepKind.Summary, undefined));
    places.push(`(${k('includeSummary')})`);
  }
  if (includeCommit) {
    steps.push(autoStep(commitSlug, 'Commit', 'Apply changes and finalize?', StepKind.Commit, commitHook));
    places.push(`(${k('includeCommit')})`);
  }

  const seen = new Map<string, string>();
  steps.forEach((step, i) => {
    const place = places[i] as string;
    const first = seen.get(step.slug);
    if (first !== undefined) {
      const hint =
        step.kind === StepKind.Summary && includeSummary
          ? ` (${k('includeSummary')} adds a step '${step.slug}'; set ${k('summarySlug')} to another slug)`
          : step.kind === StepKind.Commit && includeCommit
            ? ` (${k('includeCommit')} adds a step '${step.slug}'; set ${k('commitSlug')} to another slug)`
            : '';
      problem(`${place} '${step.slug}'`, `slug '${step.slug}' is already used by ${first}; slugs must be unique${hint}.`);
    } else {
      seen.set(step.slug, place);
    }
    if (step.kind === StepKind.Commit) {
      step.commitHook ??= commitHook;
      if (step.commitHook === undefined) {
        problem(`${place} '${step.slug}'`, `a commit step needs a commit hook: set ${k('commitHook')} on the wizard or on the step.`);
      }
    }
  });
  if (introductionSlug !== undefined) {
    const intro = steps.find((s) => s.slug === introductionSlug);
    if (!intro) problem(k('introductionSlug'), `no step has slug '${introductionSlug}'.${didYouMean(introductionSlug, steps.map((s) => s.slug))}`);
    else {
      intro.kind = StepKind.Introduction;
      intro.allowBacktrack = false;
    }
  }

  if (problems.length > 0) throw new WizardDefinitionError(source, problems);
  return {
    name: name as string,
    title: text('title'),
    description: text('description'),
    steps,
    allowBacktrack,
    schema,
    commitHook,
  };
}

function autoStep(slug: string, title: string, prompt: string, kind: StepKind, commitHook: string | undefined): StepDefinition {
  return {
    slug,
    title,
    prompt,
    fieldType: FieldType.Confirm,
    choices: undefined,
    required: true,
    validation: [],
    schema: undefined,
    kind,
    allowBacktrack: false,
    resourceProvider: undefined,
    resourceId: undefined,
    commitHook,
    itemFields: undefined,
    minItems: 0,
    maxItems: undefined,
  };
}

type Problem = (where: string, message: string) => void;

function checkStep(raw: unknown, index: number, style: Style, problem: Problem, known: Set<string> | undefined): StepDefinition | undefined {
  const k = (key: string): string => (style === 'data' ? snake(key) : key);
  if (typeof raw === 'string') raw = { slug: raw };
  if (!isObject(raw)) {
    problem(`steps[${index}]`, 'expected a step object with a `slug` (or just the slug as text).');
    return undefined;
  }
  const slugValue = raw.slug;
  const where = typeof slugValue === 'string' ? `steps[${index}] '${slugValue}'` : `steps[${index}]`;
  const step = readKeys(raw, STEP_KEYS, style, where, problem);
  const field = checkField(step, where, style, problem, known);
  if (!field) return undefined;

  const kind = step.kind ?? StepKind.Input;
  if (!Object.values(StepKind).includes(kind as StepKind)) {
    problem(where, `${k('kind')} must be one of ${Object.values(StepKind).join(', ')}, got ${JSON.stringify(kind)}.${typeof kind === 'string' ? didYouMean(kind, Object.values(StepKind)) : ''}`);
    return undefined;
  }
  const protectedKind = kind === StepKind.Summary || kind === StepKind.Commit || kind === StepKind.Introduction;
  const allowBacktrack = step.allowBacktrack ?? !protectedKind;
  if (typeof allowBacktrack !== 'boolean') problem(where, `${k('allowBacktrack')} must be true or false.`);
  const optText = (key: string): string | undefined => {
    const v = step[key];
    if (v !== undefined && (typeof v !== 'string' || v === '')) problem(where, `${k(key)} must be non-empty text.`);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const resourceProvider = optText('resourceProvider');
  const resourceId = optText('resourceId');
  const commitHook = optText('commitHook');
  if (kind === StepKind.Action && resourceProvider === undefined) {
    problem(where, `an action step needs ${k('resourceProvider')}: the name of the resource provider the host calls.`);
  }
  if (kind !== StepKind.Action && (resourceProvider !== undefined || resourceId !== undefined)) {
    problem(where, `${k('resourceProvider')}/${k('resourceId')} only apply to action steps (${k('kind')}: action).`);
  }
  // A commit or summary step is a yes/no question whatever was written (Palm forces `confirm`).
  if (kind === StepKind.Commit || kind === StepKind.Summary) field.fieldType = FieldType.Confirm;

  let itemFields: FieldDefinition[] | undefined;
  let minItems = 0;
  let maxItems: number | undefined;
  if (kind === StepKind.Collection) {
    const rawItems = step.itemFields;
    if (!Array.isArray(rawItems) || rawItems.length === 0) {
      problem(where, `a collection step needs ${k('itemFields')}: the fields of one item (a list of fields like steps).`);
    } else {
      itemFields = [];
      const slugs = new Set<string>();
      rawItems.forEach((rawItem: unknown, j) => {
        const itemWhere = `${where} ${k('itemFields')}[${j}]`;
        const item = isObject(rawItem) ? readKeys(rawItem, FIELD_KEYS, style, itemWhere, problem) : typeof rawItem === 'string' ? { slug: rawItem } : undefined;
        if (!item) return problem(itemWhere, 'expected a field object with a `slug`.');
        const f = checkField(item, itemWhere, style, problem, known);
        if (!f) return;
        if (slugs.has(f.slug)) problem(itemWhere, `item field slug '${f.slug}' is used twice.`);
        slugs.add(f.slug);
        itemFields?.push(f);
      });
    }
    const whole = (key: string): number | undefined => {
      const v = step[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) problem(where, `${k(key)} must be a whole number ≥ 0.`);
      return typeof v === 'number' ? v : undefined;
    };
    minItems = whole('minItems') ?? 0;
    maxItems = whole('maxItems');
    if (maxItems !== undefined && maxItems < minItems) problem(where, `${k('maxItems')} (${maxItems}) is less than ${k('minItems')} (${minItems}).`);
  } else if (step.itemFields !== undefined || step.minItems !== undefined || step.maxItems !== undefined) {
    problem(where, `${k('itemFields')}/${k('minItems')}/${k('maxItems')} only apply to collection steps (${k('kind')}: collection).`);
  }

  return {
    ...field,
    kind: kind as StepKind,
    allowBacktrack: allowBacktrack === true,
    resourceProvider,
    resourceId,
    commitHook,
    itemFields,
    minItems,
    maxItems,
  };
}

function checkField(
  f: Record<string, unknown>,
  where: string,
  style: Style,
  problem: Problem,
  known: Set<string> | undefined,
): FieldDefinition | undefined {
  const k = (key: string): string => (style === 'data' ? snake(key) : key);
  const slug = f.slug;
  if (typeof slug !== 'string' || !SLUG.test(slug)) {
    problem(where, `${k('slug')} must be text starting with a letter, then letters, digits, '_' or '-'; got ${JSON.stringify(slug)}.`);
    return undefined;
  }
  const fieldType = f.fieldType ?? FieldType.Text;
  if (!Object.values(FieldType).includes(fieldType as FieldType)) {
    problem(
      where,
      `${k('fieldType')} must be one of ${Object.values(FieldType).join(', ')}, got ${JSON.stringify(fieldType)}.${typeof fieldType === 'string' ? didYouMean(fieldType, Object.values(FieldType)) : ''}`,
    );
  }
  let choices: string[] | undefined;
  if (fieldType === FieldType.Choice) {
    if (!Array.isArray(f.choices) || f.choices.length === 0 || !f.choices.every((c) => typeof c === 'string' && c !== '')) {
      problem(where, `a choice field needs ${k('choices')}: a non-empty list of non-empty texts.`);
    } else {
      choices = f.choices as string[];
      const dupes = choices.filter((c, i) => choices?.indexOf(c) !== i);
      if (dupes.length > 0) problem(where, `${k('choices')} lists ${dupes.map((d) => `'${d}'`).join(', ')} more than once.`);
    }
  } else if (f.choices !== undefined) {
    problem(where, `${k('choices')} only apply to choice fields; set ${k('fieldType')}: choice or remove them.`);
  }
  const title = f.title ?? titleFromSlug(slug);
  const prompt = f.prompt ?? `Enter value for ${slug}`;
  if (typeof title !== 'string') problem(where, `${k('title')} must be text.`);
  if (typeof prompt !== 'string') problem(where, `${k('prompt')} must be text.`);
  const required = f.required ?? true;
  if (typeof required !== 'boolean') problem(where, `${k('required')} must be true or false.`);

  const validation: RuleSpec[] = [];
  if (f.validation !== undefined && !Array.isArray(f.validation)) {
    problem(where, `${k('validation')} must be a list of rules ("required" or { rule, params }).`);
  }
  (Array.isArray(f.validation) ? (f.validation as unknown[]) : []).forEach((entry, i) => {
    const rw = `${where} ${k('validation')}[${i}]`;
    const spec = typeof entry === 'string' ? { rule: entry, params: {} } : isObject(entry) ? entry : undefined;
    if (!spec || typeof spec.rule !== 'string') return problem(rw, 'expected a rule name or { rule, params }.');
    const extra = Object.keys(spec).filter((key) => key !== 'rule' && key !== 'params');
    if (extra.length > 0) problem(rw, `unknown key${extra.length > 1 ? 's' : ''} ${extra.map((e) => `'${e}'`).join(', ')}; a rule has \`rule\` and \`params\`.`);
    const params = spec.params ?? {};
    if (!isObject(params)) return problem(rw, '`params` must be an object.');
    const rule = spec.rule;
    if (known !== undefined && !known.has(rule)) {
      problem(rw, `unknown validation rule '${rule}'. Built-in rules: ${BUILTIN_RULES.join(', ')}; register custom rules with the wizard.${didYouMean(rule, known)}`);
    }
    const whole = (key: string): void => {
      const v = params[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) problem(rw, `${rule}.${key} must be a whole number ≥ 0.`);
    };
    if (rule === 'min_length') whole('min');
    if (rule === 'max_length') whole('max');
    if (rule === 'regex') {
      if (typeof params.pattern !== 'string') problem(rw, 'regex needs params.pattern (a regular expression as text).');
      else {
        try {
          new RegExp(params.pattern);
        } catch (err) {
          problem(rw, `params.pattern is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}.`);
        }
      }
      if (params.message !== undefined && typeof params.message !== 'string') problem(rw, 'params.message must be text.');
    }
    validation.push({ rule, params });
  });

  return {
    slug,
    title: typeof title === 'string' ? title : slug,
    prompt: typeof prompt === 'string' ? prompt : '',
    fieldType: fieldType as FieldType,
    choices,
    required: required === true,
    validation,
    schema: checkSchema(f.schema, `${where} ${k('schema')}`, problem),
  };
}

function checkSchema(raw: unknown, where: string, problem: Problem): SchemaSource | undefined {
  if (raw === undefined) return undefined;
  if (isStandardSchema(raw)) return raw;
  if (!isObject(raw)) {
    problem(where, 'must be a JSON Schema object (or a Standard Schema such as a zod schema, in code).');
    return undefined;
  }
  try {
    compileSchema(raw);
  } catch (err) {
    problem(where, `is not a usable JSON Schema: ${err instanceof Error ? err.message : String(err)}.`);
    return undefined;
  }
  return raw;
}

/** Read an object's keys in the given style into camelCase, reporting unknown keys. */
function readKeys(raw: Record<string, unknown>, allowed: readonly string[], style: Style, where: string, problem: Problem): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const names = new Map(allowed.map((key) => [style === 'data' ? snake(key) : key, key]));
  if (style === 'data') for (const [alias, key] of Object.entries(DATA_ALIASES)) if (allowed.includes(key)) names.set(alias, key);
  for (const [key, value] of Object.entries(raw)) {
    const target = names.get(key);
    if (target === undefined) {
      problem(where, `unknown key '${key}'.${didYouMean(key, names.keys())}`);
      continue;
    }
    if (out[target] !== undefined) problem(where, `'${key}' repeats another key for the same setting; keep one.`);
    out[target] = value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
