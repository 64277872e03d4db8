/**
 * Statechart events per second: Keel's pure interpreter against XState v5 on the same machine
 * definitions (the example files, compiled to XState configs by `compile-xstate.ts`), in one run.
 * Prints figures; asserts nothing (DESIGN §6 target: Keel ≥ 3× XState).
 *
 *   node --import tsx --conditions=source bench/machine.ts
 *
 * Compared: Keel `transition(machine, snapshot, event, { actions })` against XState's pure
 * `transition(machine, snapshot, event)` — both pure steps, no actor around them — and, for
 * reference, XState `actor.send` (the usual way XState is driven). Every action is registered as a
 * no-op in both, so both resolve and run (or return) the same actions.
 */
import { readFileSync } from 'node:fs';
import type { MachineDef } from '../src/machine/ast.js';
import { compileXState, xstateGuards } from '../src/machine/compile-xstate.js';
import { initialState, transition, type ActionImplementation, type MachineSnapshot } from '../src/machine/interpreter.js';
import { parseMachine } from '../src/machine/parse-markdown.js';

interface XStateModule {
  createMachine(config: unknown, implementations?: unknown): unknown;
  createActor(logic: unknown): { start(): void; stop(): void; send(event: { type: string }): void; getSnapshot(): { status: string } };
  initialTransition(logic: unknown): [unknown, unknown[]];
  transition(logic: unknown, snapshot: unknown, event: { type: string }): [unknown, unknown[]];
}

const EXAMPLES = new URL('../../shared/orca-examples/', import.meta.url);
const load = (file: string): MachineDef => parseMachine(readFileSync(new URL(file, EXAMPLES), 'utf8'), { fileName: file });

interface Case {
  title: string;
  machine: MachineDef;
  /** Sent once after start, not timed per event but part of the loop. */
  events: string[];
  /** The loop restarts from the initial snapshot after the last event (the machine is done). */
  restart: boolean;
}

const cases: Case[] = [
  {
    title: 'hierarchical (hierarchical-game)',
    machine: load('hierarchical-game.orca.md'),
    // From exploration back to exploration: compound targets, ancestor handlers, guards, actions.
    events: ['go_north', 'attack', 'defend', 'use_item', 'flee', 'open_inventory', 'select_item', 'close_inventory', 'look'],
    restart: false,
  },
  {
    title: 'parallel (parallel-order)',
    machine: load('parallel-order.orca.md'),
    events: ['PLACE_ORDER', 'PAYMENT_FAILED', 'RETRY_PAYMENT', 'EMAIL_SENT', 'PAYMENT_SUCCESS', 'SMS_SENT'],
    restart: true,
  },
];

