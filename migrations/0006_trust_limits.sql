-- Trust and limits: per-device URL tokens, short codes bounded by their
-- profile, owners who never see each other's time, repeat redemptions only
-- while the code's provider still owns the device.

-- ---- URL tokens -------------------------------------------------------
-- A provider's token key must be usable (ztpd computes tokens with it), so
-- unlike API keys and codes it is stored as it is, readable only by its
-- provider (row-level security) and the phone-facing role; it is never
-- logged nor put in the audit trail. 32 bytes from two random UUIDs
-- (PostgreSQL's strong random source, 244 random bits) through SHA-256.
CREATE FUNCTION ztp_random_key32() RETURNS bytea LANGUAGE sql VOLATILE AS
$$ SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')) $$;

ALTER TABLE providers
    ADD COLUMN url_token_key bytea NOT NULL DEFAULT ztp_random_key32() CHECK (length(url_token_key) = 32),
    ADD COLUMN url_token_previous bytea CHECK (length(url_token_previous) = 32),
    ADD COLUMN url_token_rotated_at timestamptz;

CREATE FUNCTION ztp_url_token_json(p providers) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('key', encode(p.url_token_key, 'hex'),
                             'previous_key', encode(p.url_token_previous, 'hex'),
                             'rotated_at', ztp_time(p.url_token_rotated_at))
$$;

CREATE FUNCTION ztp_url_token_get(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, ztp_url_token_json(p) FROM providers p WHERE p.id = ztp_tenant()
$$;

-- POST /v1/url-token-key: a new key; the old one stays as previous_key so
-- that provisioning servers accept both while they learn the new one.
-- ztp_tenant may only read providers: this runs as ztp_system for the caller.
CREATE FUNCTION ztp_url_token_rotate(OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    me uuid := ztp_tenant();
    p providers%ROWTYPE;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    UPDATE providers SET url_token_previous = url_token_key, url_token_key = ztp_random_key32(),
                         url_token_rotated_at = now()
    WHERE id = me RETURNING * INTO p;
    PERFORM ztp_audit('url_token_key.rotate', NULL, NULL);
    status := 201;
    body := ztp_url_token_json(p);
END $$;
ALTER FUNCTION ztp_url_token_rotate() OWNER TO ztp_system;

-- ---- owners do not see each other -------------------------------------
-- Whatever path gives a device to a new owner (a claim after a release, an
-- import, a redemption, later transfers), what was recorded of the phone
-- under the earlier owner stays behind. The WHEN clause keeps the trigger
-- off the hot path: a contact never changes the owner.
CREATE FUNCTION ztp_device_new_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.contacts := 0;
    NEW.last_contact_at := NULL;
    NEW.last_addr := NULL;
    NEW.user_agent := NULL;
    NEW.ua_vendor := NULL;
    NEW.ua_model := NULL;
    NEW.ua_firmware := NULL;
    NEW.previous_status := NULL;
    NEW.created_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER devices_new_owner BEFORE UPDATE OF provider_id ON devices FOR EACH ROW
    WHEN (NEW.provider_id IS NOT NULL AND NEW.provider_id IS DISTINCT FROM OLD.provider_id)
    EXECUTE FUNCTION ztp_device_new_owner();

-- A device's events since its owner took it (created_at is the time of the
-- claim): an owner that had the device before another never sees the other's.
CREATE OR REPLACE FUNCTION ztp_device_events(p_mac macaddr, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.mac IS NOT NULL THEN 200 ELSE 404 END,
        CASE WHEN d.mac IS NOT NULL
        THEN json_build_object('items', coalesce((
            SELECT json_agg(json_build_object('at', ztp_time(e.at), 'from', e.from_status, 'to', e.to_status,
                                              'cause', e.cause) ORDER BY e.id)
            FROM device_events e WHERE e.mac = p_mac AND e.provider_id = ztp_tenant()
                                   AND e.at >= d.created_at), '[]'::json))
        ELSE json_build_object('detail', 'no such device') END
    FROM (SELECT NULL) one
         LEFT JOIN devices d ON d.mac = p_mac AND d.provider_id = ztp_tenant()
$$;

-- ---- short codes bounded by their profile -----------------------------
ALTER TABLE profiles
    ADD COLUMN short_code_prefixes text[] CHECK (cardinality(short_code_prefixes) BETWEEN 1 AND 100),
    ADD COLUMN short_code_hourly_claims int NOT NULL DEFAULT 100
        CHECK (short_code_hourly_claims BETWEEN 0 AND 1000000);

-- Devices nobody owned that a short code claimed, for its hourly bound.
CREATE TABLE short_code_claims (
    profile_id uuid NOT NULL REFERENCES profiles ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX short_code_claims_profile ON short_code_claims (profile_id, at);
GRANT SELECT, INSERT, DELETE ON short_code_claims TO ztp_system;

CREATE OR REPLACE FUNCTION ztp_profile_json(p profiles) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'name', p.name, 'profile_rule', p.profile_rule, 'upgrade_rule', p.upgrade_rule,
        'short_code', p.short_code, 'params', p.params,
        'short_code_prefixes', p.short_code_prefixes, 'short_code_hourly_claims', p.short_code_hourly_claims,
        'created_at', ztp_time(p.created_at), 'updated_at', ztp_time(p.updated_at))
$$;

-- The bounds arrive validated from ztpd; prefixes as lower-case hex.
CREATE FUNCTION ztp_profile_prefixes(p_value jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_value IS NULL OR jsonb_typeof(p_value) <> 'array' THEN NULL
                ELSE ARRAY(SELECT lower(x) FROM jsonb_array_elements_text(p_value) x) END
$$;

DROP FUNCTION ztp_profile_create(text, text, text, text, jsonb);
CREATE FUNCTION ztp_profile_create(p_name text, p_rule text, p_upgrade text, p_short text, p_params jsonb,
                                   p_more jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    taken text;
BEGIN
    IF (SELECT count(*) FROM profiles) >= 1000 THEN
        status := 422;
        body := json_build_object('detail', 'a provider can have at most 1000 profiles');
        RETURN;
    END IF;
    INSERT INTO profiles (provider_id, name, profile_rule, upgrade_rule, short_code, params,
                          short_code_prefixes, short_code_hourly_claims)
    VALUES (ztp_tenant(), p_name, p_rule, p_upgrade, p_short, coalesce(p_params, '{}'),
            ztp_profile_prefixes(p_more->'short_code_prefixes'),
            coalesce((p_more->>'short_code_hourly_claims')::int, 100))
    RETURNING * INTO p;
    PERFORM ztp_audit('profile.create', p.id::text, json_build_object('name', p.name)::jsonb);
    status := 201;
    body := ztp_profile_json(p);
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS taken = CONSTRAINT_NAME;
    status := 409;
    body := ztp_profile_conflict(taken);
END $$;

CREATE OR REPLACE FUNCTION ztp_profile_update(p_id uuid, p_fields jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    taken text;
BEGIN
    UPDATE profiles SET
        name = CASE WHEN p_fields ? 'name' THEN p_fields->>'name' ELSE name END,
        profile_rule = CASE WHEN p_fields ? 'profile_rule' THEN p_fields->>'profile_rule' ELSE profile_rule END,
        upgrade_rule = CASE WHEN p_fields ? 'upgrade_rule' THEN p_fields->>'upgrade_rule' ELSE upgrade_rule END,
        short_code = CASE WHEN p_fields ? 'short_code' THEN p_fields->>'short_code' ELSE short_code END,
        params = CASE WHEN p_fields ? 'params' THEN coalesce(nullif(p_fields->'params', 'null'), '{}')
                      ELSE params END,
        short_code_prefixes = CASE WHEN p_fields ? 'short_code_prefixes'
                                   THEN ztp_profile_prefixes(p_fields->'short_code_prefixes')
                                   ELSE short_code_prefixes END,
        short_code_hourly_claims = CASE WHEN p_fields ? 'short_code_hourly_claims'
                                        THEN coalesce((p_fields->>'short_code_hourly_claims')::int, 100)
                                        ELSE short_code_hourly_claims END,
        updated_at = now()
    WHERE id = p_id RETURNING * INTO p;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such profile'); RETURN;
    END IF;
    PERFORM ztp_audit('profile.update', p.id::text, p_fields - 'params');
    status := 200;
    body := ztp_profile_json(p);
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS taken = CONSTRAINT_NAME;
    status := 409;
    body := ztp_profile_conflict(taken);
END $$;

-- ---- redemption -------------------------------------------------------

-- Binds a device to a provider and profile for a phone that typed a code:
-- claims it when nobody owns it (the trigger above clears the earlier
-- owner's record), then counts the redemption as the phone's contact.
-- Returns false when another provider owns it.
CREATE OR REPLACE FUNCTION ztp_bind_device(p_mac macaddr, p_provider uuid, p_profile uuid, p_model text,
                                           p_cause text)
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
    INSERT INTO devices AS x (mac, provider_id, profile_id, model, status, status_changed_at, created_at)
    VALUES (p_mac, p_provider, p_profile, p_model, nxt, now(), now())
    ON CONFLICT (mac) DO UPDATE SET
        profile_id = p_profile,
        model = CASE WHEN x.provider_id IS NULL THEN p_model ELSE coalesce(p_model, x.model) END,
        serial = CASE WHEN x.provider_id IS NULL THEN NULL ELSE x.serial END,
        provider_id = p_provider, status = nxt,
        status_changed_at = CASE WHEN x.status <> nxt OR x.provider_id IS NULL THEN now()
                                 ELSE x.status_changed_at END;
    UPDATE devices SET contacts = contacts + 1, last_contact_at = now() WHERE mac = p_mac;
    PERFORM ztp_record_status(p_mac, p_provider, was, nxt, p_cause);
    INSERT INTO audit_events (provider_id, key_id, action, target, detail)
    VALUES (p_provider, NULL, 'device.' || p_cause, ztp_mac_text(p_mac), json_build_object('profile_id', p_profile));
    RETURN true;
END $$;

-- The answer of a redemption: the profile and the provider's token key.
CREATE FUNCTION ztp_redeem_answer(p_profile uuid, p_mac macaddr)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE sql STABLE AS $$
    SELECT 'ok'::text, p.profile_rule, p.upgrade_rule, p.params, (SELECT d.model FROM devices d WHERE d.mac = p_mac),
           encode(pr.url_token_key, 'hex')
    FROM profiles p JOIN providers pr ON pr.id = p.provider_id WHERE p.id = p_profile
$$;

CREATE FUNCTION ztp_redeem_refusal(p_outcome text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_outcome, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text
$$;

-- POST /activate with a 16-digit code. Outcomes: ok, not_found, forbidden
-- (bound to another MAC), conflict (device of another provider), gone
-- (ended, or redeemed by another device, or the code's provider no longer
-- owns the device that redeemed it).
DROP FUNCTION ztp_redeem_code(text, text, macaddr, text);
CREATE FUNCTION ztp_redeem_code(p_hash text, p_hash_previous text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE c activation_codes%ROWTYPE;
BEGIN
    -- p_hash_previous: the same code hashed under ZTP_SECRET_PREVIOUS, while rotating
    SELECT * INTO c FROM activation_codes
    WHERE hash = decode(p_hash, 'hex') OR (p_hash_previous IS NOT NULL AND hash = decode(p_hash_previous, 'hex'))
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('not_found'); RETURN;
    END IF;
    IF c.redeemed_by IS NOT NULL THEN
        -- the same phone asking again after a lost answer, while its provider still owns it
        IF c.redeemed_by <> p_mac OR c.revoked_at IS NOT NULL
           OR NOT EXISTS (SELECT 1 FROM devices d WHERE d.mac = p_mac AND d.provider_id = c.provider_id) THEN
            RETURN QUERY SELECT * FROM ztp_redeem_refusal('gone'); RETURN;
        END IF;
        RETURN QUERY SELECT * FROM ztp_redeem_answer(c.profile_id, p_mac); RETURN;
    END IF;
    IF c.revoked_at IS NOT NULL OR c.expires_at <= now() THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('gone'); RETURN;
    END IF;
    IF c.mac IS NOT NULL AND c.mac <> p_mac THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('forbidden'); RETURN;
    END IF;
    IF NOT ztp_bind_device(p_mac, c.provider_id, c.profile_id, p_model, 'activation_code') THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    UPDATE activation_codes SET redeemed_at = now(), redeemed_by = p_mac WHERE id = c.id;
    RETURN QUERY SELECT * FROM ztp_redeem_answer(c.profile_id, p_mac);
END $$;

-- POST /activate with "#" and a short code naming a profile; reusable, so
-- bounded by its profile: MAC prefixes (forbidden outside them), and claims
-- of devices nobody owned per hour (limited past it; with 0, forbidden:
-- only this provider's own devices are re-pointed).
DROP FUNCTION ztp_redeem_short(text, macaddr, text);
CREATE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    owner uuid;
    mac_hex text := ztp_mac_text(p_mac);
BEGIN
    SELECT * INTO p FROM profiles WHERE short_code = p_code;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('not_found'); RETURN;
    END IF;
    IF p.short_code_prefixes IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM unnest(p.short_code_prefixes) x WHERE starts_with(mac_hex, x)) THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('forbidden'); RETURN;
    END IF;
    SELECT d.provider_id INTO owner FROM devices d WHERE d.mac = p_mac FOR UPDATE;
    IF owner IS NOT NULL AND owner <> p.provider_id THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    IF owner IS NULL THEN
        IF p.short_code_hourly_claims = 0 THEN
            RETURN QUERY SELECT * FROM ztp_redeem_refusal('forbidden'); RETURN;
        END IF;
        -- one claim at a time per profile, so that the count holds under concurrency
        PERFORM 1 FROM profiles WHERE id = p.id FOR NO KEY UPDATE;
        DELETE FROM short_code_claims WHERE profile_id = p.id AND at <= now() - interval '1 hour';
        IF (SELECT count(*) FROM short_code_claims WHERE profile_id = p.id) >= p.short_code_hourly_claims THEN
            RETURN QUERY SELECT * FROM ztp_redeem_refusal('limited'); RETURN;
        END IF;
        INSERT INTO short_code_claims (profile_id) VALUES (p.id);
    END IF;
    IF NOT ztp_bind_device(p_mac, p.provider_id, p.id, p_model, 'short_code') THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    RETURN QUERY SELECT * FROM ztp_redeem_answer(p.id, p_mac);
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
