"""What a provider piles up by its own API calls is bounded (migration 0041):
API keys (revoked ones included, the oldest giving its place), people, open
transfers, profiles under concurrency, each person's live sessions; and the
sweep removes what ended, and the audit trail past ZTP_AUDIT_RETENTION_DAYS
when set."""
import concurrent.futures
import functools
import re
import unittest
import uuid

from harness import ServerTest, Ztpd, create_provider, free_port, migrated_database, wait_until, ztpd_cmd

PASSWORD = "correct horse battery"
CONSOLE = {"X-ZTP-Console": "1"}
RULE = "https://prov.example/$MA.xml"


def race(n, call):
    """n calls at once: their statuses, sorted."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(call, range(n)))


class TenantBoundsTest(ServerTest):
    server_env = {"ZTP_PUBLIC_URL": "https://console.example"}

    def sql(self, text):
        return self.pg.psql(self.db, text)

    def count(self, table, provider):
        return int(self.sql("SELECT count(*) FROM %s WHERE provider_id = '%s'" % (table, provider["id"])))

    def add_keys(self, provider, n, revoked="NULL"):
        """n keys made by hand, each with an id of its own."""
        self.sql("INSERT INTO api_keys (id, provider_id, name, hash, secret_id, revoked_at)"
                 " SELECT md5(random()::text), '%s', 'filler', '\\x00', 'k', %s FROM generate_series(1, %d)"
                 % (provider["id"], revoked, n))

    def new_key(self, p, name="k"):
        return self.srv.post("/v1/api-keys", {"name": name}, key=p["api_key"], timeout=60)

    def test_at_most_1000_api_keys_a_new_one_takes_the_place_of_the_oldest_revoked(self):
        p, other = self.provider(), self.provider()
        self.add_keys(p, 997 - self.count("api_keys", p))
        self.add_keys(p, 1, "now() - interval '2 days'")
        self.add_keys(p, 1, "now() - interval '1 day'")
        oldest, newer = self.sql("SELECT id FROM api_keys WHERE provider_id = '%s' AND revoked_at IS NOT NULL"
                                 " ORDER BY revoked_at" % p["id"]).split()
        made = self.new_key(p, "the 1000th")
        self.assertEqual(made.status, 201, made)
        # past the bound, a new key takes the place of the key revoked longest ago
        self.assertEqual(self.new_key(p, "1001st").status, 201)
        ids = [k["id"] for k in self.srv.get("/v1/api-keys", key=p["api_key"]).json()["items"]]
        self.assertEqual((len(ids), oldest in ids, newer in ids), (1000, False, True))
        self.assertEqual(self.new_key(p, "1002nd").status, 201)
        self.assertNotIn(newer, [k["id"] for k in self.srv.get("/v1/api-keys", key=p["api_key"]).json()["items"]])
        # none revoked: 422 until one is
        self.assertIn("1000 API keys", self.assertProblem(self.new_key(p, "no room"), 422)["detail"])
        kid = made.json()["id"]
        self.assertEqual(self.srv.delete("/v1/api-keys/" + kid, key=p["api_key"]).status, 204)
        self.assertProblem(self.srv.get("/v1/api-keys", key=made.json()["api_key"]), 401)
        self.assertEqual(self.new_key(p, "room again").status, 201)
        self.assertEqual(self.count("api_keys", p), 1000)
        # another provider is not bound by this one's keys
        self.assertEqual(self.new_key(other, "x").status, 201)
        # over the bound already (keys made by `ztpd provider create`, or before the bound): as many revoked
        # keys go as bring it back under, and none when that is not enough
        self.add_keys(other, 1000)  # 1,002 not revoked
        self.add_keys(other, 2, "now() - interval '1 day'")
        self.assertProblem(self.new_key(other, "no room"), 422)
        self.assertEqual(self.count("api_keys", other), 1004, "nothing deleted for a refused key")
        self.sql("UPDATE api_keys SET revoked_at = now() WHERE id IN (SELECT id FROM api_keys WHERE provider_id = '%s'"
                 " AND revoked_at IS NULL AND name = 'filler' ORDER BY id LIMIT 4)" % other["id"])
        self.assertEqual(self.new_key(other, "room").status, 201)  # 998 + 6 revoked: the 5 oldest revoked go
        self.assertEqual(self.sql("SELECT count(*), count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM api_keys"
                                  " WHERE provider_id = '%s'" % other["id"]), "1000|1")
        # the audit trail keeps what the list no longer shows
        actions = [(e["action"], e["target"]) for e in self.srv.get(
            "/v1/audit-events?limit=1000", key=p["api_key"]).json()["items"]]
        self.assertIn(("api_key.create", kid), actions)
        self.assertIn(("api_key.revoke", kid), actions)

    def test_the_sweep_deletes_keys_revoked_past_the_retention(self):
        p = self.provider()
        self.add_keys(p, 1, "now() - interval '31 days'")
        self.add_keys(p, 1, "now() - interval '29 days'")
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(self.sql("SELECT count(*), min(revoked_at) > now() - interval '30 days' FROM api_keys"
                                  " WHERE provider_id = '%s' AND revoked_at IS NOT NULL" % p["id"]), "1|t")
        self.assertEqual(self.count("api_keys", p), 2, "its first key, unrevoked, and the one revoked 29 days ago")

    def test_concurrent_creates_cannot_pass_the_bounds_together(self):
        # three rounds each: with no lock, one at least passes the bound in most runs
        for round_ in range(3):
            p = self.provider()
            self.add_keys(p, 995 - self.count("api_keys", p))
            self.assertEqual(race(12, lambda i: self.new_key(p, "race %d" % i).status), [201] * 5 + [422] * 7)
            self.assertEqual(self.count("api_keys", p), 1000)

            self.sql("INSERT INTO users (provider_id, email, role) SELECT '%s', 'f' || i || '@example.com',"
                     " 'viewer' FROM generate_series(1, 997) i" % p["id"])
            self.assertEqual(race(8, lambda i: self.srv.post(
                "/v1/users", {"email": "r%d@example.com" % i, "role": "viewer"}, key=p["api_key"], timeout=60).status),
                [201] * 3 + [422] * 5)

            self.sql("INSERT INTO profiles (provider_id, name, profile_rule) SELECT '%s', 'f' || i, '%s'"
                     " FROM generate_series(1, 998) i" % (p["id"], RULE))
            self.assertEqual(race(8, lambda i: self.srv.post(
                "/v1/profiles", {"name": "r%d" % i, "profile_rule": RULE}, key=p["api_key"], timeout=60).status),
                [201] * 2 + [422] * 6)
            self.assertEqual((self.count("users", p), self.count("profiles", p)), (1000, 1000))

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

    def test_the_transfers_a_provider_keeps_hold_at_most_5000000_macs(self):
        """Cancelling and making again a transfer of 100,000 MACs stored 830 kB a
        turn: what the transfers a provider keeps hold is bounded too."""
        p = self.provider()
        mac = "02" + uuid.uuid4().hex[:10]
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=p["api_key"]).status, 201)
        # 49 cancelled transfers of 100,000 MACs and one of 99,998: 4,999,998 kept
        self.sql("WITH a AS (SELECT array_agg(lpad(to_hex(x'060000000000'::bigint + i), 12, '0')::macaddr) AS m"
                 " FROM generate_series(1, 100000) i)"
                 " INSERT INTO transfers (provider_id, macs, hash, secret_id, last4, expires_at, cancelled_at)"
                 " SELECT '%s', CASE WHEN n = 50 THEN a.m[1:99998] ELSE a.m END, decode(md5(random()::text), 'hex'),"
                 " 'k', '1234', now() + interval '1 day', now() FROM a, generate_series(1, 50) n" % p["id"])
        made = self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"])
        self.assertEqual(made.status, 201, made)
        self.assertEqual(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]).status, 201)
        self.assertIn("at most 5000000 MACs (5000000 now", self.assertProblem(
            self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]), 422)["detail"])
        # cancelling keeps the MACs; the sweep, once the retention ends, frees them
        self.assertEqual(self.srv.delete("/v1/transfers/" + made.json()["id"], key=p["api_key"]).status, 204)
        self.assertProblem(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]), 422)
        self.sql("UPDATE transfers SET cancelled_at = now() - interval '31 days' WHERE id = '%s'" % made.json()["id"])
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]).status, 201)

    def test_the_transfers_a_provider_keeps_are_at_most_10000(self):
        """Transfers of one MAC, made and cancelled, would have let the MAC bound
        alone keep 5,000,000 rows, each read by every creation's count."""
        p = self.provider()
        mac = "02" + uuid.uuid4().hex[:10]
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=p["api_key"]).status, 201)
        self.sql("INSERT INTO transfers (provider_id, macs, hash, secret_id, last4, expires_at, cancelled_at)"
                 " SELECT '%s', ARRAY['%s'::macaddr], decode(md5(random()::text || i), 'hex'), 'k', '1234',"
                 " now() + interval '1 day', now() FROM generate_series(1, 9999) i" % (p["id"], mac))
        self.assertEqual(self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]).status, 201)
        self.assertIn("at most 10000 transfers", self.assertProblem(
            self.srv.post("/v1/transfers", {"macs": [mac]}, key=p["api_key"]), 422)["detail"])

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

    def add_sessions(self, u, p, n, last_seen, created="now() - interval '2 hours'"):
        """n sessions of u, the i-th (from 1) last seen `last_seen` (SQL, in i); their hashes md5(user id, i)."""
        self.sql("INSERT INTO sessions (hash, user_id, provider_id, created_at, last_seen_at)"
                 " SELECT decode(md5('%s' || i), 'hex'), '%s', '%s', %s, %s FROM generate_series(1, %d) i"
                 % (u["id"], u["id"], p["id"], created, last_seen, n))

    def kept(self, u, n):
        """Which of add_sessions' 1..n are still there."""
        return [int(x) for x in self.sql("SELECT i FROM generate_series(1, %d) i WHERE EXISTS (SELECT 1 FROM sessions"
                                         " WHERE hash = decode(md5('%s' || i), 'hex')) ORDER BY i"
                                         % (n, u["id"])).split()]

    def test_a_person_keeps_the_20_live_sessions_used_last(self):
        p = self.provider()
        u = self.signed_in_person(p)
        # 25 live sessions, the i-th last used i minutes ago
        self.add_sessions(u, p, 25, "now() - i * interval '1 minute'")
        cookie = self.sign_in(u["email"])
        self.assertEqual(self.srv.get("/v1/sessions/current", headers={"Cookie": "ztp_session=" + cookie}).status,
                         200)
        self.assertEqual(self.kept(u, 25), list(range(1, 20)), "the 19 used last, and the new one")
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE user_id = '%s'" % u["id"]), "20")

    def test_ended_sessions_make_no_live_one_go(self):
        p = self.provider()
        u = self.signed_in_person(p)
        # one live session begun 5 hours ago and used a minute ago; 19 newer ones idle for 2 hours
        self.add_sessions(u, p, 1, "now() - interval '1 minute'", "now() - interval '5 hours'")
        self.sql("INSERT INTO sessions (hash, user_id, provider_id, created_at, last_seen_at)"
                 " SELECT decode(md5('idle' || i), 'hex'), '%s', '%s', now() - interval '3 hours',"
                 " now() - interval '2 hours' FROM generate_series(1, 19) i" % (u["id"], p["id"]))
        self.sign_in(u["email"])
        self.assertEqual(self.kept(u, 1), [1])
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE user_id = '%s'" % u["id"]), "2")

    def test_the_sweep_deletes_sessions_that_ended(self):
        p = self.provider()
        u, v = self.signed_in_person(p), self.signed_in_person(p)
        other = self.sign_in(v["email"])
        self.sql("UPDATE sessions SET last_seen_at = now() - interval '61 minutes' WHERE user_id = '%s'" % v["id"])
        # u: one begun 13 hours ago (though used now), one idle 61 minutes, one live
        self.add_sessions(u, p, 1, "now()", "now() - interval '13 hours'")
        self.sql("INSERT INTO sessions (hash, user_id, provider_id, last_seen_at) VALUES"
                 " (decode(md5('idle'), 'hex'), '%s', '%s', now() - interval '61 minutes'),"
                 " (decode(md5('live'), 'hex'), '%s', '%s', now() - interval '30 minutes')"
                 % (u["id"], p["id"], u["id"], p["id"]))
        self.sql("SET role ztp_system; SELECT ztp_sweep(30, 0)")
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE user_id = '%s'" % v["id"]), "0")
        self.assertEqual(self.sql("SELECT hash = decode(md5('live'), 'hex') FROM sessions WHERE user_id = '%s'"
                                  % u["id"]), "t")
        self.assertEqual(self.srv.get("/v1/sessions/current", headers={"Cookie": "ztp_session=" + other}).status,
                         401)

    def test_the_sweep_still_sweeps_codes_transfers_and_idempotency_keys(self):
        # ztp_sweep is the one call ztpd makes: it must keep calling 0003's, 0005's and 0014's sweeps
        self.sql("INSERT INTO idempotency_keys (provider_id, key, route, body_hash, status, response, created_at)"
                 " VALUES (gen_random_uuid(), 'old-%s', 'r', '\\x00', 201, '{}', now() - interval '25 hours')"
                 % uuid.uuid4().hex)
        calls = self.sql("SELECT prosrc FROM pg_proc WHERE proname = 'ztp_sweep'")
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

