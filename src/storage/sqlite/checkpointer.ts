/**
 * WAL checkpoints on a thread of their own.
 *
 * In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them back into
 * the database file (and, at either durability, fsyncs it). SQLite runs that checkpoint inside the
 * commit that crosses `wal_autocheckpoint`: with the event loop's thread doing the commits, every
 * few thousand steps one of them stalls for the whole copy and fsync (tens of milliseconds), and
 * the copy costs the engine's thread a fifth of its time. A busy store instead turns automatic
 * checkpoints off and lets this worker thread, with its own connection to the file, run passive
 * checkpoints every {@link INTERVAL_MS}: they copy what no reader still needs, never block a
 * writer, and after a complete one the next commit starts the WAL again from its beginning.
 *
 * The thread runs plain JavaScript given as source (`eval`), requiring the same better-sqlite3 the
 * store uses, so it works the same from `src/` (tsx) and from `dist/`.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints. */
const INTERVAL_MS = 100;

export interface CheckpointResult {
  /** 1 when the checkpoint could not run to completion (a reader or another checkpointer). */
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames copied into the database file so far. */
  checkpointed: number;
}

type Reply = { type: 'failed'; message: string } | { type: 'result'; id: number; result?: CheckpointResult; message?: string };

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
function main() {
  let db;
  try {
    db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
    db.pragma('synchronous = ' + workerData.synchronous);
  } catch (err) {
    parentPort.postMessage({ type: 'failed', message: String((err && err.message) || err) });
    return;
  }
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const run = () => {
    const r = checkpoint.get();
    return { busy: r.busy, log: r.log, checkpointed: r.checkpointed };
  };
  let failures = 0;
  const timer = setInterval(() => {
    try {
      run();
      failures = 0;
    } catch (err) {
      // A checkpoint that cannot run now (e.g. SQLITE_BUSY) is tried again at the next tick; the
      // store hears of it once it keeps failing.
      if (++failures === 10) parentPort.postMessage({ type: 'failed', message: String((err && err.message) || err) });
    }
  }, workerData.intervalMs);
  parentPort.on('message', (m) => {
    if (m.type === 'checkpoint') {
      try {
        parentPort.postMessage({ type: 'result', id: m.id, result: run() });
      } catch (err) {
        parentPort.postMessage({ type: 'result', id: m.id, message: String((err && err.message) || err) });
      }
    } else if (m.type === 'close') {
      clearInterval(timer);
      db.close();
      parentPort.close();
    }
  });
}
main();
`;

export class Checkpointer {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private readonly exited: Promise<void>;
  private closing = false;

  /**
   * Start the thread on the database at `path` (which must exist, in WAL mode). `onFailure` is
   * called once if the thread cannot open the file, dies, or keeps failing to checkpoint: the store
   * then goes back to checkpointing on its own.
   */
  constructor(
    path: string,
    options: { synchronous: 'NORMAL' | 'FULL'; busyTimeoutMs: number },
    private readonly onFailure: (error: Error) => void,
  ) {
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        synchronous: options.synchronous,
        busyTimeoutMs: options.busyTimeoutMs,
        intervalMs: INTERVAL_MS,
      },
    });
    // The thread never keeps the process alive on its own (a store left open must not hang exit).
    this.worker.unref();
    let failed = false;
    const fail = (error: Error): void => {
      if (failed || this.closing) return;
      failed = true;
      this.onFailure(error);
    };
    this.worker.on('message', (m: Reply) => {
      if (m.type === 'failed') fail(new Error(`The checkpoint thread failed: ${m.message}`));
      else if (m.type === 'result') this.settle(m);
    });
    this.worker.on('error', (err) => fail(err));
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', () => {
        for (const w of this.waiting.values()) w.reject(new Error('The checkpoint thread has stopped.'));
        this.waiting.clear();
        fail(new Error('The checkpoint thread stopped.'));
        resolve();
      });
    });
  }

  /** Checkpoint now (passive) and report how far the WAL is copied. */
  checkpoint(): Promise<CheckpointResult> {
    return new Promise((resolve, reject) => {
      const id = ++this.nextId;
      this.waiting.set(id, { resolve, reject });
      // Waiting for an answer keeps the process alive; nothing else about the thread does.
      this.worker.ref();
      this.worker.postMessage({ type: 'checkpoint', id });
    });
  }

  /** Stop the thread and close its connection; resolves once it has exited. */
  async close(): Promise<void> {
    this.closing = true;
    // Waiting for the thread to exit keeps the process alive (else an otherwise idle process would
    // end with this promise pending).
    this.worker.ref();
    this.worker.postMessage({ type: 'close' });
    await this.exited;
  }

  private settle(m: Extract<Reply, { type: 'result' }>): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (m.result) w.resolve(m.result);
    else w.reject(new Error(`Checkpoint failed: ${m.message ?? 'unknown error'}`));
  }
}
