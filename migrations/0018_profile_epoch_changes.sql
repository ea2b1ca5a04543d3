-- The profile epoch (0016) moves only when a statement changed a row: a
-- PATCH or DELETE of a profile that does not exist (a 404), or an update of
-- a provider that leaves its URL token key alone, used to empty every
-- ztpd thread's profile cache all the same, on a request any API key can
-- repeat. PostgreSQL allows transition tables only on triggers of one event
-- without a column list, hence one trigger per event.
DROP TRIGGER profiles_epoch ON profiles;
DROP TRIGGER providers_epoch ON providers;

CREATE FUNCTION ztp_trg_profile_epoch_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows) THEN
        UPDATE profile_epoch SET epoch = epoch + 1;
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_profile_epoch_rows() OWNER TO ztp_system;

CREATE FUNCTION ztp_trg_token_key_epoch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
               WHERE n.url_token_key IS DISTINCT FROM o.url_token_key) THEN
        UPDATE profile_epoch SET epoch = epoch + 1;
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_token_key_epoch() OWNER TO ztp_system;

-- A profile created is new to every cache: only changes and deletions count.
CREATE TRIGGER profiles_epoch_update AFTER UPDATE ON profiles REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_profile_epoch_rows();
CREATE TRIGGER profiles_epoch_delete AFTER DELETE ON profiles REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_profile_epoch_rows();
CREATE TRIGGER providers_epoch_update AFTER UPDATE ON providers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_token_key_epoch();
CREATE TRIGGER providers_epoch_delete AFTER DELETE ON providers REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_profile_epoch_rows();

DROP FUNCTION ztp_trg_profile_epoch();
