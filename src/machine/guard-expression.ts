import type { CompareOp, GuardExpression, ValueRef, VariableRef } from './ast.js';

/**
 * The guard-expression language of `## guards` (ORCA.md §4.2):
 *
 * ```
 * expr    := or
 * or      := and (("or" | "||") and)*
 * and     := not (("and" | "&&") not)*
 * not     := ("not" | "!") not | primary
 * primary := "(" expr ")" | "true" | "false"
 *          | operand op operand            (at least one side a variable)
 *          | var "is" ["not"] "null"
 *          | var                            (truthiness, see below)
 * op      := == | != | < | > | <= | >=
 * var     := IDENT ("." IDENT)*
 * value   := NUMBER | "str" | 'str' | true | false | null
 * ```
 *
 * Keel's choices where upstream is loose:
 * - `x == null` / `x != null` (either side) become null checks, as upstream does.
 * - `3 < x` is accepted and stored as `x > 3`: the AST keeps the variable on the left.
 * - A bare variable means "is not null" (upstream), except when the caller says it names a `bool`
 *   context field: then it means `== true`, which is what anyone writing `ctx.is_vip` expects.
 * - Nesting deeper than {@link MAX_DEPTH} is rejected, so a hostile input cannot blow the stack.
 */

export type GuardParseResult =
  | { ok: true; expression: GuardExpression }
  | { ok: false; message: string; /** 0-based offset into the text. */ offset: number };

export interface GuardParseOptions {
  /** Context fields of type `bool` (names without a `ctx.` prefix). */
  booleanFields?: ReadonlySet<string>;
}

const MAX_DEPTH = 64;

type Token =
  | { t: 'ident'; path: string[]; at: number }
  | { t: 'number'; value: number; at: number }
  | { t: 'string'; value: string; at: number }
  | { t: 'op'; value: string; at: number }
  | { t: 'end'; at: number };

class GuardSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')'] as const;
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (IDENT_START.test(c)) {
      const path: string[] = [];
      for (;;) {
        let j = i;
        while (j < text.length && IDENT_PART.test(text.charAt(j))) j++;
        path.push(text.slice(i, j));
        i = j;
        if (text.charAt(i) === '.' && IDENT_START.test(text.charAt(i + 1))) {
          i++;
          continue;
        }
        break;
      }
      tokens.push({ t: 'ident', path, at: start });
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (num && (c !== '-' || /\d/.test(text.charAt(i + 1)))) {
      const value = Number(num[0]);
      if (!Number.isFinite(value)) throw new GuardSyntaxError(`the number ${num[0]} is out of range`, start);
      tokens.push({ t: 'number', value, at: start });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) throw new GuardSyntaxError(`unterminated string: close it with ${c}`, start);
        const d = text.charAt(j);
        if (d === c) break;
        if (d === '\\' && j + 1 < text.length) {
          const e = text.charAt(j + 1);
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) {
            value += String.fromCharCode(parseInt(text.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          j += 2;
          continue;
        }
        value += d;
        j++;
      }
      tokens.push({ t: 'string', value, at: start });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ t: 'op', value: op, at: start });
      i += op.length;
      continue;
    }
    if (c === '=') throw new GuardSyntaxError("'=' is not an operator: write '==' to compare", start);
    throw new GuardSyntaxError(`unexpected character '${c}'`, start);
  }
  tokens.push({ t: 'end', at: text.length });
  return tokens;
}

const COMPARE_OPS: Record<string, CompareOp> = { '==': 'eq', '!=': 'ne', '<': 'lt', '>': 'gt', '<=': 'le', '>=': 'ge' };
/** `3 < x` is `x > 3`. */
const FLIPPED: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', lt: 'gt', gt: 'lt', le: 'ge', ge: 'le' };

