-- POST /activate in batches: the redemptions a loop thread gathered in one
-- loop iteration go out as one statement (arrays in, one row per request
-- out, by ordinality), as contacts do. Each redemption runs the rules of
-- 0006 and 0007 unchanged, one after the other in the order they arrived:
-- a later one sees what an earlier one of the same batch did (a code
-- redeemed by the first is gone for the second), and row locks order them
-- against other batches, threads and processes as they did one by one.
-- p_kind: 'c' for a 16-digit code (p_code its hash, p_previous its hash
-- under the previous secret), 's' for a short code (p_code its digits).
CREATE FUNCTION ztp_redeem_batch(p_kind text[], p_code text[], p_previous text[], p_mac macaddr[],
                                 p_model text[], p_certified boolean[])
RETURNS TABLE (ord int, outcome text, profile_rule text, upgrade_rule text, params jsonb, model text,
               token_key text)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_kind), 0) LOOP
        IF p_kind[i] = 'c' THEN
            RETURN QUERY SELECT i, r.* FROM ztp_redeem_code(p_code[i], p_previous[i], p_mac[i], p_model[i],
                                                            p_certified[i]) r;
        ELSE
            RETURN QUERY SELECT i, r.* FROM ztp_redeem_short(p_code[i], p_mac[i], p_model[i], p_certified[i]) r;
        END IF;
    END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION ztp_redeem_batch(text[], text[], text[], macaddr[], text[], boolean[])
    TO ztp_system, ztp_tenant;
