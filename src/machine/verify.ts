import type { GuardExpression, MachineDef, OrcaFile, PropertyDef, SourceLocation, StateDef } from './ast.js';
import { evaluateGuard } from './guard-eval.js';
import { fieldName, guardVariables } from './guard-expression.js';
import { mutuallyExclusive, staticallyFalse } from './guard-logic.js';
import type { ResolvedTransition } from './machine-graph.js';
import { formatPath, isInside, MachineGraph } from './machine-graph.js';
import { printProperty } from './print-markdown.js';
import type { StateNode } from './state-tree.js';
import { verifyDecisionTable } from './verify-decision-table.js';
import { verifyTablesAgainstMachine } from './verify-dt-machine.js';
import type { VerifyIssue, VerifyResult } from './verify-types.js';
import { VerifyCode } from './verify-types.js';

export type { Severity, VerifyIssue, VerifyLocation, VerifyResult } from './verify-types.js';
export { VerifyCode } from './verify-types.js';

/**
 * The Orca verifier (ORCA.md §4.6): structural checks, orphans, completeness, determinism with
 * exclusivity proofs, properties by bounded model checking, size limits, and (for a whole file)
 * the multi-machine and decision-table checks, including a table checked against the machine
 * whose context it reads and writes (dead guards, reachability constrained by the table).
 *
 * It works on any AST, including a hand-built one that the parsers would have rejected: names
 * that do not resolve are reported (UNKNOWN_STATE, UNKNOWN_GUARD) instead of crashing a check.
 * `valid` is false when any issue has severity 'error'; warnings alone keep it true.
 */

export interface VerifyOptions {
  /** MACHINE_TOO_LARGE above this many leaf states; default 32 (the upstream catalog's limit). */
  maxLeafStates?: number;
  /** STATE_LIMIT_EXCEEDED above this many leaf states across a file; default 64. */
  maxFileStates?: number;
}

const DEFAULT_MAX_LEAVES = 32;
const DEFAULT_MAX_FILE_STATES = 64;

class Issues {
  readonly list: VerifyIssue[] = [];
  constructor(private readonly machine?: string) {}
  add(
    code: VerifyCode,
    severity: VerifyIssue['severity'],
    message: string,
    suggestion: string | undefined,
    where: { state?: string; event?: string; loc?: SourceLocation | undefined } = {},
  ): void {
    const issue: VerifyIssue = { code, severity, message };
    const location: NonNullable<VerifyIssue['location']> = {};
    if (this.machine !== undefined) location.machine = this.machine;
    if (where.state !== undefined) location.state = where.state;
    if (where.event !== undefined) location.event = where.event;
    if (where.loc) {
      location.line = where.loc.line;
      location.column = where.loc.column;
    }
    if (Object.keys(location).length > 0) issue.location = location;
    if (suggestion !== undefined) issue.suggestion = suggestion;
    this.list.push(issue);
  }
}

function result(list: VerifyIssue[]): VerifyResult {
  return { valid: !list.some((i) => i.severity === 'error'), errors: list };
}

/**
 * Verifies one machine.
 *
 * @example
 * ```ts
 * const { valid, errors } = verifyMachine(parseMachine(source));
 * for (const e of errors) console.log(`${e.severity} ${e.code}: ${e.message}`);
 * ```
 */
export function verifyMachine(machine: MachineDef, options: VerifyOptions = {}): VerifyResult {
  return result(machineIssues(machine, options, undefined));
}

