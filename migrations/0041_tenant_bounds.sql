-- What a provider piles up on its own is bounded, as its profiles (1,000)
-- and webhooks (20) were: a tenant's API calls alone could grow its API
-- keys, its people and its open transfers without end (an audit found it),
-- and GET /v1/api-keys and GET /v1/users answer with every row at once.
--
-- - API keys: at most 1,000 per provider, revoked ones included. A new key
--   past the bound takes the place of the key revoked longest ago (a
--   revoked key is only a line in the list; the audit trail keeps its
--   story); with none revoked, 422. The hourly sweep deletes revoked keys
--   ZTP_CODE_RETENTION_DAYS after their revocation (a revoked key and a
--   deleted one get the same 401).
-- - People: at most 1,000 per provider, invitations not yet accepted
--   included.
-- - Transfers: at most 100 open per provider, and in those it keeps at most
--   5,000,000 MACs and 10,000 transfers: one that ended keeps its MACs until
--   the sweep deletes it (0014); cancelling and making again a transfer of
--   100,000 MACs stored 830 kB a turn, 2 MB a second on one connection, and
--   transfers of one MAC would have let the MAC bound alone keep 5,000,000
--   rows, each read by every creation's count.
-- - Import jobs (10 open, 0011) and active activation codes
--   (ZTP_MAX_ACTIVE_CODES, 0003): their counts under the same lock as
--   below (40 concurrent creations of jobs at 1 open had made 12 open).
-- - Sessions: a person keeps at most 20 live ones (signing in again ends
--   the one used longest ago beyond them), and the sweep deletes those that
--   ended, which stayed until their person signed in again.
-- - The audit trail: kept for ever unless ZTP_AUDIT_RETENTION_DAYS says
--   how long (the sweep below).
--
-- Each count and its insert run under a transaction-scoped advisory lock of
-- the provider (of the person, for sessions), as webhooks do (0009), so that
-- concurrent requests cannot pass a bound together; the profiles' bound
-- (0006) gets the same lock. Too many: 422, with the bound in the detail.

CREATE OR REPLACE FUNCTION ztp_key_create(p_id text, p_name text, p_hash text, p_secret_id text,
                                          OUT status int, OUT body json) LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
    n_keys bigint;
    n_revoked bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ztp_api_keys'), hashtext(ztp_tenant()::text));
    SELECT count(*), count(*) FILTER (WHERE revoked_at IS NOT NULL) INTO n_keys, n_revoked
    FROM api_keys WHERE provider_id = ztp_tenant();
    -- a provider may hold more than the bound (keys from `ztpd provider
    -- create`, or from before 0041): as many revoked keys go as bring it
    -- back under, or none when that is not enough
    IF n_keys >= 1000 THEN
        IF n_keys - n_revoked >= 1000 THEN
            status := 422;
            body := json_build_object('detail', 'a provider can have at most 1000 API keys; revoke one first');
            RETURN;
        END IF;
        DELETE FROM api_keys WHERE id IN (SELECT x.id FROM api_keys x
                                          WHERE x.provider_id = ztp_tenant() AND x.revoked_at IS NOT NULL
                                          ORDER BY x.revoked_at, x.id LIMIT n_keys - 999);
    END IF;
    INSERT INTO api_keys (id, provider_id, name, hash, secret_id)
    VALUES (p_id, ztp_tenant(), p_name, decode(p_hash, 'hex'), p_secret_id) RETURNING * INTO k;
    PERFORM ztp_audit('api_key.create', k.id, json_build_object('name', k.name)::jsonb);
    status := 201;
    body := json_build_object('id', k.id, 'name', k.name, 'created_at', ztp_time(k.created_at));
END $$;

