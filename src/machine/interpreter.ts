/**
 * The Orca statechart interpreter: a pure function of (snapshot, event) → (snapshot, commands),
 * like XState's `transition(logic, snapshot, event)` (STYLE §1). It performs no I/O and owns no
 * timers; whatever must happen outside — effects, timers, child machines, notifying the world that
 * the machine finished — comes back as {@link MachineCommand} data for the host to execute
 * (`machine-runner.ts` in memory, the engine durably).
 *
 * Glossary
 * - node: one state of the flattened tree — an atomic, compound, parallel or final state, or a
 *   region of a parallel state. Node ids are dotted paths from the top, regions included
 *   (`processing.payment_flow.charging`).
 * - configuration: the set of active leaves (plus, implied, their ancestors).
 * - microstep: one set of transitions taken together (exit, transition actions, entry).
 * - macrostep: what one call to {@link transition} does: the event's microstep, then any completion
 *   (`on_done`) microsteps it triggers.
 *
 * Semantics (ORCA.md §4.5 and "Keel's decisions where upstream is loose"):
 * - Transitions are external (SCXML): a transition from S to S, or to a descendant of S, exits and
 *   re-enters S. Exit actions run innermost first, then transition actions in table order, then
 *   entry actions outermost first.
 * - Selection is per active leaf, leaf first then ancestors. At each level the candidates are tried
 *   in table order and every one is tried: `!g` is `not g`, an unguarded candidate wins at once.
 *   If every candidate at a level fails its guard the search continues at the parent (as SCXML and
 *   XState do). A level that ignores the event (`ignore: E` or `ignore: *`) and has no enabled
 *   transition ends the search: the event is ignored without an error.
 * - A guard name that is neither in `## guards` nor supplied at run time throws: an unknown guard is
 *   a definition bug, never a silent pass.
 * - In a parallel state each region selects independently, so one event can move several regions
 *   (SCXML's optimal enabled transition set; a transition whose source is a descendant of another's
 *   preempts it, otherwise document order wins).
 * - Entering a compound state descends to its initial child; entering a parallel state enters every
 *   region. The machine starts in the first top-level `[initial]` state, descended the same way.
 * - `on_done` of a compound state fires when its active child is final; of a parallel state when
 *   every region (`all-final`, the default) or some region (`any-final`) is in a final state;
 *   `custom` never fires by itself. Reaching a top-level final state finishes the machine
 *   (`status: 'done'` and a `done` command).
 * - `timeout: 30s -> x` starts a timer on entry (a `startTimer` command) and cancels it on exit; the
 *   host feeds the expiry back as the event {@link MachineEventType.Timeout}. Units are honoured:
 *   ms, s, m, h, d; a bare number is milliseconds.
 * - Actions return context patches that are merged (shallow) into the context. An action whose
 *   signature declares `+ Effect<T>` — on entry, exit or a transition — becomes an `effect` command;
 *   its result is fed back with {@link applyEffectResult}. Any other action runs synchronously when
 *   its implementation is passed in `options.actions`; otherwise it becomes an `action` command,
 *   and a host without a handler skips it (upstream: a missing handler is silently skipped).
 * - `invoke:` starts a child machine on entry (an `invoke` command) and stops it on exit. As
 *   upstream does, a state with `invoke:` does not run its own `on_entry`. The host reports the
 *   child's end with {@link MachineEventType.InvokeDone} / {@link MachineEventType.InvokeError},
 *   which the interpreter turns into the state's `on_done` / `on_error` event.
 * - Snapshots are plain JSON. {@link restore} never runs entry actions.
 */
import { KeelError } from '../core/errors.js';
import { toMs } from '../util/duration.js';
import type { GuardExpression, MachineDef, StateDef, SyncMode, Transition } from './ast.js';
import { evaluateGuard, resolveVariable } from './guard-eval.js';
import { StateTree } from './state-tree.js';

// ---------------------------------------------------------------------------------------------
// Public types

export type MachineContext = Record<string, unknown>;

/**
 * The active states as a value: a top-level leaf is its name (`'idle'`); a compound state maps its
 * name to its child's value (`{ exploration: 'overworld' }`); a parallel state maps region names to
 * their values (`{ processing: { payment_flow: 'charging', notification_flow: 'sending_email' } }`).
 * The same shape as XState's state value.
 */
export type StateValue = string | { readonly [key: string]: StateValue };

export interface MachineEvent {
  type: string;
  payload?: unknown;
}

/** Events the host sends back to the interpreter; user events are Orca identifiers, never `@…`. */
export const MachineEventType = {
  /** A `startTimer` expired: payload `{ id, state }`. */
  Timeout: '@timeout',
  /** An effect succeeded: payload `{ id, data }`. */
  EffectDone: '@effect.done',
  /** An effect failed: payload `{ id, error }`. */
  EffectFailed: '@effect.failed',
  /** An invoked child reached a final state: payload `{ id, finalState, context }`. */
  InvokeDone: '@invoke.done',
  /** An invoked child failed: payload `{ id, error }`. */
  InvokeError: '@invoke.error',
} as const;

export const MachineErrorCode = {
  UnknownGuard: 'ORCA_UNKNOWN_GUARD',
  UnknownState: 'ORCA_UNKNOWN_STATE',
  AmbiguousState: 'ORCA_AMBIGUOUS_STATE',
  InvalidMachine: 'ORCA_INVALID_MACHINE',
  InvalidSnapshot: 'ORCA_INVALID_SNAPSHOT',
  InvalidAction: 'ORCA_INVALID_ACTION',
  InvalidEvent: 'ORCA_INVALID_EVENT',
  CompletionLoop: 'ORCA_COMPLETION_LOOP',
  NotActive: 'ORCA_MACHINE_NOT_ACTIVE',
} as const;

/** A timer the host must run; recorded in the snapshot so a restored machine can re-arm it. */
export interface TimerRecord {
  id: string;
  /** Id of the state whose `timeout:` this is. */
  state: string;
  ms: number;
  /** Id of the target state. */
  target: string;
  /** Epoch ms when it is due, when the caller passed `now`. */
  dueAt?: number;
}

