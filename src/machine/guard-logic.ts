import type { CompareOp, GuardExpression, ValueRef, VariableRef } from './ast.js';
import { fieldName } from './guard-expression.js';

/**
 * Static reasoning over guard expressions, for the verifier: are two guards mutually exclusive,
 * can a guard never hold? Sound but incomplete: `true` is a proof, `false` means "could not
 * prove" (the verifier then warns rather than errs).
 *
 * Proof rules (ORCA.md §4.6): `g` / `!g`; complementary comparisons on one variable (`<`/`>=`,
 * `==`/`!=`, `>`/`<=`); equality with different values; non-overlapping numeric ranges; a null
 * check against a comparison; and AND/OR structure (an AND is excluded when either side is,
 * an OR when both sides are).
 */

/** Negation normal form: `not` pushed down to the atoms and absorbed into them. */
export function toNnf(expr: GuardExpression, negate = false): GuardExpression {
  switch (expr.kind) {
    case 'true':
      return { kind: negate ? 'false' : 'true' };
    case 'false':
      return { kind: negate ? 'true' : 'false' };
    case 'not':
      return toNnf(expr.expr, !negate);
    case 'and':
    case 'or': {
      const kind = negate ? (expr.kind === 'and' ? 'or' : 'and') : expr.kind;
      return { kind, left: toNnf(expr.left, negate), right: toNnf(expr.right, negate) };
    }
    case 'compare':
      return negate ? { ...expr, op: NEGATED[expr.op] } : expr;
    case 'nullcheck':
      return negate ? { ...expr, isNull: !expr.isNull } : expr;
  }
}

const NEGATED: Record<CompareOp, CompareOp> = { eq: 'ne', ne: 'eq', lt: 'ge', ge: 'lt', gt: 'le', le: 'gt' };
const FLIPPED: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', lt: 'gt', gt: 'lt', le: 'ge', ge: 'le' };

/** A variable's identity: `ctx.x`, `context.x` and `x` are one variable. */
function varKey(v: VariableRef): string {
  const field = fieldName(v.path);
  if (field !== undefined) return `ctx.${[field, ...v.path.slice(v.path[0] === 'ctx' || v.path[0] === 'context' ? 2 : 1)].join('.')}`;
  return v.path.join('.');
}

/** Bounds the work on a pathological expression; past it, nothing is proven. */
class Budget {
  left = 10_000;
  spend(): boolean {
    return --this.left >= 0;
  }
}

export function mutuallyExclusive(a: GuardExpression, b: GuardExpression): boolean {
  return exclusive(toNnf(a), toNnf(b), new Budget());
}

function exclusive(a: GuardExpression, b: GuardExpression, budget: Budget): boolean {
  if (!budget.spend()) return false;
  if (a.kind === 'false' || b.kind === 'false') return true;
  if (a.kind === 'or') return exclusive(a.left, b, budget) && exclusive(a.right, b, budget);
  if (b.kind === 'or') return exclusive(a, b.left, budget) && exclusive(a, b.right, budget);
  if (a.kind === 'and') return exclusive(a.left, b, budget) || exclusive(a.right, b, budget);
  if (b.kind === 'and') return exclusive(a, b.left, budget) || exclusive(a, b.right, budget);
  return atomsExclusive(a, b);
}

function atomsExclusive(a: GuardExpression, b: GuardExpression): boolean {
  if (a.kind === 'nullcheck' && b.kind === 'nullcheck') return varKey(a.expr) === varKey(b.expr) && a.isNull !== b.isNull;
  if (a.kind === 'nullcheck' && b.kind === 'compare') return nullVsCompare(a, b);
  if (b.kind === 'nullcheck' && a.kind === 'compare') return nullVsCompare(b, a);
  if (a.kind === 'compare' && b.kind === 'compare') return comparesExclusive(a, b);
  return false;
}

type Compare = Extract<GuardExpression, { kind: 'compare' }>;
type NullCheck = Extract<GuardExpression, { kind: 'nullcheck' }>;

