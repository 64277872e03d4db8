/**
 * The Orca AST (ORCA.md §4.4): what the markdown parser and the legacy brace parser both produce,
 * and what the verifier, the interpreter and the compilers consume. Pure data, JSON-serialisable.
 *
 * `loc` fields give the 1-based line and column in the source, for error messages.
 */

export interface SourceLocation {
  line: number;
  column: number;
}

export interface OrcaFile {
  machines: MachineDef[];
  decisionTables: DecisionTableDef[];
}

export interface MachineDef {
  name: string;
  /** `- version: 1.2.0` under the machine heading; default '0.1.0'. */
  version: string;
  context: ContextField[];
  events: EventDef[];
  /** Top-level states in source order; children hang below `contains` / `parallel.regions`. */
  states: StateDef[];
  transitions: Transition[];
  guards: GuardDef[];
  actions: ActionSignature[];
  effects?: EffectDef[];
  properties?: PropertyDef[];
  loc?: SourceLocation;
}

export interface ContextField {
  name: string;
  type: TypeRef;
  /** Parsed default: number, string, boolean, or null for an empty cell. */
  defaultValue?: unknown;
  loc?: SourceLocation;
}

export type TypeRef =
  | { kind: 'string' | 'int' | 'decimal' | 'bool' | 'number' }
  | { kind: 'optional'; inner: TypeRef }
  | { kind: 'array'; element: TypeRef }
  | { kind: 'map'; key: TypeRef; value: TypeRef }
  | { kind: 'custom'; name: string };

export interface EventDef {
  name: string;
  loc?: SourceLocation;
}

export type SyncMode = 'all-final' | 'any-final' | 'custom';

export interface StateDef {
  name: string;
  description?: string;
  isInitial: boolean;
  isFinal: boolean;
  onEntry?: string;
  onExit?: string;
  /** For parallel (and compound) states: the target when the regions are done. */
  onDone?: string;
  /**
   * `- timeout: 30s -> target`. `duration` is the text as written; `durationMs` is it in
   * milliseconds, honouring the unit (a bare number is ms), filled in by both parsers.
   */
  timeout?: { duration: string; target: string; durationMs?: number };
  invoke?: InvokeDef;
  /** Children of a compound state. */
  contains?: StateDef[];
  parallel?: { regions: RegionDef[]; sync?: SyncMode };
  /** Parent state name, or '<parallelState>.<region>' for states inside a region. */
  parent?: string;
  ignoredEvents?: string[];
  /** `- ignore: *` */
  ignoredAll?: boolean;
  loc?: SourceLocation;
}

export interface RegionDef {
  name: string;
  states: StateDef[];
  loc?: SourceLocation;
}

export interface InvokeDef {
  machine: string;
  /** childField -> expression over the parent context, e.g. { orderId: 'ctx.order_id' }. */
  input?: Record<string, string>;
  /** Event sent to the parent when the child reaches a final state. */
  onDone?: string;
  /** Event sent to the parent when the child fails. */
  onError?: string;
}

export interface Transition {
  source: string;
  event: string;
  guard?: { name: string; negated: boolean };
  target: string;
  action?: string;
  loc?: SourceLocation;
}

export interface GuardDef {
  name: string;
  expression: GuardExpression;
  loc?: SourceLocation;
}

export type GuardExpression =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'not'; expr: GuardExpression }
  | { kind: 'and'; left: GuardExpression; right: GuardExpression }
  | { kind: 'or'; left: GuardExpression; right: GuardExpression }
  | { kind: 'compare'; op: CompareOp; left: VariableRef; right: ValueRef | VariableRef }
  | { kind: 'nullcheck'; expr: VariableRef; isNull: boolean };

export type CompareOp = 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge';

/** A context path such as ['ctx', 'retry_count'] or ['event', 'amount']. */
export interface VariableRef {
  kind: 'variable';
  path: string[];
}

export interface ValueRef {
  kind: 'value';
  type: 'string' | 'number' | 'boolean' | 'null';
  value: string | number | boolean | null;
}

export interface ActionSignature {
  name: string;
  parameters: { name: string; type?: string }[];
  returnType: string;
  /** The T of `+ Effect<T>`: entry actions with an effect run through an effect handler. */
  effect?: string;
  loc?: SourceLocation;
}

export interface EffectDef {
  name: string;
  input: string;
  output: string;
  loc?: SourceLocation;
}

export type PropertyDef =
  | { kind: 'reachable'; target: string; from: string; loc?: SourceLocation }
  | { kind: 'unreachable'; target: string; from: string; loc?: SourceLocation }
  | { kind: 'passes_through'; through: string; from: string; to: string; loc?: SourceLocation }
  | { kind: 'live'; loc?: SourceLocation }
  | { kind: 'responds'; target: string; from: string; within: number; loc?: SourceLocation }
  | { kind: 'invariant'; expression: GuardExpression; inState?: string; loc?: SourceLocation };

/** A decision table (`# decision_table <Name>`): conditions → actions, first match wins by default. */
export interface DecisionTableDef {
  name: string;
  conditions: { name: string; type: string; values?: string[] }[];
  actions: { name: string; type: string; values?: string[] }[];
  rules: { conditions: Record<string, string>; actions: Record<string, string>; loc?: SourceLocation }[];
  policy?: 'first-match' | 'all-match';
  loc?: SourceLocation;
}
