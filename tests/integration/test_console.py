"""The web console in a real browser (contract section 8): Debian's chromium
driven by playwright-core from tests/browser (see console/README.md).

One ztpd with a provider and three people (admin, operator, viewer) is set
up here; `node tests/browser/run.mjs` then runs every browser test in one
browser and reports each, and each becomes one test below. Screenshots of
every page go to build/screenshots/.
"""
import json
import os
import shutil
import subprocess
import unittest
import uuid

import harness
from harness import ServerTest, ROOT

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("ZTP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.path.join(ROOT, "build", "screenshots")
LOG = os.path.join(ROOT, "build", "browser-tests.log")  # every RESULT line, with its time
PASSWORD = "console test password 1"
NODE = shutil.which("node") or shutil.which("nodejs")


def unavailable():
    """Why the browser tests cannot run here, or None."""
    if NODE is None:
        return "node is not installed (tools/install-deps.sh test installs nodejs and npm)"
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (tools/install-deps.sh test installs chromium)" % CHROMIUM
    for pkg in ("playwright-core", "axe-core"):
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", pkg)):
            return "%s is missing: run `cd tests/browser && npm ci` (make test does)" % pkg
    return None


def test_names():
    if unavailable():
        return []
    r = subprocess.run([NODE, "run.mjs", "--list"], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("node tests/browser/run.mjs --list failed: " + r.stderr[-2000:])
    return r.stdout.split()


class ConsoleBrowserTest(ServerTest):
    # webhooks delivered to a receiver the browser tests run on 127.0.0.1
    server_env = {"ZTP_WEBHOOK_ALLOW_PRIVATE": "1"}
    results = None

    @classmethod
    def setUpClass(cls):
        why = unavailable()
        if why:
            raise unittest.SkipTest("browser tests skipped: " + why)
        super().setUpClass()
        try:
            cls.config = cls.set_up_data()
            cls.results, cls.output = cls.run_browser(cls.config)
        except BaseException:
            cls.srv.stop(check=False)
            raise

    @classmethod
    def set_up_data(cls):
        srv = cls.srv
        p = harness.create_provider(cls.db, "console-" + uuid.uuid4().hex[:6])
        key = p["api_key"]
        people = {}
        for role in ("admin", "operator", "viewer"):
            email = "%s-%s@example.com" % (role, uuid.uuid4().hex[:6])
            r = srv.post("/v1/users", {"email": email, "role": role}, key=key)
            assert r.status == 201, r
            token = r.json()["invite_url"].split("#", 1)[1]
            r = srv.post("/v1/invites/accept", {"token": token, "password": PASSWORD}, timeout=60)
            assert r.status == 200, r
            people[role] = email
        # one more invitation, left for the browser to accept
        invite_email = "invited-%s@example.com" % uuid.uuid4().hex[:6]
        r = srv.post("/v1/users", {"email": invite_email, "role": "operator"}, key=key)
        assert r.status == 201, r
        invite_token = r.json()["invite_url"].split("#", 1)[1]
        r = srv.post("/v1/profiles", {"name": "Main office", "profile_rule": "https://prov.example.com/$MA.xml"},
                     key=key)
        assert r.status == 201, r
        profile_id = r.json()["id"]
        macs = []
        for i in range(80):
            mac = "0004f2%06x" % (0xa00000 + i * 7)
            model = ("CP-8845", "VVX-411", "T54W")[i % 3]
            r = srv.put("/v1/devices/" + mac, {"profile_id": profile_id, "model": model, "serial": "SN%04d" % i},
                        key=key)
            assert r.status == 201, r
            macs.append(mac)
        for mac in macs[:6]:
            assert srv.get("/redirect/%s.xml" % mac).status == 200
        for mac, status in ((macs[0], "acquired"), (macs[1], "aborted")):
            assert srv.post("/v1/devices/%s/status" % mac, {"status": status}, key=key).status == 200
        # contacts are recorded in batches: the pages must see them all
        harness.wait_until(lambda: sum(h["contacts"] for h in srv.get("/v1/stats", key=key).json()
                                       ["contacts_per_hour"]) == 6, 30, "the set-up's contacts in /v1/stats")
        return {
            "origin": "http://127.0.0.1:%d" % srv.port,
            "base": "http://127.0.0.1:%d/console/" % srv.port,
            "password": PASSWORD, "people": people, "api_key": key, "provider_id": p["id"],
            "profile_id": profile_id, "macs": macs, "invite_token": invite_token, "invite_email": invite_email,
            "screenshots": SCREENSHOTS,
            # another provider: the sending side of transfers accepted in the browser
            "other_api_key": harness.create_provider(cls.db, "console-other-" + uuid.uuid4().hex[:6])["api_key"],
        }

    @classmethod
    def run_browser(cls, config):
        env = dict(os.environ, ZTP_BROWSER_CONFIG=json.dumps(config), ZTP_CHROMIUM=CHROMIUM)
        # ZTP_BROWSER_TESTS="page_devices axe_devices": only these (while working on a page)
        only = os.environ.get("ZTP_BROWSER_TESTS", "").split()
        r = subprocess.run([NODE, "run.mjs"] + only, cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                           timeout=1800)
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        with open(LOG, "w") as f:
            f.write(r.stdout + r.stderr)
        results = {}
        for line in r.stdout.splitlines():
            if line.startswith("RESULT "):
                o = json.loads(line[7:])
                results[o["name"]] = o
        return results, (r.stdout[-3000:] + r.stderr[-3000:])

    def check(self, name):
        r = self.results.get(name)
        if r is None:
            self.fail("the browser run reported nothing for %s:\n%s" % (name, self.output))
        if r.get("skipped"):
            self.skipTest(r["skipped"])
        self.assertTrue(r["ok"], r["error"])


def _make(name):
    return lambda self: self.check(name)


for _name in test_names():
    setattr(ConsoleBrowserTest, "test_" + _name, _make(_name))

if unavailable():
    # one test, so that the skip and its reason show in the run
    ConsoleBrowserTest.test_browser_suite = lambda self: None
