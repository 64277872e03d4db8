import { KeelError } from '../core/errors.js';

export const WizardErrorCode = {
  /** A wizard definition is malformed; the message lists every problem, where, and the fix. */
  Definition: 'WIZARD_DEFINITION_INVALID',
  /** A wizard state was used wrongly (another wizard's state, an outcome nobody asked for). */
  State: 'WIZARD_STATE_INVALID',
} as const;
export type WizardErrorCode = (typeof WizardErrorCode)[keyof typeof WizardErrorCode];

/** One problem in a definition: where (`steps[2] 'age'`) and what to fix. */
export interface DefinitionProblem {
  where: string;
  message: string;
}

export class WizardDefinitionError extends KeelError {
  readonly problems: DefinitionProblem[];
  constructor(source: string, problems: DefinitionProblem[]) {
    const lines = problems.map((p) => `  - ${p.where}: ${p.message}`).join('\n');
    super(
      WizardErrorCode.Definition,
      `Wizard definition ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines}`,
      { details: { source, problems } },
    );
    this.problems = problems;
  }
}

/** Misuse by the host (a bug, not a user mistake): never shown to the person filling the wizard. */
export class WizardStateError extends KeelError {
  constructor(message: string) {
    super(WizardErrorCode.State, message);
  }
}
