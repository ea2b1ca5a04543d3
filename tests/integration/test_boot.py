"""GET /boot/{file}: every vendor's phone gets its first file in its own format
(the contract's section 3, /boot table), and ztp-phone --vendor boots through it."""
import json
import os
import re
import subprocess
import uuid

from harness import ROOT, ServerTest

PHONE = os.path.join(ROOT, "build", "ztp-phone")
URLS = {
    "yealink": "https://prov.acme.example/yealink/",
    "poly": "https://prov.acme.example/poly/",
    "snom": "https://prov.acme.example/snom/{mac}.xml",
    "grandstream": "http://prov.acme.example:8080/gs",
    "fanvil": "https://prov.acme.example/fanvil/$MA.cfg",
    "gigaset": "https://prov.acme.example/gigaset/%MACD.xml",
}
RULE = "https://prov.acme.example/cisco/$PSN/$MA.xml"
OUI = {"cisco": "00562b", "yealink": "805ec0", "poly": "0004f2", "snom": "000413", "grandstream": "c074ad",
       "fanvil": "0c383e", "gigaset": "7c2f80"}


def colons(mac):
    return ":".join(mac[i:i + 2] for i in range(0, 12, 2))


def user_agent(vendor, mac):
    return {
        "cisco": "Cisco-CP-8845-3PCC/11.3.1 (%s)" % mac,
        "yealink": "Yealink SIP-T46G 28.72.0.1 %s" % colons(mac),
        "poly": "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
        "snom": "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 %s SXM:0 UXM:0)"
                % mac.upper(),
        "grandstream": "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId %s" % mac,
        "fanvil": "Fanvil X4 2.10.2.6887 %s" % mac,
        "gigaset": "Gigaset N720 DM PRO/70.089.00.000.000;%s" % mac.upper(),
    }[vendor]


def files(vendor, mac):
    """The files of the contract's table, as the vendor's phone names them."""
    return {
        "cisco": ["8845-3PCC.xml", "%s.xml" % mac, "spa8845-3PCC.cfg"],
        "yealink": ["%s.boot" % mac, "y000000000000.boot", "y000000000028.cfg", "%s.cfg" % mac],
        "poly": ["%s.cfg" % mac.upper(), "%s-ztp.cfg" % mac.upper()],
        "snom": ["snomD785.htm", "%s.xml" % mac, "snomD785-%s.htm" % mac.upper()],
        "grandstream": ["cfg%s" % mac, "cfg%s.xml" % mac, "cfggxp1628.xml", "cfg.xml"],
        "fanvil": ["%s.cfg" % mac, "f0X4hw1.100.cfg"],
        "gigaset": ["%s.xml" % mac.upper(), "N720-%s.htm" % mac],
    }[vendor]


class BootTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from harness import create_provider
        cls.key = create_provider(cls.db, "boot")["api_key"]
        r = cls.srv.post("/v1/profiles", {"name": "all", "profile_rule": RULE, "vendor_urls": URLS}, key=cls.key)
        assert r.status == 201, r
        cls.profile = r.json()
        cls.serial = 0

    def new_mac(self, vendor):
        type(self).serial += 1
        return OUI[vendor] + "%06x" % (0x100000 + type(self).serial)

    def claim(self, mac, profile_id=None):
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile_id or self.profile["id"]}, key=self.key)
        self.assertEqual(r.status, 201, r)

    def boot(self, file, ua=None):
        return self.srv.get("/boot/" + file, headers={"User-Agent": ua} if ua else {})

    def assertAnswer(self, vendor, mac, r, file):
        self.assertEqual(r.status, 200, (vendor, file, r))
        ctype = r.headers["content-type"]
        t = r.text
        if vendor == "cisco":
            self.assertIn('<Profile_Rule ua="na">%s</Profile_Rule>' % RULE, t)
        elif vendor == "yealink":
            self.assertTrue(ctype.startswith("text/plain"), ctype)
            self.assertTrue(t.startswith("#!version:1.0.0.1\n"), t)
            self.assertIn("static.auto_provision.server.url = %s\n" % URLS["yealink"], t)
            self.assertIn("static.auto_provision.dhcp_option.enable = 0\n", t)
        elif vendor == "poly" and file.endswith("-ztp.cfg"):
            self.assertIn('device.set="1"', t)
            self.assertIn('device.prov.serverType.set="1" device.prov.serverType="HTTPS"', t)
            self.assertIn('device.prov.serverName.set="1" device.prov.serverName="prov.acme.example/poly/"', t)
        elif vendor == "poly":
            self.assertIn('<APPLICATION', t)
            self.assertIn('CONFIG_FILES="%s-ztp.cfg"' % mac.upper(), t)
        elif vendor == "snom":
            self.assertIn('<settings>\n  <phone-settings>\n    <setting_server perm="R">%s</setting_server>'
                          % URLS["snom"], t)
        elif vendor == "grandstream":
            self.assertIn('<gs_provision version="1">', t)
            self.assertIn('<config version="1">', t)
            self.assertIn("<P212>1</P212>", t)
            self.assertIn("<P237>prov.acme.example:8080/gs</P237>", t)
            self.assertIn("<P145>0</P145>", t)
        elif vendor == "fanvil":
            self.assertTrue(t.startswith("<<VOIP CONFIG FILE>>"), t)
            self.assertIn("Download Server IP :prov.acme.example/fanvil\n", t)
            self.assertIn("Config File Name   :%s.cfg\n" % mac, t)  # $MA expanded by the server
            self.assertIn("Download Protocol  :4\n", t)
            self.assertRegex(t, r"DHCP Option +:0\n")
            self.assertRegex(t, r"PNP Enable +:0\n")
        elif vendor == "gigaset":
            self.assertIn('<provisioning version="1.1">', t)
            self.assertIn('<param name="Provisioning.global.ProvisioningServer" value="%s"/>' % URLS["gigaset"], t)
        if vendor != "yealink" and vendor != "fanvil":
            self.assertTrue(ctype.startswith("application/xml"), ctype)

    def test_every_vendor_gets_its_format_for_every_file_of_the_table(self):
        for vendor in OUI:
            mac = self.new_mac(vendor)
            self.claim(mac)
            for f in files(vendor, mac):
                self.assertAnswer(vendor, mac, self.boot(f, user_agent(vendor, mac)), f)

    def test_contact_and_status_recorded_as_redirect_does(self):
        mac = self.new_mac("grandstream")
        self.claim(mac)
        self.assertEqual(self.boot("cfg%s.xml" % mac, user_agent("grandstream", mac)).status, 200)
        d = self.srv.get("/v1/devices/" + mac, key=self.key).json()
        self.assertEqual((d["status"], d["contacts"]), ("custom_pending", 1))
        self.assertIsNotNone(d["last_contact_at"])
        ev = self.srv.get("/v1/devices/%s/events" % mac, key=self.key).json()["items"]
        self.assertEqual([(e["from"], e["to"], e["cause"]) for e in ev][-1], ("open", "custom_pending", "redirect"))
        ua = self.pg.psql(self.db, "SELECT ua_vendor || ' ' || ua_model FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(ua, "grandstream GXP1628")

    def test_mac_cfg_is_settled_by_user_agent_then_by_prefix(self):
        yealink_mac = self.new_mac("yealink")
        self.claim(yealink_mac)
        # the User-Agent wins over the prefix
        r = self.boot("%s.cfg" % yealink_mac, user_agent("fanvil", yealink_mac))
        self.assertTrue(r.text.startswith("<<VOIP CONFIG FILE>>"), r)
        # without one, the prefix settles it
        self.assertTrue(self.boot("%s.cfg" % yealink_mac).text.startswith("#!version:1.0.0.1"))
        poly_mac = self.new_mac("poly")
        self.claim(poly_mac)
        self.assertIn("<APPLICATION", self.boot("%s.cfg" % poly_mac.upper()).text)
        fanvil_mac = self.new_mac("fanvil")
        self.claim(fanvil_mac)
        self.assertIn("<<VOIP CONFIG FILE>>", self.boot("%s.cfg" % fanvil_mac, "curl/8.0").text)
        # {mac}.xml is Cisco's, snom's and Gigaset's alike
        self.assertIn("<setting_server", self.boot("%s.xml" % self.claimed("snom")).text)
        self.assertIn("Provisioning.global", self.boot("%s.xml" % self.claimed("gigaset")).text)
        self.assertIn("<flat-profile>", self.boot("%s.xml" % self.claimed("cisco")).text)

    def claimed(self, vendor):
        mac = self.new_mac(vendor)
        self.claim(mac)
        return mac

    def test_a_prefix_of_no_listed_vendor_is_not_settled(self):
        mac = "02" + uuid.uuid4().hex[:10]
        self.claim(mac)
        self.assertProblem(self.boot("%s.cfg" % mac), 404)
        # but a User-Agent settles it
        self.assertEqual(self.boot("%s.cfg" % mac, user_agent("yealink", mac)).status, 200)

    def test_unknown_mac_unlisted_file_and_foreign_user_agent_are_404(self):
        mac = self.new_mac("yealink")
        self.assertProblem(self.boot("%s.boot" % mac, user_agent("yealink", mac)), 404)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE mac = '%s'" % mac), "0")
        self.claim(mac)
        for f in ("sip.ld", "%s.txt" % mac, "..%2F..%2Fetc%2Fpasswd", "y000000000000.cfg.bak", "%s-ztp.cfg" % mac,
                  "cfg%s.bin" % mac, "x" * 200 + ".xml"):
            self.assertProblem(self.boot(f, user_agent("yealink", mac)), 404)
        # a file the phone's own vendor never asks for
        self.assertProblem(self.boot("cfg%s.xml" % mac, user_agent("yealink", mac)), 404)
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.key).json()["contacts"], 0)

    def test_poly_master_without_a_mac_names_each_phones_own_file(self):
        """000000000000.cfg was always 404: Poly's User-Agent names no MAC.
        Every Poly phone gets the same master, naming its own {MAC}-ztp.cfg by
        Poly's [PHONE_MAC_ADDRESS]; nothing is recorded, nothing is counted."""
        mac = self.new_mac("poly")
        self.claim(mac)
        before = self.pg.psql(self.db, "SELECT count(*) FROM device_events")
        source = "127.44.0.1"
        for ua in (user_agent("poly", mac), None, "FileTransport PolycomVVX-VVX_601-UA/6.4.3.5018"):
            for _ in range(25):  # more than the misses a source may have: none counted
                r = self.srv.get("/boot/000000000000.cfg", headers={"User-Agent": ua} if ua else {},
                                 source=source)
                self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["content-type"], "application/xml")
            self.assertIn('<APPLICATION', r.text)
            self.assertIn('CONFIG_FILES="[PHONE_MAC_ADDRESS]-ztp.cfg"', r.text)
            self.assertNotIn(mac, r.text.lower())
        self.assertEqual(self.srv.get("/v1/devices/" + mac, key=self.key).json()["contacts"], 0)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM device_events"), before)
        # the file it names is the phone's, as the phone spells its MAC
        r = self.boot("%s-ztp.cfg" % mac, user_agent("poly", mac))
        self.assertEqual(r.status, 200, r)
        self.assertIn('device.prov.serverName="prov.acme.example/poly/"', r.text)
        # another vendor's phone asking for it gets 404
        self.assertProblem(self.boot("000000000000.cfg", user_agent("yealink", self.new_mac("yealink"))), 404)

    def test_profile_without_that_vendors_url_is_404_and_pending(self):
        r = self.srv.post("/v1/profiles", {"name": "only-yealink", "profile_rule": RULE,
                                           "vendor_urls": {"yealink": URLS["yealink"]}}, key=self.key)
        self.assertEqual(r.status, 201, r)
        mac = self.new_mac("snom")
        self.claim(mac, r.json()["id"])
        self.assertProblem(self.boot("%s.xml" % mac, user_agent("snom", mac)), 404)
        d = self.srv.get("/v1/devices/" + mac, key=self.key).json()
        self.assertEqual((d["status"], d["contacts"]), ("pending", 1))
        # a Cisco phone of the same profile still gets profile_rule
        cmac = self.new_mac("cisco")
        self.claim(cmac, r.json()["id"])
        self.assertEqual(self.boot("%s.xml" % cmac, user_agent("cisco", cmac)).status, 200)

    def test_released_and_profileless_devices_are_404(self):
        mac = self.new_mac("fanvil")
        r = self.srv.put("/v1/devices/" + mac, {}, key=self.key)
        self.assertEqual(r.status, 201, r)
        profileless = self.boot("%s.cfg" % mac, user_agent("fanvil", mac))
        self.assertProblem(profileless, 404)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.key).status, 204)
        released = self.boot("%s.cfg" % mac, user_agent("fanvil", mac))
        self.assertProblem(released, 404)
        unknown_mac = self.new_mac("fanvil")
        unknown = self.boot("%s.cfg" % unknown_mac, user_agent("fanvil", unknown_mac))
        # the three read alike: a stranger cannot tell a claimed MAC from an unknown one by the answer
        self.assertEqual(profileless.body, unknown.body)
        self.assertEqual(released.body, unknown.body)

    def test_vendor_urls_are_validated_at_the_field_returned_and_patchable(self):
        self.assertEqual(self.profile["vendor_urls"], URLS)
        bad = {"cisco": "https://a.example/", "nokia": "https://a.example/", "yealink": "ftp://a.example/",
               "poly": 'https://a.example/"x', "snom": "https://a.example/<x>", "fanvil": "https://a.example/?a=1&b=2",
               "gigaset": "https://a.example/\nx", "grandstream": 42}
        r = self.srv.post("/v1/profiles", {"name": "bad", "profile_rule": RULE, "vendor_urls": bad}, key=self.key)
        body = self.assertProblem(r, 422)
        self.assertEqual(sorted(e["field"] for e in body["errors"]), sorted("vendor_urls." + k for k in bad))
        r = self.srv.post("/v1/profiles", {"name": "bad2", "profile_rule": RULE, "vendor_urls": ["x"]}, key=self.key)
        self.assertEqual([e["field"] for e in self.assertProblem(r, 422)["errors"]], ["vendor_urls"])
        r = self.srv.post("/v1/profiles", {"name": "none", "profile_rule": RULE}, key=self.key)
        self.assertEqual(r.json()["vendor_urls"], {})
        pid = r.json()["id"]
        r = self.srv.patch("/v1/profiles/" + pid, {"vendor_urls": {"snom": "http://s.example/$MA.xml"}}, key=self.key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["vendor_urls"], {"snom": "http://s.example/$MA.xml"})
        r = self.srv.patch("/v1/profiles/" + pid, {"name": "renamed"}, key=self.key)
        self.assertEqual(r.json()["vendor_urls"], {"snom": "http://s.example/$MA.xml"})
        self.assertEqual(self.srv.get("/v1/profiles/" + pid, key=self.key).json()["vendor_urls"],
                         {"snom": "http://s.example/$MA.xml"})
        items = self.srv.get("/v1/profiles", key=self.key).json()["items"]
        self.assertTrue(all("vendor_urls" in p for p in items))
        r = self.srv.patch("/v1/profiles/" + pid, {"vendor_urls": None}, key=self.key)
        self.assertEqual(r.json()["vendor_urls"], {})
        r = self.srv.patch("/v1/profiles/" + pid, {"vendor_urls": {"yealink": "https://x.example/ y"}}, key=self.key)
        self.assertEqual([e["field"] for e in self.assertProblem(r, 422)["errors"]], ["vendor_urls.yealink"])

    def test_macros_in_the_url_are_expanded_for_the_phone(self):
        r = self.srv.post("/v1/profiles", {"name": "macros", "profile_rule": RULE,
                                           "vendor_urls": {"yealink": "https://p.example/$MAU/$PN/$$x"}}, key=self.key)
        mac = self.new_mac("yealink")
        self.claim(mac, r.json()["id"])
        t = self.boot("%s.boot" % mac, user_agent("yealink", mac)).text
        self.assertIn("static.auto_provision.server.url = https://p.example/%s/SIP-T46G/$$x\n" % mac.upper(), t)

    def test_the_url_token_is_expanded_in_vendor_urls(self):
        import hashlib
        r = self.srv.post("/v1/profiles", {"name": "token", "profile_rule": RULE,
                                           "vendor_urls": {"yealink": "https://p.example/$(ZTP_TOKEN)/y.cfg"}},
                          key=self.key)
        self.assertEqual(r.status, 201, r)
        mac = self.new_mac("yealink")
        self.claim(mac, r.json()["id"])
        key = bytes.fromhex(self.srv.get("/v1/url-token-key", key=self.key).json()["key"])
        token = hashlib.blake2b(mac.encode(), key=key, digest_size=16).hexdigest()
        t = self.boot("%s.boot" % mac, user_agent("yealink", mac)).text
        self.assertIn("static.auto_provision.server.url = https://p.example/%s/y.cfg\n" % token, t)


