-- POST /activate in batches: the redemptions a loop thread gathered in one
-- loop iteration go out as one statement (arrays in, one row per request
-- out, by ordinality), as contacts do. ztpd puts no MAC and no code twice
-- in one batch (a repeat waits for the next), so the requests of a batch
-- touch distinct rows and their order within it does not matter.
--
-- 16-digit codes are redeemed set-based, by the rules of 0006 and 0007
-- (ztp_redeem_code): their codes, then their devices, are locked first, in
-- a fixed order (so that concurrent batches, threads and processes queue on
-- the rows rather than deadlock, and exactly one redemption of a code wins:
-- a later one finds it redeemed), then each request gets its verdict from
-- what is committed, and every side effect of a binding (the device, its
-- contact, its event, the audit row, the code redeemed and so its webhook)
-- is one statement for the whole batch. Short codes, reusable and bounded
-- per profile and hour, are redeemed one by one (ztp_redeem_short).
-- p_kind: 'c' for a 16-digit code (p_code its hash, p_previous its hash
-- under the previous secret), 's' for a short code (p_code its digits).
CREATE TYPE ztp_redeem_row AS (ord int, mac macaddr, model text, certified boolean, code_id uuid,
                               provider_id uuid, profile_id uuid, verdict text, was text, nxt text);

CREATE FUNCTION ztp_redeem_batch(p_kind text[], p_code text[], p_previous text[], p_mac macaddr[],
                                 p_model text[], p_certified boolean[])
