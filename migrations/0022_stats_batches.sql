-- Statistics of an UPDATE of devices: one row per statement.
--
-- The statement trigger of 0009 wrote its deltas as rows of
-- device_status_deltas and contact_hour_deltas, each with an index entry:
-- for a redirect batch of 50 phones of as many providers, some 150 rows,
-- three for each phone (a status left, a status reached, a contact). That
-- was a third of the database's time per redirect (`ZTP_BENCH_ONLY=redirect
-- make bench`, pg_stat_statements: 3.3 s of the batch statement's 10.1 s;
-- PostgreSQL CPU 68 us per redirect with the trigger, 44 us without).
-- Now the deltas go out as one row of arrays per statement, in a table
-- without an index (an entry per owner and status, zeros included: the
-- readers sum them); ztp_stats_compact (every 10 s, one replica at a time)
-- folds them into the two tables, and GET /v1/stats adds the rows not yet
-- folded. The tenant never reads this table: a definer function gives it
-- its own entries.
CREATE TABLE device_stat_batches (
    hour       timestamptz NOT NULL, -- the hour of the contacts
    s_provider uuid[] NOT NULL,      -- status deltas: (provider, status, delta)
    s_status   text[] NOT NULL,
    s_delta    bigint[] NOT NULL,
    h_provider uuid[] NOT NULL,      -- contacts of the hour: (provider, contacts)
    h_contacts bigint[] NOT NULL
) WITH (toast_tuple_target = 8160); -- a batch's arrays stay in its row, uncompressed
ALTER TABLE device_stat_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_stat_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON device_stat_batches TO ztp_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON device_stat_batches TO ztp_system;

-- One aggregate over the transition tables, its columns aligned by the
-- aggregation itself (no ORDER BY: a sort per array cost as much as the
-- rest). Entries per (owner, status): the rows that came less those that
-- left, and their contacts; an owner's entries sum to its contacts added
-- while no row changed owner. When one did (claims, releases, transfers:
-- rare, and few rows), contacts are matched by MAC instead.
CREATE OR REPLACE FUNCTION ztp_trg_devices_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    sp uuid[];
    ss text[];
    sd bigint[];
    hp uuid[];
    hc bigint[];
    moved boolean;
    counted boolean; -- some entry is not zero
BEGIN
    SELECT array_agg(provider_id), array_agg(status), array_agg(d), array_agg(c), bool_or(d <> 0 OR c <> 0)
    INTO sp, ss, sd, hc, counted
    FROM (SELECT provider_id, status, sum(d) AS d, sum(c) AS c FROM (
              SELECT provider_id, status, -1 AS d, -contacts AS c FROM old_rows WHERE provider_id IS NOT NULL
              UNION ALL
              SELECT provider_id, status, 1, contacts FROM new_rows WHERE provider_id IS NOT NULL) u
          GROUP BY 1, 2) x;
    hp := sp;
    moved := EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.mac = n.mac
                     WHERE n.provider_id IS DISTINCT FROM o.provider_id);
    IF moved THEN
        SELECT array_agg(m.provider_id), array_agg(m.c) INTO hp, hc
        FROM (SELECT n.provider_id, sum(n.contacts - o.contacts) AS c
              FROM new_rows n JOIN old_rows o ON o.mac = n.mac
              WHERE n.provider_id IS NOT NULL AND n.contacts > o.contacts GROUP BY 1) m;
    END IF;
    IF counted THEN
        INSERT INTO device_stat_batches (hour, s_provider, s_status, s_delta, h_provider, h_contacts)
        VALUES (date_trunc('hour', now()), coalesce(sp, '{}'), coalesce(ss, '{}'), coalesce(sd, '{}'),
                coalesce(hp, '{}'), coalesce(hc, '{}'));
    END IF;
    IF moved AND EXISTS (SELECT 1 FROM webhooks WHERE events && ARRAY['device.claimed', 'device.released']) THEN
        PERFORM ztp_webhook_emit_many('device.released', array_agg(o.provider_id ORDER BY o.mac),
            array_agg(jsonb_build_object('mac', ztp_mac_text(o.mac)) ORDER BY o.mac))
        FROM old_rows o JOIN new_rows n ON n.mac = o.mac
        WHERE o.provider_id IS NOT NULL AND o.provider_id IS DISTINCT FROM n.provider_id HAVING count(*) > 0;
        PERFORM ztp_webhook_emit_many('device.claimed', array_agg(n.provider_id ORDER BY n.mac),
            array_agg(jsonb_build_object('mac', ztp_mac_text(n.mac), 'profile_id', n.profile_id) ORDER BY n.mac))
        FROM old_rows o JOIN new_rows n ON n.mac = o.mac
        WHERE n.provider_id IS NOT NULL AND o.provider_id IS DISTINCT FROM n.provider_id HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

-- The batches first (moved, not copied: one statement), then as in 0009.
CREATE OR REPLACE FUNCTION ztp_stats_compact() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7349001) THEN
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM device_stat_batches RETURNING *
    ), s AS (
        INSERT INTO device_status_deltas (provider_id, status, delta)
        SELECT u.p, u.s, sum(u.d) FROM gone, unnest(gone.s_provider, gone.s_status, gone.s_delta) u(p, s, d)
        GROUP BY 1, 2 HAVING sum(u.d) <> 0
    )
    INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
    SELECT u.p, gone.hour, sum(u.c) FROM gone, unnest(gone.h_provider, gone.h_contacts) u(p, c)
    GROUP BY 1, 2 HAVING sum(u.c) <> 0;
    WITH gone AS (DELETE FROM device_status_deltas RETURNING *)
    INSERT INTO device_status_deltas (provider_id, status, delta)
    SELECT provider_id, status, sum(delta) FROM gone GROUP BY 1, 2 HAVING sum(delta) <> 0;
    WITH gone AS (DELETE FROM contact_hour_deltas RETURNING *)
    INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
    SELECT provider_id, hour, sum(contacts) FROM gone WHERE hour > now() - interval '8 days' GROUP BY 1, 2;
    DELETE FROM webhook_attempts WHERE at < now() - interval '30 days';
    DELETE FROM webhook_events e WHERE e.at < now() - interval '30 days'
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending');
END $$;

-- (CREATE OR REPLACE dropped the timeout 0009 gave it.)
ALTER FUNCTION ztp_stats_compact() SET statement_timeout = '30s';

-- The caller's entries of the batches not yet folded: status deltas (hour
-- NULL) and contacts of an hour (status NULL).
CREATE FUNCTION ztp_stat_batches_mine() RETURNS TABLE (status text, delta bigint, hour timestamptz, contacts bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- the tenant once, not per entry; a batch's array searched before it is unnested
    WITH me AS MATERIALIZED (SELECT ztp_tenant() AS id)
    SELECT u.s, u.d, NULL::timestamptz, NULL::bigint
    FROM me, device_stat_batches b, unnest(b.s_provider, b.s_status, b.s_delta) u(p, s, d)
    WHERE me.id = ANY (b.s_provider) AND u.p = me.id
    UNION ALL
    SELECT NULL, NULL, b.hour, u.c
    FROM me, device_stat_batches b, unnest(b.h_provider, b.h_contacts) u(p, c)
    WHERE me.id = ANY (b.h_provider) AND u.p = me.id
$$;
ALTER FUNCTION ztp_stat_batches_mine() OWNER TO ztp_system;
REVOKE ALL ON FUNCTION ztp_stat_batches_mine() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ztp_stat_batches_mine() TO ztp_tenant;

CREATE OR REPLACE FUNCTION ztp_stats(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    WITH pending AS MATERIALIZED (SELECT * FROM ztp_stat_batches_mine())
    SELECT 200, json_build_object(
        'status_counts', (SELECT json_object_agg(s.name, coalesce(c.n, 0) ORDER BY s.ord)
            FROM unnest(ARRAY['open', 'pending', 'custom_pending', 'acquired', 'aborted', 'unavailable'])
                 WITH ORDINALITY AS s(name, ord)
            LEFT JOIN (SELECT x.status, sum(x.delta) AS n FROM (
                           SELECT d.status, d.delta FROM device_status_deltas d WHERE d.provider_id = ztp_tenant()
                           UNION ALL
                           SELECT p.status, p.delta FROM pending p WHERE p.status IS NOT NULL) x
                       GROUP BY x.status) c ON c.status = s.name),
        'contacts_per_hour', (SELECT json_agg(json_build_object('hour', ztp_time(h.hour), 'contacts',
                                                                coalesce(c.n, 0)) ORDER BY h.hour)
            FROM generate_series(date_trunc('hour', now()) - interval '167 hours', date_trunc('hour', now()),
                                 interval '1 hour') AS h(hour)
            LEFT JOIN (SELECT x.hour, sum(x.contacts) AS n FROM (
                           SELECT d.hour, d.contacts FROM contact_hour_deltas d
                           WHERE d.provider_id = ztp_tenant() AND d.hour > now() - interval '169 hours'
                           UNION ALL
                           SELECT p.hour, p.contacts FROM pending p
                           WHERE p.hour IS NOT NULL AND p.hour > now() - interval '169 hours') x
                       GROUP BY x.hour) c ON c.hour = h.hour))
$$;