class PhoneVendorTest(ServerTest):
    """ztp-phone boot --vendor V --server URL/boot/ against a provider stub."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from harness import create_provider
        from provider_stub import Stub
        cls.stub = Stub()
        cls.key = create_provider(cls.db, "phones")["api_key"]
        base = cls.stub.base + "/vendor"
        cls.urls = {"yealink": base + "/yealink/", "poly": base + "/poly", "snom": base + "/snom/{mac}.xml",
                    "grandstream": base + "/gs", "fanvil": base + "/fanvil/$MA.cfg",
                    "gigaset": base + "/gigaset/%MACD.xml"}
        r = cls.srv.post("/v1/profiles", {"name": "stub", "profile_rule": cls.stub.rule("cfg"),
                                          "vendor_urls": cls.urls}, key=cls.key)
        assert r.status == 201, r
        cls.profile_id = r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        super().tearDownClass()

    def phone(self, vendor, mac, *extra):
        server = "http://127.0.0.1:%d/boot/" % self.srv.port
        r = subprocess.run([PHONE, "boot", "--vendor", vendor, "--server", server, "--mac", mac,
                            "--retry-delays", "0.05", *extra], capture_output=True, text=True, timeout=60)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        return r.returncode, lines[:-1], lines[-1] if lines else None

    def test_each_vendors_first_boot_reaches_its_provider(self):
        expect = {  # the provider's URL the answer names, and the file the phone then asks there
            "yealink": (self.urls["yealink"], "/vendor/yealink/<mac>.boot"),
            "poly": (self.stub.base + "/vendor/poly", "/vendor/poly/<MAC>.cfg"),
            "snom": (self.urls["snom"], "/vendor/snom/<mac>.xml"),
            "grandstream": (self.stub.base + "/vendor/gs", "/vendor/gs/cfg<mac>"),
            "fanvil": (self.stub.base + "/vendor/fanvil/<mac>.cfg", "/vendor/fanvil/<mac>.cfg"),
            "gigaset": (self.urls["gigaset"], "/vendor/gigaset/<MAC>.xml"),
        }
        for n, vendor in enumerate(expect):
            mac = OUI[vendor] + "%06x" % (0x200000 + n)
            r = self.srv.put("/v1/devices/" + mac, {"profile_id": self.profile_id}, key=self.key)
            self.assertEqual(r.status, 201, r)
            code, reqs, last = self.phone(vendor, mac)
            def fill(t):
                return t.replace("<mac>", mac).replace("<MAC>", mac.upper())
            self.assertEqual(code, 0, (vendor, reqs, last))
            self.assertEqual(last["result"], "provisioned")
            self.assertEqual(last["profile_rule"], fill(expect[vendor][0]), vendor)
            provider = "%s%s" % (self.stub.base, fill(expect[vendor][1]))
            self.assertEqual((reqs[-1]["url"], reqs[-1]["status"], reqs[-1]["outcome"]),
                             (provider, 200, "provisioned"), vendor)
            self.assertIn(fill(expect[vendor][1]), self.stub.vendor_paths)
            first = "http://127.0.0.1:%d/boot/%s" % (self.srv.port, files(vendor, mac)[0])
            self.assertEqual((reqs[0]["url"], reqs[0]["status"]), (first, 200), vendor)
            if vendor == "poly":  # the master, then the file it names
                self.assertEqual([r["url"].rsplit("/", 1)[1] for r in reqs[:2]],
                                 ["%s.cfg" % mac.upper(), "%s-ztp.cfg" % mac.upper()])
            d = self.srv.get("/v1/devices/" + mac, key=self.key).json()
            self.assertEqual(d["status"], "custom_pending", vendor)
            got = self.pg.psql(self.db, "SELECT ua_vendor FROM devices WHERE mac = '%s'" % mac)
            self.assertEqual(got, vendor)

    def test_unknown_phone_asks_every_file_then_waits_and_fails(self):
        mac = OUI["grandstream"] + "2fffff"
        code, reqs, last = self.phone("grandstream", mac, "--max-attempts", "2")
        self.assertEqual(code, 1)
        self.assertEqual(last["result"], "failed")
        self.assertEqual(last["requests"], 8)
        self.assertEqual([r["url"].rsplit("/", 1)[1] for r in reqs[:4]],
                         ["cfg%s" % mac, "cfg%s.xml" % mac, "cfggxp1628.xml", "cfg.xml"])
        self.assertTrue(all(r["status"] == 404 and r["outcome"] == "not_found" for r in reqs))

    def test_vendor_needs_server_and_a_known_name(self):
        r = subprocess.run([PHONE, "boot", "--vendor", "nokia", "--server", "http://x/", "--mac", "0c383e000001"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([PHONE, "boot", "--vendor", "fanvil", "--mac", "0c383e000001"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
