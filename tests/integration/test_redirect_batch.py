"""The redirect batch (redirect/contacts.c, profcache.c): requests of one MAC folded into one row, statuses and
events exact whatever the concurrency, and profiles answered from each loop thread's cache exactly as the
database holds them from the moment an edit is answered."""
import hashlib
import threading
import unittest
import uuid

from harness import OwnCluster, ServerTest

THREADS = 2


def token(key_hex, mac):
    return hashlib.blake2b(mac.encode(), key=bytes.fromhex(key_hex), digest_size=16).hexdigest()


def in_parallel(n, fn):
    """fn(i) for i in range(n) on n threads released at once; the results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class BatchTest(ServerTest):
    server_env = {"ZTP_THREADS": str(THREADS)}
    _next = [0x0c1167100000]
    _net = [0]

    def setUp(self):
        self.key = self.provider()["api_key"]
        self._net[0] += 1

    def get(self, path, i=0, **kw):
        """GET from a source of this test's own (request i's), clear of the scanning limit's 20 misses."""
        return self.srv.get(path, source="127.77.%d.%d" % (self._net[0], i % 250 + 1), **kw)

    def mac(self):
        self._next[0] += 1
        return "%012x" % self._next[0]

    def profile(self, key=None, **fields):
        body = {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": "https://prov.example/$MA.xml"}
        body.update(fields)
        r = self.srv.post("/v1/profiles", body, key=key or self.key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def claim(self, mac, profile=None, key=None):
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile["id"]} if profile else {}, key=key or self.key)
        self.assertIn(r.status, (200, 201), r)

    def events(self, mac, key=None):
        r = self.srv.get("/v1/devices/%s/events" % mac, key=key or self.key)
        self.assertEqual(r.status, 200, r)
        return [(e["from"], e["to"], e["cause"]) for e in r.json()["items"]]

    def device(self, mac):
        return self.srv.get("/v1/devices/" + mac, key=self.key).json()

    def rules(self, mac, n=8):
        """The Profile_Rule of n answers, each on a new connection (so that every loop thread answers some)."""
        out = set()
        for _ in range(n):
            r = self.get("/redirect/%s.xml" % mac)
            if r.status != 200:
                out.add(r.status)
                continue
            out.add(r.text.split('<Profile_Rule ua="na">')[1].split("</Profile_Rule>")[0])
        return out

    def test_simultaneous_requests_of_one_mac_are_every_contact_and_one_status_change(self):
        prof = self.profile()
        with_profile, without = self.mac(), self.mac()
        self.claim(with_profile, prof)
        self.claim(without)
        n = 40
        got = in_parallel(n, lambda i: self.get("/redirect/%s.xml" % (with_profile if i % 2 else without), i).status)
        self.assertEqual(sorted(got), [200] * (n // 2) + [404] * (n // 2))
        self.assertEqual(self.device(with_profile)["contacts"], n // 2)
        self.assertEqual(self.device(without)["contacts"], n // 2)
        self.assertEqual(self.events(with_profile),
                         [(None, "open", "claimed"), ("open", "custom_pending", "redirect")])
        self.assertEqual(self.events(without), [(None, "open", "claimed"), ("open", "pending", "redirect")])
        self.assertEqual(self.device(with_profile)["status"], "custom_pending")
        self.assertEqual(self.device(without)["status"], "pending")

    def test_many_macs_at_once_each_counted_and_moved_once(self):
        prof = self.profile()
        macs = [self.mac() for _ in range(12)]
        for m in macs:
            self.claim(m, prof)
        got = in_parallel(48, lambda i: self.get("/redirect/%s.xml" % macs[i % 12], i).status)
        self.assertEqual(got, [200] * 48)
        for m in macs:
            self.assertEqual(self.device(m)["contacts"], 4, m)
            self.assertEqual(self.events(m), [(None, "open", "claimed"), ("open", "custom_pending", "redirect")], m)

    def test_the_last_request_is_recorded_and_unknown_macs_stay_unknown(self):
        prof = self.profile()
        mac, unknown = self.mac(), self.mac()
        self.claim(mac, prof)
        got = in_parallel(10, lambda i: self.get(
            "/redirect/%s.xml" % (mac if i < 8 else unknown), i,
            headers={"User-Agent": "Cisco-CP-8845-3PCC/11.3.%d (%s)" % (i, mac)}).status)
        self.assertEqual(sorted(got), [200] * 8 + [404] * 2)
        d = self.device(mac)
        self.assertEqual(d["contacts"], 8)
        self.assertIsNotNone(d["last_contact_at"])
        self.assertEqual(self.srv.get("/v1/devices/" + unknown, key=self.key).status, 404)

    def test_an_edited_profile_is_answered_from_its_200_on(self):
        prof = self.profile(profile_rule="https://one.example/$MA.xml")
        mac = self.mac()
        self.claim(mac, prof)
        self.assertEqual(self.rules(mac), {"https://one.example/$MA.xml"})
        for i in range(5):
            rule = "https://edit%d.example/$MA.xml" % i
            r = self.srv.patch("/v1/profiles/" + prof["id"], {"profile_rule": rule}, key=self.key)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.rules(mac), {rule}, i)
        r = self.srv.patch("/v1/profiles/" + prof["id"], {"params": {"Resync_Periodic": "60"}}, key=self.key)
        self.assertEqual(r.status, 200, r)
        for _ in range(4):
            self.assertIn('<Resync_Periodic ua="na">60</Resync_Periodic>', self.get("/redirect/%s.xml" % mac).text)
            self.assertEqual(self.get("/redirect/%s.json" % mac).json()["params"], {"Resync_Periodic": "60"})

    def test_a_deleted_profile_is_never_answered(self):
        old, new = self.profile(profile_rule="https://old.example/$MA"), self.profile(profile_rule="https://new.example/$MA")
        mac, other = self.mac(), self.mac()
        self.claim(mac, old)
        self.claim(other, old)
        self.assertEqual(self.rules(mac), {"https://old.example/$MA"})
        self.claim(mac, new)
        self.assertEqual(self.srv.delete("/v1/devices/" + other, key=self.key).status, 204)
        self.assertEqual(self.srv.delete("/v1/profiles/" + old["id"], key=self.key).status, 204)
        self.assertEqual(self.rules(mac), {"https://new.example/$MA"})
        self.assertEqual(self.rules(other, 4), {404})

    def test_only_a_change_moves_the_profile_epoch(self):
        """Every ztpd thread refetches its profiles when the epoch moves: a request that changes
        nothing (any API key can repeat it) must not empty every cache."""
        prof = self.profile()
        other = self.provider()["api_key"]
        epoch = lambda: int(self.pg.psql(self.db, "SELECT epoch FROM profile_epoch"))
        before = epoch()
        missing = str(uuid.uuid4())
        self.assertEqual(self.srv.patch("/v1/profiles/" + missing, {"profile_rule": "https://x.example/$MA"},
                                        key=self.key).status, 404)
        self.assertEqual(self.srv.delete("/v1/profiles/" + missing, key=self.key).status, 404)
        self.assertEqual(self.srv.patch("/v1/profiles/" + prof["id"], {"profile_rule": "https://x.example/$MA"},
                                        key=other).status, 404)
        self.assertEqual(epoch(), before)
        r = self.srv.patch("/v1/profiles/" + prof["id"], {"profile_rule": "https://x.example/$MA"}, key=self.key)
        self.assertEqual(r.status, 200, r)
        self.assertGreater(epoch(), before)
        before = epoch()
        self.assertEqual(self.srv.post("/v1/url-token-key", None, key=self.key).status, 201)
        self.assertGreater(epoch(), before)

    def test_two_providers_each_get_their_own_profile_and_token(self):
        other = self.provider()["api_key"]
        rule = "https://prov.example/$(ZTP_TOKEN)/$MA.xml"
        mine, theirs = self.profile(profile_rule=rule), self.profile(key=other, profile_rule=rule)
        a, b = self.mac(), self.mac()
        self.claim(a, mine)
        self.claim(b, theirs, key=other)
        ka = self.srv.get("/v1/url-token-key", key=self.key).json()["key"]
        kb = self.srv.get("/v1/url-token-key", key=other).json()["key"]
        self.assertEqual(self.rules(a), {"https://prov.example/%s/$MA.xml" % token(ka, a)})
        self.assertEqual(self.rules(b), {"https://prov.example/%s/$MA.xml" % token(kb, b)})
        r = self.srv.patch("/v1/profiles/" + theirs["id"], {"profile_rule": "https://b.example/$MA"}, key=other)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.rules(b), {"https://b.example/$MA"})
        self.assertEqual(self.rules(a), {"https://prov.example/%s/$MA.xml" % token(ka, a)})
        # the one provider's edit is not the other's business: 404 as if absent, nothing changed
        self.assertEqual(self.srv.patch("/v1/profiles/" + mine["id"], {"profile_rule": "https://x.example/"},
                                        key=other).status, 404)
        self.assertEqual(self.rules(a), {"https://prov.example/%s/$MA.xml" % token(ka, a)})

    def test_tokens_are_per_device_in_every_part_of_the_answer(self):
        prof = self.profile(profile_rule="[--key $(ZTP_TOKEN)] https://p.example/$MA/$(ZTP_TOKEN)?a=1&b=2",
                            upgrade_rule="https://fw.example/$(ZTP_TOKEN).bin",
                            params={"Sig": "<$(ZTP_TOKEN)>", "Plain": "$(OTHER)&"})
        key = self.srv.get("/v1/url-token-key", key=self.key).json()["key"]
        macs = [self.mac() for _ in range(4)]
        for m in macs:
            self.claim(m, prof)
        for m in macs:
            t = token(key, m)
            x = self.get("/redirect/%s.xml" % m).text
            self.assertIn('<Profile_Rule ua="na">[--key %s] https://p.example/$MA/%s?a=1&amp;b=2</Profile_Rule>'
                          % (t, t), x)
            self.assertIn('<Upgrade_Rule ua="na">https://fw.example/%s.bin</Upgrade_Rule>' % t, x)
            self.assertIn('<Sig ua="na">&lt;%s&gt;</Sig>' % t, x)
            self.assertIn('<Plain ua="na">$(OTHER)&amp;</Plain>', x)
            j = self.get("/redirect/%s.json" % m).json()
            self.assertEqual(j["url"], "https://p.example/%s/%s?a=1&b=2" % (m, t))
            self.assertEqual(j["upgrade_rule"], "https://fw.example/%s.bin" % t)
            self.assertEqual(j["params"], {"Sig": "<%s>" % t, "Plain": "$(OTHER)&"})


class DurabilityTest(unittest.TestCase):
    """Every contact is answered only once committed as the server is configured (here: never, as its
    synchronous standby does not exist): a first contact (a status change) and a repeat contact alike, since
    nothing answered 200 may be lost in a failover (test_failover counts contacts)."""

    def test_no_contact_is_answered_before_the_standby_has_it(self):
        with OwnCluster() as c:
            pg, db = c.pg, c.db
            first, again = "0c1167200001", "0c1167200002"
            pg.psql(db, """
                SET synchronous_commit = local; SET role ztp_system;
                INSERT INTO providers (name) VALUES ('p');
                INSERT INTO profiles (provider_id, name, profile_rule) SELECT id, 'm', 'https://p.example/$MA' FROM providers;
                INSERT INTO devices (mac, provider_id, profile_id, status)
                    SELECT m::macaddr, p.provider_id, p.id, s FROM profiles p,
                           (VALUES ('%s', 'open'), ('%s', 'custom_pending')) v(m, s);
            """ % (first, again))
            srv = c.serve(check=False, ZTP_DB_TIMEOUT_MS="1500")
            self.assertEqual(srv.get("/redirect/%s.xml" % again).status, 200)
            c.name_synchronous_standby("ghost")
            for mac in (again, first):
                r = srv.get("/redirect/%s.xml" % mac, timeout=30)
                self.assertEqual(r.status, 503, (mac, r))
