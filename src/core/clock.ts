/**
 * The Clock port. Every instant the engine records or compares comes from here, so a simulated
 * clock (keel/testing) can skip time: a test of `sleep('30d')` finishes at once.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Call `fn` once after `delayMs` of this clock's time; returns a cancel function. */
  setTimer(delayMs: number, fn: () => void): () => void;
  /**
   * Told by the engine that it has nothing to do before `at` (epoch ms). A simulated clock may jump
   * there at once; the system clock ignores it.
   */
  idle?(at: number): void;
}
