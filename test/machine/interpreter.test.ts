import { describe, expect, it } from 'vitest';
import type { GuardExpression, MachineDef } from '../../src/machine/ast.js';
import {
  activeLeaves,
  applyEffectResult,
  initialState,
  isActive,
  MachineEventType,
  persist,
  restore,
  transition,
  type ActionImplementation,
  type MachineCommand,
  type MachineEvent,
  type MachineSnapshot,
  type InterpreterOptions,
} from '../../src/machine/interpreter.js';
import {
  action,
  compound,
  field,
  final,
  g,
  initial,
  machine,
  parallel,
  region,
  state,
  t,
} from './fixtures.js';
import { loadExamples } from './examples.js';

const examples = await loadExamples();

/** Sends events in order and returns the last output, failing on any untaken transition. */
function run(m: MachineDef, snapshot: MachineSnapshot, events: (string | MachineEvent)[], options?: InterpreterOptions) {
  let current = snapshot;
  const commands: MachineCommand[] = [];
  for (const e of events) {
    const out = transition(m, current, typeof e === 'string' ? { type: e } : e, options);
    expect(out.result.error, `event ${JSON.stringify(e)}`).toBeUndefined();
    current = out.snapshot;
    commands.push(...out.commands);
  }
  return { snapshot: current, commands };
}

const names = (commands: readonly MachineCommand[]): string[] =>
  commands.map((c) => (c.type === 'action' ? c.name : c.type === 'effect' ? `${c.action}!` : c.type));

