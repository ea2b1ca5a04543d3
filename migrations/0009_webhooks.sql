-- Webhooks (an outbox written in the transaction of each change, delivered
-- by every ztpd's delivery thread) and statistics (counters kept by
-- statement-level triggers, so that reading them never scans devices).

CREATE TABLE webhooks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id   uuid NOT NULL REFERENCES providers ON DELETE CASCADE,
    url           text NOT NULL,
    events        text[] NOT NULL,
    secret_box    bytea NOT NULL,  -- nonce || secretbox(secret) under a subkey of ZTP_SECRET
    secret_key_id text NOT NULL,   -- which ZTP_SECRET sealed it
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_provider ON webhooks (provider_id, created_at);

-- One row per event some webhook wanted when it happened.
CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id uuid NOT NULL,
    type        text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    data        jsonb NOT NULL
);
CREATE INDEX webhook_events_at ON webhook_events (at);

-- The queue: one row per (webhook, event). A delivery thread claims due rows
-- with FOR UPDATE SKIP LOCKED and pushes next_attempt_at ahead as its lease.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES webhook_events ON DELETE CASCADE,
    provider_id     uuid NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);

-- Every attempt, as GET /v1/webhooks/{id}/deliveries lists them.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    webhook_id  uuid NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    provider_id uuid NOT NULL,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    http_status int,
    error       text
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);

-- Statistics as append-only deltas (no row is ever updated in place, so
-- concurrent redirect batches never wait on each other for a counter),
-- folded into one row per key by ztp_stats_compact.
CREATE TABLE device_status_deltas (
    provider_id uuid NOT NULL,
    status      text NOT NULL,
    delta       bigint NOT NULL
);
CREATE INDEX device_status_deltas_provider ON device_status_deltas (provider_id);
CREATE TABLE contact_hour_deltas (
    provider_id uuid NOT NULL,
    hour        timestamptz NOT NULL,
    contacts    bigint NOT NULL
);
CREATE INDEX contact_hour_deltas_provider ON contact_hour_deltas (provider_id, hour);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhooks', 'webhook_events', 'webhook_deliveries', 'webhook_attempts',
                             'device_status_deltas', 'contact_hour_deltas'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY system_all ON %I TO ztp_system USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY tenant_own ON %I TO ztp_tenant USING (provider_id = ztp_tenant())'
                       ' WITH CHECK (provider_id = ztp_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ztp_system', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT, DELETE ON webhooks TO ztp_tenant;
GRANT SELECT ON webhook_attempts, webhook_deliveries, device_status_deltas, contact_hour_deltas TO ztp_tenant;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ztp_system, ztp_tenant;

-- ---- producing events --------------------------------------------------
-- The one way in: each (provider, data) pair becomes an event and a delivery
-- per webhook of that provider subscribed to p_type; nothing is written for
-- providers without one. Other features call ztp_webhook_emit in their own
-- transactions (import_job.finished, transfer.accepted).

