"""POST /v1/devices/import: CSV and JSON, all or nothing, dry runs, conflicts."""
import uuid

from harness import ServerTest

RULE = "https://prov.example/$MA.xml"


class ImportTest(ServerTest):
    _bases = iter(range(1, 0x10000))

    def setUp(self):
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]
        self.pname = "main-" + uuid.uuid4().hex[:6]
        self.profile = self.srv.post("/v1/profiles", {"name": self.pname, "profile_rule": RULE}, key=self.a).json()
        # each test its own MAC range (drawn at random, two tests could share one)
        self.base = next(ImportTest._bases)

    def mac(self, i):
        return "0056%04x%04x" % (self.base, i)

    def csv(self, text, key=None, query=""):
        return self.srv.post("/v1/devices/import" + query, text, key=key or self.a,
                             headers={"Content-Type": "text/csv"}, timeout=300)

    def count_mine(self, prefix):
        items = self.srv.get("/v1/devices?limit=1000", key=self.a).json()["items"]
        return len([d for d in items if d["mac"].startswith(prefix)])

    def test_csv_creates_then_updates(self):
        text = "mac,profile,model,serial\n%s,%s,CP-8845,S1\n\"%s\",,,\r\n\n" % (
            self.mac(1), self.pname, self.mac(2).upper())
        r = self.csv(text)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"created": 2, "updated": 0, "skipped": 0, "conflicts": [], "errors": []})
        d = self.srv.get("/v1/devices/" + self.mac(1), key=self.a).json()
        self.assertEqual((d["profile_id"], d["model"], d["serial"], d["status"]),
                         (self.profile["id"], "CP-8845", "S1", "open"))
        r = self.csv("mac,model\n%s,CP-7841\n" % self.mac(1))
        self.assertEqual(r.json()["updated"], 1)
        d = self.srv.get("/v1/devices/" + self.mac(1), key=self.a).json()
        self.assertEqual((d["profile_id"], d["model"], d["serial"]), (self.profile["id"], "CP-7841", "S1"))
        ev = self.srv.get("/v1/devices/%s/events" % self.mac(2), key=self.a).json()["items"]
        self.assertEqual([(e["from"], e["to"], e["cause"]) for e in ev], [(None, "open", "imported")])
        self.assertIn("device.import", self.srv.get("/v1/audit-events?limit=1000", key=self.a).text)

    def test_json_array(self):
        r = self.srv.post("/v1/devices/import", [{"mac": self.mac(3), "profile_id": self.profile["id"]},
                                                 {"mac": self.mac(4), "profile": self.pname, "model": "x"}], key=self.a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["created"], 2)

    def test_any_error_applies_nothing_and_reports_lines(self):
        text = "mac,profile\n%s,%s\nzz,\n%s,nope\n%s,\n" % (self.mac(5), self.pname, self.mac(6), self.mac(5))
        r = self.csv(text)
        problem = self.assertProblem(r, 422)
        self.assertEqual([e["line"] for e in problem["errors"]], [3])
        # after the C-side errors are gone, SQL-side errors (profiles, duplicates) are reported too
        r = self.csv("mac,profile\n%s,%s\n%s,nope\n%s,\n" % (self.mac(5), self.pname, self.mac(6), self.mac(5)))
        problem = self.assertProblem(r, 422)
        self.assertEqual([e["line"] for e in problem["errors"]], [3, 4])
        for k in ("created", "updated", "skipped", "conflicts", "errors"):
            self.assertIn(k, problem)
        self.assertEqual(self.count_mine("0056%04x" % self.base), 0)

    def test_conflicts_fail_or_skip(self):
        self.srv.put("/v1/devices/" + self.mac(7), {}, key=self.b)
        text = "mac\n%s\n%s\n" % (self.mac(7), self.mac(8))
        problem = self.assertProblem(self.csv(text), 422)
        self.assertEqual(problem["conflicts"], [self.mac(7)])
        self.assertEqual(self.count_mine("0056%04x" % self.base), 0)
        r = self.csv(text, query="?on_conflict=skip")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["created"], r.json()["skipped"], r.json()["conflicts"]), (1, 1, [self.mac(7)]))
        self.assertEqual(self.srv.get("/v1/devices/" + self.mac(7), key=self.b).status, 200)

    def test_dry_run_applies_nothing(self):
        r = self.csv("mac\n%s\n" % self.mac(9), query="?dry_run=true")
        self.assertEqual((r.status, r.json()["created"]), (200, 1))
        self.assertProblem(self.srv.get("/v1/devices/" + self.mac(9), key=self.a), 404)
        # a malformed escape is refused, not read as no dry_run (which would import)
        for q in ("?dry_run=true%", "?dry_run=true%00", "?dry_run=%zztrue"):
            self.assertProblem(self.csv("mac\n%s\n" % self.mac(9), query=q), 400)
        self.assertProblem(self.srv.get("/v1/devices/" + self.mac(9), key=self.a), 404)

    def test_bad_input(self):
        self.assertProblem(self.csv("model\nx\n"), 422)
        self.assertProblem(self.csv("mac,bogus\nx,y\n"), 422)
        self.assertProblem(self.csv("mac\n\"unterminated\n"), 422)
        self.assertProblem(self.csv("mac\n"), 422)
        self.assertProblem(self.csv("mac\n%s\n" % self.mac(10), query="?dry_run=maybe"), 422)
        self.assertProblem(self.csv("mac\n%s\n" % self.mac(10), query="?on_conflict=merge"), 422)
        self.assertProblem(self.srv.post("/v1/devices/import", "[1,", key=self.a,
                                         headers={"Content-Type": "application/json"}), 422)
        self.assertProblem(self.srv.post("/v1/devices/import", "", key=self.a), 400)

    def test_idempotency_key_replays_the_report(self):
        key = uuid.uuid4().hex
        text = "mac\n%s\n" % self.mac(11)
        h = {"Content-Type": "text/csv", "Idempotency-Key": key}
        first = self.srv.post("/v1/devices/import", text, key=self.a, headers=h)
        self.assertEqual((first.status, first.json()["created"]), (200, 1))
        again = self.srv.post("/v1/devices/import", text, key=self.a, headers=h)
        self.assertEqual((again.status, again.json()), (200, first.json()))
        self.assertProblem(self.srv.post("/v1/devices/import", text + "%s\n" % self.mac(12), key=self.a, headers=h), 422)
        self.assertProblem(self.srv.post("/v1/devices/import?dry_run=true", text, key=self.a, headers=h), 422)

    def test_hostile_bytes_in_fields_travel_by_copy_exactly_or_are_refused_by_line(self):
        """COPY's own syntax (backslashes, \\N, tabs escaped), quotes and
        non-ASCII text arrive as sent; NUL and invalid UTF-8 are errors of
        their line, never a 5xx."""
        odd = ['a\\b', '\\N', '\\t', 'x\\', '"q",;', 'caf\u00e9 \u260e \U0001f4de', "\\.", "' OR 1=1 --"]
        text = "mac,model,serial\n" + "".join('%s,"%s","%s"\n' % (self.mac(i), v.replace('"', '""'), v[::-1].replace('"', '""'))
                                             for i, v in enumerate(odd))
        r = self.csv(text.encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["created"], len(odd))
        for i, v in enumerate(odd):
            d = self.srv.get("/v1/devices/" + self.mac(i), key=self.a).json()
            self.assertEqual((d["model"], d["serial"]), (v, v[::-1]))
        n = len(odd)
        bad = (b"mac,model\n" + self.mac(n).encode() + b",ok\n" + self.mac(n + 1).encode() + b",x\x00y\n"
               + self.mac(n + 2).encode() + b",\xff\xfe\n" + self.mac(n + 3).encode() + b",\xed\xa0\x80\n"
               + self.mac(n + 4).encode() + b',"t\tb"\n')
        r = self.csv(bad)
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["line"] for e in r.json()["errors"]], [3, 4, 5, 6])
        self.assertEqual(self.srv.get("/v1/devices/" + self.mac(n), key=self.a).status, 404)
        doc = '[{"mac": "%s", "model": "a\\\\b\\u0000"}, {"mac": "%s", "serial": "\\\\N"}]' % (self.mac(n), self.mac(n + 1))
        r = self.srv.post("/v1/devices/import", doc, key=self.a, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["line"] for e in r.json()["errors"]], [1])

    def test_hundred_thousand_rows(self):
        base = 0x00aa00000000 + (self.base << 17)
        text = "mac,profile\n" + "".join("%012x,%s\n" % (base + i, self.pname) for i in range(100000))
        r = self.csv(text)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["created"], 100000)
        n = self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE profile_id = '%s'" % self.profile["id"])
        self.assertEqual(n, "100000")
        # a conflicting re-import leaves nothing behind
        self.srv.put("/v1/devices/%012x" % (base + 100000), {}, key=self.b)
        r = self.csv(text.replace(self.pname, "") + "%012x,\n" % (base + 100000))
        self.assertProblem(r, 422)
        n = self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE profile_id = '%s'" % self.profile["id"])
        self.assertEqual(n, "100000")
