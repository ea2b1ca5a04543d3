-- GET /v1/devices?q=: any run of hex digits of a MAC, served by an index.
--
-- A trigram index on the MAC's 12 hex digits finds '%q%' for q of 3 digits
-- or more (ztpd refuses shorter ones: one or two digits give no trigram and
-- would scan). It is an expression index on the MAC alone, which no phone
-- contact changes, so contacts stay HOT updates. pg_trgm is a trusted
-- extension (PostgreSQL 13 and later): the owner of the database may create
-- it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX devices_mac_trgm ON devices USING gin (ztp_mac_text(mac) gin_trgm_ops);

-- Keyset pagination by MAC, the cursor being the last MAC of the page
-- before. Each call plans its statement with the filters it was given
-- (EXECUTE), never one generic plan for all: only then can the planner use
-- the trigram index for q, the MAC bound of the cursor in devices_provider,
-- and choose between them by how many devices q is likely to match. p_q is
-- lower-case hex digits only (ztpd checked), so it holds no LIKE wildcard.
DROP FUNCTION ztp_device_list(text, uuid, macaddr, int);
CREATE FUNCTION ztp_device_list(p_status text, p_profile uuid, p_model text, p_q text, p_after macaddr, p_limit int,
                                OUT status int, OUT body json)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    sql text := 'SELECT d FROM devices d WHERE d.provider_id = ztp_tenant()';
    page devices[];
BEGIN
    IF p_status IS NOT NULL THEN sql := sql || ' AND d.status = $1'; END IF;
    IF p_profile IS NOT NULL THEN sql := sql || ' AND d.profile_id = $2'; END IF;
    IF p_model IS NOT NULL THEN sql := sql || ' AND d.model = $3'; END IF;
    IF p_q IS NOT NULL THEN sql := sql || ' AND ztp_mac_text(d.mac) LIKE $4'; END IF;
    IF p_after IS NOT NULL THEN sql := sql || ' AND d.mac > $5'; END IF;
    EXECUTE 'SELECT array_agg(x.d ORDER BY (x.d).mac) FROM (' || sql || ' ORDER BY d.mac LIMIT $6) x'
        INTO page USING p_status, p_profile, p_model, '%' || p_q || '%', p_after, p_limit + 1;
    status := 200;
    body := json_build_object(
        'items', coalesce((SELECT json_agg(ztp_device_json(page[i]) ORDER BY i)
                           FROM generate_subscripts(page, 1) i WHERE i <= p_limit), '[]'::json),
        'next_cursor', CASE WHEN cardinality(page) > p_limit THEN ztp_mac_text(page[p_limit].mac) END);
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
