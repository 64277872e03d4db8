import type { CompareOp, GuardExpression, ValueRef, VariableRef } from './ast.js';

/**
 * Evaluates a parsed {@link GuardExpression} against a context and an event payload. No `eval`:
 * a small tree walk over the AST the guard parser built.
 *
 * Variable addressing (Keel's decision, ORCA.md §4.2 leaves it loose):
 * - `ctx.x` and `context.x` read context field `x`; a bare `x` reads context field `x` too, so
 *   `retry_count < 3` and `ctx.retry_count < 3` mean the same.
 * - `event.x` reads field `x` of the event payload (so a context field called `event` can only be
 *   reached as `ctx.event`).
 * - Longer paths walk into nested objects (`ctx.order.total`). A missing step, or `undefined`,
 *   reads as `null`.
 *
 * Comparison semantics:
 * - When both sides are numbers, or strings that parse as finite numbers, the comparison is
 *   numeric (upstream's rule; it lets `"3" < 10` hold for a payload that carries strings).
 * - Otherwise `==`/`!=` are strict equality (after the `undefined` → `null` mapping), and
 *   `<`, `>`, `<=`, `>=` compare strings by code unit, and are false for anything else
 *   (null, booleans, objects): an ordering that is not defined does not hold.
 */
export interface GuardScope {
  ctx: Readonly<Record<string, unknown>>;
  event?: unknown;
}

export function evaluateGuard(expr: GuardExpression, scope: GuardScope): boolean {
  switch (expr.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluateGuard(expr.expr, scope);
    case 'and':
      return evaluateGuard(expr.left, scope) && evaluateGuard(expr.right, scope);
    case 'or':
      return evaluateGuard(expr.left, scope) || evaluateGuard(expr.right, scope);
    case 'nullcheck': {
      const value = resolveVariable(expr.expr, scope);
      return expr.isNull ? value === null : value !== null;
    }
    case 'compare':
      return compareValues(resolveVariable(expr.left, scope), expr.op, operandValue(expr.right, scope));
  }
}

function operandValue(ref: ValueRef | VariableRef, scope: GuardScope): unknown {
  return ref.kind === 'value' ? ref.value : resolveVariable(ref, scope);
}

/** Reads a variable; see the addressing rules above. */
export function resolveVariable(ref: VariableRef, scope: GuardScope): unknown {
  const [head, ...rest] = ref.path;
  let current: unknown;
  let steps: string[];
  if (head === 'ctx' || head === 'context') {
    current = scope.ctx;
    steps = rest;
  } else if (head === 'event') {
    current = scope.event;
    steps = rest;
  } else {
    current = scope.ctx;
    steps = ref.path;
  }
  for (const step of steps) {
    if (current === null || typeof current !== 'object') return null;
    // Own properties only: a guard must not reach `constructor` or `__proto__` through a path.
    if (!Object.prototype.hasOwnProperty.call(current, step)) return null;
    current = (current as Record<string, unknown>)[step];
  }
  return current === undefined ? null : current;
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function compareValues(left: unknown, op: CompareOp, right: unknown): boolean {
  const l = left === undefined ? null : left;
  const r = right === undefined ? null : right;
  const ln = asNumber(l);
  const rn = asNumber(r);
  if (ln !== undefined && rn !== undefined) return order(ln, op, rn);
  if (op === 'eq') return l === r;
  if (op === 'ne') return l !== r;
  if (typeof l === 'string' && typeof r === 'string') return order(l, op, r);
  return false;
}

function order<T extends number | string>(l: T, op: CompareOp, r: T): boolean {
  switch (op) {
    case 'eq':
      return l === r;
    case 'ne':
      return l !== r;
    case 'lt':
      return l < r;
    case 'gt':
      return l > r;
    case 'le':
      return l <= r;
    case 'ge':
      return l >= r;
  }
}
