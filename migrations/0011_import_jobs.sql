-- Import jobs: fleets of any size, uploaded in parts, applied in the
-- background all or nothing, by one ztpd at a time.
--
-- The rules of an import live once, in three steps over a temporary table
-- pg_temp.import_raw (mac, profile_name, profile_in, model, serial, part,
-- line) that the caller fills: ztp_import_analyse finds errors, conflicts and
-- counts; ztp_import_apply applies a range of rows (a job applies in ranges,
-- reporting progress between them); ztp_import_audit writes the one audit
-- entry. POST /v1/devices/import runs the three at once.
--
-- An import locks no device of another provider. It used to lock every
-- device it named (FOR UPDATE) for its whole transaction, so that a dry run
-- naming another provider's MAC held that provider's phone waiting until the
-- import ended. Owners are only read now: a device owned elsewhere is a
-- conflict whatever happens to it meanwhile; one nobody owned that is claimed
-- meanwhile makes the claim count come out short, which raises a
-- serialization failure (the import is run again).

CREATE TABLE import_jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    format      text NOT NULL CHECK (format IN ('csv', 'json')),
    dry_run     boolean NOT NULL DEFAULT false,
    on_conflict text NOT NULL DEFAULT 'fail' CHECK (on_conflict IN ('fail', 'skip')),
    state       text NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'running', 'succeeded', 'failed', 'cancelled')),
    rows        bigint NOT NULL DEFAULT 0,
    rows_done   bigint NOT NULL DEFAULT 0,
    report      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX import_jobs_provider ON import_jobs (provider_id, created_at, id);
CREATE INDEX import_jobs_running ON import_jobs (started_at) WHERE state = 'running';
CREATE INDEX import_jobs_finished ON import_jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE import_job_parts (
    job_id      uuid NOT NULL REFERENCES import_jobs ON DELETE CASCADE,
    part        int NOT NULL CHECK (part BETWEEN 1 AND 10000),
    provider_id uuid NOT NULL,
    rows        int NOT NULL,
    has_profile boolean NOT NULL,
    has_model   boolean NOT NULL,
    has_serial  boolean NOT NULL,
    PRIMARY KEY (job_id, part)
);

-- Rows staged as their parts arrive, validated in C (canonical MACs, texts
-- without control characters); deleted when the job ends.
CREATE TABLE import_job_rows (
    job_id       uuid NOT NULL,
    part         int NOT NULL,
    line         int NOT NULL,
    provider_id  uuid NOT NULL,
    mac          macaddr NOT NULL,
    profile_name text,
    profile_in   uuid,
    model        text,
    serial       text,
    PRIMARY KEY (job_id, part, line),
    FOREIGN KEY (job_id, part) REFERENCES import_job_parts ON DELETE CASCADE
);