function machineIssues(machine: MachineDef, options: VerifyOptions, tag: string | undefined): VerifyIssue[] {
  const issues = new Issues(tag);
  const graph = new MachineGraph(machine);
  const tree = graph.tree;
  const guards = new Map(machine.guards.map((g) => [g.name, g]));

  // Names that do not resolve: only a hand-built AST gets here (the parsers reject them).
  for (const t of machine.transitions) {
    for (const [what, ref] of [
      ['source', t.source],
      ['target', t.target],
    ] as const) {
      const r = tree.resolve(ref);
      if (!r.ok) {
        issues.add(
          VerifyCode.UnknownState,
          'error',
          `Transition ${what} '${ref}' ${r.reason === 'ambiguous' ? 'matches several states' : 'is not a state of this machine'}.`,
          r.reason === 'ambiguous' ? `Use one of the dotted paths ${r.candidates.map((c) => c.id).join(', ')}.` : 'Declare the state, or fix the name.',
          { event: t.event, loc: t.loc },
        );
      }
    }
    if (t.guard && !guards.has(t.guard.name)) {
      issues.add(VerifyCode.UnknownGuard, 'error', `Transition ${t.source} + ${t.event} uses guard '${t.guard.name}', which is not defined.`, `Add '${t.guard.name}' to the guards table.`, {
        state: t.source,
        event: t.event,
        loc: t.loc,
      });
    }
  }

  structural(machine, graph, issues);
  orphans(machine, tree.nodes, issues);
  completeness(machine, graph, issues);
  determinism(graph, guards, issues);
  if (machine.properties) properties(machine, machine.properties, graph, issues);

  const leaves = tree.leaves().length;
  const max = options.maxLeafStates ?? DEFAULT_MAX_LEAVES;
  if (leaves > max) {
    issues.add(
      VerifyCode.MachineTooLarge,
      'error',
      `Machine '${machine.name}' has ${leaves} leaf states, more than the limit of ${max}.`,
      'Group related states into compound states, or split the machine into smaller machines that invoke each other.',
      { loc: machine.loc },
    );
  }
  return issues.list;
}

function structural(machine: MachineDef, graph: MachineGraph, issues: Issues): void {
  const tree = graph.tree;
  const initial = tree.roots.find((r) => r.state.isInitial);
  if (!initial) {
    issues.add(
      VerifyCode.NoInitialState,
      'error',
      `Machine '${machine.name}' has no initial state.`,
      `Mark the state to start in with [initial], e.g. 'state ${tree.roots[0]?.state.name ?? 'idle'} [initial]'.`,
      { loc: machine.loc },
    );
  }
  for (const node of tree.nodes) {
    if (node.kind === 'compound' && !node.children.some((c) => c.state.isInitial)) {
      issues.add(VerifyCode.NoInitialState, 'error', `Compound state '${node.id}' has no initial child.`, `Mark one of its children [initial].`, {
        state: node.id,
        loc: node.state.loc,
      });
    }
    if (node.kind === 'parallel') {
      const regions = node.state.parallel?.regions ?? [];
      for (const r of regions) {
        if (!r.states.some((s) => s.isInitial)) {
          issues.add(VerifyCode.NoInitialState, 'error', `Region '${r.name}' of '${node.id}' has no initial state.`, 'Mark one of its states [initial].', {
            state: node.id,
            loc: r.loc,
          });
        }
      }
      if (regions.length < 2) {
        issues.add(
          VerifyCode.InsufficientRegions,
          'warning',
          `Parallel state '${node.id}' has ${regions.length} region${regions.length === 1 ? '' : 's'}; a parallel state is for two or more concurrent regions.`,
          'Add another region, or make the state compound.',
          { state: node.id, loc: node.state.loc },
        );
      }
    }
  }

  // Reachability over the flattened graph; a visited leaf makes its ancestors reachable.
  if (initial) {
    const search = graph.search(graph.initialLeaves());
    const reached = new Set<StateNode>();
    for (const leaf of search.depth.keys()) for (const a of tree.ancestry(leaf)) reached.add(a);
    for (const node of tree.nodes) {
      if (reached.has(node)) continue;
      // Report the outermost unreachable state only: its children follow from it.
      if (node.parent && !reached.has(node.parent)) continue;
      if (node.parent) {
        // ORCA.md: visiting a compound state makes all its children reachable, so this is not an
        // error; but no transition enters this child and it is not the initial one, so say so.
        issues.add(
          VerifyCode.UnreachableState,
          'warning',
          `State '${node.id}' is never entered: '${node.parent.id}' is reachable, but no transition targets '${node.id}' and it is not its initial state.`,
          `Add a transition that targets '${node.id}', or remove it.`,
          { state: node.id, loc: node.state.loc },
        );
        continue;
      }
      issues.add(
        VerifyCode.UnreachableState,
        'error',
        `State '${node.id}' cannot be reached from the initial state '${initial.id}'.`,
        `Add a transition that targets '${node.id}' from a reachable state, or remove it.`,
        { state: node.id, loc: node.state.loc },
      );
    }
  }

  const outgoing = new Map<StateNode, ResolvedTransition[]>();
  for (const rt of graph.transitions) {
    const list = outgoing.get(rt.source);
    if (list) list.push(rt);
    else outgoing.set(rt.source, [rt]);
  }
  for (const node of tree.nodes) {
    if (!node.state.isFinal) continue;
    const leaving = (outgoing.get(node) ?? []).filter((rt) => rt.target !== node);
    for (const rt of leaving) {
      issues.add(
        VerifyCode.FinalStateOutgoing,
        'error',
        `Final state '${node.id}' has an outgoing transition on '${rt.transition.event}' to '${rt.target.id}'.`,
        `Remove the transition, or drop [final] from '${node.id}'.`,
        { state: node.id, event: rt.transition.event, loc: rt.transition.loc },
      );
    }
    if (node.state.timeout) {
      issues.add(VerifyCode.FinalStateOutgoing, 'error', `Final state '${node.id}' has a timeout.`, `Remove the timeout, or drop [final].`, {
        state: node.id,
        loc: node.state.loc,
      });
    }
  }
  // A leaf is stuck when neither it nor any state around it has a way out.
  for (const leaf of tree.leaves()) {
    if (leaf.state.isFinal) continue;
    const ways = tree
      .ancestry(leaf)
      .some((a) => (outgoing.get(a)?.length ?? 0) > 0 || a.state.timeout !== undefined || (a !== leaf && a.state.onDone !== undefined));
    if (ways) continue;
    issues.add(
      VerifyCode.Deadlock,
      'error',
      `State '${leaf.id}' is not final but has no outgoing transition: a run that enters it stays forever.`,
      `Add a transition out of '${leaf.id}' (or a timeout), or mark it [final].`,
      { state: leaf.id, loc: leaf.state.loc },
    );
  }
}

