-- GET /v1/profiles in pages, like every other list: oldest first, `limit`
-- 1 to 1000 (default 100), `next_cursor` the position of the page's last
-- profile (ztp_page_cursor, 0023). A provider may keep any number of profiles, each up to some
-- 200 kB of parameters: one answer of all of them had no bound. The
-- zero-argument form stays for the previous ztpd during a rolling upgrade.
CREATE INDEX profiles_provider_created ON profiles (provider_id, created_at, id);

CREATE FUNCTION ztp_profile_list(p_after text, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT 200, ztp_page_body(ARRAY(
        SELECT ROW(p.created_at, p.id, ztp_profile_json(p))::ztp_page_row
        FROM profiles p
        WHERE p.provider_id = ztp_tenant()
          AND (p_after IS NULL OR (p.created_at, p.id) > (ztp_page_cursor_at(p_after), ztp_page_cursor_id(p_after)))
        ORDER BY p.created_at, p.id LIMIT p_limit + 1), p_limit)
$$;
GRANT EXECUTE ON FUNCTION ztp_profile_list(text, int) TO ztp_tenant;
