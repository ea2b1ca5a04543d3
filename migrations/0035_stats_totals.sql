-- Folded statistics in tables of their own, one row per key, added to.
--
-- ztp_stats_compact (every 10 s, 0022) folded the new deltas into
-- device_status_deltas and contact_hour_deltas, then rewrote both tables
-- whole to keep one row per key: every row deleted and inserted again,
-- every 10 s, whether or not anything had changed. With 1,000 providers and
-- 190 hours of contacts each (the 8 days kept), an idle database spent
-- 0.55 s of a core and wrote 44 MB of WAL per call: some 4 MB/s of WAL, to
-- replicas and archives, for nothing; and under load the call's burst of
-- CPU sat in the latency of every request around it.
--
-- The deltas tables stay what the triggers append to (no row is updated
-- in place there, so writers never wait on each other). The folded counts
-- live in the totals tables below, keyed, and a compaction now touches only
-- the keys that changed since the last: it moves the deltas and batches
-- out, sums them per key and adds the sums to the totals (one upsert per
-- key); hours older than 8 days are deleted by an index on the hour.
-- Readers add the three: totals, deltas not yet folded, batches not yet
-- folded.
CREATE TABLE device_status_totals (
    provider_id uuid NOT NULL,
    status      text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (provider_id, status)
);
CREATE TABLE contact_hour_totals (
    provider_id uuid NOT NULL,
    hour        timestamptz NOT NULL,
    contacts    bigint NOT NULL,
    PRIMARY KEY (provider_id, hour)
);
CREATE INDEX contact_hour_totals_hour ON contact_hour_totals (hour);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['device_status_totals', 'contact_hour_totals'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY system_all ON %I TO ztp_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY tenant_own ON %I TO ztp_tenant USING (provider_id = ztp_tenant())'
                       ' WITH CHECK (provider_id = ztp_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ztp_system', t);
        EXECUTE format('GRANT SELECT ON %I TO ztp_tenant', t);
    END LOOP;
END $$;

-- Moves the deltas and batches folded so far into the totals. Each source
-- is emptied by a DELETE ... RETURNING in the same statement as the upsert
-- that adds it (one snapshot: a row committed meanwhile stays for the next
-- call, none is lost or counted twice); the advisory lock keeps two calls
-- (two replicas) from folding at once.
CREATE OR REPLACE FUNCTION ztp_stats_compact() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7349001) THEN
        RETURN;
    END IF;
    WITH batches AS (
        DELETE FROM device_stat_batches RETURNING *
    ), statuses AS (
        DELETE FROM device_status_deltas RETURNING provider_id, status, delta
    ), hours AS (
        DELETE FROM contact_hour_deltas RETURNING provider_id, hour, contacts
    ), s AS (
        INSERT INTO device_status_totals AS t (provider_id, status, n)
        SELECT x.p, x.s, sum(x.d) FROM (
            SELECT u.p, u.s, u.d FROM batches b, unnest(b.s_provider, b.s_status, b.s_delta) u(p, s, d)
            UNION ALL
            SELECT provider_id, status, delta FROM statuses) x
        GROUP BY 1, 2 HAVING sum(x.d) <> 0
        ON CONFLICT (provider_id, status) DO UPDATE SET n = t.n + excluded.n
    )
    INSERT INTO contact_hour_totals AS t (provider_id, hour, contacts)
    SELECT x.p, x.h, sum(x.c) FROM (
        SELECT u.p, b.hour AS h, u.c FROM batches b, unnest(b.h_provider, b.h_contacts) u(p, c)
        UNION ALL
        SELECT provider_id, hour, contacts FROM hours) x
    WHERE x.h > now() - interval '8 days'
    GROUP BY 1, 2 HAVING sum(x.c) <> 0
    ON CONFLICT (provider_id, hour) DO UPDATE SET contacts = t.contacts + excluded.contacts;
    -- a count that fell to zero (a provider's devices all gone from a
    -- status, or the provider itself): not kept (a few thousand rows to read)
    DELETE FROM device_status_totals WHERE n = 0;
    DELETE FROM contact_hour_totals WHERE hour <= now() - interval '8 days';
