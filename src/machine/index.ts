export type * from './ast.js';
export { OrcaParseError, OrcaParseCode, ORCA_PARSE_ERROR } from './errors.js';
export type { OrcaDiagnostic } from './errors.js';
export { parseOrcaMarkdown, parseMachine } from './parse-markdown.js';
export type { ParseOptions } from './parse-markdown.js';
export { parseLegacyOrca, parseLegacyMachine } from './parse-legacy.js';
export { legacyToMarkdown } from './convert.js';
export { printMachineMarkdown, printDecisionTableMarkdown, printOrcaMarkdown } from './print-markdown.js';
export { parseGuardExpression, printGuardExpression } from './guard-expression.js';
export { evaluateGuard, resolveVariable } from './guard-eval.js';
export type { GuardScope } from './guard-eval.js';
export { StateTree } from './state-tree.js';
export type { StateNode, ResolveResult } from './state-tree.js';
export { verifyMachine, verifyFile } from './verify.js';
export type { VerifyOptions } from './verify.js';
export { verifyDecisionTable } from './verify-decision-table.js';
export { tableAligned, verifyTablesAgainstMachine } from './verify-dt-machine.js';
export { VerifyCode } from './verify-types.js';
export type { Severity, VerifyIssue, VerifyLocation, VerifyResult } from './verify-types.js';
export {
  initialState,
  transition,
  applyEffectResult,
  persist,
  restore,
  defaultContext,
  activeLeaves,
  stateText,
  isActive,
  availableEvents,
  MachineEventType,
  MachineErrorCode,
} from './interpreter.js';
export type {
  MachineContext,
  StateValue,
  MachineEvent,
  MachineSnapshot,
  MachineCommand,
  TransitionResult,
  ActionImplementation,
  GuardImplementation,
  InterpreterOptions,
  EffectResult,
} from './interpreter.js';
export { createMachineActor, MachineNotActiveError } from './machine-runner.js';
export type { MachineActor, MachineActorOptions, MachineActorStatus } from './machine-runner.js';
export { EventBus, createEventBus, OrcaEventType, runEffectHandler } from './event-bus.js';
export type { BusEvent, BusHandler, Effect, EffectHandler, EffectOutcome } from './event-bus.js';
export { compileMermaid } from './compile-mermaid.js';
export { compileXState, xstateGuards } from './compile-xstate.js';
export type { XStateMachineConfig } from './compile-xstate.js';
export {
  defineMachineWorkflow,
  defineMachineWorkflows,
  loadMachine,
  readOrcaFile,
  sendEvent,
  MachineInvalidError,
  MachineRunCode,
  MACHINE_EVENT_SIGNAL,
  MACHINE_STATE_KEY,
} from './durable.js';
export type {
  DurableEffectHandler,
  EffectReport,
  LoadMachineOptions,
  MachineEngine,
  MachineEventMessage,
  MachineInput,
  MachineOutput,
  MachineRunState,
  MachineWorkflow,
  MachineWorkflowOptions,
  SendEventOptions,
} from './durable.js';