/** A child machine started by `invoke:` and not yet finished or stopped. */
export interface ChildRecord {
  id: string;
  state: string;
  machine: string;
  /** The child's input, so that a host without durable children can start it again on resume. */
  input?: MachineContext;
}

export type MachineStatus = 'active' | 'done';

export interface MachineSnapshot {
  readonly machine: string;
  readonly version: string;
  readonly value: StateValue;
  readonly context: MachineContext;
  readonly status: MachineStatus;
  /** Macrosteps taken so far; makes the ids of timers, effects and children unique per run. */
  readonly seq: number;
  readonly timers?: readonly TimerRecord[];
  readonly children?: readonly ChildRecord[];
}

/** A snapshot while it is being built (the published one is read-only). */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

export type ActionPhase = 'entry' | 'exit' | 'transition';

export type MachineCommand =
  /** An action with no implementation in `options.actions`: the host may run it or skip it. */
  | { type: 'action'; name: string; phase: ActionPhase; state: string; context: MachineContext; event: MachineEvent | undefined }
  /** An action declared `+ Effect<T>`: run the handler for `effect`, then {@link applyEffectResult}. */
  | {
      type: 'effect';
      id: string;
      effect: string;
      action: string;
      phase: ActionPhase;
      state: string;
      context: MachineContext;
      event: MachineEvent | undefined;
    }
  | { type: 'startTimer'; id: string; state: string; ms: number; target: string; dueAt?: number }
  | { type: 'cancelTimer'; id: string; state: string }
  | { type: 'invoke'; id: string; state: string; machine: string; input: MachineContext }
  | { type: 'stopChild'; id: string; state: string; machine: string }
  /** A top-level final state was reached; the machine takes no more events. */
  | { type: 'done'; state: string; context: MachineContext };

export interface TransitionResult {
  taken: boolean;
  /** The configuration before, as dotted leaf paths joined by ', ' (`exploration.overworld`). */
  from: string;
  /** The configuration after. */
  to: string;
  /** Name of the first active leaf after the step. */
  leaf: string;
  /** Set when candidates existed but every guard failed. */
  guardFailed?: boolean;
  /** The event was ignored on purpose (`ignore:`), not an error. */
  ignored?: boolean;
  error?: string;
}

/** `(ctx, payload) → patch`: must be synchronous; return `undefined` for no change. */
export type ActionImplementation = (
  context: Readonly<MachineContext>,
  payload: unknown,
  meta: { event: MachineEvent | undefined; state: string; phase: ActionPhase },
) => MachineContext | undefined | void;

export type GuardImplementation = (context: Readonly<MachineContext>, payload: unknown) => boolean;

export interface InterpreterOptions {
  /** Pure actions, applied synchronously inside the step. */
  actions?: Readonly<Record<string, ActionImplementation>>;
  /** Run-time guard implementations; they take precedence over `## guards` expressions. */
  guards?: Readonly<Record<string, GuardImplementation>>;
  /** The current time (epoch ms), to stamp `dueAt` on timers; the interpreter never reads a clock. */
  now?: number;
}

export interface StepOutput {
  snapshot: MachineSnapshot;
  commands: readonly MachineCommand[];
}

export interface TransitionOutput extends StepOutput {
  result: TransitionResult;
}

export type EffectResult = { id: string; ok: true; data?: unknown } | { id: string; ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// The per-machine index: built once per MachineDef object, then shared by every step.

const NodeKind = {
  Root: 'root',
  Atomic: 'atomic',
  Compound: 'compound',
  Parallel: 'parallel',
  Region: 'region',
  Final: 'final',
} as const;
type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];

interface ActionRef {
  name: string;
  /** The T of `+ Effect<T>`, when declared. */
  effect: string | undefined;
}

interface Node {
  index: number;
  name: string;
  id: string;
  kind: NodeKind;
  parent: Node | undefined;
  children: Node[];
  /** Pre-order index of the last node in this subtree: d is a descendant iff index < d.index ≤ last. */
  last: number;
  initial: Node | undefined;
  def: StateDef | undefined;
  entry: ActionRef | undefined;
  exit: ActionRef | undefined;
  timeout: { ms: number; transition: Edge } | undefined;
  done: Edge | undefined;
  sync: SyncMode;
  ignored: ReadonlySet<string> | undefined;
  ignoredAll: boolean;
  on: Map<string, Edge[]>;
}

/** A compiled transition (also used for timeouts and `on_done`). */
interface Edge {
  order: number;
  source: Node;
  target: Node;
  guard: { name: string; negated: boolean } | undefined;
  action: ActionRef | undefined;
  /** The LCCA: what the edge exits below and enters below. */
  domain: Node;
  /** States entered, outermost first. */
  entry: Node[];
  /** The leaves among `entry`. */
  entryLeaves: Node[];
}

interface Config {
  leaves: Node[];
  /** Active flags by node index (the root is always active). */
  active: Uint8Array;
  /** Active nodes in document order, root excluded. */
  nodes: Node[];
  value: StateValue;
  text: string;
  leafName: string;
  topFinal: boolean;
  /** The completion (`on_done`) edge enabled in this configuration; computed on first use. */
  completion: Edge | null | undefined;
  /** Plans for single edges taken from this configuration. */
  plans: Map<Edge, Plan>;
}

interface Plan {
  exits: Node[];
  edges: Edge[];
  entries: Node[];
  next: Config;
  /** Whether any exited or entered node has a timeout or an invoke (skip the bookkeeping if not). */
  touchesTimers: boolean;
  touchesChildren: boolean;
}

interface MachineIndex {
  machine: MachineDef;
  root: Node;
  nodes: Node[];
  byId: Map<string, Node>;
  guards: Map<string, GuardExpression>;
  actions: Map<string, ActionRef>;
  initial: Edge;
  resolve: (ref: string) => Node;
  /**
   * Configurations interned by leaf set, so that plans and values are computed once: single-leaf
   * ones by the leaf's index, the others (parallel states) by their joined leaf indexes.
   */
  leafConfigs: (Config | undefined)[];
  configs: Map<string, Config>;
  configByValue: WeakMap<object, Config>;
  configByName: Map<string, Config>;
}

