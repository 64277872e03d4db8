import { parse as parseYaml } from 'yaml';
import { toMs } from '../util/duration.js';
import { Blackboard, type BlackboardOptions } from './blackboard.js';
import { ForceFailure, ForceSuccess, Inverter, Repeat, Retry, Timeout } from './decorators.js';
import { BehaviorTreeError, TreeDefinitionError } from './errors.js';
import { Action, Condition, InteractiveLeaf, TaskLeaf, type ActionOptions, type LeafContext } from './leaves.js';
import type { TreeNode } from './node.js';
import { Parallel, type ParallelPolicy } from './parallel.js';
import { ReactiveFallback, Selector } from './selector.js';
import { ReactiveSequence, Sequence } from './sequence.js';
import { Subtree } from './subtree.js';
import { didYouMean } from './suggest.js';
import { BehaviorTree, type TreeClock } from './tree.js';

/**
 * A tree as data (JSON or YAML). Keys are snake_case, like wizard definitions.
 *
 * ```yaml
 * name: ingest-pipeline
 * root:
 *   type: sequence
 *   children:
 *     - { type: action, action: extract }
 *     - { type: retry, max_attempts: 3, child: { type: action, action: transform } }
 *     - { type: task, task: load, output: loaded }
 * ```
 */
export interface TreeDefinition {
  name: string;
  description?: string;
  /** Initial blackboard values of a run. */
  blackboard?: Record<string, unknown>;
  root: NodeDefinition;
  /** Named subtrees usable by `{ type: subtree, tree: <name> }` in this definition. */
  subtrees?: Record<string, NodeDefinition>;
}

type Params = Record<string, unknown>;
type Composite = 'sequence' | 'reactive_sequence' | 'selector' | 'fallback' | 'reactive_fallback';

export type NodeDefinition =
  | { type: Composite; name?: string; children: NodeDefinition[] }
  | { type: 'parallel'; name?: string; policy?: 'all' | 'any'; threshold?: number; children: NodeDefinition[] }
  | { type: 'inverter' | 'force_success' | 'force_failure'; name?: string; child: NodeDefinition }
  | { type: 'retry'; name?: string; max_attempts: number; child: NodeDefinition }
  | { type: 'repeat'; name?: string; times?: number; child: NodeDefinition }
  | { type: 'timeout'; name?: string; ms?: number; duration?: string; child: NodeDefinition }
  | { type: 'action'; name?: string; action: string; params?: Params }
  | { type: 'condition'; name?: string; condition: string; params?: Params }
  | { type: 'interactive'; name: string; prompt?: unknown; output?: string }
  | { type: 'task'; name?: string; task: string; output?: string; input_key?: string }
  | { type: 'subtree'; name?: string; tree: string; scope?: string };

export type NodeType = NodeDefinition['type'];

/** A registered action: like {@link ActionFn}, with the node's `params` from the definition. */
export type RegisteredAction = (ctx: LeafContext, params: Params) => unknown;
export type RegisteredCondition = (ctx: LeafContext, params: Params) => boolean;

/**
 * Names that tree data may refer to: actions, conditions, and trees usable as subtrees.
 * Registering a name twice with another function is an error (it would make definitions mean
 * different things depending on load order).
 */
export class TreeRegistry {
  readonly actions = new Map<string, { fn: RegisteredAction; options: ActionOptions }>();
  readonly conditions = new Map<string, RegisteredCondition>();
  readonly trees = new Map<string, TreeDefinition>();

  action(name: string, fn: RegisteredAction, options: ActionOptions = {}): this {
    const existing = this.actions.get(name);
    if (existing && existing.fn !== fn) throw new TreeDefinitionError(`Action '${name}' is already registered with another function.`);
    this.actions.set(name, { fn, options });
    return this;
  }

  condition(name: string, fn: RegisteredCondition): this {
    const existing = this.conditions.get(name);
    if (existing && existing !== fn) throw new TreeDefinitionError(`Condition '${name}' is already registered with another function.`);
    this.conditions.set(name, fn);
    return this;
  }

  tree(definition: TreeDefinition): this {
    this.trees.set(definition.name, definition);
    return this;
  }
}

