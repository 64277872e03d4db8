/**
 * Transactional wizards (WIZARDS.md §1.4): interactive multi-step input with validation,
 * backtracking, a summary and an all-or-nothing commit, as pure logic the engine hosts.
 *
 * Load a definition with {@link parseWizardDefinition} (JSON/YAML) or
 * {@link defineWizardDefinition} (code), make it runnable with {@link createWizard}, then drive
 * it with `start`, `input`, `back`, `commitOutcome` and `actionOutcome`.
 */
export { FieldType, StepKind, type FieldDefinition, type StepDefinition, type WizardDefinition, type RuleSpec, type SchemaSource, type JsonSchema } from './types.js';
export { WizardErrorCode, WizardDefinitionError, WizardStateError, type DefinitionProblem } from './errors.js';
export {
  defineWizardDefinition,
  parseWizardDefinition,
  loadWizardDefinition,
  titleFromSlug,
  BUILTIN_RULES,
  type WizardSpec,
  type StepSpec,
  type FieldSpec,
  type LoadOptions,
} from './definition.js';
export { matchChoice } from './choice.js';
export { coerce, isAffirmative, type ValidationRule } from './validation.js';
export { formatIssue } from './schema.js';
export {
  RESOURCE_NOT_CONFIGURED,
  type WizardEvent,
  type WizardEventType,
  type WizardCommand,
  type CommandOutcome,
  type PromptBundle,
} from './events.js';
export {
  Wizard,
  createWizard,
  type WizardState,
  type WizardStatus,
  type WizardResult,
  type WizardSignal,
  type WizardOptions,
  type CollectionDraft,
  type Rejection,
} from './wizard.js';
export { WizardLeaf, WizardTask, wizardStateKey } from './wizard-leaf.js';
export {
  WIZARD_STATE_KEY,
  WIZARD_SIGNAL,
  WizardCommitError,
  defineWizardWorkflow,
  isWizardWorkflow,
  loadWizardDefinitions,
  startWizard,
  wizardInput,
  wizardBack,
  wizardSnapshot,
  wizardEvents,
  wizardWorkflows,
  type WizardWorkflow,
  type WizardHostOptions,
  type CommitHandler,
  type CommitContext,
  type ResourceProvider,
  type ResourceContext,
  type WizardSnapshot,
  type WizardSignalPayload,
  type WizardOutput,
  type WizardReply,
  type WizardCallOptions,
  type LastInput,
} from './durable.js';
export { HostedRunErrorCode, waitForRunState, type HostEngine, type HostedRunInfo, type WaitOptions } from '../tree/durable-host.js';
