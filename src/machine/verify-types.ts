/** Codes and result shapes of the Orca verifier (ORCA.md §4.6, plus Keel's decision-table codes). */

export const VerifyCode = {
  // Structural
  NoInitialState: 'NO_INITIAL_STATE',
  UnreachableState: 'UNREACHABLE_STATE',
  FinalStateOutgoing: 'FINAL_STATE_OUTGOING',
  Deadlock: 'DEADLOCK',
  InsufficientRegions: 'INSUFFICIENT_REGIONS',
  /** Only for hand-built ASTs: the parsers reject these before the verifier sees them. */
  UnknownState: 'UNKNOWN_STATE',
  UnknownGuard: 'UNKNOWN_GUARD',
  // Orphans
  OrphanEvent: 'ORPHAN_EVENT',
  OrphanAction: 'ORPHAN_ACTION',
  OrphanEffect: 'ORPHAN_EFFECT',
  UndeclaredEffect: 'UNDECLARED_EFFECT',
  // Completeness and determinism
  IncompleteEventHandling: 'INCOMPLETE_EVENT_HANDLING',
  NonDeterministic: 'NON_DETERMINISTIC',
  GuardExhaustiveness: 'GUARD_EXHAUSTIVENESS',
  // Properties
  PropertyReachabilityFail: 'PROPERTY_REACHABILITY_FAIL',
  PropertyExclusionFail: 'PROPERTY_EXCLUSION_FAIL',
  PropertyPathFail: 'PROPERTY_PATH_FAIL',
  PropertyLivenessFail: 'PROPERTY_LIVENESS_FAIL',
  PropertyResponseFail: 'PROPERTY_RESPONSE_FAIL',
  PropertyInvariantAdvisory: 'PROPERTY_INVARIANT_ADVISORY',
  PropertyInvariantInvalid: 'PROPERTY_INVARIANT_INVALID',
  /** Keel: the invariant is false for the default context the machine starts with. */
  PropertyInvariantFail: 'PROPERTY_INVARIANT_FAIL',
  PropertyAmbiguousState: 'PROPERTY_AMBIGUOUS_STATE',
  PropertyInvalidState: 'PROPERTY_INVALID_STATE',
  // Size
  MachineTooLarge: 'MACHINE_TOO_LARGE',
  // Multi-machine
  CircularInvocation: 'CIRCULAR_INVOCATION',
  UnknownMachine: 'UNKNOWN_MACHINE',
  ChildNoFinalState: 'CHILD_NO_FINAL_STATE',
  UnknownOnDoneEvent: 'UNKNOWN_ON_DONE_EVENT',
  UnknownOnErrorEvent: 'UNKNOWN_ON_ERROR_EVENT',
  InvalidInputMapping: 'INVALID_INPUT_MAPPING',
  StateLimitExceeded: 'STATE_LIMIT_EXCEEDED',
  MissingOnError: 'MISSING_ON_ERROR',
  // Decision tables
  DtNoConditions: 'DT_NO_CONDITIONS',
  DtNoActions: 'DT_NO_ACTIONS',
  DtEmptyRules: 'DT_EMPTY_RULES',
  DtInvalidConditionType: 'DT_INVALID_CONDITION_TYPE',
  DtUnknownConditionColumn: 'DT_UNKNOWN_CONDITION_COLUMN',
  DtUnknownActionColumn: 'DT_UNKNOWN_ACTION_COLUMN',
  DtMissingConditionColumn: 'DT_MISSING_CONDITION_COLUMN',
  DtUnknownConditionValue: 'DT_UNKNOWN_CONDITION_VALUE',
  DtUnknownActionValue: 'DT_UNKNOWN_ACTION_VALUE',
  DtDuplicateRule: 'DT_DUPLICATE_RULE',
  /** A rule that can never fire: it meets no input, or (first-match) earlier rules cover all its inputs. */
  DtShadowedRule: 'DT_SHADOWED_RULE',
  /** Under all-match: two rules can match the same input and set an output differently. */
  DtConflict: 'DT_CONFLICT',
  DtIncomplete: 'DT_INCOMPLETE',
  DtCompletenessSkipped: 'DT_COMPLETENESS_SKIPPED',
  // A decision table next to a machine whose context holds its conditions and outputs
  /** A machine guard that tests a table output against values the table never produces. */
  DtGuardDead: 'DT_GUARD_DEAD',
  /** A state the graph reaches only through transitions whose guards DT_GUARD_DEAD found dead. */
  DtUnreachableState: 'DT_UNREACHABLE_STATE',
} as const;
export type VerifyCode = (typeof VerifyCode)[keyof typeof VerifyCode];

export type Severity = 'error' | 'warning';

export interface VerifyLocation {
  machine?: string;
  decisionTable?: string;
  rule?: number;
  state?: string;
  event?: string;
  line?: number;
  column?: number;
}

export interface VerifyIssue {
  code: VerifyCode;
  severity: Severity;
  /** What is wrong. */
  message: string;
  location?: VerifyLocation;
  /** How to fix it. */
  suggestion?: string;
}

export interface VerifyResult {
  /** False when any issue is an error; warnings alone leave it true. */
  valid: boolean;
  /** Errors and warnings, in check order. */
  errors: VerifyIssue[];
}
