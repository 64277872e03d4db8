import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MachineDef, OrcaFile } from '../../src/machine/ast.js';
import { mutuallyExclusive, staticallyFalse } from '../../src/machine/guard-logic.js';
import { parseGuardExpression } from '../../src/machine/guard-expression.js';
import { parseMachine, parseOrcaMarkdown } from '../../src/machine/parse-markdown.js';
import type { VerifyIssue, VerifyResult } from '../../src/machine/verify.js';
import { VerifyCode, verifyFile, verifyMachine } from '../../src/machine/verify.js';

/** A machine with no errors and no warnings; tests add or change one thing at a time. */
interface Parts {
  context?: string[];
  events?: string[];
  states?: string[];
  transitions?: string[];
  guards?: string[];
  actions?: string[];
  effects?: string[];
  properties?: string[];
}
const CLEAN: Required<Parts> = {
  context: ['| n | int | 0 |'],
  events: ['go', 'stop'],
  states: ['## state a [initial]', '- ignore: stop', '## state b', '- ignore: go', '## state c [final]'],
  transitions: ['| a | go | | b | |', '| b | stop | | c | |'],
  guards: [],
  actions: [],
  effects: [],
  properties: [],
};
function source(parts: Parts = {}): string {
  const p = { ...CLEAN, ...parts };
  const out = ['# machine M', '## context', '| Field | Type | Default |', '|---|---|---|', ...p.context, '## events', ...p.events.map((e) => `- ${e}`), ...p.states];
  out.push('## transitions', '| Source | Event | Guard | Target | Action |', '|---|---|---|---|---|', ...p.transitions);
  if (p.guards.length > 0) out.push('## guards', '| Name | Expression |', '|---|---|', ...p.guards);
  if (p.actions.length > 0) out.push('## actions', '| Name | Signature |', '|---|---|', ...p.actions);
  if (p.effects.length > 0) out.push('## effects', '| Name | Input | Output |', '|---|---|---|', ...p.effects);
  if (p.properties.length > 0) out.push('## properties', ...p.properties.map((x) => `- ${x}`));
  return out.join('\n');
}
const build = (parts: Parts = {}): MachineDef => parseMachine(source(parts));
const verify = (parts: Parts = {}): VerifyResult => verifyMachine(build(parts));
const codes = (r: VerifyResult): string[] => r.errors.map((e) => e.code);
function only(r: VerifyResult, code: string): VerifyIssue {
  const found = r.errors.filter((e) => e.code === code);
  expect(found.length, `expected one ${code}, got ${JSON.stringify(r.errors, null, 1)}`).toBeGreaterThan(0);
  return found[0] as VerifyIssue;
}

describe('the clean machine and the examples', () => {
  it('the base machine has no issues at all', () => {
    expect(verify()).toEqual({ valid: true, errors: [] });
  });

  it('payment-with-properties: all six properties hold', () => {
    const r = verifyMachine(parseMachine(readFileSync(new URL('../../../shared/orca-examples/payment-with-properties.orca.md', import.meta.url), 'utf8')));
    expect(codes(r).filter((c) => c.startsWith('PROPERTY_') && c !== 'PROPERTY_INVARIANT_ADVISORY')).toEqual([]);
    expect(codes(r)).toContain('PROPERTY_INVARIANT_ADVISORY');
  });

  it('parallel-order verifies clean; hierarchical-game has states no transition enters', () => {
    const read = (n: string): MachineDef => parseMachine(readFileSync(new URL(`../../../shared/orca-examples/${n}.orca.md`, import.meta.url), 'utf8'));
    expect(verifyMachine(read('parallel-order')).valid).toBe(true);
    const game = verifyMachine(read('hierarchical-game'));
    expect(game.errors.filter((e) => e.code === 'UNREACHABLE_STATE').map((e) => e.location?.state)).toEqual([
      'exploration.dungeon',
      'combat.defending',
      'combat.using_item',
      'inventory.open',
      'inventory.selecting',
    ]);
  });
});

