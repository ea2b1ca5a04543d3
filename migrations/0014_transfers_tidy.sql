-- Transfers, tidied: one place resets a device for its new owner, lists that
-- stay small whatever the transfers carry, and a sweep of ended transfers.
-- First, GET /v1/devices?q= (0013) made fast for dense and sparse q alike.

-- ---- device search: a window, then the trigram index -------------------
-- How a search finds its page, within the caller's devices matching the
-- other filters, after the cursor, in MAC order:
--   dense q (a vendor prefix): the next SEARCH_WINDOW devices in MAC order
--     (devices_provider) hold the page;
--   sparse q: what the window holds, then the trigram index for the rest.
-- The planner cannot tell the two apart ('%3615%' and '%0004f2%' look alike
-- to its statistics, yet one matches 50 of a million devices and the other a
-- quarter): left to it, one or the other read the whole fleet (seconds).
-- So the window decides, at a cost bounded by its size, and the sparse path
-- fetches at most as many rows as the window's density allows (under 2.5%
-- of the devices after the window).
--
-- Both run as ztp_system (SECURITY DEFINER, the tenant named explicitly):
-- under ztp_tenant's row-level security a condition that is not leakproof
-- (LIKE is not) may not be an index condition. ztp_device_list reads the
-- rows themselves under row-level security again. Each statement is planned
-- per call (EXECUTE) with only the filters given, never one generic plan for
-- all, so the cursor's MAC bounds devices_provider. p_q is lower-case hex
-- digits only (ztpd checked): no LIKE wildcard.

