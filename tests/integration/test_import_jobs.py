"""Import jobs: parts, background runs, all or nothing, taken over after a crash."""
import functools
import signal
import unittest
import uuid

from harness import ServerTest, Ztpd, create_provider, migrated_database, wait_until

RULE = "https://prov.example/$MA.xml"
# a job runs in the background: a loaded 2-core machine may take a while
JOB_DEADLINE_S = 120


def macs(prefix, first, n):
    return ["%s%06x" % (prefix, i) for i in range(first, first + n)]


def csv_of(mac_list, model="CP-8845-3PCC"):
    return "mac,model\n" + "".join("%s,%s\n" % (m, model) for m in mac_list)


class JobClient:
    """The calls a provider's script makes, for one server and key."""

    def __init__(self, srv, key):
        self.srv, self.key = srv, key

    def create(self, **body):
        body.setdefault("format", "csv")
        return self.srv.post("/v1/import-jobs", body, key=self.key)

    def put(self, job, n, text, content_type="text/csv"):
        return self.srv.put("/v1/import-jobs/%s/parts/%d" % (job, n), text, key=self.key,
                            headers={"Content-Type": content_type}, timeout=120)

    def start(self, job):
        return self.srv.post("/v1/import-jobs/%s/start" % job, key=self.key)

    def get(self, job):
        return self.srv.get("/v1/import-jobs/" + job, key=self.key)

    def finished(self, job):
        def ended():
            r = self.get(job)
            return r if r.status == 200 and r.json()["state"] not in ("open", "running") else None
        return wait_until(ended, JOB_DEADLINE_S, "the import job to end").json()


