-- Activation codes: 16 digits, single use, expiring, optionally bound to a
-- MAC. Only a keyed hash and the last four digits are kept.

CREATE TABLE activation_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    profile_id  uuid NOT NULL,
    mac         macaddr,
    hash        bytea NOT NULL UNIQUE,
    secret_id   text NOT NULL,
    last4       text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    redeemed_at timestamptz,
    redeemed_by macaddr,
    revoked_at  timestamptz,
    FOREIGN KEY (profile_id, provider_id) REFERENCES profiles (id, provider_id) ON DELETE CASCADE
);
CREATE INDEX activation_codes_provider ON activation_codes (provider_id, created_at, id);
CREATE INDEX activation_codes_ended ON activation_codes (coalesce(redeemed_at, revoked_at, expires_at));

ALTER TABLE activation_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE activation_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON activation_codes TO ztp_system USING (true) WITH CHECK (true);
CREATE POLICY tenant_own ON activation_codes TO ztp_tenant USING (provider_id = ztp_tenant())
    WITH CHECK (provider_id = ztp_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON activation_codes TO ztp_system, ztp_tenant;

CREATE FUNCTION ztp_code_state(c activation_codes) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.revoked_at IS NOT NULL THEN 'revoked'
                WHEN c.redeemed_at IS NOT NULL THEN 'redeemed'
                WHEN c.expires_at <= now() THEN 'expired'
                ELSE 'active' END
$$;

-- POST /v1/activation-codes: the hashes and last digits come from ztpd,
-- which alone sees the codes; the answer lists the rows in the same order.
CREATE FUNCTION ztp_codes_create(p_profile uuid, p_mac macaddr, p_expires_in int, p_hashes text,
                                 p_last4 text, p_secret_id text, p_max_active int,
                                 OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    n int := array_length(string_to_array(p_hashes, ','), 1);
    active bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_profile) THEN
        status := 422;
        body := json_build_object('detail', 'unknown profile', 'errors',
                    json_build_array(json_build_object('field', 'profile_id', 'detail', 'no such profile')));
        RETURN;
    END IF;
    SELECT count(*) INTO active FROM activation_codes
    WHERE provider_id = ztp_tenant() AND revoked_at IS NULL AND redeemed_at IS NULL AND expires_at > now();
    IF active + n > p_max_active THEN
        status := 422;
        body := json_build_object('detail', format('at most %s unredeemed codes may be outstanding; %s are',
                                                   p_max_active, active));
        RETURN;
    END IF;
    WITH input AS (
        SELECT h, l, ord FROM unnest(string_to_array(p_hashes, ','), string_to_array(p_last4, ','))
                              WITH ORDINALITY AS t(h, l, ord)
    ), made AS (
        INSERT INTO activation_codes (provider_id, profile_id, mac, hash, secret_id, last4, expires_at)
        SELECT ztp_tenant(), p_profile, p_mac, decode(h, 'hex'), p_secret_id, l,
               now() + make_interval(secs => p_expires_in)
        FROM input ORDER BY ord
        RETURNING id, hash, profile_id, mac, expires_at, created_at
    )
    SELECT json_build_object('items', json_agg(json_build_object(
               'id', m.id, 'profile_id', m.profile_id, 'mac', ztp_mac_text(m.mac),
               'expires_at', ztp_time(m.expires_at), 'created_at', ztp_time(m.created_at)) ORDER BY i.ord))
    INTO body
    FROM made m JOIN input i ON m.hash = decode(i.h, 'hex');
    PERFORM ztp_audit('activation_code.create', p_profile::text,
                      json_build_object('count', n, 'mac', ztp_mac_text(p_mac))::jsonb);
    status := 201;
END $$;

CREATE FUNCTION ztp_codes_list(p_state text, OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(json_build_object(
        'id', c.id, 'last4', c.last4, 'profile_id', c.profile_id, 'mac', ztp_mac_text(c.mac),
        'state', ztp_code_state(c), 'expires_at', ztp_time(c.expires_at),
        'redeemed_at', ztp_time(c.redeemed_at), 'redeemed_by', ztp_mac_text(c.redeemed_by))
        ORDER BY c.created_at, c.id), '[]'::json))
    FROM activation_codes c
    WHERE c.provider_id = ztp_tenant() AND (p_state IS NULL OR ztp_code_state(c) = p_state)
$$;

CREATE FUNCTION ztp_code_revoke(p_id uuid, OUT status int, OUT body json) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activation_codes SET revoked_at = coalesce(revoked_at, now()) WHERE id = p_id;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such activation code'); RETURN;
    END IF;
    PERFORM ztp_audit('activation_code.revoke', p_id::text, NULL);
    status := 204;
