import { inputKey, promptKey, taskResultKey, type TaskOutcome } from '../tree/leaves.js';
import { TreeNode, type TickContext } from '../tree/node.js';
import { Status } from '../tree/status.js';
import type { WizardCommand } from './events.js';
import type { Wizard, WizardResult, WizardSignal, WizardState } from './wizard.js';

/** Blackboard key of a wizard leaf's state (JSON, so it is part of every tree snapshot). */
export const wizardStateKey = (name: string): string => `__wizard__:${name}`;

/** Task names a wizard leaf's commands are issued under; the task input is the {@link WizardCommand}. */
export const WizardTask = { Commit: 'wizard.commit', Resource: 'wizard.resource' } as const;

/**
 * A wizard as a leaf of a behavior tree (Palm's wizard pattern), so a wizard can be one part of
 * a larger tree — collect answers, then run a pipeline — and be hosted by the same tree logic.
 *
 * - Input arrives at `__bt_input__:<name>` like any interactive leaf: a plain value answers the
 *   current step; a {@link WizardSignal} (`{ type: 'back', slug }`, …) is applied as is.
 * - The prompt bundle is published at `__bt_prompt__:<name>`; the wizard state lives at
 *   `__wizard__:<name>`; every wizard event is reported as a tree notice.
 * - A commit or resource command becomes a task command (`wizard.commit` / `wizard.resource`,
 *   input: the wizard command); its outcome comes back like any task outcome.
 * - It succeeds when the wizard completes (the result `{ answers, committed, commitResult }`
 *   goes to `output`, default the leaf's name) and fails when the wizard fails (a failed commit).
 */
export class WizardLeaf extends TreeNode {
  readonly type = 'wizard';
  readonly wizard: Wizard;
  readonly #output: string;

  constructor(name: string, wizard: Wizard, options: { output?: string } = {}) {
    super(name);
    this.wizard = wizard;
    this.#output = options.output ?? name;
  }

  protected onTick(ctx: TickContext): Status {
    const bb = ctx.blackboard;
    const key = wizardStateKey(this.name);
    const stored = bb.get<WizardState>(key);
    let result: WizardResult = stored === undefined ? this.#record(ctx, this.wizard.start()) : this.#view(stored);

    const outcomeKey = taskResultKey(this.id);
    if (result.state.pending && bb.has(outcomeKey)) {
      const outcome = bb.take<TaskOutcome>(outcomeKey) as TaskOutcome;
      const reported = outcome.ok
        ? { ok: true as const, data: outcome.value, requestId: result.state.pending.requestId }
        : { ok: false as const, error: outcome.error, requestId: result.state.pending.requestId };
      result = this.#record(
        ctx,
        result.state.pending.type === 'commit' ? this.wizard.commitOutcome(result.state, reported) : this.wizard.actionOutcome(result.state, reported),
      );
    }
    const input = inputKey(this.name);
    if (bb.has(input)) {
      const value = bb.take(input);
      result = this.#record(ctx, isSignal(value) ? this.wizard.transition(result.state, value) : this.wizard.input(result.state, value));
    }

    if (result.status === 'completed') {
      bb.delete(promptKey(this.name));
      bb.set(this.#output, { answers: result.state.answers, committed: result.state.committed, commitResult: result.state.commitResult ?? null });
      bb.delete(key);
      return Status.Success;
    }
    if (result.status === 'failed') {
      bb.delete(promptKey(this.name));
      bb.set(`${this.#output}.error`, result.state.commitError ?? 'The wizard failed.');
      bb.delete(key);
      return Status.Failure;
    }
    return Status.Waiting;
  }

  protected override onHalt(ctx: TickContext): void {
    ctx.blackboard.delete(promptKey(this.name));
    ctx.blackboard.delete(wizardStateKey(this.name));
    ctx.blackboard.delete(taskResultKey(this.id));
  }

  #view(state: WizardState): WizardResult {
    return { state, status: state.status, events: [], prompt: this.wizard.prompt(state), commands: [] };
  }

  #record(ctx: TickContext, result: WizardResult): WizardResult {
    ctx.blackboard.set(wizardStateKey(this.name), result.state);
    for (const event of result.events) ctx.notices.push({ node: this.id, event });
    for (const command of result.commands) ctx.commands.push({ type: 'task', node: this.id, task: taskName(command), input: command });
    if (result.prompt) {
      // A refused operation's message is shown with the prompt, as a validation error would be.
      const prompt = result.rejected && result.error !== undefined ? { ...result.prompt, validation_error: result.error, validation_errors: result.errors } : result.prompt;
      ctx.blackboard.set(promptKey(this.name), prompt);
    } else {
      ctx.blackboard.delete(promptKey(this.name));
    }
    return result;
  }
}

function taskName(command: WizardCommand): string {
  return command.type === 'commit' ? WizardTask.Commit : WizardTask.Resource;
}

function isSignal(value: unknown): value is WizardSignal {
  if (value === null || typeof value !== 'object') return false;
  const type = (value as { type?: unknown }).type;
  return type === 'input' || type === 'back' || type === 'commit.result' || type === 'action.result';
}
