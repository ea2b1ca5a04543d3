-- Every SECURITY DEFINER function searches pg_temp last. With
-- `search_path = public` alone, PostgreSQL searches the session's temporary
-- schema first, so a temporary table or function named like one of ours
-- would be used with the definer's rights. Nothing creates one today (the
-- import paths name pg_temp.import_raw explicitly); this closes the door
-- for every such function at once, as PostgreSQL's documentation advises,
-- instead of one migration at a time.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND p.prosecdef
               AND NOT coalesce('search_path=public, pg_temp' = ANY (p.proconfig), false)
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = public, pg_temp', f);
    END LOOP;
END $$;
