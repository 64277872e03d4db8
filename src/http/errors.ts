/**
 * HTTP errors: every error response is `{ error: { code, message, details } }` with a status that
 * says what kind of problem it is. Engine errors keep their stable code; the status is derived from
 * it here, in one table, so a new engine code needs one line and no handler changes.
 */
import { coerceError, ErrorCode, KeelError } from '../core/errors.js';

/** An error raised by the HTTP layer itself (bad request, auth, size). */
export class HttpError extends KeelError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details ? { details } : undefined);
  }
}

export const HttpErrorCode = {
  BadRequest: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  RouteNotFound: 'ROUTE_NOT_FOUND',
  TooLarge: 'PAYLOAD_TOO_LARGE',
  Internal: 'INTERNAL',
} as const;

/** Engine error codes → HTTP status. Codes not listed are client errors when they are KeelErrors
 * (a misuse the caller can fix: 400), server errors otherwise. */
const STATUS_BY_CODE: Record<string, number> = {
  [ErrorCode.NotFound]: 404,
  [ErrorCode.UnknownWorkflow]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.InvalidState]: 409,
  [ErrorCode.Validation]: 422,
  [ErrorCode.NotSerializable]: 422,
  [ErrorCode.InvalidDuration]: 422,
  [ErrorCode.InvalidCursor]: 400,
  [ErrorCode.EngineStopped]: 503,
  [ErrorCode.StoreUnreachable]: 503,
  [ErrorCode.StoreBusy]: 503,
  [ErrorCode.Fenced]: 409,
  [ErrorCode.Config]: 500,
  [ErrorCode.InvalidStoreUrl]: 500,
  [ErrorCode.SchemaTooNew]: 500,
  [ErrorCode.NonDeterminism]: 500,
  // Machine, wizard and tree runs (codes from machine/durable, machine/interpreter, tree/durable-host).
  MACHINE_NOT_A_MACHINE: 409,
  MACHINE_RUN_ENDED: 409,
  MACHINE_EVENT_TIMEOUT: 504,
  MACHINE_INVALID: 422,
  ORCA_INVALID_EVENT: 422,
  ORCA_MACHINE_NOT_ACTIVE: 409,
  RUN_FINISHED: 409,
  WRONG_RUN_KIND: 409,
  NO_RESPONSE: 504,
  UNKNOWN_DEFINITION: 404,
};

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> | null };
}

/**
 * The status and body for any thrown value. Unexpected errors (not KeelErrors) answer a generic
 * 500 message: their text may hold internals (SQL, paths, connection strings), so it is logged by
 * the caller and never sent.
 */
export function errorResponse(value: unknown): { status: number; body: ErrorBody; unexpected?: Error } {
  if (value instanceof HttpError) {
    return { status: value.status, body: { error: { code: value.code, message: value.message, details: value.details ?? null } } };
  }
  if (value instanceof KeelError) {
    const status = STATUS_BY_CODE[value.code] ?? 400;
    if (status >= 500 && status !== 503 && status !== 504) {
      return {
        status,
        body: { error: { code: value.code, message: 'The server could not complete the request; see its log.', details: null } },
        unexpected: value,
      };
    }
    return { status, body: { error: { code: value.code, message: value.message, details: value.details ?? null } } };
  }
  return {
    status: 500,
    body: { error: { code: HttpErrorCode.Internal, message: 'The server could not complete the request; see its log.', details: null } },
    unexpected: coerceError(value),
  };
}

export function statusForCode(code: string): number | undefined {
  return STATUS_BY_CODE[code];
}
