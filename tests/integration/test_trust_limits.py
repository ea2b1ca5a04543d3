"""Issue 10: scanning limits, activation limits that hold, short-code bounds,
per-device URL tokens, and owners who never see each other's time.

Each test speaks from loopback addresses of its own (127.x.y.z are all local)
so that the per-source limits of one test never touch another.
"""
import hashlib
import http.client
import json
import threading
import uuid

from harness import ServerTest, RESPONSES, Response, wait_until

RULE = "https://prov.example/$PSN/$MA.xml"


def raw_request(srv, method, path, headers, body=None, source=None):
    """An HTTP request whose headers may repeat (X-Forwarded-For on two lines)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        data = json.dumps(body).encode() if body is not None else b""
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        RESPONSES.append((method, path, resp))
        return resp
    finally:
        conn.close()


def in_parallel(n, fn):
    """Runs fn(i) for i in range(n) on n threads released at once; returns the results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except OSError as e:
            results[i] = e

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def token(key_hex, mac):
    return hashlib.blake2b(mac.encode(), key=bytes.fromhex(key_hex), digest_size=16).hexdigest()


class Base(ServerTest):
    _net = [0]

    def setUp(self):
        Base._net[0] += 1
        self.net = "127.%d.%d" % (30 + Base._net[0] // 250, Base._net[0] % 250)
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]

    def src(self, host=1):
        return "%s.%d" % (self.net, host)

    def mac(self):
        return "0056%08x" % (uuid.uuid4().int & 0xffffffff)

    def profile(self, key, **fields):
        body = {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": RULE}
        body.update(fields)
        r = self.srv.post("/v1/profiles", body, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def claim(self, key, mac, profile=None, status=201):
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile["id"]} if profile else {}, key=key)
        self.assertEqual(r.status, status, r)
        return r.json()


class ScanningTest(Base):
    def test_21st_miss_from_one_address_is_429_while_200s_from_another_never_are(self):
        p = self.profile(self.a)
        good = ["0056bb%06x" % (uuid.uuid4().int & 0xffffff) for _ in range(50)]
        for m in good:
            self.claim(self.a, m, p)
        scanner, office = self.src(1), self.src(2)
        for i in range(20):
            self.assertProblem(self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner), 404)
        r = self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner)
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        # blocked means every request from there, a claimed device's included
        self.assertProblem(self.srv.get("/redirect/%s.xml" % good[0], source=scanner), 429)
        self.assertProblem(self.srv.get("/redirect/zz.xml", source=scanner), 429)
        # an office booting 50 phones behind one address, twice: 200s never count
        for _ in range(2):
            for m in good:
                self.assertEqual(self.srv.get("/redirect/%s.xml" % m, source=office).status, 200)
        self.assertRegex(self.srv.get("/metrics").text, r'ztp_redirects_total\{outcome="rate_limited"\} [1-9]')

    def test_a_blocked_source_reaches_nothing_behind_the_limit(self):
        p = self.profile(self.a)
        m = self.mac()
        self.claim(self.a, m, p)
        scanner = self.src(3)
        for i in range(20):
            self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % m, source=scanner).status, 429)
        d = self.srv.get("/v1/devices/" + m, key=self.a).json()
        self.assertEqual((d["contacts"], d["status"]), (0, "open"))  # nothing recorded

    def test_boot_misses_count_like_redirect_misses(self):
        scanner = self.src(5)
        for i in range(10):
            self.assertProblem(self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner), 404)
        for i in range(10):
            self.assertProblem(self.srv.get("/boot/%s.xml" % self.mac(), source=scanner), 404)
        self.assertProblem(self.srv.get("/boot/%s.xml" % self.mac(), source=scanner), 429)
        self.assertProblem(self.srv.get("/boot/y000000000000.boot", source=scanner), 429)

    def test_a_burst_of_misses_sent_at_once_gets_at_most_20_404s(self):
        scanner = self.src(4)
        macs = [self.mac() for _ in range(60)]
        results = in_parallel(60, lambda i: self.srv.get("/redirect/%s.xml" % macs[i], source=scanner).status)
        self.assertEqual(set(results) - {404, 429}, set(), results)
        self.assertLessEqual(results.count(404), 20, results)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner).status, 429)


