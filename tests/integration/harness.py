"""Integration harness: a real PostgreSQL and a real ztpd, spoken to over HTTP.

Standard library only. Every wait polls with a deadline; nothing sleeps
blindly. The PostgreSQL server is this process's own child (PID 1 on the test
machines does not reap orphans), started as the postgres user when run as root.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZTPD = os.environ.get("ZTPD", os.path.join(ROOT, "build", "san", "ztpd"))
# the release build, for what sanitizers distort (memory)
ZTPD_RELEASE = os.path.join(ROOT, "build", "ztpd")
PGBIN = "/usr/lib/postgresql/15/bin"
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
LSAN_SUPP = os.path.join(ROOT, "tests", "lsan.supp")

# Every answer the suites receive, checked against the OpenAPI document last.
RESPONSES = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, what="condition"):
    """Polls pred until it returns a true value; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)  # a poll interval, not a wait for an outcome
        delay = min(delay * 2, 0.1)


def as_postgres():
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] if os.geteuid() == 0 else []


class Postgres:
    """A throw-away cluster; start/kill/start again keeps its data."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ztp-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(as_postgres() + [PGBIN + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                                        "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nfsync = off\nsynchronous_commit = on\nmax_connections = 200\n"
                    "unix_socket_directories = '%s'\nlisten_addresses = '127.0.0.1'\n" % self.dir)

    def start(self):
        self.proc = subprocess.Popen(as_postgres() + [PGBIN + "/postgres", "-D", self.data, "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "a"),
                                     start_new_session=True)  # its own group, for kill()
        wait_until(self.ready, 30, "postgres to accept connections")

    def ready(self):
        r = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)])
        return r.returncode == 0

    def kill(self):
        """SIGKILL to the postmaster and every backend at once, as a crash of
        its machine would: a backend outliving its postmaster can still
        finish the statement it holds and answer."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        # the postmaster's children die with it; wait for its port to close
        wait_until(lambda: not self.ready(), 10, "postgres to go away")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db="postgres"):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, db, sql, *more):
        """sql (then each of `more`, a message each) in one session: their output."""
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url(db)]
        for statement in (sql,) + more:
            cmd += ["-c", statement]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("psql failed: " + r.stderr)
        return r.stdout.strip()

    def psql_counted(self, db, *statements):
        """Runs statements, then makes the session flush its statistics
        (pg_statio_*, pg_stat_*) before it ends: a later session reads every
        block they touched (flushed when next idle, before the last message).
        Returns their output's words."""
        return self.psql(db, *statements, "SELECT pg_stat_force_next_flush()", "SELECT 'idle'").split()

    def psql_session(self, db, env=None):
        """A psql reading commands from its stdin: to hold a lock while a test acts."""
        return subprocess.Popen(["psql", "-X", "-q", self.url(db)], stdin=subprocess.PIPE, text=True,
                                stdout=subprocess.DEVNULL, env=env)

    def dump(self, db):
        """Everything the database holds, as text: to prove a secret is not in it."""
        r = subprocess.run(["pg_dump", "--data-only", "--no-owner", self.url(db)], capture_output=True,
                           text=True, check=True)
        return r.stdout

    def new_database(self):
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql("postgres", "CREATE DATABASE " + name)
        return name


PG = None


def postgres():
    global PG
    if PG is None:
        PG = Postgres()
        PG.start()
    return PG


