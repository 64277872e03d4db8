import { describe, expect, it } from 'vitest';
import { EventBus, type BusEvent } from '../../src/machine/event-bus.js';
import { createMachineActor, MachineNotActiveError } from '../../src/machine/machine-runner.js';
import { persist } from '../../src/machine/interpreter.js';
import { action, FakeClock, field, final, initial, machine, state, t } from './fixtures.js';
import { loadExamples } from './examples.js';

const examples = await loadExamples();

function recorder(bus: EventBus): BusEvent[] {
  const events: BusEvent[] = [];
  bus.subscribe('*', (e) => void events.push(e));
  return events;
}

describe('machine actor', () => {
  it('runs simple-toggle and publishes the lifecycle', async () => {
    const bus = new EventBus();
    const events = recorder(bus);
    const actor = createMachineActor(examples.simpleToggle, {
      bus,
      actions: { increment_count: (ctx) => ({ count: (ctx.count as number) + 1 }) },
    });
    await expect(actor.send('toggle')).rejects.toBeInstanceOf(MachineNotActiveError);
    await actor.start();
    for (let i = 0; i < 3; i++) await actor.send('toggle');
    expect(actor.snapshot()).toMatchObject({ value: 'on', context: { count: 3 } });
    await actor.stop();
    await expect(actor.send('toggle')).rejects.toThrow(/stopped/);
    expect(events.map((e) => e.type)).toEqual([
      'orca.machine.started',
      ...Array(3).fill(['orca.transition.started', 'orca.state.changed', 'orca.transition.completed']).flat(),
      'orca.machine.stopped',
    ]);
    expect(events[1]).toMatchObject({ source: 'SimpleToggle', eventName: 'toggle', payload: { from: 'off', to: 'on', trigger: 'toggle' } });
  });

  it('returns untaken results without publishing a transition', async () => {
    const bus = new EventBus();
    const events = recorder(bus);
    const actor = createMachineActor(examples.parallelOrder, { bus });
    await actor.start();
    expect(await actor.send('CANCEL')).toMatchObject({ taken: false, ignored: true });
    expect(events.map((e) => e.type)).toEqual(['orca.machine.started']);
  });

  it('executes effects, merges their data, and reports failures', async () => {
    const bus = new EventBus();
    const events = recorder(bus);
    bus.registerEffectHandler('EmailSend', () => ({ notification_status: 'emailed' }));
    const actor = createMachineActor(examples.parallelOrder, {
      bus,
      effects: { PaymentCharge: (effect) => ({ payment_status: `charged:${String((effect.payload as { action: string }).action)}` }) },
    });
    await actor.start();
    await actor.send('PLACE_ORDER');
    expect(actor.snapshot().context).toMatchObject({ payment_status: 'charged:chargePayment', notification_status: 'emailed' });
    await actor.send('EMAIL_SENT'); // enters sending_sms: SmsSend has no handler
    const failed = events.find((e) => e.type === 'orca.effect.failed');
    expect(failed?.payload).toMatchObject({ effect: { type: 'SmsSend' }, error: 'No handler registered for effect type: SmsSend' });
    expect(events.filter((e) => e.type === 'orca.effect.completed')).toHaveLength(2);
    // The failed effect does not move the machine.
    expect(actor.snapshot().value).toEqual({ processing: { payment_flow: 'charging', notification_flow: 'sending_sms' } });
  });

  it('fires timeouts on the injected clock and cancels them on a manual transition', async () => {
    const clock = new FakeClock();
    const m = machine('Timed', {
      states: [initial('waiting', { timeout: { duration: '30s', target: 'expired' } }), state('expired'), state('answered')],
      transitions: [t('waiting', 'answer', 'answered'), t('expired', 'retry', 'waiting')],
    });
    const bus = new EventBus({ clock });
    const events = recorder(bus);
    const actor = createMachineActor(m, { bus });
    await actor.start();
    clock.advance(29_999);
    await actor.settled();
    expect(actor.snapshot().value).toBe('waiting');
    clock.advance(1);
    await actor.settled();
    expect(actor.snapshot().value).toBe('expired');
    expect(events.find((e) => e.type === 'orca.transition.completed')?.payload).toEqual({ from: 'waiting', to: 'expired', trigger: 'timeout' });

    await actor.send('retry');
    expect(clock.size).toBe(1);
    await actor.send('answer');
    expect(clock.size).toBe(0);
    clock.advance(60_000);
    await actor.settled();
    expect(actor.snapshot().value).toBe('answered');
  });

  it('resumes from a stored snapshot without entry actions, and re-arms the remaining timer', async () => {
    const clock = new FakeClock(1_000);
    const entered: string[] = [];
    const m = machine('Resumable', {
      context: [field('n', 0)],
      states: [initial('idle'), state('working', { onEntry: 'start_work', timeout: { duration: '1m', target: 'late' } }), state('late')],
      transitions: [t('idle', 'go', 'working')],
    });
    const options = { clock, actions: { start_work: () => void entered.push('start_work') } };
    const first = createMachineActor(m, options);
    await first.start();
    await first.send('go');
    const stored = JSON.stringify(persist(first.snapshot()));
    await first.stop();
    expect(clock.size).toBe(0);

    clock.advance(20_000);
    const second = createMachineActor(m, options);
    await second.resume(stored);
    expect(entered).toEqual(['start_work']);
    expect(second.snapshot().value).toBe('working');
    clock.advance(39_999);
    await second.settled();
    expect(second.snapshot().value).toBe('working');
    clock.advance(1);
    await second.settled();
    expect(second.snapshot().value).toBe('late');
  });

  it('reports an action that throws to onError and rejects the send, keeping the state', async () => {
    const errors: string[] = [];
    const actor = createMachineActor(examples.simpleToggle, {
      actions: {
        increment_count: () => {
          throw new Error('no counting today');
        },
      },
      onError: (e) => void errors.push(e.message),
    });
    await actor.start();
    await expect(actor.send('toggle')).rejects.toThrow('no counting today');
    expect(errors).toEqual(['no counting today']);
    expect(actor.snapshot().value).toBe('off');
  });
});

