import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { createWizard, parseWizardDefinition, type Wizard, type WizardOptions, type WizardResult } from '../../src/wizard/index.js';

export function example(file: string, options: WizardOptions = {}): Wizard {
  const path = fileURLToPath(new URL(`../../examples/wizards/${file}`, import.meta.url));
  return createWizard(parseWizardDefinition(readFileSync(path, 'utf8'), { source: `examples/wizards/${file}` }), options);
}

/** Feed answers one by one, asserting each is accepted. */
export function answer(wizard: Wizard, from: WizardResult, ...values: unknown[]): WizardResult {
  let r = from;
  for (const value of values) {
    r = wizard.input(r.state, value);
    expect(r.error, `answer ${JSON.stringify(value)} at '${r.prompt?.slug ?? '(end)'}'`).toBeUndefined();
  }
  return r;
}

export const types = (r: WizardResult): string[] => r.events.map((e) => e.type);
