import type { StandardSchemaV1 } from '@standard-schema/spec';
import { toJsonValue } from '../util/json.js';
import { WizardStateError } from './errors.js';
import type { CommandOutcome, PromptBundle, WizardCommand, WizardEvent } from './events.js';
import { compileSchema, flowMessagesFor, schemaMessages } from './schema.js';
import { FieldType, StepKind, type StepDefinition, type WizardDefinition } from './types.js';
import { compileField, isAffirmative, validateField, type CompiledField, type ValidateContext, type ValidationRule } from './validation.js';

/**
 * Where a wizard run is: `waiting` for the person's input, `committing` / `acting` while the
 * host runs a commit or resource command, or finished (`completed`, `failed`).
 */
export type WizardStatus = 'waiting' | 'committing' | 'acting' | 'completed' | 'failed';

/** A collection item being entered field by field (text input, e.g. from the CLI). */
export interface CollectionDraft {
  mode: 'add' | 'edit';
  /** 0-based item being edited; null when adding. */
  index: number | null;
  /** The item field being asked. */
  field: number;
  item: Record<string, unknown>;
}

/**
 * The whole state of one wizard run. Plain JSON: the engine stores it at every wait and it is
 * the resume authority after a crash. Operations never mutate a state; they return a new one.
 */
export interface WizardState {
  version: 1;
  wizard: string;
  /** Identifies the step list the state was made with; a changed definition cannot resume it. */
  fingerprint: string;
  status: WizardStatus;
  stepIndex: number;
  /** The furthest step reached; `back` may go to any step up to it. */
  furthestIndex: number;
  answers: Record<string, unknown>;
  validationErrors: string[];
  summaryAck: boolean;
  /** Result of the last whole-flow check at a summary (null before one). */
  schemaValid: boolean | null;
  committed: boolean;
  commitResult?: unknown;
  commitError?: string;
  resourceResults: Record<string, unknown>;
  /** The command the host must run before the wizard can go on; re-issue it after a crash. */
  pending: WizardCommand | null;
  draft: CollectionDraft | null;
  /** Counter behind request ids, so each command's id is unique within the run and deterministic. */
  requests: number;
}

/** Why an operation was refused without changing the state. */
export type Rejection =
  | 'finished'
  | 'busy'
  | 'backtrack_disabled'
  | 'unknown_step'
  | 'protected_step'
  | 'not_reached';

/** What every operation returns. */
export interface WizardResult {
  state: WizardState;
  status: WizardStatus;
  /** Events to record, in order. */
  events: WizardEvent[];
  /** The question to show now; null once the wizard has finished. */
  prompt: PromptBundle | null;
  /** New commands for the host (at most one: a commit or a resource request). */
  commands: WizardCommand[];
  /** The first message for the person when input was not accepted or an operation was refused. */
  error?: string;
  errors?: string[];
  /** Set when the operation was refused (the state is unchanged). */
  rejected?: Rejection;
}

/** Events a host sends to a wizard (wizard input, back-navigation and outcomes are signals, DESIGN §3). */
export type WizardSignal =
  | { type: 'input'; value: unknown }
  | { type: 'back'; slug: string }
  | ({ type: 'commit.result' } & CommandOutcome)
  | ({ type: 'action.result' } & CommandOutcome);

export interface WizardOptions {
  /** Custom validation rules by name. */
  rules?: Record<string, ValidationRule> | ReadonlyMap<string, ValidationRule>;
}

const PROTECTED_KINDS: ReadonlySet<StepKind> = new Set([StepKind.Introduction, StepKind.Summary, StepKind.Commit]);

interface CompiledStep extends CompiledField {
  step: StepDefinition;
  items: CompiledField[] | undefined;
}