class ImportJobTest(ServerTest):
    _prefixes = iter(range(1, 0x10000))

    def setUp(self):
        self.a = JobClient(self.srv, self.provider()["api_key"])
        self.b = JobClient(self.srv, self.provider()["api_key"])
        # each test its own MAC range (drawn at random, two tests could share one)
        self.prefix = "02%04x" % next(ImportJobTest._prefixes)

    def test_a_job_in_parts_with_one_replaced_applies_exactly_its_parts(self):
        job = self.a.create().json()
        self.assertEqual((job["state"], job["format"], job["dry_run"], job["on_conflict"]),
                         ("open", "csv", False, "fail"))
        r = self.a.put(job["id"], 1, csv_of(macs(self.prefix, 0, 300)))
        self.assertEqual((r.status, r.json()), (200, {"part": 1, "rows": 300}), r)
        self.assertEqual(self.a.put(job["id"], 2, csv_of(macs(self.prefix, 999, 5))).status, 200)
        r = self.a.put(job["id"], 2, csv_of(macs(self.prefix, 300, 200)))  # replaces part 2
        self.assertEqual(r.json(), {"part": 2, "rows": 200})
        got = self.a.get(job["id"]).json()
        self.assertEqual((got["parts"], got["rows"]), (2, 500))
        r = self.a.start(job["id"])
        self.assertEqual(r.status, 202, r)
        self.assertRegex(self.srv.get("/metrics").text, r'ztp_http_requests_total\{route="[^"]*start",status="202"\} [1-9]')
        done = self.a.finished(job["id"])
        self.assertEqual((done["state"], done["created"], done["updated"], done["rows_done"]),
                         ("succeeded", 500, 0, 500), done)
        self.assertIsNotNone(done["finished_at"])
        self.assertEqual(self.srv.get("/v1/devices/%s000001" % self.prefix, key=self.a.key).status, 200)
        self.assertEqual(self.srv.get("/v1/devices/%s0003e7" % self.prefix, key=self.a.key).status, 404)
        self.assertEqual(self.a.put(job["id"], 3, csv_of(macs(self.prefix, 600, 1))).status, 409)
        self.assertEqual(self.a.start(job["id"]).status, 409)
        audit = self.srv.get("/v1/audit-events?limit=1000", key=self.a.key).json()["items"]
        self.assertIn("import_job.finished", [e["action"] for e in audit])
        # every part put and the start are the caller's changes too (neither was in the trail)
        mine = [(e["action"], e["detail"]) for e in audit if e["target"] == job["id"] and e.get("key_id")]
        self.assertEqual([m for m in mine if m[0] in ("import_job.part", "import_job.start")],
                         [("import_job.part", {"part": 1, "rows": 300}), ("import_job.part", {"part": 2, "rows": 5}),
                          ("import_job.part", {"part": 2, "rows": 200}), ("import_job.start", {"rows": 500})])

    def test_json_parts_and_errors_by_line(self):
        job = self.a.create(format="json").json()
        body = [{"mac": m, "model": "X"} for m in macs(self.prefix, 0, 3)]
        self.assertEqual(self.a.put(job["id"], 1, body, "application/json").json(), {"part": 1, "rows": 3})
        r = self.a.put(job["id"], 2, [{"mac": "nope"}], "application/json")
        self.assertProblem(r, 422)
        self.assertEqual(r.json()["errors"][0]["line"], 1)
        r = self.a.put(job["id"], 3, "mac\n" + macs(self.prefix, 9, 1)[0] + "\n")  # CSV in a JSON job
        self.assertProblem(r, 422)
        self.assertEqual(self.a.start(job["id"]).status, 202)
        self.assertEqual(self.a.finished(job["id"])["created"], 3)

    def test_dry_run_applies_nothing(self):
        job = self.a.create(dry_run=True).json()
        self.a.put(job["id"], 1, csv_of(macs(self.prefix, 0, 10)))
        self.a.start(job["id"])
        done = self.a.finished(job["id"])
        self.assertEqual((done["state"], done["created"], done["dry_run"]), ("succeeded", 10, True))
        self.assertEqual(self.srv.get("/v1/devices/%s000000" % self.prefix, key=self.a.key).status, 404)

    def test_a_conflict_under_fail_leaves_nothing_and_skip_applies_the_rest(self):
        theirs = macs(self.prefix, 0, 1)[0]
        self.assertEqual(self.srv.put("/v1/devices/" + theirs, {}, key=self.b.key).status, 201)
        rows = macs(self.prefix, 0, 20)
        job = self.a.create().json()
        self.a.put(job["id"], 1, csv_of(rows))
        self.a.start(job["id"])
        done = self.a.finished(job["id"])
        self.assertEqual((done["state"], done["conflicts"], done["created"]), ("failed", [theirs], 19), done)
        self.assertEqual(self.srv.get("/v1/devices/" + rows[1], key=self.a.key).status, 404)
        job = self.a.create(on_conflict="skip").json()
        self.a.put(job["id"], 1, csv_of(rows))
        self.a.start(job["id"])
        done = self.a.finished(job["id"])
        self.assertEqual((done["state"], done["created"], done["skipped"]), ("succeeded", 19, 1), done)
        # the other provider's device is untouched
        self.assertEqual(self.srv.get("/v1/devices/" + theirs, key=self.b.key).json()["model"], None)

    def test_cancel_an_open_job_and_not_a_finished_one(self):
        job = self.a.create().json()
        self.a.put(job["id"], 1, csv_of(macs(self.prefix, 0, 5)))
        self.assertEqual(self.srv.delete("/v1/import-jobs/" + job["id"], key=self.a.key).status, 204)
        self.assertEqual(self.a.get(job["id"]).json()["state"], "cancelled")
        self.assertEqual(self.a.start(job["id"]).status, 409)
        self.assertEqual(self.srv.delete("/v1/import-jobs/" + job["id"], key=self.a.key).status, 409)

    def test_another_providers_job_is_404_everywhere(self):
        job = self.a.create().json()
        self.a.put(job["id"], 1, csv_of(macs(self.prefix, 0, 2)))
        self.assertEqual(self.b.get(job["id"]).status, 404)
        self.assertEqual(self.b.put(job["id"], 2, csv_of(macs(self.prefix, 5, 1))).status, 404)
        self.assertEqual(self.b.start(job["id"]).status, 404)
        self.assertEqual(self.srv.delete("/v1/import-jobs/" + job["id"], key=self.b.key).status, 404)
        self.assertNotIn(job["id"], [j["id"] for j in self.srv.get("/v1/import-jobs", key=self.b.key).json()["items"]])
        self.assertIn(job["id"], [j["id"] for j in self.srv.get("/v1/import-jobs", key=self.a.key).json()["items"]])

    def test_bad_input(self):
        self.assertEqual(self.a.create(format="xml").status, 422)
        self.assertEqual(self.srv.post("/v1/import-jobs", {}, key=self.a.key).status, 422)
        self.assertEqual(self.a.create(on_conflict="maybe").status, 422)
        self.assertEqual(self.a.create(dry_run="yes").status, 422)
        job = self.a.create().json()
        self.assertEqual(self.a.put(job["id"], 0, "mac\n").status, 422)
        self.assertEqual(self.a.put(job["id"], 10001, "mac\n").status, 422)
        self.assertEqual(self.a.get("not-a-uuid").status, 404)
        self.assertEqual(self.a.start(job["id"]).status, 409)  # no rows yet

    def test_idempotency_key_replays_the_job(self):
        h = {"Idempotency-Key": "job-" + uuid.uuid4().hex}
        r1 = self.srv.post("/v1/import-jobs", {"format": "csv"}, key=self.a.key, headers=h)
        r2 = self.srv.post("/v1/import-jobs", {"format": "csv"}, key=self.a.key, headers=h)
        self.assertEqual((r1.status, r2.status), (201, 201))
        self.assertEqual(r1.json()["id"], r2.json()["id"])
        self.assertEqual(self.srv.post("/v1/import-jobs", {"format": "json"}, key=self.a.key, headers=h).status, 422)


