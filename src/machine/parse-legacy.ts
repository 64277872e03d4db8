import type { ContextField, MachineDef, OrcaFile, PropertyDef, RegionDef, StateDef, SyncMode, Transition } from './ast.js';
import type { RefLocations } from './check-machine.js';
import { checkMachine, newRefLocations } from './check-machine.js';
import { DiagnosticSink, OrcaParseCode, OrcaParseError } from './errors.js';
import { parseGuardExpression } from './guard-expression.js';
import type { ParseOptions } from './parse-markdown.js';
import { parseDefault, parseDuration, parseInvoke, parseProperty, parseSignature, parseType } from './syntax.js';

/**
 * The legacy brace DSL (`.orca`, ORCA.md §4.3), parsed into the same AST as `.orca.md`.
 *
 * A tokenizer and a recursive-descent parser with error recovery: a malformed entry is reported
 * and the parser skips to the end of its line (or block) and carries on, so one typo yields one
 * diagnostic. Entries whose right-hand side is free text (guard expressions, signatures,
 * properties, types, defaults) are taken as the rest of their line and handed to the same
 * sub-parsers the markdown parser uses, so the two syntaxes agree by construction.
 *
 * Keel extensions over the upstream grammar (so that anything `.orca.md` can say converts):
 * `invoke: Child input: { … }`, `on_done: EVENT` / `on_error: EVENT` with it, `ignore: *`,
 * `[initial, final]` in one bracket, and string or boolean defaults (as the Python parser took).
 */

type Tok =
  | { t: 'ident'; text: string; line: number; column: number; start: number; end: number }
  | { t: 'number'; text: string; line: number; column: number; start: number; end: number }
  | { t: 'string'; text: string; line: number; column: number; start: number; end: number }
  | { t: 'punct'; text: string; line: number; column: number; start: number; end: number }
  | { t: 'eof'; text: ''; line: number; column: number; start: number; end: number };

const PUNCT = ['->', '!=', '<=', '>=', '==', '&&', '||', '+', ':', ',', '[', ']', '{', '}', '(', ')', '.', '?', '=', '<', '>', '!', '*'];

function tokenize(source: string, sink: DiagnosticSink): Tok[] {
  const toks: Tok[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < source.length && !sink.full) {
    const c = source.charAt(i);
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < source.length && source.charAt(i) !== '\n') i++;
      continue;
    }
    const column = i - lineStart + 1;
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < source.length && /[A-Za-z0-9_]/.test(source.charAt(i))) i++;
      toks.push({ t: 'ident', text: source.slice(start, i), line, column, start, end: i });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(source.charAt(i + 1)))) {
      i++;
      while (i < source.length && /[0-9]/.test(source.charAt(i))) i++;
      if (source.charAt(i) === '.' && /[0-9]/.test(source.charAt(i + 1))) {
        i++;
        while (i < source.length && /[0-9]/.test(source.charAt(i))) i++;
      }
      // A unit glued to the number (`30s`, `250ms`) belongs to it: durations are NUMBER[IDENT].
      while (i < source.length && /[A-Za-z]/.test(source.charAt(i))) i++;
      toks.push({ t: 'number', text: source.slice(start, i), line, column, start, end: i });
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      let closed = false;
      while (j < source.length) {
        const d = source.charAt(j);
        if (d === '\n') break;
        if (d === c) {
          closed = true;
          break;
        }
        if (d === '\\' && j + 1 < source.length) {
          const e = source.charAt(j + 1);
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        text += d;
        j++;
      }
      if (!closed) {
        sink.add(OrcaParseCode.UnterminatedString, `The string starting here is not closed: add ${c} before the end of the line.`, line, column);
        i = j;
        continue;
      }
      i = j + 1;
      toks.push({ t: 'string', text, line, column, start, end: i });
      continue;
    }
    const p = PUNCT.find((q) => source.startsWith(q, i));
    if (p !== undefined) {
      i += p.length;
      toks.push({ t: 'punct', text: p, line, column, start, end: i });
      continue;
    }
    sink.add(OrcaParseCode.UnexpectedToken, `Unexpected character '${c === '\0' ? '\\0' : c}': remove it.`, line, column);
    i++;
  }
  toks.push({ t: 'eof', text: '', line, column: i - lineStart + 1, start: source.length, end: source.length });
  return toks;
}

const MAX_STATE_DEPTH = 16;

