-- GET /v1/activation-codes in pages.
--
-- The list was one answer of every code the provider has (up to
-- ZTP_MAX_ACTIVE_CODES active, 100,000 by default, plus those ended in the
-- last ZTP_CODE_RETENTION_DAYS): tens of megabytes built in one statement
-- and one buffer. Now it pages like the transfers: oldest first, `limit`
-- 1 to 1000 (default 100), `next_cursor` the id of the page's last code,
-- read through the (provider_id, created_at, id) index of 0003. The
-- one-argument form stays for a ztpd of the previous release during a
-- rolling upgrade.
CREATE FUNCTION ztp_codes_list(p_state text, p_after uuid, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT c.id, c.created_at, json_build_object(
                   'id', c.id, 'last4', c.last4, 'profile_id', c.profile_id, 'mac', ztp_mac_text(c.mac),
                   'state', ztp_code_state(c), 'expires_at', ztp_time(c.expires_at),
                   'redeemed_at', ztp_time(c.redeemed_at), 'redeemed_by', ztp_mac_text(c.redeemed_by)) AS item
        FROM activation_codes c
        WHERE c.provider_id = ztp_tenant() AND (p_state IS NULL OR ztp_code_state(c) = p_state)
          AND (p_after IS NULL OR (c.created_at, c.id) > (SELECT a.created_at, a.id FROM activation_codes a
                                                           WHERE a.id = p_after AND a.provider_id = ztp_tenant()))
        ORDER BY c.created_at, c.id LIMIT p_limit + 1
    ), numbered AS (
        SELECT id, item, row_number() OVER (ORDER BY created_at, id) AS n FROM page
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(item ORDER BY n) FROM numbered WHERE n <= p_limit), '[]'::json),
        'next_cursor', (SELECT id::text FROM numbered WHERE n = p_limit
                        AND EXISTS (SELECT 1 FROM numbered WHERE n > p_limit)))
$$;
GRANT EXECUTE ON FUNCTION ztp_codes_list(text, uuid, int) TO ztp_tenant;
