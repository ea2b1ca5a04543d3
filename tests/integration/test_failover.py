"""Failover (the contract's section 5): DATABASE_URL names a primary and its
synchronous standby; the primary dies, the standby is promoted, and ztpd
serves again from it within 10 s, answering 503 meanwhile, losing nothing it
answered 200.

Both clusters are this process's children (PID 1 does not reap orphans), and
so is ztpd. The shared cluster of harness.postgres() is not used: it would be
a third one, and it is not the one that fails over.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import harness
from harness import PGBIN, Postgres, Ztpd, as_postgres, free_port, wait_until

STANDBY_NAME = "ztp_standby"
RULE = "https://prov.acme.example/$PSN/$MA.xml"
DEVICES = 32
LOAD_THREADS = 4
SETUP_S = 60  # setup waits, sized for a loaded 2-core machine
RECOVERY_S = 10  # the contract's bound


class Primary(Postgres):
    """A throw-away cluster that streams its WAL to one synchronous standby."""

    def __init__(self):
        super().__init__()
        self.frozen = []
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("wal_level = replica\nmax_wal_senders = 4\nsynchronous_commit = on\n"
                    "synchronous_standby_names = '%s'\n" % STANDBY_NAME)
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
            f.write("host replication postgres 127.0.0.1/32 trust\n")

    def freeze(self):
        """SIGSTOP the postmaster, then its children: the kernel still accepts
        connections on the port, but nothing answers, as with a frozen machine
        or one cut off behind a firewall that drops packets."""
        os.kill(self.proc.pid, signal.SIGSTOP)  # first: it forks no more children
        self.frozen = children(self.proc.pid)
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def stop(self):
        for pid in self.frozen:  # SIGKILL works on stopped processes; SIGINT would not
            os.kill(pid, signal.SIGKILL)
        if self.frozen:
            self.proc.kill()
            self.proc.wait()
        super().stop()

    def sync_state(self):
        return self.psql("postgres", "SELECT sync_state FROM pg_stat_replication WHERE application_name = '%s'"
                         % STANDBY_NAME)


class Standby(Postgres):
    """A streaming copy of primary (pg_basebackup -R), known to it as STANDBY_NAME."""

    def __init__(self, primary):  # not Postgres.__init__: no initdb, a base backup
        self.dir = tempfile.mkdtemp(prefix="ztp-pg-standby-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None
        try:
            self._copy(primary)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _copy(self, primary):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        # -R keeps these connection settings in primary_conninfo: application_name
        # is the name synchronous_standby_names knows the standby by.
        conninfo = "host=127.0.0.1 port=%d user=postgres application_name=%s" % (primary.port, STANDBY_NAME)
        subprocess.run(as_postgres() + [PGBIN + "/pg_basebackup", "-d", conninfo, "-D", self.data, "-R",
                                        "-X", "stream", "-c", "fast", "--no-sync"], check=True, capture_output=True)
        # The copied postgresql.conf names the primary's socket folder and
        # requires a synchronous standby; the last setting wins. Promoted, this
        # one has no standby of its own, and with that requirement every commit
        # would wait for one forever (Patroni's synchronous_mode clears it too).
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nunix_socket_directories = '%s'\nsynchronous_standby_names = ''\n" % self.dir)

    def promote(self):
        """pg_ctl promote only signals the postmaster, which is still our child; waits until promoted."""
        subprocess.run(as_postgres() + [PGBIN + "/pg_ctl", "promote", "-D", self.data, "-w", "-t", str(SETUP_S)],
                       check=True, capture_output=True)


def children(pid):
    """The processes whose parent is pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.isdigit() and int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def ztpd_env(url, **extra):
    """harness.ztpd_env for a DATABASE_URL of our own (that one starts the shared cluster)."""
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "ZTP_SECRET": harness.SECRET, "ZTP_THREADS": "2",
                "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                "LSAN_OPTIONS": "suppressions=" + harness.LSAN_SUPP,
                "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ztpd_cmd(url, *args):
    r = subprocess.run([harness.ZTPD] + list(args), env=ztpd_env(url), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("ztpd %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


class MultiHostZtpd(Ztpd):
    """harness.Ztpd with DATABASE_URL set to url."""

    def __init__(self, url):
        super().__init__(None)
        self.url = url

    def start(self):
        self.proc = subprocess.Popen([harness.ZTPD, "serve"], env=ztpd_env(self.url, **self.env),
                                     stdout=open(self.stdout_path, "wb"), stderr=open(self.stderr_path, "wb"))
        wait_until(self._healthy, SETUP_S, "ztpd /healthz")
        return self

    def remove_logs(self):
        for path in (self.stdout_path, self.stderr_path):
            if os.path.exists(path):
                os.unlink(path)


class Load:
    """Threads asking GET /redirect/{mac}.xml in turn, as phones would, until stopped.

    Every answer is kept as (sent, answered, mac, status, Retry-After); a
    failed connection as status -1 with the error in place of Retry-After."""

    def __init__(self, srv, macs, nthreads):
        self.srv = srv
        self.macs = macs
        self.records = []
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i, nthreads), daemon=True) for i in range(nthreads)]

    def start(self):
        for t in self.threads:
            t.start()

    def run(self, i, step):
        n = i
        while not self.stop_event.is_set():
            mac = self.macs[n % len(self.macs)]
            n += step
            sent = time.monotonic()
            try:
                r = self.srv.get("/redirect/%s.xml" % mac, timeout=10)
                rec = (sent, time.monotonic(), mac, r.status, r.headers.get("retry-after"))
            except OSError as e:
                rec = (sent, time.monotonic(), mac, -1, repr(e))
            self.records.append(rec)  # list.append is atomic under the GIL

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    def answered(self, status, sent_after=0.0):
        return [r for r in list(self.records) if r[3] == status and r[0] >= sent_after]


