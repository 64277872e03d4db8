import { describe, expect, it } from 'vitest';
import type { MachineDef } from '../../src/machine/ast.js';
import { compileMermaid } from '../../src/machine/compile-mermaid.js';
import { compileXState, xstateGuards, type XStateMachineConfig } from '../../src/machine/compile-xstate.js';
import { initialState, transition, type ActionImplementation, type MachineCommand, type MachineSnapshot } from '../../src/machine/interpreter.js';
import { compound, final, initial, machine, parallel, region, state, t } from './fixtures.js';
import { loadExamples } from './examples.js';

const examples = await loadExamples();

describe('compile to Mermaid', () => {
  it('draws nested states with their initial arrows, and guarded, acting transitions', () => {
    const text = compileMermaid(examples.hierarchicalGame);
    expect(text.startsWith('stateDiagram-v2\n  [*] --> idle\n')).toBe(true);
    expect(text).toContain('  state combat {\n    [*] --> attacking\n    attacking\n    defending\n    using_item\n  }');
    expect(text).toContain('  combat --> exploration : flee [can_flee] / flee_combat');
    expect(text).toContain('  game_over --> [*]');
    expect(text).toContain('  idle : entry / display_menu');
  });

  it('draws parallel regions separated by --, with edges inside their region and done edges', () => {
    const text = compileMermaid(examples.parallelOrder);
    expect(text).toContain(
      [
        '  state processing {',
        '    state "payment_flow" as processing_payment_flow {',
        '      [*] --> charging',
      ].join('\n'),
    );
    expect(text).toMatch(/ {4}\}\n {4}--\n {4}state "notification_flow" as processing_notification_flow \{/);
    expect(text).toContain('      charging --> paid : PAYMENT_SUCCESS');
    expect(text).toContain('      paid --> [*]');
    expect(text).toContain('  processing --> completed : done');
    expect(text).toContain('  processing --> cancelled : CANCEL');
  });

  it('writes negated guards and timeouts, and gives clashing names their path as id', () => {
    const m = machine('Clash', {
      states: [
        compound('a', [initial('x', { timeout: { duration: '30s', target: 'b' } })], { isInitial: true }),
        compound('b', [initial('x')]),
      ],
      transitions: [t('a.x', 'go', 'b.x', { guard: '!ready' })],
      guards: { ready: { kind: 'true' } },
    });
    const text = compileMermaid(m);
    expect(text).toContain('    state "x" as a_x');
    expect(text).toContain('  a_x --> b_x : go [!ready]');
    expect(text).toContain('  a_x --> b : after 30s');
  });
});

describe('compile to an XState v5 config', () => {
  it('turns guarded alternatives into arrays with { type } guards, negation included', () => {
    const config = compileXState(examples.paymentWithProperties);
    expect(config).toMatchObject({ id: 'PaymentWithProperties', initial: 'idle', context: { retry_count: 0, order_id: null } });
    expect(config.states?.declined?.on?.retry_requested).toEqual([
      { target: '#PaymentWithProperties.validating', guard: { type: 'can_retry' }, actions: ['increment_retry'] },
      { target: '#PaymentWithProperties.failed', guard: { type: '!can_retry' }, actions: ['set_max_retries_error'] },
    ]);
    expect(config.states?.failed).toMatchObject({ type: 'final', entry: ['record_failure'] });
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });

  it('compiles compound states with initial, parallel states with regions, onDone and ignores', () => {
    const game = compileXState(examples.hierarchicalGame);
    expect(game.states?.exploration).toMatchObject({ initial: 'overworld', states: { overworld: {}, dungeon: {} } });
    // Orca transitions are external: a compound state targeting itself re-enters.
    expect(game.states?.exploration?.on?.go_north).toEqual({ target: '#HierarchicalGame.exploration', actions: ['move_north'], reenter: true });

    const order = compileXState(examples.parallelOrder);
    const processing = order.states?.processing;
    expect(processing).toMatchObject({ type: 'parallel', onDone: { target: '#ParallelOrderProcessor.completed' }, on: { PLACE_ORDER: {} } });
    expect(Object.keys(processing?.states ?? {})).toEqual(['payment_flow', 'notification_flow']);
    expect(processing?.states?.payment_flow?.states?.charging?.on?.PAYMENT_SUCCESS).toEqual({
      target: '#ParallelOrderProcessor.processing.payment_flow.paid',
    });
  });

  it('compiles timeouts to after, any-final to region onDone, and invoke', () => {
    const m = machine('Misc', {
      events: ['child_ok'],
      states: [
        initial('wait', { timeout: { duration: '2m', target: 'p' }, ignoredAll: true }),
        parallel('p', [region('r1', [initial('a1'), final('f1')]), region('r2', [initial('a2'), final('f2')])], { sync: 'any-final', onDone: 'call' }),
        state('call', { invoke: { machine: 'Child', input: { id: 'ctx.id' }, onDone: 'child_ok' } }),
        final('end'),
      ],
      transitions: [t('call', 'child_ok', 'end')],
    });
    const config = compileXState(m);
    expect(config.states?.wait).toEqual({ on: { '*': {} }, after: { 120000: { target: '#Misc.p' } } });
    expect(config.states?.p?.onDone).toBeUndefined();
    expect(config.states?.p?.states?.r1?.onDone).toEqual({ target: '#Misc.call' });
    expect(config.states?.call).toEqual({ invoke: { id: 'call', src: 'Child', onDone: { target: '#Misc.end' } }, meta: { input: { id: 'ctx.id' } } });
  });
});

