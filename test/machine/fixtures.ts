/**
 * Small builders for Orca ASTs in tests, and hand-built copies of the example machines in
 * `/work/shared/orca-examples` (used where a test needs a variant the files do not have).
 */
import type {
  ActionSignature,
  ContextField,
  GuardExpression,
  MachineDef,
  RegionDef,
  StateDef,
  SyncMode,
  Transition,
} from '../../src/machine/ast.js';

type StateOptions = Omit<Partial<StateDef>, 'name'>;

export function state(name: string, options: StateOptions = {}): StateDef {
  return { name, isInitial: false, isFinal: false, ...options };
}

export function initial(name: string, options: StateOptions = {}): StateDef {
  return state(name, { ...options, isInitial: true });
}

export function final(name: string, options: StateOptions = {}): StateDef {
  return state(name, { ...options, isFinal: true });
}

export function compound(name: string, children: StateDef[], options: StateOptions = {}): StateDef {
  return state(name, { ...options, contains: children });
}

export function parallel(name: string, regions: RegionDef[], options: StateOptions & { sync?: SyncMode } = {}): StateDef {
  const { sync, ...rest } = options;
  return state(name, { ...rest, parallel: sync === undefined ? { regions } : { regions, sync } });
}

export function region(name: string, states: StateDef[]): RegionDef {
  return { name, states };
}

/** `t('declined', 'retry_requested', 'failed', { guard: '!can_retry', action: 'x' })`. */
export function t(source: string, event: string, target: string, options: { guard?: string; action?: string } = {}): Transition {
  const out: Transition = { source, event, target };
  if (options.guard !== undefined) {
    const negated = options.guard.startsWith('!');
    out.guard = { name: negated ? options.guard.slice(1) : options.guard, negated };
  }
  if (options.action !== undefined) out.action = options.action;
  return out;
}

export function field(name: string, defaultValue: unknown = null): ContextField {
  return { name, type: { kind: 'custom', name: 'any' }, defaultValue };
}

export function action(name: string, effect?: string): ActionSignature {
  const out: ActionSignature = { name, parameters: [{ name: 'ctx' }], returnType: 'Context' };
  if (effect !== undefined) out.effect = effect;
  return out;
}

export const g = {
  true: (): GuardExpression => ({ kind: 'true' }),
  /** `ctx.<path> <op> <value>` */
  cmp: (path: string, op: 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge', value: number | string | boolean): GuardExpression => ({
    kind: 'compare',
    op,
    left: { kind: 'variable', path: path.split('.') },
    right: { kind: 'value', type: typeof value as 'number' | 'string' | 'boolean', value },
  }),
  notNull: (path: string): GuardExpression => ({ kind: 'nullcheck', expr: { kind: 'variable', path: path.split('.') }, isNull: false }),
};