-- A running job is held by the runner whose transaction locks its claim row
-- (FOR UPDATE SKIP LOCKED): when that ztpd dies, its transaction ends, the
-- lock goes, and another runner takes the job and runs it again from the
-- start. The claim row, not the job's, is locked, so that progress and
-- cancellation (updates of import_jobs) never wait for the runner.
CREATE TABLE import_job_claims (
    job_id uuid PRIMARY KEY REFERENCES import_jobs ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['import_jobs', 'import_job_parts', 'import_job_rows'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY system_all ON %I TO ztp_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY tenant_own ON %I TO ztp_tenant USING (provider_id = ztp_tenant())'
                       ' WITH CHECK (provider_id = ztp_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ztp_system, ztp_tenant', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON import_job_claims TO ztp_system;

-- Step 1: from pg_temp.import_raw, the report and whether it may be applied
-- (status 200) or not (422). Leaves pg_temp.import_rows for ztp_import_apply.
CREATE FUNCTION ztp_import_analyse(p_skip boolean, OUT status int, OUT body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := ztp_tenant();
    n_created bigint;
    n_updated bigint;
    n_skipped bigint := 0;
    conflicts jsonb;
    errors jsonb;
    n_errors bigint;
    n_conflicts bigint;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    -- one pass: profiles resolved, owners read (never locked), repeated MACs
    -- marked; seq numbers the rows for applying them in ranges
    CREATE TEMP TABLE import_rows ON COMMIT DROP AS
    SELECT r.*, coalesce(pn.id, pi.id) AS profile_id, d.provider_id AS owner,
           row_number() OVER (PARTITION BY r.mac ORDER BY r.part, r.line) > 1 AS dup,
           row_number() OVER (ORDER BY r.mac) AS seq
    FROM pg_temp.import_raw r
         LEFT JOIN profiles pn ON pn.provider_id = me AND pn.name = r.profile_name
         LEFT JOIN profiles pi ON pi.provider_id = me AND pi.id = r.profile_in
         LEFT JOIN devices d ON d.mac = r.mac;
    CREATE INDEX ON pg_temp.import_rows (seq);
    ANALYZE pg_temp.import_rows;

    SELECT count(*), coalesce(jsonb_agg(e ORDER BY p, l), '[]'::jsonb) INTO n_errors, errors FROM (
        SELECT jsonb_strip_nulls(jsonb_build_object('part', part, 'line', line, 'detail',
                   CASE WHEN dup THEN format('%s appears on an earlier line', ztp_mac_text(mac))
                        WHEN profile_name IS NOT NULL THEN format('no profile named "%s"', profile_name)
                        ELSE 'no such profile_id' END)) AS e, part AS p, line AS l
        FROM pg_temp.import_rows
        WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL)
        ORDER BY part, line LIMIT 1000) x;
    IF n_errors = 1000 THEN
        SELECT count(*) INTO n_errors FROM pg_temp.import_rows
        WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL);
    END IF;
    -- like errors, the list stops at 1000 entries; the detail gives the count
    SELECT count(*) INTO n_conflicts FROM pg_temp.import_rows WHERE owner IS NOT NULL AND owner <> me AND NOT dup;
    SELECT coalesce(jsonb_agg(ztp_mac_text(mac) ORDER BY part, line), '[]'::jsonb) INTO conflicts
    FROM (SELECT mac, part, line FROM pg_temp.import_rows WHERE owner IS NOT NULL AND owner <> me AND NOT dup
          ORDER BY part, line LIMIT 1000) c;
    SELECT count(*) FILTER (WHERE owner IS NULL), count(*) FILTER (WHERE owner = me)
    INTO n_created, n_updated FROM pg_temp.import_rows WHERE NOT dup;
    IF p_skip THEN
        n_skipped := n_conflicts;
    END IF;
    body := jsonb_build_object('created', n_created, 'updated', n_updated, 'skipped', n_skipped,
                               'conflicts', conflicts, 'errors', errors);
    IF n_errors > 0 OR (n_conflicts > 0 AND NOT p_skip) THEN
        status := 422;
        body := body || jsonb_build_object('detail', CASE WHEN n_errors > 0
                    THEN format('%s rows have errors; nothing was applied', n_errors)
                    ELSE format('%s devices belong to another provider; nothing was applied', n_conflicts) END);
        RETURN;
    END IF;
    status := 200;
END $$;

-- Step 2: applies the rows numbered [p_lo, p_hi) of pg_temp.import_rows.
CREATE FUNCTION ztp_import_apply(p_has_profile boolean, p_has_model boolean, p_has_serial boolean,
                                 p_lo bigint, p_hi bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := ztp_tenant();
    n_expected bigint;
    n_claimed bigint;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    SELECT count(*) INTO n_expected FROM pg_temp.import_rows
    WHERE seq >= p_lo AND seq < p_hi AND owner IS NULL AND NOT dup;
    -- new devices, and known ones nobody owns: claimed, status open
    WITH claimed AS (
        INSERT INTO devices AS x (mac, provider_id, profile_id, model, serial, status, status_changed_at, created_at)
        SELECT mac, me, profile_id, model, serial, ztp_next_status(NULL, 'claim'), now(), now()
        FROM pg_temp.import_rows WHERE seq >= p_lo AND seq < p_hi AND owner IS NULL AND NOT dup
        ON CONFLICT (mac) DO UPDATE SET provider_id = me, profile_id = excluded.profile_id,
            model = excluded.model, serial = excluded.serial, status = excluded.status,
            status_changed_at = now(), created_at = now()
        WHERE x.provider_id IS NULL
        RETURNING x.mac, x.status
    )
    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
    SELECT c.mac, me, NULL, c.status, 'imported' FROM claimed c;
    GET DIAGNOSTICS n_claimed = ROW_COUNT;
    IF n_claimed <> n_expected THEN
        -- another provider claimed one of these MACs meanwhile: run it all again
        RAISE EXCEPTION 'import raced with a claim' USING ERRCODE = 'serialization_failure';
    END IF;
    -- the caller's own devices: only the columns the import carries
    UPDATE devices d SET
        profile_id = CASE WHEN p_has_profile THEN r.profile_id ELSE d.profile_id END,
        model = CASE WHEN p_has_model THEN r.model ELSE d.model END,
        serial = CASE WHEN p_has_serial THEN r.serial ELSE d.serial END
    FROM pg_temp.import_rows r
    WHERE r.seq >= p_lo AND r.seq < p_hi AND d.mac = r.mac AND r.owner = me AND NOT r.dup
          AND d.provider_id = me;
END $$;

-- Step 3: the one audit entry of an applied import.
CREATE FUNCTION ztp_import_audit(p_report jsonb, p_job uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT ztp_audit(CASE WHEN p_job IS NULL THEN 'device.import' ELSE 'import_job.finished' END,
                     p_job::text, jsonb_build_object('created', p_report->'created', 'updated', p_report->'updated',
                                                     'skipped', p_report->'skipped'))
$$;

-- POST /v1/devices/import: the rows come as newline-joined columns.
CREATE OR REPLACE FUNCTION ztp_devices_import(p_macs text, p_profiles text, p_profile_ids text, p_models text,
                                   p_serials text, p_lines text, p_has_profile boolean, p_has_model boolean,
                                   p_has_serial boolean, p_dry_run boolean, p_skip boolean,
                                   OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    report jsonb;
BEGIN
    CREATE TEMP TABLE import_raw ON COMMIT DROP AS
    SELECT t.mac::macaddr AS mac, nullif(t.pname, '') AS profile_name, nullif(t.pid, '')::uuid AS profile_in,
           nullif(t.model, '') AS model, nullif(t.serial, '') AS serial, NULL::int AS part, t.line::int AS line
    FROM unnest(string_to_array(p_macs, E'\n'), string_to_array(p_profiles, E'\n'),
                string_to_array(p_profile_ids, E'\n'), string_to_array(p_models, E'\n'),
                string_to_array(p_serials, E'\n'), string_to_array(p_lines, E'\n'))
         AS t(mac, pname, pid, model, serial, line);
    SELECT a.status, a.body INTO status, report FROM ztp_import_analyse(p_skip) a;
    body := report::json;
    IF status <> 200 OR p_dry_run THEN
        RETURN;
    END IF;
    PERFORM ztp_import_apply(p_has_profile, p_has_model, p_has_serial, 1, 9223372036854775807);
    PERFORM ztp_import_audit(report, NULL);
END $$;

ALTER FUNCTION ztp_import_analyse(boolean) OWNER TO ztp_system;
ALTER FUNCTION ztp_import_apply(boolean, boolean, boolean, bigint, bigint) OWNER TO ztp_system;
GRANT EXECUTE ON FUNCTION ztp_import_analyse(boolean), ztp_import_apply(boolean, boolean, boolean, bigint, bigint),
    ztp_import_audit(jsonb, uuid) TO ztp_tenant;

-- The runner's view of a job (it acts as ztp_system, then as the tenant).
CREATE FUNCTION ztp_import_job_get(p_id uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', j.id, 'state', j.state, 'format', j.format, 'dry_run', j.dry_run,
        'on_conflict', j.on_conflict, 'parts', (SELECT count(*) FROM import_job_parts p WHERE p.job_id = j.id),
        'rows', j.rows, 'rows_done', j.rows_done,
        'created', coalesce((j.report->>'created')::bigint, 0), 'updated', coalesce((j.report->>'updated')::bigint, 0),
        'skipped', coalesce((j.report->>'skipped')::bigint, 0),
        'conflicts', coalesce(j.report->'conflicts', '[]'::jsonb), 'errors', coalesce(j.report->'errors', '[]'::jsonb),
        'created_at', ztp_time(j.created_at), 'started_at', ztp_time(j.started_at),
        'finished_at', ztp_time(j.finished_at))
    FROM import_jobs j WHERE j.id = p_id
$$;

-- ---- the provider API (run as the tenant; row-level security applies) ----

CREATE FUNCTION ztp_import_job_create(p_format text, p_dry_run boolean, p_on_conflict text,
                                      OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    new_id uuid;
BEGIN
    -- an open or running job holds staged rows: a provider keeps a few at once
    IF (SELECT count(*) FROM import_jobs WHERE provider_id = ztp_tenant() AND state IN ('open', 'running')) >= 10 THEN
        status := 429;
        body := json_build_object('detail', 'this provider has 10 import jobs open or running; start, finish or'
                                            ' cancel one first');
        RETURN;
    END IF;
    INSERT INTO import_jobs (provider_id, format, dry_run, on_conflict)
    VALUES (ztp_tenant(), p_format, p_dry_run, p_on_conflict) RETURNING id INTO new_id;
    PERFORM ztp_audit('import_job.create', new_id::text,
                      jsonb_build_object('format', p_format, 'dry_run', p_dry_run, 'on_conflict', p_on_conflict));
    status := 201;
    body := ztp_import_job_get(new_id);
END $$;

CREATE FUNCTION ztp_import_job_read(p_id uuid, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN b IS NULL THEN 404 ELSE 200 END,
           coalesce(b, json_build_object('detail', 'no such import job'))
    FROM (SELECT ztp_import_job_get(p_id) AS b) x
$$;

CREATE FUNCTION ztp_import_job_list(OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(ztp_import_job_get(j.id) ORDER BY j.created_at, j.id),
                                                    '[]'::json))
    FROM (SELECT id, created_at FROM import_jobs ORDER BY created_at DESC, id DESC LIMIT 1000) j
$$;

-- Replaces part p_part of an open job with the rows given (newline-joined
-- columns, as POST /v1/devices/import sends them).
CREATE FUNCTION ztp_import_job_stage(p_id uuid, p_part int, p_macs text, p_profiles text, p_profile_ids text,
                                     p_models text, p_serials text, p_lines text, p_has_profile boolean,
                                     p_has_model boolean, p_has_serial boolean, p_rows int,
                                     OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    total bigint;
BEGIN
    SELECT state INTO st FROM import_jobs WHERE id = p_id FOR UPDATE;
    IF st IS NULL THEN
        status := 404; body := json_build_object('detail', 'no such import job'); RETURN;
    ELSIF st <> 'open' THEN
        status := 409; body := json_build_object('detail', format('the job is %s: parts can no longer change', st));
        RETURN;
    END IF;
    DELETE FROM import_job_parts WHERE job_id = p_id AND part = p_part;
    SELECT coalesce(sum(rows), 0) + p_rows INTO total FROM import_job_parts WHERE job_id = p_id;
    IF total > 20000000 THEN
        status := 422; body := json_build_object('detail', 'a job carries at most 20,000,000 rows'); RETURN;
    END IF;
    INSERT INTO import_job_parts (job_id, part, provider_id, rows, has_profile, has_model, has_serial)
    VALUES (p_id, p_part, ztp_tenant(), p_rows, p_has_profile, p_has_model, p_has_serial);
    INSERT INTO import_job_rows (job_id, part, line, provider_id, mac, profile_name, profile_in, model, serial)
    SELECT p_id, p_part, t.line::int, ztp_tenant(), t.mac::macaddr, nullif(t.pname, ''), nullif(t.pid, '')::uuid,
           nullif(t.model, ''), nullif(t.serial, '')
    FROM unnest(string_to_array(p_macs, E'\n'), string_to_array(p_profiles, E'\n'),
                string_to_array(p_profile_ids, E'\n'), string_to_array(p_models, E'\n'),
                string_to_array(p_serials, E'\n'), string_to_array(p_lines, E'\n'))
         AS t(mac, pname, pid, model, serial, line);
    UPDATE import_jobs SET rows = total WHERE id = p_id;
    status := 200;
    body := json_build_object('part', p_part, 'rows', p_rows);
END $$;

CREATE FUNCTION ztp_import_job_start(p_id uuid, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    n bigint;
BEGIN
    SELECT state, rows INTO st, n FROM import_jobs WHERE id = p_id FOR UPDATE;
    IF st IS NULL THEN
        status := 404; body := json_build_object('detail', 'no such import job'); RETURN;
    ELSIF st <> 'open' THEN
        status := 409; body := json_build_object('detail', format('the job is %s already', st)); RETURN;
    ELSIF n = 0 THEN
        status := 409; body := json_build_object('detail', 'the job has no rows: put its parts first'); RETURN;
    END IF;
    UPDATE import_jobs SET state = 'running', started_at = now() WHERE id = p_id;
    PERFORM pg_notify('ztp_import_jobs', '');
    status := 202;
    body := ztp_import_job_get(p_id);
END $$;

CREATE FUNCTION ztp_import_job_cancel(p_id uuid, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    -- a running job's row is never locked for long (its runner locks its claim)
    SELECT state INTO st FROM import_jobs WHERE id = p_id FOR UPDATE;
    IF st IS NULL THEN
        status := 404; body := json_build_object('detail', 'no such import job'); RETURN;
    ELSIF st NOT IN ('open', 'running') THEN
        status := 409; body := json_build_object('detail', format('the job has %s already', st)); RETURN;
    END IF;
    UPDATE import_jobs SET state = 'cancelled', finished_at = now() WHERE id = p_id;
    DELETE FROM import_job_rows WHERE job_id = p_id AND st = 'open';
    PERFORM ztp_audit('import_job.cancel', p_id::text, NULL);
    status := 204;
    body := NULL;
END $$;

-- import_job.finished (webhooks, migration 0009): in the transaction that ends the job
CREATE TRIGGER import_jobs_webhooks AFTER UPDATE OF state ON import_jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION ztp_trg_import_job_finished();

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
