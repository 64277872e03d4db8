import { describe, expect, it } from 'vitest';
import type { GuardExpression } from '../../src/machine/ast.js';
import { evaluateGuard } from '../../src/machine/guard-eval.js';
import { parseGuardExpression, printGuardExpression } from '../../src/machine/guard-expression.js';

function g(text: string, booleanFields: string[] = []): GuardExpression {
  const r = parseGuardExpression(text, { booleanFields: new Set(booleanFields) });
  if (!r.ok) throw new Error(r.message);
  return r.expression;
}
const ev = (text: string, ctx: Record<string, unknown>, event?: unknown): boolean => evaluateGuard(g(text), { ctx, event });

describe('guard expressions', () => {
  it('compares numbers, strings and booleans', () => {
    expect(ev('ctx.retry_count < 3', { retry_count: 2 })).toBe(true);
    expect(ev('ctx.retry_count < 3', { retry_count: 3 })).toBe(false);
    expect(ev('retry_count >= 3', { retry_count: 3 })).toBe(true); // bare names address the context
    expect(ev('context.mode == "god"', { mode: 'god' })).toBe(true);
    expect(ev("mode != 'god'", { mode: 'god' })).toBe(false);
    expect(ev('ctx.amount > 10', { amount: '12.5' })).toBe(true); // numeric strings compare as numbers
    expect(ev('ctx.name < "m"', { name: 'alice' })).toBe(true);
    expect(ev('ctx.flag == true', { flag: true })).toBe(true);
    expect(ev('3 < ctx.n', { n: 4 })).toBe(true);
  });

  it('reads the event payload through event.', () => {
    expect(ev('event.amount > ctx.limit', { limit: 100 }, { amount: 150 })).toBe(true);
    expect(ev('event.amount > ctx.limit', { limit: 100 }, { amount: 50 })).toBe(false);
    expect(ev('event.amount is null', {}, undefined)).toBe(true);
  });

  it('treats missing values as null, and orderings with null as false', () => {
    expect(ev('ctx.token is null', {})).toBe(true);
    expect(ev('ctx.token != null', { token: 't' })).toBe(true);
    expect(ev('ctx.n < 3', {})).toBe(false);
    expect(ev('ctx.n >= 3', {})).toBe(false);
    expect(ev('ctx.order.total > 5', { order: { total: 6 } })).toBe(true);
    expect(ev('ctx.order.constructor is null', { order: {} })).toBe(true); // own properties only
  });

  it('combines with and/or/not and the C-style operators, with precedence', () => {
    const ctx = { health: 0, ammo: 5, mode: 'god' };
    expect(ev('(ctx.health > 0 and ctx.ammo > 0) or ctx.mode == "god"', ctx)).toBe(true);
    expect(ev('ctx.health > 0 && ctx.ammo > 0 || ctx.mode == "mortal"', ctx)).toBe(false);
    expect(ev('not ctx.health > 0', ctx)).toBe(true);
    expect(ev('!(ctx.ammo > 0)', ctx)).toBe(false);
    expect(ev('true and not false', ctx)).toBe(true);
  });

  it('reads a bare bool field as == true, any other bare variable as "is not null"', () => {
    expect(evaluateGuard(g('ctx.vip', ['vip']), { ctx: { vip: false } })).toBe(false);
    expect(evaluateGuard(g('ctx.vip', ['vip']), { ctx: { vip: true } })).toBe(true);
    expect(evaluateGuard(g('ctx.token'), { ctx: { token: '' } })).toBe(true);
    expect(evaluateGuard(g('ctx.token'), { ctx: {} })).toBe(false);
  });

  it('prints expressions back to text that parses to the same AST', () => {
    for (const text of ['a or b and c', '(a or b) and c', 'not (a and b)', 'a and (b and c)', 'x == "q\\"uote"', 'x is null or y != 2.5', 'a < b', 'not not a']) {
      const e = g(text);
      expect(g(printGuardExpression(e))).toEqual(e);
    }
  });

  it('rejects malformed expressions with a position and a fix', () => {
    const r = parseGuardExpression('ctx.a > 1 ctx.b');
    expect(r).toMatchObject({ ok: false, offset: 10 });
    expect(!r.ok && r.message).toMatch(/join conditions with 'and' or 'or'/);
    expect(parseGuardExpression('(a > 1')).toMatchObject({ ok: false, message: expect.stringMatching(/close the parenthesis/) as unknown });
    expect(parseGuardExpression('"a" == 1')).toMatchObject({ ok: false, message: expect.stringMatching(/variable on at least one side/) as unknown });
    expect(parseGuardExpression('x < null')).toMatchObject({ ok: false, message: expect.stringMatching(/x is null/) as unknown });
  });
});
