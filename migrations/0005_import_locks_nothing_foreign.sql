-- Imports lock no device of another provider. The import used to lock
-- every device it named (FOR UPDATE) for the whole transaction, so that a
-- dry run naming another provider's MAC held that provider's phone waiting
-- until the import ended. Owners are only read now: a device owned elsewhere
-- is a conflict whatever happens to it meanwhile; one nobody owned that is
-- claimed meanwhile makes the claim count come out short, which already
-- raises a serialization failure (the import is run again); the caller's
-- own devices are locked by the final UPDATE alone, for the rest of its
-- transaction.

CREATE OR REPLACE FUNCTION ztp_devices_import(p_macs text, p_profiles text, p_profile_ids text, p_models text,
                                   p_serials text, p_lines text, p_has_profile boolean, p_has_model boolean,
                                   p_has_serial boolean, p_dry_run boolean, p_skip boolean,
                                   OUT status int, OUT body json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    me uuid := ztp_tenant();
    n_created bigint;
    n_updated bigint;
    n_skipped bigint := 0;
    conflicts json;
    errors json;
    n_errors bigint;
    n_conflicts bigint;
    n_claimed bigint;
BEGIN
    IF me IS NULL THEN RAISE EXCEPTION 'no tenant'; END IF;
    CREATE TEMP TABLE import_raw ON COMMIT DROP AS
    SELECT t.mac::macaddr AS mac, nullif(t.pname, '') AS profile_name, nullif(t.pid, '')::uuid AS profile_in,
           nullif(t.model, '') AS model, nullif(t.serial, '') AS serial, t.line::int AS line
    FROM unnest(string_to_array(p_macs, E'\n'), string_to_array(p_profiles, E'\n'),
                string_to_array(p_profile_ids, E'\n'), string_to_array(p_models, E'\n'),
                string_to_array(p_serials, E'\n'), string_to_array(p_lines, E'\n'))
         AS t(mac, pname, pid, model, serial, line);
    -- one pass: profiles resolved, owners found, repeated MACs marked
    CREATE TEMP TABLE import_rows ON COMMIT DROP AS
    SELECT r.*, coalesce(pn.id, pi.id) AS profile_id, d.provider_id AS owner,
           row_number() OVER (PARTITION BY r.mac ORDER BY r.line) > 1 AS dup
    FROM import_raw r
         LEFT JOIN profiles pn ON pn.provider_id = me AND pn.name = r.profile_name
         LEFT JOIN profiles pi ON pi.provider_id = me AND pi.id = r.profile_in
         LEFT JOIN devices d ON d.mac = r.mac;
    ANALYZE import_rows;

    SELECT count(*), coalesce(json_agg(e ORDER BY (e->>'line')::int), '[]'::json) INTO n_errors, errors FROM (
        SELECT json_build_object('line', line, 'detail',
                   CASE WHEN dup THEN format('%s appears on an earlier line', ztp_mac_text(mac))
                        WHEN profile_name IS NOT NULL THEN format('no profile named "%s"', profile_name)
                        ELSE 'no such profile_id' END) AS e
        FROM import_rows
        WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL)
        ORDER BY line LIMIT 1000) x;
    IF n_errors = 1000 THEN
        SELECT count(*) INTO n_errors FROM import_rows
        WHERE dup OR ((profile_name IS NOT NULL OR profile_in IS NOT NULL) AND profile_id IS NULL);
    END IF;
    -- like errors, the list stops at 1000 entries; the detail gives the count
    SELECT count(*) INTO n_conflicts FROM import_rows WHERE owner IS NOT NULL AND owner <> me AND NOT dup;
    SELECT coalesce(json_agg(ztp_mac_text(mac) ORDER BY line), '[]'::json) INTO conflicts
    FROM (SELECT mac, line FROM import_rows WHERE owner IS NOT NULL AND owner <> me AND NOT dup
          ORDER BY line LIMIT 1000) c;
    SELECT count(*) FILTER (WHERE owner IS NULL), count(*) FILTER (WHERE owner = me)
    INTO n_created, n_updated FROM import_rows WHERE NOT dup;
    IF p_skip THEN
        n_skipped := n_conflicts;
    END IF;
    body := json_build_object('created', n_created, 'updated', n_updated, 'skipped', n_skipped,
                              'conflicts', conflicts, 'errors', errors);
    IF n_errors > 0 OR (n_conflicts > 0 AND NOT p_skip) THEN
        status := 422;
        body := json_build_object('detail', CASE WHEN n_errors > 0
                    THEN format('%s rows have errors; nothing was applied', n_errors)
                    ELSE format('%s devices belong to another provider; nothing was applied', n_conflicts) END,
                    'created', n_created, 'updated', n_updated, 'skipped', n_skipped,
                    'conflicts', conflicts, 'errors', errors);
        RETURN;
    END IF;
    status := 200;
    IF p_dry_run THEN
        RETURN;
    END IF;

    -- new devices, and known ones nobody owns: claimed, status open
    WITH claimed AS (
        INSERT INTO devices AS x (mac, provider_id, profile_id, model, serial, status, status_changed_at, created_at)
        SELECT mac, me, profile_id, model, serial, ztp_next_status(NULL, 'claim'), now(), now()
        FROM import_rows WHERE owner IS NULL AND NOT dup
        ON CONFLICT (mac) DO UPDATE SET provider_id = me, profile_id = excluded.profile_id,
            model = excluded.model, serial = excluded.serial, status = excluded.status,
            status_changed_at = now(), created_at = now()
        WHERE x.provider_id IS NULL
        RETURNING x.mac, x.status
    )
    INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)
    SELECT c.mac, me, NULL, c.status, 'imported' FROM claimed c;
    GET DIAGNOSTICS n_claimed = ROW_COUNT;
    IF n_claimed <> n_created THEN
        -- another provider claimed one of these MACs meanwhile: run it all again
        RAISE EXCEPTION 'import raced with a claim' USING ERRCODE = 'serialization_failure';
    END IF;
    -- the caller's own devices: only the columns the import carries
    UPDATE devices d SET
        profile_id = CASE WHEN p_has_profile THEN r.profile_id ELSE d.profile_id END,
        model = CASE WHEN p_has_model THEN r.model ELSE d.model END,
        serial = CASE WHEN p_has_serial THEN r.serial ELSE d.serial END
    FROM import_rows r WHERE d.mac = r.mac AND r.owner = me AND NOT r.dup AND d.provider_id = me;
    PERFORM ztp_audit('device.import', NULL, json_build_object('created', n_created, 'updated', n_updated,
                                                               'skipped', n_skipped)::jsonb);
END $$;
