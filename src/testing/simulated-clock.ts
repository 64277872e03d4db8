/**
 * A clock whose time moves only when told to, so tests never wait for real time.
 *
 * - `advance(duration)` moves time forward, firing due timers in order and letting the engine work
 *   between them.
 * - With `autoAdvance: true` the clock also skips ahead whenever the engine reports that it has
 *   nothing to do before its next timer: `sleep('30d')` then finishes at once. Signals sent by the
 *   test are still waited for, since a run waiting for a signal without a timeout has no timer.
 */
import type { Clock } from '../core/clock.js';
import { toMs, type Duration } from '../util/duration.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class SimulatedClock implements Clock {
  private current: number;
  private timers: Timer[] = [];
  private seq = 0;
  private readonly autoAdvance: boolean;

  constructor(options: { start?: Date | number; autoAdvance?: boolean } = {}) {
    const start = options.start ?? Date.UTC(2030, 0, 1);
    this.current = typeof start === 'number' ? start : start.getTime();
    this.autoAdvance = options.autoAdvance ?? false;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const timer: Timer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  idle(at: number): void {
    if (!this.autoAdvance || at <= this.current) return;
    this.moveTo(at);
  }

  /** Move time forward by `duration`, firing every timer that falls due on the way. */
  async advance(duration: Duration): Promise<void> {
    const target = this.current + toMs(duration);
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.moveTo(next.at);
      // Let the engine react before the next timer fires.
      await new Promise((r) => setImmediate(r));
    }
    this.current = Math.max(this.current, target);
  }

  /** Set the time (never backwards) and fire what is due. */
  private moveTo(at: number): void {
    this.current = Math.max(this.current, at);
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > this.current) return;
      this.timers = this.timers.filter((t) => t !== next);
      next.fn();
    }
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }
}
