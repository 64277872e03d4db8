import type { Clock } from '../core/clock.js';

/** Wall-clock time and real timers. Long delays are chained, since setTimeout caps at ~24.8 days. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const MAX = 2_147_000_000;
    let handle: NodeJS.Timeout;
    let remaining = Math.max(0, delayMs);
    const arm = (): void => {
      const step = Math.min(remaining, MAX);
      remaining -= step;
      handle = setTimeout(remaining > 0 ? arm : fn, step);
      handle.unref?.();
    };
    arm();
    return () => clearTimeout(handle);
  },
};
