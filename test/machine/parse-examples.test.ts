import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MachineDef, StateDef } from '../../src/machine/ast.js';
import { legacyToMarkdown } from '../../src/machine/convert.js';
import { parseLegacyMachine } from '../../src/machine/parse-legacy.js';
import { parseMachine, parseOrcaMarkdown } from '../../src/machine/parse-markdown.js';
import { printOrcaMarkdown } from '../../src/machine/print-markdown.js';

const EXAMPLES = fileURLToPath(new URL('../../../shared/orca-examples', import.meta.url));
const read = (name: string): string => readFileSync(`${EXAMPLES}/${name}`, 'utf8');

/** Drops source locations, which legitimately differ between two spellings of one machine. */
function withoutLocs(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'loc' ? undefined : v)));
}

const names = (states: StateDef[]): string[] => states.map((s) => s.name);
const edges = (m: MachineDef): string[] =>
  m.transitions.map((t) => `${t.source}+${t.event}${t.guard ? `[${t.guard.negated ? '!' : ''}${t.guard.name}]` : ''}->${t.target}${t.action ? `:${t.action}` : ''}`);

describe('the example machines parse', () => {
  it('simple-toggle: two states flipping on toggle', () => {
    const m = parseMachine(read('simple-toggle.orca.md'));
    expect(m.name).toBe('SimpleToggle');
    expect(m.version).toBe('0.1.0');
    expect(names(m.states)).toEqual(['off', 'on']);
    expect(m.states[0]?.isInitial).toBe(true);
    expect(m.context).toEqual([{ name: 'count', type: { kind: 'int' }, defaultValue: 0, loc: { line: 7, column: 3 } }]);
    expect(edges(m)).toEqual([
      'off+toggle->on:increment_count',
      'on+toggle->off:increment_count',
      'off+reset->off:reset_count',
      'on+reset->off:reset_count',
    ]);
    expect(m.guards).toEqual([{ name: 'can_toggle', expression: { kind: 'true' }, loc: { line: 33, column: 3 } }]);
  });

  it('payment-with-properties: guards, effects, the six properties', () => {
    const m = parseMachine(read('payment-with-properties.orca.md'));
    expect(names(m.states)).toEqual(['idle', 'validating', 'authorizing', 'authorized', 'declined', 'failed', 'settled']);
    expect(m.states.filter((s) => s.isFinal).map((s) => s.name)).toEqual(['failed', 'settled']);
    expect(m.states[0]).toMatchObject({ description: 'Waiting for a payment submission', onEntry: 'reset_context' });
    expect(m.transitions).toHaveLength(11);
    expect(edges(m)).toContain('declined+retry_requested[can_retry]->validating:increment_retry');
    expect(edges(m)).toContain('declined+retry_requested[!can_retry]->failed:set_max_retries_error');
    expect(m.context.find((f) => f.name === 'payment_token')).toMatchObject({ type: { kind: 'optional', inner: { kind: 'string' } }, defaultValue: null });
    expect(m.guards.find((g) => g.name === 'can_retry')?.expression).toEqual({
      kind: 'compare',
      op: 'lt',
      left: { kind: 'variable', path: ['ctx', 'retry_count'] },
      right: { kind: 'value', type: 'number', value: 3 },
    });
    expect(m.guards.find((g) => g.name === 'has_valid_token')?.expression).toEqual({
      kind: 'nullcheck',
      expr: { kind: 'variable', path: ['ctx', 'payment_token'] },
      isNull: false,
    });
    expect(m.actions.find((a) => a.name === 'send_authorization_request')).toMatchObject({ parameters: [{ name: 'ctx' }], returnType: 'Context', effect: 'AuthRequest' });
    expect(m.actions.find((a) => a.name === 'reset_context')).toMatchObject({ parameters: [], returnType: 'Context' });
    expect(m.actions.find((a) => a.name === 'reset_context')?.effect).toBeUndefined();
    expect(withoutLocs(m.properties)).toEqual([
      { kind: 'passes_through', through: 'authorized', from: 'idle', to: 'settled' },
      { kind: 'unreachable', target: 'settled', from: 'failed' },
      { kind: 'reachable', target: 'authorized', from: 'idle' },
      { kind: 'live' },
      { kind: 'responds', target: 'settled', from: 'idle', within: 5 },
      {
        kind: 'invariant',
        expression: { kind: 'compare', op: 'le', left: { kind: 'variable', path: ['ctx', 'retry_count'] }, right: { kind: 'value', type: 'number', value: 3 } },
      },
    ]);
  });

  it('hierarchical-game: compound states with initial children', () => {
    const m = parseMachine(read('hierarchical-game.orca.md'));
    expect(names(m.states)).toEqual(['idle', 'exploration', 'combat', 'inventory', 'game_over']);
    const exploration = m.states[1];
    expect(names(exploration?.contains ?? [])).toEqual(['overworld', 'dungeon']);
    expect(exploration?.contains?.[0]).toMatchObject({ isInitial: true, parent: 'exploration', description: 'Player is in the overworld' });
    expect(names(m.states[2]?.contains ?? [])).toEqual(['attacking', 'defending', 'using_item']);
    expect(m.states[4]?.isFinal).toBe(true);
    expect(m.context.find((f) => f.name === 'inventory')?.type).toEqual({ kind: 'array', element: { kind: 'string' } });
    expect(edges(m)).toContain('idle+start_game->exploration');
    expect(edges(m)).toContain('exploration+attack[enemy_present]->combat');
    expect(edges(m)).toContain('combat+game_over_trigger->game_over');
    expect(m.transitions).toHaveLength(14);
  });

  it('parallel-order: a parallel state with two regions and on_done', () => {
    const m = parseMachine(read('parallel-order.orca.md'));
    expect(names(m.states)).toEqual(['idle', 'processing', 'completed', 'cancelled']);
    const p = m.states[1];
    expect(p?.parallel?.regions.map((r) => r.name)).toEqual(['payment_flow', 'notification_flow']);
    expect(p?.parallel?.sync).toBeUndefined(); // not written: the interpreter treats it as all-final
    expect(p?.onDone).toBe('completed');
    expect(p?.onEntry).toBe('initializeOrder');
    expect(p?.ignoredEvents).toEqual(['PLACE_ORDER']);
    expect(names(p?.parallel?.regions[0]?.states ?? [])).toEqual(['charging', 'payment_failed', 'paid']);
    expect(p?.parallel?.regions[0]?.states[0]).toMatchObject({ isInitial: true, parent: 'processing.payment_flow', onEntry: 'chargePayment' });
    expect(names(p?.parallel?.regions[1]?.states ?? [])).toEqual(['sending_email', 'sending_sms', 'notified']);
    expect(m.states[0]?.ignoredEvents).toEqual(['PAYMENT_SUCCESS', 'PAYMENT_FAILED', 'EMAIL_SENT', 'SMS_SENT', 'RETRY_PAYMENT', 'CANCEL']);
    expect(edges(m)).toContain('processing+CANCEL->cancelled');
    expect(m.actions.find((a) => a.name === 'chargePayment')?.effect).toBe('PaymentCharge');
  });

  it('payment-processor.legacy.orca: the brace DSL gives the same machine as its markdown twin', () => {
    const legacy = parseLegacyMachine(read('payment-processor.legacy.orca'));
    expect(legacy.name).toBe('PaymentProcessor');
    expect(names(legacy.states)).toEqual(['idle', 'validating', 'authorizing', 'authorized', 'declined', 'failed', 'settled']);
    expect(legacy.states[0]).toMatchObject({ isInitial: true, onEntry: 'reset_context', description: 'Waiting for a payment submission' });
    expect(legacy.context.find((f) => f.name === 'retry_count')).toMatchObject({ type: { kind: 'int' }, defaultValue: 0 });
    expect(legacy.actions.find((a) => a.name === 'initialize_payment')?.parameters).toEqual([
      { name: 'ctx', type: 'Context' },
      { name: 'event', type: 'SubmitPayment' },
    ]);
    // Same topology as the upstream markdown conversion of this machine.
    const md = parseMachine(read('payment-with-properties.orca.md'));
    expect(edges(legacy)).toEqual(edges(md));
    expect(withoutLocs(legacy.guards)).toEqual(withoutLocs(md.guards));
  });
});

