import type {
  ActionSignature,
  ContextField,
  DecisionTableDef,
  EffectDef,
  EventDef,
  GuardDef,
  MachineDef,
  OrcaFile,
  PropertyDef,
  RegionDef,
  SourceLocation,
  StateDef,
  SyncMode,
  Transition,
} from './ast.js';
import type { RefLocations } from './check-machine.js';
import { checkMachine, newRefLocations } from './check-machine.js';
import { DiagnosticSink, OrcaParseCode, OrcaParseError } from './errors.js';
import { parseGuardExpression } from './guard-expression.js';
import { IDENT, parseDefault, parseDuration, parseInvoke, parseProperty, parseSignature, parseType, STATE_REF, stripBackticks } from './syntax.js';

/**
 * The `.orca.md` parser (ORCA.md §4.2).
 *
 * Two passes over the text, both linear: the first cuts lines into blocks (headings, tables,
 * bullets, blockquotes, separators; fenced code skipped), the second walks the blocks and builds
 * one AST per `# machine` / `# decision_table` document. No regular expression here can
 * backtrack quadratically on a long line: a multi-megabyte file of noise costs one scan.
 *
 * Every problem becomes a diagnostic with line and column; the parser keeps going, and throws one
 * {@link OrcaParseError} with all of them at the end.
 */

export interface ParseOptions {
  /** Shown in error messages; default '<source>'. */
  fileName?: string;
}

interface Cell {
  text: string;
  column: number;
}
interface Row {
  cells: Cell[];
  line: number;
}
type Block =
  | { kind: 'heading'; level: number; text: string; line: number; column: number }
  | { kind: 'table'; header: Cell[]; rows: Row[]; line: number }
  | { kind: 'bullet'; text: string; line: number; column: number }
  | { kind: 'quote'; text: string; line: number; column: number }
  | { kind: 'separator'; line: number }
  | { kind: 'text'; line: number };

function leadingSpaces(line: string): number {
  let i = 0;
  while (i < line.length && (line.charAt(i) === ' ' || line.charAt(i) === '\t')) i++;
  return i;
}

/** Splits a table row on `|`, except inside backticks or after a backslash. */
function splitRow(line: string): Cell[] {
  const cells: Cell[] = [];
  let i = leadingSpaces(line);
  if (line.charAt(i) === '|') i++;
  let start = i;
  let inCode = false;
  const push = (end: number): void => {
    const raw = line.slice(start, end);
    const lead = leadingSpaces(raw);
    cells.push({ text: raw.trim().replace(/\\\|/g, '|'), column: start + lead + 1 });
  };
  for (; i < line.length; i++) {
    const c = line.charAt(i);
    if (c === '\\') {
      i++;
    } else if (c === '`') {
      inCode = !inCode;
    } else if (c === '|' && !inCode) {
      push(i);
      start = i + 1;
    }
  }
  if (line.slice(start).trim() !== '') push(line.length);
  return cells;
}

function isDelimiterRow(cells: Cell[]): boolean {
  return cells.length > 0 && cells.every((c) => /^:?-+:?$/.test(c.text));
}

function scanBlocks(source: string): Block[] {
  const lines = source.split(/\r\n|\r|\n/);
  const blocks: Block[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const lineNo = i + 1;
    const indent = leadingSpaces(line);
    const body = line.slice(indent);
    if (fence !== undefined) {
      if (body.startsWith(fence) && body.slice(fence.length).replace(new RegExp(`^\\${fence.charAt(0)}*`), '').trim() === '') fence = undefined;
      continue;
    }
    if (indent <= 3 && (body.startsWith('```') || body.startsWith('~~~'))) {
      const ch = body.charAt(0);
      let n = 0;
      while (body.charAt(n) === ch) n++;
      fence = ch.repeat(n);
      continue;
    }
    if (body === '') continue;
    if (indent <= 3 && body.charAt(0) === '#') {
      let level = 0;
      while (body.charAt(level) === '#') level++;
      const after = body.charAt(level);
      if (after === '' || after === ' ' || after === '\t') {
        let text = body.slice(level).trim();
        // A closing run of #s ("## state a ##") is decoration.
        let end = text.length;
        while (end > 0 && text.charAt(end - 1) === '#') end--;
        if (end < text.length && (end === 0 || text.charAt(end - 1) === ' ')) text = text.slice(0, end).trim();
        blocks.push({ kind: 'heading', level, text, line: lineNo, column: indent + level + 1 + leadingSpaces(body.slice(level)) });
        continue;
      }
    }
    if (indent <= 3 && /^(?:-{3,}|\*{3,}|_{3,})$/.test(body.trimEnd()) ) {
      blocks.push({ kind: 'separator', line: lineNo });
      continue;
    }
    if (body.charAt(0) === '|') {
      const header = splitRow(line);
      const rows: Row[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const next = lines[j] ?? '';
        if (next.trimStart().charAt(0) !== '|') break;
        const cells = splitRow(next);
        if (j === i + 1 && isDelimiterRow(cells)) continue;
        rows.push({ cells, line: j + 1 });
      }
      blocks.push({ kind: 'table', header, rows, line: lineNo });
      i = j - 1;
      continue;
    }
    if ((body.charAt(0) === '-' || body.charAt(0) === '*' || body.charAt(0) === '+') && (body.charAt(1) === ' ' || body.charAt(1) === '\t')) {
      const text = body.slice(2);
      blocks.push({ kind: 'bullet', text: text.trim(), line: lineNo, column: indent + 3 + leadingSpaces(text) });
      continue;
    }
    if (body.charAt(0) === '>') {
      const text = body.slice(1);
      blocks.push({ kind: 'quote', text: text.trim(), line: lineNo, column: indent + 2 + leadingSpaces(text) });
      continue;
    }
    blocks.push({ kind: 'text', line: lineNo });
  }
  return blocks;
}

