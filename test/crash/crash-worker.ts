/**
 * A worker process for the crash-recovery test. It runs `crash-flow` runs on a SQLite file and
 * kills itself with SIGKILL the Nth time a named fault point is reached.
 *
 * env: KEEL_DB, SIDE_EFFECTS (log file), RUNS (how many to start, again after a crash),
 *      FAULT (a FaultPoint) and FAULT_AT (N), FAULT_INFO (file to write the faulted run and step to).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { createEngine, defineWorkflow } from '../../src/index.js';
import { SimulatedClock, type FaultHook } from '../../src/testing/index.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const sideEffects = env('SIDE_EFFECTS');
const runs = Number(env('RUNS'));
const fault = process.env.FAULT;
const faultAt = Number(process.env.FAULT_AT ?? '0');

export const crashFlow = defineWorkflow({
  name: 'crash-flow',
  async run(ctx, input: { n: number }) {
    let total = input.n;
    for (const step of ['s1', 's2', 's3', 's4', 's5']) {
      if (step === 's3') await ctx.sleep('1h');
      total = await ctx.step(step, () => {
        // Synchronous append: the side effect is on disk before the step returns.
        appendFileSync(sideEffects, `${ctx.runId} ${step} ${process.pid}\n`);
        return total + 1;
      });
    }
    return total;
  },
});

let hits = 0;
const faults: FaultHook = (point, info) => {
  if (point !== fault) return;
  hits++;
  if (hits === faultAt) {
    writeFileSync(env('FAULT_INFO'), JSON.stringify({ point, ...info }));
    process.kill(process.pid, 'SIGKILL');
  }
};

// Both generations share one timeline: simulated time starts at the same instant and skips ahead
// whenever the worker is idle, so the hour of sleep passes at once.
const clock = new SimulatedClock({ start: Date.UTC(2030, 0, 1), autoAdvance: true });
const engine = createEngine({ store: `sqlite:${env('KEEL_DB')}`, workflows: [crashFlow], clock, faults, pollIntervalMs: 20 });
await engine.start();
// Starting is idempotent by id: the recovering process starts the same runs again, as a client
// would after a crash, and gets the existing runs back.
await Promise.all(
  Array.from({ length: runs }, (_, i) => engine.run(crashFlow, { n: i * 10 }, { id: `run-${String(i).padStart(3, '0')}` })),
);
for (;;) {
  const open = await engine.listRuns({ status: ['pending', 'running', 'waiting'], limit: 1 });
  if (open.runs.length === 0) break;
  await new Promise((r) => setTimeout(r, 20));
}
await engine.stop();
process.stdout.write('DONE\n');