const CHILDREN_TYPES = new Set(['sequence', 'reactive_sequence', 'selector', 'fallback', 'reactive_fallback', 'parallel']);
const CHILD_TYPES = new Set(['inverter', 'force_success', 'force_failure', 'retry', 'repeat', 'timeout']);

const KEYS: Record<NodeType, readonly string[]> = {
  sequence: ['children'],
  reactive_sequence: ['children'],
  selector: ['children'],
  fallback: ['children'],
  reactive_fallback: ['children'],
  parallel: ['children', 'policy', 'threshold'],
  inverter: ['child'],
  force_success: ['child'],
  force_failure: ['child'],
  retry: ['child', 'max_attempts'],
  repeat: ['child', 'times'],
  timeout: ['child', 'ms', 'duration'],
  action: ['action', 'params'],
  condition: ['condition', 'params'],
  interactive: ['prompt', 'output'],
  task: ['task', 'output', 'input_key'],
  subtree: ['tree', 'scope'],
};

export interface ParseOptions {
  /** Where the text came from, for messages (a file path). */
  source?: string;
  /** Default: YAML (which also reads JSON), or JSON when the source ends in `.json`. */
  format?: 'json' | 'yaml';
}

/** Parse and check a tree definition from JSON or YAML text. Errors name the source and the node path. */
export function parseTreeDefinition(text: string, options: ParseOptions = {}): TreeDefinition {
  const source = options.source ?? '<tree definition>';
  const format = options.format ?? (source.endsWith('.json') ? 'json' : 'yaml');
  let data: unknown;
  try {
    data = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new TreeDefinitionError(`${source}: not valid ${format.toUpperCase()}: ${err instanceof Error ? err.message : String(err)}`, {
      source,
    });
  }
  return checkTreeDefinition(data, source);
}

/** Check that a value is a well-formed {@link TreeDefinition}; returns it typed. */
export function checkTreeDefinition(data: unknown, source = '<tree definition>'): TreeDefinition {
  const fail = (where: string, message: string): never => {
    throw new TreeDefinitionError(`${source}: ${where}: ${message}`, { source, where });
  };
  if (!isObject(data)) fail('(top level)', 'expected an object with `name` and `root`.');
  const def = data as Record<string, unknown>;
  for (const key of Object.keys(def)) {
    if (!['name', 'description', 'blackboard', 'root', 'subtrees'].includes(key)) {
      fail('(top level)', `unknown key '${key}'.${didYouMean(key, ['name', 'description', 'blackboard', 'root', 'subtrees'])}`);
    }
  }
  if (typeof def.name !== 'string' || def.name === '') fail('name', 'a tree needs a non-empty `name`.');
  if (def.blackboard !== undefined && !isObject(def.blackboard)) fail('blackboard', 'expected an object of initial values.');
  if (def.root === undefined) fail('root', 'a tree needs a `root` node.');
  checkNode(def.root, 'root', fail);
  if (def.subtrees !== undefined) {
    if (!isObject(def.subtrees)) fail('subtrees', 'expected an object mapping subtree names to nodes.');
    for (const [name, node] of Object.entries(def.subtrees as Record<string, unknown>)) checkNode(node, `subtrees.${name}`, fail);
  }
  return data as TreeDefinition;
}

