-- Device certificates (mutual TLS): profiles whose devices are answered only
-- when they prove their MAC with a manufacturer's certificate, and whether a
-- device's last contact came with one.
--
-- The functions of the earlier migrations that render or change profiles and
-- devices are wrapped, not copied (renamed to *_fields, called from the new
-- ones): whatever other fields those functions learn, these add their own.

ALTER TABLE devices ADD COLUMN last_contact_certified boolean NOT NULL DEFAULT false;
ALTER TABLE profiles ADD COLUMN require_certificate boolean NOT NULL DEFAULT false;
-- read once per batch of phone contacts: usually empty, always small
CREATE INDEX profiles_require_certificate ON profiles (id) WHERE require_certificate;

-- The first parameter name that looks like it carries a secret, or NULL. A
-- profile with one must require a certificate: a secret is never handed to
-- whoever can count MACs.
CREATE FUNCTION ztp_secret_param(p_params jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT min(k) FROM jsonb_object_keys(CASE WHEN jsonb_typeof(p_params) = 'object' THEN p_params
                                              ELSE '{}' END) k
    WHERE k ~* '(passw|pwd|secret|token)'
$$;

-- Profiles that already hand out such secrets stop doing so to phones
-- without a certificate; their providers see why in their audit trail.
WITH fixed AS (
    UPDATE profiles SET require_certificate = true WHERE ztp_secret_param(params) IS NOT NULL
    RETURNING id, provider_id
)
INSERT INTO audit_events (provider_id, action, target, detail)
SELECT provider_id, 'profile.update', id::text, '{"require_certificate": true, "by": "migration"}' FROM fixed;

-- The invariant, checked at commit whatever path changed the row; the API
-- functions below check it themselves first and answer 422 at the field.
CREATE FUNCTION ztp_profile_secret_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM profiles p WHERE p.id = NEW.id AND NOT p.require_certificate
                                          AND ztp_secret_param(p.params) IS NOT NULL) THEN
        RAISE EXCEPTION 'profile % carries a secret parameter without requiring a certificate', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'profiles_secret_needs_certificate';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER profiles_secret_needs_certificate
    AFTER INSERT OR UPDATE OF params, require_certificate ON profiles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ztp_profile_secret_check();

