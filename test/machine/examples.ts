/**
 * The example machines of `/work/shared/orca-examples`, for runtime tests. Until the markdown
 * parser lands they are the hand-built copies in `fixtures.ts`.
 */
import type { MachineDef } from '../../src/machine/ast.js';
import { exampleMachines } from './fixtures.js';

export interface Examples {
  simpleToggle: MachineDef;
  paymentWithProperties: MachineDef;
  hierarchicalGame: MachineDef;
  parallelOrder: MachineDef;
}

export function loadExamples(): Promise<Examples> {
  return Promise.resolve(exampleMachines);
}