function orphans(machine: MachineDef, nodes: StateNode[], issues: Issues): void {
  const usedEvents = new Set<string>();
  const usedActions = new Set<string>();
  for (const t of machine.transitions) {
    usedEvents.add(t.event);
    if (t.action !== undefined) usedActions.add(t.action);
  }
  for (const n of nodes) {
    for (const e of n.state.ignoredEvents ?? []) usedEvents.add(e);
    if (n.state.onEntry !== undefined) usedActions.add(n.state.onEntry);
    if (n.state.onExit !== undefined) usedActions.add(n.state.onExit);
  }
  for (const e of machine.events) {
    if (usedEvents.has(e.name)) continue;
    issues.add(VerifyCode.OrphanEvent, 'warning', `Event '${e.name}' is declared but no transition uses it and no state ignores it.`, `Use '${e.name}' in a transition, or remove it from the events.`, {
      event: e.name,
      loc: e.loc,
    });
  }
  for (const a of machine.actions) {
    if (usedActions.has(a.name)) continue;
    issues.add(VerifyCode.OrphanAction, 'warning', `Action '${a.name}' is declared but never referenced by a transition, on_entry or on_exit.`, `Reference '${a.name}', or remove it from the actions.`, {
      loc: a.loc,
    });
  }
  if (machine.effects) {
    const used = new Set(machine.actions.flatMap((a) => (a.effect !== undefined ? [a.effect] : [])));
    const declared = new Set(machine.effects.map((e) => e.name));
    for (const e of machine.effects) {
      if (used.has(e.name)) continue;
      issues.add(VerifyCode.OrphanEffect, 'warning', `Effect '${e.name}' is declared but no action has '+ Effect<${e.name}>'.`, `Use it in an action signature, or remove it from the effects.`, {
        loc: e.loc,
      });
    }
    for (const a of machine.actions) {
      if (a.effect === undefined || declared.has(a.effect)) continue;
      issues.add(
        VerifyCode.UndeclaredEffect,
        'warning',
        `Action '${a.name}' has effect '${a.effect}', which the effects table does not declare.`,
        `Add '| ${a.effect} | <input> | <output> |' to the effects table, or fix the name.`,
        { loc: a.loc },
      );
    }
  }
}

