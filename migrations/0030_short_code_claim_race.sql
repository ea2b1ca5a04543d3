-- 0028 for the short codes: a phone redeeming a provider's short code for
-- a MAC nobody had seen locked nothing, and ztp_bind_device's INSERT ...
-- ON CONFLICT DO UPDATE took the row another claim had just inserted (a
-- PUT of another provider, answered 201, or another provider's short
-- code): both were told yes, the last to commit kept the device. Now the
-- conflict takes the row only while nobody else owns it; when another
-- provider got there first the redemption is refused (false: 'conflict'),
-- and when the same provider did, the second look finds its row and binds
-- it as its own (its status the one the event starts from).
CREATE OR REPLACE FUNCTION ztp_bind_device(p_mac macaddr, p_provider uuid, p_profile uuid, p_model text,
                                           p_cause text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    d devices%ROWTYPE;
    was text;
    nxt text;
BEGIN
    -- twice at most: a claim that loses the race finds the winner's row locked or committed
    FOR attempt IN 1..2 LOOP
        SELECT * INTO d FROM devices WHERE mac = p_mac FOR UPDATE;
        IF FOUND AND d.provider_id IS NOT NULL AND d.provider_id <> p_provider THEN
            RETURN false;
        END IF;
        was := CASE WHEN FOUND AND d.provider_id = p_provider THEN d.status END;
        nxt := ztp_next_status(was, 'redeem');
        INSERT INTO devices AS x (mac, provider_id, profile_id, model, status, status_changed_at, created_at)
        VALUES (p_mac, p_provider, p_profile, p_model, nxt, now(), now())
        ON CONFLICT (mac) DO UPDATE SET
            profile_id = p_profile,
            model = CASE WHEN x.provider_id IS NULL THEN p_model ELSE coalesce(p_model, x.model) END,
            serial = CASE WHEN x.provider_id IS NULL THEN NULL ELSE x.serial END,
            provider_id = p_provider, status = nxt,
            status_changed_at = CASE WHEN x.status <> nxt OR x.provider_id IS NULL THEN now()
                                     ELSE x.status_changed_at END
        -- the caller's own row only when the look above found it: else `was` is not its status
        WHERE x.provider_id IS NULL OR (x.provider_id = p_provider AND was IS NOT NULL);
        IF FOUND THEN
            UPDATE devices SET contacts = contacts + 1, last_contact_at = now() WHERE mac = p_mac;
            PERFORM ztp_record_status(p_mac, p_provider, was, nxt, p_cause);
            INSERT INTO audit_events (provider_id, key_id, action, target, detail)
            VALUES (p_provider, NULL, 'device.' || p_cause, ztp_mac_text(p_mac),
                    json_build_object('profile_id', p_profile));
            RETURN true;
        END IF;
    END LOOP;
    -- not reached: the second look finds the row the conflict found
    RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = 'the device changed owner while being bound';
END $$;

-- A short code's hourly claims were counted before the bind: a claim lost
-- to the race above spent one all the same. Counted once it is bound now
-- (the profile's row lock, taken before the count, is held until then).
CREATE OR REPLACE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    owner uuid;
    mac_hex text := ztp_mac_text(p_mac);
BEGIN
    SELECT * INTO p FROM profiles WHERE short_code = p_code;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('not_found'); RETURN;
    END IF;
    IF p.short_code_prefixes IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM unnest(p.short_code_prefixes) x WHERE starts_with(mac_hex, x)) THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('forbidden'); RETURN;
    END IF;
    SELECT d.provider_id INTO owner FROM devices d WHERE d.mac = p_mac FOR UPDATE;
    IF owner IS NOT NULL AND owner <> p.provider_id THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    IF owner IS NULL THEN
        IF p.short_code_hourly_claims = 0 THEN
            RETURN QUERY SELECT * FROM ztp_redeem_refusal('forbidden'); RETURN;
        END IF;
        -- one claim at a time per profile, so that the count holds under concurrency
        PERFORM 1 FROM profiles WHERE id = p.id FOR NO KEY UPDATE;
        DELETE FROM short_code_claims WHERE profile_id = p.id AND at <= now() - interval '1 hour';
        IF (SELECT count(*) FROM short_code_claims WHERE profile_id = p.id) >= p.short_code_hourly_claims THEN
            RETURN QUERY SELECT * FROM ztp_redeem_refusal('limited'); RETURN;
        END IF;
    END IF;
    IF NOT ztp_bind_device(p_mac, p.provider_id, p.id, p_model, 'short_code') THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    IF owner IS NULL THEN
        INSERT INTO short_code_claims (profile_id) VALUES (p.id);
    END IF;
    RETURN QUERY SELECT * FROM ztp_redeem_answer(p.id, p_mac);
END $$;
