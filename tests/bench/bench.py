#!/usr/bin/env python3
"""make bench: openztp against baselines measured in the same run.

1. Redirect: 1,000,000 devices across 1,000 providers in a scratch
   PostgreSQL (fsync on: every contact is durable), wrk at 64 and 256
   connections on random claimed MACs, against Debian's h2o serving the same
   XML body as a static file under the same load. Prints requests/s, p50,
   p99, the ratios, and ztpd's peak RSS. First of all, on ztpd's fresh
   connections, 2 connections (a quiet hour: batches of one phone).
2. Import: 1,000,000 CSV rows through POST /v1/devices/import against
   psql \\copy of the same file into a table with the devices table's
   indexes and constraints (copy_baseline says exactly what it holds).
3. Activation: redemptions of distinct valid codes per second (wrk, 64
   connections, each request its own code, MAC and source), and failed
   guesses per second (which never reach the database once limited).

Ratios, not absolute numbers, are what to compare across machines.
4. Storm: ztp-phone boots ZTP_BENCH_PHONES phones (default 20,000), 256 at
   once: redirect by ztpd, then the provider's profile from a static h2o.

Environment: ZTP_BENCH_DEVICES (default 1000000), ZTP_BENCH_PROVIDERS (1000), ZTP_BENCH_SECONDS (10),
ZTP_BENCH_ZTPD_THREADS (ztpd's loop threads for the redirect and the storm, default 2),
ZTP_BENCH_ONLY=redirect (the redirect runs alone, e.g. with 10,000,000 devices),
ZTP_BENCH_ONLY=import-job with ZTP_BENCH_JOB_ROWS (default 10,000,000),
ZTP_BENCH_ONLY=imports (the single import of ZTP_BENCH_DEVICES rows, then
the job); ZTP_BENCH_PROFILE=1 prints pg_stat_statements' top entries.
ZTP_BENCH_ONLY=activation (redemptions and guesses alone). ZTP_BENCH_BASELINE_ZTPD=path: the
redemptions measured also with that binary (say, main's, built apart) in the same run, and the ratio;
with ZTP_BENCH_ONLY=redirect, the redirect runs of that binary too, each right before this build's
(each binary in a database it migrated itself and seeded alike), and the CPU per redirect of both.
PostgreSQL: shared_buffers sized for the devices (ZTP_BENCH_SHARED_BUFFERS_MB overrides);
ZTP_BENCH_PG_SETTINGS="name=value;..." adds settings (say fsync=off, to see what the disk's
flushes cost). Each redirect run also prints its WAL per redirect and WAL flushes per second.
5. Import job: ZTP_BENCH_JOB_ROWS rows in parts of 8 MiB through an import
   job, against psql \\copy of the same rows into a table with the devices
   table's indexes and constraints.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402


def env_int(name, default):
    """A whole number from the environment, at least 1, or a sentence saying what is wrong."""
    text = os.environ.get(name, str(default))
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) < 1:
        raise SystemExit("%s: %r is not a whole number of at least 1 (say %d)" % (name, text, default))
    return int(text)


ZTPD = os.environ.get("ZTP_BENCH_ZTPD", os.path.join(ROOT, "build", "ztpd"))
PERF_DIR = os.environ.get("ZTP_BENCH_PERF")  # a folder: perf profiles of ztpd and PostgreSQL at 256 connections
DEVICES = env_int("ZTP_BENCH_DEVICES", 1000000)
SECONDS = env_int("ZTP_BENCH_SECONDS", 10)
ONLY_REDIRECT = os.environ.get("ZTP_BENCH_ONLY") == "redirect"
ONLY_JOB = os.environ.get("ZTP_BENCH_ONLY") == "import-job"
ONLY_IMPORTS = os.environ.get("ZTP_BENCH_ONLY") == "imports"  # the single import, then the job
PROFILE = os.environ.get("ZTP_BENCH_PROFILE") == "1"  # pg_stat_statements' top entries after the imports
ONLY_ACTIVATION = os.environ.get("ZTP_BENCH_ONLY") == "activation"
ACTIVATION_CODES = env_int("ZTP_BENCH_CODES", 150000)
# More PostgreSQL settings, "name=value;name=value" (to see what a setting
# costs, e.g. fsync=off for what the disk's flushes add to the latency).
PG_SETTINGS = [x.strip() for x in os.environ.get("ZTP_BENCH_PG_SETTINGS", "").split(";") if x.strip()]
for _setting in PG_SETTINGS:
    if not re.fullmatch(r"[a-z_.]+\s*=\s*[\w.'-]+", _setting):
        raise SystemExit("ZTP_BENCH_PG_SETTINGS: %r is not name=value" % _setting)
# PostgreSQL sized as the README's "Sizing PostgreSQL" advises: room in the
# shared buffers for the devices table and its indexes (about 375 MB per
# million devices), never under 512 MB.
BASELINE_ZTPD = os.environ.get("ZTP_BENCH_BASELINE_ZTPD")
# (twice that when a baseline build's redirect runs take turns with this
# build's, each in a database of its own)
SHARED_BUFFERS_MB = env_int("ZTP_BENCH_SHARED_BUFFERS_MB", max(512, DEVICES * 400 // 1000000)
                            * (2 if BASELINE_ZTPD and ONLY_REDIRECT else 1))
JOB_ROWS = env_int("ZTP_BENCH_JOB_ROWS", 10000000)
PROVIDERS = env_int("ZTP_BENCH_PROVIDERS", 1000)
THREADS = env_int("ZTP_BENCH_ZTPD_THREADS", 2)  # ztpd's loop threads in the redirect and storm runs
REPEAT_PHONES = 20000  # the repeat-contact run: phones that already asked, asking again
FIRST_MAC = 0x00a000000000
XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<flat-profile>\n'
       '  <Profile_Rule ua="na">https://prov.example/p0001/$PSN/$MA.xml</Profile_Rule>\n'
       '  <Resync_Periodic ua="na">3600</Resync_Periodic>\n</flat-profile>\n')


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wrk(port, script, conns, env=None):
    e = dict(os.environ)
    e.update(env or {})
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % SECONDS, "--latency", "-s", script,
                          "http://127.0.0.1:%d" % port], capture_output=True, text=True, env=e).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "non2xx": int(errors.group(1)) if errors else 0,
            "requests": total}


def static_server(port, docroot):
    conf = os.path.join(docroot, "..", "h2o.conf")
    with open(conf, "w") as f:
        f.write("listen:\n  host: 127.0.0.1\n  port: %d\nnum-threads: 2\naccess-log: /dev/null\n"
                "error-log: /dev/null\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s\n"
                % (port, docroot))
    p = subprocess.Popen(["h2o", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_until(lambda: _up(port, "/redirect/profile.xml"), 10, "h2o static")
    return p


def _up(port, path):
    try:
        return urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=1).status == 200
    except OSError:
        return False


def cpu_ticks(pids, reaped=False):
    """utime + stime of each pid (clock ticks), from /proc; a pid gone counts 0. With reaped, also
    cutime + cstime: what its children that ended and were waited for spent."""
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = sum(int(x) for x in fields[11:15 if reaped else 13])
        except (OSError, IndexError):
            out[pid] = 0
    return out


def children(ppid):
    """The processes whose parent is ppid (PostgreSQL's backends and helpers)."""
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        kids.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


class Ticks:
    """CPU ticks that ztpd and the whole PostgreSQL cluster spend between start() and stop(). The
    postmaster's count includes its children that ended (an autovacuum worker that started and ended
    within the run, a backend gone), all of their ticks: those counted at start() are taken off."""

    def __init__(self, pg, ztpd_pid):
        self.pg, self.ztpd = pg, ztpd_pid

    def pids(self):
        return [self.pg.proc.pid] + children(self.pg.proc.pid)

    def _cluster(self):
        ticks = cpu_ticks(children(self.pg.proc.pid))
        ticks.update(cpu_ticks([self.pg.proc.pid], reaped=True))
        return ticks

    def start(self):
        self.pg_before, self.z_before = self._cluster(), cpu_ticks([self.ztpd])[self.ztpd]

    def stop(self):
        after = self._cluster()
        pg = sum(t - self.pg_before.get(pid, 0) for pid, t in after.items())
        pg -= sum(t for pid, t in self.pg_before.items() if pid not in after)  # ended: now in the postmaster's
        return pg, cpu_ticks([self.ztpd])[self.ztpd] - self.z_before


def perf_record(pids, path):
    if not PERF_DIR:
        return None
    os.makedirs(PERF_DIR, exist_ok=True)
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", os.path.join(PERF_DIR, path),
                             "-p", ",".join(str(p) for p in pids), "--", "sleep", str(SECONDS)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_statements(pg, db, n=6):
    """pg_stat_statements' heaviest statements in db since its last reset (it holds the idle build's too, its
    fold, its autovacuum): (ms total, calls, rows, query head); the calls say how many plans were made (with
    track_planning) and how long JIT compiled, when it did."""
    rows = pg.psql(db, "SELECT round(total_exec_time)::bigint, calls || CASE WHEN plans > 0 THEN ' (' || plans ||"
                       " ' plans)' ELSE '' END || CASE WHEN jit_functions > 0 THEN ' (JIT ' || round("
                       "jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time) ||"
                       " ' ms)' ELSE '' END, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90)"
                       " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname ="
                       " current_database()) ORDER BY total_exec_time DESC LIMIT %d" % n)
    return [r.split("|", 3) for r in rows.splitlines() if r]


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def seed(pg, db):
    log("seeding %d devices across %d providers..." % (DEVICES, PROVIDERS))
    t = time.monotonic()
    pg.psql(db, """
        SET role ztp_system;
        INSERT INTO providers (name) SELECT 'provider ' || i FROM generate_series(1, %d) i;
        INSERT INTO profiles (provider_id, name, profile_rule, params)
            SELECT id, 'main', 'https://prov.example/p' || lpad(row_number() over ()::text, 4, '0') || '/$PSN/$MA.xml',
                   '{"Resync_Periodic": "3600"}' FROM providers;
        CREATE TEMP TABLE pp AS SELECT row_number() over (ORDER BY id) - 1 AS n, id, provider_id FROM profiles;
        INSERT INTO devices (mac, provider_id, profile_id, status)
            SELECT lpad(to_hex(%d + i), 12, '0')::macaddr, pp.provider_id, pp.id, 'open'
            FROM generate_series(0, %d - 1) i JOIN pp ON pp.n = i %% %d;
    """ % (PROVIDERS, FIRST_MAC, DEVICES, PROVIDERS))
    pg.psql(db, "VACUUM ANALYZE devices")
    # the seeding's pages written out now, not by a checkpoint inside a measured run
    pg.psql(db, "CHECKPOINT")
    log("seeded in %.1f s" % (time.monotonic() - t))


def make_static():
    docroot = tempfile.mkdtemp(prefix="ztp-static-")
    os.chmod(docroot, 0o755)  # h2o started as root serves as nobody
    os.makedirs(os.path.join(docroot, "www", "redirect"))
    os.makedirs(os.path.join(docroot, "www", "cfg"))
    with open(os.path.join(docroot, "www", "redirect", "profile.xml"), "w") as f:
        f.write(XML)
    port = harness.free_port()
    with open(os.path.join(docroot, "www", "cfg", "common.xml"), "w") as f:
        f.write('<flat-profile>\n  <Profile_Rule ua="na">http://127.0.0.1:%d/cfg/common.xml</Profile_Rule>\n'
                '</flat-profile>\n' % port)
    return port, docroot, static_server(port, os.path.join(docroot, "www"))


def baseline_database(pg):
    """A database migrated by BASELINE_ZTPD itself (its migrations may be older), seeded as the other."""
    bdb = pg.new_database()
    r = subprocess.run([BASELINE_ZTPD, "migrate"], env=harness.ztpd_env(bdb), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pg.psql(bdb, "CREATE EXTENSION pg_stat_statements")
    seed(pg, bdb)
    return bdb


def wal_counters(pg, db):
    """The cluster's WAL so far (pg_stat_wal): bytes, full-page images, flushes to disk."""
    return [int(v) for v in pg.psql(db, "SELECT wal_bytes, wal_fpi, wal_sync FROM pg_stat_wal").split("|")]


def wal_per_request(before, after, n):
    return {"wal_bytes_per_req": (after[0] - before[0]) / n, "wal_fpi_per_req": (after[1] - before[1]) / n,
            "wal_syncs_per_s": (after[2] - before[2]) / SECONDS}


class Contender:
    """A ztpd build serving its own database, and the figures of its runs."""

    def __init__(self, pg, db, results, ztpd=ZTPD, label=""):
        self.pg, self.db, self.results, self.label = pg, db, results, label
        self.port = harness.free_port()
        self.srv = subprocess.Popen([ztpd, "serve"], env=harness.ztpd_env(db, ZTP_LISTEN="127.0.0.1:%d" % self.port,
                                                                          ZTP_ACCESS_LOG=0, ZTP_THREADS=THREADS),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        harness.wait_until(lambda: _up(self.port, "/healthz"), 10, "ztpd")
        self.ticks = Ticks(pg, self.srv.pid)

    def stop(self):
        self.srv.terminate()
        self.srv.wait()


def bench_redirect(pg, contenders, sport):
    """The redirect runs of each contender (a build and its database), in turn at each step: with a
    baseline build, its runs and this build's come one right after the other, each step the other
    first, so that both meet the machine in the same state (when all of one build's runs came
    first, the other's met a fuller cache and the timed checkpoint, and paid for its full-page
    images: a p99 two to four times higher, the same build in either place)."""
    env = {"ZTP_BENCH_FIRST": str(FIRST_MAC), "ZTP_BENCH_COUNT": str(DEVICES)}
    hz = os.sysconf("SC_CLK_TCK")

    def measured(c, conns, script, wenv, perf=False):
        """One wrk run of c: its figures, CPU and WAL per redirect."""
        pg.psql(c.db, "SELECT pg_stat_statements_reset()")
        wal = wal_counters(pg, c.db)
        c.ticks.start()
        perfs = [perf_record([c.srv.pid], "%sztpd-%d.data" % (c.label, conns)),
                 perf_record(c.ticks.pids(), "%spostgres-%d.data" % (c.label, conns))] if perf else []
        z = wrk(c.port, os.path.join(HERE, script), conns, wenv)
        pg_ticks, z_ticks = c.ticks.stop()
        wal_after = wal_counters(pg, c.db)
        for p in perfs:
            if p is not None:
                p.wait()
        if z["non2xx"] > 0:  # a figure made of errors is no figure
            raise SystemExit("ztpd answered %d requests with errors at %d connections" % (z["non2xx"], conns))
        n = z["rps"] * SECONDS
        out = {"ztpd": z, "pg_us_per_req": pg_ticks * 1e6 / hz / n, "ztpd_us_per_req": z_ticks * 1e6 / hz / n}
        out.update(wal_per_request(wal, wal_after, n))
        return out

    def turns(step):
        """The contenders in the order of this step: first one, then the other (what an autovacuum
        started by one run's updates costs falls on the next run, as much on each)."""
        return contenders if step % 2 == 0 else contenders[::-1]

    for c in contenders:
        c.contacts_before = int(pg.psql(c.db, "SELECT sum(contacts) FROM devices"))
    # first, on ztpd's fresh connections: one phone at a time per loop thread (a quiet hour, batches of one)
    for c in turns(0):
        c.results["redirect_2"] = measured(c, 2, "random_mac.lua", env)
    for c in contenders:
        wrk(c.port, os.path.join(HERE, "random_mac.lua"), 64, env)  # warm-up
    for step, conns in ((1, 64), (2, 256)):
        s = wrk(sport, os.path.join(HERE, "static.lua"), conns)
        for c in turns(step):
            r = measured(c, conns, "random_mac.lua", env, perf=conns == 256)
            r.update({"static": s, "ratio_rps": r["ztpd"]["rps"] / s["rps"],
                      "ratio_p99": r["ztpd"]["p99_ms"] / s["p99_ms"], "top_statements": top_statements(pg, c.db)})
            c.results["redirect_%d" % conns] = r
    # repeat contacts: the same phones asking again (every one of them has asked before)
    renv = dict(env, ZTP_BENCH_COUNT=str(min(REPEAT_PHONES, DEVICES)))
    for c in contenders:
        wrk(c.port, os.path.join(HERE, "sequential_mac.lua"), 256, renv)
    for c in turns(3):
        c.results["repeat_256"] = measured(c, 256, "random_mac.lua", renv)
        c.results["ztpd_peak_rss_mb"] = peak_rss_mb(c.srv.pid)
    for c in contenders:
        c.results["contacts_recorded"] = int(pg.psql(c.db, "SELECT sum(contacts) FROM devices")) - c.contacts_before


def bench_storm(pg, db, results, sport):
    """Phones provisioned per second end to end: ztp-phone storm, redirect by ztpd, then the
    provider's profile from a static server."""
    n = env_int("ZTP_BENCH_PHONES", 20000)
    first = 0x00e000000000
    pg.psql(db, """
        SET role ztp_system;
        INSERT INTO providers (name) VALUES ('storm');
        INSERT INTO profiles (provider_id, name, profile_rule)
            SELECT id, 'static', 'http://127.0.0.1:%d/cfg/common.xml' FROM providers WHERE name = 'storm';
        INSERT INTO devices (mac, provider_id, profile_id, status)
            SELECT lpad(to_hex(%d + i), 12, '0')::macaddr, p.provider_id, p.id, 'open'
            FROM generate_series(0, %d - 1) i, profiles p WHERE p.name = 'static';
    """ % (sport, first, n))
    port = harness.free_port()
    srv = subprocess.Popen([ZTPD, "serve"], env=harness.ztpd_env(db, ZTP_LISTEN="127.0.0.1:%d" % port,
                                                                ZTP_ACCESS_LOG=0, ZTP_THREADS=THREADS),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_until(lambda: _up(port, "/healthz"), 10, "ztpd")
    try:
        out = subprocess.run([os.path.join(ROOT, "build", "ztp-phone"), "storm", "--rule",
                              "http://127.0.0.1:%d/redirect/$MA.xml" % port, "--macs", "%012x:%d" % (first, n),
                              "--concurrency", "256", "--retry-delays", "0.5"], capture_output=True, text=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        srv.terminate()
        srv.wait()
    summary["phones_per_s"] = summary["provisioned"] / summary["seconds"]
    results["storm"] = summary


def copy_baseline(pg, db, path, header):
    """psql \\copy of the rows of path (mac, model) into a table like devices:
    its indexes (primary key, owner, profile, the search's trigram index),
    constraints (checks, the profile's foreign key), defaults and fillfactor
    (70), status 'open' as an import sets it.
    No triggers: the devices table's statement triggers (statistics,
    webhooks) and the events an import writes are openztp's own work."""
    pg.psql(db, "CREATE TABLE bench_like (LIKE devices INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS)"
                " WITH (fillfactor = 70);"
                " ALTER TABLE bench_like ALTER status SET DEFAULT 'open',"
                " ADD FOREIGN KEY (profile_id, provider_id) REFERENCES profiles (id, provider_id)")
    t = time.monotonic()
    subprocess.run(["psql", "-X", "-q", pg.url(db), "-c", "\\copy bench_like (mac, model) FROM '%s' WITH (FORMAT csv%s)"
                    % (path, ", HEADER" if header else "")], check=True)
    copy_s = time.monotonic() - t
    pg.psql(db, "DROP TABLE bench_like")
    return copy_s


def bench_import(pg, db, results):
    n = DEVICES
    path = tempfile.mktemp(prefix="ztp-import-", suffix=".csv")
    with open(path, "w") as f:
        f.write("mac,model\n")
        for i in range(n):
            f.write("%012x,CP-8845-3PCC\n" % (0x00c000000000 + i))
    copy_s = copy_baseline(pg, db, path, True)
    key = harness.create_provider(db, "importer")["api_key"]
    # 1,000,000 rows are some 26 MB: more than the 8 MiB a request may carry by default
    srv = harness.Ztpd(db, ZTP_ACCESS_LOG=0, ZTP_MAX_BODY_MB=64)
    srv.env["ZTP_LISTEN"] = "127.0.0.1:%d" % srv.port
    srv.proc = subprocess.Popen([ZTPD, "serve"], env=harness.ztpd_env(db, **srv.env), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    harness.wait_until(lambda: _up(srv.port, "/healthz"), 10, "ztpd")
    with open(path, "rb") as f:
        body = f.read()
    t = time.monotonic()
    r = srv.request("POST", "/v1/devices/import", body, headers={"Content-Type": "text/csv"}, key=key, timeout=900)
    import_s = time.monotonic() - t
    srv.proc.terminate()
    srv.proc.wait()
    os.unlink(path)
    assert r.status == 200 and r.json()["created"] == n, r
    results["import"] = {"rows": n, "seconds": import_s, "psql_copy_seconds": copy_s, "ratio": import_s / copy_s}


def bench_import_job(pg, db, results):
    """JOB_ROWS rows through an import job in parts of at most 8 MiB, against
    psql \\copy of the same rows into a table with the devices table's indexes."""
    n = JOB_ROWS
    first = 0x00d000000000
    path = tempfile.mktemp(prefix="ztp-job-", suffix=".csv")
    with open(path, "w") as f:
        for i in range(n):
            f.write("%012x,CP-8845-3PCC\n" % (first + i))
    copy_s = copy_baseline(pg, db, path, False)
    key = harness.create_provider(db, "job-importer")["api_key"]
    srv = harness.Ztpd(db, binary=ZTPD, ZTP_ACCESS_LOG=0).start()
    t = time.monotonic()
    job = srv.request("POST", "/v1/import-jobs", {"format": "csv"}, key=key).json()["id"]
    part, rows = 0, []
    with open(path) as f:
        size = 0
        for line in f:
            rows.append(line)
            size += len(line)
            if size > (8 << 20) - 4096:
                part += 1
                r = srv.request("PUT", "/v1/import-jobs/%s/parts/%d" % (job, part), "mac,model\n" + "".join(rows),
                                headers={"Content-Type": "text/csv"}, key=key, timeout=900)
                assert r.status == 200, r
                rows, size = [], 0
    if rows:
        part += 1
        r = srv.request("PUT", "/v1/import-jobs/%s/parts/%d" % (job, part), "mac,model\n" + "".join(rows),
                        headers={"Content-Type": "text/csv"}, key=key, timeout=900)
        assert r.status == 200, r
    staged_s = time.monotonic() - t
    assert srv.request("POST", "/v1/import-jobs/%s/start" % job, key=key).status == 202

    def ended():
        j = srv.request("GET", "/v1/import-jobs/" + job, key=key).json()
        return j if j["state"] not in ("open", "running") else None
    j = harness.wait_until(ended, 7200, "the import job")
    job_s = time.monotonic() - t
    srv.proc.terminate()
    srv.proc.wait()
    os.unlink(path)
    assert j["state"] == "succeeded" and j["created"] == n, j
    results["import_job"] = {"rows": n, "parts": part, "seconds": job_s, "staging_seconds": staged_s,
                             "psql_copy_seconds": copy_s, "ratio": job_s / copy_s}


def redeem_run(pg, db, binary, label):
    """Redemptions of distinct valid codes per second by one ztpd binary (wrk, 64 connections, each
    request its own code, MAC and source address), checked against the codes the database holds redeemed."""
    key = harness.create_provider(db, "codes " + label)["api_key"]
    srv = harness.Ztpd(db, binary=binary, ZTP_ACCESS_LOG=0, ZTP_MAX_ACTIVE_CODES=10000000,
                       ZTP_TRUSTED_PROXIES="127.0.0.1").start()
    try:
        prof = srv.post("/v1/profiles", {"name": "c", "profile_rule": "https://p/$MA"}, key=key).json()
        codes = []
        t = time.monotonic()
        while len(codes) < ACTIVATION_CODES:
            codes += [i["code"] for i in srv.post("/v1/activation-codes", {"profile_id": prof["id"], "count": 1000},
                                                 key=key, timeout=60).json()["items"]]
        log("%s: %d codes created in %.1f s" % (label, len(codes), time.monotonic() - t))
        fd, path = tempfile.mkstemp(prefix="ztp-codes-")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(codes) + "\n")
        pg.psql(db, "SELECT pg_stat_statements_reset()")
        ticks = Ticks(pg, srv.proc.pid)
        ticks.start()
        perfs = [perf_record([srv.proc.pid], "ztpd-activate-%s.data" % label),
                 perf_record(ticks.pids(), "postgres-activate-%s.data" % label)]
        try:
            w = wrk(srv.port, os.path.join(HERE, "activate.lua"), 64,
                    {"ZTP_BENCH_CODES": path, "ZTP_BENCH_THREADS": "2"})
        finally:
            os.unlink(path)
        pg_ticks, z_ticks = ticks.stop()
        for p in perfs:
            if p is not None:
                p.wait()
        top = top_statements(pg, db, 12)
        redeemed = int(pg.psql(db, "SELECT count(*) FROM activation_codes"
                                   " WHERE profile_id = '%s' AND redeemed_at IS NOT NULL" % prof["id"]).strip())
        ok = w["requests"] - w["non2xx"]
        log("%s: %s, %d codes redeemed" % (label, w, redeemed))
        # an answer lost when wrk stops is a redemption without its 200 seen
        assert ok <= redeemed, "%s: %d answers 200 but %d codes redeemed" % (label, ok, redeemed)
        assert redeemed < len(codes), "%s: the codes ran out; raise ZTP_BENCH_CODES" % label
        hz = os.sysconf("SC_CLK_TCK")
        return {"redeemed": redeemed, "redemptions_per_s": redeemed / SECONDS, "p99_ms": w["p99_ms"],
                "pg_us_per_redemption": pg_ticks * 1e6 / hz / max(redeemed, 1),
                "ztpd_us_per_redemption": z_ticks * 1e6 / hz / max(redeemed, 1), "top_statements": top}
    finally:
        srv.stop(check=False)


def bench_activation(pg, db, results):
    a = results["activation"] = {"after": redeem_run(pg, db, ZTPD, "after")}
    if BASELINE_ZTPD:
        bdb = baseline_database(pg)  # the same million devices as the run it is compared with
        old = harness.ZTPD
        harness.ZTPD = BASELINE_ZTPD  # create_provider runs the baseline's own CLI on its database
        try:
            a["before"] = redeem_run(pg, bdb, BASELINE_ZTPD, "before")
        finally:
            harness.ZTPD = old
        a["ratio"] = a["after"]["redemptions_per_s"] / a["before"]["redemptions_per_s"]
    # failed guesses from many source addresses (each address stays under the limit)
    srv = harness.Ztpd(db, binary=ZTPD, ZTP_ACCESS_LOG=0).start()
    try:
        fails = [0]
        lock = threading.Lock()

        def guess(i):
            for j in range(9):
                r = srv.post("/activate", {"code": "%016d" % (i * 10 + j), "mac": "00d1%08x" % (i * 10 + j)},
                             source="127.%d.%d.%d" % (10 + i // 60000, (i // 250) % 240, i % 250 + 1))
                if r.status == 404:
                    with lock:
                        fails[0] += 1

        threads = [threading.Thread(target=lambda k=k: [guess(k * 40 + i) for i in range(40)]) for k in range(16)]
        t = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        a["failed_guesses"] = fails[0]
        a["failed_guesses_per_s"] = fails[0] / (time.monotonic() - t)
    finally:
        srv.stop(check=False)


def print_activation(r):
    a = r["activation"]
    x = a["after"]
    line = "  activate  %.0f redemptions/s of distinct codes (%d in %d s, p99 %.1f ms)" % (
        x["redemptions_per_s"], x["redeemed"], SECONDS, x["p99_ms"])
    if "before" in a:
        line += " | before (%s) %.0f/s | ratio %.2fx" % (BASELINE_ZTPD, a["before"]["redemptions_per_s"], a["ratio"])
    print(line)
    print("            CPU per redemption: PostgreSQL %.1f us, ztpd %.1f us (ticks from /proc over the run)"
          % (x["pg_us_per_redemption"], x["ztpd_us_per_redemption"]))
    for ms, calls, rows, query in x["top_statements"]:
        print("    pg_stat_statements: %8s ms %8s calls %9s rows  %s" % (ms, calls, rows, query))
    print("  activate  %.0f failed guesses/s" % a["failed_guesses_per_s"])


def main():
    pg = harness.Postgres()
    with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
        # no timed checkpoint within the bench (the seeding ends with one): runs
        # that met one paid for its full-page images, runs that did not, not
        f.write("\nfsync = on\nsynchronous_commit = on\nshared_buffers = %dMB\nmax_wal_size = 8GB\n"
                "checkpoint_timeout = 1h\n" % SHARED_BUFFERS_MB +
                "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n")
        for setting in PG_SETTINGS:  # last: they override the above
            f.write(setting + "\n")
    pg.start()
    harness.PG = pg
    results = {"devices": DEVICES, "seconds_per_run": SECONDS, "shared_buffers_mb": SHARED_BUFFERS_MB}
    try:
        db = pg.new_database()
        harness.migrate(db)
        pg.psql(db, "CREATE EXTENSION pg_stat_statements")
        if ONLY_IMPORTS:
            bench_import(pg, db, results)
            print_import(results)
            bench_import_job(pg, db, results)
            print_job(results)
            if PROFILE:
                profile(pg, db)
            print(json.dumps(results))
            return
        if ONLY_JOB:
            bench_import_job(pg, db, results)
            print_job(results)
            if PROFILE:
                profile(pg, db)
            print(json.dumps(results))
            return
        if ONLY_ACTIVATION:
            seed(pg, db)  # as in the whole bench: codes redeemed in a database of a million devices
            bench_activation(pg, db, results)
            print_activation(results)
            print(json.dumps(results))
            return
        seed(pg, db)
        sport, docroot, static = make_static()
        try:
            contenders = []
            try:
                if ONLY_REDIRECT and BASELINE_ZTPD:
                    results["before"] = {}
                    contenders.append(Contender(pg, baseline_database(pg), results["before"], BASELINE_ZTPD,
                                                "before-"))
                contenders.append(Contender(pg, db, results))
                bench_redirect(pg, contenders, sport)
            finally:
                for c in contenders:
                    c.stop()
            if not ONLY_REDIRECT:
                bench_storm(pg, db, results, sport)
        finally:
            static.terminate()
            static.wait()
            shutil.rmtree(docroot, ignore_errors=True)
        if not ONLY_REDIRECT:
            bench_import(pg, db, results)
            bench_activation(pg, db, results)
            bench_import_job(pg, db, results)
    finally:
        pg.stop()
    r = results
    print("openztp benchmark (%d devices across %d providers, %d s per run, %d ztpd threads, fsync on, "
          "shared_buffers %d MB%s)" % (DEVICES, PROVIDERS, SECONDS, THREADS, SHARED_BUFFERS_MB,
                                       "".join(", then " + x for x in PG_SETTINGS)))
    for c in (64, 256):
        x = r["redirect_%d" % c]
        print("  redirect  c=%-3d ztpd %8.0f req/s p50 %6.2f ms p99 %6.2f ms | static h2o %8.0f req/s p50 %6.2f ms "
              "p99 %6.2f ms | ratio %.2fx, p99 %.1fx" % (c, x["ztpd"]["rps"], x["ztpd"]["p50_ms"], x["ztpd"]["p99_ms"],
                                                        x["static"]["rps"], x["static"]["p50_ms"],
                                                        x["static"]["p99_ms"], x["ratio_rps"], x["ratio_p99"]))
        print("            CPU per redirect: PostgreSQL %.1f us, ztpd %.1f us (ticks from /proc over the run);"
              " WAL per redirect %.0f bytes, %.3f full-page images; %.0f WAL flushes/s"
              % (x["pg_us_per_req"], x["ztpd_us_per_req"], x["wal_bytes_per_req"], x["wal_fpi_per_req"],
                 x["wal_syncs_per_s"]))
    x = r["redirect_2"]
    print("  redirect  c=2   ztpd %8.0f req/s p50 %6.2f ms p99 %6.2f ms | one phone at a time per loop thread;"
          " CPU per redirect: PostgreSQL %.1f us, ztpd %.1f us; WAL %.0f bytes, %.3f full-page images"
          % (x["ztpd"]["rps"], x["ztpd"]["p50_ms"], x["ztpd"]["p99_ms"], x["pg_us_per_req"], x["ztpd_us_per_req"],
             x["wal_bytes_per_req"], x["wal_fpi_per_req"]))
    x = r["repeat_256"]
    print("  repeat    c=256 ztpd %8.0f req/s p50 %6.2f ms p99 %6.2f ms | %d phones that asked before, asking again;"
          " CPU per redirect: PostgreSQL %.1f us, ztpd %.1f us; WAL %.0f bytes, %.3f full-page images"
          % (x["ztpd"]["rps"], x["ztpd"]["p50_ms"], x["ztpd"]["p99_ms"], min(REPEAT_PHONES, DEVICES),
             x["pg_us_per_req"], x["ztpd_us_per_req"], x["wal_bytes_per_req"], x["wal_fpi_per_req"]))
    for ms, calls, rows, query in r["redirect_256"]["top_statements"]:
        print("    pg_stat_statements c=256: %8s ms %8s calls %9s rows  %s" % (ms, calls, rows, query))
    print("  ztpd peak RSS %.1f MB; contacts recorded %d" % (r["ztpd_peak_rss_mb"], r["contacts_recorded"]))
    if "before" in r:
        print("  before: %s, in a database it migrated, its runs and this build's in turn" % BASELINE_ZTPD)
        for key, what in (("redirect_2", "c=2  "), ("redirect_64", "c=64 "), ("redirect_256", "c=256"),
                          ("repeat_256", "repeat c=256")):
            b, a = r["before"][key], r[key]
            print("    %-12s req/s %8.0f -> %8.0f (%.2fx) | PostgreSQL CPU per redirect %6.1f -> %6.1f us (%.2fx less)"
                  " | ztpd %5.1f -> %5.1f us | p99 %.1f -> %.1f ms"
                  % (what, b["ztpd"]["rps"], a["ztpd"]["rps"], a["ztpd"]["rps"] / b["ztpd"]["rps"],
                     b["pg_us_per_req"], a["pg_us_per_req"], b["pg_us_per_req"] / a["pg_us_per_req"],
                     b["ztpd_us_per_req"], a["ztpd_us_per_req"], b["ztpd"]["p99_ms"], a["ztpd"]["p99_ms"]))
    if ONLY_REDIRECT:
        print(json.dumps(results))
        return
    st = r["storm"]
    print("  storm     %d phones (ztp-phone, 256 at once): %d provisioned in %.1f s, %.0f phones/s, "
          "request p50 %.1f ms p99 %.1f ms" % (st["phones"], st["provisioned"], st["seconds"], st["phones_per_s"],
                                                st["p50_ms"], st["p99_ms"]))
    print_import(r)
    print_activation(r)
    print_job(r)
    print(json.dumps(results))


def profile(pg, db):
    """The statements that took the most time in the run, nested ones included."""
    for ms, calls, rows, query in top_statements(pg, db, 15):
        print("    pg_stat_statements: %8s ms %8s calls %9s rows  %s" % (ms, calls, rows, query))


def print_import(r):
    i = r["import"]
    print("  import    %d rows in %.1f s | psql \\copy into the devices table's indexes %.1f s | ratio %.1fx"
          % (i["rows"], i["seconds"], i["psql_copy_seconds"], i["ratio"]))


def print_job(r):
    j = r["import_job"]
    print("  import job %d rows in %d parts: %.1f s (staging %.1f s) | psql \\copy into the devices table's indexes"
          " %.1f s | ratio %.1fx" % (j["rows"], j["parts"], j["seconds"], j["staging_seconds"],
                                     j["psql_copy_seconds"], j["ratio"]))


if __name__ == "__main__":
    main()