function completeness(machine: MachineDef, graph: MachineGraph, issues: Issues): void {
  const tree = graph.tree;
  for (const root of tree.roots) {
    const s = root.state;
    if (s.isFinal || s.ignoredAll) continue;
    const ignored = new Set(s.ignoredEvents ?? []);
    const handled = new Set(graph.transitions.filter((rt) => isInside(rt.source, root)).map((rt) => rt.transition.event));
    for (const e of machine.events) {
      if (handled.has(e.name) || ignored.has(e.name)) continue;
      issues.add(
        VerifyCode.IncompleteEventHandling,
        'error',
        `State '${root.id}' neither handles nor ignores event '${e.name}'.`,
        `Add a transition '${root.id} + ${e.name} -> <target>', or '- ignore: ${e.name}' (or '- ignore: *') under the state.`,
        { state: root.id, event: e.name, loc: s.loc },
      );
    }
  }
}

function guardText(g: { name: string; negated: boolean }): string {
  return `${g.negated ? '!' : ''}${g.name}`;
}

function determinism(graph: MachineGraph, guards: Map<string, { expression: GuardExpression }>, issues: Issues): void {
  const groups = new Map<string, ResolvedTransition[]>();
  for (const rt of graph.transitions) {
    const key = `${rt.source.id}\u0000${rt.transition.event}`;
    const list = groups.get(key);
    if (list) list.push(rt);
    else groups.set(key, [rt]);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const first = group[0] as ResolvedTransition;
    const where = { state: first.source.id, event: first.transition.event };
    const unguarded = group.filter((rt) => !rt.transition.guard);
    if (unguarded.length > 1) {
      issues.add(
        VerifyCode.NonDeterministic,
        'error',
        `State '${where.state}' has ${unguarded.length} unguarded transitions on '${where.event}' (to ${unguarded.map((u) => `'${u.target.id}'`).join(', ')}); only the first can ever fire.`,
        'Give the transitions mutually exclusive guards, or remove all but one.',
        { ...where, loc: unguarded[1]?.transition.loc },
      );
    }
    const guarded = group.filter((rt) => rt.transition.guard);
    for (let i = 0; i < guarded.length; i++) {
      for (let j = i + 1; j < guarded.length; j++) {
        const a = guarded[i]?.transition;
        const b = guarded[j]?.transition;
        if (!a?.guard || !b?.guard) continue;
        if (a.guard.name === b.guard.name && a.guard.negated !== b.guard.negated) continue; // g / !g
        const ea = guards.get(a.guard.name)?.expression;
        const eb = guards.get(b.guard.name)?.expression;
        if (!ea || !eb) {
          const missing = !ea ? a.guard.name : b.guard.name;
          issues.add(
            VerifyCode.GuardExhaustiveness,
            'warning',
            `Guard '${missing}' on '${where.state}' + '${where.event}' cannot be resolved, so its exclusivity cannot be checked.`,
            `Define '${missing}' in the guards table.`,
            { ...where, loc: b.loc },
          );
          continue;
        }
        const xa = a.guard.negated ? ({ kind: 'not', expr: ea } as const) : ea;
        const xb = b.guard.negated ? ({ kind: 'not', expr: eb } as const) : eb;
        if (mutuallyExclusive(xa, xb)) continue;
        issues.add(
          VerifyCode.GuardExhaustiveness,
          'warning',
          `Guards '${guardText(a.guard)}' and '${guardText(b.guard)}' on '${where.state}' + '${where.event}' are not provably mutually exclusive; when both hold, the first in table order wins.`,
          `Make the guards exclusive (e.g. '${guardText(a.guard)}' and '!${a.guard.negated ? a.guard.name : a.guard.name}'), or order the rows deliberately.`,
          { ...where, loc: b.loc },
        );
      }
    }
  }
}

