import { afterEach } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../src/index.js';
import { MemoryStore, SimulatedClock } from '../../src/testing/index.js';

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

/** An engine on a memory store with a simulated clock that skips idle time; stopped after each test. */
export function testEngine(options: Partial<EngineOptions> & { autoAdvance?: boolean } = {}) {
  const { autoAdvance = true, ...rest } = options;
  const store = (rest.store as MemoryStore | undefined) ?? new MemoryStore();
  const clock = (rest.clock as SimulatedClock | undefined) ?? new SimulatedClock({ autoAdvance });
  const engine = createEngine({ pollIntervalMs: 20, ...rest, store, clock });
  engines.push(engine);
  return { engine, store, clock };
}

/** Resolve once `predicate` holds, checking after each turn of the event loop (bounded). */
export async function until(predicate: () => boolean | Promise<boolean>, what = 'condition', turns = 5_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await predicate()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`Timed out waiting for ${what}`);
}
