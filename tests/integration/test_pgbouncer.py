"""Behind PgBouncer in transaction pooling mode (contract section 5).

A real PgBouncer (the test's own child) in `pool_mode = transaction` with two
server connections per database sits between every ztpd command and
PostgreSQL, so one server connection carries the transactions of several
clients in turn: a setting left behind by one transaction (a role, a tenant,
a lock) would reach the next. Everything here goes through it with
ZTP_DB_PREPARE=0, as the README says to run it.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest
import uuid

import harness
from harness import ROOT, ServerTest, Ztpd, as_postgres, free_port, postgres, wait_until, ztpd_cmd

PGBOUNCER = "/usr/sbin/pgbouncer"
POOL_SIZE = 2
NMIGRATIONS = len(glob.glob(os.path.join(ROOT, "migrations", "*.sql")))
# what a server connection must look like between transactions: the login
# role, no tenant, no role, the default message level
CLEAN = "postgres|-|none|notice"
STATE_SQL = ("SELECT current_user || '|' || coalesce(nullif(current_setting('app.tenant', true), ''), '-')"
             " || '|' || current_setting('role') || '|' || current_setting('client_min_messages')")


class PgBouncer:
    """PgBouncer in transaction mode in front of the harness's PostgreSQL,
    for the databases named (name -> server connections)."""

    def __init__(self, databases):
        self.pg = postgres()
        self.dir = tempfile.mkdtemp(prefix="ztp-pgbouncer-")
        self.port = free_port()
        self.proc = None
        self.log = os.path.join(self.dir, "log")
        with open(os.path.join(self.dir, "users.txt"), "w") as f:
            f.write('"postgres" ""\n')
        lines = ["[databases]"]
        for db, size in databases.items():
            lines.append("%s = host=127.0.0.1 port=%d dbname=%s pool_size=%d" % (db, self.pg.port, db, size))
        lines += ["[pgbouncer]",
                  "listen_addr = 127.0.0.1",
                  "listen_port = %d" % self.port,
                  "unix_socket_dir =",
                  "auth_type = trust",
                  "auth_file = %s" % os.path.join(self.dir, "users.txt"),
                  "admin_users = postgres",
                  "pool_mode = transaction",
                  "default_pool_size = %d" % POOL_SIZE,
                  "min_pool_size = 0",
                  "reserve_pool_size = 0",
                  "max_client_conn = 200",
                  # take idle server connections in turn, so that one client's
                  # consecutive transactions land on different ones
                  "server_round_robin = 1",
                  # never clean a server connection between clients: a leak must show
                  "server_reset_query_always = 0",
                  "ignore_startup_parameters = extra_float_digits"]
        self.config = os.path.join(self.dir, "pgbouncer.ini")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            for path in (self.dir, self.config, os.path.join(self.dir, "users.txt")):
                shutil.chown(path, "postgres", "postgres")

    def start(self):
        # in the foreground (no -d): a child this process reaps; pgbouncer refuses to run as root
        self.proc = subprocess.Popen(as_postgres() + [PGBOUNCER, self.config], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"))
        wait_until(self._listening, 30, "pgbouncer to listen")
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("pgbouncer exited %d: %s" % (self.proc.returncode, self.log_text()))
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # immediate shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, db, *statements):
        """Runs each statement as a transaction of its own; one output line each."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url(db)]
        for s in statements:
            cmd += ["-c", s]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("psql through pgbouncer failed: " + r.stderr)
        return r.stdout.strip().splitlines()

    def show(self, what, db):
        """Rows of the admin console's SHOW CLIENTS or SHOW SERVERS for db."""
        rows = [line.split("|") for line in self.psql("pgbouncer", "SHOW " + what)]
        return [r for r in rows if len(r) > 2 and r[2] == db]

    def ztpd(self, db, *args, **env):
        return ztpd_cmd(db, *args, DATABASE_URL=self.url(db), ZTP_DB_PREPARE=0, **env)