describe('structural checks', () => {
  it('NO_INITIAL_STATE', () => {
    const m = build();
    m.states[0]!.isInitial = false;
    const e = only(verifyMachine(m), 'NO_INITIAL_STATE');
    expect(e.severity).toBe('error');
    expect(e.suggestion).toMatch(/Mark the state to start in with \[initial\]/);
    expect(verifyMachine(build()).valid).toBe(true);
  });

  it('UNREACHABLE_STATE', () => {
    const bad = verify({ states: [...CLEAN.states, '## state d', '- ignore: stop'], transitions: [...CLEAN.transitions, '| d | go | | c | |'] });
    const e = only(bad, 'UNREACHABLE_STATE');
    expect(e.location).toMatchObject({ state: 'd', line: 14, column: 4 });
    expect(e.suggestion).toMatch(/Add a transition that targets 'd'/);
    const fixed = verify({ states: [...CLEAN.states, '## state d', '- ignore: stop'], transitions: [...CLEAN.transitions, '| d | go | | c | |', '| a | stop | | d | |'] });
    expect(codes(fixed)).not.toContain('UNREACHABLE_STATE');
    expect(fixed.valid).toBe(true);
  });

  it('FINAL_STATE_OUTGOING (self-loops are fine)', () => {
    const e = only(verify({ transitions: [...CLEAN.transitions, '| c | go | | a | |'] }), 'FINAL_STATE_OUTGOING');
    expect(e.location).toMatchObject({ state: 'c', event: 'go' });
    expect(e.suggestion).toMatch(/Remove the transition, or drop \[final\]/);
    expect(codes(verify({ transitions: [...CLEAN.transitions, '| c | go | | c | |'] }))).not.toContain('FINAL_STATE_OUTGOING');
  });

  it('DEADLOCK', () => {
    const bad = verify({ states: ['## state a [initial]', '- ignore: stop', '## state b', '- ignore: go, stop', '## state c [final]'], transitions: ['| a | go | | b | |'] });
    const e = only(bad, 'DEADLOCK');
    expect(e.location).toMatchObject({ state: 'b', line: 11, column: 4 });
    expect(e.suggestion).toMatch(/Add a transition out of 'b'.*or mark it \[final\]/);
    expect(verify().valid).toBe(true);
  });

  it('INSUFFICIENT_REGIONS (warning)', () => {
    const states = (regions: string[]): string[] => ['## state a [initial, parallel]', '- on_done: -> c', ...regions, '## state c [final]'];
    const one = verify({ states: states(['### region r', '#### state r1 [initial, final]']), transitions: [], events: [] });
    const e = only(one, 'INSUFFICIENT_REGIONS');
    expect(e.severity).toBe('warning');
    expect(one.valid).toBe(true);
    const two = verify({ states: states(['### region r', '#### state r1 [initial, final]', '### region s', '#### state s1 [initial, final]']), transitions: [], events: [] });
    expect(two).toEqual({ valid: true, errors: [] });
  });

  it('UNKNOWN_STATE and UNKNOWN_GUARD on a hand-built AST', () => {
    const m = build();
    m.transitions[0]!.target = 'zz';
    m.transitions[1]!.guard = { name: 'nope', negated: false };
    const r = verifyMachine(m);
    expect(only(r, 'UNKNOWN_STATE').suggestion).toMatch(/Declare the state/);
    expect(only(r, 'UNKNOWN_GUARD').suggestion).toMatch(/Add 'nope' to the guards table/);
    expect(verifyMachine(build()).valid).toBe(true);
  });

  it('MACHINE_TOO_LARGE', () => {
    const m = build();
    const e = only(verifyMachine(m, { maxLeafStates: 2 }), 'MACHINE_TOO_LARGE');
    expect(e.message).toMatch(/3 leaf states, more than the limit of 2/);
    expect(e.suggestion).toMatch(/split the machine/);
    expect(codes(verifyMachine(m))).not.toContain('MACHINE_TOO_LARGE');
  });
});

describe('orphans', () => {
  it('ORPHAN_EVENT', () => {
    const e = only(verify({ events: ['go', 'stop', 'extra'], states: ['## state a [initial]', '- ignore: stop, extra', '## state b', '- ignore: go', '## state c [final]'] }), 'INCOMPLETE_EVENT_HANDLING');
    expect(e.location).toMatchObject({ state: 'b', event: 'extra' });
    const orphan = only(verify({ events: ['go', 'stop', 'extra'] }), 'ORPHAN_EVENT');
    expect(orphan).toMatchObject({ severity: 'warning', location: { event: 'extra' } });
    expect(orphan.suggestion).toMatch(/Use 'extra' in a transition, or remove it/);
    expect(codes(verify())).not.toContain('ORPHAN_EVENT');
  });

  it('ORPHAN_ACTION', () => {
    const bad = verify({ actions: ['| log | `(ctx) -> Context` |', '| unused | `(ctx) -> Context` |'], transitions: ['| a | go | | b | log |', '| b | stop | | c | |'] });
    expect(only(bad, 'ORPHAN_ACTION').message).toMatch(/'unused'/);
    expect(bad.errors).toHaveLength(1);
    expect(verify({ actions: ['| log | `(ctx) -> Context` |'], transitions: ['| a | go | | b | log |', '| b | stop | | c | |'] })).toEqual({ valid: true, errors: [] });
  });

  it('ORPHAN_EFFECT and UNDECLARED_EFFECT', () => {
    const states = ['## state a [initial]', '- ignore: stop', '- on_entry: send', '## state b', '- ignore: go', '## state c [final]'];
    const r = verify({ states, actions: ['| send | `(ctx) -> Context + Effect<Mail>` |'], effects: ['| Sms | `string` | `void` |'] });
    expect(only(r, 'ORPHAN_EFFECT').message).toMatch(/'Sms'/);
    expect(only(r, 'UNDECLARED_EFFECT').suggestion).toMatch(/Add '\| Mail \| <input> \| <output> \|' to the effects table/);
    expect(verify({ states, actions: ['| send | `(ctx) -> Context + Effect<Mail>` |'], effects: ['| Mail | `string` | `void` |'] })).toEqual({ valid: true, errors: [] });
  });
});

