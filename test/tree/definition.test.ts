import { describe, expect, it } from 'vitest';
import { buildTree, parseTreeDefinition, Status, TreeDefinitionError, TreeRegistry } from '../../src/tree/index.js';
import { fakeClock } from './helpers.js';

function registry(): TreeRegistry {
  return new TreeRegistry()
    .action('inc', ({ blackboard }, params) => {
      const key = typeof params.key === 'string' ? params.key : 'n';
      blackboard.set(key, (blackboard.get<number>(key) ?? 0) + 1);
    })
    .action('fail', () => Status.Failure)
    .condition('below', ({ blackboard }, params) => (blackboard.get<number>('n') ?? 0) < Number(params.limit));
}

const YAML = `
name: counter
blackboard: { n: 0 }
root:
  type: sequence
  children:
    - type: repeat
      times: 3
      child: { type: action, action: inc }
    - type: selector
      children:
        - { type: action, action: fail }
        - { type: subtree, tree: bump, scope: inner }
    - { type: condition, condition: below, params: { limit: 10 } }
subtrees:
  bump: { type: action, action: inc, params: { key: other } }
`;

describe('trees as data', () => {
  it('builds and runs a YAML tree with params, subtrees and initial blackboard values', () => {
    const tree = buildTree(parseTreeDefinition(YAML, { source: 'counter.yaml' }), registry(), { clock: fakeClock() });
    expect(tree.tickUntilTerminal()).toBe('success');
    expect(tree.blackboard.get('n')).toBe(3);
    expect(tree.blackboard.get('other')).toBe(1);
  });

  it('reads JSON too', () => {
    const def = parseTreeDefinition(JSON.stringify({ name: 'j', root: { type: 'action', action: 'inc' } }), { source: 'j.json' });
    expect(buildTree(def, registry()).tickUntilTerminal()).toBe('success');
  });

  it('names an unknown action, where it is, what is registered and the likely fix', () => {
    const def = parseTreeDefinition(
      `name: t\nroot: { type: sequence, children: [ { type: action, action: inc }, { type: action, action: incc } ] }`,
      { source: 'trees/t.yaml' },
    );
    expect(() => buildTree(def, registry(), { source: 'trees/t.yaml' })).toThrow(
      "trees/t.yaml: root.children[1]: unknown action 'incc'. Registered actions: fail, inc. Did you mean 'inc'?",
    );
  });

  it('names an unknown condition and an unknown subtree', () => {
    const cond = parseTreeDefinition(`name: t\nroot: { type: condition, condition: above }`);
    expect(() => buildTree(cond, registry())).toThrow(/root: unknown condition 'above'\. Registered conditions: below/);
    const sub = parseTreeDefinition(`name: t\nroot: { type: subtree, tree: nowhere }`);
    expect(() => buildTree(sub, registry())).toThrow(/unknown subtree 'nowhere'/);
  });

  it('refuses a subtree that includes itself', () => {
    const def = parseTreeDefinition(`
name: loop
root: { type: subtree, tree: a }
subtrees:
  a: { type: sequence, children: [ { type: subtree, tree: b } ] }
  b: { type: subtree, tree: a }
`);
    expect(() => buildTree(def, registry())).toThrow(/subtree 'a' includes itself \(a → b → a\)/);
  });

  it('checks structure with the path of the bad node', () => {
    const bad = (text: string): string => {
      try {
        parseTreeDefinition(text, { source: 'x.yaml' });
      } catch (err) {
        expect(err).toBeInstanceOf(TreeDefinitionError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(bad('name: t\nroot: { type: sequense, children: [] }')).toMatch(/x.yaml: root: unknown node type "sequense".*Did you mean 'sequence'\?/);
    expect(bad('name: t\nroot: { type: retry, child: { type: action, action: a } }')).toMatch(/root: a retry node needs `max_attempts`/);
    expect(bad('name: t\nroot: { type: sequence, children: [ { type: action, action: a, parms: {} } ] }')).toMatch(
      /root.children\[0\]: unknown key 'parms'.*Did you mean 'params'\?/,
    );
    expect(bad('name: t\nroot: { type: timeout, duration: soon, child: { type: action, action: a } }')).toMatch(/x.yaml: root: Invalid root.duration 'soon'/);
    expect(bad('name: t\nroot: { type: parallel, threshold: 3, children: [ { type: action, action: a } ] }')).toMatch(/threshold 3/);
    expect(bad('root: { type: action, action: a }')).toMatch(/name: a tree needs a non-empty `name`/);
    expect(bad('name: t\nroot: [unclosed')).toMatch(/x.yaml: not valid YAML/);
  });

  it('supports every node type from data', () => {
    const def = parseTreeDefinition(`
name: all
root:
  type: sequence
  children:
    - { type: reactive_sequence, children: [ { type: condition, condition: below, params: { limit: 100 } } ] }
    - { type: reactive_fallback, children: [ { type: action, action: fail }, { type: action, action: inc } ] }
    - { type: fallback, children: [ { type: action, action: inc } ] }
    - { type: parallel, policy: any, children: [ { type: action, action: inc }, { type: action, action: fail } ] }
    - { type: inverter, child: { type: action, action: fail } }
    - { type: force_success, child: { type: action, action: fail } }
    - { type: inverter, child: { type: force_failure, child: { type: action, action: inc } } }
    - { type: retry, max_attempts: 2, child: { type: action, action: inc } }
    - { type: timeout, duration: 5s, child: { type: action, action: inc } }
    - { type: interactive, name: ask, output: answer }
    - { type: task, task: store, input_key: answer, output: stored }
`);
    const tree = buildTree(def, registry(), { clock: fakeClock() });
    expect(tree.tickUntilTerminal()).toBe('waiting');
    tree.input('ask', 'yes');
    expect(tree.tickUntilTerminal()).toBe('waiting');
    const [cmd] = tree.takeCommands();
    expect(cmd).toMatchObject({ type: 'task', task: 'store', input: 'yes' });
    tree.deliverTaskResult(cmd!.node, { ok: true, value: 'done' });
    expect(tree.tickUntilTerminal()).toBe('success');
    expect(tree.blackboard.get('stored')).toBe('done');
    expect(tree.blackboard.get('n')).toBe(6);
  });
});
