import type { DecisionTableDef, MachineDef, OrcaFile, PropertyDef, StateDef } from './ast.js';
import { printGuardExpression } from './guard-expression.js';
import { printDefault, printSignature, printType } from './syntax.js';

/**
 * AST → `.orca.md`. The output re-parses to the same AST (source locations aside): that is the
 * contract `legacyToMarkdown` and the tests rely on. Sections come in the canonical order
 * (context, events, states, transitions, guards, actions, effects, properties).
 */

/** Escapes a table cell: a `|` outside backticks would split the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function code(text: string): string {
  return `\`${text}\``;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function printState(state: StateDef, level: number, out: string[]): void {
  const annotations: string[] = [];
  if (state.isInitial) annotations.push('initial');
  if (state.isFinal) annotations.push('final');
  if (state.parallel) {
    annotations.push('parallel');
    if (state.parallel.sync !== undefined) annotations.push(`sync: ${state.parallel.sync}`);
  }
  out.push(`${'#'.repeat(level)} state ${state.name}${annotations.length > 0 ? ` [${annotations.join(', ')}]` : ''}`);
  if (state.description !== undefined && state.description !== '') {
    out.push(`> ${state.description.replace(/\s*\n\s*/g, ' ')}`);
  }
  if (state.onEntry !== undefined) out.push(`- on_entry: ${state.onEntry}`);
  if (state.onExit !== undefined) out.push(`- on_exit: ${state.onExit}`);
  if (state.timeout) out.push(`- timeout: ${state.timeout.duration} -> ${state.timeout.target}`);
  if (state.ignoredAll) out.push('- ignore: *');
  if (state.ignoredEvents && state.ignoredEvents.length > 0) out.push(`- ignore: ${state.ignoredEvents.join(', ')}`);
  if (state.onDone !== undefined) out.push(`- on_done: -> ${state.onDone}`);
  if (state.invoke) {
    const input = state.invoke.input;
    const mapping = input
      ? ` input: { ${Object.entries(input)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')} }`
      : '';
    out.push(`- invoke: ${state.invoke.machine}${mapping}`);
    if (state.invoke.onDone !== undefined) out.push(`- on_done: ${state.invoke.onDone}`);
    if (state.invoke.onError !== undefined) out.push(`- on_error: ${state.invoke.onError}`);
  }
  out.push('');
  for (const child of state.contains ?? []) printState(child, level + 1, out);
  for (const region of state.parallel?.regions ?? []) {
    out.push(`${'#'.repeat(level + 1)} region ${region.name}`, '');
    for (const child of region.states) printState(child, level + 2, out);
  }
}

/** A property as written in `## properties`. */
export function printProperty(p: PropertyDef): string {
  switch (p.kind) {
    case 'reachable':
    case 'unreachable':
      return `${p.kind}: ${p.target} from ${p.from}`;
    case 'passes_through':
      return `passes_through: ${p.through} for ${p.from} -> ${p.to}`;
    case 'live':
      return 'live';
    case 'responds':
      return `responds: ${p.target} from ${p.from} within ${p.within}`;
    case 'invariant':
      return `invariant: ${code(printGuardExpression(p.expression))}${p.inState !== undefined ? ` in ${p.inState}` : ''}`;
  }
}

export function printMachineMarkdown(machine: MachineDef): string {
  const out: string[] = [`# machine ${machine.name}`, ''];
  if (machine.version !== '0.1.0') out.push(`- version: ${machine.version}`, '');
  if (machine.context.length > 0) {
    out.push('## context', '');
    out.push(
      ...table(
        ['Field', 'Type', 'Default'],
        machine.context.map((f) => [f.name, printType(f.type), cell(printDefault(f.defaultValue))]),
      ),
      '',
    );
  }
  if (machine.events.length > 0) {
    out.push('## events', '', ...machine.events.map((e) => `- ${e.name}`), '');
  }
  for (const state of machine.states) printState(state, 2, out);
  if (machine.transitions.length > 0) {
    out.push('## transitions', '');
    out.push(
      ...table(
        ['Source', 'Event', 'Guard', 'Target', 'Action'],
        machine.transitions.map((t) => [
          t.source,
          t.event,
          t.guard ? `${t.guard.negated ? '!' : ''}${t.guard.name}` : '',
          t.target,
          t.action ?? '',
        ]),
      ),
      '',
    );
  }
  if (machine.guards.length > 0) {
    out.push('## guards', '');
    out.push(...table(['Name', 'Expression'], machine.guards.map((g) => [g.name, code(printGuardExpression(g.expression))])), '');
  }
  if (machine.actions.length > 0) {
    out.push('## actions', '');
    out.push(...table(['Name', 'Signature'], machine.actions.map((a) => [a.name, code(printSignature(a))])), '');
  }
  if (machine.effects && machine.effects.length > 0) {
    out.push('## effects', '');
    out.push(...table(['Name', 'Input', 'Output'], machine.effects.map((e) => [e.name, code(e.input), code(e.output)])), '');
  }
  if (machine.properties && machine.properties.length > 0) {
    out.push('## properties', '', ...machine.properties.map((p) => `- ${printProperty(p)}`), '');
  }
  return out.join('\n');
}

export function printDecisionTableMarkdown(dt: DecisionTableDef): string {
  const out: string[] = [`# decision_table ${dt.name}`, ''];
  if (dt.policy !== undefined) out.push(`- policy: ${dt.policy}`, '');
  const defs = (list: DecisionTableDef['conditions']): string[][] => list.map((c) => [c.name, c.type, cell((c.values ?? []).join(', '))]);
  out.push('## conditions', '', ...table(['Name', 'Type', 'Values'], defs(dt.conditions)), '');
  out.push('## actions', '', ...table(['Name', 'Type', 'Values'], defs(dt.actions)), '');
  const condCols = [...new Set(dt.rules.flatMap((r) => Object.keys(r.conditions)))];
  const actCols = [...new Set(dt.rules.flatMap((r) => Object.keys(r.actions)))];
  out.push('## rules', '');
  out.push(
    ...table(
      [...condCols, ...actCols.map((a) => `→ ${a}`)],
      dt.rules.map((r) => [...condCols.map((c) => cell(r.conditions[c] ?? '')), ...actCols.map((a) => cell(r.actions[a] ?? ''))]),
    ),
    '',
  );
  return out.join('\n');
}

/** A whole file: machines then decision tables, separated by `---`. */
export function printOrcaMarkdown(file: OrcaFile): string {
  return [...file.machines.map(printMachineMarkdown), ...file.decisionTables.map(printDecisionTableMarkdown)].join('\n---\n\n');
}
