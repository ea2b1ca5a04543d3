"""Imports stall nobody: their own connections, no foreign locks, bounded memory."""
import json
import os
import threading
import time
import unittest
import uuid

from harness import ZTPD_RELEASE, Ztpd, create_provider, migrate, postgres, wait_until

RULE = "https://prov.example/$MA.xml"


def macs(prefix, n):
    return ["%s%06x" % (prefix, i) for i in range(n)]


def csv_of(mac_list):
    return "mac,model,serial\n" + "".join("%s,CP-8845-3PCC,FCH%08d\n" % (m, i) for i, m in enumerate(mac_list))


class Poller(threading.Thread):
    """Asks one thing again and again, keeping every status and the slowest answer."""

    def __init__(self, srv, path, key=None):
        super().__init__()
        self.srv, self.path, self.key = srv, path, key
        self.stop = threading.Event()
        self.statuses = []
        self.slowest = 0.0

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                status = self.srv.get(self.path, key=self.key, timeout=30).status
            except OSError:
                status = -1
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.statuses.append(status)

    def finish(self):
        self.stop.set()
        self.join(60)


class ImportIsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.db = cls.pg.new_database()
        migrate(cls.db)
        # one loop thread: whatever an import held there, everyone else would feel
        cls.srv = Ztpd(cls.db, ZTP_THREADS=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def provider_with_phone(self):
        key = create_provider(self.db, "p-" + uuid.uuid4().hex[:8])["api_key"]
        profile = self.srv.post("/v1/profiles", {"name": "main", "profile_rule": RULE}, key=key).json()
        mac = "00562b%06x" % (uuid.uuid4().int & 0xffffff)
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile["id"]}, key=key)
        self.assertEqual(r.status, 201, r)
        return key, mac

    def import_csv(self, key, text, query=""):
        return self.srv.post("/v1/devices/import" + query, text, key=key, headers={"Content-Type": "text/csv"},
                             timeout=300)

    def test_a_redirect_answers_within_1s_throughout_another_providers_dry_run_naming_its_mac(self):
        a_key, a_mac = self.provider_with_phone()
        b_key = create_provider(self.db, "b-" + uuid.uuid4().hex[:8])["api_key"]
        rows = macs("02bb%02x" % (uuid.uuid4().int & 0xff), 100000) + [a_mac]
        poller = Poller(self.srv, "/redirect/%s.xml" % a_mac)
        poller.start()
        try:
            wait_until(lambda: len(poller.statuses) > 3, 30, "the phone's redirects")
            before = len(poller.statuses)
            r = self.import_csv(b_key, csv_of(rows), "?dry_run=true")
            during = len(poller.statuses) - before
        finally:
            poller.finish()
        self.assertEqual(r.status, 422, r)  # A's MAC is a conflict
        self.assertEqual(r.json()["conflicts"], [a_mac])
        self.assertGreater(during, 3, "the import ended before the redirects could overlap it")
        self.assertEqual(set(poller.statuses), {200})
        self.assertLess(poller.slowest, 1.0)

    def test_two_large_imports_on_one_loop_thread_cause_no_503_elsewhere(self):
        c_key, c_mac = self.provider_with_phone()
        importers = [create_provider(self.db, "i-" + uuid.uuid4().hex[:8])["api_key"] for _ in range(2)]
        bodies = [csv_of(macs("02c%d%02x" % (i, uuid.uuid4().int & 0xff), 60000)) for i in range(2)]
        results = []

        def run(key, body):
            try:
                results.append(self.import_csv(key, body))
            except Exception as e:  # reported below, not lost with the thread
                results.append(e)

        pollers = [Poller(self.srv, "/redirect/%s.xml" % c_mac), Poller(self.srv, "/v1/profiles", key=c_key),
                   Poller(self.srv, "/readyz")]
        for p in pollers:
            p.start()
        threads = [threading.Thread(target=run, args=(k, b)) for k, b in zip(importers, bodies)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
        finally:
            for p in pollers:
                p.finish()
        if [getattr(r, "status", r) for r in results] != [200, 200]:
            # what the database was doing, to tell a stall in PostgreSQL from one before it
            activity = self.pg.psql(self.db, "SELECT application_name, state, wait_event_type, wait_event,"
                                             " left(query, 80) FROM pg_stat_activity"
                                             " WHERE datname = current_database()")
            self.fail("imports answered %r; database sessions:\n%s" % (results, activity))
        self.assertEqual([r.json()["created"] for r in results], [60000, 60000])
        for p in pollers:
            self.assertEqual(set(p.statuses), {200}, p.path)

    def test_a_provider_runs_at_most_two_imports_at_once(self):
        key = create_provider(self.db, "m-" + uuid.uuid4().hex[:8])["api_key"]
        # held by a lock this test takes, so that they are surely running together
        body = csv_of(macs("02dd%02x" % (uuid.uuid4().int & 0xff), 10))
        lock = self.pg.psql_session(self.db)
        lock.stdin.write("BEGIN; LOCK TABLE devices IN SHARE ROW EXCLUSIVE MODE;\n")
        lock.stdin.flush()
        wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_locks WHERE granted"
                                                 " AND mode = 'ShareRowExclusiveLock'"
                                                 " AND relation = 'devices'::regclass") == "1", 30, "the lock")
        results = []

        def run():
            try:
                results.append(self.import_csv(key, body))
            except Exception as e:  # reported below, not lost with the thread
                results.append(e)

        threads = [threading.Thread(target=run) for _ in range(2)]
        try:
            for t in threads:
                t.start()
            wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_stat_activity"
                                                     " WHERE application_name = 'ztpd-worker'"
                                                     " AND wait_event_type = 'Lock'") == "2", 60,
                       "two imports waiting on the lock")
            third = self.import_csv(key, body)
            self.assertEqual(third.status, 429, third)
            self.assertIn("retry-after", third.headers)
        finally:
            lock.stdin.write("ROLLBACK;\n")
            lock.stdin.close()
            lock.wait(30)
            for t in threads:
                t.join(120)
        # the first two were not refused: they waited, then applied (or, on a
        # machine slow enough for their 5 s lock_timeout to pass, got 503)
        self.assertEqual(len(results), 2)
        for r in results:
            self.assertIn(getattr(r, "status", r), (200, 503), r)


@unittest.skipUnless(os.path.exists(ZTPD_RELEASE), "the release build (make) is needed to measure memory")
class ImportMemoryTest(unittest.TestCase):
    def test_a_7_mib_json_import_peaks_under_64_mb(self):
        db = postgres().new_database()
        migrate(db)
        key = create_provider(db, "mem")["api_key"]
        items = [{"mac": m, "model": "CP-8845-3PCC", "serial": "FCH%08d" % i}
                 for i, m in enumerate(macs("02ee%02x" % (uuid.uuid4().int & 0xff), 110000))]
        body = json.dumps(items).encode()
        self.assertGreater(len(body), 7 << 20)
        self.assertLess(len(body), 8 << 20)
        srv = Ztpd(db, binary=ZTPD_RELEASE, ZTP_ACCESS_LOG=0).start()
        try:
            r = srv.post("/v1/devices/import?dry_run=true", body, key=key,
                         headers={"Content-Type": "application/json"}, timeout=600)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["created"], len(items))
            with open("/proc/%d/status" % srv.proc.pid) as f:
                peak_kb = int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
        finally:
            srv.stop()
        print("\npeak RSS of ztpd over a %.1f MiB JSON import: %.1f MB" % (len(body) / 1048576, peak_kb / 1024),
              flush=True)
        self.assertLess(peak_kb, 64 * 1024)


if __name__ == "__main__":
    unittest.main()
