-- Deliveries were claimed oldest first for every provider at once, into the
-- 64 attempts a delivery thread runs at a time: a provider whose receiver
-- never answers (10 s per attempt) and who had many events queued, one
-- import of 320 devices say, held every slot, and every other provider's
-- events waited behind its timeouts (50 s in a helper's attack, hours for
-- a large import). Now the thread says how many attempts each provider has
-- in flight, and a claim gives a provider at most p_per_provider in all:
-- one provider takes a quarter of the slots, the others the rest, oldest
-- first among them. Providers with webhooks are few; each is one probe of
-- the index below.
CREATE INDEX webhook_deliveries_due_provider ON webhook_deliveries (provider_id, next_attempt_at)
    WHERE state = 'pending';

CREATE FUNCTION ztp_webhook_claim(p_limit int, p_lease_seconds int, p_per_provider int, p_busy uuid[],
                                  p_busy_attempts int[])
RETURNS TABLE (delivery_id bigint, attempt int, url text, secret_box text, secret_key_id text, event_id uuid,
               type text, at text, data text, age_seconds double precision, provider_id uuid)
LANGUAGE sql AS $$
    WITH busy AS (
        SELECT * FROM unnest(p_busy, p_busy_attempts) b(provider_id, n)
    ), due AS (
        SELECT x.id FROM (SELECT DISTINCT w.provider_id FROM webhooks w) p
        CROSS JOIN LATERAL (
            SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
            WHERE d.provider_id = p.provider_id AND d.state = 'pending' AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at
            LIMIT greatest(p_per_provider - coalesce((SELECT sum(b.n) FROM busy b
                                                      WHERE b.provider_id = p.provider_id), 0), 0)
            FOR UPDATE SKIP LOCKED) x
        ORDER BY x.next_attempt_at LIMIT p_limit
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
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[], int[]) OWNER TO ztp_system;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[], int[]) SECURITY DEFINER;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[], int[]) SET search_path = public, pg_temp;
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[], int[]) SET statement_timeout = '5s';
-- 0009's ztp_webhook_claim(int, int) stays for replicas of the previous
-- version during a rolling upgrade.
