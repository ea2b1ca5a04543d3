"""The /v1 provider API (contract section 4) with two providers side by side."""
import json
import os
import subprocess
import urllib.parse
import uuid

from apikey import split_api_key
from harness import ServerTest

RULE = "https://prov.example/$MA.xml"


class ProviderApiTest(ServerTest):
    def setUp(self):
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]

    def profile(self, key, **fields):
        body = {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": RULE}
        body.update(fields)
        r = self.srv.post("/v1/profiles", body, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    # --- authentication -------------------------------------------------

    def test_missing_malformed_unknown_key_is_401_with_www_authenticate(self):
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"},
                        {"Authorization": "Bearer ztp_0123456789abcdef_" + "A" * 43},
                        {"Authorization": "Bearer " + self.a[:-1] + ("B" if self.a[-1] != "B" else "C")}):
            r = self.srv.get("/v1/profiles", headers=headers)
            self.assertProblem(r, 401)
            self.assertTrue(r.headers["www-authenticate"].startswith("Bearer"))

    def test_revoked_key_gets_401_at_once(self):
        r = self.srv.post("/v1/api-keys", {"name": "temp"}, key=self.a)
        self.assertEqual(r.status, 201, r)
        k = r.json()
        self.assertEqual(set(k), {"id", "name", "api_key", "created_at"})
        self.assertNotIn(split_api_key(k["api_key"])[1], self.pg.dump(self.db))  # stored only hashed
        self.assertEqual(self.srv.get("/v1/profiles", key=k["api_key"]).status, 200)
        listed = self.srv.get("/v1/api-keys", key=self.a).json()["items"]
        self.assertIn(k["id"], [x["id"] for x in listed])
        self.assertNotIn("api_key", json.dumps(listed))
        self.assertEqual(self.srv.delete("/v1/api-keys/" + k["id"], key=self.a).status, 204)
        for _ in range(4):  # every thread
            self.assertProblem(self.srv.get("/v1/profiles", key=k["api_key"]), 401)

    def test_keys_of_another_provider_are_invisible(self):
        k = self.srv.post("/v1/api-keys", {"name": "b-key"}, key=self.b).json()
        self.assertProblem(self.srv.delete("/v1/api-keys/" + k["id"], key=self.a), 404)
        self.assertNotIn(k["id"], json.dumps(self.srv.get("/v1/api-keys", key=self.a).json()))
        self.assertEqual(self.srv.get("/v1/profiles", key=k["api_key"]).status, 200)

    # --- profiles -------------------------------------------------------

    def test_profile_create_returns_every_field(self):
        p = self.profile(self.a, upgrade_rule="http://fw/$PSN", short_code=str(uuid.uuid4().int)[:9],
                         params={"Resync_Periodic": "60"})
        self.assertEqual(set(p), {"id", "name", "profile_rule", "upgrade_rule", "short_code", "params",
                                  "short_code_prefixes", "short_code_hourly_claims", "created_at", "updated_at",
                                  "vendor_urls", "require_certificate"})
        self.assertEqual(p["params"], {"Resync_Periodic": "60"})
        self.assertRegex(p["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(self.srv.get("/v1/profiles/" + p["id"], key=self.a).json(), p)

    def test_profile_validation_is_422_with_errors(self):
        cases = [({}, {"name", "profile_rule"}),
                 ({"name": "x", "profile_rule": "ftp://x/"}, {"profile_rule"}),
                 ({"name": "x", "profile_rule": RULE, "upgrade_rule": 5}, {"upgrade_rule"}),
                 ({"name": "x", "profile_rule": RULE, "short_code": "12"}, {"short_code"}),
                 ({"name": "x", "profile_rule": RULE, "short_code": "12345678901234567"}, {"short_code"}),
                 ({"name": "x", "profile_rule": RULE, "params": {"Profile_Rule": "x"}}, {"params.Profile_Rule"}),
                 ({"name": "x", "profile_rule": RULE, "params": {"a-b": "x"}}, {"params.a-b"}),
                 # each parameter is an XML element: "1st_Line" made every answer malformed
                 ({"name": "x", "profile_rule": RULE, "params": {"1st_Line": "x"}}, {"params.1st_Line"}),
                 # C1 control characters are control characters (NEL was stored)
                 ({"name": "x\u0085", "profile_rule": RULE + "\u0085"}, {"name", "profile_rule"}),
                 ({"name": "x", "profile_rule": "https://a.example/" + "\u00e9" * 1007}, {"profile_rule"}),
                 ({"name": "x", "profile_rule": RULE, "params": {"a": 1}}, {"params.a"}),
                 ({"name": "", "profile_rule": "https://x/" + "a" * 1100}, {"name", "profile_rule"})]
        for body, fields in cases:
            r = self.srv.post("/v1/profiles", body, key=self.a)
            problem = self.assertProblem(r, 422)
            self.assertEqual({e["field"] for e in problem["errors"]}, fields, body)

    def test_a_rule_of_1024_characters_is_one_whatever_its_bytes(self):
        # the length was counted in bytes: 1,024 characters of two bytes each were refused
        rule = "https://a.example/" + "\u00e9" * 1006
        p = self.profile(self.a, profile_rule=rule)
        self.assertEqual(p["profile_rule"], rule)

    def test_malformed_json_is_400(self):
        for body in ("{", "[1]", "nul", '{"a":1,"a":2}'):
            self.assertProblem(self.srv.post("/v1/profiles", body, key=self.a,
                                             headers={"Content-Type": "application/json"}), 400)

    def test_taken_name_or_short_code_is_409(self):
        code = str(uuid.uuid4().int)[:10]
        p = self.profile(self.a, short_code=code)
        self.assertProblem(self.srv.post("/v1/profiles", {"name": p["name"], "profile_rule": RULE}, key=self.a), 409)
        # short codes are unique across providers; names only within one
        self.assertProblem(self.srv.post("/v1/profiles", {"name": "other", "profile_rule": RULE, "short_code": code},
                                         key=self.b), 409)
        self.profile(self.b, name=p["name"])

    def test_profile_patch_and_delete(self):
        p = self.profile(self.a)
        r = self.srv.patch("/v1/profiles/" + p["id"], {"profile_rule": "http://new/$MA", "upgrade_rule": None},
                           key=self.a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["profile_rule"], "http://new/$MA")
        self.assertProblem(self.srv.patch("/v1/profiles/" + p["id"], {"profile_rule": "nope"}, key=self.a), 422)
        self.assertProblem(self.srv.patch("/v1/profiles/" + p["id"], {"name": None}, key=self.a), 422)
        self.srv.put("/v1/devices/00562b050001", {"profile_id": p["id"]}, key=self.a)
        self.assertProblem(self.srv.delete("/v1/profiles/" + p["id"], key=self.a), 409)
        self.srv.put("/v1/devices/00562b050001", {"profile_id": None}, key=self.a)
        self.assertEqual(self.srv.delete("/v1/profiles/" + p["id"], key=self.a).status, 204)
        self.assertProblem(self.srv.get("/v1/profiles/" + p["id"], key=self.a), 404)
        self.assertProblem(self.srv.get("/v1/profiles/not-a-uuid", key=self.a), 404)

    def test_profiles_of_another_provider_answer_404(self):
        p = self.profile(self.b)
        self.assertProblem(self.srv.get("/v1/profiles/" + p["id"], key=self.a), 404)
        self.assertProblem(self.srv.patch("/v1/profiles/" + p["id"], {"name": "x"}, key=self.a), 404)
        self.assertProblem(self.srv.delete("/v1/profiles/" + p["id"], key=self.a), 404)
        self.assertNotIn(p["id"], self.srv.get("/v1/profiles", key=self.a).text)
        # and cannot be attached to A's devices
        r = self.srv.put("/v1/devices/00562b050002", {"profile_id": p["id"]}, key=self.a)
        self.assertEqual({e["field"] for e in self.assertProblem(r, 422)["errors"]}, {"profile_id"})
        self.assertEqual(self.srv.get("/v1/profiles/" + p["id"], key=self.b).status, 200)

    # --- devices --------------------------------------------------------

    def test_device_put_claims_201_then_updates_200(self):
        p = self.profile(self.a)
        r = self.srv.put("/v1/devices/00:56:2B:05:00:03", {"profile_id": p["id"], "model": "CP-8845-3PCC"}, key=self.a)
        self.assertEqual(r.status, 201, r)
        d = r.json()
        self.assertEqual(set(d), {"mac", "profile_id", "model", "serial", "status", "status_changed_at",
                                  "last_contact_at", "contacts", "created_at", "certificate"})
        self.assertEqual((d["mac"], d["status"], d["contacts"], d["serial"]), ("00562b050003", "open", 0, None))
        r = self.srv.put("/v1/devices/00562b050003", {"serial": "FCH1"}, key=self.a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["serial"], r.json()["model"], r.json()["profile_id"]), ("FCH1", "CP-8845-3PCC", p["id"]))
        self.assertProblem(self.srv.put("/v1/devices/00562b050003", {"model": 5}, key=self.a), 422)
        self.assertProblem(self.srv.put("/v1/devices/01562b050003", {}, key=self.a), 400)
        self.assertProblem(self.srv.put("/v1/devices/00562b050003", {"profile_id": str(uuid.uuid4())}, key=self.a), 422)

    def test_device_of_another_provider_is_409_or_404(self):
        self.assertEqual(self.srv.put("/v1/devices/00562b050004", {}, key=self.b).status, 201)
        body = self.assertProblem(self.srv.put("/v1/devices/00562b050004", {}, key=self.a), 409)
        self.assertNotIn("B", body["detail"])
        self.assertProblem(self.srv.get("/v1/devices/00562b050004", key=self.a), 404)
        self.assertProblem(self.srv.delete("/v1/devices/00562b050004", key=self.a), 404)
        self.assertProblem(self.srv.get("/v1/devices/00562b050004/events", key=self.a), 404)
        self.assertProblem(self.srv.post("/v1/devices/00562b050004/status", {"status": "acquired"}, key=self.a), 404)
        self.assertNotIn("00562b050004", self.srv.get("/v1/devices?limit=1000", key=self.a).text)
        self.assertEqual(self.srv.get("/v1/devices/00562b050004", key=self.b).status, 200)

    def test_release_then_another_provider_claims_without_seeing_history(self):
        mac = "00562b050005"
        self.srv.put("/v1/devices/" + mac, {}, key=self.b)
        self.srv.post("/v1/devices/%s/status" % mac, {"status": "aborted"}, key=self.b)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.b).status, 204)
        self.assertProblem(self.srv.get("/v1/devices/" + mac, key=self.b), 404)
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=self.a).status, 201)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([(e["from"], e["to"]) for e in events], [(None, "open")])
        audit = self.srv.get("/v1/audit-events?limit=1000", key=self.a).text
        self.assertNotIn("aborted", audit)

    def test_status_reports(self):
        mac = "00562b050006"
        self.srv.put("/v1/devices/" + mac, {}, key=self.a)
        for status in ("acquired", "aborted", "open"):
            r = self.srv.post("/v1/devices/%s/status" % mac, {"status": status}, key=self.a)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["status"], status)
        for bad in ({"status": "pending"}, {"status": "unavailable"}, {}, {"status": 1}):
            self.assertProblem(self.srv.post("/v1/devices/%s/status" % mac, bad, key=self.a), 422)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([e["to"] for e in events], ["open", "acquired", "aborted", "open"])
        self.assertTrue(all(set(e) == {"at", "from", "to", "cause"} for e in events))

    def test_a_long_history_answers_its_newest_thousand_events(self):
        # strangers can move a known device's status (contract: /boot and
        # /redirect alike), so its history has no bound: its answer has one
        mac = "0056%08x" % int.from_bytes(os.urandom(4), "big")
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {}, key=self.a).status, 201)
        self.pg.psql(self.db, "INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)"
                              " SELECT d.mac, d.provider_id, 'open', 'pending', 'n' || i FROM devices d,"
                              " generate_series(1, 1500) i WHERE d.mac = '%s'" % mac)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([e["cause"] for e in events], ["n%d" % i for i in range(501, 1501)])

    def test_list_pagination_visits_every_device_once(self):
        p = self.profile(self.a)
        macs = ["00562b06%04x" % i for i in range(25)]
        for i, mac in enumerate(macs):
            self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"]} if i % 2 else {}, key=self.a)
        seen, cursor = [], None
        while True:
            r = self.srv.get("/v1/devices?limit=7" + ("&cursor=" + cursor if cursor else ""), key=self.a)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            seen += [d["mac"] for d in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        mine = [m for m in seen if m.startswith("00562b06")]
        self.assertEqual(mine, sorted(macs))
        self.assertEqual(seen, sorted(seen))
        r = self.srv.get("/v1/devices?profile_id=%s&limit=1000" % p["id"], key=self.a)
        self.assertEqual(len(r.json()["items"]), 12)
        r = self.srv.get("/v1/devices?status=open&limit=1000", key=self.a)
        self.assertTrue(all(d["status"] == "open" for d in r.json()["items"]))
        for q in ("limit=0", "limit=1001", "limit=x", "cursor=zz", "status=nope", "profile_id=x", "limit=%201",
                  "limit=+7", "limit=-0"):
            self.assertProblem(self.srv.get("/v1/devices?" + q, key=self.a), 422)
        # a filter with a malformed escape is refused, not dropped (which lists everything)
        for q in ("status=acquired%", "status=acquired%2", "limit=1%00", "q=%g0"):
            self.assertProblem(self.srv.get("/v1/devices?" + q, key=self.a), 400)

    def test_device_bodies_are_one_expression(self):
        # the helpers a device's body goes through are inlined (0027): a call
        # left in the plan is a function run, and planned, once per device
        plan = self.pg.psql(self.db, "EXPLAIN (VERBOSE, COSTS OFF) SELECT ztp_device_json(d) FROM devices d")
        self.assertIn("to_char", plan)
        self.assertNotIn("ztp_", plan)
        # and the page cursors' (0031)
        plan = self.pg.psql(self.db, "EXPLAIN (VERBOSE, COSTS OFF) SELECT ztp_page_cursor(created_at, id),"
                                     " ztp_page_cursor_at(name) FROM profiles")
        self.assertNotIn("ztp_", plan)
        self.assertEqual(self.pg.psql(self.db, "SELECT ztp_time('2026-01-02 03:04:05.678901+05')"),
                         "2026-01-01T22:04:05.678901Z")

    def test_profiles_are_listed_a_page_at_a_time(self):
        made = [self.profile(self.a)["id"] for _ in range(12)]
        theirs = self.profile(self.b)["id"]
        seen, cursor = [], None
        while True:
            r = self.srv.get("/v1/profiles?limit=5" + ("&cursor=" + cursor if cursor else ""), key=self.a)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertLessEqual(len(page["items"]), 5)
            seen += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, made)  # oldest first, each once, none of B's
        whole = self.srv.get("/v1/profiles", key=self.a).json()
        self.assertEqual(([x["id"] for x in whole["items"]], whole["next_cursor"]), (made, None))
        for q in ("limit=0", "limit=1001", "limit=x", "cursor=zz", "cursor=" + theirs):
            self.assertProblem(self.srv.get("/v1/profiles?" + q, key=self.a), 422)
        # a profile deleted after its page does not end the walk
        page = self.srv.get("/v1/profiles?limit=5", key=self.a).json()
        self.assertEqual(self.srv.delete("/v1/profiles/" + made[4], key=self.a).status, 204)
        rest = self.srv.get("/v1/profiles?cursor=" + page["next_cursor"], key=self.a).json()
        self.assertEqual([x["id"] for x in rest["items"]], made[5:])

    # --- audit ----------------------------------------------------------

    def test_every_change_is_audited_with_its_key(self):
        p = self.profile(self.a)
        self.srv.patch("/v1/profiles/" + p["id"], {"name": "renamed-" + p["id"][:8]}, key=self.a)
        self.srv.put("/v1/devices/00562b050007", {}, key=self.a)
        self.srv.post("/v1/devices/00562b050007/status", {"status": "acquired"}, key=self.a)
        self.srv.delete("/v1/devices/00562b050007", key=self.a)
        items = self.srv.get("/v1/audit-events?limit=1000", key=self.a).json()["items"]
        actions = [(i["action"], i["target"]) for i in items]
        for want in (("profile.create", p["id"]), ("profile.update", p["id"]), ("device.claim", "00562b050007"),
                     ("device.status", "00562b050007"), ("device.release", "00562b050007")):
            self.assertIn(want, actions)
        self.assertTrue(all(set(i) == {"at", "key_id", "action", "target", "detail"} for i in items))
        self.assertTrue(all(i["key_id"] and i["key_id"] in self.a for i in items))
        self.assertNotIn(p["id"], self.srv.get("/v1/audit-events?limit=1000", key=self.b).text)

    def test_audit_pagination(self):
        for i in range(5):
            self.profile(self.b)
        seen, cursor = [], None
        while True:
            page = self.srv.get("/v1/audit-events?limit=2" + ("&cursor=" + cursor if cursor else ""), key=self.b).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertGreaterEqual(len(seen), 5)
        self.assertEqual(len({json.dumps(s, sort_keys=True) for s in seen}), len(seen))

    def test_a_page_starts_at_its_cursor_in_the_index(self):
        # the lists' functions are planned for any argument: with the bound
        # written `p_after IS NULL OR ...` it was a filter, and a page read
        # every row before its cursor (0033)
        cursor = "1700000000000000_00000000-0000-0000-0000-000000000001"
        calls = ["ztp_codes_list(NULL, '%s', 10)" % cursor, "ztp_transfer_page(NULL, '%s', 10)" % cursor,
                 "ztp_profile_list('%s', 10)" % cursor, "ztp_audit_list(12345, 10)"]
        script = ("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                  " SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice;"
                  " SET client_min_messages = notice; SET app.tenant = '%s';" % uuid.uuid4())
        for call in calls:
            r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg.url(self.db), "-c",
                                script + " SELECT status FROM " + call], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            conds = [l for l in r.stderr.splitlines() if "Index Cond:" in l and "provider_id" in l]
            self.assertTrue(conds and all(("ROW(created_at, id) >" in l or "(id >" in l) for l in conds),
                            "%s: %s" % (call, r.stderr))

    def test_audit_cursors_tell_nothing_of_other_providers(self):
        # the rows' ids are one sequence for every provider: a cursor that
        # showed them would count, page by page, what the others wrote
        self.profile(self.b)
        self.profile(self.a)
        self.profile(self.b)
        self.profile(self.b)
        first = self.srv.get("/v1/audit-events?limit=1", key=self.b).json()["next_cursor"]
        cursors = [first, self.srv.get("/v1/audit-events?limit=1&cursor=" + first, key=self.b).json()["next_cursor"]]
        ids = self.pg.psql(self.db, "SELECT id FROM audit_events WHERE provider_id = (SELECT provider_id FROM api_keys"
                                    " WHERE id = '%s') ORDER BY id LIMIT 2" % self.b.split("_")[1]).split()
        for c in cursors:
            self.assertRegex(c, "^[0-9a-f]{32}$")  # sealed: not the ids' digits
        # it is B's alone, and unforgeable
        tampered = cursors[0][:-1] + ("0" if cursors[0][-1] != "0" else "1")
        for bad, key in ((cursors[0], self.a), (tampered, self.b), (ids[0], self.b)):
            self.assertProblem(self.srv.get("/v1/audit-events?cursor=" + bad, key=key), 422)