const SECTIONS = ['context', 'events', 'transitions', 'guards', 'actions', 'effects', 'properties'] as const;
type Section = (typeof SECTIONS)[number];

const SYNC_MODES: Record<string, SyncMode> = {
  'all-final': 'all-final',
  all_final: 'all-final',
  'any-final': 'any-final',
  any_final: 'any-final',
  custom: 'custom',
};

function firstWord(text: string): string {
  const m = /^[A-Za-z_]+/.exec(text);
  return (m?.[0] ?? '').toLowerCase();
}

function columnIndex(header: Cell[], ...names: string[]): number {
  return header.findIndex((h) => names.includes(h.text.toLowerCase()));
}

function cellAt(row: Row, index: number): Cell {
  const cell = index >= 0 ? row.cells[index] : undefined;
  return cell ?? { text: '', column: row.cells[row.cells.length - 1]?.column ?? 1 };
}

interface OpenItem {
  level: number;
  state?: StateDef;
  region?: RegionDef;
}

/** Builds one machine from the blocks of its document. */
class MachineBuilder {
  readonly machine: MachineDef;
  readonly locs: RefLocations = newRefLocations();
  private section: Section | 'pre' | 'states' = 'pre';
  private statesEnded = false;
  private stack: OpenItem[] = [];
  private current: StateDef | undefined;
  private readonly pendingInvoke = new Map<StateDef, { onDone?: string; onError?: string; loc: SourceLocation }>();
  private readonly guardRows: { name: string; text: string; cell: Cell; nameColumn: number; line: number }[] = [];
  private readonly propertyBullets: { text: string; line: number; column: number }[] = [];
  private readonly parallelStates: StateDef[] = [];
  private eventsDeclared = false;

  constructor(
    name: string,
    loc: SourceLocation,
    private readonly sink: DiagnosticSink,
  ) {
    this.machine = { name, version: '0.1.0', context: [], events: [], states: [], transitions: [], guards: [], actions: [], loc };
  }

  private err(code: OrcaParseCode, message: string, line: number, column = 1): void {
    this.sink.add(code, message, line, column);
  }

  heading(b: Extract<Block, { kind: 'heading' }>): void {
    const word = firstWord(b.text);
    if (b.level > 6) {
      if (word === 'state' || word === 'region') {
        this.err(
          OrcaParseCode.NestingTooDeep,
          `'${b.text.slice(0, 40)}' needs a heading deeper than ######, which markdown does not have: flatten the hierarchy, or move the inner part into its own machine and invoke it.`,
          b.line,
          1,
        );
      }
      return;
    }
    if (word === 'state') return this.stateHeading(b);
    if (word === 'region' && b.level >= 3) return this.regionHeading(b);
    if (b.level === 2) {
      const lower = b.text.toLowerCase();
      const section = SECTIONS.find((s) => s === lower);
      if (section) {
        if (this.section === 'states') this.statesEnded = true;
        this.section = section;
        this.stack = [];
        this.current = undefined;
        if (section === 'events') this.eventsDeclared = true;
        return;
      }
    }
    this.err(
      OrcaParseCode.InvalidHeading,
      `Heading '${b.text.slice(0, 40)}' is not part of the Orca grammar: use '## state <name>', '### region <name>' under a parallel state, or one of the sections ${SECTIONS.map((s) => `'## ${s}'`).join(', ')}.`,
      b.line,
      b.column,
    );
  }