const MAX_CONFIGS = 10_000;
const MAX_COMPLETION_STEPS = 100;
const EMPTY: readonly MachineCommand[] = Object.freeze([]);

const indexes = new WeakMap<MachineDef, MachineIndex>();

function indexOf(machine: MachineDef): MachineIndex {
  let index = indexes.get(machine);
  if (index === undefined) {
    index = buildIndex(machine);
    indexes.set(machine, index);
  }
  return index;
}

function invalid(machine: MachineDef, message: string, code: string = MachineErrorCode.InvalidMachine): KeelError {
  return new KeelError(code, `Machine '${machine.name}': ${message}`, { details: { machine: machine.name } });
}

function buildIndex(machine: MachineDef): MachineIndex {
  const nodes: Node[] = [];
  const make = (name: string, kind: NodeKind, parent: Node | undefined, def: StateDef | undefined): Node => {
    const node: Node = {
      index: nodes.length,
      name,
      id: parent === undefined || parent.kind === NodeKind.Root ? name : `${parent.id}.${name}`,
      kind,
      parent,
      children: [],
      last: nodes.length,
      initial: undefined,
      def,
      entry: undefined,
      exit: undefined,
      timeout: undefined,
      done: undefined,
      sync: def?.parallel?.sync ?? 'all-final',
      ignored: def?.ignoredEvents && def.ignoredEvents.length > 0 ? new Set(def.ignoredEvents) : undefined,
      ignoredAll: def?.ignoredAll === true,
      on: new Map(),
    };
    if (kind === NodeKind.Root) node.id = '';
    nodes.push(node);
    parent?.children.push(node);
    return node;
  };
  const addStates = (defs: readonly StateDef[], parent: Node): void => {
    for (const def of defs) {
      const kind: NodeKind = def.parallel
        ? NodeKind.Parallel
        : def.contains && def.contains.length > 0
          ? NodeKind.Compound
          : def.isFinal
            ? NodeKind.Final
            : NodeKind.Atomic;
      const node = make(def.name, kind, parent, def);
      if (def.parallel) {
        for (const region of def.parallel.regions) {
          const r = make(region.name, NodeKind.Region, node, undefined);
          addStates(region.states, r);
          r.last = nodes.length - 1;
        }
      } else if (def.contains) {
        addStates(def.contains, node);
      }
      node.last = nodes.length - 1;
    }
  };
  const root = make(machine.name, NodeKind.Root, undefined, undefined);
  addStates(machine.states, root);
  root.last = nodes.length - 1;

  for (const node of nodes) {
    if (node.kind === NodeKind.Root || node.kind === NodeKind.Compound || node.kind === NodeKind.Region) {
      node.initial = node.children.find((c) => c.def?.isInitial === true) ?? node.children[0];
      if (node.initial === undefined) throw invalid(machine, `state '${node.id || machine.name}' has no child states.`);
    } else if (node.kind === NodeKind.Parallel && node.children.length === 0) {
      throw invalid(machine, `parallel state '${node.id}' has no regions.`);
    }
  }

  const byId = new Map(nodes.map((n) => [n.id, n]));
  const guards = new Map(machine.guards.map((g) => [g.name, g.expression]));
  const actions = new Map<string, ActionRef>(machine.actions.map((a) => [a.name, { name: a.name, effect: a.effect }]));
  const actionRef = (name: string | undefined): ActionRef | undefined => {
    if (name === undefined || name === '' || name === '_') return undefined;
    let ref = actions.get(name);
    if (ref === undefined) {
      // The actions table is documentation (ORCA.md §4.2): an undeclared action is still run.
      ref = { name, effect: undefined };
      actions.set(name, ref);
    }
    return ref;
  };
  const tree = new StateTree(machine);
  const byDef = new Map<StateDef, Node>();
  for (const n of nodes) if (n.def) byDef.set(n.def, n);
  const resolve = (ref: string, what: string): Node => resolveState(machine, tree, byDef, ref, what);

  let order = 0;
  const edge = (source: Node, target: Node, guard: Edge['guard'], action: ActionRef | undefined): Edge => {
    const domain = transitionDomain(source, target);
    const entry = entrySet(target, domain);
    return {
      order: order++,
      source,
      target,
      guard,
      action,
      domain,
      entry,
      entryLeaves: entry.filter((n) => n.children.length === 0),
    };
  };

  for (const t of machine.transitions) {
    const source = resolve(t.source, `source of transition '${describeTransition(t)}'`);
    const target = resolve(t.target, `target of transition '${describeTransition(t)}'`);
    const e = edge(source, target, t.guard ? { name: t.guard.name, negated: t.guard.negated } : undefined, actionRef(t.action));
    const list = source.on.get(t.event);
    if (list) list.push(e);
    else source.on.set(t.event, [e]);
  }
  for (const node of nodes) {
    const def = node.def;
    if (def === undefined) continue;
    node.entry = actionRef(def.onEntry);
    node.exit = actionRef(def.onExit);
    if (def.timeout) {
      const target = resolve(def.timeout.target, `timeout target of state '${node.id}'`);
      const ms = def.timeout.durationMs ?? toMs(def.timeout.duration, `timeout of state '${node.id}'`);
      node.timeout = { ms, transition: edge(node, target, undefined, undefined) };
    }
    if (def.onDone !== undefined && def.invoke === undefined && node.children.length > 0) {
      const target = resolve(def.onDone.replace(/^->\s*/, ''), `on_done target of state '${node.id}'`);
      node.done = edge(node, target, undefined, undefined);
    }
  }

  // Starting is entering the root's initial descendants from "nowhere".
  const initialEntry = entrySet(root, undefined).filter((n) => n !== root);
  return {
    machine,
    root,
    nodes,
    byId,
    guards,
    actions,
    initial: {
      order: -1,
      source: root,
      target: root,
      guard: undefined,
      action: undefined,
      domain: root,
      entry: initialEntry,
      entryLeaves: initialEntry.filter((n) => n.children.length === 0),
    },
    resolve: (ref) => resolve(ref, 'a query'),
    leafConfigs: [],
    configs: new Map(),
    configByValue: new WeakMap(),
    configByName: new Map(),
  };
}

