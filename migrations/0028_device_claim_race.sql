-- PUT /v1/devices/{mac} for a MAC nobody had seen locked nothing (no row to
-- lock), and its INSERT ... ON CONFLICT DO UPDATE took the row whoever had
-- inserted it in the meantime: two providers claiming the same new MAC at
-- once were both answered 201, and the device went to the last to commit
-- (28 of 30 tries in a helper's attack, two PUTs each). Now the conflict
-- takes the row only while nobody owns it; when another claim got there
-- first, the function looks again at the row that claim committed (each
-- statement sees what committed before it): 200 if the caller owns it now
-- (its own other request), 409 if another provider does.
CREATE OR REPLACE FUNCTION ztp_device_put(p_mac macaddr, p_fields jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := ztp_tenant();
    d devices%ROWTYPE;
    prof uuid;
    nxt text;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    IF p_fields ? 'profile_id' AND jsonb_typeof(p_fields->'profile_id') = 'string' THEN
        SELECT id INTO prof FROM profiles WHERE id = (p_fields->>'profile_id')::uuid AND provider_id = me;
        IF NOT FOUND THEN
            status := 422;
            body := json_build_object('detail', 'unknown profile', 'errors',
                        json_build_array(json_build_object('field', 'profile_id', 'detail', 'no such profile')));
            RETURN;
        END IF;
    END IF;
    -- twice at most: a claim that loses the race finds the winner's row locked or committed
    FOR attempt IN 1..2 LOOP
        SELECT * INTO d FROM devices WHERE mac = p_mac FOR UPDATE;
        IF FOUND AND d.provider_id = me THEN
            UPDATE devices SET
                profile_id = CASE WHEN p_fields ? 'profile_id' THEN prof ELSE profile_id END,
                model = CASE WHEN p_fields ? 'model' THEN p_fields->>'model' ELSE model END,
                serial = CASE WHEN p_fields ? 'serial' THEN p_fields->>'serial' ELSE serial END
            WHERE mac = p_mac RETURNING * INTO d;
            PERFORM ztp_audit('device.update', ztp_mac_text(p_mac), p_fields);
            status := 200;
            body := ztp_device_json(d);
            RETURN;
        END IF;
        IF FOUND AND d.provider_id IS NOT NULL THEN
            status := 409; body := json_build_object('detail', 'this MAC belongs to another provider'); RETURN;
        END IF;
        nxt := ztp_next_status(CASE WHEN FOUND THEN d.status END, 'claim');
        INSERT INTO devices AS x (mac, provider_id, profile_id, model, serial, status, status_changed_at, created_at)
        VALUES (p_mac, me, prof, p_fields->>'model', p_fields->>'serial', nxt, now(), now())
        ON CONFLICT (mac) DO UPDATE SET provider_id = me, profile_id = prof, model = p_fields->>'model',
            serial = p_fields->>'serial', status = nxt,
            status_changed_at = CASE WHEN x.status <> nxt THEN now() ELSE x.status_changed_at END,
            created_at = now()
        WHERE x.provider_id IS NULL
        RETURNING * INTO d;
        IF FOUND THEN
            PERFORM ztp_record_status(p_mac, me, NULL, nxt, 'claimed');
            PERFORM ztp_audit('device.claim', ztp_mac_text(p_mac), p_fields);
            status := 201;
            body := ztp_device_json(d);
            RETURN;
        END IF;
    END LOOP;
    -- not reached: the second look finds the row the conflict found
    RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = 'the device changed owner while being claimed';
END $$;
ALTER FUNCTION ztp_device_put(macaddr, jsonb) OWNER TO ztp_system;