def kill_while_the_job_waits_on(pg, db, srv, jobs, job_id, table, what):
    """Starts the job while another session holds `table` in SHARE ROW
    EXCLUSIVE mode, SIGKILLs ztpd once the job's runner waits on that lock
    (`what` names the moment), then lets the lock go."""
    lock = pg.psql_session(db)
    lock.stdin.write("BEGIN; LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE;\n" % table)
    lock.stdin.flush()
    try:
        wait_until(lambda: pg.psql(db, "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'ShareRowExclusiveLock'"
                                       " AND relation = '%s'::regclass" % table) == "1", 30, "the lock")
        if jobs.start(job_id).status != 202:
            raise AssertionError("the job did not start")
        wait_until(lambda: pg.psql(db, "SELECT count(*) FROM pg_stat_activity"
                                       " WHERE application_name = 'ztpd-import-runner'"
                                       " AND wait_event_type = 'Lock'") == "1", 60, what)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(30)
    finally:
        lock.stdin.write("ROLLBACK;\n")
        lock.stdin.close()
        lock.wait(30)


class ImportJobCrashTest(unittest.TestCase):
    def test_a_job_whose_ztpd_is_killed_finishes_after_a_restart_applied_once(self):
        pg, db = migrated_database()
        key = create_provider(db, "crash")["api_key"]
        srv = Ztpd(db).start()
        prefix = "02%04x" % (uuid.uuid4().int & 0xffff)
        rows = macs(prefix, 0, 3000)
        jobs = JobClient(srv, key)
        job = jobs.create().json()
        for n in range(3):
            self.assertEqual(jobs.put(job["id"], n + 1, csv_of(rows[n * 1000:(n + 1) * 1000])).status, 200)
        # the job waits on this lock, mid-run, when ztpd is killed
        kill_while_the_job_waits_on(pg, db, srv, jobs, job["id"], "devices", "the job to be running")
        srv = Ztpd(db).start()
        try:
            done = JobClient(srv, key).finished(job["id"])
        finally:
            srv.stop()
        self.assertEqual((done["state"], done["created"], done["rows_done"]), ("succeeded", 3000, 3000), done)
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM devices WHERE mac::text LIKE '%s%%'"
                                     % ":".join(prefix[i:i + 2] for i in range(0, 6, 2))), "3000")
        # applied once: one event per device, one audit entry
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM device_events WHERE cause = 'imported'"), "3000")
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM audit_events WHERE action = 'import_job.finished'"),
                         "1")



