-- openztp schema: providers, keys, profiles, devices and their history.
--
-- Two roles carry every query of ztpd, whatever role DATABASE_URL names:
--   ztp_system  the phone-facing paths (redirect, activation) and key lookup;
--               sees every row, and is the owner-of-record of the few
--               SECURITY DEFINER functions that must look across tenants
--               (claiming a MAC that may belong to someone else).
--   ztp_tenant  everything a provider does through /v1; row-level security
--               confines it to the rows of app.tenant, set per transaction.

DO $$
BEGIN
    CREATE ROLE ztp_system NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE ztp_tenant NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT ztp_system, ztp_tenant TO %I', session_user);
EXCEPTION WHEN others THEN NULL; -- already a member, or a superuser
END $$;

GRANT USAGE ON SCHEMA public TO ztp_system, ztp_tenant;

CREATE FUNCTION ztp_tenant() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('app.tenant', true), '')::uuid $$;

CREATE FUNCTION ztp_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE TABLE providers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    provider_id  uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    name         text NOT NULL,
    hash         bytea NOT NULL,
    secret_id    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_provider ON api_keys (provider_id, created_at);

CREATE TABLE profiles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id  uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    name         text NOT NULL,
    profile_rule text NOT NULL,
    upgrade_rule text,
    short_code   text UNIQUE CHECK (short_code ~ '^[0-9]{3,16}$'),
    params       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_id, name),
    UNIQUE (id, provider_id)
);

CREATE TABLE devices (
    mac               macaddr PRIMARY KEY,
    provider_id       uuid REFERENCES providers ON DELETE SET NULL,
    profile_id        uuid,
    model             text,
    serial            text,
    status            text NOT NULL CHECK (status IN
                          ('open', 'pending', 'custom_pending', 'acquired', 'aborted', 'unavailable')),
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    previous_status   text,       -- the status before the last contact, for its event
    last_contact_at   timestamptz,
    contacts          bigint NOT NULL DEFAULT 0,
    last_addr         inet,
    user_agent        text,
    ua_vendor         text,
    ua_model          text,
    ua_firmware       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (profile_id, provider_id) REFERENCES profiles (id, provider_id),
    CHECK (provider_id IS NOT NULL OR profile_id IS NULL)
) WITH (fillfactor = 70);
-- Every phone contact rewrites its device row. Room left on each page, and no
-- index on what a contact changes (contacts, times, status), keep those
-- updates HOT: no index is touched. Listing by status filters this index.
CREATE INDEX devices_provider ON devices (provider_id, mac);
CREATE INDEX devices_profile ON devices (profile_id) WHERE profile_id IS NOT NULL;

CREATE TABLE device_events (
    id          bigserial PRIMARY KEY,
    mac         macaddr NOT NULL,
    provider_id uuid,         -- the owner when it happened: later owners never see it
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    from_status text,
    to_status   text NOT NULL,
    cause       text NOT NULL
);
CREATE INDEX device_events_mac ON device_events (mac, id);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    provider_id uuid NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id      text,
    action      text NOT NULL,
    target      text,
    detail      jsonb
);
CREATE INDEX audit_events_provider ON audit_events (provider_id, id);

CREATE TABLE idempotency_keys (
    provider_id uuid NOT NULL,
    key         text NOT NULL,
    route       text NOT NULL,
    body_hash   bytea NOT NULL,
    status      int NOT NULL,
    response    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, route, key)
);

-- Filled by `ztpd migrate` from the state machine compiled into ztpd
-- (redirect/status.c), so that C and SQL can never disagree.
CREATE TABLE status_transitions (
    from_status text NOT NULL,   -- 'none' for a device not yet known
    event       text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, event)
);

CREATE FUNCTION ztp_next_status(p_from text, p_event text) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT to_status FROM status_transitions WHERE from_status = coalesce(p_from, 'none') AND event = p_event $$;

-- Row-level security on every table that belongs to a provider.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'profiles', 'devices', 'device_events', 'audit_events',
                             'idempotency_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY system_all ON %I TO ztp_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY tenant_own ON %I TO ztp_tenant USING (provider_id = ztp_tenant())'
                       ' WITH CHECK (provider_id = ztp_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ztp_system, ztp_tenant', t);
    END LOOP;
