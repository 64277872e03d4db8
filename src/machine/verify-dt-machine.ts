import type { DecisionTableDef, GuardExpression, MachineDef, SourceLocation, Transition, TypeRef, VariableRef } from './ast.js';
import { evaluateGuard } from './guard-eval.js';
import { fieldName, guardVariables } from './guard-expression.js';
import { staticallyFalse } from './guard-logic.js';
import { MachineGraph } from './machine-graph.js';
import type { StateNode } from './state-tree.js';
import type { VerifyIssue } from './verify-types.js';
import { VerifyCode } from './verify-types.js';

/**
 * Decision tables checked against the machine they sit beside (ORCA.md §4.2: "dead guards, and
 * reachability constrained by the table"). Upstream orca-lang does the same two checks
 * (`DT_GUARD_DEAD`, `DT_UNREACHABLE_STATE`, both warnings); Keel's rules where upstream is loose:
 *
 * - **Which tables.** A table belongs to a machine when every one of its conditions and outputs
 *   is a context field of that machine ("aligned", as upstream). Upstream only looks at files with
 *   exactly one machine; Keel checks each machine against the tables aligned with it. A table that
 *   is not aligned is not checked here.
 * - **What a table output can hold.** The values in the table's output cells for that column
 *   (over every aligned table that writes the field), read by the field's type (`true` is a
 *   boolean for a bool field, `10` a number for an int field), plus the field's default, which it
 *   holds until a table first writes it (no default: null). An empty output cell writes nothing.
 * - **Dead guard.** A guard is dead when, for every combination of those values of the table
 *   outputs it reads, what is left of it can never hold (decided by substituting the values and
 *   running the ordinary static falsity check). So `ne`, `<`, `not`, `or` and two fields at once
 *   are handled, not just `==` as upstream; a guard that is false on its own (without the table)
 *   is left to the other checks. A transition guarded by `!g` is dead when `g` always holds.
 * - **Reachability.** States the transition graph reaches, but not once the transitions with dead
 *   guards are removed, get DT_UNREACHABLE_STATE (the outermost such state only).
 * - Both are **warnings**: an action other than the table might write the field.
 */

/** Bounds the value combinations tried for one guard; past it, the guard is not judged. */
const MAX_ASSIGNMENTS = 4096;

type Primitive = string | number | boolean | null;

interface OutputDomain {
  /** The default first, then what the tables write. */
  values: Primitive[];
  written: Primitive[];
  /** The aligned tables that write the field. */
  tables: string[];
}

export function tableAligned(machine: MachineDef, dt: DecisionTableDef): boolean {
  const fields = new Set(machine.context.map((f) => f.name));
  return [...dt.conditions, ...dt.actions].every((c) => fields.has(c.name));
}

