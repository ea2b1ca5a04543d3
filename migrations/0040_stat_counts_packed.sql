-- A statement's statistics in a quarter of the bytes.
--
-- 0022 wrote an UPDATE's statistics as one row of parallel arrays with an
-- entry per (owner, status): for a redirect batch of first contacts, two
-- entries per owner (a status left, a status reached), each with the owner's
-- uuid, the status's name, the delta and the contacts, and the owners' uuids
-- a second time for the contacts. With the bench's 1,000 providers a batch
-- at 256 connections spans about 60 owners: rows of 7 to 9 kB, so each took
-- a page of its own (the relation extended at nearly every insert), and
-- those over 8,160 bytes were put through pglz (uuids do not compress)
-- and stored out of line. `perf`: that insert was 3.5% of PostgreSQL's
-- time, about 100 bytes of WAL per redirect.
--
-- Now a statement's row, in a table of its own (device_stat_counts), holds
-- each owner once: `statuses[i]` for `providers[i]` is the change of its
-- devices in each status, in ztp_stat_statuses()'s order, and `contacts[i]`
-- what its rows' contacts grew by. 48 bytes per owner: 2.9 kB for 60
-- owners, never compressed. Status deltas are int (a statement changes at
-- most as many devices as there are); contacts stay bigint, as the column.
--
-- The old table stays, and the fold and the tenant's reader read both: a
-- statement whose trigger is running while this migration commits (a
-- redirect batch of a ztpd serving through a rolling upgrade) still writes
-- its row there, the old way, and must neither fail nor be lost. Nothing
-- else writes there now; a later migration may drop it once folded. (The
-- table itself was recreated at first, under its lock: every such
-- statement then failed, `column "s_provider" does not exist`, and its
-- phones got 503s; and the lock, taken before the fold's advisory lock,
-- could deadlock with a fold.)
CREATE TABLE device_stat_counts (
    hour      timestamptz NOT NULL, -- the hour of the contacts
    providers uuid[] NOT NULL,      -- the owners the statement changed
    statuses  int[] NOT NULL,       -- per owner: its six status deltas (a matrix)
    contacts  bigint[] NOT NULL     -- per owner: its contacts added
) WITH (toast_tuple_target = 8160); -- a statement's arrays stay in its row, uncompressed
ALTER TABLE device_stat_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_stat_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON device_stat_counts TO ztp_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON device_stat_counts TO ztp_system;

-- The order of the statuses in a row's matrix.
CREATE FUNCTION ztp_stat_statuses() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['open', 'pending', 'custom_pending', 'acquired', 'aborted', 'unavailable']
$$;

-- As 0025's, the statistics written packed (above), owners whose counts are
-- all zero left out. An owner's contacts are what its rows' counts grew by
-- while no row changed owner (the sum over its rows before and after); when
-- one did (claims, releases, transfers: rare, few rows), contacts are
-- matched by MAC instead, and only increases count.
CREATE OR REPLACE FUNCTION ztp_trg_devices_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET enable_nestloop = off AS $$
DECLARE
    owners uuid[];
    deltas int[];
    added bigint[];
    moved boolean;
