/**
 * Compiles an Orca machine to an XState v5 machine config (plain JSON, no XState import), so that
 * an Orca machine can be run, visualised or tested with XState tooling:
 *
 * - compound states get `initial`, parallel states `type: 'parallel'` with one child per region,
 *   final states `type: 'final'`;
 * - targets are absolute `#<Machine>.<path>` references (regions are path segments);
 * - several candidates for one event become an array in table order; guards are `{ type: name }`,
 *   and a negated guard is `{ type: '!name' }` ({@link xstateGuards} implements both from the
 *   `## guards` expressions);
 * - `timeout: 30s -> x` becomes `after: { 30000: … }`; `on_done` becomes `onDone` (for
 *   `sync: any-final` every region gets the `onDone`; `custom` compiles to nothing);
 * - a transition to its own source or below gets `reenter: true`: Orca transitions are external;
 * - `ignore: E` becomes a targetless `E: {}` (it shadows ancestors' handlers, as in Keel) and
 *   `ignore: *` the wildcard `'*': {}`;
 * - `invoke:` becomes `invoke: { id, src }` whose `onDone`/`onError` take the transitions the state
 *   has for its `on_done`/`on_error` events; the input mapping is kept in `meta.input` (its values
 *   are expressions over the parent context, which JSON cannot hold as functions).
 *
 * Actions are referenced by name; give XState implementations with `createMachine(config, {
 * actions, guards })`. Orca actions return context patches, so an XState implementation is
 * `assign(({ context, event }) => orcaAction(context, event.payload) ?? {})`.
 */
import type { MachineDef, StateDef, Transition } from './ast.js';
import { evaluateGuard } from './guard-eval.js';
import { KeelError } from '../core/errors.js';
import { defaultContext, MachineErrorCode } from './interpreter.js';
import { StateTree, type StateNode } from './state-tree.js';
import { toMs } from '../util/duration.js';

export interface XStateTransitionConfig {
  target?: string;
  guard?: { type: string };
  actions?: string[];
  reenter?: true;
}

export interface XStateStateConfig {
  id?: string;
  type?: 'parallel' | 'final';
  initial?: string;
  description?: string;
  entry?: string[];
  exit?: string[];
  on?: Record<string, XStateTransitionConfig | XStateTransitionConfig[]>;
  after?: Record<number, XStateTransitionConfig>;
  onDone?: XStateTransitionConfig | XStateTransitionConfig[];
  invoke?: {
    id: string;
    src: string;
    onDone?: XStateTransitionConfig | XStateTransitionConfig[];
    onError?: XStateTransitionConfig | XStateTransitionConfig[];
  };
  states?: Record<string, XStateStateConfig>;
  meta?: Record<string, unknown>;
}

export interface XStateMachineConfig extends XStateStateConfig {
  id: string;
  context: Record<string, unknown>;
}

