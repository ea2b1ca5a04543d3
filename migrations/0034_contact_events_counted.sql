-- How many events a device's contacts have added, so that the contact batch
-- (redirect/contacts.c) trims its history after every 100th: a count of its
-- own, which no stranger can steer (a trim by the events' shared ids could be
-- dodged by interleaving two devices). A fast default: no rewrite; no index:
-- contacts stay HOT updates.
ALTER TABLE devices ADD COLUMN contact_events bigint NOT NULL DEFAULT 0;

-- Every contact batch writes a transactional WAL message (redirect/contacts.c:
-- its commit is then flushed even when nothing else was written). Without
-- the right to, every contact would be a 503: said here, at migrate time.
DO $$
BEGIN
    IF NOT has_function_privilege('ztp_system', 'pg_logical_emit_message(boolean, text, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'ztp_system may not execute pg_logical_emit_message(boolean, text, text): '
                        'GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO ztp_system';
    END IF;
END $$;