  private stateHeading(b: Extract<Block, { kind: 'heading' }>): void {
    const m = /^state(?:[ \t]+([^\s[]+))?[ \t]*(?:\[([^\]]*)\])?[ \t]*$/i.exec(b.text);
    if (!m) {
      this.err(OrcaParseCode.InvalidHeading, `Malformed state heading '${b.text.slice(0, 40)}': write 'state <name>' optionally followed by '[initial]', '[final]', '[parallel]', ….`, b.line, b.column);
      return;
    }
    const name = m[1] ?? '';
    const loc = { line: b.line, column: b.column };
    if (!IDENT.test(name)) {
      this.err(OrcaParseCode.InvalidName, `State name '${name.slice(0, 40)}' is not a valid name: use letters, digits and _ (not starting with a digit).`, b.line, b.column);
      return;
    }
    if (this.statesEnded) {
      this.err(
        OrcaParseCode.StateOrder,
        `State '${name}' comes after another section: state headings must be contiguous. Move it up, next to the other states.`,
        b.line,
        b.column,
      );
    }
    this.section = 'states';
    const state: StateDef = { name, isInitial: false, isFinal: false, loc };
    if (m[2] !== undefined) this.annotations(state, m[2], b);

    while (this.stack.length > 0 && (this.stack[this.stack.length - 1]?.level ?? 0) >= b.level) this.stack.pop();
    const top = this.stack[this.stack.length - 1];
    if (b.level === 2) {
      this.machine.states.push(state);
    } else if (!top || top.level !== b.level - 1) {
      this.err(
        OrcaParseCode.InvalidHeading,
        `State '${name}' is at heading level ${b.level} but there is no state or region at level ${b.level - 1} above it: a child state goes exactly one level below its parent (## → ###).`,
        b.line,
        b.column,
      );
      return;
    } else if (top.region && top.state) {
      state.parent = `${top.state.name}.${top.region.name}`;
      top.region.states.push(state);
    } else if (top.state) {
      if (top.state.parallel) {
        this.err(
          OrcaParseCode.InvalidHeading,
          `State '${name}' sits directly under parallel state '${top.state.name}': put it inside a '${'#'.repeat(b.level)} region <name>' heading, and its states one level below.`,
          b.line,
          b.column,
        );
        return;
      }
      state.parent = top.state.name;
      (top.state.contains ??= []).push(state);
    }
    this.stack.push({ level: b.level, state });
    this.current = state;
  }

  private annotations(state: StateDef, text: string, b: Extract<Block, { kind: 'heading' }>): void {
    let sync: SyncMode | undefined;
    for (const raw of text.split(',')) {
      const a = raw.trim();
      if (a === '') continue;
      const lower = a.toLowerCase();
      if (lower === 'initial') state.isInitial = true;
      else if (lower === 'final') state.isFinal = true;
      else if (lower === 'parallel') state.parallel = { regions: [] };
      else if (lower.startsWith('sync')) {
        const mode = SYNC_MODES[lower.replace(/^sync\s*[:=]\s*/, '')];
        if (mode === undefined) {
          this.err(OrcaParseCode.InvalidAnnotation, `Unknown sync mode in '${a.slice(0, 40)}': write 'sync: all-final', 'sync: any-final' or 'sync: custom'.`, b.line, b.column);
        } else sync = mode;
      } else {
        this.err(OrcaParseCode.InvalidAnnotation, `Unknown annotation '${a.slice(0, 40)}' on state '${state.name}': use initial, final, parallel or sync: all-final|any-final|custom.`, b.line, b.column);
      }
    }
    if (sync !== undefined) {
      if (state.parallel) state.parallel.sync = sync;
      else this.err(OrcaParseCode.InvalidAnnotation, `'sync' applies to parallel states only: add 'parallel' to the annotations of '${state.name}', or drop 'sync'.`, b.line, b.column);
    }
    if (state.parallel) this.parallelStates.push(state);
  }

  private regionHeading(b: Extract<Block, { kind: 'heading' }>): void {
    const m = /^region(?:[ \t]+(\S+))?[ \t]*$/i.exec(b.text);
    const name = m?.[1] ?? '';
    if (!IDENT.test(name)) {
      this.err(OrcaParseCode.InvalidHeading, `Malformed region heading '${b.text.slice(0, 40)}': write 'region <name>' with a valid name.`, b.line, b.column);
      return;
    }
    while (this.stack.length > 0 && (this.stack[this.stack.length - 1]?.level ?? 0) >= b.level) this.stack.pop();
    const top = this.stack[this.stack.length - 1];
    if (!top?.state?.parallel || top.region || top.level !== b.level - 1) {
      this.err(
        OrcaParseCode.InvalidHeading,
        `Region '${name}' is not directly below a [parallel] state: regions go one heading level below a state marked [parallel].`,
        b.line,
        b.column,
      );
      return;
    }
    const region: RegionDef = { name, states: [], loc: { line: b.line, column: b.column } };
    top.state.parallel.regions.push(region);
    this.stack.push({ level: b.level, state: top.state, region });
    this.current = undefined;
  }

  bullet(b: Extract<Block, { kind: 'bullet' }>): void {
    switch (this.section) {
      case 'pre': {
        const m = /^version\s*:\s*(\S+)\s*$/.exec(b.text);
        if (m?.[1] !== undefined) this.machine.version = m[1];
        return;
      }
      case 'states':
        return this.stateLine(b);
      case 'events':
        for (const part of b.text.split(',')) this.event(part, b.line, b.column + b.text.indexOf(part));
        return;
      case 'properties':
        this.propertyBullets.push(b);
        return;
      default:
        return;
    }
  }

  private event(raw: string, line: number, column: number): void {
    const name = stripBackticks(raw.trim());
    if (name === '') return;
    const col = column + leadingSpaces(raw);
    if (!IDENT.test(name)) {
      this.err(OrcaParseCode.InvalidName, `Event name '${name.slice(0, 40)}' is not valid: use letters, digits and _.`, line, col);
      return;
    }
    if (this.machine.events.some((e) => e.name === name)) {
      this.err(OrcaParseCode.DuplicateEvent, `Event '${name}' is declared twice: remove one.`, line, col);
      return;
    }
    const ev: EventDef = { name, loc: { line, column: col } };
    this.machine.events.push(ev);
  }

