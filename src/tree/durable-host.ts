/**
 * What durable tree and wizard runs need from the engine, and how a caller waits for a hosted run
 * to react to its input.
 *
 * Tree and wizard runs are ordinary runs of kind 'tree' whose code drives pure logic; the caller
 * talks to them with signals and reads their snapshot from the run's queryable state. This module
 * names the slice of the engine that takes (a structural type, so the engine can delegate to these
 * helpers without an import cycle).
 */
import { KeelError } from '../core/errors.js';
import type { HistoryEvent } from '../core/history.js';
import { isTerminal, type ListRunsQuery, type RunKind, type RunStatus } from '../core/store.js';
import type { EngineEventType, Listener } from '../engine/events.js';
import type { AnyWorkflow, WorkflowDefinition } from '../engine/workflow.js';

/** The run fields the hosts read (a subset of the engine's RunInfo). */
export interface HostedRunInfo {
  id: string;
  kind: RunKind;
  workflow: string;
  version: string;
  status: RunStatus;
  state: Record<string, unknown>;
  createdAt: Date;
  error?: { name: string; message: string };
  output?: unknown;
}

/** The part of the engine the hosts use. `Engine` satisfies it. */
export interface HostEngine {
  register(workflow: AnyWorkflow): void;
  definitions(): AnyWorkflow[];
  run<I, O>(workflow: WorkflowDefinition<I, O> | string, input: I, options?: { id?: string }): Promise<{ id: string }>;
  signal(runId: string, name: string, payload?: unknown): Promise<void>;
  getRun(id: string): Promise<HostedRunInfo>;
  listRuns(query?: ListRunsQuery): Promise<{ runs: HostedRunInfo[]; nextCursor?: string }>;
  history(id: string): Promise<HistoryEvent[]>;
  on<T extends EngineEventType>(type: T, listener: Listener<T>): () => void;
}

/** Error codes of talking to hosted runs (stable strings: the CLI and HTTP layer map them). */
export const HostedRunErrorCode = {
  /** Input was sent to a run that has ended; only pending, running or waiting runs take input. */
  Finished: 'RUN_FINISHED',
  /** The run is not a wizard (or not a tree) run. */
  WrongKind: 'WRONG_RUN_KIND',
  /** The run did not react in time: no worker executes it. */
  NoResponse: 'NO_RESPONSE',
  /** No wizard or tree of that name is registered. */
  UnknownDefinition: 'UNKNOWN_DEFINITION',
} as const;

export interface WaitOptions {
  /** Give up after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  /** How often to read the run from the store, for runs executing in another process (default 100 ms). */
  pollMs?: number;
  /**
   * When the run executes in this process, also wait (up to 2 s) until it has suspended or ended
   * after recording the state, so that stopping the engine right after leaves it `waiting` rather
   * than handing it back as `pending` (which costs a replay later). Default true.
   */
  settle?: boolean;
}

/**
 * Wait until the run's state `key` satisfies `ready`. Listens to the engine's `run.state` events
 * (the run executes in this process) and reads the run now and then (it executes elsewhere). A
 * run that ends without reaching the wanted state is a RUN_FINISHED error.
 */
export async function waitForRunState<T>(
  engine: HostEngine,
  runId: string,
  key: string,
  ready: (value: T) => boolean,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pollMs = options.pollMs ?? 100;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let poll: ReturnType<typeof setTimeout> | undefined;
    const finish = (outcome: { value: T } | { error: Error }): void => {
      if (settled) return;
      settled = true;
      stop();
      clearTimeout(poll);
      clearTimeout(timer);
      if ('value' in outcome) resolve(outcome.value);
      else reject(outcome.error);
    };
    let matched: { value: T } | undefined;
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    const onSettled = (e: { runId: string }): void => {
      if (e.runId === runId && matched) finish(matched);
    };
    const stops = [
      engine.on('run.state', (e) => {
        if (e.runId !== runId || e.key !== key || e.value === undefined || !ready(e.value as T)) return;
        if (options.settle === false) return finish({ value: e.value as T });
        matched = { value: e.value as T };
        settleTimer = setTimeout(() => matched && finish(matched), 2_000);
      }),
      engine.on('run.waiting', onSettled),
      engine.on('run.completed', onSettled),
      engine.on('run.failed', onSettled),
    ];
    const stop = (): void => {
      for (const s of stops) s();
      clearTimeout(settleTimer);
    };
    const timer = setTimeout(
      () =>
        finish({
          error: new KeelError(
            HostedRunErrorCode.NoResponse,
            `Run '${runId}' did not respond within ${Math.round(timeoutMs / 1000)} s; start a worker for it (\`keel worker\`) or try again.`,
            { details: { runId } },
          ),
        }),
      timeoutMs,
    );
    const look = async (): Promise<void> => {
      try {
        const run = await engine.getRun(runId);
        const value = run.state[key] as T | undefined;
        // Matched through the event: wait for the settle event instead.
        if (matched) return;
        if (value !== undefined && ready(value)) return finish({ value });
        if (isTerminal(run.status)) {
          return finish({
            error: new KeelError(
              HostedRunErrorCode.Finished,
              `Run '${runId}' is ${run.status}${run.error ? ` (${run.error.message})` : ''}; it takes no more input.`,
              { details: { runId, status: run.status } },
            ),
          });
        }
      } catch (err) {
        return finish({ error: err instanceof Error ? err : new Error(String(err)) });
      }
      if (!settled) poll = setTimeout(() => void look(), pollMs);
    };
    void look();
  });
}