describe('completeness and determinism', () => {
  it('INCOMPLETE_EVENT_HANDLING', () => {
    const e = only(verify({ states: ['## state a [initial]', '## state b', '- ignore: go', '## state c [final]'] }), 'INCOMPLETE_EVENT_HANDLING');
    expect(e.location).toMatchObject({ state: 'a', event: 'stop' });
    expect(e.suggestion).toMatch(/or '- ignore: stop'/);
    expect(verify({ states: ['## state a [initial]', '- ignore: *', '## state b', '- ignore: go', '## state c [final]'] }).valid).toBe(true);
  });

  it('NON_DETERMINISTIC', () => {
    const e = only(verify({ transitions: [...CLEAN.transitions, '| a | go | | c | |'] }), 'NON_DETERMINISTIC');
    expect(e.location).toMatchObject({ state: 'a', event: 'go' });
    expect(e.suggestion).toMatch(/mutually exclusive guards/);
  });

  it('GUARD_EXHAUSTIVENESS: overlapping guards warn, proven-exclusive ones do not', () => {
    const transitions = ['| a | go | big | b | |', '| a | go | huge | c | |', '| b | stop | | c | |'];
    const overlap = verify({ transitions, guards: ['| big | `ctx.n > 0` |', '| huge | `ctx.n > 5` |'] });
    const e = only(overlap, 'GUARD_EXHAUSTIVENESS');
    expect(e.severity).toBe('warning');
    expect(e.message).toMatch(/'big' and 'huge'/);
    expect(verify({ transitions, guards: ['| big | `ctx.n <= 5` |', '| huge | `ctx.n > 5` |'] })).toEqual({ valid: true, errors: [] });
    // g / !g is exclusive whatever g is.
    expect(verify({ transitions: ['| a | go | big | b | |', '| a | go | !big | c | |', '| b | stop | | c | |'], guards: ['| big | `ctx.n > ctx.n` |'] })).toEqual({ valid: true, errors: [] });
  });

  it('proves exclusivity by the rules of the spec', () => {
    const g = (t: string) => {
      const r = parseGuardExpression(t);
      if (!r.ok) throw new Error(r.message);
      return r.expression;
    };
    const ex = (a: string, b: string): boolean => mutuallyExclusive(g(a), g(b));
    expect(ex('x < 3', 'x >= 3')).toBe(true);
    expect(ex('x == "a"', 'x == "b"')).toBe(true);
    expect(ex('x == "a"', 'x != "a"')).toBe(true);
    expect(ex('x > 10', 'x < 5')).toBe(true);
    expect(ex('x >= 5', 'x <= 5')).toBe(false);
    expect(ex('x is null', 'x > 3')).toBe(true);
    expect(ex('x is null', 'x != 3')).toBe(false);
    expect(ex('x > 3 and y == 1', 'x < 2 or y == 2')).toBe(true);
    expect(ex('x > 3 or y == 1', 'x < 2')).toBe(false);
    expect(ex('ctx.a < ctx.b', 'b <= a')).toBe(true);
    expect(ex('x > 3', 'y > 3')).toBe(false);
    expect(staticallyFalse(g('x > 5 and x < 3'))).toBe(true);
    expect(staticallyFalse(g('not true'))).toBe(true);
    expect(staticallyFalse(g('x > 5 or x < 3'))).toBe(false);
  });
});