  private stateLine(b: Extract<Block, { kind: 'bullet' }>): void {
    const state = this.current;
    if (!state) {
      this.err(OrcaParseCode.InvalidStateLine, `'${b.text.slice(0, 40)}' is not under a state: attributes such as on_entry belong to a state heading, not to a region.`, b.line, b.column);
      return;
    }
    const m = /^([A-Za-z_]+)[ \t]*:[ \t]*(.*)$/.exec(b.text);
    const key = m?.[1]?.toLowerCase() ?? '';
    const value = (m?.[2] ?? '').trim();
    const valueCol = b.column + b.text.length - (m?.[2] ?? '').trimStart().length;
    const loc = { line: b.line, column: valueCol };
    const ident = (what: string, text: string): string | undefined => {
      const v = text.startsWith('->') ? text.slice(2).trim() : text;
      if (IDENT.test(v)) return v;
      this.err(OrcaParseCode.InvalidStateLine, `'${key}: ${text.slice(0, 40)}' needs ${what} name: write '- ${key}: <name>'.`, b.line, valueCol);
      return undefined;
    };
    const locs = (): { timeout?: SourceLocation; onDone?: SourceLocation; ignore?: SourceLocation } => {
      let l = this.locs.states.get(state);
      if (!l) this.locs.states.set(state, (l = {}));
      return l;
    };
    switch (key) {
      case 'on_entry':
      case 'on_exit': {
        const name = ident('an action', value);
        if (name === undefined) return;
        const field = key === 'on_entry' ? 'onEntry' : 'onExit';
        if (state[field] !== undefined) {
          this.err(OrcaParseCode.InvalidStateLine, `State '${state.name}' has ${key} twice: one action per state; write one action that does both.`, b.line, valueCol);
          return;
        }
        state[field] = name;
        return;
      }
      case 'description':
        state.description = state.description === undefined ? value : `${state.description} ${value}`;
        return;
      case 'timeout': {
        const tm = /^(\S+)[ \t]*->[ \t]*(\S+)$/.exec(value);
        if (!tm?.[1] || !tm[2]) {
          this.err(OrcaParseCode.InvalidStateLine, `Malformed timeout '${value.slice(0, 40)}': write '- timeout: 30s -> target_state'.`, b.line, valueCol);
          return;
        }
        const ms = parseDuration(tm[1]);
        if (!ms.ok) {
          this.err(OrcaParseCode.InvalidDuration, ms.message, b.line, valueCol);
          return;
        }
        if (!STATE_REF.test(tm[2])) {
          this.err(OrcaParseCode.InvalidName, `Timeout target '${tm[2].slice(0, 40)}' is not a state name.`, b.line, valueCol);
          return;
        }
        state.timeout = { duration: tm[1], target: tm[2], durationMs: ms.value };
        locs().timeout = { line: b.line, column: valueCol + value.lastIndexOf(tm[2]) };
        return;
      }
      case 'ignore': {
        if (value === '*') {
          state.ignoredAll = true;
          return;
        }
        locs().ignore = loc;
        for (const part of value.split(',')) {
          const e = part.trim();
          if (e === '') continue;
          if (!IDENT.test(e)) {
            this.err(OrcaParseCode.InvalidStateLine, `'${e.slice(0, 40)}' in ignore is not an event name: write '- ignore: EVENT_A, EVENT_B' or '- ignore: *'.`, b.line, valueCol);
            continue;
          }
          (state.ignoredEvents ??= []).push(e);
        }
        return;
      }
      case 'on_done':
      case 'on_error': {
        if (key === 'on_done' && value.startsWith('->')) {
          const target = value.slice(2).trim();
          if (!STATE_REF.test(target)) {
            this.err(OrcaParseCode.InvalidStateLine, `on_done target '${target.slice(0, 40)}' is not a state name: write '- on_done: -> state'.`, b.line, valueCol);
            return;
          }
          state.onDone = target;
          locs().onDone = { line: b.line, column: valueCol + value.indexOf(target, 2) };
          return;
        }
        const ev = ident('an event', value);
        if (ev === undefined) return;
        let pending = this.pendingInvoke.get(state);
        if (!pending) this.pendingInvoke.set(state, (pending = { loc }));
        if (key === 'on_done') pending.onDone = ev;
        else pending.onError = ev;
        return;
      }
      case 'invoke': {
        const inv = parseInvoke(value);
        if (!inv.ok) {
          this.err(OrcaParseCode.InvalidInvoke, inv.message, b.line, valueCol);
          return;
        }
        state.invoke = inv.value;
        return;
      }
      default:
        this.err(
          OrcaParseCode.InvalidStateLine,
          `'${b.text.slice(0, 40)}' is not a state attribute: use on_entry, on_exit, timeout, ignore, on_done, invoke, on_error or description (as '- key: value').`,
          b.line,
          b.column,
        );
    }
  }