-- The conditions of the filters given, as fixed text naming $1 to $3.
CREATE FUNCTION ztp_device_filters(p_status text, p_profile uuid, p_model text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_status IS NOT NULL THEN ' AND d.status = $1' ELSE '' END
        || CASE WHEN p_profile IS NOT NULL THEN ' AND d.profile_id = $2' ELSE '' END
        || CASE WHEN p_model IS NOT NULL THEN ' AND d.model = $3' ELSE '' END
$$;

-- The sparse path: up to p_limit MACs after p_after matching p_pattern from
-- the trigram index alone (a plain index scan of devices_provider, which the
-- planner may prefer on a guess, is what the window already did).
CREATE FUNCTION ztp_device_search_sparse(p_me uuid, p_status text, p_profile uuid, p_model text,
                                         p_pattern text, p_after macaddr, p_limit int) RETURNS macaddr[]
LANGUAGE plpgsql STABLE SET enable_indexscan = off SET enable_seqscan = off AS $$
DECLARE macs macaddr[];
BEGIN
    EXECUTE 'SELECT array_agg(mac ORDER BY mac) FROM (SELECT d.mac FROM devices d'
            ' WHERE ztp_mac_text(d.mac) LIKE $4 AND d.provider_id = $7 AND d.mac > $5'
            || ztp_device_filters(p_status, p_profile, p_model)
            || ' ORDER BY d.mac LIMIT $6) x'
        INTO macs USING p_status, p_profile, p_model, p_pattern, p_after, p_limit, p_me;
    RETURN coalesce(macs, '{}');
END $$;
ALTER FUNCTION ztp_device_search_sparse OWNER TO ztp_system;

-- The MACs of one page of the caller's devices matching the filters given
-- (NULL: none), ordered by MAC, one more than p_limit when more follow.
CREATE OR REPLACE FUNCTION ztp_device_search(p_status text, p_profile uuid, p_model text, p_q text, p_after macaddr,
                                  p_limit int) RETURNS macaddr[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
    search_window CONSTANT int := 4096;
    me uuid := ztp_tenant();
    filters text := ztp_device_filters(p_status, p_profile, p_model);
    pattern text := '%' || p_q || '%';
    seen int;
    last macaddr;
    macs macaddr[];
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    IF p_after IS NOT NULL THEN filters := filters || ' AND d.mac > $5'; END IF;
    IF p_q IS NULL THEN
        EXECUTE 'SELECT array_agg(mac ORDER BY mac) FROM (SELECT d.mac FROM devices d WHERE d.provider_id = $7'
                || filters || ' ORDER BY d.mac LIMIT $6) x'
            INTO macs USING p_status, p_profile, p_model, pattern, p_after, p_limit + 1, me;
        RETURN coalesce(macs, '{}');
    END IF;
    EXECUTE 'SELECT count(*), max(mac::text)::macaddr, (array_agg(mac ORDER BY mac) FILTER (WHERE ztp_mac_text(mac) LIKE $4))'
            '[1:$6] FROM (SELECT d.mac FROM devices d WHERE d.provider_id = $7' || filters
            || ' ORDER BY d.mac LIMIT ' || search_window || ') w'
        INTO seen, last, macs USING p_status, p_profile, p_model, pattern, p_after, p_limit + 1, me;
    macs := coalesce(macs, '{}');
    IF cardinality(macs) > p_limit OR seen < search_window THEN
        RETURN macs;
    END IF;
    RETURN macs || ztp_device_search_sparse(me, p_status, p_profile, p_model, pattern, last,
                                            p_limit + 1 - cardinality(macs));
END $$;
ALTER FUNCTION ztp_device_search(text, uuid, text, text, macaddr, int) OWNER TO ztp_system;

-- ---- the new owner's reset: the trigger alone --------------------------
-- devices_new_owner (0006_trust_limits.sql) resets what the phone recorded
-- under the earlier owner on every owner change, whatever the path. The
-- certificate flag of the last contact is such a record too.
CREATE OR REPLACE FUNCTION ztp_device_new_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.contacts := 0;
    NEW.last_contact_at := NULL;
    NEW.last_contact_certified := false;
    NEW.last_addr := NULL;
    NEW.user_agent := NULL;
    NEW.ua_vendor := NULL;
    NEW.ua_model := NULL;
    NEW.ua_firmware := NULL;
    NEW.previous_status := NULL;
    NEW.created_at := now();
    RETURN NEW;
END $$;

-- Gives the devices among p_macs that p_from still owns to p_to with
-- p_profile (may be NULL). Like every claim, it sets only what the new owner
-- holds of its own (profile, model, serial: none given; the claim's status);
-- the trigger above resets the rest. One event each, for p_to. Returns how
-- many moved. Locks in MAC order, as the contact batches do.
CREATE OR REPLACE FUNCTION ztp_devices_give(p_macs macaddr[], p_from uuid, p_to uuid, p_profile uuid, p_cause text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM 1 FROM devices WHERE mac IN (SELECT unnest(p_macs)) AND provider_id = p_from ORDER BY mac FOR UPDATE;
    WITH moved AS (
        UPDATE devices d SET
            provider_id = p_to, profile_id = p_profile, model = NULL, serial = NULL,
            status = ztp_next_status(NULL, 'claim'), status_changed_at = now()
        WHERE d.mac IN (SELECT unnest(p_macs)) AND d.provider_id = p_from
        RETURNING d.mac, d.status
    )
    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
    SELECT mac, p_to, NULL, status, p_cause FROM moved;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- ---- bounded reads -----------------------------------------------------
-- A transfer carries up to 100,000 MACs (some 600 kB, out of line). Lists
-- name the count, read from this column, never the array (a whole-row
-- reference would fetch it); GET /v1/transfers/{id} pages the MACs.
ALTER TABLE transfers ADD COLUMN mac_count int GENERATED ALWAYS AS (cardinality(macs)) STORED;

CREATE FUNCTION ztp_transfer_state_of(p_accepted timestamptz, p_cancelled timestamptz, p_expires timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_accepted IS NOT NULL THEN 'accepted'
                WHEN p_cancelled IS NOT NULL THEN 'cancelled'
                WHEN p_expires <= now() THEN 'expired'
                ELSE 'open' END
$$;

-- A transfer without its MACs: the list's item, and the head of the detail.
CREATE FUNCTION ztp_transfer_head(p_id uuid, p_last4 text, p_mac_count int, p_expires timestamptz,
                                  p_created timestamptz, p_cancelled timestamptz, p_accepted timestamptz,
                                  p_transferred bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p_id, 'last4', p_last4, 'state', ztp_transfer_state_of(p_accepted, p_cancelled, p_expires),
        'mac_count', p_mac_count, 'expires_at', ztp_time(p_expires), 'created_at', ztp_time(p_created),
        'cancelled_at', ztp_time(p_cancelled), 'accepted_at', ztp_time(p_accepted), 'transferred', p_transferred)
$$;

DROP FUNCTION ztp_transfer_json(transfers);
DROP FUNCTION ztp_transfer_state(transfers);

-- GET /v1/transfers: the caller's, oldest first, keyset-paginated by id.
CREATE OR REPLACE FUNCTION ztp_transfer_list(p_state text, p_after uuid, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT t.id, t.created_at, ztp_transfer_head(t.id, t.last4, t.mac_count, t.expires_at, t.created_at,
                                                      t.cancelled_at, t.accepted_at, t.transferred) AS item
        FROM transfers t
        WHERE t.provider_id = ztp_tenant()
          AND (p_state IS NULL OR ztp_transfer_state_of(t.accepted_at, t.cancelled_at, t.expires_at) = p_state)
          AND (p_after IS NULL OR (t.created_at, t.id) > (SELECT a.created_at, a.id FROM transfers a
                                                           WHERE a.id = p_after AND a.provider_id = ztp_tenant()))
        ORDER BY t.created_at, t.id LIMIT p_limit + 1
    ), numbered AS (
        SELECT id, item, row_number() OVER (ORDER BY created_at, id) AS n FROM page
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(item ORDER BY n) FROM numbered WHERE n <= p_limit), '[]'::json),
        'next_cursor', (SELECT id::text FROM numbered WHERE n = p_limit
                        AND EXISTS (SELECT 1 FROM numbered WHERE n > p_limit)))
$$;

-- GET /v1/transfers/{id}: the head and a page of its MACs, in the order the
-- sender gave them; the cursor is the position of the last MAC shown.
DROP FUNCTION ztp_transfer_get(uuid);
CREATE FUNCTION ztp_transfer_get(p_id uuid, p_after int, p_limit int, OUT status int, OUT body json)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t transfers%ROWTYPE;
    start int := coalesce(p_after, 0);
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id AND provider_id = ztp_tenant();
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such transfer'); RETURN;
    END IF;
    status := 200;
    body := ztp_transfer_head(t.id, t.last4, t.mac_count, t.expires_at, t.created_at, t.cancelled_at,
                              t.accepted_at, t.transferred)
            || jsonb_build_object(
                   'macs', coalesce((SELECT jsonb_agg(ztp_mac_text(m) ORDER BY i)
                                     FROM unnest(t.macs[start + 1 : start + p_limit]) WITH ORDINALITY AS x(m, i)),
                                    '[]'::jsonb),
                   'next_cursor', CASE WHEN start + p_limit < t.mac_count THEN (start + p_limit)::text END);
END $$;

-- ---- the sweep -----------------------------------------------------------
-- Transfers that ended (accepted, cancelled or expired) more than
-- p_retention_days ago go, as activation codes do (ztp_codes_sweep, same
-- retention, same hourly sweep); the audit trail keeps their story. Failure
-- windows long over go too. Returns how many transfers went.
CREATE INDEX transfers_ended ON transfers (coalesce(accepted_at, cancelled_at, expires_at));

CREATE FUNCTION ztp_transfers_sweep(p_retention_days int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    DELETE FROM transfers
    WHERE coalesce(accepted_at, cancelled_at, expires_at) < now() - make_interval(days => p_retention_days);
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM transfer_accept_failures WHERE window_start < now() - interval '1 day';
    RETURN n;
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
-- only ztp_device_search calls it
REVOKE EXECUTE ON FUNCTION ztp_device_search_sparse FROM PUBLIC, ztp_tenant;