function checkNode(raw: unknown, where: string, fail: (where: string, message: string) => never): void {
  if (!isObject(raw)) fail(where, 'expected a node object with a `type`.');
  const node = raw;
  const type = node.type;
  if (typeof type !== 'string' || !(type in KEYS)) {
    fail(where, `unknown node type ${JSON.stringify(type)}. Known types: ${Object.keys(KEYS).join(', ')}.${typeof type === 'string' ? didYouMean(type, Object.keys(KEYS)) : ''}`);
  }
  const allowed = ['type', 'name', ...KEYS[type as NodeType]];
  for (const key of Object.keys(node)) {
    if (!allowed.includes(key)) fail(where, `unknown key '${key}' for a ${String(type)} node (allowed: ${allowed.join(', ')}).${didYouMean(key, allowed)}`);
  }
  if (node.name !== undefined && typeof node.name !== 'string') fail(where, '`name` must be a string.');
  const need = (key: string, test: (v: unknown) => boolean, what: string): void => {
    if (!test(node[key])) fail(where, `a ${String(type)} node needs \`${key}\`: ${what}.`);
  };
  const optional = (key: string, test: (v: unknown) => boolean, what: string): void => {
    if (node[key] !== undefined && !test(node[key])) fail(where, `\`${key}\` must be ${what}.`);
  };
  const isName = (v: unknown): boolean => typeof v === 'string' && v !== '';
  const isWhole = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (CHILDREN_TYPES.has(type)) {
    need('children', Array.isArray, 'a list of nodes');
    (node.children as unknown[]).forEach((child, i) => checkNode(child, `${where}.children[${i}]`, fail));
  }
  if (CHILD_TYPES.has(type)) {
    if (node.child === undefined) fail(where, `a ${String(type)} node needs \`child\` (one node).`);
    checkNode(node.child, `${where}.child`, fail);
  }
  switch (type) {
    case 'parallel':
      optional('policy', (v) => v === 'all' || v === 'any', "'all' or 'any'");
      optional('threshold', isWhole, 'a whole number ≥ 1');
      if (node.policy !== undefined && node.threshold !== undefined) fail(where, 'give either `policy` or `threshold`, not both.');
      if (typeof node.threshold === 'number' && node.threshold > (node.children as unknown[]).length) {
        fail(where, `threshold ${node.threshold} is more than the ${(node.children as unknown[]).length} children.`);
      }
      break;
    case 'retry':
      need('max_attempts', isWhole, 'a whole number ≥ 1');
      break;
    case 'repeat':
      optional('times', isWhole, 'a whole number ≥ 1 (leave it out to repeat for ever)');
      break;
    case 'timeout':
      if ((node.ms === undefined) === (node.duration === undefined)) fail(where, 'a timeout node needs exactly one of `ms` (number) or `duration` (e.g. "30s").');
      optional('ms', (v) => typeof v === 'number' && v >= 0, 'a number of milliseconds ≥ 0');
      if (node.duration !== undefined) {
        try {
          toMs(node.duration as string, `${where}.duration`);
        } catch (err) {
          fail(where, err instanceof Error ? err.message : String(err));
        }
      }
      break;
    case 'action':
      need('action', isName, 'the registered name of the action');
      optional('params', isObject, 'an object');
      break;
    case 'condition':
      need('condition', isName, 'the registered name of the condition');
      optional('params', isObject, 'an object');
      break;
    case 'interactive':
      need('name', isName, 'the input name (input arrives at __bt_input__:<name>)');
      optional('output', isName, 'a blackboard key');
      break;
    case 'task':
      need('task', isName, 'the name of the task the host runs');
      optional('output', isName, 'a blackboard key');
      optional('input_key', isName, 'a blackboard key');
      break;
    case 'subtree':
      need('tree', isName, 'the name of a subtree of this definition or a registered tree');
      optional('scope', isName, 'a scope name');
      break;
    default:
      break;
  }
}

export interface BuildTreeOptions {
  clock?: TreeClock;
  /** Blackboard schemas (per scope, root). */
  blackboard?: BlackboardOptions;
  /** For messages; default: the definition's name. */
  source?: string;
}

/**
 * Build a runnable tree from a definition. Every action, condition and subtree name must be
 * known; an unknown name is an error that says which, where, and what is registered.
 */
