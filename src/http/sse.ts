/**
 * Server-sent event streams.
 *
 * Per run (`GET /runs/:id/events`): the run's history, event id = history `seq`. A client that
 * reconnects with `Last-Event-ID: n` gets every event after seq n: history is durable and ordered,
 * so nothing can be missed, whichever process advanced the run. The stream re-reads the history
 * after each engine event of that run in this process, and every `pollMs` for runs advanced by other
 * processes; it ends after the run's terminal event.
 *
 * All runs (`GET /events`): status changes (started, resumed, waiting, completed, failed,
 * cancelled) seen by this server's engine, from an in-memory ring buffer of the last `capacity`
 * changes. Why a ring buffer rather than a store query: the store has no "changed since" index
 * (listRuns orders by creation), and adding one to every adapter would tax the hot write path.
 * Event ids are `<epoch>-<n>`, n increasing from 1 per server start. A client that reconnects with
 * an id of this epoch still inside the buffer misses nothing; one whose id is older than the buffer
 * or from an earlier server start first gets an `event: reset` and should re-read `GET /runs`. The
 * feed covers runs that this process starts or executes (the server runs a worker by default).
 */
import type { SSEStreamingApi } from 'hono/streaming';
import type { HistoryEvent } from '../core/history.js';
import type { RunStatus } from '../core/store.js';
import type { Engine } from '../engine/engine.js';
import type { EngineEvent } from '../engine/events.js';

const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

export interface StreamOptions {
  /** How often to look for changes made by other processes (ms). */
  pollMs: number;
  /** A comment line is sent after this long without events, to keep proxies from closing (ms). */
  heartbeatMs: number;
}

/** `wait` resolves after `ms`, or at once when `poke` was or is called (`dirty` says which). */
class Waker {
  private resolve: (() => void) | undefined;
  dirty = true;
  poke(): void {
    this.dirty = true;
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  }
  wait(ms: number): Promise<void> {
    if (this.dirty) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = undefined;
        resolve();
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export async function streamRunHistory(
  engine: Engine,
  runId: string,
  afterSeq: number,
  stream: SSEStreamingApi,
  signal: AbortSignal,
  options: StreamOptions,
): Promise<void> {
  const waker = new Waker();
  const off = engine.on('*', (e: EngineEvent) => {
    if (e.runId === runId) waker.poke();
  });
  const onAbort = (): void => waker.poke();
  signal.addEventListener('abort', onAbort);
  stream.onAbort(onAbort);
  let last = afterSeq;
  let quietSince = Date.now();
  try {
    while (!signal.aborted && !stream.aborted) {
      await waker.wait(Math.min(options.pollMs, options.heartbeatMs));
      if (signal.aborted || stream.aborted) break;
      // Poked by an engine event of this run, or the poll interval passed: read what is new.
      waker.dirty = false;
      const events: HistoryEvent[] = await engine.history(runId, { afterSeq: last });
      for (const event of events) {
        await stream.writeSSE({ id: String(event.seq), event: event.type, data: JSON.stringify(event) });
        last = event.seq;
        if (TERMINAL.has(event.type)) {
          await stream.writeSSE({ event: 'end', data: JSON.stringify({ runId, lastSeq: last }) });
          return;
        }
      }
      if (events.length > 0) quietSince = Date.now();
      else if (Date.now() - quietSince >= options.heartbeatMs) {
        await stream.write(': keep-alive\n\n');
        quietSince = Date.now();
      }
    }
  } finally {
    off();
    signal.removeEventListener('abort', onAbort);
  }
}

export interface StatusChange {
  id: string;
  runId: string;
  type: 'run.started' | 'run.resumed' | 'run.reopened' | 'run.waiting' | 'run.completed' | 'run.failed' | 'run.cancelled';
  status: RunStatus;
  workflow?: string;
  at: string;
}

const STATUS_OF: Partial<Record<EngineEvent['type'], RunStatus>> = {
  'run.started': 'pending',
  'run.resumed': 'running',
  'run.waiting': 'waiting',
  'run.completed': 'completed',
  'run.reopened': 'pending',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

export class StatusFeed {
  readonly epoch = Date.now().toString(36);
  private readonly buffer: StatusChange[] = [];
  private next = 1;
  private readonly listeners = new Set<(change: StatusChange) => void>();
  private readonly off: () => void;

  constructor(
    engine: Engine,
    readonly capacity = 10_000,
  ) {
    this.off = engine.on('*', (e: EngineEvent) => {
      const status = STATUS_OF[e.type];
      if (!status) return;
      const change: StatusChange = {
        id: `${this.epoch}-${this.next++}`,
        runId: e.runId,
        type: e.type as StatusChange['type'],
        status,
        ...('workflow' in e ? { workflow: e.workflow } : {}),
        at: new Date().toISOString(),
      };
      this.buffer.push(change);
      if (this.buffer.length > this.capacity) this.buffer.shift();
      for (const l of this.listeners) l(change);
    });
  }

  /** Changes after `lastId`; `reset` when the id is from another epoch or fell out of the buffer. */
  since(lastId: string | undefined): { changes: StatusChange[]; reset: boolean } {
    if (lastId === undefined) return { changes: [], reset: false };
    const m = /^([0-9a-z]+)-(\d+)$/.exec(lastId);
    const n = m && m[1] === this.epoch ? Number(m[2]) : undefined;
    const oldest = this.buffer[0] ? Number(this.buffer[0].id.split('-')[1]) : this.next;
    if (n === undefined || n < oldest - 1) return { changes: [...this.buffer], reset: true };
    return { changes: this.buffer.filter((c) => Number(c.id.split('-')[1]) > n), reset: false };
  }

  subscribe(listener: (change: StatusChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.off();
    this.listeners.clear();
  }
}

export async function streamStatusChanges(
  feed: StatusFeed,
  lastId: string | undefined,
  stream: SSEStreamingApi,
  signal: AbortSignal,
  options: StreamOptions,
): Promise<void> {
  const queue: StatusChange[] = [];
  const waker = new Waker();
  waker.dirty = false;
  // Subscribe before reading the buffer, so nothing falls between the two; duplicates are skipped by id.
  const off = feed.subscribe((c) => {
    queue.push(c);
    waker.poke();
  });
  const onAbort = (): void => waker.poke();
  signal.addEventListener('abort', onAbort);
  stream.onAbort(onAbort);
  try {
    const { changes, reset } = feed.since(lastId);
    if (reset) await stream.writeSSE({ event: 'reset', data: JSON.stringify({ reason: 'The last event id is unknown to this server (restarted, or older than its buffer); re-read GET /runs.' }) });
    let lastN = 0;
    const send = async (c: StatusChange): Promise<void> => {
      const n = Number(c.id.split('-')[1]);
      if (n <= lastN) return;
      lastN = n;
      await stream.writeSSE({ id: c.id, event: 'status', data: JSON.stringify(c) });
    };
    for (const c of changes) await send(c);
    while (!signal.aborted && !stream.aborted) {
      await waker.wait(options.heartbeatMs);
      if (signal.aborted || stream.aborted) break;
      const wasPoked = waker.dirty;
      waker.dirty = false;
      if (queue.length === 0 && !wasPoked) await stream.write(': keep-alive\n\n');
      for (const c of queue.splice(0)) await send(c);
    }
  } finally {
    off();
    signal.removeEventListener('abort', onAbort);
  }
}