// ---------------------------------------------------------------------------------------------
// The same machine in XState and in Keel reaches the same states. XState is a benchmark peer, not
// a dependency: the test runs when the package is installed and says so when it is not.

interface XStateActor {
  start(): void;
  stop(): void;
  send(event: { type: string; payload?: unknown }): void;
  getSnapshot(): { value: unknown; context: Record<string, unknown>; status: string };
}
interface XStateModule {
  createMachine(config: unknown, implementations?: unknown): unknown;
  createActor(logic: unknown): XStateActor;
  assign(fn: (args: { context: Record<string, unknown>; event: { type: string; payload?: unknown } }) => Record<string, unknown>): unknown;
}

// xstate is a dev dependency: the comparison always runs (a missing package fails the suite).
const xstate = (await import('xstate')) as unknown as XStateModule;

/** Action names in execution order, from Keel's commands (no action registered). */
function keelActionNames(commands: readonly MachineCommand[]): string[] {
  return commands.flatMap((c) => (c.type === 'action' ? [c.name] : c.type === 'effect' ? [c.action] : []));
}

function compare(m: MachineDef, events: string[], context: Record<string, unknown> = {}, actions: Record<string, ActionImplementation> = {}) {
  const x = xstate;
  const log: string[] = [];
  const config: XStateMachineConfig = compileXState(m);
  const names = new Set([...m.actions.map((a) => a.name), ...m.transitions.flatMap((tr) => (tr.action ? [tr.action] : []))]);
  names.delete('_');
  const xActions: Record<string, unknown> = {};
  for (const name of names) {
    const impl = actions[name];
    xActions[name] = impl
      ? x.assign(({ context: ctx, event }) => {
          log.push(name);
          return impl(ctx, event.payload, { event, state: '', phase: 'transition' }) ?? {};
        })
      : () => void log.push(name);
  }
  const actor = x.createActor(x.createMachine({ ...config, context: { ...config.context, ...context } }, { guards: xstateGuards(m), actions: xActions }));
  actor.start();

  const keelLog: string[] = [];
  // Keel gets the patching actions registered too; their names are logged by a wrapper.
  const keelActions: Record<string, ActionImplementation> = {};
  for (const [name, impl] of Object.entries(actions)) keelActions[name] = (c, p, meta) => (keelLog.push(name), impl(c, p, meta));
  // Registered actions log as they run, the others as their commands come out: the two only
  // interleave correctly when a step mixes them in that order, so tests compare logs where they don't.
  const withLog = (commands: readonly MachineCommand[]) => keelLog.push(...keelActionNames(commands));
  const start = initialState(m, { context, actions: keelActions });
  let snapshot: MachineSnapshot = start.snapshot;
  withLog(start.commands);
  const rows: { event: string; keel: unknown; xstate: unknown }[] = [{ event: '(start)', keel: snapshot.value, xstate: actor.getSnapshot().value }];
  for (const type of events) {
    // XState warns about events sent to a finished actor; Keel answers them with an error result.
    if (actor.getSnapshot().status === 'done') {
      expect(transition(m, snapshot, { type }).result.taken).toBe(false);
      continue;
    }
    const out = transition(m, snapshot, { type }, { actions: keelActions });
    snapshot = out.snapshot;
    withLog(out.commands);
    actor.send({ type });
    rows.push({ event: type, keel: snapshot.value, xstate: actor.getSnapshot().value });
  }
  const xs = actor.getSnapshot();
  actor.stop();
  return { rows, keel: snapshot, xstate: xs, keelLog, xstateLog: log };
}