export function buildTree(definition: TreeDefinition, registry: TreeRegistry, options: BuildTreeOptions = {}): BehaviorTree {
  const source = options.source ?? `tree '${definition.name}'`;
  checkTreeDefinition(definition, source);
  const fail = (where: string, message: string): never => {
    throw new TreeDefinitionError(`${source}: ${where}: ${message}`, { source, where });
  };

  const build = (node: NodeDefinition, where: string, expanding: readonly string[]): TreeNode => {
    const name = node.name ?? defaultName(node);
    const kids = (list: NodeDefinition[]): TreeNode[] => list.map((c, i) => build(c, `${where}.children[${i}]`, expanding));
    const only = (child: NodeDefinition): TreeNode => build(child, `${where}.child`, expanding);
    try {
      switch (node.type) {
        case 'sequence':
          return new Sequence(name, kids(node.children));
        case 'reactive_sequence':
          return new ReactiveSequence(name, kids(node.children));
        case 'selector':
        case 'fallback':
          return new Selector(name, kids(node.children));
        case 'reactive_fallback':
          return new ReactiveFallback(name, kids(node.children));
        case 'parallel': {
          const policy: ParallelPolicy = node.threshold !== undefined ? { threshold: node.threshold } : (node.policy ?? 'all');
          return new Parallel(name, policy, kids(node.children));
        }
        case 'inverter':
          return new Inverter(name, only(node.child));
        case 'force_success':
          return new ForceSuccess(name, only(node.child));
        case 'force_failure':
          return new ForceFailure(name, only(node.child));
        case 'retry':
          return new Retry(name, node.max_attempts, only(node.child));
        case 'repeat':
          return new Repeat(name, node.times, only(node.child));
        case 'timeout':
          return new Timeout(name, node.ms ?? toMs(node.duration as string), only(node.child));
        case 'action': {
          const entry = registry.actions.get(node.action);
          if (!entry) {
            return fail(where, `unknown action '${node.action}'. ${known('actions', registry.actions.keys())}${didYouMean(node.action, registry.actions.keys())}`);
          }
          const params = node.params ?? {};
          return new Action(name, (ctx) => entry.fn(ctx, params), entry.options);
        }
        case 'condition': {
          const fn = registry.conditions.get(node.condition);
          if (!fn) {
            return fail(
              where,
              `unknown condition '${node.condition}'. ${known('conditions', registry.conditions.keys())}${didYouMean(node.condition, registry.conditions.keys())}`,
            );
          }
          const params = node.params ?? {};
          return new Condition(name, (ctx) => fn(ctx, params));
        }
        case 'interactive':
          return new InteractiveLeaf(node.name, {
            ...(node.prompt !== undefined ? { prompt: node.prompt } : {}),
            ...(node.output !== undefined ? { output: node.output } : {}),
          });
        case 'task': {
          const inputKey = node.input_key;
          return new TaskLeaf(name, node.task, {
            ...(node.output !== undefined ? { output: node.output } : {}),
            ...(inputKey !== undefined ? { input: ({ blackboard }) => blackboard.get(inputKey) } : {}),
          });
        }
        case 'subtree': {
          const target = node.tree;
          if (expanding.includes(target)) {
            return fail(where, `subtree '${target}' includes itself (${[...expanding, target].join(' → ')}); a tree cannot contain itself.`);
          }
          const local = definition.subtrees?.[target];
          const body = local ?? registry.trees.get(target)?.root;
          if (!body) {
            const names = [...Object.keys(definition.subtrees ?? {}), ...registry.trees.keys()];
            return fail(where, `unknown subtree '${target}'. ${known('subtrees', names)}${didYouMean(target, names)}`);
          }
          const inner = build(body, local ? `subtrees.${target}` : `tree '${target}'.root`, [...expanding, target]);
          return new Subtree(name, inner, node.scope !== undefined ? { scope: node.scope } : {});
        }
      }
    } catch (err) {
      if (err instanceof TreeDefinitionError) throw err;
      if (err instanceof BehaviorTreeError) fail(where, err.message);
      throw err;
    }
  };

  const root = build(definition.root, 'root', []);
  const blackboard = new Blackboard(options.blackboard ?? {});
  for (const [key, value] of Object.entries(definition.blackboard ?? {})) blackboard.set(key, structuredClone(value));
  return new BehaviorTree(root, { name: definition.name, blackboard, ...(options.clock ? { clock: options.clock } : {}) });
}

function defaultName(node: NodeDefinition): string {
  switch (node.type) {
    case 'action':
      return node.action;
    case 'condition':
      return node.condition;
    case 'task':
      return node.task;
    case 'subtree':
      return node.tree;
    default:
      return node.type;
  }
}

function known(what: string, names: Iterable<string>): string {
  const list = [...names].sort();
  return list.length === 0 ? `No ${what} are registered.` : `Registered ${what}: ${list.join(', ')}.`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
