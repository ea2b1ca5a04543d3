-- Idempotency-Key: the first answer of a (provider, route, key) is kept for
-- 24 hours. Activation codes are never stored: the row keeps the random
-- nonce the codes were derived from (under ZTP_SECRET), so a replay derives
-- the same codes again.
ALTER TABLE idempotency_keys ADD COLUMN nonce text;

CREATE FUNCTION ztp_idem_lookup(p_route text, p_key text, p_hash text, OUT state text, OUT status int,
                                OUT body text, OUT nonce text)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN i.body_hash = decode(p_hash, 'hex') THEN 'replay' ELSE 'mismatch' END, i.status, i.response,
           i.nonce
    FROM idempotency_keys i
    WHERE i.provider_id = ztp_tenant() AND i.route = p_route AND i.key = p_key
      AND i.created_at > now() - interval '24 hours'
$$;

-- Keeps an answer (nothing without a key); a fresh row for the same key means a concurrent request
-- won: this one then fails with SQLSTATE ZTIDM and rolls back.
CREATE FUNCTION ztp_idem_store(p_route text, p_key text, p_hash text, p_nonce text, p_status int, p_body json)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_key IS NULL OR p_status >= 400 THEN
        RETURN; -- refusals are not kept: the client may fix the cause and retry with the same key
    END IF;
    INSERT INTO idempotency_keys AS i (provider_id, key, route, body_hash, status, response, nonce)
    VALUES (ztp_tenant(), p_key, p_route, decode(p_hash, 'hex'), p_status, p_body::text, p_nonce)
    ON CONFLICT (provider_id, route, key) DO UPDATE
        SET body_hash = excluded.body_hash, status = excluded.status, response = excluded.response,
            nonce = excluded.nonce, created_at = now()
        WHERE i.created_at <= now() - interval '24 hours';
    IF NOT FOUND THEN
        -- a SQLSTATE of our own (class ZT): ztpd answers it 409
        RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'ZTIDM';
    END IF;
END $$;

CREATE FUNCTION ztp_idem_sweep() RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours' RETURNING 1)
    SELECT count(*) FROM gone
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
