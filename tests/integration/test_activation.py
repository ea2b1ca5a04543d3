"""POST /activate and /v1/activation-codes: contract sections 3 and 4."""
import json
import threading
import urllib.parse
import uuid

from harness import ServerTest

RULE = "https://prov.example/$PSN/$MA.xml"


class ActivationTest(ServerTest):
    _addr = [0]

    def setUp(self):
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]
        self.pa = self.srv.post("/v1/profiles", {"name": "a-" + uuid.uuid4().hex[:6], "profile_rule": RULE,
                                                 "short_code": str(uuid.uuid4().int)[:8]}, key=self.a).json()
        self.pb = self.srv.post("/v1/profiles", {"name": "b-" + uuid.uuid4().hex[:6], "profile_rule": RULE},
                                key=self.b).json()
        # each test speaks from its own loopback address so limits do not leak between tests
        ActivationTest._addr[0] += 1
        self.src = "127.1.%d.%d" % (ActivationTest._addr[0] // 250, ActivationTest._addr[0] % 250 + 1)

    def issue(self, key=None, **fields):
        body = {"profile_id": (self.pa if key in (None, self.a) else self.pb)["id"]}
        body.update(fields)
        r = self.srv.post("/v1/activation-codes", body, key=key or self.a)
        self.assertEqual(r.status, 201, r)
        return r.json()["items"]

    def activate(self, code, mac, source=None, **kw):
        body = {"code": code, "mac": mac}
        body.update(kw.pop("extra", {}))
        return self.srv.post("/activate", body, source=source or self.src, **kw)

    def mac(self):
        return "0056%08x" % (uuid.uuid4().int & 0xffffffff)

    # --- issuing --------------------------------------------------------

    def test_issue_returns_16_digit_codes_once(self):
        items = self.issue(count=5, expires_in=3600)
        self.assertEqual(len(items), 5)
        for it in items:
            self.assertEqual(set(it), {"id", "code", "profile_id", "mac", "expires_at", "created_at"})
            self.assertRegex(it["code"], r"^\d{16}$")
        self.assertEqual(len({it["code"] for it in items}), 5)
        listed = self.srv.get("/v1/activation-codes?state=active", key=self.a)
        self.assertEqual(listed.status, 200)
        ids = {x["id"]: x for x in listed.json()["items"]}
        for it in items:
            self.assertEqual(ids[it["id"]]["last4"], it["code"][-4:])
            self.assertEqual(ids[it["id"]]["state"], "active")
            self.assertNotIn(it["code"], listed.text)
            self.assertNotIn(it["code"], self.srv.stdout())
            self.assertNotIn(it["code"], self.srv.stderr())
        dump = self.pg.dump(self.db)  # every table: codes, idempotency keys, audit, events
        for it in items:
            self.assertNotIn(it["code"], dump)

    def test_issue_validation(self):
        for body, field in (({}, "profile_id"), ({"profile_id": self.pa["id"], "count": 0}, "count"),
                            ({"profile_id": self.pa["id"], "count": 1001}, "count"),
                            ({"profile_id": self.pa["id"], "expires_in": 59}, "expires_in"),
                            ({"profile_id": self.pa["id"], "expires_in": 2592001}, "expires_in"),
                            ({"profile_id": self.pa["id"], "mac": "01562b043615"}, "mac"),
                            ({"profile_id": self.pb["id"]}, "profile_id")):
            problem = self.assertProblem(self.srv.post("/v1/activation-codes", body, key=self.a), 422)
            self.assertIn(field, [e["field"] for e in problem["errors"]], body)

    def test_thousand_codes_in_one_request(self):
        items = self.issue(count=1000)
        self.assertEqual(len({it["code"] for it in items}), 1000)

    def test_idempotency_key_replays_the_same_codes(self):
        body = {"profile_id": self.pa["id"], "count": 3}
        key = "order-" + uuid.uuid4().hex
        first = self.srv.post("/v1/activation-codes", body, key=self.a, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        again = self.srv.post("/v1/activation-codes", body, key=self.a, headers={"Idempotency-Key": key})
        self.assertEqual((again.status, again.json()), (201, first.json()))
        n = self.pg.psql(self.db, "SELECT count(*) FROM activation_codes WHERE id = ANY('{%s}'::uuid[])"
                         % ",".join(i["id"] for i in first.json()["items"]))
        self.assertEqual(n, "3")
        other = self.srv.post("/v1/activation-codes", dict(body, count=2), key=self.a, headers={"Idempotency-Key": key})
        self.assertProblem(other, 422)
        # the replayed codes work
        self.assertEqual(self.activate(again.json()["items"][0]["code"], self.mac()).status, 200)
        # another provider's identical key is its own
        b = self.srv.post("/v1/activation-codes", {"profile_id": self.pb["id"]}, key=self.b,
                          headers={"Idempotency-Key": key})
        self.assertEqual(b.status, 201)
        self.assertProblem(self.srv.post("/v1/activation-codes", body, key=self.a,
                                         headers={"Idempotency-Key": "k" * 201}), 422)
        # bytes that are not UTF-8: the client's mistake, not an outage (was a 503 from the database's refusal)
        for raw in (b"\xff\xfe", b"k\xc3", b"\xed\xa0\x80"):
            self.assertProblem(self.srv.post("/v1/activation-codes", body, key=self.a,
                                             headers={"Idempotency-Key": raw}), 422)

    def test_concurrent_requests_with_one_idempotency_key_issue_once(self):
        body = {"profile_id": self.pa["id"], "count": 5}
        key = "race-" + uuid.uuid4().hex
        before = int(self.pg.psql(self.db, "SELECT count(*) FROM activation_codes"))
        statuses = []
        barrier = threading.Barrier(8)

        def go():
            barrier.wait()
            statuses.append(self.srv.post("/v1/activation-codes", body, key=self.a, timeout=60,
                                          headers={"Idempotency-Key": key}).status)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(statuses), 8, statuses)  # every request was answered
        self.assertTrue(set(statuses) <= {201, 409}, statuses)
        self.assertIn(201, statuses)
        after = int(self.pg.psql(self.db, "SELECT count(*) FROM activation_codes"))
        self.assertEqual(after - before, 5)

    # --- redeeming ------------------------------------------------------

    def test_redeem_binds_device_and_answers_like_redirect(self):
        code = self.issue()[0]["code"]
        mac = self.mac()
        r = self.activate(code[:4] + " " + code[4:8] + "-" + code[8:], mac, extra={"model": "CP-8845-3PCC"})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual((body["mac"], body["profile_rule"]), (mac, RULE))
        self.assertEqual(body["url"], "https://prov.example/8845-3PCC/%s.xml" % mac)
        d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
        self.assertEqual((d["status"], d["profile_id"]), ("custom_pending", self.pa["id"]))
        ev = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([(e["from"], e["to"], e["cause"]) for e in ev], [(None, "custom_pending", "activation_code")])
        self.assertIn("device.activation_code", self.srv.get("/v1/audit-events?limit=1000", key=self.a).text)
        listed = {x["last4"]: x for x in self.srv.get("/v1/activation-codes?state=redeemed", key=self.a).json()["items"]}
        self.assertEqual(listed[code[-4:]]["redeemed_by"], mac)
        # the phone lost the answer and asks again: the same 200
        again = self.activate(code, mac)
        self.assertEqual((again.status, again.json()), (200, body))
        # XML on request
        x = self.activate(code, mac, headers={"Accept": "application/xml"})
        self.assertTrue(x.headers["content-type"].startswith("application/xml"))
        self.assertIn("<Profile_Rule", x.text)

    def test_form_body_works(self):
        code = self.issue()[0]["code"]
        mac = self.mac()
        r = self.srv.post("/activate", urllib.parse.urlencode({"code": code, "mac": mac}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, source=self.src)
        self.assertEqual(r.status, 200, r)
        # JSON sent as a form (curl -d): the 400 says what to change
        r = self.srv.post("/activate", json.dumps({"code": code, "mac": mac}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, source=self.src)
        self.assertIn("Content-Type: application/json", self.assertProblem(r, 400)["detail"])

    def test_error_table(self):
        mac = self.mac()
        # 400: malformed code or MAC
        for code, m in (("123", mac), ("12345678901234567", mac), ("abcd" * 4, mac), ("#12", mac),
                        ("1" * 16, "zz"), ("1" * 16, "01562b043615")):
            self.assertProblem(self.activate(code, m, source="127.2.0.1"), 400)
        self.assertProblem(self.srv.post("/activate", "{", source="127.2.0.2"), 400)
        # 404: no such code
        self.assertProblem(self.activate("0000000000000000", mac, source="127.2.0.3"), 404)
        self.assertProblem(self.activate("#99999999999", mac, source="127.2.0.3"), 404)
        # 403: bound to another MAC
        bound = self.issue(mac="00562b0a0001")[0]["code"]
        self.assertProblem(self.activate(bound, mac, source="127.2.0.4"), 403)
        self.assertEqual(self.activate(bound, "00562b0a0001", source="127.2.0.4").status, 200)
        # 409: the device belongs to another provider
        other = self.mac()
        self.srv.put("/v1/devices/" + other, {}, key=self.b)
        body = self.assertProblem(self.activate(self.issue()[0]["code"], other, source="127.2.0.5"), 409)
        self.assertNotIn("B", body["detail"])
        # 410: expired, revoked, redeemed by another device
        expired = self.issue(expires_in=60)[0]
        self.pg.psql(self.db, "UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE id = '%s'"
                     % expired["id"])
        self.assertProblem(self.activate(expired["code"], mac, source="127.2.0.6"), 410)
        self.assertIn(expired["id"], self.srv.get("/v1/activation-codes?state=expired", key=self.a).text)
        revoked = self.issue()[0]
        self.assertEqual(self.srv.delete("/v1/activation-codes/" + revoked["id"], key=self.a).status, 204)
        self.assertProblem(self.activate(revoked["code"], mac, source="127.2.0.6"), 410)
        self.assertIn(revoked["id"], self.srv.get("/v1/activation-codes?state=revoked", key=self.a).text)
        used = self.issue()[0]["code"]
        self.assertEqual(self.activate(used, self.mac(), source="127.2.0.7").status, 200)
        self.assertProblem(self.activate(used, mac, source="127.2.0.7"), 410)

    def test_codes_of_another_provider_are_invisible(self):
        item = self.issue(key=self.b)[0]
        self.assertProblem(self.srv.delete("/v1/activation-codes/" + item["id"], key=self.a), 404)
        self.assertNotIn(item["id"], self.srv.get("/v1/activation-codes", key=self.a).text)
        self.assertProblem(self.srv.get("/v1/activation-codes?state=bogus", key=self.a), 422)

    def test_codes_are_listed_a_page_at_a_time(self):
        issued = [c["id"] for c in self.issue(count=250)]
        revoked = issued[10:13]
        for i in revoked:
            self.assertEqual(self.srv.delete("/v1/activation-codes/" + i, key=self.a).status, 204)

        def walk(query, limit):
            seen, cursor = [], None
            while True:
                q = "%s%slimit=%d" % (query, "&" if "?" in query else "?", limit)
                r = self.srv.get(q + ("&cursor=" + cursor if cursor else ""), key=self.a)
                self.assertEqual(r.status, 200, r)
                page = r.json()
                self.assertLessEqual(len(page["items"]), limit)
                seen += [x["id"] for x in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen

        order = self.pg.psql(self.db, "SELECT string_agg(id::text, ',' ORDER BY created_at, id) FROM activation_codes"
                                      " WHERE id IN (%s)" % ",".join("'%s'" % i for i in issued)).split(",")
        self.assertEqual(walk("/v1/activation-codes", 100), order)  # each exactly once, oldest first
        self.assertEqual(walk("/v1/activation-codes?state=active", 37), [i for i in order if i not in revoked])
        self.assertEqual(walk("/v1/activation-codes?state=revoked", 2), [i for i in order if i in revoked])
        first = self.srv.get("/v1/activation-codes", key=self.a).json()
        self.assertEqual(len(first["items"]), 100)  # the default page
        self.assertTrue(first["next_cursor"].endswith("_" + order[99]), first["next_cursor"])
        for bad in ("limit=0", "limit=1001", "limit=x", "cursor=nope", "cursor=" + order[0],
                    "cursor=" + first["next_cursor"] + "x", "cursor=0" + first["next_cursor"],
                    "cursor=_" + order[0], "cursor=1234567890123456789_" + order[0]):
            self.assertProblem(self.srv.get("/v1/activation-codes?" + bad, key=self.a), 422)
        # the walk goes on past a code that is gone (swept) since its page
        self.pg.psql(self.db, "DELETE FROM activation_codes WHERE id = '%s'" % order[99])
        rest = self.srv.get("/v1/activation-codes?limit=1000&cursor=" + first["next_cursor"], key=self.a).json()
        self.assertEqual([x["id"] for x in rest["items"]], order[100:])
        # a cursor of another provider's list shows the caller's codes only
        self.issue(key=self.b, count=2)
        theirs = self.srv.get("/v1/activation-codes?limit=1", key=self.b).json()["next_cursor"]
        mine = self.srv.get("/v1/activation-codes?limit=1000&cursor=" + theirs, key=self.a).json()["items"]
        self.assertTrue(set(x["id"] for x in mine) <= set(order))

    def test_short_code_is_reusable(self):
        short = "#" + self.pa["short_code"]
        for _ in range(2):
            mac = self.mac()
            r = self.activate(short, mac)
            self.assertEqual(r.status, 200, r)
            d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
            self.assertEqual((d["status"], d["profile_id"]), ("custom_pending", self.pa["id"]))
        owned = self.mac()
        self.srv.put("/v1/devices/" + owned, {}, key=self.b)
        self.assertProblem(self.activate(short, owned), 409)

    def test_a_short_code_redeemed_again_for_its_device_writes_nothing(self):
        # each repeat bound the device again: a write, an event and an audit
        # row per request, without bound (1,000 in 0.7 s from one connection)
        short, mac = "#" + self.pa["short_code"], self.mac()
        first = self.activate(short, mac, headers={"Accept": "application/json"})
        self.assertEqual(first.status, 200, first)
        written = ("SELECT (SELECT count(*) FROM audit_events WHERE target = ztp_mac_text('{0}'))"
                   " || '/' || (SELECT count(*) FROM device_events WHERE mac = '{0}')"
                   " || '/' || (SELECT xmin FROM devices WHERE mac = '{0}')").format(mac)
        before = self.pg.psql(self.db, written)
        for _ in range(3):
            again = self.activate(short, mac, headers={"Accept": "application/json"})
            self.assertEqual((again.status, again.json()), (200, first.json()))
        self.assertEqual(self.pg.psql(self.db, written), before)
        self.assertTrue(before.startswith("1/1/"), before)  # the first binding's own
        # another of the provider's short codes still moves the device to its profile
        other = self.srv.post("/v1/profiles", {"name": "other-" + uuid.uuid4().hex[:8], "profile_rule": RULE,
                                               "short_code": str(uuid.uuid4().int)[:9]}, key=self.a).json()
        self.assertEqual(self.activate("#" + other["short_code"], mac).status, 200)
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.a).json()["profile_id"], other["id"])

    def test_a_short_code_typed_again_on_a_reset_phone_moves_it_on(self):
        """A repeat wrote nothing whatever the status: a phone reset after it
        was acquired (or aborted) stayed so, with no event."""
        short, mac = "#" + self.pa["short_code"], self.mac()
        self.assertEqual(self.activate(short, mac).status, 200)
        for reported in ("acquired", "aborted"):
            r = self.srv.post("/v1/devices/%s/status" % mac, {"status": reported}, key=self.a)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.activate(short, mac).status, 200)
            d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
            self.assertEqual(d["status"], "custom_pending")
            events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
            self.assertEqual((events[-1]["from"], events[-1]["to"]), (reported, "custom_pending"))
        # and a repeat in custom_pending still writes nothing
        n = len(self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"])
        self.assertEqual(self.activate(short, mac).status, 200)
        self.assertEqual(len(self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]), n)

    def test_a_stored_longest_model_ending_in_a_wide_character_expands_whole(self):
        # $PSN cut that model through its "é": no JSON, a text/plain 500, the code spent
        mac, model = self.mac(), "A" * 62 + "\u00e9"
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"model": model}, key=self.a).status, 201)
        r = self.activate("#" + self.pa["short_code"], mac, headers={"Accept": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["url"], "https://prov.example/%s/%s.xml" % (model, mac))

    # --- exactly once ---------------------------------------------------

    def test_one_code_raced_by_64_devices_is_redeemed_once(self):
        code = self.issue()[0]["code"]
        macs = ["0056aa%06x" % i for i in range(64)]
        results = [None] * 64
        barrier = threading.Barrier(64)

        def go(i):
            barrier.wait()
            # 64 requests at once on a loaded machine: more than the default 10 s for the last one
            results[i] = self.activate(code, macs[i], source="127.3.%d.%d" % (i // 200, i % 200 + 1),
                                       timeout=60).status

        threads = [threading.Thread(target=go, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(results.count(200), 1, results)
        self.assertEqual(results.count(410), 63, results)
        winner = macs[results.index(200)]
        owned = self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE mac = ANY('{%s}'::macaddr[])" % ",".join(macs))
        self.assertEqual(owned, "1")
        self.assertEqual(self.pg.psql(self.db, "SELECT ztp_mac_text(redeemed_by) FROM activation_codes"
                                               " WHERE last4 = '%s' AND redeemed_by IS NOT NULL" % code[-4:]), winner)

    # --- brute force ----------------------------------------------------

    def test_ten_failures_from_one_address_block_it_even_for_a_correct_code(self):
        good = self.issue()[0]["code"]
        src = "127.4.0.1"
        for i in range(10):
            self.assertProblem(self.activate("%016d" % i, self.mac(), source=src), 404)
        r = self.activate(good, self.mac(), source=src)
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        # another address is not affected
        self.assertEqual(self.activate(good, self.mac(), source="127.4.0.2").status, 200)

    def test_ten_failures_for_one_mac_across_addresses_block_it(self):
        good = self.issue()[0]["code"]
        mac = self.mac()
        for i in range(10):
            self.assertProblem(self.activate("%016d" % (i + 100), mac, source="127.5.0.%d" % (i + 1)), 404)
        r = self.activate(good, mac, source="127.5.1.1")
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE mac = '%s'" % mac), "0")
        self.assertRegex(self.srv.get("/metrics").text, r'ztp_activations_total\{outcome="rate_limited"\} [1-9]')


class SweepTest(ServerTest):
    def test_sweep_deletes_codes_that_ended_long_ago_and_old_idempotency_keys(self):
        key = self.provider("sweep")["api_key"]
        p = self.srv.post("/v1/profiles", {"name": "s", "profile_rule": RULE}, key=key).json()
        items = self.srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 4}, key=key,
                              headers={"Idempotency-Key": "old"}).json()["items"]
        ids = [i["id"] for i in items]
        self.pg.psql(self.db, "UPDATE activation_codes SET expires_at = now() - interval '31 days',"
                              " created_at = now() - interval '38 days' WHERE id = '%s'" % ids[0])
        self.pg.psql(self.db, "UPDATE activation_codes SET revoked_at = now() - interval '40 days' WHERE id = '%s'"
                     % ids[1])
        self.pg.psql(self.db, "UPDATE activation_codes SET expires_at = now() - interval '1 day' WHERE id = '%s'"
                     % ids[2])
        self.pg.psql(self.db, "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        swept = self.pg.psql(self.db, "SET role ztp_system; SELECT ztp_codes_sweep(30) + ztp_idem_sweep()")
        self.assertEqual(swept.splitlines()[-1], "3")
        left = self.pg.psql(self.db, "SELECT id FROM activation_codes WHERE id = ANY('{%s}'::uuid[]) ORDER BY id"
                            % ",".join(ids)).split()
        self.assertEqual(sorted(left), sorted(ids[2:]))
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM idempotency_keys"), "0")
