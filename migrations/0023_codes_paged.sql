-- GET /v1/activation-codes in pages, and a cursor that needs no row.
--
-- The list was one answer of every code the provider has (up to
-- ZTP_MAX_ACTIVE_CODES active, 100,000 by default, plus those ended in the
-- last ZTP_CODE_RETENTION_DAYS): tens of megabytes built in one statement
-- and one buffer. Now it pages: oldest first, `limit` 1 to 1000 (default
-- 100), through the (provider_id, created_at, id) index of 0003. The
-- one-argument form stays for a ztpd of the previous release during a
-- rolling upgrade.
--
-- The cursor carries the position itself, "<created_at in microseconds
-- since 1970>_<id>": a cursor naming a row (as the transfers' did) stopped
-- the walk silently once that row was deleted (a code swept, a profile
-- deleted): its position could no longer be found. ztpd checks the form
-- before it gets here.
CREATE FUNCTION ztp_page_cursor(p_at timestamptz, p_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM p_at) * 1000000)::bigint::text || '_' || p_id::text
$$;
CREATE FUNCTION ztp_page_cursor_at(p_cursor text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'epoch'::timestamptz + (split_part(p_cursor, '_', 1) || ' microseconds')::interval
$$;
CREATE FUNCTION ztp_page_cursor_id(p_cursor text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT split_part(p_cursor, '_', 2)::uuid
$$;

-- The answer of a list: rows in order, one more than a page when more
-- follow (the caller reads p_limit + 1 of them).
CREATE TYPE ztp_page_row AS (at timestamptz, id uuid, item json);
CREATE FUNCTION ztp_page_body(p_rows ztp_page_row[], p_limit int) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(r.item ORDER BY r.n) FROM unnest(p_rows) WITH ORDINALITY r(at, id, item, n)
                           WHERE r.n <= p_limit), '[]'::json),
        'next_cursor', CASE WHEN cardinality(p_rows) > p_limit
                            THEN ztp_page_cursor(p_rows[p_limit].at, p_rows[p_limit].id) END)
$$;

CREATE FUNCTION ztp_codes_list(p_state text, p_after text, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT 200, ztp_page_body(ARRAY(
        SELECT ROW(c.created_at, c.id, json_build_object(
                   'id', c.id, 'last4', c.last4, 'profile_id', c.profile_id, 'mac', ztp_mac_text(c.mac),
                   'state', ztp_code_state(c), 'expires_at', ztp_time(c.expires_at),
                   'redeemed_at', ztp_time(c.redeemed_at), 'redeemed_by', ztp_mac_text(c.redeemed_by)))::ztp_page_row
        FROM activation_codes c
        WHERE c.provider_id = ztp_tenant() AND (p_state IS NULL OR ztp_code_state(c) = p_state)
          AND (p_after IS NULL OR (c.created_at, c.id) > (ztp_page_cursor_at(p_after), ztp_page_cursor_id(p_after)))
        ORDER BY c.created_at, c.id LIMIT p_limit + 1), p_limit)
$$;
GRANT EXECUTE ON FUNCTION ztp_codes_list(text, text, int) TO ztp_tenant;

-- GET /v1/transfers with the same cursor (0014's form, whose cursor was a
-- transfer's id, stays for the previous ztpd).
CREATE FUNCTION ztp_transfer_page(p_state text, p_after text, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT 200, ztp_page_body(ARRAY(
        SELECT ROW(t.created_at, t.id, ztp_transfer_head(t.id, t.last4, t.mac_count, t.expires_at, t.created_at,
                                                          t.cancelled_at, t.accepted_at, t.transferred))::ztp_page_row
        FROM transfers t
        WHERE t.provider_id = ztp_tenant()
          AND (p_state IS NULL OR ztp_transfer_state_of(t.accepted_at, t.cancelled_at, t.expires_at) = p_state)
          AND (p_after IS NULL OR (t.created_at, t.id) > (ztp_page_cursor_at(p_after), ztp_page_cursor_id(p_after)))
        ORDER BY t.created_at, t.id LIMIT p_limit + 1), p_limit)
$$;
GRANT EXECUTE ON FUNCTION ztp_transfer_page(text, text, int) TO ztp_tenant;