function describeTransition(t: Transition): string {
  return `${t.source} + ${t.event} -> ${t.target}`;
}

/**
 * Resolves a `Source`/`Target` reference with the parser's rule ({@link StateTree.resolve}): a
 * simple name, or a dotted path that ends the state's path (regions optional).
 */
function resolveState(machine: MachineDef, tree: StateTree, byDef: Map<StateDef, Node>, ref: string, what: string): Node {
  const found = tree.resolve(ref.trim());
  if (found.ok) {
    const node = byDef.get(found.node.state);
    if (node) return node;
  } else if (found.reason === 'ambiguous') {
    throw invalid(
      machine,
      `state '${ref}' (${what}) is ambiguous: it matches ${found.candidates.map((c) => `'${c.id}'`).join(', ')}; use a dotted path.`,
      MachineErrorCode.AmbiguousState,
    );
  } else if (found.suggestion !== undefined) {
    throw invalid(machine, `unknown state '${ref}' (${what}); did you mean '${found.suggestion}'?`, MachineErrorCode.UnknownState);
  }
  throw invalid(machine, `unknown state '${ref}' (${what}).`, MachineErrorCode.UnknownState);
}

function isDescendant(node: Node, ancestor: Node): boolean {
  return node.index > ancestor.index && node.index <= ancestor.last;
}

/**
 * The domain of an external transition: the nearest proper ancestor of the source that is not a
 * parallel state and contains the target. A transition to the source itself or below exits and
 * re-enters the source.
 */
function transitionDomain(source: Node, target: Node): Node {
  for (let a = source.parent; a; a = a.parent) {
    if (a.kind !== NodeKind.Parallel && (a.kind === NodeKind.Root || isDescendant(target, a))) return a;
  }
  return source; // the root as source: only the initial pseudo-edge, whose domain is set directly
}

/** The states a transition to `target` enters below `domain`, outermost first (document order). */
function entrySet(target: Node, domain: Node | undefined): Node[] {
  const set = new Set<Node>();
  const addDescendants = (n: Node): void => {
    set.add(n);
    if (n.kind === NodeKind.Parallel) {
      for (const r of n.children) addDescendants(r);
    } else if (n.initial !== undefined) {
      addDescendants(n.initial);
    }
  };
  addDescendants(target);
  for (let a = target.parent; a && a !== domain; a = a.parent) {
    set.add(a);
    if (a.kind === NodeKind.Parallel) {
      for (const region of a.children) {
        let covered = false;
        for (const s of set) if (s === region || isDescendant(s, region)) covered = true;
        if (!covered) addDescendants(region);
      }
    }
  }
  return [...set].sort((x, y) => x.index - y.index);
}

// ---------------------------------------------------------------------------------------------
// Configurations

function configOf(index: MachineIndex, leaves: Node[]): Config {
  const single = leaves.length === 1 ? (leaves[0] as Node) : undefined;
  const key = single ? '' : leaves.map((l) => l.index).join(',');
  const cached = single ? index.leafConfigs[single.index] : index.configs.get(key);
  if (cached) return cached;
  const active = new Uint8Array(index.nodes.length);
  active[0] = 1;
  for (const leaf of leaves) for (let n: Node | undefined = leaf; n; n = n.parent) active[n.index] = 1;
  const nodes = index.nodes.filter((n) => active[n.index] === 1 && n.kind !== NodeKind.Root);
  const first = leaves[0] as Node;
  const config: Config = {
    leaves,
    active,
    nodes,
    value: valueBelow(index.root, active),
    text: leaves.map((l) => l.id).join(', '),
    leafName: first.name,
    topFinal: leaves.length === 1 && first.kind === NodeKind.Final && first.parent === index.root,
    completion: undefined,
    plans: new Map(),
  };
  if (single) {
    index.leafConfigs[single.index] = config;
  } else if (index.configs.size < MAX_CONFIGS) {
    index.configs.set(key, config);
  }
  if (single || index.configs.has(key)) {
    if (typeof config.value === 'string') index.configByName.set(config.value, config);
    else index.configByValue.set(config.value, config);
  }
  return config;
}

/**
 * The value of the subtree below `node` (its own name excluded): a region or compound state gives
 * its active child's name, or `{ child: <value below child> }`; a parallel state maps every
 * region's name to the value below it.
 */
function valueBelow(node: Node, active: Uint8Array): StateValue {
  if (node.kind === NodeKind.Parallel) {
    const out: Record<string, StateValue> = {};
    for (const region of node.children) out[region.name] = valueBelow(region, active);
    return Object.freeze(out);
  }
  const child = node.children.find((c) => active[c.index] === 1);
  if (child === undefined) return node.name;
  if (child.children.length === 0) return child.name;
  return Object.freeze({ [child.name]: valueBelow(child, active) });
}

/** The configuration a (possibly deserialised) state value stands for. */
function configOfValue(index: MachineIndex, value: StateValue): Config {
  const hit = typeof value === 'string' ? index.configByName.get(value) : index.configByValue.get(value);
  if (hit) return hit;
  const leaves: Node[] = [];
  collectLeaves(index, index.root, value, leaves);
  leaves.sort((a, b) => a.index - b.index);
  const config = configOf(index, leaves);
  if (typeof value === 'object' && index.configByValue.get(value) === undefined) index.configByValue.set(value, config);
  return config;
}

