/**
 * Small builders for Orca ASTs in tests (machines the example files do not cover), and a
 * simulated clock.
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
