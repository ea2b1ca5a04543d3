-- "Every change made through this API" is in the audit trail: an import
-- job's creation and cancellation were, but not the parts put into it nor
-- its start, so nothing said who had started a job (its import_job.finished
-- entry is the runner's, with no key). Both are audited now, by the key or
-- person that called (a part replaced is a new entry: a job has at most
-- 10,000 parts).
CREATE OR REPLACE FUNCTION ztp_import_job_stage_copied(p_id uuid, p_part int, p_has_profile boolean, p_has_model boolean,
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
    PERFORM ztp_audit('import_job.part', p_id::text, json_build_object('part', p_part, 'rows', p_rows)::jsonb);
    status := 200;
    body := json_build_object('part', p_part, 'rows', p_rows);
END $$;

CREATE OR REPLACE FUNCTION ztp_import_job_start(p_id uuid, OUT status int, OUT body json)
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
    PERFORM ztp_audit('import_job.start', p_id::text, json_build_object('rows', n)::jsonb);
    PERFORM pg_notify('ztp_import_jobs', '');
    status := 202;
    body := ztp_import_job_get(p_id);
END $$;