def assert_servers_clean(test, bouncer, db):
    """Every pooled server connection of db, visited in turn, carries no
    session state, and no advisory lock is held in db."""
    states = bouncer.psql(db, *[STATE_SQL] * (3 * POOL_SIZE))
    test.assertEqual(set(states), {CLEAN}, states)
    # ztpd's own transactions take advisory locks for their length (the
    # statistics fold's, every 10 s): one seen at some moment is no leak; a
    # lock a session kept is seen at every moment
    wait_until(lambda: bouncer.pg.psql(db, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                                           " WHERE l.locktype = 'advisory' AND d.datname = current_database()") == "0",
               10, "no advisory lock held in " + db)


class BouncedTest(ServerTest):
    """ServerTest with PgBouncer between ztpd and PostgreSQL for every command."""

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.db = cls.pg.new_database()
        cls.bouncer = PgBouncer({cls.db: POOL_SIZE})
        cls.addClassCleanup(cls.bouncer.stop)
        cls.bouncer.start()
        r = cls.bouncer.ztpd(cls.db, "migrate")
        if r.returncode != 0:
            raise AssertionError("migrate through pgbouncer failed: " + r.stderr)
        cls.srv = Ztpd(cls.db, DATABASE_URL=cls.bouncer.url(cls.db), ZTP_DB_PREPARE=0)
        cls.addClassCleanup(cls.srv.stop)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        pass  # the class cleanups stop ztpd, then pgbouncer

    def provider(self, name=None):
        r = self.bouncer.ztpd(self.db, "provider", "create", name or ("p-" + uuid.uuid4().hex[:8]))
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assertServersClean(self):
        assert_servers_clean(self, self.bouncer, self.db)


def new_mac():
    return "0056%08x" % (uuid.uuid4().int & 0xffffffff)


