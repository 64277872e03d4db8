import { KeelError } from '../core/errors.js';

/**
 * Parse diagnostics for Orca sources (`.orca.md` and the legacy brace DSL).
 *
 * The parsers never stop at the first problem: they collect every diagnostic they can (up to
 * {@link MAX_DIAGNOSTICS}, so binary noise cannot produce a megabyte of messages) and throw one
 * {@link OrcaParseError} holding them all. Each message names what was wrong and says the fix.
 */

export const OrcaParseCode = {
  // Structural codes named by the Orca grammar spec (ORCA.md §4.6, "parse-time errors").
  MissingInitial: 'MISSING_INITIAL',
  DuplicateState: 'DUPLICATE_STATE',
  DuplicateRegion: 'DUPLICATE_REGION',
  UnknownState: 'UNKNOWN_STATE',
  UnknownGuard: 'UNKNOWN_GUARD',
  NestedParallel: 'NESTED_PARALLEL',
  FinalWithChildren: 'FINAL_WITH_CHILDREN',
  InvalidHeading: 'INVALID_HEADING',
  NestingTooDeep: 'NESTING_TOO_DEEP',
  StateOrder: 'STATE_ORDER',
  // Keel's own codes.
  /** The file holds no `# machine` (or `machine` keyword) and no decision table. */
  NoMachine: 'NO_MACHINE',
  /** A machine without any state. */
  NoStates: 'NO_STATES',
  /** Two `[initial]` states among the same siblings. */
  MultipleInitial: 'MULTIPLE_INITIAL',
  /** A bare state name that matches states in several branches; use a dotted path. */
  AmbiguousState: 'AMBIGUOUS_STATE',
  /** An event used by a transition or `ignore:` but not declared in `## events`. */
  UnknownEvent: 'UNKNOWN_EVENT',
  DuplicateMachine: 'DUPLICATE_MACHINE',
  DuplicateEvent: 'DUPLICATE_EVENT',
  DuplicateGuard: 'DUPLICATE_GUARD',
  DuplicateAction: 'DUPLICATE_ACTION',
  DuplicateField: 'DUPLICATE_FIELD',
  InvalidAnnotation: 'INVALID_ANNOTATION',
  /** A bullet under a state heading that is not one of the state attributes. */
  InvalidStateLine: 'INVALID_STATE_LINE',
  /** A table lacks a required column, or a row has a malformed cell. */
  InvalidTable: 'INVALID_TABLE',
  InvalidName: 'INVALID_NAME',
  InvalidType: 'INVALID_TYPE',
  InvalidDefault: 'INVALID_DEFAULT',
  InvalidGuardExpression: 'INVALID_GUARD_EXPRESSION',
  /** A transition's Guard cell holds something other than `name` or `!name`. */
  InvalidGuardReference: 'INVALID_GUARD_REFERENCE',
  InvalidSignature: 'INVALID_SIGNATURE',
  InvalidProperty: 'INVALID_PROPERTY',
  InvalidDuration: 'INVALID_DURATION',
  InvalidInvoke: 'INVALID_INVOKE',
  /** Legacy DSL: a token other than the grammar allows here. */
  UnexpectedToken: 'UNEXPECTED_TOKEN',
  /** Legacy DSL: the file ended inside a block. */
  UnexpectedEnd: 'UNEXPECTED_END',
  UnterminatedString: 'UNTERMINATED_STRING',
} as const;
export type OrcaParseCode = (typeof OrcaParseCode)[keyof typeof OrcaParseCode];

export interface OrcaDiagnostic {
  code: OrcaParseCode;
  /** What is wrong, and how to fix it. */
  message: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

/** Past this many diagnostics the parsers stop collecting: the first ones are what matter. */
export const MAX_DIAGNOSTICS = 50;

export const ORCA_PARSE_ERROR = 'ORCA_PARSE_ERROR';

export class OrcaParseError extends KeelError {
  readonly diagnostics: OrcaDiagnostic[];
  constructor(diagnostics: OrcaDiagnostic[], fileName?: string) {
    const where = fileName ?? '<source>';
    const shown = diagnostics.slice(0, 10).map((d) => `${where}:${d.line}:${d.column} ${d.code}: ${d.message}`);
    const more = diagnostics.length > 10 ? `\n… and ${diagnostics.length - 10} more` : '';
    // One stable code for the error as a whole; each diagnostic carries its own specific code.
    super(
      ORCA_PARSE_ERROR,
      `Orca source ${where} has ${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}:\n${shown.join('\n')}${more}`,
      { details: { fileName: where, diagnostics } },
    );
    this.diagnostics = diagnostics;
  }
}

/** Collects diagnostics with a cap; shared by both parsers and the post-parse checks. */
export class DiagnosticSink {
  readonly items: OrcaDiagnostic[] = [];
  add(code: OrcaParseCode, message: string, line: number, column = 1): void {
    if (this.items.length >= MAX_DIAGNOSTICS) return;
    this.items.push({ code, message, line, column });
  }
  get full(): boolean {
    return this.items.length >= MAX_DIAGNOSTICS;
  }
}
