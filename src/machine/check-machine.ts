import type { MachineDef, SourceLocation, StateDef, Transition } from './ast.js';
import type { DiagnosticSink } from './errors.js';
import { OrcaParseCode } from './errors.js';
import { closest, StateTree } from './state-tree.js';

/**
 * Parse-time checks shared by the markdown and the legacy parser: everything the grammar spec
 * calls a parse error that needs the whole machine to decide (a transition may name a state
 * declared further down). Both parsers run these after building the AST, so the two syntaxes
 * reject the same machines with the same codes.
 */

/** Where the pieces of a row or bullet sit, for precise line:column in diagnostics. */
export interface RefLocations {
  transitions: Map<Transition, { source?: SourceLocation; event?: SourceLocation; guard?: SourceLocation; target?: SourceLocation }>;
  states: Map<StateDef, { timeout?: SourceLocation; onDone?: SourceLocation; ignore?: SourceLocation }>;
}

export function newRefLocations(): RefLocations {
  return { transitions: new Map(), states: new Map() };
}

/** Deepest markdown heading is `######`. */
const MAX_HEADING_LEVEL = 6;

export function checkMachine(machine: MachineDef, locs: RefLocations, sink: DiagnosticSink, eventsDeclared: boolean): void {
  const mLoc = machine.loc ?? { line: 1, column: 1 };
  if (machine.states.length === 0) {
    sink.add(
      OrcaParseCode.NoStates,
      `Machine '${machine.name}' has no states: add at least one state, e.g. '## state idle [initial]'.`,
      mLoc.line,
      mLoc.column,
    );
    return;
  }
  const tree = new StateTree(machine);

  checkSiblings(machine.states, `machine '${machine.name}'`, mLoc, sink, 'top-level states');
  for (const node of tree.nodes) {
    const s = node.state;
    const loc = s.loc ?? mLoc;
    if (node.headingLevel > MAX_HEADING_LEVEL) {
      sink.add(
        OrcaParseCode.NestingTooDeep,
        `State '${node.id}' is nested too deep: it would need a level-${node.headingLevel} heading, and markdown stops at ######. ` +
          `Flatten the hierarchy, or move the inner part into its own machine and invoke it.`,
        loc.line,
        loc.column,
      );
    }
    if (s.isFinal && ((s.contains?.length ?? 0) > 0 || s.parallel)) {
      sink.add(
        OrcaParseCode.FinalWithChildren,
        `Final state '${node.id}' has child states: a final state must be atomic. Remove [final], or move the children out.`,
        loc.line,
        loc.column,
      );
    }
    // The node's own region counts: a parallel state directly inside a region is nested too.
    if (s.parallel && tree.ancestry(node).some((a) => a.region !== undefined)) {
      sink.add(
        OrcaParseCode.NestedParallel,
        `Parallel state '${node.id}' sits inside a region of another parallel state: parallel states cannot nest. ` +
          `Add its regions to the outer parallel state instead, or make this state compound.`,
        loc.line,
        loc.column,
      );
    }
    if (s.contains && s.contains.length > 0) {
      checkSiblings(s.contains, `state '${node.id}'`, loc, sink, 'children');
    }
    if (s.parallel) {
      const seen = new Set<string>();
      for (const r of s.parallel.regions) {
        const rLoc = r.loc ?? loc;
        if (seen.has(r.name)) {
          sink.add(
            OrcaParseCode.DuplicateRegion,
            `Parallel state '${node.id}' has two regions named '${r.name}': rename one of them.`,
            rLoc.line,
            rLoc.column,
          );
        }
        seen.add(r.name);
        if (r.states.length === 0) {
          sink.add(
            OrcaParseCode.MissingInitial,
            `Region '${r.name}' of '${node.id}' has no states: add one marked [initial].`,
            rLoc.line,
            rLoc.column,
          );
        } else {
          checkSiblings(r.states, `region '${r.name}' of '${node.id}'`, rLoc, sink, 'states');
        }
      }
    }
  }

  const guardNames = new Set(machine.guards.map((g) => g.name));
  const eventNames = new Set(machine.events.map((e) => e.name));
  const resolve = (ref: string, what: string, loc: SourceLocation): void => {
    const r = tree.resolve(ref);
    if (r.ok) return;
    if (r.reason === 'ambiguous') {
      sink.add(
        OrcaParseCode.AmbiguousState,
        `${what} '${ref}' matches several states (${r.candidates.map((c) => c.id).join(', ')}): write the dotted path of the one you mean, e.g. '${r.candidates[0]?.id ?? ref}'.`,
        loc.line,
        loc.column,
      );
    } else {
      sink.add(
        OrcaParseCode.UnknownState,
        `${what} '${ref}' is not a state of machine '${machine.name}'${r.suggestion ? `: did you mean '${r.suggestion}'?` : ': declare it with a state heading, or fix the name.'}`,
        loc.line,
        loc.column,
      );
    }
  };

  for (const t of machine.transitions) {
    const at = locs.transitions.get(t);
    const row = t.loc ?? mLoc;
    resolve(t.source, 'Transition source', at?.source ?? row);
    resolve(t.target, 'Transition target', at?.target ?? row);
    if (t.guard && !guardNames.has(t.guard.name)) {
      const hint = closest(t.guard.name, [...guardNames]);
      const g = at?.guard ?? row;
      sink.add(
        OrcaParseCode.UnknownGuard,
        `Guard '${t.guard.name}' is not defined${hint ? ` (did you mean '${hint}'?)` : ''}: add a row '| ${t.guard.name} | \`<expression>\` |' to the guards table.`,
        g.line,
        g.column,
      );
    }
    if (eventsDeclared && !eventNames.has(t.event)) {
      const e = at?.event ?? row;
      const hint = closest(t.event, [...eventNames]);
      sink.add(
        OrcaParseCode.UnknownEvent,
        `Event '${t.event}' is not declared${hint ? ` (did you mean '${hint}'?)` : ''}: add it to the events list.`,
        e.line,
        e.column,
      );
    }
  }

  for (const node of tree.nodes) {
    const s = node.state;
    const at = locs.states.get(s);
    const loc = s.loc ?? mLoc;
    if (s.timeout) resolve(s.timeout.target, `Timeout target of '${node.id}'`, at?.timeout ?? loc);
    if (s.onDone !== undefined) resolve(s.onDone, `on_done target of '${node.id}'`, at?.onDone ?? loc);
    if (eventsDeclared) {
      for (const e of s.ignoredEvents ?? []) {
        if (eventNames.has(e)) continue;
        const l = at?.ignore ?? loc;
        sink.add(OrcaParseCode.UnknownEvent, `State '${node.id}' ignores '${e}', which is not declared: add it to the events list, or remove it from ignore.`, l.line, l.column);
      }
    }
  }
}

function checkSiblings(states: StateDef[], owner: string, ownerLoc: SourceLocation, sink: DiagnosticSink, noun: string): void {
  const seen = new Set<string>();
  let initial: StateDef | undefined;
  for (const s of states) {
    const loc = s.loc ?? ownerLoc;
    if (seen.has(s.name)) {
      sink.add(OrcaParseCode.DuplicateState, `State '${s.name}' is declared twice in ${owner}: rename or remove one of them.`, loc.line, loc.column);
    }
    seen.add(s.name);
    if (s.isInitial) {
      if (initial) {
        sink.add(
          OrcaParseCode.MultipleInitial,
          `Both '${initial.name}' and '${s.name}' are marked [initial] in ${owner}: keep [initial] on exactly one.`,
          loc.line,
          loc.column,
        );
      } else {
        initial = s;
      }
    }
  }
  if (!initial) {
    const first = states[0]?.name ?? 'idle';
    sink.add(
      OrcaParseCode.MissingInitial,
      `None of the ${noun} of ${owner} is marked [initial]: add [initial] to the one to start in, e.g. 'state ${first} [initial]'.`,
      ownerLoc.line,
      ownerLoc.column,
    );
  }
}
