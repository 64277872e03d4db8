/**
 * Versioned schema of the PostgreSQL store, inside one configurable schema (default `keel`) so Keel
 * can live beside an application's tables. Applied versions are rows of `<schema>.schema_migrations`.
 * Migrations only ever get appended: a released migration is never edited, since databases in the
 * field already ran it.
 *
 * Several workers may start at once against an empty database: the whole migration runs under a
 * session advisory lock keyed by the schema name, and the version is read again under the lock, so
 * exactly one of them migrates and the others find the work done.
 */
import type { PoolClient } from 'pg';
import { SchemaTooNewError } from '../../core/errors.js';

export interface Migration {
  version: number;
  description: string;
  /** SQL with `$S` standing for the quoted schema name. */
  sql: string;
}

/** JSON columns hold JSON text (not jsonb): stored and returned byte for byte, no re-parse on the
 * server, and SQL NULL stands for undefined so null and undefined stay apart. Times are epoch ms. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, history events, inboxes, the write log, wake-up notifications and apply_writes',
    sql: `
      CREATE TABLE $S.runs (
        -- C collation: ids sort and compare bytewise, so prefix ranges and cursors are exact.
        id               text COLLATE "C" PRIMARY KEY,
        kind             text NOT NULL,
        workflow         text NOT NULL,
        version          text NOT NULL,
        status           text NOT NULL,
        input            text,
        output           text,
        error            text,
        state            text NOT NULL DEFAULT '{}',
        parent_id        text COLLATE "C",
        created_at       bigint NOT NULL,
        updated_at       bigint NOT NULL,
        completed_at     bigint,
        wake_at          bigint,
        waiting_for      text[],
        lease_owner      text,
        lease_expires_at bigint,
        lease_token      integer NOT NULL DEFAULT 0,
        last_seq         integer NOT NULL,
        last_error       text,
        -- When claimDue may take the run: the wake time of a pending or waiting run, the lease expiry
        -- of a running one (a dead worker's run), never for a terminal run. One index serves both.
        due_at           bigint GENERATED ALWAYS AS (
                           CASE status
                             WHEN 'pending' THEN wake_at
                             WHEN 'waiting' THEN wake_at
                             WHEN 'running' THEN coalesce(lease_expires_at, 0)
                           END) STORED
      );
      CREATE INDEX runs_due ON $S.runs (due_at) WHERE due_at IS NOT NULL;
      CREATE INDEX runs_list ON $S.runs (created_at DESC, id DESC);
      CREATE INDEX runs_status_list ON $S.runs (status, created_at DESC, id DESC);
      CREATE INDEX runs_workflow_list ON $S.runs (workflow, created_at DESC, id DESC);
      CREATE INDEX runs_parent_list ON $S.runs (parent_id, created_at DESC, id DESC) WHERE parent_id IS NOT NULL;

      CREATE TABLE $S.events (
        run_id text COLLATE "C" NOT NULL,
        seq    integer NOT NULL,
        at     bigint NOT NULL,
        data   text NOT NULL,
        PRIMARY KEY (run_id, seq)
      );

      -- An identity never reuses an id after its message is consumed: signal.received events name it.
      CREATE TABLE $S.inbox (
        id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id  text COLLATE "C" NOT NULL,
        name    text NOT NULL,
        payload text,
        sent_at bigint NOT NULL
      );
      CREATE INDEX inbox_run ON $S.inbox (run_id, id);

      -- One row per applied write batch, keyed by an id the client chose, with the batch's results.
      -- A batch whose commit outcome is unknown (the connection dropped) is sent again with the same
      -- id: if it had committed, the stored results are returned and nothing is applied twice.
      -- Rows are pruned after a while (created is server time: only for pruning).
      CREATE TABLE $S.write_log (
        id      uuid PRIMARY KEY,
        results json NOT NULL,
        created timestamptz NOT NULL DEFAULT now()
      );

      -- Wake other workers when a run becomes due or gets a wake-up time: a new pending run, a signal
      -- or delivery that wakes a waiting run, a suspension with a timer, a released or expired lease.
      -- Notifications are sent on commit and deduplicated within a transaction.
      CREATE FUNCTION $S.notify_wake() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.wake', '');
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_wake_insert AFTER INSERT ON $S.runs FOR EACH ROW
        WHEN (NEW.status = 'pending') EXECUTE FUNCTION $S.notify_wake();
      CREATE TRIGGER runs_wake_update AFTER UPDATE ON $S.runs FOR EACH ROW
        WHEN (
          (NEW.status IN ('pending', 'waiting') AND NEW.wake_at IS NOT NULL
            AND (NEW.wake_at IS DISTINCT FROM OLD.wake_at OR NEW.status IS DISTINCT FROM OLD.status))
          OR (NEW.status = 'running' AND NEW.lease_expires_at = 0 AND OLD.lease_expires_at IS DISTINCT FROM 0)
        ) EXECUTE FUNCTION $S.notify_wake();

      -- Store a signal. The run row is locked first (waiting for a write in flight to commit), and the
      -- wake-up UPDATE is a later statement with a fresh snapshot: a suspension committed while we
      -- waited for the lock is seen, so a signal never lands beside a run that sleeps through it.
      -- Returns no row for an unknown run and a NULL message id for a terminal one.
      CREATE FUNCTION $S.send_signal(rid text, sname text, spayload text, now_ms bigint)
        RETURNS TABLE (run_status text, message_id bigint)
      LANGUAGE plpgsql AS $fn$
      DECLARE st text; mid bigint;
      BEGIN
        SELECT r.status INTO st FROM $S.runs r WHERE r.id = rid FOR NO KEY UPDATE;
        IF NOT FOUND THEN RETURN; END IF;
        IF st NOT IN ('completed', 'failed', 'cancelled') THEN
          INSERT INTO $S.inbox (run_id, name, payload, sent_at) VALUES (rid, sname, spayload, now_ms) RETURNING id INTO mid;
          UPDATE $S.runs r SET wake_at = least(coalesce(r.wake_at, now_ms), now_ms), updated_at = now_ms
          WHERE r.id = rid AND r.status = 'waiting' AND (sname = '@cancel' OR sname = ANY (r.waiting_for));
        END IF;
        run_status := st;
        message_id := mid;
        RETURN NEXT;
      END $fn$;

      -- Apply a batch of run writes in the calling transaction: one round trip for the whole batch.
      -- Each write is independent: its fencing UPDATE comes first and, when the token is stale, the
      -- write is skipped with nothing of it applied. The batch is a JSON array prepared by the client
      -- (see prepareWrite in postgres-store.ts); JSON values arrive as json and are stored as their text.
      CREATE FUNCTION $S.apply_writes(batch_id uuid, batch json, now_ms bigint) RETURNS json
      LANGUAGE plpgsql AS $fn$
      DECLARE
        w json; t json; c json; d json;
        rid text; n integer; head integer; names text[];
        pend json; susp boolean; tstatus text; inserted integer; target_status text;
        results json[] := '{}';
        done json;
      BEGIN
        SELECT l.results INTO done FROM $S.write_log l WHERE l.id = batch_id;
        IF FOUND THEN RETURN done; END IF;
        FOR w IN SELECT value FROM json_array_elements(batch) LOOP
          rid := w->>'r';
          n := json_array_length(w->'e');
          UPDATE $S.runs SET
            last_seq = last_seq + n,
            updated_at = now_ms,
            state = coalesce((w->'s')::text, state),
            last_error = CASE (w->>'le')::int WHEN 0 THEN last_error WHEN 1 THEN (w->'lev')::text ELSE NULL END
          WHERE id = rid AND lease_token = (w->>'k')::int AND status = 'running'
          RETURNING last_seq INTO head;
          IF NOT FOUND THEN
            results := results || '{"ok":false,"reason":"fenced"}'::json;
            CONTINUE;
          END IF;
          IF n > 0 THEN
            INSERT INTO $S.events (run_id, seq, at, data)
            SELECT rid, head - n + x.ord::integer, now_ms, x.e::text
            FROM json_array_elements(w->'e') WITH ORDINALITY AS x(e, ord);
          END IF;
          IF json_array_length(w->'c') > 0 THEN
            DELETE FROM $S.inbox WHERE run_id = rid
              AND id IN (SELECT value::text::bigint FROM json_array_elements(w->'c'));
          END IF;
          FOR c IN SELECT value FROM json_array_elements(w->'cr') LOOP
            INSERT INTO $S.runs (id, kind, workflow, version, status, input, parent_id, created_at, updated_at,
                                 wake_at, lease_token, last_seq)
            VALUES (c->>'id', c->>'kind', c->>'workflow', c->>'version', 'pending', (c->'input')::text,
                    c->>'parent', now_ms, now_ms, now_ms, 0, 1)
            ON CONFLICT (id) DO NOTHING;
            GET DIAGNOSTICS inserted = ROW_COUNT;
            IF inserted > 0 THEN
              INSERT INTO $S.events (run_id, seq, at, data) VALUES (c->>'id', 1, now_ms, (c->'started')::text);
            END IF;
          END LOOP;
          FOR d IN SELECT value FROM json_array_elements(w->'d') LOOP
            -- Locked so the target cannot end between the check and the insert (a terminal run's
            -- inbox stays empty).
            SELECT status INTO target_status FROM $S.runs WHERE id = d->>'r' FOR NO KEY UPDATE;
            IF FOUND AND target_status NOT IN ('completed', 'failed', 'cancelled') THEN
              INSERT INTO $S.inbox (run_id, name, payload, sent_at) VALUES (d->>'r', d->>'n', (d->'p')::text, now_ms);
              UPDATE $S.runs SET wake_at = least(coalesce(wake_at, now_ms), now_ms), updated_at = now_ms
              WHERE id = d->>'r' AND status = 'waiting' AND (d->>'n' = '@cancel' OR d->>'n' = ANY (waiting_for));
            END IF;
          END LOOP;
          t := w->'t';
          susp := false;
          pend := '[]'::json;
          IF t IS NOT NULL THEN
            tstatus := t->>'s';
            IF tstatus = 'waiting' THEN
              names := ARRAY(SELECT json_array_elements_text(t->'f'));
              SELECT coalesce(json_agg(json_build_object('id', i.id, 'runId', i.run_id, 'name', i.name,
                                                         'payload', i.payload, 'sentAt', i.sent_at) ORDER BY i.id), '[]'::json)
              INTO pend FROM $S.inbox i WHERE i.run_id = rid AND (i.name = '@cancel' OR i.name = ANY (names));
              IF json_array_length(pend) = 0 THEN
                UPDATE $S.runs SET status = 'waiting', waiting_for = names, wake_at = (t->>'w')::bigint,
                                   lease_owner = NULL, lease_expires_at = NULL
                WHERE id = rid;
                susp := true;
              END IF;
            ELSE
              UPDATE $S.runs SET status = tstatus, completed_at = now_ms, output = (t->'o')::text, error = (t->'x')::text,
                                 wake_at = NULL, waiting_for = NULL, lease_owner = NULL, lease_expires_at = NULL
              WHERE id = rid;
              DELETE FROM $S.inbox WHERE run_id = rid;
            END IF;
          END IF;
          results := results || json_build_object('ok', true, 'lastSeq', head, 'suspended', susp, 'pending', pend);
        END LOOP;
        done := array_to_json(results);
        INSERT INTO $S.write_log (id, results) VALUES (batch_id, done);
        RETURN done;
      END $fn$;
    `,
  },
  {
    version: 2,
    description: 'human tasks',
    sql: `
      CREATE TABLE $S.tasks (
        id           text COLLATE "C" PRIMARY KEY,
        run_id       text COLLATE "C" NOT NULL,
        workflow     text NOT NULL,
        pos          integer NOT NULL,
        name         text NOT NULL,
        title        text NOT NULL,
        description  text,
        json_schema  text,
        assignee     text,
        status       text NOT NULL,
        data         text,
        completed_by text,
        created_at   bigint NOT NULL,
        completed_at bigint,
        deadline_at  bigint
      );
      CREATE INDEX tasks_list ON $S.tasks (created_at DESC, id DESC);
      CREATE INDEX tasks_status_list ON $S.tasks (status, created_at DESC, id DESC);
      CREATE INDEX tasks_pending_run ON $S.tasks (run_id) WHERE status = 'pending';

      -- A run that ends cancels its pending tasks (nobody could answer them: a terminal run takes no
      -- messages). A trigger rather than a change to apply_writes: it fires only when a run's status
      -- becomes terminal, never on the step hot path, and costs one probe into a small partial index.
      CREATE FUNCTION $S.cancel_run_tasks() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE $S.tasks SET status = 'cancelled', completed_at = NEW.completed_at
        WHERE run_id = NEW.id AND status = 'pending';
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_end_tasks AFTER UPDATE OF status ON $S.runs FOR EACH ROW
        WHEN (NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION $S.cancel_run_tasks();

      -- A batch of run writes some of which create or expire tasks: apply_writes, then the task rows
      -- of the writes that were applied, in one transaction. tasks[i] belongs to batch[i]:
      -- {"r": run id, "c": [new tasks], "x": [task ids to expire]}. Repeating a batch id is safe:
      -- apply_writes returns the stored results and the task statements are idempotent.
      CREATE FUNCTION $S.apply_writes_with_tasks(batch_id uuid, batch json, tasks json, now_ms bigint) RETURNS json
      LANGUAGE plpgsql AS $fn$
      DECLARE done json; w json; k json; i integer := 0;
      BEGIN
        done := $S.apply_writes(batch_id, batch, now_ms);
        FOR w IN SELECT value FROM json_array_elements(tasks) LOOP
          IF ((done->i)->>'ok')::boolean THEN
            FOR k IN SELECT value FROM json_array_elements(w->'c') LOOP
              INSERT INTO $S.tasks (id, run_id, workflow, pos, name, title, description, json_schema, assignee, status,
                                    created_at, completed_at, deadline_at)
              SELECT k->>'id', r.id, r.workflow, (k->>'pos')::integer, k->>'name', k->>'title', k->>'description',
                     (k->'jsonSchema')::text, k->>'assignee',
                     CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN 'cancelled' ELSE 'pending' END,
                     now_ms,
                     CASE WHEN r.status IN ('completed', 'failed', 'cancelled') THEN now_ms END,
                     (k->>'deadlineAt')::bigint
              FROM $S.runs r WHERE r.id = w->>'r'
              ON CONFLICT (id) DO NOTHING;
            END LOOP;
            IF json_array_length(w->'x') > 0 THEN
              UPDATE $S.tasks SET status = 'expired', completed_at = now_ms
              WHERE run_id = w->>'r' AND status = 'pending' AND id IN (SELECT json_array_elements_text(w->'x'));
            END IF;
          END IF;
          i := i + 1;
        END LOOP;
        RETURN done;
      END $fn$;

      -- A person settles a task: the run row is locked before the task row, the order a run write
      -- takes them in (apply_writes, then the end-of-run trigger), so the two never deadlock.
      -- No row: unknown task. result 'ok' with the inbox message id, or why not: 'not-pending',
      -- 'past-deadline', 'run-ended' (the client turns these into errors).
      CREATE FUNCTION $S.settle_task(tid text, new_status text, tdata text, tby text, payload text, now_ms bigint)
        RETURNS TABLE (result text, message_id bigint)
      LANGUAGE plpgsql AS $fn$
      DECLARE rid text; st text; tstatus text; tdeadline bigint; mid bigint; sname text := '@task:' || tid;
      BEGIN
        SELECT k.run_id INTO rid FROM $S.tasks k WHERE k.id = tid;
        IF NOT FOUND THEN RETURN; END IF;
        SELECT r.status INTO st FROM $S.runs r WHERE r.id = rid FOR NO KEY UPDATE;
        SELECT k.status, k.deadline_at INTO tstatus, tdeadline FROM $S.tasks k WHERE k.id = tid FOR UPDATE;
        IF tstatus <> 'pending' THEN
          result := 'not-pending';
        ELSIF new_status = 'completed' AND tdeadline IS NOT NULL AND now_ms >= tdeadline THEN
          result := 'past-deadline';
        ELSIF st IS NULL OR st IN ('completed', 'failed', 'cancelled') THEN
          result := 'run-ended';
        ELSE
          INSERT INTO $S.inbox (run_id, name, payload, sent_at) VALUES (rid, sname, payload, now_ms) RETURNING id INTO mid;
          UPDATE $S.runs r SET wake_at = least(coalesce(r.wake_at, now_ms), now_ms), updated_at = now_ms
          WHERE r.id = rid AND r.status = 'waiting' AND sname = ANY (r.waiting_for);
          UPDATE $S.tasks k SET status = new_status, data = tdata, completed_by = tby, completed_at = now_ms WHERE k.id = tid;
          result := 'ok';
          message_id := mid;
        END IF;
        RETURN NEXT;
      END $fn$;
    `,
  },
  {
    version: 3,
    description: 'apply_writes applies the common writes of a batch in one set-based statement',
    // Same signature and batch format as version 1. A write that is the only one of its run in the
    // batch, with no inbox consumption, children or deliveries and no transition or a terminal one
    // (a step, a state change, a run's end: the hot path) is applied by one UPDATE … FROM over the
    // whole batch, its events by one INSERT; every other write goes through the version 1 loop,
    // afterwards and in batch order. Writes of different runs are independent, so applying them in
    // another order changes nothing; the writes of one run stay in order (all in the loop). A batch
    // of one common write (sequential work) has its own short path, the same statements for one run.
    sql: `
      CREATE OR REPLACE FUNCTION $S.apply_writes(batch_id uuid, batch json, now_ms bigint) RETURNS json
      LANGUAGE plpgsql AS $fn$
      DECLARE
        w json; t json; c json; d json;
        rid text; n integer; head integer; names text[];
        pend json; susp boolean; tstatus text; inserted integer; target_status text;
        results json[];
        done json;
        pos bigint;
        done_ords bigint[]; done_results json[]; ended text[]; complex bigint[];
      BEGIN
        SELECT l.results INTO done FROM $S.write_log l WHERE l.id = batch_id;
        IF FOUND THEN RETURN done; END IF;

        -- One common write (sequential work: a step, a run's end): the same as the set-based
        -- statement below, with the least work per call.
        IF json_array_length(batch) = 1 THEN
          w := batch->0;
          t := w->'t';
          tstatus := t->>'s';
          IF coalesce(json_array_length(w->'c'), 0) = 0 AND coalesce(json_array_length(w->'cr'), 0) = 0
             AND coalesce(json_array_length(w->'d'), 0) = 0
             AND (t IS NULL OR tstatus IN ('completed', 'failed', 'cancelled')) THEN
            rid := w->>'r';
            n := json_array_length(w->'e');
            UPDATE $S.runs r SET
              last_seq = r.last_seq + n,
              updated_at = now_ms,
              state = coalesce((w->'s')::text, r.state),
              last_error = CASE (w->>'le')::int WHEN 0 THEN r.last_error WHEN 1 THEN (w->'lev')::text ELSE NULL END,
              status = coalesce(tstatus, r.status),
              completed_at = CASE WHEN tstatus IS NULL THEN r.completed_at ELSE now_ms END,
              output = CASE WHEN tstatus IS NULL THEN r.output ELSE (t->'o')::text END,
              error = CASE WHEN tstatus IS NULL THEN r.error ELSE (t->'x')::text END,
              wake_at = CASE WHEN tstatus IS NULL THEN r.wake_at END,
              waiting_for = CASE WHEN tstatus IS NULL THEN r.waiting_for END,
              lease_owner = CASE WHEN tstatus IS NULL THEN r.lease_owner END,
              lease_expires_at = CASE WHEN tstatus IS NULL THEN r.lease_expires_at END
            WHERE r.id = rid AND r.lease_token = (w->>'k')::int AND r.status = 'running'
            RETURNING r.last_seq INTO head;
            IF NOT FOUND THEN
              done := '[{"ok":false,"reason":"fenced"}]'::json;
            ELSE
              IF n > 0 THEN
                INSERT INTO $S.events (run_id, seq, at, data)
                SELECT rid, head - n + x.ord::integer, now_ms, x.e::text
                FROM json_array_elements(w->'e') WITH ORDINALITY AS x(e, ord);
              END IF;
              IF tstatus IS NOT NULL THEN
                -- A separate statement, so its snapshot sees any signal stored while the UPDATE waited.
                DELETE FROM $S.inbox WHERE run_id = rid;
              END IF;
              done := json_build_array(json_build_object('ok', true, 'lastSeq', head, 'suspended', false, 'pending', '[]'::json));
            END IF;
            INSERT INTO $S.write_log (id, results) VALUES (batch_id, done);
            RETURN done;
          END IF;
        END IF;

        results := array_fill('{"ok":false,"reason":"fenced"}'::json, ARRAY[json_array_length(batch)]);

        -- The common writes, all in one statement: each the only write of its run in the batch, with
        -- events, state and last error, and no transition or a terminal one (no inbox consumption,
        -- children or deliveries). The fencing condition is in the UPDATE: a stale write matches nothing.
        IF json_array_length(batch) = 1 THEN
          complex := ARRAY[1::bigint]; -- one write that is not a common one
        ELSE
          WITH w AS (
            SELECT x.*, count(*) OVER (PARTITION BY x.r) AS writes
            FROM ROWS FROM (json_to_recordset(batch) AS (r text, k integer, e json, c json, s json, le integer, lev json, cr json, d json, t json))
                 WITH ORDINALITY AS x(r, k, e, c, s, le, lev, cr, d, t, ord)
          ), simple AS (
            SELECT w.r, w.k, w.e, w.s, w.le, w.lev, w.t, w.ord, w.t->>'s' AS ts, json_array_length(w.e) AS n
            FROM w
            WHERE w.writes = 1
              AND (w.c IS NULL OR json_array_length(w.c) = 0)
              AND (w.cr IS NULL OR json_array_length(w.cr) = 0)
              AND (w.d IS NULL OR json_array_length(w.d) = 0)
              AND (w.t IS NULL OR w.t->>'s' IN ('completed', 'failed', 'cancelled'))
          ), upd AS (
            UPDATE $S.runs r SET
              last_seq = r.last_seq + s.n,
              updated_at = now_ms,
              state = coalesce(s.s::text, r.state),
              last_error = CASE s.le WHEN 0 THEN r.last_error WHEN 1 THEN s.lev::text ELSE NULL END,
              status = coalesce(s.ts, r.status),
              completed_at = CASE WHEN s.ts IS NULL THEN r.completed_at ELSE now_ms END,
              output = CASE WHEN s.ts IS NULL THEN r.output ELSE (s.t->'o')::text END,
              error = CASE WHEN s.ts IS NULL THEN r.error ELSE (s.t->'x')::text END,
              wake_at = CASE WHEN s.ts IS NULL THEN r.wake_at END,
              waiting_for = CASE WHEN s.ts IS NULL THEN r.waiting_for END,
              lease_owner = CASE WHEN s.ts IS NULL THEN r.lease_owner END,
              lease_expires_at = CASE WHEN s.ts IS NULL THEN r.lease_expires_at END
            FROM simple s
            WHERE r.id = s.r AND r.lease_token = s.k AND r.status = 'running'
            RETURNING r.id, r.last_seq AS head, s.n, s.e, s.ts, s.ord
          ), ev AS (
            INSERT INTO $S.events (run_id, seq, at, data)
            SELECT u.id, u.head - u.n + x.o::integer, now_ms, x.e::text
            FROM upd u, json_array_elements(u.e) WITH ORDINALITY AS x(e, o)
          )
          SELECT (SELECT array_agg(u.ord) FROM upd u),
                 (SELECT array_agg(json_build_object('ok', true, 'lastSeq', u.head, 'suspended', false, 'pending', '[]'::json)) FROM upd u),
                 (SELECT array_agg(u.id) FROM upd u WHERE u.ts IS NOT NULL),
                 (SELECT array_agg(w.ord ORDER BY w.ord) FROM w WHERE NOT EXISTS (SELECT 1 FROM simple s WHERE s.ord = w.ord))
          INTO done_ords, done_results, ended, complex;
        END IF;
        -- A separate statement, so its snapshot sees any signal stored while the UPDATE waited for a row lock.
        IF ended IS NOT NULL THEN
          DELETE FROM $S.inbox WHERE run_id = ANY (ended);
        END IF;
        FOR pos IN 1 .. coalesce(array_length(done_ords, 1), 0) LOOP
          results[done_ords[pos]] := done_results[pos];
        END LOOP;

        -- Every other write one at a time, in batch order.
        FOR w, pos IN SELECT x.value, x.ord FROM json_array_elements(batch) WITH ORDINALITY AS x(value, ord)
                    WHERE complex IS NOT NULL AND x.ord = ANY (complex) ORDER BY x.ord LOOP
          rid := w->>'r';
          n := json_array_length(w->'e');
          UPDATE $S.runs SET
            last_seq = last_seq + n,
            updated_at = now_ms,
            state = coalesce((w->'s')::text, state),
            last_error = CASE (w->>'le')::int WHEN 0 THEN last_error WHEN 1 THEN (w->'lev')::text ELSE NULL END
          WHERE id = rid AND lease_token = (w->>'k')::int AND status = 'running'
          RETURNING last_seq INTO head;
          IF NOT FOUND THEN
            CONTINUE; -- fenced
          END IF;
          IF n > 0 THEN
            INSERT INTO $S.events (run_id, seq, at, data)
            SELECT rid, head - n + x.ord::integer, now_ms, x.e::text
            FROM json_array_elements(w->'e') WITH ORDINALITY AS x(e, ord);
          END IF;
          IF json_array_length(w->'c') > 0 THEN
            DELETE FROM $S.inbox WHERE run_id = rid
              AND id IN (SELECT value::text::bigint FROM json_array_elements(w->'c'));
          END IF;
          IF json_array_length(w->'cr') > 0 THEN
            FOR c IN SELECT value FROM json_array_elements(w->'cr') LOOP
              INSERT INTO $S.runs (id, kind, workflow, version, status, input, parent_id, created_at, updated_at,
                                   wake_at, lease_token, last_seq)
              VALUES (c->>'id', c->>'kind', c->>'workflow', c->>'version', 'pending', (c->'input')::text,
                      c->>'parent', now_ms, now_ms, now_ms, 0, 1)
              ON CONFLICT (id) DO NOTHING;
              GET DIAGNOSTICS inserted = ROW_COUNT;
              IF inserted > 0 THEN
                INSERT INTO $S.events (run_id, seq, at, data) VALUES (c->>'id', 1, now_ms, (c->'started')::text);
              END IF;
            END LOOP;
          END IF;
          IF json_array_length(w->'d') > 0 THEN
            FOR d IN SELECT value FROM json_array_elements(w->'d') LOOP
              -- Locked so the target cannot end between the check and the insert (a terminal run's
              -- inbox stays empty).
              SELECT status INTO target_status FROM $S.runs WHERE id = d->>'r' FOR NO KEY UPDATE;
              IF FOUND AND target_status NOT IN ('completed', 'failed', 'cancelled') THEN
                INSERT INTO $S.inbox (run_id, name, payload, sent_at) VALUES (d->>'r', d->>'n', (d->'p')::text, now_ms);
                UPDATE $S.runs SET wake_at = least(coalesce(wake_at, now_ms), now_ms), updated_at = now_ms
                WHERE id = d->>'r' AND status = 'waiting' AND (d->>'n' = '@cancel' OR d->>'n' = ANY (waiting_for));
              END IF;
            END LOOP;
          END IF;
          t := w->'t';
          susp := false;
          pend := '[]'::json;
          IF t IS NOT NULL THEN
            tstatus := t->>'s';
            IF tstatus = 'waiting' THEN
              names := ARRAY(SELECT json_array_elements_text(t->'f'));
              SELECT coalesce(json_agg(json_build_object('id', i.id, 'runId', i.run_id, 'name', i.name,
                                                         'payload', i.payload, 'sentAt', i.sent_at) ORDER BY i.id), '[]'::json)
              INTO pend FROM $S.inbox i WHERE i.run_id = rid AND (i.name = '@cancel' OR i.name = ANY (names));
              IF json_array_length(pend) = 0 THEN
                UPDATE $S.runs SET status = 'waiting', waiting_for = names, wake_at = (t->>'w')::bigint,
                                   lease_owner = NULL, lease_expires_at = NULL
                WHERE id = rid;
                susp := true;
              END IF;
            ELSE
              UPDATE $S.runs SET status = tstatus, completed_at = now_ms, output = (t->'o')::text, error = (t->'x')::text,
                                 wake_at = NULL, waiting_for = NULL, lease_owner = NULL, lease_expires_at = NULL
              WHERE id = rid;
              DELETE FROM $S.inbox WHERE run_id = rid;
            END IF;
          END IF;
          results[pos] := json_build_object('ok', true, 'lastSeq', head, 'suspended', susp, 'pending', pend);
        END LOOP;
        done := array_to_json(results);
        INSERT INTO $S.write_log (id, results) VALUES (batch_id, done);
        RETURN done;
      END $fn$;
    `,
  },
  {
    version: 4,
    description: 'the status-change feed',
    // One row per change of a run's status, written by triggers on runs in the transaction that
    // makes the change, so every code path records it (apply_writes included, unchanged).
    //
    // Identity order is not commit order here: a transaction can take id 7, and commit after
    // another took id 8 and committed, so a reader that had moved past 8 would never see 7. Each
    // row therefore records its transaction id (tx), and the feed is read in (tx, id) order, only
    // below the xmin of the reader's snapshot: every transaction with a smaller id has ended, and
    // every transaction still running or yet to start has a tx at or above it, so no row can ever
    // appear behind a reader's cursor. The price: a change becomes readable only once every
    // transaction that started before it (in any database of the server) has ended, so a long
    // transaction delays the feed, never loses from it.
    sql: `
      CREATE TABLE $S.status_changes (
        id       bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME $S.status_changes_id_seq),
        tx       xid8 NOT NULL DEFAULT pg_current_xact_id(),
        run_id   text COLLATE "C" NOT NULL,
        workflow text NOT NULL,
        status   text NOT NULL,
        at       bigint NOT NULL,
        PRIMARY KEY (tx, id)
      );
      -- pruneRuns deletes a run's changes with it.
      CREATE INDEX status_changes_run ON $S.status_changes (run_id);

      -- updated_at is the caller's now of the change: every statement that changes a status sets it,
      -- or follows one in the same write that did.
      CREATE FUNCTION $S.record_status_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO $S.status_changes (run_id, workflow, status, at) VALUES (NEW.id, NEW.workflow, NEW.status, NEW.updated_at);
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_status_insert AFTER INSERT ON $S.runs FOR EACH ROW
        EXECUTE FUNCTION $S.record_status_change();
      -- Taking over an expired lease (running to running) is no change; a step write sets status to
      -- itself and costs only this WHEN test.
      CREATE TRIGGER runs_status_update AFTER UPDATE OF status ON $S.runs FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION $S.record_status_change();

      -- Runs that exist already start the feed with their current status.
      INSERT INTO $S.status_changes (run_id, workflow, status, at)
      SELECT id, workflow, status, updated_at FROM $S.runs ORDER BY updated_at, id;
    `,
  },
  {
    version: 5,
    description: 'a write names the seq of its first event, and is fenced when the history does not end just before it',
    // apply_writes of version 3, with one more condition on each fencing UPDATE: a write whose batch
    // entry has "q" (RunWrite.seq) and events applies only if the run's last_seq is q - 1; and a
    // write of nothing leaves updated_at as it is (the run did not change). The
    // engine numbers its writes; a write it sends again after a lost connection, if the first
    // attempt committed, is refused this way rather than appended twice (the single-append
    // statement, which has no write log, relies on it).
    sql: `
      CREATE OR REPLACE FUNCTION $S.apply_writes(batch_id uuid, batch json, now_ms bigint) RETURNS json
      LANGUAGE plpgsql AS $fn$
      DECLARE
        w json; t json; c json; d json;
        rid text; n integer; head integer; names text[];
        pend json; susp boolean; tstatus text; inserted integer; target_status text;
        results json[];
        done json;
        pos bigint;
        done_ords bigint[]; done_results json[]; ended text[]; complex bigint[];
      BEGIN
        SELECT l.results INTO done FROM $S.write_log l WHERE l.id = batch_id;
        IF FOUND THEN RETURN done; END IF;

        -- One common write (sequential work: a step, a run's end): the same as the set-based
        -- statement below, with the least work per call.
        IF json_array_length(batch) = 1 THEN
          w := batch->0;
          t := w->'t';
          tstatus := t->>'s';
          IF coalesce(json_array_length(w->'c'), 0) = 0 AND coalesce(json_array_length(w->'cr'), 0) = 0
             AND coalesce(json_array_length(w->'d'), 0) = 0
             AND (t IS NULL OR tstatus IN ('completed', 'failed', 'cancelled')) THEN
            rid := w->>'r';
            n := json_array_length(w->'e');
            UPDATE $S.runs r SET
              last_seq = r.last_seq + n,
              updated_at = CASE WHEN n > 0 OR w->'s' IS NOT NULL OR (w->>'le')::int <> 0 OR tstatus IS NOT NULL THEN now_ms ELSE r.updated_at END,
              state = coalesce((w->'s')::text, r.state),
              last_error = CASE (w->>'le')::int WHEN 0 THEN r.last_error WHEN 1 THEN (w->'lev')::text ELSE NULL END,
              status = coalesce(tstatus, r.status),
              completed_at = CASE WHEN tstatus IS NULL THEN r.completed_at ELSE now_ms END,
              output = CASE WHEN tstatus IS NULL THEN r.output ELSE (t->'o')::text END,
              error = CASE WHEN tstatus IS NULL THEN r.error ELSE (t->'x')::text END,
              wake_at = CASE WHEN tstatus IS NULL THEN r.wake_at END,
              waiting_for = CASE WHEN tstatus IS NULL THEN r.waiting_for END,
              lease_owner = CASE WHEN tstatus IS NULL THEN r.lease_owner END,
              lease_expires_at = CASE WHEN tstatus IS NULL THEN r.lease_expires_at END
            WHERE r.id = rid AND r.lease_token = (w->>'k')::int AND r.status = 'running'
              AND (n = 0 OR w->>'q' IS NULL OR r.last_seq = (w->>'q')::int - 1)
            RETURNING r.last_seq INTO head;
            IF NOT FOUND THEN
              done := '[{"ok":false,"reason":"fenced"}]'::json;
            ELSE
              IF n > 0 THEN
                INSERT INTO $S.events (run_id, seq, at, data)
                SELECT rid, head - n + x.ord::integer, now_ms, x.e::text
                FROM json_array_elements(w->'e') WITH ORDINALITY AS x(e, ord);
              END IF;
              IF tstatus IS NOT NULL THEN
                -- A separate statement, so its snapshot sees any signal stored while the UPDATE waited.
                DELETE FROM $S.inbox WHERE run_id = rid;
              END IF;
              done := json_build_array(json_build_object('ok', true, 'lastSeq', head, 'suspended', false, 'pending', '[]'::json));
            END IF;
            INSERT INTO $S.write_log (id, results) VALUES (batch_id, done);
            RETURN done;
          END IF;
        END IF;

        results := array_fill('{"ok":false,"reason":"fenced"}'::json, ARRAY[json_array_length(batch)]);

        -- The common writes, all in one statement: each the only write of its run in the batch, with
        -- events, state and last error, and no transition or a terminal one (no inbox consumption,
        -- children or deliveries). The fencing condition is in the UPDATE: a stale write matches nothing.
        IF json_array_length(batch) = 1 THEN
          complex := ARRAY[1::bigint]; -- one write that is not a common one
        ELSE
          WITH w AS (
            SELECT x.*, count(*) OVER (PARTITION BY x.r) AS writes
            FROM ROWS FROM (json_to_recordset(batch) AS (r text, k integer, q integer, e json, c json, s json, le integer, lev json, cr json, d json, t json))
                 WITH ORDINALITY AS x(r, k, q, e, c, s, le, lev, cr, d, t, ord)
          ), simple AS (
            SELECT w.r, w.k, w.q, w.e, w.s, w.le, w.lev, w.t, w.ord, w.t->>'s' AS ts, json_array_length(w.e) AS n
            FROM w
            WHERE w.writes = 1
              AND (w.c IS NULL OR json_array_length(w.c) = 0)
              AND (w.cr IS NULL OR json_array_length(w.cr) = 0)
              AND (w.d IS NULL OR json_array_length(w.d) = 0)
              AND (w.t IS NULL OR w.t->>'s' IN ('completed', 'failed', 'cancelled'))
          ), upd AS (
            UPDATE $S.runs r SET
              last_seq = r.last_seq + s.n,
              updated_at = CASE WHEN s.n > 0 OR s.s IS NOT NULL OR s.le <> 0 OR s.ts IS NOT NULL THEN now_ms ELSE r.updated_at END,
              state = coalesce(s.s::text, r.state),
              last_error = CASE s.le WHEN 0 THEN r.last_error WHEN 1 THEN s.lev::text ELSE NULL END,
              status = coalesce(s.ts, r.status),
              completed_at = CASE WHEN s.ts IS NULL THEN r.completed_at ELSE now_ms END,
              output = CASE WHEN s.ts IS NULL THEN r.output ELSE (s.t->'o')::text END,
              error = CASE WHEN s.ts IS NULL THEN r.error ELSE (s.t->'x')::text END,
              wake_at = CASE WHEN s.ts IS NULL THEN r.wake_at END,
              waiting_for = CASE WHEN s.ts IS NULL THEN r.waiting_for END,
              lease_owner = CASE WHEN s.ts IS NULL THEN r.lease_owner END,
              lease_expires_at = CASE WHEN s.ts IS NULL THEN r.lease_expires_at END
            FROM simple s
            WHERE r.id = s.r AND r.lease_token = s.k AND r.status = 'running' AND (s.n = 0 OR s.q IS NULL OR r.last_seq = s.q - 1)
            RETURNING r.id, r.last_seq AS head, s.n, s.e, s.ts, s.ord
          ), ev AS (
            INSERT INTO $S.events (run_id, seq, at, data)
            SELECT u.id, u.head - u.n + x.o::integer, now_ms, x.e::text
            FROM upd u, json_array_elements(u.e) WITH ORDINALITY AS x(e, o)
          )
          SELECT (SELECT array_agg(u.ord) FROM upd u),
                 (SELECT array_agg(json_build_object('ok', true, 'lastSeq', u.head, 'suspended', false, 'pending', '[]'::json)) FROM upd u),
                 (SELECT array_agg(u.id) FROM upd u WHERE u.ts IS NOT NULL),
                 (SELECT array_agg(w.ord ORDER BY w.ord) FROM w WHERE NOT EXISTS (SELECT 1 FROM simple s WHERE s.ord = w.ord))
          INTO done_ords, done_results, ended, complex;
        END IF;
        -- A separate statement, so its snapshot sees any signal stored while the UPDATE waited for a row lock.
        IF ended IS NOT NULL THEN
          DELETE FROM $S.inbox WHERE run_id = ANY (ended);
        END IF;
        FOR pos IN 1 .. coalesce(array_length(done_ords, 1), 0) LOOP
          results[done_ords[pos]] := done_results[pos];
        END LOOP;

        -- Every other write one at a time, in batch order.
        FOR w, pos IN SELECT x.value, x.ord FROM json_array_elements(batch) WITH ORDINALITY AS x(value, ord)
                    WHERE complex IS NOT NULL AND x.ord = ANY (complex) ORDER BY x.ord LOOP
          rid := w->>'r';
          n := json_array_length(w->'e');
          UPDATE $S.runs SET
            last_seq = last_seq + n,
            -- A write of nothing (no events, state, error, messages, children or transition) changes nothing.
            updated_at = CASE WHEN n > 0 OR w->'s' IS NOT NULL OR (w->>'le')::int <> 0 OR w->'t' IS NOT NULL
                                   OR json_array_length(w->'c') > 0 OR json_array_length(w->'cr') > 0 OR json_array_length(w->'d') > 0
                              THEN now_ms ELSE updated_at END,
            state = coalesce((w->'s')::text, state),
            last_error = CASE (w->>'le')::int WHEN 0 THEN last_error WHEN 1 THEN (w->'lev')::text ELSE NULL END
          WHERE id = rid AND lease_token = (w->>'k')::int AND status = 'running'
            AND (n = 0 OR w->>'q' IS NULL OR last_seq = (w->>'q')::int - 1)
          RETURNING last_seq INTO head;
          IF NOT FOUND THEN
            CONTINUE; -- fenced
          END IF;
          IF n > 0 THEN
            INSERT INTO $S.events (run_id, seq, at, data)
            SELECT rid, head - n + x.ord::integer, now_ms, x.e::text
            FROM json_array_elements(w->'e') WITH ORDINALITY AS x(e, ord);
          END IF;
          IF json_array_length(w->'c') > 0 THEN
            DELETE FROM $S.inbox WHERE run_id = rid
              AND id IN (SELECT value::text::bigint FROM json_array_elements(w->'c'));
          END IF;
          IF json_array_length(w->'cr') > 0 THEN
            FOR c IN SELECT value FROM json_array_elements(w->'cr') LOOP
              INSERT INTO $S.runs (id, kind, workflow, version, status, input, parent_id, created_at, updated_at,
                                   wake_at, lease_token, last_seq)
              VALUES (c->>'id', c->>'kind', c->>'workflow', c->>'version', 'pending', (c->'input')::text,
                      c->>'parent', now_ms, now_ms, now_ms, 0, 1)
              ON CONFLICT (id) DO NOTHING;
              GET DIAGNOSTICS inserted = ROW_COUNT;
              IF inserted > 0 THEN
                INSERT INTO $S.events (run_id, seq, at, data) VALUES (c->>'id', 1, now_ms, (c->'started')::text);
              END IF;
            END LOOP;
          END IF;
          IF json_array_length(w->'d') > 0 THEN
            FOR d IN SELECT value FROM json_array_elements(w->'d') LOOP
              -- Locked so the target cannot end between the check and the insert (a terminal run's
              -- inbox stays empty).
              SELECT status INTO target_status FROM $S.runs WHERE id = d->>'r' FOR NO KEY UPDATE;
              IF FOUND AND target_status NOT IN ('completed', 'failed', 'cancelled') THEN
                INSERT INTO $S.inbox (run_id, name, payload, sent_at) VALUES (d->>'r', d->>'n', (d->'p')::text, now_ms);
                UPDATE $S.runs SET wake_at = least(coalesce(wake_at, now_ms), now_ms), updated_at = now_ms
                WHERE id = d->>'r' AND status = 'waiting' AND (d->>'n' = '@cancel' OR d->>'n' = ANY (waiting_for));
              END IF;
            END LOOP;
          END IF;
          t := w->'t';
          susp := false;
          pend := '[]'::json;
          IF t IS NOT NULL THEN
            tstatus := t->>'s';
            IF tstatus = 'waiting' THEN
              names := ARRAY(SELECT json_array_elements_text(t->'f'));
              SELECT coalesce(json_agg(json_build_object('id', i.id, 'runId', i.run_id, 'name', i.name,
                                                         'payload', i.payload, 'sentAt', i.sent_at) ORDER BY i.id), '[]'::json)
              INTO pend FROM $S.inbox i WHERE i.run_id = rid AND (i.name = '@cancel' OR i.name = ANY (names));
              IF json_array_length(pend) = 0 THEN
                UPDATE $S.runs SET status = 'waiting', waiting_for = names, wake_at = (t->>'w')::bigint,
                                   lease_owner = NULL, lease_expires_at = NULL
                WHERE id = rid;
                susp := true;
              END IF;
            ELSE
              UPDATE $S.runs SET status = tstatus, completed_at = now_ms, output = (t->'o')::text, error = (t->'x')::text,
                                 wake_at = NULL, waiting_for = NULL, lease_owner = NULL, lease_expires_at = NULL
              WHERE id = rid;
              DELETE FROM $S.inbox WHERE run_id = rid;
            END IF;
          END IF;
          results[pos] := json_build_object('ok', true, 'lastSeq', head, 'suspended', susp, 'pending', pend);
        END LOOP;
        done := array_to_json(results);
        INSERT INTO $S.write_log (id, results) VALUES (batch_id, done);
        RETURN done;
      END $fn$;
    `,
  },
  {
    version: 6,
    description: 'write_run: one write of a run, typed, numbered by its seq, without the write log',
    // The sequential path of a write that is more than an append (a state change, a run's end): one
    // call with typed arguments instead of apply_writes and its JSON batch, and no write-log row.
    // The write names the seq of its first event (it has events), so a call sent again after a lost
    // connection, if the first one committed, finds the history past that seq and matches nothing;
    // the client then recognises its own events there (see PostgresStore.write).
    // The inbox of an ended run is emptied by a second statement, whose snapshot sees a signal
    // stored while the UPDATE waited for the row's lock.
    sql: `
      CREATE FUNCTION $S.write_run(rid text, token integer, first_seq integer, events text[], now_ms bigint,
                                   new_state text, error_mode integer, error_value text,
                                   end_status text, end_output text, end_error text) RETURNS boolean
      LANGUAGE plpgsql AS $fn$
      DECLARE n integer := coalesce(cardinality(events), 0);
      BEGIN
        UPDATE $S.runs r SET
          last_seq = r.last_seq + n,
          updated_at = now_ms,
          state = coalesce(new_state, r.state),
          last_error = CASE error_mode WHEN 0 THEN r.last_error WHEN 1 THEN error_value ELSE NULL END,
          status = coalesce(end_status, r.status),
          completed_at = CASE WHEN end_status IS NULL THEN r.completed_at ELSE now_ms END,
          output = CASE WHEN end_status IS NULL THEN r.output ELSE end_output END,
          error = CASE WHEN end_status IS NULL THEN r.error ELSE end_error END,
          wake_at = CASE WHEN end_status IS NULL THEN r.wake_at END,
          waiting_for = CASE WHEN end_status IS NULL THEN r.waiting_for END,
          lease_owner = CASE WHEN end_status IS NULL THEN r.lease_owner END,
          lease_expires_at = CASE WHEN end_status IS NULL THEN r.lease_expires_at END
        WHERE r.id = rid AND r.lease_token = token AND r.status = 'running' AND r.last_seq = first_seq - 1;
        IF NOT FOUND THEN RETURN false; END IF;
        INSERT INTO $S.events (run_id, seq, at, data)
        SELECT rid, first_seq + x.ord::integer - 1, now_ms, x.data FROM unnest(events) WITH ORDINALITY AS x(data, ord);
        IF end_status IS NOT NULL THEN
          DELETE FROM $S.inbox WHERE run_id = rid;
        END IF;
        RETURN true;
      END $fn$;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Double-quote an identifier for SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** First key of the advisory lock: 'keel' in ASCII, so Keel's locks are recognisable in pg_locks. */
