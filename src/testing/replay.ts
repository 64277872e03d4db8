/**
 * Replay a recorded history against workflow code without executing anything new: the check that
 * a code change does not break runs already in flight (STYLE §5). Keep a few real histories as
 * fixtures and replay them in tests.
 */
import { NonDeterminismError, type SerializedError } from '../core/errors.js';
import type { HistoryEvent } from '../core/history.js';
import { silentLogger } from '../core/logger.js';
import { MAX_HISTORY_EVENTS, type RunRecord, type RunWrite, type WriteResult } from '../core/store.js';
import { RunExecution } from '../engine/execution.js';
import type { ExecutionHost } from '../engine/host.js';
import type { AnyWorkflow } from '../engine/workflow.js';
import { canonicalJson } from '../util/json.js';
import { SimulatedClock } from './simulated-clock.js';

export type ReplayOutcome =
  | { status: 'completed'; output: unknown }
  | { status: 'failed'; error: SerializedError }
  | { status: 'cancelled' }
  /** The code asked for something the history does not hold yet (the run was still in flight). */
  | { status: 'in-flight'; position: number };

/**
 * Re-execute `workflow` against `history`. Throws the NonDeterminismError if the code no longer
 * matches; otherwise says where the replay ended. A terminal history must end the same way.
 */
export async function replayHistory(workflow: AnyWorkflow, history: HistoryEvent[]): Promise<ReplayOutcome> {
  const started = history[0];
  if (started?.type !== 'run.started') throw new Error('A history starts with run.started.');
  const last = history[history.length - 1] as HistoryEvent;
  const clock = new SimulatedClock({ start: last.at });
  let outcome: ReplayOutcome | undefined;
  let failure: NonDeterminismError | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  let position = 0;
  const host: ExecutionHost = {
    clock,
    logger: silentLogger,
    stopping: false,
    replayOnly: true,
    parkRetryMs: 0,
    maxHistoryEvents: MAX_HISTORY_EVENTS,
    submit: (w: RunWrite): Promise<WriteResult> => {
      const t = w.transition;
      if (t && t.status !== 'waiting') {
        outcome = t.status === 'completed' ? { status: 'completed', output: t.output } : t.status === 'failed' ? { status: 'failed', error: t.error } : { status: 'cancelled' };
        finish();
      }
      return Promise.resolve({ ok: true, lastSeq: 0, suspended: t?.status === 'waiting', pending: [] });
    },
    post: (w, done) => {
      void host.submit(w).then((r) => done(r));
    },
    emit: (e) => {
      if (e.type === 'run.error') {
        failure = e.error;
        finish();
      }
    },
    listens: (type) => type === 'run.error',
    requireWorkflow: () => {},
    wake: () => {},
    suspended: (execution) => {
      position = execution.position;
      finish();
    },
    ended: () => finish(),
    lost: () => finish(),
  };
  const run: RunRecord = {
    id: started.runId,
    kind: 'workflow',
    workflow: started.workflow,
    version: started.version,
    status: 'running',
    input: started.input,
    state: {},
    createdAt: started.at,
    updatedAt: last.at,
    leaseToken: 1,
    lastSeq: last.seq,
  };
  const execution = new RunExecution(host, run, { runId: run.id, owner: 'replay', token: 1, expiresAt: Infinity }, history, [], workflow);
  execution.start();
  await finished;
  if (failure) throw failure;
  const result: ReplayOutcome = outcome ?? { status: 'in-flight', position };
  const terminal = last.type === 'run.completed' || last.type === 'run.failed' || last.type === 'run.cancelled';
  if (terminal && result.status !== last.type.slice(4)) {
    throw new NonDeterminismError(run.id, execution.position, last.type, `a replay that ended ${result.status}`);
  }
  if (last.type === 'run.completed' && result.status === 'completed' && canonicalJson(result.output) !== canonicalJson(last.result)) {
    throw new NonDeterminismError(run.id, execution.position, `the result ${canonicalJson(last.result)}`, `the result ${canonicalJson(result.output)}`);
  }
  return result;
}