END $$;
ALTER TABLE providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE providers FORCE ROW LEVEL SECURITY;
CREATE POLICY system_all ON providers TO ztp_system USING (true) WITH CHECK (true);
CREATE POLICY tenant_own ON providers TO ztp_tenant USING (id = ztp_tenant()) WITH CHECK (id = ztp_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON providers TO ztp_system;
GRANT SELECT ON providers TO ztp_tenant;
GRANT SELECT ON status_transitions TO ztp_system, ztp_tenant;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ztp_system, ztp_tenant;

-- ---- shared helpers ---------------------------------------------------

CREATE FUNCTION ztp_audit(p_action text, p_target text, p_detail jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_events (provider_id, key_id, action, target, detail)
    VALUES (ztp_tenant(), nullif(current_setting('app.key', true), ''), p_action, p_target, p_detail)
$$;

CREATE FUNCTION ztp_mac_text(m macaddr) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT replace(m::text, ':', '') $$;

-- Moves a device to p_to (when different) and keeps the change as an event.
CREATE FUNCTION ztp_record_status(p_mac macaddr, p_provider uuid, p_from text, p_to text, p_cause text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_from IS DISTINCT FROM p_to THEN
        INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
        VALUES (p_mac, p_provider, p_from, p_to, p_cause);
    END IF;
END $$;

CREATE FUNCTION ztp_device_json(d devices) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'mac', ztp_mac_text(d.mac), 'profile_id', d.profile_id, 'model', d.model, 'serial', d.serial,
        'status', d.status, 'status_changed_at', ztp_time(d.status_changed_at),
        'last_contact_at', ztp_time(d.last_contact_at), 'contacts', d.contacts,
        'created_at', ztp_time(d.created_at))
$$;

CREATE FUNCTION ztp_profile_json(p profiles) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'name', p.name, 'profile_rule', p.profile_rule, 'upgrade_rule', p.upgrade_rule,
        'short_code', p.short_code, 'params', p.params,
        'created_at', ztp_time(p.created_at), 'updated_at', ztp_time(p.updated_at))
$$;

-- ---- provider API: profiles -------------------------------------------
-- Each returns (status, body): the HTTP status and the JSON to send, or for
-- an error a {"detail", "errors"?} object that ztpd turns into a problem.

-- The 409 of a taken name (unique per provider) or short code (unique across all).
CREATE FUNCTION ztp_profile_conflict(p_constraint text) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('detail', CASE WHEN p_constraint = 'profiles_short_code_key'
        THEN 'that short code is already taken' ELSE 'a profile with that name already exists' END)
$$;

CREATE FUNCTION ztp_profile_create(p_name text, p_rule text, p_upgrade text, p_short text, p_params jsonb,
                                   OUT status int, OUT body json)
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
    INSERT INTO profiles (provider_id, name, profile_rule, upgrade_rule, short_code, params)
    VALUES (ztp_tenant(), p_name, p_rule, p_upgrade, p_short, coalesce(p_params, '{}'))
    RETURNING * INTO p;
    PERFORM ztp_audit('profile.create', p.id::text, json_build_object('name', p.name)::jsonb);
    status := 201;
    body := ztp_profile_json(p);
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS taken = CONSTRAINT_NAME;
    status := 409;
    body := ztp_profile_conflict(taken);
END $$;

CREATE FUNCTION ztp_profile_update(p_id uuid, p_fields jsonb, OUT status int, OUT body json)
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

CREATE FUNCTION ztp_profile_delete(p_id uuid, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM devices WHERE profile_id = p_id) THEN
        status := 409; body := json_build_object('detail', 'devices still use this profile'); RETURN;
    END IF;
    DELETE FROM profiles WHERE id = p_id;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such profile'); RETURN;
    END IF;
    PERFORM ztp_audit('profile.delete', p_id::text, NULL);
    status := 204;
EXCEPTION WHEN foreign_key_violation THEN
    status := 409; body := json_build_object('detail', 'devices still use this profile');
END $$;

-- ---- provider API: devices --------------------------------------------

-- PUT /v1/devices/{mac}: claims a device nobody owns (201) or updates one of
-- the caller's (200). Runs as ztp_system to see who owns the MAC, but acts
-- only for ztp_tenant().
CREATE FUNCTION ztp_device_put(p_mac macaddr, p_fields jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    me uuid := ztp_tenant();
    d devices%ROWTYPE;
    prof uuid;
    nxt text;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    IF p_fields ? 'profile_id' AND jsonb_typeof(p_fields->'profile_id') = 'string' THEN
        SELECT id INTO prof FROM profiles WHERE id = (p_fields->>'profile_id')::uuid AND provider_id = me;
        IF NOT FOUND THEN
            status := 422;
            body := json_build_object('detail', 'unknown profile', 'errors',
                        json_build_array(json_build_object('field', 'profile_id', 'detail', 'no such profile')));
            RETURN;
        END IF;
    END IF;
    SELECT * INTO d FROM devices WHERE mac = p_mac FOR UPDATE;
    IF FOUND AND d.provider_id = me THEN
        UPDATE devices SET
            profile_id = CASE WHEN p_fields ? 'profile_id' THEN prof ELSE profile_id END,
            model = CASE WHEN p_fields ? 'model' THEN p_fields->>'model' ELSE model END,
            serial = CASE WHEN p_fields ? 'serial' THEN p_fields->>'serial' ELSE serial END
        WHERE mac = p_mac RETURNING * INTO d;
        PERFORM ztp_audit('device.update', ztp_mac_text(p_mac), p_fields);
        status := 200;
        body := ztp_device_json(d);
        RETURN;
    END IF;
    IF FOUND AND d.provider_id IS NOT NULL THEN
        status := 409; body := json_build_object('detail', 'this MAC belongs to another provider'); RETURN;
    END IF;
    nxt := ztp_next_status(CASE WHEN FOUND THEN d.status END, 'claim');
    INSERT INTO devices AS x (mac, provider_id, profile_id, model, serial, status, status_changed_at, created_at)
    VALUES (p_mac, me, prof, p_fields->>'model', p_fields->>'serial', nxt, now(), now())
    ON CONFLICT (mac) DO UPDATE SET provider_id = me, profile_id = prof, model = p_fields->>'model',
        serial = p_fields->>'serial', status = nxt,
        status_changed_at = CASE WHEN x.status <> nxt THEN now() ELSE x.status_changed_at END,
        created_at = now()
    RETURNING * INTO d;
    PERFORM ztp_record_status(p_mac, me, NULL, nxt, 'claimed');
    PERFORM ztp_audit('device.claim', ztp_mac_text(p_mac), p_fields);
    status := 201;
    body := ztp_device_json(d);
END $$;
ALTER FUNCTION ztp_device_put(macaddr, jsonb) OWNER TO ztp_system;

-- DELETE /v1/devices/{mac}: the device stays known (a phone that asks again
-- becomes unavailable) but belongs to nobody.
CREATE FUNCTION ztp_device_release(p_mac macaddr, OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE me uuid := ztp_tenant();
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    UPDATE devices SET provider_id = NULL, profile_id = NULL WHERE mac = p_mac AND provider_id = me;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such device'); RETURN;
    END IF;
    PERFORM ztp_audit('device.release', ztp_mac_text(p_mac), NULL);
    status := 204;
END $$;
ALTER FUNCTION ztp_device_release(macaddr) OWNER TO ztp_system;

-- POST /v1/devices/{mac}/status: what the provider learnt of the phone.
CREATE FUNCTION ztp_device_report(p_mac macaddr, p_status text, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    d devices%ROWTYPE;
    was text;
    nxt text;
BEGIN
    SELECT * INTO d FROM devices WHERE mac = p_mac FOR UPDATE;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such device'); RETURN;
    END IF;
    was := d.status;
    nxt := ztp_next_status(was, 'report_' || p_status);
    IF nxt IS NULL THEN
        status := 409;
        body := json_build_object('detail', format('a device in status %s cannot be reported %s', was, p_status));
        RETURN;
    END IF;
    UPDATE devices SET status = nxt,
        status_changed_at = CASE WHEN nxt <> was THEN now() ELSE status_changed_at END
    WHERE mac = p_mac RETURNING * INTO d;
    PERFORM ztp_record_status(p_mac, d.provider_id, was, nxt, 'reported');
    PERFORM ztp_audit('device.status', ztp_mac_text(p_mac), json_build_object('status', p_status)::jsonb);
    status := 200;
    body := ztp_device_json(d);
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