describe('markdown printing round-trips', () => {
  it('legacyToMarkdown re-parses to the AST of the legacy source', () => {
    const src = read('payment-processor.legacy.orca');
    const markdown = legacyToMarkdown(src);
    expect(markdown).toMatch(/^# machine PaymentProcessor\n/);
    expect(markdown).toContain('| declined | retry_requested | !can_retry | failed | set_max_retries_error |');
    expect(withoutLocs(parseOrcaMarkdown(markdown))).toEqual(withoutLocs(parseLegacyMachine(src) && { machines: [parseLegacyMachine(src)], decisionTables: [] }));
  });

  it.each(['simple-toggle', 'payment-with-properties', 'hierarchical-game', 'parallel-order'])('%s prints and re-parses unchanged', (name) => {
    const file = parseOrcaMarkdown(read(`${name}.orca.md`));
    expect(withoutLocs(parseOrcaMarkdown(printOrcaMarkdown(file)))).toEqual(withoutLocs(file));
  });

  it('round-trips timeouts, invoke, ignore *, sync, versions and decision tables', () => {
    const src = [
      '# machine Parent',
      '- version: 2.1.0',
      '## context',
      '| Field | Type | Default |',
      '|---|---|---|',
      '| order_id | string | "o-1" |',
      '| tags | map<string, int[]> | {} |',
      '| vip | bool | false |',
      '## events',
      '- go, CHILD_DONE, CHILD_FAILED',
      '## state idle [initial]',
      '- timeout: 1h30m -> waiting',
      '- ignore: *',
      '## state waiting',
      '- invoke: Child input: { id: ctx.order_id }',
      '- on_done: CHILD_DONE',
      '- on_error: CHILD_FAILED',
      '## state both [parallel, sync: any_final]',
      '- on_done: -> done',
      '### region a',
      '#### state a1 [initial, final]',
      '### region b',
      '#### state b1 [initial, final]',
      '## state done [final]',
      '## transitions',
      '| Source | Event | Guard | Target | Action |',
      '|---|---|---|---|---|',
      '| idle | go | is_vip | waiting | _ |',
      '| waiting | CHILD_DONE | | both | |',
      '| waiting | CHILD_FAILED | | done | |',
      '## guards',
      '| Name | Expression |',
      '|---|---|',
      '| is_vip | `vip and (ctx.order_id == "a|b" or not (order_id != null))` |',
      '---',
      '# machine Child',
      '## state work [initial]',
      '## state finished [final]',
      '## transitions',
      '| Source | Event | Target |',
      '|---|---|---|',
      '| work | go | finished |',
      '---',
      '# decision_table Pricing',
      '## conditions',
      '| Name | Type | Values |',
      '|---|---|---|',
      '| tier | enum | gold, silver |',
      '## actions',
      '| Name | Type | Values |',
      '|---|---|---|',
      '| discount | enum | 10, 0 |',
      '## rules',
      '| tier | → discount |',
      '|---|---|',
      '| gold | 10 |',
      '| !gold | 0 |',
    ].join('\n');
    const file = parseOrcaMarkdown(src);
    const parent = file.machines[0];
    expect(parent?.version).toBe('2.1.0');
    expect(parent?.states[0]).toMatchObject({ ignoredAll: true, timeout: { duration: '1h30m', target: 'waiting', durationMs: 5_400_000 } });
    expect(parent?.states[1]?.invoke).toEqual({ machine: 'Child', input: { id: 'ctx.order_id' }, onDone: 'CHILD_DONE', onError: 'CHILD_FAILED' });
    expect(parent?.states[2]?.parallel?.sync).toBe('any-final');
    // A bare bool field reads as `== true`, not as "is not null".
    expect(parent?.guards[0]?.expression).toMatchObject({ kind: 'and', left: { kind: 'compare', op: 'eq', right: { value: true } } });
    expect(file.decisionTables[0]?.rules).toEqual([
      { conditions: { tier: 'gold' }, actions: { discount: '10' }, loc: { line: 56, column: 3 } },
      { conditions: { tier: '!gold' }, actions: { discount: '0' }, loc: { line: 57, column: 3 } },
    ]);
    const printed = printOrcaMarkdown(file);
    expect(withoutLocs(parseOrcaMarkdown(printed))).toEqual(withoutLocs(file));
  });
});
