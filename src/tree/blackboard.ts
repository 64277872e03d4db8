import type { StandardSchemaV1 } from '@standard-schema/spec';
import { toJsonValue } from '../util/json.js';
import { BlackboardError } from './errors.js';
import { issueHead, validateSync } from './schema.js';

/**
 * The persisted form of a {@link Blackboard}. JSON only, so that the engine can store it at every
 * wait and restore it after a crash. Schemas are code, not data: the snapshot names the scopes
 * that had one bound, and {@link Blackboard.restore} must be handed those schemas again.
 */
export interface BlackboardSnapshot {
  version: 1;
  values: Record<string, unknown>;
  /** Scoped values, keyed by the scope path (`outer/inner`). */
  scopes: Record<string, Record<string, unknown>>;
  meta: {
    scopeStack: string[];
    /** Scopes whose schema was bound at run time with {@link Blackboard.bindScopeSchema}. */
    boundSchemas: string[];
  };
}

export interface BlackboardOptions {
  /** Schema per scope name, checked on every {@link Blackboard.setScoped} in that scope. */
  schemas?: Record<string, StandardSchemaV1>;
  /** Schema of the unscoped values, checked key by key on {@link Blackboard.set}. */
  rootSchema?: StandardSchemaV1;
}

/**
 * Shared memory of a tree: plain values plus a stack of named scopes (WIZARDS.md "Scoped state").
 *
 * Values must be JSON-serialisable; that is checked when a snapshot is taken, which is when it
 * matters (the engine snapshots at every wait). Reads and writes do not copy, so ticking stays cheap.
 *
 * @example
 * ```ts
 * const bb = new Blackboard({ schemas: { profile: z.object({ age: z.number().min(18) }) } });
 * bb.set('attempts', 1);
 * bb.enterScope('profile');
 * bb.setScoped('age', 27);          // validated against the 'profile' schema
 * const saved = bb.snapshot();      // JSON; Blackboard.restore(saved, options) gives it back
 * ```
 */
export class Blackboard {
  #values = new Map<string, unknown>();
  #scopes = new Map<string, Map<string, unknown>>();
  #stack: string[] = [];
  #schemas: Map<string, StandardSchemaV1>;
  #bound = new Set<string>();
  readonly #rootSchema: StandardSchemaV1 | undefined;