describe('properties', () => {
  it('PROPERTY_REACHABILITY_FAIL', () => {
    const e = only(verify({ properties: ['reachable: a from c'] }), 'PROPERTY_REACHABILITY_FAIL');
    expect(e.message).toMatch(/no path leads from 'c' to 'a'/);
    expect(e.location?.line).toBe(20);
    expect(codes(verify({ properties: ['reachable: c from a'] }))).toEqual([]);
  });

  it('PROPERTY_EXCLUSION_FAIL with a counterexample path and a guard note', () => {
    const e = only(verify({ properties: ['unreachable: c from a'] }), 'PROPERTY_EXCLUSION_FAIL');
    expect(e.message).toContain('counterexample a -[go]-> b -[stop]-> c');
    const guarded = only(
      verify({ transitions: ['| a | go | ok | b | |', '| a | go | !ok | b | |', '| b | stop | | c | |'], guards: ['| ok | `ctx.n > 0` |'], properties: ['unreachable: c from a'] }),
      'PROPERTY_EXCLUSION_FAIL',
    );
    expect(guarded.message).toMatch(/-\[go \[ok\]\]-> b.*needs guard 'ok' to hold/);
    expect(codes(verify({ properties: ['unreachable: a from c'] }))).toEqual([]);
  });

  it('prunes statically false guards from the search', () => {
    const parts: Parts = {
      transitions: ['| a | go | never | c | |', '| a | stop | | b | |', '| b | go | | a | |'],
      states: ['## state a [initial]', '## state b', '- ignore: stop', '## state c [final]'],
      guards: ['| never | `ctx.n > 5 and ctx.n < 3` |'],
      properties: ['unreachable: c from a'],
    };
    expect(codes(verify(parts))).not.toContain('PROPERTY_EXCLUSION_FAIL');
    expect(codes(verify({ ...parts, guards: ['| never | `ctx.n > 5 or ctx.n < 3` |'] }))).toContain('PROPERTY_EXCLUSION_FAIL');
  });

  it('PROPERTY_PATH_FAIL', () => {
    const states = ['## state a [initial]', '## state b', '- ignore: go', '## state c [final]'];
    const e = only(verify({ states, transitions: [...CLEAN.transitions, '| a | stop | | c | |'], properties: ['passes_through: b for a -> c'] }), 'PROPERTY_PATH_FAIL');
    expect(e.message).toContain("counterexample a -[stop]-> c bypasses 'b'");
    expect(codes(verify({ properties: ['passes_through: b for a -> c'] }))).toEqual([]);
  });

  it('PROPERTY_LIVENESS_FAIL', () => {
    const states = [...CLEAN.states.slice(0, 1), '## state b', '- ignore: go', '## state d', '- ignore: stop', '## state c [final]'];
    const bad = verify({ states: ['## state a [initial]', '## state b', '- ignore: go', '## state d', '- ignore: stop', '## state c [final]'], transitions: [...CLEAN.transitions, '| a | stop | | d | |', '| d | go | | d | |'], properties: ['live'] });
    const e = only(bad, 'PROPERTY_LIVENESS_FAIL');
    expect(e.location?.state).toBe('d');
    expect(e.message).toMatch(/from 'd' no final state can be reached \(reached by a -\[stop\]-> d\)/);
    expect(states).toHaveLength(6);
    expect(codes(verify({ properties: ['live'] }))).toEqual([]);
  });

  it('PROPERTY_RESPONSE_FAIL', () => {
    const e = only(verify({ properties: ['responds: c from a within 1'] }), 'PROPERTY_RESPONSE_FAIL');
    expect(e.message).toMatch(/the shortest path takes 2 transitions/);
    expect(e.suggestion).toMatch(/'within 2'/);
    expect(codes(verify({ properties: ['responds: c from a within 2'] }))).toEqual([]);
  });

  it('PROPERTY_INVARIANT_ADVISORY, _INVALID and _FAIL', () => {
    const advisory = only(verify({ properties: ['invariant: `ctx.n >= 0`'] }), 'PROPERTY_INVARIANT_ADVISORY');
    expect(advisory.severity).toBe('warning');
    const invalid = only(verify({ properties: ['invariant: `ctx.missing >= 0`'] }), 'PROPERTY_INVARIANT_INVALID');
    expect(invalid.suggestion).toMatch(/Declare 'missing' in the context table/);
    const fail = only(verify({ properties: ['invariant: `ctx.n > 5`'] }), 'PROPERTY_INVARIANT_FAIL');
    expect(fail.message).toMatch(/does not hold for the default context/);
    expect(verify({ properties: ['invariant: `ctx.n >= 0`'] }).valid).toBe(true);
  });

  it('PROPERTY_AMBIGUOUS_STATE and PROPERTY_INVALID_STATE', () => {
    const states = ['## state a [initial]', '- ignore: stop', '## state b', '- ignore: go', '### state x [initial]', '## state c [final]', '## state d', '### state x [initial]'];
    const amb = only(verify({ states, transitions: [...CLEAN.transitions, '| d | go | | c | |', '| c | stop | | c | |'], properties: ['reachable: x from a'] }), 'PROPERTY_AMBIGUOUS_STATE');
    expect(amb.suggestion).toMatch(/dotted path.*'b\.x'/);
    const fixed = verify({ states, transitions: [...CLEAN.transitions, '| d | go | | c | |'], properties: ['reachable: b.x from a'] });
    expect(codes(fixed)).not.toContain('PROPERTY_AMBIGUOUS_STATE');
    expect(codes(fixed)).not.toContain('PROPERTY_REACHABILITY_FAIL');
    const invalid = only(verify({ properties: ['reachable: cc from a'] }), 'PROPERTY_INVALID_STATE');
    expect(invalid.suggestion).toMatch(/Did you mean 'c'/);
  });
});

