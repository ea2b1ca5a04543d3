"""Fleet operations (contract section 4): re-point and transfers between providers."""
import itertools
import json
import random
import threading
import uuid

from harness import SECRET, ServerTest, Ztpd, create_provider, wait_until

RULE = "https://prov.example/$MA.xml"
_macs = itertools.count(random.randrange(0x100000, 0xe00000, 0x10000))


def new_mac():
    return "00562b%06x" % next(_macs)


class FleetTest(ServerTest):
    # ---- helpers ------------------------------------------------------

    def key(self):
        return self.provider()["api_key"]

    def profile(self, key):
        r = self.srv.post("/v1/profiles", {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": RULE}, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def claim(self, key, n=1, **fields):
        macs = [new_mac() for _ in range(n)]
        for mac in macs:
            self.assertEqual(self.srv.put("/v1/devices/" + mac, fields, key=key).status, 201)
        return macs

    def device(self, key, mac):
        return self.srv.get("/v1/devices/" + mac, key=key)

    def audit(self, key):
        r = self.srv.get("/v1/audit-events?limit=1000", key=key)
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def repoint(self, key, body, status=200):
        r = self.srv.post("/v1/devices/repoint", body, key=key)
        self.assertEqual(r.status, status, r)
        return r.json()

    def transfer(self, key, macs, **fields):
        body = {"macs": macs}
        body.update(fields)
        r = self.srv.post("/v1/transfers", body, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def accept(self, key, code, timeout=10, **fields):
        body = {"code": code}
        body.update(fields)
        return self.srv.post("/v1/transfers/accept", body, key=key, timeout=timeout)

    # ---- re-point -----------------------------------------------------

    def test_repoint_by_from_profile_changes_only_those(self):
        a = self.key()
        p1, p2, p3 = self.profile(a), self.profile(a), self.profile(a)
        on_p1 = self.claim(a, 3, profile_id=p1)
        on_p2 = self.claim(a, 2, profile_id=p2)
        self.assertEqual(self.repoint(a, {"to_profile_id": p3, "from_profile_id": p1}), {"matched": 3, "changed": 3})
        for mac in on_p1:
            self.assertEqual(self.device(a, mac).json()["profile_id"], p3)
        for mac in on_p2:
            self.assertEqual(self.device(a, mac).json()["profile_id"], p2)

    def test_repoint_by_status(self):
        a = self.key()
        p1, p2 = self.profile(a), self.profile(a)
        acquired = self.claim(a, 2, profile_id=p1)
        still_open = self.claim(a, 1, profile_id=p1)
        for mac in acquired:
            self.assertEqual(self.srv.post("/v1/devices/%s/status" % mac, {"status": "acquired"}, key=a).status, 200)
        self.assertEqual(self.repoint(a, {"to_profile_id": p2, "status": "acquired"}), {"matched": 2, "changed": 2})
        self.assertEqual([self.device(a, m).json()["profile_id"] for m in acquired + still_open], [p2, p2, p1])

    def test_repoint_by_macs_counts_each_device_once_and_skips_others(self):
        a, b = self.key(), self.key()
        p1, p2 = self.profile(a), self.profile(a)
        mine = self.claim(a, 3, profile_id=p1)
        theirs = self.claim(b, 1)
        already = self.claim(a, 1, profile_id=p2)
        macs = [mine[0], mine[1].upper(), mine[0], theirs[0], already[0], new_mac()]
        self.assertEqual(self.repoint(a, {"to_profile_id": p2, "macs": macs}), {"matched": 3, "changed": 2})
        self.assertEqual(self.device(a, mine[2]).json()["profile_id"], p1)
        self.assertIsNone(self.device(b, theirs[0]).json()["profile_id"])

    def test_repoint_with_every_filter_at_once(self):
        a = self.key()
        p1, p2, p3 = self.profile(a), self.profile(a), self.profile(a)
        target = self.claim(a, 2, profile_id=p1)
        other_status = self.claim(a, 1, profile_id=p1)
        other_profile = self.claim(a, 1, profile_id=p2)
        not_listed = self.claim(a, 1, profile_id=p1)
        for mac in target + other_profile + not_listed:
            self.srv.post("/v1/devices/%s/status" % mac, {"status": "aborted"}, key=a)
        body = {"to_profile_id": p3, "from_profile_id": p1, "status": "aborted",
                "macs": target + other_status + other_profile}
        self.assertEqual(self.repoint(a, body), {"matched": 2, "changed": 2})
        got = [self.device(a, m).json()["profile_id"] for m in target + other_status + other_profile + not_listed]
        self.assertEqual(got, [p3, p3, p1, p2, p1])

    def test_repoint_dry_run_counts_changes_nothing_and_is_not_audited(self):
        a = self.key()
        p1, p2 = self.profile(a), self.profile(a)
        macs = self.claim(a, 2, profile_id=p1) + self.claim(a, 1)
        before = len(self.audit(a))
        self.assertEqual(self.repoint(a, {"to_profile_id": p2, "dry_run": True}), {"matched": 3, "changed": 3})
        self.assertEqual([self.device(a, m).json()["profile_id"] for m in macs], [p1, p1, None])
        self.assertEqual(len(self.audit(a)), before)

    def test_repoint_is_audited_once_with_its_counts(self):
        a = self.key()
        p1, p2 = self.profile(a), self.profile(a)
        self.claim(a, 4, profile_id=p1)
        self.claim(a, 1, profile_id=p2)
        self.assertEqual(self.repoint(a, {"to_profile_id": p2}), {"matched": 5, "changed": 4})
        entries = [e for e in self.audit(a) if e["action"] == "device.repoint"]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["target"], p2)
        self.assertEqual((entries[0]["detail"]["matched"], entries[0]["detail"]["changed"]), (5, 4))

    def test_repoint_to_or_from_a_foreign_or_unknown_profile_is_422_at_the_field(self):
        a, b = self.key(), self.key()
        mine, theirs = self.profile(a), self.profile(b)
        macs = self.claim(a, 1, profile_id=mine)
        for body, field in (({"to_profile_id": theirs}, "to_profile_id"),
                            ({"to_profile_id": str(uuid.uuid4())}, "to_profile_id"),
                            ({"to_profile_id": mine, "from_profile_id": theirs}, "from_profile_id"),
                            ({"to_profile_id": "nope"}, "to_profile_id"),
                            ({}, "to_profile_id")):
            problem = self.assertProblem(self.srv.post("/v1/devices/repoint", body, key=a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], [field], body)
        self.assertEqual(self.device(a, macs[0]).json()["profile_id"], mine)

    def test_repoint_bad_status_macs_or_dry_run_is_422(self):
        a = self.key()
        p = self.profile(a)
        for body, field in (({"status": "lost"}, "status"), ({"status": 3}, "status"),
                            ({"macs": ["00562b04361"]}, "macs[0]"), ({"macs": ["ffffffffffff"]}, "macs[0]"),
                            ({"macs": "00562b043615"}, "macs"), ({"dry_run": "yes"}, "dry_run")):
            body["to_profile_id"] = p
            problem = self.assertProblem(self.srv.post("/v1/devices/repoint", body, key=a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], [field], body)
        huge = {"to_profile_id": p, "macs": ["00562b%06x" % i for i in range(100001)]}
        problem = self.assertProblem(self.srv.post("/v1/devices/repoint", huge, key=a), 422)
        self.assertEqual(problem["errors"][0]["field"], "macs")
        self.assertProblem(self.srv.post("/v1/devices/repoint", "{", key=a), 400)

    def test_repoint_with_an_empty_mac_list_matches_nothing(self):
        a = self.key()
        p1, p2 = self.profile(a), self.profile(a)
        self.claim(a, 1, profile_id=p1)
        self.assertEqual(self.repoint(a, {"to_profile_id": p2, "macs": []}), {"matched": 0, "changed": 0})

    # ---- transfers: the happy path --------------------------------------

    def test_accepted_transfer_moves_devices_as_a_new_owners(self):
        a, b = self.key(), self.key()
        pa, pb = self.profile(a), self.profile(b)
        macs = self.claim(a, 3, profile_id=pa, model="CP-8845", serial="FCH1")
        self.assertEqual(self.srv.get("/redirect/%s.xml" % macs[0],
                                      headers={"User-Agent": "Cisco-CP-8845-3PCC/11.3.1 (%s)" % macs[0]}).status, 200)
        wait_until(lambda: self.device(a, macs[0]).json()["contacts"] >= 1, 30, "the contact to be recorded")
        self.srv.post("/v1/devices/%s/status" % macs[1], {"status": "acquired"}, key=a)
        t = self.transfer(a, [macs[0], macs[1].upper(), macs[2]])
        self.assertRegex(t["code"], r"^[0-9]{16}$")
        self.assertEqual(t["macs"], macs)
        for k in ("id", "expires_at", "created_at"):
            self.assertIn(k, t)

        r = self.accept(b, t["code"][:4] + " " + t["code"][4:8] + "-" + t["code"][8:], profile_id=pb)
        self.assertEqual((r.status, r.json()), (200, {"transferred": 3}), r)
        for mac in macs:
            self.assertProblem(self.device(a, mac), 404)
            d = self.device(b, mac).json()
            self.assertEqual((d["profile_id"], d["status"], d["contacts"], d["last_contact_at"], d["model"],
                              d["serial"]), (pb, "open", 0, None, None, None))
            events = self.srv.get("/v1/devices/%s/events" % mac, key=b).json()["items"]
            self.assertEqual([(e["from"], e["to"], e["cause"]) for e in events], [(None, "open", "transferred")])
        self.assertNotIn(macs[0], self.srv.get("/v1/devices?limit=1000", key=a).text)
        listed = [d["mac"] for d in self.srv.get("/v1/devices?limit=1000", key=b).json()["items"]]
        self.assertEqual(sorted(set(listed) & set(macs)), macs)
        # the receiver's devices answer the receiver's profile
        self.assertEqual(self.srv.get("/redirect/%s.xml" % macs[2]).status, 200)

    def test_accept_without_profile_leaves_the_devices_without_one(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 1, profile_id=self.profile(a))
        t = self.transfer(a, macs)
        self.assertEqual(self.accept(b, t["code"]).json(), {"transferred": 1})
        self.assertIsNone(self.device(b, macs[0]).json()["profile_id"])
        self.assertProblem(self.srv.get("/redirect/%s.xml" % macs[0]), 404)

    def test_both_audit_trails_show_the_transfer_naming_no_one(self):
        sender, receiver = self.provider("Sender Ltd"), self.provider("Receiver Inc")
        a, b = sender["api_key"], receiver["api_key"]
        macs = self.claim(a, 2)
        self.srv.post("/v1/devices/%s/status" % macs[0], {"status": "aborted"}, key=a)
        t = self.transfer(a, macs)
        self.assertEqual(self.accept(b, t["code"]).status, 200)
        sent = self.audit(a)
        got = self.audit(b)
        self.assertEqual([(e["action"], e["target"]) for e in sent if e["action"].startswith("transfer.")],
                         [("transfer.created", t["id"]), ("transfer.accepted", t["id"])])
        self.assertEqual([e["detail"]["transferred"] for e in sent if e["action"] == "transfer.accepted"], [2])
        self.assertEqual([(e["action"], e["detail"]["transferred"]) for e in got],
                         [("transfer.accepted", 2)])
        for text, other in ((json.dumps(sent), receiver), (json.dumps(got), sender)):
            self.assertNotIn(other["id"], text)
            self.assertNotIn(other["name"], text)
            self.assertNotIn(other["api_key"].split("_")[1], text)
        self.assertIsNone([e for e in sent if e["action"] == "transfer.accepted"][0]["key_id"])
        # the receiver sees nothing of the sender's time: no events, no audit of the devices
        for mac in macs:
            events = self.srv.get("/v1/devices/%s/events" % mac, key=b).json()["items"]
            self.assertNotIn("aborted", json.dumps(events))
        self.assertNotIn(macs[0], json.dumps(got))

    def test_only_devices_the_sender_still_owns_move(self):
        a, b, c = self.key(), self.key(), self.key()
        macs = self.claim(a, 3)
        t = self.transfer(a, macs)
        # released and claimed by a third provider meanwhile; released and claimed back by the sender
        self.assertEqual(self.srv.delete("/v1/devices/" + macs[0], key=a).status, 204)
        self.assertEqual(self.srv.put("/v1/devices/" + macs[0], {}, key=c).status, 201)
        self.assertEqual(self.srv.delete("/v1/devices/" + macs[1], key=a).status, 204)
        self.assertEqual(self.accept(b, t["code"]).json(), {"transferred": 1})
        self.assertEqual(self.device(c, macs[0]).status, 200)
        self.assertProblem(self.device(b, macs[0]), 404)
        self.assertProblem(self.device(b, macs[1]), 404)
        self.assertEqual(self.device(b, macs[2]).status, 200)
        states = {x["id"]: x for x in self.srv.get("/v1/transfers", key=a).json()["items"]}
        self.assertEqual((states[t["id"]]["state"], states[t["id"]]["transferred"]), ("accepted", 1))

    # ---- transfers: what is refused ---------------------------------------

    def test_used_transfer_code_is_410(self):
        a, b, c = self.key(), self.key(), self.key()
        t = self.transfer(a, self.claim(a, 1))
        self.assertEqual(self.accept(b, t["code"]).status, 200)
        self.assertProblem(self.accept(b, t["code"]), 410)
        self.assertProblem(self.accept(c, t["code"]), 410)

    def test_expired_transfer_is_410(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 1)
        t = self.transfer(a, macs, expires_in=60)
        self.pg.psql(self.db, "UPDATE transfers SET expires_at = now() - interval '1 second' WHERE id = '%s'" % t["id"])
        self.assertProblem(self.accept(b, t["code"]), 410)
        self.assertEqual(self.device(a, macs[0]).status, 200)
        self.assertEqual([x["state"] for x in self.srv.get("/v1/transfers?state=expired", key=a).json()["items"]],
                         ["expired"])

    def test_cancelled_transfer_is_410_and_listed_as_cancelled(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 2)
        t = self.transfer(a, macs)
        listed = self.srv.get("/v1/transfers", key=a).json()["items"]
        self.assertEqual([(x["id"], x["state"], x["mac_count"]) for x in listed], [(t["id"], "open", 2)])
        self.assertNotIn("code", listed[0])
        self.assertNotIn("macs", listed[0])
        self.assertNotIn(t["code"], self.srv.get("/v1/transfers", key=a).text)
        self.assertEqual(self.srv.delete("/v1/transfers/" + t["id"], key=a).status, 204)
        self.assertEqual(self.srv.delete("/v1/transfers/" + t["id"], key=a).status, 204)
        self.assertProblem(self.accept(b, t["code"]), 410)
        self.assertEqual(self.srv.get("/v1/transfers/" + t["id"], key=a).json()["state"], "cancelled")
        self.assertEqual([e["action"] for e in self.audit(a) if e["action"].startswith("transfer.")],
                         ["transfer.created", "transfer.cancelled"])
        self.assertEqual(self.device(a, macs[0]).status, 200)

    def test_an_accepted_transfer_cannot_be_cancelled(self):
        a, b = self.key(), self.key()
        t = self.transfer(a, self.claim(a, 1))
        self.assertEqual(self.accept(b, t["code"]).status, 200)
        self.assertProblem(self.srv.delete("/v1/transfers/" + t["id"], key=a), 409)

    def test_another_providers_transfer_is_404_to_cancel_and_read(self):
        a, b = self.key(), self.key()
        t = self.transfer(a, self.claim(a, 1))
        self.assertProblem(self.srv.delete("/v1/transfers/" + t["id"], key=b), 404)
        self.assertProblem(self.srv.get("/v1/transfers/" + t["id"], key=b), 404)
        self.assertProblem(self.srv.delete("/v1/transfers/not-an-id", key=b), 404)
        self.assertEqual(self.srv.get("/v1/transfers", key=b).json()["items"], [])
        self.assertEqual(self.srv.get("/v1/transfers/" + t["id"], key=a).json()["state"], "open")

    def test_transferring_macs_not_yours_is_422_naming_each(self):
        a, b = self.key(), self.key()
        mine = self.claim(a, 1)
        theirs = self.claim(b, 1)
        released = self.claim(a, 1)
        self.srv.delete("/v1/devices/" + released[0], key=a)
        problem = self.assertProblem(self.srv.post("/v1/transfers", {"macs": [mine[0], theirs[0], new_mac(),
                                                                             released[0]]}, key=a), 422)
        self.assertEqual([e["field"] for e in problem["errors"]], ["macs[1]", "macs[2]", "macs[3]"])
        # another provider's MAC, an unknown one and a released one are told apart by nothing
        details = set(e["detail"].split(" ", 1)[1] for e in problem["errors"])
        self.assertEqual(len(details), 1, problem)
        self.assertEqual(self.srv.get("/v1/transfers", key=a).json()["items"], [])
        self.assertEqual(self.device(b, theirs[0]).status, 200)

    def test_transfer_macs_bounded_validated_and_without_repeats(self):
        a = self.key()
        mac = self.claim(a, 1)[0]
        for body, fields in (({"macs": []}, ["macs"]), ({}, ["macs"]), ({"macs": [mac, "zz"]}, ["macs[1]"]),
                             ({"macs": [mac, mac.upper()]}, ["macs[1]"]),
                             ({"macs": [mac], "expires_in": 59}, ["expires_in"]),
                             ({"macs": [mac], "expires_in": 2592001}, ["expires_in"])):
            problem = self.assertProblem(self.srv.post("/v1/transfers", body, key=a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], fields, body)
        huge = {"macs": ["00562b%06x" % i for i in range(100001)]}
        self.assertProblem(self.srv.post("/v1/transfers", huge, key=a), 422)
        many_bad = {"macs": ["zz"] * 5000}
        problem = self.assertProblem(self.srv.post("/v1/transfers", many_bad, key=a), 422)
        self.assertLessEqual(len(problem["errors"]), 101)
        self.assertEqual(self.srv.get("/v1/transfers", key=a).json()["items"], [])

    def test_accept_refuses_own_transfer_foreign_profile_and_malformed_code(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 1)
        t = self.transfer(a, macs)
        problem = self.assertProblem(self.accept(a, t["code"]), 422)
        self.assertEqual(problem["errors"][0]["field"], "code")
        problem = self.assertProblem(self.accept(b, t["code"], profile_id=self.profile(a)), 422)
        self.assertEqual(problem["errors"][0]["field"], "profile_id")
        for code in ("123", "1234567890abcdef", "#1234", 1234567890123456, None):
            self.assertProblem(self.accept(b, code), 400)
        self.assertProblem(self.accept(b, "0" * 16 if t["code"] != "0" * 16 else "1" * 16), 404)
        self.assertEqual(self.accept(b, t["code"]).json(), {"transferred": 1})

    def test_concurrent_accepts_succeed_exactly_once(self):
        a = self.key()
        receivers = [self.key() for _ in range(4)]
        macs = self.claim(a, 5)
        t = self.transfer(a, macs)
        results = []
        lock = threading.Lock()
        start = threading.Barrier(12)

        def attempt(key):
            start.wait()
            r = self.accept(key, t["code"], timeout=60)
            with lock:
                results.append((r.status, key))

        threads = [threading.Thread(target=attempt, args=(receivers[i % 4],)) for i in range(12)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        statuses = sorted(s for s, _ in results)
        self.assertEqual(statuses, [200] + [410] * 11, results)
        winner = [k for s, k in results if s == 200][0]
        for mac in macs:
            self.assertEqual(self.device(winner, mac).status, 200)
            events = self.srv.get("/v1/devices/%s/events" % mac, key=winner).json()["items"]
            self.assertEqual(len(events), 1)
        self.assertEqual(self.pg.psql(self.db, "SELECT transferred FROM transfers WHERE id = '%s'" % t["id"]), "5")

    def test_idempotent_create_replays_the_same_code(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 2)
        headers = {"Idempotency-Key": "sale-" + uuid.uuid4().hex}
        first = self.srv.post("/v1/transfers", {"macs": macs}, key=a, headers=headers)
        again = self.srv.post("/v1/transfers", {"macs": macs}, key=a, headers=headers)
        self.assertEqual((first.status, again.status), (201, 201))
        self.assertEqual(first.json(), again.json())
        self.assertEqual(len(self.srv.get("/v1/transfers", key=a).json()["items"]), 1)
        problem = self.assertProblem(self.srv.post("/v1/transfers", {"macs": macs[:1]}, key=a, headers=headers), 422)
        self.assertEqual(problem["errors"][0]["field"], "Idempotency-Key")
        self.assertEqual(self.accept(b, again.json()["code"]).json(), {"transferred": 2})
        # the code itself is nowhere in the database
        self.assertNotIn(first.json()["code"], self.pg.dump(self.db))

    def test_repeated_wrong_codes_get_429_with_retry_after(self):
        a, b, c = self.key(), self.key(), self.key()
        t = self.transfer(a, self.claim(a, 1))
        wrong = str((int(t["code"]) + 1) % 10 ** 16).zfill(16)
        for _ in range(10):
            self.assertProblem(self.accept(b, wrong), 404)
        r = self.accept(b, wrong)
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        # the right code too, while the window lasts; another provider is not held up
        self.assertProblem(self.accept(b, t["code"]), 429)
        self.assertEqual(self.accept(c, t["code"]).status, 200)
        # a burst arriving at once gets at most 10 failures past the limit
        d = self.key()
        results = []
        start = threading.Barrier(20)

        def guess():
            start.wait()
            results.append(self.accept(d, wrong, timeout=60).status)

        threads = [threading.Thread(target=guess) for _ in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual((results.count(404), results.count(429)), (10, 10), results)

    def test_a_transfer_code_is_no_activation_code(self):
        a = self.key()
        macs = self.claim(a, 1)
        t = self.transfer(a, macs)
        self.assertProblem(self.srv.post("/activate", {"code": t["code"], "mac": new_mac()}), 404)
        self.assertProblem(self.srv.post("/activate", {"code": t["code"], "mac": macs[0]}), 404)

    def test_transfer_tables_force_row_level_security(self):
        rows = self.pg.psql(self.db, "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
                                     " WHERE relname IN ('transfers', 'transfer_accept_failures') ORDER BY relname")
        self.assertEqual(rows.splitlines(), ["transfer_accept_failures|t|t", "transfers|t|t"])

    def test_transfer_list_pages_and_filters(self):
        a = self.key()
        made = [self.transfer(a, self.claim(a, 1))["id"] for _ in range(3)]
        self.srv.delete("/v1/transfers/" + made[1], key=a)
        page = self.srv.get("/v1/transfers?limit=2", key=a).json()
        self.assertEqual([x["id"] for x in page["items"]], made[:2])
        rest = self.srv.get("/v1/transfers?limit=2&cursor=" + page["next_cursor"], key=a).json()
        self.assertEqual(([x["id"] for x in rest["items"]], rest["next_cursor"]), (made[2:], None))
        self.assertEqual([x["id"] for x in self.srv.get("/v1/transfers?state=open", key=a).json()["items"]],
                         [made[0], made[2]])
        self.assertProblem(self.srv.get("/v1/transfers?state=gone", key=a), 422)
        self.assertProblem(self.srv.get("/v1/transfers?cursor=x", key=a), 422)

    def test_transfer_detail_pages_its_macs_in_the_senders_order(self):
        a, b = self.key(), self.key()
        macs = self.claim(a, 7)
        order = macs[3:] + macs[:3]
        t = self.transfer(a, order)
        seen, cursor, pages = [], None, 0
        while True:
            r = self.srv.get("/v1/transfers/%s?limit=3" % t["id"] + ("&cursor=" + cursor if cursor else ""), key=a)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertEqual((page["id"], page["state"], page["mac_count"]), (t["id"], "open", 7))
            seen += page["macs"]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
        self.assertEqual((seen, pages), (order, 3))
        whole = self.srv.get("/v1/transfers/" + t["id"], key=a).json()
        self.assertEqual((whole["macs"], whole["next_cursor"]), (order, None))
        for q in ("limit=0", "limit=1001", "cursor=0", "cursor=x", "cursor=-1", "cursor=100000", "cursor=007"):
            problem = self.assertProblem(self.srv.get("/v1/transfers/%s?%s" % (t["id"], q), key=a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], [q.split("=")[0]], q)
        self.assertEqual(self.srv.get("/v1/transfers/%s?cursor=7" % t["id"], key=a).json()["macs"], [])
        self.assertProblem(self.srv.get("/v1/transfers/%s?limit=3" % t["id"], key=b), 404)

    def test_transfer_list_stays_small_for_a_large_transfer(self):
        a = self.provider()
        first = 0x0004f2000000 + random.randrange(0, 0x100000) * 0x10
        self.pg.psql(self.db, "INSERT INTO devices (mac, provider_id, status) SELECT"
                              " lpad(to_hex(%d + i), 12, '0')::macaddr, '%s', 'open'"
                              " FROM generate_series(0, 19999) i" % (first, a["id"]))
        macs = ["%012x" % (first + i) for i in range(20000)]
        r = self.srv.post("/v1/transfers", {"macs": macs}, key=a["api_key"], timeout=300)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(r.json()["macs"]), 20000)  # the contract's answer to the sender, once
        listed = self.srv.get("/v1/transfers", key=a["api_key"])
        self.assertEqual(listed.json()["items"][0]["mac_count"], 20000)
        self.assertLess(len(listed.body), 1000, listed)
        page = self.srv.get("/v1/transfers/" + r.json()["id"], key=a["api_key"]).json()
        self.assertEqual((page["macs"], page["next_cursor"]), (macs[:100], "100"))
        last = self.srv.get("/v1/transfers/%s?cursor=19000&limit=1000" % r.json()["id"], key=a["api_key"]).json()
        self.assertEqual((last["macs"], last["next_cursor"]), (macs[19000:], None))

    def test_sweep_deletes_transfers_ended_past_the_retention(self):
        a, b = self.key(), self.key()
        made = [self.transfer(a, self.claim(a, 1)) for _ in range(6)]
        ids = [t["id"] for t in made]
        self.assertEqual(self.accept(b, made[0]["code"]).status, 200)
        self.assertEqual(self.accept(b, made[1]["code"]).status, 200)
        self.srv.delete("/v1/transfers/" + ids[2], key=a)
        self.srv.delete("/v1/transfers/" + ids[3], key=a)
        old = "now() - interval '31 days'"
        self.pg.psql(self.db, "UPDATE transfers SET accepted_at = %s WHERE id = '%s'" % (old, ids[0]))
        self.pg.psql(self.db, "UPDATE transfers SET cancelled_at = %s WHERE id = '%s'" % (old, ids[2]))
        self.pg.psql(self.db, "UPDATE transfers SET created_at = now() - interval '40 days', expires_at = %s"
                              " WHERE id IN ('%s', '%s')" % (old, ids[4], ids[5]))
        self.pg.psql(self.db, "UPDATE transfers SET accepted_at = now() WHERE id = '%s'" % ids[5])
        swept = self.pg.psql(self.db, "SET role ztp_system; SELECT ztp_transfers_sweep(30)")
        self.assertEqual(swept.splitlines()[-1], "3")
        left = [x["id"] for x in self.srv.get("/v1/transfers?limit=1000", key=a).json()["items"]]
        # accepted 31 days ago, cancelled 31 days ago, expired 31 days ago unaccepted: gone
        self.assertEqual(sorted(left), sorted([ids[1], ids[3], ids[5]]))
        self.assertProblem(self.srv.get("/v1/transfers/" + ids[0], key=a), 404)
        # the audit trail keeps their story
        self.assertIn(("transfer.accepted", ids[0]), [(e["action"], e["target"]) for e in self.audit(a)])


class TransferSecretRotationTest(ServerTest):
    def test_a_transfer_made_before_a_rotation_is_accepted_and_replayed_after_it(self):
        a, b = create_provider(self.db, "old-a")["api_key"], create_provider(self.db, "old-b")["api_key"]
        macs = [new_mac() for _ in range(2)]
        for mac in macs:
            self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=a).status, 201)
        headers = {"Idempotency-Key": "rotate-transfer"}
        t = self.srv.post("/v1/transfers", {"macs": macs}, key=a, headers=headers).json()
        self.srv.stop()
        rotated = Ztpd(self.db, ZTP_SECRET="cd" * 32, ZTP_SECRET_PREVIOUS=SECRET).start()
        try:
            replay = rotated.post("/v1/transfers", {"macs": macs}, key=a, headers=headers)
            self.assertEqual((replay.status, replay.json()["code"]), (201, t["code"]))
            r = rotated.post("/v1/transfers/accept", {"code": t["code"]}, key=b)
            self.assertEqual((r.status, r.json()), (200, {"transferred": 2}), r)
        finally:
            rotated.stop()


class TransferWebhookTest(ServerTest):
    server_env = {"ZTP_WEBHOOK_ALLOW_PRIVATE": "1"}

    def test_both_sides_webhooks_get_transfer_accepted_naming_no_one(self):
        import test_webhooks  # its receiver; a module reference runs none of its tests here
        rx = test_webhooks.Receiver()
        try:
            sender, receiver = self.provider("Hook Sender"), self.provider("Hook Receiver")
            a, b = sender["api_key"], receiver["api_key"]
            for key, path in ((a, "/sender"), (b, "/receiver")):
                r = self.srv.post("/v1/webhooks", {"url": rx.url(path), "events": ["transfer.accepted"]}, key=key)
                self.assertEqual(r.status, 201, r)
            macs = [new_mac() for _ in range(2)]
            for mac in macs:
                self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=a).status, 201)
            t = self.srv.post("/v1/transfers", {"macs": macs}, key=a).json()
            self.assertEqual(self.srv.post("/v1/transfers/accept", {"code": t["code"]}, key=b).status, 200)
            for path, other in (("/sender", receiver), ("/receiver", sender)):
                calls = wait_until(lambda: rx.received(path), 60, "transfer.accepted at " + path)
                event = json.loads(calls[0][1])
                self.assertEqual((event["type"], event["data"]), ("transfer.accepted",
                                                                  {"id": t["id"], "transferred": 2}))
                self.assertNotIn(other["id"], calls[0][1].decode())
        finally:
            rx.close()
