"""Device certificates (mutual TLS): a profile that requires one answers its
devices only over HTTPS with a verified certificate naming their MAC; every
other request for them is answered like an unknown MAC's and leaves no trace."""
import json
import os
import subprocess
import threading
import uuid

import ssl

from devcert_pki import Pki, https, resumed_get
from harness import ROOT, ServerTest, free_port, ztpd_cmd
from provider_stub import Stub

PHONE = os.path.join(ROOT, "build", "ztp-phone")
SECRET_PARAM = {"Admin_Password": "s3cret-for-the-phone"}


class DeviceCertTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.server_cert, cls.server_key = cls.pki.self_signed("server", "/CN=localhost",
                                                              san="IP:127.0.0.1,DNS:localhost")
        cls.ca = cls.pki.authority("ca")
        cls.other_trusted = cls.pki.authority("ca2", "/CN=Second Phones CA")
        # same name as the trusted authority, another key: not in ZTP_DEVICE_CA
        cls.rogue = cls.pki.authority("rogue")
        with open(cls.pki.path("device-ca.pem"), "w") as f:
            for ca in (cls.ca, cls.other_trusted):
                with open(ca["cert"]) as c:
                    f.write(c.read())
        cls.tls_port = free_port()
        cls.server_env = {"ZTP_TLS_LISTEN": "127.0.0.1:%d" % cls.tls_port, "ZTP_TLS_CERT": cls.server_cert,
                          "ZTP_TLS_KEY": cls.server_key, "ZTP_DEVICE_CA": cls.pki.path("device-ca.pem")}
        super().setUpClass()
        cls.stub = Stub()
        cls.key = cls.provider_cls("certs")["api_key"]
        cls.guarded = cls.make_profile("guarded", require_certificate=True, params=SECRET_PARAM)
        cls.plain = cls.make_profile("plain")
        cls.next_mac = 0x00562b100000
        cls.next_source = 0

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        super().tearDownClass()
        cls.pki.close()

    @classmethod
    def provider_cls(cls, name):
        from harness import create_provider
        return create_provider(cls.db, name)

    @classmethod
    def make_profile(cls, name, **fields):
        body = {"name": name, "profile_rule": cls.stub.rule("cfg")}
        body.update(fields)
        r = cls.srv.post("/v1/profiles", body, key=cls.key)
        assert r.status == 201, r
        return r.json()

    # --- helpers -----------------------------------------------------------

    def new_mac(self):
        type(self).next_mac += 1
        return "%012x" % type(self).next_mac

    def source(self):
        """A source address of its own, so that no limit of one address is reached."""
        type(self).next_source += 1
        n = type(self).next_source
        return "127.0.%d.%d" % (40 + n // 250, 1 + n % 250)

    def claim(self, profile, mac=None):
        mac = mac or self.new_mac()
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile["id"]}, key=self.key)
        self.assertEqual(r.status, 201, r)
        return mac

    def cert_for(self, mac, ca=None, **kw):
        return self.pki.device(ca or self.ca, "/O=Test Phones/CN=SEP" + mac.upper(), **kw)

    def device(self, mac):
        r = self.srv.get("/v1/devices/" + mac, key=self.key)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def trace(self, mac):
        """Everything a contact could have changed."""
        d = self.device(mac)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.key).json()["items"]
        row = self.pg.psql(self.db, "SELECT contacts, status, last_contact_at, last_addr, user_agent, profile_id "
                                    "FROM devices WHERE mac = '%s'" % mac)
        return d, events, row

    def redirect(self, mac, cert=None, tls=True, path="/redirect/%s.xml"):
        if tls:
            return https(self.tls_port, "GET", path % mac, cert=cert, source=self.source())
        return self.srv.get(path % mac, source=self.source())

    def unknown_answer(self, tls):
        """What a MAC the service never knew gets, with its MAC left out."""
        r = self.redirect(self.new_mac(), tls=tls)
        self.assertEqual(r.status, 404, r)
        return r.status, r.headers.get("content-type"), r.body

    def assertLikeUnknown(self, r, tls=True):
        self.assertEqual((r.status, r.headers.get("content-type"), r.body), self.unknown_answer(tls))

    # --- the certificate forms -------------------------------------------

    def test_each_certificate_form_names_the_device(self):
        forms = [("/CN=SEP%s", None), ("/CN=CP-8845-3PCC-%s", None), ("/O=Test Phones", "DNS:phone-%s.example"),
                 ("/O=Test Phones/CN=Cisco Phone", "DNS:www.example, URI:urn:dev:mac:%s"),
                 ("/CN=%s", None)]
        for subject, san in forms:
            mac = self.claim(self.guarded)
            spelled = mac.upper() if "SEP" in subject else mac
            if subject == "/CN=%s":
                spelled = ":".join(mac[i:i + 2] for i in range(0, 12, 2))
            cert = self.pki.device(self.ca, subject % spelled if "%s" in subject else subject,
                                   san=san % mac if san else None)
            r = self.redirect(mac, cert)
            self.assertEqual(r.status, 200, (subject, san, r))
            self.assertIn(b"<Admin_Password ua=\"na\">s3cret-for-the-phone</Admin_Password>", r.body)
            d = self.device(mac)
            self.assertEqual((d["contacts"], d["status"], d["certificate"]), (1, "custom_pending", True), subject)

    def test_a_second_authority_in_the_file_is_trusted_too(self):
        mac = self.claim(self.guarded)
        r = self.redirect(mac, self.cert_for(mac, ca=self.other_trusted))
        self.assertEqual(r.status, 200, r)

    def test_json_answer_carries_the_params_only_with_the_certificate(self):
        mac = self.claim(self.guarded)
        r = self.redirect(mac, self.cert_for(mac), path="/redirect/%s.json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["params"], SECRET_PARAM)
        r = self.redirect(mac, None, path="/redirect/%s.json")
        self.assertEqual(r.status, 404, r)
        self.assertNotIn(b"s3cret", r.body)

    def test_a_resumed_session_keeps_its_certificate(self):
        # phones reconnect with the session they had (TLS 1.2 session ids or
        # 1.3 tickets): the proof of the first handshake carries over
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            mac = self.claim(self.guarded)
            self.assertEqual(resumed_get(self.tls_port, "/redirect/%s.xml" % mac, self.cert_for(mac), version),
                             [(200, False), (200, True)], version)
            self.assertEqual(self.device(mac)["contacts"], 2)
            # a session of another device's certificate proves nothing for this one,
            # nor does one whose certificate failed verification, once resumed
            other = self.claim(self.guarded)
            for cert in (self.cert_for(mac), self.cert_for(other, ca=self.rogue)):
                self.assertEqual(resumed_get(self.tls_port, "/redirect/%s.xml" % other, cert, version),
                                 [(404, False), (404, True)], version)
            self.assertEqual(self.device(other)["contacts"], 0)

    # --- refusals look like an unknown MAC and leave no trace -------------

    def test_every_other_request_is_answered_like_an_unknown_mac_and_recorded_nowhere(self):
        mac = self.claim(self.guarded)
        before = self.trace(mac)
        other = self.new_mac()
        self.claim(self.guarded, other)
        attempts = {
            "certificate of another MAC": self.cert_for(other),
            "certificate of an authority not in ZTP_DEVICE_CA": self.cert_for(mac, ca=self.rogue),
            "expired certificate": self.cert_for(mac, start="20200101000000Z", end="20200102000000Z"),
            "not yet valid certificate": self.cert_for(mac, start="20980101000000Z", end="20990101000000Z"),
            "self-signed certificate with the right CN": self.pki.self_signed("forged-" + mac, "/CN=SEP" + mac.upper()),
            "no certificate": None,
        }
        for what, cert in attempts.items():
            for path in ("/redirect/%s.xml", "/redirect/%s.json", "/redirect/%s"):
                r = self.redirect(mac, cert, path=path)
                self.assertLikeUnknown(r)
                self.assertNotIn(b"s3cret", r.body, what)
        for path in ("/redirect/%s.xml", "/redirect/%s.json", "/redirect/%s"):
            r = self.redirect(mac, tls=False, path=path)
            self.assertLikeUnknown(r, tls=False)
        # plain HTTP and HTTPS say the same of an unknown MAC
        self.assertEqual(self.unknown_answer(True), self.unknown_answer(False))
        self.assertEqual(self.trace(mac), before)
        d = self.device(mac)
        self.assertEqual((d["contacts"], d["status"], d["last_contact_at"], d["certificate"]), (0, "open", None, False))

    def test_verified_and_refused_requests_in_one_batch_count_only_the_verified(self):
        mac = self.claim(self.guarded)
        good = self.cert_for(mac)
        results = []

        def ask(cert):
            results.append((cert is not None, self.redirect(mac, cert).status))

        threads = [threading.Thread(target=ask, args=(good if i % 2 else None,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [(False, 404)] * 8 + [(True, 200)] * 8)
        d = self.device(mac)
        self.assertEqual((d["contacts"], d["status"], d["certificate"]), (8, "custom_pending", True))

    def test_ordinary_devices_are_served_with_or_without_a_certificate(self):
        mac = self.claim(self.plain)
        self.assertEqual(self.redirect(mac, tls=False).status, 200)
        self.assertFalse(self.device(mac)["certificate"])
        self.assertEqual(self.redirect(mac, self.cert_for(mac)).status, 200)
        self.assertTrue(self.device(mac)["certificate"])
        # a certificate naming someone else proves nothing about this device
        self.assertEqual(self.redirect(mac, self.cert_for(self.new_mac())).status, 200)
        self.assertFalse(self.device(mac)["certificate"])
        self.assertEqual(self.redirect(mac, self.cert_for(mac)).status, 200)
        self.assertEqual(self.redirect(mac, None).status, 200)
        d = self.device(mac)
        self.assertEqual((d["contacts"], d["certificate"]), (5, False))

    def test_requiring_a_certificate_later_takes_effect_at_once(self):
        p = self.make_profile("later-" + uuid.uuid4().hex[:6])
        mac = self.claim(p)
        self.assertEqual(self.redirect(mac, tls=False).status, 200)
        r = self.srv.patch("/v1/profiles/" + p["id"], {"require_certificate": True}, key=self.key)
        self.assertEqual((r.status, r.json()["require_certificate"]), (200, True))
        self.assertLikeUnknown(self.redirect(mac, tls=False), tls=False)
        self.assertEqual(self.redirect(mac, self.cert_for(mac)).status, 200)
        self.assertEqual(self.device(mac)["contacts"], 2)

    # --- /boot ------------------------------------------------------------

    def boot(self, mac, cert=None, tls=True):
        headers = {"User-Agent": "Cisco-CP-8845-3PCC/11.3.1 (%s)" % mac}
        if tls:
            return https(self.tls_port, "GET", "/boot/%s.xml" % mac, cert=cert, headers=headers,
                         source=self.source())
        return self.srv.get("/boot/%s.xml" % mac, headers=headers, source=self.source())

    def test_boot_answers_a_guarded_device_only_with_its_certificate(self):
        mac = self.claim(self.guarded)
        before = self.trace(mac)
        for tls in (True, False):
            unknown = self.boot(self.new_mac(), tls=tls)
            self.assertEqual(unknown.status, 404, unknown)
            for cert in ((None, self.cert_for(self.new_mac()), self.cert_for(mac, ca=self.rogue)) if tls else (None,)):
                r = self.boot(mac, cert, tls)
                self.assertEqual((r.status, r.headers.get("content-type"), r.body),
                                 (404, unknown.headers.get("content-type"), unknown.body))
        self.assertEqual(self.trace(mac), before)
        r = self.boot(mac, self.cert_for(mac))
        self.assertEqual(r.status, 200, r)
        d = self.device(mac)
        self.assertEqual((d["contacts"], d["status"], d["certificate"]), (1, "custom_pending", True))

    # --- /activate --------------------------------------------------------

    def activate(self, code, mac, cert=None, tls=False):
        body = json.dumps({"code": code, "mac": mac})
        if tls or cert is not None:
            return https(self.tls_port, "POST", "/activate", cert=cert, body=body,
                         headers={"Content-Type": "application/json"}, source=self.source())
        return self.srv.post("/activate", body, headers={"Content-Type": "application/json"}, source=self.source())

    def test_activation_for_a_profile_requiring_a_certificate_is_403_without_one(self):
        code = self.srv.post("/v1/activation-codes", {"profile_id": self.guarded["id"]}, key=self.key).json()
        code = code["items"][0]["code"]
        mac = self.new_mac()
        for cert, tls in ((None, False), (None, True), (self.cert_for(self.new_mac()), True),
                          (self.cert_for(mac, ca=self.rogue), True)):
            r = self.activate(code, mac, cert, tls)
            self.assertProblem(r, 403)
            self.assertNotIn(b"s3cret", r.body)
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.key).status, 404)
        states = {c["last4"]: c["state"] for c in self.srv.get("/v1/activation-codes", key=self.key).json()["items"]}
        self.assertEqual(states[code[-4:]], "active")
        r = self.activate(code, mac, self.cert_for(mac))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["params"], SECRET_PARAM)
        d = self.device(mac)
        self.assertEqual((d["profile_id"], d["contacts"], d["certificate"]), (self.guarded["id"], 1, True))

    def test_short_code_of_such_a_profile_is_403_without_a_certificate(self):
        short = str(uuid.uuid4().int)[:10]
        p = self.make_profile("short-" + short, require_certificate=True, short_code=short)
        mac = self.new_mac()
        self.assertProblem(self.activate("#" + short, mac), 403)
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.key).status, 404)
        self.assertEqual(self.activate("#" + short, mac, self.cert_for(mac)).status, 200)
        self.assertEqual(self.device(mac)["profile_id"], p["id"])

    def test_a_refused_short_code_claim_without_a_certificate_does_not_use_up_the_hourly_bound(self):
        short = str(uuid.uuid4().int)[:10]
        p = self.make_profile("one-" + short, require_certificate=True, short_code=short,
                              short_code_hourly_claims=1)
        mac = self.new_mac()
        self.assertProblem(self.activate("#" + short, mac), 403)
        self.assertEqual(self.activate("#" + short, mac, self.cert_for(mac)).status, 200)
        self.assertEqual(self.device(mac)["profile_id"], p["id"])
        other = self.new_mac()
        self.assertProblem(self.activate("#" + short, other, self.cert_for(other)), 429)

    def test_a_used_code_is_403_without_a_certificate_and_410_with_one(self):
        code = self.srv.post("/v1/activation-codes", {"profile_id": self.guarded["id"]}, key=self.key).json()
        code = code["items"][0]["code"]
        first = self.new_mac()
        self.assertEqual(self.activate(code, first, self.cert_for(first)).status, 200)
        other = self.new_mac()
        self.assertProblem(self.activate(code, other), 403)
        self.assertProblem(self.activate(code, other, self.cert_for(other)), 410)

    def test_a_guarded_device_is_not_re_pointed_by_a_code_without_its_certificate(self):
        mac = self.claim(self.guarded)
        before = self.trace(mac)
        code = self.srv.post("/v1/activation-codes", {"profile_id": self.plain["id"]}, key=self.key).json()
        self.assertProblem(self.activate(code["items"][0]["code"], mac), 403)
        self.assertEqual(self.trace(mac), before)

    # --- profiles ----------------------------------------------------------

    def test_require_certificate_is_returned_and_validated(self):
        p = self.make_profile("default-" + uuid.uuid4().hex[:6])
        self.assertIs(p["require_certificate"], False)
        self.assertIs(self.srv.get("/v1/profiles/" + self.guarded["id"], key=self.key).json()["require_certificate"],
                      True)
        items = self.srv.get("/v1/profiles", key=self.key).json()["items"]
        self.assertTrue(all(isinstance(i["require_certificate"], bool) for i in items))
        for bad in ("yes", 1, None):
            r = self.srv.post("/v1/profiles", {"name": "x" + uuid.uuid4().hex[:6], "profile_rule": "https://p/$MA",
                                               "require_certificate": bad}, key=self.key)
            body = self.assertProblem(r, 422)
            self.assertEqual([e["field"] for e in body["errors"]], ["require_certificate"])

    def test_secret_params_need_require_certificate(self):
        for name in ("Admin_Password", "SIP_PASSWD_1", "user_pwd", "Api_Secret", "PROV_TOKEN", "passwordless"):
            body = {"name": "s-" + uuid.uuid4().hex[:6], "profile_rule": "https://p/$MA",
                    "params": {"Display_Name": "x", name: "v"}}
            r = self.srv.post("/v1/profiles", body, key=self.key)
            problem = self.assertProblem(r, 422)
            self.assertEqual([e["field"] for e in problem["errors"]], ["params." + name], name)
            body["require_certificate"] = True
            self.assertEqual(self.srv.post("/v1/profiles", body, key=self.key).status, 201, name)
        p = self.make_profile("patch-" + uuid.uuid4().hex[:6], params={"Display_Name": "x"})
        url = "/v1/profiles/" + p["id"]
        problem = self.assertProblem(self.srv.patch(url, {"params": {"Line1_Pwd": "x"}}, key=self.key), 422)
        self.assertEqual(problem["errors"][0]["field"], "params.Line1_Pwd")
        self.assertEqual(self.srv.get(url, key=self.key).json()["params"], {"Display_Name": "x"})
        r = self.srv.patch(url, {"params": {"Line1_Pwd": "x"}, "require_certificate": True}, key=self.key)
        self.assertEqual((r.status, r.json()["require_certificate"]), (200, True), r)
        problem = self.assertProblem(self.srv.patch(url, {"require_certificate": False}, key=self.key), 422)
        self.assertEqual(problem["errors"][0]["field"], "params.Line1_Pwd")
        got = self.srv.get(url, key=self.key).json()
        self.assertEqual((got["require_certificate"], got["params"]), (True, {"Line1_Pwd": "x"}))
        r = self.srv.patch(url, {"params": {}, "require_certificate": False}, key=self.key)
        self.assertEqual((r.status, r.json()["require_certificate"]), (200, False), r)
        # the database holds the line too, whatever path a change takes
        with self.assertRaises(AssertionError):
            self.pg.psql(self.db, "UPDATE profiles SET params = '{\"token\": \"x\"}' WHERE id = '%s'" % p["id"])

    # --- ztp-phone ---------------------------------------------------------

    def phone(self, mac, *extra):
        rule = "https://127.0.0.1:%d/redirect/$MA.xml" % self.tls_port
        r = subprocess.run([PHONE, "boot", "--mac", mac, "--rule", rule, "--retry-delays", "0.05",
                            "--max-attempts", "2", "--cacert", self.server_cert] + list(extra),
                           capture_output=True, text=True, timeout=60)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        return r.returncode, lines[:-1], lines[-1] if lines else None

    def test_ztp_phone_boots_through_a_guarded_profile_with_its_certificate(self):
        mac = self.claim(self.guarded)
        cert, key = self.cert_for(mac)
        code, reqs, last = self.phone(mac, "--cert", cert, "--key", key)
        self.assertEqual(code, 0, (reqs, last))
        self.assertEqual(last["result"], "provisioned")
        self.assertEqual(reqs[0]["status"], 200)
        code, reqs, last = self.phone(mac)
        self.assertEqual((code, [r["status"] for r in reqs]), (1, [404, 404]))
        d = self.device(mac)
        self.assertEqual((d["contacts"], d["certificate"]), (1, True))

    def test_ztp_phone_says_which_file_it_cannot_read(self):
        r = subprocess.run([PHONE, "boot", "--mac", "00562b000001", "--rule", "https://127.0.0.1:1/$MA",
                            "--cert", "/nonexistent.pem"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--cert /nonexistent.pem", r.stderr)

    # --- configuration ----------------------------------------------------

    def test_bad_device_ca_is_one_clear_line(self):
        tls = {"ZTP_TLS_LISTEN": "127.0.0.1:%d" % free_port(), "ZTP_TLS_CERT": self.server_cert,
               "ZTP_TLS_KEY": self.server_key, "ZTP_LISTEN": "127.0.0.1:%d" % free_port()}
        not_pem = self.pki.path("not-pem.txt")
        with open(not_pem, "w") as f:
            f.write("hello\n")
        for path, extra in (("/nonexistent/ca.pem", tls), (not_pem, tls), (self.ca["cert"], {})):
            r = ztpd_cmd(self.db, "serve", ZTP_DEVICE_CA=path, **extra)
            self.assertNotEqual(r.returncode, 0, path)
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("ZTP_DEVICE_CA", lines[0])
