"""POST /activate in batches: many redemptions at once, across loop threads
and across two ztpd processes on one database, each answered as if alone,
each code redeemed exactly once, every side effect written once."""
import http.client
import json
import threading
import uuid

from harness import ServerTest, Ztpd, wait_until

RULE = "https://prov.example/$PSN/$MA.xml"


class RedeemBatchTest(ServerTest):
    server_env = {"ZTP_WEBHOOK_ALLOW_PRIVATE": "1"}
    _net = [0]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv2 = Ztpd(cls.db, **cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv2.stop()
        super().tearDownClass()

    def setUp(self):
        self.key = self.provider()["api_key"]
        self.prof = self.srv.post("/v1/profiles", {"name": "p-" + uuid.uuid4().hex[:6], "profile_rule": RULE,
                                                   "short_code": str(uuid.uuid4().int)[:8],
                                                   "short_code_hourly_claims": 5}, key=self.key).json()
        r = self.srv.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["code.redeemed"]},
                          key=self.key)
        self.assertEqual(r.status, 201, r)
        RedeemBatchTest._net[0] += 1

    def issue(self, n, **fields):
        body = {"profile_id": self.prof["id"], "count": n}
        body.update(fields)
        r = self.srv.post("/v1/activation-codes", body, key=self.key)
        self.assertEqual(r.status, 201, r)
        return [i["code"] for i in r.json()["items"]]

    def burst(self, requests):
        """Sends every (code, mac, extra) at once, each from its own address,
        alternating between the two processes; returns the statuses in order."""
        results = [None] * len(requests)
        barrier = threading.Barrier(len(requests))

        def go(i):
            code, mac, extra = requests[i]
            body = {"code": code, "mac": mac}
            body.update(extra)
            barrier.wait()
            srv = (self.srv, self.srv2)[i % 2]
            # many requests at once on a loaded machine: more than the default 10 s for the last one
            results[i] = srv.post("/activate", body, source="127.9.%d.%d" % (self._net[0], i + 1), timeout=60)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        return results

    def q(self, sql):
        return self.pg.psql(self.db, sql)

    def macs(self, n):
        base = uuid.uuid4().int & 0xffffff
        return ["0057%02x%06x" % (self._net[0] % 256, (base + i) & 0xffffff) for i in range(n)]

    def test_distinct_codes_at_once_each_answered_with_every_side_effect(self):
        codes = self.issue(40)
        macs = self.macs(40)
        bound = self.issue(4, mac=macs[0])
        reqs = [(codes[i], macs[i], {"model": "CP-%d" % i}) for i in range(32)]
        reqs += [("%016d" % (i + 1), macs[32 + i], {}) for i in range(4)]     # unknown: 404
        reqs += [(bound[i], macs[36 + i], {}) for i in range(4)]              # bound to macs[0]: 403
        reqs += [(codes[32 + i], macs[i], {}) for i in range(4)]              # a second code, same phone: 200
        res = self.burst(reqs)
        self.assertEqual([r.status for r in res], [200] * 32 + [404] * 4 + [403] * 4 + [200] * 4, res)
        for i in range(32):
            self.assertIn(macs[i], res[i].text.lower().replace(":", ""))
        redeemed = self.q("SELECT count(*) FROM activation_codes WHERE profile_id = '%s' AND redeemed_at IS NOT NULL"
                          % self.prof["id"])
        self.assertEqual(redeemed, "36")
        owned = "ARRAY[%s]::macaddr[]" % ",".join("'%s'" % m for m in macs)
        self.assertEqual(self.q("SELECT count(*) FROM devices WHERE mac = ANY(%s) AND profile_id = '%s'"
                                % (owned, self.prof["id"])), "32")
        # a phone that redeemed two codes made two contacts; the others one
        self.assertEqual(self.q("SELECT string_agg(contacts::text, ',' ORDER BY contacts) FROM devices"
                                " WHERE mac = ANY(%s)" % owned), ",".join(["1"] * 28 + ["2"] * 4))
        self.assertEqual(self.q("SELECT model FROM devices WHERE mac = '%s'" % macs[7]), "CP-7")
        self.assertEqual(self.q("SELECT count(*) FROM audit_events WHERE action = 'device.activation_code'"
                                " AND target = ANY(ARRAY[%s])" % ",".join("'%s'" % m for m in macs)), "36")
        # one status change each; a phone whose two codes raced in the two processes while it was
        # unknown may have two, as when they came one by one (both found no device to lock)
        single = "ARRAY[%s]::macaddr[]" % ",".join("'%s'" % m for m in macs[4:32])
        self.assertEqual(self.q("SELECT count(*) FROM device_events WHERE mac = ANY(%s) AND cause = 'activation_code'"
                                % single), "28")
        self.assertEqual(self.q("SELECT count(DISTINCT mac) FROM device_events WHERE mac = ANY(%s)"
                                " AND cause = 'activation_code'" % owned), "32")
        self.assertEqual(self.q("SELECT count(*) FROM webhook_events e JOIN activation_codes c"
                                " ON c.id = (e.data->>'code_id')::uuid WHERE e.type = 'code.redeemed'"
                                " AND c.profile_id = '%s'" % self.prof["id"]), "36")

    def test_statistics_count_every_redemption_once_new_known_and_moved_devices(self):
        # a bound device is written once with its contact (0026): its owner's
        # statistics must still count it once, whether the phone was unknown,
        # already ours, or released by another provider (whose trigger resets
        # the record: the contact comes after it)
        other = self.provider()["api_key"]
        fresh, ours, moved = self.macs(3)
        self.assertEqual(self.srv.put("/v1/devices/" + ours, {"profile_id": self.prof["id"]}, key=self.key).status, 201)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % ours).status, 200)  # one contact before
        self.assertEqual(self.srv.put("/v1/devices/" + moved, {}, key=other).status, 201)
        self.assertEqual(self.srv.delete("/v1/devices/" + moved, key=other).status, 204)
        codes = self.issue(3)
        res = self.burst([(codes[0], fresh, {}), (codes[1], ours, {}), (codes[2], moved, {})])
        self.assertEqual([r.status for r in res], [200] * 3, res)
        again = self.srv.post("/activate", {"code": codes[0], "mac": fresh}, source="127.9.%d.251" % self._net[0])
        self.assertEqual(again.status, 200, again)  # a lost answer asked again: no second contact
        got = dict(line.split("|") for line in self.q(
            "SELECT replace(mac::text, ':', ''), contacts || ' ' || (last_contact_at IS NOT NULL) FROM devices"
            " WHERE mac IN ('%s', '%s', '%s')" % (fresh, ours, moved)).splitlines())
        self.assertEqual(got, {fresh: "1 true", ours: "2 true", moved: "1 true"})
        s = self.srv.get("/v1/stats", key=self.key).json()
        rows = self.q("SELECT status, count(*) FROM devices WHERE provider_id = (SELECT provider_id FROM profiles"
                      " WHERE id = '%s') GROUP BY 1" % self.prof["id"])
        want = {st: 0 for st in s["status_counts"]}
        want.update({r.split("|")[0]: int(r.split("|")[1]) for r in rows.splitlines()})
        self.assertEqual(s["status_counts"], want)
        self.assertEqual(sum(h["contacts"] for h in s["contacts_per_hour"]), 4)
        o = self.srv.get("/v1/stats", key=other).json()
        self.assertEqual(sum(o["status_counts"].values()), 0)

    def test_a_phone_another_provider_claims_during_the_redemption_stays_theirs(self):
        # unknown when the batch reads its verdicts (no row to lock), the phone
        # is claimed by another provider before the batch's insert: 0017 took
        # it over and answered 200; now the insert leaves it and the answer is 409
        other = self.provider()["id"]
        (mac,) = self.macs(1)
        code = self.issue(1)[0]
        held = self.pg.psql_session(self.db)
        held.stdin.write("BEGIN; SET ROLE ztp_system; INSERT INTO devices (mac, provider_id, status)"
                         " VALUES ('%s', '%s', 'open');\n" % (mac, other))
        held.stdin.flush()
        answer = []
        t = None
        try:
            wait_until(lambda: self.q("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                                      " AND query LIKE 'INSERT INTO devices%%%s%%'" % mac) == "1", 30,
                       "the other provider's claim, uncommitted")
            t = threading.Thread(target=lambda: answer.append(self.srv.post(
                "/activate", {"code": code, "mac": mac}, source="127.9.%d.252" % self._net[0], timeout=60)))
            t.start()
            # this database's batch (tests of other modules may redeem meanwhile)
            wait_until(lambda: self.q("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                      " AND datname = current_database()"
                                      " AND query LIKE '%ztp_redeem_batch%'") == "1", 30, "the batch to wait")
            held.stdin.write("COMMIT;\n")
            held.stdin.flush()
            t.join(60)
        finally:
            held.stdin.close()
            held.wait(30)
        self.assertFalse(t.is_alive(), "the redemption did not end within 60 s")
        self.assertProblem(answer[0], 409)
        self.assertEqual(self.q("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), other)
        self.assertEqual(self.q("SELECT count(*) FROM activation_codes WHERE profile_id = '%s'"
                                " AND redeemed_at IS NOT NULL" % self.prof["id"]), "0")
        self.assertEqual(self.q("SELECT count(*) FROM audit_events WHERE target = '%s'" % mac), "0")
        self.assertEqual(self.q("SELECT count(*) FROM device_events WHERE mac = '%s'" % mac), "0")
        # the code is still good for another phone
        again = self.srv.post("/activate", {"code": code, "mac": self.macs(1)[0]},
                              source="127.9.%d.253" % self._net[0])
        self.assertEqual(again.status, 200, again)

    def test_a_refused_code_for_a_phone_bound_in_the_same_batch_stays_unused(self):
        # ztpd never puts a MAC twice in a batch, but the function is SQL any
        # caller with EXECUTE can call: the side effects follow the binding,
        # not every request naming its MAC (a review found the second code
        # redeemed too, with an audit row and a webhook)
        mac, elsewhere = self.macs(2)
        self.issue(1)
        self.issue(1, mac=elsewhere)
        hashes = self.q("SELECT string_agg(encode(hash, 'hex'), ',' ORDER BY mac NULLS FIRST) FROM activation_codes"
                        " WHERE profile_id = '%s'" % self.prof["id"]).split(",")
        got = self.q("SET ROLE ztp_system; SELECT string_agg(ord || ':' || outcome, ',' ORDER BY ord)"
                     " FROM ztp_redeem_batch('{c,c}', ARRAY['%s', '%s'], '{NULL,NULL}', ARRAY['%s', '%s']::macaddr[],"
                     " '{NULL,NULL}', '{f,f}')" % (hashes[0], hashes[1], mac, mac))
        self.assertEqual(got, "1:ok,2:forbidden")
        self.assertEqual(self.q("SELECT count(*) FROM activation_codes WHERE profile_id = '%s'"
                                " AND redeemed_at IS NOT NULL" % self.prof["id"]), "1")
        self.assertEqual(self.q("SELECT count(*) FROM audit_events WHERE target = '%s'" % mac), "1")

    def test_a_repeat_in_a_transaction_that_recorded_the_contact_records_its_certificate(self):
        # 0007's rule, kept by the batch: a request answered without a binding
        # updates only a contact of its own transaction (ztpd's batches have
        # none, so a failed guess writes nothing)
        (mac,) = self.macs(1)
        code = self.issue(1)[0]
        self.assertEqual(self.srv.post("/activate", {"code": code, "mac": mac},
                                       source="127.9.%d.254" % self._net[0]).status, 200)
        h = self.q("SELECT encode(hash, 'hex') FROM activation_codes WHERE profile_id = '%s'" % self.prof["id"])
        call = ("SELECT outcome FROM ztp_redeem_batch('{c}', ARRAY['%s'], '{NULL}', ARRAY['%s']::macaddr[], '{NULL}',"
                " '{t}')" % (h, mac))
        self.assertEqual(self.q("SET ROLE ztp_system; " + call), "ok")  # another transaction: nothing written
        self.assertEqual(self.q("SELECT last_contact_certified FROM devices WHERE mac = '%s'" % mac), "f")
        self.assertEqual(self.q("SET ROLE ztp_system; BEGIN; UPDATE devices SET last_contact_at = now()"
                                " WHERE mac = '%s'; %s; COMMIT" % (mac, call)), "ok")
        self.assertEqual(self.q("SELECT last_contact_certified FROM devices WHERE mac = '%s'" % mac), "t")

    def test_one_code_from_many_connections_in_two_processes_is_redeemed_once(self):
        code = self.issue(1)[0]
        macs = self.macs(40)
        res = self.burst([(code, m, {}) for m in macs])
        statuses = [r.status for r in res]
        self.assertEqual(statuses.count(200), 1, statuses)
        self.assertEqual(statuses.count(410), 39, statuses)
        winner = macs[statuses.index(200)]
        self.assertEqual(self.q("SELECT ztp_mac_text(redeemed_by) FROM activation_codes WHERE profile_id = '%s'"
                                % self.prof["id"]), winner)
        targets = "ARRAY[%s]" % ",".join("'%s'" % m for m in macs)
        self.assertEqual(self.q("SELECT count(*) FROM audit_events WHERE target = ANY(%s)" % targets), "1")
        self.assertEqual(self.q("SELECT count(*) FROM devices WHERE mac = ANY(%s::macaddr[])" % targets), "1")
        self.assertEqual(self.q("SELECT count(*) FROM webhook_events WHERE type = 'code.redeemed'"
                                " AND data->>'mac' = ANY(%s)" % targets), "1")
        # the winner asking again (a lost answer) is answered again; nobody else is
        again = self.srv2.post("/activate", {"code": code, "mac": winner}, source="127.9.%d.250" % self._net[0])
        self.assertEqual(again.status, 200, again)

    def test_short_code_bound_holds_for_a_burst_across_processes(self):
        macs = self.macs(30)
        res = self.burst([("#" + self.prof["short_code"], m, {}) for m in macs])
        statuses = [r.status for r in res]
        self.assertEqual(statuses.count(200), 5, statuses)
        self.assertEqual(statuses.count(429), 25, statuses)
        self.assertEqual(self.q("SELECT count(*) FROM devices WHERE profile_id = '%s'" % self.prof["id"]), "5")

    def test_codes_and_short_codes_mixed_in_one_burst(self):
        codes = self.issue(10)
        macs = self.macs(14)
        reqs = [(codes[i], macs[i], {}) for i in range(10)]
        reqs += [("#" + self.prof["short_code"], macs[10 + i], {}) for i in range(4)]
        reqs += [(codes[0], macs[13], {})]  # the first code raced by another phone
        res = self.burst(reqs)
        logs = "\n".join(s.stderr()[-3000:] for s in (self.srv, self.srv2))  # why a batch failed, if one did
        self.assertEqual([r.status for r in res[1:14]], [200] * 13, (res, logs))
        self.assertEqual(sorted([res[0].status, res[14].status]), [200, 410], (res, logs))

    def test_hostile_model_text_reaches_the_database_as_sent(self):
        model = 'a"b\\c,{x} NULL\''
        code = self.issue(1)[0]
        mac = self.macs(1)[0]
        r = self.burst([(code, mac, {"model": model})])[0]
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.q("SELECT model = %s FROM devices WHERE mac = '%s'"
                                % ("'" + model.replace("'", "''") + "'", mac)), "t")


def unread_bytes(port):
    """(connections, bytes not yet read by the server) of the established TCP
    connections to port on this host, from /proc/net/tcp."""
    conns = unread = 0
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                conns += 1
                unread += int(fields[4].split(":")[1], 16)
    return conns, unread


class FailedBatchTest(ServerTest):
    """A batch statement that fails for one redemption: each of its redemptions
    goes again in a statement of its own, so the others are answered as if
    alone, and the one that fails gets 503 (its slot given back)."""
    server_env = {"ZTP_THREADS": "1"}

    def test_one_failing_redemption_costs_the_others_nothing(self):
        key = self.provider()["api_key"]
        prof = self.srv.post("/v1/profiles", {"name": "p-" + uuid.uuid4().hex[:6], "profile_rule": RULE},
                             key=key).json()
        r = self.srv.post("/v1/activation-codes", {"profile_id": prof["id"], "count": 11}, key=key)
        self.assertEqual(r.status, 201, r)
        codes = [i["code"] for i in r.json()["items"]]
        base = uuid.uuid4().int & 0xffffff
        macs = ["0058aa%06x" % ((base + i) & 0xffffff) for i in range(11)]
        poisoned = macs[7]
        pg, db = self.pg, self.db
        # the database refuses that one phone (as a broken row or a bug would)
        pg.psql(db, "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.mac = '%s' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;"
                    "CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON devices FOR EACH ROW "
                    "EXECUTE FUNCTION test_poison()" % poisoned)
        self.addCleanup(pg.psql, db, "DROP TRIGGER test_poison ON devices; DROP FUNCTION test_poison()")
        # the first redemption's statement waits on this lock; the ten others gather behind it
        lock = pg.psql_session(db)
        lock.stdin.write("BEGIN; LOCK TABLE activation_codes IN SHARE ROW EXCLUSIVE MODE;\n")
        lock.stdin.flush()
        statuses = [None] * 11
        sent = [threading.Event() for _ in range(11)]

        def go(i):
            conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60,
                                              source_address=("127.10.0.%d" % (i + 1), 0))
            try:
                conn.request("POST", "/activate", json.dumps({"code": codes[i], "mac": macs[i]}),
                             {"Content-Type": "application/json"})
                sent[i].set()
                statuses[i] = conn.getresponse().status
            finally:
                sent[i].set()
                conn.close()

        threads = [threading.Thread(target=go, args=(i,)) for i in range(11)]
        try:
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM pg_locks WHERE granted AND mode ="
                                           " 'ShareRowExclusiveLock' AND relation = 'activation_codes'::regclass")
                       == "1", 30, "the lock")
            threads[0].start()
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                           " AND query LIKE '%ztp_redeem_batch%'") == "1", 30, "the first batch to wait")
            for t in threads[1:]:
                t.start()
            for e in sent:
                e.wait(30)
            # ztpd has read every request (nothing left in its sockets): all ten are queued
            wait_until(lambda: unread_bytes(self.srv.port) == (11, 0), 30, "ztpd to read the ten requests")
        finally:
            lock.stdin.write("ROLLBACK;\n")
            lock.stdin.close()
            lock.wait(30)
        for t in threads:
            t.join(60)
        self.assertEqual(statuses, [503 if m == poisoned else 200 for m in macs], statuses)
        self.assertIn("activation batch of 10 failed", self.srv.stderr())
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM devices WHERE mac::text LIKE '00:58:aa:%'"), "10")
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM audit_events WHERE action = 'device.activation_code'"), "10")
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM activation_codes WHERE redeemed_at IS NOT NULL"), "10")
