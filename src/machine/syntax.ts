import { KeelError } from '../core/errors.js';
import { toMs } from '../util/duration.js';
import type { ActionSignature, InvokeDef, PropertyDef, TypeRef } from './ast.js';
import type { GuardParseOptions } from './guard-expression.js';
import { parseGuardExpression } from './guard-expression.js';

/**
 * Sub-grammars that both syntaxes share, written once over plain text: types, defaults, action
 * signatures, durations, `invoke:` lines and properties. Each returns a value or a message that
 * says the fix; the caller turns the message into a diagnostic at its own line and column.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A state reference: a name or a dotted path. */
export const STATE_REF = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const PRIMITIVES: Record<string, TypeRef['kind']> = {
  string: 'string',
  int: 'int',
  decimal: 'decimal',
  bool: 'bool',
  // The upstream examples write `boolean`; it is the same type.
  boolean: 'bool',
  number: 'number',
};

/** `string`, `int?`, `string[]`, `map<string, int>`, `Order[]?`, … */
export function parseType(text: string): Parsed<TypeRef> {
  const src = text.trim();
  let pos = 0;
  const fail = (why: string): Parsed<TypeRef> => ({
    ok: false,
    message: `Invalid type '${src}': ${why}. Use string, int, decimal, bool, number, a custom Name, T[], T? or map<K, V>.`,
  });
  const skip = (): void => {
    while (src.charAt(pos) === ' ') pos++;
  };
  const parseOne = (depth: number): TypeRef | string => {
    if (depth > 16) return 'it nests too deep';
    skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos, pos + 256));
    if (!m) return 'expected a type name';
    pos += m[0].length;
    let type: TypeRef;
    if (m[0] === 'map') {
      skip();
      if (src.charAt(pos) !== '<') return "'map' needs key and value types, as in map<string, int>";
      pos++;
      const key = parseOne(depth + 1);
      if (typeof key === 'string') return key;
      skip();
      if (src.charAt(pos) !== ',') return "expected ',' between the key and value types of map<K, V>";
      pos++;
      const value = parseOne(depth + 1);
      if (typeof value === 'string') return value;
      skip();
      if (src.charAt(pos) !== '>') return "expected '>' to close map<K, V>";
      pos++;
      type = { kind: 'map', key, value };
    } else {
      const prim = PRIMITIVES[m[0]];
      type = prim !== undefined ? ({ kind: prim } as TypeRef) : { kind: 'custom', name: m[0] };
    }
    for (;;) {
      skip();
      if (src.startsWith('[]', pos)) {
        pos += 2;
        type = { kind: 'array', element: type };
      } else if (src.charAt(pos) === '?') {
        pos++;
        type = { kind: 'optional', inner: type };
      } else {
        return type;
      }
    }
  };
  if (src === '') return fail('the type is empty');
  const type = parseOne(0);
  if (typeof type === 'string') return fail(type);
  skip();
  if (pos < src.length) return fail(`unexpected '${src.slice(pos, pos + 10)}'`);
  return { ok: true, value: type };
}

export function printType(type: TypeRef): string {
  switch (type.kind) {
    case 'optional':
      return `${printType(type.inner)}?`;
    case 'array':
      return `${printType(type.element)}[]`;
    case 'map':
      return `map<${printType(type.key)}, ${printType(type.value)}>`;
    case 'custom':
      return type.name;
    default:
      return type.kind;
  }
}

/**
 * A context default: a number, a quoted string, true/false, null, `[]` or `{}`; an empty cell is
 * `null` (no default). The value must fit the declared type.
 */
export function parseDefault(text: string, type: TypeRef): Parsed<unknown> {
  const src = stripBackticks(text.trim());
  let value: unknown;
  if (src === '' || src === 'null') return { ok: true, value: null };
  if (/^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(src) && Number.isFinite(Number(src))) value = Number(src);
  else if (src.length >= 2 && ((src.startsWith('"') && src.endsWith('"')) || (src.startsWith("'") && src.endsWith("'")))) {
    value = unescape(src.slice(1, -1));
  } else if (src === 'true' || src === 'false') value = src === 'true';
  else if (src === '[]') value = [];
  else if (src === '{}') value = {};
  else {
    return { ok: false, message: `Invalid default '${short(src)}': quote strings ("${short(src)}"), or write a number, true, false, [] or {}.` };
  }
  const why = fits(value, type);
  if (why) return { ok: false, message: `Default ${short(src)} does not fit type ${printType(type)}: ${why}.` };
  return { ok: true, value };
}