class ImportJobCrashMidApplyTest(unittest.TestCase):
    def test_a_job_killed_after_writing_devices_and_events_is_exact_after_a_restart(self):
        """Killed once its devices and events are written (uncommitted) and
        the statistics trigger waits: after a restart, every device once,
        one event each, statistics equal to the devices, hostile texts
        stored as sent."""
        pg, db = migrated_database()
        key = create_provider(db, "crash-mid")["api_key"]
        srv = Ztpd(db).start()
        prefix = "02%04x" % (uuid.uuid4().int & 0xffff)
        rows = macs(prefix, 0, 2000)
        model = 'back\\slash "q" caf\u00e9 \\N \u260e'
        jobs = JobClient(srv, key)
        job = jobs.create().json()
        text = "mac,model,serial\n" + "".join('%s,"%s",s\\%d\n' % (m, model.replace('"', '""'), i)
                                              for i, m in enumerate(rows))
        for n in range(2):
            part = "mac,model,serial\n" + "\n".join(text.split("\n")[1:][n * 1000:(n + 1) * 1000]) + "\n"
            self.assertEqual(jobs.put(job["id"], n + 1, part.encode()).status, 200)
        # the runner's INSERT of devices is done; its statement trigger waits
        kill_while_the_job_waits_on(pg, db, srv, jobs, job["id"], "device_status_deltas", "the job to be applying")
        srv = Ztpd(db).start()
        try:
            done = JobClient(srv, key).finished(job["id"])
            stats = srv.get("/v1/stats", key=key).json()
            one = srv.get("/v1/devices/%s" % rows[1999], key=key).json()
        finally:
            srv.stop()
        self.assertEqual((done["state"], done["created"], done["rows_done"]), ("succeeded", 2000, 2000), done)
        self.assertEqual(stats["status_counts"]["open"], 2000)
        self.assertEqual(sum(stats["status_counts"].values()), 2000)
        self.assertEqual((one["model"], one["serial"]), (model, "s\\1999"))
        like = ":".join(prefix[i:i + 2] for i in range(0, 6, 2))
        self.assertEqual(pg.psql(db, "SELECT count(*), count(DISTINCT model) FROM devices WHERE mac::text LIKE '%s%%'"
                                     % like), "2000|1")
        self.assertEqual(pg.psql(db, "SELECT count(*), count(DISTINCT mac) FROM device_events"
                                     " WHERE cause = 'imported'"), "2000|2000")
        self.assertEqual(pg.psql(db, "SELECT count(*) FROM audit_events WHERE action = 'import_job.finished'"), "1")


class ImportSweepTest(unittest.TestCase):
    def test_the_sweep_probes_ended_jobs_and_reads_no_open_jobs_rows(self):
        """The hourly sweep deleted ended jobs' staged rows by a join run as a
        scan of every staged row, open jobs' included (235 ms per 2M rows,
        hourly, on every replica): now a probe per ended job."""
        pg, db = migrated_database()
        provider = create_provider(db, "sweep-" + uuid.uuid4().hex[:8])["id"]
        counted = functools.partial(pg.psql_counted, db)

        # an open job with 20,000 staged rows, three ended ones, one of them
        # with rows its runner never deleted
        counted("ALTER TABLE import_job_rows SET (autovacuum_enabled = false);"
                "INSERT INTO import_jobs (provider_id, format, state, finished_at)"
                " SELECT '{0}', 'csv', s, CASE WHEN s <> 'open' THEN now() END"
                " FROM unnest(ARRAY['open', 'succeeded', 'failed', 'cancelled']) s;"
                "INSERT INTO import_job_parts (job_id, part, provider_id, rows, has_profile, has_model, has_serial)"
                " SELECT id, 1, provider_id, 0, false, false, false FROM import_jobs;"
                "INSERT INTO import_job_rows (job_id, part, line, provider_id, mac)"
                " SELECT j.id, 1, n, j.provider_id, lpad(to_hex(x'020000000000'::bigint + n), 12, '0')::macaddr"
                " FROM import_jobs j, generate_series(1, 20000) n WHERE j.state = 'open'"
                " UNION ALL SELECT j.id, 1, n, j.provider_id, lpad(to_hex(x'040000000000'::bigint + n), 12, '0')::macaddr"
                " FROM import_jobs j, generate_series(1, 10) n WHERE j.state = 'failed';"
                "ANALYZE import_job_rows".format(provider))
        read = ("SELECT heap_blks_hit + heap_blks_read + idx_blks_hit + idx_blks_read"
                " FROM pg_statio_user_tables WHERE relname = 'import_job_rows'")
        before = int(counted(read)[0])
        counted("SET ROLE ztp_system; SELECT ztp_import_sweep(interval '7 days')")
        after = int(counted(read)[0])
        self.assertEqual(counted("SELECT string_agg(j.state || ':' || (SELECT count(*) FROM import_job_rows r"
                                 " WHERE r.job_id = j.id), ',' ORDER BY j.state) FROM import_jobs j")[0],
                         "cancelled:0,failed:0,open:20000,succeeded:0")
        self.assertLess(after - before, 100, "blocks of staged rows read by the sweep")
        # and ztpd's runner sweeps with it when it starts
        counted("INSERT INTO import_job_rows (job_id, part, line, provider_id, mac)"
                " SELECT id, 1, 1, provider_id, '06:00:00:00:00:01' FROM import_jobs WHERE state = 'succeeded'")
        with Ztpd(db):
            wait_until(lambda: pg.psql(db, "SELECT count(*) FROM import_job_rows r JOIN import_jobs j ON j.id = r.job_id"
                                           " WHERE j.state = 'succeeded'") == "0", 30, "the runner's sweep")


if __name__ == "__main__":
    unittest.main()
