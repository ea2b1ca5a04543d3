"""People, roles and sign-in (contract section 8): invitations, passwords,
session cookies, the role table on every /v1 route, cross-site refusals."""
import http.client
import json
import os
import re
import subprocess
import threading
import time
import uuid

import harness
from harness import ServerTest, ztpd_cmd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "correct horse battery"
CONSOLE = {"X-ZTP-Console": "1"}
ADMIN_PREFIXES = ("/v1/profiles", "/v1/api-keys", "/v1/users", "/v1/webhooks", "/v1/url-token-key")
SECRET_READS = ("/v1/url-token-key",)  # a key that mints device tokens: admin even to read
# open to anyone (sign-in, invitations) or to any person signed in (their own session)
UNGUARDED = {("post", "/v1/sessions"), ("post", "/v1/invites/accept"), ("get", "/v1/sessions/current"),
             ("delete", "/v1/sessions/current")}


def cookie_of(r):
    m = re.match(r"ztp_session=([^;]*)", r.headers.get("set-cookie", ""))
    return m.group(1) if m else None


def raw_request(srv, method, path, headers, body=None):
    """A probe whose answer only matters for not being 403 (dummy input; it
    is not among the answers the OpenAPI test checks)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


class PeopleTest(ServerTest):
    server_env = {"ZTP_PUBLIC_URL": "https://console.example"}

    def setUp(self):
        self.p = self.provider()
        self.key = self.p["api_key"]

    # --- helpers ----------------------------------------------------------

    def email(self):
        return "p-%s@example.com" % uuid.uuid4().hex[:10]

    def invite(self, role="admin", key=None, email=None):
        r = self.srv.post("/v1/users", {"email": email or self.email(), "role": role}, key=key or self.key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def token_of(self, invited):
        prefix = "https://console.example/console/invite#"
        self.assertTrue(invited["invite_url"].startswith(prefix), invited)
        return invited["invite_url"][len(prefix):]

    def person(self, role="admin", key=None):
        """An invited person who chose a password and signed in: (user, cookie)."""
        u = self.invite(role, key=key)
        r = self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": PASSWORD})
        self.assertEqual(r.status, 200, r)
        return u, self.sign_in(u["email"])

    def sign_in(self, email, password=PASSWORD, source=None, expect=201):
        r = self.srv.post("/v1/sessions", {"email": email, "password": password}, source=source, timeout=60,
                          headers=CONSOLE)
        self.assertEqual(r.status, expect, r)
        return cookie_of(r) if expect == 201 else r

    def as_cookie(self, cookie, extra=None):
        h = {"Cookie": "ztp_session=" + cookie}
        h.update(extra or {})
        return h

    # --- invitations --------------------------------------------------------

    def test_invite_gives_a_link_once_and_list_shows_no_token(self):
        u = self.invite("operator")
        self.assertEqual(set(u), {"id", "email", "role", "invite_url", "created_at", "active"})
        self.assertEqual(u["role"], "operator")
        token = self.token_of(u)
        self.assertEqual(len(token), 43)
        listed = self.srv.get("/v1/users", key=self.key)
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(u["id"], [x["id"] for x in listed.json()["items"]])
        self.assertNotIn(token, listed.text)
        self.assertNotIn("invite_url", listed.text)

    def test_invite_validates_email_and_role_and_refuses_duplicates(self):
        for body, field in (({"email": "nope", "role": "admin"}, "email"),
                            ({"email": "a@b@c", "role": "admin"}, "email"),
                            ({"email": "a\u0001@b.c", "role": "admin"}, "email"),
                            ({"email": "x" * 250 + "@b.co", "role": "admin"}, "email"),
                            ({"email": "a@b.c", "role": "root"}, "role")):
            body = self.assertProblem(self.srv.post("/v1/users", body, key=self.key), 422)
            self.assertEqual([e["field"] for e in body["errors"]], [field])
        e = self.email()
        self.invite(email=e)
        self.assertProblem(self.srv.post("/v1/users", {"email": e.upper(), "role": "viewer"}, key=self.key), 409)
        # the same email may belong to another provider's person
        other = self.provider()["api_key"]
        self.invite(email=e, key=other)

    def test_invite_works_once(self):
        u = self.invite()
        t = self.token_of(u)
        self.assertEqual(self.srv.post("/v1/invites/accept", {"token": t, "password": PASSWORD}).status, 200)
        self.assertProblem(self.srv.post("/v1/invites/accept", {"token": t, "password": PASSWORD + "x"}), 410)
        self.sign_in(u["email"])  # the first password holds
        self.sign_in(u["email"], PASSWORD + "x", expect=401)

    def test_invite_expires_after_seven_days(self):
        u = self.invite()
        self.pg.psql(self.db, "UPDATE users SET invite_expires_at = now() - interval '1 second' WHERE id = '%s'"
                     % u["id"])
        self.assertProblem(self.srv.post("/v1/invites/accept",
                                         {"token": self.token_of(u), "password": PASSWORD}), 410)
        left = self.pg.psql(self.db, "SELECT extract(epoch FROM invite_expires_at - created_at)::int FROM users "
                            "WHERE id = '%s'" % self.invite()["id"])
        self.assertEqual(int(left), 7 * 86400)

    def test_unknown_or_malformed_invite_token_is_404(self):
        for t in ("A" * 43, "short", "!" * 43):
            self.assertProblem(self.srv.post("/v1/invites/accept", {"token": t, "password": PASSWORD}), 404)

    def test_password_rules(self):
        u = self.invite()
        t = self.token_of(u)
        for pw in ("short", "x" * 11, "\u00e9" * 11, "y" * 257):
            body = self.assertProblem(self.srv.post("/v1/invites/accept", {"token": t, "password": pw}), 422)
            self.assertEqual([e["field"] for e in body["errors"]], ["password"])
        body = self.assertProblem(self.srv.post("/v1/invites/accept", {"token": t}), 422)
        self.assertEqual([e["field"] for e in body["errors"]], ["password"])
        # twelve characters of two bytes each are enough
        self.assertEqual(self.srv.post("/v1/invites/accept", {"token": t, "password": "\u00e9" * 12}).status, 200)

    def test_cli_invites_the_first_person(self):
        r = ztpd_cmd(self.db, "user", "invite", self.p["id"], "First@Example.com",
                     ZTP_PUBLIC_URL="https://console.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        u = json.loads(r.stdout)
        self.assertEqual((u["email"], u["role"]), ("first@example.com", "admin"))
        self.assertEqual(self.srv.post("/v1/invites/accept",
                                       {"token": self.token_of(u), "password": PASSWORD}).status, 200)
        r = ztpd_cmd(self.db, "user", "invite", self.p["id"], "v@example.com", "--role", "viewer")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["role"], "viewer")
        r = ztpd_cmd(self.db, "user", "invite", self.p["id"], "v@example.com")
        self.assertNotEqual(r.returncode, 0)
        r = ztpd_cmd(self.db, "user", "invite", self.p["id"], "bad", "--role", "admin")
        self.assertNotEqual(r.returncode, 0)

    # --- sessions -------------------------------------------------------

    def test_sign_in_whoami_sign_out(self):
        u = self.invite("operator")
        self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": PASSWORD})
        r = self.srv.post("/v1/sessions", {"email": u["email"].upper(), "password": PASSWORD}, timeout=60,
                          headers={"Origin": "https://console.example"})
        self.assertEqual(r.status, 201, r)
        sc = r.headers["set-cookie"]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, sc)
        self.assertIn("Secure", sc)  # plain HTTP here, but people come through ZTP_PUBLIC_URL's https
        c = cookie_of(r)
        me = self.srv.get("/v1/sessions/current", headers=self.as_cookie(c))
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json(), {"user_id": u["id"], "email": u["email"], "role": "operator",
                                     "provider_id": self.p["id"]})
        out = self.srv.delete("/v1/sessions/current", headers=self.as_cookie(c, CONSOLE))
        self.assertEqual(out.status, 204, out)
        self.assertIn("Max-Age=0", out.headers["set-cookie"])
        self.assertProblem(self.srv.get("/v1/sessions/current", headers=self.as_cookie(c)), 401)

    def test_wrong_password_and_unknown_email_answer_alike(self):
        u, _ = self.person()
        a = self.sign_in(u["email"], "wrong password!!", source="127.9.0.1", expect=401)
        b = self.sign_in(self.email(), "wrong password!!", source="127.9.0.2", expect=401)
        self.assertEqual(a.json(), b.json())
        # both cost one Argon2id check: timed, neither is several times the other
        t = []
        for email in (u["email"], self.email()) * 3:
            start = time.monotonic()
            self.sign_in(email, "wrong password!!", source="127.9.1.%d" % (len(t) + 1), expect=401)
            t.append(time.monotonic() - start)
        known, unknown = min(t[0::2]), min(t[1::2])  # the least of three: load on the machine only adds
        self.assertLess(max(known, unknown) / min(known, unknown), 3.0, t)

    def test_session_ends_after_an_idle_hour(self):
        u, c = self.person("viewer")
        self.assertEqual(self.srv.get("/v1/sessions/current", headers=self.as_cookie(c)).status, 200)
        self.pg.psql(self.db, "UPDATE sessions SET last_seen_at = now() - interval '61 minutes' WHERE user_id = '%s'"
                     % u["id"])
        self.assertProblem(self.srv.get("/v1/sessions/current", headers=self.as_cookie(c)), 401)

    def test_use_keeps_a_session_alive_but_not_past_twelve_hours(self):
        u, c = self.person("viewer")
        self.pg.psql(self.db, "UPDATE sessions SET last_seen_at = now() - interval '50 minutes',"
                     " created_at = now() - interval '11 hours' WHERE user_id = '%s'" % u["id"])
        self.assertEqual(self.srv.get("/v1/devices", headers=self.as_cookie(c)).status, 200)
        seen = self.pg.psql(self.db, "SELECT last_seen_at > now() - interval '1 minute' FROM sessions "
                            "WHERE user_id = '%s'" % u["id"])
        self.assertEqual(seen, "t")
        self.pg.psql(self.db, "UPDATE sessions SET created_at = now() - interval '12 hours 1 minute'"
                     " WHERE user_id = '%s'" % u["id"])
        self.assertProblem(self.srv.get("/v1/devices", headers=self.as_cookie(c)), 401)

    def test_deleting_a_person_ends_their_sessions(self):
        u, c = self.person("operator")
        self.assertEqual(self.srv.delete("/v1/users/" + u["id"], key=self.key).status, 204)
        self.assertProblem(self.srv.get("/v1/devices", headers=self.as_cookie(c)), 401)
        self.assertProblem(self.srv.delete("/v1/users/" + u["id"], key=self.key), 404)
        self.sign_in(u["email"], expect=401)

    def test_ten_failures_for_one_email_then_429(self):
        u, _ = self.person()
        for i in range(10):
            self.sign_in(u["email"], "wrong password!!", source="127.10.%d.1" % i, expect=401)
        r = self.sign_in(u["email"], PASSWORD, source="127.10.99.1", expect=429)
        self.assertProblem(r, 429)
        self.assertGreater(int(r.headers["retry-after"]), 0)
        # another person is not held up
        v, _ = self.person()
        self.sign_in(v["email"], source="127.10.99.2")

    def test_thirty_sign_ins_of_one_person_then_429(self):
        """Successes were not counted: each costs Argon2id checks, a session and an
        audit event, so a person could sign in without end."""
        u, _ = self.person()  # one
        for i in range(9):  # failures do not eat the successes, nor successes the failures
            self.sign_in(u["email"], "wrong password!!", source="127.12.%d.2" % i, expect=401)
        for i in range(29):
            self.sign_in(u["email"], source="127.12.%d.1" % i)
        r = self.sign_in(u["email"], source="127.12.99.1", expect=429)
        self.assertIn("too many sign-ins for this person", self.assertProblem(r, 429)["detail"])
        self.assertGreater(int(r.headers["retry-after"]), 0)
        # that refused sign-in counted as the email's tenth failure: now every attempt waits
        self.assertIn("too many failed sign-ins", self.assertProblem(
            self.sign_in(u["email"], "wrong password!!", source="127.12.99.3", expect=429), 429)["detail"])
        v, _ = self.person()
        self.sign_in(v["email"], source="127.12.99.1")

    def test_another_providers_person_of_the_same_email_cannot_use_up_its_sign_ins(self):
        """Successes counted per email let an admin who invited (and accepted for)
        someone's email lock that person out of every provider."""
        email = self.email()
        people = []
        for i in range(2):
            key = self.provider()["api_key"]
            u = self.invite("viewer", key=key, email=email)
            r = self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": "the password %d!" % i})
            self.assertEqual(r.status, 200, r)
            people.append(r.json()["provider_id"])
        for i in range(30):
            self.sign_in(email, "the password 1!", source="127.13.%d.1" % i)
        self.assertProblem(self.sign_in(email, "the password 1!", source="127.13.99.1", expect=429), 429)
        cookie = self.sign_in(email, "the password 0!", source="127.13.99.2")
        me = self.srv.get("/v1/sessions/current", headers=self.as_cookie(cookie)).json()
        self.assertEqual(me["provider_id"], people[0])

    def test_an_email_of_five_providers_signs_in_to_each(self):
        """Sign-in checked 4 people per email: the fifth provider's could never
        sign in, and four providers inviting an email first locked it out of
        every later one."""
        email = self.email()
        mine = []
        for i in range(5):
            key = self.provider()["api_key"]
            u = self.invite("viewer", key=key, email=email)
            password = "password number %d!" % i
            r = self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": password})
            self.assertEqual(r.status, 200, r)
            mine.append((password, r.json()["provider_id"]))
        for password, provider in reversed(mine):
            cookie = self.sign_in(email, password)
            me = self.srv.get("/v1/sessions/current", headers=self.as_cookie(cookie)).json()
            self.assertEqual(me["provider_id"], provider)

    def test_ten_failures_from_one_address_then_429(self):
        u, _ = self.person()
        for i in range(10):
            self.sign_in(self.email(), "wrong password!!", source="127.11.0.1", expect=401)
        self.assertProblem(self.sign_in(u["email"], source="127.11.0.1", expect=429), 429)
        self.sign_in(u["email"], source="127.11.0.2")

    # --- the role table ---------------------------------------------------

    def v1_operations(self):
        with open(os.path.join(ROOT, "admin-api", "openapi.json")) as f:
            doc = json.load(f)
        ops = []
        for path, item in doc["paths"].items():
            if not path.startswith("/v1/"):
                continue
            for method in item:
                if method in ("get", "post", "put", "patch", "delete") and (method, path) not in UNGUARDED:
                    concrete = (path.replace("{mac}", "00562b043615").replace("{n}", "1")
                                .replace("{id}", str(uuid.uuid4())))
                    ops.append((method.upper(), path, concrete, item[method].get("x-min-role")))
        self.assertGreater(len(ops), 25)
        return ops

    def needed(self, method, path):
        if path.startswith(SECRET_READS):
            return "admin"
        if method == "GET":
            return "viewer"
        return "admin" if path.startswith(ADMIN_PREFIXES) else "operator"

    def test_role_table_route_by_route(self):
        p = self.provider()
        _, viewer = self.person("viewer", key=p["api_key"])
        _, operator = self.person("operator", key=p["api_key"])
        _, admin = self.person("admin", key=p["api_key"])
        rank = {"viewer": 1, "operator": 2, "admin": 3}
        for method, path, concrete, documented in self.v1_operations():
            need = self.needed(method, path)
            self.assertEqual(documented, need, (method, path))
            body = None  # a body would meet the size limit (413) on some routes before the role check
            for role, c in (("viewer", viewer), ("operator", operator)):
                if rank[role] < rank[need]:
                    r = self.srv.request(method, concrete, body=body, headers=self.as_cookie(c, CONSOLE))
                    self.assertProblem(r, 403)
                else:
                    status = raw_request(self.srv, method, concrete, self.as_cookie(c, CONSOLE), body)
                    self.assertNotIn(status, (401, 403), (role, method, path))
            for h in (self.as_cookie(admin, CONSOLE), {"Authorization": "Bearer " + p["api_key"]}):
                status = raw_request(self.srv, method, concrete, h, body)
                self.assertNotIn(status, (401, 403), (method, path, h))

    def test_viewer_reads_and_operator_changes_devices(self):
        _, viewer = self.person("viewer")
        _, operator = self.person("operator")
        self.assertEqual(self.srv.get("/v1/profiles", headers=self.as_cookie(viewer)).status, 200)
        self.assertEqual(self.srv.get("/v1/users", headers=self.as_cookie(viewer)).status, 200)
        r = self.srv.put("/v1/devices/00562b043699", {}, headers=self.as_cookie(operator, CONSOLE))
        self.assertIn(r.status, (200, 201), r)
        self.assertProblem(self.srv.post("/v1/profiles", {"name": "x", "profile_rule": "https://a/$MA"},
                                         headers=self.as_cookie(operator, CONSOLE)), 403)

    def test_audit_names_the_person(self):
        u, c = self.person("operator")
        r = self.srv.put("/v1/devices/00562b043698", {}, headers=self.as_cookie(c, CONSOLE))
        self.assertIn(r.status, (200, 201), r)
        items = self.srv.get("/v1/audit-events", key=self.key).json()["items"]
        mine = [a for a in items if a["target"] == "00562b043698"]
        self.assertEqual([(a["user_id"], a["key_id"]) for a in mine][-1:], [(u["id"], None)])

    # --- attacks ------------------------------------------------------------

    def test_cookie_change_without_console_header_or_same_origin_is_403(self):
        _, c = self.person("admin")
        body = {"name": "x", "profile_rule": "https://a/$MA"}
        # another port of the same host is the same site: the cookie goes along (NOTES.md), the Origin differs
        other_port = "http://127.0.0.1:%d" % (self.srv.port + 1)
        for extra in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": other_port},
                      {"X-ZTP-Console": "0"}):
            self.assertProblem(self.srv.post("/v1/profiles", body, headers=self.as_cookie(c, extra)), 403)
        # a form post from another site
        form = self.srv.post("/v1/api-keys", "name=x", headers=self.as_cookie(
            c, {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}))
        self.assertProblem(form, 403)
        # the console's own origin, or its header, may
        ok = self.srv.post("/v1/profiles", body, headers=self.as_cookie(c, {"Origin": "https://console.example"}))
        self.assertEqual(ok.status, 201, ok)
        own = "http://127.0.0.1:%d" % self.srv.port
        body["name"] = "y"
        ok = self.srv.post("/v1/profiles", body, headers=self.as_cookie(c, {"Origin": own}))
        self.assertEqual(ok.status, 201, ok)
        # reads need neither, and API keys are unaffected
        self.assertEqual(self.srv.get("/v1/profiles", headers=self.as_cookie(c)).status, 200)
        body["name"] = "z"
        self.assertEqual(self.srv.post("/v1/profiles", body, key=self.key,
                                       headers={"Origin": "https://evil.example"}).status, 201)

    def test_sign_in_from_another_site_is_403(self):
        u, _ = self.person()
        body = json.dumps({"email": u["email"], "password": PASSWORD})
        for h in ({"Content-Type": "text/plain", "Origin": "https://evil.example"},
                  {"Content-Type": "text/plain"}):
            r = self.srv.post("/v1/sessions", body, headers=h, timeout=60)
            self.assertProblem(r, 403)
            self.assertNotIn("set-cookie", r.headers)

    def test_cookie_sees_only_its_own_provider(self):
        other = self.provider()
        self.srv.put("/v1/devices/00562b043697", {}, key=other["api_key"])
        theirs = self.invite(key=other["api_key"])
        _, c = self.person("admin")
        self.assertProblem(self.srv.get("/v1/devices/00562b043697", headers=self.as_cookie(c)), 404)
        self.assertNotIn(theirs["id"], self.srv.get("/v1/users", headers=self.as_cookie(c)).text)
        self.assertProblem(self.srv.delete("/v1/users/" + theirs["id"], headers=self.as_cookie(c, CONSOLE)), 404)

    def test_an_invitation_opens_only_its_own_provider(self):
        other = self.provider()
        u = self.invite("admin", key=other["api_key"])
        r = self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": PASSWORD})
        self.assertEqual(r.json()["provider_id"], other["id"])
        c = self.sign_in(u["email"])
        me = self.srv.get("/v1/sessions/current", headers=self.as_cookie(c)).json()
        self.assertEqual(me["provider_id"], other["id"])
        self.assertNotIn(self.invite()["id"], self.srv.get("/v1/users", headers=self.as_cookie(c)).text)

    def test_a_session_cookie_in_a_cookie_field_of_its_own_is_found(self):
        """HTTP/2 clients may send each cookie in a Cookie field of its own: only
        the first field was read, so a session in the second got 401."""
        _, cookie = self.person("viewer")

        def whoami(fields):
            conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
            try:
                conn.putrequest("GET", "/v1/sessions/current")
                for value in fields:
                    conn.putheader("Cookie", value)
                conn.endheaders()
                r = conn.getresponse()
                return r.status, r.read()
            finally:
                conn.close()

        self.assertEqual(whoami(["theme=dark", "ztp_session=" + cookie])[0], 200)
        self.assertEqual(whoami(["theme=dark; lang=en", "x=1; ztp_session=" + cookie])[0], 200)
        # the first ztp_session decides, across fields as within one
        self.assertEqual(whoami(["ztp_session=" + "A" * 43, "ztp_session=" + cookie])[0], 401)
        self.assertEqual(whoami(["ztp_session=" + cookie, "ztp_session=" + "A" * 43])[0], 200)
        # one field is always read, however long: the bounds are on the fields after it
        self.assertEqual(whoami(["ztp_session=" + cookie + "; big=" + "x" * 33000])[0], 200)

    def test_over_http2_cookie_fields_are_read_one_by_one_and_only_so_many(self):
        """Joining every Cookie field let one HTTP/2 request of 410,000 fields
        (HPACK repeats a 4 kB field for a byte each) make ztpd allocate 1.7 GB."""
        _, cookie = self.person("viewer")

        def whoami(port, fields):
            args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "--http2-prior-knowledge"]
            for value in fields:
                args += ["-H", "Cookie: " + value]
            out = subprocess.run(args + ["http://127.0.0.1:%d/v1/sessions/current" % port], capture_output=True,
                                 text=True, timeout=30).stdout
            return out

        with harness.Ztpd(self.db, ZTP_HTTP2=1) as h2:
            self.assertEqual(whoami(h2.port, ["theme=dark", "ztp_session=" + cookie]), "2 200")
            self.assertEqual(whoami(h2.port, ["c%d=%d" % (i, i) for i in range(99)] + ["ztp_session=" + cookie]),
                             "2 200")
            self.assertEqual(whoami(h2.port, ["big%d=%s" % (i, "x" * 4000) for i in range(7)]
                                    + ["ztp_session=" + cookie]), "2 200")
            # past 100 fields, or 32 KiB in them, none is read
            self.assertEqual(whoami(h2.port, ["c%d=%d" % (i, i) for i in range(100)] + ["ztp_session=" + cookie]),
                             "2 401")
            self.assertEqual(whoami(h2.port, ["big%d=%s" % (i, "x" * 4000) for i in range(9)]
                                    + ["ztp_session=" + cookie]), "2 401")

    def test_sign_ins_whose_client_left_before_any_check_count_for_nobody(self):
        """Over HTTP/2 a client could reset its streams before the people were
        read: each counted as a failure without an Argon2id check, 400 a second
        against 28, enough to fill the limiters' tables."""
        u, _ = self.person()
        source = "127.14.0.1"
        locker = subprocess.Popen(["psql", "-X", "-q", self.pg.url(self.db)], stdin=subprocess.PIPE, text=True)
        self.addCleanup(locker.wait)
        self.addCleanup(locker.stdin.close)
        locker.stdin.write("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        harness.wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_locks WHERE granted AND"
                                                         " mode = 'AccessExclusiveLock' AND relation = 'users'::regclass")
                           != "0", 30, "the lock")
        with harness.Ztpd(self.db, ZTP_HTTP2=1) as h2:
            url = "http://127.0.0.1:%d/v1/sessions" % h2.port

            def sign_in(password, max_time):
                return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                                       "--interface", source, "--max-time", str(max_time), "-H", "X-ZTP-Console: 1",
                                       "-H", "Content-Type: application/json",
                                       "-d", json.dumps({"email": u["email"], "password": password}), url],
                                      capture_output=True, text=True, timeout=60).stdout

            gone = []
            threads = [threading.Thread(target=lambda: gone.append(sign_in("wrong password!!", 0.5)))
                       for _ in range(10)]
            for t in threads:  # all at once, each gone before the people could be read
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(gone, ["000"] * 10)  # the ten failures the source and the email may have
            locker.stdin.write("COMMIT;\n")
            locker.stdin.flush()
            # once their reads ended, the source and the email have all their attempts (429 if any had counted)
            harness.wait_until(lambda: sign_in(PASSWORD, 30) == "201", 30, "a sign-in with nothing counted")

    def test_an_import_job_part_put_by_a_person_names_the_person(self):
        """The part's audit entry (0044) had neither key nor person when a
        person put it: the worker's transaction named only the key."""
        u, cookie = self.person("operator")
        h = self.as_cookie(cookie, CONSOLE)
        job = self.srv.post("/v1/import-jobs", {"format": "csv"}, headers=h).json()
        h["Content-Type"] = "text/csv"
        r = self.srv.put("/v1/import-jobs/%s/parts/1" % job["id"], "mac\n%s\n" % ("02" + uuid.uuid4().hex[:10]),
                         headers=h, timeout=60)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.srv.post("/v1/import-jobs/%s/start" % job["id"], headers=self.as_cookie(cookie, CONSOLE))
                         .status, 202)
        audit = self.srv.get("/v1/audit-events?limit=1000", key=self.key).json()["items"]
        mine = {e["action"]: e.get("user_id") for e in audit if e["target"] == job["id"]}
        self.assertEqual((mine.get("import_job.part"), mine.get("import_job.start")), (u["id"], u["id"]), audit[-5:])

    def test_session_fixation_a_chosen_cookie_is_never_adopted(self):
        chosen = "A" * 43
        u = self.invite()
        self.srv.post("/v1/invites/accept", {"token": self.token_of(u), "password": PASSWORD})
        r = self.srv.post("/v1/sessions", {"email": u["email"], "password": PASSWORD},
                          headers={"Cookie": "ztp_session=" + chosen, "X-ZTP-Console": "1"}, timeout=60)
        self.assertEqual(r.status, 201, r)
        self.assertNotEqual(cookie_of(r), chosen)
        self.assertProblem(self.srv.get("/v1/sessions/current", headers=self.as_cookie(chosen)), 401)
        self.assertProblem(self.srv.get("/v1/sessions/current", headers=self.as_cookie("x;")), 401)

    def test_secrets_never_reach_the_database_or_the_logs(self):
        u = self.invite()
        token = self.token_of(u)
        self.srv.post("/v1/invites/accept", {"token": token, "password": PASSWORD})
        cookie = self.sign_in(u["email"])
        self.srv.get("/v1/sessions/current", headers=self.as_cookie(cookie))
        self.sign_in(u["email"], "a wrong password", expect=401)
        dump = self.pg.dump(self.db)
        for secret in (token, cookie, PASSWORD, "a wrong password"):
            self.assertNotIn(secret, dump)
            self.assertNotIn(secret, self.srv.stderr() + self.srv.stdout())
        self.assertIn("$argon2id$", dump)


