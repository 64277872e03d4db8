/**
 * The example machines of `shared/orca-examples` (beside the repository) (SOURCE.md), parsed from the real files by
 * the real parsers, for runtime and compiler tests.
 */
import { readFileSync } from 'node:fs';
import type { MachineDef } from '../../src/machine/ast.js';
import { parseLegacyMachine } from '../../src/machine/parse-legacy.js';
import { parseMachine } from '../../src/machine/parse-markdown.js';

export const EXAMPLES_DIR = new URL('../../../shared/orca-examples/', import.meta.url);

export interface Examples {
  simpleToggle: MachineDef;
  paymentWithProperties: MachineDef;
  hierarchicalGame: MachineDef;
  parallelOrder: MachineDef;
  paymentProcessorLegacy: MachineDef;
}

const read = (file: string): string => readFileSync(new URL(file, EXAMPLES_DIR), 'utf8');

export function loadExamples(): Promise<Examples> {
  return Promise.resolve({
    simpleToggle: parseMachine(read('simple-toggle.orca.md'), { fileName: 'simple-toggle.orca.md' }),
    paymentWithProperties: parseMachine(read('payment-with-properties.orca.md'), { fileName: 'payment-with-properties.orca.md' }),
    hierarchicalGame: parseMachine(read('hierarchical-game.orca.md'), { fileName: 'hierarchical-game.orca.md' }),
    parallelOrder: parseMachine(read('parallel-order.orca.md'), { fileName: 'parallel-order.orca.md' }),
    paymentProcessorLegacy: parseLegacyMachine(read('payment-processor.legacy.orca'), { fileName: 'payment-processor.legacy.orca' }),
  });
}