class RowLevelSecurityTest(ServerTest):
    def test_every_tenant_table_forces_rls(self):
        rows = self.pg.psql(self.db, "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
                                     " WHERE relname IN ('providers','api_keys','profiles','devices','device_events',"
                                     "'audit_events','idempotency_keys','activation_codes') ORDER BY relname")
        for line in rows.splitlines():
            name, enabled, forced = line.split("|")
            self.assertEqual((enabled, forced), ("t", "t"), name)

    def test_every_security_definer_function_searches_pg_temp_last(self):
        # else a session's temporary table named like one of ours would be used with the definer's rights
        rows = self.pg.psql(self.db, "SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n"
                                     " ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prosecdef"
                                     " AND NOT coalesce('search_path=public, pg_temp' = ANY (p.proconfig), false)")
        self.assertEqual(rows, "")
        self.assertNotEqual(self.pg.psql(self.db, "SELECT count(*) FROM pg_proc WHERE prosecdef"
                                                  " AND pronamespace = 'public'::regnamespace"), "0")

    def test_every_security_definer_function_belongs_to_ztp_system(self):
        # whose policies see every row: a definer owned by the migrating role would be bound by the
        # forced RLS wherever that role is not a superuser (a managed PostgreSQL), and see nothing
        rows = self.pg.psql(self.db, "SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n"
                                     " ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prosecdef"
                                     " AND pg_get_userbyid(p.proowner) <> 'ztp_system'")
        self.assertEqual(rows, "")

    def test_a_session_for_provider_a_sees_and_changes_nothing_of_b(self):
        a = self.provider("A")
        b = self.provider("B")
        self.srv.put("/v1/devices/00562b070001", {}, key=b["api_key"])
        self.srv.post("/v1/profiles", {"name": "bp", "profile_rule": RULE}, key=b["api_key"])
        sql = ("BEGIN; SET LOCAL ROLE ztp_tenant; SELECT set_config('app.tenant', '%s', true);"
               " SELECT (SELECT count(*) FROM devices) || '/' || (SELECT count(*) FROM profiles) || '/' ||"
               " (SELECT count(*) FROM api_keys) || '/' || (SELECT count(*) FROM audit_events) || '/' ||"
               " (SELECT count(*) FROM device_events) || '/' || (SELECT count(*) FROM providers);"
               " UPDATE devices SET model = 'x'; DELETE FROM profiles; COMMIT;" % a["id"])
        out = self.pg.psql(self.db, sql).splitlines()
        self.assertIn("0/0/1/0/0/1", out)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM profiles WHERE name = 'bp'"), "1")
        self.assertEqual(self.pg.psql(self.db, "SELECT model IS NULL FROM devices WHERE mac = '00562b070001'"), "t")
        with self.assertRaises(AssertionError):
            self.pg.psql(self.db, "BEGIN; SET LOCAL ROLE ztp_tenant; SELECT set_config('app.tenant', '%s', true);"
                                  " INSERT INTO profiles (provider_id, name, profile_rule) VALUES ('%s', 'x', 'http://x/');"
                                  " COMMIT;" % (a["id"], b["id"]))