describe('the example machines', () => {
  it('simple-toggle: three toggles from off end on, with count 3', () => {
    const m = examples.simpleToggle;
    const actions: Record<string, ActionImplementation> = {
      increment_count: (ctx) => ({ count: (ctx.count as number) + 1 }),
      reset_count: () => ({ count: 0 }),
    };
    const start = initialState(m, { actions });
    expect(start.snapshot.value).toBe('off');
    const { snapshot } = run(m, start.snapshot, ['toggle', 'toggle', 'toggle'], { actions });
    expect(snapshot.value).toBe('on');
    expect(snapshot.context.count).toBe(3);
    expect(run(m, snapshot, ['reset'], { actions }).snapshot).toMatchObject({ value: 'off', context: { count: 0 } });
  });

  it('payment-with-properties: can_retry and !can_retry pick the retry or the failure', () => {
    const m = examples.paymentWithProperties;
    const actions: Record<string, ActionImplementation> = {
      increment_retry: (ctx) => ({ retry_count: (ctx.retry_count as number) + 1 }),
      set_max_retries_error: () => ({ error_message: 'max retries' }),
    };
    const toDeclined = (retry_count: number): MachineSnapshot =>
      run(m, initialState(m, { context: { retry_count }, actions }).snapshot, ['submit_payment', 'payment_declined'], { actions }).snapshot;

    const retried = transition(m, toDeclined(0), { type: 'retry_requested' }, { actions });
    expect(retried.result).toMatchObject({ taken: true, from: 'declined', to: 'validating' });
    expect(retried.snapshot.context.retry_count).toBe(1);

    const failed = transition(m, toDeclined(3), { type: 'retry_requested' }, { actions });
    expect(failed.result).toMatchObject({ taken: true, to: 'failed' });
    expect(failed.snapshot.status).toBe('done');
    expect(failed.snapshot.context).toMatchObject({ retry_count: 3, error_message: 'max retries' });
    expect(failed.commands.at(-1)).toMatchObject({ type: 'done', state: 'failed' });
  });

  it('payment-processor (legacy DSL): the same retry rule as the markdown version', () => {
    const m = examples.paymentProcessorLegacy;
    const declined = (retry_count: number): MachineSnapshot =>
      run(m, initialState(m, { context: { retry_count } }).snapshot, ['submit_payment', 'payment_declined']).snapshot;
    expect(transition(m, declined(2), { type: 'retry_requested' }).result.to).toBe('validating');
    expect(transition(m, declined(3), { type: 'retry_requested' }).result.to).toBe('failed');
  });

  it('payment-with-properties: an Effect<T> entry action becomes an effect command', () => {
    const m = examples.paymentWithProperties;
    const start = initialState(m);
    const out = run(m, start.snapshot, ['submit_payment', 'payment_authorized']);
    const effect = out.commands.find((c) => c.type === 'effect');
    expect(effect).toMatchObject({ effect: 'AuthRequest', action: 'send_authorization_request', phase: 'entry', state: 'authorizing' });
  });

  it('hierarchical-game: compound targets descend, compound sources handle for their children', () => {
    const m = examples.hierarchicalGame;
    const start = initialState(m);
    expect(start.snapshot.value).toBe('idle');
    expect(names(start.commands)).toEqual(['display_menu']);

    const explore = transition(m, start.snapshot, { type: 'start_game' });
    expect(explore.result).toMatchObject({ taken: true, from: 'idle', to: 'exploration.overworld', leaf: 'overworld' });
    expect(explore.snapshot.value).toEqual({ exploration: 'overworld' });

    const fight = transition(m, explore.snapshot, { type: 'attack' });
    expect(fight.result).toMatchObject({ to: 'combat.attacking', leaf: 'attacking' });
    expect(isActive(m, fight.snapshot, 'combat')).toBe(true);

    const over = transition(m, fight.snapshot, { type: 'game_over_trigger' });
    expect(over.result.to).toBe('game_over');
    expect(over.snapshot.status).toBe('done');

    const after = transition(m, over.snapshot, { type: 'start_game' });
    expect(after.result).toMatchObject({ taken: false, error: expect.stringMatching(/is done/) as unknown });
  });

  it('hierarchical-game: a self-transition on a compound state re-enters it at its initial child', () => {
    const m = examples.hierarchicalGame;
    const inInventory = run(m, initialState(m).snapshot, ['start_game', 'open_inventory']).snapshot;
    expect(inInventory.value).toEqual({ inventory: 'closed' });
    const { snapshot, commands } = run(m, inInventory, ['select_item']);
    expect(snapshot.value).toEqual({ inventory: 'closed' });
    expect(names(commands)).toEqual(['select_item_action']);
  });

  it('parallel-order: entering processing enters both regions; both final → completed', () => {
    const m = examples.parallelOrder;
    const placed = transition(m, initialState(m).snapshot, { type: 'PLACE_ORDER' });
    expect(activeLeaves(m, placed.snapshot)).toEqual(['processing.payment_flow.charging', 'processing.notification_flow.sending_email']);
    expect(placed.snapshot.value).toEqual({ processing: { payment_flow: 'charging', notification_flow: 'sending_email' } });
    // Transition action first, then entries outermost first, regions in document order.
    expect(names(placed.commands)).toEqual(['validateOrder', 'initializeOrder', 'chargePayment!', 'sendConfirmationEmail!']);

    const paid = transition(m, placed.snapshot, { type: 'PAYMENT_SUCCESS' });
    expect(paid.result.to).toBe('processing.payment_flow.paid, processing.notification_flow.sending_email');
    expect(paid.snapshot.status).toBe('active');

    const { snapshot, commands } = run(m, paid.snapshot, ['EMAIL_SENT', 'SMS_SENT']);
    expect(snapshot.value).toBe('completed');
    expect(snapshot.status).toBe('done');
    expect(names(commands).slice(-2)).toEqual(['completeOrder', 'done']);
  });

  it('parallel-order: CANCEL from a region leaf leaves the whole parallel state', () => {
    const m = examples.parallelOrder;
    const placed = run(m, initialState(m).snapshot, ['PLACE_ORDER', 'PAYMENT_FAILED', 'EMAIL_SENT']).snapshot;
    expect(activeLeaves(m, placed)).toEqual(['processing.payment_flow.payment_failed', 'processing.notification_flow.sending_sms']);
    const cancelled = transition(m, placed, { type: 'CANCEL' });
    expect(cancelled.result).toMatchObject({ taken: true, to: 'cancelled' });
    expect(cancelled.snapshot.status).toBe('done');
    expect(names(cancelled.commands)).toEqual(['refundIfNeeded!', 'done']);
  });

  it('parallel-order: ignored events, own and inherited from an ancestor', () => {
    const m = examples.parallelOrder;
    const idle = initialState(m).snapshot;
    const ignored = transition(m, idle, { type: 'PAYMENT_SUCCESS' });
    expect(ignored.result).toEqual({ taken: false, from: 'idle', to: 'idle', leaf: 'idle', ignored: true });
    expect(ignored.snapshot).toBe(idle);

    const placed = transition(m, idle, { type: 'PLACE_ORDER' }).snapshot;
    // `processing` ignores PLACE_ORDER; its region leaves inherit that.
    expect(transition(m, placed, { type: 'PLACE_ORDER' }).result).toMatchObject({ taken: false, ignored: true });
    expect(transition(m, placed, { type: 'RETRY_PAYMENT' }).result).toMatchObject({
      taken: false,
      error: 'No transition for event RETRY_PAYMENT from processing.payment_flow.charging, processing.notification_flow.sending_email',
    });
  });
});

