/**
 * What a wizard tells its host. All of it is JSON data: the engine records events in the run's
 * history, executes commands as durable steps, and shows prompts to the person.
 *
 * Keys of events and prompts are snake_case, as in Palm, because they are the wire format the
 * CLI, the HTTP API and event streams share.
 */
import type { FieldType, StepKind } from './types.js';

export type WizardEvent =
  | { type: 'wizard.step.started'; wizard: string; slug: string; step_index: number; kind: StepKind }
  | { type: 'wizard.input.received'; wizard: string; slug: string; value: unknown }
  | { type: 'wizard.validation.failed'; wizard: string; slug: string; errors: string[]; value: unknown }
  | { type: 'wizard.backtrack'; wizard: string; from: string | null; to: string }
  | { type: 'wizard.backtrack.blocked'; wizard: string; slug: string; reason: string }
  | { type: 'wizard.summary.shown'; wizard: string; summary: { answers: Record<string, unknown> }; schema_valid: boolean; errors: string[] }
  | { type: 'wizard.commit.started'; wizard: string; hook: string; request_id: string }
  | { type: 'wizard.commit.succeeded'; wizard: string; hook: string; result: unknown }
  | { type: 'wizard.commit.failed'; wizard: string; hook: string; error: string }
  | { type: 'wizard.action.executed'; wizard: string; slug: string; provider: string; resource_id: string; ok: boolean; error?: string }
  | {
      type: 'wizard.collection.changed';
      wizard: string;
      slug: string;
      op: 'add' | 'edit' | 'remove';
      /** 1-based position of the item added, edited or removed. */
      index: number;
      items: unknown[];
    }
  | { type: 'wizard.completed'; wizard: string; answers: Record<string, unknown>; committed: boolean };

export type WizardEventType = WizardEvent['type'];

/**
 * Work for the host. `commit` runs the commit handler `hook` with the answers, once, as a
 * durable step; `resource` asks the resource provider for a resource. Report the outcome with
 * the same `requestId`.
 */
export type WizardCommand =
  | { type: 'commit'; requestId: string; wizard: string; hook: string; answers: Record<string, unknown> }
  | {
      type: 'resource';
      requestId: string;
      wizard: string;
      slug: string;
      provider: string;
      resourceId: string;
      /** The answer that triggered the action; recorded as the step's answer on success. */
      value: unknown;
    };

/** The outcome of a command, reported back by the host. */
export type CommandOutcome = ({ ok: true; data?: unknown } | { ok: false; error: string }) & { requestId?: string };

/** Message for a host that has no resource provider for an action step (Palm's wording). */
export const RESOURCE_NOT_CONFIGURED = 'Resource engine is not configured for this action.';

/** What to show the person: the current question and its context (Palm's prompt bundle). */
export interface PromptBundle {
  wizard: string;
  slug: string;
  title: string;
  prompt: string;
  field_type: FieldType;
  choices: string[] | null;
  required: boolean;
  step_index: number;
  step_kind: StepKind;
  /** Where a tree-hosted wizard reads this step's input: `__bt_input__:<slug>`. */
  input_key: string;
  scope_stack: string[];
  scope_depth: number;
  current_scope?: string;
  /** The answer kept from an earlier visit (after going back), or an item field's current value while editing. */
  current_value?: unknown;
  validation_error?: string;
  validation_errors?: string[];
  /** Summary (and commit) steps: the answers to review. */
  summary?: { answers: Record<string, unknown> };
  schema_valid?: boolean;
  commit_hook?: string;
  resource_provider?: string;
  /** Collection steps. */
  items?: unknown[];
  min_items?: number;
  max_items?: number | null;
  /** While editing an item of a collection: 'add' or 'edit', and the 1-based item. */
  item_mode?: 'add' | 'edit';
  item_index?: number;
  /** Set while the host runs this step's command; input is not accepted until it reports back. */
  busy?: 'commit' | 'action';
}