function describeProperty(p: PropertyDef): string {
  return p.kind === 'invariant' ? `invariant${p.inState !== undefined ? ` in ${p.inState}` : ''}` : printProperty(p);
}

function properties(machine: MachineDef, props: PropertyDef[], graph: MachineGraph, issues: Issues): void {
  const tree = graph.tree;
  const resolveState = (ref: string, p: PropertyDef): StateNode | undefined => {
    const r = tree.resolve(ref);
    if (r.ok) return r.node;
    if (r.reason === 'ambiguous') {
      issues.add(
        VerifyCode.PropertyAmbiguousState,
        'error',
        `Property '${describeProperty(p)}' names '${ref}', which matches several states (${r.candidates.map((c) => c.id).join(', ')}).`,
        `Write the dotted path of the state you mean, e.g. '${r.candidates[0]?.id ?? ref}'.`,
        { state: ref, loc: p.loc },
      );
    } else {
      issues.add(
        VerifyCode.PropertyInvalidState,
        'error',
        `Property '${describeProperty(p)}' names '${ref}', which is not a state of this machine.`,
        r.suggestion !== undefined ? `Did you mean '${r.suggestion}'?` : `Use one of: ${tree.nodes.map((n) => n.id).join(', ')}.`,
        { state: ref, loc: p.loc },
      );
    }
    return undefined;
  };
  const guardNote = (steps: { guard?: string }[]): string => {
    const gs = steps.flatMap((s) => (s.guard !== undefined ? [s.guard] : []));
    return gs.length > 0 ? ` The path needs guard${gs.length > 1 ? 's' : ''} ${gs.map((g) => `'${g}'`).join(', ')} to hold, so runtime data may block it.` : '';
  };

  for (const p of props) {
    switch (p.kind) {
      case 'reachable':
      case 'unreachable': {
        const from = resolveState(p.from, p);
        const target = resolveState(p.target, p);
        if (!from || !target) break;
        const search = graph.search(tree.entryLeaves(from));
        const hit = search.reached(target);
        if (p.kind === 'reachable' && !hit) {
          issues.add(
            VerifyCode.PropertyReachabilityFail,
            'error',
            `Property '${describeProperty(p)}' does not hold: no path leads from '${from.id}' to '${target.id}'.`,
            `Add transitions that lead from '${from.id}' to '${target.id}', or drop the property.`,
            { state: from.id, loc: p.loc },
          );
        }
        if (p.kind === 'unreachable' && hit) {
          const path = search.path(hit);
          issues.add(
            VerifyCode.PropertyExclusionFail,
            'error',
            `Property '${describeProperty(p)}' does not hold: counterexample ${formatPath(path)}.${guardNote(path.steps)}`,
            `Remove or guard a transition on this path, or drop the property if the path is intended.`,
            { state: from.id, loc: p.loc },
          );
        }
        break;
      }
      case 'passes_through': {
        const from = resolveState(p.from, p);
        const to = resolveState(p.to, p);
        const through = resolveState(p.through, p);
        if (!from || !to || !through) break;
        if (!graph.search(tree.entryLeaves(from)).reached(to)) {
          issues.add(
            VerifyCode.PropertyPathFail,
            'error',
            `Property '${describeProperty(p)}' does not hold: '${to.id}' cannot be reached from '${from.id}' at all.`,
            `Add a path from '${from.id}' through '${through.id}' to '${to.id}'.`,
            { state: from.id, loc: p.loc },
          );
          break;
        }
        const bypass = graph.search(tree.entryLeaves(from), { avoid: (n) => isInside(n, through) });
        const hit = bypass.reached(to);
        if (hit) {
          const path = bypass.path(hit);
          issues.add(
            VerifyCode.PropertyPathFail,
            'error',
            `Property '${describeProperty(p)}' does not hold: counterexample ${formatPath(path)} bypasses '${through.id}'.${guardNote(path.steps)}`,
            `Route every path from '${from.id}' to '${to.id}' through '${through.id}'.`,
            { state: from.id, loc: p.loc },
          );
        }
        break;
      }
      case 'live': {
        // Backward search from the final top-level states over reversed edges.
        const leaves = tree.leaves();
        const reverse = new Map<StateNode, StateNode[]>();
        for (const leaf of leaves) {
          for (const e of graph.edgesFrom(leaf)) {
            const list = reverse.get(e.to);
            if (list) list.push(leaf);
            else reverse.set(e.to, [leaf]);
          }
        }
        const canFinish = new Set(leaves.filter((l) => l.state.isFinal && !l.parent));
        const queue = [...canFinish];
        for (let i = 0; i < queue.length; i++) {
          for (const prev of reverse.get(queue[i] as StateNode) ?? []) {
            if (canFinish.has(prev)) continue;
            canFinish.add(prev);
            queue.push(prev);
          }
        }
        const search = graph.search(graph.initialLeaves());
        for (const leaf of search.depth.keys()) {
          if (canFinish.has(leaf) || (leaf.state.isFinal && !leaf.parent)) continue;
          const path = search.path(leaf);
          issues.add(
            VerifyCode.PropertyLivenessFail,
            'error',
            `Property 'live' does not hold: from '${leaf.id}' no final state can be reached (reached by ${formatPath(path)}).`,
            `Add a transition from '${leaf.id}' towards a final state, or mark it [final].`,
            { state: leaf.id, loc: p.loc },
          );
        }
        break;
      }
      case 'responds': {
        const from = resolveState(p.from, p);
        const target = resolveState(p.target, p);
        if (!from || !target) break;
        if (graph.search(tree.entryLeaves(from), { maxDepth: p.within }).reached(target)) break;
        const unbounded = graph.search(tree.entryLeaves(from));
        const hit = unbounded.reached(target);
        const detail = hit
          ? `the shortest path takes ${unbounded.depth.get(hit) ?? '?'} transitions: ${formatPath(unbounded.path(hit))}`
          : `'${target.id}' cannot be reached from '${from.id}' at all`;
        issues.add(
          VerifyCode.PropertyResponseFail,
          'error',
          `Property '${describeProperty(p)}' does not hold: ${detail}.`,
          hit ? `Shorten the path, or raise the bound to 'within ${unbounded.depth.get(hit) ?? p.within}'.` : `Add transitions from '${from.id}' to '${target.id}'.`,
          { state: from.id, loc: p.loc },
        );
        break;
      }
      case 'invariant':
        invariant(machine, p, resolveState, issues);
        break;
    }
  }
}