describe('transition selection', () => {
  const guarded = (transitions: ReturnType<typeof t>[], guards: Record<string, GuardExpression> = { ok: g.cmp('ctx.n', 'lt', 3) }) =>
    machine('Guarded', {
      context: [field('n', 0)],
      states: [initial('a'), state('yes'), state('no')],
      transitions,
      guards,
    });

  it('honours a negated guard listed before its positive form', () => {
    const m = guarded([t('a', 'go', 'no', { guard: '!ok' }), t('a', 'go', 'yes', { guard: 'ok' })]);
    expect(transition(m, initialState(m, { context: { n: 0 } }).snapshot, { type: 'go' }).result.to).toBe('yes');
    expect(transition(m, initialState(m, { context: { n: 5 } }).snapshot, { type: 'go' }).result.to).toBe('no');
  });

  it('tries every candidate and reports the failed guards', () => {
    const m = guarded([t('a', 'go', 'yes', { guard: 'ok' }), t('a', 'go', 'no', { guard: 'ok' })]);
    const out = transition(m, initialState(m, { context: { n: 9 } }).snapshot, { type: 'go' });
    expect(out.result).toMatchObject({ taken: false, guardFailed: true, error: "Guard 'ok' failed" });
  });

  it('reads the event payload in guards', () => {
    const m = guarded([t('a', 'go', 'yes', { guard: 'big' }), t('a', 'go', 'no')], { big: g.cmp('event.amount', 'gt', 100) });
    const s = initialState(m).snapshot;
    expect(transition(m, s, { type: 'go', payload: { amount: 500 } }).result.to).toBe('yes');
    expect(transition(m, s, { type: 'go', payload: { amount: 5 } }).result.to).toBe('no');
  });

  it('throws on an unknown guard instead of letting it pass', () => {
    const m = guarded([t('a', 'go', 'yes', { guard: 'nowhere' })]);
    expect(() => transition(m, initialState(m).snapshot, { type: 'go' })).toThrow(
      expect.objectContaining({ code: 'ORCA_UNKNOWN_GUARD', message: expect.stringMatching(/guard 'nowhere'/) as unknown }),
    );
  });

  it('uses run-time guard implementations before the guards table', () => {
    const m = guarded([t('a', 'go', 'yes', { guard: 'external' })], {});
    const s = initialState(m).snapshot;
    expect(transition(m, s, { type: 'go' }, { guards: { external: () => true } }).result.to).toBe('yes');
    expect(transition(m, s, { type: 'go' }, { guards: { external: () => false } }).result.guardFailed).toBe(true);
  });

  it('falls back to an ancestor when the leaf candidates fail their guards', () => {
    const m = machine('Fallback', {
      context: [field('n', 0)],
      states: [compound('outer', [initial('inner')]), state('leafWins'), state('parentWins')],
      transitions: [t('inner', 'go', 'leafWins', { guard: 'ok' }), t('outer', 'go', 'parentWins')],
      guards: { ok: g.cmp('ctx.n', 'gt', 0) },
    });
    expect(transition(m, initialState(m, { context: { n: 1 } }).snapshot, { type: 'go' }).result.to).toBe('leafWins');
    expect(transition(m, initialState(m).snapshot, { type: 'go' }).result.to).toBe('parentWins');
  });

  it('refuses an event without a type with a clear error', () => {
    const m = examples.simpleToggle;
    const s = initialState(m).snapshot;
    expect(() => transition(m, s, {} as MachineEvent)).toThrow(expect.objectContaining({ code: 'ORCA_INVALID_EVENT' }));
    expect(() => transition(m, s, { type: 42 } as unknown as MachineEvent)).toThrow(/non-empty string 'type'/);
  });

  it('ignore: * ignores every unhandled event, but not the handled ones', () => {
    const m = machine('IgnoreAll', {
      states: [initial('a', { ignoredAll: true }), state('b')],
      transitions: [t('a', 'go', 'b')],
      events: ['go', 'other'],
    });
    const s = initialState(m).snapshot;
    expect(transition(m, s, { type: 'other' }).result).toMatchObject({ taken: false, ignored: true });
    expect(transition(m, s, { type: 'go' }).result.to).toBe('b');
  });

  it('moves several regions on one event, and lets an ancestor transition preempt them', () => {
    const m = machine('Regions', {
      states: [
        initial('p', { parallel: { regions: [region('r1', [initial('a1'), state('b1')]), region('r2', [initial('a2'), state('b2')])] } }),
        state('out'),
      ],
      transitions: [t('a1', 'tick', 'b1'), t('a2', 'tick', 'b2'), t('b1', 'leave', 'a1'), t('p', 'leave', 'out')],
    });
    const s = initialState(m).snapshot;
    const ticked = transition(m, s, { type: 'tick' });
    expect(ticked.snapshot.value).toEqual({ p: { r1: 'b1', r2: 'b2' } });
    // b1 --leave--> a1 is inside p, p --leave--> out exits p: they conflict and the first in
    // document order (the region leaf's) wins.
    expect(transition(m, ticked.snapshot, { type: 'leave' }).snapshot.value).toEqual({ p: { r1: 'a1', r2: 'b2' } });
  });
});

