/**
 * The order workflow of DESIGN §4: a charge with retries and a timeout, an approval signal with a
 * deadline, a refund when refused, a durable sleep, parallel steps, a child run, and queryable state.
 */
import { defineWorkflow } from 'keel';
import { z } from 'zod';

/** A stand-in payment provider: in real code these calls go to the outside world. */
export const payments = {
  charge: (input: { orderId: string; amount: number }) => ({ chargeId: `ch_${input.orderId}`, amount: input.amount }),
  refund: (charge: { chargeId: string }) => ({ refunded: charge.chargeId }),
};

export const ship = defineWorkflow({
  name: 'ship',
  input: z.object({ orderId: z.string() }),
  async run(ctx, input) {
    const label = await ctx.step('print-label', () => `label-${input.orderId}`);
    return ctx.step('hand-over', () => ({ label, carrier: 'keel-express' }));
  },
});

export const order = defineWorkflow({
  name: 'order',
  input: z.object({ orderId: z.string(), amount: z.number().positive() }),
  async run(ctx, input) {
    await ctx.state.set('phase', 'charging');
    const charge = await ctx.step('charge', () => payments.charge(input), {
      retry: { maxAttempts: 5, initialDelay: '1s', backoff: 2 },
      timeout: '30s',
    });
    await ctx.state.set('phase', 'awaiting approval');
    const ok = await ctx.waitForSignal<boolean>('approve', { timeout: '1d' });
    if (!ok) {
      await ctx.step('refund', () => payments.refund(charge));
      await ctx.state.set('phase', 'refunded');
      return { status: 'cancelled' as const, charge };
    }
    await ctx.state.set('phase', 'cooling off');
    await ctx.sleep(process.env.KEEL_DEMO_SLEEP ?? '1h');
    const [invoice, receipt] = await Promise.all([
      ctx.step('invoice', () => `invoice-${input.orderId}`),
      ctx.step('receipt', () => `receipt-${input.orderId}`),
    ]);
    const shipped = await ctx.child(ship, { orderId: input.orderId });
    await ctx.state.set('phase', 'done');
    return { status: 'shipped' as const, charge, invoice, receipt, shipped };
  },
});