  quote(b: Extract<Block, { kind: 'quote' }>): void {
    if (this.section !== 'states' || !this.current || b.text === '') return;
    const s = this.current;
    s.description = s.description === undefined ? b.text : `${s.description} ${b.text}`;
  }

  table(b: Extract<Block, { kind: 'table' }>): void {
    switch (this.section) {
      case 'context':
        return this.contextTable(b);
      case 'events': {
        const idx = columnIndex(b.header, 'name', 'event');
        if (idx < 0) return this.missingColumns(b, 'events', ['Name']);
        for (const row of b.rows) {
          const c = cellAt(row, idx);
          this.event(c.text, row.line, c.column);
        }
        return;
      }
      case 'transitions':
        return this.transitionsTable(b);
      case 'guards':
        return this.guardsTable(b);
      case 'actions':
        return this.actionsTable(b);
      case 'effects':
        return this.effectsTable(b);
      case 'states':
        this.err(OrcaParseCode.InvalidStateLine, `A table under state '${this.current?.name ?? '?'}' is not part of the grammar: transitions go in '## transitions', after the states.`, b.line);
        return;
      default:
        return;
    }
  }

  private missingColumns(b: Extract<Block, { kind: 'table' }>, section: string, columns: string[]): void {
    this.err(
      OrcaParseCode.InvalidTable,
      `The ${section} table lacks a required column: its header must include ${columns.map((c) => `'${c}'`).join(', ')} (found ${b.header.map((h) => `'${h.text.slice(0, 20)}'`).join(', ')}).`,
      b.line,
    );
  }

  private contextTable(b: Extract<Block, { kind: 'table' }>): void {
    const nameIdx = columnIndex(b.header, 'field', 'name');
    const typeIdx = columnIndex(b.header, 'type');
    const defIdx = columnIndex(b.header, 'default');
    if (nameIdx < 0 || typeIdx < 0) return this.missingColumns(b, 'context', ['Field', 'Type']);
    for (const row of b.rows) {
      const n = cellAt(row, nameIdx);
      const t = cellAt(row, typeIdx);
      const name = stripBackticks(n.text);
      if (name === '' && t.text === '') continue;
      if (!IDENT.test(name)) {
        this.err(OrcaParseCode.InvalidName, `Context field name '${name.slice(0, 40)}' is not valid: use letters, digits and _.`, row.line, n.column);
        continue;
      }
      if (this.machine.context.some((f) => f.name === name)) {
        this.err(OrcaParseCode.DuplicateField, `Context field '${name}' is declared twice: remove one row.`, row.line, n.column);
        continue;
      }
      const type = parseType(stripBackticks(t.text));
      if (!type.ok) {
        this.err(OrcaParseCode.InvalidType, type.message, row.line, t.column);
        continue;
      }
      const field: ContextField = { name, type: type.value, defaultValue: null, loc: { line: row.line, column: n.column } };
      if (defIdx >= 0) {
        const d = cellAt(row, defIdx);
        const def = parseDefault(d.text, type.value);
        if (!def.ok) {
          this.err(OrcaParseCode.InvalidDefault, def.message, row.line, d.column);
          continue;
        }
        field.defaultValue = def.value;
      }
      this.machine.context.push(field);
    }
  }

  private transitionsTable(b: Extract<Block, { kind: 'table' }>): void {
    const src = columnIndex(b.header, 'source', 'from');
    const evt = columnIndex(b.header, 'event');
    const grd = columnIndex(b.header, 'guard');
    const tgt = columnIndex(b.header, 'target', 'to');
    const act = columnIndex(b.header, 'action');
    if (src < 0 || evt < 0 || tgt < 0) return this.missingColumns(b, 'transitions', ['Source', 'Event', 'Target']);
    for (const row of b.rows) {
      if (row.cells.every((c) => c.text === '')) continue;
      const s = cellAt(row, src);
      const e = cellAt(row, evt);
      const t = cellAt(row, tgt);
      const g = cellAt(row, grd);
      const a = cellAt(row, act);
      const source = stripBackticks(s.text);
      const event = stripBackticks(e.text);
      const target = stripBackticks(t.text);
      let ok = true;
      const need = (cond: boolean, what: string, text: string, cell: Cell): void => {
        if (cond) return;
        ok = false;
        this.err(
          OrcaParseCode.InvalidName,
          text === '' ? `The ${what} cell is empty: every transition needs a ${what}.` : `${what} '${text.slice(0, 40)}' is not a valid name${what === 'Event' ? '' : ' or dotted state path'}.`,
          row.line,
          cell.column,
        );
      };
      need(STATE_REF.test(source), 'Source', source, s);
      need(IDENT.test(event), 'Event', event, e);
      need(STATE_REF.test(target), 'Target', target, t);
      const tr: Transition = { source, event, target, loc: { line: row.line, column: s.column } };
      const guardText = stripBackticks(g.text);
      if (guardText !== '') {
        const gm = /^(!?)[ \t]*([A-Za-z_][A-Za-z0-9_]*)$/.exec(guardText);
        if (gm?.[2] === undefined) {
          ok = false;
          this.err(
            OrcaParseCode.InvalidGuardReference,
            `Guard cell '${guardText.slice(0, 40)}' is not a guard name: the Guard column takes 'name' or '!name'; define the expression in '## guards' under a name and use that name here.`,
            row.line,
            g.column,
          );
        } else tr.guard = { name: gm[2], negated: gm[1] === '!' };
      }
      const actionText = stripBackticks(a.text);
      if (actionText !== '' && actionText !== '_') {
        if (IDENT.test(actionText)) tr.action = actionText;
        else {
          ok = false;
          this.err(OrcaParseCode.InvalidName, `Action '${actionText.slice(0, 40)}' is not a valid action name: write one name, or '_' / nothing for no action.`, row.line, a.column);
        }
      }
      if (!ok) continue;
      this.machine.transitions.push(tr);
      const at: { source: SourceLocation; event: SourceLocation; target: SourceLocation; guard?: SourceLocation } = {
        source: { line: row.line, column: s.column },
        event: { line: row.line, column: e.column },
        target: { line: row.line, column: t.column },
      };
      if (tr.guard) at.guard = { line: row.line, column: g.column };
      this.locs.transitions.set(tr, at);
    }
  }

