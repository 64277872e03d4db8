/**
 * Durable wizard runs (DESIGN §3, WIZARDS.md §1.4): a wizard is hosted as a run of kind 'tree'
 * whose code drives the pure {@link Wizard}. Durability, replay, leases and crash recovery are
 * the engine's; this module only translates.
 *
 * The run loop, at every wait:
 * 1. records a {@link WizardSnapshot} with `ctx.state.set('wizard', …)` — the prompt, the status,
 *    the persisted wizard state, the answer to the latest input, and the WIZARDS.md events of the
 *    transition that led here. So `engine.getRun(id).state.wizard` is the current question, and the
 *    run's history holds every wizard event in order (see {@link wizardEvents});
 * 2. runs a pending command: a commit as the durable step `commit` (once; a failure fails the run
 *    with the handler's message), a resource request as the step `action:<slug>`;
 * 3. otherwise waits for the signal `wizard` ({@link WizardSignalPayload}) and applies it.
 *
 * After a crash the run replays: the recorded signals and step results rebuild the same state, so
 * it waits at the same step with the same answers, and a commit that never got recorded is issued
 * again with the same request id.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coerceError, KeelError } from '../core/errors.js';
import type { HistoryEvent } from '../core/history.js';
import { isTerminal } from '../core/store.js';
import type { AnyWorkflow, RetryPolicy, WorkflowContext, WorkflowDefinition } from '../engine/workflow.js';
import { HostedRunErrorCode, waitForRunState, type HostEngine, type HostedRunInfo, type WaitOptions } from '../tree/durable-host.js';
import { parseWizardDefinition } from './definition.js';
import type { PromptBundle, WizardCommand, WizardEvent } from './events.js';
import type { WizardDefinition } from './types.js';
import { createWizard, Wizard, type Rejection, type WizardOptions, type WizardResult, type WizardState, type WizardStatus } from './wizard.js';

/** Run state key of the wizard snapshot, and the name of the signal that carries input. */
export const WIZARD_STATE_KEY = 'wizard';
export const WIZARD_SIGNAL = 'wizard';

/** What the commit handler is given besides the answers. */
export interface CommitContext {
  wizard: string;
  /** The definition's `commit_hook`. */
  hook: string;
  /** Stable across a crash and the re-issue that follows: use it as an idempotency key. */
  requestId: string;
  runId: string;
  attempt: number;
  /** Aborted if the run is cancelled or this worker stops. */
  signal: AbortSignal;
}

/** Applies the answers (creates the account, files the request…); its return value is the run's result. Throw to fail. */
export type CommitHandler = (answers: Record<string, unknown>, context: CommitContext) => unknown;

export interface ResourceContext {
  wizard: string;
  slug: string;
  provider: string;
  requestId: string;
  runId: string;
  /** The answer that triggered the action. */
  value: unknown;
  signal: AbortSignal;
}

/** Fetches a resource for an action step (Palm's `ResourceEngine.use(provider).fetch(id)`). Throw to refuse. */
export type ResourceProvider =
  | ((resourceId: string, context: ResourceContext) => unknown)
  | { fetch(resourceId: string, context: ResourceContext): unknown };

export interface WizardHostOptions {
  /** Custom validation rules by name. */
  rules?: WizardOptions['rules'];
  /** One handler for every commit hook, or handlers by hook name. */
  commit?: CommitHandler | Readonly<Record<string, CommitHandler>>;
  /** Resource providers of action steps, by name. */
  providers?: Readonly<Record<string, ResourceProvider>>;
  /**
   * Retries of the commit step. Default: one attempt — a commit is the transaction the person
   * confirmed; a handler that can safely retry says so here.
   */
  commitRetry?: RetryPolicy;
  /** Retries of action steps. Default: one attempt — the person sees the failure and can try again. */
  actionRetry?: RetryPolicy;
}

/** What the caller learns about its latest input. */
export interface LastInput {
  /** The id the caller put in the signal. */
  id: string;
  type: 'input' | 'back';
  error?: string;
  errors?: string[];
  rejected?: Rejection;
}

/** The run state `wizard`: what a wizard run shows at a wait. JSON. */
export interface WizardSnapshot {
  wizard: string;
  status: WizardStatus;
  /** The question to answer now; null once finished. */
  prompt: PromptBundle | null;
  answers: Record<string, unknown>;
  /** The message for the person: a refused answer or step, or a failed commit. */
  error?: string;
  errors?: string[];
  /** The WIZARDS.md events of the transition that led to this snapshot. */
  events: WizardEvent[];
  lastInput: LastInput | null;
  /** The commit handler's result, once committed. */
  result?: unknown;
  /** The pure wizard's state (the resume authority for tools; the run itself replays). */
  state: WizardState;
}

/** The signal payload a wizard run takes. */
export type WizardSignalPayload = { id: string; type: 'input'; value: unknown } | { id: string; type: 'back'; slug: string };