class LegacyParser {
  private pos = 0;
  private readonly locs: RefLocations = newRefLocations();
  private eventsDeclared = false;
  private readonly guardLines: { name: string; text: string; tok: Tok }[] = [];
  private readonly propertyLines: { text: string; tok: Tok }[] = [];

  constructor(
    private readonly source: string,
    private readonly toks: Tok[],
    private readonly sink: DiagnosticSink,
  ) {}

  private peek(offset = 0): Tok {
    return this.toks[Math.min(this.pos + offset, this.toks.length - 1)] as Tok;
  }
  private next(): Tok {
    const tok = this.peek();
    if (this.pos < this.toks.length - 1) this.pos++;
    return tok;
  }
  private is(text: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return (tok.t === 'punct' || tok.t === 'ident') && tok.text === text;
  }
  private accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.next();
    return true;
  }
  private err(code: OrcaParseCode, message: string, tok: Tok): void {
    this.sink.add(code, message, tok.line, tok.column);
  }
  private describe(tok: Tok): string {
    return tok.t === 'eof' ? 'the end of the file' : `'${tok.text.slice(0, 30)}'`;
  }
  /** Reports and throws to the recovery point of the enclosing entry. */
  private expect(text: string, what: string): Tok {
    const tok = this.peek();
    if (this.is(text)) return this.next();
    throw this.fail(tok, `Expected '${text}' ${what} but found ${this.describe(tok)}.`);
  }
  private expectIdent(what: string): Tok {
    const tok = this.peek();
    if (tok.t === 'ident') return this.next();
    throw this.fail(tok, `Expected ${what} but found ${this.describe(tok)}.`);
  }
  private fail(tok: Tok, message: string): Recover {
    this.err(tok.t === 'eof' ? OrcaParseCode.UnexpectedEnd : OrcaParseCode.UnexpectedToken, tok.t === 'eof' ? `${message} The file ends too early: close every '{' with '}'.` : message, tok);
    return new Recover();
  }
  private dottedRef(what: string): Tok & { ref: string } {
    const first = this.expectIdent(what);
    let ref = first.text;
    while (this.is('.') && this.peek(1).t === 'ident') {
      this.next();
      ref += `.${this.next().text}`;
    }
    return { ...first, ref };
  }
  /** Skips to the first token on a later line (or a closing brace), after a bad entry. */
  private skipLine(line: number): void {
    while (this.peek().t !== 'eof' && this.peek().line === line && !this.is('}')) this.next();
  }
  /** Skips a balanced `{ … }` starting at the current `{`. */
  private skipBlock(): void {
    let depth = 0;
    do {
      const tok = this.next();
      if (tok.t === 'eof') return;
      if (tok.t === 'punct' && tok.text === '{') depth++;
      else if (tok.t === 'punct' && tok.text === '}') depth--;
    } while (depth > 0);
  }
  /** The raw source text of the rest of the line (stopping at a `}` outside braces of its own). */
  private restOfLine(): { text: string; first: Tok } {
    const first = this.peek();
    let last: Tok | undefined;
    let depth = 0;
    while (this.peek().t !== 'eof' && this.peek().line === first.line) {
      if (this.is('}') && depth === 0) break;
      if (this.is('{')) depth++;
      if (this.is('}')) depth--;
      last = this.next();
    }
    let text = last ? this.source.slice(first.start, last.end) : '';
    text = text.trim();
    if (text.endsWith(',')) text = text.slice(0, -1).trim();
    return { text, first };
  }

  parse(): MachineDef | undefined {
    const kw = this.peek();
    if (!this.is('machine')) {
      this.err(OrcaParseCode.NoMachine, `A legacy .orca file starts with 'machine Name' but this one starts with ${this.describe(kw)}.`, kw);
      return undefined;
    }
    this.next();
    const nameTok = this.peek();
    if (nameTok.t !== 'ident') {
      this.err(OrcaParseCode.InvalidName, `'machine' needs a name: write 'machine MyMachine'.`, nameTok);
      return undefined;
    }
    this.next();
    const machine: MachineDef = {
      name: nameTok.text,
      version: '0.1.0',
      context: [],
      events: [],
      states: [],
      transitions: [],
      guards: [],
      actions: [],
      loc: { line: kw.line, column: kw.column },
    };
    while (this.peek().t !== 'eof' && !this.sink.full) {
      const tok = this.peek();
      const startPos = this.pos;
      try {
        if (tok.t === 'ident' && tok.text === 'state') {
          machine.states.push(this.state(undefined, 0));
          continue;
        }
        if (tok.t === 'ident' && this.is('{', 1)) {
          this.next();
          switch (tok.text) {
            case 'context':
              this.block(() => this.contextEntry(machine));
              continue;
            case 'events':
              this.eventsDeclared = true;
              this.block(() => this.eventEntry(machine));
              continue;
            case 'transitions':
              this.block(() => this.transitionEntry(machine));
              continue;
            case 'guards':
              this.block(() => this.guardEntry());
              continue;
            case 'actions':
              this.block(() => this.actionEntry(machine));
              continue;
            case 'properties':
              this.block(() => this.propertyEntry());
              continue;
            default:
              this.err(OrcaParseCode.UnexpectedToken, `Unknown section '${tok.text.slice(0, 30)}': use context, events, state, transitions, guards, actions or properties.`, tok);
              this.skipBlock();
              continue;
          }
        }
        throw this.fail(tok, `Expected a section (context, events, state, transitions, guards, actions, properties) but found ${this.describe(tok)}.`);
      } catch (err) {
        if (!(err instanceof Recover)) throw err;
        // Resynchronise on the next top-level keyword.
        if (this.pos === startPos) this.next();
        while (this.peek().t !== 'eof' && !(this.peek().column === 1 && this.peek().t === 'ident')) this.next();
      }
    }
    this.finish(machine);
    return machine;
  }

  /** `{ entry* }` with per-entry recovery. */
  private block(entry: () => void): void {
    this.next(); // '{'
    while (!this.is('}')) {
      const tok = this.peek();
      const startPos = this.pos;
      if (tok.t === 'eof') {
        this.err(OrcaParseCode.UnexpectedEnd, `The file ends inside a block: close it with '}'.`, tok);
        return;
      }
      if (this.sink.full) return;
      try {
        entry();
        this.accept(',');
      } catch (err) {
        if (!(err instanceof Recover)) throw err;
        this.skipLine(tok.line);
        if (this.pos === startPos) this.next();
      }
    }
    this.next(); // '}'
  }

  private contextEntry(machine: MachineDef): void {
    const name = this.expectIdent('a context field name');
    this.expect(':', `after field '${name.text}'`);
    // The type runs to '=' / ',' / end of line; map<K, V> has a comma inside its angle brackets.
    const typeStart = this.peek();
    let last: Tok | undefined;
    let angle = 0;
    while (this.peek().t !== 'eof' && this.peek().line === name.line && !this.is('}') && !this.is('=') && !(this.is(',') && angle === 0)) {
      if (this.is('<')) angle++;
      if (this.is('>')) angle--;
      last = this.next();
    }
    const type = parseType(last ? this.source.slice(typeStart.start, last.end) : '');
    if (!type.ok) {
      this.err(OrcaParseCode.InvalidType, type.message, typeStart);
      this.skipLine(name.line);
      return;
    }
    let defaultValue: unknown = null;
    if (this.accept('=')) {
      const dStart = this.peek();
      let dLast: Tok | undefined;
      while (this.peek().t !== 'eof' && this.peek().line === name.line && !this.is('}') && !this.is(',')) dLast = this.next();
      const d = parseDefault(dLast ? this.source.slice(dStart.start, dLast.end) : '', type.value);
      if (!d.ok) {
        this.err(OrcaParseCode.InvalidDefault, d.message, dStart);
        return;
      }
      defaultValue = d.value;
    }
    if (machine.context.some((f) => f.name === name.text)) {
      this.err(OrcaParseCode.DuplicateField, `Context field '${name.text}' is declared twice: remove one.`, name);
      return;
    }
    const field: ContextField = { name: name.text, type: type.value, defaultValue, loc: { line: name.line, column: name.column } };
    machine.context.push(field);
  }

  private eventEntry(machine: MachineDef): void {
    const tok = this.expectIdent('an event name');
    if (machine.events.some((e) => e.name === tok.text)) {
      this.err(OrcaParseCode.DuplicateEvent, `Event '${tok.text}' is declared twice: remove one.`, tok);
      return;
    }
    machine.events.push({ name: tok.text, loc: { line: tok.line, column: tok.column } });
  }

  private transitionEntry(machine: MachineDef): void {
    const source = this.dottedRef('a source state');
    this.expect('+', `between source '${source.ref}' and the event`);
    const event = this.expectIdent('an event name');
    let guard: Transition['guard'];
    let guardTok: Tok | undefined;
    if (this.accept('[')) {
      const negated = this.accept('!');
      guardTok = this.expectIdent('a guard name');
      guard = { name: guardTok.text, negated };
      this.expect(']', 'to close the guard');
    }
    this.expect('->', 'before the target state');
    const target = this.dottedRef('a target state');
    const t: Transition = { source: source.ref, event: event.text, target: target.ref, loc: { line: source.line, column: source.column } };
    if (guard) t.guard = guard;
    if (this.accept(':')) {
      const action = this.expectIdent("an action name (or '_')");
      if (action.text !== '_') t.action = action.text;
    }
    machine.transitions.push(t);
    const at: RefLocations['transitions'] extends Map<Transition, infer V> ? V : never = {
      source: { line: source.line, column: source.column },
      event: { line: event.line, column: event.column },
      target: { line: target.line, column: target.column },
    };
    if (guardTok) at.guard = { line: guardTok.line, column: guardTok.column };
    this.locs.transitions.set(t, at);
  }

  private guardEntry(): void {
    const name = this.expectIdent('a guard name');
    this.expect(':', `after guard '${name.text}'`);
    const { text, first } = this.restOfLine();
    if (this.guardLines.some((g) => g.name === name.text)) {
      this.err(OrcaParseCode.DuplicateGuard, `Guard '${name.text}' is defined twice: keep one definition.`, name);
      return;
    }
    this.guardLines.push({ name: name.text, text, tok: first });
  }

  private actionEntry(machine: MachineDef): void {
    const name = this.expectIdent('an action name');
    this.expect(':', `after action '${name.text}'`);
    const { text, first } = this.restOfLine();
    const sig = parseSignature(name.text, text);
    if (!sig.ok) {
      this.err(OrcaParseCode.InvalidSignature, sig.message, first);
      return;
    }
    if (machine.actions.some((a) => a.name === name.text)) {
      this.err(OrcaParseCode.DuplicateAction, `Action '${name.text}' is declared twice: keep one.`, name);
      return;
    }
    machine.actions.push({ ...sig.value, loc: { line: name.line, column: name.column } });
  }

  private propertyEntry(): void {
    const { text, first } = this.restOfLine();
    if (text === '') throw this.fail(first, `Expected a property but found ${this.describe(first)}.`);
    this.propertyLines.push({ text, tok: first });
  }

  private state(parent: string | undefined, depth: number): StateDef {
    const kw = this.next(); // 'state'
    if (depth > MAX_STATE_DEPTH) {
      this.err(OrcaParseCode.NestingTooDeep, `States nest more than ${MAX_STATE_DEPTH} levels deep here: flatten the hierarchy, or move the inner part into its own machine and invoke it.`, kw);
      while (!this.is('{') && this.peek().t !== 'eof') this.next();
      this.skipBlock();
      throw new Recover();
    }
    const name = this.expectIdent("a state name after 'state'");
    const state: StateDef = { name: name.text, isInitial: false, isFinal: false, loc: { line: kw.line, column: kw.column } };
    if (parent !== undefined) state.parent = parent;
    while (this.accept('[')) {
      do {
        const a = this.expectIdent('initial or final');
        if (a.text === 'initial') state.isInitial = true;
        else if (a.text === 'final') state.isFinal = true;
        else this.err(OrcaParseCode.InvalidAnnotation, `Unknown annotation '${a.text}' on state '${name.text}': use [initial] or [final]; parallel regions go in a 'parallel { … }' block.`, a);
      } while (this.accept(','));
      this.expect(']', 'to close the annotation');
    }
    if (!this.is('{')) return state;
    this.next();
    while (!this.is('}')) {
      const tok = this.peek();
      if (tok.t === 'eof') {
        this.err(OrcaParseCode.UnexpectedEnd, `The file ends inside state '${name.text}': close it with '}'.`, tok);
        return state;
      }
      if (this.sink.full) return state;
      const startPos = this.pos;
      try {
        this.stateItem(state, depth);
        this.accept(',');
      } catch (err) {
        if (!(err instanceof Recover)) throw err;
        this.skipLine(tok.line);
        if (this.pos === startPos) this.next();
      }
    }
    this.next();
    return state;
  }

  private stateItem(state: StateDef, depth: number): void {
    const key = this.peek();
    if (key.t !== 'ident') throw this.fail(key, `Expected a state attribute or a nested state in '${state.name}' but found ${this.describe(key)}.`);
    if (key.text === 'state') {
      (state.contains ??= []).push(this.state(state.name, depth + 1));
      return;
    }
    if (key.text === 'parallel') {
      this.next();
      this.parallel(state, depth);
      return;
    }
    this.next();
    this.expect(':', `after '${key.text}'`);
    const stateLocs = (): NonNullable<ReturnType<RefLocations['states']['get']>> => {
      let l = this.locs.states.get(state);
      if (!l) this.locs.states.set(state, (l = {}));
      return l;
    };
    switch (key.text) {
      case 'description': {
        const s = this.peek();
        if (s.t !== 'string') throw this.fail(s, `'description:' takes a quoted string, as in description: "Waiting for input".`);
        this.next();
        state.description = s.text;
        return;
      }
      case 'on_entry':
      case 'on_exit': {
        this.accept('->');
        const action = this.expectIdent(`an action name after '${key.text}:'`);
        state[key.text === 'on_entry' ? 'onEntry' : 'onExit'] = action.text;
        return;
      }
      case 'timeout': {
        const d = this.peek();
        if (d.t !== 'number') throw this.fail(d, `'timeout:' takes a duration and a target, as in timeout: 30s -> expired.`);
        this.next();
        const ms = parseDuration(d.text);
        if (!ms.ok) {
          this.err(OrcaParseCode.InvalidDuration, ms.message, d);
          this.skipLine(d.line);
          return;
        }
        this.expect('->', 'between the timeout duration and its target');
        const target = this.dottedRef('a target state');
        state.timeout = { duration: d.text, target: target.ref, durationMs: ms.value };
        stateLocs().timeout = { line: target.line, column: target.column };
        return;
      }
      case 'ignore': {
        if (this.accept('*')) {
          state.ignoredAll = true;
          return;
        }
        const first = this.peek();
        stateLocs().ignore = { line: first.line, column: first.column };
        const events = (state.ignoredEvents ??= []);
        events.push(this.expectIdent("an event name (or '*')").text);
        while (this.is(',') && this.peek(1).t === 'ident' && this.peek(1).line === first.line) {
          this.next();
          events.push(this.next().text);
        }
        return;
      }
      case 'on_done':
      case 'on_error': {
        if (key.text === 'on_done' && this.accept('->')) {
          const target = this.dottedRef('a target state');
          state.onDone = target.ref;
          stateLocs().onDone = { line: target.line, column: target.column };
          return;
        }
        const ev = this.expectIdent(`an event name after '${key.text}:'`);
        this.pendingInvoke.push({ state, key: key.text, event: ev });
        return;
      }
      case 'invoke': {
        const { text, first } = this.restOfLine();
        const inv = parseInvoke(text);
        if (!inv.ok) {
          this.err(OrcaParseCode.InvalidInvoke, inv.message, first);
          return;
        }
        state.invoke = inv.value;
        return;
      }
      default:
        throw this.fail(key, `Unknown state attribute '${key.text.slice(0, 30)}': use description, on_entry, on_exit, timeout, ignore, on_done, invoke, on_error, a nested state or parallel.`);
    }
  }

  private readonly pendingInvoke: { state: StateDef; key: string; event: Tok }[] = [];

  private parallel(state: StateDef, depth: number): void {
    let sync: SyncMode | undefined;
    if (this.accept('[')) {
      const kw = this.expectIdent("'sync'");
      if (kw.text !== 'sync') throw this.fail(kw, `Expected 'sync' in the parallel options, as in parallel [sync: all_final].`);
      this.expect(':', "after 'sync'");
      const mode = this.expectIdent('a sync mode');
      if (mode.text === 'all_final') sync = 'all-final';
      else if (mode.text === 'any_final') sync = 'any-final';
      else if (mode.text === 'custom') sync = 'custom';
      else this.err(OrcaParseCode.InvalidAnnotation, `Unknown sync mode '${mode.text}': use all_final, any_final or custom.`, mode);
      this.expect(']', 'to close the parallel options');
    }
    const open = this.expect('{', "to open the parallel block ('parallel { region a { … } region b { … } }')");
    const regions: RegionDef[] = [];
    state.parallel = sync !== undefined ? { regions, sync } : { regions };
    while (!this.is('}')) {
      const tok = this.peek();
      if (tok.t === 'eof') {
        this.err(OrcaParseCode.UnexpectedEnd, `The file ends inside the parallel block of '${state.name}': close it with '}'.`, open);
        return;
      }
      if (!this.is('region')) throw this.fail(tok, `Expected 'region <name> { … }' inside the parallel block but found ${this.describe(tok)}.`);
      this.next();
      const name = this.expectIdent('a region name');
      const region: RegionDef = { name: name.text, states: [], loc: { line: tok.line, column: tok.column } };
      regions.push(region);
      this.expect('{', `to open region '${name.text}'`);
      while (!this.is('}')) {
        const s = this.peek();
        if (s.t === 'eof') {
          this.err(OrcaParseCode.UnexpectedEnd, `The file ends inside region '${name.text}': close it with '}'.`, s);
          return;
        }
        if (!this.is('state')) throw this.fail(s, `Expected 'state' inside region '${name.text}' but found ${this.describe(s)}.`);
        region.states.push(this.state(`${state.name}.${name.text}`, depth + 2));
      }
      this.next();
    }
    this.next();
    if (regions.length === 0) {
      this.err(OrcaParseCode.InvalidAnnotation, `The parallel block of '${state.name}' has no regions: add 'region <name> { state … }' blocks.`, open);
    }
  }

  private finish(machine: MachineDef): void {
    const booleanFields = new Set(
      machine.context.filter((f) => f.type.kind === 'bool' || (f.type.kind === 'optional' && f.type.inner.kind === 'bool')).map((f) => f.name),
    );
    for (const g of this.guardLines) {
      const parsed = parseGuardExpression(g.text, { booleanFields });
      if (!parsed.ok) {
        this.sink.add(OrcaParseCode.InvalidGuardExpression, `Guard '${g.name}' has an invalid expression: ${parsed.message}.`, g.tok.line, g.tok.column + parsed.offset);
        continue;
      }
      machine.guards.push({ name: g.name, expression: parsed.expression, loc: { line: g.tok.line, column: g.tok.column } });
    }
    if (this.propertyLines.length > 0) {
      const props: PropertyDef[] = [];
      for (const p of this.propertyLines) {
        const parsed = parseProperty(p.text, { booleanFields });
        if (!parsed.ok) this.sink.add(OrcaParseCode.InvalidProperty, parsed.message, p.tok.line, p.tok.column);
        else props.push({ ...parsed.value, loc: { line: p.tok.line, column: p.tok.column } });
      }
      machine.properties = props;
    }
    for (const p of this.pendingInvoke) {
      if (!p.state.invoke) {
        this.sink.add(
          OrcaParseCode.InvalidInvoke,
          `State '${p.state.name}' has ${p.key} with an event name but no invoke: add 'invoke: ChildMachine', or write 'on_done: -> state' for a transition.`,
          p.event.line,
          p.event.column,
        );
        continue;
      }
      if (p.key === 'on_done') p.state.invoke.onDone = p.event.text;
      else p.state.invoke.onError = p.event.text;
    }
    checkMachine(machine, this.locs, this.sink, this.eventsDeclared);
  }
}

/** Thrown inside the parser to unwind to the nearest entry's recovery point (already reported). */
class Recover extends Error {}

/**
 * Parses a legacy `.orca` source (one machine per file).
 * @throws OrcaParseError with every diagnostic, when the source has any problem.
 */
export function parseLegacyOrca(source: string, options: ParseOptions = {}): OrcaFile {
  const sink = new DiagnosticSink();
  const toks = tokenize(source, sink);
  const machine = new LegacyParser(source, toks, sink).parse();
  if (sink.items.length > 0 || !machine) throw new OrcaParseError(sink.items, options.fileName);
  return { machines: [machine], decisionTables: [] };
}

/** Parses a legacy `.orca` source and returns its machine. */
export function parseLegacyMachine(source: string, options: ParseOptions = {}): MachineDef {
  const machine = parseLegacyOrca(source, options).machines[0];
  if (!machine) throw new OrcaParseError([{ code: OrcaParseCode.NoMachine, message: "No machine: start the file with 'machine Name'.", line: 1, column: 1 }], options.fileName);
  return machine;
}
