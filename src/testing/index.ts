/**
 * `keel/testing`: an in-memory store and a simulated clock, so workflow tests run instantly.
 *
 * @example
 * const clock = new SimulatedClock({ autoAdvance: true });
 * const engine = createEngine({ store: new MemoryStore(), workflows: [order], clock });
 * await engine.start();
 * const run = await engine.run(order, input);   // sleep('30d') inside finishes at once
 */
export { MemoryStore } from '../storage/memory/memory-store.js';
export { SimulatedClock } from './simulated-clock.js';
export { FaultPoint, type FaultHook } from '../engine/host.js';
export { replayHistory, type ReplayOutcome } from './replay.js';
