-- Fleet operations: re-pointing many devices at once, and transfers of
-- devices from one provider to another.

-- ---- re-point ---------------------------------------------------------

-- POST /v1/devices/repoint: the caller's devices matching every given filter
-- (NULL: no filter) get p_to. p_macs is comma-joined canonical MACs. Runs as
-- ztp_tenant: row-level security keeps it to the caller's devices, and the
-- (profile_id, provider_id) foreign key to the caller's profiles. Counted
-- first, then changed by one set-based UPDATE that writes only the rows
-- whose profile differs; nothing is locked beyond those rows.
CREATE FUNCTION ztp_devices_repoint(p_to uuid, p_from uuid, p_status text, p_macs text, p_dry_run boolean,
                                    OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    me uuid := ztp_tenant();
    macs macaddr[] := CASE WHEN p_macs IS NOT NULL THEN string_to_array(p_macs, ',')::macaddr[] END;
    errors json[] := '{}';
    n_matched bigint;
    n_changed bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_to AND provider_id = me) THEN
        errors := errors || json_build_object('field', 'to_profile_id', 'detail', 'no such profile');
    END IF;
    IF p_from IS NOT NULL AND NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_from AND provider_id = me) THEN
        errors := errors || json_build_object('field', 'from_profile_id', 'detail', 'no such profile');
    END IF;
    IF cardinality(errors) > 0 THEN
        status := 422;
        body := json_build_object('detail', 'unknown profile', 'errors', to_json(errors));
        RETURN;
    END IF;
    SELECT count(*), count(*) FILTER (WHERE d.profile_id IS DISTINCT FROM p_to)
    INTO n_matched, n_changed
    FROM devices d
    WHERE d.provider_id = me
      AND (p_from IS NULL OR d.profile_id = p_from)
      AND (p_status IS NULL OR d.status = p_status)
      AND (macs IS NULL OR d.mac IN (SELECT unnest(macs)));
    IF NOT p_dry_run THEN
        UPDATE devices d SET profile_id = p_to
        WHERE d.provider_id = me
          AND (p_from IS NULL OR d.profile_id = p_from)
          AND (p_status IS NULL OR d.status = p_status)
          AND (macs IS NULL OR d.mac IN (SELECT unnest(macs)))
          AND d.profile_id IS DISTINCT FROM p_to;
        -- what was written, should a device have changed between the count and the update
        GET DIAGNOSTICS n_changed = ROW_COUNT;
        PERFORM ztp_audit('device.repoint', p_to::text, json_build_object(
            'matched', n_matched, 'changed', n_changed, 'from_profile_id', p_from, 'status', p_status,
            'macs', cardinality(macs))::jsonb);
    END IF;
    status := 200;
    body := json_build_object('matched', n_matched, 'changed', n_changed);
END $$;

-- ---- owner change -----------------------------------------------------