class ProfilePreviewTest(ServerTest):
    """GET /v1/profiles/{id}/preview: the console's preview is what /redirect answers, byte for byte."""

    def setUp(self):
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]

    def test_the_preview_is_what_redirect_answers(self):
        p = self.srv.post("/v1/profiles", {
            "name": "pv-" + uuid.uuid4().hex[:8], "profile_rule": "https://prov.example/$PN/$MA.xml?a=1&b=<2>",
            "upgrade_rule": "https://fw.example/$PSN.loads",
            "params": {"Resync_Periodic": "3600", "Text_Logo": "A & B <\"'>"}}, key=self.a).json()
        mac = "00562b0a1b2c"
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"]}, key=self.a).status, 201)
        pv = self.srv.get("/v1/profiles/%s/preview?mac=00:56:2B:0A:1B:2C" % p["id"], key=self.a)
        self.assertEqual(pv.status, 200, pv)
        self.assertEqual(pv.json()["xml"], self.srv.get("/redirect/%s.xml" % mac).text)
        self.assertEqual(pv.json()["json"], self.srv.get("/redirect/%s.json" % mac).json())
        # the phone's facts expand the server's macros in the JSON url
        pv = self.srv.get("/v1/profiles/%s/preview?mac=%s&model=CP-8845&serial=FCH1" % (p["id"], mac), key=self.a)
        self.assertEqual(pv.json()["json"]["url"], "https://prov.example/CP-8845/00562b0a1b2c.xml?a=1&b=<2>")

    def test_a_longest_model_ending_in_a_wide_character_expands_whole(self):
        # $PSN was cut at 63 bytes, through the middle of the "é": no JSON, a 500
        p = self.srv.post("/v1/profiles", {"name": "pw-" + uuid.uuid4().hex[:8],
                                           "profile_rule": "https://prov.example/$PSN/$MA.xml"}, key=self.a).json()
        model, mac = "A" * 62 + "\u00e9", "0056%08x" % int.from_bytes(os.urandom(4), "big")
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"], "model": model},
                                      key=self.a).status, 201)
        want = "https://prov.example/%s/%s.xml" % (model, mac)
        pv = self.srv.get("/v1/profiles/%s/preview?mac=%s&model=%s" % (p["id"], mac, urllib.parse.quote(model)),
                          key=self.a)
        self.assertEqual((pv.status, pv.json()["json"]["url"]), (200, want), pv)

    def test_the_token_stays_as_written_and_strangers_get_404(self):
        p = self.srv.post("/v1/profiles", {"name": "pt-" + uuid.uuid4().hex[:8],
                                           "profile_rule": "https://prov.example/$(ZTP_TOKEN)/$MA.xml"},
                          key=self.a).json()
        pv = self.srv.get("/v1/profiles/%s/preview?mac=00562b0a1b2d" % p["id"], key=self.a)
        self.assertIn("$(ZTP_TOKEN)", pv.json()["xml"])
        self.assertProblem(self.srv.get("/v1/profiles/%s/preview?mac=00562b0a1b2d" % p["id"], key=self.b), 404)
        self.assertProblem(self.srv.get("/v1/profiles/%s/preview?mac=00562b0a1b2d" % uuid.uuid4(), key=self.a), 404)
        self.assertProblem(self.srv.get("/v1/profiles/nope/preview?mac=00562b0a1b2d", key=self.a), 404)

    def test_bad_phone_facts_are_422_at_their_fields(self):
        p = self.srv.post("/v1/profiles", {"name": "pb-" + uuid.uuid4().hex[:8], "profile_rule": RULE},
                          key=self.a).json()
        base = "/v1/profiles/%s/preview?" % p["id"]
        for query, field in (("", "mac"), ("mac=zz", "mac"), ("mac=ffffffffffff", "mac"),
                             ("mac=00562b0a1b2d&model=" + "x" * 65, "model"),
                             ("mac=00562b0a1b2d&model=%FF%FE", "model"),
                             ("mac=00562b0a1b2d&serial=a%0Ab", "serial")):
            problem = self.assertProblem(self.srv.get(base + query, key=self.a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], [field], query)
