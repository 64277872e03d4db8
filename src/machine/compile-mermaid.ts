/**
 * Compiles an Orca machine to a Mermaid `stateDiagram-v2`:
 *
 * - compound states and regions are `state X { … }` blocks, regions of a parallel state are
 *   separated by `--`;
 * - `[*] --> s` marks each level's initial state and `s --> [*]` each final state;
 * - transition labels read `event [guard] / action` (`[!guard]` when negated), timeouts
 *   `after 30s`, and `on_done` transitions `done`;
 * - entry/exit actions and `invoke:` appear as descriptions of simple states.
 *
 * Mermaid ids are global, so a name used in two branches gets its dotted path (dots → `_`) as id
 * and its name as label. A transition is written inside the innermost block that holds both its
 * ends, because Mermaid cannot draw an edge between states of two different blocks from inside one.
 */
import type { MachineDef, StateDef } from './ast.js';
import { StateTree, type StateNode } from './state-tree.js';

export function compileMermaid(machine: MachineDef): string {
  const tree = new StateTree(machine);
  const nameCount = new Map<string, number>();
  for (const n of tree.nodes) nameCount.set(n.state.name, (nameCount.get(n.state.name) ?? 0) + 1);
  const idOf = (n: StateNode): string => (nameCount.get(n.state.name) === 1 ? n.state.name : n.regionPath.join('_'));
  const regionId = (n: StateNode, region: string): string => [...n.regionPath, region].join('_');

  /** Edge lines by block: '' for the top level, else the block's region path joined by dots. */
  const lines = new Map<string, string[]>();
  const add = (block: string, line: string): void => {
    const list = lines.get(block);
    if (list) list.push(line);
    else lines.set(block, [line]);
  };
  const resolve = (ref: string): StateNode | undefined => {
    const r = tree.resolve(ref);
    return r.ok ? r.node : undefined;
  };
  /** The innermost block containing both ends (each end strictly inside it). */
  const commonBlock = (a: StateNode, b: StateNode): string => {
    const pa = a.regionPath.slice(0, -1);
    const pb = b.regionPath.slice(0, -1);
    let i = 0;
    while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
    return pa.slice(0, i).join('.');
  };
  const edge = (from: StateNode, to: StateNode, label: string): void => {
    add(commonBlock(from, to), `${idOf(from)} --> ${idOf(to)}${label === '' ? '' : ` : ${label}`}`);
  };

  for (const t of machine.transitions) {
    const from = resolve(t.source);
    const to = resolve(t.target);
    if (!from || !to) continue;
    let label = t.event;
    if (t.guard) label += ` [${t.guard.negated ? '!' : ''}${t.guard.name}]`;
    if (t.action !== undefined && t.action !== '' && t.action !== '_') label += ` / ${t.action}`;
    edge(from, to, label);
  }
  for (const n of tree.nodes) {
    const def = n.state;
    const timeoutTarget = def.timeout && resolve(def.timeout.target);
    if (def.timeout && timeoutTarget) edge(n, timeoutTarget, `after ${def.timeout.duration}`);
    const doneTarget = def.onDone !== undefined && def.invoke === undefined ? resolve(def.onDone) : undefined;
    if (doneTarget) edge(n, doneTarget, 'done');
  }

  const out: string[] = ['stateDiagram-v2'];
  const emitStates = (states: readonly StateDef[], block: string, indent: string): void => {
    const init = states.find((s) => s.isInitial) ?? states[0];
    if (init) {
      const node = tree.nodeOf(init);
      if (node) out.push(`${indent}[*] --> ${idOf(node)}`);
    }
    for (const def of states) {
      const node = tree.nodeOf(def);
      if (!node) continue;
      const id = idOf(node);
      const labelled = id !== def.name;
      if (def.parallel) {
        out.push(labelled ? `${indent}state "${def.name}" as ${id} {` : `${indent}state ${id} {`);
        def.parallel.regions.forEach((region, i) => {
          if (i > 0) out.push(`${indent}  --`);
          out.push(`${indent}  state "${region.name}" as ${regionId(node, region.name)} {`);
          emitStates(region.states, [...node.regionPath, region.name].join('.'), `${indent}    `);
          out.push(`${indent}  }`);
        });
        out.push(`${indent}}`);
      } else if (def.contains && def.contains.length > 0) {
        out.push(labelled ? `${indent}state "${def.name}" as ${id} {` : `${indent}state ${id} {`);
        emitStates(def.contains, node.regionPath.join('.'), `${indent}  `);
        out.push(`${indent}}`);
      } else {
        out.push(labelled ? `${indent}state "${def.name}" as ${id}` : `${indent}${id}`);
      }
      // Descriptions only on simple states: Mermaid draws a composite's description as a stray node.
      const simple = !def.parallel && !(def.contains && def.contains.length > 0);
      if (simple && def.onEntry !== undefined && def.invoke === undefined) out.push(`${indent}${id} : entry / ${def.onEntry}`);
      if (simple && def.onExit !== undefined) out.push(`${indent}${id} : exit / ${def.onExit}`);
      if (simple && def.invoke) out.push(`${indent}${id} : invoke ${def.invoke.machine}`);
      if (def.isFinal) out.push(`${indent}${id} --> [*]`);
    }
    for (const line of lines.get(block) ?? []) out.push(`${indent}${line}`);
  };
  emitStates(machine.states, '', '  ');
  return `${out.join('\n')}\n`;
}
