import { describe, expect, it } from 'vitest';
import { BehaviorTree, InvalidTreeStructureError, Repeat, Sequence, Status, TickLimitError, TreeErrorCode } from '../../src/tree/index.js';
import { fakeClock, ok, scripted } from './helpers.js';

describe('tree structure', () => {
  it('refuses a child that already has a parent', () => {
    const shared = ok('shared');
    const first = new Sequence('first', [shared]);
    expect(first.children).toHaveLength(1);
    expect(() => new Sequence('second', [shared])).toThrow(InvalidTreeStructureError);
    expect(() => first.addChild(shared)).toThrow(/already has a parent \(sequence 'first'\)/);
  });

  it('refuses a cycle: a node under itself or under its descendant', () => {
    const root = new Sequence('root');
    const mid = new Sequence('mid');
    root.addChild(mid);
    expect(() => root.addChild(root)).toThrow(/child of itself/);
    let err: unknown;
    try {
      mid.addChild(root);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidTreeStructureError);
    expect((err as InvalidTreeStructureError).code).toBe(TreeErrorCode.Structure);
    expect((err as Error).message).toMatch(/ancestor.*cycle/);
  });

  it('assigns position ids depth-first', () => {
    const tree = new BehaviorTree(new Sequence('r', [ok('a'), new Sequence('b', [ok('c')])]));
    expect(tree.nodes.map((n) => `${n.id}=${n.name}`)).toEqual(['0=r', '0.0=a', '0.1=b', '0.1.0=c']);
  });
});

describe('tickUntilTerminal', () => {
  it('stops on success, failure or waiting', () => {
    const tree = new BehaviorTree(new Sequence('s', [scripted('r', Status.Running, Status.Running, Status.Success)]), { clock: fakeClock() });
    expect(tree.tickUntilTerminal()).toBe('success');
    const waits = new BehaviorTree(scripted('w', Status.Running, Status.Waiting), { clock: fakeClock() });
    expect(waits.tickUntilTerminal()).toBe('waiting');
  });

  it('raises a clear error when the tree is still running at the tick limit', () => {
    const body = ok('body');
    const tree = new BehaviorTree(new Repeat('forever', undefined, body), { name: 'spinner', clock: fakeClock() });
    let err: unknown;
    try {
      tree.tickUntilTerminal({ maxTicks: 50 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TickLimitError);
    expect((err as Error).message).toMatch(/Tree 'spinner' was still running after 50 ticks/);
    expect(body.ticks).toBe(50);
  });
});
