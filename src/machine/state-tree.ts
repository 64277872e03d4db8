import type { MachineDef, StateDef } from './ast.js';

/**
 * An indexed view of a machine's state tree, shared by the parsers' reference checks and the
 * verifier (and usable by anything that resolves `Source`/`Target` names).
 *
 * Glossary:
 * - node: one state anywhere in the tree.
 * - id: the dotted path of state names from the root, regions left out
 *   (`processing.charging`); unique, because sibling names are unique (DUPLICATE_STATE).
 * - region path: the same with region names in (`processing.payment_flow.charging`).
 *
 * Name resolution (ORCA.md §4.2): a reference is a simple name or a dotted path. It names the
 * node whose id, or region path, ends with the reference's segments; it must match exactly one
 * node. So `charging`, `processing.charging` and `payment_flow.charging` all name the same node,
 * and a simple name used in two branches must be written as a dotted path.
 */
export interface StateNode {
  state: StateDef;
  id: string;
  /** State names from the root, regions excluded. */
  path: string[];
  /** State and region names from the root. */
  regionPath: string[];
  parent: StateNode | undefined;
  /** The region this node sits in directly, when its parent is a parallel state. */
  region: string | undefined;
  children: StateNode[];
  kind: 'atomic' | 'compound' | 'parallel';
  /** Markdown heading level the node needs: `##` for the top level, one more per state or region. */
  headingLevel: number;
}

export type ResolveResult =
  | { ok: true; node: StateNode }
  | { ok: false; reason: 'unknown'; suggestion: string | undefined }
  | { ok: false; reason: 'ambiguous'; candidates: StateNode[] };

export class StateTree {
  readonly nodes: StateNode[] = [];
  readonly roots: StateNode[] = [];
  private readonly byId = new Map<string, StateNode>();
  private readonly byName = new Map<string, StateNode[]>();
  private readonly byState = new Map<StateDef, StateNode>();

  constructor(readonly machine: MachineDef) {
    // Iterative walk: a hand-built AST may be arbitrarily deep, and the tree must not overflow.
    const stack: { state: StateDef; parent: StateNode | undefined; region: string | undefined; regionPath: string[]; level: number }[] = [];
    for (let i = machine.states.length - 1; i >= 0; i--) {
      const state = machine.states[i];
      if (state) stack.push({ state, parent: undefined, region: undefined, regionPath: [], level: 2 });
    }
    while (stack.length > 0) {
      const item = stack.pop();
      if (!item) break;
      const { state, parent, region } = item;
      const path = parent ? [...parent.path, state.name] : [state.name];
      const regionPath = [...item.regionPath, state.name];
      const node: StateNode = {
        state,
        id: path.join('.'),
        path,
        regionPath,
        parent,
        region,
        children: [],
        kind: state.parallel ? 'parallel' : state.contains && state.contains.length > 0 ? 'compound' : 'atomic',
        headingLevel: item.level,
      };
      this.nodes.push(node);
      if (parent) parent.children.push(node);
      else this.roots.push(node);
      if (!this.byId.has(node.id)) this.byId.set(node.id, node);
      const list = this.byName.get(state.name);
      if (list) list.push(node);
      else this.byName.set(state.name, [node]);
      this.byState.set(state, node);
      const pending: typeof stack = [];
      for (const child of state.contains ?? []) {
        pending.push({ state: child, parent: node, region: undefined, regionPath, level: item.level + 1 });
      }
      for (const r of state.parallel?.regions ?? []) {
        for (const child of r.states) {
          pending.push({ state: child, parent: node, region: r.name, regionPath: [...regionPath, r.name], level: item.level + 2 });
        }
      }
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i];
        if (p) stack.push(p);
      }
    }
  }

  get(id: string): StateNode | undefined {
    return this.byId.get(id);
  }

  nodeOf(state: StateDef): StateNode | undefined {
    return this.byState.get(state);
  }

  resolve(ref: string): ResolveResult {
    const segments = ref.split('.');
    const last = segments[segments.length - 1] ?? '';
    const candidates = (this.byName.get(last) ?? []).filter(
      (n) => endsWith(n.path, segments) || endsWith(n.regionPath, segments),
    );
    const first = candidates[0];
    if (candidates.length === 1 && first) return { ok: true, node: first };
    if (candidates.length > 1) return { ok: false, reason: 'ambiguous', candidates };
    return { ok: false, reason: 'unknown', suggestion: closest(last, [...this.byName.keys()]) };
  }

  /** The node and its ancestors, innermost first. */
  ancestry(node: StateNode): StateNode[] {
    const out: StateNode[] = [];
    for (let n: StateNode | undefined = node; n; n = n.parent) out.push(n);
    return out;
  }

  isDescendantOrSelf(node: StateNode, ancestor: StateNode): boolean {
    for (let n: StateNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
    return false;
  }

  /** Children of a compound node, or of one region of a parallel node. */
  regionChildren(node: StateNode, region: string): StateNode[] {
    return node.children.filter((c) => c.region === region);
  }

  /** The leaves that become active when `node` is entered: initial children all the way down. */
  entryLeaves(node: StateNode): StateNode[] {
    const out: StateNode[] = [];
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop();
      if (!n) break;
      if (n.kind === 'atomic') {
        out.push(n);
      } else if (n.kind === 'compound') {
        const init = n.children.find((c) => c.state.isInitial) ?? n.children[0];
        if (init) stack.push(init);
        else out.push(n);
      } else {
        for (const r of n.state.parallel?.regions ?? []) {
          const kids = this.regionChildren(n, r.name);
          const init = kids.find((c) => c.state.isInitial) ?? kids[0];
          if (init) stack.push(init);
        }
      }
    }
    return out;
  }

  leaves(): StateNode[] {
    return this.nodes.filter((n) => n.kind === 'atomic');
  }
}

function endsWith(path: readonly string[], segments: readonly string[]): boolean {
  if (segments.length > path.length) return false;
  const offset = path.length - segments.length;
  return segments.every((s, i) => path[offset + i] === s);
}

/** The known name closest to `name` by edit distance, if any is plausibly a typo of it. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  // Names are short; cap the work so a huge junk name costs nothing.
  if (Math.abs(a.length - b.length) > 8 || a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charAt(i - 1) === b.charAt(j - 1) ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? Infinity;
}