CREATE FUNCTION ztp_webhook_emit_many(p_type text, p_providers uuid[], p_data jsonb[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE n bigint;
BEGIN
    WITH input AS (
        SELECT t.provider_id, t.data, t.ord FROM unnest(p_providers, p_data) WITH ORDINALITY AS t(provider_id, data, ord)
        WHERE t.provider_id IN (SELECT w.provider_id FROM webhooks w WHERE p_type = ANY (w.events))
    ), ev AS (
        INSERT INTO webhook_events (provider_id, type, data)
        SELECT provider_id, p_type, data FROM input ORDER BY ord
        RETURNING id, provider_id
    ), d AS (
        INSERT INTO webhook_deliveries (webhook_id, event_id, provider_id)
        SELECT w.id, ev.id, ev.provider_id FROM ev JOIN webhooks w ON w.provider_id = ev.provider_id
        WHERE p_type = ANY (w.events)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM d;
    IF n > 0 THEN
        PERFORM pg_notify('ztp_webhooks', '');
    END IF;
    RETURN n;
END $$;
ALTER FUNCTION ztp_webhook_emit_many(text, uuid[], jsonb[]) OWNER TO ztp_system;

CREATE FUNCTION ztp_webhook_emit(p_provider uuid, p_type text, p_data jsonb) RETURNS bigint
LANGUAGE sql AS $$ SELECT ztp_webhook_emit_many(p_type, ARRAY[p_provider], ARRAY[p_data]) $$;

-- Status changes: one statement per batch, whatever its size; the filter on
-- the (small) webhooks table keeps providers without webhooks free.
CREATE FUNCTION ztp_trg_device_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM ztp_webhook_emit_many('device.status_changed', array_agg(n.provider_id ORDER BY n.id),
        array_agg(jsonb_build_object('mac', ztp_mac_text(n.mac), 'from', n.from_status, 'to', n.to_status,
                                     'cause', n.cause, 'at', ztp_time(n.at)) ORDER BY n.id))
    FROM new_rows n
    WHERE n.provider_id IN (SELECT w.provider_id FROM webhooks w WHERE 'device.status_changed' = ANY (w.events))
    HAVING count(*) > 0;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_device_events() OWNER TO ztp_system;
CREATE TRIGGER device_events_webhooks AFTER INSERT ON device_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_device_events();

-- Codes: a first redemption sets redeemed_at.
CREATE FUNCTION ztp_trg_code_redeemed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM ztp_webhook_emit(NEW.provider_id, 'code.redeemed',
        jsonb_build_object('code_id', NEW.id, 'last4', NEW.last4, 'mac', ztp_mac_text(NEW.redeemed_by),
                           'profile_id', NEW.profile_id));
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_code_redeemed() OWNER TO ztp_system;
CREATE TRIGGER activation_codes_webhooks AFTER UPDATE OF redeemed_at ON activation_codes
    FOR EACH ROW WHEN (OLD.redeemed_at IS NULL AND NEW.redeemed_at IS NOT NULL)
    EXECUTE FUNCTION ztp_trg_code_redeemed();

-- import_job.finished, for the import_jobs table: migration 0011 attaches it.
-- (PL/pgSQL binds the columns when it first runs, so it may exist before the table.)
-- transfer.accepted: the accepting function calls
--   PERFORM ztp_webhook_emit(provider, 'transfer.accepted', jsonb_build_object('id', ..., 'transferred', n))
-- once for each side.
CREATE FUNCTION ztp_trg_import_job_finished() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM ztp_webhook_emit(NEW.provider_id, 'import_job.finished',
        jsonb_build_object('id', NEW.id, 'state', NEW.state, 'dry_run', NEW.dry_run, 'rows', NEW.rows,
                           'created', NEW.report->'created', 'updated', NEW.report->'updated',
                           'skipped', NEW.report->'skipped'));
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_import_job_finished() OWNER TO ztp_system;

-- ---- statistics and owner changes, from the devices table ---------------
-- Status counts: the old rows count -1 and the new +1 per (owner, status);
-- a contact that changes nothing nets to zero and writes nothing.

CREATE FUNCTION ztp_trg_devices_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO device_status_deltas (provider_id, status, delta)
    SELECT provider_id, status, count(*) FROM new_rows WHERE provider_id IS NOT NULL GROUP BY 1, 2;
    INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
    SELECT provider_id, date_trunc('hour', now()), sum(contacts) FROM new_rows
    WHERE provider_id IS NOT NULL AND contacts > 0 GROUP BY 1;
    IF EXISTS (SELECT 1 FROM webhooks WHERE 'device.claimed' = ANY (events)) THEN
        PERFORM ztp_webhook_emit_many('device.claimed', array_agg(provider_id ORDER BY mac),
            array_agg(jsonb_build_object('mac', ztp_mac_text(mac), 'profile_id', profile_id) ORDER BY mac))
        FROM new_rows WHERE provider_id IS NOT NULL HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_devices_insert() OWNER TO ztp_system;

-- Every UPDATE of devices, the redirect batch included, in one pass over
-- the transition tables: per (owner, status) the rows that left and came
-- (status counts) and their contacts. While no row changed owner (a
-- provider's rows balance), its contacts added are the difference of the
-- sums; only for providers whose rows did not balance (claims, releases,
-- transfers) are rows matched by MAC. Claims and releases become events
-- only while some webhook wants them.
CREATE FUNCTION ztp_trg_devices_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE moved uuid[];
BEGIN
    WITH x AS MATERIALIZED (
        SELECT provider_id, status, sum(d) AS d, sum(c) AS c FROM (
            SELECT provider_id, status, -1 AS d, -contacts AS c FROM old_rows WHERE provider_id IS NOT NULL
            UNION ALL
            SELECT provider_id, status, 1, contacts FROM new_rows WHERE provider_id IS NOT NULL) u
        GROUP BY 1, 2
    ), s AS (
        INSERT INTO device_status_deltas (provider_id, status, delta)
        SELECT provider_id, status, d FROM x WHERE d <> 0
    ), p AS (
        SELECT provider_id, sum(d) AS n, sum(c) AS c FROM x GROUP BY 1
    ), h AS (
        INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
        SELECT provider_id, date_trunc('hour', now()), c FROM p WHERE n = 0 AND c > 0
    )
    SELECT array_agg(provider_id) INTO moved FROM p WHERE n <> 0;
    IF moved IS NOT NULL THEN
        INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
        SELECT n.provider_id, date_trunc('hour', now()), sum(n.contacts - o.contacts)
        FROM new_rows n JOIN old_rows o ON o.mac = n.mac
        WHERE n.provider_id = ANY (moved) AND n.contacts > o.contacts GROUP BY 1;
    END IF;
    IF moved IS NOT NULL AND EXISTS (SELECT 1 FROM webhooks WHERE events && ARRAY['device.claimed', 'device.released']) THEN
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
ALTER FUNCTION ztp_trg_devices_update() OWNER TO ztp_system;

CREATE FUNCTION ztp_trg_devices_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO device_status_deltas (provider_id, status, delta)
    SELECT provider_id, status, -count(*) FROM old_rows WHERE provider_id IS NOT NULL GROUP BY 1, 2;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_devices_delete() OWNER TO ztp_system;

CREATE TRIGGER devices_stats_insert AFTER INSERT ON devices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_devices_insert();
CREATE TRIGGER devices_stats_update AFTER UPDATE ON devices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_devices_update();
CREATE TRIGGER devices_stats_delete AFTER DELETE ON devices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ztp_trg_devices_delete();

-- The devices known before this migration (the triggers above hold the
-- table's lock until commit, so nothing slips between).
INSERT INTO device_status_deltas (provider_id, status, delta)
SELECT provider_id, status, count(*) FROM devices WHERE provider_id IS NOT NULL GROUP BY 1, 2;

-- Folds the deltas into one row per key; old hours, delivered events and
-- attempts past retention go. One replica at a time (the others skip).
CREATE FUNCTION ztp_stats_compact() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7349001) THEN
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM device_status_deltas RETURNING *)
    INSERT INTO device_status_deltas (provider_id, status, delta)
    SELECT provider_id, status, sum(delta) FROM gone GROUP BY 1, 2 HAVING sum(delta) <> 0;
    WITH gone AS (DELETE FROM contact_hour_deltas RETURNING *)
    INSERT INTO contact_hour_deltas (provider_id, hour, contacts)
    SELECT provider_id, hour, sum(contacts) FROM gone WHERE hour > now() - interval '8 days' GROUP BY 1, 2;
    DELETE FROM webhook_attempts WHERE at < now() - interval '30 days';
    DELETE FROM webhook_events e WHERE e.at < now() - interval '30 days'
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending');
END $$;
ALTER FUNCTION ztp_stats_compact() OWNER TO ztp_system;
ALTER FUNCTION ztp_stats_compact() SET statement_timeout = '30s';

-- ---- provider API ------------------------------------------------------

CREATE FUNCTION ztp_webhook_json(w webhooks) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', w.id, 'url', w.url, 'events', to_json(w.events),
                             'created_at', ztp_time(w.created_at))
$$;

CREATE FUNCTION ztp_webhook_create(p_url text, p_events text[], p_box text, p_key_id text, p_max int,
                                   OUT status int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE w webhooks%ROWTYPE;
BEGIN
    -- one at a time per provider, so that the bound holds under concurrency
    PERFORM pg_advisory_xact_lock(hashtext('ztp_webhooks'), hashtext(ztp_tenant()::text));
    IF (SELECT count(*) FROM webhooks WHERE provider_id = ztp_tenant()) >= p_max THEN
        status := 422;
        body := json_build_object('detail', format('a provider can have at most %s webhooks', p_max));
        RETURN;
    END IF;
    INSERT INTO webhooks (provider_id, url, events, secret_box, secret_key_id)
    VALUES (ztp_tenant(), p_url, p_events, decode(p_box, 'hex'), p_key_id) RETURNING * INTO w;
    PERFORM ztp_audit('webhook.create', w.id::text, json_build_object('url', w.url, 'events', w.events)::jsonb);
    status := 201;
    body := ztp_webhook_json(w);
END $$;

CREATE FUNCTION ztp_webhook_list(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object('items', coalesce(json_agg(ztp_webhook_json(w) ORDER BY w.created_at, w.id),
                                                    '[]'::json))
    FROM webhooks w WHERE w.provider_id = ztp_tenant()
$$;

CREATE FUNCTION ztp_webhook_delete(p_id uuid, OUT status int, OUT body json) LANGUAGE plpgsql AS $$
DECLARE u text;
BEGIN
    DELETE FROM webhooks WHERE id = p_id AND provider_id = ztp_tenant() RETURNING url INTO u;
    IF NOT FOUND THEN
        status := 404; body := json_build_object('detail', 'no such webhook'); RETURN;
    END IF;
    PERFORM ztp_audit('webhook.delete', p_id::text, json_build_object('url', u)::jsonb);
    status := 204;
END $$;

-- Newest attempt first.
CREATE FUNCTION ztp_webhook_attempts(p_id uuid, p_limit int, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE id = p_id AND provider_id = ztp_tenant()) THEN 200 ELSE 404 END,
        CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE id = p_id AND provider_id = ztp_tenant())
        THEN json_build_object('items', coalesce((
            SELECT json_agg(json_build_object('at', ztp_time(a.at), 'event_id', a.event_id, 'event_type', a.event_type,
                                              'attempt', a.attempt, 'status', a.http_status, 'error', a.error)
                            ORDER BY a.id DESC)
            FROM (SELECT * FROM webhook_attempts WHERE webhook_id = p_id AND provider_id = ztp_tenant()
                  ORDER BY id DESC LIMIT p_limit) a), '[]'::json))
        ELSE json_build_object('detail', 'no such webhook') END
$$;

CREATE FUNCTION ztp_stats(OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    SELECT 200, json_build_object(
        'status_counts', (SELECT json_object_agg(s.name, coalesce(c.n, 0) ORDER BY s.ord)
            FROM unnest(ARRAY['open', 'pending', 'custom_pending', 'acquired', 'aborted', 'unavailable'])
                 WITH ORDINALITY AS s(name, ord)
            LEFT JOIN (SELECT d.status, sum(d.delta) AS n FROM device_status_deltas d
                       WHERE d.provider_id = ztp_tenant() GROUP BY d.status) c ON c.status = s.name),
        'contacts_per_hour', (SELECT json_agg(json_build_object('hour', ztp_time(h.hour), 'contacts',
                                                                coalesce(c.n, 0)) ORDER BY h.hour)
            FROM generate_series(date_trunc('hour', now()) - interval '167 hours', date_trunc('hour', now()),
                                 interval '1 hour') AS h(hour)
            LEFT JOIN (SELECT x.hour, sum(x.contacts) AS n FROM contact_hour_deltas x
                       WHERE x.provider_id = ztp_tenant() AND x.hour > now() - interval '169 hours'
                       GROUP BY x.hour) c ON c.hour = h.hour))
$$;

-- ---- the delivery thread ------------------------------------------------
-- SECURITY DEFINER owned by ztp_system with their own statement timeout:
-- the thread sets nothing on its session, which may be a pooled one.

-- Takes up to p_limit due deliveries; the lease is next_attempt_at pushed
-- past the longest an attempt can take, so that a replica that dies
-- mid-attempt leaves them to another.
CREATE FUNCTION ztp_webhook_claim(p_limit int, p_lease_seconds int)
RETURNS TABLE (delivery_id bigint, attempt int, url text, secret_box text, secret_key_id text, event_id uuid,
               type text, at text, data text, age_seconds double precision)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), taken AS (
        UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
            next_attempt_at = now() + make_interval(secs => p_lease_seconds)
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempts, d.webhook_id, d.event_id, d.created_at
    )
    SELECT t.id, t.attempts, w.url, encode(w.secret_box, 'hex'), w.secret_key_id, e.id, e.type, ztp_time(e.at),
           json_build_object('id', e.id, 'type', e.type, 'at', ztp_time(e.at), 'data', e.data)::text,
           extract(epoch FROM now() - t.created_at)::float8
    FROM taken t JOIN webhooks w ON w.id = t.webhook_id JOIN webhook_events e ON e.id = t.event_id
$$;
ALTER FUNCTION ztp_webhook_claim(int, int) OWNER TO ztp_system;
ALTER FUNCTION ztp_webhook_claim(int, int) SECURITY DEFINER;
ALTER FUNCTION ztp_webhook_claim(int, int) SET search_path = public;
ALTER FUNCTION ztp_webhook_claim(int, int) SET statement_timeout = '5s';

-- Records an attempt's outcome: 2xx delivered; otherwise retried after
-- p_retry_seconds, or failed for good when that is NULL. Only the holder of
-- the lease (the attempt number it was given) records.
CREATE FUNCTION ztp_webhook_attempted(p_delivery bigint, p_attempt int, p_status int, p_error text,
                                      p_retry_seconds double precision) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE d webhook_deliveries%ROWTYPE;
BEGIN
    UPDATE webhook_deliveries SET
        state = CASE WHEN p_status BETWEEN 200 AND 299 THEN 'delivered'
                     WHEN p_retry_seconds IS NULL THEN 'failed' ELSE 'pending' END,
        next_attempt_at = CASE WHEN p_retry_seconds IS NULL THEN next_attempt_at
                               ELSE now() + make_interval(secs => p_retry_seconds) END
    WHERE id = p_delivery AND attempts = p_attempt AND state = 'pending' RETURNING * INTO d;
    IF FOUND THEN
        INSERT INTO webhook_attempts (webhook_id, provider_id, event_id, event_type, attempt, http_status, error)
        SELECT d.webhook_id, d.provider_id, d.event_id, e.type, p_attempt, p_status, p_error
        FROM webhook_events e WHERE e.id = d.event_id;
    END IF;
END $$;
ALTER FUNCTION ztp_webhook_attempted(bigint, int, int, text, double precision) OWNER TO ztp_system;
ALTER FUNCTION ztp_webhook_attempted(bigint, int, int, text, double precision) SECURITY DEFINER;
ALTER FUNCTION ztp_webhook_attempted(bigint, int, int, text, double precision) SET search_path = public;
ALTER FUNCTION ztp_webhook_attempted(bigint, int, int, text, double precision) SET statement_timeout = '5s';

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ztp_system, ztp_tenant;
