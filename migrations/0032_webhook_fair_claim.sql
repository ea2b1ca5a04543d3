-- Deliveries were claimed oldest first for every provider at once, into the
-- 64 attempts a delivery thread runs at a time: a provider whose receiver
-- never answers (10 s per attempt) and who had many events queued, one
-- import of 320 devices say, held every slot, and every other provider's
-- events waited behind its timeouts (50 s in a helper's attack, hours for
-- a large import). Now the thread names the provider of each attempt it has
-- in flight (p_busy), and a claim gives a provider at most p_per_provider
-- in all, providers with the fewest in flight first, oldest first among
-- equals: a provider whose receiver hangs holds its share and takes no slot
-- another provider wants.
--
-- The candidates are chosen without locks, then only those are locked (a
-- replica may have taken some in between: SKIP LOCKED, and the state and
-- time are checked again), so a claim locks at most p_limit rows. Each
-- provider with webhooks is one probe of the index below.
CREATE INDEX webhook_deliveries_due_provider ON webhook_deliveries (provider_id, next_attempt_at)
    WHERE state = 'pending';

CREATE FUNCTION ztp_webhook_claim(p_limit int, p_lease_seconds int, p_per_provider int, p_busy uuid[])
RETURNS TABLE (delivery_id bigint, attempt int, url text, secret_box text, secret_key_id text, event_id uuid,
               type text, at text, data text, age_seconds double precision, provider_id uuid)
LANGUAGE sql AS $$
    WITH busy AS (
        SELECT b.provider_id, count(*) AS n FROM unnest(p_busy) b(provider_id) GROUP BY 1
    ), owners AS (
        SELECT w.provider_id, coalesce(max(b.n), 0) AS n
        FROM webhooks w LEFT JOIN busy b ON b.provider_id = w.provider_id GROUP BY 1
    ), candidates AS (
        SELECT x.id, x.next_attempt_at,
               o.n + row_number() OVER (PARTITION BY o.provider_id ORDER BY x.next_attempt_at) AS share
        FROM owners o
        CROSS JOIN LATERAL (
            SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
            WHERE d.provider_id = o.provider_id AND d.state = 'pending' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at LIMIT greatest(p_per_provider - o.n, 0)) x
    ), chosen AS (
        SELECT c.id FROM candidates c ORDER BY c.share, c.next_attempt_at LIMIT p_limit
    ), due AS (
        SELECT d.id FROM webhook_deliveries d JOIN chosen c ON c.id = d.id
        WHERE d.state = 'pending' AND d.next_attempt_at <= now()
        FOR UPDATE OF d SKIP LOCKED
    ), taken AS (
        UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
            next_attempt_at = now() + make_interval(secs => p_lease_seconds)
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempts, d.webhook_id, d.event_id, d.created_at, d.provider_id
    )
    SELECT t.id, t.attempts, w.url, encode(w.secret_box, 'hex'), w.secret_key_id, e.id, e.type, ztp_time(e.at),
           json_build_object('id', e.id, 'type', e.type, 'at', ztp_time(e.at), 'data', e.data)::text,
           extract(epoch FROM now() - t.created_at)::float8, t.provider_id
    FROM taken t JOIN webhooks w ON w.id = t.webhook_id JOIN webhook_events e ON e.id = t.event_id
$$;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[]) OWNER TO ztp_system;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[]) SECURITY DEFINER;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[]) SET search_path = public, pg_temp;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[]) SET statement_timeout = '5s';
-- every provider's events and sealed secrets: the delivery thread's alone
REVOKE ALL ON FUNCTION ztp_webhook_claim(int, int, int, uuid[]) FROM PUBLIC;
-- 0009's ztp_webhook_claim(int, int) stays for replicas of the previous
-- version during a rolling upgrade; a later migration drops it.
