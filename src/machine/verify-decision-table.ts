import type { DecisionTableDef } from './ast.js';
import type { VerifyIssue, VerifyResult } from './verify-types.js';
import { VerifyCode } from './verify-types.js';

/**
 * Decision-table checks (ORCA.md §4.2, "Decision tables"). Cells: empty or `-` is any value,
 * `!v` any value but v, `a, b` either, anything else the value itself. Rules are tried top to
 * bottom (first-match, the default) or all together (all-match).
 *
 * Completeness, shadowing and conflicts are decided by enumerating every input combination, which
 * is exact for enum and bool conditions; tables with string or range conditions, or more than
 * {@link MAX_COMBINATIONS} combinations, get DT_COMPLETENESS_SKIPPED instead.
 */

const MAX_COMBINATIONS = 4096;
const CONDITION_TYPES = new Set(['enum', 'bool', 'string', 'int_range', 'decimal_range']);

type CellMatch = { kind: 'any' } | { kind: 'exact'; value: string } | { kind: 'not'; value: string } | { kind: 'set'; values: string[] };

export function parseCell(text: string): CellMatch {
  const t = text.trim();
  if (t === '' || t === '-') return { kind: 'any' };
  if (t.startsWith('!') && t.length > 1) return { kind: 'not', value: t.slice(1).trim() };
  if (t.includes(',')) return { kind: 'set', values: t.split(',').map((v) => v.trim()).filter((v) => v !== '') };
  return { kind: 'exact', value: t };
}

function matches(cell: CellMatch, value: string): boolean {
  switch (cell.kind) {
    case 'any':
      return true;
    case 'exact':
      return cell.value === value;
    case 'not':
      return cell.value !== value;
    case 'set':
      return cell.values.includes(value);
  }
}

function cellValues(cell: CellMatch): string[] {
  return cell.kind === 'exact' || cell.kind === 'not' ? [cell.value] : cell.kind === 'set' ? cell.values : [];
}

function domain(c: DecisionTableDef['conditions'][number]): string[] | undefined {
  if (c.type === 'bool') return c.values && c.values.length > 0 ? c.values : ['true', 'false'];
  if (c.type === 'enum' && c.values && c.values.length > 0) return c.values;
  return undefined;
}

