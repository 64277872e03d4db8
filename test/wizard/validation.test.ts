import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { coerce, createWizard, defineWizardDefinition, matchChoice, type WizardSpec } from '../../src/wizard/index.js';

/** Start a one-step wizard and give it one value; returns the error messages (or the stored answer). */
function tryStep(step: WizardSpec['steps'][number], value: unknown, extra: Partial<WizardSpec> = {}, rules = {}) {
  const wizard = createWizard(defineWizardDefinition({ name: 'w', steps: [step, 'next'], ...extra }), { rules });
  const r = wizard.input(wizard.start().state, value);
  return { errors: r.errors, stored: r.state.answers[typeof step === 'string' ? step : step.slug], r };
}

describe('coercion', () => {
  it('integer: "27" and "27.0" become 27, "27.5" stays text', () => {
    expect(coerce('27', 'integer')).toBe(27);
    expect(coerce('27.0', 'integer')).toBe(27);
    expect(coerce('27.5', 'integer')).toBe('27.5');
    expect(coerce(' -3 ', 'integer')).toBe(-3);
  });

  it('number and boolean', () => {
    expect(coerce('2.5', 'number')).toBe(2.5);
    expect(coerce('1e3', 'number')).toBe(1000);
    expect(coerce('abc', 'number')).toBe('abc');
    expect(coerce('yes', 'boolean')).toBe(true);
    expect(coerce('0', 'boolean')).toBe(false);
    expect(coerce('maybe', 'boolean')).toBe('maybe');
  });

  it('applies only to text input', () => {
    expect(coerce(5, 'integer')).toBe(5);
    expect(coerce(true, 'number')).toBe(true);
  });

  it('stores an integer answer as a number, from the field type or from a schema', () => {
    expect(tryStep({ slug: 'age', fieldType: 'integer' }, '27').stored).toBe(27);
    expect(tryStep({ slug: 'age', schema: { type: 'integer' } }, '27.0').stored).toBe(27);
    expect(tryStep({ slug: 'age' }, '27', { schema: { type: 'object', properties: { age: { type: 'integer' } } } }).stored).toBe(27);
    expect(tryStep({ slug: 'age', fieldType: 'integer' }, '27.5').errors).toEqual(['Enter a whole number, for example 27']);
    expect(tryStep({ slug: 'price', fieldType: 'number' }, 'cheap').errors).toEqual(['Enter a number, for example 2.5']);
  });
});

