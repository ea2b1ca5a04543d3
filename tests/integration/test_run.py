"""`make run`'s script (tools/run.sh) on the suite's PostgreSQL: the first run
migrates, creates the demo provider, invites its first person and prints the
API key, the console's address and the invite link; the second run invites no
one again but still says where the console is.

It runs build/ztpd (the release build, as `make run` does), with its state in a
folder of the test's own (ZTP_RUN_DIR) and a listener on a free port."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import ROOT, Ztpd, postgres, wait_until

RUN = os.path.join(ROOT, "tools", "run.sh")


class RunScript(Ztpd):
    """tools/run.sh serving on a free port; stop() ends its ztpd with SIGTERM."""

    def __init__(self, db, state, **env):
        super().__init__(db, **env)
        self.state = state

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZTP_")}
        env.update({"DATABASE_URL": postgres().url(self.db), "ZTP_RUN_DIR": self.state,
                    "ZTP_LISTEN": "127.0.0.1:%d" % self.port})
        env.update(self.env)
        self.proc = subprocess.Popen([RUN], cwd=ROOT, env=env, stdout=open(self.stdout_path, "wb"),
                                     stderr=open(self.stderr_path, "wb"))
        wait_until(self._healthy, 60, "make run's ztpd /healthz")
        return self

    def stop(self, check=True):
        # the script waits for its ztpd; ztpd drains on SIGTERM and the script exits with its status
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            children = [int(c) for c in f.read().split()]
        self.assertOne(children)
        os.kill(children[0], 15)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("run.sh did not stop within 30 s of its ztpd's SIGTERM")
        if check and code != 0:
            raise AssertionError("run.sh exited %d:\n%s" % (code, self.stderr()[-4000:]))
        return code

    @staticmethod
    def assertOne(children):
        if len(children) != 1:
            raise AssertionError("run.sh should have one child (its ztpd), has %r" % children)


class MakeRunTest(unittest.TestCase):
    def setUp(self):
        self.pg = postgres()
        self.db = self.pg.new_database()  # run.sh migrates it
        self.state = tempfile.mkdtemp(prefix="ztp-run-")
        self.addCleanup(shutil.rmtree, self.state, True)

    def run_once(self, **env):
        srv = RunScript(self.db, self.state, **env).start()
        try:
            return srv, srv.stdout(), srv.stderr()
        finally:
            srv.stop()

    def test_first_run_invites_a_demo_person_and_the_second_only_says_where_the_console_is(self):
        srv, out, err = self.run_once()
        origin = "http://127.0.0.1:%d" % srv.port
        key = re.search(r"Its API key \(shown once[^\n]*\n\n\s+(\S+)\n", out)
        self.assertIsNotNone(key, out)
        self.assertIn("The web console: %s/console/\n" % origin, out)
        invite = re.search(r"^\s+(%s/console/invite#\S+)\s*$" % re.escape(origin), out, re.M)
        self.assertIsNotNone(invite, out)
        # the key, the secret and the provider are kept in the state folder, for the owner only
        kept = json.load(open(os.path.join(self.state, "demo-provider.json")))
        self.assertEqual(kept["api_key"], key.group(1))
        for name in ("demo-provider.json", "secret"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.state, name)).st_mode) & 0o077, 0, name)
        self.assertFalse(os.path.exists(os.path.join(self.state, "demo-provider.json.new")))

        # the person invited is the demo provider's admin, and the link's token is the one stored
        srv2 = RunScript(self.db, self.state).start()
        try:
            self.assertIn("web console is at http://127.0.0.1:%d/console/ " % srv2.port, srv2.stderr())
            self.assertNotIn("A demo provider was created", srv2.stdout())
            users = srv2.get("/v1/users", key=key.group(1))
            self.assertEqual(users.status, 200, users)
            self.assertEqual([(u["email"], u["role"]) for u in users.json()["items"]],
                             [("demo@example.com", "admin")])
            self.assertEqual(srv2.get("/console/").status, 200)
        finally:
            srv2.stop()
        # one provider, one person, whatever the number of runs
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM providers"), "1")
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM users"), "1")

    def test_the_console_address_follows_ztp_public_url_in_ztpds_spelling(self):
        srv, out, err = self.run_once(ZTP_PUBLIC_URL="https://Console.Example.NET/")
        self.assertIn("The web console: https://console.example.net/console/\n", out)
        self.assertRegex(out, r"\n\s+https://console\.example\.net/console/invite#\S+\n")
        self.assertIn("curl -s -H", out)  # the API itself is on the listener


if __name__ == "__main__":
    unittest.main()
