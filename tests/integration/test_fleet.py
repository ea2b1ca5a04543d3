"""Fleet operations (contract section 4): re-point."""
import itertools
import random
import uuid

from harness import ServerTest

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