  private guardsTable(b: Extract<Block, { kind: 'table' }>): void {
    const nameIdx = columnIndex(b.header, 'name');
    const exprIdx = columnIndex(b.header, 'expression');
    if (nameIdx < 0 || exprIdx < 0) return this.missingColumns(b, 'guards', ['Name', 'Expression']);
    for (const row of b.rows) {
      const n = cellAt(row, nameIdx);
      const x = cellAt(row, exprIdx);
      const name = stripBackticks(n.text);
      if (name === '' && x.text === '') continue;
      if (!IDENT.test(name)) {
        this.err(OrcaParseCode.InvalidName, `Guard name '${name.slice(0, 40)}' is not valid: use letters, digits and _.`, row.line, n.column);
        continue;
      }
      if (this.guardRows.some((g) => g.name === name)) {
        this.err(OrcaParseCode.DuplicateGuard, `Guard '${name}' is defined twice: keep one definition.`, row.line, n.column);
        continue;
      }
      this.guardRows.push({ name, text: x.text, cell: x, nameColumn: n.column, line: row.line });
    }
  }

  private actionsTable(b: Extract<Block, { kind: 'table' }>): void {
    const nameIdx = columnIndex(b.header, 'name');
    const sigIdx = columnIndex(b.header, 'signature');
    const effIdx = columnIndex(b.header, 'effect');
    if (nameIdx < 0) return this.missingColumns(b, 'actions', ['Name']);
    for (const row of b.rows) {
      const n = cellAt(row, nameIdx);
      const name = stripBackticks(n.text);
      if (name === '' && row.cells.every((c) => c.text === '')) continue;
      if (!IDENT.test(name)) {
        this.err(OrcaParseCode.InvalidName, `Action name '${name.slice(0, 40)}' is not valid: use letters, digits and _.`, row.line, n.column);
        continue;
      }
      if (this.machine.actions.some((a) => a.name === name)) {
        this.err(OrcaParseCode.DuplicateAction, `Action '${name}' is declared twice: keep one row.`, row.line, n.column);
        continue;
      }
      const sigCell = cellAt(row, sigIdx);
      const sig = parseSignature(name, sigIdx >= 0 ? sigCell.text : '');
      if (!sig.ok) {
        this.err(OrcaParseCode.InvalidSignature, sig.message, row.line, sigCell.column);
        continue;
      }
      const action: ActionSignature = { ...sig.value, loc: { line: row.line, column: n.column } };
      if (effIdx >= 0 && action.effect === undefined) {
        const eff = stripBackticks(cellAt(row, effIdx).text);
        if (eff !== '' && eff !== '-') {
          const em = /^(?:Effect\s*<\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*>?$/.exec(eff);
          if (em?.[1] === undefined) {
            this.err(OrcaParseCode.InvalidSignature, `Effect '${eff.slice(0, 40)}' of action '${name}' is not a type name: write 'EffectType'.`, row.line, cellAt(row, effIdx).column);
            continue;
          }
          action.effect = em[1];
        }
      }
      this.machine.actions.push(action);
    }
  }

  private effectsTable(b: Extract<Block, { kind: 'table' }>): void {
    const nameIdx = columnIndex(b.header, 'name');
    const inIdx = columnIndex(b.header, 'input');
    const outIdx = columnIndex(b.header, 'output');
    if (nameIdx < 0) return this.missingColumns(b, 'effects', ['Name', 'Input', 'Output']);
    const effects = (this.machine.effects ??= []);
    for (const row of b.rows) {
      const n = cellAt(row, nameIdx);
      const name = stripBackticks(n.text);
      if (name === '') continue;
      if (!IDENT.test(name)) {
        this.err(OrcaParseCode.InvalidName, `Effect name '${name.slice(0, 40)}' is not valid: use letters, digits and _.`, row.line, n.column);
        continue;
      }
      const effect: EffectDef = {
        name,
        input: stripBackticks(cellAt(row, inIdx).text),
        output: stripBackticks(cellAt(row, outIdx).text),
        loc: { line: row.line, column: n.column },
      };
      effects.push(effect);
    }
  }

  /** Guards and properties are parsed last: they read the context types (for bool fields). */
  finish(): MachineDef {
    const booleanFields = new Set(
      this.machine.context.filter((f) => f.type.kind === 'bool' || (f.type.kind === 'optional' && f.type.inner.kind === 'bool')).map((f) => f.name),
    );
    for (const g of this.guardRows) {
      const text = stripBackticks(g.text);
      const parsed = parseGuardExpression(text, { booleanFields });
      if (!parsed.ok) {
        // Point at the offending character: the cell column plus the opening backticks.
        const tick = g.text.length - g.text.trimStart().length + (g.text.indexOf(text) >= 0 ? g.text.indexOf(text) : 0);
        this.err(
          OrcaParseCode.InvalidGuardExpression,
          `Guard '${g.name}' has an invalid expression: ${parsed.message}.`,
          g.line,
          g.cell.column + tick + parsed.offset,
        );
        continue;
      }
      const def: GuardDef = { name: g.name, expression: parsed.expression, loc: { line: g.line, column: g.nameColumn } };
      this.machine.guards.push(def);
    }
    if (this.propertyBullets.length > 0) {
      const properties: PropertyDef[] = [];
      for (const p of this.propertyBullets) {
        const parsed = parseProperty(p.text, { booleanFields });
        if (!parsed.ok) this.err(OrcaParseCode.InvalidProperty, parsed.message, p.line, p.column);
        else properties.push({ ...parsed.value, loc: { line: p.line, column: p.column } });
      }
      this.machine.properties = properties;
    }
    for (const [state, pending] of this.pendingInvoke) {
      if (!state.invoke) {
        this.err(
          OrcaParseCode.InvalidInvoke,
          `State '${state.name}' has on_done/on_error with an event name but no invoke: add '- invoke: ChildMachine', or write '- on_done: -> state' for a transition when the state is done.`,
          pending.loc.line,
          pending.loc.column,
        );
        continue;
      }
      if (pending.onDone !== undefined) state.invoke.onDone = pending.onDone;
      if (pending.onError !== undefined) state.invoke.onError = pending.onError;
    }
    for (const p of this.parallelStates) {
      if (p.parallel && p.parallel.regions.length === 0) {
        const loc = p.loc ?? { line: 1, column: 1 };
        this.err(
          OrcaParseCode.InvalidAnnotation,
          `Parallel state '${p.name}' has no regions: add 'region <name>' headings one level below it, each with its own states, or drop [parallel].`,
          loc.line,
          loc.column,
        );
      }
    }
    checkMachine(this.machine, this.locs, this.sink, this.eventsDeclared);
    return this.machine;
  }
}

/** Builds one decision table from the blocks of its document. */
class DecisionTableBuilder {
  readonly table: DecisionTableDef;
  private section: 'pre' | 'conditions' | 'actions' | 'rules' | 'other' = 'pre';

