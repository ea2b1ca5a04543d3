"""ztp-phone end to end: ztpd, a provider stub, and the phone in a box."""
import json
import os
import subprocess
import uuid

from harness import ROOT, ServerTest
from provider_stub import Stub

PHONE = os.path.join(ROOT, "build", "ztp-phone")


class PhoneTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stub = Stub()
        p = cls.provider_cls("phones")
        cls.key = p["api_key"]
        cls.profiles = {}
        for kind in ("cfg", "r302", "basic", "digest", "stale", "flaky", "down", "big", "binary", "truncated", "json",
                     "loop"):
            r = cls.srv.post("/v1/profiles", {"name": kind, "profile_rule": cls.stub.rule(kind)}, key=cls.key)
            assert r.status == 201, r
            cls.profiles[kind] = r.json()["id"]
        cls.next_mac = 0x0056ab000000

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        super().tearDownClass()

    @classmethod
    def provider_cls(cls, name):
        from harness import create_provider
        return create_provider(cls.db, name)

    def claimed(self, kind):
        type(self).next_mac += 1
        mac = "%012x" % type(self).next_mac
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": self.profiles[kind]}, key=self.key)
        self.assertEqual(r.status, 201, r)
        return mac

    def phone(self, *args, timeout=60):
        r = subprocess.run([PHONE] + list(args), capture_output=True, text=True, timeout=timeout)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        return r.returncode, lines[:-1], lines[-1] if lines else None

    def boot(self, mac, *extra, rule=None):
        rule = rule or "http://127.0.0.1:%d/redirect/$MA.xml" % self.srv.port
        return self.phone("boot", "--mac", mac, "--rule", rule, "--retry-delays", "0.05", *extra)

    def test_claimed_phone_is_provisioned_through_ztpd(self):
        mac = self.claimed("cfg")
        code, reqs, last = self.boot(mac)
        self.assertEqual(code, 0, (reqs, last))
        self.assertEqual(last, {"result": "provisioned", "profile_rule": self.stub.rule("cfg"), "requests": 2})
        self.assertEqual([(r["status"], r["outcome"]) for r in reqs], [(200, "resync"), (200, "provisioned")])
        self.assertEqual(reqs[0]["url"], "http://127.0.0.1:%d/redirect/%s.xml" % (self.srv.port, mac))
        self.assertEqual(reqs[1]["url"], "%s/cfg/%s.xml" % (self.stub.base, mac))
        d = self.srv.get("/v1/devices/" + mac, key=self.key).json()
        self.assertEqual((d["status"], d["contacts"]), ("custom_pending", 1))
        ua = self.pg.psql(self.db, "SELECT user_agent FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(ua, "Cisco-CP-8845-3PCC/11.3.7MPP (%s)" % mac)

    def test_unknown_phone_fails_after_its_attempts(self):
        code, reqs, last = self.boot("0056ac000001", "--max-attempts", "3")
        self.assertEqual(code, 1)
        self.assertEqual(last["result"], "failed")
        self.assertEqual(last["requests"], 3)
        self.assertEqual([r["status"] for r in reqs], [404, 404, 404])

    def test_redirect_is_followed_at_once(self):
        code, reqs, last = self.boot(self.claimed("r302"))
        self.assertEqual(code, 0, reqs)
        # the profile behind the redirect sets another rule (cfg): applied, and resynced from at once
        self.assertEqual([(r["status"], r["outcome"]) for r in reqs],
                         [(200, "resync"), (302, "redirect"), (200, "resync"), (200, "provisioned")])
        self.assertEqual(last["profile_rule"], self.stub.rule("cfg"))

    def test_basic_and_digest_use_the_rules_credentials(self):
        for kind in ("basic", "digest"):
            code, reqs, last = self.boot(self.claimed(kind))
            self.assertEqual(code, 0, (kind, reqs))
            self.assertEqual([r["status"] for r in reqs], [200, 401, 200], kind)

    def test_a_nonce_stale_for_ever_ends_each_request_after_two_challenges(self):
        """libcurl answers Digest challenges within a request for as long as the
        server calls its nonce stale: one request of ztp-phone sent 1,292."""
        before = self.stub.hits["stale"]
        code, reqs, last = self.boot(self.claimed("stale"), "--max-attempts", "1")
        self.assertEqual((code, last["result"]), (1, "failed"))
        # the first without credentials, then two with them (the contract's "at most twice")
        self.assertEqual([r["status"] for r in reqs], [200, 401, 401, 401])
        # each of those two ends at its third challenge: 1 + 2 x 3 requests reach the server
        self.assertEqual(self.stub.hits["stale"] - before, 7)

    def test_401_without_credentials_fails(self):
        rule = "%s/basic/$MA.xml" % self.stub.base
        code, reqs, last = self.boot("0056ac000002", "--max-attempts", "1", rule=rule)
        self.assertEqual((code, last["result"]), (1, "failed"))
        code, reqs, last = self.boot("0056ac000002", "--uid", "alice", "--pwd", "wrong", "--max-attempts", "1",
                                     rule=rule)
        self.assertEqual((code, [r["status"] for r in reqs]), (1, [401, 401, 401]))

    def test_404_then_200_waits_and_starts_again_from_the_rule(self):
        code, reqs, last = self.boot(self.claimed("flaky"))
        self.assertEqual(code, 0, reqs)
        self.assertEqual([(r["status"], r["outcome"]) for r in reqs],
                         [(200, "resync"), (404, "not_found"), (200, "provisioned")])

    def test_503_is_retried_then_fails(self):
        code, reqs, last = self.boot(self.claimed("down"), "--max-attempts", "2")
        self.assertEqual(code, 1)
        self.assertEqual([r["status"] for r in reqs], [200, 503, 503])

    def test_hostile_answers_fail_the_attempt_cleanly(self):
        for kind, outcome in (("big", "body_too_large"), ("binary", "bad_profile"), ("truncated", "bad_profile"),
                              ("json", "bad_profile"), ("loop", "resync_loop")):
            code, reqs, last = self.boot(self.claimed(kind), "--max-attempts", "1")
            self.assertEqual((code, last["result"]), (1, "failed"), kind)
            self.assertEqual(reqs[-1]["outcome"], outcome, kind)

    def test_tftp_rule_is_unsupported(self):
        code, reqs, last = self.boot("0056ac000003", rule="tftp://10.0.0.1/$MA.cfg")
        self.assertEqual((code, last["result"]), (1, "failed"))

    def test_activate_with_a_code(self):
        codes = self.srv.post("/v1/activation-codes", {"profile_id": self.profiles["cfg"]}, key=self.key).json()
        code, reqs, last = self.phone("activate", "--server", "http://127.0.0.1:%d" % self.srv.port, "--code",
                                      codes["items"][0]["code"], "--mac", "0056ac000004", "--retry-delays", "0.05")
        self.assertEqual(code, 0, reqs)
        self.assertEqual([(r["status"], r["outcome"]) for r in reqs], [(200, "resync"), (200, "provisioned")])
        code, reqs, last = self.phone("activate", "--server", "http://127.0.0.1:%d" % self.srv.port, "--code",
                                      "0000000000000000", "--mac", "0056ac000005")
        self.assertEqual((code, reqs[-1]["status"]), (1, 404))

    def test_hostile_servers_end_cleanly(self):
        # a Location that is not UTF-8: reported (as U+FFFD), not a crash
        code, reqs, last = self.boot("0056ab7f0001", "--max-attempts", "1", rule=self.stub.rule("notutf8"))
        self.assertEqual((code, last["result"]), (1, "failed"), (reqs, last))
        self.assertIn("\ufffd", reqs[-1]["url"])
        # a Poly master that names itself: a few requests, then the attempt fails
        code, reqs, last = self.phone("boot", "--vendor", "poly", "--server", self.stub.base + "/polyloop/",
                                      "--mac", "0004f27f0001", "--max-attempts", "1", timeout=30)
        self.assertEqual((code, last["result"]), (1, "failed"), (reqs, last))
        self.assertLessEqual(last["requests"], 8)
        self.assertEqual(reqs[-1]["outcome"], "redirect_loop")

    def test_credentials_stay_with_their_server(self):
        # the rule's server takes them, then redirects to another origin that asks too
        code, reqs, last = self.boot("0056ab7f0002", "--max-attempts", "1", rule=self.stub.rule("xhost"))
        self.assertEqual(code, 1, (reqs, last))
        self.assertIn("/leak/", reqs[-1]["url"])
        self.assertTrue(self.stub.leaked, reqs)
        self.assertEqual([a for a in self.stub.leaked if a is not None], [])
        # nor to the rule a profile from there names, for the command line's credentials
        n = len(self.stub.leaked)
        code, reqs, last = self.boot("0056ab7f0005", "--uid", "alice", "--pwd", "secret", "--max-attempts", "1",
                                     rule=self.stub.rule("xrule"))
        self.assertEqual((code, reqs[-1]["outcome"]), (1, "unauthorized"), (reqs, last))
        self.assertGreater(len(self.stub.leaked), n, reqs)
        self.assertEqual([a for a in self.stub.leaked if a is not None], [])

    def test_a_vendor_phones_credentials_are_its_providers(self):
        # attempt 1: the boot server names the provider, which takes them, then fails;
        # attempt 2: the boot server asks for them: it does not get them
        code, reqs, last = self.phone("boot", "--vendor", "yealink", "--server", self.stub.base + "/ylboot/",
                                      "--mac", "805ec07f0001", "--uid", "alice", "--pwd", "secret",
                                      "--max-attempts", "2", "--retry-delays", "0.05", timeout=60)
        self.assertEqual((code, last["result"]), (1, "failed"), (reqs, last))
        self.assertIn("auth", [r["outcome"] for r in reqs if "/ylprov/" in r["url"]], reqs)
        self.assertGreater(len(self.stub.boot_auth), 1, reqs)
        self.assertEqual(set(self.stub.boot_auth), {None})

    def test_unusable_arguments_are_refused_at_once(self):
        for args in (["storm", "--rule", "tftp://h/$MA.cfg", "--macs", "0056ab7f1000:2"],
                     ["activate", "--server", "http://127.0.0.1:1",
                      "--code", b"12\xff", "--mac", "0056ab7f0003"],
                     ["boot", "--mac", "0056ab7f0004", "--rule", "http://127.0.0.1:1/$MA", "--retry-delays", "nan"],
                     ["storm", "--rule", "http://127.0.0.1:1/$MA", "--macs", "0056ab7f2000:2", "--random-delay",
                      "nan"]):
            r = subprocess.run([PHONE] + args, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r))
            self.assertEqual(r.stdout, b"", args)
            self.assertTrue(r.stderr.startswith(b"ztp-phone:"), (args, r.stderr))

    def test_a_storm_of_2000_phones(self):
        first = 0x0056ad000000
        n = 2000
        csv = "mac,profile\n" + "".join("%012x,cfg\n" % (first + i) for i in range(n))
        r = self.srv.post("/v1/devices/import", csv, key=self.key, headers={"Content-Type": "text/csv"}, timeout=60)
        self.assertEqual(r.json()["created"], n, r)
        out = subprocess.run([PHONE, "storm", "--rule", "http://127.0.0.1:%d/redirect/$MA.xml" % self.srv.port,
                              "--macs", "%012x:%d" % (first, n), "--concurrency", "64", "--random-delay", "0.5",
                              "--retry-delays", "0.1"], capture_output=True, text=True, timeout=600)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(out.returncode, 0, out.stdout[-500:])
        self.assertEqual(set(summary), {"phones", "provisioned", "failed", "requests", "seconds", "p50_ms", "p99_ms"})
        self.assertEqual((summary["phones"], summary["provisioned"], summary["failed"]), (n, n, 0))
        # Each phone needs two requests (ztpd's redirect, then the provider's profile). A phone
        # may retry a request that timed out on a loaded machine (contract section 7): at most
        # its 3 attempts of 2 requests each. So the count is bounded, not exact.
        self.assertGreaterEqual(summary["requests"], 2 * n)
        self.assertLessEqual(summary["requests"], 6 * n)
        # ztpd recorded every phone, and no more contacts than redirect requests were sent
        # (at least n of the requests went to the provider)
        seen, contacts = self.pg.psql(
            self.db, "SELECT count(*) FILTER (WHERE contacts >= 1) || '|' || sum(contacts) FROM devices"
                     " WHERE mac >= '%012x' AND mac < '%012x'" % (first, first + n)).split("|")
        self.assertEqual(int(seen), n)
        self.assertLessEqual(int(contacts), summary["requests"] - n)
