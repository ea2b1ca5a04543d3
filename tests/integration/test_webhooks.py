"""Webhooks and statistics: contract section 4 ("Webhooks", "Statistics").

A local receiver (http.server on 127.0.0.1, in a thread) needs
ZTP_WEBHOOK_ALLOW_PRIVATE=1; ZTP_WEBHOOK_RETRY_SCALE=100 makes the retry
delays a hundred times shorter. Signatures are checked exactly as the
Standard Webhooks specification says a receiver must.
"""
import base64
import contextlib
import functools
import hashlib
import hmac
import http.server
import itertools
import json
import threading
import time
import unittest
import uuid

from harness import ServerTest, Ztpd, migrated_database, wait_until

RULE = "https://prov.example/$PSN/$MA.xml"
ALL_DEVICE_EVENTS = ["device.status_changed", "device.claimed", "device.released", "code.redeemed"]


def verify(secret, headers, body):
    """A receiver's check: HMAC-SHA256 of "id.timestamp.body" under the
    base64-decoded part of the secret after "whsec_"."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in sigs) and abs(time.time() - int(ts)) < 300


class Receiver:
    """Records every POST; answers from a per-path plan of statuses (then 200)."""

    def __init__(self):
        self.calls = []
        self.plan = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    todo = outer.plan.get(self.path, [])
                    status = todo.pop(0) if todo else 200
                if self.path == "/slow":
                    time.sleep(14)  # the receiver being slow, not the test waiting
                if self.path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(50 << 20))
                    self.end_headers()
                    try:
                        chunk = b"x" * (1 << 20)
                        for _ in range(50):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    return
                try:
                    self.send_response(status)
                    if status in (301, 302, 307, 308):
                        self.send_header("Location", "http://127.0.0.1:%d/landing" % outer.port)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender hung up (a timed-out attempt)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def received(self, path):
        with self.lock:
            return [(h, b) for p, h, b in self.calls if p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class WebhookTestBase(ServerTest):
    def mac(self):
        return "0056%08x" % (uuid.uuid4().int & 0xffffffff)

    def profile(self, key):
        r = self.srv.post("/v1/profiles", {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": RULE}, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def hook(self, key, url, events):
        r = self.srv.post("/v1/webhooks", {"url": url, "events": events}, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def attempts(self, key, hook_id):
        r = self.srv.get("/v1/webhooks/%s/deliveries" % hook_id, key=key)
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]


class WebhookDeliveryTest(WebhookTestBase):
    server_env = {"ZTP_WEBHOOK_ALLOW_PRIVATE": "1", "ZTP_WEBHOOK_RETRY_SCALE": "100"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()
        super().tearDownClass()

    def events_at(self, path, n, timeout=30):
        return wait_until(lambda: len(self.rx.received(path)) >= n and self.rx.received(path), timeout,
                          "%d webhook calls on %s" % (n, path))

    def test_device_and_code_events_arrive_signed_as_standard_webhooks(self):
        key = self.provider()["api_key"]
        prof = self.profile(key)
        path = "/all-" + uuid.uuid4().hex[:6]
        h = self.hook(key, self.rx.url(path), ALL_DEVICE_EVENTS)
        self.assertTrue(h["secret"].startswith("whsec_"))
        self.assertEqual(len(base64.b64decode(h["secret"][6:])), 32)
        mac, mac2 = self.mac(), self.mac()
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": prof}, key=key).status, 201)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % mac).status, 200)
        self.assertEqual(self.srv.post("/v1/devices/%s/status" % mac, {"status": "acquired"}, key=key).status, 200)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=key).status, 204)
        code = self.srv.post("/v1/activation-codes", {"profile_id": prof}, key=key).json()["items"][0]["code"]
        self.assertEqual(self.srv.post("/activate", {"code": code, "mac": mac2}).status, 200)

        def kinds():
            got = [json.loads(b) for _, b in self.rx.received(path)]
            return sorted((e["type"], e["data"].get("mac"), e["data"].get("to")) for e in got)

        expected = sorted([
            ("device.claimed", mac, None), ("device.status_changed", mac, "open"),
            ("device.status_changed", mac, "custom_pending"), ("device.status_changed", mac, "acquired"),
            ("device.released", mac, None),
            ("device.claimed", mac2, None), ("device.status_changed", mac2, "custom_pending"),
            ("code.redeemed", mac2, None)])
        wait_until(lambda: kinds() == expected, 30, "the eight events (got %s)" % (kinds(),))
        for headers, body in self.rx.received(path):
            self.assertTrue(verify(h["secret"], headers, body), headers)
            event = json.loads(body)
            self.assertEqual(headers["webhook-id"], event["id"])
            self.assertEqual(set(event), {"id", "type", "at", "data"})
            self.assertEqual(headers["content-type"], "application/json")
            forged = dict(headers, **{"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()})
            self.assertFalse(verify(h["secret"], forged, body))
        redeemed = [json.loads(b) for _, b in self.rx.received(path) if json.loads(b)["type"] == "code.redeemed"]
        self.assertEqual(len(redeemed[0]["data"]["last4"]), 4)
        self.assertNotIn(code, json.dumps(redeemed))

    def test_only_subscribed_events_are_sent(self):
        key = self.provider()["api_key"]
        path = "/released-" + uuid.uuid4().hex[:6]
        h = self.hook(key, self.rx.url(path), ["device.released"])
        mac = self.mac()
        self.srv.put("/v1/devices/" + mac, {}, key=key)
        self.srv.delete("/v1/devices/" + mac, key=key)
        got = self.events_at(path, 1)
        self.assertEqual([json.loads(b)["type"] for _, b in got], ["device.released"])
        wait_until(lambda: len(self.attempts(key, h["id"])) == 1, 30, "one attempt")

    def test_receiver_failing_twice_then_succeeding_gets_the_event(self):
        key = self.provider()["api_key"]
        path = "/flaky-" + uuid.uuid4().hex[:6]
        self.rx.plan[path] = [500, 503]
        h = self.hook(key, self.rx.url(path), ["device.claimed"])
        mac = self.mac()
        self.srv.put("/v1/devices/" + mac, {}, key=key)
        got = self.events_at(path, 3)
        ids = {hd["webhook-id"] for hd, _ in got}
        self.assertEqual(len(ids), 1, "the same event each time")
        for hd, b in got:
            self.assertTrue(verify(h["secret"], hd, b))
        items = wait_until(lambda: len(self.attempts(key, h["id"])) == 3 and self.attempts(key, h["id"]), 30,
                           "three recorded attempts")
        self.assertEqual([(i["attempt"], i["status"]) for i in items], [(3, 200), (2, 503), (1, 500)])
        self.assertEqual({i["event_id"] for i in items}, ids)
        self.assertEqual({i["event_type"] for i in items}, {"device.claimed"})
        # delivered: no fourth call
        self.assertEqual(len(self.attempts(key, h["id"])), 3)

    def test_redirects_are_not_followed_and_count_as_failures(self):
        key = self.provider()["api_key"]
        path = "/moved-" + uuid.uuid4().hex[:6]
        self.rx.plan[path] = [302]
        h = self.hook(key, self.rx.url(path), ["device.claimed"])
        self.srv.put("/v1/devices/" + self.mac(), {}, key=key)
        items = wait_until(lambda: len(self.attempts(key, h["id"])) >= 2 and self.attempts(key, h["id"]), 30,
                           "a retry after the 302")
        self.assertEqual([i["status"] for i in items[-2:]], [200, 302])
        self.assertEqual(self.rx.received("/landing"), [])

    def test_huge_answer_is_cut_short_and_still_counts(self):
        key = self.provider()["api_key"]
        h = self.hook(key, self.rx.url("/huge"), ["device.claimed"])
        self.srv.put("/v1/devices/" + self.mac(), {}, key=key)
        items = wait_until(lambda: self.attempts(key, h["id"]), 30, "an attempt")
        self.assertEqual(items[0]["status"], 200)
        self.srv.delete("/v1/webhooks/" + h["id"], key=key)

    def test_slow_receiver_times_out_within_bounds(self):
        key = self.provider()["api_key"]
        h = self.hook(key, self.rx.url("/slow"), ["device.claimed"])
        t0 = time.monotonic()
        self.srv.put("/v1/devices/" + self.mac(), {}, key=key)
        items = wait_until(lambda: self.attempts(key, h["id"]), 40, "a timed-out attempt")
        self.assertIsNone(items[0]["status"])
        self.assertIn("timed out", items[0]["error"].lower())
        self.assertLess(time.monotonic() - t0, 30)
        self.srv.delete("/v1/webhooks/" + h["id"], key=key)

    def test_a_hanging_receiver_holds_only_its_providers_share_of_the_slots(self):
        # 80 events to a receiver that answers after the 10 s timeout: they
        # took all 64 attempts a delivery thread runs, and B's event waited
        # for their timeouts. Now A holds 8, and B's arrives before any of
        # A's attempts has ended (none is recorded yet).
        a, b = self.provider()["api_key"], self.provider()["api_key"]
        ha = self.hook(a, self.rx.url("/slow"), ["device.claimed"])
        hb = self.hook(b, self.rx.url("/b-fair"), ["device.claimed"])
        slow_before = len(self.rx.received("/slow"))
        r = self.srv.post("/v1/devices/import", [{"mac": self.mac()} for _ in range(80)], key=a)
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: len(self.rx.received("/slow")) - slow_before >= 8, 30, "A's first attempts")
        self.srv.put("/v1/devices/" + self.mac(), {}, key=b)
        self.events_at("/b-fair", 1)
        started = len(self.rx.received("/slow")) - slow_before
        # none ended, so none started since: an attempt is recorded before its slot is freed
        self.assertEqual(self.attempts(a, ha["id"]), [], "B waited for one of A's attempts to end")
        self.assertEqual(started, 8)
        for key, h in ((a, ha), (b, hb)):
            self.srv.delete("/v1/webhooks/" + h["id"], key=key)

    def test_deleted_webhook_gets_nothing_more_and_changes_are_audited(self):
        key = self.provider()["api_key"]
        path = "/gone-" + uuid.uuid4().hex[:6]
        h = self.hook(key, self.rx.url(path), ["device.claimed"])
        self.assertEqual(self.srv.delete("/v1/webhooks/" + h["id"], key=key).status, 204)
        self.assertProblem(self.srv.delete("/v1/webhooks/" + h["id"], key=key), 404)
        self.assertProblem(self.srv.get("/v1/webhooks/%s/deliveries" % h["id"], key=key), 404)
        self.srv.put("/v1/devices/" + self.mac(), {}, key=key)
        actions = [(a["action"], a["target"]) for a in self.srv.get("/v1/audit-events", key=key).json()["items"]]
        self.assertIn(("webhook.create", h["id"]), actions)
        self.assertIn(("webhook.delete", h["id"]), actions)
        audit = json.dumps(self.srv.get("/v1/audit-events", key=key).json())
        self.assertNotIn(h["secret"][6:], audit)
        self.assertEqual(self.srv.get("/v1/webhooks", key=key).json()["items"], [])

    def test_secret_is_shown_once_and_stored_sealed(self):
        key = self.provider()["api_key"]
        h = self.hook(key, self.rx.url("/sealed"), ["device.claimed"])
        listed = self.srv.get("/v1/webhooks", key=key).json()["items"]
        self.assertEqual(listed, [{k: h[k] for k in ("id", "url", "events", "created_at")}])
        dump = self.pg.dump(self.db)
        raw = base64.b64decode(h["secret"][6:])
        self.assertNotIn(h["secret"][6:], dump)
        self.assertNotIn(raw.hex(), dump)
        self.assertNotIn(h["secret"], self.srv.stderr() + self.srv.stdout())

    def test_another_providers_webhook_is_404(self):
        a, b = self.provider()["api_key"], self.provider()["api_key"]
        h = self.hook(a, self.rx.url("/mine"), ["device.claimed"])
        self.assertProblem(self.srv.get("/v1/webhooks/%s/deliveries" % h["id"], key=b), 404)
        self.assertProblem(self.srv.delete("/v1/webhooks/" + h["id"], key=b), 404)
        self.assertEqual(self.srv.get("/v1/webhooks", key=b).json()["items"], [])
        self.assertProblem(self.srv.get("/v1/webhooks/not-an-id/deliveries", key=b), 404)
        self.assertEqual(len(self.srv.get("/v1/webhooks", key=a).json()["items"]), 1)

    def test_other_providers_events_never_reach_my_webhook(self):
        a, b = self.provider()["api_key"], self.provider()["api_key"]
        path = "/only-a-" + uuid.uuid4().hex[:6]
        self.hook(a, self.rx.url(path), ["device.claimed"])
        mac_b, mac_a = self.mac(), self.mac()
        self.srv.put("/v1/devices/" + mac_b, {}, key=b)
        self.srv.put("/v1/devices/" + mac_a, {}, key=a)
        self.events_at(path, 1)
        macs = [json.loads(body)["data"]["mac"] for _, body in self.rx.received(path)]
        self.assertEqual(macs, [mac_a])

    def test_invalid_webhooks_are_422(self):
        key = self.provider()["api_key"]
        url = self.rx.url("/x")
        for body in ({"url": url, "events": []}, {"url": url, "events": ["device.exploded"]},
                     {"url": url, "events": ["device.claimed", "device.claimed"]}, {"url": url},
                     {"url": 7, "events": ["device.claimed"]}, {"events": ["device.claimed"]},
                     {"url": "ftp://127.0.0.1/x", "events": ["device.claimed"]},
                     {"url": "/relative", "events": ["device.claimed"]},
                     {"url": "http://user:pw@127.0.0.1/x", "events": ["device.claimed"]},
                     {"url": "http://127.0.0.1/a b", "events": ["device.claimed"]},
                     {"url": "http://no-such-host.invalid/x", "events": ["device.claimed"]}):
            p = self.assertProblem(self.srv.post("/v1/webhooks", body, key=key), 422)
            self.assertTrue(p["errors"], body)
        self.assertProblem(self.srv.post("/v1/webhooks", "{nope", key=key), 400)

    def test_import_job_finished_is_sent_when_a_job_ends(self):
        key = self.provider()["api_key"]
        path = "/jobs-" + uuid.uuid4().hex[:6]
        self.hook(key, self.rx.url(path), ["import_job.finished", "device.claimed"])
        job = self.srv.post("/v1/import-jobs", {"format": "csv"}, key=key).json()
        mac = self.mac()
        r = self.srv.put("/v1/import-jobs/%s/parts/1" % job["id"], "mac\n%s\n" % mac, key=key,
                         headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.srv.post("/v1/import-jobs/%s/start" % job["id"], key=key).status, 202)
        got = self.events_at(path, 2)
        events = {json.loads(b)["type"]: json.loads(b)["data"] for _, b in got}
        self.assertEqual(events["import_job.finished"]["id"], job["id"])
        self.assertEqual(events["import_job.finished"]["state"], "succeeded")
        self.assertEqual(events["import_job.finished"]["created"], 1)
        self.assertEqual(events["device.claimed"]["mac"], mac)

    def test_a_claim_waiting_on_a_lock_gives_up_within_its_limit(self):
        # the claim's own SET statement_timeout never applied to the call:
        # held up by a lock, the delivery thread waited for as long as it was held
        lock = self.pg.psql_session(self.db)
        lock.stdin.write("BEGIN; LOCK TABLE webhooks IN ACCESS EXCLUSIVE MODE;\n")
        lock.stdin.flush()
        waiting = ("SELECT query_start FROM pg_stat_activity WHERE application_name = 'ztpd-webhooks'"
                   " AND wait_event_type = 'Lock'")
        try:
            first = wait_until(lambda: self.pg.psql(self.db, waiting), 30, "a claim to wait on the lock")
            wait_until(lambda: self.pg.psql(self.db, waiting) not in ("", first), 30,
                       "that claim to give up (after 5 s) and the next to wait")
        finally:
            lock.stdin.write("ROLLBACK;\n")
            lock.stdin.close()
            lock.wait(30)

    def test_at_most_20_webhooks_per_provider(self):
        key = self.provider()["api_key"]
        for i in range(20):
            self.hook(key, self.rx.url("/n%d" % i), ["transfer.accepted"])
        self.assertProblem(self.srv.post("/v1/webhooks", {"url": self.rx.url("/n21"), "events": ["device.claimed"]},
                                         key=key), 422)


class WebhookUpkeepTest(unittest.TestCase):
    def test_a_claim_reads_each_providers_due_deliveries_only(self):
        """One receiver down with 20,000 deliveries due, 100 providers with a
        webhook, statistics taken while none was pending (the usual state):
        one claim reads its few rows per provider, not every due delivery
        once per provider (0009's index on the time alone made it 221 ms)."""
        pg, db = migrated_database()  # no ztpd: nothing else claims
        counted = functools.partial(pg.psql_counted, db)
        counted("ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false);"
                "INSERT INTO providers (name) SELECT 'p' || i FROM generate_series(1, 100) i;"
                "INSERT INTO webhooks (provider_id, url, events, secret_box, secret_key_id)"
                " SELECT id, 'https://example.com/h', ARRAY['device.status_changed'], '\\x00', 'k' FROM providers;"
                "INSERT INTO webhook_events (provider_id, type, data)"
                " SELECT (SELECT min(provider_id::text)::uuid FROM webhooks), 'x', '{}' FROM generate_series(1, 20000);"
                "INSERT INTO webhook_deliveries (webhook_id, event_id, provider_id, state, next_attempt_at)"
                " SELECT w.id, e.id, e.provider_id, 'delivered', now() - interval '1 minute'"
                " FROM webhook_events e JOIN webhooks w ON w.provider_id = e.provider_id;"
                "ANALYZE webhook_deliveries;"
                "UPDATE webhook_deliveries SET state = 'pending'")
        read = ("SELECT heap_blks_hit + heap_blks_read + idx_blks_hit + idx_blks_read"
                " FROM pg_statio_user_tables WHERE relname = 'webhook_deliveries'")
        before = int(counted(read)[0])
        claimed = counted("SELECT count(*) FROM ztp_webhook_claim(64, 60, 8, '{}')")[0]
        after = int(counted(read)[0])
        self.assertEqual(claimed, "8")  # its share
        self.assertLess(after - before, 2000, "blocks read by one claim")

    def test_history_past_30_days_goes_in_slices_keeping_what_is_pending(self):
        # it went whole, in the fold's transaction: a backlog too large for
        # that transaction's time would have stopped the statistics as well
        pg, db = migrated_database()
        pg.psql(db, "INSERT INTO providers (name) VALUES ('p');"
                    "INSERT INTO webhooks (provider_id, url, events, secret_box, secret_key_id)"
                    " SELECT id, 'https://example.com/h', ARRAY['device.status_changed'], '\\x00', 'k' FROM providers;"
                    "INSERT INTO webhook_events (provider_id, type, data, at)"
                    " SELECT provider_id, 'old-' || i, '{}'::jsonb, now() - interval '31 days' FROM webhooks, generate_series(1, 7) i"
                    " UNION ALL SELECT provider_id, 'new', '{}', now() - interval '29 days' FROM webhooks, generate_series(1, 2);"
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, provider_id, state)"
                    " SELECT w.id, e.id, e.provider_id, CASE e.type WHEN 'old-7' THEN 'pending' ELSE 'failed' END"
                    " FROM webhook_events e JOIN webhooks w ON w.provider_id = e.provider_id;"
                    "INSERT INTO webhook_attempts (webhook_id, provider_id, event_id, event_type, attempt, at)"
                    " SELECT w.id, w.provider_id, gen_random_uuid(), 'x', 1, now() - d * interval '1 day'"
                    " FROM webhooks w, unnest(ARRAY[31, 32, 33, 34, 35, 1, 29]) d")
        expire = "SET ROLE ztp_system; SELECT ztp_webhooks_expire(3)"
        self.assertEqual([pg.psql(db, expire) for _ in range(4)], ["6", "5", "0", "0"])
        self.assertEqual(pg.psql(db, "SELECT string_agg(type, ',' ORDER BY type) FROM webhook_events"), "new,new,old-7")
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM webhook_deliveries"), "3")  # theirs
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM webhook_attempts"), "2")
        with self.assertRaisesRegex(AssertionError, "permission denied"):
            pg.psql(db, "SET ROLE ztp_tenant; SELECT ztp_webhooks_expire(3)")
        # and ztpd's delivery thread calls it
        pg.psql(db, "INSERT INTO webhook_attempts (webhook_id, provider_id, event_id, event_type, attempt, at)"
                    " SELECT id, provider_id, gen_random_uuid(), 'x', 1, now() - interval '40 days' FROM webhooks")
        with Ztpd(db):
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM webhook_attempts"
                                           " WHERE at < now() - interval '30 days'") == "0", 30, "the expiry")


