-- 0037 answered a short code redeemed again for the device it had bound
-- with nothing written, whatever the device's status: a phone reset to its
-- factory settings after it reached its provider (acquired) or was set up
-- another way (aborted), whose user types the short code again, was
-- answered but stayed acquired, without an event. The contract: such a
-- phone "is answered like any other and moves on from there", and a code
-- redeemed for it moves it to custom_pending. A repeat now writes nothing
-- only while the redemption would not change the status (custom_pending
-- stays custom_pending); otherwise the device is bound again, with its
-- event and audit row. Repeats still cost nothing until the status moves
-- away (the provider reporting it acquired, say): a stranger knowing the
-- code and a MAC can move a device back as often as that happens, as a
-- /redirect of that MAC does.
CREATE OR REPLACE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    owner uuid;
    bound uuid;
    cur text;
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
    SELECT d.provider_id, d.profile_id, d.status INTO owner, bound, cur FROM devices d WHERE d.mac = p_mac FOR UPDATE;
    IF owner IS NOT NULL AND owner <> p.provider_id THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('conflict'); RETURN;
    END IF;
    IF owner = p.provider_id AND bound = p.id AND cur = ztp_next_status(cur, 'redeem') THEN
        -- a repeat: this device answers with this profile already, in the status a redemption leaves
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