const DURATION_MS = Number(process.env.BENCH_MS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** Runs `loop(n)` for about DURATION_MS per round and returns the median events per second. */
function measure(loop: (n: number) => void): number {
  loop(20_000); // warm-up: let the JIT settle
  const rates: number[] = [];
  let n = 10_000;
  for (let r = 0; r < ROUNDS; r++) {
    for (;;) {
      const t0 = performance.now();
      loop(n);
      const ms = performance.now() - t0;
      if (ms >= DURATION_MS / 4) {
        rates.push((n / ms) * 1000);
        n = Math.max(1_000, Math.round((n * DURATION_MS) / ms));
        break;
      }
      n *= 4;
    }
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? 0;
}

function keelLoop(c: Case): (n: number) => void {
  const actions: Record<string, ActionImplementation> = {};
  for (const a of c.machine.actions) actions[a.name] = () => undefined;
  const options = { actions };
  const start = initialState(c.machine, options).snapshot;
  let snapshot: MachineSnapshot = c.restart ? start : transition(c.machine, start, { type: 'start_game' }, options).snapshot;
  const base = snapshot;
  const events = c.events.map((type) => ({ type }));
  // Check once that every event of the cycle is taken: a bench of error results measures nothing.
  let probe = base;
  for (const e of events) {
    const out = transition(c.machine, probe, e, options);
    if (!out.result.taken) throw new Error(`${c.title}: '${e.type}' is not taken from ${out.result.from}: ${out.result.error ?? ''}`);
    probe = out.snapshot;
  }
  let i = 0;
  return (n) => {
    for (let k = 0; k < n; k++) {
      snapshot = transition(c.machine, snapshot, events[i] as { type: string }, options).snapshot;
      if (++i === events.length) {
        i = 0;
        if (c.restart) snapshot = base;
      }
    }
    if (!c.restart && snapshot.status !== 'active') throw new Error('the Keel loop left its cycle');
  };
}

function xstateLogic(x: XStateModule, c: Case): unknown {
  const actions: Record<string, () => void> = {};
  for (const a of c.machine.actions) actions[a.name] = () => undefined;
  return x.createMachine(compileXState(c.machine), { guards: xstateGuards(c.machine), actions });
}

function xstatePureLoop(x: XStateModule, c: Case): (n: number) => void {
  const logic = xstateLogic(x, c);
  const [start] = x.initialTransition(logic);
  let snapshot = c.restart ? start : x.transition(logic, start, { type: 'start_game' })[0];
  const base = snapshot;
  const events = c.events.map((type) => ({ type }));
  let i = 0;
  return (n) => {
    for (let k = 0; k < n; k++) {
      snapshot = x.transition(logic, snapshot, events[i] as { type: string })[0];
      if (++i === events.length) {
        i = 0;
        if (c.restart) snapshot = base;
      }
    }
  };
}

function xstateActorLoop(x: XStateModule, c: Case): (n: number) => void {
  const logic = xstateLogic(x, c);
  const fresh = () => {
    const a = x.createActor(logic);
    a.start();
    if (!c.restart) a.send({ type: 'start_game' });
    return a;
  };
  let actor = fresh();
  const events = c.events.map((type) => ({ type }));
  let i = 0;
  return (n) => {
    for (let k = 0; k < n; k++) {
      actor.send(events[i] as { type: string });
      if (++i === events.length) {
        i = 0;
        if (c.restart) {
          actor.stop();
          actor = fresh();
        }
      }
    }
  };
}

/** Both engines must pass through the same states on the cycle, or the comparison is meaningless. */
function verify(x: XStateModule, c: Case): void {
  const logic = xstateLogic(x, c);
  let xs = x.initialTransition(logic)[0];
  let ks = initialState(c.machine).snapshot;
  const prelude = c.restart ? [] : ['start_game'];
  for (const type of [...prelude, ...c.events]) {
    xs = x.transition(logic, xs, { type })[0];
    ks = transition(c.machine, ks, { type }).snapshot;
    const a = JSON.stringify(ks.value);
    const b = JSON.stringify((xs as { value: unknown }).value);
    if (a !== b) throw new Error(`${c.title}: after '${type}' Keel is in ${a} but XState in ${b}`);
  }
}

async function main(): Promise<void> {
  let x: XStateModule | undefined;
  try {
    const specifier = 'xstate';
    x = (await import(specifier)) as XStateModule;
  } catch {
    x = undefined;
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(12);
  console.log(`Statechart events/s (median of ${ROUNDS} rounds of ~${DURATION_MS} ms; Node ${process.version})`);
  console.log(`${'machine'.padEnd(34)}${'Keel'.padStart(12)}${'XState pure'.padStart(14)}${'ratio'.padStart(8)}${'XState actor'.padStart(14)}${'ratio'.padStart(8)}`);
  for (const c of cases) {
    const keel = measure(keelLoop(c));
    if (x === undefined) {
      console.log(`${c.title.padEnd(34)}${fmt(keel)}   (xstate is not installed: no comparison)`);
      continue;
    }
    verify(x, c);
    const pure = measure(xstatePureLoop(x, c));
    const actor = measure(xstateActorLoop(x, c));
    console.log(
      `${c.title.padEnd(34)}${fmt(keel)}${fmt(pure).padStart(14)}${`${(keel / pure).toFixed(1)}×`.padStart(8)}${fmt(actor).padStart(14)}${`${(keel / actor).toFixed(1)}×`.padStart(8)}`,
    );
  }
}

await main();