const LOCK_CLASS = 0x6b65656c;

/** The highest applied version, 0 when the schema or its table does not exist yet. */
export async function schemaVersion(client: PoolClient, schema: string): Promise<number> {
  const table = await client.query<{ exists: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists`,
    [`${quoteIdent(schema)}.schema_migrations`],
  );
  if (!table.rows[0]?.exists) return 0;
  const res = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${quoteIdent(schema)}.schema_migrations`);
  return res.rows[0]?.v ?? 0;
}

/**
 * Bring the schema up to {@link SCHEMA_VERSION}; returns how many migrations this call applied
 * (0 when another worker did it first). Refuses a schema newer than this code with
 * SchemaTooNewError, changing nothing.
 */
export async function migrate(client: PoolClient, schema: string, label: string): Promise<number> {
  // Fast path, no lock: the usual start of a worker on a migrated database.
  const seen = await schemaVersion(client, schema);
  if (seen > SCHEMA_VERSION) throw new SchemaTooNewError(label, seen, SCHEMA_VERSION);
  if (seen === SCHEMA_VERSION) return 0;

  const q = quoteIdent(schema);
  // Another worker may be migrating: wait for its lock however long that takes (the store bounds
  // lock waits with lock_timeout), and give the connection back with the lock_timeout it had.
  const { rows } = await client.query<{ before: string }>("SELECT current_setting('lock_timeout') AS before, set_config('lock_timeout', '0', false)");
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
  try {
    const found = await schemaVersion(client, schema);
    if (found > SCHEMA_VERSION) throw new SchemaTooNewError(label, found, SCHEMA_VERSION);
    const pending = MIGRATIONS.filter((m) => m.version > found);
    if (pending.length === 0) return 0;
    await client.query('BEGIN');
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (
           version integer PRIMARY KEY, description text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now(), applied_by integer NOT NULL DEFAULT pg_backend_pid())`,
      );
      for (const m of pending) {
        await client.query(m.sql.replaceAll('$S', q));
        await client.query(`INSERT INTO ${q}.schema_migrations (version, description) VALUES ($1, $2)`, [m.version, m.description]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return pending.length;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, schema]).catch(() => {});
    await client.query("SELECT set_config('lock_timeout', $1, false)", [rows[0]?.before ?? '0']).catch(() => {});
  }
}
