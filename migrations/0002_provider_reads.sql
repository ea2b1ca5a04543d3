-- Reads of the provider API, each answering (status, body) as ztp_tenant.
-- Row-level security scopes every one of them; the explicit provider_id
-- conditions are there for the indexes.

CREATE FUNCTION ztp_profile_list(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(ztp_profile_json(p) ORDER BY p.created_at, p.id),
                                                    '[]'::json))
    FROM profiles p WHERE p.provider_id = ztp_tenant()
$$;

CREATE FUNCTION ztp_profile_get(p_id uuid, OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(200), 404),
           coalesce((SELECT ztp_profile_json(p) FROM profiles p WHERE p.id = p_id),
                    json_build_object('detail', 'no such profile'))
    FROM profiles WHERE id = p_id
$$;

CREATE FUNCTION ztp_device_get(p_mac macaddr, OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(200), 404),
           coalesce((SELECT ztp_device_json(d) FROM devices d WHERE d.mac = p_mac AND d.provider_id = ztp_tenant()),
                    json_build_object('detail', 'no such device'))
    FROM devices WHERE mac = p_mac AND provider_id = ztp_tenant()
$$;

-- Keyset pagination by MAC: the cursor is the last MAC of the page before.
CREATE FUNCTION ztp_device_list(p_status text, p_profile uuid, p_after macaddr, p_limit int,
                                OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT d FROM devices d
        WHERE d.provider_id = ztp_tenant()
          AND (p_status IS NULL OR d.status = p_status)
          AND (p_profile IS NULL OR d.profile_id = p_profile)
          AND (p_after IS NULL OR d.mac > p_after)
        ORDER BY d.mac LIMIT p_limit + 1
    ), numbered AS (
        SELECT d, row_number() OVER (ORDER BY (d).mac) AS n FROM page
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(ztp_device_json(d) ORDER BY n) FROM numbered WHERE n <= p_limit),
                          '[]'::json),
        'next_cursor', (SELECT ztp_mac_text((d).mac) FROM numbered WHERE n = p_limit
                        AND EXISTS (SELECT 1 FROM numbered WHERE n > p_limit)))
$$;

CREATE FUNCTION ztp_device_events(p_mac macaddr, OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM devices WHERE mac = p_mac AND provider_id = ztp_tenant())
        THEN 200 ELSE 404 END,
        CASE WHEN EXISTS (SELECT 1 FROM devices WHERE mac = p_mac AND provider_id = ztp_tenant())
        THEN json_build_object('items', coalesce((
            SELECT json_agg(json_build_object('at', ztp_time(e.at), 'from', e.from_status, 'to', e.to_status,
                                              'cause', e.cause) ORDER BY e.id)
            FROM device_events e WHERE e.mac = p_mac AND e.provider_id = ztp_tenant()), '[]'::json))
        ELSE json_build_object('detail', 'no such device') END
$$;

CREATE FUNCTION ztp_key_create(p_id text, p_name text, p_hash text, p_secret_id text,
                               OUT status int, OUT body json) LANGUAGE plpgsql AS $$
DECLARE k api_keys%ROWTYPE;
BEGIN
    INSERT INTO api_keys (id, provider_id, name, hash, secret_id)
    VALUES (p_id, ztp_tenant(), p_name, decode(p_hash, 'hex'), p_secret_id) RETURNING * INTO k;
    PERFORM ztp_audit('api_key.create', k.id, json_build_object('name', k.name)::jsonb);
    status := 201;
    body := json_build_object('id', k.id, 'name', k.name, 'created_at', ztp_time(k.created_at));
END $$;

CREATE FUNCTION ztp_key_list(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(json_build_object(
        'id', k.id, 'name', k.name, 'created_at', ztp_time(k.created_at),
        'last_used_at', ztp_time(k.last_used_at), 'revoked_at', ztp_time(k.revoked_at))
        ORDER BY k.created_at, k.id), '[]'::json))
    FROM api_keys k WHERE k.provider_id = ztp_tenant()
$$;

CREATE FUNCTION ztp_key_revoke(p_id text, OUT status int, OUT body json) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = p_id;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such API key'); RETURN;
    END IF;
    PERFORM ztp_audit('api_key.revoke', p_id, NULL);
    status := 204;
END $$;

CREATE FUNCTION ztp_audit_list(p_after bigint, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT a.* FROM audit_events a
        WHERE a.provider_id = ztp_tenant() AND (p_after IS NULL OR a.id > p_after)
        ORDER BY a.id LIMIT p_limit + 1
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(json_build_object('at', ztp_time(a.at), 'key_id', a.key_id,
                 'action', a.action, 'target', a.target, 'detail', a.detail) ORDER BY a.id)
                 FROM (SELECT * FROM page ORDER BY id LIMIT p_limit) a), '[]'::json),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit
                            THEN (SELECT max(id)::text FROM (SELECT id FROM page ORDER BY id LIMIT p_limit) x) END)
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