export function machine(
  name: string,
  parts: {
    context?: ContextField[];
    events?: string[];
    states: StateDef[];
    transitions?: Transition[];
    guards?: Record<string, GuardExpression>;
    actions?: ActionSignature[];
  },
): MachineDef {
  const transitions = parts.transitions ?? [];
  const events = parts.events ?? [...new Set(transitions.map((tr) => tr.event))];
  return {
    name,
    version: '0.1.0',
    context: parts.context ?? [],
    events: events.map((e) => ({ name: e })),
    states: parts.states,
    transitions,
    guards: Object.entries(parts.guards ?? {}).map(([n, expression]) => ({ name: n, expression })),
    actions: parts.actions ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// The example machines, built by hand (same content as the files in /work/shared/orca-examples).

export const simpleToggle = machine('SimpleToggle', {
  context: [field('count', 0)],
  events: ['toggle', 'reset'],
  states: [initial('off'), state('on')],
  transitions: [
    t('off', 'toggle', 'on', { action: 'increment_count' }),
    t('on', 'toggle', 'off', { action: 'increment_count' }),
    t('off', 'reset', 'off', { action: 'reset_count' }),
    t('on', 'reset', 'off', { action: 'reset_count' }),
  ],
  guards: { can_toggle: g.true() },
  actions: [action('increment_count'), action('reset_count')],
});

export const paymentWithProperties = machine('PaymentWithProperties', {
  context: [
    field('order_id'),
    field('amount'),
    field('currency'),
    field('retry_count', 0),
    field('payment_token'),
    field('error_message'),
  ],
  states: [
    initial('idle', { onEntry: 'reset_context' }),
    state('validating', { onEntry: 'validate_payment_details' }),
    state('authorizing', { onEntry: 'send_authorization_request' }),
    state('authorized', { onEntry: 'log_authorization' }),
    state('declined', { onEntry: 'format_decline_reason' }),
    final('failed', { onEntry: 'record_failure' }),
    final('settled', { onEntry: 'record_settlement' }),
  ],
  transitions: [
    t('idle', 'submit_payment', 'validating', { action: 'initialize_payment' }),
    t('validating', 'payment_authorized', 'authorizing', { action: 'prepare_auth_request' }),
    t('validating', 'payment_declined', 'declined'),
    t('authorizing', 'payment_authorized', 'authorized', { action: 'record_auth_code' }),
    t('authorizing', 'payment_declined', 'declined', { action: 'increment_retry' }),
    t('authorizing', 'payment_timeout', 'declined', { action: 'set_timeout_error' }),
    t('declined', 'retry_requested', 'validating', { guard: 'can_retry', action: 'increment_retry' }),
    t('declined', 'retry_requested', 'failed', { guard: '!can_retry', action: 'set_max_retries_error' }),
    t('declined', 'cancel_requested', 'failed'),
    t('authorized', 'settlement_confirmed', 'settled'),
    t('authorized', 'refund_requested', 'failed', { action: 'process_refund' }),
  ],
  guards: { can_retry: g.cmp('ctx.retry_count', 'lt', 3), has_valid_token: g.notNull('ctx.payment_token') },
  actions: [
    action('reset_context'),
    action('initialize_payment'),
    action('validate_payment_details'),
    action('send_authorization_request', 'AuthRequest'),
    action('prepare_auth_request'),
    action('record_auth_code'),
    action('increment_retry'),
    action('set_timeout_error'),
    action('set_max_retries_error'),
    action('format_decline_reason'),
    action('process_refund', 'RefundRequest'),
    action('record_failure'),
    action('log_authorization'),
    action('record_settlement'),
  ],
});

export const hierarchicalGame = machine('HierarchicalGame', {
  context: [field('current_room'), field('inventory'), field('health', 100), field('enemy_health', 50), field('selected_item')],
  states: [
    initial('idle', { onEntry: 'display_menu' }),
    compound('exploration', [initial('overworld'), state('dungeon')]),
    compound('combat', [initial('attacking'), state('defending'), state('using_item')]),
    compound('inventory', [initial('closed'), state('open'), state('selecting')]),
    final('game_over'),
  ],
  transitions: [
    t('idle', 'start_game', 'exploration'),
    t('exploration', 'go_north', 'exploration', { action: 'move_north' }),
    t('exploration', 'go_south', 'exploration', { action: 'move_south' }),
    t('exploration', 'look', 'exploration', { action: 'describe_location' }),
    t('exploration', 'attack', 'combat', { guard: 'enemy_present' }),
    t('exploration', 'open_inventory', 'inventory'),
    t('combat', 'attack', 'combat', { action: 'resolve_attack' }),
    t('combat', 'defend', 'combat', { action: 'start_defend' }),
    t('combat', 'use_item', 'combat', { guard: 'item_in_inventory', action: 'use_item_action' }),
    t('combat', 'flee', 'exploration', { guard: 'can_flee', action: 'flee_combat' }),
    t('inventory', 'close_inventory', 'exploration', { action: 'close_inv' }),
    t('inventory', 'select_item', 'inventory', { action: 'select_item_action' }),
    t('exploration', 'game_over_trigger', 'game_over'),
    t('combat', 'game_over_trigger', 'game_over'),
  ],
  guards: { enemy_present: g.true(), can_flee: g.true(), item_in_inventory: g.true() },
  actions: ['display_menu', 'move_north', 'move_south', 'describe_location', 'resolve_attack', 'start_defend', 'use_item_action', 'flee_combat', 'close_inv', 'select_item_action'].map((n) => action(n)),
});

export const parallelOrder = machine('ParallelOrderProcessor', {
  context: [field('order_id'), field('payment_status'), field('notification_status'), field('amount', 0)],
  events: ['PLACE_ORDER', 'PAYMENT_SUCCESS', 'PAYMENT_FAILED', 'EMAIL_SENT', 'SMS_SENT', 'RETRY_PAYMENT', 'CANCEL'],
  states: [
    initial('idle', { ignoredEvents: ['PAYMENT_SUCCESS', 'PAYMENT_FAILED', 'EMAIL_SENT', 'SMS_SENT', 'RETRY_PAYMENT', 'CANCEL'] }),
    parallel(
      'processing',
      [
        region('payment_flow', [
          initial('charging', { onEntry: 'chargePayment' }),
          state('payment_failed'),
          final('paid', { onEntry: 'recordPayment' }),
        ]),
        region('notification_flow', [
          initial('sending_email', { onEntry: 'sendConfirmationEmail' }),
          state('sending_sms', { onEntry: 'sendSmsNotification' }),
          final('notified'),
        ]),
      ],
      { onEntry: 'initializeOrder', ignoredEvents: ['PLACE_ORDER'], onDone: 'completed' },
    ),
    final('completed', { onEntry: 'completeOrder' }),
    final('cancelled', { onEntry: 'refundIfNeeded' }),
  ],
  transitions: [
    t('idle', 'PLACE_ORDER', 'processing', { action: 'validateOrder' }),
    t('charging', 'PAYMENT_SUCCESS', 'paid'),
    t('charging', 'PAYMENT_FAILED', 'payment_failed'),
    t('payment_failed', 'RETRY_PAYMENT', 'charging'),
    t('sending_email', 'EMAIL_SENT', 'sending_sms'),
    t('sending_sms', 'SMS_SENT', 'notified'),
    t('processing', 'CANCEL', 'cancelled'),
  ],
  guards: { hasValidAmount: g.cmp('ctx.amount', 'gt', 0) },
  actions: [
    action('validateOrder'),
    action('initializeOrder'),
    action('chargePayment', 'PaymentCharge'),
    action('recordPayment'),
    action('sendConfirmationEmail', 'EmailSend'),
    action('sendSmsNotification', 'SmsSend'),
    action('completeOrder'),
    action('refundIfNeeded', 'PaymentRefund'),
  ],
});

export const exampleMachines = { simpleToggle, paymentWithProperties, hierarchicalGame, parallelOrder };

// ---------------------------------------------------------------------------------------------
// A simulated clock (STYLE §9): timers fire only when the test advances time.

export class FakeClock {
  private time: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const id = this.seq++;
    this.pending.set(id, { at: this.time + ms, fn });
    return () => {
      this.pending.delete(id);
    };
  }

  /** Timers not yet fired or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  /** Moves time forward, firing due timers in order of their due time. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = until;
  }
}
