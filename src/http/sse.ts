/**
 * Server-sent event streams.
 *
 * Per run (`GET /runs/:id/events`): the run's history, event id = history `seq`. A client that
 * reconnects with `Last-Event-ID: n` gets every event after seq n: history is durable and ordered,
 * so nothing can be missed, whichever process advanced the run. The stream re-reads the history
 * after each engine event of that run in this process, and every `pollMs` for runs advanced by other
 * processes; it ends after the run's terminal event.
 *
 * All runs (`GET /events`): the store's status-change feed (Store.statusChanges): every change of
 * every run's status, whichever process made it, in commit order; event id = the change's cursor.
 * A client that reconnects with `Last-Event-ID` continues exactly after that change, across server
 * restarts too: the feed is durable and its cursors are exact. Without one, the stream starts at
 * the end of the feed (what happens from now on). The stream reads the feed after each run event
 * of this process's engine, and every `pollMs` for changes made by other processes.
 */
import type { SSEStreamingApi } from 'hono/streaming';
import type { HistoryEvent } from '../core/history.js';
import type { Engine, StatusChangeInfo } from '../engine/engine.js';
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

/** A waker poked by the engine events `wanted` picks and by the end of the request or the stream;
 * `close` stops listening. */
function wakeOn(engine: Engine, stream: SSEStreamingApi, signal: AbortSignal, wanted: (e: EngineEvent) => boolean): { waker: Waker; close: () => void } {
  const waker = new Waker();
  const off = engine.on('*', (e: EngineEvent) => {
    if (wanted(e)) waker.poke();
  });
  const onAbort = (): void => waker.poke();
  signal.addEventListener('abort', onAbort);
  stream.onAbort(onAbort);
  return {
    waker,
    close: () => {
      off();
      signal.removeEventListener('abort', onAbort);
    },
  };
}

export async function streamRunHistory(
  engine: Engine,
  runId: string,
  afterSeq: number,
  stream: SSEStreamingApi,
  signal: AbortSignal,
  options: StreamOptions,
): Promise<void> {
  const { waker, close } = wakeOn(engine, stream, signal, (e) => e.runId === runId);
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
    close();
  }
}

/** How many changes one read of the feed takes; a full page is followed by the next one at once. */
const STATUS_PAGE = 500;

/** Engine events of this process that mean a run's status changed (and was committed). */
const STATUS_EVENTS: ReadonlySet<EngineEvent['type']> = new Set([
  'run.started',
  'run.resumed',
  'run.waiting',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.reopened',
]);

/**
 * The first page of `GET /events` after `lastEventId` (else from the end of the feed). Read before
 * the stream starts, so that a malformed or unknown cursor answers 400 as JSON.
 */
export async function firstStatusPage(engine: Engine, lastEventId: string | undefined): Promise<{ changes: StatusChangeInfo[]; cursor: string }> {
  const after = lastEventId ?? (await engine.statusChangesEnd());
  return engine.statusChanges({ after, limit: STATUS_PAGE });
}

export async function streamStatusChanges(
  engine: Engine,
  first: { changes: StatusChangeInfo[]; cursor: string },
  stream: SSEStreamingApi,
  signal: AbortSignal,
  options: StreamOptions,
): Promise<void> {
  // Dirty from the start: a change committed between the first read and this subscription is read
  // at once rather than at the next poll.
  const { waker, close } = wakeOn(engine, stream, signal, (e) => STATUS_EVENTS.has(e.type));
  let page = first;
  let quietSince = Date.now();
  try {
    for (;;) {
      for (const c of page.changes) {
        const data = { cursor: c.cursor, runId: c.runId, workflow: c.workflow, status: c.status, at: c.at.toISOString() };
        await stream.writeSSE({ id: c.cursor, event: 'status', data: JSON.stringify(data) });
      }
      if (signal.aborted || stream.aborted) break;
      if (page.changes.length > 0) quietSince = Date.now();
      // A full page: more are waiting, read on at once.
      if (page.changes.length < STATUS_PAGE) {
        await waker.wait(Math.min(options.pollMs, options.heartbeatMs));
        if (signal.aborted || stream.aborted) break;
        // Poked by a run event of this process, or the poll interval passed: read what is new.
        waker.dirty = false;
        if (Date.now() - quietSince >= options.heartbeatMs) {
          await stream.write(': keep-alive\n\n');
          quietSince = Date.now();
        }
      }
      page = await engine.statusChanges({ after: page.cursor, limit: STATUS_PAGE });
    }
  } finally {
    close();
  }
}
