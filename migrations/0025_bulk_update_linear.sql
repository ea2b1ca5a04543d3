-- An UPDATE of many devices took time quadratic in its rows: 0022's
-- statistics trigger asked whether any row changed owner with an EXISTS
-- over the join of its two transition tables, which PostgreSQL plans for
-- the first match, as a nested loop; when no row moved (a status change
-- of a fleet, a re-point) it compared every row with every other: 4,000
-- rows took 2.4 s, 16,000 took 37 s, a million would take days.
--
-- The row trigger of owner changes (0006, 0014: it resets what the phone
-- recorded under the earlier owner) now also sets a flag for the rest of
-- the transaction, on releases too; without it no row moved and the check
-- is skipped (every redirect batch skips it). The owner check below depends
-- on it: the row trigger sets it on every owner change, and only SQL that
-- sets the variable itself, in the same statement, could clear it (no
-- path of ztpd does; tenants cannot move devices by hand, RLS refuses). And the
-- trigger's joins of its transition tables may not be nested loops:
-- plpgsql keeps the plan made for the first statement of the session, often
-- of a row or two, and uses it for a statement of a million (a count
-- instead of the EXISTS was still a nested loop after a one-row claim).
--
-- The owner change is checked by that statement trigger too, at the end of
-- the statement like an INSERT's (0020), no longer by a row trigger of its
-- own: a claim of 100,000 devices took 15.4 s, 11 s of it in that trigger;
-- now 4.4 s (2.4 s without any trigger). Known cost of the later lock: a
-- statement that moves devices to q and also updates a device q owns can
-- deadlock with a deletion of q arriving between the two (ztpd retries
-- 40P01); before, the lock came with the first moved row.
CREATE OR REPLACE FUNCTION ztp_device_new_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ztp.devices_moved', 'on', true);
    IF NEW.provider_id IS NULL THEN
        RETURN NEW; -- released: what the owner recorded stays until the next claims it
    END IF;
    NEW.contacts := 0;
    NEW.last_contact_at := NULL;
    NEW.last_contact_certified := false;
    NEW.last_addr := NULL;
    NEW.user_agent := NULL;
    NEW.ua_vendor := NULL;
    NEW.ua_model := NULL;
    NEW.ua_firmware := NULL;
    NEW.previous_status := NULL;
    NEW.created_at := now();
    RETURN NEW;
END $$;
DROP TRIGGER devices_new_owner ON devices;
CREATE TRIGGER devices_new_owner BEFORE UPDATE OF provider_id ON devices FOR EACH ROW
    WHEN (NEW.provider_id IS DISTINCT FROM OLD.provider_id)
    EXECUTE FUNCTION ztp_device_new_owner();
DROP TRIGGER devices_owner_changed ON devices;
DROP FUNCTION ztp_trg_devices_owner_changed();

CREATE OR REPLACE FUNCTION ztp_trg_devices_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET enable_nestloop = off AS $$
DECLARE
    sp uuid[];
    ss text[];
    sd bigint[];
    hp uuid[];
    hc bigint[];
    moved boolean;
    counted boolean; -- some entry is not zero
BEGIN
    SELECT array_agg(provider_id), array_agg(status), array_agg(d), array_agg(c), bool_or(d <> 0 OR c <> 0)
    INTO sp, ss, sd, hc, counted
    FROM (SELECT provider_id, status, sum(d) AS d, sum(c) AS c FROM (
              SELECT provider_id, status, -1 AS d, -contacts AS c FROM old_rows WHERE provider_id IS NOT NULL
              UNION ALL
              SELECT provider_id, status, 1, contacts FROM new_rows WHERE provider_id IS NOT NULL) u
          GROUP BY 1, 2) x;
    hp := sp;
    -- no row can have moved unless the flag is set
    -- (an IF: as one expression with AND, the unneeded join still cost its
    -- executor's setup, 50 us a batch)
    moved := false;
    IF current_setting('ztp.devices_moved', true) = 'on' THEN
        -- the new owners exist, and stay until commit (0020's check, once per
        -- statement: per row it was three quarters of a claim's time); every
        -- owner of the new rows, as a statement changing a MAC with its owner
        -- escapes the join on the MAC below
        PERFORM ztp_providers_hold(ARRAY(SELECT DISTINCT provider_id FROM new_rows WHERE provider_id IS NOT NULL));
        moved := (SELECT count(*) FROM new_rows n JOIN old_rows o ON o.mac = n.mac
                  WHERE n.provider_id IS DISTINCT FROM o.provider_id) > 0;
    END IF;
    IF moved THEN
        SELECT array_agg(m.provider_id), array_agg(m.c) INTO hp, hc
        FROM (SELECT n.provider_id, sum(n.contacts - o.contacts) AS c
              FROM new_rows n JOIN old_rows o ON o.mac = n.mac
              WHERE n.provider_id IS NOT NULL AND n.contacts > o.contacts GROUP BY 1) m;
    END IF;
    IF counted THEN
        INSERT INTO device_stat_batches (hour, s_provider, s_status, s_delta, h_provider, h_contacts)
        VALUES (date_trunc('hour', now()), coalesce(sp, '{}'), coalesce(ss, '{}'), coalesce(sd, '{}'),
                coalesce(hp, '{}'), coalesce(hc, '{}'));
    END IF;
    IF moved AND EXISTS (SELECT 1 FROM webhooks WHERE events && ARRAY['device.claimed', 'device.released']) THEN
        PERFORM ztp_webhook_emit_many('device.released', array_agg(o.provider_id ORDER BY o.mac),
            array_agg(jsonb_build_object('mac', ztp_mac_text(o.mac)) ORDER BY o.mac))
        FROM old_rows o JOIN new_rows n ON n.mac = o.mac
        WHERE o.provider_id IS NOT NULL AND o.provider_id IS DISTINCT FROM n.provider_id HAVING count(*) > 0;
        PERFORM ztp_webhook_emit_many('device.claimed', array_agg(n.provider_id ORDER BY n.mac),
            array_agg(jsonb_build_object('mac', ztp_mac_text(n.mac), 'profile_id', n.profile_id) ORDER BY n.mac))
        FROM old_rows o JOIN new_rows n ON n.mac = o.mac
        WHERE n.provider_id IS NOT NULL AND o.provider_id IS DISTINCT FROM n.provider_id HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

-- The same pattern on providers (0018), bounded by the number of providers.
CREATE OR REPLACE FUNCTION ztp_trg_token_key_epoch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET enable_nestloop = off AS $$
BEGIN
    IF (SELECT count(*) FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.url_token_key IS DISTINCT FROM o.url_token_key) > 0 THEN
        UPDATE profile_epoch SET epoch = epoch + 1;
    END IF;
    RETURN NULL;
END $$;