RETURNS TABLE (ord int, outcome text, profile_rule text, upgrade_rule text, params jsonb, model text,
               token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    verdicts ztp_redeem_row[];
BEGIN
    IF 'c' = ANY(p_kind) THEN
        PERFORM 1 FROM activation_codes c
        WHERE c.hash = ANY(ARRAY(SELECT decode(x.h, 'hex') FROM unnest(p_kind, p_code, p_previous) x(k, h, hp)
                                 WHERE x.k = 'c'
                                 UNION ALL
                                 SELECT decode(x.hp, 'hex') FROM unnest(p_kind, p_code, p_previous) x(k, h, hp)
                                 WHERE x.k = 'c' AND x.hp IS NOT NULL))
        ORDER BY c.id FOR UPDATE;
        PERFORM 1 FROM devices d
        WHERE d.mac = ANY(ARRAY(SELECT x.m FROM unnest(p_kind, p_mac) x(k, m) WHERE x.k = 'c'))
        ORDER BY d.mac FOR UPDATE;
        -- the verdicts, in the order of ztp_redeem_code's tests; 'again': the
        -- same phone asking after a lost answer, answered without a change
        SELECT array_agg(ROW(v.ord, v.mac, v.model, v.certified, v.code_id, v.provider_id, v.profile_id, v.verdict,
                             v.was, CASE WHEN v.verdict = 'bind' THEN ztp_next_status(v.was, 'redeem') END)::ztp_redeem_row)
        INTO verdicts
        FROM (
            SELECT r.ord::int AS ord, r.mac, r.model, r.certified, c.id AS code_id, c.provider_id, c.profile_id,
                   CASE WHEN c.id IS NULL THEN 'not_found'
                        WHEN NOT r.certified AND (coalesce(cp.require_certificate, false)
                                                  OR coalesce(dp.require_certificate, false)) THEN 'certificate'
                        WHEN c.redeemed_by IS NOT NULL THEN
                            CASE WHEN c.redeemed_by <> r.mac OR c.revoked_at IS NOT NULL
                                      OR d.provider_id IS DISTINCT FROM c.provider_id THEN 'gone'
                                 ELSE 'again' END
                        WHEN c.revoked_at IS NOT NULL OR c.expires_at <= now() THEN 'gone'
                        WHEN c.mac IS NOT NULL AND c.mac <> r.mac THEN 'forbidden'
                        WHEN d.provider_id IS NOT NULL AND d.provider_id <> c.provider_id THEN 'conflict'
                        ELSE 'bind' END AS verdict,
                   CASE WHEN d.provider_id = c.provider_id THEN d.status END AS was
            FROM unnest(p_kind, p_code, p_previous, p_mac, p_model, p_certified)
                 WITH ORDINALITY AS r(kind, code, previous, mac, model, certified, ord)
            LEFT JOIN LATERAL (
                SELECT * FROM activation_codes x
                WHERE x.hash = decode(r.code, 'hex') OR (r.previous IS NOT NULL AND x.hash = decode(r.previous, 'hex'))
                LIMIT 1) c ON true
            LEFT JOIN profiles cp ON cp.id = c.profile_id
            LEFT JOIN devices d ON d.mac = r.mac
            LEFT JOIN profiles dp ON dp.id = d.profile_id
            WHERE r.kind = 'c'
        ) v;

        -- ztp_bind_device for every binding: claimed or re-pointed (the
        -- trigger of 0006 clears an earlier owner's record), then counted as
        -- the phone's contact
        INSERT INTO devices AS x (mac, provider_id, profile_id, model, status, status_changed_at, created_at)
        SELECT b.mac, b.provider_id, b.profile_id, b.model, b.nxt, now(), now()
        FROM unnest(verdicts) b WHERE b.verdict = 'bind' ORDER BY b.mac
        ON CONFLICT (mac) DO UPDATE SET
            profile_id = excluded.profile_id,
            model = CASE WHEN x.provider_id IS NULL THEN excluded.model ELSE coalesce(excluded.model, x.model) END,
            serial = CASE WHEN x.provider_id IS NULL THEN NULL ELSE x.serial END,
            provider_id = excluded.provider_id, status = excluded.status,
            status_changed_at = CASE WHEN x.status <> excluded.status OR x.provider_id IS NULL THEN now()
                                     ELSE x.status_changed_at END;
        -- the contact, and (as 0007 after any answer but 'certificate') whether
        -- it was certified, for a device whose contact is of this transaction
        UPDATE devices d SET
            contacts = d.contacts + CASE WHEN b.verdict = 'bind' THEN 1 ELSE 0 END,
            last_contact_at = CASE WHEN b.verdict = 'bind' THEN now() ELSE d.last_contact_at END,
            last_contact_certified = b.certified
        FROM unnest(verdicts) b
        WHERE d.mac = b.mac AND (b.verdict = 'bind' OR (b.verdict <> 'certificate' AND d.last_contact_at = now()));
        INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
        SELECT b.mac, b.provider_id, b.was, b.nxt, 'activation_code'
        FROM unnest(verdicts) b WHERE b.verdict = 'bind' AND b.was IS DISTINCT FROM b.nxt ORDER BY b.ord;
        INSERT INTO audit_events (provider_id, key_id, action, target, detail)
        SELECT b.provider_id, NULL, 'device.activation_code', ztp_mac_text(b.mac),
               json_build_object('profile_id', b.profile_id)
        FROM unnest(verdicts) b WHERE b.verdict = 'bind' ORDER BY b.ord;
        UPDATE activation_codes c SET redeemed_at = now(), redeemed_by = b.mac
        FROM unnest(verdicts) b WHERE b.verdict = 'bind' AND c.id = b.code_id;

        RETURN QUERY
        SELECT b.ord, CASE WHEN b.verdict IN ('bind', 'again') THEN 'ok' ELSE b.verdict END,
               p.profile_rule, p.upgrade_rule, p.params,
               CASE WHEN p.id IS NOT NULL THEN (SELECT d.model FROM devices d WHERE d.mac = b.mac) END,
               encode(pr.url_token_key, 'hex')
        FROM unnest(verdicts) b
        LEFT JOIN profiles p ON p.id = b.profile_id AND b.verdict IN ('bind', 'again')
        LEFT JOIN providers pr ON pr.id = p.provider_id;
    END IF;
    FOR i IN 1 .. coalesce(cardinality(p_kind), 0) LOOP
        IF p_kind[i] = 's' THEN
            RETURN QUERY SELECT i, r.* FROM ztp_redeem_short(p_code[i], p_mac[i], p_model[i], p_certified[i]) r;
        END IF;
    END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION ztp_redeem_batch(text[], text[], text[], macaddr[], text[], boolean[])
    TO ztp_system, ztp_tenant;
