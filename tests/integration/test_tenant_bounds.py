"""What a provider piles up by its own API calls is bounded (migration 0041):
API keys (revoked ones included until swept), people, open transfers, each
person's sessions; and the hourly sweep removes what ended, and the audit
trail past ZTP_AUDIT_RETENTION_DAYS when set."""
import concurrent.futures
import re
import unittest
import uuid

from harness import ServerTest, free_port, ztpd_cmd

PASSWORD = "correct horse battery"
CONSOLE = {"X-ZTP-Console": "1"}


class TenantBoundsTest(ServerTest):
    server_env = {"ZTP_PUBLIC_URL": "https://console.example"}

    def sql(self, text):
        return self.pg.psql(self.db, text)

    def count(self, table, provider):
        return int(self.sql("SELECT count(*) FROM %s WHERE provider_id = '%s'" % (table, provider["id"])))

    def add_keys(self, provider, n):
        """n revoked-or-not keys made by hand, each with an id of its own."""
        self.sql("INSERT INTO api_keys (id, provider_id, name, hash, secret_id)"
                 " SELECT md5(random()::text), '%s', 'filler', '\\x00', 'k' FROM generate_series(1, %d)"
                 % (provider["id"], n))

    def test_at_most_1000_api_keys_revoked_ones_included_until_swept(self):
        p, other = self.provider(), self.provider()
        self.add_keys(p, 999 - self.count("api_keys", p))
        made = self.srv.post("/v1/api-keys", {"name": "the 1000th"}, key=p["api_key"])
        self.assertEqual(made.status, 201, made)
        self.assertIn("1000 API keys", self.assertProblem(
            self.srv.post("/v1/api-keys", {"name": "one more"}, key=p["api_key"]), 422)["detail"])
        # a revoked key still counts, and gets 401 from then on
        kid = made.json()["id"]
        self.assertEqual(self.srv.delete("/v1/api-keys/" + kid, key=p["api_key"]).status, 204)
        self.assertProblem(self.srv.post("/v1/api-keys", {"name": "one more"}, key=p["api_key"]), 422)
        self.assertProblem(self.srv.get("/v1/api-keys", key=made.json()["api_key"]), 401)
        # another provider is not bound by this one's keys
        self.assertEqual(self.srv.post("/v1/api-keys", {"name": "x"}, key=other["api_key"]).status, 201)
        # revoked 31 days ago: the sweep deletes it, and its place is free
        self.sql("UPDATE api_keys SET revoked_at = now() - interval '29 days' WHERE provider_id = '%s'"
                 " AND name = 'filler' AND id = (SELECT min(id) FROM api_keys WHERE name = 'filler'"
                 " AND provider_id = '%s')" % (p["id"], p["id"]))
        self.sql("UPDATE api_keys SET revoked_at = now() - interval '31 days' WHERE id = '%s'" % kid)
        swept = self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)").splitlines()[-1]
        self.assertGreaterEqual(int(swept), 1)
        self.assertEqual(self.sql("SELECT count(*) FROM api_keys WHERE id = '%s'" % kid), "0")
        self.assertEqual(self.count("api_keys", p), 999, "the key revoked 29 days ago stays")
        self.assertEqual(self.srv.post("/v1/api-keys", {"name": "again"}, key=p["api_key"]).status, 201)
        self.assertNotIn(kid, [k["id"] for k in self.srv.get("/v1/api-keys", key=p["api_key"]).json()["items"]])
        self.assertIn("api_key.revoke", [e["action"] for e in self.srv.get(
            "/v1/audit-events?limit=1000", key=p["api_key"]).json()["items"]])

    def test_concurrent_creates_cannot_pass_the_bound_together(self):
        p = self.provider()
        self.add_keys(p, 995 - self.count("api_keys", p))

        def create(i):
            return self.srv.post("/v1/api-keys", {"name": "race %d" % i}, key=p["api_key"], timeout=60).status

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = sorted(pool.map(create, range(12)))
        self.assertEqual(statuses, [201] * 5 + [422] * 7)
        self.assertEqual(self.count("api_keys", p), 1000)

    def test_at_most_1000_people_invitations_included(self):
        p = self.provider()
        self.sql("INSERT INTO users (provider_id, email, role) SELECT '%s', 'f' || i || '@example.com', 'viewer'"
                 " FROM generate_series(1, 999) i" % p["id"])
        r = self.srv.post("/v1/users", {"email": "last@example.com", "role": "viewer"}, key=p["api_key"])
        self.assertEqual(r.status, 201, r)
        body = self.assertProblem(self.srv.post("/v1/users", {"email": "more@example.com", "role": "viewer"},
                                                key=p["api_key"]), 422)
        self.assertIn("1000 people", body["detail"])
        # a person deleted frees a place
        self.assertEqual(self.srv.delete("/v1/users/" + r.json()["id"], key=p["api_key"]).status, 204)
        self.assertEqual(self.srv.post("/v1/users", {"email": "more@example.com", "role": "viewer"},
                                       key=p["api_key"]).status, 201)
        self.assertEqual(self.count("users", p), 1000)

    def test_at_most_100_open_transfers(self):
        p = self.provider()
        mac = "02" + uuid.uuid4().hex[:10]
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=p["api_key"]).status, 201)

        # 99 open transfers and 5 cancelled ones (ended: not counted)
        for n, cancelled in ((99, "NULL"), (5, "now()")):
            self.sql("INSERT INTO transfers (provider_id, macs, hash, secret_id, last4, expires_at, cancelled_at)"
                     " SELECT '%s', ARRAY['%s'::macaddr], decode(md5(random()::text), 'hex'), 'k', '1234',"
                     " now() + interval '1 day', %s FROM generate_series(1, %d)" % (p["id"], mac, cancelled, n))
        made = self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"])
        self.assertEqual(made.status, 201, made)
        self.assertIn("100 open transfers", self.assertProblem(
            self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]), 422)["detail"])
        # a transfer that ends frees its place: cancelled, or expired
        self.assertEqual(self.srv.delete("/v1/transfers/" + made.json()["id"], key=p["api_key"]).status, 204)
        self.assertEqual(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]).status, 201)
        self.sql("UPDATE transfers SET expires_at = now() - interval '1 second' WHERE id ="
                 " (SELECT min(id::text)::uuid FROM transfers WHERE provider_id = '%s' AND cancelled_at IS NULL)"
                 % p["id"])
        self.assertEqual(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]).status, 201)
        self.assertProblem(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]), 422)

    def signed_in_person(self, p):
        r = self.srv.post("/v1/users", {"email": "s-%s@example.com" % uuid.uuid4().hex[:8], "role": "viewer"},
                          key=p["api_key"])
        self.assertEqual(r.status, 201, r)
        token = r.json()["invite_url"].split("#", 1)[1]
        self.assertEqual(self.srv.post("/v1/invites/accept", {"token": token, "password": PASSWORD}).status, 200)
        return r.json()

    def sign_in(self, email):
        r = self.srv.post("/v1/sessions", {"email": email, "password": PASSWORD}, timeout=60, headers=CONSOLE)
        self.assertEqual(r.status, 201, r)
        return re.match(r"ztp_session=([^;]*)", r.headers["set-cookie"]).group(1)

    def test_a_person_keeps_at_most_20_sessions_and_ended_ones_are_swept(self):
        p = self.provider()
        u, v = self.signed_in_person(p), self.signed_in_person(p)
        # 25 older sessions, the newest first by created_at: 24 minutes ago ... now - 48 minutes
        self.sql("INSERT INTO sessions (hash, user_id, provider_id, created_at)"
                 " SELECT decode(md5('%s' || i), 'hex'), '%s', '%s', now() - i * interval '2 minutes'"
                 " FROM generate_series(1, 25) i" % (u["id"], u["id"], p["id"]))
        cookie = self.sign_in(u["email"])
        self.assertEqual(self.srv.get("/v1/sessions/current", headers={"Cookie": "ztp_session=" + cookie}).status,
                         200)
        kept = self.sql("SELECT count(*), min(created_at) > now() - interval '39 minutes' FROM sessions"
                        " WHERE user_id = '%s'" % u["id"])
        self.assertEqual(kept, "20|t", "the new session and the 19 newest before it")
        # ended sessions (idle an hour, or begun 12 hours ago) of anyone: swept
        other = self.sign_in(v["email"])
        self.sql("UPDATE sessions SET last_seen_at = now() - interval '61 minutes' WHERE user_id = '%s'" % v["id"])
        self.sql("UPDATE sessions SET created_at = now() - interval '13 hours', last_seen_at = now()"
                 " WHERE user_id = '%s' AND hash = (SELECT hash FROM sessions WHERE user_id = '%s' ORDER BY hash LIMIT 1)"
                 % (u["id"], u["id"]))
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE user_id = '%s'" % v["id"]), "0")
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE user_id = '%s'" % u["id"]), "19")
        self.assertEqual(self.srv.get("/v1/sessions/current", headers={"Cookie": "ztp_session=" + other}).status,
                         401)

    def test_the_sweep_still_sweeps_codes_transfers_and_idempotency_keys(self):
        # ztp_sweep is the one call ztpd makes: it must keep calling 0003's, 0005's and 0014's sweeps
        self.sql("INSERT INTO idempotency_keys (provider_id, key, route, body_hash, status, response, created_at)"
                 " VALUES (gen_random_uuid(), 'old-%s', 'r', '\\x00', 201, '{}', now() - interval '25 hours')"
                 % uuid.uuid4().hex)
        calls = self.sql("SELECT prosrc FROM pg_proc WHERE proname = 'ztp_sweep'")  # one: its first form is gone
        for f in ("ztp_codes_sweep(p_retention_days)", "ztp_idem_sweep()", "ztp_transfers_sweep(p_retention_days)"):
            self.assertIn(f, calls)
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(self.sql("SELECT count(*) FROM idempotency_keys WHERE key LIKE 'old-%'"), "0")

    def test_the_audit_trail_is_kept_unless_a_retention_is_set(self):
        p = self.provider()
        self.assertEqual(self.srv.post("/v1/api-keys", {"name": "a"}, key=p["api_key"]).status, 201)
        # events 0.5, 1.5, ... 399.5 days old, each named by its whole days
        self.sql("INSERT INTO audit_events (provider_id, at, action, target) SELECT '%s',"
                 " now() - i * interval '1 day' - interval '12 hours', 'old.thing', i::text"
                 " FROM generate_series(0, 399) i" % p["id"])
        trail = "SELECT count(*) FROM audit_events WHERE provider_id = '%s'" % p["id"]
        before = int(self.sql(trail))
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(int(self.sql(trail)), before, "0 keeps the trail for ever")
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 365)")
        # 35 of the 400 are older than 365 days; today's API key creation stays
        self.assertEqual(int(self.sql(trail)), before - 35)
        self.assertEqual(self.sql("SELECT max(target::int) FILTER (WHERE action = 'old.thing'),"
                                  " count(*) FILTER (WHERE action = 'api_key.create') FROM audit_events"
                                  " WHERE provider_id = '%s'" % p["id"]), "364|1")

    def test_a_bad_audit_retention_is_one_clear_line(self):
        for bad in ("-1", "36501", "x"):
            r = ztpd_cmd(self.db, "serve", ZTP_AUDIT_RETENTION_DAYS=bad, ZTP_LISTEN="127.0.0.1:%d" % free_port())
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("ZTP_AUDIT_RETENTION_DAYS must be an integer from 0 to 36500", r.stderr)

if __name__ == "__main__":
    unittest.main()