describe('hierarchy and completion', () => {
  it('starts inside a compound initial state, entry actions outermost first', () => {
    const m = machine('DeepStart', {
      states: [
        initial('outer', {
          onEntry: 'enter_outer',
          contains: [state('x'), initial('mid', { onEntry: 'enter_mid', contains: [initial('leaf', { onEntry: 'enter_leaf' })] })],
        }),
      ],
    });
    const { snapshot, commands } = initialState(m);
    expect(snapshot.value).toEqual({ outer: { mid: 'leaf' } });
    expect(names(commands)).toEqual(['enter_outer', 'enter_mid', 'enter_leaf']);
  });

  it('runs exit actions innermost first, then the transition action, then entry actions', () => {
    const m = machine('Order', {
      states: [
        initial('a', { onExit: 'exit_a', contains: [initial('a1', { onExit: 'exit_a1' })] }),
        state('b', { onEntry: 'enter_b', contains: [initial('b1', { onEntry: 'enter_b1' })] }),
      ],
      transitions: [t('a1', 'go', 'b', { action: 'act' })],
    });
    expect(names(transition(m, initialState(m).snapshot, { type: 'go' }).commands)).toEqual([
      'exit_a1',
      'exit_a',
      'act',
      'enter_b',
      'enter_b1',
    ]);
  });

  it('fires on_done of a compound state when its child is final', () => {
    const m = machine('CompoundDone', {
      states: [initial('task', { onDone: 'next', contains: [initial('working'), final('finished')] }), state('next')],
      transitions: [t('working', 'finish', 'finished')],
    });
    expect(transition(m, initialState(m).snapshot, { type: 'finish' }).result).toMatchObject({ to: 'next', leaf: 'next' });
  });

  it('sync: any-final leaves on the first finished region; custom never leaves by itself', () => {
    const build = (sync: 'any-final' | 'custom') =>
      machine('Sync', {
        states: [
          parallel('p', [region('r1', [initial('a1'), final('f1')]), region('r2', [initial('a2'), final('f2')])], {
            sync,
            onDone: 'out',
            isInitial: true,
          }),
          state('out'),
        ],
        transitions: [t('a1', 'one', 'f1')],
      });
    const any = build('any-final');
    expect(transition(any, initialState(any).snapshot, { type: 'one' }).result.to).toBe('out');
    const custom = build('custom');
    expect(transition(custom, initialState(custom).snapshot, { type: 'one' }).result.to).toBe('p.r1.f1, p.r2.a2');
  });
});