END $$;

-- Binds a device to a provider and profile for a phone that typed a code:
-- claims it when nobody owns it. Returns false when another provider does.
CREATE FUNCTION ztp_bind_device(p_mac macaddr, p_provider uuid, p_profile uuid, p_model text, p_cause text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    d devices%ROWTYPE;
    was text;
    nxt text;
BEGIN
    SELECT * INTO d FROM devices WHERE mac = p_mac FOR UPDATE;
    IF FOUND AND d.provider_id IS NOT NULL AND d.provider_id <> p_provider THEN
        RETURN false;
    END IF;
    was := CASE WHEN FOUND AND d.provider_id = p_provider THEN d.status END;
    nxt := ztp_next_status(was, 'redeem');
    INSERT INTO devices AS x (mac, provider_id, profile_id, model, status, status_changed_at, created_at,
                              last_contact_at, contacts)
    VALUES (p_mac, p_provider, p_profile, p_model, nxt, now(), now(), now(), 1)
    ON CONFLICT (mac) DO UPDATE SET
        profile_id = p_profile, model = coalesce(p_model, x.model),
        created_at = CASE WHEN x.provider_id IS NULL THEN now() ELSE x.created_at END,
        provider_id = p_provider, status = nxt,
        status_changed_at = CASE WHEN x.status <> nxt THEN now() ELSE x.status_changed_at END,
        last_contact_at = now(), contacts = x.contacts + 1;
    PERFORM ztp_record_status(p_mac, p_provider, was, nxt, p_cause);
    INSERT INTO audit_events (provider_id, key_id, action, target, detail)
    VALUES (p_provider, NULL, 'device.' || p_cause, ztp_mac_text(p_mac), json_build_object('profile_id', p_profile));
    RETURN true;
END $$;

-- POST /activate with a 16-digit code (the model returned is the device's,
-- so that a phone asking again without one gets the same answer). Outcomes: ok, not_found, forbidden
-- (bound to another MAC), conflict (device of another provider), gone.
CREATE FUNCTION ztp_redeem_code(p_hash text, p_hash_previous text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text) LANGUAGE plpgsql AS $$
DECLARE c activation_codes%ROWTYPE;
BEGIN
    -- p_hash_previous: the same code hashed under ZTP_SECRET_PREVIOUS, while rotating
    SELECT * INTO c FROM activation_codes
    WHERE hash = decode(p_hash, 'hex') OR (p_hash_previous IS NOT NULL AND hash = decode(p_hash_previous, 'hex'))
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
    END IF;
    IF c.redeemed_by IS NOT NULL AND (c.redeemed_by <> p_mac OR c.revoked_at IS NOT NULL) THEN
        RETURN QUERY SELECT 'gone'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
    END IF;
    IF c.redeemed_by IS NULL THEN
        IF c.revoked_at IS NOT NULL OR c.expires_at <= now() THEN
            RETURN QUERY SELECT 'gone'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
        END IF;
        IF c.mac IS NOT NULL AND c.mac <> p_mac THEN
            RETURN QUERY SELECT 'forbidden'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
        END IF;
        IF NOT ztp_bind_device(p_mac, c.provider_id, c.profile_id, p_model, 'activation_code') THEN
            RETURN QUERY SELECT 'conflict'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
        END IF;
        UPDATE activation_codes SET redeemed_at = now(), redeemed_by = p_mac WHERE id = c.id;
    END IF;
    -- a first redemption, or the same phone asking again after a lost answer
    RETURN QUERY SELECT 'ok'::text, p.profile_rule, p.upgrade_rule, p.params,
                        (SELECT d.model FROM devices d WHERE d.mac = p_mac)
                 FROM profiles p WHERE p.id = c.profile_id;
END $$;

-- POST /activate with "#" and a short code naming a profile; reusable.
CREATE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text) LANGUAGE plpgsql AS $$
DECLARE p profiles%ROWTYPE;
BEGIN
    SELECT * INTO p FROM profiles WHERE short_code = p_code;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
    END IF;
    IF NOT ztp_bind_device(p_mac, p.provider_id, p.id, p_model, 'short_code') THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::text, NULL::text, NULL::jsonb, NULL::text; RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, p.profile_rule, p.upgrade_rule, p.params,
                        (SELECT d.model FROM devices d WHERE d.mac = p_mac);
END $$;

-- The periodic sweep: codes that ended long ago.
CREATE FUNCTION ztp_codes_sweep(p_retention_days int) RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM activation_codes
        WHERE coalesce(redeemed_at, revoked_at, expires_at) < now() - make_interval(days => p_retention_days)
        RETURNING 1)
    SELECT count(*) FROM gone
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
