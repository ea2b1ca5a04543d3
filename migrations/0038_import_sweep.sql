-- The hourly sweep of import jobs (admin-api/import_runner.c, on every
-- replica) deleted the staged rows of ended jobs with a join PostgreSQL ran
-- as a scan of every staged row, those of open jobs included: an audit
-- measured 173-235 ms per 2,000,000 staged rows, and a provider may keep ten
-- open jobs of 20,000,000 rows for 7 days. Ended jobs have no rows left
-- unless their runner died at the wrong moment: one probe of the primary
-- key per ended job finds them, and a delete planned for that job removes
-- them.
CREATE FUNCTION ztp_import_sweep(p_retention interval) RETURNS void LANGUAGE plpgsql AS $$
DECLARE job uuid;
BEGIN
    FOR job IN SELECT j.id FROM import_jobs j
               WHERE j.state NOT IN ('open', 'running')
                   AND EXISTS (SELECT 1 FROM import_job_rows r WHERE r.job_id = j.id) LOOP
        -- planned for this job (EXECUTE): by its own rows, where a plan for
        -- any job, or for a list of them, scanned the table
        EXECUTE 'DELETE FROM import_job_rows WHERE job_id = $1' USING job;
    END LOOP;
    DELETE FROM import_jobs WHERE finished_at < now() - p_retention
        OR (state = 'open' AND created_at < now() - p_retention);
END $$;
REVOKE ALL ON FUNCTION ztp_import_sweep(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ztp_import_sweep(interval) TO ztp_system;