class PgBouncerCommandsTest(unittest.TestCase):
    """migrate and provider create, each test with a database and a pool of its own."""

    def fresh(self, pool_size):
        self.pg = postgres()
        db = self.pg.new_database()
        bouncer = PgBouncer({db: pool_size}).start()
        self.addCleanup(bouncer.stop)
        return db, bouncer

    def test_provider_create_through_pgbouncer_then_serve_works(self):
        # one server connection: whatever provider create leaves on it, serve meets
        db, bouncer = self.fresh(1)
        self.assertEqual(bouncer.ztpd(db, "migrate").returncode, 0)
        keys = []
        for name in ("first", "second"):
            r = bouncer.ztpd(db, "provider", "create", name)
            self.assertEqual(r.returncode, 0, r.stderr)
            keys.append(json.loads(r.stdout)["api_key"])
        srv = Ztpd(db, DATABASE_URL=bouncer.url(db), ZTP_DB_PREPARE=0)
        self.addCleanup(srv.stop)
        srv.start()
        self.assertEqual(srv.get("/readyz").status, 200)
        for key in keys:
            self.assertEqual(srv.get("/v1/profiles", key=key).status, 200)
        srv.stop()
        self.assertEqual(bouncer.psql(db, STATE_SQL), [CLEAN])

    def test_concurrent_migrate_through_pgbouncer_applies_once_and_leaves_no_lock(self):
        db, bouncer = self.fresh(POOL_SIZE)
        env = harness.ztpd_env(db, DATABASE_URL=bouncer.url(db), ZTP_DB_PREPARE=0)
        procs = [subprocess.Popen([harness.ZTPD, "migrate"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        try:
            outs = [(p.communicate(timeout=90)[1], p.returncode)[::-1] for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        self.assertEqual([code for code, _ in outs], [0] * 4, outs)
        self.assertEqual(self.pg.psql(db, "SELECT count(*) FROM ztp_schema_migrations"), str(NMIGRATIONS))
        applied = [re.search(r"migrations: (\d+) applied", err) for _, err in outs]
        self.assertEqual(sum(int(m.group(1)) for m in applied), NMIGRATIONS, outs)  # each exactly once
        # again and again, each landing on another server connection: none waits for a lock left behind
        for _ in range(3):
            r = bouncer.ztpd(db, "migrate")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("migrations: 0 applied", r.stderr)
        assert_servers_clean(self, bouncer, db)


class PgBouncerApiTest(BouncedTest):
    def setUp(self):
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]
        self.src = "127.9.%d.%d" % (uuid.uuid4().int % 250, uuid.uuid4().int % 250 + 1)

    def profile(self, key, **fields):
        body = {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": "https://prov.example/$MA.xml"}
        body.update(fields)
        r = self.srv.post("/v1/profiles", body, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def test_profiles_crud(self):
        p = self.profile(self.a, params={"Resync_Periodic": "60"})
        self.assertEqual(self.srv.get("/v1/profiles/" + p["id"], key=self.a).json(), p)
        r = self.srv.patch("/v1/profiles/" + p["id"], {"profile_rule": "http://new/$MA"}, key=self.a)
        self.assertEqual((r.status, r.json()["profile_rule"]), (200, "http://new/$MA"), r)
        self.assertIn(p["id"], self.srv.get("/v1/profiles", key=self.a).text)
        self.assertProblem(self.srv.get("/v1/profiles/" + p["id"], key=self.b), 404)
        self.assertNotIn(p["id"], self.srv.get("/v1/profiles", key=self.b).text)
        self.assertProblem(self.srv.post("/v1/profiles", {"name": p["name"], "profile_rule": "http://x/"},
                                         key=self.a), 409)
        self.assertProblem(self.srv.post("/v1/profiles", {"name": "x"}, key=self.a), 422)
        self.assertEqual(self.srv.delete("/v1/profiles/" + p["id"], key=self.a).status, 204)
        self.assertProblem(self.srv.get("/v1/profiles/" + p["id"], key=self.a), 404)
        self.assertServersClean()

    def test_devices_events_status_and_audit(self):
        p = self.profile(self.a)
        mac = new_mac()
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"], "model": "CP-8845-3PCC"}, key=self.a)
        self.assertEqual((r.status, r.json()["status"]), (201, "open"), r)
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"serial": "FCH1"}, key=self.a).status, 200)
        d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
        self.assertEqual((d["serial"], d["model"], d["profile_id"]), ("FCH1", "CP-8845-3PCC", p["id"]))
        self.assertIn(mac, self.srv.get("/v1/devices?limit=1000", key=self.a).text)
        self.assertProblem(self.srv.put("/v1/devices/" + mac, {}, key=self.b), 409)
        self.assertProblem(self.srv.get("/v1/devices/" + mac, key=self.b), 404)
        self.assertNotIn(mac, self.srv.get("/v1/devices?limit=1000", key=self.b).text)
        for status in ("acquired", "aborted", "open"):
            r = self.srv.post("/v1/devices/%s/status" % mac, {"status": status}, key=self.a)
            self.assertEqual((r.status, r.json()["status"]), (200, status), r)
        self.assertProblem(self.srv.post("/v1/devices/%s/status" % mac, {"status": "pending"}, key=self.a), 422)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([e["to"] for e in events], ["open", "acquired", "aborted", "open"])
        self.assertProblem(self.srv.get("/v1/devices/%s/events" % mac, key=self.b), 404)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.a).status, 204)
        items = self.srv.get("/v1/audit-events?limit=1000", key=self.a).json()["items"]
        actions = {(i["action"], i["target"]) for i in items}
        for want in (("profile.create", p["id"]), ("device.claim", mac), ("device.status", mac),
                     ("device.release", mac)):
            self.assertIn(want, actions)
        self.assertTrue(all(i["key_id"] and i["key_id"] in self.a for i in items), items)
        self.assertNotIn(mac, self.srv.get("/v1/audit-events?limit=1000", key=self.b).text)
        self.assertServersClean()

    def test_redirect_answers_and_moves_status(self):
        p = self.profile(self.a, profile_rule="https://prov.acme.example/$PSN/$MA.xml", params={"Text": "a<b"})
        mac, bare = new_mac(), new_mac()
        self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"]}, key=self.a)
        self.srv.put("/v1/devices/" + bare, {}, key=self.a)
        r = self.srv.get("/redirect/%s.xml" % mac, headers={"User-Agent": "Cisco-CP-8845-3PCC/11.3.1 (%s)" % mac})
        self.assertEqual(r.status, 200, r)
        self.assertIn('<Profile_Rule ua="na">https://prov.acme.example/$PSN/$MA.xml</Profile_Rule>', r.text)
        self.assertIn('<Text ua="na">a&lt;b</Text>', r.text)
        r = self.srv.get("/redirect/%s.json?model=CP-8845-3PCC" % mac)
        self.assertEqual((r.status, r.json()["url"]), (200, "https://prov.acme.example/8845-3PCC/%s.xml" % mac))
        d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
        self.assertEqual((d["status"], d["contacts"]), ("custom_pending", 2))
        self.assertProblem(self.srv.get("/redirect/%s.xml" % bare), 404)
        self.assertEqual(self.srv.get("/v1/devices/" + bare, key=self.a).json()["status"], "pending")
        self.assertProblem(self.srv.get("/redirect/%s.xml" % new_mac()), 404)
        self.assertProblem(self.srv.get("/redirect/01562b043615.xml"), 400)
        events = self.srv.get("/v1/devices/%s/events" % mac, key=self.a).json()["items"]
        self.assertEqual([(e["from"], e["to"]) for e in events], [(None, "open"), ("open", "custom_pending")])
        self.assertServersClean()

    def test_activation_codes_issue_redeem_and_errors(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:9])
        r = self.srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 3}, key=self.a)
        self.assertEqual(r.status, 201, r)
        codes = [i["code"] for i in r.json()["items"]]
        mac = new_mac()
        first = self.srv.post("/activate", {"code": codes[0], "mac": mac}, source=self.src)
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json()["mac"], mac)
        again = self.srv.post("/activate", {"code": codes[0], "mac": mac}, source=self.src)
        self.assertEqual((again.status, again.json()), (200, first.json()))
        d = self.srv.get("/v1/devices/" + mac, key=self.a).json()
        self.assertEqual((d["status"], d["profile_id"]), ("custom_pending", p["id"]))
        self.assertProblem(self.srv.get("/v1/devices/" + mac, key=self.b), 404)
        self.assertProblem(self.srv.post("/activate", {"code": codes[0], "mac": new_mac()}, source=self.src), 410)
        self.assertProblem(self.srv.post("/activate", {"code": "0000000000000000", "mac": new_mac()},
                                         source=self.src), 404)
        self.assertProblem(self.srv.post("/activate", {"code": "123", "mac": new_mac()}, source=self.src), 400)
        owned = new_mac()
        self.srv.put("/v1/devices/" + owned, {}, key=self.b)
        self.assertProblem(self.srv.post("/activate", {"code": codes[1], "mac": owned}, source=self.src), 409)
        self.assertEqual(self.srv.delete("/v1/activation-codes/" + r.json()["items"][2]["id"], key=self.a).status, 204)
        self.assertProblem(self.srv.post("/activate", {"code": codes[2], "mac": new_mac()}, source=self.src), 410)
        short = self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": new_mac()}, source=self.src)
        self.assertEqual(short.status, 200, short)
        listed = self.srv.get("/v1/activation-codes?state=redeemed", key=self.a).json()["items"]
        self.assertIn(mac, [x["redeemed_by"] for x in listed])
        self.assertNotIn(codes[0][-4:], self.srv.get("/v1/activation-codes", key=self.b).text)
        self.assertServersClean()

    def test_csv_import(self):
        p = self.profile(self.a)
        macs = [new_mac() for _ in range(3)]
        text = "mac,profile,model,serial\n%s,%s,CP-8845,S1\n%s,,,\n%s,%s,,\n" % (
            macs[0], p["name"], macs[1].upper(), macs[2], p["name"])
        r = self.srv.post("/v1/devices/import", text, key=self.a, headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"created": 3, "updated": 0, "skipped": 0, "conflicts": [], "errors": []})
        d = self.srv.get("/v1/devices/" + macs[0], key=self.a).json()
        self.assertEqual((d["profile_id"], d["model"], d["serial"]), (p["id"], "CP-8845", "S1"))
        # B's import of one of them is a conflict, and B sees nothing of A's
        r = self.srv.post("/v1/devices/import", "mac\n%s\n" % macs[0], key=self.b,
                          headers={"Content-Type": "text/csv"})
        self.assertEqual(self.assertProblem(r, 422)["conflicts"], [macs[0]])
        r = self.srv.post("/v1/devices/import?dry_run=true", "mac\n%s\n" % new_mac(), key=self.b,
                          headers={"Content-Type": "text/csv"})
        self.assertEqual((r.status, r.json()["created"]), (200, 1))
        listed = self.srv.get("/v1/devices?limit=1000", key=self.b).text
        self.assertTrue(all(m not in listed for m in macs))
        self.assertServersClean()

    def test_two_providers_interleaved_never_see_each_other(self):
        keys = {"A": self.a, "B": self.b}
        rules = {t: "https://%s.example/$MA.xml" % t.lower() for t in keys}
        profiles = {t: self.profile(keys[t], profile_rule=rules[t])["id"] for t in keys}
        claimed = {"A": set(), "B": set()}  # MACs whose PUT was answered 201
        lock = threading.Lock()
        failures = []

        def check(cond, what):
            if not cond:
                failures.append(what)

        def work(n):
            for i in range(12):
                me = "AB"[(n + i) % 2]
                other = "B" if me == "A" else "A"
                key = keys[me]
                mac = new_mac()
                r = self.srv.put("/v1/devices/" + mac, {"profile_id": profiles[me]}, key=key)
                check(r.status == 201, ("put", me, r))
                with lock:
                    claimed[me].add(mac)
                    mine, theirs = set(claimed[me]), set(claimed[other])
                listed = self.srv.get("/v1/devices?limit=1000", key=key)
                seen = {d["mac"] for d in listed.json()["items"]} if listed.status == 200 else set()
                check(listed.status == 200, ("list", me, listed))
                check(mine <= seen, ("own devices missing", me, mine - seen))
                check(not seen & theirs, ("sees the other's devices", me, seen & theirs))
                profs = self.srv.get("/v1/profiles", key=key)
                ids = {p["id"] for p in profs.json()["items"]} if profs.status == 200 else set()
                check(profiles[me] in ids and profiles[other] not in ids, ("profiles", me, profs))
                gone = self.srv.get("/v1/devices/" + next(iter(theirs)), key=key) if theirs else None
                check(gone is None or gone.status == 404, ("gets the other's device", me, gone))
                red = self.srv.get("/redirect/%s.json" % mac)
                check(red.status == 200 and red.json()["profile_rule"] == rules[me], ("redirect", me, red))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertFalse(any(t.is_alive() for t in threads), "workers still running")
        self.assertEqual(failures, [])
        self.assertEqual(len(claimed["A"]) + len(claimed["B"]), 72)
        # the pool was really shared: more ztpd connections than server connections
        self.assertGreater(len(self.bouncer.show("CLIENTS", self.db)), POOL_SIZE)
        self.assertLessEqual(len(self.bouncer.show("SERVERS", self.db)), POOL_SIZE)
        for t in keys:
            events = self.srv.get("/v1/audit-events?limit=1000", key=keys[t]).json()["items"]
            targets = {e["target"] for e in events}
            self.assertFalse(targets & claimed["B" if t == "A" else "A"], t)
            self.assertTrue(claimed[t] <= targets, t)
        self.assertServersClean()

    def test_import_job_runs_in_the_background(self):
        # the runner's own connections (a long job transaction and a side one for progress) share the pool
        prefix = "02%04x" % (uuid.uuid4().int & 0xffff)
        text = "mac,model\n" + "".join("%s%06x,CP-8845\n" % (prefix, i) for i in range(50))
        job = self.srv.post("/v1/import-jobs", {"format": "csv"}, key=self.a)
        self.assertEqual(job.status, 201, job)
        jid = job.json()["id"]
        r = self.srv.put("/v1/import-jobs/%s/parts/1" % jid, text, key=self.a, headers={"Content-Type": "text/csv"})
        self.assertEqual((r.status, r.json()), (200, {"part": 1, "rows": 50}), r)
        self.assertProblem(self.srv.get("/v1/import-jobs/" + jid, key=self.b), 404)
        self.assertEqual(self.srv.post("/v1/import-jobs/%s/start" % jid, key=self.a).status, 202)

        def ended():
            got = self.srv.get("/v1/import-jobs/" + jid, key=self.a)
            return got.json() if got.status == 200 and got.json()["state"] not in ("open", "running") else None
        done = wait_until(ended, 120, "the import job to end")  # a loaded 2-core machine
        self.assertEqual((done["state"], done["created"], done["rows_done"]), ("succeeded", 50, 50), done)
        self.assertEqual(self.srv.get("/v1/devices/%s000001" % prefix, key=self.a).status, 200)
        self.assertProblem(self.srv.get("/v1/devices/%s000001" % prefix, key=self.b), 404)
        self.assertServersClean()