class CodesAndJobsRaceTest(unittest.TestCase):
    def test_concurrent_creations_cannot_pass_the_codes_and_import_jobs_bounds(self):
        """Both counted, then inserted, without a lock (0003, 0011): 60 code
        creations at 1 active of 20 made 22 active; 40 job creations at 1 open
        of 10 made 12 open."""
        pg, db = migrated_database()
        with Ztpd(db, ZTP_MAX_ACTIVE_CODES=20) as srv:
            for round_ in range(3):
                p = create_provider(db, "race-%d" % round_)
                prof = srv.post("/v1/profiles", {"name": "r", "profile_rule": RULE}, key=p["api_key"]).json()["id"]
                self.assertEqual(srv.post("/v1/activation-codes", {"profile_id": prof, "count": 17},
                                          key=p["api_key"]).status, 201)
                self.assertEqual(race(8, lambda i: srv.post("/v1/activation-codes", {"profile_id": prof, "count": 1},
                                                            key=p["api_key"], timeout=60).status),
                                 [201] * 3 + [422] * 5)
                self.assertEqual(srv.post("/v1/import-jobs", {"format": "csv"}, key=p["api_key"]).status, 201)
                self.assertEqual(race(12, lambda i: srv.post("/v1/import-jobs", {"format": "csv"}, key=p["api_key"],
                                                             timeout=60).status), [201] * 9 + [429] * 3)
                self.assertEqual(pg.psql(db, "SELECT (SELECT count(*) FROM activation_codes WHERE provider_id = '%s'),"
                                             " (SELECT count(*) FROM import_jobs WHERE provider_id = '%s')"
                                 % (p["id"], p["id"])), "20|10")


