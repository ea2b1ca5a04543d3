"""GET /v1/devices?q= (contract section 4, Devices): hex digits found anywhere
in the MAC, separators ignored, ordered by MAC with cursor paging, served by
the trigram index of migrations/0013_device_search.sql."""
import subprocess
import uuid

from harness import ServerTest

RULE = "https://prov.example/$MA.xml"


class DeviceSearchTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.provider(cls)["api_key"]
        cls.b = cls.provider(cls)["api_key"]
        cls.macs = ["0004f2a1b2%02x" % i for i in range(30)] + ["00562bc0ffee", "00562b0c0ffe", "a0b1c2d3e4f0"]
        for i, mac in enumerate(cls.macs):
            fields = {"model": "CP-8845"} if i % 3 == 0 else {}
            r = cls.srv.put("/v1/devices/" + mac, fields, key=cls.a)
            assert r.status == 201, r
        # another provider's devices match the same searches and are never found
        cls.theirs = ["0004f2a1b3%02x" % i for i in range(5)] + ["00562bc0ffef"]
        for mac in cls.theirs:
            assert cls.srv.put("/v1/devices/" + mac, {"model": "CP-8845"}, key=cls.b).status == 201

    def search(self, query, key=None):
        r = self.srv.get("/v1/devices?" + query, key=key or self.a)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def found(self, q, key=None):
        return [d["mac"] for d in self.search("limit=1000&q=" + q, key)["items"]]

    def test_prefix_middle_and_suffix_are_found_in_mac_order(self):
        self.assertEqual(self.found("0004f2a1b21"), ["0004f2a1b2%02x" % i for i in range(16, 30)])
        self.assertEqual(self.found("c0ffe"), ["00562b0c0ffe", "00562bc0ffee"])
        self.assertEqual(self.found("d3e4f0"), ["a0b1c2d3e4f0"])
        self.assertEqual(self.found("a0b1c2d3e4f0"), ["a0b1c2d3e4f0"])
        self.assertEqual(self.found("2bc0f"), ["00562bc0ffee"])
        self.assertEqual(self.found("fedcba"), [])

    def test_separators_and_case_are_ignored(self):
        for q in ("C0:FF:EE", "c0-ff-ee", "c0ff.ee", "C0fFeE", "2b:c0ff.e-e"):
            self.assertEqual(self.found(q), ["00562bc0ffee"], q)
        self.assertEqual(self.found("00%3A56%3A2b%3Ac0"), ["00562bc0ffee"])

    def test_q_combines_with_status_profile_and_model(self):
        p = self.srv.post("/v1/profiles", {"name": "s-" + uuid.uuid4().hex[:8], "profile_rule": RULE},
                          key=self.a).json()["id"]
        for mac in ("0004f2a1b201", "0004f2a1b202", "0004f2a1b203"):
            self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": p}, key=self.a).status, 200)
        self.srv.post("/v1/devices/0004f2a1b203/status", {"status": "acquired"}, key=self.a)
        self.assertEqual(self.found("a1b20&profile_id=" + p), ["0004f2a1b201", "0004f2a1b202", "0004f2a1b203"])
        self.assertEqual(self.found("a1b20&profile_id=%s&status=acquired" % p), ["0004f2a1b203"])
        self.assertEqual(self.found("a1b20&model=CP-8845"), ["0004f2a1b2%02x" % i for i in range(0, 16, 3)])
        self.assertEqual(self.found("a1b20&model=CP-8845&status=acquired"), ["0004f2a1b203"])
        self.assertEqual(self.found("c0ffe&model=CP-8845"), ["00562bc0ffee"])
        self.assertEqual(self.found("d3e4f0&model=CP-8845"), [])
        self.srv.post("/v1/devices/0004f2a1b203/status", {"status": "open"}, key=self.a)

    def test_cursor_paging_visits_each_match_exactly_once(self):
        for limit in (1, 4, 7):
            seen, cursor, pages = [], None, 0
            while True:
                page = self.search("q=f2:a1&limit=%d" % limit + ("&cursor=" + cursor if cursor else ""))
                seen += [d["mac"] for d in page["items"]]
                cursor = page["next_cursor"]
                pages += 1
                if cursor is None:
                    break
            self.assertEqual(seen, ["0004f2a1b2%02x" % i for i in range(30)], limit)
            self.assertEqual(pages, -(-30 // limit))

    def test_another_providers_devices_are_never_found(self):
        self.assertEqual(self.found("a1b3"), [])
        self.assertEqual(self.found("c0ffe"), ["00562b0c0ffe", "00562bc0ffee"])
        self.assertEqual(self.found("c0ffe", key=self.b), ["00562bc0ffef"])
        self.assertEqual(self.found("a1b2", key=self.b), [])
        self.assertEqual(self.found("0004f2&model=CP-8845", key=self.b), self.theirs[:5])

    def test_bad_q_is_422_problem_naming_q(self):
        for q in ("ab", "a", "::", "a:b", "0g1", "00562b0436150", "00%2056%202b", "%25a1b", "a1b_", "a1b*",
                  "0" * 13, "-" * 60 + "abc" + "-" * 10, "%C3%A9ab1"):
            problem = self.assertProblem(self.srv.get("/v1/devices?q=" + q, key=self.a), 422)
            self.assertEqual([e["field"] for e in problem["errors"]], ["q"], q)
        problem = self.assertProblem(self.srv.get("/v1/devices?model=" + "x" * 65, key=self.a), 422)
        self.assertEqual([e["field"] for e in problem["errors"]], ["model"])
        # an empty q is no filter, as for the other filters
        self.assertEqual(len(self.search("q=&limit=1000")["items"]), len(self.macs))

    def test_q_is_served_by_the_trigram_index(self):
        provider = self.provider()["id"]
        self.pg.psql(self.db, "INSERT INTO devices (mac, provider_id, status)"
                              " SELECT ('00:56:2b:' || substr(md5(i::text), 1, 2) || ':' || substr(md5(i::text), 3, 2)"
                              " || ':' || substr(md5(i::text), 5, 2))::macaddr, '%s', 'open'"
                              " FROM generate_series(1, 20000) i ON CONFLICT DO NOTHING; ANALYZE devices" % provider)
        # the statement ztp_device_search plans for q, as it runs it (ztp_system, the tenant named)
        plan = self.pg.psql(self.db, "SET role ztp_system; EXPLAIN SELECT d.mac FROM devices d"
                                     " WHERE d.provider_id = '%s' AND ztp_mac_text(d.mac) LIKE '%%7e3a9c%%'"
                                     " ORDER BY d.mac LIMIT 101" % provider)
        self.assertIn("devices_mac_trgm", plan)
        # and through the whole list under row-level security: the plan of the search is not visible
        # here, but its answer is, and it must be the provider's own
        got = self.pg.psql(self.db, "SET role ztp_tenant; SET app.tenant = '%s';"
                                    " SELECT ztp_device_search(NULL, NULL, NULL, '7e3a9c', NULL, 10)" % provider)
        want = self.pg.psql(self.db, "SELECT coalesce(array_agg(mac ORDER BY mac), '{}') FROM devices"
                                     " WHERE provider_id = '%s' AND replace(mac::text, ':', '') LIKE '%%7e3a9c%%'"
                                     % provider)
        self.assertEqual(got, want)
        # without a tenant the search refuses rather than look across providers
        with self.assertRaises(AssertionError):
            self.pg.psql(self.db, "SET role ztp_tenant; SELECT ztp_device_search(NULL, NULL, NULL, 'abc', NULL, 10)")

    def test_pg_trgm_needs_no_superuser(self):
        # the owner of a database may create the trusted extension 0013 needs
        role, db = "owner_" + uuid.uuid4().hex[:8], "t_" + uuid.uuid4().hex[:12]
        self.pg.psql("postgres", "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" % role)
        self.pg.psql("postgres", "CREATE DATABASE %s OWNER %s" % (db, role))
        url = "postgresql://%s@127.0.0.1:%d/%s" % (role, self.pg.port, db)
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c",
                            "CREATE EXTENSION pg_trgm; SELECT current_setting('is_superuser')"],
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "off"), r.stderr)