BEGIN
    -- no row can have moved unless the flag is set (0025)
    moved := false;
    IF current_setting('ztp.devices_moved', true) = 'on' THEN
        PERFORM ztp_providers_hold(ARRAY(SELECT DISTINCT provider_id FROM new_rows WHERE provider_id IS NOT NULL));
        moved := (SELECT count(*) FROM new_rows n JOIN old_rows o ON o.mac = n.mac
                  WHERE n.provider_id IS DISTINCT FROM o.provider_id) > 0;
    END IF;
    IF NOT moved THEN
        SELECT array_agg(x.p), array_agg(x.v), array_agg(x.c) INTO owners, deltas, added
        FROM (SELECT u.p, ARRAY[coalesce(sum(u.d) FILTER (WHERE u.s = 'open'), 0),
                                coalesce(sum(u.d) FILTER (WHERE u.s = 'pending'), 0),
                                coalesce(sum(u.d) FILTER (WHERE u.s = 'custom_pending'), 0),
                                coalesce(sum(u.d) FILTER (WHERE u.s = 'acquired'), 0),
                                coalesce(sum(u.d) FILTER (WHERE u.s = 'aborted'), 0),
                                coalesce(sum(u.d) FILTER (WHERE u.s = 'unavailable'), 0)]::int[] AS v,
                     sum(u.c)::bigint AS c
              FROM (SELECT provider_id AS p, status AS s, -1 AS d, -contacts AS c FROM old_rows
                    WHERE provider_id IS NOT NULL
                    UNION ALL
                    SELECT provider_id, status, 1, contacts FROM new_rows WHERE provider_id IS NOT NULL) u
              GROUP BY u.p) x
        WHERE x.v <> '{0,0,0,0,0,0}' OR x.c <> 0;
    ELSE
        SELECT array_agg(y.p), array_agg(y.v), array_agg(y.c) INTO owners, deltas, added
        FROM (SELECT coalesce(s.p, h.p) AS p,
                     ARRAY[coalesce(s.o, 0), coalesce(s.pe, 0), coalesce(s.cp, 0), coalesce(s.ac, 0),
                           coalesce(s.ab, 0), coalesce(s.un, 0)]::int[] AS v,
                     coalesce(h.c, 0)::bigint AS c
              FROM (SELECT u.p, sum(u.d) FILTER (WHERE u.s = 'open') AS o,
                           sum(u.d) FILTER (WHERE u.s = 'pending') AS pe,
                           sum(u.d) FILTER (WHERE u.s = 'custom_pending') AS cp,
                           sum(u.d) FILTER (WHERE u.s = 'acquired') AS ac,
                           sum(u.d) FILTER (WHERE u.s = 'aborted') AS ab,
                           sum(u.d) FILTER (WHERE u.s = 'unavailable') AS un
                    FROM (SELECT provider_id AS p, status AS s, -1 AS d FROM old_rows WHERE provider_id IS NOT NULL
                          UNION ALL
                          SELECT provider_id, status, 1 FROM new_rows WHERE provider_id IS NOT NULL) u
                    GROUP BY u.p) s
              FULL JOIN (SELECT n.provider_id AS p, sum(n.contacts - o.contacts) AS c
                         FROM new_rows n JOIN old_rows o ON o.mac = n.mac
                         WHERE n.provider_id IS NOT NULL AND n.contacts > o.contacts GROUP BY 1) h ON h.p = s.p) y
        WHERE y.v <> '{0,0,0,0,0,0}' OR y.c <> 0;
    END IF;
    IF owners IS NOT NULL THEN
        INSERT INTO device_stat_counts (hour, providers, statuses, contacts)
        VALUES (date_trunc('hour', now()), owners, deltas, added);
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

-- A row's entries: owner, status (NULL for its contacts), count; zeros left out.
CREATE FUNCTION ztp_stat_count_entries(p_providers uuid[], p_statuses int[], p_contacts bigint[])
RETURNS TABLE (provider_id uuid, status text, n bigint) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_providers[i], (ztp_stat_statuses())[k], p_statuses[i][k]::bigint
    FROM generate_subscripts(p_providers, 1) i, generate_series(1, 6) k
    WHERE p_statuses[i][k] <> 0
    UNION ALL
    SELECT p_providers[i], NULL, p_contacts[i]
    FROM generate_subscripts(p_providers, 1) i
    WHERE p_contacts[i] <> 0
$$;