export function compileXState(machine: MachineDef): XStateMachineConfig {
  const tree = new StateTree(machine);
  const root = machine.name;
  const ref = (node: StateNode): string => `#${root}.${node.regionPath.join('.')}`;
  const resolve = (name: string): StateNode => {
    const r = tree.resolve(name);
    if (!r.ok) {
      throw new KeelError(MachineErrorCode.UnknownState, `Machine '${machine.name}': cannot resolve state '${name}' (${r.reason}); run the verifier first.`);
    }
    return r.node;
  };

  const compileTransition = (t: Pick<Transition, 'source' | 'target' | 'guard' | 'action'>, source: StateNode): XStateTransitionConfig => {
    const target = resolve(t.target);
    const out: XStateTransitionConfig = { target: ref(target) };
    if (t.guard) out.guard = { type: t.guard.negated ? `!${t.guard.name}` : t.guard.name };
    if (t.action !== undefined && t.action !== '' && t.action !== '_') out.actions = [t.action];
    if (tree.isDescendantOrSelf(target, source)) out.reenter = true;
    return out;
  };
  const one = (list: XStateTransitionConfig[]): XStateTransitionConfig | XStateTransitionConfig[] =>
    list.length === 1 ? (list[0] as XStateTransitionConfig) : list;

  // Transitions by source node, in table order.
  const bySource = new Map<StateNode, Map<string, XStateTransitionConfig[]>>();
  for (const t of machine.transitions) {
    const source = resolve(t.source);
    let events = bySource.get(source);
    if (events === undefined) {
      events = new Map();
      bySource.set(source, events);
    }
    const list = events.get(t.event) ?? [];
    list.push(compileTransition(t, source));
    events.set(t.event, list);
  }

  const compileState = (def: StateDef): XStateStateConfig => {
    const node = tree.nodeOf(def);
    if (node === undefined) throw new KeelError(MachineErrorCode.UnknownState, `Machine '${machine.name}': state '${def.name}' is not in the tree.`);
    const out: XStateStateConfig = {};
    if (def.description !== undefined) out.description = def.description;
    if (def.isFinal) out.type = 'final';
    if (def.onEntry !== undefined && def.invoke === undefined) out.entry = [def.onEntry];
    if (def.onExit !== undefined) out.exit = [def.onExit];

    const on: Record<string, XStateTransitionConfig | XStateTransitionConfig[]> = {};
    for (const e of def.ignoredEvents ?? []) on[e] = {};
    const events = bySource.get(node);
    const invokeEvents = new Set([def.invoke?.onDone, def.invoke?.onError].filter((e) => e !== undefined));
    for (const [event, list] of events ?? []) if (!invokeEvents.has(event)) on[event] = one(list);
    if (def.ignoredAll === true) on['*'] = {};
    if (Object.keys(on).length > 0) out.on = on;

    if (def.timeout) {
      const ms = def.timeout.durationMs ?? toMs(def.timeout.duration, `timeout of state '${node.id}'`);
      out.after = { [ms]: compileTransition({ source: def.name, target: def.timeout.target }, node) };
    }
    const onDone = def.onDone !== undefined && def.invoke === undefined ? compileTransition({ source: def.name, target: def.onDone }, node) : undefined;

    if (def.invoke) {
      const inv = def.invoke;
      out.invoke = { id: node.id, src: inv.machine };
      const handlers = (event: string | undefined): XStateTransitionConfig[] | undefined => {
        if (event === undefined) return undefined;
        for (const n of tree.ancestry(node)) {
          const list = bySource.get(n)?.get(event);
          if (list) return list;
        }
        return undefined;
      };
      const done = handlers(inv.onDone);
      const error = handlers(inv.onError);
      if (done) out.invoke.onDone = one(done);
      if (error) out.invoke.onError = one(error);
      if (inv.input) out.meta = { input: inv.input };
    }

    if (def.parallel) {
      out.type = 'parallel';
      const sync = def.parallel.sync ?? 'all-final';
      if (onDone && sync === 'all-final') out.onDone = onDone;
      out.states = {};
      for (const region of def.parallel.regions) {
        const states: Record<string, XStateStateConfig> = {};
        for (const child of region.states) states[child.name] = compileState(child);
        const regionConfig: XStateStateConfig = { initial: initialOf(region.states), states };
        if (onDone && sync === 'any-final') regionConfig.onDone = onDone;
        out.states[region.name] = regionConfig;
      }
    } else if (def.contains && def.contains.length > 0) {
      out.initial = initialOf(def.contains);
      out.states = {};
      for (const child of def.contains) out.states[child.name] = compileState(child);
      if (onDone) out.onDone = onDone;
    }
    return out;
  };

  const states: Record<string, XStateStateConfig> = {};
  for (const def of machine.states) states[def.name] = compileState(def);
  return { id: root, initial: initialOf(machine.states), context: defaultContext(machine), states };
}

function initialOf(states: readonly StateDef[]): string {
  const init = states.find((s) => s.isInitial) ?? states[0];
  return init?.name ?? '';
}

/** XState guard implementations for every `## guards` entry, as `name` and as `!name`. */
export function xstateGuards(
  machine: MachineDef,
): Record<string, (args: { context: Record<string, unknown>; event: { type: string; payload?: unknown } }) => boolean> {
  const out: Record<string, (args: { context: Record<string, unknown>; event: { type: string; payload?: unknown } }) => boolean> = {};
  for (const g of machine.guards) {
    out[g.name] = ({ context, event }) => evaluateGuard(g.expression, { ctx: context, event: event.payload });
    out[`!${g.name}`] = ({ context, event }) => !evaluateGuard(g.expression, { ctx: context, event: event.payload });
  }
  return out;
}
