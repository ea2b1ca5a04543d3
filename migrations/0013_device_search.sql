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

-- The MACs of one page of the caller's devices matching the filters given
-- (NULL: none), ordered by MAC, one more than p_limit when more follow.
-- Planned per call (EXECUTE with only the filters given), never one generic
-- plan for all: only then can the planner use the trigram index for q, the
-- cursor's MAC as a bound in devices_provider, and choose between them by how
-- many devices q is likely to match. p_q is lower-case hex digits only
-- (ztpd checked), so it holds no LIKE wildcard.
--
-- SECURITY DEFINER as ztp_system, with the tenant named explicitly: under
-- ztp_tenant's row-level security a condition that is not leakproof (LIKE is
-- not) may not be an index condition, and q would read every device of the
-- provider (measured: 5 to 9 s on a million). ztp_device_list reads the rows
-- themselves under row-level security again.
CREATE FUNCTION ztp_device_search(p_status text, p_profile uuid, p_model text, p_q text, p_after macaddr,
                                  p_limit int) RETURNS macaddr[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
    me uuid := ztp_tenant();
    sql text := 'SELECT d.mac FROM devices d WHERE d.provider_id = $7';
    macs macaddr[];
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    IF p_status IS NOT NULL THEN sql := sql || ' AND d.status = $1'; END IF;
    IF p_profile IS NOT NULL THEN sql := sql || ' AND d.profile_id = $2'; END IF;
    IF p_model IS NOT NULL THEN sql := sql || ' AND d.model = $3'; END IF;
    IF p_q IS NOT NULL THEN sql := sql || ' AND ztp_mac_text(d.mac) LIKE $4'; END IF;
    IF p_after IS NOT NULL THEN sql := sql || ' AND d.mac > $5'; END IF;
    EXECUTE 'SELECT array_agg(mac ORDER BY mac) FROM (' || sql || ' ORDER BY d.mac LIMIT $6) x'
        INTO macs USING p_status, p_profile, p_model, '%' || p_q || '%', p_after, p_limit + 1, me;
    RETURN coalesce(macs, '{}');
END $$;
ALTER FUNCTION ztp_device_search(text, uuid, text, text, macaddr, int) OWNER TO ztp_system;

-- GET /v1/devices: keyset pagination by MAC, the cursor being the last MAC
-- of the page before.
DROP FUNCTION ztp_device_list(text, uuid, macaddr, int);
CREATE FUNCTION ztp_device_list(p_status text, p_profile uuid, p_model text, p_q text, p_after macaddr, p_limit int,
                                OUT status int, OUT body json)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    macs macaddr[] := ztp_device_search(p_status, p_profile, p_model, p_q, p_after, p_limit);
BEGIN
    status := 200;
    body := json_build_object(
        'items', coalesce((SELECT json_agg(ztp_device_json(d) ORDER BY d.mac) FROM devices d
                           WHERE d.mac = ANY (macs[1:p_limit]) AND d.provider_id = ztp_tenant()), '[]'::json),
        'next_cursor', CASE WHEN cardinality(macs) > p_limit THEN ztp_mac_text(macs[p_limit]) END);
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