describe('actions and effects', () => {
  const m = machine('Effects', {
    context: [field('n', 0), field('receipt')],
    states: [initial('idle'), state('charging', { onEntry: 'charge' }), final('done')],
    transitions: [t('idle', 'pay', 'charging', { action: 'count' }), t('charging', 'ok', 'done', { action: 'log' })],
    actions: [action('charge', 'Charge'), action('count')],
  });

  it('applies registered actions at once and hands the others to the host', () => {
    const out = transition(m, initialState(m).snapshot, { type: 'pay', payload: { by: 2 } }, {
      actions: { count: (ctx, payload) => ({ n: (ctx.n as number) + (payload as { by: number }).by }) },
    });
    expect(out.snapshot.context.n).toBe(2);
    expect(out.commands).toEqual([
      {
        type: 'effect',
        id: 'e1.0',
        effect: 'Charge',
        action: 'charge',
        phase: 'entry',
        state: 'charging',
        context: { n: 2, receipt: null },
        event: { type: 'pay', payload: { by: 2 } },
      },
    ]);
    const logged = transition(m, out.snapshot, { type: 'ok' });
    expect(logged.commands[0]).toMatchObject({ type: 'action', name: 'log', phase: 'transition', state: 'charging' });
  });

  it('merges an effect result into the context, as a helper or as a host event', () => {
    const s = transition(m, initialState(m).snapshot, { type: 'pay' }).snapshot;
    const viaHelper = applyEffectResult(m, s, { id: 'e1.0', ok: true, data: { receipt: 'r-1' } }).snapshot;
    expect(viaHelper.context.receipt).toBe('r-1');
    const viaEvent = transition(m, s, { type: MachineEventType.EffectDone, payload: { id: 'e1.0', data: { receipt: 'r-2' } } });
    expect(viaEvent.snapshot.context.receipt).toBe('r-2');
    expect(applyEffectResult(m, s, { id: 'e1.0', ok: false, error: 'declined' }).snapshot).toBe(s);
  });

  it('rejects an action that returns a promise, and says to declare an effect', () => {
    const slow = (): Promise<object> => Promise.resolve({});
    expect(() => transition(m, initialState(m).snapshot, { type: 'pay' }, { actions: { count: slow as never } })).toThrow(
      /returned a promise.*Effect<T>/,
    );
  });
});

describe('timeouts', () => {
  const m = machine('Timeouts', {
    states: [
      initial('waiting', { timeout: { duration: '30s', target: 'expired' } }),
      state('quick', { timeout: { duration: '250', target: 'expired' } }),
      state('slow', { timeout: { duration: '2m', target: 'expired' } }),
      state('expired'),
    ],
    transitions: [t('waiting', 'go', 'quick'), t('quick', 'go', 'slow'), t('slow', 'go', 'waiting')],
  });

  it('starts timers with real units and cancels them on exit', () => {
    const start = initialState(m, { now: 1_000 });
    expect(start.commands).toEqual([{ type: 'startTimer', id: 't0.0', state: 'waiting', ms: 30_000, target: 'expired', dueAt: 31_000 }]);
    expect(start.snapshot.timers).toHaveLength(1);
    const quick = transition(m, start.snapshot, { type: 'go' });
    expect(quick.commands).toEqual([
      { type: 'cancelTimer', id: 't0.0', state: 'waiting' },
      { type: 'startTimer', id: 't1.0', state: 'quick', ms: 250, target: 'expired' },
    ]);
    const slow = transition(m, quick.snapshot, { type: 'go' });
    expect(slow.commands[1]).toMatchObject({ type: 'startTimer', ms: 120_000 });
  });

  it('takes the timeout transition when the timer fires, and ignores a stale one', () => {
    const start = initialState(m).snapshot;
    const fired = transition(m, start, { type: MachineEventType.Timeout, payload: { id: 't0.0', state: 'waiting' } });
    expect(fired.result).toMatchObject({ taken: true, to: 'expired' });
    expect(fired.snapshot.timers).toBeUndefined();
    expect(fired.commands).toEqual([]);

    const moved = transition(m, start, { type: 'go' }).snapshot;
    const stale = transition(m, moved, { type: MachineEventType.Timeout, payload: { id: 't0.0', state: 'waiting' } });
    expect(stale.result).toMatchObject({ taken: false, error: expect.stringMatching(/stale/) as unknown });
  });
});