describe('multi-machine checks', () => {
  const PARENT = [
    '# machine Parent',
    '## context',
    '| Field | Type | Default |',
    '|---|---|---|',
    '| order_id | string | "o1" |',
    '## events',
    '- DONE',
    '- FAILED',
    '## state waiting [initial]',
    '- invoke: Child input: { id: ctx.order_id }',
    '- on_done: DONE',
    '- on_error: FAILED',
    '## state ok [final]',
    '## state bad [final]',
    '## transitions',
    '| Source | Event | Target |',
    '|---|---|---|',
    '| waiting | DONE | ok |',
    '| waiting | FAILED | bad |',
  ].join('\n');
  const CHILD = [
    '# machine Child',
    '## context',
    '| Field | Type | Default |',
    '|---|---|---|',
    '| id | string | |',
    '## events',
    '- finish',
    '## state work [initial]',
    '## state finished [final]',
    '## transitions',
    '| Source | Event | Target |',
    '|---|---|---|',
    '| work | finish | finished |',
  ].join('\n');
  const file = (parent = PARENT, child = CHILD): OrcaFile => parseOrcaMarkdown(`${parent}\n---\n${child}`);

  it('the clean pair verifies', () => {
    expect(verifyFile(file())).toEqual({ valid: true, errors: [] });
  });

  it('UNKNOWN_MACHINE', () => {
    const e = only(verifyFile(file(PARENT.replace('invoke: Child', 'invoke: Kid'))), 'UNKNOWN_MACHINE');
    expect(e.location).toMatchObject({ machine: 'Parent', state: 'waiting', line: 9 });
    expect(e.suggestion).toMatch(/Add '# machine Kid'/);
  });

  it('CIRCULAR_INVOCATION', () => {
    const child = CHILD.replace('## state work [initial]', '## state work [initial]\n- invoke: Parent\n- on_error: finish');
    const e = only(verifyFile(file(PARENT, child)), 'CIRCULAR_INVOCATION');
    expect(e.message).toContain('Parent -> Child -> Parent');
  });

  it('CHILD_NO_FINAL_STATE', () => {
    const child = CHILD.replace('## state finished [final]', '## state finished').replace('| work | finish | finished |', '| work | finish | finished |\n| finished | finish | work |');
    const e = only(verifyFile(file(PARENT, child)), 'CHILD_NO_FINAL_STATE');
    expect(e.suggestion).toMatch(/Give 'Child' a reachable \[final\] state/);
  });

  it('UNKNOWN_ON_DONE_EVENT and UNKNOWN_ON_ERROR_EVENT', () => {
    // Undeclared on_done/on_error events used by no transition: the parser accepts them.
    const parent = PARENT.replace('- on_done: DONE', '- on_done: FINISHED').replace('- on_error: FAILED', '- on_error: BROKEN');
    const r = verifyFile(file(parent));
    expect(only(r, 'UNKNOWN_ON_DONE_EVENT').suggestion).toMatch(/Add 'FINISHED' to the events of 'Parent'/);
    expect(only(r, 'UNKNOWN_ON_ERROR_EVENT').suggestion).toMatch(/Add 'BROKEN' to the events of 'Parent'/);
  });

  it('INVALID_INPUT_MAPPING', () => {
    const r = verifyFile(file(PARENT.replace('{ id: ctx.order_id }', '{ ident: ctx.order_no }')));
    const found = r.errors.filter((e) => e.code === 'INVALID_INPUT_MAPPING');
    expect(found.map((e) => e.message)).toEqual([
      "Input mapping of 'waiting' sets 'ident', which is not a context field of 'Child'.",
      "Input mapping 'ident: ctx.order_no' of 'waiting' does not read a context field of 'Parent'.",
    ]);
    expect(found[0]?.suggestion).toBe('Use one of: id.');
  });

  it('MISSING_ON_ERROR (warning)', () => {
    const parent = PARENT.replace('- on_error: FAILED\n', '').replace('| waiting | FAILED | bad |', '| ok | FAILED | ok |');
    const r = verifyFile(file(parent));
    expect(only(r, 'MISSING_ON_ERROR').severity).toBe('warning');
  });

  it('STATE_LIMIT_EXCEEDED', () => {
    const e = only(verifyFile(file(), { maxFileStates: 4 }), 'STATE_LIMIT_EXCEEDED');
    expect(e.message).toMatch(/5 leaf states together, more than the limit of 4/);
    expect(codes(verifyFile(file()))).toEqual([]);
  });
});