function collectLeaves(index: MachineIndex, parent: Node, value: unknown, out: Node[]): void {
  const bad = (): KeelError =>
    invalid(index.machine, `the state value ${JSON.stringify(value)} does not fit the machine below '${parent.id || parent.name}'.`, MachineErrorCode.InvalidSnapshot);
  const child = (name: string): Node => {
    const c = parent.children.find((n) => n.name === name);
    if (c === undefined) throw bad();
    return c;
  };
  if (typeof value === 'string') {
    const c = child(value);
    if (c.kind === NodeKind.Parallel || c.children.length > 0) {
      // A bare compound name (e.g. a hand-written value): complete it with the initial descent.
      for (const n of entrySet(c, parent)) if (n.children.length === 0) out.push(n);
    } else {
      out.push(c);
    }
    return;
  }
  if (value === null || typeof value !== 'object') throw bad();
  const entries = Object.entries(value as Record<string, unknown>);
  if (parent.kind === NodeKind.Parallel) {
    if (entries.length !== parent.children.length) throw bad();
    for (const [name, v] of entries) collectLeaves(index, child(name), v, out);
    return;
  }
  const [first, ...more] = entries;
  if (first === undefined || more.length > 0) throw bad();
  const c = child(first[0]);
  if (c.children.length === 0) throw bad();
  collectLeaves(index, c, first[1], out);
}

/** The `on_done` edge enabled in a configuration, innermost first; `null` when there is none. */
function completionOf(config: Config): Edge | null {
  if (config.completion !== undefined) return config.completion;
  let found: Edge | null = null;
  for (let i = config.nodes.length - 1; i >= 0 && found === null; i--) {
    const node = config.nodes[i] as Node;
    if (node.done !== undefined && isComplete(node, config.active)) found = node.done;
  }
  config.completion = found;
  return found;
}

function isComplete(node: Node, active: Uint8Array): boolean {
  if (node.kind === NodeKind.Parallel) {
    if (node.sync === 'custom') return false;
    const any = node.sync === 'any-final';
    for (const region of node.children) {
      const done = isComplete(region, active);
      if (any && done) return true;
      if (!any && !done) return false;
    }
    return !any;
  }
  const child = node.children.find((c) => active[c.index] === 1);
  return child !== undefined && child.kind === NodeKind.Final;
}

