/**
 * The demo: an order workflow on the embedded SQLite default (./keel-demo.db), showing steps, a
 * durable sleep, a signal and a result. Kill it at any moment (Ctrl-C, or kill -9) and run it
 * again: the unfinished order continues where it was, and no step runs twice once recorded.
 *
 *   npm run demo
 */
import { createEngine, type EngineEvent } from 'keel';
import { order, ship } from './order.js';

process.env.KEEL_DEMO_SLEEP ??= '3s';
const db = process.env.KEEL_DEMO_DB ?? './keel-demo.db';
const engine = createEngine({ store: `sqlite:${db}`, workflows: [order, ship] });

const t0 = Date.now();
const say = (text: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(2)}s] ${text}`);
engine.on('*', (e: EngineEvent) => {
  switch (e.type) {
    case 'step.completed':
      return say(`  ${e.runId}: step '${e.step}' recorded`);
    case 'step.failed':
      return say(`  ${e.runId}: step '${e.step}' failed (${e.error.message})${e.willRetry ? ', will retry' : ''}`);
    case 'run.waiting': {
      const what = e.waitingFor.map((name) => (name.startsWith('@child:') ? `child run ${name.slice(7)}` : `signal '${name}'`));
      if (e.wakeAt !== undefined) what.push(`a timer (${new Date(e.wakeAt).toISOString()})`);
      return say(`  ${e.runId}: waiting for ${what.join(' or ')}`);
    }
    case 'run.resumed':
      return say(`  ${e.runId}: resumed from its history`);
    case 'run.completed':
      return say(`  ${e.runId}: completed`);
    default:
      return;
  }
});

await engine.start();
// Continue an order left unfinished by an earlier, interrupted demo; otherwise start a new one.
const open = await engine.listRuns({ workflow: 'order', status: ['pending', 'running', 'waiting'], limit: 1 });
const all = await engine.listRuns({ workflow: 'order', limit: 1000 });
const id = open.runs[0]?.id ?? `order-${all.runs.length + 1}`;
say(open.runs[0] ? `continuing ${id}, left unfinished by an earlier demo` : `starting ${id} on sqlite:${db}`);
const run = await engine.run(order, { orderId: id, amount: 42 }, { id });

// Approve once the run waits for it (a signal sent earlier would be buffered, never lost).
const approved = (await engine.history(id)).some((e) => e.type === 'signal.received');
if (!approved) {
  for (let i = 0; i < 50 && !(await engine.getRun(id)).waitingFor?.includes('approve'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`sending signal 'approve' to ${id}`);
  await engine.signal(id, 'approve', true);
}

const result = await run.result();
say(`result: ${JSON.stringify(result)}`);
const history = await engine.history(id);
say(`history of ${id}: ${history.length} events (${[...new Set(history.map((e) => e.type))].join(', ')})`);
await engine.stop();