function fits(value: unknown, type: TypeRef): string | undefined {
  switch (type.kind) {
    case 'optional':
      return fits(value, type.inner);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : 'write a whole number';
    case 'decimal':
    case 'number':
      return typeof value === 'number' ? undefined : 'write a number';
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'write true or false';
    case 'string':
      return typeof value === 'string' ? undefined : 'write a quoted string';
    case 'array':
      return Array.isArray(value) ? undefined : 'write [] (an empty list)';
    case 'map':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : 'write {} (an empty map)';
    case 'custom':
      return undefined;
  }
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

/** How a default is written back, for the markdown printer. */
export function printDefault(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '{}';
}

export function stripBackticks(text: string): string {
  const m = /^(`+)([\s\S]*)\1$/.exec(text);
  return m ? (m[2] ?? '').trim() : text;
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** `(ctx: Context, event: E) -> Context + Effect<T>` */
export function parseSignature(name: string, text: string): Parsed<Omit<ActionSignature, 'loc'>> {
  const src = stripBackticks(text.trim());
  if (src === '') return { ok: true, value: { name, parameters: [], returnType: 'Context' } };
  const m = /^\(([^()]*)\)\s*->\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\+\s*Effect\s*<\s*([A-Za-z_][A-Za-z0-9_]*)\s*>)?$/.exec(src);
  if (!m) {
    return {
      ok: false,
      message: `Invalid signature '${short(src)}' for action '${name}': write it as '(ctx: Context, event: E) -> Context', adding ' + Effect<T>' when the action has an effect.`,
    };
  }
  const parameters: ActionSignature['parameters'] = [];
  const params = (m[1] ?? '').trim();
  if (params !== '') {
    for (const p of params.split(',')) {
      const pm = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*([A-Za-z_][A-Za-z0-9_<>[\]?]*)\s*)?$/.exec(p);
      if (!pm?.[1]) {
        return { ok: false, message: `Invalid parameter '${short(p.trim())}' in the signature of '${name}': write 'name' or 'name: Type'.` };
      }
      parameters.push(pm[2] !== undefined ? { name: pm[1], type: pm[2] } : { name: pm[1] });
    }
  }
  const sig: Omit<ActionSignature, 'loc'> = { name, parameters, returnType: m[2] ?? 'Context' };
  if (m[3] !== undefined) sig.effect = m[3];
  return { ok: true, value: sig };
}

export function printSignature(a: ActionSignature): string {
  const params = a.parameters.map((p) => (p.type !== undefined ? `${p.name}: ${p.type}` : p.name)).join(', ');
  return `(${params}) -> ${a.returnType}${a.effect !== undefined ? ` + Effect<${a.effect}>` : ''}`;
}

/** A duration honouring its unit (Keel's decision, ORCA.md): `30s`, `250ms`, `5m`; bare = ms. */
export function parseDuration(text: string): Parsed<number> {
  try {
    return { ok: true, value: toMs(text, 'timeout duration') };
  } catch (err) {
    if (err instanceof KeelError) return { ok: false, message: err.message };
    throw err;
  }
}

/** `Child input: { childField: ctx.parentField, … }` (the text after `invoke:`). */
export function parseInvoke(text: string): Parsed<InvokeDef> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:input\s*:\s*\{([^{}]*)\})?\s*$/.exec(text.trim());
  if (!m?.[1]) {
    return { ok: false, message: `Invalid invoke '${short(text.trim())}': write 'invoke: ChildMachine' or 'invoke: ChildMachine input: { childField: ctx.parentField }'.` };
  }
  const def: InvokeDef = { machine: m[1] };
  if (m[2] !== undefined) {
    const input: Record<string, string> = {};
    for (const part of m[2].split(',')) {
      if (part.trim() === '') continue;
      const pm = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(\S(?:.*\S)?)\s*$/.exec(part);
      if (!pm?.[1] || pm[2] === undefined) {
        return { ok: false, message: `Invalid input mapping '${short(part.trim())}': write 'childField: ctx.parentField'.` };
      }
      input[pm[1]] = pm[2];
    }
    def.input = input;
  }
  return { ok: true, value: def };
}

const REF = '([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)';

const PROPERTY_FORMS =
  "reachable: S from S, unreachable: S from S, passes_through: S for S -> S, live, responds: S from S within N, invariant: `expr` [in S]";

/** One property (the text of a `## properties` bullet or a legacy `properties` line). */
export function parseProperty(text: string, guardOptions: GuardParseOptions = {}): Parsed<PropertyDef> {
  const src = text.trim();
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^(reachable|unreachable)\\s*:\\s*${REF}\\s+from\\s+${REF}$`).exec(src))) {
    return { ok: true, value: { kind: m[1] === 'reachable' ? 'reachable' : 'unreachable', target: m[2] ?? '', from: m[3] ?? '' } };
  }
  if ((m = new RegExp(`^passes_through\\s*:\\s*${REF}\\s+for\\s+${REF}\\s*->\\s*${REF}$`).exec(src))) {
    return { ok: true, value: { kind: 'passes_through', through: m[1] ?? '', from: m[2] ?? '', to: m[3] ?? '' } };
  }
  if (/^live\s*:?$/.test(src)) return { ok: true, value: { kind: 'live' } };
  if ((m = new RegExp(`^responds\\s*:\\s*${REF}\\s+from\\s+${REF}(?:\\s+within\\s+(\\d+))?$`).exec(src))) {
    if (m[3] === undefined) {
      return { ok: false, message: `Property '${short(src)}' has no bound: add 'within N' (the most transitions allowed), e.g. 'responds: ${m[1] ?? 'done'} from ${m[2] ?? 'idle'} within 5'.` };
    }
    return { ok: true, value: { kind: 'responds', target: m[1] ?? '', from: m[2] ?? '', within: Number(m[3]) } };
  }
  if ((m = /^invariant\s*:\s*(?:`([^`]*)`|(.+?))(?:\s+in\s+([A-Za-z_][A-Za-z0-9_.]*))?$/.exec(src))) {
    const exprText = m[1] ?? m[2] ?? '';
    const parsed = parseGuardExpression(exprText, guardOptions);
    if (!parsed.ok) return { ok: false, message: `Invalid invariant expression '${short(exprText)}': ${parsed.message}.` };
    const value: PropertyDef = { kind: 'invariant', expression: parsed.expression };
    if (m[3] !== undefined) value.inState = m[3];
    return { ok: true, value };
  }
  return { ok: false, message: `Invalid property '${short(src)}': write one of ${PROPERTY_FORMS}.` };
}