-- Gives the devices among p_macs that p_from still owns to p_to, as a new
-- owner's (contract section 2): what was recorded under p_from stays with
-- it (contacts, last contact, address, User-Agent, model, serial, events);
-- p_to starts from the state machine's claim with p_profile (may be NULL)
-- and one event of its own, at created_at = now() so that history from
-- before is never its. Returns how many moved. Locks in MAC order, as the
-- contact batches do.
-- NOTE for the lead: the trust-limits branch resets the same columns with a
-- trigger (devices_new_owner) on every owner change; once both are on
-- main, keep one of them (the trigger covers every path; this function then
-- needs only its UPDATE of provider, profile and status).
CREATE FUNCTION ztp_devices_give(p_macs macaddr[], p_from uuid, p_to uuid, p_profile uuid, p_cause text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM 1 FROM devices WHERE mac IN (SELECT unnest(p_macs)) AND provider_id = p_from ORDER BY mac FOR UPDATE;
    WITH moved AS (
        UPDATE devices d SET
            provider_id = p_to, profile_id = p_profile,
            status = ztp_next_status(NULL, 'claim'), status_changed_at = now(), previous_status = NULL,
            contacts = 0, last_contact_at = NULL, last_addr = NULL,
            user_agent = NULL, ua_vendor = NULL, ua_model = NULL, ua_firmware = NULL,
            model = NULL, serial = NULL, created_at = now()
        WHERE d.mac IN (SELECT unnest(p_macs)) AND d.provider_id = p_from
        RETURNING d.mac, d.status
    )
    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
    SELECT mac, p_to, NULL, status, p_cause FROM moved;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- ---- transfers --------------------------------------------------------

-- A sender's offer of devices, accepted once by whoever holds its code. Like
-- activation codes, the code is kept only as a keyed hash (under the
-- ZTP_SECRET named by secret_id) and its last four digits.
CREATE TABLE transfers (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id  uuid NOT NULL REFERENCES providers ON DELETE CASCADE, -- the sender
    macs         macaddr[] NOT NULL CHECK (cardinality(macs) BETWEEN 1 AND 100000),
    hash         bytea NOT NULL UNIQUE,
    secret_id    text NOT NULL,
    last4        text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    accepted_at  timestamptz,
    transferred  bigint -- how many devices moved; the receiver is named nowhere but in its own audit trail
);
CREATE INDEX transfers_provider ON transfers (provider_id, created_at, id);

ALTER TABLE transfers ENABLE ROW LEVEL SECURITY;
ALTER TABLE transfers FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON transfers TO ztp_system USING (true) WITH CHECK (true);
CREATE POLICY tenant_own ON transfers TO ztp_tenant USING (provider_id = ztp_tenant())
    WITH CHECK (provider_id = ztp_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON transfers TO ztp_system, ztp_tenant;

-- Failed accepts per receiving provider, for the brute-force limit. In the
-- database rather than in ztpd's memory: a provider's attempts may reach any
-- thread of any ztpd instance, and a restart must not clear the count. The
-- row is locked for the whole attempt, so attempts that arrive at once are
-- counted one after another. Only ztp_transfer_accept (as ztp_system)
-- touches it.
CREATE TABLE transfer_accept_failures (
    provider_id  uuid PRIMARY KEY REFERENCES providers ON DELETE CASCADE,
    window_start timestamptz NOT NULL DEFAULT now(), -- the first failure of the current window
    failures     int NOT NULL DEFAULT 0
);
ALTER TABLE transfer_accept_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE transfer_accept_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON transfer_accept_failures TO ztp_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON transfer_accept_failures TO ztp_system;

CREATE FUNCTION ztp_transfer_state(t transfers) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.accepted_at IS NOT NULL THEN 'accepted'
                WHEN t.cancelled_at IS NOT NULL THEN 'cancelled'
                WHEN t.expires_at <= now() THEN 'expired'
                ELSE 'open' END
$$;

CREATE FUNCTION ztp_transfer_json(t transfers) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'last4', t.last4, 'state', ztp_transfer_state(t),
        'macs', (SELECT json_agg(ztp_mac_text(m) ORDER BY i) FROM unnest(t.macs) WITH ORDINALITY AS x(m, i)),
        'expires_at', ztp_time(t.expires_at), 'created_at', ztp_time(t.created_at),
        'cancelled_at', ztp_time(t.cancelled_at), 'accepted_at', ztp_time(t.accepted_at),
        'transferred', t.transferred)
$$;

-- POST /v1/transfers: p_macs comma-joined canonical MACs, without repeats
-- (ztpd checked); every one must be the caller's now. The hash and last
-- digits come from ztpd, which alone sees the code.
CREATE FUNCTION ztp_transfer_create(p_macs text, p_expires_in int, p_hash text, p_last4 text, p_secret_id text,
                                    OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    me uuid := ztp_tenant();
    macs macaddr[] := string_to_array(p_macs, ',')::macaddr[];
    n_bad bigint;
    errors json;
    t transfers%ROWTYPE;
BEGIN
    -- not the caller's: unknown and another provider's alike, so nothing is
    -- learnt of others; the list stops at 1000 entries, the detail counts all
    SELECT count(*), json_agg(json_build_object('field', format('macs[%s]', f.i - 1),
                                                'detail', format('%s is not one of your devices', ztp_mac_text(f.mac)))
                              ORDER BY f.i) FILTER (WHERE f.pos <= 1000)
    INTO n_bad, errors
    FROM (SELECT m.mac, m.i, row_number() OVER (ORDER BY m.i) AS pos
          FROM unnest(macs) WITH ORDINALITY AS m(mac, i)
          WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.mac = m.mac AND d.provider_id = me)) f;
    IF n_bad > 0 THEN
        status := 422;
        body := json_build_object('detail', format('%s of these MACs are not your devices; no transfer was made',
                                                   n_bad), 'errors', errors);
        RETURN;
    END IF;
    INSERT INTO transfers (provider_id, macs, hash, secret_id, last4, expires_at)
    VALUES (me, macs, decode(p_hash, 'hex'), p_secret_id, p_last4, now() + make_interval(secs => p_expires_in))
    RETURNING * INTO t;
    PERFORM ztp_audit('transfer.created', t.id::text,
                      json_build_object('count', cardinality(macs), 'expires_at', ztp_time(t.expires_at))::jsonb);
    status := 201;
    body := json_build_object('id', t.id, 'macs', (SELECT json_agg(ztp_mac_text(m) ORDER BY i)
                                                   FROM unnest(t.macs) WITH ORDINALITY AS x(m, i)),
                              'expires_at', ztp_time(t.expires_at), 'created_at', ztp_time(t.created_at));
END $$;

-- GET /v1/transfers: the caller's, oldest first, keyset-paginated by id.
CREATE FUNCTION ztp_transfer_list(p_state text, p_after uuid, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT t FROM transfers t
        WHERE t.provider_id = ztp_tenant()
          AND (p_state IS NULL OR ztp_transfer_state(t) = p_state)
          AND (p_after IS NULL OR (t.created_at, t.id) > (SELECT a.created_at, a.id FROM transfers a
                                                           WHERE a.id = p_after AND a.provider_id = ztp_tenant()))
        ORDER BY t.created_at, t.id LIMIT p_limit + 1
    ), numbered AS (
        SELECT t, row_number() OVER (ORDER BY (t).created_at, (t).id) AS n FROM page
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(ztp_transfer_json(t) ORDER BY n) FROM numbered WHERE n <= p_limit),
                          '[]'::json),
        'next_cursor', (SELECT (t).id::text FROM numbered WHERE n = p_limit
                        AND EXISTS (SELECT 1 FROM numbered WHERE n > p_limit)))
