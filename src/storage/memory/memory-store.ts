/**
 * The in-memory store: the reference semantics of the Store port, used by tests and by
 * `store: 'memory:'`. Values are copied through JSON on the way in and out, so callers can never
 * alias stored data, exactly as with a database.
 */
import { coerceError, ConflictError, NotFoundError } from '../../core/errors.js';
import type { EventData, HistoryEvent } from '../../core/history.js';
import { reopenConflict, settleConflict, taskSignal, type HumanTaskRecord, type ListTasksQuery, type TaskOutcome, type TaskPage } from '../../core/human-task.js';
import {
  appendsOnly,
  CANCEL_SIGNAL,
  type ClaimedRun,
  invalidStatusCursor,
  isTerminal,
  statusChangeLimit,
  type CreateRunResult,
  type InboxMessage,
  type Lease,
  type ListRunsQuery,
  type NewRun,
  type RunPage,
  type RunRecord,
  type RunWrite,
  type StatusChange,
  type StatusChangePage,
  type StatusChangeQuery,
  type Store,
  type WriteResult,
} from '../../core/store.js';
import { decimalCursor, encodeCursor, pageRequest } from '../../util/json.js';

const copy = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export class MemoryStore implements Store {
  readonly label = 'memory:';
  private readonly runs = new Map<string, RunRecord>();
  private readonly events = new Map<string, HistoryEvent[]>();
  private readonly inboxes = new Map<string, InboxMessage[]>();
  private nextInboxId = 1;
  private readonly tasks = new Map<string, HumanTaskRecord>();
  /** The status-change feed, oldest first; cursors are the decimal ids, which only grow. */
  private readonly changes: (Omit<StatusChange, 'cursor'> & { id: number })[] = [];
  private lastChangeId = 0;

  open(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  createRun(input: NewRun, now: number): Promise<{ created: boolean; run: RunRecord; lease?: Lease }> {
    const existing = this.runs.get(input.id);
    if (existing) return Promise.resolve({ created: false, run: copy(existing) });
    const run = this.insertRun(input, now);
    let lease: Lease | undefined;
    if (input.claim) {
      run.status = 'running';
      run.leaseToken = 1;
      run.leaseOwner = input.claim.owner;
      run.leaseExpiresAt = input.claim.expiresAt;
      delete run.wakeAt;
      lease = { runId: run.id, owner: input.claim.owner, token: 1, expiresAt: input.claim.expiresAt };
    }
    this.statusChanged(run);
    return Promise.resolve(lease ? { created: true, run: copy(run), lease } : { created: true, run: copy(run) });
  }

  async createRuns(inputs: NewRun[], now: number): Promise<CreateRunResult[]> {
    const results: CreateRunResult[] = [];
    for (const input of inputs) results.push(await this.createRun(input, now));
    return results;
  }

  private insertRun(input: NewRun, now: number): RunRecord {
    const run: RunRecord = {
      id: input.id,
      kind: input.kind,
      workflow: input.workflow,
      version: input.version,
      status: 'pending',
      input: copy(input.input),
      state: {},
      createdAt: now,
      updatedAt: now,
      wakeAt: now,
      leaseToken: 0,
      lastSeq: 1,
    };
    if (input.parentId !== undefined) run.parentId = input.parentId;
    this.runs.set(run.id, run);
    const started: HistoryEvent = {
      type: 'run.started',
      workflow: input.workflow,
      version: input.version,
      input: copy(input.input),
      runId: run.id,
      seq: 1,
      at: now,
    };
    if (input.parentId !== undefined) started.parentId = input.parentId;
    this.events.set(run.id, [started]);
    this.inboxes.set(run.id, []);
    return run;
  }

  /** Record the run's status in the feed: every method that changes a status calls this. */
  private statusChanged(run: RunRecord): void {
    this.changes.push({ id: ++this.lastChangeId, runId: run.id, workflow: run.workflow, status: run.status, at: run.updatedAt });
  }

  getRun(id: string): Promise<RunRecord | undefined> {
    return Promise.resolve(copy(this.runs.get(id)));
  }

  findRunIds(prefix: string, limit: number): Promise<string[]> {
    const ids = [...this.runs.keys()].filter((id) => id.startsWith(prefix)).sort();
    return Promise.resolve(ids.slice(0, limit));
  }

  listRuns(query: ListRunsQuery): Promise<RunPage> {
    // A bad cursor must surface as a rejected promise, not a synchronous throw a `.catch` misses.
    try {
      return Promise.resolve(this.listRunsNow(query));
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
  }

  private listRunsNow(query: ListRunsQuery): RunPage {
    const page = pageRequest(query);
    const { limit, after } = page;
    const statuses = page.statuses && new Set(page.statuses);
    const matching = [...this.runs.values()]
      .filter(
        (r) =>
          (!statuses || statuses.has(r.status)) &&
          (query.workflow === undefined || r.workflow === query.workflow) &&
          (query.parentId === undefined || r.parentId === query.parentId) &&
          (!after || r.createdAt < after.createdAt || (r.createdAt === after.createdAt && r.id < after.id)),
      )
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const runs = matching.slice(0, limit).map(copy);
    const last = runs[runs.length - 1];
    return matching.length > limit && last ? { runs, nextCursor: encodeCursor(last.createdAt, last.id) } : { runs };
  }

  history(runId: string, afterSeq = 0): Promise<HistoryEvent[]> {
    const events = this.events.get(runId) ?? [];
    return Promise.resolve(events.filter((e) => e.seq > afterSeq).map(copy));
  }

  inbox(runId: string): Promise<InboxMessage[]> {
    return Promise.resolve(copy(this.inboxes.get(runId) ?? []));
  }

  sendSignal(runId: string, name: string, payload: unknown, now: number): Promise<InboxMessage> {
    const run = this.runs.get(runId);
    if (!run) return Promise.reject(new NotFoundError('Run', runId, 'check the id with `keel ls`'));
    if (isTerminal(run.status)) {
      return Promise.reject(
        new ConflictError(`Run '${runId}' is ${run.status}; it takes no more signals.`, { runId, status: run.status }),
      );
    }
    return Promise.resolve(copy(this.deliver(run, name, payload, now)));
  }

  private deliver(run: RunRecord, name: string, payload: unknown, now: number): InboxMessage {
    const message: InboxMessage = { id: this.nextInboxId++, runId: run.id, name, payload: copy(payload), sentAt: now };
    (this.inboxes.get(run.id) as InboxMessage[]).push(message);
    if (run.status === 'waiting' && (name === CANCEL_SIGNAL || run.waitingFor?.includes(name))) {
      run.wakeAt = Math.min(run.wakeAt ?? now, now);
      run.updatedAt = now;
    }
    return message;
  }

  claimDue(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<Lease[]> {
    return Promise.resolve(this.claimLeases(opts));
  }

  claimDueRuns(opts: { owner: string; now: number; leaseMs: number; limit: number }): Promise<ClaimedRun[]> {
    return Promise.resolve(
      this.claimLeases(opts).map((lease) => ({
        lease,
        run: copy(this.runs.get(lease.runId) as RunRecord),
        history: (this.events.get(lease.runId) ?? []).filter((e) => e.seq > 1).map(copy),
        inbox: copy(this.inboxes.get(lease.runId) ?? []),
      })),
    );
  }

  private claimLeases(opts: { owner: string; now: number; leaseMs: number; limit: number }): Lease[] {
    const due = [...this.runs.values()]
      .filter(
        (r) =>
          ((r.status === 'pending' || r.status === 'waiting') && r.wakeAt !== undefined && r.wakeAt <= opts.now) ||
          (r.status === 'running' && (r.leaseExpiresAt ?? 0) <= opts.now),
      )
      .sort((a, b) => (a.wakeAt ?? a.leaseExpiresAt ?? 0) - (b.wakeAt ?? b.leaseExpiresAt ?? 0))
      .slice(0, opts.limit);
    return due.map((r) => this.claim(r, opts.owner, opts.now + opts.leaseMs, opts.now));
  }

  private claim(run: RunRecord, owner: string, expiresAt: number, now: number): Lease {
    const was = run.status;
    run.status = 'running';
    run.leaseToken += 1;
    run.leaseOwner = owner;
    run.leaseExpiresAt = expiresAt;
    run.updatedAt = now;
    delete run.wakeAt;
    // Taking over an expired lease leaves the run running: no change of status.
    if (was !== 'running') this.statusChanged(run);
    return { runId: run.id, owner, token: run.leaseToken, expiresAt };
  }

  claimRun(runId: string, opts: { owner: string; now: number; leaseMs: number }): Promise<Lease | undefined> {
    const run = this.runs.get(runId);
    if (!run || isTerminal(run.status)) return Promise.resolve(undefined);
    if (run.status === 'running' && (run.leaseExpiresAt ?? 0) > opts.now) return Promise.resolve(undefined);
    return Promise.resolve(this.claim(run, opts.owner, opts.now + opts.leaseMs, opts.now));
  }

  renewLeases(
    leases: { runId: string; token: number }[],
    expiresAt: number,
  ): Promise<{ lost: string[]; cancelRequested: string[] }> {
    const lost: string[] = [];
    const cancelRequested: string[] = [];
    for (const { runId, token } of leases) {
      const run = this.runs.get(runId);
      if (!run || run.leaseToken !== token || run.status !== 'running') {
        lost.push(runId);
        continue;
      }
      run.leaseExpiresAt = expiresAt;
      if (this.inboxes.get(runId)?.some((m) => m.name === CANCEL_SIGNAL)) cancelRequested.push(runId);
    }
    return Promise.resolve({ lost, cancelRequested });
  }

  releaseLease(runId: string, token: number, now: number): Promise<void> {
    const run = this.runs.get(runId);
    if (run && run.leaseToken === token && run.status === 'running') {
      run.status = 'pending';
      run.wakeAt = now;
      run.updatedAt = now;
      delete run.leaseOwner;
      delete run.leaseExpiresAt;
      this.statusChanged(run);
    }
    return Promise.resolve();
  }

  leaseOwners(): Promise<string[]> {
    const owners = new Set<string>();
    for (const r of this.runs.values()) if (r.status === 'running' && r.leaseOwner) owners.add(r.leaseOwner);
    return Promise.resolve([...owners]);
  }

  expireLeases(owners: string[]): Promise<number> {
    let n = 0;
    for (const r of this.runs.values()) {
      if (r.status === 'running' && r.leaseOwner !== undefined && owners.includes(r.leaseOwner)) {
        r.leaseExpiresAt = 0;
        n++;
      }
    }
    return Promise.resolve(n);
  }

  nextWakeAt(): Promise<number | undefined> {
    let next: number | undefined;
    for (const r of this.runs.values()) {
      const at = r.status === 'pending' || r.status === 'waiting' ? r.wakeAt : r.status === 'running' ? r.leaseExpiresAt : undefined;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return Promise.resolve(next);
  }

  write(batch: RunWrite[], now: number): Promise<WriteResult[]> {
    // Copy the whole batch before applying any of it: a value JSON cannot hold (BigInt, a cycle)
    // must reject the call with nothing applied, as a database transaction would, rather than
    // leave the earlier writes of the batch (or half of one write) in place.
    let copied: RunWrite[];
    try {
      copied = copy(batch);
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
    return Promise.resolve(copied.map((w) => this.apply(w, now)));
  }

  /** Apply one write; `w` is already a private copy, so its values may be stored as they are. */
  private apply(w: RunWrite, now: number): WriteResult {
    const run = this.runs.get(w.runId);
    if (!run || run.leaseToken !== w.token || run.status !== 'running') return { ok: false, reason: 'fenced' };
    if (w.seq !== undefined && w.events.length > 0 && w.seq !== run.lastSeq + 1) return { ok: false, reason: 'fenced' };
    const events = this.events.get(run.id) as HistoryEvent[];
    for (const data of w.events) events.push({ ...data, runId: run.id, seq: ++run.lastSeq, at: now });
    const inbox = this.inboxes.get(run.id) as InboxMessage[];
    if (w.consume?.length) {
      const consumed = new Set(w.consume);
      this.inboxes.set(run.id, inbox.filter((m) => !consumed.has(m.id)));
    }
    if (w.state) run.state = w.state;
    if (w.lastError === null) delete run.lastError;
    else if (w.lastError) run.lastError = w.lastError;
    for (const child of w.createRuns ?? []) {
      if (!this.runs.has(child.id)) this.statusChanged(this.insertRun({ ...child, parentId: child.parentId ?? run.id }, now));
    }
    for (const d of w.deliver ?? []) {
      const target = this.runs.get(d.runId);
      if (target && !isTerminal(target.status)) this.deliver(target, d.name, d.payload, now);
    }
    for (const t of w.createTasks ?? []) {
      if (this.tasks.has(t.id)) continue;
      this.tasks.set(t.id, { ...t, runId: run.id, workflow: run.workflow, status: 'pending', createdAt: now });
    }
    for (const id of w.expireTasks ?? []) {
      const task = this.tasks.get(id);
      if (task?.runId === run.id && task.status === 'pending') {
        task.status = 'expired';
        task.completedAt = now;
      }
    }
    if (w.events.length > 0 || !appendsOnly(w)) run.updatedAt = now;
    let suspended = false;
    let pending: InboxMessage[] = [];
    const t = w.transition;
    if (t?.status === 'waiting') {
      pending = (this.inboxes.get(run.id) as InboxMessage[]).filter(
        (m) => m.name === CANCEL_SIGNAL || t.waitingFor.includes(m.name),
      );
      if (pending.length === 0) {
        suspended = true;
        run.status = 'waiting';
        run.waitingFor = [...t.waitingFor];
        if (t.wakeAt === null) delete run.wakeAt;
        else run.wakeAt = t.wakeAt;
        delete run.leaseOwner;
        delete run.leaseExpiresAt;
        this.statusChanged(run);
      }
    } else if (t) {
      run.status = t.status;
      run.completedAt = now;
      if (t.status === 'completed') run.output = t.output;
      if (t.status === 'failed') run.error = t.error;
      delete run.wakeAt;
      delete run.waitingFor;
      delete run.leaseOwner;
      delete run.leaseExpiresAt;
      this.statusChanged(run);
      this.inboxes.set(run.id, []);
      // A terminal run takes no more messages, so nobody could answer its open tasks.
      for (const task of this.tasks.values()) {
        if (task.runId === run.id && task.status === 'pending') {
          task.status = 'cancelled';
          task.completedAt = now;
        }
      }
    }
    return { ok: true, lastSeq: run.lastSeq, suspended, pending: copy(pending) };
  }

  // -------------------------------------------------------------------------------------------
  // Human tasks and reopening

  getTask(id: string): Promise<HumanTaskRecord | undefined> {
    return Promise.resolve(copy(this.tasks.get(id)));
  }

  listTasks(query: ListTasksQuery): Promise<TaskPage> {
    try {
      const page = pageRequest(query);
      const { limit, after } = page;
      const statuses = page.statuses && new Set(page.statuses);
      const matching = [...this.tasks.values()]
        .filter(
          (t) =>
            (!statuses || statuses.has(t.status)) &&
            (query.workflow === undefined || t.workflow === query.workflow) &&
            (query.assignee === undefined || t.assignee === query.assignee) &&
            (query.runId === undefined || t.runId === query.runId) &&
            (!after || t.createdAt < after.createdAt || (t.createdAt === after.createdAt && t.id < after.id)),
        )
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const tasks = matching.slice(0, limit).map(copy);
      const last = tasks[tasks.length - 1];
      return Promise.resolve(matching.length > limit && last ? { tasks, nextCursor: encodeCursor(last.createdAt, last.id) } : { tasks });
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
  }

  settleTask(id: string, outcome: TaskOutcome, now: number): Promise<{ task: HumanTaskRecord; message: InboxMessage }> {
    let o: TaskOutcome;
    try {
      o = copy(outcome);
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
    const task = this.tasks.get(id);
    if (!task) return Promise.reject(new NotFoundError('Human task', id, 'list open tasks with `keel tasks ls`'));
    const run = this.runs.get(task.runId);
    const problem = settleConflict(task, o, now, run === undefined || isTerminal(run.status));
    if (problem) return Promise.reject(problem);
    task.status = o.status;
    task.completedAt = now;
    if (o.status === 'completed') task.data = o.data;
    if (o.by !== undefined) task.completedBy = o.by;
    const message = this.deliver(run as RunRecord, taskSignal(id), o, now);
    return Promise.resolve({ task: copy(task), message: copy(message) });
  }

  reopenRun(runId: string, event: EventData, now: number): Promise<RunRecord> {
    const run = this.runs.get(runId);
    if (!run) return Promise.reject(new NotFoundError('Run', runId, 'check the id with `keel ls`'));
    if (run.status !== 'failed') return Promise.reject(reopenConflict(runId, run.status));
    let data: EventData;
    try {
      data = copy(event);
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
    (this.events.get(runId) as HistoryEvent[]).push({ ...data, runId, seq: ++run.lastSeq, at: now });
    run.status = 'pending';
    run.wakeAt = now;
    run.updatedAt = now;
    delete run.error;
    delete run.completedAt;
    delete run.lastError;
    this.statusChanged(run);
    return Promise.resolve(copy(run));
  }

  pruneRuns(before: number, options: { dryRun?: boolean } = {}): Promise<number> {
    const pruned = new Set<string>();
    for (const run of this.runs.values()) {
      if (isTerminal(run.status) && run.completedAt !== undefined && run.completedAt < before) pruned.add(run.id);
    }
    if (options.dryRun || pruned.size === 0) return Promise.resolve(pruned.size);
    for (const id of pruned) {
      this.runs.delete(id);
      this.events.delete(id);
      this.inboxes.delete(id);
    }
    for (const [id, task] of this.tasks) if (pruned.has(task.runId)) this.tasks.delete(id);
    const kept = this.changes.filter((c) => !pruned.has(c.runId));
    this.changes.splice(0, this.changes.length, ...kept);
    return Promise.resolve(pruned.size);
  }

  statusChanges(query: StatusChangeQuery): Promise<StatusChangePage> {
    const limit = statusChangeLimit(query.limit);
    const after = query.after === undefined ? 0 : decimalCursor(query.after);
    if (after === undefined) return Promise.reject(invalidStatusCursor(query.after as string, this.label, 'malformed'));
    if (after > this.lastChangeId) return Promise.reject(invalidStatusCursor(query.after as string, this.label, 'unknown'));
    // Ids only grow, so the changes after the cursor start at the first larger id.
    let lo = 0;
    let hi = this.changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.changes[mid] as { id: number }).id <= after) lo = mid + 1;
      else hi = mid;
    }
    const changes = this.changes.slice(lo, lo + limit).map(({ id, ...c }) => ({ cursor: String(id), ...c }));
    return Promise.resolve({ changes, cursor: changes.at(-1)?.cursor ?? String(after) });
  }

  statusChangesEnd(): Promise<string> {
    return Promise.resolve(String(this.lastChangeId));
  }

  schemaInfo(): Promise<{ version: number; supported: number }> {
    // Nothing persists, so there is no schema to be out of date.
    return Promise.resolve({ version: 1, supported: 1 });
  }

}