function invariant(
  machine: MachineDef,
  p: Extract<PropertyDef, { kind: 'invariant' }>,
  resolveState: (ref: string, p: PropertyDef) => StateNode | undefined,
  issues: Issues,
): void {
  if (p.inState !== undefined && !resolveState(p.inState, p)) return;
  const fields = new Map(machine.context.map((f) => [f.name, f]));
  let ok = true;
  for (const v of guardVariables(p.expression)) {
    const field = fieldName(v.path);
    if (field !== undefined && fields.has(field)) continue;
    ok = false;
    issues.add(
      VerifyCode.PropertyInvariantInvalid,
      'error',
      field === undefined
        ? `Invariant reads '${v.path.join('.')}', but an invariant ranges over the context only.`
        : `Invariant reads '${v.path.join('.')}', but the context declares no field '${field}'.`,
      field === undefined ? 'Rewrite it over ctx.<field>.' : `Declare '${field}' in the context table, or fix the name.`,
      { loc: p.loc },
    );
  }
  if (!ok) return;
  // The context the machine starts with is known: when every field it reads has a default, the
  // invariant can be checked for the initial state outright.
  const defaults: Record<string, unknown> = Object.fromEntries(machine.context.map((f) => [f.name, f.defaultValue ?? null]));
  const readsOnlyDefaults = guardVariables(p.expression).every((v) => defaults[fieldName(v.path) ?? ''] !== null);
  const initial = machine.states.find((s) => s.isInitial);
  const appliesAtStart = p.inState === undefined || (initial !== undefined && initialPathNames(initial).includes(p.inState));
  if (readsOnlyDefaults && appliesAtStart && (staticallyFalse(p.expression) || !evaluateGuard(p.expression, { ctx: defaults }))) {
    issues.add(
      VerifyCode.PropertyInvariantFail,
      'error',
      `Invariant ${describeProperty(p).slice('invariant'.length).trim()} does not hold for the default context the machine starts with.`,
      'Fix the defaults in the context table, or the invariant.',
      { loc: p.loc },
    );
    return;
  }
  issues.add(
    VerifyCode.PropertyInvariantAdvisory,
    'warning',
    `Invariant${p.inState !== undefined ? ` in '${p.inState}'` : ''} is well-formed, but it depends on what the actions write to the context, which the verifier cannot see; it is checked against the defaults only.`,
    'Cover it with a runtime test that drives the machine with the real actions.',
    { loc: p.loc },
  );
}

