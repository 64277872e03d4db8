/**
 * Keel: durable workflows, state machines and wizards for TypeScript.
 *
 * The root export is small on purpose: the engine, workflow definitions, errors and types.
 * Optional parts are subpath exports: `keel/testing`, `keel/sqlite`.
 */
export { createEngine, Engine, RunCancelledError, RunFailedError } from './engine/engine.js';
export type { EngineOptions, RunHandle, RunInfo, RunOptions, StatusChangeInfo } from './engine/engine.js';
export type { EngineEvent, EngineEventType } from './engine/events.js';
export { defineWorkflow } from './engine/workflow.js';
export type { HumanTaskInfo, HumanTaskOptions, HumanTaskResult } from './engine/human-task.js';
export type { HumanTaskRecord, ListTasksQuery, TaskStatus } from './core/human-task.js';
export type {
  CancelledRun,
  RetryPolicy,
  StepContext,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
} from './engine/workflow.js';
export {
  CancelledError,
  ChildFailedError,
  ConfigError,
  ConflictError,
  ErrorCode,
  KeelError,
  LeaseLostError,
  NonDeterminismError,
  NotFoundError,
  SchemaTooNewError,
  TimeoutError,
  ValidationError,
} from './core/errors.js';
export type { SerializedError, ValidationIssue } from './core/errors.js';
export type { Clock } from './core/clock.js';
export type { Logger } from './core/logger.js';
export type { HistoryEvent, EventData, EventType } from './core/history.js';
export type { Store, RunRecord, RunStatus, ListRunsQuery, StatusChange, StatusChangeQuery, StatusChangePage } from './core/store.js';
export { MAX_HISTORY_EVENTS } from './core/store.js';
export type { Duration } from './util/duration.js';
