/**
 * Errors, in two tiers under one root (STYLE §10).
 *
 * - {@link KeelError} subclasses are misuse and bugs: they carry a stable `code` and a message that
 *   says what was wrong, where, and how to fix it. They are thrown to the caller, never recorded.
 * - Failures that belong to a run (a step threw, a timeout fired, a child failed) are serialised
 *   into history as {@link SerializedError} and rebuilt on replay with {@link deserializeError}.
 */

export const ErrorCode = {
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Validation: 'VALIDATION_FAILED',
  UnknownWorkflow: 'UNKNOWN_WORKFLOW',
  InvalidStoreUrl: 'INVALID_STORE_URL',
  Config: 'CONFIG_INVALID',
  NonDeterminism: 'NON_DETERMINISM',
  Fenced: 'LEASE_LOST',
  SchemaTooNew: 'SCHEMA_TOO_NEW',
  InvalidDuration: 'INVALID_DURATION',
  NotSerializable: 'NOT_SERIALIZABLE',
  EngineStopped: 'ENGINE_STOPPED',
  InvalidState: 'INVALID_STATE',
  StoreUnreachable: 'STORE_UNREACHABLE',
  StoreBusy: 'STORE_BUSY',
  InvalidCursor: 'INVALID_CURSOR',
  HistoryTooLong: 'HISTORY_TOO_LONG',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class KeelError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

export class NotFoundError extends KeelError {
  constructor(what: string, id: string, hint?: string) {
    super(ErrorCode.NotFound, `${what} '${id}' was not found${hint ? `: ${hint}` : ''}.`, { details: { what, id } });
  }
}

export class ConflictError extends KeelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.Conflict, message, details ? { details } : undefined);
  }
}

export interface ValidationIssue {
  /** Dotted path of the offending field, '' for the value itself. */
  path: string;
  message: string;
}

export class ValidationError extends KeelError {
  readonly issues: ValidationIssue[];
  constructor(subject: string, issues: ValidationIssue[]) {
    const list = issues.map((i) => `${i.path === '' ? '(value)' : i.path}: ${i.message}`).join('; ');
    super(ErrorCode.Validation, `${subject} is invalid: ${list}.`, { details: { issues } });
    this.issues = issues;
  }
}

export class ConfigError extends KeelError {
  constructor(message: string, code: string = ErrorCode.Config) {
    super(code, message);
  }
}

export class NonDeterminismError extends KeelError {
  constructor(
    readonly runId: string,
    readonly position: number,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      ErrorCode.NonDeterminism,
      `Run '${runId}' is not deterministic at position ${position}: its history holds ${expected}, ` +
        `but the code asked for ${actual}. The workflow code changed in a way that breaks runs already ` +
        `in flight; restore the previous code for these runs, or register the new code under a new version.`,
      { details: { runId, position, expected, actual } },
    );
  }
}

/** A write was refused because the worker no longer holds the run's lease (fencing). */
export class LeaseLostError extends KeelError {
  constructor(runId: string) {
    super(ErrorCode.Fenced, `The lease on run '${runId}' was lost to another worker; this worker's writes for it are refused.`, {
      details: { runId },
    });
  }
}

export class SchemaTooNewError extends KeelError {
  constructor(store: string, found: number, supported: number) {
    super(
      ErrorCode.SchemaTooNew,
      `The ${store} schema is at version ${found}, newer than this Keel supports (${supported}). ` +
        `Upgrade Keel to a version that knows schema ${found}; nothing was changed.`,
      { details: { found, supported } },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Run-level failures: serialisable.

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** Extra enumerable own properties of the original error, when serialisable. */
  data?: Record<string, unknown>;
  cause?: SerializedError;
}

/** A step attempt that ran past its timeout. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** The run, or the step's run, was cancelled. */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

/** A child run ended in failure or was cancelled; `cause` holds the child's error. */
export class ChildFailedError extends Error {
  override name = 'ChildFailedError';
}

/** Turn any thrown value into an Error (graphile-worker's coerceError). */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  const err = new Error(`Non-error value thrown: ${text}`);
  err.name = 'NonErrorThrown';
  return err;
}

const ignoredKeys = new Set(['name', 'message', 'stack', 'cause']);

export function serializeError(value: unknown, depth = 0): SerializedError {
  const err = coerceError(value);
  const out: SerializedError = { name: err.name, message: err.message };
  if (err.stack !== undefined) out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (ignoredKeys.has(key) || key === 'code') continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    try {
      if (JSON.stringify(v) !== undefined) data[key] = v;
    } catch {
      // not serialisable: dropped on purpose
    }
  }
  if (Object.keys(data).length > 0) out.data = data;
  if (err.cause !== undefined && depth < 5) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/** Rebuild an Error from history; `name`, `message`, `stack` and `code` are preserved. */
export function deserializeError(s: SerializedError): Error {
  const err = new Error(s.message, s.cause ? { cause: deserializeError(s.cause) } : undefined);
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  if (s.code !== undefined) (err as Error & { code: string }).code = s.code;
  if (s.data) Object.assign(err, s.data);
  return err;
}
