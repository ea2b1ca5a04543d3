#!/usr/bin/env python3
"""GET /v1/devices?q= on a million devices: EXPLAIN (ANALYZE) before and after.

A scratch PostgreSQL, migrated; ZTP_BENCH_DEVICES devices (default 1,000,000)
of one provider over four vendor prefixes, and 10,000 of another. Each search
runs three times, the best EXPLAIN (ANALYZE) execution time kept:
  no index  the one statement 0013's ztp_device_search ran (as ztp_system,
            the tenant named), devices_mac_trgm dropped;
  0013      the same with the index, the planner choosing between the
            trigram index and MAC order;
  0014      ztp_device_search now: a window of 4,096 devices in MAC order,
            then the trigram index for sparse q;
  list      the whole list as ztpd runs it (SELECT * FROM ztp_device_list(...)
            as ztp_tenant under row-level security: 0014 and the page's JSON);
each first page, then a page deep into the matches (cursor at the 90th
percentile of them). And a page deep into the fleet without q through the
per-call plan and through the first generic-plan one (0002_provider_reads.sql).

Usage: python3 tests/bench/device_search.py   (about 2-4 minutes)
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402

DEVICES = int(os.environ.get("ZTP_BENCH_DEVICES", "1000000"))
SEARCHES = [("6 digits, middle", "7e3a9c"), ("4 digits, suffix-like", "3615"), ("3 digits", "a1b"),
            ("vendor prefix", "0004f2"), ("12 digits, absent", "c0ffee123456")]
# main's list, planned once for every filter (0002_provider_reads.sql)
OLD_LIST = """
CREATE FUNCTION bench_old_list(p_status text, p_profile uuid, p_after macaddr, p_limit int,
                               OUT status int, OUT body json) LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT d FROM devices d
        WHERE d.provider_id = ztp_tenant()
          AND (p_status IS NULL OR d.status = p_status)
          AND (p_profile IS NULL OR d.profile_id = p_profile)
          AND (p_after IS NULL OR d.mac > p_after)
        ORDER BY d.mac LIMIT p_limit + 1
    ), numbered AS (
        SELECT d, row_number() OVER (ORDER BY (d).mac) AS n FROM page
    )
    SELECT 200, json_build_object(
        'items', coalesce((SELECT json_agg(ztp_device_json(d) ORDER BY n) FROM numbered WHERE n <= p_limit),
                          '[]'::json),
        'next_cursor', (SELECT ztp_mac_text((d).mac) FROM numbered WHERE n = p_limit
                        AND EXISTS (SELECT 1 FROM numbered WHERE n > p_limit)))