describe('validation order and messages', () => {
  it('required rejects empty input; optional empty input records no answer', () => {
    expect(tryStep('name', '').errors).toEqual(['This field is required']);
    expect(tryStep('name', null).errors).toEqual(['This field is required']);
    const optional = tryStep({ slug: 'nick', required: false }, '');
    expect(optional.errors).toBeUndefined();
    expect('nick' in optional.r.state.answers).toBe(false);
  });

  it('confirm accepts true/false/yes/no/Yes/No and stores a boolean', () => {
    expect(tryStep({ slug: 'ok', fieldType: 'confirm' }, 'Yes').stored).toBe(true);
    expect(tryStep({ slug: 'ok', fieldType: 'confirm' }, 'no').stored).toBe(false);
    expect(tryStep({ slug: 'ok', fieldType: 'confirm' }, false).stored).toBe(false);
    expect(tryStep({ slug: 'ok', fieldType: 'confirm' }, 'YES').errors).toEqual(['Please answer yes or no']);
    expect(tryStep({ slug: 'ok', fieldType: 'confirm' }, 'y').errors).toEqual(['Please answer yes or no']);
  });

  it('declarative rules: min_length, max_length, regex (search), not_empty', () => {
    expect(tryStep({ slug: 'a', validation: ['min_length'] }, 'x').errors).toBeUndefined();
    expect(tryStep({ slug: 'a', validation: [{ rule: 'min_length', params: { min: 3 } }] }, 'ab').errors).toEqual(['Enter at least 3 characters']);
    expect(tryStep({ slug: 'a', validation: [{ rule: 'max_length', params: { max: 2 } }] }, 'abc').errors).toEqual(['Enter at most 2 characters']);
    expect(tryStep({ slug: 'a', validation: [{ rule: 'regex', params: { pattern: '\\d' } }] }, 'abc1def').errors).toBeUndefined();
    expect(tryStep({ slug: 'a', validation: [{ rule: 'regex', params: { pattern: '^\\d+$', message: 'Digits only' } }] }, '12a').errors).toEqual(['Digits only']);
    expect(tryStep({ slug: 'a', validation: [{ rule: 'regex', params: { pattern: '^\\d+$' } }] }, 'x').errors).toEqual(['Enter a value that matches ^\\d+$']);
    expect(tryStep({ slug: 'a', validation: ['not_empty'] }, '   ').errors).toEqual(['This field must not be empty']);
  });

  it('reports every failing declarative rule, and an unknown rule by name', () => {
    const r = tryStep({ slug: 'a', validation: [{ rule: 'min_length', params: { min: 5 } }, { rule: 'regex', params: { pattern: '^x', message: 'Start with x' } }, 'mystery'] }, 'abc');
    expect(r.errors).toEqual(['Enter at least 5 characters', 'Start with x', "Unknown validation rule: 'mystery'"]);
  });

  it('built-in failures come first and stop validation', () => {
    expect(tryStep({ slug: 'a', validation: [{ rule: 'min_length', params: { min: 5 } }] }, '').errors).toEqual(['This field is required']);
  });

  it('custom registered rules see the value, params and other answers', () => {
    const rules = {
      even: (v: unknown) => (typeof v === 'number' && v % 2 === 0 ? true : 'Enter an even number'),
      never: () => false,
      broken: () => {
        throw new Error('no network');
      },
    };
    expect(tryStep({ slug: 'n', fieldType: 'integer', validation: ['even'] }, '4', {}, rules).stored).toBe(4);
    expect(tryStep({ slug: 'n', fieldType: 'integer', validation: ['even'] }, '3', {}, rules).errors).toEqual(['Enter an even number']);
    expect(tryStep({ slug: 'n', validation: ['never'] }, 'x', {}, rules).errors).toEqual(['Invalid value']);
    expect(tryStep({ slug: 'n', validation: ['broken'] }, 'x', {}, rules).errors).toEqual(["Validation rule 'broken' failed: no network"]);
  });

  it('the per-step schema runs after the rules, with reformatted messages', () => {
    const step = { slug: 'age', fieldType: 'integer' as const, schema: { type: 'integer', minimum: 18 } };
    expect(tryStep(step, '16').errors).toEqual(['age must be at least 18 (you entered 16)']);
    expect(tryStep({ slug: 'code', schema: { type: 'string', enum: ['a', 'b'] } }, 'c').errors).toEqual(['code must be one of: a, b (you entered "c")']);
    expect(tryStep({ slug: 'age', schema: z.number().max(99) }, 120).errors).toEqual(['age must be at most 99 (you entered 120)']);
  });

  it('the flow schema checks this key only, with its own messages', () => {
    const flow = { type: 'object', properties: { age: { type: 'integer', minimum: 18 }, next: { type: 'string', minLength: 5 } }, required: ['age', 'next'] };
    expect(tryStep({ slug: 'age', fieldType: 'integer' }, '16', { schema: flow }).errors).toEqual(['age must be at least 18 (you entered 16)']);
    // `next` is missing and required, but that is not this step's problem.
    expect(tryStep({ slug: 'age', fieldType: 'integer' }, '21', { schema: flow }).errors).toBeUndefined();
  });

  it('a failed check keeps the person on the same step with the message in the prompt', () => {
    const { r } = tryStep({ slug: 'age', fieldType: 'integer', schema: { type: 'integer', minimum: 18 } }, '16');
    expect(r.prompt?.slug).toBe('age');
    expect(r.prompt?.validation_error).toBe('age must be at least 18 (you entered 16)');
    expect(r.prompt?.validation_errors).toEqual(['age must be at least 18 (you entered 16)']);
    expect(r.events).toEqual([{ type: 'wizard.validation.failed', wizard: 'w', slug: 'age', errors: ['age must be at least 18 (you entered 16)'], value: '16' }]);
  });
});

describe('choice matching', () => {
  const choices = ['admin', 'developer', 'designer', 'viewer'];

  it('matches by exact value, 1-based index, case-insensitive value, then unique prefix', () => {
    expect(matchChoice('developer', choices)).toEqual({ ok: true, value: 'developer' });
    expect(matchChoice('2', choices)).toEqual({ ok: true, value: 'developer' });
    expect(matchChoice(4, choices)).toEqual({ ok: true, value: 'viewer' });
    expect(matchChoice('ADMIN', choices)).toEqual({ ok: true, value: 'admin' });
    expect(matchChoice('desi', choices)).toEqual({ ok: true, value: 'designer' });
    expect(matchChoice('V', choices)).toEqual({ ok: true, value: 'viewer' });
  });

  it('lists the matches of an ambiguous prefix', () => {
    expect(matchChoice('de', choices)).toEqual({ ok: false, message: "'de' matches more than one choice: developer, designer. Type more of it, or its number." });
  });

  it('says which choices exist when nothing matches', () => {
    expect(matchChoice('root', choices)).toEqual({ ok: false, message: 'Choose one of: admin, developer, designer, viewer' });
    expect(matchChoice('9', choices)).toEqual({ ok: false, message: 'Choose one of: admin, developer, designer, viewer' });
    expect(matchChoice(true, choices)).toMatchObject({ ok: false });
  });

  it('prefers an exact value over an index when choices are numbers', () => {
    expect(matchChoice('2', ['1', '2', '5'])).toEqual({ ok: true, value: '2' });
    expect(matchChoice('3', ['1', '2', '5'])).toEqual({ ok: true, value: '5' });
  });

  it('stores the matched choice as the answer', () => {
    expect(tryStep({ slug: 'role', fieldType: 'choice', choices }, 'dev').stored).toBe('developer');
  });
});
