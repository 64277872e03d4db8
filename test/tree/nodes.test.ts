import { describe, expect, it } from 'vitest';
import {
  Action,
  BehaviorTree,
  BehaviorTreeError,
  Condition,
  ForceFailure,
  ForceSuccess,
  InteractiveLeaf,
  Inverter,
  NodeExecutionError,
  Parallel,
  ReactiveFallback,
  ReactiveSequence,
  Repeat,
  Retry,
  Selector,
  Sequence,
  Status,
  Subtree,
  TaskLeaf,
  Timeout,
  TreeNode,
  type TickContext,
} from '../../src/tree/index.js';
import { fakeClock, no, ok, scripted } from './helpers.js';

const run = (root: TreeNode): BehaviorTree => new BehaviorTree(root, { clock: fakeClock() });

describe('sequence (with memory)', () => {
  it('succeeds when every child succeeds, and an empty sequence succeeds', () => {
    const a = ok('a');
    const b = ok('b');
    expect(run(new Sequence('s', [a, b])).tick()).toBe('success');
    expect([a.ticks, b.ticks]).toEqual([1, 1]);
    expect(run(new Sequence('empty')).tick()).toBe('success');
  });

  it('resumes at the running child without re-ticking earlier ones', () => {
    const a = ok('a');
    const b = scripted('b', Status.Running, Status.Running, Status.Success);
    const tree = run(new Sequence('s', [a, b]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('success');
    expect(a.ticks).toBe(1);
    expect(b.ticks).toBe(3);
  });

  it('passes waiting through and keeps its place', () => {
    const a = ok('a');
    const b = scripted('b', Status.Waiting, Status.Success);
    const tree = run(new Sequence('s', [a, b]));
    expect(tree.tick()).toBe('waiting');
    expect(tree.tick()).toBe('success');
    expect(a.ticks).toBe(1);
  });

  it('fails on the first failure and starts over from the first child next time', () => {
    const a = ok('a');
    const b = scripted('b', Status.Failure, Status.Success);
    const c = ok('c');
    const tree = run(new Sequence('s', [a, b, c]));
    expect(tree.tick()).toBe('failure');
    expect(c.ticks).toBe(0);
    expect(tree.tick()).toBe('success');
    expect(a.ticks).toBe(2);
  });
});

describe('reactive sequence', () => {
  it('re-checks earlier children every tick and halts the running child when a condition turns false', () => {
    let guard = true;
    const cond = new Condition('guard', () => guard);
    const work = scripted('work', Status.Running);
    const tree = run(new ReactiveSequence('rs', [cond, work]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('running');
    expect(work.ticks).toBe(2);
    guard = false;
    expect(tree.tick()).toBe('failure');
    expect(work.halts).toBe(1);
    expect(work.ticks).toBe(2);
  });
});

describe('selector / fallback', () => {
  it('returns success on the first child success; empty selector fails', () => {
    const a = no('a');
    const b = ok('b');
    const c = ok('c');
    expect(run(new Selector('sel', [a, b, c])).tick()).toBe('success');
    expect(c.ticks).toBe(0);
    expect(run(new Selector('empty')).tick()).toBe('failure');
  });

  it('remembers the running child and fails only when all children failed', () => {
    const a = no('a');
    const b = scripted('b', Status.Running, Status.Failure);
    const tree = run(new Selector('sel', [a, b]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('failure');
    expect(a.ticks).toBe(1);
  });

  it('reactive fallback pre-empts a running lower-priority child, halting it', () => {
    let urgent = false;
    const high = new Condition('urgent', () => urgent);
    const low = scripted('patrol', Status.Running);
    const tree = run(new ReactiveFallback('rf', [high, low]));
    expect(tree.tick()).toBe('running');
    urgent = true;
    expect(tree.tick()).toBe('success');
    expect(low.halts).toBe(1);
  });
});

describe('parallel', () => {
  it('all: succeeds when every child has succeeded, caching finished children', () => {
    const a = ok('a');
    const b = scripted('b', Status.Running, Status.Success);
    const tree = run(new Parallel('p', 'all', [a, b]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('success');
    expect(a.ticks).toBe(1);
    expect(b.ticks).toBe(2);
  });

  it('all: the first failure fails and halts the children still running', () => {
    const slow = scripted('slow', Status.Running);
    const bad = scripted('bad', Status.Running, Status.Failure);
    const tree = run(new Parallel('p', 'all', [slow, bad]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('failure');
    expect(slow.halts).toBe(1);
  });

  it('any: the first success wins and halts the rest; all failing fails', () => {
    const slow = scripted('slow', Status.Running);
    const quick = scripted('quick', Status.Running, Status.Success);
    const tree = run(new Parallel('p', 'any', [slow, quick]));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('success');
    expect(slow.halts).toBe(1);
    expect(run(new Parallel('p', 'any', [no('x'), no('y')])).tick()).toBe('failure');
  });

  it('threshold: succeeds at n successes, fails once n is out of reach', () => {
    expect(run(new Parallel('p', { threshold: 2 }, [ok('a'), no('b'), ok('c')])).tick()).toBe('success');
    expect(run(new Parallel('p', { threshold: 2 }, [no('a'), no('b'), ok('c')])).tick()).toBe('failure');
    expect(() => new Parallel('p', { threshold: 4 }, [ok('a')])).toThrow(/threshold 4/);
  });

  it('reports waiting before running', () => {
    const tree = run(new Parallel('p', 'all', [scripted('r', Status.Running), scripted('w', Status.Waiting)]));
    expect(tree.tick()).toBe('waiting');
  });
});

describe('decorators', () => {
  it('inverter swaps success and failure and passes running through', () => {
    expect(run(new Inverter('inv', ok())).tick()).toBe('failure');
    expect(run(new Inverter('inv', no())).tick()).toBe('success');
    expect(run(new Inverter('inv', scripted('r', Status.Running))).tick()).toBe('running');
  });

  it('force-success and force-failure', () => {
    expect(run(new ForceSuccess('fs', no())).tick()).toBe('success');
    expect(run(new ForceFailure('ff', ok())).tick()).toBe('failure');
    expect(run(new ForceSuccess('fs', scripted('w', Status.Waiting))).tick()).toBe('waiting');
  });

  it('retry re-ticks a failing child within the same tick up to maxAttempts', () => {
    const flaky = scripted('flaky', Status.Failure, Status.Failure, Status.Success);
    expect(run(new Retry('r', 3, flaky)).tick()).toBe('success');
    expect(flaky.ticks).toBe(3);
    const broken = no('broken');
    expect(run(new Retry('r', 3, broken)).tick()).toBe('failure');
    expect(broken.ticks).toBe(3);
    expect(() => new Retry('r', 0, ok())).toThrow(/maxAttempts/);
  });

  it('retry restarts a failed sequence child from its first node', () => {
    const first = ok('first');
    const second = scripted('second', Status.Failure, Status.Success);
    expect(run(new Retry('r', 2, new Sequence('s', [first, second]))).tick()).toBe('success');
    expect(first.ticks).toBe(2);
  });

  it('retry and repeat reset the child between runs, so a child with memory starts clean', () => {
    class Stubborn extends TreeNode {
      readonly type = 'stubborn';
      resets = 0;
      calls = 0;
      protected onTick(): Status {
        this.calls++;
        return this.calls < 3 ? Status.Failure : Status.Success;
      }
      protected override resetMemory(): void {
        this.resets++;
      }
    }
    const flaky = new Stubborn('flaky');
    expect(run(new Retry('r', 3, flaky)).tick()).toBe('success');
    expect(flaky.resets).toBe(2);
    const ok3 = new Stubborn('ok');
    ok3.calls = 10;
    expect(run(new Repeat('rep', 3, ok3)).tick()).toBe('success');
    expect(ok3.resets).toBe(3);
  });

  it('repeat runs the child `times` times in one tick, and a failure aborts', () => {
    const body = ok('body');
    expect(run(new Repeat('rep', 3, body)).tick()).toBe('success');
    expect(body.ticks).toBe(3);
    const failing = scripted('f', Status.Success, Status.Failure);
    expect(run(new Repeat('rep', 5, failing)).tick()).toBe('failure');
    expect(failing.ticks).toBe(2);
  });

  it('repeat without a limit runs once per tick and reports running', () => {
    const body = ok('body');
    const tree = run(new Repeat('forever', undefined, body));
    expect(tree.tick()).toBe('running');
    expect(tree.tick()).toBe('running');
    expect(body.ticks).toBe(2);
  });

  it('timeout fails and halts its child once the injected clock passes the deadline', () => {
    const clock = fakeClock(0);
    const work = scripted('work', Status.Running);
    const timeout = new Timeout('t', 100, work);
    const tree = new BehaviorTree(timeout, { clock });
    expect(tree.tick()).toBe('running');
    expect(timeout.deadline).toBe(100);
    clock.advance(99);
    expect(tree.tick()).toBe('running');
    clock.advance(1);
    expect(tree.tick()).toBe('failure');
    expect(work.halts).toBe(1);
    expect(work.ticks).toBe(2);
  });

  it('timeout lets a child that finishes in time succeed, and restarts its window next time', () => {
    const clock = fakeClock(0);
    const tree = new BehaviorTree(new Timeout('t', 50, scripted('w', Status.Running, Status.Success, Status.Running)), { clock });
    tree.tick();
    clock.advance(40);
    expect(tree.tick()).toBe('success');
    clock.advance(40);
    expect(tree.tick()).toBe('running');
  });
});

describe('leaves', () => {
  it('an action returning undefined succeeds, a status passes through, anything else fails', () => {
    expect(run(new Action('u', () => undefined)).tick()).toBe('success');
    expect(run(new Action('r', () => Status.Running)).tick()).toBe('running');
    expect(run(new Action('x', () => 42)).tick()).toBe('failure');
    expect(run(new Action('t', () => true)).tick()).toBe('failure');
  });

  it('an action returning a Promise is a clear error', () => {
    expect(() => run(new Action('async', () => Promise.resolve())).tick()).toThrow(/returned a Promise.*task leaf/);
  });

  it('a thrown error is wrapped in NodeExecutionError with the cause; tree errors pass through', () => {
    const boom = new Error('disk full');
    const tree = run(new Sequence('s', [new Action('write', () => { throw boom; })]));
    let caught: unknown;
    try {
      tree.tick();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NodeExecutionError);
    expect((caught as NodeExecutionError).message).toContain("action 'write' threw: disk full");
    expect((caught as NodeExecutionError).cause).toBe(boom);
    expect((caught as NodeExecutionError).nodePath).toBe('0.0');
    const own = new BehaviorTreeError('X', 'mine');
    expect(() => run(new Action('a', () => { throw own; })).tick()).toThrow(own);
  });

  it('a node that returns a non-status is an error', () => {
    class Broken extends TreeNode {
      readonly type = 'broken';
      protected onTick(_ctx: TickContext): Status {
        return 'done' as Status;
      }
    }
    expect(() => run(new Broken('b')).tick()).toThrow(/returned 'done', which is not a status/);
  });

  it('a condition maps true/false to success/failure and rejects non-booleans', () => {
    expect(run(new Condition('t', () => true)).tick()).toBe('success');
    expect(run(new Condition('f', () => false)).tick()).toBe('failure');
    expect(() => run(new Condition('n', () => 1 as unknown as boolean)).tick()).toThrow(/returns true or false/);
  });

  it('setup runs once, before the first tick', () => {
    let setups = 0;
    class Counting extends TreeNode {
      readonly type = 'counting';
      protected override setup(): void {
        setups++;
      }
      protected onTick(): Status {
        return Status.Success;
      }
    }
    const tree = run(new Counting('c'));
    tree.tick();
    tree.tick();
    expect(setups).toBe(1);
  });

  it('an interactive leaf publishes its prompt, waits, then consumes its input', () => {
    const tree = run(new InteractiveLeaf('name', { prompt: { text: 'Your name?' } }));
    expect(tree.tick()).toBe('waiting');
    expect(tree.prompts()).toEqual({ name: { text: 'Your name?' } });
    expect(tree.blackboard.get('__bt_prompt__:name')).toEqual({ text: 'Your name?' });
    tree.input('name', 'Ada');
    expect(tree.tick()).toBe('success');
    expect(tree.blackboard.get('name')).toBe('Ada');
    expect(tree.blackboard.has('__bt_input__:name')).toBe(false);
    expect(tree.prompts()).toEqual({});
  });

  it('an interactive leaf can reject input by asking again', () => {
    const leaf = new InteractiveLeaf('age', {
      onInput: (value, { blackboard }) => {
        if (typeof value !== 'number') return Status.Waiting;
        blackboard.set('age', value);
        return undefined;
      },
    });
    const tree = run(leaf);
    tree.tick();
    tree.input('age', 'old');
    expect(tree.tick()).toBe('waiting');
    expect(tree.prompts()).toHaveProperty('age');
    tree.input('age', 30);
    expect(tree.tick()).toBe('success');
  });

  it('halting a waiting interactive leaf withdraws its prompt', () => {
    let cancel = false;
    const tree = run(new ReactiveSequence('rs', [new Condition('open', () => !cancel), new InteractiveLeaf('q')]));
    expect(tree.tick()).toBe('waiting');
    expect(tree.prompts()).toHaveProperty('q');
    cancel = true;
    expect(tree.tick()).toBe('failure');
    expect(tree.prompts()).toEqual({});
  });

  it('a task leaf issues its command once and finishes with the delivered outcome', () => {
    const task = new TaskLeaf('load', 'load-rows', { output: 'loaded', input: ({ blackboard }) => blackboard.get('rows') });
    const tree = run(new Sequence('s', [task]));
    tree.blackboard.set('rows', [1, 2]);
    expect(tree.tick()).toBe('waiting');
    expect(tree.takeCommands()).toEqual([{ type: 'task', node: '0.0', task: 'load-rows', input: [1, 2] }]);
    expect(tree.tick()).toBe('waiting');
    expect(tree.takeCommands()).toEqual([]);
    tree.deliverTaskResult('0.0', { ok: true, value: 2 });
    expect(tree.tick()).toBe('success');
    expect(tree.blackboard.get('loaded')).toBe(2);
  });

  it('a failed task fails and records the message', () => {
    const tree = run(new TaskLeaf('load', 'load-rows'));
    tree.tick();
    tree.deliverTaskResult('0', { ok: false, error: 'timeout' });
    expect(tree.tick()).toBe('failure');
    expect(tree.blackboard.get('load.error')).toBe('timeout');
  });

  it('a subtree with a scope ticks its body inside that blackboard scope', () => {
    const body = new Action('remember', ({ blackboard }) => {
      blackboard.setScoped('seen', blackboard.scopeStack.join('/'));
    });
    const tree = run(new Subtree('child', body, { scope: 'child' }));
    expect(tree.tick()).toBe('success');
    expect(tree.blackboard.scopeDepth).toBe(0);
    tree.blackboard.enterScope('child');
    expect(tree.blackboard.getScoped('seen')).toBe('child');
  });
});

describe('halting', () => {
  it('halts nested active nodes depth-first and clears their memory', () => {
    const inner = scripted('inner', Status.Running);
    const seq = new Sequence('seq', [ok('a'), inner]);
    const tree = run(new ReactiveFallback('root', [new Condition('stop', () => tree.blackboard.get('stop') === true), seq]));
    expect(tree.tick()).toBe('running');
    expect(seq.saveMemory()).toEqual({ index: 1 });
    tree.blackboard.set('stop', true);
    expect(tree.tick()).toBe('success');
    expect(inner.halts).toBe(1);
    expect(seq.saveMemory()).toBeUndefined();
    expect(seq.status).toBeUndefined();
  });

  it('tree.halt() halts everything that is active, and idle nodes are not halted', () => {
    const a = scripted('a', Status.Running);
    const b = scripted('b', Status.Running);
    const idle = scripted('idle', Status.Running);
    const tree = run(new Sequence('s', [new Parallel('p', 'all', [a, b]), idle]));
    tree.tick();
    tree.halt();
    expect([a.halts, b.halts, idle.halts]).toEqual([1, 1, 0]);
  });
});