  constructor(
    name: string,
    loc: SourceLocation,
    private readonly sink: DiagnosticSink,
  ) {
    this.table = { name, conditions: [], actions: [], rules: [], loc };
  }

  heading(b: Extract<Block, { kind: 'heading' }>): void {
    const lower = b.text.toLowerCase();
    if (b.level === 2 && (lower === 'conditions' || lower === 'actions' || lower === 'rules')) {
      this.section = lower;
      return;
    }
    if (b.level === 2 && (lower === 'metadata' || lower === 'description')) {
      this.section = 'other';
      return;
    }
    this.sink.add(
      OrcaParseCode.InvalidHeading,
      `Heading '${b.text.slice(0, 40)}' is not part of a decision table: use '## conditions', '## actions' and '## rules'.`,
      b.line,
      b.column,
    );
  }

  bullet(b: Extract<Block, { kind: 'bullet' }>): void {
    const m = /^policy\s*:\s*(\S+)$/.exec(b.text);
    if (!m) return;
    if (m[1] === 'first-match' || m[1] === 'all-match') this.table.policy = m[1];
    else this.sink.add(OrcaParseCode.InvalidTable, `Unknown policy '${(m[1] ?? '').slice(0, 40)}': write 'first-match' or 'all-match'.`, b.line, b.column);
  }