$$;

CREATE FUNCTION ztp_transfer_get(p_id uuid, OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(200), 404),
           coalesce((SELECT ztp_transfer_json(t) FROM transfers t WHERE t.id = p_id AND t.provider_id = ztp_tenant()),
                    json_build_object('detail', 'no such transfer'))
    FROM transfers WHERE id = p_id AND provider_id = ztp_tenant()
$$;

-- DELETE /v1/transfers/{id}: its code answers 410 from then on.
CREATE FUNCTION ztp_transfer_cancel(p_id uuid, OUT status int, OUT body json) LANGUAGE plpgsql AS $$
DECLARE t transfers%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id AND provider_id = ztp_tenant() FOR UPDATE;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such transfer'); RETURN;
    END IF;
    IF t.accepted_at IS NOT NULL THEN
        status := 409; body := json_build_object('detail', 'this transfer was accepted; it cannot be cancelled');
        RETURN;
    END IF;
    IF t.cancelled_at IS NULL THEN
        UPDATE transfers SET cancelled_at = now() WHERE id = p_id;
        PERFORM ztp_audit('transfer.cancelled', p_id::text, NULL);
    END IF;
    status := 204;
END $$;

-- POST /v1/transfers/accept: the receiver (ztp_tenant()) takes every device
-- of the transfer that its sender still owns. p_hash_previous is the code
-- hashed under ZTP_SECRET_PREVIOUS while rotating. Runs as ztp_system: the
-- transfer and its devices are the sender's. Exactly once: the transfer's
-- row is locked, and a concurrent accept finds it accepted. Failed attempts
-- (unknown code, or one used, cancelled or expired) count against the
-- receiver: 10 in 15 minutes and every attempt gets 429 until the window
-- ends; a success resets nothing (a provider could otherwise clear its count
-- with transfers it sends itself from another account).
CREATE FUNCTION ztp_transfer_accept(p_hash text, p_hash_previous text, p_profile uuid,
                                    OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    me uuid := ztp_tenant();
    lim transfer_accept_failures%ROWTYPE;
    t transfers%ROWTYPE;
    known boolean;
    n bigint;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    INSERT INTO transfer_accept_failures AS f (provider_id) VALUES (me)
    ON CONFLICT (provider_id) DO UPDATE SET failures = f.failures
    RETURNING * INTO lim;
    IF lim.failures >= 10 AND lim.window_start > now() - interval '15 minutes' THEN
        status := 429;
        body := json_build_object('detail', 'too many failed transfer codes; retry later', 'retry_after',
                    greatest(60, ceil(extract(epoch FROM lim.window_start + interval '15 minutes' - now())))::int);
        RETURN;
    END IF;
    IF p_profile IS NOT NULL AND NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_profile AND provider_id = me) THEN
        status := 422;
        body := json_build_object('detail', 'unknown profile', 'errors',
                    json_build_array(json_build_object('field', 'profile_id', 'detail', 'no such profile')));
        RETURN;
    END IF;
    SELECT * INTO t FROM transfers
    WHERE hash = decode(p_hash, 'hex') OR (p_hash_previous IS NOT NULL AND hash = decode(p_hash_previous, 'hex'))
    FOR UPDATE;
    known := FOUND;
    IF known AND t.provider_id = me THEN
        status := 422;
        body := json_build_object('detail', 'this is your own transfer: another provider accepts it', 'errors',
                    json_build_array(json_build_object('field', 'code', 'detail', 'is your own transfer''s')));
        RETURN;
    END IF;
    IF NOT known OR t.accepted_at IS NOT NULL OR t.cancelled_at IS NOT NULL OR t.expires_at <= now() THEN
        UPDATE transfer_accept_failures SET
            failures = CASE WHEN window_start > now() - interval '15 minutes' AND failures > 0 THEN failures + 1
                            ELSE 1 END,
            window_start = CASE WHEN window_start > now() - interval '15 minutes' AND failures > 0 THEN window_start
                                ELSE now() END
        WHERE provider_id = me;
        IF NOT known THEN
            status := 404; body := json_build_object('detail', 'no such transfer code');
        ELSE
            status := 410; body := json_build_object('detail', 'this transfer code was used, cancelled or has expired');
        END IF;
        RETURN;
    END IF;
    n := ztp_devices_give(t.macs, t.provider_id, me, p_profile, 'transferred');
    UPDATE transfers SET accepted_at = now(), transferred = n WHERE id = t.id;
    -- both trails show it, naming no one: the sender's entry has no key of the receiver's
    INSERT INTO audit_events (provider_id, key_id, action, target, detail)
    VALUES (t.provider_id, NULL, 'transfer.accepted', t.id::text, json_build_object('transferred', n));
    PERFORM ztp_audit('transfer.accepted', t.id::text,
                      json_build_object('transferred', n, 'profile_id', p_profile)::jsonb);
    -- each side's webhooks learn it, naming no one either
    PERFORM ztp_webhook_emit_many('transfer.accepted', ARRAY[t.provider_id, me],
                                  ARRAY[jsonb_build_object('id', t.id, 'transferred', n),
                                        jsonb_build_object('id', t.id, 'transferred', n)]);
    status := 200;
    body := json_build_object('transferred', n);
END $$;
ALTER FUNCTION ztp_transfer_accept(text, text, uuid) OWNER TO ztp_system;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