export function verifyDecisionTable(dt: DecisionTableDef): VerifyResult {
  const list: VerifyIssue[] = [];
  const add = (code: VerifyCode, severity: VerifyIssue['severity'], message: string, suggestion: string, rule?: number): void => {
    const r = rule !== undefined ? dt.rules[rule - 1] : undefined;
    const location: NonNullable<VerifyIssue['location']> = { decisionTable: dt.name };
    if (rule !== undefined) location.rule = rule;
    const loc = r?.loc ?? (rule === undefined ? dt.loc : undefined);
    if (loc) {
      location.line = loc.line;
      location.column = loc.column;
    }
    list.push({ code, severity, message, location, suggestion });
  };
  const done = (): VerifyResult => ({ valid: !list.some((i) => i.severity === 'error'), errors: list });

  if (dt.conditions.length === 0) add(VerifyCode.DtNoConditions, 'error', `Decision table '${dt.name}' declares no conditions.`, "Add a '## conditions' table with Name, Type and Values.");
  if (dt.actions.length === 0) add(VerifyCode.DtNoActions, 'error', `Decision table '${dt.name}' declares no actions (outputs).`, "Add an '## actions' table with Name, Type and Values.");
  for (const c of dt.conditions) {
    if (!CONDITION_TYPES.has(c.type)) {
      add(VerifyCode.DtInvalidConditionType, 'error', `Condition '${c.name}' has type '${c.type}'.`, 'Use enum, bool, string, int_range or decimal_range.');
    }
  }
  if (dt.rules.length === 0) {
    add(VerifyCode.DtEmptyRules, 'warning', `Decision table '${dt.name}' has no rules.`, "Add rows to the '## rules' table.");
    return done();
  }

  const conditions = new Map(dt.conditions.map((c) => [c.name, c]));
  const actions = new Map(dt.actions.map((a) => [a.name, a]));
  const seenColumns = new Set<string>();
  const reportedColumns = new Set<string>();
  const parsed = dt.rules.map((rule) => {
    const cells = new Map<string, CellMatch>();
    for (const [name, text] of Object.entries(rule.conditions)) cells.set(name, parseCell(text));
    return cells;
  });

  dt.rules.forEach((rule, index) => {
    const n = index + 1;
    for (const name of Object.keys(rule.conditions)) {
      seenColumns.add(name);
      const c = conditions.get(name);
      if (!c) {
        if (!reportedColumns.has(name)) {
          reportedColumns.add(name);
          add(VerifyCode.DtUnknownConditionColumn, 'error', `Rules column '${name}' is not a declared condition.`, `Declare '${name}' in '## conditions', or rename the column (outputs are written '→ ${name}').`, n);
        }
        continue;
      }
      const dom = domain(c);
      if (!dom) continue;
      for (const v of cellValues(parsed[index]?.get(name) ?? { kind: 'any' })) {
        if (dom.includes(v)) continue;
        add(VerifyCode.DtUnknownConditionValue, 'error', `Rule ${n}: condition '${name}' has value '${v}', outside its values (${dom.join(', ')}).`, `Use one of: ${dom.join(', ')}.`, n);
      }
    }
    for (const [name, value] of Object.entries(rule.actions)) {
      const a = actions.get(name);
      if (!a) {
        if (!reportedColumns.has(`→${name}`)) {
          reportedColumns.add(`→${name}`);
          add(VerifyCode.DtUnknownActionColumn, 'error', `Output column '→ ${name}' is not a declared action.`, `Declare '${name}' in '## actions', or fix the column name.`, n);
        }
        continue;
      }
      if (a.type === 'enum' && a.values && a.values.length > 0 && !a.values.includes(value)) {
        add(VerifyCode.DtUnknownActionValue, 'error', `Rule ${n}: output '${name}' is '${value}', outside its values (${a.values.join(', ')}).`, `Use one of: ${a.values.join(', ')}.`, n);
      }
    }
  });
  for (const c of dt.conditions) {
    if (!seenColumns.has(c.name)) {
      add(VerifyCode.DtMissingConditionColumn, 'warning', `Condition '${c.name}' has no column in the rules, so every rule ignores it.`, `Add a '${c.name}' column to the rules table, or remove the condition.`);
    }
  }

  const key = (cells: Map<string, CellMatch>): string =>
    [...cells.entries()]
      .filter(([, c]) => c.kind !== 'any')
      .map(([name, c]) => `${name}=${c.kind}:${cellValues(c).slice().sort().join('|')}`)
      .sort()
      .join(';');
  const firstWithKey = new Map<string, number>();
  parsed.forEach((cells, index) => {
    const k = key(cells);
    const prev = firstWithKey.get(k);
    if (prev !== undefined) {
      add(VerifyCode.DtDuplicateRule, 'warning', `Rule ${index + 1} has the same conditions as rule ${prev + 1}.`, 'Remove one of them, or change its conditions.', index + 1);
    } else firstWithKey.set(k, index);
  });

  // Exhaustive analysis over the declared domains.
  const domains: { name: string; values: string[] }[] = [];
  let combos = 1;
  let enumerable = dt.conditions.length > 0;
  for (const c of dt.conditions) {
    const dom = domain(c);
    if (!dom) {
      enumerable = false;
      break;
    }
    domains.push({ name: c.name, values: dom });
    combos *= dom.length;
    if (combos > MAX_COMBINATIONS) {
      enumerable = false;
      break;
    }
  }
  if (!enumerable) {
    if (dt.conditions.length > 0) {
      add(
        VerifyCode.DtCompletenessSkipped,
        'warning',
        `Completeness of '${dt.name}' was not checked: ${combos > MAX_COMBINATIONS ? `more than ${MAX_COMBINATIONS} input combinations` : 'some conditions are strings or ranges, which cannot be enumerated'}.`,
        'Check by hand that every input meets a rule, or end the table with a catch-all rule (all cells "-").',
      );
    }
    return done();
  }
  const missing: string[] = [];
  const firesFirst = new Set<number>();
  const matchesSome = new Set<number>();
  const conflicts = new Set<string>();
  const input = new Map<string, string>();
  const walk = (i: number): void => {
    const d = domains[i];
    if (!d) {
      const hits: number[] = [];
      parsed.forEach((cells, r) => {
        for (const [name, value] of input) {
          const cell = cells.get(name);
          if (cell && !matches(cell, value)) return;
        }
        hits.push(r);
        matchesSome.add(r);
      });
      if (hits.length === 0) missing.push([...input].map(([k, v]) => `${k}=${v}`).join(', '));
      else if (hits[0] !== undefined) firesFirst.add(hits[0]);
      if (dt.policy === 'all-match') {
        for (let a = 0; a < hits.length; a++) {
          for (let b = a + 1; b < hits.length; b++) {
            const ra = dt.rules[hits[a] ?? 0];
            const rb = dt.rules[hits[b] ?? 0];
            if (!ra || !rb) continue;
            const clash = Object.keys(ra.actions).find((k) => rb.actions[k] !== undefined && rb.actions[k] !== ra.actions[k]);
            if (clash !== undefined) conflicts.add(`${(hits[a] ?? 0) + 1},${(hits[b] ?? 0) + 1},${clash}`);
          }
        }
      }
      return;
    }
    for (const v of d.values) {
      input.set(d.name, v);
      walk(i + 1);
    }
    input.delete(d.name);
  };
  walk(0);
  if (missing.length > 0) {
    add(
      VerifyCode.DtIncomplete,
      'error',
      `Decision table '${dt.name}' has no rule for ${missing.length} input combination${missing.length === 1 ? '' : 's'}, e.g. ${missing
        .slice(0, 3)
        .map((m) => `{${m}}`)
        .join(', ')}.`,
      'Add rules for these inputs, or a final catch-all rule with "-" in every condition.',
    );
  }
  // A rule that meets no input at all (e.g. `!eu` when eu is the only value) is dead under either
  // policy; say so rather than blame the rules above it.
  const deadRules = new Set<number>();
  parsed.forEach((cells, index) => {
    if (matchesSome.has(index)) return;
    deadRules.add(index);
    const empty = [...cells.entries()].filter(([name, cell]) => {
      const dom = domains.find((d) => d.name === name)?.values ?? [];
      return !dom.some((v) => matches(cell, v));
    });
    add(
      VerifyCode.DtShadowedRule,
      'warning',
      `Rule ${index + 1} never fires: no input meets its conditions${empty.length > 0 ? ` (${empty.map(([name]) => `'${name}'`).join(', ')} matches none of its values)` : ''}.`,
      'Fix the cell that excludes every value, or remove the rule.',
      index + 1,
    );
  });
  if (dt.policy !== 'all-match') {
    dt.rules.forEach((_, index) => {
      if (deadRules.has(index) || firesFirst.has(index) || firstWithKey.get(key(parsed[index] ?? new Map<string, CellMatch>())) !== index) return;
      add(VerifyCode.DtShadowedRule, 'warning', `Rule ${index + 1} never fires: the rules above it match every input it matches.`, 'Move it above the rules that cover it, narrow those, or remove it.', index + 1);
    });
  }
  for (const c of conflicts) {
    const [a, b, action] = c.split(',');
    add(VerifyCode.DtConflict, 'error', `Rules ${a} and ${b} both match some input but set '${action}' differently (policy all-match).`, 'Make their conditions disjoint, or give them the same output.', Number(b));
  }
  return done();
}
