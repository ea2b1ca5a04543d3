-- Fleet operations: re-pointing many devices at once.

-- ---- re-point ---------------------------------------------------------

-- POST /v1/devices/repoint: the caller's devices matching every given filter
-- (NULL: no filter) get p_to. p_macs is comma-joined canonical MACs. Runs as
-- ztp_tenant: row-level security keeps it to the caller's devices, and the
-- (profile_id, provider_id) foreign key to the caller's profiles. Counted
-- first, then changed by one set-based UPDATE that writes only the rows
-- whose profile differs; nothing is locked beyond those rows.
CREATE FUNCTION ztp_devices_repoint(p_to uuid, p_from uuid, p_status text, p_macs text, p_dry_run boolean,
                                    OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    me uuid := ztp_tenant();
    macs macaddr[] := CASE WHEN p_macs IS NOT NULL THEN string_to_array(p_macs, ',')::macaddr[] END;
    errors json[] := '{}';
    n_matched bigint;
    n_changed bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_to AND provider_id = me) THEN
        errors := errors || json_build_object('field', 'to_profile_id', 'detail', 'no such profile');
    END IF;
    IF p_from IS NOT NULL AND NOT EXISTS (SELECT 1 FROM profiles WHERE id = p_from AND provider_id = me) THEN
        errors := errors || json_build_object('field', 'from_profile_id', 'detail', 'no such profile');
    END IF;
    IF cardinality(errors) > 0 THEN
        status := 422;
        body := json_build_object('detail', 'unknown profile', 'errors', to_json(errors));
        RETURN;
    END IF;
    SELECT count(*), count(*) FILTER (WHERE d.profile_id IS DISTINCT FROM p_to)
    INTO n_matched, n_changed
    FROM devices d
    WHERE d.provider_id = me
      AND (p_from IS NULL OR d.profile_id = p_from)
      AND (p_status IS NULL OR d.status = p_status)
      AND (macs IS NULL OR d.mac IN (SELECT unnest(macs)));
    IF NOT p_dry_run THEN
        UPDATE devices d SET profile_id = p_to
        WHERE d.provider_id = me
          AND (p_from IS NULL OR d.profile_id = p_from)
          AND (p_status IS NULL OR d.status = p_status)
          AND (macs IS NULL OR d.mac IN (SELECT unnest(macs)))
          AND d.profile_id IS DISTINCT FROM p_to;
        -- what was written, should a device have changed between the count and the update
        GET DIAGNOSTICS n_changed = ROW_COUNT;
        PERFORM ztp_audit('device.repoint', p_to::text, json_build_object(
            'matched', n_matched, 'changed', n_changed, 'from_profile_id', p_from, 'status', p_status,
            'macs', cardinality(macs))::jsonb);
    END IF;
    status := 200;
    body := json_build_object('matched', n_matched, 'changed', n_changed);
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
