import { describe, expect, it } from 'vitest';
import { KeelError } from '../../src/core/errors.js';
import type { OrcaDiagnostic } from '../../src/machine/errors.js';
import { ORCA_PARSE_ERROR, OrcaParseCode, OrcaParseError } from '../../src/machine/errors.js';
import { parseLegacyOrca } from '../../src/machine/parse-legacy.js';
import { parseOrcaMarkdown } from '../../src/machine/parse-markdown.js';

/** Parses and returns the diagnostics ([] when the source parses). */
function diagnostics(source: string, legacy = false): OrcaDiagnostic[] {
  try {
    if (legacy) parseLegacyOrca(source);
    else parseOrcaMarkdown(source);
    return [];
  } catch (err) {
    if (err instanceof OrcaParseError) return err.diagnostics;
    throw err;
  }
}

const lines = (...ls: string[]): string => ls.join('\n');

/** A small valid machine; `patch` replaces lines by 1-based number (a string[] splices several). */
const BASE = [
  '# machine M', // 1
  '## events', // 2
  '- go', // 3
  '## state a [initial]', // 4
  '## state b [final]', // 5
  '## transitions', // 6
  '| Source | Event | Target |', // 7
  '|---|---|---|', // 8
  '| a | go | b |', // 9
];
function base(patch: Record<number, string | string[]> = {}, extra: string[] = []): string {
  const out: string[] = [];
  BASE.forEach((line, i) => {
    const p = patch[i + 1];
    if (p === undefined) out.push(line);
    else if (Array.isArray(p)) out.push(...p);
    else out.push(p);
  });
  return [...out, ...extra].join('\n');
}

interface Case {
  code: string;
  bad: string;
  fixed: string;
  line: number;
  column?: number;
  /** The message must say how to fix it. */
  fix: RegExp;
  legacy?: boolean;
}

const GUARDS = ['## guards', '| Name | Expression |', '|---|---|', '| ok | `ctx.n > 0` |'];
const CTX = ['## context', '| Field | Type | Default |', '|---|---|---|', '| n | int | 0 |'];

