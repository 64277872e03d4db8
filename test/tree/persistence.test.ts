import { describe, expect, it } from 'vitest';
import {
  BehaviorTree,
  buildTree,
  createTreeLogic,
  InteractiveLeaf,
  parseTreeDefinition,
  Retry,
  Sequence,
  SnapshotMismatchError,
  Status,
  Timeout,
  TreeRegistry,
  type TreeNode,
} from '../../src/tree/index.js';
import { fakeClock, ok, scripted } from './helpers.js';

function build(): { tree: BehaviorTree; tail: ReturnType<typeof ok> } {
  const tail = ok('tail');
  const root: TreeNode = new Sequence('main', [
    new Retry('again', 3, scripted('flaky', Status.Failure, Status.Running)),
    new InteractiveLeaf('confirm'),
    tail,
  ]);
  return { tree: new BehaviorTree(root, { clock: fakeClock() }), tail };
}

describe('tree snapshots', () => {
  it('restores node memory and the blackboard so a fresh tree continues where the old one stopped', () => {
    const { tree } = build();
    expect(tree.tick()).toBe('running'); // retry attempt 2 is running
    tree.blackboard.set('k', { v: 1 });
    const snap = tree.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.nodes['0.0']).toEqual({ status: 'running', memory: { attempts: 1 } });

    const fresh = build();
    fresh.tree.restore(snap);
    expect(fresh.tree.nodes[1]!.saveMemory()).toEqual({ attempts: 1 });
    expect(fresh.tree.blackboard.get('k')).toEqual({ v: 1 });
    expect(fresh.tree.snapshot()).toEqual(snap);
  });

  it('resumes a waiting tree after a "crash" without re-running finished children', () => {
    const make = (): { tree: BehaviorTree; first: ReturnType<typeof ok>; done: ReturnType<typeof ok> } => {
      const first = ok('first');
      const done = ok('done');
      return { tree: new BehaviorTree(new Sequence('s', [first, new InteractiveLeaf('confirm'), done]), { clock: fakeClock() }), first, done };
    };
    const before = make();
    expect(before.tree.tickUntilTerminal()).toBe('waiting');
    const saved = JSON.parse(JSON.stringify(before.tree.snapshot())) as ReturnType<BehaviorTree['snapshot']>;

    const after = make();
    after.tree.restore(saved);
    after.tree.input('confirm', true);
    expect(after.tree.tickUntilTerminal()).toBe('success');
    expect(after.first.ticks).toBe(0);
    expect(after.done.ticks).toBe(1);
    expect(after.tree.blackboard.get('confirm')).toBe(true);
  });

  it('refuses a snapshot of another tree shape', () => {
    const { tree } = build();
    tree.tick();
    const other = new BehaviorTree(new Sequence('main', [ok('x')]));
    expect(() => other.restore(tree.snapshot())).toThrow(SnapshotMismatchError);
  });

  it('restores a timeout deadline measured on the injected clock', () => {
    const make = (): BehaviorTree => new BehaviorTree(new Timeout('t', 1_000, scripted('w', Status.Running)), { clock: fakeClock(0) });
    const a = make();
    a.tick(0);
    const b = make();
    b.restore(a.snapshot());
    expect(b.tick(999)).toBe('running');
    expect(b.tick(1_000)).toBe('failure');
  });
});

describe('createTreeLogic (the pure API the engine hosts)', () => {
  const registry = new TreeRegistry().action('stamp', ({ blackboard, now }) => void blackboard.set('at', now));
  const def = parseTreeDefinition(`
name: approve
root:
  type: sequence
  children:
    - { type: action, action: stamp }
    - { type: interactive, name: decision }
    - { type: task, task: notify, input_key: decision, output: receipt }
    - { type: timeout, ms: 500, child: { type: interactive, name: late } }
`);
  const logic = createTreeLogic(() => buildTree(def, registry));

  it('runs a tree from initial state through input, a task and a timeout, all as JSON states', () => {
    const t0 = logic.initial({ blackboard: { who: 'ops' }, now: 10 });
    expect(t0.status).toBe('waiting');
    expect(Object.keys(t0.prompts)).toEqual(['decision']);
    expect(t0.state.blackboard.values).toMatchObject({ who: 'ops', at: 10 });

    const stored = JSON.parse(JSON.stringify(logic.persist(t0.state))) as unknown;
    const t1 = logic.transition(logic.restore(stored), { type: 'input', name: 'decision', value: 'approve', now: 20 });
    expect(t1.status).toBe('waiting');
    expect(t1.commands).toEqual([{ type: 'task', node: '0.2', task: 'notify', input: 'approve' }]);

    const t2 = logic.transition(t1.state, { type: 'task.result', node: '0.2', outcome: { ok: true, value: 'sent' }, now: 30 });
    expect(t2.status).toBe('waiting');
    expect(t2.commands).toEqual([]);
    expect(t2.deadline).toBe(530);
    expect(t2.state.blackboard.values.receipt).toBe('sent');

    const t3 = logic.transition(t2.state, { type: 'tick', now: 530 });
    expect(t3.status).toBe('failure');
    // Terminal states stay put.
    expect(logic.transition(t3.state, { type: 'tick', now: 600 }).status).toBe('failure');
  });

  it('transitions are independent of each other (one shared tree instance, restored each time)', () => {
    const a = logic.initial({ now: 1 });
    const b = logic.initial({ now: 2 });
    const a1 = logic.transition(a.state, { type: 'input', name: 'decision', value: 'A', now: 3 });
    const b1 = logic.transition(b.state, { type: 'input', name: 'decision', value: 'B', now: 4 });
    expect(a1.commands[0]?.input).toBe('A');
    expect(b1.commands[0]?.input).toBe('B');
    expect(logic.transition(a.state, { type: 'input', name: 'decision', value: 'A', now: 3 })).toEqual(a1);
  });

  it('cancel halts and fails, for good', () => {
    const t0 = logic.initial({ now: 1 });
    const c = logic.transition(t0.state, { type: 'cancel', now: 2 });
    expect(c.status).toBe('failure');
    expect(c.prompts).toEqual({});
    const after = logic.transition(c.state, { type: 'input', name: 'decision', value: 'late', now: 3 });
    expect(after.status).toBe('failure');
    expect(after.commands).toEqual([]);
  });

  it('does not change the objects it is given', () => {
    const seed = { list: [1] };
    const grow = createTreeLogic(
      () => new BehaviorTree(new InteractiveLeaf('more', { onInput: (v, { blackboard }) => void blackboard.get<number[]>('list')?.push(v as number) })),
    );
    const t0 = grow.initial({ blackboard: seed, now: 0 });
    const t1 = grow.transition(t0.state, { type: 'input', name: 'more', value: 2, now: 0 });
    expect(t1.state.blackboard.values.list).toEqual([1, 2]);
    expect(seed.list).toEqual([1]);
    expect(t0.state.blackboard.values.list).toEqual([1]);
  });

  it('refuses a task outcome for a node that does not exist', () => {
    const t0 = logic.initial({ now: 1 });
    expect(() => logic.transition(t0.state, { type: 'task.result', node: '0.9', outcome: { ok: true }, now: 2 })).toThrow(/has no node '0.9'/);
  });

  it('refuses stored values that are not snapshots of this tree', () => {
    expect(() => logic.restore({ hello: 1 })).toThrow(/not a tree snapshot/);
    expect(() => logic.restore({ ...logic.initial({ now: 1 }).state, shape: '1-0' })).toThrow(/shape changed/);
  });
});