describe('compiled configs run in XState like in Keel', () => {
  it('simple-toggle', () => {
    const inc: ActionImplementation = (ctx) => ({ count: (ctx.count as number) + 1 });
    const r = compare(examples.simpleToggle, ['toggle', 'toggle', 'toggle', 'reset', 'toggle'], {}, { increment_count: inc, reset_count: () => ({ count: 0 }) });
    for (const row of r.rows) expect(row.keel, row.event).toEqual(row.xstate);
    expect(r.keel.context).toEqual(r.xstate.context);
    expect(r.keelLog).toEqual(r.xstateLog);
  });

  it('payment-with-properties, retry allowed and exhausted', () => {
    const inc: ActionImplementation = (ctx) => ({ retry_count: (ctx.retry_count as number) + 1 });
    const events = ['submit_payment', 'payment_declined', 'retry_requested', 'payment_authorized', 'payment_declined', 'retry_requested'];
    for (const retry_count of [0, 2, 3]) {
      const r = compare(examples.paymentWithProperties, events, { retry_count }, { increment_retry: inc });
      for (const row of r.rows) expect(row.keel, `${row.event} from ${retry_count}`).toEqual(row.xstate);
      expect(r.keel.context).toEqual(r.xstate.context);
      expect(r.keel.status === 'done').toBe(r.xstate.status === 'done');
    }
  });

  it('payment-processor (legacy)', () => {
    const r = compare(examples.paymentProcessorLegacy, ['submit_payment', 'payment_authorized', 'payment_authorized', 'refund_requested']);
    for (const row of r.rows) expect(row.keel, row.event).toEqual(row.xstate);
    expect(r.keelLog).toEqual(r.xstateLog);
  });

  it('hierarchical-game', () => {
    const r = compare(examples.hierarchicalGame, [
      'start_game',
      'go_north',
      'attack',
      'defend',
      'flee',
      'open_inventory',
      'select_item',
      'close_inventory',
      'attack',
      'attack',
      'game_over_trigger',
    ]);
    for (const row of r.rows) expect(row.keel, row.event).toEqual(row.xstate);
    expect(r.keelLog).toEqual(r.xstateLog);
    expect(r.xstate.status).toBe('done');
  });

  it('parallel-order: completion, cancellation and ignored events', () => {
    for (const events of [
      ['PLACE_ORDER', 'PLACE_ORDER', 'PAYMENT_FAILED', 'RETRY_PAYMENT', 'EMAIL_SENT', 'PAYMENT_SUCCESS', 'SMS_SENT'],
      ['PAYMENT_SUCCESS', 'PLACE_ORDER', 'EMAIL_SENT', 'CANCEL'],
    ]) {
      const r = compare(examples.parallelOrder, events);
      for (const row of r.rows) expect(row.keel, row.event).toEqual(row.xstate);
      expect(r.keelLog).toEqual(r.xstateLog);
    }
  });

  it('a parallel state nested in a compound one, with a deep transition into a region', () => {
    const m = machine('Deep', {
      states: [
        initial('idle'),
        compound('outer', [
          initial('prep'),
          parallel('work', [region('r1', [initial('a'), state('b'), final('c')]), region('r2', [initial('x'), final('y')])], { onDone: 'wrap' }),
          state('wrap'),
        ]),
      ],
      transitions: [t('idle', 'jump', 'b'), t('b', 'next', 'c'), t('x', 'next', 'y'), t('outer', 'reset', 'idle')],
    });
    const r = compare(m, ['jump', 'next', 'reset', 'jump']);
    for (const row of r.rows) expect(row.keel, row.event).toEqual(row.xstate);
  });

  it('agrees with Keel on seeded random event sequences over every example machine', () => {
    // A small LCG: the same sequences on every run, so a failure can be replayed.
    let seed = 20_251_122;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
      return (seed >>> 8) % n;
    };
    const inc: ActionImplementation = (ctx) => ({ retry_count: (ctx.retry_count as number) + 1 });
    const machines: MachineDef[] = [
      examples.simpleToggle,
      examples.paymentWithProperties,
      examples.paymentProcessorLegacy,
      examples.hierarchicalGame,
      examples.parallelOrder,
    ];
    for (const m of machines) {
      const events = m.events.map((e) => e.name);
      for (let run = 0; run < 60; run++) {
        const sequence = Array.from({ length: 25 }, () => events[random(events.length)] as string);
        const r = compare(m, sequence, {}, { increment_retry: inc });
        for (const row of r.rows) expect(row.keel, `${m.name}: ${sequence.join(' ')} at ${row.event}`).toEqual(row.xstate);
        expect(r.keel.context).toEqual(r.xstate.context);
      }
    }
  });
});
