/**
 * Group commit: writes submitted while the code runs go to the store as one batch (one transaction
 * on SQLite and PostgreSQL) once that code has gone as far as it can: after the microtasks queued
 * now have all run. Batches are flushed one at a time, so the writes of a run reach the store in the
 * order they were submitted.
 *
 * The flush is a `process.nextTick`, which Node runs once the microtask queue is empty, not a turn
 * of the event loop (a `setImmediate` costs a poll of the loop, ~5 µs here, on every sequential
 * step). A synchronous store (SQLite) resolves the batch's writes at once, their code queues the
 * next writes, and the next flush follows in the same turn: so that timers and sockets are not
 * starved, the writer yields to the event loop (`setImmediate`) once it has gone
 * {@link YIELD_AFTER_MS} without one.
 */
import type { Clock } from '../core/clock.js';
import type { CreateRunResult, NewRun, RunWrite, Store, WriteResult } from '../core/store.js';

interface Pending {
  write: RunWrite;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
  /** Runs as the write leaves the queue; false drops it. */
  prepare: ((write: RunWrite) => boolean) | undefined;
}

/** What a dropped write resolves with: nothing was written, and nothing needed to be. */
const DROPPED: WriteResult = { ok: true, lastSeq: 0, suspended: false, pending: [] };

/** The longest the writer keeps flushing without letting the event loop turn. */
const YIELD_AFTER_MS = 2;

export class Writer {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  /** performance.now() when the writer last let the event loop turn. */
  private lastYield = performance.now();
  private readonly flushNow = (): void => void this.flush();
  private readonly flushAfterYield = (): void => {
    this.lastYield = performance.now();
    void this.flush();
  };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxBatch = 1000,
  ) {}

  /** Queue a write; `prepare`, if given, runs as it leaves the queue, and may drop it (false). */
  submit(write: RunWrite, prepare?: (write: RunWrite) => boolean): Promise<WriteResult> {
    return new Promise((resolve, reject) => this.post(write, resolve, reject, prepare));
  }

  /** Like submit, with callbacks instead of a promise (the hot path queues writes nobody awaits). */
  post(write: RunWrite, resolve: (r: WriteResult) => void, reject: (e: unknown) => void, prepare?: (write: RunWrite) => boolean): void {
    this.queue.push({ write, resolve, reject, prepare });
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule();
    }
  }

  private schedule(): void {
    if (performance.now() - this.lastYield < YIELD_AFTER_MS) process.nextTick(this.flushNow);
    else setImmediate(this.flushAfterYield);
  }

  /** Resolves when everything submitted so far is committed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      if (this.queue.length === 0) return;
    }
    this.scheduled = false;
    const batch: Pending[] = [];
    for (const p of this.queue.splice(0, this.maxBatch)) {
      if (!p.prepare || p.prepare(p.write)) batch.push(p);
      else p.resolve(DROPPED);
    }
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      this.schedule();
    }
    if (batch.length === 0) return;
    const groups = mergeByRun(batch);
    const run = async (): Promise<void> => {
      try {
        const results = await this.store.write(
          groups.map((g) => g.write),
          this.clock.now(),
        );
        groups.forEach((g, i) => {
          const result = results[i] as WriteResult;
          const last = g.members.length - 1;
          g.members.forEach((p, j) =>
            p.resolve(j === last || !result.ok ? result : { ok: true, lastSeq: result.lastSeq, suspended: false, pending: [] }),
          );
        });
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    };
    this.flushing = run();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }
}

/**
 * How each field of a later write of a run joins the earlier one it is merged into. Every field of
 * RunWrite has its entry (the type says so), so that a field added to RunWrite cannot be dropped
 * by a merge unnoticed.
 */
const JOIN: { [K in keyof RunWrite]-?: (into: RunWrite, later: RunWrite) => void } = {
  // The group's own: the first write's run, token and position.
  runId: () => {},
  token: () => {},
  seq: () => {},
  events: (m, w) => {
    m.events = [...m.events, ...w.events];
  },
  consume: (m, w) => {
    if (w.consume) m.consume = [...(m.consume ?? []), ...w.consume];
  },
  state: (m, w) => {
    if (w.state !== undefined) m.state = w.state;
  },
  lastError: (m, w) => {
    if (w.lastError !== undefined) m.lastError = w.lastError;
  },
  createRuns: (m, w) => {
    if (w.createRuns) m.createRuns = [...(m.createRuns ?? []), ...w.createRuns];
  },
  deliver: (m, w) => {
    if (w.deliver) m.deliver = [...(m.deliver ?? []), ...w.deliver];
  },
  createTasks: (m, w) => {
    if (w.createTasks) m.createTasks = [...(m.createTasks ?? []), ...w.createTasks];
  },
  expireTasks: (m, w) => {
    if (w.expireTasks) m.expireTasks = [...(m.expireTasks ?? []), ...w.expireTasks];
  },
  transition: (m, w) => {
    if (w.transition) m.transition = w.transition;
  },
};
const JOINS = Object.values(JOIN);

/**
 * Consecutive writes of one run under one token become one write (a step's start and its result
 * are one row update instead of two). Only the last of a group may change the run's status, and
 * order is kept: a write that follows a status change starts a new group.
 */
function mergeByRun(batch: Pending[]): { write: RunWrite; members: Pending[] }[] {
  if (batch.length === 1) {
    const only = batch[0] as Pending;
    return [{ write: only.write, members: [only] }];
  }
  const groups: { write: RunWrite; members: Pending[]; merged: boolean }[] = [];
  const open = new Map<string, { write: RunWrite; members: Pending[]; merged: boolean }>();
  for (const p of batch) {
    const w = p.write;
    const g = open.get(w.runId);
    if (g && g.write.token === w.token && g.write.transition === undefined) {
      // The group's write becomes a new object the first time another joins it.
      const m = g.merged ? g.write : (g.write = { ...g.write });
      g.merged = true;
      for (const join of JOINS) join(m, w);
      g.members.push(p);
      continue;
    }
    const fresh = { write: w, members: [p], merged: false };
    groups.push(fresh);
    open.set(w.runId, fresh);
  }
  return groups;
}

/**
 * Runs started in the same turn of the event loop are created in one transaction when the store
 * offers `createRuns` (20,000 starts are a few dozen commits, not 20,000).
 */
export class RunCreator {
  private queue: { run: NewRun; resolve: (r: CreateRunResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  create(run: NewRun): Promise<CreateRunResult> {
    if (!this.store.createRuns) return this.store.createRun(run, this.clock.now());
    return new Promise((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    // The same id twice in one batch: the second must see the first as existing.
    const seen = new Set<string>();
    const first: typeof batch = [];
    const again: typeof batch = [];
    for (const p of batch) {
      if (seen.has(p.run.id)) again.push(p);
      else {
        seen.add(p.run.id);
        first.push(p);
      }
    }
    try {
      const results = await (this.store.createRuns as NonNullable<Store['createRuns']>)(
        first.map((p) => p.run),
        this.clock.now(),
      );
      first.forEach((p, i) => p.resolve(results[i] as CreateRunResult));
    } catch (err) {
      for (const p of first) p.reject(err);
    }
    for (const p of again) this.store.createRun(p.run, this.clock.now()).then(p.resolve, p.reject);
  }
}