/** A null variable fails every comparison with a value except `!=` (see guard-eval). */
function nullVsCompare(n: NullCheck, c: Compare): boolean {
  if (!n.isNull || c.right.kind !== 'value' || c.op === 'ne') return false;
  return varKey(n.expr) === varKey(c.left);
}

function comparesExclusive(a: Compare, b: Compare): boolean {
  if (a.right.kind === 'variable' || b.right.kind === 'variable') {
    // Var-to-var: only the complementary pair over the same two variables is provable.
    if (a.right.kind !== 'variable' || b.right.kind !== 'variable') return false;
    const a1 = varKey(a.left);
    const a2 = varKey(a.right);
    const b1 = varKey(b.left);
    const b2 = varKey(b.right);
    if (a1 === b1 && a2 === b2) return NEGATED[a.op] === b.op;
    if (a1 === b2 && a2 === b1) return NEGATED[a.op] === FLIPPED[b.op];
    return false;
  }
  if (varKey(a.left) !== varKey(b.left)) return false;
  const av = a.right;
  const bv = b.right;
  const an = numeric(av);
  const bn = numeric(bv);
  if (an !== undefined && bn !== undefined) return !intervalsMeet(set(a.op, an), set(b.op, bn));
  // Non-numeric values: only equality reasoning.
  const same = av.type === bv.type && av.value === bv.value;
  if (a.op === 'eq' && b.op === 'eq') return !same && av.type === bv.type;
  if ((a.op === 'eq' && b.op === 'ne') || (a.op === 'ne' && b.op === 'eq')) return same;
  if (av.type === 'string' && bv.type === 'string' && same) return NEGATED[a.op] === b.op;
  return false;
}

function numeric(v: ValueRef): number | undefined {
  if (v.type === 'number' && typeof v.value === 'number') return v.value;
  if (v.type === 'string' && typeof v.value === 'string' && v.value.trim() !== '' && Number.isFinite(Number(v.value))) return Number(v.value);
  return undefined;
}

/** The numbers satisfying `x op v`, as a union of at most two intervals. */
interface Interval {
  lo: number;
  loOpen: boolean;
  hi: number;
  hiOpen: boolean;
}
function set(op: CompareOp, v: number): Interval[] {
  const all = Infinity;
  switch (op) {
    case 'eq':
      return [{ lo: v, loOpen: false, hi: v, hiOpen: false }];
    case 'ne':
      return [
        { lo: -all, loOpen: true, hi: v, hiOpen: true },
        { lo: v, loOpen: true, hi: all, hiOpen: true },
      ];
    case 'lt':
      return [{ lo: -all, loOpen: true, hi: v, hiOpen: true }];
    case 'le':
      return [{ lo: -all, loOpen: true, hi: v, hiOpen: false }];
    case 'gt':
      return [{ lo: v, loOpen: true, hi: all, hiOpen: true }];
    case 'ge':
      return [{ lo: v, loOpen: false, hi: all, hiOpen: true }];
  }
}

function intervalsMeet(a: Interval[], b: Interval[]): boolean {
  return a.some((x) =>
    b.some((y) => {
      const lo = Math.max(x.lo, y.lo);
      const hi = Math.min(x.hi, y.hi);
      if (lo < hi) return true;
      if (lo > hi) return false;
      // A single point: it must be closed on both intervals' sides.
      const loOpen = (x.lo === lo && x.loOpen) || (y.lo === lo && y.loOpen);
      const hiOpen = (x.hi === hi && x.hiOpen) || (y.hi === hi && y.hiOpen);
      return !loOpen && !hiOpen && Number.isFinite(lo);
    }),
  );
}

/** True when the guard can never hold (`false`, `x > 5 and x < 3`, …): its transitions are dead. */
export function staticallyFalse(expr: GuardExpression): boolean {
  return isFalse(toNnf(expr), new Budget());
}

function isFalse(e: GuardExpression, budget: Budget): boolean {
  if (!budget.spend()) return false;
  switch (e.kind) {
    case 'false':
      return true;
    case 'or':
      return isFalse(e.left, budget) && isFalse(e.right, budget);
    case 'and':
      return isFalse(e.left, budget) || isFalse(e.right, budget) || exclusive(e.left, e.right, budget);
    default:
      return false;
  }
}