class WebhookPublicOnlyTest(WebhookTestBase):
    """Without ZTP_WEBHOOK_ALLOW_PRIVATE: only https receivers at public addresses."""

    def test_private_loopback_and_http_destinations_are_422(self):
        key = self.provider()["api_key"]
        for url in ("https://127.0.0.1/x", "https://localhost/x", "https://10.1.2.3/x", "https://172.20.0.1/x",
                    "https://192.168.1.1/x", "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/",
                    "https://0.0.0.0/", "https://[::1]/x", "https://[fe80::1]/x", "https://[fd00::1]/x",
                    "https://[::ffff:10.0.0.1]/x", "https://[::ffff:127.0.0.1]/x", "https://2130706433/x",
                    "https://0x7f000001/x", "https://017700000001/x", "https://127.1/x", "https://224.0.0.1/x",
                    "https://[::ffff:7f00:1]/x", "https://[fe80::1%25eth0]/x", "https://[::]/x",
                    "https://[64:ff9b::7f00:1]/x", "https://[2002:7f00:1::1]/x",
                    "http://93.184.216.34/x", "http://example.com/x"):
            p = self.assertProblem(self.srv.post("/v1/webhooks", {"url": url, "events": ["device.claimed"]},
                                                 key=key), 422)
            self.assertEqual(p["errors"][0]["field"], "url", url)

    def test_public_https_receiver_is_accepted(self):
        key = self.provider()["api_key"]
        h = self.hook(key, "https://93.184.216.34/hooks", ["device.claimed"])
        self.assertEqual(h["url"], "https://93.184.216.34/hooks")

    def test_address_is_checked_again_at_delivery(self):
        """A name that resolved to a public address when registered and to a
        private one later (DNS rebinding): the delivery refuses to connect."""
        key = self.provider()["api_key"]
        rx = Receiver()
        try:
            h = self.hook(key, "https://93.184.216.34/hooks", ["device.claimed"])
            # what a rebinding resolver would do, done in the database
            self.pg.psql(self.db, "UPDATE webhooks SET url = 'https://127.0.0.1:%d/rebound' WHERE id = '%s'"
                         % (rx.port, h["id"]))
            self.srv.put("/v1/devices/" + self.mac(), {}, key=key)
            items = wait_until(lambda: self.attempts(key, h["id"]), 30, "a refused attempt")
            self.assertIsNone(items[0]["status"])
            self.assertIn("not public", items[0]["error"])
            self.assertEqual(rx.calls, [])
        finally:
            rx.close()


