import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineWizardDefinition,
  parseWizardDefinition,
  titleFromSlug,
  WizardDefinitionError,
  WizardErrorCode,
} from '../../src/wizard/index.js';

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WizardDefinitionError);
    expect((err as WizardDefinitionError).code).toBe(WizardErrorCode.Definition);
    return (err as Error).message;
  }
  throw new Error('expected a WizardDefinitionError');
}

describe('wizard definitions', () => {
  it('fills defaults like Palm: titles and prompts from slugs, required, input kind, text field', () => {
    const def = defineWizardDefinition({ name: 'w', steps: ['full_name', { slug: 'age', fieldType: 'integer' }] });
    expect(def.steps[0]).toMatchObject({ slug: 'full_name', title: 'Full Name', prompt: 'Enter value for full_name', required: true, kind: 'input', fieldType: 'text', allowBacktrack: true });
    expect(titleFromSlug('api_KEY_id')).toBe('Api Key Id');
    expect(def.allowBacktrack).toBe(true);
  });

  it('appends summary and commit steps, protected and forced to confirm', () => {
    const def = defineWizardDefinition({ name: 'w', steps: ['a'], includeSummary: true, includeCommit: true, commitHook: 'save' });
    expect(def.steps.map((s) => [s.slug, s.kind, s.fieldType, s.allowBacktrack])).toEqual([
      ['a', 'input', 'text', true],
      ['summary', 'summary', 'confirm', false],
      ['commit', 'commit', 'confirm', false],
    ]);
    expect(def.steps[1]?.prompt).toBe('Review your answers and confirm to continue.');
    expect(def.steps[2]?.prompt).toBe('Apply changes and finalize?');
    expect(def.steps[2]?.commitHook).toBe('save');
  });

  it('forces a commit step to confirm even when written otherwise', () => {
    const def = defineWizardDefinition({ name: 'w', steps: [{ slug: 'go', kind: 'commit', fieldType: 'text', commitHook: 'h' }] });
    expect(def.steps[0]?.fieldType).toBe('confirm');
  });

  it('reads snake_case data, with Palm aliases step_kind and state_schema', () => {
    const def = parseWizardDefinition(
      `name: w
allow_backtrack: false
steps:
  - slug: age
    field_type: integer
    state_schema: { type: integer, minimum: 18 }
  - { slug: go, step_kind: action, resource_provider: p }
`,
      { source: 'w.yaml' },
    );
    expect(def.allowBacktrack).toBe(false);
    expect(def.steps[0]?.schema).toEqual({ type: 'integer', minimum: 18 });
    expect(def.steps[1]?.kind).toBe('action');
  });

  it('reports every problem with the file, the step and the fix', () => {
    const message = problems(() =>
      parseWizardDefinition(
        `name: broken
steps:
  - slug: role
    field_type: choice
  - slug: role
  - slug: age
    fieldtype: integer
  - slug: 9lives
  - slug: pick
    field_type: chioce
  - slug: fetch
    kind: action
  - slug: note
    validation: [{ rule: regex, params: { pattern: "(" } }, { rule: min_length, params: { min: -1 } }]
include_commit: true
`,
        { source: 'wizards/broken.yaml' },
      ),
    );
    expect(message).toContain('Wizard definition wizards/broken.yaml has 9 problems:');
    expect(message).toContain("steps[0] 'role': a choice field needs choices: a non-empty list of non-empty texts.");
    expect(message).toContain("steps[1] 'role': slug 'role' is already used by steps[0]; slugs must be unique.");
    expect(message).toContain("steps[2] 'age': unknown key 'fieldtype'. Did you mean 'field_type'?");
    expect(message).toContain("steps[3] '9lives': slug must be text starting with a letter");
    expect(message).toContain("steps[4] 'pick': field_type must be one of text, choice, confirm, number, integer, got \"chioce\". Did you mean 'choice'?");
    expect(message).toContain("steps[5] 'fetch': an action step needs resource_provider");
    expect(message).toContain("steps[6] 'note' validation[0]: params.pattern is not a valid regular expression");
    expect(message).toContain("steps[6] 'note' validation[1]: min_length.min must be a whole number ≥ 0.");
    expect(message).toContain("(include_commit) 'commit': a commit step needs a commit hook: set commit_hook on the wizard or on the step.");
  });

  it('uses camelCase key names in messages for code definitions', () => {
    const message = problems(() => defineWizardDefinition({ name: 'w', steps: [{ slug: 'x', kind: 'collection' }] }));
    expect(message).toContain("steps[0] 'x': a collection step needs itemFields");
  });

  it('requires a name and at least one step; reports bad YAML with the file', () => {
    expect(problems(() => parseWizardDefinition('steps: []', { source: 'a.yaml' }))).toMatch(/name: a wizard needs a non-empty `name`[\s\S]*steps: a wizard needs at least one step/);
    expect(problems(() => parseWizardDefinition('name: [', { source: 'b.yaml' }))).toMatch(/b.yaml[\s\S]*not valid YAML/);
    expect(problems(() => parseWizardDefinition('{"name": ', { source: 'c.json' }))).toMatch(/c.json[\s\S]*not valid JSON/);
  });

  it('tells how to fix a clash with the auto-appended summary', () => {
    expect(problems(() => defineWizardDefinition({ name: 'w', steps: ['summary'], includeSummary: true }))).toMatch(
      /includeSummary adds a step 'summary'; set summarySlug to another slug/,
    );
  });

  it('checks rule names against registered rules when they are given', () => {
    const spec = { name: 'w', steps: [{ slug: 'zip', validation: ['postcode', 'requird'] }] };
    expect(defineWizardDefinition(spec).steps[0]?.validation).toHaveLength(2);
    const message = problems(() => defineWizardDefinition(spec, { rules: ['postcode'] }));
    expect(message).toContain("unknown validation rule 'requird'");
    expect(message).toContain("Did you mean 'required'?");
  });

  it('marks the introduction step and refuses an unknown introduction slug', () => {
    const def = defineWizardDefinition({ name: 'w', steps: ['hello', 'a'], introductionSlug: 'hello' });
    expect(def.steps[0]).toMatchObject({ kind: 'introduction', allowBacktrack: false });
    expect(problems(() => defineWizardDefinition({ name: 'w', steps: ['a'], introductionSlug: 'helo' }))).toMatch(/no step has slug 'helo'/);
  });

  it('accepts Standard Schemas in code and refuses unusable JSON Schemas', () => {
    const def = defineWizardDefinition({ name: 'w', steps: [{ slug: 'a', schema: z.string().min(3) }], schema: z.object({ a: z.string() }) });
    expect(def.schema).toBeDefined();
    expect(problems(() => defineWizardDefinition({ name: 'w', steps: [{ slug: 'a', schema: { type: 'strng' } }] }))).toMatch(
      /steps\[0\] 'a' schema: is not a usable JSON Schema/,
    );
  });
});