/** The output of a completed wizard run. */
export interface WizardOutput {
  answers: Record<string, unknown>;
  committed: boolean;
  result?: unknown;
}

/** A wizard run's failure: a commit that failed (its message is the handler's). */
export class WizardCommitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WizardCommitError';
  }
}

/** A workflow definition that hosts a wizard. */
export interface WizardWorkflow extends WorkflowDefinition<Record<string, never>, WizardOutput> {
  readonly wizard: Wizard;
}

export function isWizardWorkflow(workflow: AnyWorkflow): workflow is WizardWorkflow {
  return workflow.kind === 'tree' && (workflow as Partial<WizardWorkflow>).wizard instanceof Wizard;
}

const DEFAULT_STEP_RETRY: RetryPolicy = { maxAttempts: 1 };

function commitHandler(options: WizardHostOptions, hook: string): CommitHandler | undefined {
  const { commit } = options;
  if (typeof commit === 'function') return commit;
  return commit && Object.hasOwn(commit, hook) ? commit[hook] : undefined;
}

function parsePayload(payload: unknown): WizardSignalPayload | string {
  const p = payload as Partial<Record<string, unknown>> | null;
  if (p === null || typeof p !== 'object' || typeof p.id !== 'string') {
    return "A wizard signal needs { id, type: 'input', value } or { id, type: 'back', slug }.";
  }
  if (p.type === 'input') return { id: p.id, type: 'input', value: p.value ?? null };
  if (p.type === 'back' && typeof p.slug === 'string') return { id: p.id, type: 'back', slug: p.slug };
  return `Unknown wizard signal type ${JSON.stringify(p.type)}; use 'input' (with value) or 'back' (with slug).`;
}

/**
 * Host a wizard as a durable workflow (kind 'tree', named after the wizard). Its version is the
 * wizard's fingerprint, so a run started with other steps is never replayed against these.
 *
 * @example
 * ```ts
 * const onboard = defineWizardWorkflow(parseWizardDefinition(text, { source: 'onboard.yaml' }), {
 *   commit: { 'create-user': async (answers, { requestId }) => users.create(answers, requestId) },
 * });
 * const engine = createEngine({ store: 'sqlite:./keel.db', workflows: [onboard] });
 * await engine.start();
 * const { runId, prompt } = await startWizard(engine, 'onboard');
 * const reply = await wizardInput(engine, runId, 'Ada Lovelace');   // reply.error if refused
 * ```
 */
export function defineWizardWorkflow(definition: WizardDefinition, options: WizardHostOptions = {}): WizardWorkflow {
  const wizard = createWizard(definition, options.rules === undefined ? {} : { rules: options.rules });

  const runCommand = async (ctx: WorkflowContext, state: WizardState, command: WizardCommand): Promise<WizardResult> => {
    if (command.type === 'commit') {
      const outcome = await ctx
        .step(
          'commit',
          async (s) => {
            const handler = commitHandler(options, command.hook);
            if (!handler) throw new Error(`Unknown commit handler: '${command.hook}'`);
            const context: CommitContext = {
              wizard: command.wizard,
              hook: command.hook,
              requestId: command.requestId,
              runId: ctx.runId,
              attempt: s.attempt,
              signal: s.signal,
            };
            return (await handler(structuredClone(command.answers), context)) ?? null;
          },
          { retry: options.commitRetry ?? DEFAULT_STEP_RETRY },
        )
        .then(
          (data) => ({ ok: true as const, data }),
          (err: unknown) => ({ ok: false as const, error: coerceError(err).message }),
        );
      return wizard.transition(state, { type: 'commit.result', requestId: command.requestId, ...outcome });
    }
    const outcome = await ctx
      .step(
        `action:${command.slug}`,
        async (s) => {
          const provider = options.providers?.[command.provider];
          if (!provider) throw new Error(`Resource engine is not configured for this action.`);
          const context: ResourceContext = {
            wizard: command.wizard,
            slug: command.slug,
            provider: command.provider,
            requestId: command.requestId,
            runId: ctx.runId,
            value: command.value,
            signal: s.signal,
          };
          const result = typeof provider === 'function' ? provider(command.resourceId, context) : provider.fetch(command.resourceId, context);
          return (await result) ?? null;
        },
        { retry: options.actionRetry ?? DEFAULT_STEP_RETRY },
      )
      .then(
        (data) => ({ ok: true as const, data }),
        (err: unknown) => ({ ok: false as const, error: coerceError(err).message }),
      );
    return wizard.transition(state, { type: 'action.result', requestId: command.requestId, ...outcome });
  };

  const apply = (state: WizardState, payload: WizardSignalPayload): WizardResult => {
    try {
      return payload.type === 'input' ? wizard.input(state, payload.value) : wizard.back(state, payload.slug);
    } catch (err) {
      // Input that cannot be stored (not JSON) is refused like any other bad answer: the run goes on.
      const message = coerceError(err).message;
      return { state, status: state.status, events: [], prompt: wizard.prompt(state), commands: [], error: message, errors: [message] };
    }
  };

  const workflow: WizardWorkflow = {
    kind: 'tree',
    name: definition.name,
    version: wizard.fingerprint,
    wizard,
    async run(ctx) {
      let r = wizard.initial();
      let lastInput: LastInput | null = null;
      for (;;) {
        await ctx.state.set(WIZARD_STATE_KEY, snapshotOf(wizard, r, lastInput));
        if (r.status === 'completed') {
          const output: WizardOutput = { answers: r.state.answers, committed: r.state.committed };
          if (r.state.commitResult !== undefined) output.result = r.state.commitResult;
          return output;
        }
        if (r.status === 'failed') throw new WizardCommitError(r.state.commitError ?? `Wizard '${wizard.name}' failed.`);
        const command = wizard.pendingCommand(r.state);
        if (command) {
          r = await runCommand(ctx, r.state, command);
          continue;
        }
        const raw = await ctx.waitForSignal(WIZARD_SIGNAL);
        const payload = parsePayload(raw);
        if (typeof payload === 'string') {
          const id = (raw as { id?: unknown } | null)?.id;
          lastInput = { id: typeof id === 'string' ? id : '', type: 'input', error: payload, errors: [payload] };
          r = { ...r, events: [], error: payload, errors: [payload] };
          continue;
        }
        r = apply(r.state, payload);
        lastInput = { id: payload.id, type: payload.type };
        if (r.error !== undefined) lastInput.error = r.error;
        if (r.errors !== undefined) lastInput.errors = r.errors;
        if (r.rejected !== undefined) lastInput.rejected = r.rejected;
      }
    },
  };
  return workflow;
}