  constructor(options: BlackboardOptions = {}) {
    this.#schemas = new Map(Object.entries(options.schemas ?? {}));
    this.#rootSchema = options.rootSchema;
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined;
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  /**
   * Write a value; with a root schema, issues about this key are refused. Writing `undefined`
   * deletes the key: JSON has no undefined, and a restored blackboard must equal the live one.
   */
  set(key: string, value: unknown): void {
    if (value === undefined) {
      this.#values.delete(key);
      return;
    }
    if (this.#rootSchema) {
      const candidate = Object.fromEntries(this.#values);
      candidate[key] = value;
      this.#check(this.#rootSchema, candidate, key, 'the blackboard');
    }
    this.#values.set(key, value);
  }

  delete(key: string): boolean {
    return this.#values.delete(key);
  }

  /** Read and remove a value in one go (how interactive leaves consume their input). */
  take<T = unknown>(key: string): T | undefined {
    const value = this.#values.get(key) as T | undefined;
    this.#values.delete(key);
    return value;
  }

  keys(): string[] {
    return [...this.#values.keys()];
  }

  // --- scopes ---------------------------------------------------------------------------------

  get scopeStack(): readonly string[] {
    return this.#stack;
  }

  get currentScope(): string | undefined {
    return this.#stack[this.#stack.length - 1];
  }

  get scopeDepth(): number {
    return this.#stack.length;
  }

  /** Push a scope; with `schema`, bind it to the scope name as well. */
  enterScope(name: string, schema?: StandardSchemaV1): void {
    if (name === '' || name.includes('/')) {
      throw new BlackboardError(`Scope name '${name}' is not valid: use a non-empty name without '/'.`);
    }
    if (schema) this.bindScopeSchema(name, schema);
    this.#stack.push(name);
  }

  exitScope(): string {
    const name = this.#stack.pop();
    if (name === undefined) {
      throw new BlackboardError('Cannot exit a scope: the scope stack is empty. Every exitScope() needs an enterScope() before it.');
    }
    return name;
  }

  bindScopeSchema(name: string, schema: StandardSchemaV1): void {
    this.#schemas.set(name, schema);
    this.#bound.add(name);
  }

  /** The schema of the innermost scope that has one, if any. */
  effectiveSchema(): StandardSchemaV1 | undefined {
    for (let i = this.#stack.length - 1; i >= 0; i--) {
      const schema = this.#schemas.get(this.#stack[i] as string);
      if (schema) return schema;
    }
    return undefined;
  }

  /** Read a value of the innermost scope. */
  getScoped<T = unknown>(key: string): T | undefined {
    return this.#scopes.get(this.#requireScope('read'))?.get(key) as T | undefined;
  }

  /** Write a value into the innermost scope, checked against that scope's schema if it has one. */
  setScoped(key: string, value: unknown): void {
    const path = this.#requireScope('write');
    const scope = this.#scopes.get(path) ?? new Map<string, unknown>();
    const schema = this.#schemas.get(this.currentScope as string);
    if (schema) {
      const candidate = Object.fromEntries(scope);
      candidate[key] = value;
      this.#check(schema, candidate, key, `scope '${this.currentScope as string}'`);
    }
    scope.set(key, value);
    this.#scopes.set(path, scope);
  }

  /** All values of the innermost scope, as a plain object (a copy). */
  scopeValues(): Record<string, unknown> {
    return Object.fromEntries(this.#scopes.get(this.#requireScope('read')) ?? []);
  }

  // --- snapshots ------------------------------------------------------------------------------

  /** A JSON copy of everything; later writes do not change it. */
  snapshot(): BlackboardSnapshot {
    const scopes: Record<string, Record<string, unknown>> = {};
    for (const [path, values] of this.#scopes) scopes[path] = Object.fromEntries(values);
    return toJsonValue(
      {
        version: 1,
        values: Object.fromEntries(this.#values),
        scopes,
        meta: { scopeStack: [...this.#stack], boundSchemas: [...this.#bound] },
      } satisfies BlackboardSnapshot,
      'The blackboard',
    );
  }

  /** Rebuild a blackboard from a snapshot. Scopes that had a schema bound need it in `options.schemas`. */
  static restore(snapshot: BlackboardSnapshot, options: BlackboardOptions = {}): Blackboard {
    const bb = new Blackboard(options);
    bb.load(snapshot);
    return bb;
  }

  /** Replace this blackboard's contents with a snapshot's (schemas given at construction are kept). */
  load(snapshot: BlackboardSnapshot): void {
    if (snapshot.version !== 1 || typeof snapshot.values !== 'object' || !Array.isArray(snapshot.meta?.scopeStack)) {
      throw new BlackboardError('This is not a blackboard snapshot (version 1): pass the value returned by snapshot().');
    }
    const missing = snapshot.meta.boundSchemas.filter((name) => !this.#schemas.has(name));
    if (missing.length > 0) {
      throw new BlackboardError(
        `The snapshot had schemas bound to scope(s) ${missing.map((m) => `'${m}'`).join(', ')}; ` +
          `pass them in options.schemas to restore it.`,
        { missing },
      );
    }
    const copy = structuredClone(snapshot);
    this.#values = new Map(Object.entries(copy.values));
    this.#scopes = new Map(Object.entries(copy.scopes).map(([path, values]) => [path, new Map(Object.entries(values))]));
    this.#stack = [...copy.meta.scopeStack];
    this.#bound = new Set(copy.meta.boundSchemas);
  }

  #requireScope(verb: 'read' | 'write'): string {
    if (this.#stack.length === 0) {
      throw new BlackboardError(`Cannot ${verb} a scoped value without an active scope; call enterScope(name) first.`);
    }
    return this.#stack.join('/');
  }

  #check(schema: StandardSchemaV1, candidate: Record<string, unknown>, key: string, where: string): void {
    const result = validateSync(schema, candidate, where);
    if (result.ok) return;
    // Only issues about the key being written count: other keys may legitimately be unset yet.
    const mine = result.issues.filter((i) => {
      const head = issueHead(i.issue);
      return head === undefined || head === key;
    });
    if (mine.length > 0) {
      throw new BlackboardError(
        `Value for '${key}' in ${where} is invalid: ${mine.map((i) => `${i.path || key}: ${i.message}`).join('; ')}.`,
        { key, issues: mine.map(({ path, message }) => ({ path, message })) },
      );
    }
  }
}