describe('invoke', () => {
  const parent = machine('Parent', {
    context: [field('order_id', 'o-1'), field('result')],
    events: ['child_done', 'child_failed', 'abort'],
    states: [
      initial('running', {
        onEntry: 'never_runs',
        invoke: { machine: 'Child', input: { id: 'ctx.order_id', fixed: '7' }, onDone: 'child_done', onError: 'child_failed' },
      }),
      final('ok'),
      final('broken'),
      final('aborted'),
    ],
    transitions: [
      t('running', 'child_done', 'ok', { action: 'keep' }),
      t('running', 'child_failed', 'broken'),
      t('running', 'abort', 'aborted'),
    ],
  });

  it('starts the child on entry with the mapped input, instead of the entry action', () => {
    const { snapshot, commands } = initialState(parent);
    expect(commands).toEqual([{ type: 'invoke', id: 'c0.0', state: 'running', machine: 'Child', input: { id: 'o-1', fixed: 7 } }]);
    expect(snapshot.children).toEqual([{ id: 'c0.0', state: 'running', machine: 'Child', input: { id: 'o-1', fixed: 7 } }]);
  });

  it('turns the child finishing into the on_done event, with the child output', () => {
    const s = initialState(parent).snapshot;
    let seen: unknown;
    const out = transition(
      parent,
      s,
      { type: MachineEventType.InvokeDone, payload: { id: 'c0.0', finalState: 'end', context: { total: 3 } } },
      { actions: { keep: (_ctx, payload) => void (seen = payload) } },
    );
    expect(out.result.to).toBe('ok');
    expect(seen).toEqual({ child: 'Child', finalState: 'end', context: { total: 3 } });
    expect(out.snapshot.children).toBeUndefined();
    // The child has already ended: leaving the state does not stop it again.
    expect(out.commands.some((c) => c.type === 'stopChild')).toBe(false);
  });

  it('turns the child failing into the on_error event', () => {
    const out = transition(parent, initialState(parent).snapshot, { type: MachineEventType.InvokeError, payload: { id: 'c0.0', error: 'boom' } });
    expect(out.result.to).toBe('broken');
  });

  it('stops the child when the state is left, and ignores the report of a stopped child', () => {
    const out = transition(parent, initialState(parent).snapshot, { type: 'abort' });
    expect(out.commands[0]).toEqual({ type: 'stopChild', id: 'c0.0', state: 'running', machine: 'Child' });
    expect(transition(parent, out.snapshot, { type: MachineEventType.InvokeDone, payload: { id: 'c0.0' } }).result.taken).toBe(false);
  });
});

describe('persist and restore', () => {
  it('restores a snapshot without running entry actions, and carries on from it', () => {
    const m = examples.parallelOrder;
    const placed = run(m, initialState(m).snapshot, ['PLACE_ORDER', 'PAYMENT_SUCCESS']).snapshot;
    const text = JSON.stringify(persist(placed));
    const restored = restore(m, text);
    expect(restored).toEqual(placed);
    const { snapshot, commands } = run(m, restored, ['EMAIL_SENT', 'SMS_SENT']);
    expect(snapshot.value).toBe('completed');
    expect(names(commands)).toEqual(['sendSmsNotification!', 'completeOrder', 'done']);
  });

  it('keeps timers and children in the snapshot', () => {
    const m = machine('T', {
      states: [initial('a', { timeout: { duration: '1h', target: 'b' } }), state('b')],
      transitions: [],
    });
    const restored = restore(m, JSON.stringify(persist(initialState(m).snapshot)));
    expect(restored.timers).toEqual([{ id: 't0.0', state: 'a', ms: 3_600_000, target: 'b' }]);
    expect(transition(m, restored, { type: MachineEventType.Timeout, payload: { id: 't0.0' } }).result.to).toBe('b');
  });

  it('refuses a snapshot of another machine or with a state the machine lacks', () => {
    const m = examples.hierarchicalGame;
    const good = persist(initialState(m).snapshot);
    expect(() => restore(examples.simpleToggle, good)).toThrow(/belongs to machine 'HierarchicalGame'/);
    expect(() => restore(m, { ...good, value: { exploration: 'moon' } })).toThrow(/does not fit/);
    expect(restore(m, { ...good, value: { combat: 'defending' } }).value).toEqual({ combat: 'defending' });
    const timers = [{ id: 't1.0', state: 'combat', ms: 1, target: 'idle' }];
    expect(() => restore(m, { ...good, timers })).toThrow(/timer .* is not on an active state/);
  });
});