function initialPathNames(state: StateDef): string[] {
  const names = [state.name];
  let cur: StateDef | undefined = state;
  while (cur?.contains && cur.contains.length > 0) {
    cur = cur.contains.find((c) => c.isInitial) ?? cur.contains[0];
    if (cur) names.push(cur.name);
  }
  return names;
}

/**
 * Verifies every machine and decision table in a file, plus the checks that need several
 * machines (invocation).
 */
export function verifyFile(file: OrcaFile, options: VerifyOptions = {}): VerifyResult {
  const list: VerifyIssue[] = [];
  for (const m of file.machines) list.push(...machineIssues(m, options, m.name));
  const issues = new Issues();
  const byName = new Map(file.machines.map((m) => [m.name, m]));
  const invokes = new Map<string, { state: StateDef; loc: SourceLocation | undefined }[]>();

  for (const m of file.machines) {
    const tagged = new Issues(m.name);
    const events = new Set(m.events.map((e) => e.name));
    const parentFields = new Set(m.context.map((f) => f.name));
    const tree = new MachineGraph(m).tree;
    const calls: { state: StateDef; loc: SourceLocation | undefined }[] = [];
    for (const node of tree.nodes) {
      const inv = node.state.invoke;
      if (!inv) continue;
      calls.push({ state: node.state, loc: node.state.loc });
      const where = { state: node.id, loc: node.state.loc };
      const child = byName.get(inv.machine);
      if (!child) {
        tagged.add(VerifyCode.UnknownMachine, 'error', `State '${node.id}' invokes machine '${inv.machine}', which this file does not define.`, `Add '# machine ${inv.machine}' to the file, or fix the name.`, where);
      }
      if (inv.onDone !== undefined && !events.has(inv.onDone)) {
        tagged.add(VerifyCode.UnknownOnDoneEvent, 'error', `on_done of '${node.id}' sends '${inv.onDone}', which '${m.name}' does not declare.`, `Add '${inv.onDone}' to the events of '${m.name}'.`, {
          ...where,
          event: inv.onDone,
        });
      }
      if (inv.onError === undefined) {
        tagged.add(VerifyCode.MissingOnError, 'warning', `State '${node.id}' invokes '${inv.machine}' without on_error: a failing child goes unnoticed.`, `Add '- on_error: <EVENT>' and a transition for it.`, where);
      } else if (!events.has(inv.onError)) {
        tagged.add(VerifyCode.UnknownOnErrorEvent, 'error', `on_error of '${node.id}' sends '${inv.onError}', which '${m.name}' does not declare.`, `Add '${inv.onError}' to the events of '${m.name}'.`, {
          ...where,
          event: inv.onError,
        });
      }
      if (child) {
        const childFields = new Set(child.context.map((f) => f.name));
        for (const [key, expr] of Object.entries(inv.input ?? {})) {
          if (!childFields.has(key)) {
            tagged.add(VerifyCode.InvalidInputMapping, 'error', `Input mapping of '${node.id}' sets '${key}', which is not a context field of '${child.name}'.`, `Use one of: ${[...childFields].join(', ') || '(none declared)'}.`, where);
          }
          const source = /^(?:(?:ctx|context)\.)?([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr.trim());
          const literal = /^(?:-?\d+(?:\.\d+)?|"[^"]*"|'[^']*'|true|false|null)$/.test(expr.trim()) || /^event\./.test(expr.trim());
          if (!literal && (!source?.[1] || !parentFields.has(source[1]))) {
            tagged.add(
              VerifyCode.InvalidInputMapping,
              'error',
              `Input mapping '${key}: ${expr}' of '${node.id}' does not read a context field of '${m.name}'.`,
              `Map from 'ctx.<field>' of '${m.name}' (${[...parentFields].join(', ') || 'no fields declared'}), or a literal.`,
              where,
            );
          }
        }
        const childGraph = new MachineGraph(child);
        const finals = childGraph.tree.roots.filter((r) => r.state.isFinal);
        const reach = childGraph.search(childGraph.initialLeaves());
        if (!finals.some((f) => reach.reached(f))) {
          tagged.add(
            VerifyCode.ChildNoFinalState,
            'error',
            `Machine '${child.name}', invoked by '${node.id}', ${finals.length === 0 ? 'has no final state' : 'cannot reach its final states'}: it never finishes, so on_done never fires.`,
            `Give '${child.name}' a reachable [final] state.`,
            where,
          );
        }
      }
    }
    invokes.set(m.name, calls);
    list.push(...tagged.list);
  }

  // Invocation cycles (A invokes B invokes A) would start machines without end.
  const color = new Map<string, 'grey' | 'black'>();
  const reported = new Set<string>();
  const visit = (name: string, stack: string[]): void => {
    color.set(name, 'grey');
    for (const call of invokes.get(name) ?? []) {
      const child = call.state.invoke?.machine;
      if (child === undefined || !byName.has(child)) continue;
      if (color.get(child) === 'grey') {
        const cycle = [...stack.slice(stack.indexOf(child)), child];
        const key = [...cycle].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          list.push({
            code: VerifyCode.CircularInvocation,
            severity: 'error',
            message: `Machines invoke each other in a cycle: ${cycle.join(' -> ')}.`,
            location: { machine: name, state: call.state.name, ...(call.loc ? { line: call.loc.line, column: call.loc.column } : {}) },
            suggestion: 'Break the cycle: a machine may not (indirectly) invoke itself.',
          });
        }
      } else if (color.get(child) === undefined) {
        visit(child, [...stack, child]);
      }
    }
    color.set(name, 'black');
  };
  for (const m of file.machines) if (!color.has(m.name)) visit(m.name, [m.name]);

  const total = file.machines.reduce((n, m) => n + new MachineGraph(m).tree.leaves().length, 0);
  const maxTotal = options.maxFileStates ?? DEFAULT_MAX_FILE_STATES;
  if (total > maxTotal) {
    issues.add(VerifyCode.StateLimitExceeded, 'error', `The file's machines have ${total} leaf states together, more than the limit of ${maxTotal}.`, 'Split the file, or simplify the machines.');
  }
  list.push(...issues.list);
  for (const dt of file.decisionTables) list.push(...verifyDecisionTable(dt).errors);
  // Dead guards and reachability constrained by the tables (verify-dt-machine.ts).
  if (file.decisionTables.length > 0) for (const m of file.machines) list.push(...verifyTablesAgainstMachine(m, file.decisionTables));
  return result(list);
}
