-- Imports near COPY speed.
--
-- The rows of POST /v1/devices/import and of a job's part now arrive by
-- COPY ... FROM STDIN (on a worker's own connection) into
-- pg_temp.import_raw, which the caller creates as ztp_system (the definer
-- of the import's functions) and lends the tenant; one statement then
-- applies or stages them all. COPY cannot write the tables themselves:
-- their row-level security forbids it.
--
-- Applying is set-based and lean: the claim status is computed once, not
-- per row; devices unknown to the analysis are inserted plainly (no
-- speculative insertion: one the analysis did not see is a claim that raced
-- us, a unique violation, and the import is run again as before); known
-- devices nobody owns are claimed by one UPDATE. The triggers on devices and
-- device_events are per statement already (0009), with transition tables.

DROP FUNCTION ztp_devices_import(text, text, text, text, text, text, boolean, boolean, boolean, boolean, boolean);
DROP FUNCTION ztp_import_job_stage(uuid, int, text, text, text, text, text, text, boolean, boolean, boolean, int);

-- Step 1 (as in 0011): the report, and pg_temp.import_rows for the apply;
-- `known` says whether the device existed when analysed.
CREATE OR REPLACE FUNCTION ztp_import_analyse(p_skip boolean, OUT status int, OUT body jsonb)
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
    CREATE TEMP TABLE import_rows ON COMMIT DROP AS
    SELECT r.mac, r.profile_name, r.profile_in, r.model, r.serial, r.part, r.line,
           coalesce(pn.id, pi.id) AS profile_id, d.provider_id AS owner, d.mac IS NOT NULL AS known,
           row_number() OVER (PARTITION BY r.mac ORDER BY r.part, r.line) > 1 AS dup,
           row_number() OVER (ORDER BY r.mac) AS seq
    FROM pg_temp.import_raw r
         LEFT JOIN profiles pn ON pn.provider_id = me AND pn.name = r.profile_name
         LEFT JOIN profiles pi ON pi.provider_id = me AND pi.id = r.profile_in
         LEFT JOIN devices d ON d.mac = r.mac
    ORDER BY seq;
    -- stored in the order of seq: a range is read from consecutive pages
    -- (a temporary table lives in temp_buffers, 8 MB: a range read by the
    -- index in heap order scattered over a million rows read pages again and
    -- again, twice the time of the whole insert)
    CREATE INDEX ON pg_temp.import_rows (seq);
    ANALYZE pg_temp.import_rows;

    -- errors and counts in one pass; the lists (at most 1000 entries each)
    -- only when there is something to list
    SELECT count(*) FILTER (WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL)),
           count(*) FILTER (WHERE owner IS NOT NULL AND owner <> me AND NOT dup),
           count(*) FILTER (WHERE owner IS NULL AND NOT dup),
           count(*) FILTER (WHERE owner = me AND NOT dup)
    INTO n_errors, n_conflicts, n_created, n_updated FROM pg_temp.import_rows;
    errors := '[]'::jsonb;
    IF n_errors > 0 THEN
        SELECT coalesce(jsonb_agg(e ORDER BY p, l), '[]'::jsonb) INTO errors FROM (
            SELECT jsonb_strip_nulls(jsonb_build_object('part', part, 'line', line, 'detail',
                       CASE WHEN dup THEN format('%s appears on an earlier line', ztp_mac_text(mac))
                            WHEN profile_name IS NOT NULL THEN format('no profile named "%s"', profile_name)
                            ELSE 'no such profile_id' END)) AS e, part AS p, line AS l
            FROM pg_temp.import_rows
            WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL)
            ORDER BY part, line LIMIT 1000) x;
    END IF;
    conflicts := '[]'::jsonb;
    IF n_conflicts > 0 THEN
        SELECT coalesce(jsonb_agg(ztp_mac_text(mac) ORDER BY part, line), '[]'::jsonb) INTO conflicts
        FROM (SELECT mac, part, line FROM pg_temp.import_rows WHERE owner IS NOT NULL AND owner <> me AND NOT dup
              ORDER BY part, line LIMIT 1000) c;
    END IF;
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
-- Each of its three statements runs only when the range has rows for it;
-- the devices they join are found by MAC only, never through the owner's
-- index (whose statistics lag behind a large import: a nested loop over
-- it, ranges after ranges, took minutes).
CREATE OR REPLACE FUNCTION ztp_import_apply(p_has_profile boolean, p_has_model boolean, p_has_serial boolean,
                                            p_lo bigint, p_hi bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := ztp_tenant();
    claimed_status text := ztp_next_status(NULL, 'claim');
    n_new_expected bigint;
    n_claim_expected bigint;
    n_mine bigint;
    n_new bigint := 0;
    n_claimed bigint := 0;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    SELECT count(*) FILTER (WHERE owner IS NULL AND NOT known), count(*) FILTER (WHERE owner IS NULL AND known),
           count(*) FILTER (WHERE owner = me)
    INTO n_new_expected, n_claim_expected, n_mine
    FROM pg_temp.import_rows WHERE seq >= p_lo AND seq < p_hi AND NOT dup;
    -- new devices
    IF n_new_expected > 0 THEN
        BEGIN
            WITH created AS (
                INSERT INTO devices (mac, provider_id, profile_id, model, serial, status, status_changed_at, created_at)
                SELECT mac, me, profile_id, model, serial, claimed_status, now(), now()
                FROM pg_temp.import_rows WHERE seq >= p_lo AND seq < p_hi AND NOT known AND NOT dup
                RETURNING mac
            )
            INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
            SELECT mac, me, NULL, claimed_status, 'imported' FROM created;
            GET DIAGNOSTICS n_new = ROW_COUNT;
        EXCEPTION WHEN unique_violation THEN
            -- claimed by someone meanwhile: run it all again
            RAISE EXCEPTION 'import raced with a claim' USING ERRCODE = 'serialization_failure';
        END;
    END IF;
    -- known devices nobody owns: claimed, status open (devices_new_owner
    -- resets what an earlier owner left)
    IF n_claim_expected > 0 THEN
        WITH claimed AS (
            UPDATE devices x SET provider_id = me, profile_id = r.profile_id, model = r.model, serial = r.serial,
                status = claimed_status, status_changed_at = now(), created_at = now()
            FROM pg_temp.import_rows r
            WHERE r.seq >= p_lo AND r.seq < p_hi AND r.known AND r.owner IS NULL AND NOT r.dup
                  AND x.mac = r.mac AND x.provider_id IS NOT DISTINCT FROM NULL
            RETURNING x.mac
        )
        INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
        SELECT mac, me, NULL, claimed_status, 'imported' FROM claimed;
        GET DIAGNOSTICS n_claimed = ROW_COUNT;
    END IF;
    IF n_new + n_claimed <> n_new_expected + n_claim_expected THEN
        -- another provider claimed one of these MACs meanwhile: run it all again
        RAISE EXCEPTION 'import raced with a claim' USING ERRCODE = 'serialization_failure';
    END IF;
    -- the caller's own devices: only the columns the import carries
    IF n_mine > 0 THEN
        UPDATE devices d SET
            profile_id = CASE WHEN p_has_profile THEN r.profile_id ELSE d.profile_id END,
            model = CASE WHEN p_has_model THEN r.model ELSE d.model END,
            serial = CASE WHEN p_has_serial THEN r.serial ELSE d.serial END
        FROM pg_temp.import_rows r
        WHERE r.seq >= p_lo AND r.seq < p_hi AND d.mac = r.mac AND r.owner = me AND NOT r.dup
              AND d.provider_id IS NOT DISTINCT FROM me;
    END IF;
END $$;

-- POST /v1/devices/import, once its rows are in pg_temp.import_raw.
CREATE FUNCTION ztp_devices_import_copied(p_has_profile boolean, p_has_model boolean, p_has_serial boolean,
                                          p_dry_run boolean, p_skip boolean, OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    report jsonb;
BEGIN
    SELECT a.status, a.body INTO status, report FROM ztp_import_analyse(p_skip) a;
    body := report::json;
    IF status <> 200 OR p_dry_run THEN
        RETURN;
    END IF;
    PERFORM ztp_import_apply(p_has_profile, p_has_model, p_has_serial, 1, 9223372036854775807);
    PERFORM ztp_import_audit(report, NULL);
END $$;
ALTER FUNCTION ztp_devices_import_copied(boolean, boolean, boolean, boolean, boolean) OWNER TO ztp_system;

-- Replaces part p_part of an open job with the rows of pg_temp.import_raw
-- (run as the tenant: row-level security applies).
CREATE FUNCTION ztp_import_job_stage_copied(p_id uuid, p_part int, p_has_profile boolean, p_has_model boolean,
                                            p_has_serial boolean, p_rows int, OUT status int, OUT body json)
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
    SELECT p_id, p_part, line, ztp_tenant(), mac, profile_name, profile_in, model, serial FROM pg_temp.import_raw;
    UPDATE import_jobs SET rows = total WHERE id = p_id;
    status := 200;
    body := json_build_object('part', p_part, 'rows', p_rows);
END $$;

GRANT EXECUTE ON FUNCTION ztp_devices_import_copied(boolean, boolean, boolean, boolean, boolean),
    ztp_import_job_stage_copied(uuid, int, boolean, boolean, boolean, int) TO ztp_system, ztp_tenant;

-- A staged row checked its part by a foreign key, one lookup per row (a
-- sixth of staging). Parts are only deleted whole, so one statement per
-- deletion of parts (replaced, or their job deleted) takes their rows.
ALTER TABLE import_job_rows DROP CONSTRAINT import_job_rows_job_id_part_fkey;
CREATE FUNCTION ztp_trg_import_job_parts_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    DELETE FROM import_job_rows r USING old_parts o WHERE r.job_id = o.job_id AND r.part = o.part;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_import_job_parts_deleted() OWNER TO ztp_system;
CREATE TRIGGER import_job_parts_rows AFTER DELETE ON import_job_parts
    REFERENCING OLD TABLE AS old_parts FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_import_job_parts_deleted();

-- The analysis sorts and joins every row of an import at once: with the
-- default work_mem (4 MB) a million rows go to disk in several passes.
-- One import at a time per worker, at most two per provider per ztpd.
ALTER FUNCTION ztp_import_analyse(boolean) SET work_mem = '128MB';
ALTER FUNCTION ztp_import_apply(boolean, boolean, boolean, bigint, bigint) SET work_mem = '128MB';