const cases: Case[] = [
  { code: 'MISSING_INITIAL', bad: base({ 4: '## state a' }), fixed: base(), line: 1, column: 3, fix: /add \[initial\]/ },
  {
    code: 'MISSING_INITIAL',
    bad: base({ 5: ['## state b', '### state b1', '### state b2', '## state c [final]'] }),
    fixed: base({ 5: ['## state b', '### state b1 [initial]', '### state b2', '## state c [final]'] }),
    line: 5,
    column: 4,
    fix: /add \[initial\]/,
  },
  { code: 'DUPLICATE_STATE', bad: base({ 5: ['## state b [final]', '## state b'] }), fixed: base(), line: 6, column: 4, fix: /rename or remove/ },
  {
    code: 'DUPLICATE_REGION',
    bad: base({ 5: ['## state b [parallel]', '### region r', '#### state x [initial]', '### region r', '#### state y [initial]', '## state c [final]'] }),
    fixed: base({ 5: ['## state b [parallel]', '### region r', '#### state x [initial]', '### region s', '#### state y [initial]', '## state c [final]'] }),
    line: 8,
    column: 5,
    fix: /rename one/,
  },
  { code: 'UNKNOWN_STATE', bad: base({ 9: '| a | go | bb |' }), fixed: base(), line: 9, column: 12, fix: /did you mean 'b'/ },
  { code: 'UNKNOWN_STATE', bad: base({ 4: ['## state a [initial]', '- timeout: 5s -> nowhere'] }), fixed: base({ 4: ['## state a [initial]', '- timeout: 5s -> b'] }), line: 5, column: 18, fix: /declare it|did you mean/ },
  {
    code: 'UNKNOWN_GUARD',
    bad: base({ 7: '| Source | Event | Guard | Target |', 8: '|---|---|---|---|', 9: '| a | go | okay | b |' }, [...CTX, ...GUARDS]),
    fixed: base({ 7: '| Source | Event | Guard | Target |', 8: '|---|---|---|---|', 9: '| a | go | !ok | b |' }, [...CTX, ...GUARDS]),
    line: 9,
    column: 12,
    fix: /add a row '\| okay \|.*guards table/,
  },
  {
    code: 'NESTED_PARALLEL',
    bad: base({
      5: ['## state b [parallel]', '### region r', '#### state q [initial, parallel]', '##### region x', '###### state x1 [initial]', '##### region y', '###### state y1 [initial]', '### region s', '#### state z [initial]', '## state c [final]'],
    }),
    fixed: base({ 5: ['## state b [parallel]', '### region r', '#### state q [initial]', '### region s', '#### state z [initial]', '## state c [final]'] }),
    line: 7,
    column: 6,
    fix: /cannot nest.*Add its regions to the outer parallel state/,
  },
  {
    code: 'FINAL_WITH_CHILDREN',
    bad: base({ 5: ['## state b [final]', '### state b1 [initial]'] }),
    fixed: base({ 5: ['## state b [final]'] }),
    line: 5,
    column: 4,
    fix: /Remove \[final\], or move the children out/,
  },
  { code: 'INVALID_HEADING', bad: base({ 5: ['## state b [final]', '## statez'] }), fixed: base(), line: 6, column: 4, fix: /use '## state <name>'/ },
  { code: 'INVALID_HEADING', bad: base({ 5: ['## state b [final]', '#### state c'] }), fixed: base({ 5: ['## state b [final]', '## state c'] }), line: 6, column: 6, fix: /exactly one level below/ },
  {
    code: 'INVALID_HEADING',
    bad: base({ 5: ['## state b [parallel]', '### state x [initial]', '## state c [final]'] }),
    fixed: base({ 5: ['## state b [parallel]', '### region r', '#### state x [initial]', '### region s', '#### state y [initial]', '## state c [final]'] }),
    line: 6,
    column: 5,
    fix: /put it inside a '### region <name>' heading/,
  },
  {
    code: 'NESTING_TOO_DEEP',
    bad: base({ 5: ['## state b [final]', '## state c', '### state c1 [initial]', '#### state c2 [initial]', '##### state c3 [initial]', '###### state c4 [initial]', '####### state c5 [initial]'] }),
    fixed: base({ 5: ['## state b [final]', '## state c', '### state c1 [initial]', '#### state c2 [initial]', '##### state c3 [initial]', '###### state c4 [initial]'] }),
    line: 11,
    column: 1,
    fix: /flatten the hierarchy, or move the inner part into its own machine/,
  },
  {
    code: 'STATE_ORDER',
    bad: base({ 5: [], 9: ['| a | go | b |', '## state b [final]'] }),
    fixed: base(),
    line: 9,
    column: 4,
    fix: /must be contiguous\. Move it up/,
  },
  { code: 'NO_MACHINE', bad: lines('# Notes', 'just prose', '## state a [initial]'), fixed: base(), line: 1, column: 1, fix: /starts a machine with a heading '# machine Name'/ },
  { code: 'NO_STATES', bad: lines('# machine M', '## events', '- go'), fixed: base(), line: 1, column: 3, fix: /add at least one state/ },
  { code: 'MULTIPLE_INITIAL', bad: base({ 5: '## state b [initial, final]' }), fixed: base(), line: 5, column: 4, fix: /keep \[initial\] on exactly one/ },
  {
    code: 'AMBIGUOUS_STATE',
    bad: base({ 5: ['## state b [final]', '## state p', '### state x [initial]', '## state q', '### state x [initial]'], 9: ['| a | go | b |', '| a | go | x |'] }),
    fixed: base({ 5: ['## state b [final]', '## state p', '### state x [initial]', '## state q', '### state x [initial]'], 9: ['| a | go | b |', '| a | go | q.x |'] }),
    line: 14,
    column: 12,
    fix: /write the dotted path.*'p\.x'/,
  },
  { code: 'UNKNOWN_EVENT', bad: base({ 9: '| a | goo | b |' }), fixed: base(), line: 9, column: 7, fix: /did you mean 'go'.*add it to the events list/ },
  { code: 'DUPLICATE_MACHINE', bad: lines(base(), '---', base()), fixed: lines(base(), '---', base({ 1: '# machine N' })), line: 11, column: 3, fix: /rename one/ },
  { code: 'DUPLICATE_EVENT', bad: base({ 3: '- go, go' }), fixed: base(), line: 3, column: 7, fix: /remove one/ },
  {
    code: 'DUPLICATE_GUARD',
    bad: base({}, [...CTX, ...GUARDS, '| ok | `true` |']),
    fixed: base({}, [...CTX, ...GUARDS]),
    line: 18,
    column: 3,
    fix: /keep one definition/,
  },
  {
    code: 'DUPLICATE_ACTION',
    bad: base({}, ['## actions', '| Name | Signature |', '|---|---|', '| act | `(ctx) -> Context` |', '| act | `() -> Context` |']),
    fixed: base({}, ['## actions', '| Name | Signature |', '|---|---|', '| act | `(ctx) -> Context` |']),
    line: 14,
    column: 3,
    fix: /keep one row/,
  },
  { code: 'DUPLICATE_FIELD', bad: base({}, [...CTX, '| n | string | |']), fixed: base({}, CTX), line: 14, column: 3, fix: /remove one row/ },
  { code: 'INVALID_ANNOTATION', bad: base({ 4: '## state a [initail]' }), fixed: base(), line: 4, column: 4, fix: /use initial, final, parallel/ },
  { code: 'INVALID_ANNOTATION', bad: base({ 5: '## state b [final, sync: all-final]' }), fixed: base(), line: 5, column: 4, fix: /add 'parallel'.*or drop 'sync'/ },
  { code: 'INVALID_ANNOTATION', bad: base({ 5: ['## state b [final]', '## state p [parallel]'] }), fixed: base(), line: 6, column: 4, fix: /add 'region <name>' headings/ },
  { code: 'INVALID_STATE_LINE', bad: base({ 4: ['## state a [initial]', '- on_enter: log'] }), fixed: base({ 4: ['## state a [initial]', '- on_entry: log'] }), line: 5, column: 3, fix: /use on_entry, on_exit, timeout/ },
  {
    code: 'INVALID_STATE_LINE',
    bad: base({ 4: ['## state a [initial]', '- on_entry: log', '- on_entry: audit'] }),
    fixed: base({ 4: ['## state a [initial]', '- on_entry: log'] }),
    line: 6,
    column: 13,
    fix: /write one action that does both/,
  },
  { code: 'INVALID_TABLE', bad: base({ 7: '| From state | Event | Target |' }), fixed: base(), line: 7, column: 1, fix: /header must include 'Source', 'Event', 'Target'/ },
  { code: 'INVALID_NAME', bad: base({ 5: '## state 2b [final]', 9: '| a | go | a |' }), fixed: base(), line: 5, column: 4, fix: /use letters, digits and _/ },
  { code: 'INVALID_NAME', bad: base({ 9: '| a | go | b | ' }, []).replace('| a | go | b |', '| a | go-now | b |'), fixed: base(), line: 9, column: 7, fix: /not a valid name/ },
  { code: 'INVALID_TYPE', bad: base({}, [...CTX, '| m | map<string> | |']), fixed: base({}, [...CTX, '| m | map<string, int> | |']), line: 14, column: 7, fix: /Use string, int, decimal, bool, number/ },
  { code: 'INVALID_DEFAULT', bad: base({}, [...CTX, '| s | string | hello |']), fixed: base({}, [...CTX, '| s | string | "hello" |']), line: 14, column: 16, fix: /quote strings \("hello"\)/ },
  { code: 'INVALID_DEFAULT', bad: base({}, [...CTX, '| k | int | 1.5 |']), fixed: base({}, [...CTX, '| k | int | 2 |']), line: 14, column: 13, fix: /write a whole number/ },
  {
    code: 'INVALID_GUARD_EXPRESSION',
    bad: base({}, [...CTX, '## guards', '| Name | Expression |', '|---|---|', '| ok | `ctx.n = 0` |']),
    fixed: base({}, [...CTX, '## guards', '| Name | Expression |', '|---|---|', '| ok | `ctx.n == 0` |']),
    line: 17,
    column: 15,
    fix: /write '==' to compare/,
  },
  {
    code: 'INVALID_GUARD_REFERENCE',
    bad: base({ 7: '| Source | Event | Guard | Target |', 8: '|---|---|---|---|', 9: '| a | go | `ctx.n > 0` | b |' }, [...CTX, ...GUARDS]),
    fixed: base({ 7: '| Source | Event | Guard | Target |', 8: '|---|---|---|---|', 9: '| a | go | ok | b |' }, [...CTX, ...GUARDS]),
    line: 9,
    column: 12,
    fix: /define the expression in '## guards' under a name/,
  },
  {
    code: 'INVALID_SIGNATURE',
    bad: base({}, ['## actions', '| Name | Signature |', '|---|---|', '| act | `ctx => Context` |']),
    fixed: base({}, ['## actions', '| Name | Signature |', '|---|---|', '| act | `(ctx) -> Context + Effect<Mail>` |']),
    line: 13,
    column: 9,
    fix: /write it as '\(ctx: Context, event: E\) -> Context'/,
  },
  {
    code: 'INVALID_PROPERTY',
    bad: base({}, ['## properties', '- responds: b from a']),
    fixed: base({}, ['## properties', '- responds: b from a within 3']),
    line: 11,
    column: 3,
    fix: /add 'within N'/,
  },
  { code: 'INVALID_PROPERTY', bad: base({}, ['## properties', '- eventually: b']), fixed: base({}, ['## properties', '- reachable: b from a']), line: 11, column: 3, fix: /write one of reachable: S from S/ },
  { code: 'INVALID_DURATION', bad: base({ 4: ['## state a [initial]', '- timeout: soon -> b'] }), fixed: base({ 4: ['## state a [initial]', '- timeout: 250ms -> b'] }), line: 5, column: 12, fix: /such as '250ms', '30s'/ },
  {
    code: 'INVALID_INVOKE',
    bad: base({ 4: ['## state a [initial]', '- invoke: Child input: id = ctx.n'] }),
    fixed: base({ 4: ['## state a [initial]', '- invoke: Child input: { id: ctx.n }'] }),
    line: 5,
    column: 11,
    fix: /or 'invoke: ChildMachine input: \{ childField: ctx\.parentField \}'/,
  },
  { code: 'INVALID_INVOKE', bad: base({ 4: ['## state a [initial]', '- on_done: go'] }), fixed: base({ 4: ['## state a [initial]', '- on_done: -> b'] }), line: 5, column: 12, fix: /add '- invoke: ChildMachine'/ },
  // Legacy DSL syntax errors.
  {
    code: 'UNEXPECTED_TOKEN',
    legacy: true,
    bad: lines('machine M', 'events { go }', 'state a [initial] { on_entry: -> log }', 'state b [final] {}', 'transitions {', '  a + go => b', '}'),
    fixed: lines('machine M', 'events { go }', 'state a [initial] { on_entry: -> log }', 'state b [final] {}', 'transitions {', '  a + go -> b', '}'),
    line: 6,
    column: 10,
    fix: /Expected '->' before the target state/,
  },
  {
    code: 'UNEXPECTED_END',
    legacy: true,
    bad: lines('machine M', 'events { go }', 'state a [initial] {', '  on_entry: -> log'),
    fixed: lines('machine M', 'events { go }', 'state a [initial] {', '  on_entry: -> log', '}', 'state b [final]', 'transitions { a + go -> b }'),
    line: 4,
    column: 19,
    fix: /close it with '\}'/,
  },
  {
    code: 'UNTERMINATED_STRING',
    legacy: true,
    bad: lines('machine M', 'events { go }', 'state a [initial] { description: "waiting }', 'state b [final]', 'transitions { a + go -> b }'),
    fixed: lines('machine M', 'events { go }', 'state a [initial] { description: "waiting" }', 'state b [final]', 'transitions { a + go -> b }'),
    line: 3,
    column: 34,
    fix: /add " before the end of the line/,
  },
  {
    code: 'NESTING_TOO_DEEP',
    legacy: true,
    bad: lines('machine M', 'events { go }', 'state a [initial] {', ...Array.from({ length: 18 }, (_, i) => `state s${i} [initial] {`), ...Array.from({ length: 18 }, () => '}'), '}', 'state b [final]', 'transitions { a + go -> b }'),
    fixed: lines('machine M', 'events { go }', 'state a [initial] {', 'state s0 [initial] {', 'state s1 [initial] {}', '}', '}', 'state b [final]', 'transitions { a + go -> b }'),
    line: 20,
    column: 1,
    fix: /flatten the hierarchy/,
  },
  {
    code: 'UNKNOWN_GUARD',
    legacy: true,
    bad: lines('machine M', 'events { go }', 'state a [initial]', 'state b [final]', 'guards { ok: true }', 'transitions { a + go [!okk] -> b }'),
    fixed: lines('machine M', 'events { go }', 'state a [initial]', 'state b [final]', 'guards { ok: true }', 'transitions { a + go [!ok] -> b }'),
    line: 6,
    column: 24,
    fix: /did you mean 'ok'/,
  },
];

