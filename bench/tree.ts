/**
 * Behavior-tree ticks per second: the same tree in Keel and in mistreevous, side by side
 * (DESIGN §6: "behavior-tree ticks/s ≥ mistreevous on the same tree").
 *
 *   node --import tsx --conditions=source bench/tree.ts
 *
 * One tick is a full traversal from the root to a result, with conditions flipping between
 * ticks so every branch is taken. A third line measures Keel as the engine hosts a tree:
 * restore from the JSON snapshot, tick, snapshot again — the cost of one durable transition.
 * mistreevous is optional: when it is not installed the bench runs Keel alone and says so.
 */
import { Action, BehaviorTree, Condition, createTreeLogic, Inverter, Selector, Sequence, type TreeNode } from '../src/tree/index.js';

/** The agent/world both trees read; conditions flip with the tick number. */
const world = { tick: 0 };
const lowBattery = (): boolean => world.tick % 7 === 0;
const hasTarget = (): boolean => world.tick % 3 === 0;
const inRange = (): boolean => world.tick % 2 === 0;
const alarm = (): boolean => false;
let work = 0;
const act = (): undefined => {
  work++;
  return undefined;
};

const MDSL = `root {
  selector {
    sequence { condition [IsLowBattery] action [Charge] }
    sequence {
      condition [HasTarget]
      selector {
        sequence { condition [InRange] action [Attack] }
        action [MoveToTarget]
      }
    }
    sequence { action [Patrol] action [LookAround] flip { condition [Alarm] } }
  }
}`;

function keelRoot(): TreeNode {
  return new Selector('root', [
    new Sequence('charge', [new Condition('IsLowBattery', lowBattery), new Action('Charge', act)]),
    new Sequence('engage', [
      new Condition('HasTarget', hasTarget),
      new Selector('how', [new Sequence('attack', [new Condition('InRange', inRange), new Action('Attack', act)]), new Action('MoveToTarget', act)]),
    ]),
    new Sequence('patrol', [new Action('Patrol', act), new Action('LookAround', act), new Inverter('no-alarm', new Condition('Alarm', alarm))]),
  ]);
}

/** Ticks per second of `step`, best of `rounds` rounds of about `ms` each. */
function measure(step: () => void, ms = 700, rounds = 5): number {
  for (let i = 0; i < 20_000; i++) step(); // warm up the JIT
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ms) {
      for (let i = 0; i < 1_000; i++) step();
      n += 1_000;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (n / elapsed) * 1_000);
  }
  return best;
}

interface MistreevousModule {
  BehaviourTree: new (definition: string, agent: object) => { step(): void; getState(): string };
  State: { SUCCEEDED: string; FAILED: string };
}

async function loadMistreevous(): Promise<MistreevousModule | undefined> {
  const name = 'mistreevous';
  try {
    return (await import(name)) as MistreevousModule;
  } catch {
    return undefined;
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(12);

async function main(): Promise<void> {
  const keel = new BehaviorTree(keelRoot(), { clock: { now: () => 0 } });
  const keelTps = measure(() => {
    world.tick++;
    keel.tick(0);
  });

  const logic = createTreeLogic(() => new BehaviorTree(keelRoot(), { clock: { now: () => 0 } }));
  let state = logic.initial({ now: 0 }).state;
  const hostedTps = measure(() => {
    world.tick++;
    state = logic.transition(state, { type: 'tick', now: 0 }).state;
  }, 500, 3);

  const lib = await loadMistreevous();
  let mistTps: number | undefined;
  if (lib) {
    const done = lib.State.SUCCEEDED;
    const agent = {
      IsLowBattery: lowBattery,
      HasTarget: hasTarget,
      InRange: inRange,
      Alarm: alarm,
      Charge: () => (act(), done),
      Attack: () => (act(), done),
      MoveToTarget: () => (act(), done),
      Patrol: () => (act(), done),
      LookAround: () => (act(), done),
    };
    const mist = new lib.BehaviourTree(MDSL, agent);
    // Same tree, same work: both must run the same actions over the same ticks.
    const check = (step: () => void): number => {
      world.tick = 0;
      const before = work;
      for (let i = 0; i < 420; i++) {
        world.tick++;
        step();
      }
      return work - before;
    };
    const keelWork = check(() => keel.tick(0));
    const mistWork = check(() => mist.step());
    if (keelWork !== mistWork) throw new Error(`the trees differ: keel ran ${keelWork} actions, mistreevous ${mistWork}`);
    mistTps = measure(() => {
      world.tick++;
      mist.step();
    });
  }

  console.log(`behavior-tree ticks/s (same ${keel.nodes.length}-node tree, full traversal per tick; node ${process.version})`);
  console.log(`  keel                         ${fmt(keelTps)}`);
  if (mistTps !== undefined) {
    console.log(`  mistreevous                  ${fmt(mistTps)}`);
    console.log(`  keel / mistreevous           ${(keelTps / mistTps).toFixed(2).padStart(12)}x`);
  } else {
    console.log('  mistreevous                  not installed (npm i -D mistreevous to compare); Keel measured alone');
  }
  console.log(`  keel hosted (restore+tick+snapshot per transition) ${fmt(hostedTps)}`);
  if (work === 0) throw new Error('no actions ran: the bench measured nothing');
}

await main();