END $$;
-- (CREATE OR REPLACE drops the statement_timeout 0022 set on it, which never
-- limited the call anyway: PostgreSQL arms that timer when the calling
-- statement starts. The delivery thread sets it for the call's transaction.)

-- Webhook attempts and events older than 30 days (the events' deliveries go
-- with them; an event still pending stays), p_limit of each at most: a
-- backlog (ztpd stopped for a week) goes in slices the caller repeats, each
-- a transaction within its time limit. They were deleted whole, in the
-- fold's own transaction: a backlog too large for its time would have
-- stopped the statistics with it. Returns how many rows it deleted.
CREATE FUNCTION ztp_webhooks_expire(p_limit int) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    attempts bigint;
    events bigint;
BEGIN
    DELETE FROM webhook_attempts WHERE id IN (
        SELECT a.id FROM webhook_attempts a WHERE a.at < now() - interval '30 days' ORDER BY a.at LIMIT p_limit);
    GET DIAGNOSTICS attempts = ROW_COUNT;
    DELETE FROM webhook_events WHERE id IN (
        SELECT e.id FROM webhook_events e WHERE e.at < now() - interval '30 days'
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
        ORDER BY e.at LIMIT p_limit);
    GET DIAGNOSTICS events = ROW_COUNT;
    RETURN attempts + events;
END $$;
ALTER FUNCTION ztp_webhooks_expire(int) OWNER TO ztp_system;
REVOKE ALL ON FUNCTION ztp_webhooks_expire(int) FROM PUBLIC;

-- What was folded until now becomes the first totals (waiting for a
-- compaction that may be running in a replica not yet upgraded).
SELECT pg_advisory_xact_lock(7349001);
SELECT ztp_stats_compact();
-- ztpd folds as ztp_system, its owner; nobody else needs to
REVOKE ALL ON FUNCTION ztp_stats_compact() FROM PUBLIC;

CREATE OR REPLACE FUNCTION ztp_stats(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    WITH pending AS MATERIALIZED (SELECT * FROM ztp_stat_batches_mine())
    SELECT 200, json_build_object(
        'status_counts', (SELECT json_object_agg(s.name, coalesce(c.n, 0) ORDER BY s.ord)
            FROM unnest(ARRAY['open', 'pending', 'custom_pending', 'acquired', 'aborted', 'unavailable'])
                 WITH ORDINALITY AS s(name, ord)
            LEFT JOIN (SELECT x.status, sum(x.delta) AS n FROM (
                           SELECT t.status, t.n AS delta FROM device_status_totals t WHERE t.provider_id = ztp_tenant()
                           UNION ALL
                           SELECT d.status, d.delta FROM device_status_deltas d WHERE d.provider_id = ztp_tenant()
                           UNION ALL
                           SELECT p.status, p.delta FROM pending p WHERE p.status IS NOT NULL) x
                       GROUP BY x.status) c ON c.status = s.name),
        'contacts_per_hour', (SELECT json_agg(json_build_object('hour', ztp_time(h.hour), 'contacts',
                                                                coalesce(c.n, 0)) ORDER BY h.hour)
            FROM generate_series(date_trunc('hour', now()) - interval '167 hours', date_trunc('hour', now()),
                                 interval '1 hour') AS h(hour)
            LEFT JOIN (SELECT x.hour, sum(x.contacts) AS n FROM (
                           SELECT t.hour, t.contacts FROM contact_hour_totals t
                           WHERE t.provider_id = ztp_tenant() AND t.hour > now() - interval '169 hours'
                           UNION ALL
                           SELECT d.hour, d.contacts FROM contact_hour_deltas d
                           WHERE d.provider_id = ztp_tenant() AND d.hour > now() - interval '169 hours'
                           UNION ALL
                           SELECT p.hour, p.contacts FROM pending p
                           WHERE p.hour IS NOT NULL AND p.hour > now() - interval '169 hours') x
                       GROUP BY x.hour) c ON c.hour = h.hour))
$$;