$$;
GRANT EXECUTE ON FUNCTION bench_old_list TO ztp_tenant;
"""


def log(msg):
    print(msg, flush=True)


def as_tenant(tenant, sql):
    return "SET role ztp_tenant; SET app.tenant = '%s'; %s" % (tenant, sql)


def best_ms(pg, db, tenant, call):
    times = []
    for _ in range(3):
        out = pg.psql(db, as_tenant(tenant, "EXPLAIN (ANALYZE, TIMING OFF) " + call))
        times.append(float(re.search(r"Execution Time: ([0-9.]+) ms", out).group(1)))
    return min(times)


def best_system_ms(pg, db, sql, tenant=None):
    times = []
    for _ in range(3):
        out = pg.psql(db, "SET role ztp_system; %sEXPLAIN (ANALYZE, TIMING OFF) %s"
                      % ("SET app.tenant = '%s'; " % tenant if tenant else "", sql))
        times.append(float(re.search(r"Execution Time: ([0-9.]+) ms", out).group(1)))
    return min(times)


def cases(pg, db, a, b):
    """(label, tenant, q, cursor): first pages, then pages deep into each q's matches."""
    out = [(label, a, q, None) for label, q in SEARCHES]
    out.append(("other provider (10,000), 3 digits", b, "a1b", None))
    for label, q in SEARCHES[:4]:
        n = int(pg.psql(db, "SELECT count(*) FROM devices WHERE provider_id = '%s' AND ztp_mac_text(mac) LIKE '%%%s%%'"
                            % (a, q)))
        deep = pg.psql(db, "SELECT ztp_mac_text(mac) FROM devices WHERE provider_id = '%s' AND ztp_mac_text(mac)"
                           " LIKE '%%%s%%' ORDER BY mac OFFSET %d LIMIT 1" % (a, q, n * 9 // 10))
        if n >= 200:
            out.append(("%s, 90%% of %d matches in" % (label, n), a, q, deep))
    return out


def searches_0014(pg, db, cases_):
    return {label: best_system_ms(pg, db, "SELECT ztp_device_search(NULL, NULL, NULL, '%s', %s, 100)"
                                  % (q, "'%s'" % cursor if cursor else "NULL"), tenant)
            for label, tenant, q, cursor in cases_}


def searches(pg, db, cases_):
    return {label: best_ms(pg, db, tenant, "SELECT * FROM ztp_device_list(NULL, NULL, NULL, '%s', %s, 100)"
                           % (q, "'%s'" % cursor if cursor else "NULL"))
            for label, tenant, q, cursor in cases_}


def searches_0013(pg, db, cases_):
    """The statement 0013's ztp_device_search planned and ran per call."""
    return {label: best_system_ms(pg, db, "SELECT d.mac FROM devices d WHERE d.provider_id = '%s'"
                                  " AND ztp_mac_text(d.mac) LIKE '%%%s%%'%s ORDER BY d.mac LIMIT 101"
                                  % (tenant, q, " AND d.mac > '%s'" % cursor if cursor else ""))
            for label, tenant, q, cursor in cases_}


def main():
    pg = harness.postgres()
    try:
        db = pg.new_database()
        harness.migrate(db)
        a = harness.create_provider(db, "bench-a")["id"]
        b = harness.create_provider(db, "bench-b")["id"]
        t0 = time.time()
        pg.psql(db, "DROP INDEX devices_mac_trgm")
        pg.psql(db, "INSERT INTO devices (mac, provider_id, status)"
                    " SELECT (substr('0004f200562b805ec064167f', 1 + 6 * (i %% 4), 6)"
                    " || substr(md5(i::text), 1, 6))::macaddr, '%s', 'open'"
                    " FROM generate_series(1, %d) i ON CONFLICT DO NOTHING" % (a, DEVICES))
        pg.psql(db, "INSERT INTO devices (mac, provider_id, status)"
                    " SELECT ('00a0bc' || substr(md5('b' || i), 1, 6))::macaddr, '%s', 'open'"
                    " FROM generate_series(1, 10000) i ON CONFLICT DO NOTHING" % b)
        log("devices: %s in %.0f s" % (pg.psql(db, "SELECT count(*) FROM devices"), time.time() - t0))
        pg.psql(db, "VACUUM ANALYZE devices")
        todo = cases(pg, db, a, b)
        before = searches_0013(pg, db, todo)
        t0 = time.time()
        pg.psql(db, "CREATE INDEX devices_mac_trgm ON devices USING gin (ztp_mac_text(mac) gin_trgm_ops)")
        log("index build: %.1f s, %s" % (time.time() - t0, pg.psql(
            db, "SELECT pg_size_pretty(pg_relation_size('devices_mac_trgm'))")))
        pg.psql(db, "ANALYZE devices")
        planner = searches_0013(pg, db, todo)
        after = searches_0014(pg, db, todo)
        whole = searches(pg, db, todo)
        log("\nsearch (limit 100)                                no index       0013       0014       list")
        for label in after:
            log("  %-44s %8.1f ms %7.1f ms %7.1f ms %7.1f ms"
                % (label, before[label], planner[label], after[label], whole[label]))
        pg.psql(db, OLD_LIST)
        deep = pg.psql(db, "SELECT ztp_mac_text(mac) FROM devices WHERE provider_id = '%s' ORDER BY mac"
                           " OFFSET %d LIMIT 1" % (a, DEVICES * 9 // 10))
        old = best_ms(pg, db, a, "SELECT * FROM bench_old_list(NULL, NULL, '%s', 100)" % deep)
        new = best_ms(pg, db, a, "SELECT * FROM ztp_device_list(NULL, NULL, NULL, NULL, '%s', 100)" % deep)
        log("\npage at the 90th percentile (cursor %s): main's generic plan %.1f ms, per-call plan %.1f ms"
            % (deep, old, new))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