function planFor(index: MachineIndex, config: Config, edges: readonly Edge[]): Plan {
  const single = edges.length === 1 ? (edges[0] as Edge) : undefined;
  if (single) {
    const cached = config.plans.get(single);
    if (cached) return cached;
  }
  const exitSet = new Set<Node>();
  for (const e of edges) for (const n of config.nodes) if (isDescendant(n, e.domain)) exitSet.add(n);
  const exits = [...exitSet].sort((a, b) => b.index - a.index);
  const entrySet = new Set<Node>();
  const leaves = config.leaves.filter((l) => !exitSet.has(l));
  for (const e of edges) {
    for (const n of e.entry) entrySet.add(n);
    for (const l of e.entryLeaves) if (!leaves.includes(l)) leaves.push(l);
  }
  leaves.sort((a, b) => a.index - b.index);
  const entries = [...entrySet].sort((a, b) => a.index - b.index);
  const plan: Plan = {
    exits,
    edges: [...edges],
    entries,
    next: configOf(index, leaves),
    touchesTimers: exits.some((n) => n.timeout) || entries.some((n) => n.timeout),
    touchesChildren: exits.some((n) => n.def?.invoke) || entries.some((n) => n.def?.invoke),
  };
  if (single) config.plans.set(single, plan);
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Execution of a plan

/** The mutable state of one macrostep; discarded at its end. */
interface Step {
  index: MachineIndex;
  options: InterpreterOptions | undefined;
  event: MachineEvent | undefined;
  context: MachineContext;
  commands: MachineCommand[] | undefined;
  timers: TimerRecord[] | undefined;
  children: ChildRecord[] | undefined;
  seq: number;
  ids: number;
}

function emit(step: Step, command: MachineCommand): void {
  if (step.commands === undefined) step.commands = [command];
  else step.commands.push(command);
}

function nextId(step: Step, prefix: string): string {
  return `${prefix}${step.seq}.${step.ids++}`;
}

function runAction(step: Step, ref: ActionRef, phase: ActionPhase, state: Node): void {
  const name = ref.name;
  const event = step.event;
  if (ref.effect !== undefined) {
    emit(step, { type: 'effect', id: nextId(step, 'e'), effect: ref.effect, action: name, phase, state: state.id, context: step.context, event });
    return;
  }
  const impl = step.options?.actions?.[name];
  if (impl === undefined) {
    emit(step, { type: 'action', name, phase, state: state.id, context: step.context, event });
    return;
  }
  const patch: unknown = impl(step.context, event?.payload, { event, state: state.id, phase });
  if (patch === undefined || patch === null) return;
  if (typeof patch !== 'object' || Array.isArray(patch) || typeof (patch as { then?: unknown }).then === 'function') {
    throw invalid(
      step.index.machine,
      `action '${name}' returned ${describeValue(patch)}; an action returns a context patch (a plain object) or nothing, synchronously. ` +
        `Declare asynchronous work as an effect: '${name}: (ctx) -> Context + Effect<T>'.`,
      MachineErrorCode.InvalidAction,
    );
  }
  step.context = { ...step.context, ...(patch as MachineContext) };
}

function describeValue(value: unknown): string {
  if (typeof (value as { then?: unknown } | null)?.then === 'function') return 'a promise';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function exitNode(step: Step, node: Node, touchesTimers: boolean, touchesChildren: boolean): void {
  if (touchesChildren && node.def?.invoke && step.children) {
    const at = step.children.findIndex((c) => c.state === node.id);
    const child = step.children[at];
    if (child) {
      step.children = step.children.filter((_, i) => i !== at);
      emit(step, { type: 'stopChild', id: child.id, state: child.state, machine: child.machine });
    }
  }
  if (touchesTimers && node.timeout && step.timers) {
    const at = step.timers.findIndex((t) => t.state === node.id);
    const timer = step.timers[at];
    if (timer) {
      step.timers = step.timers.filter((_, i) => i !== at);
      emit(step, { type: 'cancelTimer', id: timer.id, state: timer.state });
    }
  }
  if (node.exit) runAction(step, node.exit, 'exit', node);
}

function enterNode(step: Step, node: Node): void {
  const invoke = node.def?.invoke;
  if (invoke) {
    const id = nextId(step, 'c');
    const input: MachineContext = {};
    for (const [field, expr] of Object.entries(invoke.input ?? {})) input[field] = inputValue(expr, step);
    step.children = [...(step.children ?? []), { id, state: node.id, machine: invoke.machine, input }];
    emit(step, { type: 'invoke', id, state: node.id, machine: invoke.machine, input });
  } else if (node.entry) {
    runAction(step, node.entry, 'entry', node);
  }
  if (node.timeout) {
    const target = node.timeout.transition.target.id;
    const timer: TimerRecord = { id: nextId(step, 't'), state: node.id, ms: node.timeout.ms, target };
    if (step.options?.now !== undefined) timer.dueAt = step.options.now + node.timeout.ms;
    step.timers = [...(step.timers ?? []), timer];
    emit(step, { type: 'startTimer', ...timer });
  }
}

/** An `invoke` input expression: `ctx.a.b` / `event.x` paths, or a JSON literal. */
function inputValue(expr: string, step: Step): unknown {
  const text = expr.trim();
  if (/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(text) && text !== 'true' && text !== 'false' && text !== 'null') {
    return resolveVariable({ kind: 'variable', path: text.split('.') }, { ctx: step.context, event: step.event?.payload });
  }
  try {
    return JSON.parse(text.startsWith("'") && text.endsWith("'") ? `"${text.slice(1, -1)}"` : text) as unknown;
  } catch {
    return text;
  }
}

function runPlan(step: Step, plan: Plan): void {
  for (const node of plan.exits) exitNode(step, node, plan.touchesTimers, plan.touchesChildren);
  for (const e of plan.edges) if (e.action) runAction(step, e.action, 'transition', e.source);
  for (const node of plan.entries) enterNode(step, node);
}

/** Takes completion (`on_done`) microsteps until none is enabled; returns the final configuration. */
function settle(step: Step, config: Config): Config {
  let current = config;
  for (let i = 0; ; i++) {
    if (current.topFinal) return current;
    const done = completionOf(current);
    if (done === null) return current;
    if (i >= MAX_COMPLETION_STEPS) {
      throw invalid(step.index.machine, `on_done transitions loop without end (from '${current.text}').`, MachineErrorCode.CompletionLoop);
    }
    const plan = planFor(step.index, current, [done]);
    runPlan(step, plan);
    current = plan.next;
  }
}

function finish(step: Step, config: Config, previous: MachineSnapshot | undefined): MachineSnapshot {
  const status: MachineStatus = config.topFinal ? 'done' : 'active';
  if (status === 'done') {
    // Nothing outlives the machine: a final top-level state has no timers or children of its own,
    // but a host must not keep any that an earlier step left behind.
    for (const t of step.timers ?? []) emit(step, { type: 'cancelTimer', id: t.id, state: t.state });
    for (const c of step.children ?? []) emit(step, { type: 'stopChild', id: c.id, state: c.state, machine: c.machine });
    step.timers = undefined;
    step.children = undefined;
    emit(step, { type: 'done', state: config.leafName, context: step.context });
  }
  const m = step.index.machine;
  const snapshot: Writable<MachineSnapshot> = {
    machine: previous?.machine ?? m.name,
    version: previous?.version ?? m.version,
    value: config.value,
    context: step.context,
    status,
    seq: step.seq,
  };
  if (step.timers !== undefined && step.timers.length > 0) snapshot.timers = step.timers;
  if (step.children !== undefined && step.children.length > 0) snapshot.children = step.children;
  return snapshot;
}

// ---------------------------------------------------------------------------------------------
// Public API

/** The machine's context defaults (`## context`), an empty cell meaning `null`. */
export function defaultContext(machine: MachineDef): MachineContext {
  const out: MachineContext = {};
  for (const field of machine.context) out[field.name] = field.defaultValue ?? null;
  return out;
}

/**
 * Starts a machine: enters the initial configuration (descending into compound and parallel
 * states), running entry actions outermost first.
 *
 * @example
 * const { snapshot, commands } = initialState(machine, { context: { count: 1 }, actions });
 */
export function initialState(
  machine: MachineDef,
  options?: InterpreterOptions & { context?: MachineContext },
): StepOutput {
  const index = indexOf(machine);
  const step: Step = {
    index,
    options,
    event: undefined,
    context: { ...defaultContext(machine), ...options?.context },
    commands: undefined,
    timers: undefined,
    children: undefined,
    seq: 0,
    ids: 0,
  };
  for (const node of index.initial.entry) enterNode(step, node);
  const config = settle(step, configOf(index, index.initial.entryLeaves));
  return { snapshot: finish(step, config, undefined), commands: step.commands ?? EMPTY };
}

/**
 * Sends one event to a machine snapshot and returns the next snapshot, what happened, and the
 * commands the host must execute. The input snapshot is never modified; when nothing is taken the
 * same snapshot object is returned.
 *
 * @example
 * const { snapshot: next, result } = transition(machine, snapshot, { type: 'toggle' }, { actions });
 * if (!result.taken) console.log(result.error);
 */
export function transition(
  machine: MachineDef,
  snapshot: MachineSnapshot,
  event: MachineEvent,
  options?: InterpreterOptions,
): TransitionOutput {
  const index = indexOf(machine);
  const config = configOfValue(index, snapshot.value);
  if (snapshot.status === 'done') {
    return notTaken(snapshot, config, { error: `Machine '${machine.name}' is done; it takes no more events.` });
  }
  const type = event.type;
  if (typeof type !== 'string' || type === '') {
    // Events arrive from JSON (HTTP, CLI, history): refuse a malformed one with a clear message.
    throw new KeelError(MachineErrorCode.InvalidEvent, `Machine '${machine.name}': an event needs a non-empty string 'type'; got ${JSON.stringify(event)}.`);
  }
  if (type.charCodeAt(0) === 64 /* '@' */) return hostEvent(index, snapshot, config, event, options);

  // Select: per leaf, leaf first then ancestors.
  let selected: Edge | undefined;
  let more: Edge[] | undefined;
  let guardFailed: string[] | undefined;
  let ignored = false;
  const leaves = config.leaves;
  for (let i = 0; i < leaves.length; i++) {
    levels: for (let s: Node | undefined = leaves[i]; s && s.kind !== NodeKind.Root; s = s.parent) {
      const list = s.on.get(type);
      if (list !== undefined) {
        for (let j = 0; j < list.length; j++) {
          const e = list[j] as Edge;
          if (e.guard === undefined || guardPasses(index, e.guard, snapshot.context, event.payload, options)) {
            if (selected === undefined) selected = e;
            else if (selected !== e && !(more ?? []).includes(e)) (more ??= []).push(e);
            break levels;
          }
          (guardFailed ??= []).push(e.guard.negated ? `!${e.guard.name}` : e.guard.name);
        }
      }
      if (s.ignoredAll || s.ignored?.has(type) === true) {
        ignored = true;
        break;
      }
    }
  }
  if (selected === undefined) {
    if (ignored) return notTaken(snapshot, config, guardFailed ? { ignored: true, guardFailed: true } : { ignored: true });
    if (guardFailed) {
      const names = [...new Set(guardFailed)];
      const error = names.length === 1 ? `Guard '${names[0]}' failed` : `Guards ${names.map((n) => `'${n}'`).join(', ')} failed`;
      return notTaken(snapshot, config, { guardFailed: true, error });
    }
    return notTaken(snapshot, config, { error: `No transition for event ${type} from ${config.text}` });
  }
  const edges = more === undefined ? [selected] : removeConflicts([selected, ...more]);
  return take(index, snapshot, config, edges, event, options);
}

function notTaken(
  snapshot: MachineSnapshot,
  config: Config,
  extra: { error?: string; guardFailed?: boolean; ignored?: boolean },
): TransitionOutput {
  return { snapshot, result: { taken: false, from: config.text, to: config.text, leaf: config.leafName, ...extra }, commands: EMPTY };
}

/** SCXML conflict resolution among transitions selected in different parallel regions. */
function removeConflicts(edges: Edge[]): Edge[] {
  const kept: Edge[] = [];
  for (const e of edges) {
    let keep = true;
    for (let i = 0; i < kept.length; i++) {
      const k = kept[i] as Edge;
      const overlap = e.domain === k.domain || isDescendant(e.domain, k.domain) || isDescendant(k.domain, e.domain);
      if (!overlap) continue;
      if (isDescendant(e.source, k.source)) {
        kept.splice(i, 1);
        i--;
      } else {
        keep = false;
        break;
      }
    }
    if (keep) kept.push(e);
  }
  return kept;
}

function guardPasses(
  index: MachineIndex,
  guard: { name: string; negated: boolean },
  context: MachineContext,
  payload: unknown,
  options: InterpreterOptions | undefined,
): boolean {
  const impl = options?.guards?.[guard.name];
  let pass: boolean;
  if (impl !== undefined) {
    pass = impl(context, payload) === true;
  } else {
    const expr = index.guards.get(guard.name);
    if (expr === undefined) {
      throw invalid(
        index.machine,
        `guard '${guard.name}' is used by a transition but defined neither in '## guards' nor in the run-time guards; ` +
          `add '| ${guard.name} | \`<expression>\` |' to '## guards'.`,
        MachineErrorCode.UnknownGuard,
      );
    }
    pass = evaluateGuard(expr, { ctx: context, event: payload });
  }
  return guard.negated ? !pass : pass;
}

function take(
  index: MachineIndex,
  snapshot: MachineSnapshot,
  config: Config,
  edges: readonly Edge[],
  event: MachineEvent,
  options: InterpreterOptions | undefined,
): TransitionOutput {
  const step: Step = {
    index,
    options,
    event,
    context: snapshot.context,
    commands: undefined,
    timers: snapshot.timers as TimerRecord[] | undefined,
    children: snapshot.children as ChildRecord[] | undefined,
    seq: snapshot.seq + 1,
    ids: 0,
  };
  const plan = planFor(index, config, edges);
  runPlan(step, plan);
  const next = settle(step, plan.next);
  return {
    snapshot: finish(step, next, snapshot),
    result: { taken: true, from: config.text, to: next.text, leaf: next.leafName },
    commands: step.commands ?? EMPTY,
  };
}

function payloadField(event: MachineEvent, field: string): unknown {
  const p = event.payload;
  return p !== null && typeof p === 'object' ? (p as Record<string, unknown>)[field] : undefined;
}

/** Events from the host: timer expiries, effect results, child completions. */
function hostEvent(
  index: MachineIndex,
  snapshot: MachineSnapshot,
  config: Config,
  event: MachineEvent,
  options: InterpreterOptions | undefined,
): TransitionOutput {
  const id = payloadField(event, 'id');
  switch (event.type) {
    case MachineEventType.Timeout: {
      const state = payloadField(event, 'state');
      const timer = snapshot.timers?.find((t) => (id === undefined ? t.state === state : t.id === id));
      const node = timer && index.byId.get(timer.state);
      if (timer === undefined || node?.timeout === undefined || config.active[node.index] !== 1) {
        return notTaken(snapshot, config, { error: `Timer ${String(id ?? state)} is not running (stale timeout).` });
      }
      const timers = (snapshot.timers ?? []).filter((t) => t !== timer);
      const rest: MachineSnapshot = timers.length > 0 ? { ...snapshot, timers } : withoutTimers(snapshot);
      return take(index, rest, config, [node.timeout.transition], event, options);
    }
    case MachineEventType.EffectDone:
    case MachineEventType.EffectFailed: {
      const ok = event.type === MachineEventType.EffectDone;
      const out = applyEffectResult(
        index.machine,
        snapshot,
        ok ? { id: String(id), ok, data: payloadField(event, 'data') } : { id: String(id), ok, error: String(payloadField(event, 'error')) },
      );
      return { ...out, result: { taken: false, from: config.text, to: config.text, leaf: config.leafName } };
    }
    case MachineEventType.InvokeDone:
    case MachineEventType.InvokeError: {
      const child = snapshot.children?.find((c) => c.id === id);
      const node = child && index.byId.get(child.state);
      const invoke = node?.def?.invoke;
      if (child === undefined || invoke === undefined) {
        return notTaken(snapshot, config, { error: `Child ${String(id)} is not running.` });
      }
      const children = (snapshot.children ?? []).filter((c) => c !== child);
      const rest: MachineSnapshot = children.length > 0 ? { ...snapshot, children } : withoutChildren(snapshot);
      const done = event.type === MachineEventType.InvokeDone;
      const name = done ? invoke.onDone : invoke.onError;
      if (name === undefined) {
        return { snapshot: rest, result: { taken: false, from: config.text, to: config.text, leaf: config.leafName }, commands: EMPTY };
      }
      const payload = done
        ? { child: child.machine, finalState: payloadField(event, 'finalState'), context: payloadField(event, 'context') }
        : { child: child.machine, error: payloadField(event, 'error') };
      return transition(index.machine, rest, { type: name, payload }, options);
    }
    default:
      return notTaken(snapshot, config, { error: `Unknown host event ${event.type}` });
  }
}

function withoutTimers(snapshot: MachineSnapshot): MachineSnapshot {
  const { timers: _timers, ...rest } = snapshot;
  return rest;
}

function withoutChildren(snapshot: MachineSnapshot): MachineSnapshot {
  const { children: _children, ...rest } = snapshot;
  return rest;
}

/**
 * Applies the result of an `effect` command: on success a plain-object `data` is merged into the
 * context (upstream semantics); a failure leaves the snapshot as it is (the host reports it).
 */
export function applyEffectResult(machine: MachineDef, snapshot: MachineSnapshot, result: EffectResult): StepOutput {
  indexOf(machine);
  if (!result.ok) return { snapshot, commands: EMPTY };
  const data = result.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { snapshot, commands: EMPTY };
  return { snapshot: { ...snapshot, context: { ...snapshot.context, ...(data as MachineContext) } }, commands: EMPTY };
}

/** A JSON-safe copy of a snapshot, for storage. */
export function persist(snapshot: MachineSnapshot): MachineSnapshot {
  return JSON.parse(JSON.stringify(snapshot)) as MachineSnapshot;
}

/**
 * Rebuilds a snapshot from storage (an object or its JSON text), checking it against the machine.
 * No entry action runs. The caller decides what a different `version` means.
 */
export function restore(machine: MachineDef, json: string | MachineSnapshot): MachineSnapshot {
  const data: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  const bad = (why: string): KeelError =>
    invalid(machine, `cannot restore the snapshot: ${why}.`, MachineErrorCode.InvalidSnapshot);
  if (data === null || typeof data !== 'object') throw bad('it is not an object');
  const s = data as Partial<MachineSnapshot>;
  if (s.machine !== machine.name) throw bad(`it belongs to machine '${String(s.machine)}'`);
  if (s.value === undefined) throw bad('it has no state value');
  if (s.context === null || typeof s.context !== 'object') throw bad('it has no context');
  if (s.status !== 'active' && s.status !== 'done') throw bad(`its status '${String(s.status)}' is neither 'active' nor 'done'`);
  const index = indexOf(machine);
  const config = configOfValue(index, s.value);
  const snapshot: Writable<MachineSnapshot> = {
    machine: s.machine,
    version: typeof s.version === 'string' ? s.version : machine.version,
    value: config.value,
    context: s.context,
    status: s.status,
    seq: typeof s.seq === 'number' ? s.seq : 0,
  };
  // Timers and children belong to active states; anything else is a snapshot of another shape.
  const activeState = (id: unknown): boolean => {
    const node = typeof id === 'string' ? index.byId.get(id) : undefined;
    return node !== undefined && config.active[node.index] === 1;
  };
  if (Array.isArray(s.timers) && s.timers.length > 0) {
    for (const t of s.timers as readonly Partial<TimerRecord>[]) {
      if (typeof t.id !== 'string' || !activeState(t.state)) throw bad(`its timer ${JSON.stringify(t)} is not on an active state`);
    }
    snapshot.timers = s.timers;
  }
  if (Array.isArray(s.children) && s.children.length > 0) {
    for (const c of s.children as readonly Partial<ChildRecord>[]) {
      if (typeof c.id !== 'string' || !activeState(c.state)) throw bad(`its child ${JSON.stringify(c)} is not on an active state`);
    }
    snapshot.children = s.children;
  }
  return snapshot;
}

// ---------------------------------------------------------------------------------------------
// Queries

/** Ids (dotted paths) of the active leaves, in document order. */
export function activeLeaves(machine: MachineDef, snapshot: Pick<MachineSnapshot, 'value'>): string[] {
  return configOfValue(indexOf(machine), snapshot.value).leaves.map((l) => l.id);
}

/** The configuration as text: dotted leaf paths joined by ', ' (`exploration.overworld`). */
export function stateText(machine: MachineDef, snapshot: Pick<MachineSnapshot, 'value'>): string {
  return configOfValue(indexOf(machine), snapshot.value).text;
}

/** Whether a state (a simple name or a dotted path, as in transitions) is active. */
export function isActive(machine: MachineDef, snapshot: Pick<MachineSnapshot, 'value'>, state: string): boolean {
  const index = indexOf(machine);
  const node = index.resolve(state);
  return configOfValue(index, snapshot.value).active[node.index] === 1;
}

/** The events that some active state has a transition for (useful for UIs and REPLs). */
export function availableEvents(machine: MachineDef, snapshot: Pick<MachineSnapshot, 'value'>): string[] {
  const config = configOfValue(indexOf(machine), snapshot.value);
  const out = new Set<string>();
  for (const n of config.nodes) for (const e of n.on.keys()) out.add(e);
  return [...out];
}