CREATE OR REPLACE FUNCTION ztp_user_create(p_email text, p_role text, p_invite_hash text,
                                           OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ztp_users'), hashtext(ztp_tenant()::text));
    IF (SELECT count(*) FROM users WHERE provider_id = ztp_tenant()) >= 1000 THEN
        status := 422;
        body := json_build_object('detail', 'a provider can have at most 1000 people, invited ones included');
        RETURN;
    END IF;
    INSERT INTO users (provider_id, email, role, invite_hash, invite_expires_at)
    VALUES (ztp_tenant(), p_email, p_role, decode(p_invite_hash, 'hex'), now() + interval '7 days')
    ON CONFLICT (provider_id, email) DO NOTHING RETURNING * INTO u;
    IF u.id IS NULL THEN
        status := 409; body := json_build_object('detail', 'a person with this email exists',
            'errors', json_build_array(json_build_object('field', 'email', 'detail', 'already invited')));
        RETURN;
    END IF;
    PERFORM ztp_audit('user.create', u.id::text, json_build_object('email', u.email, 'role', u.role)::jsonb);
    status := 201;
    body := ztp_user_json(u);
END $$;

-- As 0010's, with the bounds checked after the MACs (a check of up to
-- 100,000 of them, which the provider's lock need not wait for), then the
-- counts and the insert under the lock.
CREATE OR REPLACE FUNCTION ztp_transfer_create(p_macs text, p_expires_in int, p_hash text, p_last4 text,
                                               p_secret_id text, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    me uuid := ztp_tenant();
    macs macaddr[] := string_to_array(p_macs, ',')::macaddr[];
    n_bad bigint;
    n_rows bigint;
    n_open bigint;
    n_kept bigint;
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
    PERFORM pg_advisory_xact_lock(hashtext('ztp_transfers'), hashtext(me::text));
    SELECT count(*),
           count(*) FILTER (WHERE ztp_transfer_state_of(x.accepted_at, x.cancelled_at, x.expires_at) = 'open'),
           coalesce(sum(x.mac_count), 0)
    INTO n_rows, n_open, n_kept FROM transfers x WHERE x.provider_id = me;
    IF n_rows >= 10000 THEN
        status := 422;
        body := json_build_object('detail', 'a provider keeps at most 10000 transfers (those that ended are kept'
                                            || ' until some days after they end)');
        RETURN;
    END IF;
    IF n_open >= 100 THEN
        status := 422;
        body := json_build_object('detail', 'a provider can have at most 100 open transfers;'
                                            || ' cancel one, or wait for one to be accepted or to expire');
        RETURN;
    END IF;
    IF n_kept + cardinality(macs) > 5000000 THEN
        status := 422;
        body := json_build_object('detail', format('the transfers a provider keeps hold at most 5000000 MACs'
                                                   || ' (%s now; those that ended are kept until some days after'
                                                   || ' they end)', n_kept));
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

-- As 0012's, one sign-in of a person at a time: the sessions that ended go,
-- and so do the live ones but the 19 used most recently, before the new one
-- is added.
CREATE OR REPLACE FUNCTION ztp_session_create(p_hash text, p_user uuid, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user;
    IF u.id IS NULL THEN status := 401; body := json_build_object('detail', 'wrong email or password'); RETURN; END IF;
    PERFORM pg_advisory_xact_lock(hashtext('ztp_sessions'), hashtext(u.id::text));
    DELETE FROM sessions WHERE user_id = u.id
        AND (created_at < now() - interval '12 hours' OR last_seen_at < now() - interval '1 hour');
    DELETE FROM sessions WHERE user_id = u.id
        AND hash NOT IN (SELECT s.hash FROM sessions s WHERE s.user_id = u.id
                         ORDER BY s.last_seen_at DESC, s.hash LIMIT 19);
    INSERT INTO sessions (hash, user_id, provider_id) VALUES (decode(p_hash, 'hex'), u.id, u.provider_id);
    INSERT INTO audit_events (provider_id, user_id, action, target)
    VALUES (u.provider_id, u.id, 'session.create', u.id::text);
    status := 201;
    body := json_build_object('user_id', u.id, 'email', u.email, 'role', u.role, 'provider_id', u.provider_id);
END $$;

-- As 0012's, 16 people rather than 4 (admin-api/sessions.c checks each):
-- with 4, a person invited by a fifth provider could never sign in there,
-- and four providers inviting an email first could lock its owner out of
-- every provider that invites it later (a helper's attack). Each costs an
-- Argon2id check on a failed sign-in, which the limits count (10 failures
-- per email and 30 successes per person in 15 minutes).
CREATE OR REPLACE FUNCTION ztp_signin_candidates(p_email text) RETURNS TABLE (id uuid, password_hash text)
LANGUAGE sql STABLE AS $$
    SELECT id, password_hash FROM users WHERE email = p_email AND password_hash IS NOT NULL
    ORDER BY created_at, id LIMIT 16
$$;

-- As 0007's, under the lock: the count is in 0006's function (ztp_profile_create_fields since 0007).
CREATE OR REPLACE FUNCTION ztp_profile_create(p_name text, p_rule text, p_upgrade text, p_short text,
                                              p_params jsonb, p_more jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    constraint_name text;
    secret text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ztp_profiles'), hashtext(ztp_tenant()::text));
    SELECT c.status, c.body INTO status, body
    FROM ztp_profile_create_fields(p_name, p_rule, p_upgrade, p_short, p_params, p_more) c;
    IF status = 201 THEN
        body := ztp_profile_certify((body->>'id')::uuid, (p_more->>'require_certificate')::boolean);
    END IF;
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME, secret = PG_EXCEPTION_DETAIL;
    IF constraint_name IS DISTINCT FROM 'profiles_secret_needs_certificate' THEN RAISE; END IF;
    status := 422;
    body := ztp_profile_secret_problem(secret);
END $$;

-- As 0003's, the count of active codes under the provider's lock.
CREATE OR REPLACE FUNCTION ztp_codes_create(p_profile uuid, p_mac macaddr, p_expires_in int, p_hashes text,
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
    PERFORM pg_advisory_xact_lock(hashtext('ztp_activation_codes'), hashtext(ztp_tenant()::text));
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

-- As 0011's, the count of open jobs under the provider's lock.
CREATE OR REPLACE FUNCTION ztp_import_job_create(p_format text, p_dry_run boolean, p_on_conflict text,
                                      OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    new_id uuid;
BEGIN
    -- an open or running job holds staged rows: a provider keeps a few at once
    PERFORM pg_advisory_xact_lock(hashtext('ztp_import_jobs'), hashtext(ztp_tenant()::text));
    IF (SELECT count(*) FROM import_jobs WHERE provider_id = ztp_tenant() AND state IN ('open', 'running')) >= 10 THEN
        status := 429;
        body := json_build_object('detail', 'this provider has 10 import jobs open or running; start, finish or'
                                            ' cancel one first');
        RETURN;
    END IF;
    INSERT INTO import_jobs (provider_id, format, dry_run, on_conflict)
    VALUES (ztp_tenant(), p_format, p_dry_run, p_on_conflict) RETURNING id INTO new_id;
    PERFORM ztp_audit('import_job.create', new_id::text,
                      jsonb_build_object('format', p_format, 'dry_run', p_dry_run, 'on_conflict', p_on_conflict));
    status := 201;
    body := ztp_import_job_get(new_id);
END $$;

-- What the sweep below finds by index: revoked keys, old idempotency keys
-- (ztp_idem_sweep, 0005, read every key each hour to find those older than
-- a day: 39 ms per 300,000 in stop 25's audit), old audit events.
CREATE INDEX api_keys_revoked ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX audit_events_at ON audit_events (at);

-- The sweep (activation/handler.c, every ZTP_SWEEP_EVERY_S, hourly by
-- default), one call: what ended more than p_retention_days ago
-- (activation codes, transfers, revoked API keys), idempotency keys older
-- than a day, sessions that ended, and, when p_audit_days is above 0
-- (ZTP_AUDIT_RETENTION_DAYS; 0 keeps the trail for ever), audit events
-- older than that, at most 100,000 per call so that a first sweep of years
-- of trail is not one huge transaction (hourly, up to 2.4 million a day).
-- Returns how many rows went.
CREATE FUNCTION ztp_sweep(p_retention_days int, p_audit_days int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    keys bigint;
    sessions bigint;
    audit bigint := 0;
BEGIN
    DELETE FROM api_keys WHERE revoked_at < now() - make_interval(days => p_retention_days);
    GET DIAGNOSTICS keys = ROW_COUNT;
    DELETE FROM sessions s
    WHERE s.created_at < now() - interval '12 hours' OR s.last_seen_at < now() - interval '1 hour';
    GET DIAGNOSTICS sessions = ROW_COUNT;
    IF p_audit_days > 0 THEN
        DELETE FROM audit_events WHERE id IN (
            SELECT a.id FROM audit_events a WHERE a.at < now() - make_interval(days => p_audit_days)
            ORDER BY a.at LIMIT 100000);
        GET DIAGNOSTICS audit = ROW_COUNT;
    END IF;
    RETURN ztp_codes_sweep(p_retention_days) + ztp_idem_sweep() + ztp_transfers_sweep(p_retention_days)
           + keys + sessions + audit;
END $$;
REVOKE ALL ON FUNCTION ztp_sweep(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ztp_sweep(int, int) TO ztp_system;
