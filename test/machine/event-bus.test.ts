import { describe, expect, it } from 'vitest';
import { EventBus, OrcaEventType, type BusEvent } from '../../src/machine/event-bus.js';
import { FakeClock } from './fixtures.js';

describe('event bus: publish/subscribe', () => {
  it('delivers to every subscriber of the type and to * subscribers, stamped by the clock', async () => {
    const clock = new FakeClock(1_000);
    const bus = new EventBus({ clock });
    const seen: string[] = [];
    bus.subscribe(OrcaEventType.MachineStarted, (e) => void seen.push(`a:${e.type}@${e.timestamp}:${e.source}`));
    bus.subscribe('*', (e) => void seen.push(`any:${e.type}`));
    await bus.publish({ type: OrcaEventType.MachineStarted, payload: {}, source: 'Toggle' });
    await bus.publish({ type: OrcaEventType.MachineStopped, payload: {} });
    expect(seen).toEqual(['a:orca.machine.started@1000:Toggle', 'any:orca.machine.started', 'any:orca.machine.stopped']);
  });

  it('ignores a duplicate subscription and unsubscribes', async () => {
    const bus = new EventBus();
    let calls = 0;
    const handler = (): void => {
      calls++;
    };
    const off = bus.subscribe('x', handler);
    bus.subscribe('x', handler);
    expect(bus.subscriberCount('x')).toBe(1);
    await bus.publish({ type: 'x', payload: null });
    off();
    await bus.publish({ type: 'x', payload: null });
    expect(calls).toBe(1);
    expect(bus.unsubscribe('x', handler)).toBe(false);
  });

  it('isolates failing subscribers, sync and async, and reports them', async () => {
    const errors: string[] = [];
    const bus = new EventBus({ onHandlerError: (err, e) => void errors.push(`${e.type}: ${err.message}`) });
    const got: unknown[] = [];
    bus.subscribe('x', () => {
      throw new Error('sync boom');
    });
    bus.subscribe('x', () => Promise.reject(new Error('async boom')));
    bus.subscribe('x', (e: BusEvent) => void got.push(e.payload));
    await expect(bus.publish({ type: 'x', payload: 42 })).resolves.toBeUndefined();
    expect(got).toEqual([42]);
    expect(errors.sort()).toEqual(['x: async boom', 'x: sync boom']);
  });

  it('runs async subscribers concurrently and waits for all of them', async () => {
    const bus = new EventBus();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    bus.subscribe('x', async () => {
      order.push('slow start');
      await gate;
      order.push('slow end');
    });
    bus.subscribe('x', () => void order.push('fast'));
    const done = bus.publish({ type: 'x', payload: null });
    expect(order).toEqual(['slow start', 'fast']);
    release();
    await done;
    expect(order).toEqual(['slow start', 'fast', 'slow end']);
  });
});

describe('event bus: effects', () => {
  it('executes registered handlers and turns throws and missing handlers into failures', async () => {
    const bus = new EventBus();
    bus.registerEffectHandler('Charge', (effect) => ({ charged: (effect.payload as { amount: number }).amount }));
    const off = bus.registerEffectHandler('Boom', () => {
      throw new Error('card declined');
    });
    expect(await bus.executeEffect({ type: 'Charge', payload: { amount: 5 } })).toEqual({ status: 'success', data: { charged: 5 } });
    expect(await bus.executeEffect({ type: 'Boom', payload: null })).toEqual({ status: 'failure', error: 'card declined' });
    off();
    expect(await bus.executeEffect({ type: 'Boom', payload: null })).toEqual({
      status: 'failure',
      error: 'No handler registered for effect type: Boom',
    });
  });
});

describe('event bus: request/response', () => {
  it('resolves with the payload of the response carrying the same correlation id', async () => {
    const bus = new EventBus({ ids: () => 'req-1' });
    bus.subscribe('scheduling.query', async (e) => {
      // A response for another request first: it must not be taken.
      await bus.publish({ type: 'scheduling.query_response', payload: 'wrong', correlationId: 'other' });
      await bus.publish({ type: 'scheduling.query_response', payload: { slots: [9, 10] }, correlationId: e.correlationId! });
    });
    await expect(bus.requestResponse('scheduling.query', { day: 1 }, 'scheduling.query_response')).resolves.toEqual({ slots: [9, 10] });
    expect(bus.subscriberCount('scheduling.query_response')).toBe(0);
  });

  it('times out on the injected clock, and unsubscribes', async () => {
    const clock = new FakeClock();
    const bus = new EventBus({ clock });
    const pending = bus.requestResponse('q', null, 'r', { correlationId: 'c-9', timeoutMs: 2_000 });
    expect(bus.subscriberCount('r')).toBe(1);
    clock.advance(1_999);
    clock.advance(1);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError', message: 'Request c-9 timed out after 2000ms' });
    expect(bus.subscriberCount('r')).toBe(0);
    expect(clock.size).toBe(0);
  });

  it('cancels its timer when answered', async () => {
    const clock = new FakeClock();
    const bus = new EventBus({ clock });
    bus.subscribe('q', (e) => bus.publish({ type: 'r', payload: 'ok', correlationId: e.correlationId! }));
    await expect(bus.requestResponse('q', null, 'r')).resolves.toBe('ok');
    expect(clock.size).toBe(0);
  });
});
