-- A short code redeemed again for a device it had bound already (a phone
-- asking twice, or anyone who knows the code and a MAC it serves) bound it
-- again: a device write, an event and an audit row each time, with no bound
-- (the hourly claims count devices nobody owned, and a success gives its
-- slot back to the activation limiter): an audit of the tables saw 1,000 of
-- 1,000 such requests succeed from one connection in 0.7 s, 1,000 audit rows
-- and 1.1 MB of WAL. Such a repeat is now answered as an activation code's
-- is, with the answer and nothing written.
CREATE OR REPLACE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    owner uuid;
    bound uuid;
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
    SELECT d.provider_id, d.profile_id INTO owner, bound FROM devices d WHERE d.mac = p_mac FOR UPDATE;
    IF owner IS NOT NULL AND owner <> p.provider_id THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    IF owner = p.provider_id AND bound = p.id THEN
        -- a repeat: this device answers with this profile already
        RETURN QUERY SELECT * FROM ztp_redeem_answer(p.id, p_mac); RETURN;
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