-- Adds one member at the end of a JSON object, keeping the order of the rest.
CREATE FUNCTION ztp_json_with(p_object json, p_key text, p_value json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT (left(p_object::text, -1) || ', ' || to_json(p_key)::text || ' : ' || p_value::text || '}')::json
$$;

ALTER FUNCTION ztp_profile_json(profiles) RENAME TO ztp_profile_json_fields;
CREATE FUNCTION ztp_profile_json(p profiles) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT ztp_json_with(ztp_profile_json_fields(p), 'require_certificate', to_json(p.require_certificate))
$$;

-- "certificate": whether the last contact came with a verified certificate
-- naming the device (none before its first contact, or since an owner change).
ALTER FUNCTION ztp_device_json(devices) RENAME TO ztp_device_json_fields;
CREATE FUNCTION ztp_device_json(d devices) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT ztp_json_with(ztp_device_json_fields(d), 'certificate',
                         to_json(d.last_contact_at IS NOT NULL AND d.last_contact_certified))
$$;

-- Sets require_certificate (NULL: leaves it) on a profile just created or
-- changed in this transaction and answers it; raises check_violation, which
-- the callers turn into a 422, when a secret parameter would go out
-- without a certificate.
CREATE FUNCTION ztp_profile_certify(p_id uuid, p_require boolean, OUT body json) LANGUAGE plpgsql AS $$
DECLARE
    p profiles%ROWTYPE;
    secret text;
BEGIN
    UPDATE profiles SET require_certificate = coalesce(p_require, require_certificate) WHERE id = p_id
    RETURNING * INTO p;
    secret := ztp_secret_param(p.params);
    IF secret IS NOT NULL AND NOT p.require_certificate THEN
        RAISE EXCEPTION 'secret parameter without a certificate'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'profiles_secret_needs_certificate', DETAIL = secret;
    END IF;
    body := ztp_profile_json(p);
END $$;

-- The 422 of a secret parameter in a profile that does not require a certificate.
CREATE FUNCTION ztp_profile_secret_problem(p_param text) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('detail', 'a profile whose params carry a secret must require a certificate',
        'errors', json_build_array(json_build_object('field', 'params.' || p_param, 'detail',
            'names containing passw, pwd, secret or token need "require_certificate": true')))
$$;

-- 0006's create, which takes the fields beyond the first five as p_more,
-- wrapped: p_more->'require_certificate' (absent or null: false) is set on
-- the profile it made.
ALTER FUNCTION ztp_profile_create(text, text, text, text, jsonb, jsonb) RENAME TO ztp_profile_create_fields;
CREATE FUNCTION ztp_profile_create(p_name text, p_rule text, p_upgrade text, p_short text, p_params jsonb,
                                   p_more jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    constraint_name text;
    secret text;
BEGIN
    SELECT c.status, c.body INTO status, body
    FROM ztp_profile_create_fields(p_name, p_rule, p_upgrade, p_short, p_params, p_more) c;
    IF status = 201 THEN
        body := ztp_profile_certify((body->>'id')::uuid, (p_more->>'require_certificate')::boolean);
    END IF;
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME, secret = PG_EXCEPTION_DETAIL;
    IF constraint_name IS DISTINCT FROM 'profiles_secret_needs_certificate' THEN RAISE; END IF;
    status := 422;
    body := ztp_profile_secret_problem(secret);
END $$;

ALTER FUNCTION ztp_profile_update(uuid, jsonb) RENAME TO ztp_profile_update_fields;
CREATE FUNCTION ztp_profile_update(p_id uuid, p_fields jsonb, OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    constraint_name text;
    secret text;
BEGIN
    SELECT u.status, u.body INTO status, body FROM ztp_profile_update_fields(p_id, p_fields) u;
    IF status = 200 THEN
        body := ztp_profile_certify(p_id, (p_fields->>'require_certificate')::boolean);
    END IF;
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME, secret = PG_EXCEPTION_DETAIL;
    IF constraint_name IS DISTINCT FROM 'profiles_secret_needs_certificate' THEN RAISE; END IF;
    status := 422;
    body := ztp_profile_secret_problem(secret);
END $$;

-- POST /activate: whether a redemption of a code for p_profile by p_mac
-- needs a verified certificate naming p_mac: the profile it would bind to,
-- or the one the device has now, requires it.
CREATE FUNCTION ztp_redeem_needs_certificate(p_profile uuid, p_mac macaddr) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM profiles p WHERE p.id = p_profile AND p.require_certificate)
        OR EXISTS (SELECT 1 FROM devices d JOIN profiles p ON p.id = d.profile_id
                   WHERE d.mac = p_mac AND p.require_certificate)
$$;

-- The redemptions of 0006 behind that check: a code that exists, for a
-- device that must prove its MAC and did not, is refused ('certificate',
-- answered 403 as section 3 promises) before anything else is looked at, so
-- such a request learns nothing of the code (not whether it is used up) and
-- records nothing. Whoever presents the certificate gets every rule of 0006
-- (410 for a code gone, the short code's bounds). A contact the redemption
-- recorded notes whether it was certified.
CREATE FUNCTION ztp_redeem_code(p_hash text, p_hash_previous text, p_mac macaddr, p_model text,
                                p_certified boolean)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE target uuid;
BEGIN
    SELECT c.profile_id INTO target FROM activation_codes c
    WHERE c.hash = decode(p_hash, 'hex') OR (p_hash_previous IS NOT NULL AND c.hash = decode(p_hash_previous, 'hex'));
    IF FOUND AND NOT p_certified AND ztp_redeem_needs_certificate(target, p_mac) THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('certificate');
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM ztp_redeem_code(p_hash, p_hash_previous, p_mac, p_model);
    UPDATE devices SET last_contact_certified = p_certified WHERE mac = p_mac AND last_contact_at = now();
END $$;

CREATE FUNCTION ztp_redeem_short(p_code text, p_mac macaddr, p_model text, p_certified boolean)
RETURNS TABLE (outcome text, profile_rule text, upgrade_rule text, params jsonb, model text, token_key text)
LANGUAGE plpgsql AS $$
DECLARE target uuid;
BEGIN
    SELECT p.id INTO target FROM profiles p WHERE p.short_code = p_code;
    IF FOUND AND NOT p_certified AND ztp_redeem_needs_certificate(target, p_mac) THEN
        RETURN QUERY SELECT * FROM ztp_redeem_refusal('certificate');
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM ztp_redeem_short(p_code, p_mac, p_model);
    UPDATE devices SET last_contact_certified = p_certified WHERE mac = p_mac AND last_contact_at = now();
END $$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