def ztpd_env(db, **extra):
    env = dict(os.environ)
    env.update({"DATABASE_URL": postgres().url(db), "ZTP_SECRET": SECRET, "ZTP_THREADS": "2",
                "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                "LSAN_OPTIONS": "suppressions=" + LSAN_SUPP,
                "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ztpd_cmd(db, *args, **env):
    return subprocess.run([ZTPD] + list(args), env=ztpd_env(db, **env), capture_output=True, text=True,
                          timeout=60)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.text[:300])


class Ztpd:
    """A running `ztpd serve` on a free port."""

    def __init__(self, db, binary=None, **env):
        self.db = db
        self.binary = binary or ZTPD
        self.port = free_port()
        self.env = dict(env)
        self.env.setdefault("ZTP_LISTEN", "127.0.0.1:%d" % self.port)
        self.proc = None
        self.stdout_path = tempfile.mktemp(prefix="ztpd-out-")
        self.stderr_path = tempfile.mktemp(prefix="ztpd-err-")

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=ztpd_env(self.db, **self.env),
                                     stdout=open(self.stdout_path, "wb"), stderr=open(self.stderr_path, "wb"))
        wait_until(self._healthy, 20, "ztpd /healthz")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("ztpd exited: " + self.stderr())
        try:
            return self.request("GET", "/healthz", timeout=1).status == 200
        except OSError:
            return False

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __enter__(self):
        """`with Ztpd(db) as srv:` starts it, and stops it at the end, cleanly."""
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self, check=True):
        """SIGTERM; the exit must be clean (0, no sanitizer report)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ztpd did not stop within 30 s of SIGTERM")
        if check:
            err = self.stderr()
            if code != 0 or "Sanitizer" in err or "runtime error" in err:
                raise AssertionError("ztpd exited %d:\n%s" % (code, err[-6000:]))
        return code

    def request(self, method, path, body=None, headers=None, key=None, timeout=10, source=None):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
            RESPONSES.append((method, path, resp))
            return resp
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def migrate(db):
    r = ztpd_cmd(db, "migrate")
    if r.returncode != 0:
        raise AssertionError("migrate failed: " + r.stderr)


class OwnCluster:
    """A PostgreSQL cluster of one test's own, with one database migrated: for settings that hold cluster-wide,
    or a horizon no other test's snapshot may hold back. `with OwnCluster() as c:` then c.cmd(...) runs ztpd
    commands against it and c.serve(**env) starts a ztpd on it; at the end the servers stop, then the cluster."""

    def __enter__(self):
        self.pg, self.servers, self.probes = Postgres(), [], []
        self.pg.start()
        try:
            self.db = self.pg.new_database()
            self.env = {"DATABASE_URL": self.pg.url(self.db)}
            r = self.cmd("migrate")
            if r.returncode != 0:
                raise AssertionError("migrate failed: " + r.stderr)
        except BaseException:
            self.pg.stop()
            raise
        return self

    def cmd(self, *args):
        return ztpd_cmd(self.db, *args, **self.env)

    def provider(self, name):
        r = self.cmd("provider", "create", name)
        if r.returncode != 0:
            raise AssertionError("provider create failed: " + r.stderr)
        return json.loads(r.stdout)

    def name_synchronous_standby(self, name):
        """Names a synchronous standby (one that never connects: every commit then waits for it), and returns
        once commits do wait; the name None takes it back."""
        if name is None:
            self.pg.psql("postgres", "ALTER SYSTEM RESET synchronous_standby_names")
            self.pg.psql("postgres", "SELECT pg_reload_conf()")
            return
        self.pg.psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '%s'" % name)
        self.pg.psql("postgres", "SELECT pg_reload_conf()")
        wait_until(self._commits_wait_for_standby, 20, "commits to wait for the standby")

    def _commits_wait_for_standby(self):
        """Whether a commit now waits for the synchronous standby. After a reload naming one, a backend waits once
        it has read the setting (the postmaster signals it) and once the checkpointer, on its own reload, has told
        every backend that standbys are named: a probe session commits and is seen waiting (wait event SyncRep),
        or its commit ends (not yet). A waiting probe is left to end with the setting, or with the cluster."""
        # a commit waits only after writing WAL (an xid alone is not enough): a transactional message writes some
        probe = subprocess.Popen(["psql", "-X", "-q", "-c", "SELECT pg_logical_emit_message(true, 'probe', '')",
                                  self.pg.url("postgres")],
                                 env=dict(os.environ, PGAPPNAME="ztp-sync-probe"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.probes.append(probe)
        waiting = ("SELECT count(*) FROM pg_stat_activity"
                   " WHERE application_name = 'ztp-sync-probe' AND wait_event = 'SyncRep'")
        wait_until(lambda: probe.poll() is not None or self.pg.psql("postgres", waiting) != "0", 20, "a probe's commit")
        return probe.poll() is None

    def serve(self, check=True, **env):
        """A ztpd on the database; with check, its exit must be clean (Ztpd.stop)."""
        srv = Ztpd(self.db, **dict(self.env, **env)).start()
        self.servers.append((srv, check))
        return srv

    def __exit__(self, *exc):
        try:
            for srv, check in self.servers:
                srv.stop(check=check)
        finally:
            self.pg.stop()
            for probe in self.probes:
                probe.kill()
                probe.wait()


def migrated_database():
    """A new database in the shared cluster, migrated: (the cluster, its name)."""
    pg = postgres()
    db = pg.new_database()
    migrate(db)
    return pg, db


def create_provider(db, name):
    r = ztpd_cmd(db, "provider", "create", name)
    if r.returncode != 0:
        raise AssertionError("provider create failed: " + r.stderr)
    return json.loads(r.stdout)


class ServerTest(unittest.TestCase):
    """One fresh database and one ztpd per test class; providers on demand."""
    server_env = {}

    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.db = cls.pg.new_database()
        migrate(cls.db)
        cls.srv = Ztpd(cls.db, **cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def provider(self, name=None):
        return create_provider(self.db, name or ("p-" + uuid.uuid4().hex[:8]))

    def assertProblem(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/problem+json"), r.headers)
        body = r.json()
        self.assertEqual(body["status"], status)
        for k in ("type", "title", "detail"):
            self.assertIn(k, body)
        return body
