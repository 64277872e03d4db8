import { Action, type LeafContext, Status } from '../../src/tree/index.js';

/** An action that answers a scripted list of statuses (the last one repeats) and records ticks and halts. */
export function scripted(name: string, ...statuses: Status[]): Action & { ticks: number; halts: number } {
  let i = 0;
  const node = new Action(
    name,
    () => {
      node.ticks++;
      const s = statuses[Math.min(i, statuses.length - 1)] ?? Status.Success;
      i++;
      return s;
    },
    { halt: () => void node.halts++ },
  ) as Action & { ticks: number; halts: number };
  node.ticks = 0;
  node.halts = 0;
  return node;
}

export const ok = (name = 'ok'): Action & { ticks: number; halts: number } => scripted(name, Status.Success);
export const no = (name = 'no'): Action & { ticks: number; halts: number } => scripted(name, Status.Failure);

export function ctxOf(ctx: LeafContext): LeafContext {
  return ctx;
}

/** A settable fake clock. */
export function fakeClock(start = 1_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}