class ProxiedLimitsTest(Base):
    """Behind a trusted proxy (127.29.0.1, and 10.0.0.0/8 inside): the client is
    the right-most untrusted address across every X-Forwarded-For line."""
    server_env = {"ZTP_TRUSTED_PROXIES": "127.29.0.1,10.0.0.0/8"}
    PROXY = "127.29.0.1"

    def test_x_forwarded_for_is_read_across_all_header_lines(self):
        # the client forges a first line each time; the proxies add a line of their own
        for i in range(10):
            r = raw_request(self.srv, "POST", "/activate",
                            [("X-Forwarded-For", "192.0.2.%d" % (i + 1)),
                             ("X-Forwarded-For", "203.0.113.5, 10.0.0.9")],
                            {"code": "%016d" % (i + 7000), "mac": self.mac()}, source=self.PROXY)
            self.assertEqual(r.status, 404, r)
        r = raw_request(self.srv, "POST", "/activate",
                        [("X-Forwarded-For", "192.0.2.200"), ("X-Forwarded-For", "203.0.113.5, 10.0.0.9")],
                        {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY)
        self.assertProblem(r, 429)
        # the same forged first line with another real client is not blocked
        r = raw_request(self.srv, "POST", "/activate",
                        [("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "203.0.113.6, 10.0.0.9")],
                        {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY)
        self.assertProblem(r, 404)

    def test_ipv6_sources_count_by_their_64(self):
        for i in range(10):
            r = self.srv.post("/activate", {"code": "%016d" % (i + 8000), "mac": self.mac()}, source=self.PROXY,
                              headers={"X-Forwarded-For": "2001:db8:5:6:%x::1" % (i + 1)})
            self.assertProblem(r, 404)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:5:6:ffff::99"})
        self.assertProblem(r, 429)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:5:7::1"})
        self.assertProblem(r, 404)

    def test_one_ipv6_site_blocks_its_own_48_not_everyone(self):
        # a /48 holds 65,536 /64s of ten failures each: enough to fill the
        # tables, which then refuse every newcomer. 160 failures per /48.
        for i in range(160):
            r = self.srv.post("/activate", {"code": "x", "mac": self.mac()}, source=self.PROXY,
                              headers={"X-Forwarded-For": "2001:db8:77:%x::1" % (i // 10)})
            self.assertProblem(r, 400)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:77:ff::1"})
        self.assertProblem(r, 429)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:78:ff::1"})
        self.assertProblem(r, 404)
        # scanning too: 20 misses spread over one /64 block it
        for i in range(20):
            r = self.srv.get("/redirect/%s.xml" % self.mac(), source=self.PROXY,
                             headers={"X-Forwarded-For": "2001:db8:9:9::%x" % (i + 1)})
            self.assertProblem(r, 404)
        r = self.srv.get("/redirect/%s.xml" % self.mac(), source=self.PROXY,
                         headers={"X-Forwarded-For": "2001:db8:9:9:1234::1"})
        self.assertProblem(r, 429)


class ActivationLimitsTest(Base):
    def test_60_simultaneous_wrong_codes_from_one_address_get_at_most_10_answers_but_429(self):
        src = self.src(1)
        results = in_parallel(60, lambda i: self.srv.post("/activate", {"code": "%016d" % (i + 9000),
                                                                        "mac": self.mac()}, source=src).status)
        # a 503 (the database too slow on a loaded machine) is no failed
        # guess: its slot is given back, so it may let one more attempt in
        self.assertEqual(set(results) - {404, 429, 503}, set(), results)
        self.assertLessEqual(results.count(404), 10, results)
        self.assertEqual(self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=src).status, 429)

    def test_60_simultaneous_wrong_codes_for_one_mac_get_at_most_10_answers_but_429(self):
        mac = self.mac()
        results = in_parallel(60, lambda i: self.srv.post("/activate", {"code": "%016d" % (i + 9100), "mac": mac},
                                                          source=self.src(i + 10)).status)
        self.assertEqual(set(results) - {404, 429, 503}, set(), results)
        self.assertLessEqual(results.count(404), 10, results)

    def test_successes_give_their_slot_back(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:9])
        src = self.src(2)
        for i in range(30):  # thirty phones of one office, one after the other
            r = self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": self.mac()}, source=src)
            self.assertEqual(r.status, 200, r)
        for i in range(9):
            self.assertProblem(self.srv.post("/activate", {"code": "%016d" % i, "mac": self.mac()}, source=src), 404)
        self.assertEqual(self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": self.mac()},
                                       source=src).status, 200)

    def test_a_blocked_address_gets_429_even_for_a_malformed_request(self):
        src = self.src(3)
        for i in range(10):
            self.srv.post("/activate", "{", source=src)
        self.assertProblem(self.srv.post("/activate", "{", source=src), 429)


class ShortCodeBoundsTest(Base):
    def redeem(self, p, mac, host):
        return self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": mac}, source=self.src(host))

    def test_bounds_are_validated_and_returned(self):
        p = self.profile(self.a)
        self.assertEqual((p["short_code_prefixes"], p["short_code_hourly_claims"]), (None, 100))
        for bad, field in (({"short_code_prefixes": ["00562"]}, "short_code_prefixes.0"),
                           ({"short_code_prefixes": ["00562b", "0056zz"]}, "short_code_prefixes.1"),
                           ({"short_code_prefixes": ["00562b0436151"]}, "short_code_prefixes.0"),
                           ({"short_code_prefixes": []}, "short_code_prefixes"),
                           ({"short_code_prefixes": "00562b"}, "short_code_prefixes"),
                           ({"short_code_hourly_claims": -1}, "short_code_hourly_claims"),
                           ({"short_code_hourly_claims": "5"}, "short_code_hourly_claims"),
                           ({"short_code_hourly_claims": 1.5}, "short_code_hourly_claims"),
                           ({"short_code_hourly_claims": None}, "short_code_hourly_claims")):
            body = dict({"name": "v-" + uuid.uuid4().hex[:6], "profile_rule": RULE}, **bad)
            problem = self.assertProblem(self.srv.post("/v1/profiles", body, key=self.a), 422)
            self.assertIn(field, [e["field"] for e in problem["errors"]], bad)
            problem = self.assertProblem(self.srv.patch("/v1/profiles/" + p["id"], bad, key=self.a), 422)
            self.assertIn(field, [e["field"] for e in problem["errors"]], bad)
        q = self.profile(self.a, short_code_prefixes=["00562B", "0004f2a1"], short_code_hourly_claims=0)
        self.assertEqual((q["short_code_prefixes"], q["short_code_hourly_claims"]), (["00562b", "0004f2a1"], 0))
        r = self.srv.patch("/v1/profiles/" + q["id"], {"short_code_prefixes": None, "short_code_hourly_claims": 7},
                           key=self.a)
        self.assertEqual((r.json()["short_code_prefixes"], r.json()["short_code_hourly_claims"]), (None, 7))
        listed = self.srv.get("/v1/profiles", key=self.a).json()["items"]
        self.assertTrue(all("short_code_prefixes" in x and "short_code_hourly_claims" in x for x in listed))

    def test_a_mac_outside_the_prefixes_is_403(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:10], short_code_prefixes=["00562b", "0004f2a1"])
        self.assertEqual(self.redeem(p, "00562b%06x" % (uuid.uuid4().int & 0xffffff), 1).status, 200)
        self.assertEqual(self.redeem(p, "0004f2a1%04x" % (uuid.uuid4().int & 0xffff), 1).status, 200)
        outside = "0004f2b1%04x" % (uuid.uuid4().int & 0xffff)
        self.assertProblem(self.redeem(p, outside, 2), 403)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE mac = '%s'" % outside), "0")

    def test_hourly_claims_bound_new_devices_only(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:11], short_code_hourly_claims=3)
        for i in range(3):
            self.assertEqual(self.redeem(p, self.mac(), 3).status, 200)
        r = self.redeem(p, self.mac(), 3)
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        # the provider's own devices are still re-pointed past the bound
        own = self.mac()
        self.claim(self.a, own)
        self.assertEqual(self.redeem(p, own, 3).status, 200)
        self.assertEqual(self.srv.get("/v1/devices/" + own, key=self.a).json()["profile_id"], p["id"])

    def test_hourly_claims_hold_under_concurrency(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:12], short_code_hourly_claims=5)
        macs = [self.mac() for _ in range(20)]
        results = in_parallel(20, lambda i: self.redeem(p, macs[i], 20 + i).status)
        self.assertEqual(results.count(200), 5, results)
        self.assertEqual(results.count(429), 15, results)

    def test_zero_claims_only_repoints_the_providers_own_devices(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:13], short_code_hourly_claims=0)
        self.assertProblem(self.redeem(p, self.mac(), 4), 403)
        own = self.mac()
        self.claim(self.a, own)
        self.assertEqual(self.redeem(p, own, 4).status, 200)
        other = self.mac()
        self.claim(self.b, other)
        self.assertProblem(self.redeem(p, other, 5), 409)


