-- /boot: each profile may name, per phone vendor, the provisioning URL its
-- phones get in their vendor's own first file. An object of vendor name
-- (the /boot table's, cisco excepted: Cisco phones get profile_rule) to an
-- absolute http or https URL; ztpd validates each URL, the database keeps
-- the shape.
CREATE FUNCTION ztp_vendor_urls_ok(p_urls jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_typeof(p_urls) = 'object'
       AND (SELECT coalesce(bool_and(jsonb_typeof(e.value) = 'string'
                                     AND e.key IN ('yealink', 'poly', 'snom', 'grandstream', 'fanvil', 'gigaset')),
                            true)
            FROM jsonb_each(p_urls) e)
$$;

ALTER TABLE profiles ADD COLUMN vendor_urls jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT profiles_vendor_urls_shape CHECK (ztp_vendor_urls_ok(vendor_urls));

-- The functions that render or change profiles are wrapped, not rewritten,
-- so that this migration composes with others that wrap them too: each
-- keeps what it had and adds vendor_urls.
ALTER FUNCTION ztp_profile_json(profiles) RENAME TO ztp_profile_json_before_boot;
CREATE FUNCTION ztp_profile_json(p profiles) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT (left(ztp_profile_json_before_boot(p)::text, -1) || ', "vendor_urls" : '
            || p.vendor_urls::text || '}')::json
$$;

-- Sets vendor_urls (NULL: leaves it) on a profile this transaction created
-- or changed, and answers it again with them; any other answer passes.
CREATE FUNCTION ztp_profile_with_vendor_urls(p_status int, p_body json, p_urls jsonb,
                                             OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
BEGIN
    status := p_status;
    body := p_body;
    IF p_urls IS NULL OR p_status NOT IN (200, 201) THEN
        RETURN;
    END IF;
    UPDATE profiles SET vendor_urls = CASE WHEN p_urls = 'null' THEN '{}' ELSE p_urls END
    WHERE id = (p_body->>'id')::uuid RETURNING * INTO p;
    body := ztp_profile_json(p);
END $$;

ALTER FUNCTION ztp_profile_update(uuid, jsonb) RENAME TO ztp_profile_update_before_boot;
CREATE FUNCTION ztp_profile_update(p_id uuid, p_fields jsonb, OUT status int, OUT body json)
LANGUAGE sql AS $$
    SELECT w.status, w.body
    FROM ztp_profile_update_before_boot(p_id, p_fields) u,
         ztp_profile_with_vendor_urls(u.status, u.body, p_fields->'vendor_urls') w
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