function snapshotOf(wizard: Wizard, r: WizardResult, lastInput: LastInput | null): WizardSnapshot {
  const snapshot: WizardSnapshot = {
    wizard: wizard.name,
    status: r.status,
    prompt: r.prompt,
    answers: r.state.answers,
    events: r.events,
    lastInput,
    state: wizard.persist(r.state),
  };
  if (r.error !== undefined) snapshot.error = r.error;
  if (r.errors !== undefined) snapshot.errors = r.errors;
  if (r.state.commitResult !== undefined) snapshot.result = r.state.commitResult;
  return snapshot;
}

/** Every wizard event of a run, in order, from its history. */
export function wizardEvents(history: readonly HistoryEvent[]): WizardEvent[] {
  const out: WizardEvent[] = [];
  for (const e of history) {
    if (e.type === 'state.set' && e.key === WIZARD_STATE_KEY) out.push(...((e.value as WizardSnapshot | null)?.events ?? []));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loading definitions

/**
 * Register every wizard definition file (`.json`, `.yaml`, `.yml`) of a folder with the engine.
 * Returns the workflows. A malformed file throws WIZARD_DEFINITION_INVALID naming the file.
 */
export function loadWizardDefinitions(engine: Pick<HostEngine, 'register'>, folder: string, options: WizardHostOptions = {}): WizardWorkflow[] {
  const files = readdirSync(folder)
    .filter((f) => /\.(json|ya?ml)$/i.test(f))
    .sort();
  const rules = options.rules instanceof Map ? [...options.rules.keys()] : Object.keys(options.rules ?? {});
  const workflows = files.map((file) => {
    const path = join(folder, file);
    return defineWizardWorkflow(parseWizardDefinition(readFileSync(path, 'utf8'), { source: path, rules }), options);
  });
  for (const w of workflows) engine.register(w);
  return workflows;
}

// ---------------------------------------------------------------------------------------------
// Talking to wizard runs

/** What `startWizard`, `wizardInput` and `wizardBack` answer: the run's snapshot after the call
 * (`events` are the ones this call caused, in order), with the run id in place of the wizard name. */
export interface WizardReply extends Omit<WizardSnapshot, 'wizard' | 'lastInput'> {
  runId: string;
}

export type WizardCallOptions = WaitOptions;

function replyOf(runId: string, s: WizardSnapshot, events: WizardEvent[]): WizardReply {
  const reply: WizardReply = { runId, status: s.status, prompt: s.prompt, answers: s.answers, events, state: s.state };
  if (s.error !== undefined) reply.error = s.error;
  if (s.errors !== undefined) reply.errors = s.errors;
  if (s.result !== undefined) reply.result = s.result;
  return reply;
}

/** Wizards registered with the engine, by name (newest version). */
export function wizardWorkflows(engine: Pick<HostEngine, 'definitions'>): Map<string, WizardWorkflow> {
  const out = new Map<string, WizardWorkflow>();
  for (const d of engine.definitions()) if (isWizardWorkflow(d)) out.set(d.name, d);
  return out;
}

/**
 * Start a run of the wizard `name` and return its first prompt. The same `id` again returns the
 * existing run where it is.
 */
export async function startWizard(engine: HostEngine, name: string, options: { id?: string } & WizardCallOptions = {}): Promise<WizardReply> {
  const workflow = wizardWorkflows(engine).get(name);
  if (!workflow) {
    const known = [...wizardWorkflows(engine).keys()].sort();
    throw new KeelError(
      HostedRunErrorCode.UnknownDefinition,
      `Unknown wizard '${name}': put its definition in the definitions folder (or register it with defineWizardWorkflow). ` +
        (known.length ? `Known wizards: ${known.join(', ')}.` : 'No wizards are registered.'),
      { details: { name, known } },
    );
  }
  const handle = await engine.run(workflow, {}, options.id === undefined ? {} : { id: options.id });
  const snapshot = await waitForRunState<WizardSnapshot>(engine, handle.id, WIZARD_STATE_KEY, (s) => !busy(s), options);
  return replyOf(handle.id, snapshot, snapshot.lastInput === null ? snapshot.events : []);
}

/** Answer the current step of a wizard run; resolves once the run has taken the answer. */
export function wizardInput(engine: HostEngine, runId: string, value: unknown, options: WizardCallOptions = {}): Promise<WizardReply> {
  return send(engine, runId, { type: 'input', value }, options);
}

/** Go back to an earlier step of a wizard run (answers are kept). */
export function wizardBack(engine: HostEngine, runId: string, slug: string, options: WizardCallOptions = {}): Promise<WizardReply> {
  return send(engine, runId, { type: 'back', slug }, options);
}

/** The current snapshot of a wizard run (no input). */
export async function wizardSnapshot(engine: Pick<HostEngine, 'getRun'>, runId: string): Promise<{ run: HostedRunInfo; snapshot: WizardSnapshot }> {
  const run = await engine.getRun(runId);
  const snapshot = run.state[WIZARD_STATE_KEY] as WizardSnapshot | undefined;
  if (run.kind !== 'tree' || snapshot === undefined) {
    throw new KeelError(
      HostedRunErrorCode.WrongKind,
      `Run '${runId}' is not a wizard run (it is a ${run.kind} of '${run.workflow}'); give the id of a run started with \`keel wizard start\`.`,
      { details: { runId, kind: run.kind } },
    );
  }
  return { run, snapshot };
}

const busy = (s: WizardSnapshot): boolean => s.status === 'committing' || s.status === 'acting';

async function send(
  engine: HostEngine,
  runId: string,
  signal: { type: 'input'; value: unknown } | { type: 'back'; slug: string },
  options: WizardCallOptions,
): Promise<WizardReply> {
  const { run } = await wizardSnapshot(engine, runId);
  const finished = (status: string): KeelError =>
    new KeelError(
      HostedRunErrorCode.Finished,
      `Wizard run '${runId}' is ${status}; only a waiting wizard run takes input. Start a new one with \`keel wizard start ${run.workflow}\`.`,
      { details: { runId, status } },
    );
  if (isTerminal(run.status)) throw finished(run.status);
  if (!engine.definitions().some((d) => d.name === run.workflow && d.version === run.version)) {
    // Nothing here could execute the run: say so now rather than time out.
    throw new KeelError(
      HostedRunErrorCode.UnknownDefinition,
      `Wizard run '${runId}' was started with another version of wizard '${run.workflow}' (its steps changed); ` +
        `restore the definition it started with to continue it, or start a new run.`,
      { details: { runId, version: run.version } },
    );
  }
  const id = crypto.randomUUID();
  try {
    await engine.signal(runId, WIZARD_SIGNAL, { id, ...signal });
  } catch (err) {
    // The run ended between the check and the signal.
    if (err instanceof KeelError && err.code === 'CONFLICT') throw finished('finished');
    throw err;
  }
  const snapshot = await waitForRunState<WizardSnapshot>(engine, runId, WIZARD_STATE_KEY, (s) => s.lastInput?.id === id && !busy(s), options);
  return replyOf(runId, snapshot, await eventsSince(engine, runId, id));
}

/** The wizard events recorded after the signal `id` was received. */
async function eventsSince(engine: HostEngine, runId: string, id: string): Promise<WizardEvent[]> {
  const history = await engine.history(runId);
  const at = history.findIndex((e) => e.type === 'signal.received' && (e.payload as { id?: unknown } | null)?.id === id);
  if (at < 0) return [];
  // Up to the next input: what a later caller's input caused is that caller's.
  const next = history.findIndex((e, i) => i > at && e.type === 'signal.received');
  return wizardEvents(history.slice(at + 1, next < 0 ? undefined : next));
}