class FailoverTest(unittest.TestCase):
    def setUp(self):
        self.primary = Primary()
        self.addCleanup(self.primary.stop)
        self.primary.start()
        self.standby = Standby(self.primary)
        self.addCleanup(self.standby.stop)
        self.standby.start()
        wait_until(lambda: self.primary.sync_state() == "sync", SETUP_S, "the standby to stream synchronously")

        self.primary.psql("postgres", "CREATE DATABASE ztp")
        self.url = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/ztp?target_session_attrs=read-write"
                    % (self.primary.port, self.standby.port))
        ztpd_cmd(self.url, "migrate")  # read-write: lands on the primary
        key = json.loads(ztpd_cmd(self.url, "provider", "create", "p-" + uuid.uuid4().hex[:8]))["api_key"]

        self.srv = MultiHostZtpd(self.url)
        self.addCleanup(self.srv.remove_logs)
        self.addCleanup(self.srv.stop, False)
        self.srv.start()
        r = self.srv.post("/v1/profiles", {"name": "main", "profile_rule": RULE}, key=key)
        self.assertEqual(r.status, 201, r)
        profile_id = r.json()["id"]
        self.macs = ["00562b05%04x" % i for i in range(DEVICES)]
        for mac in self.macs:
            r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile_id}, key=key)
            self.assertEqual(r.status, 201, r)

    def wait(self, pred, what):
        """wait_until with the setup deadline; a timeout shows ztpd's log."""
        try:
            return wait_until(pred, SETUP_S, what)
        except AssertionError as e:
            raise AssertionError("%s; ztpd's log:\n%s" % (e, self.srv.stderr()[-3000:])) from None

    def test_promoted_standby_serves_within_10s_and_loses_nothing(self):
        self.fail_over(self.primary.kill, "killed")  # SIGKILL and reap; returns once its port is closed

    def test_promoted_standby_serves_within_10s_while_the_old_primary_hangs(self):
        self.fail_over(self.primary.freeze, "frozen")

    def fail_over(self, fail, how):
        """Redirects under load; fail() the primary; promote the standby once
        ztpd answers 503; then the checks of the contract's section 5."""
        load = Load(self.srv, self.macs, LOAD_THREADS)
        self.addCleanup(load.stop)
        load.start()
        self.wait(lambda: len(load.answered(200)) >= 200, "200 redirects before the failure")

        fail()
        killed = time.monotonic()
        self.wait(lambda: load.answered(503, sent_after=killed), "ztpd to answer 503 without a primary")

        promoting = time.monotonic()
        self.standby.promote()
        promoted = time.monotonic()
        first = self.wait(lambda: sorted(r[1] for r in load.answered(200, sent_after=promoting)),
                          "a 200 from the promoted standby")[0]
        recovery = first - promoting
        # More answers from the new primary, so that some of them are checked too.
        self.wait(lambda: len(load.answered(200, sent_after=first)) >= 100, "redirects after recovery")
        load.stop()

        records = list(load.records)
        n200 = {}
        for _, _, mac, status, _ in records:
            if status == 200:
                n200[mac] = n200.get(mac, 0) + 1
        sys.stderr.write("\nfailover (primary %s): first 200 %.2f s after pg_ctl promote began (promotion took %.2f s, "
                         "%.2f s from the failure); %d answers 200, %d answers 503, the slowest in %.2f s\n"
                         % (how, recovery, promoted - promoting, first - killed, sum(n200.values()),
                            len([r for r in records if r[3] == 503]), max(r[1] - r[0] for r in records)))

        self.assertLess(recovery, RECOVERY_S, "ztpd took %.2f s to serve from the new primary:\n%s"
                        % (recovery, self.srv.stderr()[-3000:]))
        # "never a hang": a frozen primary keeps a request ZTP_DB_TIMEOUT_MS (5 s) and a tick at most
        # (see the README); 5.17-5.20 s measured, 2 s more for a loaded machine's scheduling
        slowest = max(r[1] - r[0] for r in records)
        self.assertLess(slowest, 5.0 + 2.0, "an answer took %.2f s" % slowest)
        others = sorted({(r[3], r[4]) for r in records if r[3] not in (200, 503)})
        self.assertEqual(others, [], "answers other than 200 and 503")
        self.assertEqual([r for r in records if r[3] == 503 and not r[4]], [], "503 without Retry-After")

        rows = self.standby.psql("ztp", "SELECT replace(mac::text, ':', ''), contacts, status,"
                                        " last_contact_at IS NOT NULL FROM devices")
        found = {}
        for line in rows.splitlines():
            mac, contacts, status, contacted = line.split("|")
            found[mac] = (int(contacts), status, contacted)
        sent = {}
        for r in records:
            sent[r[2]] = sent.get(r[2], 0) + 1
        for mac, answered in sorted(n200.items()):
            contacts, status, contacted = found[mac]
            # Every 200 was committed on both; a 503 may or may not have been.
            self.assertGreaterEqual(contacts, answered, "%s: contacts lost in the failover" % mac)
            self.assertLessEqual(contacts, sent[mac], "%s: more contacts than requests" % mac)
            self.assertEqual((status, contacted), ("custom_pending", "t"), mac)
        self.assertEqual(self.srv.get("/readyz").status, 200)
        self.assertEqual(self.srv.stop(), 0)