describe('parse errors: every code, its position, its fix', () => {
  it.each(cases.map((c, i) => [`${c.code}${c.legacy ? ' (legacy)' : ''} #${i}`, c] as const))('%s', (_name, c) => {
    const found = diagnostics(c.bad, c.legacy);
    const d = found.find((x) => x.code === c.code);
    expect(d, `expected ${c.code}, got ${JSON.stringify(found)}`).toBeDefined();
    expect(d?.line).toBe(c.line);
    if (c.column !== undefined) expect(d?.column).toBe(c.column);
    expect(d?.message).toMatch(c.fix);
    // The fixed machine parses cleanly.
    expect(diagnostics(c.fixed, c.legacy)).toEqual([]);
  });

  it('covers every parse code', () => {
    const covered = new Set(cases.map((c) => c.code));
    expect(Object.values(OrcaParseCode).filter((code) => !covered.has(code))).toEqual([]);
  });

  it('collects every problem into one KeelError with a stable code and a readable message', () => {
    const src = base({ 4: '## state a', 9: '| a | go | nowhere |' });
    let caught: unknown;
    try {
      parseOrcaMarkdown(src, { fileName: 'broken.orca.md' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OrcaParseError);
    expect(caught).toBeInstanceOf(KeelError);
    const err = caught as OrcaParseError;
    expect(err.code).toBe(ORCA_PARSE_ERROR);
    expect(err.diagnostics.map((d) => d.code).sort()).toEqual(['MISSING_INITIAL', 'UNKNOWN_STATE']);
    expect(err.message).toContain('broken.orca.md:9:12 UNKNOWN_STATE');
    expect(err.message).toContain('has 2 errors');
  });

  it('skips fenced code blocks and prose before the first machine', () => {
    const src = lines('Intro prose.', '## state ghost', '# machine M', '```', '## state hidden [initial]', '```', ...BASE.slice(1));
    const file = parseOrcaMarkdown(src);
    expect(file.machines[0]?.states.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('reports a state heading that follows a --- separator', () => {
    const d = diagnostics(lines(base(), '---', '## state late'));
    expect(d[0]).toMatchObject({ code: 'INVALID_HEADING', line: 11 });
    expect(d[0]?.message).toMatch(/start a new machine/);
  });
});
