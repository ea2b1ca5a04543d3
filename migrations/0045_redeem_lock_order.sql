-- Two ztpd processes redeeming at once, 16-digit codes and a provider's
-- short code mixed, could deadlock: a batch locks its 16-digit codes'
-- devices first, then, for each short code claiming a device nobody owned,
-- the short code's profile (0030: so that its hourly count holds); the
-- other batch, its short codes first, held that profile and waited for one
-- of those devices. PostgreSQL broke the cycle after deadlock_timeout, the
-- losing batch's redemptions went again one by one, and those whose second
-- try came more than a second after they arrived were answered 503
-- (make test saw it once: 5 of 8 phones of one process). A batch now locks
-- the profiles of its short codes before anything else, in id order, as
-- every claim then finds them; the rest is 0026's, unchanged.
CREATE OR REPLACE FUNCTION ztp_redeem_batch(p_kind text[], p_code text[], p_previous text[], p_mac macaddr[],
                                            p_model text[], p_certified boolean[])
RETURNS TABLE (ord int, outcome text, profile_rule text, upgrade_rule text, params jsonb, model text,
               token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    verdicts ztp_redeem_row[];
    others boolean; -- a request answered without a binding (nor refused for its certificate) names a
                    -- device whose contact is of this transaction
    answers ztp_redeem_answer[];
    reset boolean; -- some device bound changed owner (its record reset by the trigger of 0006/0025)
BEGIN
    -- the profiles of the batch's short codes first: a short code's claim locks its profile, after the devices
    -- of the 16-digit codes; two processes' batches took them in the other orders and deadlocked
    IF 's' = ANY(p_kind) THEN
        PERFORM 1 FROM profiles p
        WHERE p.short_code = ANY(ARRAY(SELECT x.c FROM unnest(p_kind, p_code) x(k, c) WHERE x.k = 's'))
        ORDER BY p.id FOR NO KEY UPDATE;
    END IF;
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
        SELECT array_agg(ROW(v.ord, v.mac, v.model, v.certified, v.code_id, v.provider_id, v.profile_id, v.verdict,
                             v.was, t.to_status)::ztp_redeem_row),
               coalesce(bool_or(v.verdict NOT IN ('bind', 'certificate') AND v.contacted_now), false)
        INTO verdicts, others
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
                   CASE WHEN d.provider_id = c.provider_id THEN d.status END AS was,
                   d.last_contact_at = now() AS contacted_now
            FROM unnest(p_kind, p_code, p_previous, p_mac, p_model, p_certified)
                 WITH ORDINALITY AS r(kind, code, previous, mac, model, certified, ord)
            LEFT JOIN LATERAL (
                SELECT * FROM activation_codes x
                WHERE x.hash = ANY (ARRAY[decode(r.code, 'hex'), decode(r.previous, 'hex')])
                LIMIT 1) c ON true
            LEFT JOIN profiles cp ON cp.id = c.profile_id
            LEFT JOIN devices d ON d.mac = r.mac
            LEFT JOIN profiles dp ON dp.id = d.profile_id
            WHERE r.kind = 'c'
        ) v
        LEFT JOIN status_transitions t ON v.verdict = 'bind' AND t.from_status = coalesce(v.was, 'none')
                                          AND t.event = 'redeem';

        -- 0007's rule: whether the contact was certified, for a device whose
        -- contact is of this transaction (never so for ztpd's batches, each a
        -- transaction of its own: failed guesses cost no statement here)
        IF others THEN
            UPDATE devices d SET last_contact_certified = b.certified
            FROM unnest(verdicts) b
            WHERE d.mac = b.mac AND b.verdict NOT IN ('bind', 'certificate') AND d.last_contact_at = now();
        END IF;
        -- the bindings: the device written once with its contact; an owner
        -- committed since the verdicts by another provider (the device was
        -- unknown, nothing to lock) is not overwritten: that request is
        -- answered 'conflict', as it would have been a moment later. The
        -- other side effects follow the rows written. (CTEs the SELECT does
        -- not read run last to first in PostgreSQL 15, whose documentation
        -- leaves the order open: the events, then the audit rows, then the
        -- codes, so that their webhooks keep 0017's order.)
        WITH bound AS (
            INSERT INTO devices AS x (mac, provider_id, profile_id, model, status, status_changed_at, created_at,
                                      contacts, last_contact_at, last_contact_certified)
            SELECT b.mac, b.provider_id, b.profile_id, b.model, b.nxt, now(), now(), 1, now(), b.certified
            FROM unnest(verdicts) b WHERE b.verdict = 'bind' ORDER BY b.mac
            ON CONFLICT (mac) DO UPDATE SET
                profile_id = excluded.profile_id,
                model = CASE WHEN x.provider_id IS NULL THEN excluded.model ELSE coalesce(excluded.model, x.model) END,
                serial = CASE WHEN x.provider_id IS NULL THEN NULL ELSE x.serial END,
                provider_id = excluded.provider_id, status = excluded.status,
                status_changed_at = CASE WHEN x.status <> excluded.status OR x.provider_id IS NULL THEN now()
                                         ELSE x.status_changed_at END,
                contacts = x.contacts + 1, last_contact_at = now(),
                last_contact_certified = excluded.last_contact_certified
            WHERE x.provider_id IS NULL OR x.provider_id = excluded.provider_id
            RETURNING x.mac, x.model, x.contacts
        ), w AS (
            SELECT b.* FROM unnest(verdicts) b JOIN bound n ON n.mac = b.mac AND b.verdict = 'bind'
        ), redeemed AS (
            UPDATE activation_codes c SET redeemed_at = now(), redeemed_by = w.mac
            FROM w WHERE c.id = w.code_id
        ), audit AS (
            INSERT INTO audit_events (provider_id, key_id, action, target, detail)
            SELECT w.provider_id, NULL, 'device.activation_code', ztp_mac_text(w.mac),
                   json_build_object('profile_id', w.profile_id)
            FROM w ORDER BY w.ord
        ), events AS (
            INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
            SELECT w.mac, w.provider_id, w.was, w.nxt, 'activation_code'
            FROM w WHERE w.was IS DISTINCT FROM w.nxt ORDER BY w.ord
        )
        -- the answers, in the same statement (a binding's model is the one
        -- written; a repeat's device is not written by it)
        SELECT array_agg(ROW(b.ord,
                             CASE WHEN b.verdict = 'bind' AND n.mac IS NULL THEN 'conflict'
                                  WHEN b.verdict IN ('bind', 'again') THEN 'ok' ELSE b.verdict END,
                             p.profile_rule, p.upgrade_rule, p.params,
                             CASE WHEN p.id IS NULL THEN NULL WHEN b.verdict = 'bind' THEN n.model
                                  ELSE (SELECT d.model FROM devices d WHERE d.mac = b.mac) END,
                             encode(pr.url_token_key, 'hex'))::ztp_redeem_answer),
               coalesce(bool_or(n.contacts = 0), false)
        INTO answers, reset
        FROM unnest(verdicts) b
        LEFT JOIN bound n ON n.mac = b.mac AND b.verdict = 'bind'
        LEFT JOIN profiles p ON p.id = b.profile_id
                                AND (b.verdict = 'again' OR (b.verdict = 'bind' AND n.mac IS NOT NULL))
        LEFT JOIN providers pr ON pr.id = p.provider_id;
        -- a device that changed owner had its record reset by the trigger,
        -- the contact above with it: counted now
        IF reset THEN
            UPDATE devices d SET contacts = 1, last_contact_at = now(), last_contact_certified = b.certified
            FROM unnest(verdicts) b
            WHERE d.mac = b.mac AND b.verdict = 'bind' AND d.contacts = 0 AND d.provider_id = b.provider_id;
        END IF;
        RETURN QUERY SELECT * FROM unnest(answers);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(p_kind), 0) LOOP
        IF p_kind[i] = 's' THEN
            RETURN QUERY SELECT i, r.* FROM ztp_redeem_short(p_code[i], p_mac[i], p_model[i], p_certified[i]) r;
        END IF;
    END LOOP;
END $$;