class SignInSitesTest(ServerTest):
    """What one IPv6 site, or a flood from everywhere, can make sign-in do
    (behind a proxy that names the client: X-Forwarded-For)."""
    PROXY = "127.29.0.1"
    server_env = {"ZTP_PUBLIC_URL": "https://console.example", "ZTP_TRUSTED_PROXIES": PROXY}

    def setUp(self):
        key = self.provider()["api_key"]
        self.email = "site-%s@example.com" % uuid.uuid4().hex[:10]
        r = self.srv.post("/v1/users", {"email": self.email, "role": "viewer"}, key=key)
        self.assertEqual(r.status, 201, r)
        token = r.json()["invite_url"].split("#", 1)[1]
        self.assertEqual(self.srv.post("/v1/invites/accept", {"token": token, "password": PASSWORD}).status, 200)

    def sign_in(self, client, email=None, password=PASSWORD):
        headers = dict(CONSOLE)
        headers["X-Forwarded-For"] = client
        return self.srv.post("/v1/sessions", {"email": email or self.email, "password": password},
                             source=self.PROXY, headers=headers, timeout=60)

    def at_once(self, calls):
        """Runs each call on a thread of its own, all started together; their answers' statuses."""
        results = [None] * len(calls)
        barrier = threading.Barrier(len(calls))

        def go(i):
            barrier.wait()
            r = calls[i]()
            results[i] = (r.status, r.headers.get("retry-after"), r.json() if r.status != 201 else None)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        self.assertNotIn(None, results)
        return results

    def test_one_ipv6_site_is_counted_by_its_48(self):
        """Each /64 is a source of its own (10 failures): a /48 holds 65,536 of
        them, 655,360 passwords checked every 15 minutes, enough to keep the
        workers busy and fill the limiters' tables. 160 failures per /48."""
        calls = [lambda i=i: self.sign_in("2001:db8:77:%x::1" % (i // 10), "nobody-%d@example.com" % i, "wrong!")
                 for i in range(160)]
        for i in range(0, 160, 4):  # 4 at a time: what one source may have checked at once
            for status, _, _ in self.at_once(calls[i:i + 4]):
                self.assertEqual(status, 401)
        r = self.sign_in("2001:db8:77:ff::1")  # a /64 of the site that has not failed yet
        self.assertIn("too many failed sign-ins", self.assertProblem(r, 429)["detail"])
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        self.assertEqual(self.sign_in("2001:db8:78:ff::1").status, 201)  # the next /48
        self.assertEqual(self.sign_in("192.0.2.7").status, 201)

    def test_one_source_has_at_most_4_sign_ins_checked_at_once(self):
        """With one pool of 64 for all, one source's 64 connections took every
        slot as it was freed (their extra sign-ins cost nothing: 503), and
        nobody else signed in."""
        calls = [lambda i=i: self.sign_in("192.0.2.50", "one-%d@example.com" % i, "wrong!") for i in range(10)]
        calls.append(lambda: self.sign_in("192.0.2.51"))  # someone else, at the same time
        results = self.at_once(calls)
        statuses = [status for status, _, _ in results[:-1]]
        self.assertEqual(set(statuses) - {401, 503}, set(), statuses)
        self.assertGreater(statuses.count(503), 0, statuses)
        self.assertGreaterEqual(statuses.count(401), 4, statuses)
        self.assertEqual(results[-1][0], 201)
        # a site's /64s together: 16
        calls = [lambda i=i: self.sign_in("2001:db8:60:%x::1" % (i % 12), "site-%d@example.com" % i, "wrong!")
                 for i in range(36)]
        statuses = [status for status, _, _ in self.at_once(calls)]
        self.assertGreater(statuses.count(503), 0, statuses)
        self.assertGreaterEqual(statuses.count(401), 16, statuses)

    def test_past_64_sign_ins_being_checked_the_next_are_503_and_count_nothing(self):
        """Each sign-in waits for an Argon2id check on the workers imports use
        too; sources enough queued them without bound."""
        calls = [lambda i=i: self.sign_in("2001:db8:%x:1::1" % (0x1000 + i), "flood-%d@example.com" % i, "wrong!")
                 for i in range(200)]
        results = self.at_once(calls)
        statuses = [status for status, _, _ in results]
        self.assertEqual(set(statuses) - {401, 503}, set(), statuses)
        self.assertGreater(statuses.count(503), 0, statuses)
        self.assertGreaterEqual(statuses.count(401), 64, statuses)
        for status, retry_after, body in results:
            if status == 503:
                self.assertEqual(retry_after, "1")
                self.assertEqual(body["status"], 503)
                self.assertIn("being checked", body["detail"])
        # a refused source and email did not fail: ten more failures each are 401s, then 429
        refused = statuses.index(503)
        client, email = "2001:db8:%x:1::1" % (0x1000 + refused), "flood-%d@example.com" % refused
        for _ in range(10):
            self.assertEqual(self.sign_in(client, email, "wrong!").status, 401)
        self.assertProblem(self.sign_in(client, email, "wrong!"), 429)
        self.assertEqual(self.sign_in("2001:db8:9999:1::1").status, 201)
