-- Redirect batches without a join on profiles: each ztpd thread keeps the
-- profiles' answers, rendered once, and learns of changes from an epoch
-- that every batch reads in its own snapshot (redirect/profcache.c). Every
-- change of a profile, or of a provider's URL token key, commits a new one.
CREATE TABLE profile_epoch (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    epoch bigint NOT NULL
);
INSERT INTO profile_epoch VALUES (true, 1);
GRANT SELECT, UPDATE ON profile_epoch TO ztp_system;

CREATE FUNCTION ztp_trg_profile_epoch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    UPDATE profile_epoch SET epoch = epoch + 1;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_profile_epoch() OWNER TO ztp_system;

-- A profile created is new to every cache: only changes and deletions count.
CREATE TRIGGER profiles_epoch AFTER UPDATE OR DELETE ON profiles
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_profile_epoch();
CREATE TRIGGER providers_epoch AFTER UPDATE OF url_token_key OR DELETE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_profile_epoch();
