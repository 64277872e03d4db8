/**
 * The Store contract: one suite that every adapter runs (STYLE §3). It pins the invariants written
 * in src/core/store.ts and the reference semantics of the memory store, so that a workflow behaves
 * the same on memory, SQLite and PostgreSQL.
 *
 * Times are fixed epoch milliseconds handed to the store, never the wall clock: the port says
 * adapters read no clock, and a test that passes only at some hour of the day is a defect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/core/errors.js';
import type { EventData } from '../src/core/history.js';
import { taskSignal, type NewHumanTask } from '../src/core/human-task.js';
import { CANCEL_SIGNAL, childSignal } from '../src/core/store.js';
import type { Lease, NewRun, RunRecord, RunStatus, RunWrite, StatusChange, Store } from '../src/core/store.js';

export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

function newRun(id: string, extra: Partial<NewRun> = {}): NewRun {
  return { id, kind: 'workflow', workflow: 'order', version: '1', input: { orderId: id }, ...extra };
}

const step = (pos: number, name = `s${pos}`): EventData => ({ type: 'step.started', pos, name, attempt: 1 });
const done = (pos: number, result: unknown, name = `s${pos}`): EventData => ({
  type: 'step.completed',
  pos,
  name,
  attempt: 1,
  result,
});

export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.open();
      await store.open(); // idempotent by contract
    });

    afterEach(async () => {
      await cleanup();
    });

    /** Create a run and claim it; returns its lease. */
    async function started(id: string, now = T0, extra: Partial<NewRun> = {}): Promise<Lease> {
      const { lease } = await store.createRun({ ...newRun(id, extra), claim: { owner: 'w1', expiresAt: now + LEASE } }, now);
      if (!lease) throw new Error(`run ${id} already existed`);
      return lease;
    }

    async function writeOne(w: RunWrite, now = T0 + 10) {
      const [result] = await store.write([w], now);
      if (!result) throw new Error('write returned no result');
      return result;
    }

    async function mustGet(id: string): Promise<RunRecord> {
      const run = await store.getRun(id);
      if (!run) throw new Error(`run ${id} not found`);
      return run;
    }

    /** Put a claimed run to sleep until a message named `names` arrives (or `wakeAt`). */
    async function suspend(lease: Lease, names: string[], wakeAt: number | null = null, now = T0 + 10) {
      const r = await writeOne({ runId: lease.runId, token: lease.token, events: [], transition: { status: 'waiting', wakeAt, waitingFor: names } }, now);
      expect(r).toMatchObject({ ok: true, suspended: true });
    }

    describe('createRun', () => {
      it('creates a pending run that is due at once, with token 0 and run.started at seq 1', async () => {
        const res = await store.createRun(newRun('r1'), T0);
        expect(res.created).toBe(true);
        expect(res.lease).toBeUndefined();
        expect(res.run).toEqual({
          id: 'r1',
          kind: 'workflow',
          workflow: 'order',
          version: '1',
          status: 'pending',
          input: { orderId: 'r1' },
          state: {},
          createdAt: T0,
          updatedAt: T0,
          wakeAt: T0,
          leaseToken: 0,
          lastSeq: 1,
        });
        expect(await store.getRun('r1')).toEqual(res.run);
        expect(await store.history('r1')).toEqual([
          { type: 'run.started', workflow: 'order', version: '1', input: { orderId: 'r1' }, runId: 'r1', seq: 1, at: T0 },
        ]);
      });

      it('records the parent in the run and in run.started', async () => {
        await store.createRun(newRun('p'), T0);
        const { run } = await store.createRun(newRun('c', { parentId: 'p', kind: 'machine' }), T0);
        expect(run).toMatchObject({ parentId: 'p', kind: 'machine' });
        const [ev] = await store.history('c');
        expect(ev).toMatchObject({ type: 'run.started', parentId: 'p', seq: 1 });
      });

      it('is idempotent by id: the second call returns created false and the stored record unchanged', async () => {
        const first = await store.createRun(newRun('r1'), T0);
        const again = await store.createRun(
          newRun('r1', { workflow: 'other', input: { different: true }, claim: { owner: 'w9', expiresAt: T0 + 99 } }),
          T0 + 500,
        );
        expect(again.created).toBe(false);
        expect(again.lease).toBeUndefined();
        expect(again.run).toEqual(first.run);
        expect(await store.history('r1')).toHaveLength(1);
      });

      it('with claim creates the run running under a lease with token 1', async () => {
        const res = await store.createRun({ ...newRun('r1'), claim: { owner: 'w1', expiresAt: T0 + LEASE } }, T0);
        expect(res.created).toBe(true);
        expect(res.lease).toEqual({ runId: 'r1', owner: 'w1', token: 1, expiresAt: T0 + LEASE });
        expect(res.run).toMatchObject({ status: 'running', leaseToken: 1, leaseOwner: 'w1', leaseExpiresAt: T0 + LEASE });
        expect(res.run.wakeAt).toBeUndefined();
        expect(await store.getRun('r1')).toEqual(res.run);
        // The live lease keeps it from being claimed again.
        expect(await store.claimDue({ owner: 'w2', now: T0 + 1, leaseMs: LEASE, limit: 10 })).toEqual([]);
        expect(await store.claimRun('r1', { owner: 'w2', now: T0 + 1, leaseMs: LEASE })).toBeUndefined();
      });

      it('stores values as JSON (undefined properties vanish, dates become strings)', async () => {
        const { run } = await store.createRun(newRun('j', { input: { a: 1, b: undefined, d: new Date(0), n: null } }), T0);
        const expected = { a: 1, d: '1970-01-01T00:00:00.000Z', n: null };
        expect(run.input).toStrictEqual(expected);
        expect((await mustGet('j')).input).toStrictEqual(expected);
      });

      it('keeps null and undefined inputs apart', async () => {
        await store.createRun(newRun('null-input', { input: null }), T0);
        await store.createRun(newRun('no-input', { input: undefined }), T0);
        expect((await mustGet('null-input')).input).toBeNull();
        expect((await mustGet('no-input')).input).toBeUndefined();
      });
    });

    describe('createRuns (optional batch form)', () => {
      it('creates each run as createRun would, in input order, idempotent by id', async () => {
        if (!store.createRuns) return; // optional: the engine falls back to createRun
        await store.createRun(newRun('b1'), T0);
        const results = await store.createRuns(
          [newRun('b0'), newRun('b1', { input: { other: true } }), { ...newRun('b2'), claim: { owner: 'w1', expiresAt: T0 + LEASE } }],
          T0 + 5,
        );
        expect(results.map((r) => [r.run.id, r.created, r.lease?.token])).toEqual([
          ['b0', true, undefined],
          ['b1', false, undefined],
          ['b2', true, 1],
        ]);
        expect(results[1]?.run.input).toEqual({ orderId: 'b1' });
        expect((await store.getRun('b2'))?.status).toBe('running');
        expect((await store.history('b0')).map((e) => e.type)).toEqual(['run.started']);
        expect(await store.createRuns([], T0)).toEqual([]);
      });
    });

    describe('reads', () => {
      it('getRun returns undefined for an unknown id; history and inbox are empty', async () => {
        expect(await store.getRun('nope')).toBeUndefined();
        expect(await store.history('nope')).toEqual([]);
        expect(await store.inbox('nope')).toEqual([]);
      });

      it('findRunIds returns ids with the prefix, sorted, at most limit', async () => {
        for (const id of ['abc-2', 'abc-1', 'abd-1', 'xabc', 'abc-3']) await store.createRun(newRun(id), T0);
        expect(await store.findRunIds('abc', 10)).toEqual(['abc-1', 'abc-2', 'abc-3']);
        expect(await store.findRunIds('abc', 2)).toEqual(['abc-1', 'abc-2']);
        expect(await store.findRunIds('ab', 10)).toEqual(['abc-1', 'abc-2', 'abc-3', 'abd-1']);
        expect(await store.findRunIds('abd-1', 10)).toEqual(['abd-1']);
        expect(await store.findRunIds('zz', 10)).toEqual([]);
        // A prefix is literal: no pattern characters.
        expect(await store.findRunIds('ab%', 10)).toEqual([]);
        expect(await store.findRunIds('ABC', 10)).toEqual([]);
      });

      it('history returns events in seq order, after afterSeq when given', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [step(1), done(1, 'a'), step(2)] });
        const all = await store.history('r1');
        expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
        expect(all.map((e) => e.type)).toEqual(['run.started', 'step.started', 'step.completed', 'step.started']);
        expect((await store.history('r1', 2)).map((e) => e.seq)).toEqual([3, 4]);
        expect(await store.history('r1', 4)).toEqual([]);
        expect((await store.history('r1', 0)).length).toBe(4);
      });

      it('inbox lists unconsumed messages oldest first', async () => {
        await store.createRun(newRun('r1'), T0);
        const a = await store.sendSignal('r1', 'b-second', 1, T0 + 2);
        const b = await store.sendSignal('r1', 'a-first', { x: [1, 2] }, T0 + 1);
        const c = await store.sendSignal('r1', 'a-first', null, T0 + 3);
        expect(b.id).toBeGreaterThan(a.id);
        expect(c.id).toBeGreaterThan(b.id);
        expect(await store.inbox('r1')).toEqual([
          { id: a.id, runId: 'r1', name: 'b-second', payload: 1, sentAt: T0 + 2 },
          { id: b.id, runId: 'r1', name: 'a-first', payload: { x: [1, 2] }, sentAt: T0 + 1 },
          { id: c.id, runId: 'r1', name: 'a-first', payload: null, sentAt: T0 + 3 },
        ]);
      });
    });

    describe('listRuns', () => {
      async function seed(): Promise<void> {
        // Created at increasing times; 'b' and 'c' share one createdAt to exercise the id tie-break.
        await store.createRun(newRun('a', { workflow: 'w1' }), T0 + 1);
        await store.createRun(newRun('c', { workflow: 'w2' }), T0 + 2);
        await store.createRun(newRun('b', { workflow: 'w1' }), T0 + 2);
        await store.createRun(newRun('d', { workflow: 'w2', parentId: 'a' }), T0 + 3);
        await store.createRun(newRun('e', { workflow: 'w1', parentId: 'a' }), T0 + 4);
        const lease = await store.claimRun('e', { owner: 'w1', now: T0 + 5, leaseMs: LEASE });
        await writeOne({ runId: 'e', token: lease!.token, events: [], transition: { status: 'completed', output: 1 } });
        await store.claimRun('d', { owner: 'w1', now: T0 + 5, leaseMs: LEASE });
      }
      const ids = (runs: RunRecord[]) => runs.map((r) => r.id);

      it('lists newest first, ties broken by id descending', async () => {
        await seed();
        const page = await store.listRuns({});
        expect(ids(page.runs)).toEqual(['e', 'd', 'c', 'b', 'a']);
        expect(page.nextCursor).toBeUndefined();
        expect(page.runs[0]).toEqual(await store.getRun('e'));
      });

      it('filters by one status, several statuses, workflow and parent', async () => {
        await seed();
        expect(ids((await store.listRuns({ status: 'pending' })).runs)).toEqual(['c', 'b', 'a']);
        expect(ids((await store.listRuns({ status: ['completed', 'running'] })).runs)).toEqual(['e', 'd']);
        expect(ids((await store.listRuns({ status: ['failed'] })).runs)).toEqual([]);
        expect(ids((await store.listRuns({ status: [] })).runs)).toEqual([]);
        expect(ids((await store.listRuns({ workflow: 'w1' })).runs)).toEqual(['e', 'b', 'a']);
        expect(ids((await store.listRuns({ parentId: 'a' })).runs)).toEqual(['e', 'd']);
        expect(ids((await store.listRuns({ workflow: 'w2', parentId: 'a' })).runs)).toEqual(['d']);
        expect(ids((await store.listRuns({ workflow: 'w1', status: 'pending' })).runs)).toEqual(['b', 'a']);
        expect(ids((await store.listRuns({ workflow: 'nope' })).runs)).toEqual([]);
      });

      it('pages with limit and cursor across runs that share createdAt, without gaps or repeats', async () => {
        // 12 runs at one instant, 5 later ones, 3 earlier ones.
        for (let i = 0; i < 12; i++) await store.createRun(newRun(`same-${String(i).padStart(2, '0')}`), T0 + 100);
        for (let i = 0; i < 5; i++) await store.createRun(newRun(`late-${i}`), T0 + 200 + i);
        for (let i = 0; i < 3; i++) await store.createRun(newRun(`early-${i}`), T0 + i);
        const full = ids((await store.listRuns({ limit: 1000 })).runs);
        expect(full).toHaveLength(20);

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listRuns(cursor === undefined ? { limit: 3 } : { limit: 3, cursor });
          expect(page.runs.length).toBeLessThanOrEqual(3);
          seen.push(...ids(page.runs));
          cursor = page.nextCursor;
          pages++;
        } while (cursor !== undefined && pages < 50);
        expect(seen).toEqual(full);
        expect(pages).toBe(7);
      });

      it('gives no cursor when the last page is exactly full', async () => {
        for (let i = 0; i < 4; i++) await store.createRun(newRun(`r${i}`), T0 + i);
        const first = await store.listRuns({ limit: 2 });
        expect(ids(first.runs)).toEqual(['r3', 'r2']);
        const second = await store.listRuns({ limit: 2, cursor: first.nextCursor! });
        expect(ids(second.runs)).toEqual(['r1', 'r0']);
        expect(second.nextCursor).toBeUndefined();
      });

      it('pages within a filter', async () => {
        for (let i = 0; i < 6; i++) await store.createRun(newRun(`r${i}`, { workflow: i % 2 === 0 ? 'even' : 'odd' }), T0 + i);
        const first = await store.listRuns({ workflow: 'even', limit: 2 });
        expect(ids(first.runs)).toEqual(['r4', 'r2']);
        const second = await store.listRuns({ workflow: 'even', limit: 2, cursor: first.nextCursor! });
        expect(ids(second.runs)).toEqual(['r0']);
        expect(second.nextCursor).toBeUndefined();
      });

      it('defaults to 50 runs a page', async () => {
        for (let i = 0; i < 55; i++) await store.createRun(newRun(`r${String(i).padStart(2, '0')}`), T0 + i);
        const page = await store.listRuns({});
        expect(page.runs).toHaveLength(50);
        expect(page.nextCursor).toBeDefined();
        expect((await store.listRuns({ cursor: page.nextCursor! })).runs).toHaveLength(5);
      });

      it('rejects an invalid cursor with INVALID_CURSOR, as the status-change feed does', async () => {
        await store.createRun(newRun('a'), T0);
        await expect(store.listRuns({ cursor: 'not a cursor' })).rejects.toMatchObject({ code: ErrorCode.InvalidCursor });
        await expect(store.listRuns({ cursor: Buffer.from('{"x":1}').toString('base64url') })).rejects.toMatchObject({
          code: ErrorCode.InvalidCursor,
        });
      });
    });

    describe('sendSignal', () => {
      it('stores the message in the inbox and returns it', async () => {
        await store.createRun(newRun('r1'), T0);
        const msg = await store.sendSignal('r1', 'approve', { ok: true }, T0 + 5);
        expect(msg).toEqual({ id: msg.id, runId: 'r1', name: 'approve', payload: { ok: true }, sentAt: T0 + 5 });
        expect(typeof msg.id).toBe('number');
        expect(await store.inbox('r1')).toEqual([msg]);
      });

      it('throws NotFoundError for an unknown run', async () => {
        await expect(store.sendSignal('ghost', 'x', 1, T0)).rejects.toMatchObject({ code: ErrorCode.NotFound, name: 'NotFoundError' });
      });

      it('throws ConflictError for a terminal run and stores nothing', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [], transition: { status: 'cancelled' } });
        await expect(store.sendSignal('r1', 'x', 1, T0 + 20)).rejects.toMatchObject({ code: ErrorCode.Conflict, name: 'ConflictError' });
        expect(await store.inbox('r1')).toEqual([]);
      });

      it('wakes a waiting run only for a name it waits for', async () => {
        const lease = await started('r1');
        await suspend(lease, ['approve']);
        expect(await store.nextWakeAt()).toBeUndefined();

        await store.sendSignal('r1', 'other', 1, T0 + 20);
        expect(await mustGet('r1')).toMatchObject({ status: 'waiting' });
        expect((await mustGet('r1')).wakeAt).toBeUndefined();
        expect(await store.claimDue({ owner: 'w2', now: T0 + 30, leaseMs: LEASE, limit: 10 })).toEqual([]);

        await store.sendSignal('r1', 'approve', true, T0 + 40);
        expect(await mustGet('r1')).toMatchObject({ status: 'waiting', wakeAt: T0 + 40, updatedAt: T0 + 40 });
        expect(await store.nextWakeAt()).toBe(T0 + 40);
        const leases = await store.claimDue({ owner: 'w2', now: T0 + 40, leaseMs: LEASE, limit: 10 });
        expect(leases.map((l) => l.runId)).toEqual(['r1']);
        expect((await store.inbox('r1')).map((m) => m.name)).toEqual(['other', 'approve']);
      });

      it('wakes a waiting run for a cancel request whatever it waits for', async () => {
        const lease = await started('r1');
        await suspend(lease, ['approve'], T0 + 10_000);
        await store.sendSignal('r1', CANCEL_SIGNAL, { reason: 'user' }, T0 + 50);
        expect(await mustGet('r1')).toMatchObject({ status: 'waiting', wakeAt: T0 + 50 });
      });

      it('never moves a waiting run later than it already wakes', async () => {
        const lease = await started('r1');
        await suspend(lease, ['approve'], T0 + 20);
        await store.sendSignal('r1', 'approve', 1, T0 + 100);
        expect((await mustGet('r1')).wakeAt).toBe(T0 + 20);
      });

      it('buffers signals for pending and running runs without changing them', async () => {
        await store.createRun(newRun('p'), T0);
        const lease = await started('r');
        const beforeP = await mustGet('p');
        const beforeR = await mustGet('r');
        await store.sendSignal('p', 'x', 1, T0 + 100);
        await store.sendSignal('r', 'x', 1, T0 + 100);
        expect(await mustGet('p')).toEqual(beforeP);
        expect(await mustGet('r')).toEqual(beforeR);
        expect(await store.inbox('p')).toHaveLength(1);
        expect(await store.renewLeases([{ runId: 'r', token: lease.token }], T0 + LEASE)).toEqual({ lost: [], cancelRequested: [] });
      });
    });

    describe('claimDue', () => {
      it('claims a pending run: running, token incremented, lease recorded', async () => {
        await store.createRun(newRun('r1'), T0);
        const leases = await store.claimDue({ owner: 'w1', now: T0 + 5, leaseMs: LEASE, limit: 10 });
        expect(leases).toEqual([{ runId: 'r1', owner: 'w1', token: 1, expiresAt: T0 + 5 + LEASE }]);
        const run = await mustGet('r1');
        expect(run).toMatchObject({ status: 'running', leaseToken: 1, leaseOwner: 'w1', leaseExpiresAt: T0 + 5 + LEASE, updatedAt: T0 + 5 });
        expect(run.wakeAt).toBeUndefined();
      });

      it('excludes runs that are not yet due, waiting without a wake time, under a live lease, or terminal', async () => {
        await store.createRun(newRun('future'), T0 + 1000); // pending, due at T0+1000
        const sleeper = await started('sleeper');
        await suspend(sleeper, [], T0 + 1000);
        const listener = await started('listener');
        await suspend(listener, ['go'], null);
        await started('busy'); // lease until T0+LEASE
        const fin = await started('fin');
        await writeOne({ runId: 'fin', token: fin.token, events: [], transition: { status: 'completed', output: null } });
        expect(await store.claimDue({ owner: 'w2', now: T0 + 999, leaseMs: LEASE, limit: 10 })).toEqual([]);
      });

      it('claims due waiting runs and running runs whose lease expired, with a new token', async () => {
        const sleeper = await started('sleeper');
        await suspend(sleeper, [], T0 + 100);
        const crashed = await started('crashed'); // token 1, lease until T0+LEASE
        const leases = await store.claimDue({ owner: 'w2', now: T0 + LEASE, leaseMs: LEASE, limit: 10 });
        expect(leases.map((l) => [l.runId, l.token, l.owner])).toEqual([
          ['sleeper', 2, 'w2'],
          ['crashed', 2, 'w2'],
        ]);
        expect(await mustGet('crashed')).toMatchObject({ status: 'running', leaseOwner: 'w2', leaseToken: 2, leaseExpiresAt: T0 + 2 * LEASE });
        // The crashed worker's token is now stale.
        expect(await writeOne({ runId: 'crashed', token: crashed.token, events: [step(1)] })).toEqual({ ok: false, reason: 'fenced' });
      });

      it('claims the oldest due first and at most limit', async () => {
        await store.createRun(newRun('third'), T0 + 30);
        await store.createRun(newRun('first'), T0 + 10);
        const s = await started('second', T0);
        await suspend(s, [], T0 + 20);
        await store.createRun(newRun('fourth'), T0 + 40);
        const two = await store.claimDue({ owner: 'w1', now: T0 + 50, leaseMs: LEASE, limit: 2 });
        expect(two.map((l) => l.runId)).toEqual(['first', 'second']);
        const rest = await store.claimDue({ owner: 'w1', now: T0 + 50, leaseMs: LEASE, limit: 10 });
        expect(rest.map((l) => l.runId)).toEqual(['third', 'fourth']);
        expect(await store.claimDue({ owner: 'w1', now: T0 + 50, leaseMs: LEASE, limit: 10 })).toEqual([]);
      });
    });

    describe('claimDueRuns (optional)', () => {
      it('claims as claimDue does, each run read with its history after run.started and its inbox', async (ctx) => {
        if (!store.claimDueRuns) return ctx.skip();
        await store.createRun(newRun('fresh'), T0 + 10);
        const s = await started('slept', T0);
        await writeOne({ runId: 'slept', token: s.token, seq: 2, events: [step(1), done(1, { v: 1 })] }, T0 + 5);
        await suspend(s, ['go'], T0 + 20, T0 + 6);
        const go = await store.sendSignal('slept', 'go', { yes: true }, T0 + 7);
        await store.createRun(newRun('later'), T0 + 500);
        const claimed = await store.claimDueRuns({ owner: 'w2', now: T0 + 30, leaseMs: LEASE, limit: 10 });
        expect(claimed.map((c) => c.lease)).toEqual([
          { runId: 'slept', owner: 'w2', token: 2, expiresAt: T0 + 30 + LEASE },
          { runId: 'fresh', owner: 'w2', token: 1, expiresAt: T0 + 30 + LEASE },
        ]);
        for (const c of claimed) {
          expect(c.run).toEqual(await mustGet(c.lease.runId));
          expect(c.history).toEqual(await store.history(c.lease.runId, 1));
          expect(c.inbox).toEqual(await store.inbox(c.lease.runId));
        }
        expect(claimed[0]?.run).toMatchObject({ status: 'running', leaseOwner: 'w2', lastSeq: 3 });
        expect(claimed[0]?.history.map((e) => e.seq)).toEqual([2, 3]);
        expect(claimed[0]?.inbox).toEqual([go]);
        expect(claimed[1]?.history).toEqual([]);
        expect(await store.claimDueRuns({ owner: 'w2', now: T0 + 30, leaseMs: LEASE, limit: 10 })).toEqual([]);
      });
    });

    describe('claimRun', () => {
      it('claims a pending run, or a waiting one before it is due', async () => {
        await store.createRun(newRun('p'), T0 + 1000);
        expect(await store.claimRun('p', { owner: 'w1', now: T0, leaseMs: LEASE })).toEqual({
          runId: 'p',
          owner: 'w1',
          token: 1,
          expiresAt: T0 + LEASE,
        });
        const lease = await started('w');
        await suspend(lease, ['go']);
        const again = await store.claimRun('w', { owner: 'w2', now: T0 + 20, leaseMs: LEASE });
        expect(again).toMatchObject({ runId: 'w', token: 2, owner: 'w2' });
        expect(await mustGet('w')).toMatchObject({ status: 'running', leaseToken: 2 });
      });

      it('refuses a live lease, unknown and terminal runs; takes over an expired lease', async () => {
        await started('r1');
        expect(await store.claimRun('r1', { owner: 'w2', now: T0 + LEASE - 1, leaseMs: LEASE })).toBeUndefined();
        expect(await store.claimRun('ghost', { owner: 'w2', now: T0, leaseMs: LEASE })).toBeUndefined();
        const taken = await store.claimRun('r1', { owner: 'w2', now: T0 + LEASE, leaseMs: LEASE });
        expect(taken).toEqual({ runId: 'r1', owner: 'w2', token: 2, expiresAt: T0 + 2 * LEASE });
        await writeOne({ runId: 'r1', token: 2, events: [], transition: { status: 'failed', error: { name: 'Error', message: 'x' } } });
        expect(await store.claimRun('r1', { owner: 'w3', now: T0 + 10 * LEASE, leaseMs: LEASE })).toBeUndefined();
        expect(await mustGet('r1')).toMatchObject({ status: 'failed', leaseToken: 2 });
      });
    });

    describe('leases', () => {
      it('renewLeases extends live leases', async () => {
        const lease = await started('r1');
        expect(await store.renewLeases([{ runId: 'r1', token: lease.token }], T0 + 5 * LEASE)).toEqual({
          lost: [],
          cancelRequested: [],
        });
        expect((await mustGet('r1')).leaseExpiresAt).toBe(T0 + 5 * LEASE);
        expect(await store.claimDue({ owner: 'w2', now: T0 + 2 * LEASE, leaseMs: LEASE, limit: 10 })).toEqual([]);
      });

      it('renewLeases reports leases lost to a new claim, unknown runs and runs no longer running', async () => {
        const a = await started('a');
        const b = await started('b');
        const c = await started('c');
        const d = await started('d');
        await store.claimRun('a', { owner: 'w2', now: T0 + LEASE, leaseMs: LEASE }); // token 2
        await store.sendSignal('a', CANCEL_SIGNAL, null, T0 + LEASE); // lost wins: not a cancel for this worker
        await suspend(b, ['go']);
        await writeOne({ runId: 'c', token: c.token, events: [], transition: { status: 'completed', output: 1 } });
        const res = await store.renewLeases(
          [
            { runId: 'a', token: a.token },
            { runId: 'b', token: b.token },
            { runId: 'c', token: c.token },
            { runId: 'd', token: d.token },
            { runId: 'ghost', token: 1 },
          ],
          T0 + 3 * LEASE,
        );
        expect(res.lost.sort()).toEqual(['a', 'b', 'c', 'ghost']);
        expect(res.cancelRequested).toEqual([]);
        // The lost lease was not extended; the new owner's expiry stands.
        expect((await mustGet('a')).leaseExpiresAt).toBe(T0 + 2 * LEASE);
        expect((await mustGet('d')).leaseExpiresAt).toBe(T0 + 3 * LEASE);
      });

      it('renewLeases reports runs with a cancel request in their inbox', async () => {
        const a = await started('a');
        const b = await started('b');
        await store.sendSignal('a', CANCEL_SIGNAL, null, T0 + 1);
        await store.sendSignal('b', 'not-cancel', null, T0 + 1);
        const res = await store.renewLeases(
          [
            { runId: 'a', token: a.token },
            { runId: 'b', token: b.token },
          ],
          T0 + LEASE * 2,
        );
        expect(res).toEqual({ lost: [], cancelRequested: ['a'] });
      });

      it('releaseLease makes the run pending and due at now, unchanged otherwise', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [step(1)], state: { k: 1 } });
        await store.releaseLease('r1', lease.token, T0 + 50);
        const run = await mustGet('r1');
        expect(run).toMatchObject({ status: 'pending', wakeAt: T0 + 50, updatedAt: T0 + 50, leaseToken: 1, lastSeq: 2, state: { k: 1 } });
        expect(run.leaseOwner).toBeUndefined();
        expect(run.leaseExpiresAt).toBeUndefined();
        expect(await store.nextWakeAt()).toBe(T0 + 50);
        // The released token can no longer write.
        expect(await writeOne({ runId: 'r1', token: lease.token, events: [step(2)] })).toEqual({ ok: false, reason: 'fenced' });
        const next = await store.claimDue({ owner: 'w2', now: T0 + 50, leaseMs: LEASE, limit: 10 });
        expect(next).toEqual([{ runId: 'r1', owner: 'w2', token: 2, expiresAt: T0 + 50 + LEASE }]);
      });

      it('releaseLease with a stale token changes nothing', async () => {
        const old = await started('r1');
        await store.claimRun('r1', { owner: 'w2', now: T0 + LEASE, leaseMs: LEASE });
        const before = await mustGet('r1');
        await store.releaseLease('r1', old.token, T0 + LEASE + 1);
        await store.releaseLease('ghost', 1, T0 + LEASE + 1);
        expect(await mustGet('r1')).toEqual(before);
      });

      it('leaseOwners lists owners of running runs; expireLeases makes their runs claimable now', async () => {
        expect(await store.leaseOwners()).toEqual([]);
        await store.createRun({ ...newRun('a1'), claim: { owner: 'A', expiresAt: T0 + LEASE } }, T0);
        await store.createRun({ ...newRun('a2'), claim: { owner: 'A', expiresAt: T0 + LEASE } }, T0);
        await store.createRun({ ...newRun('b1'), claim: { owner: 'B', expiresAt: T0 + LEASE } }, T0);
        const c = await store.createRun({ ...newRun('c1'), claim: { owner: 'C', expiresAt: T0 + LEASE } }, T0);
        await suspend(c.lease!, ['go']); // C holds no lease any more
        await store.createRun(newRun('p'), T0 + 10_000);
        expect((await store.leaseOwners()).sort()).toEqual(['A', 'B']);

        expect(await store.expireLeases(['A', 'nobody'])).toBe(2);
        expect(await store.expireLeases([])).toBe(0);
        const claimed = await store.claimDue({ owner: 'W', now: T0 + 1, leaseMs: LEASE, limit: 10 });
        expect(claimed.map((l) => l.runId).sort()).toEqual(['a1', 'a2']);
        expect(claimed.every((l) => l.token === 2)).toBe(true);
        expect((await store.leaseOwners()).sort()).toEqual(['B', 'W']);
      });

      it('nextWakeAt is the earliest wake-up of pending and waiting runs, and of running leases', async () => {
        // The port's comment names pending and waiting runs; the reference store also counts the
        // expiry of running leases, since claimDue takes those runs when it passes.
        expect(await store.nextWakeAt()).toBeUndefined();
        const lease = await started('running', T0); // lease expires T0+LEASE
        expect(await store.nextWakeAt()).toBe(T0 + LEASE);
        await store.createRun(newRun('later'), T0 + 500);
        expect(await store.nextWakeAt()).toBe(T0 + 500);
        const s = await started('sleeper');
        await suspend(s, [], T0 + 200);
        expect(await store.nextWakeAt()).toBe(T0 + 200);
        const l = await started('listener');
        await suspend(l, ['go'], null);
        expect(await store.nextWakeAt()).toBe(T0 + 200);
        await writeOne({ runId: 'running', token: lease.token, events: [], transition: { status: 'completed', output: 1 } });
        await store.claimRun('sleeper', { owner: 'w1', now: T0 + 300, leaseMs: 10 * LEASE });
        expect(await store.nextWakeAt()).toBe(T0 + 500);
      });
    });

    describe('write', () => {
      it('appends events with consecutive seqs stamped with now', async () => {
        const lease = await started('r1');
        const r1 = await writeOne({ runId: 'r1', token: lease.token, events: [step(1), done(1, { v: 1 })] }, T0 + 7);
        expect(r1).toEqual({ ok: true, lastSeq: 3, suspended: false, pending: [] });
        const r2 = await writeOne({ runId: 'r1', token: lease.token, events: [step(2)] }, T0 + 8);
        expect(r2).toMatchObject({ ok: true, lastSeq: 4 });
        // A write of nothing changes nothing, not even the run's time.
        const r3 = await writeOne({ runId: 'r1', token: lease.token, events: [] }, T0 + 9);
        expect(r3).toMatchObject({ ok: true, lastSeq: 4 });
        expect(await store.history('r1', 1)).toEqual([
          { type: 'step.started', pos: 1, name: 's1', attempt: 1, runId: 'r1', seq: 2, at: T0 + 7 },
          { type: 'step.completed', pos: 1, name: 's1', attempt: 1, result: { v: 1 }, runId: 'r1', seq: 3, at: T0 + 7 },
          { type: 'step.started', pos: 2, name: 's2', attempt: 1, runId: 'r1', seq: 4, at: T0 + 8 },
        ]);
        expect(await mustGet('r1')).toMatchObject({ lastSeq: 4, updatedAt: T0 + 8, status: 'running', leaseToken: 1 });
        // A state write changes the run without an event.
        await writeOne({ runId: 'r1', token: lease.token, events: [], state: { k: 1 } }, T0 + 10);
        expect(await mustGet('r1')).toMatchObject({ lastSeq: 4, updatedAt: T0 + 10, state: { k: 1 } });
      });

      it('appends at the seq a write names, and refuses one that does not follow the history', async () => {
        const lease = await started('r1');
        const other = await started('r2');
        expect(await writeOne({ runId: 'r1', token: lease.token, seq: 2, events: [step(1), done(1, 1)] }, T0 + 7)).toEqual({
          ok: true,
          lastSeq: 3,
          suspended: false,
          pending: [],
        });
        // Behind the history (a write sent again after it was applied), ahead of it (a gap), and a
        // batch where one write is refused and the others are applied.
        const results = await store.write(
          [
            { runId: 'r1', token: lease.token, seq: 2, events: [step(1)] },
            { runId: 'r2', token: other.token, seq: 2, events: [step(1)] },
            { runId: 'r1', token: lease.token, seq: 5, events: [step(2)], transition: { status: 'completed', output: 1 } },
            { runId: 'r1', token: lease.token, seq: 4, events: [step(2)] },
          ],
          T0 + 8,
        );
        expect(results).toEqual([
          { ok: false, reason: 'fenced' },
          { ok: true, lastSeq: 2, suspended: false, pending: [] },
          { ok: false, reason: 'fenced' },
          { ok: true, lastSeq: 4, suspended: false, pending: [] },
        ]);
        expect((await store.history('r1')).map((e) => [e.seq, e.type])).toEqual([
          [1, 'run.started'],
          [2, 'step.started'],
          [3, 'step.completed'],
          [4, 'step.started'],
        ]);
        expect(await mustGet('r1')).toMatchObject({ status: 'running', lastSeq: 4, updatedAt: T0 + 8 });
        // A write with no events has no position to check.
        expect(await writeOne({ runId: 'r1', token: lease.token, seq: 99, events: [], state: { a: 1 } }, T0 + 9)).toMatchObject({ ok: true, lastSeq: 4 });
      });

      it('checks a lone step record (the hot path of a sequential run) by token, status and position', async () => {
        const lease = await started('r1');
        const record = (seq: number, token = lease.token) => writeOne({ runId: 'r1', token, seq, events: [done(seq - 1, seq)] }, T0 + seq);
        expect(await record(2)).toEqual({ ok: true, lastSeq: 2, suspended: false, pending: [] });
        expect(await record(2)).toEqual({ ok: false, reason: 'fenced' }); // sent again after it was applied
        expect(await record(4)).toEqual({ ok: false, reason: 'fenced' }); // a gap
        expect(await record(3, lease.token + 1)).toEqual({ ok: false, reason: 'fenced' }); // a token nobody holds
        expect(await writeOne({ runId: 'nobody', token: lease.token, seq: 2, events: [done(1, 1)] })).toEqual({ ok: false, reason: 'fenced' });
        expect(await record(3)).toEqual({ ok: true, lastSeq: 3, suspended: false, pending: [] });
        expect((await store.history('r1')).map((e) => [e.seq, e.type, e.at])).toEqual([
          [1, 'run.started', T0],
          [2, 'step.completed', T0 + 2],
          [3, 'step.completed', T0 + 3],
        ]);
        expect(await mustGet('r1')).toMatchObject({ lastSeq: 3, updatedAt: T0 + 3 });
        // Not running any more: suspended, then claimed again (a new token), the old one is refused.
        await writeOne({ runId: 'r1', token: lease.token, events: [], transition: { status: 'waiting', wakeAt: T0, waitingFor: [] } }, T0 + 4);
        expect(await record(4)).toEqual({ ok: false, reason: 'fenced' });
        const again = await store.claimRun('r1', { owner: 'w2', now: T0 + 5, leaseMs: LEASE });
        expect(again).toBeDefined();
        expect(await record(4)).toEqual({ ok: false, reason: 'fenced' });
        expect(await record(4, again!.token)).toMatchObject({ ok: true, lastSeq: 4 });
      });

      it('fences a stale token: nothing of that write is applied, the other writes of the batch are', async () => {
        await store.createRun(newRun('target'), T0);
        await store.createRun(newRun('waiter'), T0);
        const waiter = await store.claimRun('waiter', { owner: 'w1', now: T0, leaseMs: LEASE });
        await suspend(waiter!, ['ping']);
        const stale = await started('stale');
        const sig = await store.sendSignal('stale', 'x', 1, T0 + 1);
        await store.claimRun('stale', { owner: 'w2', now: T0 + LEASE, leaseMs: LEASE }); // token 2
        const good = await started('good');
        const before = await mustGet('stale');

        const results = await store.write(
          [
            { runId: 'good', token: good.token, events: [step(1)] },
            {
              runId: 'stale',
              token: stale.token,
              events: [step(1), step(2)],
              consume: [sig.id],
              state: { s: 1 },
              lastError: { name: 'E', message: 'm' },
              createRuns: [newRun('orphan')],
              deliver: [
                { runId: 'target', name: 'hello', payload: 1 },
                { runId: 'waiter', name: 'ping', payload: 1 },
              ],
              transition: { status: 'completed', output: 'x' },
            },
            { runId: 'ghost', token: 1, events: [step(1)] },
            { runId: 'target', token: 0, events: [step(1)] }, // never claimed: not running
            { runId: 'good', token: good.token, events: [step(2)] },
          ],
          T0 + LEASE + 1,
        );
        expect(results).toEqual([
          { ok: true, lastSeq: 2, suspended: false, pending: [] },
          { ok: false, reason: 'fenced' },
          { ok: false, reason: 'fenced' },
          { ok: false, reason: 'fenced' },
          { ok: true, lastSeq: 3, suspended: false, pending: [] },
        ]);
        expect(await mustGet('stale')).toEqual(before);
        expect(await store.history('stale')).toHaveLength(1);
        expect(await store.inbox('stale')).toEqual([sig]);
        expect(await store.getRun('orphan')).toBeUndefined();
        expect(await store.inbox('target')).toEqual([]);
        expect(await store.inbox('waiter')).toEqual([]);
        expect((await mustGet('waiter')).wakeAt).toBeUndefined();
        expect(await store.history('target')).toHaveLength(1);
        expect((await store.history('good')).map((e) => e.seq)).toEqual([1, 2, 3]);
      });

      it('consumes exactly the listed inbox messages of the run', async () => {
        const lease = await started('r1');
        await store.createRun(newRun('other'), T0);
        const a = await store.sendSignal('r1', 'a', 1, T0 + 1);
        const b = await store.sendSignal('r1', 'b', 2, T0 + 2);
        const c = await store.sendSignal('r1', 'c', 3, T0 + 3);
        const foreign = await store.sendSignal('other', 'a', 1, T0 + 4);
        const received: EventData = { type: 'signal.received', pos: 1, name: 'a', payload: 1, signalId: a.id };
        const res = await writeOne({ runId: 'r1', token: lease.token, events: [received], consume: [a.id, c.id, foreign.id] });
        expect(res).toMatchObject({ ok: true, lastSeq: 2 });
        expect(await store.inbox('r1')).toEqual([b]);
        expect(await store.inbox('other')).toEqual([foreign]);
      });

      it('replaces the state when given and keeps it otherwise', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [], state: { a: 1, b: { c: 2 } } });
        expect((await mustGet('r1')).state).toEqual({ a: 1, b: { c: 2 } });
        await writeOne({ runId: 'r1', token: lease.token, events: [step(1)] });
        expect((await mustGet('r1')).state).toEqual({ a: 1, b: { c: 2 } });
        await writeOne({ runId: 'r1', token: lease.token, events: [], state: { z: true } });
        expect((await mustGet('r1')).state).toEqual({ z: true });
      });

      it('sets lastError, keeps it when omitted and clears it with null', async () => {
        const lease = await started('r1');
        const error = { name: 'NonDeterminismError', message: 'changed', code: 'NON_DETERMINISM' };
        await writeOne({ runId: 'r1', token: lease.token, events: [], lastError: error });
        expect((await mustGet('r1')).lastError).toEqual(error);
        await writeOne({ runId: 'r1', token: lease.token, events: [step(1)] });
        expect((await mustGet('r1')).lastError).toEqual(error);
        await writeOne({ runId: 'r1', token: lease.token, events: [], lastError: null });
        expect((await mustGet('r1')).lastError).toBeUndefined();
        expect('lastError' in (await mustGet('r1'))).toBe(false);
      });

      it('creates child runs with the writer as parent, unclaimed, and leaves existing ids alone', async () => {
        const lease = await started('parent');
        await store.createRun(newRun('existing', { input: 'old' }), T0);
        const res = await writeOne(
          {
            runId: 'parent',
            token: lease.token,
            events: [{ type: 'child.started', pos: 1, childId: 'kid', workflow: 'ship' }],
            createRuns: [
              { ...newRun('kid', { workflow: 'ship', input: { n: 1 } }), claim: { owner: 'w1', expiresAt: T0 + LEASE } },
              newRun('adopted', { parentId: 'someone-else' }),
              newRun('existing', { input: 'new' }),
            ],
          },
          T0 + 20,
        );
        expect(res).toMatchObject({ ok: true, lastSeq: 2 });
        const kid = await mustGet('kid');
        expect(kid).toMatchObject({ status: 'pending', parentId: 'parent', workflow: 'ship', input: { n: 1 }, leaseToken: 0, wakeAt: T0 + 20, createdAt: T0 + 20 });
        expect(kid.leaseOwner).toBeUndefined();
        expect(await store.history('kid')).toEqual([
          { type: 'run.started', workflow: 'ship', version: '1', input: { n: 1 }, parentId: 'parent', runId: 'kid', seq: 1, at: T0 + 20 },
        ]);
        expect((await mustGet('adopted')).parentId).toBe('someone-else');
        expect(await mustGet('existing')).toMatchObject({ input: 'old', createdAt: T0 });
        expect((await store.listRuns({ parentId: 'parent' })).runs.map((r) => r.id)).toEqual(['kid']);
      });

      it('delivers messages to other runs, waking those that wait for them and dropping them for terminal or unknown runs', async () => {
        const parent = await started('parent');
        await suspend(parent, [childSignal('kid')]);
        const kid = await started('kid', T0, { parentId: 'parent' });
        const ended = await started('ended');
        await writeOne({ runId: 'ended', token: ended.token, events: [], transition: { status: 'completed', output: 1 } });
        await store.createRun(newRun('idle'), T0 + 5000);

        const res = await writeOne(
          {
            runId: 'kid',
            token: kid.token,
            events: [{ type: 'run.completed', result: 42 }],
            transition: { status: 'completed', output: 42 },
            deliver: [
              { runId: 'parent', name: childSignal('kid'), payload: { result: 42 } },
              { runId: 'ended', name: 'x', payload: 1 },
              { runId: 'ghost', name: 'x', payload: 1 },
              { runId: 'idle', name: 'unrelated', payload: 1 },
            ],
          },
          T0 + 30,
        );
        expect(res).toMatchObject({ ok: true, lastSeq: 2 });
        expect(await store.inbox('parent')).toEqual([
          { id: expect.any(Number), runId: 'parent', name: '@child:kid', payload: { result: 42 }, sentAt: T0 + 30 },
        ]);
        expect(await mustGet('parent')).toMatchObject({ status: 'waiting', wakeAt: T0 + 30 });
        expect(await store.inbox('ended')).toEqual([]);
        expect(await store.getRun('ghost')).toBeUndefined();
        expect((await store.inbox('idle')).map((m) => m.name)).toEqual(['unrelated']);
        expect((await mustGet('idle')).wakeAt).toBe(T0 + 5000);
      });

      it('delivers to a child created by the same write', async () => {
        const lease = await started('parent');
        await writeOne({
          runId: 'parent',
          token: lease.token,
          events: [],
          createRuns: [newRun('kid')],
          deliver: [{ runId: 'kid', name: 'hello', payload: 'hi' }],
        });
        expect((await store.inbox('kid')).map((m) => m.payload)).toEqual(['hi']);
      });

      it('transition waiting suspends: lease released, wake time and names recorded', async () => {
        const lease = await started('r1');
        await store.sendSignal('r1', 'unrelated', 1, T0 + 1);
        const res = await writeOne(
          {
            runId: 'r1',
            token: lease.token,
            events: [{ type: 'timer.scheduled', pos: 1, purpose: 'signal-timeout', fireAt: T0 + 1000, name: 'approve' }],
            transition: { status: 'waiting', wakeAt: T0 + 1000, waitingFor: ['approve', 'reject'] },
          },
          T0 + 20,
        );
        expect(res).toEqual({ ok: true, lastSeq: 2, suspended: true, pending: [] });
        const run = await mustGet('r1');
        expect(run).toMatchObject({ status: 'waiting', wakeAt: T0 + 1000, waitingFor: ['approve', 'reject'], updatedAt: T0 + 20, leaseToken: 1 });
        expect(run.leaseOwner).toBeUndefined();
        expect(run.leaseExpiresAt).toBeUndefined();
        expect(await writeOne({ runId: 'r1', token: lease.token, events: [step(2)] })).toEqual({ ok: false, reason: 'fenced' });
        expect(await store.leaseOwners()).toEqual([]);
        expect(await store.claimDue({ owner: 'w2', now: T0 + 999, leaseMs: LEASE, limit: 10 })).toEqual([]);
        expect(await store.claimDue({ owner: 'w2', now: T0 + 1000, leaseMs: LEASE, limit: 10 })).toHaveLength(1);
      });

      it('transition waiting with a null wakeAt waits for a message only', async () => {
        const lease = await started('r1');
        await suspend(lease, ['go'], null);
        const run = await mustGet('r1');
        expect(run.wakeAt).toBeUndefined();
        expect(run.status).toBe('waiting');
      });

      it('transition waiting does not suspend when a message it waits for is already in the inbox', async () => {
        const lease = await started('r1');
        const other = await store.sendSignal('r1', 'other', 0, T0 + 1);
        const a = await store.sendSignal('r1', 'approve', true, T0 + 2);
        const b = await store.sendSignal('r1', 'approve', false, T0 + 3);
        const res = await writeOne({
          runId: 'r1',
          token: lease.token,
          events: [step(1)],
          transition: { status: 'waiting', wakeAt: T0 + 1000, waitingFor: ['approve'] },
        });
        expect(res).toEqual({ ok: true, lastSeq: 2, suspended: false, pending: [a, b] });
        const run = await mustGet('r1');
        expect(run).toMatchObject({ status: 'running', leaseOwner: 'w1', leaseToken: 1, leaseExpiresAt: T0 + LEASE, lastSeq: 2 });
        expect(run.wakeAt).toBeUndefined();
        expect(await store.inbox('r1')).toEqual([other, a, b]);
        // Still holding the lease: it can consume and carry on.
        const next = await writeOne({
          runId: 'r1',
          token: lease.token,
          events: [{ type: 'signal.received', pos: 2, name: 'approve', payload: true, signalId: a.id }],
          consume: [a.id],
        });
        expect(next).toMatchObject({ ok: true, lastSeq: 3 });
      });

      it('transition waiting does not suspend when a cancel request is in the inbox', async () => {
        const lease = await started('r1');
        const cancel = await store.sendSignal('r1', CANCEL_SIGNAL, { reason: 'stop' }, T0 + 1);
        const res = await writeOne({ runId: 'r1', token: lease.token, events: [], transition: { status: 'waiting', wakeAt: null, waitingFor: ['approve'] } });
        expect(res).toEqual({ ok: true, lastSeq: 1, suspended: false, pending: [cancel] });
        expect((await mustGet('r1')).status).toBe('running');
      });

      it('a message consumed in the same write does not prevent suspension', async () => {
        const lease = await started('r1');
        const a = await store.sendSignal('r1', 'approve', 1, T0 + 1);
        const res = await writeOne({
          runId: 'r1',
          token: lease.token,
          events: [{ type: 'signal.received', pos: 1, name: 'approve', payload: 1, signalId: a.id }],
          consume: [a.id],
          transition: { status: 'waiting', wakeAt: null, waitingFor: ['approve'] },
        });
        expect(res).toMatchObject({ ok: true, suspended: true, pending: [] });
      });

      it('transition completed records output and ends the run for good', async () => {
        const lease = await started('r1');
        await store.sendSignal('r1', 'late', 1, T0 + 1);
        const res = await writeOne(
          { runId: 'r1', token: lease.token, events: [{ type: 'run.completed', result: { total: 3 } }], transition: { status: 'completed', output: { total: 3 } } },
          T0 + 40,
        );
        expect(res).toEqual({ ok: true, lastSeq: 2, suspended: false, pending: [] });
        const run = await mustGet('r1');
        expect(run).toMatchObject({ status: 'completed', output: { total: 3 }, completedAt: T0 + 40, updatedAt: T0 + 40 });
        for (const key of ['wakeAt', 'waitingFor', 'leaseOwner', 'leaseExpiresAt', 'error'] as const) expect(run[key]).toBeUndefined();
        expect(await store.inbox('r1')).toEqual([]);

        // Nothing changes a terminal run again.
        expect(await writeOne({ runId: 'r1', token: lease.token, events: [step(9)], transition: { status: 'cancelled' } })).toEqual({
          ok: false,
          reason: 'fenced',
        });
        expect(await store.claimRun('r1', { owner: 'w2', now: T0 + 10 * LEASE, leaseMs: LEASE })).toBeUndefined();
        expect(await store.claimDue({ owner: 'w2', now: T0 + 10 * LEASE, leaseMs: LEASE, limit: 10 })).toEqual([]);
        await store.releaseLease('r1', lease.token, T0 + 50);
        expect(await store.expireLeases(['w1'])).toBe(0);
        expect(await store.renewLeases([{ runId: 'r1', token: lease.token }], T0 + 99)).toEqual({ lost: ['r1'], cancelRequested: [] });
        const again = await store.createRun({ ...newRun('r1'), claim: { owner: 'w2', expiresAt: T0 + 99 } }, T0 + 60);
        expect(again).toEqual({ created: false, run });
        expect(await store.getRun('r1')).toEqual(run);
        expect(await store.history('r1')).toHaveLength(2);
      });

      it('transition completed with no output leaves output undefined; null is kept', async () => {
        const a = await started('a');
        const b = await started('b');
        await store.write(
          [
            { runId: 'a', token: a.token, events: [], transition: { status: 'completed', output: undefined } },
            { runId: 'b', token: b.token, events: [], transition: { status: 'completed', output: null } },
          ],
          T0 + 1,
        );
        expect((await mustGet('a')).output).toBeUndefined();
        expect((await mustGet('b')).output).toBeNull();
      });

      it('transition failed records the error; cancelled ends the run', async () => {
        const f = await started('f');
        const c = await started('c');
        const error = { name: 'Error', message: 'boom', stack: 'Error: boom\n  at x', data: { status: 500 } };
        await store.write(
          [
            { runId: 'f', token: f.token, events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } },
            { runId: 'c', token: c.token, events: [{ type: 'run.cancelled', reason: 'user' }], transition: { status: 'cancelled' } },
          ],
          T0 + 5,
        );
        expect(await mustGet('f')).toMatchObject({ status: 'failed', error, completedAt: T0 + 5 });
        expect((await mustGet('f')).output).toBeUndefined();
        expect(await mustGet('c')).toMatchObject({ status: 'cancelled', completedAt: T0 + 5 });
        await expect(store.sendSignal('f', 'x', 1, T0 + 6)).rejects.toMatchObject({ code: ErrorCode.Conflict });
      });

      it('applies several writes for one run in batch order', async () => {
        const lease = await started('r1');
        const results = await store.write(
          [
            { runId: 'r1', token: lease.token, events: [step(1)] },
            { runId: 'r1', token: lease.token, events: [done(1, 1)], transition: { status: 'completed', output: 1 } },
            { runId: 'r1', token: lease.token, events: [step(2)] },
          ],
          T0 + 1,
        );
        expect(results).toEqual([
          { ok: true, lastSeq: 2, suspended: false, pending: [] },
          { ok: true, lastSeq: 3, suspended: false, pending: [] },
          { ok: false, reason: 'fenced' },
        ]);
        expect(await store.write([], T0 + 2)).toEqual([]);
      });

      it('a write whose values cannot be stored is refused as a whole and applies nothing', async () => {
        const a = await started('a');
        const b = await started('b');
        const before = [await mustGet('a'), await mustGet('b')];
        await expect(
          store.write(
            [
              { runId: 'a', token: a.token, events: [step(1)] },
              { runId: 'b', token: b.token, events: [done(1, { big: 10n })] },
            ],
            T0 + 1,
          ),
        ).rejects.toThrow();
        expect([await mustGet('a'), await mustGet('b')]).toEqual(before);
        expect(await store.history('a')).toHaveLength(1);
        expect(await store.history('b')).toHaveLength(1);
      });
    });

    describe('human tasks', () => {
      const task = (id: string, extra: Partial<NewHumanTask> = {}): NewHumanTask => ({ id, pos: 1, name: 'review', title: 'Review it', ...extra });
      const requested = (id: string, pos = 1): EventData => ({ type: 'human.requested', pos, taskId: id, name: 'review', title: 'Review it' });

      /** A claimed run with one pending task written through `write`. */
      async function withTask(runId: string, taskId: string, extra: Partial<NewHumanTask> = {}, runExtra: Partial<NewRun> = {}) {
        const lease = await started(runId, T0, runExtra);
        const r = await writeOne({ runId, token: lease.token, events: [requested(taskId)], createTasks: [task(taskId, extra)] });
        expect(r).toMatchObject({ ok: true });
        return lease;
      }

      it('creates a task with its run write: pending, with the run and workflow filled in', async () => {
        const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
        await withTask('r1', 't1', { description: 'Please', jsonSchema: schema, assignee: 'alice', deadlineAt: T0 + 5000 });
        expect(await store.getTask('t1')).toEqual({
          id: 't1',
          runId: 'r1',
          workflow: 'order',
          pos: 1,
          name: 'review',
          title: 'Review it',
          description: 'Please',
          jsonSchema: schema,
          assignee: 'alice',
          status: 'pending',
          createdAt: T0 + 10,
          deadlineAt: T0 + 5000,
        });
        expect((await store.history('r1')).map((e) => e.type)).toEqual(['run.started', 'human.requested']);
        expect(await store.getTask('nope')).toBeUndefined();
      });

      it('a fenced write creates no task', async () => {
        const lease = await started('r1');
        await store.claimRun('r1', { owner: 'w2', now: T0 + LEASE + 1, leaseMs: LEASE });
        const r = await writeOne({ runId: 'r1', token: lease.token, events: [requested('t1')], createTasks: [task('t1')] });
        expect(r).toEqual({ ok: false, reason: 'fenced' });
        expect(await store.getTask('t1')).toBeUndefined();
      });

      it('lists tasks newest first by status, workflow, assignee and run, page by page', async () => {
        await withTask('r1', 't1', { assignee: 'alice' });
        await withTask('r2', 't2', { assignee: 'bob' }, { workflow: 'refund' });
        const l3 = await started('r3');
        await writeOne({ runId: 'r3', token: l3.token, events: [requested('t3')], createTasks: [task('t3', { assignee: 'alice' })] }, T0 + 20);
        await store.settleTask('t1', { status: 'cancelled' }, T0 + 30);
        const ids = async (q: Parameters<Store['listTasks']>[0]) => (await store.listTasks(q)).tasks.map((t) => t.id);
        expect(await ids({})).toEqual(['t3', 't2', 't1']);
        expect(await ids({ status: 'pending' })).toEqual(['t3', 't2']);
        expect(await ids({ status: ['pending', 'cancelled'] })).toEqual(['t3', 't2', 't1']);
        expect(await ids({ status: [] })).toEqual([]);
        expect(await ids({ workflow: 'refund' })).toEqual(['t2']);
        expect(await ids({ assignee: 'alice' })).toEqual(['t3', 't1']);
        expect(await ids({ assignee: 'alice', status: 'pending' })).toEqual(['t3']);
        expect(await ids({ runId: 'r2' })).toEqual(['t2']);
        const first = await store.listTasks({ limit: 2 });
        expect(first.tasks.map((t) => t.id)).toEqual(['t3', 't2']);
        expect(first.nextCursor).toBeDefined();
        const second = await store.listTasks({ limit: 2, cursor: first.nextCursor! });
        expect(second).toEqual({ tasks: [expect.objectContaining({ id: 't1' })] });
      });

      it('settles a pending task once, storing the outcome in the run inbox and waking the waiting run', async () => {
        const lease = await withTask('r1', 't1');
        await suspend(lease, [taskSignal('t1')], null, T0 + 20);
        const { task: done, message } = await store.settleTask('t1', { status: 'completed', data: { ok: true }, by: 'alice' }, T0 + 100);
        expect(done).toMatchObject({ id: 't1', status: 'completed', data: { ok: true }, completedBy: 'alice', completedAt: T0 + 100 });
        expect(message).toMatchObject({ runId: 'r1', name: taskSignal('t1'), payload: { status: 'completed', data: { ok: true }, by: 'alice' }, sentAt: T0 + 100 });
        expect(await store.inbox('r1')).toEqual([message]);
        expect((await mustGet('r1')).wakeAt).toBe(T0 + 100);
        expect(await store.getTask('t1')).toEqual(done);

        const again = await store.settleTask('t1', { status: 'cancelled' }, T0 + 200).catch((e: unknown) => e);
        expect(again).toMatchObject({ code: ErrorCode.Conflict });
        expect(await store.inbox('r1')).toHaveLength(1);
        await expect(store.settleTask('nope', { status: 'cancelled' }, T0)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      });

      it('refuses to complete a task at or after its deadline, but lets it be cancelled', async () => {
        await withTask('r1', 't1', { deadlineAt: T0 + 1000 });
        const late = await store.settleTask('t1', { status: 'completed', data: 1 }, T0 + 1000).catch((e: unknown) => e);
        expect(late).toMatchObject({ code: ErrorCode.Conflict });
        expect((await store.getTask('t1'))?.status).toBe('pending');
        expect(await store.inbox('r1')).toEqual([]);
        const { task: cancelled } = await store.settleTask('t1', { status: 'cancelled', by: 'ops' }, T0 + 1001);
        expect(cancelled).toMatchObject({ status: 'cancelled', completedBy: 'ops' });
        expect(cancelled.data).toBeUndefined();
      });

      it('expires only its own run’s pending tasks', async () => {
        const l1 = await withTask('r1', 't1');
        await withTask('r2', 't2');
        const l3 = await started('r3');
        await writeOne({ runId: 'r3', token: l3.token, events: [requested('t3')], createTasks: [task('t3')] });
        await store.settleTask('t3', { status: 'completed', data: null }, T0 + 15);
        await writeOne({ runId: 'r1', token: l1.token, events: [], expireTasks: ['t1', 't2'] }, T0 + 50);
        await writeOne({ runId: 'r3', token: l3.token, events: [], expireTasks: ['t3'] }, T0 + 50);
        expect(await store.getTask('t1')).toMatchObject({ status: 'expired', completedAt: T0 + 50 });
        expect((await store.getTask('t2'))?.status).toBe('pending');
        expect(await store.getTask('t3')).toMatchObject({ status: 'completed', data: null });
      });

      it('a run that ends cancels its pending tasks and leaves settled ones', async () => {
        const lease = await withTask('r1', 't1');
        await writeOne({ runId: 'r1', token: lease.token, events: [requested('t2', 2)], createTasks: [task('t2', { pos: 2 })] });
        await store.settleTask('t2', { status: 'completed', data: 'x' }, T0 + 20);
        await writeOne({ runId: 'r1', token: lease.token, events: [{ type: 'run.cancelled' }], transition: { status: 'cancelled' } }, T0 + 30);
        expect(await store.getTask('t1')).toMatchObject({ status: 'cancelled', completedAt: T0 + 30 });
        expect(await store.getTask('t2')).toMatchObject({ status: 'completed', data: 'x' });
        await expect(store.settleTask('t1', { status: 'completed', data: 1 }, T0 + 40)).rejects.toMatchObject({ code: ErrorCode.Conflict });
      });

      it('a task can not be settled once its run has ended', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [requested('t1')], createTasks: [task('t1')] });
        await writeOne({ runId: 'r1', token: lease.token, events: [], transition: { status: 'completed', output: 1 } });
        await expect(store.settleTask('t1', { status: 'cancelled' }, T0 + 40)).rejects.toMatchObject({ code: ErrorCode.Conflict });
      });
    });

    describe('reopenRun', () => {
      it('reopens a failed run: event appended, pending and due now, error cleared', async () => {
        const lease = await started('r1');
        await writeOne({ runId: 'r1', token: lease.token, events: [step(1)] });
        const error = { name: 'Error', message: 'boom' };
        await writeOne({ runId: 'r1', token: lease.token, events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } }, T0 + 20);
        const run = await store.reopenRun('r1', { type: 'run.resumed', previousError: error }, T0 + 100);
        expect(run).toMatchObject({ id: 'r1', status: 'pending', wakeAt: T0 + 100, lastSeq: 4, updatedAt: T0 + 100 });
        expect(run.error).toBeUndefined();
        expect(run.completedAt).toBeUndefined();
        const history = await store.history('r1');
        expect(history[3]).toEqual({ type: 'run.resumed', previousError: error, runId: 'r1', seq: 4, at: T0 + 100 });
        const leases = await store.claimDue({ owner: 'w2', now: T0 + 100, leaseMs: LEASE, limit: 10 });
        expect(leases.map((l) => l.runId)).toEqual(['r1']);
        expect(leases[0]!.token).toBe(lease.token + 1);
      });

      it('refuses a run that is not failed, and an unknown one', async () => {
        await store.createRun(newRun('r1'), T0);
        const event: EventData = { type: 'run.resumed', previousError: { name: 'Error', message: 'x' } };
        await expect(store.reopenRun('r1', event, T0)).rejects.toMatchObject({ code: ErrorCode.Conflict });
        await expect(store.reopenRun('nope', event, T0)).rejects.toMatchObject({ code: ErrorCode.NotFound });
        expect(await store.history('r1')).toHaveLength(1);
      });
    });

    describe('pruneRuns (optional)', () => {
      it('deletes terminal runs that ended before the cutoff, with their history; never live or newer ones', async (ctx) => {
        if (!store.pruneRuns) return ctx.skip();
        const old = await started('old');
        await writeOne({ runId: 'old', token: old.token, events: [done(1, 'x'), { type: 'run.completed', result: 'x' }], transition: { status: 'completed', output: 'x' } }, T0 + 10);
        const failed = await started('old-failed');
        const error = { name: 'Error', message: 'boom' };
        await writeOne({ runId: 'old-failed', token: failed.token, events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } }, T0 + 20);
        const recent = await started('recent');
        await writeOne({ runId: 'recent', token: recent.token, events: [{ type: 'run.completed', result: 1 }], transition: { status: 'completed', output: 1 } }, T0 + 5_000);
        const waiting = await started('waiting');
        await suspend(waiting, ['go'], null, T0 + 30);
        await store.createRun(newRun('pending'), T0);
        // A human task of a pruned run goes with it.
        const asked = await started('old-asked');
        await writeOne(
          {
            runId: 'old-asked',
            token: asked.token,
            events: [{ type: 'human.requested', pos: 1, taskId: 'task-old', name: 'review', title: 'Review it' }],
            createTasks: [{ id: 'task-old', pos: 1, name: 'review', title: 'Review it' }],
          },
          T0 + 40,
        );
        await writeOne({ runId: 'old-asked', token: asked.token, events: [{ type: 'run.cancelled' }], transition: { status: 'cancelled' } }, T0 + 50);
        expect(await store.getTask('task-old')).toMatchObject({ status: 'cancelled' });

        expect(await store.pruneRuns(T0 + 1_000, { dryRun: true })).toBe(3);
        expect(await mustGet('old')).toMatchObject({ status: 'completed' });
        expect(await store.pruneRuns(T0 + 1_000)).toBe(3);
        expect(await store.getTask('task-old')).toBeUndefined();
        expect((await store.listTasks({})).tasks).toEqual([]);
        expect(await store.getRun('old')).toBeUndefined();
        expect(await store.getRun('old-failed')).toBeUndefined();
        expect(await store.history('old')).toEqual([]);
        expect((await store.listRuns({})).runs.map((r) => r.id).sort()).toEqual(['pending', 'recent', 'waiting']);
        expect(await store.pruneRuns(T0 + 1_000)).toBe(0);
        // A new run may reuse a pruned id.
        expect((await store.createRun(newRun('old'), T0 + 6_000)).created).toBe(true);
      });
    });

    describe('statusChanges', () => {
      /**
       * The feed after `after`, read page by page until `count` changes came, then once more to
       * see that none follow. On PostgreSQL a change becomes readable once every transaction that
       * started before it on the server has ended (other test files run beside this one), so an
       * empty page is read again, up to a deadline, before the count is given up on.
       */
      async function readFeed(count: number, after?: string, from: Store = store): Promise<{ changes: StatusChange[]; cursor: string }> {
        const changes: StatusChange[] = [];
        let cursor = after;
        const deadline = Date.now() + 10_000;
        const read = () => from.statusChanges({ ...(cursor === undefined ? {} : { after: cursor }), limit: 1000 });
        while (changes.length < count) {
          const page = await read();
          changes.push(...page.changes);
          cursor = page.cursor;
          if (page.changes.length > 0) continue;
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        const more = await read();
        changes.push(...more.changes);
        return { changes, cursor: more.cursor };
      }

      const shape = (changes: StatusChange[]): [string, RunStatus, number][] => changes.map((c) => [c.runId, c.status, c.at]);

      it('records every change of status once, in commit order, at the time of the change', async () => {
        const error = { name: 'Error', message: 'boom' };
        await store.createRun(newRun('r1'), T0); // pending
        expect((await store.createRun(newRun('r1'), T0 + 1)).created).toBe(false); // no change
        const [first] = await store.claimDue({ owner: 'w1', now: T0 + 1, leaseMs: LEASE, limit: 10 }); // running
        await store.sendSignal('r1', 'early', null, T0 + 2); // no change
        // A suspension that does not happen (the message it waits for is there) changes nothing.
        expect(await writeOne({ runId: 'r1', token: first!.token, events: [], transition: { status: 'waiting', wakeAt: null, waitingFor: ['early'] } }, T0 + 2)).toMatchObject({
          suspended: false,
        });
        await suspend(first!, ['go'], null, T0 + 3); // waiting
        expect(await writeOne({ runId: 'r1', token: first!.token, events: [step(1)] }, T0 + 3)).toEqual({ ok: false, reason: 'fenced' }); // no change
        const second = await store.claimRun('r1', { owner: 'w2', now: T0 + 4, leaseMs: LEASE }); // running
        await store.releaseLease('r1', second!.token, T0 + 5); // pending
        await store.claimDue({ owner: 'w3', now: T0 + 6, leaseMs: LEASE, limit: 10 }); // running
        // Taking over an expired lease leaves the run running: no change.
        await store.expireLeases(['w3']);
        const [fourth] = await store.claimDue({ owner: 'w4', now: T0 + 7, leaseMs: LEASE, limit: 10 });
        expect(fourth?.runId).toBe('r1');
        await writeOne(
          { runId: 'r1', token: fourth!.token, events: [{ type: 'child.started', pos: 1, childId: 'c1', workflow: 'order' }], createRuns: [newRun('c1')] },
          T0 + 8,
        ); // c1 pending
        await writeOne({ runId: 'r1', token: fourth!.token, events: [{ type: 'run.failed', error }], transition: { status: 'failed', error } }, T0 + 9); // failed
        await store.reopenRun('r1', { type: 'run.resumed', previousError: error }, T0 + 10); // pending
        const fifth = await store.claimRun('r1', { owner: 'w5', now: T0 + 11, leaseMs: LEASE }); // running
        await writeOne({ runId: 'r1', token: fifth!.token, events: [{ type: 'run.completed', result: 1 }], transition: { status: 'completed', output: 1 } }, T0 + 12); // completed
        await started('r2', T0 + 13); // created running
        await writeOne({ runId: 'r2', token: 1, events: [{ type: 'run.cancelled', reason: 'stop' }], transition: { status: 'cancelled' } }, T0 + 14); // cancelled

        const expected: [string, RunStatus, number][] = [
          ['r1', 'pending', T0],
          ['r1', 'running', T0 + 1],
          ['r1', 'waiting', T0 + 3],
          ['r1', 'running', T0 + 4],
          ['r1', 'pending', T0 + 5],
          ['r1', 'running', T0 + 6],
          ['c1', 'pending', T0 + 8],
          ['r1', 'failed', T0 + 9],
          ['r1', 'pending', T0 + 10],
          ['r1', 'running', T0 + 11],
          ['r1', 'completed', T0 + 12],
          ['r2', 'running', T0 + 13],
          ['r2', 'cancelled', T0 + 14],
        ];
        const { changes } = await readFeed(expected.length);
        expect(shape(changes)).toEqual(expected);
        expect(changes.every((c) => c.workflow === 'order')).toBe(true);
        expect(new Set(changes.map((c) => c.cursor)).size).toBe(changes.length);
        // The last change of each run is its current status.
        for (const id of ['r1', 'c1', 'r2']) expect(changes.filter((c) => c.runId === id).at(-1)?.status).toBe((await mustGet(id)).status);
      });

      it('continues exactly after a cursor, page by page, with no gaps and no repeats', async () => {
        for (let i = 1; i <= 5; i++) await store.createRun(newRun(`r${i}`), T0 + i);
        await store.claimDue({ owner: 'w1', now: T0 + 10, leaseMs: LEASE, limit: 3 });
        const all = (await readFeed(8)).changes;
        expect(all).toHaveLength(8);
        const paged: StatusChange[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.statusChanges(cursor === undefined ? { limit: 3 } : { after: cursor, limit: 3 });
          expect(page.changes.length).toBeLessThanOrEqual(3);
          paged.push(...page.changes);
          if (page.changes.length > 0) expect(page.cursor).toBe(page.changes.at(-1)?.cursor);
          else expect(page.cursor).toBe(cursor); // nothing new: the cursor given comes back
          cursor = page.cursor;
          if (page.changes.length === 0) break;
        }
        expect(paged).toEqual(all);
        // From any change's cursor, the feed continues with exactly the changes after it.
        for (const [i, change] of all.entries()) {
          expect((await store.statusChanges({ after: change.cursor, limit: 1000 })).changes).toEqual(all.slice(i + 1));
        }
      });

      it('follows from statusChangesEnd: only changes committed afterwards', async () => {
        const empty = await store.statusChanges({});
        expect(empty.changes).toEqual([]);
        const start = await store.statusChangesEnd();
        await store.createRun(newRun('before'), T0);
        await readFeed(1, start);
        const end = await store.statusChangesEnd();
        await store.createRun(newRun('after'), T0 + 1);
        await started('later', T0 + 2);
        expect(shape((await readFeed(2, end)).changes)).toEqual([
          ['after', 'pending', T0 + 1],
          ['later', 'running', T0 + 2],
        ]);
        // An empty feed's cursor (from a read or from statusChangesEnd) reads everything after it.
        expect(shape((await readFeed(3, empty.cursor)).changes).map(([id]) => id)).toEqual(['before', 'after', 'later']);
        expect(shape((await readFeed(3, start)).changes).map(([id]) => id)).toEqual(['before', 'after', 'later']);
      });

      it('refuses a malformed cursor, and one this store never issued, with INVALID_CURSOR', async () => {
        await store.createRun(newRun('r1'), T0);
        for (const bad of ['nope', '', ' 1', '-1', '1e3', 'x.1', `${'9'.repeat(40)}`]) {
          await expect(store.statusChanges({ after: bad }), bad).rejects.toMatchObject({ code: ErrorCode.InvalidCursor, details: { cursor: bad, problem: 'malformed' } });
        }
        // A cursor of another store that has recorded more changes than this one.
        const other = await makeStore();
        try {
          await other.store.open();
          for (let i = 1; i <= 5; i++) await other.store.createRun(newRun(`o${i}`), T0);
          const foreign = (await readFeed(5, undefined, other.store)).cursor;
          await expect(store.statusChanges({ after: foreign })).rejects.toMatchObject({
            code: ErrorCode.InvalidCursor,
            message: expect.stringContaining('ahead of every status change') as unknown,
            details: { problem: 'unknown' },
          });
        } finally {
          await other.cleanup();
        }
      });

      it('pruneRuns deletes the changes of the runs it deletes; older cursors stay exact', async (ctx) => {
        if (!store.pruneRuns) return ctx.skip();
        const old = await started('old', T0);
        await writeOne({ runId: 'old', token: old.token, events: [{ type: 'run.completed', result: 1 }], transition: { status: 'completed', output: 1 } }, T0 + 10);
        await store.createRun(newRun('kept'), T0 + 20);
        const done2 = await started('old-2', T0 + 30);
        await writeOne({ runId: 'old-2', token: done2.token, events: [{ type: 'run.completed', result: 2 }], transition: { status: 'completed', output: 2 } }, T0 + 40);
        const before = (await readFeed(5)).changes;
        expect(before.map((c) => c.runId)).toEqual(['old', 'old', 'kept', 'old-2', 'old-2']);

        expect(await store.pruneRuns(T0 + 1_000)).toBe(2);
        expect(shape((await readFeed(1)).changes)).toEqual([['kept', 'pending', T0 + 20]]);
        // Cursors of pruned changes still work, the newest one included: ids are never reused.
        await started('new', T0 + 2_000);
        expect((await readFeed(2, before[0]?.cursor)).changes.map((c) => c.runId)).toEqual(['kept', 'new']);
        expect((await readFeed(1, before[2]?.cursor)).changes.map((c) => c.runId)).toEqual(['new']);
        expect((await readFeed(1, before[4]?.cursor)).changes.map((c) => c.runId)).toEqual(['new']);
      });
    });

    describe('schemaInfo (optional)', () => {
      it('reports a current schema after open', async (ctx) => {
        if (!store.schemaInfo) return ctx.skip();
        const info = await store.schemaInfo();
        expect(info.version).toBe(info.supported);
        expect(info.version).toBeGreaterThan(0);
      });
    });

    describe('copies', () => {
      it('returned values are copies: mutating them does not change the store', async () => {
        const input = { list: [1, 2] };
        const { run } = await store.createRun(newRun('r1', { input }), T0);
        input.list.push(3);
        (run.input as { list: number[] }).list.push(4);
        run.state.x = 1;
        run.status = 'failed';
        const fetched = await mustGet('r1');
        expect(fetched.input).toEqual({ list: [1, 2] });
        expect(fetched.state).toEqual({});
        expect(fetched.status).toBe('pending');
        (fetched.input as { list: number[] }).list.length = 0;
        expect((await mustGet('r1')).input).toEqual({ list: [1, 2] });

        const lease = await store.claimRun('r1', { owner: 'w1', now: T0, leaseMs: LEASE });
        const state = { nested: { v: 1 } };
        const event = done(1, { items: ['a'] });
        await writeOne({ runId: 'r1', token: lease!.token, events: [event], state });
        state.nested.v = 2;
        (event as { result: { items: string[] } }).result.items.push('b');
        expect((await mustGet('r1')).state).toEqual({ nested: { v: 1 } });
        const history = await store.history('r1');
        expect(history[1]).toMatchObject({ result: { items: ['a'] } });
        (history[1] as { result: { items: string[] } }).result.items.length = 0;
        expect((await store.history('r1'))[1]).toMatchObject({ result: { items: ['a'] } });

        const payload = { deep: { n: 1 } };
        const msg = await store.sendSignal('r1', 'x', payload, T0 + 1);
        payload.deep.n = 2;
        (msg.payload as { deep: { n: number } }).deep.n = 3;
        const [stored] = await store.inbox('r1');
        expect(stored?.payload).toEqual({ deep: { n: 1 } });
        (stored!.payload as { deep: { n: number } }).deep.n = 4;
        expect((await store.inbox('r1'))[0]?.payload).toEqual({ deep: { n: 1 } });

        const page = await store.listRuns({});
        page.runs[0]!.state.y = 2;
        expect((await mustGet('r1')).state).toEqual({ nested: { v: 1 } });
      });
    });
  });
}