describe('decision tables', () => {
  interface DtParts {
    conditions: readonly string[];
    actions: readonly string[];
    header: string;
    rules: readonly string[];
  }
  const DT: DtParts = {
    conditions: ['| tier | enum | gold, silver |', '| member | bool | |'],
    actions: ['| discount | enum | 10, 5, 0 |'],
    header: '| tier | member | → discount |',
    rules: ['| gold | - | 10 |', '| silver | true | 5 |', '| silver | false | 0 |'],
  };
  const table = (p: Partial<DtParts> = {}): OrcaFile => {
    const d = { ...DT, ...p };
    return parseOrcaMarkdown(
      [
        '# decision_table Pricing',
        '## conditions',
        '| Name | Type | Values |',
        '|---|---|---|',
        ...d.conditions,
        '## actions',
        '| Name | Type | Values |',
        '|---|---|---|',
        ...d.actions,
        '## rules',
        d.header,
        '|---|---|---|',
        ...d.rules,
      ].join('\n'),
    );
  };
  const check = (p: Partial<DtParts> = {}): VerifyResult => verifyFile(table(p));

  it('the clean table verifies', () => {
    expect(check()).toEqual({ valid: true, errors: [] });
  });

  it.each([
    ['DT_NO_CONDITIONS', { conditions: [], header: '| → discount |', rules: ['| 10 |'] }, /Add a '## conditions' table/],
    ['DT_NO_ACTIONS', { actions: [], header: '| tier | member |', rules: ['| - | - |'] }, /Add an '## actions' table/],
    ['DT_EMPTY_RULES', { rules: [] }, /Add rows to the '## rules' table/],
    ['DT_INVALID_CONDITION_TYPE', { conditions: ['| tier | color | gold, silver |', '| member | bool | |'] }, /Use enum, bool, string/],
    ['DT_UNKNOWN_CONDITION_COLUMN', { header: '| level | member | → discount |' }, /Declare 'level' in '## conditions'/],
    ['DT_UNKNOWN_ACTION_COLUMN', { header: '| tier | member | → rebate |' }, /Declare 'rebate' in '## actions'/],
    ['DT_MISSING_CONDITION_COLUMN', { conditions: [...DT.conditions, '| region | enum | eu |'] }, /Add a 'region' column/],
    ['DT_UNKNOWN_CONDITION_VALUE', { rules: ['| platinum | - | 10 |', ...DT.rules] }, /Use one of: gold, silver/],
    ['DT_UNKNOWN_ACTION_VALUE', { rules: ['| gold | - | 50 |', ...DT.rules.slice(1)] }, /Use one of: 10, 5, 0/],
    ['DT_DUPLICATE_RULE', { rules: [...DT.rules, '| gold | - | 10 |'] }, /Remove one of them/],
    ['DT_SHADOWED_RULE', { rules: [...DT.rules, '| gold | true | 5 |'] }, /Move it above the rules that cover it/],
    ['DT_INCOMPLETE', { rules: DT.rules.slice(0, 2) }, /\{tier=silver, member=false\}|catch-all/],
    ['DT_COMPLETENESS_SKIPPED', { conditions: ['| tier | string | |', '| member | bool | |'] }, /end the table with a catch-all rule/],
  ] as const)('%s', (code, patch, fix) => {
    const e = only(check(patch), code);
    expect(`${e.message} ${e.suggestion ?? ''}`).toMatch(fix);
    expect(e.location?.decisionTable).toBe('Pricing');
    expect(codes(check())).not.toContain(code);
  });

  it('DT_SHADOWED_RULE for a rule no input meets, under either policy', () => {
    const conditions = [...DT.conditions, '| region | enum | eu |'];
    const header = '| tier | member | region | → discount |';
    const e = only(check({ conditions, header, rules: ['| gold | - | !eu | 10 |', '| - | - | - | 0 |'] }), 'DT_SHADOWED_RULE');
    expect(e.message).toBe("Rule 1 never fires: no input meets its conditions ('region' matches none of its values).");
    expect(e.suggestion).toBe('Fix the cell that excludes every value, or remove the rule.');
    expect(codes(check({ conditions, header, rules: ['| gold | - | eu | 10 |', '| - | - | - | 0 |'] }))).toEqual([]);
  });

  it('DT_CONFLICT under all-match', () => {
    const src = (rules: string[]): OrcaFile =>
      parseOrcaMarkdown(
        ['# decision_table P', '- policy: all-match', '## conditions', '| Name | Type | Values |', '|---|---|---|', '| member | bool | |', '## actions', '| Name | Type | Values |', '|---|---|---|', '| discount | string | |', '## rules', '| member | → discount |', '|---|---|', ...rules].join('\n'),
      );
    const e = only(verifyFile(src(['| - | 10 |', '| true | 5 |'])), 'DT_CONFLICT');
    expect(e.location).toMatchObject({ rule: 2, line: 15 });
    expect(e.suggestion).toMatch(/Make their conditions disjoint/);
    expect(verifyFile(src(['| false | 10 |', '| true | 5 |']))).toEqual({ valid: true, errors: [] });
  });

  describe('a table checked against the machine beside it', () => {
    // The table reads `tier` and writes `gateway` and `review`, all context fields of Router.
    interface Pair {
      outputs: string;
      rules: readonly string[];
      guards: readonly string[];
      transitions: readonly string[];
      context: readonly string[];
      states: readonly string[];
    }
    const PAIR: Pair = {
      outputs: 'stripe, adyen, manual',
      rules: ['| low | stripe | false |', '| high | manual | true |'],
      guards: ['| to_stripe | `ctx.gateway == "stripe"` |', '| to_manual | `ctx.gateway == "manual" and ctx.review` |'],
      transitions: ['| idle | route | | routing |', '| routing | decide | to_stripe | paid |', '| routing | decide | to_manual | review |', '| review | approve | | paid |'],
      context: ['| tier | string | "low" |', '| gateway | string | |', '| review | bool | false |'],
      states: [],
    };
    const pair = (p: Partial<Pair> = {}): OrcaFile => {
      const d = { ...PAIR, ...p };
      return parseOrcaMarkdown(
        [
          '# machine Router',
          '## context',
          '| Field | Type | Default |',
          '|---|---|---|',
          ...d.context,
          '## events',
          '- route',
          '- decide',
          '- approve',
          '## state idle [initial]',
          '- ignore: decide, approve',
          '## state routing',
          '- ignore: route, approve',
          '## state review',
          '- ignore: route, decide',
          ...d.states,
          '## state paid [final]',
          '## transitions',
          '| Source | Event | Guard | Target |',
          '|---|---|---|---|',
          ...d.transitions,
          '## guards',
          '| Name | Expression |',
          '|---|---|',
          ...d.guards,
          '---',
          '# decision_table Routing',
          '## conditions',
          '| Name | Type | Values |',
          '|---|---|---|',
          '| tier | enum | low, high |',
          '## actions',
          '| Name | Type | Values |',
          '|---|---|---|',
          `| gateway | enum | ${d.outputs} |`,
          '| review | bool | |',
          '## rules',
          '| tier | → gateway | → review |',
          '|---|---|---|',
          ...d.rules,
        ].join('\n'),
      );
    };

    it('the clean pair verifies', () => {
      expect(verifyFile(pair())).toEqual({ valid: true, errors: [] });
    });

    it("DT_GUARD_DEAD and DT_UNREACHABLE_STATE: the table never outputs the value a guard tests", () => {
      // Typo in the rule: 'manuel' is never what `to_manual` tests.
      const r = verifyFile(pair({ outputs: 'stripe, adyen, manuel', rules: ['| low | stripe | false |', '| high | manuel | true |'] }));
      expect(r.valid).toBe(true); // warnings: another action might write the field
      const dead = only(r, 'DT_GUARD_DEAD');
      expect(dead).toMatchObject({ severity: 'warning', location: { machine: 'Router', decisionTable: 'Routing' } });
      expect(dead.message).toBe(
        `Guard 'to_manual' can never hold: 'Routing' only ever sets 'gateway' to "stripe", "manuel" (default null); 'Routing' only ever sets 'review' to false, true (default false), and no combination of these values satisfies it, so the transitions it guards never fire.`,
      );
      expect(dead.suggestion).toMatch(/^Add a rule to 'Routing' that outputs the value the guard tests, correct the value in the guard/);
      const unreachable = only(r, 'DT_UNREACHABLE_STATE');
      expect(unreachable).toMatchObject({ severity: 'warning', location: { machine: 'Router', decisionTable: 'Routing', state: 'review' } });
      expect(unreachable.message).toMatch(/State 'review' can never be entered: the transition graph reaches it, but every transition into it from a reachable state needs 'to_manual'/);
      expect(unreachable.suggestion).toMatch(/let the table produce the value tested, or change the guard/);
      expect(codes(r).filter((c) => c.startsWith('DT_'))).toEqual(['DT_GUARD_DEAD', 'DT_UNREACHABLE_STATE']);
      // Fixed by correcting the guard instead of the table.
      const fixed = pair({ outputs: 'stripe, adyen, manuel', rules: ['| low | stripe | false |', '| high | manuel | true |'], guards: [PAIR.guards[0] ?? '', '| to_manual | `ctx.gateway == "manuel" and ctx.review` |'] });
      expect(verifyFile(fixed)).toEqual({ valid: true, errors: [] });
    });

    it('DT_GUARD_DEAD reasons over several fields and over negated uses, not just ==', () => {
      // Two fields at once: the table routes to manual, but never sets review.
      const apart = only(verifyFile(pair({ rules: ['| low | stripe | false |', '| high | manual | false |'] })), 'DT_GUARD_DEAD');
      expect(apart.message).toMatch(/^Guard 'to_manual' can never hold: .*'review' to false \(default false\)/);
      // Fields are judged one by one: manual and true both occur (in different rules), so not dead.
      expect(codes(verifyFile(pair({ rules: ['| low | stripe | true |', '| high | manual | false |'] })))).toEqual([]);
      // `!to_stripe` is dead when the table only ever routes to stripe (and the default is stripe too).
      const always = pair({
        context: ['| tier | string | "low" |', '| gateway | string | "stripe" |', '| review | bool | false |'],
        outputs: 'stripe',
        rules: ['| - | stripe | false |'],
        guards: [PAIR.guards[0] ?? ''],
        transitions: ['| idle | route | | routing |', '| routing | decide | to_stripe | paid |', '| routing | decide | !to_stripe | review |', '| review | approve | | paid |'],
      });
      const r = verifyFile(always);
      const neg = only(r, 'DT_GUARD_DEAD');
      expect(neg.message).toMatch(/^Guard '!to_stripe' on routing \+ decide can never hold: 'to_stripe' is always true/);
      expect(neg.location).toMatchObject({ state: 'routing', event: 'decide' });
      expect(only(r, 'DT_UNREACHABLE_STATE').location?.state).toBe('review');
    });

    it('a guard the default value satisfies is not dead; a table not aligned with the context is not checked', () => {
      const defaulted = pair({
        context: ['| tier | string | "low" |', '| gateway | string | "manual" |', '| review | bool | true |'],
        outputs: 'stripe, adyen, manual',
        rules: ['| - | stripe | false |'],
      });
      expect(codes(verifyFile(defaulted))).toEqual([]);
      const unaligned = pair({ context: ['| tier | string | "low" |', '| gateway | string | |'], outputs: 'stripe, adyen, manuel', rules: ['| low | stripe | false |', '| high | manuel | true |'] });
      expect(codes(verifyFile(unaligned)).filter((c) => c === 'DT_GUARD_DEAD' || c === 'DT_UNREACHABLE_STATE')).toEqual([]);
    });

    it('DT_UNREACHABLE_STATE reports the outermost state and follows paths on', () => {
      const chain = pair({
        outputs: 'stripe, adyen, manuel',
        rules: ['| low | stripe | false |', '| high | manuel | true |'],
        states: ['## state audit', '- ignore: route, decide'],
        transitions: ['| idle | route | | routing |', '| routing | decide | to_stripe | paid |', '| routing | decide | to_manual | review |', '| review | approve | | audit |', '| audit | approve | | paid |'],
      });
      const r = verifyFile(chain);
      expect(r.errors.filter((e) => e.code === 'DT_UNREACHABLE_STATE').map((e) => [e.location?.state, e.message])).toEqual([
        ['review', expect.stringMatching(/needs 'to_manual', which the outputs of 'Routing' make impossible/)],
        ['audit', expect.stringMatching(/it is entered only from states that are themselves unreachable/)],
      ]);
      // A compound state that is cut off is reported once, not with its children.
      const nested = pair({
        outputs: 'stripe, adyen, manuel',
        rules: ['| low | stripe | false |', '| high | manuel | true |'],
        states: ['## state hold', '- ignore: route, decide', '### state waiting [initial]', '### state checking'],
        transitions: [...PAIR.transitions.slice(0, 2), '| routing | decide | to_manual | hold |', '| waiting | approve | | checking |', '| checking | approve | | paid |', '| review | approve | | paid |'],
      });
      const states = verifyFile(nested)
        .errors.filter((e) => e.code === 'DT_UNREACHABLE_STATE' || e.code === 'UNREACHABLE_STATE')
        .map((e) => `${e.code} ${e.location?.state ?? ''}`);
      expect(states).toEqual(['UNREACHABLE_STATE review', 'DT_UNREACHABLE_STATE hold']);
    });
  });

  it('has a test for every verifier code', () => {
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const untested = Object.values(VerifyCode).filter((c) => !source.includes(`'${c}'`));
    expect(untested).toEqual([]);
  });
});
