import type { GuardExpression, MachineDef, Transition } from './ast.js';
import { staticallyFalse } from './guard-logic.js';
import type { StateNode } from './state-tree.js';
import { StateTree } from './state-tree.js';

/**
 * The flattened transition graph the verifier's reachability checks and bounded model checking
 * run on (ORCA.md §4.6).
 *
 * Positions are leaf states. From a leaf, an event is handled at the innermost level of its
 * ancestry that has transitions for it (Harel priority, as the interpreter does); the edge leads
 * to every leaf entered by the target (its initial descendants; every region's initial leaf for a
 * parallel target). Timeouts of the leaf or any ancestor are edges too, and so is `on_done` of
 * an enclosing compound/parallel state from any final leaf inside it.
 *
 * Parallel regions are approximated: each region's leaves are positions of their own, so the
 * graph over-approximates the product of the regions (sound for "unreachable", and exact for
 * machines without parallel states). Transitions whose guard is statically false are pruned.
 */

export interface Edge {
  to: StateNode;
  /** The event, or 'timeout' / 'done' for the built-in edges. */
  event: string;
  /** `g` or `!g` when the edge needs a guard. */
  guard?: string;
}

export interface ResolvedTransition {
  transition: Transition;
  source: StateNode;
  target: StateNode;
}

export class MachineGraph {
  readonly tree: StateTree;
  readonly transitions: ResolvedTransition[] = [];
  private readonly edges = new Map<StateNode, Edge[]>();

  /**
   * @param options.prune - drops the transitions it returns true for, on top of those with a
   *   statically false guard (the decision-table checks prune guards a table makes impossible).
   */
  constructor(
    readonly machine: MachineDef,
    options: { prune?: (t: Transition) => boolean } = {},
  ) {
    this.tree = new StateTree(machine);
    const guards = new Map<string, GuardExpression>(machine.guards.map((g) => [g.name, g.expression]));
    const bySource = new Map<StateNode, ResolvedTransition[]>();
    for (const t of machine.transitions) {
      const s = this.tree.resolve(t.source);
      const d = this.tree.resolve(t.target);
      if (!s.ok || !d.ok) continue;
      const rt = { transition: t, source: s.node, target: d.node };
      this.transitions.push(rt);
      const list = bySource.get(s.node);
      if (list) list.push(rt);
      else bySource.set(s.node, [rt]);
    }
    const dead = (t: Transition): boolean => {
      if (options.prune?.(t) === true) return true;
      if (!t.guard) return false;
      const expr = guards.get(t.guard.name);
      if (!expr) return false;
      return staticallyFalse(t.guard.negated ? { kind: 'not', expr } : expr);
    };
    for (const leaf of this.tree.leaves()) {
      const out: Edge[] = [];
      const handled = new Set<string>();
      for (const level of this.tree.ancestry(leaf)) {
        const here = bySource.get(level) ?? [];
        const events = new Set<string>();
        for (const rt of here) {
          if (handled.has(rt.transition.event)) continue; // an inner level already handles it
          events.add(rt.transition.event);
          if (dead(rt.transition)) continue;
          const g = rt.transition.guard;
          for (const to of this.tree.entryLeaves(rt.target)) {
            out.push(g ? { to, event: rt.transition.event, guard: `${g.negated ? '!' : ''}${g.name}` } : { to, event: rt.transition.event });
          }
        }
        for (const e of events) handled.add(e);
        const timeout = level.state.timeout;
        if (timeout) {
          const r = this.tree.resolve(timeout.target);
          if (r.ok) for (const to of this.tree.entryLeaves(r.node)) out.push({ to, event: 'timeout' });
        }
        if (level !== leaf && leaf.state.isFinal && level.state.onDone !== undefined) {
          const r = this.tree.resolve(level.state.onDone);
          if (r.ok) for (const to of this.tree.entryLeaves(r.node)) out.push({ to, event: 'done' });
        }
      }
      this.edges.set(leaf, out);
    }
  }

  edgesFrom(leaf: StateNode): Edge[] {
    return this.edges.get(leaf) ?? [];
  }

  /** Leaves the machine starts in. */
  initialLeaves(): StateNode[] {
    const init = this.tree.roots.find((r) => r.state.isInitial);
    return init ? this.tree.entryLeaves(init) : [];
  }

  /**
   * Breadth-first search from the leaves of `from`; `avoid` positions are neither visited nor
   * expanded; `maxDepth` bounds the number of edges. Returns the depth of every visited leaf and
   * the edge that first reached it (for counterexample paths).
   */
  search(from: StateNode[], options: { avoid?: (n: StateNode) => boolean; maxDepth?: number } = {}): Search {
    const depth = new Map<StateNode, number>();
    const via = new Map<StateNode, { prev: StateNode; edge: Edge }>();
    const queue: StateNode[] = [];
    for (const s of from) {
      if (options.avoid?.(s) || depth.has(s)) continue;
      depth.set(s, 0);
      queue.push(s);
    }
    for (let i = 0; i < queue.length; i++) {
      const cur = queue[i] as StateNode;
      const d = depth.get(cur) ?? 0;
      if (options.maxDepth !== undefined && d >= options.maxDepth) continue;
      for (const edge of this.edgesFrom(cur)) {
        if (depth.has(edge.to) || options.avoid?.(edge.to)) continue;
        depth.set(edge.to, d + 1);
        via.set(edge.to, { prev: cur, edge });
        queue.push(edge.to);
      }
    }
    return new Search(depth, via);
  }
}

export class Search {
  constructor(
    readonly depth: Map<StateNode, number>,
    private readonly via: Map<StateNode, { prev: StateNode; edge: Edge }>,
  ) {}

  /** The first visited leaf inside `target` (the target itself or a descendant), nearest first. */
  reached(target: StateNode): StateNode | undefined {
    let best: StateNode | undefined;
    for (const [node, d] of this.depth) {
      if (!isInside(node, target)) continue;
      if (best === undefined || d < (this.depth.get(best) ?? Infinity)) best = node;
    }
    return best;
  }

  /** The edges from a start leaf to `leaf`. */
  path(leaf: StateNode): { start: StateNode; steps: Edge[] } {
    const steps: Edge[] = [];
    let cur = leaf;
    for (let v = this.via.get(cur); v; v = this.via.get(cur)) {
      steps.unshift(v.edge);
      cur = v.prev;
    }
    return { start: cur, steps };
  }
}

export function isInside(node: StateNode, ancestor: StateNode): boolean {
  for (let n: StateNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** `idle -[submit]-> validating -[retry [!can_retry]]-> failed` */
export function formatPath(path: { start: StateNode; steps: Edge[] }): string {
  return [path.start.id, ...path.steps.map((s) => `-[${s.event}${s.guard !== undefined ? ` [${s.guard}]` : ''}]-> ${s.to.id}`)].join(' ');
}