class UrlTokenTest(Base):
    def test_tokens_match_blake2b_before_and_after_rotation(self):
        k = self.srv.get("/v1/url-token-key", key=self.a)
        self.assertEqual(k.status, 200, k)
        first = k.json()
        self.assertRegex(first["key"], r"^[0-9a-f]{64}$")
        self.assertEqual((first["previous_key"], first["rotated_at"]), (None, None))
        self.assertNotEqual(self.srv.get("/v1/url-token-key", key=self.b).json()["key"], first["key"])

        p = self.profile(self.a, profile_rule="https://prov.example/$MA/$(ZTP_TOKEN).xml?t=$(ZTP_TOKEN)",
                         upgrade_rule="http://fw.example/$(ZTP_TOKEN)/$PSN.bin",
                         params={"Prov_Sig": "x$(ZTP_TOKEN)", "Plain": "$(OTHER)"},
                         short_code=str(uuid.uuid4().int)[:9])
        mac = self.mac()
        self.claim(self.a, mac, p)

        def check(key_hex):
            t = token(key_hex, mac)
            x = self.srv.get("/redirect/%s.xml" % mac, source=self.src(1))
            self.assertEqual(x.status, 200, x)
            self.assertIn('<Profile_Rule ua="na">https://prov.example/$MA/%s.xml?t=%s</Profile_Rule>' % (t, t), x.text)
            self.assertIn('<Upgrade_Rule ua="na">http://fw.example/%s/$PSN.bin</Upgrade_Rule>' % t, x.text)
            self.assertIn('<Prov_Sig ua="na">x%s</Prov_Sig>' % t, x.text)
            self.assertIn('<Plain ua="na">$(OTHER)</Plain>', x.text)
            j = self.srv.get("/redirect/%s.json" % mac, source=self.src(1)).json()
            self.assertEqual(j["profile_rule"], "https://prov.example/$MA/%s.xml?t=%s" % (t, t))
            self.assertEqual(j["url"], "https://prov.example/%s/%s.xml?t=%s" % (mac, t, t))
            self.assertEqual(j["params"]["Prov_Sig"], "x" + t)
            a = self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": mac}, source=self.src(2))
            self.assertEqual(a.status, 200, a)
            self.assertEqual(a.json()["url"], j["url"])
            code = self.srv.post("/v1/activation-codes", {"profile_id": p["id"]}, key=self.a).json()["items"][0]
            fresh = self.mac()
            a = self.srv.post("/activate", {"code": code["code"], "mac": fresh}, source=self.src(2),
                              headers={"Accept": "application/xml"})
            self.assertIn(token(key_hex, fresh), a.text)

        check(first["key"])
        r = self.srv.post("/v1/url-token-key", key=self.a)
        self.assertEqual(r.status, 201, r)
        second = r.json()
        self.assertRegex(second["key"], r"^[0-9a-f]{64}$")
        self.assertNotEqual(second["key"], first["key"])
        self.assertEqual(second["previous_key"], first["key"])
        self.assertRegex(second["rotated_at"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(self.srv.get("/v1/url-token-key", key=self.a).json(), second)
        check(second["key"])
        audit = self.srv.get("/v1/audit-events?limit=1000", key=self.a)
        self.assertIn("url_token_key.rotate", audit.text)
        for k in (first["key"], second["key"]):
            self.assertNotIn(k, audit.text)
            self.assertNotIn(k, self.srv.stdout() + self.srv.stderr())
        # the other provider's key did not move
        self.assertIsNone(self.srv.get("/v1/url-token-key", key=self.b).json()["previous_key"])
        self.assertProblem(self.srv.get("/v1/url-token-key"), 401)


class OwnersTest(Base):
    """A new owner starts with contacts 0, no last contact, address, User-Agent or events from before."""

    def history_under_a(self, mac):
        p = self.profile(self.a)
        self.claim(self.a, mac, p)
        for _ in range(3):
            r = self.srv.get("/redirect/%s.xml?model=CP-7841&sn=FCH1234ABCD" % mac, source=self.src(1),
                             headers={"User-Agent": "Cisco-CP-8845-3PCC/11.3.1 (%s)" % mac})
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.srv.post("/v1/devices/%s/status" % mac, {"status": "acquired"}, key=self.a).status, 200)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.a).status, 204)
        # the phone asks while nobody owns it
        self.assertEqual(self.srv.get("/redirect/%s.xml" % mac, source=self.src(1)).status, 404)

    def assertFresh(self, key, mac, contacts=0):
        d = self.srv.get("/v1/devices/" + mac, key=key).json()
        self.assertEqual(d["contacts"], contacts, d)
        if contacts == 0:
            self.assertIsNone(d["last_contact_at"], d)
        row = self.pg.psql(self.db, "SELECT coalesce(host(last_addr), '-'), coalesce(user_agent, '-'),"
                                    " coalesce(ua_vendor, '-'), coalesce(ua_model, '-'), coalesce(ua_firmware, '-'),"
                                    " coalesce(ua_serial, '-'), coalesce(previous_status, '-')"
                                    " FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(row, "-|-|-|-|-|-|-")
        # its status's time is the new owner's too, never before the device became its
        d = self.srv.get("/v1/devices/" + mac, key=key).json()
        self.assertGreaterEqual(d["status_changed_at"], d["created_at"], d)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=key).json()["items"]
        self.assertEqual(len(events), 1, events)
        self.assertIsNone(events[0]["from"])
        return events[0]

    def test_claim_after_release_of_an_open_device_starts_its_status_time(self):
        """PUT kept status_changed_at when the status stayed open: the new owner
        read the time the previous owner had claimed the device."""
        mac = self.mac()
        self.claim(self.a, mac, self.profile(self.a))
        self.pg.psql(self.db, "UPDATE devices SET status_changed_at = now() - interval '1 day' WHERE mac = '%s'" % mac)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.a).status, 204)
        self.claim(self.b, mac)
        d = self.srv.get("/v1/devices/" + mac, key=self.b).json()
        self.assertEqual(d["status"], "open")
        self.assertEqual(d["status_changed_at"], d["created_at"], d)

    def test_claim_after_release(self):
        mac = self.mac()
        self.history_under_a(mac)
        self.claim(self.b, mac)
        self.assertEqual(self.assertFresh(self.b, mac)["cause"], "claimed")
        audit = [e["action"] for e in self.srv.get("/v1/audit-events?limit=1000", key=self.b).json()["items"]
                 if e["target"] == mac]
        self.assertEqual(audit, ["device.claim"])

    def test_import_after_release(self):
        mac = self.mac()
        self.history_under_a(mac)
        r = self.srv.post("/v1/devices/import", "mac\n%s\n" % mac, key=self.b, headers={"Content-Type": "text/csv"})
        self.assertEqual(r.json()["created"], 1, r)
        self.assertEqual(self.assertFresh(self.b, mac)["cause"], "imported")

    def test_import_job_after_release(self):
        mac = self.mac()
        self.history_under_a(mac)
        job = self.srv.post("/v1/import-jobs", {"format": "csv"}, key=self.b).json()["id"]
        self.assertEqual(self.srv.put("/v1/import-jobs/%s/parts/1" % job, "mac\n%s\n" % mac, key=self.b,
                                      headers={"Content-Type": "text/csv"}).status, 200)
        self.assertEqual(self.srv.post("/v1/import-jobs/%s/start" % job, key=self.b).status, 202)
        done = wait_until(lambda: self.srv.get("/v1/import-jobs/" + job, key=self.b).json()["state"]
                          in ("succeeded", "failed"), 60, "the import job to end")
        self.assertTrue(done)
        self.assertEqual(self.srv.get("/v1/import-jobs/" + job, key=self.b).json()["state"], "succeeded")
        self.assertEqual(self.assertFresh(self.b, mac)["cause"], "imported")

    def test_activation_after_release(self):
        mac = self.mac()
        self.history_under_a(mac)
        pb = self.profile(self.b)
        code = self.srv.post("/v1/activation-codes", {"profile_id": pb["id"]}, key=self.b).json()["items"][0]["code"]
        self.assertEqual(self.srv.post("/activate", {"code": code, "mac": mac}, source=self.src(2)).status, 200)
        # the redemption is the new owner's one contact
        self.assertEqual(self.assertFresh(self.b, mac, contacts=1)["cause"], "activation_code")

    def test_an_earlier_owner_coming_back_sees_nothing_of_the_time_between(self):
        mac = self.mac()
        self.history_under_a(mac)
        self.claim(self.b, mac)
        self.srv.get("/redirect/%s.xml" % mac, source=self.src(3))
        self.srv.delete("/v1/devices/" + mac, key=self.b)
        self.claim(self.a, mac)
        self.assertFresh(self.a, mac)

    def test_repeat_redemption_is_410_once_the_provider_no_longer_owns_the_device(self):
        pa = self.profile(self.a)
        code = self.srv.post("/v1/activation-codes", {"profile_id": pa["id"]}, key=self.a).json()["items"][0]["code"]
        mac = self.mac()
        first = self.srv.post("/activate", {"code": code, "mac": mac}, source=self.src(4))
        self.assertEqual(first.status, 200)
        again = self.srv.post("/activate", {"code": code, "mac": mac}, source=self.src(4))
        self.assertEqual((again.status, again.json()), (200, first.json()))
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.a).status, 204)
        self.assertProblem(self.srv.post("/activate", {"code": code, "mac": mac}, source=self.src(5)), 410)
        self.claim(self.b, mac)
        self.assertProblem(self.srv.post("/activate", {"code": code, "mac": mac}, source=self.src(6)), 410)
        # the device stays B's, untouched
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.b).json()["status"], "open")
