/**
 * Group commit: writes submitted in the same turn of the event loop go to the store as one batch
 * (one transaction on SQLite and PostgreSQL). Batches are flushed one at a time, so the writes of a
 * run reach the store in the order they were submitted.
 */
import type { Clock } from '../core/clock.js';
import type { RunWrite, Store, WriteResult } from '../core/store.js';

interface Pending {
  write: RunWrite;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

export class Writer {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxBatch = 1000,
  ) {}

  submit(write: RunWrite): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
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
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    if (batch.length === 0) return;
    const run = async (): Promise<void> => {
      try {
        const results = await this.store.write(
          batch.map((p) => p.write),
          this.clock.now(),
        );
        batch.forEach((p, i) => p.resolve(results[i] as WriteResult));
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
