-- People of a provider, their invitations and their sign-in sessions.
-- Invite and session tokens are stored only as keyed hashes (ZTP_SECRET),
-- passwords only as Argon2id strings; none of them is ever returned.

CREATE TABLE users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id       uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    email             text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role              text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash     text,
    invite_hash       bytea UNIQUE,
    invite_expires_at timestamptz,
    invite_used_at    timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE sessions (
    hash         bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    provider_id  uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions (user_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'sessions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY system_all ON %I TO ztp_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY tenant_own ON %I TO ztp_tenant USING (provider_id = ztp_tenant())'
                       ' WITH CHECK (provider_id = ztp_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ztp_system, ztp_tenant', t);
    END LOOP;
END $$;

-- Audit entries made through a session name the person in user_id, a
-- member only they have; key_id stays the API key's id (NULL for a
-- person), so entries made with keys read exactly as before.
ALTER TABLE audit_events ADD COLUMN user_id uuid;

CREATE OR REPLACE FUNCTION ztp_audit(p_action text, p_target text, p_detail jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_events (provider_id, key_id, user_id, action, target, detail)
    VALUES (ztp_tenant(), nullif(current_setting('app.key', true), ''),
            nullif(current_setting('app.user', true), '')::uuid, p_action, p_target, p_detail)
$$;

CREATE OR REPLACE FUNCTION ztp_audit_list(p_after bigint, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a.* FROM audit_events a
        WHERE a.provider_id = ztp_tenant() AND (p_after IS NULL OR a.id > p_after)
        ORDER BY a.id LIMIT p_limit + 1
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(CASE WHEN a.user_id IS NULL
                 THEN json_build_object('at', ztp_time(a.at), 'key_id', a.key_id,
                                        'action', a.action, 'target', a.target, 'detail', a.detail)
                 ELSE json_build_object('at', ztp_time(a.at), 'key_id', a.key_id, 'user_id', a.user_id,
                                        'action', a.action, 'target', a.target, 'detail', a.detail) END
                 ORDER BY a.id)
                 FROM (SELECT * FROM page ORDER BY id LIMIT p_limit) a), '[]'::json),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit
                            THEN (SELECT max(id)::text FROM (SELECT id FROM page ORDER BY id LIMIT p_limit) x) END)
$$;

CREATE FUNCTION ztp_user_json(u users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'email', u.email, 'role', u.role,
                             'created_at', ztp_time(u.created_at),
                             'active', u.password_hash IS NOT NULL)
$$;

-- As ztp_tenant: a person invited; the invitation lasts 7 days.
CREATE FUNCTION ztp_user_create(p_email text, p_role text, p_invite_hash text, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users%ROWTYPE;
BEGIN
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

CREATE FUNCTION ztp_user_list(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(ztp_user_json(u) ORDER BY u.created_at, u.id),
                                                    '[]'::json))
    FROM users u WHERE u.provider_id = ztp_tenant()
$$;

-- Removing a person ends their sessions (ON DELETE CASCADE).
CREATE FUNCTION ztp_user_delete(p_id uuid, OUT status int, OUT body json) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM users WHERE id = p_id AND provider_id = ztp_tenant();
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such person'); RETURN;
    END IF;
    PERFORM ztp_audit('user.delete', p_id::text, NULL);
    status := 204;
END $$;

-- As ztp_system: what an invitation token is (404 unknown, 410 used or
-- expired), before the password is hashed.
CREATE FUNCTION ztp_invite_check(p_hash text, OUT status int, OUT user_id uuid) LANGUAGE plpgsql STABLE AS $$
DECLARE u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE invite_hash = decode(p_hash, 'hex');
    IF u.id IS NULL THEN status := 404; RETURN; END IF;
    IF u.invite_used_at IS NOT NULL OR u.invite_expires_at <= now() THEN status := 410; RETURN; END IF;
    status := 200; user_id := u.id;
END $$;

-- As ztp_system: uses the invitation once, setting the password.
CREATE FUNCTION ztp_invite_accept(p_hash text, p_password_hash text, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users%ROWTYPE;
BEGIN
    UPDATE users SET password_hash = p_password_hash, invite_used_at = now()
    WHERE invite_hash = decode(p_hash, 'hex') AND invite_used_at IS NULL AND invite_expires_at > now()
    RETURNING * INTO u;
    IF u.id IS NULL THEN
        IF EXISTS (SELECT 1 FROM users WHERE invite_hash = decode(p_hash, 'hex')) THEN
            status := 410; body := json_build_object('detail', 'this invitation was used or has expired');
        ELSE
            status := 404; body := json_build_object('detail', 'no such invitation');
        END IF;
        RETURN;
    END IF;
    INSERT INTO audit_events (provider_id, user_id, action, target)
    VALUES (u.provider_id, u.id, 'user.accept', u.id::text);
    status := 200;
    body := json_build_object('user_id', u.id, 'email', u.email, 'role', u.role, 'provider_id', u.provider_id);
END $$;

-- As ztp_system: the people who may sign in with this email.
CREATE FUNCTION ztp_signin_candidates(p_email text) RETURNS TABLE (id uuid, password_hash text)
LANGUAGE sql STABLE AS $$
    SELECT id, password_hash FROM users WHERE email = p_email AND password_hash IS NOT NULL
    ORDER BY created_at, id LIMIT 4
$$;

-- As ztp_system: a new session for a person just signed in.
CREATE FUNCTION ztp_session_create(p_hash text, p_user uuid, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users%ROWTYPE;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user;
    IF u.id IS NULL THEN status := 401; body := json_build_object('detail', 'wrong email or password'); RETURN; END IF;
    DELETE FROM sessions WHERE user_id = u.id
        AND (created_at < now() - interval '12 hours' OR last_seen_at < now() - interval '1 hour');
    INSERT INTO sessions (hash, user_id, provider_id) VALUES (decode(p_hash, 'hex'), u.id, u.provider_id);
    INSERT INTO audit_events (provider_id, user_id, action, target)
    VALUES (u.provider_id, u.id, 'session.create', u.id::text);
    status := 201;
    body := json_build_object('user_id', u.id, 'email', u.email, 'role', u.role, 'provider_id', u.provider_id);
END $$;

-- As ztp_system: who a session is, when it has been used within the hour
-- and began within 12 hours; marks it used (at most once a minute).
CREATE FUNCTION ztp_session_touch(p_hash text) RETURNS TABLE (user_id uuid, provider_id uuid, role text, email text)
LANGUAGE plpgsql AS $$
DECLARE s sessions%ROWTYPE;
BEGIN
    SELECT * INTO s FROM sessions WHERE hash = decode(p_hash, 'hex')
        AND last_seen_at > now() - interval '1 hour' AND created_at > now() - interval '12 hours';
    IF s.hash IS NULL THEN RETURN; END IF;
    IF s.last_seen_at < now() - interval '1 minute' THEN
        UPDATE sessions SET last_seen_at = now() WHERE hash = s.hash;
    END IF;
    RETURN QUERY SELECT u.id, u.provider_id, u.role, u.email FROM users u WHERE u.id = s.user_id;
END $$;

-- As ztp_system: sign-out. (Sign-in sweeps the person's ended sessions.)
CREATE FUNCTION ztp_session_delete(p_hash text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM sessions WHERE hash = decode(p_hash, 'hex')
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