-- As 0035's, reading both tables (0022's rows as 0035 did). Without JIT: a
-- row's entries come from set-returning functions PostgreSQL guesses at
-- 1,000 rows each, and that guess made the plan look costly enough to
-- compile, 0.2 s a call for a few rows (and a snapshot held meanwhile).
CREATE OR REPLACE FUNCTION ztp_stats_compact() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET jit = off AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7349001) THEN
        RETURN;
    END IF;
    WITH counts AS (
        DELETE FROM device_stat_counts RETURNING *
    ), batches AS (
        DELETE FROM device_stat_batches RETURNING *
    ), entries AS MATERIALIZED (
        SELECT c.hour, e.provider_id, e.status, e.n
        FROM counts c, ztp_stat_count_entries(c.providers, c.statuses, c.contacts) e
        UNION ALL
        SELECT b.hour, u.p, u.s, u.d FROM batches b, unnest(b.s_provider, b.s_status, b.s_delta) u(p, s, d)
        UNION ALL
        SELECT b.hour, u.p, NULL, u.c FROM batches b, unnest(b.h_provider, b.h_contacts) u(p, c)
    ), statuses AS (
        DELETE FROM device_status_deltas RETURNING provider_id, status, delta
    ), hours AS (
        DELETE FROM contact_hour_deltas RETURNING provider_id, hour, contacts
    ), s AS (
        INSERT INTO device_status_totals AS t (provider_id, status, n)
        SELECT x.p, x.s, sum(x.d) FROM (
            SELECT e.provider_id AS p, e.status AS s, e.n AS d FROM entries e WHERE e.status IS NOT NULL
            UNION ALL
            SELECT provider_id, status, delta FROM statuses) x
        GROUP BY 1, 2 HAVING sum(x.d) <> 0
        ON CONFLICT (provider_id, status) DO UPDATE SET n = t.n + excluded.n
    )
    INSERT INTO contact_hour_totals AS t (provider_id, hour, contacts)
    SELECT x.p, x.h, sum(x.c) FROM (
        SELECT e.provider_id AS p, e.hour AS h, e.n AS c FROM entries e WHERE e.status IS NULL
        UNION ALL
        SELECT provider_id, hour, contacts FROM hours) x
    WHERE x.h > now() - interval '8 days'
    GROUP BY 1, 2 HAVING sum(x.c) <> 0
    ON CONFLICT (provider_id, hour) DO UPDATE SET contacts = t.contacts + excluded.contacts;
    DELETE FROM device_status_totals WHERE n = 0;
    DELETE FROM contact_hour_totals WHERE hour <= now() - interval '8 days';
END $$;

-- As 0022's, reading both tables: the caller's entries of the rows not yet
-- folded, status deltas (hour NULL) and contacts of an hour (status NULL);
-- a row's owners searched before its arrays are read.
CREATE OR REPLACE FUNCTION ztp_stat_batches_mine()
RETURNS TABLE (status text, delta bigint, hour timestamptz, contacts bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET jit = off AS $$
    WITH me AS MATERIALIZED (SELECT ztp_tenant() AS id)
    SELECT (ztp_stat_statuses())[k], c.statuses[i][k]::bigint, NULL::timestamptz, NULL::bigint
    FROM me, device_stat_counts c, LATERAL array_position(c.providers, me.id) i, generate_series(1, 6) k
    WHERE me.id = ANY (c.providers) AND c.statuses[i][k] <> 0
    UNION ALL
    SELECT NULL, NULL, c.hour, c.contacts[i]
    FROM me, device_stat_counts c, LATERAL array_position(c.providers, me.id) i
    WHERE me.id = ANY (c.providers) AND c.contacts[i] <> 0
    UNION ALL
    SELECT u.s, u.d, NULL, NULL
    FROM me, device_stat_batches b, unnest(b.s_provider, b.s_status, b.s_delta) u(p, s, d)
    WHERE me.id = ANY (b.s_provider) AND u.p = me.id
    UNION ALL
    SELECT NULL, NULL, b.hour, u.c
    FROM me, device_stat_batches b, unnest(b.h_provider, b.h_contacts) u(p, c)
    WHERE me.id = ANY (b.h_provider) AND u.p = me.id
$$;