/**
 * A wizard: a definition made runnable. Pure — every method is a function of its arguments.
 *
 * @example
 * ```ts
 * const wizard = createWizard(parseWizardDefinition(yamlText, { source: 'onboard.yaml' }));
 * let r = wizard.start();                 // r.prompt asks for the first step
 * r = wizard.input(r.state, 'Ada');       // r.error is set when the answer is refused
 * r = wizard.back(r.state, 'name');       // answers are kept
 * // … at the commit step, r.commands = [{ type: 'commit', answers, … }]: run it, then
 * r = wizard.commitOutcome(r.state, { ok: true, data: { id: 42 } });   // r.status === 'completed'
 * ```
 */
export class Wizard {
  readonly definition: WizardDefinition;
  readonly name: string;
  readonly fingerprint: string;
  readonly #steps: CompiledStep[];
  readonly #flow: StandardSchemaV1 | undefined;
  readonly #rules: ReadonlyMap<string, ValidationRule>;

  constructor(definition: WizardDefinition, options: WizardOptions = {}) {
    this.definition = definition;
    this.name = definition.name;
    this.#flow = definition.schema === undefined ? undefined : compileSchema(definition.schema);
    this.#rules = options.rules instanceof Map ? options.rules : new Map(Object.entries(options.rules ?? {}));
    this.#steps = definition.steps.map((step) => ({
      ...compileField(step, definition.schema),
      step,
      items: step.itemFields?.map((f) => compileField(f, undefined)),
    }));
    this.fingerprint = fingerprint(definition);
  }

  get steps(): readonly StepDefinition[] {
    return this.definition.steps;
  }

  /** The hosted-logic name of {@link start} (DESIGN §2: `initial`, `transition`, `persist`, `restore`). */
  initial(): WizardResult {
    return this.start();
  }

  /** A new run, waiting at the first step. */
  start(): WizardResult {
    const state: WizardState = {
      version: 1,
      wizard: this.name,
      fingerprint: this.fingerprint,
      status: 'waiting',
      stepIndex: 0,
      furthestIndex: 0,
      answers: {},
      validationErrors: [],
      summaryAck: false,
      schemaValid: null,
      committed: false,
      resourceResults: {},
      pending: null,
      draft: null,
      requests: 0,
    };
    const events: WizardEvent[] = [];
    this.#enter(state, 0, events);
    return this.#result(state, events);
  }

  /** Answer the current step. A refused answer keeps the run on the same step with `error` set. */
  input(state: WizardState, raw: unknown): WizardResult {
    this.#check(state);
    // A copy, as JSON: the answer is recorded in history and must not alias the caller's object.
    const value = toJsonValue(raw, 'Wizard input');
    const refused = this.#refuseUnlessWaiting(state);
    if (refused) return refused;
    const s = structuredClone(state);
    const events: WizardEvent[] = [];
    const c = this.#steps[s.stepIndex] as CompiledStep;
    const step = c.step;
    switch (step.kind) {
      case StepKind.Introduction:
        events.push({ type: 'wizard.input.received', wizard: this.name, slug: step.slug, value: null });
        this.#enter(s, s.stepIndex + 1, events);
        return this.#result(s, events);
      case StepKind.Input: {
        const outcome = validateField(c, value, this.#context(s.answers));
        if (!outcome.ok) return this.#fail(s, step.slug, outcome.errors, value, events);
        if (outcome.empty) delete s.answers[step.slug];
        else s.answers[step.slug] = outcome.value;
        events.push({ type: 'wizard.input.received', wizard: this.name, slug: step.slug, value: outcome.empty ? null : outcome.value });
        this.#enter(s, s.stepIndex + 1, events);
        return this.#result(s, events);
      }
      case StepKind.Summary: {
        const errors = this.validateAnswers(s.answers);
        s.schemaValid = errors.length === 0;
        if (errors.length > 0) return this.#fail(s, step.slug, errors, value, events);
        if (!isAffirmative(value)) return this.#fail(s, step.slug, ['Please confirm the summary to continue.'], value, events);
        s.summaryAck = true;
        events.push({ type: 'wizard.input.received', wizard: this.name, slug: step.slug, value: true });
        this.#enter(s, s.stepIndex + 1, events);
        return this.#result(s, events);
      }
      case StepKind.Commit: {
        const errors = this.validateAnswers(s.answers);
        if (errors.length > 0) return this.#fail(s, step.slug, errors, value, events);
        if (!isAffirmative(value)) return this.#fail(s, step.slug, ['Please confirm commit to apply your changes.'], value, events);
        const hook = step.commitHook as string;
        s.requests++;
        const command: WizardCommand = {
          type: 'commit',
          requestId: `${this.name}:${step.slug}:${s.requests}`,
          wizard: this.name,
          hook,
          answers: structuredClone(s.answers),
        };
        s.status = 'committing';
        s.pending = command;
        s.validationErrors = [];
        events.push({ type: 'wizard.commit.started', wizard: this.name, hook, request_id: command.requestId });
        return this.#result(s, events, [command]);
      }
      case StepKind.Action: {
        const outcome = validateField(c, value, this.#context(s.answers));
        if (!outcome.ok) return this.#fail(s, step.slug, outcome.errors, value, events);
        if (step.fieldType === FieldType.Confirm && outcome.value !== true) {
          return this.#fail(s, step.slug, ['Please confirm to run this action.'], value, events);
        }
        s.requests++;
        const command: WizardCommand = {
          type: 'resource',
          requestId: `${this.name}:${step.slug}:${s.requests}`,
          wizard: this.name,
          slug: step.slug,
          provider: step.resourceProvider as string,
          resourceId: step.resourceId ?? String(outcome.value),
          value: outcome.empty ? null : outcome.value,
        };
        s.status = 'acting';
        s.pending = command;
        s.validationErrors = [];
        return this.#result(s, events, [command]);
      }
      case StepKind.Collection:
        return this.#collectionInput(s, c, value, events);
    }
  }

  /**
   * Go back to an earlier step. Answers are kept (and overwritten when the step is answered
   * again). Refused, with the state unchanged, when backtracking is off, the step is unknown or
   * not reached yet, or it is protected (introduction, summary, commit, `allow_backtrack: false`).
   */
  back(state: WizardState, slug: string): WizardResult {
    this.#check(state);
    if (!this.definition.allowBacktrack) return this.#reject(state, 'backtrack_disabled', 'Going back is not enabled for this wizard.');
    const refused = this.#refuseUnlessWaiting(state);
    if (refused) return refused;
    const index = this.#steps.findIndex((c) => c.step.slug === slug);
    if (index < 0) {
      return this.#reject(state, 'unknown_step', `Unknown step: '${slug}'. Steps: ${this.#steps.map((c) => c.step.slug).join(', ')}`);
    }
    const target = (this.#steps[index] as CompiledStep).step;
    if (PROTECTED_KINDS.has(target.kind) || !target.allowBacktrack) {
      const message = `Cannot backtrack to protected step: '${slug}'`;
      const blocked: WizardEvent = {
        type: 'wizard.backtrack.blocked',
        wizard: this.name,
        slug,
        reason: PROTECTED_KINDS.has(target.kind) ? `${target.kind} step` : 'allow_backtrack is false',
      };
      return { ...this.#reject(state, 'protected_step', message), events: [blocked] };
    }
    if (index > state.furthestIndex) {
      return this.#reject(state, 'not_reached', `You have not reached '${slug}' yet; answer the current step first.`);
    }
    const s = structuredClone(state);
    const events: WizardEvent[] = [
      { type: 'wizard.backtrack', wizard: this.name, from: (this.#steps[s.stepIndex])?.step.slug ?? null, to: slug },
    ];
    // Answers may change, so an earlier confirmation of the summary no longer holds.
    s.summaryAck = false;
    s.schemaValid = null;
    this.#enter(s, index, events);
    return this.#result(s, events);
  }

  /** Report the outcome of the pending commit command. Success completes the step; failure fails the run (nothing partial). */
  commitOutcome(state: WizardState, outcome: CommandOutcome): WizardResult {
    this.#check(state);
    const pending = this.#pending(state, 'commit', outcome.requestId);
    const s = structuredClone(state);
    const events: WizardEvent[] = [];
    s.pending = null;
    if (outcome.ok) {
      s.status = 'waiting';
      s.committed = true;
      s.commitResult = outcome.data ?? null;
      events.push({ type: 'wizard.commit.succeeded', wizard: this.name, hook: pending.hook, result: s.commitResult });
      this.#enter(s, s.stepIndex + 1, events);
      return this.#result(s, events);
    }
    s.status = 'failed';
    s.commitError = outcome.error;
    events.push({ type: 'wizard.commit.failed', wizard: this.name, hook: pending.hook, error: outcome.error });
    return { ...this.#result(s, events), error: outcome.error, errors: [outcome.error] };
  }

  /** Report the outcome of the pending resource command. Failure keeps the person on the step with the message. */
  actionOutcome(state: WizardState, outcome: CommandOutcome): WizardResult {
    this.#check(state);
    const pending = this.#pending(state, 'resource', outcome.requestId);
    const s = structuredClone(state);
    const events: WizardEvent[] = [];
    s.pending = null;
    s.status = 'waiting';
    const base = { type: 'wizard.action.executed', wizard: this.name, slug: pending.slug, provider: pending.provider, resource_id: pending.resourceId } as const;
    if (outcome.ok) {
      s.resourceResults[pending.slug] = outcome.data ?? null;
      s.answers[pending.slug] = pending.value;
      events.push({ ...base, ok: true });
      this.#enter(s, s.stepIndex + 1, events);
      return this.#result(s, events);
    }
    events.push({ ...base, ok: false, error: outcome.error });
    return this.#fail(s, pending.slug, [outcome.error || 'The action failed.'], pending.value, events);
  }

  /** The answers and the result of checking all of them (as the summary step does). */
  summary(state: WizardState): { answers: Record<string, unknown>; schemaValid: boolean; errors: string[] } {
    this.#check(state);
    const errors = this.validateAnswers(state.answers);
    return { answers: structuredClone(state.answers), schemaValid: errors.length === 0, errors };
  }

  /** The question to show for a state (also in every result). */
  prompt(state: WizardState): PromptBundle | null {
    return this.#prompt(state);
  }

  /** The command a state is waiting on, to re-issue after a crash (same request id). */
  pendingCommand(state: WizardState): WizardCommand | null {
    return state.pending;
  }

  /**
   * Check every answer again: each answered step's own rules and schema, required steps that
   * have no answer, then the whole-flow schema over all answers. Returns human messages.
   */
  validateAnswers(answers: Readonly<Record<string, unknown>>): string[] {
    const errors: string[] = [];
    const ctx = { ...this.#context(answers), flowSchema: undefined };
    for (const c of this.#steps) {
      const { step } = c;
      if (step.kind !== StepKind.Input && step.kind !== StepKind.Action && step.kind !== StepKind.Collection) continue;
      const value = answers[step.slug];
      if (value === undefined) {
        if (step.required) errors.push(`Missing required answer: ${step.slug}`);
        continue;
      }
      if (step.kind === StepKind.Collection) {
        const items = Array.isArray(value) ? value : [];
        const min = this.#minItems(step);
        if (items.length < min) errors.push(`${step.title}: add at least ${min} item${min === 1 ? '' : 's'}`);
        items.forEach((item, i) => {
          const checked = this.#checkItem(c, item, {});
          if (!checked.ok) for (const message of checked.errors) errors.push(`${step.title} item ${i + 1}: ${message}`);
        });
        continue;
      }
      const outcome = validateField(c, value, ctx);
      if (!outcome.ok) for (const message of outcome.errors) errors.push(`${step.title}: ${message}`);
    }
    if (this.#flow) errors.push(...schemaMessages(this.#flow, answers, '', `wizard '${this.name}'`));
    return [...new Set(errors)];
  }

  /** The state as JSON to store (it already is JSON; this is a copy). */
  persist(state: WizardState): WizardState {
    return structuredClone(state);
  }

  /** Check a stored state and return it typed; refuses another wizard's or another version's state. */
  restore(json: unknown): WizardState {
    const s = json as Partial<WizardState> | null;
    if (s === null || typeof s !== 'object' || s.version !== 1 || typeof s.stepIndex !== 'number' || typeof s.answers !== 'object') {
      throw new WizardStateError('The stored value is not a wizard state (version 1).');
    }
    this.#check(s as WizardState);
    return structuredClone(s as WizardState);
  }

  /** Apply one host signal (the engine's single entry point; see {@link WizardSignal}). */
  transition(state: WizardState, signal: WizardSignal): WizardResult {
    switch (signal.type) {
      case 'input':
        return this.input(state, signal.value);
      case 'back':
        return this.back(state, signal.slug);
      case 'commit.result':
        return this.commitOutcome(state, signal);
      case 'action.result':
        return this.actionOutcome(state, signal);
    }
  }

  // --- internals ------------------------------------------------------------------------------

  #context(answers: Readonly<Record<string, unknown>>): ValidateContext {
    return { wizard: this.name, answers, rules: this.#rules, flowSchema: this.#flow };
  }

  #enter(s: WizardState, index: number, events: WizardEvent[]): void {
    s.validationErrors = [];
    s.draft = null;
    if (index >= this.#steps.length) {
      this.#complete(s, events);
      return;
    }
    s.stepIndex = index;
    s.furthestIndex = Math.max(s.furthestIndex, index);
    const step = (this.#steps[index] as CompiledStep).step;
    events.push({ type: 'wizard.step.started', wizard: this.name, slug: step.slug, step_index: index, kind: step.kind });
    if (step.kind === StepKind.Summary) {
      // The summary is shown even when answers are invalid; the errors come with it.
      const errors = this.validateAnswers(s.answers);
      s.schemaValid = errors.length === 0;
      s.validationErrors = errors;
      events.push({
        type: 'wizard.summary.shown',
        wizard: this.name,
        summary: { answers: structuredClone(s.answers) },
        schema_valid: s.schemaValid,
        errors,
      });
    }
  }

  #complete(s: WizardState, events: WizardEvent[]): void {
    s.stepIndex = this.#steps.length;
    if (this.#steps.some((c) => c.step.kind === StepKind.Commit) && !s.committed) {
      // Unreachable through the API (a commit step only advances once committed); kept as Palm's guard.
      s.status = 'failed';
      s.commitError = 'The wizard finished without committing.';
      return;
    }
    s.status = 'completed';
    events.push({ type: 'wizard.completed', wizard: this.name, answers: structuredClone(s.answers), committed: s.committed });
  }

  #fail(s: WizardState, slug: string, errors: string[], value: unknown, events: WizardEvent[]): WizardResult {
    s.validationErrors = errors;
    events.push({ type: 'wizard.validation.failed', wizard: this.name, slug, errors, value: value === undefined ? null : value });
    return { ...this.#result(s, events), error: errors[0], errors };
  }

  #result(s: WizardState, events: WizardEvent[], commands: WizardCommand[] = []): WizardResult {
    return { state: s, status: s.status, events, prompt: this.#prompt(s), commands };
  }

  #reject(state: WizardState, reason: Rejection, message: string): WizardResult {
    return { state, status: state.status, events: [], prompt: this.#prompt(state), commands: [], error: message, errors: [message], rejected: reason };
  }

  #refuseUnlessWaiting(state: WizardState): WizardResult | undefined {
    if (state.status === 'completed' || state.status === 'failed') return this.#reject(state, 'finished', 'This wizard has already finished.');
    if (state.status === 'committing') return this.#reject(state, 'busy', 'Your changes are being applied; wait until that has finished.');
    if (state.status === 'acting') return this.#reject(state, 'busy', 'The action of this step is still running; wait until it has finished.');
    return undefined;
  }

  #pending<T extends WizardCommand['type']>(state: WizardState, type: T, requestId: string | undefined): Extract<WizardCommand, { type: T }> {
    const pending = state.pending;
    if (!pending || pending.type !== type) {
      throw new WizardStateError(
        `Wizard '${this.name}' has no pending ${type} command${pending ? ` (it waits for a ${pending.type})` : ''}; report an outcome only for the command the wizard issued.`,
      );
    }
    if (requestId !== undefined && requestId !== pending.requestId) {
      throw new WizardStateError(`The outcome is for request '${requestId}', but wizard '${this.name}' waits for '${pending.requestId}'.`);
    }
    return pending as Extract<WizardCommand, { type: T }>;
  }

  #check(state: WizardState): void {
    if (state.wizard !== this.name) {
      throw new WizardStateError(`This state belongs to wizard '${state.wizard}', not '${this.name}'.`);
    }
    if (state.fingerprint !== this.fingerprint) {
      throw new WizardStateError(
        `This state of wizard '${this.name}' was made with a different list of steps; resume it with the definition it started with.`,
      );
    }
  }

  #minItems(step: StepDefinition): number {
    // A required collection needs at least one item, whatever min_items says.
    return Math.max(step.minItems, step.required ? 1 : 0);
  }

  // --- collections ----------------------------------------------------------------------------

  #collectionInput(s: WizardState, c: CompiledStep, value: unknown, events: WizardEvent[]): WizardResult {
    const step = c.step;
    const fields = c.items as CompiledField[];
    const items = Array.isArray(s.answers[step.slug]) ? [...(s.answers[step.slug] as unknown[])] : [];
    const ctx = { ...this.#context(s.answers), flowSchema: undefined };

    if (s.draft) {
      const draft = s.draft;
      const field = fields[draft.field] as CompiledField;
      const keep = draft.mode === 'edit' && (value === '' || value === undefined || value === null);
      if (!keep) {
        const outcome = validateField(field, value, ctx);
        if (!outcome.ok) return this.#fail(s, `${step.slug}.${field.slug}`, outcome.errors, value, events);
        if (outcome.empty) delete draft.item[field.slug];
        else draft.item[field.slug] = outcome.value;
      }
      draft.field++;
      s.validationErrors = [];
      if (draft.field < fields.length) return this.#result(s, events);
      s.draft = null;
      if (draft.mode === 'add') return this.#applyItem(s, step, items, 'add', items.length, draft.item, events);
      return this.#applyItem(s, step, items, 'edit', draft.index as number, draft.item, events);
    }

    const max = step.maxItems;
    const atMax = (): WizardResult | undefined =>
      max !== undefined && items.length >= max ? this.#fail(s, step.slug, [`You can add at most ${max} item${max === 1 ? '' : 's'}.`], value, events) : undefined;
    const position = (n: unknown): number | WizardResult => {
      const i = typeof n === 'string' && /^\d+$/.test(n.trim()) ? Number(n) : n;
      if (typeof i === 'number' && Number.isInteger(i) && i >= 1 && i <= items.length) return i - 1;
      return this.#fail(
        s,
        step.slug,
        [items.length === 0 ? 'There are no items yet.' : `There is no item ${String(n)}; choose 1 to ${items.length}.`],
        value,
        events,
      );
    };

    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const op = (value as Record<string, unknown>).op;
      const raw = (value as Record<string, unknown>).item;
      const index = (value as Record<string, unknown>).index;
      switch (op) {
        case 'add': {
          const full = atMax();
          if (full) return full;
          const checked = this.#checkItem(c, raw, {});
          if (!checked.ok) return this.#fail(s, step.slug, checked.errors, value, events);
          return this.#applyItem(s, step, items, 'add', items.length, checked.item, events);
        }
        case 'edit': {
          const at = position(index);
          if (typeof at !== 'number') return at;
          const checked = this.#checkItem(c, raw, items[at] as Record<string, unknown>);
          if (!checked.ok) return this.#fail(s, step.slug, checked.errors, value, events);
          return this.#applyItem(s, step, items, 'edit', at, checked.item, events);
        }
        case 'remove': {
          const at = position(index);
          if (typeof at !== 'number') return at;
          return this.#applyItem(s, step, items, 'remove', at, undefined, events);
        }
        case 'done':
          return this.#collectionDone(s, step, items, value, events);
        default:
          return this.#fail(s, step.slug, [`Unknown collection operation ${JSON.stringify(op)}; use op: add, edit, remove or done.`], value, events);
      }
    }

    const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
    const command = /^(add|edit|remove|delete|done)(?:\s+(\S+))?$/.exec(text);
    switch (command?.[1]) {
      case 'add': {
        const full = atMax();
        if (full) return full;
        s.draft = { mode: 'add', index: null, field: 0, item: {} };
        s.validationErrors = [];
        return this.#result(s, events);
      }
      case 'edit': {
        const at = position(command[2]);
        if (typeof at !== 'number') return at;
        s.draft = { mode: 'edit', index: at, field: 0, item: structuredClone(items[at] as Record<string, unknown>) };
        s.validationErrors = [];
        return this.#result(s, events);
      }
      case 'remove':
      case 'delete': {
        const at = position(command[2]);
        if (typeof at !== 'number') return at;
        return this.#applyItem(s, step, items, 'remove', at, undefined, events);
      }
      case 'done':
        return this.#collectionDone(s, step, items, value, events);
      default:
        return this.#fail(s, step.slug, ['Type add, edit <number>, remove <number> or done.'], value, events);
    }
  }

  #applyItem(
    s: WizardState,
    step: StepDefinition,
    items: unknown[],
    op: 'add' | 'edit' | 'remove',
    index: number,
    item: Record<string, unknown> | undefined,
    events: WizardEvent[],
  ): WizardResult {
    if (op === 'add') items.push(item);
    else if (op === 'edit') items[index] = item;
    else items.splice(index, 1);
    s.answers[step.slug] = items;
    s.validationErrors = [];
    events.push({ type: 'wizard.collection.changed', wizard: this.name, slug: step.slug, op, index: index + 1, items: structuredClone(items) });
    return this.#result(s, events);
  }

  #collectionDone(s: WizardState, step: StepDefinition, items: unknown[], value: unknown, events: WizardEvent[]): WizardResult {
    const min = this.#minItems(step);
    if (items.length < min) return this.#fail(s, step.slug, [`Add at least ${min} item${min === 1 ? '' : 's'} before you continue.`], value, events);
    if (this.#flow) {
      const messages = flowMessagesFor(this.#flow, { ...s.answers, [step.slug]: items }, step.slug);
      if (messages.length > 0) return this.#fail(s, step.slug, messages, value, events);
    }
    s.answers[step.slug] = items;
    events.push({ type: 'wizard.input.received', wizard: this.name, slug: step.slug, value: structuredClone(items) });
    this.#enter(s, s.stepIndex + 1, events);
    return this.#result(s, events);
  }

  #checkItem(c: CompiledStep, raw: unknown, base: Record<string, unknown>): { ok: true; item: Record<string, unknown> } | { ok: false; errors: string[] } {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return { ok: false, errors: ['Give the item as an object of its fields.'] };
    }
    const fields = c.items as CompiledField[];
    const unknownKeys = Object.keys(raw).filter((k) => !fields.some((f) => f.slug === k));
    if (unknownKeys.length > 0) {
      return { ok: false, errors: [`Unknown field${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((k) => `'${k}'`).join(', ')}; fields: ${fields.map((f) => f.slug).join(', ')}.`] };
    }
    const merged = { ...base, ...(raw as Record<string, unknown>) };
    const errors: string[] = [];
    const item: Record<string, unknown> = {};
    for (const field of fields) {
      const outcome = validateField(field, merged[field.slug], { ...this.#context({}), flowSchema: undefined });
      if (!outcome.ok) errors.push(...outcome.errors.map((m) => `${field.title}: ${m}`));
      else if (!outcome.empty) item[field.slug] = outcome.value;
    }
    return errors.length > 0 ? { ok: false, errors } : { ok: true, item };
  }

  // --- prompts --------------------------------------------------------------------------------

  #prompt(s: WizardState): PromptBundle | null {
    if (s.status === 'completed' || s.status === 'failed') return null;
    const c = this.#steps[s.stepIndex];
    if (!c) return null;
    const step = c.step;
    const bundle: PromptBundle = {
      wizard: this.name,
      slug: step.slug,
      title: step.title,
      prompt: step.prompt,
      field_type: step.fieldType,
      choices: step.choices ?? null,
      required: step.required,
      step_index: s.stepIndex,
      step_kind: step.kind,
      input_key: `__bt_input__:${step.slug}`,
      scope_stack: [step.slug],
      scope_depth: 1,
      current_scope: step.slug,
    };
    const kept = s.answers[step.slug];
    if (kept !== undefined) bundle.current_value = structuredClone(kept);
    if (step.kind === StepKind.Summary || step.kind === StepKind.Commit) bundle.summary = { answers: structuredClone(s.answers) };
    if (step.kind === StepKind.Summary) bundle.schema_valid = s.schemaValid ?? true;
    if (step.kind === StepKind.Commit && step.commitHook !== undefined) bundle.commit_hook = step.commitHook;
    if (step.kind === StepKind.Action && step.resourceProvider !== undefined) bundle.resource_provider = step.resourceProvider;
    if (step.kind === StepKind.Collection) {
      bundle.items = Array.isArray(kept) ? structuredClone(kept) : [];
      bundle.min_items = this.#minItems(step);
      bundle.max_items = step.maxItems ?? null;
      delete bundle.current_value;
      const draft = s.draft;
      const field = draft ? c.items?.[draft.field] : undefined;
      if (draft && field) {
        const slug = `${step.slug}.${field.slug}`;
        Object.assign(bundle, {
          slug,
          title: field.title,
          prompt: field.prompt,
          field_type: field.fieldType,
          choices: field.choices ?? null,
          required: field.required,
          input_key: `__bt_input__:${slug}`,
          scope_stack: [step.slug, field.slug],
          scope_depth: 2,
          current_scope: field.slug,
          item_mode: draft.mode,
          item_index: draft.mode === 'add' ? (bundle.items?.length ?? 0) + 1 : (draft.index ?? 0) + 1,
        });
        if (draft.mode === 'edit' && draft.item[field.slug] !== undefined) bundle.current_value = draft.item[field.slug];
      }
    }
    if (s.validationErrors.length > 0) {
      bundle.validation_error = s.validationErrors[0];
      bundle.validation_errors = [...s.validationErrors];
    }
    if (s.status === 'committing') bundle.busy = 'commit';
    if (s.status === 'acting') bundle.busy = 'action';
    return bundle;
  }
}

/** Make a definition runnable. Custom validation rules are passed here. */
export function createWizard(definition: WizardDefinition, options: WizardOptions = {}): Wizard {
  return new Wizard(definition, options);
}

function fingerprint(def: WizardDefinition): string {
  const text = def.steps.map((s) => `${s.slug}:${s.kind}:${s.fieldType}:${s.itemFields?.map((f) => f.slug).join(',') ?? ''}`).join(';');
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${def.steps.length}-${hash.toString(16)}`;
}
