-- A device's owner is checked once per statement, not once per row.
--
-- The foreign key devices.provider_id -> providers ran a query of its own
-- and locked the provider's row for every inserted device: importing a
-- million devices looked up the same provider a million times, a third of
-- the insert (17.2 s without it, 25.9 s with it, for 1M rows into the bench
-- machine's devices table; `tests/bench/bench.py` with ZTP_BENCH_ONLY=imports).
-- The same rule is kept by triggers, with the same locks:
--   * an INSERT checks the distinct owners of all its rows at the end of the
--     statement (where the foreign key's checks ran too), holding each
--     provider's row FOR KEY SHARE until commit, so a provider cannot be
--     deleted under devices not yet committed;
--   * an UPDATE that changes the owner checks it per row, in the trigger
--     that already runs on every owner change (claims and transfers move few
--     rows at a time; a contact never changes the owner and pays nothing);
--   * deleting a provider releases its devices (owner and profile NULL),
--     where the foreign key's ON DELETE SET NULL left the profile and failed
--     on the devices table's own CHECK; changing the id of a provider that
--     owns devices is refused (as the key's NO ACTION did).
-- The functions belong to ztp_system, like every definer of ours: its
-- policies see every provider and device whatever role ran the migration
-- (a table owner that is not a superuser is bound by the forced RLS).
ALTER TABLE devices DROP CONSTRAINT devices_provider_id_fkey;

-- Locks the providers named in p_ids (NULLs ignored) FOR KEY SHARE, in id
-- order; raises foreign_key_violation when one does not exist.
CREATE FUNCTION ztp_providers_hold(p_ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    SELECT count(DISTINCT x) INTO wanted FROM unnest(p_ids) x WHERE x IS NOT NULL;
    IF wanted = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM providers WHERE id = ANY (p_ids) ORDER BY id FOR KEY SHARE;
    GET DIAGNOSTICS held = ROW_COUNT;
    IF held < wanted THEN
        RAISE EXCEPTION 'a device''s owner must be a provider'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'devices', COLUMN = 'provider_id';
    END IF;
END $$;
ALTER FUNCTION ztp_providers_hold(uuid[]) OWNER TO ztp_system;
REVOKE ALL ON FUNCTION ztp_providers_hold(uuid[]) FROM PUBLIC;

CREATE FUNCTION ztp_trg_devices_owner_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM ztp_providers_hold(ARRAY(SELECT DISTINCT provider_id FROM new_rows WHERE provider_id IS NOT NULL));
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_devices_owner_inserted() OWNER TO ztp_system;
CREATE TRIGGER devices_owner_inserted AFTER INSERT ON devices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_devices_owner_inserted();

-- The owner-change trigger (0006, 0014) runs as whoever changes the owner;
-- the check runs as this file's owner, who may lock providers.
CREATE FUNCTION ztp_trg_devices_owner_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM ztp_providers_hold(ARRAY[NEW.provider_id]);
    RETURN NEW;
END $$;
ALTER FUNCTION ztp_trg_devices_owner_changed() OWNER TO ztp_system;
CREATE TRIGGER devices_owner_changed BEFORE UPDATE OF provider_id ON devices FOR EACH ROW
    WHEN (NEW.provider_id IS NOT NULL AND NEW.provider_id IS DISTINCT FROM OLD.provider_id)
    EXECUTE FUNCTION ztp_trg_devices_owner_changed();

-- Before the provider's row goes (its profiles go with it, by their own
-- foreign key, and devices may not point at them); and its id stays while
-- it owns devices.
CREATE FUNCTION ztp_trg_providers_release() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF EXISTS (SELECT 1 FROM devices WHERE provider_id = OLD.id) THEN
            RAISE EXCEPTION 'a provider that owns devices keeps its id'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'devices', COLUMN = 'provider_id';
        END IF;
        RETURN NEW;
    END IF;
    UPDATE devices SET provider_id = NULL, profile_id = NULL WHERE provider_id = OLD.id;
    RETURN OLD;
END $$;
ALTER FUNCTION ztp_trg_providers_release() OWNER TO ztp_system;
CREATE TRIGGER providers_release BEFORE DELETE ON providers FOR EACH ROW
    EXECUTE FUNCTION ztp_trg_providers_release();
CREATE TRIGGER providers_keep_id BEFORE UPDATE OF id ON providers FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ztp_trg_providers_release();
