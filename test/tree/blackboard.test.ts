import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Blackboard, BlackboardError } from '../../src/tree/index.js';

describe('blackboard', () => {
  it('stores, takes and deletes values; writing undefined deletes, as a snapshot would', () => {
    const bb = new Blackboard();
    bb.set('a', 1);
    expect(bb.get('a')).toBe(1);
    expect(bb.take('a')).toBe(1);
    expect(bb.has('a')).toBe(false);
    bb.set('b', 2);
    bb.set('b', undefined);
    expect(bb.has('b')).toBe(false);
  });

  it('keeps scoped values per scope and reads the innermost one', () => {
    const bb = new Blackboard();
    bb.enterScope('outer');
    bb.setScoped('x', 'outer-x');
    bb.enterScope('inner');
    expect(bb.getScoped('x')).toBeUndefined();
    bb.setScoped('x', 'inner-x');
    expect(bb.getScoped('x')).toBe('inner-x');
    expect(bb.scopeStack).toEqual(['outer', 'inner']);
    expect(bb.currentScope).toBe('inner');
    expect(bb.exitScope()).toBe('inner');
    expect(bb.getScoped('x')).toBe('outer-x');
    expect(bb.scopeValues()).toEqual({ x: 'outer-x' });
  });

  it('gives clear errors for scope misuse', () => {
    const bb = new Blackboard();
    expect(() => bb.exitScope()).toThrow(/scope stack is empty/);
    expect(() => bb.setScoped('x', 1)).toThrow(/without an active scope/);
    expect(() => bb.enterScope('a/b')).toThrow(BlackboardError);
  });

  it('validates scoped writes against the scope schema, key by key', () => {
    const profile = z.object({ age: z.number().int().min(18), name: z.string() });
    const bb = new Blackboard({ schemas: { profile } });
    bb.enterScope('profile');
    bb.setScoped('age', 30); // name is still missing: that is not this write's problem
    expect(() => bb.setScoped('age', 16)).toThrow(/Value for 'age' in scope 'profile' is invalid: age: .*18/);
    expect(bb.getScoped('age')).toBe(30);
    expect(bb.effectiveSchema()).toBe(profile);
  });

  it('binds a schema on enterScope and finds the innermost schema', () => {
    const outer = z.object({ a: z.string() });
    const bb = new Blackboard();
    bb.enterScope('outer', outer);
    bb.enterScope('free');
    expect(bb.effectiveSchema()).toBe(outer);
    bb.setScoped('anything', 1);
  });

  it('validates unscoped writes against a root schema', () => {
    const bb = new Blackboard({ rootSchema: z.object({ count: z.number() }) });
    bb.set('count', 1);
    bb.set('other', 'ok');
    expect(() => bb.set('count', 'many')).toThrow(/'count'/);
  });

  it('refuses async schemas with a clear message', () => {
    const bb = new Blackboard({ schemas: { s: z.object({ a: z.string().refine(async () => Promise.resolve(true)) }) } });
    bb.enterScope('s');
    expect(() => bb.setScoped('a', 'x')).toThrow(/asynchronously/);
  });

  it('snapshots to JSON and restores exactly; later writes do not leak into the snapshot', () => {
    const schema = z.object({ n: z.number() });
    const bb = new Blackboard();
    bb.set('list', [1, { deep: true }]);
    bb.enterScope('job', schema);
    bb.setScoped('n', 1);
    const snap = bb.snapshot();
    bb.get<unknown[]>('list')?.push('later');
    bb.setScoped('n', 2);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.meta).toEqual({ scopeStack: ['job'], boundSchemas: ['job'] });

    const back = Blackboard.restore(snap, { schemas: { job: schema } });
    expect(back.get('list')).toEqual([1, { deep: true }]);
    expect(back.currentScope).toBe('job');
    expect(back.getScoped('n')).toBe(1);
    expect(() => back.setScoped('n', 'x')).toThrow(/'n'/);
    expect(back.snapshot()).toEqual(snap);
  });

  it('refuses to restore a snapshot whose bound schemas are not supplied', () => {
    const bb = new Blackboard();
    bb.enterScope('job', z.object({}));
    expect(() => Blackboard.restore(bb.snapshot())).toThrow(/scope\(s\) 'job'.*options.schemas/);
  });

  it('refuses to snapshot values JSON cannot hold', () => {
    const bb = new Blackboard();
    bb.set('big', 1n);
    expect(() => bb.snapshot()).toThrow(/cannot be stored/);
  });
});