class StatsTest(WebhookTestBase):
    def test_stats_match_the_devices(self):
        key = self.provider()["api_key"]
        other = self.provider()["api_key"]
        prof = self.profile(key)
        macs = [self.mac() for _ in range(6)]
        for m in macs[:4]:
            self.assertEqual(self.srv.put("/v1/devices/" + m, {"profile_id": prof}, key=key).status, 201)
        for m in macs[4:]:
            self.assertEqual(self.srv.put("/v1/devices/" + m, {}, key=key).status, 201)
        self.srv.put("/v1/devices/" + self.mac(), {}, key=other)  # not ours
        for m in macs[:3]:
            self.assertEqual(self.srv.get("/redirect/%s.xml" % m).status, 200)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % macs[0]).status, 200)  # a second contact
        self.assertEqual(self.srv.get("/redirect/%s.xml" % macs[4]).status, 404)  # pending: no profile
        self.srv.post("/v1/devices/%s/status" % macs[1], {"status": "acquired"}, key=key)
        self.srv.post("/v1/devices/%s/status" % macs[2], {"status": "aborted"}, key=key)
        self.srv.delete("/v1/devices/" + macs[5], key=key)
        r = self.srv.get("/v1/stats", key=key)
        self.assertEqual(r.status, 200, r)
        s = r.json()
        self.assertEqual(s["status_counts"], {"open": 1, "pending": 1, "custom_pending": 1, "acquired": 1,
                                              "aborted": 1, "unavailable": 0})
        hours = s["contacts_per_hour"]
        self.assertEqual(len(hours), 168)
        self.assertEqual(sum(h["contacts"] for h in hours), 5)
        self.assertEqual(hours[-1]["contacts"], 5)
        self.assertTrue(hours[-1]["hour"].endswith(":00:00.000000Z"))
        ours = {d["status"] for d in self.srv.get("/v1/devices", key=key).json()["items"]}
        self.assertEqual(ours, {"open", "pending", "custom_pending", "acquired", "aborted"})
        o = self.srv.get("/v1/stats", key=other).json()
        self.assertEqual(o["status_counts"]["open"], 1)
        self.assertEqual(sum(h["contacts"] for h in o["contacts_per_hour"]), 0)

    @contextlib.contextmanager
    def folding(self):
        """A session holding the folding's lock, so that ztpd's own folds
        (every 10 s) skip: yields fold(), which returns once that session has
        run a compaction."""
        folder = self.pg.psql_session(self.db)
        folder.stdin.write("SELECT pg_advisory_lock(7349001);\n")
        folder.stdin.flush()
        runs = itertools.count(1)

        def fold():
            n = next(runs)
            folder.stdin.write("SET ROLE ztp_system; SELECT ztp_stats_compact(); SET application_name = 'folded-%d';\n"
                               % n)
            folder.stdin.flush()
            wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_stat_activity"
                                                     " WHERE application_name = 'folded-%d'" % n) == "1", 30, "the fold")
        try:
            wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                                     " AND objid = 7349001 AND granted") == "1", 30, "the lock")
            yield fold
        finally:
            folder.stdin.close()
            folder.wait(30)

    def test_stats_survive_compaction(self):
        with self.folding() as fold:
            self.check_stats_survive_compaction(fold)

    def test_rows_of_the_old_trigger_are_read_and_folded(self):
        # a statement whose trigger ran the code before migration 0040 while
        # it was applied (a ztpd serving through the upgrade) wrote its row
        # into 0022's table, the old way: counted, then folded, like the others
        p = self.provider()
        with self.folding() as fold:
            self.pg.psql(self.db, "INSERT INTO device_stat_batches VALUES (date_trunc('hour', now()),"
                                  " ARRAY['{p}', '{p}']::uuid[], ARRAY['pending', 'aborted'], ARRAY[2, 3],"
                                  " ARRAY['{p}']::uuid[], ARRAY[7])".format(p=p["id"]))
            before = self.srv.get("/v1/stats", key=p["api_key"]).json()
            self.assertEqual((before["status_counts"]["pending"], before["status_counts"]["aborted"]), (2, 3))
            self.assertEqual(sum(h["contacts"] for h in before["contacts_per_hour"]), 7)
            fold()
            self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM device_stat_batches"), "0")
            self.assertEqual(self.srv.get("/v1/stats", key=p["api_key"]).json(), before)

    def test_counts_stay_exact_while_folds_race_writers(self):
        """Three writers (contacts of 5 devices a statement, moves between
        two owners, deletes, claims, rolled-back updates; a commit each)
        while a fourth session folds in a loop until they are done: every
        count read back equals the devices, no contact lost or counted twice."""
        p, q = self.provider(), self.provider()
        base = 0x025000000000 + (uuid.uuid4().int & 0xffff) * 0x10000
        mac = "lpad(to_hex(%d + %%s), 12, '0')::macaddr" % base
        done = "fold_race_%s" % uuid.uuid4().hex[:8]
        self.pg.psql(self.db, "CREATE TABLE %s (k int);"
                              "INSERT INTO devices (mac, provider_id, status) SELECT %s, '%s', 'open'"
                              " FROM generate_series(0, 179) k" % (done, mac % "k", p["id"]))
        # the writers start once a fold has ended, and end once another has
        # (the folder counts its folds down in {done}: -1, -2, ...), so that
        # some fold runs while they write, however fast either side is
        writer = """DO $$
            DECLARE b int := {w} * 60;
            DECLARE seen int;
            BEGIN
                LOOP
                    seen := (SELECT min(k) FROM {done});
                    EXIT WHEN seen < 0;
                    PERFORM pg_sleep(0.002);
                END LOOP;
                FOR i IN 0..149 LOOP
                    CASE i % 5
                    WHEN 0 THEN  -- 5 contacts: status flips, one contact each
                        UPDATE devices SET contacts = contacts + 1,
                                           status = CASE status WHEN 'open' THEN 'pending' ELSE 'open' END
                        WHERE mac IN (SELECT {mac} FROM generate_series(b + i % 8 * 5, b + i % 8 * 5 + 4) k);
                    WHEN 1 THEN  -- a device moves to the other owner
                        UPDATE devices SET provider_id = CASE provider_id WHEN '{p}' THEN '{q}'::uuid ELSE '{p}' END
                        WHERE mac = (SELECT {mac} FROM (SELECT b + 40 + i % 10 AS k) x);
                    WHEN 2 THEN
                        DELETE FROM devices WHERE mac = (SELECT {mac} FROM (SELECT b + 50 + i % 10 AS k) x);
                    WHEN 3 THEN
                        INSERT INTO devices (mac, provider_id, status)
                        SELECT {mac}, '{p}', 'acquired' FROM (SELECT b + 50 + (i + 3) % 10 AS k) x
                        ON CONFLICT DO NOTHING;
                    ELSE
                        BEGIN
                            UPDATE devices SET status = 'aborted', contacts = contacts + 7
                            WHERE mac IN (SELECT {mac} FROM generate_series(b, b + 59) k);
                            RAISE EXCEPTION 'rolled back';
                        EXCEPTION WHEN raise_exception THEN NULL;
                        END;
                    END CASE;
                    COMMIT;
                END LOOP;
                WHILE (SELECT min(k) FROM {done}) >= seen LOOP
                    PERFORM pg_sleep(0.002);
                END LOOP;
                INSERT INTO {done} VALUES ({w});
            END $$;
"""
        folder = """SET ROLE ztp_system;
DO $$
DECLARE n int := 0;
BEGIN
    LOOP
        PERFORM ztp_stats_compact();
        n := n + 1;
        INSERT INTO {done} VALUES (-n);
        COMMIT;
        EXIT WHEN (SELECT count(*) FROM {done} WHERE k >= 0) = 3;
    END LOOP;
END $$;
""".format(done=done)
        self.pg.psql(self.db, "GRANT SELECT, INSERT ON %s TO ztp_system" % done)
        sessions = [self.pg.psql_session(self.db) for _ in range(4)]
        scripts = [writer.format(w=w, mac=mac % "k", p=p["id"], q=q["id"], done=done) for w in range(3)] + [folder]
        for session, script in zip(sessions, scripts):
            session.stdin.write("\\set ON_ERROR_STOP on\n" + script)
            session.stdin.close()
        for session in sessions:
            self.assertEqual(session.wait(120), 0)
        folds = -int(self.pg.psql(self.db, "SELECT min(k) FROM %s" % done))
        self.assertGreater(folds, 1)  # some ran while the writers wrote (the writers wait for it)
        for who in (p, q):
            stats = self.srv.get("/v1/stats", key=who["api_key"]).json()
            counts = self.pg.psql(self.db, "SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM"
                                           " (SELECT status, count(*) AS n FROM devices WHERE provider_id = '%s'"
                                           " GROUP BY 1) x" % who["id"])
            self.assertEqual(",".join("%s:%d" % (k, v) for k, v in sorted(stats["status_counts"].items()) if v),
                             counts)
        contacts = sum(h["contacts"] for h in self.srv.get("/v1/stats", key=p["api_key"]).json()["contacts_per_hour"])
        self.assertEqual(contacts, 3 * 30 * 5)  # the flips' devices never move: every contact is p's
        self.assertEqual(self.pg.psql(self.db, "SELECT sum(contacts) FROM devices WHERE provider_id = '%s'" % p["id"]),
                         str(3 * 30 * 5))

    def totals(self):
        """Every folded row with the transaction that last wrote it."""
        return dict(tuple(line.rsplit("|", 1)) for line in self.pg.psql(
            self.db, "SELECT 's|' || provider_id || '|' || status || '|' || n, xmin FROM device_status_totals"
                     " UNION ALL SELECT 'h|' || provider_id || '|' || hour || '|' || contacts, xmin"
                     " FROM contact_hour_totals").splitlines())

    def test_a_compaction_writes_only_what_changed(self):
        # it once rewrote every folded row every 10 s: with 1,000 providers'
        # 8 days of hours, 0.55 s of a core and 44 MB of WAL per call, idle
        p = self.provider()
        key, pid = p["api_key"], p["id"]
        prof = self.profile(key)
        mac = self.mac()
        with self.folding() as fold:
            self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": prof}, key=key).status, 201)
            fold()
            self.pg.psql(self.db,
                         "INSERT INTO contact_hour_totals SELECT gen_random_uuid(), date_trunc('hour', now())"
                         " - h * interval '1 hour', 7 FROM generate_series(1, 150) h;"
                         "INSERT INTO contact_hour_totals VALUES"
                         " ('{0}', date_trunc('hour', now()) - interval '20 hours', 5),"
                         " ('{0}', date_trunc('hour', now()) - interval '50 hours', 6),"
                         " ('{0}', date_trunc('hour', now()) - interval '9 days', 8)".format(pid))
            kept = self.totals()
            self.assertEqual(len(kept), 154, kept)  # the claim's status, 150 + 3 hours
            self.assertEqual(self.srv.get("/redirect/%s.xml" % mac).status, 200)
            before = self.srv.get("/v1/stats", key=key).json()
            fold()
            after = self.totals()
            untouched = {r: x for r, x in kept.items() if not r.startswith("s|" + pid) and not r.endswith("|8")}
            self.assertEqual({r: after.get(r) for r in untouched}, untouched)  # not written again
            changed = {r for r in after if after[r] != kept.get(r)}
            self.assertEqual(changed - {r for r in changed if r.startswith("h|%s|" % pid) and r.endswith("|1")},
                             {"s|%s|custom_pending|1" % pid}, after)
            self.assertEqual(len(changed), 2, after)  # and this hour's contact
            self.assertEqual([r for r in after if r.startswith("s|%s|open" % pid)], [], after)  # fell to 0: gone
            self.assertEqual([r for r in after if r.endswith("|8")], [], after)  # older than 8 days: gone
            self.assertEqual(self.srv.get("/v1/stats", key=key).json(), before)
            self.assertEqual(sum(h["contacts"] for h in before["contacts_per_hour"]), 5 + 6 + 1)
            fold()  # nothing to fold: nothing written
            self.assertEqual(self.totals(), after)

    def check_stats_survive_compaction(self, fold):
        key = self.provider()["api_key"]
        other = self.provider()["api_key"]
        prof = self.profile(key)
        macs = [self.mac() for _ in range(4)]
        for m in macs:
            self.srv.put("/v1/devices/" + m, {"profile_id": prof}, key=key)
        # contacts and status changes of UPDATE statements (their deltas wait
        # in device_stat_counts until folded), one device released, one claimed by another
        for m in macs[:3] + macs[:1]:
            self.assertEqual(self.srv.get("/redirect/%s.xml" % m).status, 200)
        self.srv.post("/v1/devices/%s/status" % macs[1], {"status": "acquired"}, key=key)
        self.assertEqual(self.srv.delete("/v1/devices/" + macs[2], key=key).status, 204)
        self.assertEqual(self.srv.put("/v1/devices/" + macs[2], {}, key=other).status, 201)
        self.assertNotEqual(self.pg.psql(self.db, "SELECT count(*) FROM device_stat_counts"), "0")
        for table in ("device_stat_counts", "device_stat_batches"):
            with self.assertRaisesRegex(AssertionError, "permission denied"):  # mixed owners: no tenant reads it
                self.pg.psql(self.db, "SET ROLE ztp_tenant; SELECT count(*) FROM " + table)
        before = self.srv.get("/v1/stats", key=key).json()
        before_other = self.srv.get("/v1/stats", key=other).json()
        fold()
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM device_stat_counts"), "0")
        self.assertEqual(self.srv.get("/v1/stats", key=key).json(), before)
        self.assertEqual(self.srv.get("/v1/stats", key=other).json(), before_other)
        self.assertEqual(before["status_counts"], {"open": 1, "pending": 0, "custom_pending": 1, "acquired": 1,
                                                   "aborted": 0, "unavailable": 0})
        self.assertEqual(sum(h["contacts"] for h in before["contacts_per_hour"]), 4)
        self.assertEqual(before_other["status_counts"]["open"], 1)
        self.assertEqual(sum(h["contacts"] for h in before_other["contacts_per_hour"]), 0)
