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