describe('machine actor: invoke', () => {
  const child = machine('Child', {
    context: [field('order', null), field('total', 0)],
    states: [initial('busy', { onEntry: 'check' }), final('finished')],
    transitions: [t('busy', 'finish', 'finished', { action: 'sum' })],
    actions: [action('check'), action('sum')],
  });
  const parent = machine('Parent', {
    context: [field('order_id', 'o-1'), field('child_total', null), field('error', null)],
    events: ['child_done', 'child_failed'],
    states: [
      initial('waiting', { invoke: { machine: 'Child', input: { order: 'ctx.order_id' }, onDone: 'child_done', onError: 'child_failed' } }),
      final('ok'),
      final('broken'),
    ],
    transitions: [t('waiting', 'child_done', 'ok', { action: 'keep_total' }), t('waiting', 'child_failed', 'broken', { action: 'keep_error' })],
  });
  const actions = {
    sum: (ctx: Record<string, unknown>) => ({ total: `${String(ctx.order)}:3` }),
    keep_total: (_ctx: unknown, payload: unknown) => ({ child_total: (payload as { context: { total: string } }).context.total }),
    keep_error: (_ctx: unknown, payload: unknown) => ({ error: (payload as { error: string }).error }),
  };

  it('starts the child with its input and moves on when it finishes', async () => {
    const actor = createMachineActor(parent, { machines: [child], actions });
    await actor.start();
    const [kid] = actor.children().values();
    expect(kid?.snapshot().context).toEqual({ order: 'o-1', total: 0 });
    await kid!.send('finish');
    await actor.settled();
    expect(actor.snapshot()).toMatchObject({ value: 'ok', status: 'done', context: { child_total: 'o-1:3' } });
    expect(actor.children().size).toBe(0);
  });

  it('sends on_error when the child fails', async () => {
    const actor = createMachineActor(parent, {
      machines: [child],
      actions: {
        ...actions,
        check: () => {
          throw new Error('child exploded');
        },
      },
    });
    await actor.start();
    await actor.settled();
    expect(actor.snapshot()).toMatchObject({ value: 'broken', context: { error: 'child exploded' } });
  });

  it('sends on_error when the child machine is unknown', async () => {
    const actor = createMachineActor(parent, { actions });
    await actor.start();
    await actor.settled();
    expect(actor.snapshot().context.error).toMatch(/Unknown machine 'Child'/);
  });
});