  tableBlock(b: Extract<Block, { kind: 'table' }>): void {
    if (this.section === 'conditions' || this.section === 'actions') {
      const nameIdx = columnIndex(b.header, 'name');
      const typeIdx = columnIndex(b.header, 'type');
      const valuesIdx = columnIndex(b.header, 'values');
      if (nameIdx < 0) {
        this.sink.add(OrcaParseCode.InvalidTable, `The ${this.section} table needs a 'Name' column (and usually 'Type' and 'Values').`, b.line, 1);
        return;
      }
      const list = this.section === 'conditions' ? this.table.conditions : this.table.actions;
      for (const row of b.rows) {
        const name = stripBackticks(cellAt(row, nameIdx).text);
        if (name === '') continue;
        const type = stripBackticks(cellAt(row, typeIdx).text) || 'string';
        const valuesText = stripBackticks(cellAt(row, valuesIdx).text);
        const entry: { name: string; type: string; values?: string[] } = { name, type };
        if (valuesIdx >= 0 && valuesText !== '') entry.values = valuesText.split(',').map((v) => v.trim()).filter((v) => v !== '');
        list.push(entry);
      }
      return;
    }
    if (this.section === 'rules') {
      const columns = b.header.map((h) => {
        const t = h.text;
        if (t === '#') return { kind: 'skip' as const, name: '#' };
        const am = /^(?:→|->)\s*(.+)$/.exec(t);
        if (am?.[1] !== undefined) return { kind: 'action' as const, name: am[1].trim() };
        return { kind: 'condition' as const, name: t };
      });
      for (const row of b.rows) {
        const rule: DecisionTableDef['rules'][number] = { conditions: {}, actions: {}, loc: { line: row.line, column: row.cells[0]?.column ?? 1 } };
        columns.forEach((col, i) => {
          const text = stripBackticks(row.cells[i]?.text ?? '');
          if (col.kind === 'condition') rule.conditions[col.name] = text;
          else if (col.kind === 'action' && text !== '') rule.actions[col.name] = text;
        });
        this.table.rules.push(rule);
      }
    }
  }
}

/**
 * Parses an `.orca.md` file: every machine and decision table in it.
 *
 * @example
 * ```ts
 * const file = parseOrcaMarkdown(await readFile('order.orca.md', 'utf8'), { fileName: 'order.orca.md' });
 * const machine = file.machines[0];
 * ```
 * @throws OrcaParseError with every diagnostic, when the source has any problem.
 */
export function parseOrcaMarkdown(source: string, options: ParseOptions = {}): OrcaFile {
  const sink = new DiagnosticSink();
  const file: OrcaFile = { machines: [], decisionTables: [] };
  let machine: MachineBuilder | undefined;
  let table: DecisionTableBuilder | undefined;
  /** After a `---` that closed a document: until the next H1, content belongs to nothing. */
  let detached = false;
  const names = new Set<string>();

  const close = (): void => {
    if (machine) file.machines.push(machine.finish());
    if (table) file.decisionTables.push(table.table);
    machine = undefined;
    table = undefined;
  };

  for (const b of scanBlocks(source)) {
    if (sink.full) break;
    if (b.kind === 'separator') {
      if (machine || table) detached = true;
      close();
      continue;
    }
    if (b.kind === 'heading' && b.level === 1) {
      close();
      detached = false;
      const m = /^(machine|decision_table)(?:[ \t]+(\S+))?[ \t]*$/i.exec(b.text);
      if (!m) continue; // Any other H1 is prose (a README title, say).
      const name = m[2] ?? '';
      const loc = { line: b.line, column: b.column };
      if (!IDENT.test(name)) {
        sink.add(OrcaParseCode.InvalidName, `'${b.text.slice(0, 40)}' needs a valid name: write '# ${(m[1] ?? '').toLowerCase()} MyName' (letters, digits, _).`, b.line, b.column);
        continue;
      }
      if (names.has(name)) {
        sink.add(OrcaParseCode.DuplicateMachine, `'${name}' is defined twice in this file: rename one of them.`, b.line, b.column);
      }
      names.add(name);
      if ((m[1] ?? '').toLowerCase() === 'machine') machine = new MachineBuilder(name, loc, sink);
      else table = new DecisionTableBuilder(name, loc, sink);
      continue;
    }
    if (machine) {
      if (b.kind === 'heading') machine.heading(b);
      else if (b.kind === 'bullet') machine.bullet(b);
      else if (b.kind === 'quote') machine.quote(b);
      else if (b.kind === 'table') machine.table(b);
    } else if (table) {
      if (b.kind === 'heading') table.heading(b);
      else if (b.kind === 'bullet') table.bullet(b);
      else if (b.kind === 'table') table.tableBlock(b);
    } else if (detached && b.kind === 'heading' && b.level >= 2) {
      const word = firstWord(b.text);
      if (word === 'state' || SECTIONS.some((s) => s === b.text.toLowerCase())) {
        sink.add(
          OrcaParseCode.InvalidHeading,
          `'${b.text.slice(0, 40)}' follows a '---' separator, which ended the previous machine: remove the separator, or start a new machine with '# machine Name' above this heading.`,
          b.line,
          b.column,
        );
      }
    }
  }
  if (!sink.full) close();

  if (sink.items.length === 0 && file.machines.length === 0 && file.decisionTables.length === 0) {
    sink.add(OrcaParseCode.NoMachine, "No machine found: an .orca.md file starts a machine with a heading '# machine Name'.", 1, 1);
  }
  if (sink.items.length > 0) throw new OrcaParseError(sink.items, options.fileName);
  return file;
}

/** Parses an `.orca.md` source and returns its first (usually only) machine. */
export function parseMachine(source: string, options: ParseOptions = {}): MachineDef {
  const file = parseOrcaMarkdown(source, options);
  const first = file.machines[0];
  if (!first) {
    throw new OrcaParseError(
      [{ code: OrcaParseCode.NoMachine, message: "The file holds decision tables but no machine: add a '# machine Name' section.", line: 1, column: 1 }],
      options.fileName,
    );
  }
  return first;
}