class SweepByZtpdTest(unittest.TestCase):
    def test_the_sweep_finds_old_idempotency_keys_by_their_time(self):
        """ztp_idem_sweep read every key each hour (39 ms per 300,000): 20,000
        recent keys, 10 old ones, a few blocks read."""
        pg, db = migrated_database()
        counted = functools.partial(pg.psql_counted, db)
        counted("INSERT INTO idempotency_keys (provider_id, key, route, body_hash, status, response, created_at)"
                " SELECT gen_random_uuid(), 'k' || i, 'r', '\\x00', 201, repeat('x', 200),"
                " now() - CASE WHEN i <= 10 THEN interval '25 hours' ELSE interval '1 hour' END"
                " FROM generate_series(1, 20000) i;"
                "ANALYZE idempotency_keys")
        read = ("SELECT heap_blks_hit + heap_blks_read + idx_blks_hit + idx_blks_read"
                " FROM pg_statio_user_tables WHERE relname = 'idempotency_keys'")
        before = int(counted(read)[0])
        counted("SET ROLE ztp_system; SELECT ztp_sweep(30, 0)")
        after = int(counted(read)[0])
        self.assertEqual(counted("SELECT count(*) FROM idempotency_keys")[0], "19990")
        self.assertLess(after - before, 100, "blocks of idempotency keys read by the sweep (the table has 700)")

    def test_ztpd_sweeps_every_ztp_sweep_every_s_and_says_when_it_cannot(self):
        pg, db = migrated_database()
        p = create_provider(db, "sweep")
        pg.psql(db, "INSERT INTO api_keys (id, provider_id, name, hash, secret_id, revoked_at)"
                    " VALUES (md5('gone'), '%s', 'old', '\\x00', 'k', now() - interval '31 days');"
                    "INSERT INTO audit_events (provider_id, at, action) VALUES ('%s', now() - interval '3 days', 'old')"
                    % (p["id"], p["id"]))
        with Ztpd(db, ZTP_SWEEP_EVERY_S=1, ZTP_AUDIT_RETENTION_DAYS=2) as srv:
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM api_keys WHERE id = md5('gone')") == "0"
                       and pg.psql(db, "SELECT count(*) FROM audit_events WHERE action = 'old'") == "0",
                       60, "the sweep of the key revoked 31 days ago and of the 3-day-old audit event")
            wait_until(lambda: "swept 2 rows" in srv.stderr(), 30, "the sweep's line")
            # a sweep that fails says so
            pg.psql(db, "REVOKE EXECUTE ON FUNCTION ztp_sweep(int, int) FROM ztp_system")
            wait_until(lambda: "the sweep failed (42501)" in srv.stderr(), 60, "the failed sweep's line")


if __name__ == "__main__":
    unittest.main()