function typed(text: string, type: TypeRef): Primitive {
  const t = type.kind === 'optional' ? type.inner : type;
  if (t.kind === 'bool') return text === 'true' ? true : text === 'false' ? false : text;
  if (t.kind === 'int' || t.kind === 'decimal' || t.kind === 'number') {
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  return text;
}

function primitive(v: unknown): Primitive {
  return v === undefined || v === null ? null : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
}

function show(v: Primitive): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The table-written field a variable reads, when it reads the whole field (`ctx.x`, `x`). */
function decidedField(v: VariableRef, domains: Map<string, OutputDomain>): string | undefined {
  const field = fieldName(v.path);
  if (field === undefined || !domains.has(field)) return undefined;
  const whole = v.path.length === 1 || (v.path.length === 2 && (v.path[0] === 'ctx' || v.path[0] === 'context'));
  return whole ? field : undefined;
}

/** Replaces every atom that reads only table outputs by its value under `ctx`. */
function substitute(expr: GuardExpression, ctx: Record<string, Primitive>, domains: Map<string, OutputDomain>): GuardExpression {
  switch (expr.kind) {
    case 'true':
    case 'false':
      return expr;
    case 'not':
      return { kind: 'not', expr: substitute(expr.expr, ctx, domains) };
    case 'and':
    case 'or':
      return { kind: expr.kind, left: substitute(expr.left, ctx, domains), right: substitute(expr.right, ctx, domains) };
    case 'compare':
    case 'nullcheck': {
      if (!guardVariables(expr).every((v) => decidedField(v, domains) !== undefined)) return expr;
      return { kind: evaluateGuard(expr, { ctx }) ? 'true' : 'false' };
    }
  }
}

/** The table outputs `expr` reads, or undefined when it reads none. */
function fieldsRead(expr: GuardExpression, domains: Map<string, OutputDomain>): string[] {
  const out = new Set<string>();
  for (const v of guardVariables(expr)) {
    const f = decidedField(v, domains);
    if (f !== undefined) out.add(f);
  }
  return [...out];
}

/** True when `expr` cannot hold for any combination of values the tables give its fields. */
function deadGivenTables(expr: GuardExpression, fields: string[], domains: Map<string, OutputDomain>): boolean {
  let count = 1;
  for (const f of fields) count *= domains.get(f)?.values.length ?? 1;
  if (count > MAX_ASSIGNMENTS) return false;
  const ctx: Record<string, Primitive> = {};
  const walk = (i: number): boolean => {
    const f = fields[i];
    if (f === undefined) return staticallyFalse(substitute(expr, ctx, domains));
    for (const v of domains.get(f)?.values ?? []) {
      ctx[f] = v;
      if (!walk(i + 1)) return false;
    }
    return true;
  };
  return walk(0);
}

function guardKey(g: { name: string; negated: boolean }): string {
  return `${g.negated ? '!' : ''}${g.name}`;
}

export function verifyTablesAgainstMachine(machine: MachineDef, tables: readonly DecisionTableDef[]): VerifyIssue[] {
  const aligned = tables.filter((dt) => tableAligned(machine, dt));
  if (aligned.length === 0) return [];
  const list: VerifyIssue[] = [];
  const add = (code: VerifyCode, message: string, suggestion: string, where: { decisionTable?: string | undefined; state?: string; event?: string; loc?: SourceLocation | undefined }): void => {
    const location: NonNullable<VerifyIssue['location']> = { machine: machine.name };
    if (where.decisionTable !== undefined) location.decisionTable = where.decisionTable;
    if (where.state !== undefined) location.state = where.state;
    if (where.event !== undefined) location.event = where.event;
    if (where.loc) {
      location.line = where.loc.line;
      location.column = where.loc.column;
    }
    list.push({ code, severity: 'warning', message, location, suggestion });
  };

  // What each table-written field can hold.
  const fieldDefs = new Map(machine.context.map((f) => [f.name, f]));
  const domains = new Map<string, OutputDomain>();
  for (const dt of aligned) {
    for (const out of dt.actions) {
      const def = fieldDefs.get(out.name);
      if (!def) continue;
      let d = domains.get(out.name);
      if (!d) {
        d = { values: [primitive(def.defaultValue)], written: [], tables: [] };
        domains.set(out.name, d);
      }
      if (!d.tables.includes(dt.name)) d.tables.push(dt.name);
      for (const rule of dt.rules) {
        const text = rule.actions[out.name];
        if (text === undefined) continue;
        const v = typed(text, def.type);
        if (!d.values.includes(v)) d.values.push(v);
        if (!d.written.includes(v)) d.written.push(v);
      }
    }
  }
  const describe = (fields: string[]): string =>
    fields
      .map((f) => {
        const d = domains.get(f);
        const def = primitive(fieldDefs.get(f)?.defaultValue);
        const written = d?.written ?? [];
        const tables = (d?.tables ?? []).map((t) => `'${t}'`).join(' and ');
        return `${tables} only ever set${d && d.tables.length > 1 ? '' : 's'} '${f}' to ${written.length > 0 ? written.map(show).join(', ') : 'nothing'} (default ${show(def)})`;
      })
      .join('; ');

  // Dead guards: each definition, and each `!g` a transition uses.
  const guards = new Map(machine.guards.map((g) => [g.name, g]));
  const dead = new Map<string, string[]>(); // guard key -> fields that kill it
  for (const g of machine.guards) {
    const fields = fieldsRead(g.expression, domains);
    if (fields.length === 0 || staticallyFalse(g.expression) || !deadGivenTables(g.expression, fields, domains)) continue;
    dead.set(g.name, fields);
    const tables = [...new Set(fields.flatMap((f) => domains.get(f)?.tables ?? []))];
    add(
      VerifyCode.DtGuardDead,
      `Guard '${g.name}' can never hold: ${describe(fields)}, and no combination of these values satisfies it, so the transitions it guards never fire.`,
      `Add a rule to ${tables.map((t) => `'${t}'`).join(' or ')} that outputs the value the guard tests, correct the value in the guard, or remove the guard and its transitions. (If another action also writes ${fields.map((f) => `'${f}'`).join(', ')}, this can be a false alarm.)`,
      { decisionTable: tables[0], loc: g.loc },
    );
  }
  for (const t of machine.transitions) {
    if (!t.guard?.negated || dead.has(guardKey(t.guard))) continue;
    const def = guards.get(t.guard.name);
    if (!def) continue;
    const negated: GuardExpression = { kind: 'not', expr: def.expression };
    const fields = fieldsRead(negated, domains);
    if (fields.length === 0 || staticallyFalse(negated) || !deadGivenTables(negated, fields, domains)) continue;
    dead.set(guardKey(t.guard), fields);
    const tables = [...new Set(fields.flatMap((f) => domains.get(f)?.tables ?? []))];
    add(
      VerifyCode.DtGuardDead,
      `Guard '!${def.name}' on ${t.source} + ${t.event} can never hold: '${def.name}' is always true, because ${describe(fields)}.`,
      `Add a rule to ${tables.map((x) => `'${x}'`).join(' or ')} with an output for which '${def.name}' is false, or drop the '!${def.name}' transition.`,
      { decisionTable: tables[0], state: t.source, event: t.event, loc: t.loc },
    );
  }
  if (dead.size === 0) return list;

  // Reachability once the dead transitions are gone.
  const isDead = (t: Transition): boolean => t.guard !== undefined && dead.has(guardKey(t.guard));
  const plain = new MachineGraph(machine);
  const pruned = new MachineGraph(machine, { prune: isDead });
  const reachedIn = (graph: MachineGraph): Set<string> => {
    const out = new Set<string>();
    for (const leaf of graph.search(graph.initialLeaves()).depth.keys()) for (const a of graph.tree.ancestry(leaf)) out.add(a.id);
    return out;
  };
  const before = reachedIn(plain);
  const after = reachedIn(pruned);
  const inside = (n: StateNode, id: string): boolean => {
    for (let x: StateNode | undefined = n; x; x = x.parent) if (x.id === id) return true;
    return false;
  };
  for (const node of plain.tree.nodes) {
    if (!before.has(node.id) || after.has(node.id)) continue;
    if (node.parent && !after.has(node.parent.id)) continue; // its parent is reported instead
    const blockers = new Set<string>();
    const tables = new Set<string>();
    for (const rt of plain.transitions) {
      const g = rt.transition.guard;
      if (!g || !isDead(rt.transition) || !after.has(rt.source.id)) continue;
      if (!plain.tree.entryLeaves(rt.target).some((l) => inside(l, node.id))) continue;
      blockers.add(`'${guardKey(g)}'`);
      for (const f of dead.get(guardKey(g)) ?? []) for (const t of domains.get(f)?.tables ?? []) tables.add(t);
    }
    const why =
      blockers.size > 0
        ? `every transition into it from a reachable state needs ${[...blockers].join(' or ')}, which the outputs of ${[...tables].map((t) => `'${t}'`).join(' and ')} make impossible (DT_GUARD_DEAD)`
        : 'it is entered only from states that are themselves unreachable once the dead guards are taken into account';
    add(
      VerifyCode.DtUnreachableState,
      `State '${node.id}' can never be entered: the transition graph reaches it, but ${why}.`,
      `Fix the dead guard${blockers.size > 1 ? 's' : ''} (let the table produce the value tested, or change the guard), or remove '${node.id}' if it is really not needed.`,
      { decisionTable: [...tables][0], state: node.id, loc: node.state.loc },
    );
  }
  return list;
}