function isKeyword(tok: Token, word: string): boolean {
  return tok.t === 'ident' && tok.path.length === 1 && tok.path[0]?.toLowerCase() === word;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly booleanFields: ReadonlySet<string>,
  ) {}

  private peek(): Token {
    return this.tokens[this.pos] ?? { t: 'end', at: 0 };
  }
  private next(): Token {
    const tok = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return tok;
  }
  private isOp(value: string): boolean {
    const tok = this.peek();
    return tok.t === 'op' && tok.value === value;
  }

  parse(): GuardExpression {
    const expr = this.or();
    const tok = this.peek();
    if (tok.t !== 'end') throw new GuardSyntaxError(`unexpected ${describe(tok)} after a complete expression; join conditions with 'and' or 'or'`, tok.at);
    return expr;
  }

  private enter(at: number): void {
    if (++this.depth > MAX_DEPTH) throw new GuardSyntaxError(`the expression nests deeper than ${MAX_DEPTH} levels; simplify it`, at);
  }

  private or(): GuardExpression {
    this.enter(this.peek().at);
    let left = this.and();
    while (this.isOp('||') || isKeyword(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    this.depth--;
    return left;
  }

  private and(): GuardExpression {
    let left = this.not();
    while (this.isOp('&&') || isKeyword(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): GuardExpression {
    if (this.isOp('!') || isKeyword(this.peek(), 'not')) {
      const tok = this.next();
      this.enter(tok.at);
      const expr: GuardExpression = { kind: 'not', expr: this.not() };
      this.depth--;
      return expr;
    }
    return this.primary();
  }

  private primary(): GuardExpression {
    const tok = this.peek();
    if (tok.t === 'op' && tok.value === '(') {
      this.next();
      const expr = this.or();
      const close = this.next();
      if (close.t !== 'op' || close.value !== ')') throw new GuardSyntaxError(`expected ')' but found ${describe(close)}; close the parenthesis`, close.at);
      return expr;
    }
    if (tok.t === 'end') throw new GuardSyntaxError('the expression is empty or ends too early; write a condition such as `ctx.count < 3`', tok.at);
    const left = this.operand();
    const opTok = this.peek();
    if (opTok.t === 'op' && COMPARE_OPS[opTok.value] !== undefined) {
      this.next();
      const right = this.operand();
      return this.comparison(left, COMPARE_OPS[opTok.value] as CompareOp, right, opTok.at);
    }
    if (isKeyword(opTok, 'is')) {
      this.next();
      let isNull = true;
      if (isKeyword(this.peek(), 'not')) {
        this.next();
        isNull = false;
      }
      const nul = this.next();
      if (!isKeyword(nul, 'null')) throw new GuardSyntaxError(`expected 'null' after 'is' but found ${describe(nul)}`, nul.at);
      if (left.kind !== 'variable') throw new GuardSyntaxError("'is null' needs a variable on its left, such as `ctx.token is null`", tok.at);
      return { kind: 'nullcheck', expr: left, isNull };
    }
    if (left.kind === 'value') {
      if (left.type === 'boolean') return { kind: left.value === true ? 'true' : 'false' };
      throw new GuardSyntaxError(`a bare ${left.type} is not a condition; compare it with a variable, as in \`ctx.x == ${printValue(left)}\``, tok.at);
    }
    const field = fieldName(left.path);
    if (field !== undefined && this.booleanFields.has(field)) {
      return { kind: 'compare', op: 'eq', left, right: { kind: 'value', type: 'boolean', value: true } };
    }
    return { kind: 'nullcheck', expr: left, isNull: false };
  }

  private comparison(left: VariableRef | ValueRef, op: CompareOp, right: VariableRef | ValueRef, at: number): GuardExpression {
    if (left.kind === 'value' && right.kind === 'value') {
      throw new GuardSyntaxError('a comparison needs a variable on at least one side, such as `ctx.count < 3`', at);
    }
    const [v, other, o] = left.kind === 'variable' ? [left, right, op] : [right as VariableRef, left, FLIPPED[op]];
    if (other.kind === 'value' && other.type === 'null') {
      if (o === 'eq' || o === 'ne') return { kind: 'nullcheck', expr: v, isNull: o === 'eq' };
      throw new GuardSyntaxError("only '==' and '!=' compare with null; or write `x is null`", at);
    }
    return { kind: 'compare', op: o, left: v, right: other };
  }

  private operand(): VariableRef | ValueRef {
    const tok = this.next();
    switch (tok.t) {
      case 'number':
        return { kind: 'value', type: 'number', value: tok.value };
      case 'string':
        return { kind: 'value', type: 'string', value: tok.value };
      case 'ident': {
        if (tok.path.length === 1) {
          const word = tok.path[0]?.toLowerCase();
          if (word === 'true' || word === 'false') return { kind: 'value', type: 'boolean', value: word === 'true' };
          if (word === 'null') return { kind: 'value', type: 'null', value: null };
          if (word === 'and' || word === 'or' || word === 'not' || word === 'is') {
            throw new GuardSyntaxError(`expected a variable or a value but found '${word}'`, tok.at);
          }
        }
        return { kind: 'variable', path: tok.path };
      }
      default:
        throw new GuardSyntaxError(`expected a variable or a value but found ${describe(tok)}`, tok.at);
    }
  }
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'end':
      return 'the end of the expression';
    case 'ident':
      return `'${tok.path.join('.')}'`;
    case 'number':
      return `the number ${tok.value}`;
    case 'string':
      return `the string ${JSON.stringify(tok.value)}`;
    case 'op':
      return `'${tok.value}'`;
  }
}

/** The context field a variable names: `ctx.x` and `context.x` and bare `x` all name field `x`. */
export function fieldName(path: readonly string[]): string | undefined {
  const [head, second] = path;
  if (head === 'ctx' || head === 'context') return second;
  if (head === 'event') return undefined;
  return head;
}

export function parseGuardExpression(text: string, options: GuardParseOptions = {}): GuardParseResult {
  try {
    const parser = new Parser(tokenize(text), options.booleanFields ?? new Set());
    return { ok: true, expression: parser.parse() };
  } catch (err) {
    if (err instanceof GuardSyntaxError) return { ok: false, message: err.message, offset: err.offset };
    throw err;
  }
}

const OP_TEXT: Record<CompareOp, string> = { eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=' };

function printValue(v: ValueRef): string {
  switch (v.type) {
    case 'string':
      return JSON.stringify(v.value);
    case 'null':
      return 'null';
    default:
      return String(v.value);
  }
}

/** Print an expression so that {@link parseGuardExpression} reads it back to the same AST. */
export function printGuardExpression(expr: GuardExpression): string {
  return print(expr, 0);
}

/** Precedence: or = 1, and = 2, not/primary = 3; parenthesise a child that binds looser. */
function print(expr: GuardExpression, outer: number): string {
  switch (expr.kind) {
    case 'true':
    case 'false':
      return expr.kind;
    case 'not':
      return `not ${print(expr.expr, 3)}`;
    case 'and': {
      // The parser is left-associative, so a right child of the same precedence needs parentheses.
      const text = `${print(expr.left, 2)} and ${print(expr.right, 3)}`;
      return outer > 2 ? `(${text})` : text;
    }
    case 'or': {
      const text = `${print(expr.left, 1)} or ${print(expr.right, 2)}`;
      return outer > 1 ? `(${text})` : text;
    }
    case 'compare': {
      const right = expr.right.kind === 'variable' ? expr.right.path.join('.') : printValue(expr.right);
      return `${expr.left.path.join('.')} ${OP_TEXT[expr.op]} ${right}`;
    }
    case 'nullcheck':
      return `${expr.expr.path.join('.')} is ${expr.isNull ? '' : 'not '}null`;
  }
}

/** Every variable an expression reads, in order of appearance. */
export function guardVariables(expr: GuardExpression): VariableRef[] {
  const out: VariableRef[] = [];
  const walk = (e: GuardExpression): void => {
    switch (e.kind) {
      case 'not':
        walk(e.expr);
        break;
      case 'and':
      case 'or':
        walk(e.left);
        walk(e.right);
        break;
      case 'compare':
        out.push(e.left);
        if (e.right.kind === 'variable') out.push(e.right);
        break;
      case 'nullcheck':
        out.push(e.expr);
        break;
      default:
        break;
    }
  };
  walk(expr);
  return out;
}
