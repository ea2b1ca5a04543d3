"""A device's owner is always a provider (migration 0020): the rule the
foreign key kept, now kept by triggers once per statement, with its locks."""
import itertools
import os
import subprocess
import unittest
import uuid

from harness import create_provider, migrate, postgres, wait_until


class DeviceOwnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres()
        cls.db = cls.pg.new_database()
        migrate(cls.db)

    def sql(self, text):
        return self.pg.psql(self.db, text)

    def refused(self, text):
        """Runs text in psql; returns its error (the SQLSTATE first), failing if it succeeded."""
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                            self.pg.url(self.db), "-c", text], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, "accepted: " + text)
        return r.stderr

    def provider(self):
        return create_provider(self.db, "p-" + uuid.uuid4().hex[:8])["id"]

    _next = itertools.count()

    def macs(self, n):
        """n MACs no other test of the class uses."""
        base = next(DeviceOwnerTest._next) << 16
        return ["02:00:%02x:%02x:%02x:%02x" % tuple((base + i).to_bytes(4, "big")) for i in range(n)]

    def orphans(self):
        return self.sql("SELECT count(*) FROM devices d WHERE provider_id IS NOT NULL"
                        " AND NOT EXISTS (SELECT 1 FROM providers p WHERE p.id = d.provider_id)")

    def test_an_insert_naming_a_missing_provider_is_refused_whole(self):
        p = self.provider()
        good, bad = self.macs(2)
        err = self.refused("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open'), ('%s', '%s', 'open')"
                           % (good, p, bad, uuid.uuid4()))
        self.assertIn("23503", err)
        self.assertEqual(self.sql("SELECT count(*) FROM devices WHERE mac IN ('%s', '%s')" % (good, bad)), "0")
        # many rows, one owner: accepted (and a device nobody owns needs no provider)
        rows = ",".join("('%s', '%s', 'open')" % (m, p) for m in self.macs(500))
        self.sql("INSERT INTO devices (mac, provider_id, status) VALUES %s, ('%s', NULL, 'open')" % (rows, good))
        self.assertEqual(self.sql("SELECT count(*) FROM devices WHERE provider_id = '%s'" % p), "500")

    def test_an_owner_change_to_a_missing_provider_is_refused(self):
        p, q = self.provider(), self.provider()
        (mac,) = self.macs(1)
        self.sql("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p))
        self.assertIn("23503", self.refused("UPDATE devices SET provider_id = '%s' WHERE mac = '%s'"
                                            % (uuid.uuid4(), mac)))
        # a MAC changed with its owner: no join on the MAC lets it through
        (other,) = self.macs(1)
        self.assertIn("23503", self.refused("UPDATE devices SET mac = '%s', provider_id = '%s' WHERE mac = '%s'"
                                            % (other, uuid.uuid4(), mac)))
        self.sql("UPDATE devices SET provider_id = '%s' WHERE mac = '%s'" % (q, mac))
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), q)

    def test_deleting_a_provider_releases_its_devices_only(self):
        p, q = self.provider(), self.provider()
        profile = self.sql("INSERT INTO profiles (provider_id, name, profile_rule) VALUES ('%s', 'x', 'https://a/')"
                           " RETURNING id" % p).splitlines()[0]
        mine, theirs = self.macs(2)
        self.sql("INSERT INTO devices (mac, provider_id, profile_id, status) VALUES ('%s', '%s', '%s', 'open'),"
                 " ('%s', '%s', NULL, 'open')" % (mine, p, profile, theirs, q))
        self.sql("DELETE FROM providers WHERE id = '%s'" % p)
        self.assertEqual(self.sql("SELECT coalesce(provider_id::text, '-'), coalesce(profile_id::text, '-')"
                                  " FROM devices WHERE mac = '%s'" % mine), "-|-")
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % theirs), q)
        self.assertEqual(self.orphans(), "0")

    def test_a_provider_owning_devices_keeps_its_id(self):
        # providers made bare (no API key, whose own foreign key would refuse the change first)
        p, spare = (self.sql("INSERT INTO providers (name) VALUES ('bare') RETURNING id").splitlines()[0]
                    for _ in range(2))
        (mac,) = self.macs(1)
        self.sql("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p))
        self.assertIn("23503", self.refused("UPDATE providers SET id = gen_random_uuid() WHERE id = '%s'" % p))
        self.sql("UPDATE providers SET id = gen_random_uuid() WHERE id = '%s'" % spare)  # it owns nothing
        self.assertEqual(self.orphans(), "0")

    def counted(self, provider):
        """provider's devices by status as the statistics have them (folded or not): "status:n,..."."""
        return self.sql(
            "SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM ("
            " SELECT status, sum(delta) AS n FROM ("
            "  SELECT status, n AS delta FROM device_status_totals WHERE provider_id = '%s' UNION ALL"
            "  SELECT status, delta FROM device_status_deltas WHERE provider_id = '%s' UNION ALL"
            "  SELECT e.status, e.n FROM device_stat_counts c,"
            "   ztp_stat_count_entries(c.providers, c.statuses, c.contacts) e"
            "  WHERE e.provider_id = '%s' AND e.status IS NOT NULL) x GROUP BY 1 HAVING sum(delta) <> 0) y"
            % (provider, provider, provider))

    def test_an_update_of_a_whole_fleet_takes_time_in_proportion_to_its_rows(self):
        # 0022's statistics trigger joined the statement's old and new rows
        # by a nested loop: 16,000 rows took 37 s, these 30,000 over two
        # minutes; now well under a second (the timeout is the deadline)
        p, q = self.provider(), self.provider()
        base = 0x020000000000 + (next(DeviceOwnerTest._next) << 16)
        self.sql("INSERT INTO devices (mac, provider_id, status) SELECT lpad(to_hex(%d + i), 12, '0')::macaddr,"
                 " '%s', 'open' FROM generate_series(0, 29999) i" % (base, p))
        self.sql("SET statement_timeout = '60s'; UPDATE devices SET status = 'pending' WHERE provider_id = '%s'" % p)
        self.assertEqual(self.counted(p), "pending:30000")
        # a move earlier in the transaction: the statement after it counts by MAC again
        self.sql("SET statement_timeout = '60s'; BEGIN;"
                 " UPDATE devices SET provider_id = '%s' WHERE mac = lpad(to_hex(%d), 12, '0')::macaddr;"
                 " UPDATE devices SET status = 'acquired' WHERE provider_id IN ('%s', '%s'); COMMIT" % (q, base, p, q))
        self.assertEqual(self.counted(p), "acquired:29999")
        self.assertEqual(self.counted(q), "acquired:1")

    def race(self, first, second, tenants=(None, None)):
        """Runs `first` in a transaction left open, then `second` in a
        session of its own until it waits on a lock, then commits `first`.
        Returns second's exit status, error output and output. `tenants`:
        the provider each session acts for (app.tenant), if any."""
        env = [dict(os.environ, PGOPTIONS="-c app.tenant=" + t) if t else None for t in tenants]
        held = self.pg.psql_session(self.db, env[0])
        held.stdin.write("BEGIN; %s;\n" % first)
        held.stdin.flush()
        waiting = None
        try:
            wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                                        " AND query = '%s;'" % first.replace("'", "''")) == "1", 30,
                       "the first statement, uncommitted")
            waiting = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v",
                                        "VERBOSITY=verbose", self.pg.url(self.db), "-c", second],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env[1])
            wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                        " AND query = '%s'" % second.replace("'", "''")) == "1", 30,
                       "the second statement to wait")
            held.stdin.write("COMMIT;\n")
            held.stdin.flush()
            out, err = waiting.communicate(timeout=60)
            return waiting.returncode, err, out.strip()
        finally:
            held.stdin.close()
            held.wait(30)
            if waiting and waiting.poll() is None:
                waiting.kill()

    def test_a_provider_deleted_while_its_devices_are_inserted_waits_then_releases_them(self):
        p = self.provider()
        (mac,) = self.macs(1)
        rc, err, _ = self.race("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p),
                            "DELETE FROM providers WHERE id = '%s'" % p)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.sql("SELECT coalesce(provider_id::text, '-') FROM devices WHERE mac = '%s'" % mac), "-")
        self.assertEqual(self.orphans(), "0")

    def test_an_insert_for_a_provider_being_deleted_waits_then_is_refused(self):
        p = self.provider()
        (mac,) = self.macs(1)
        rc, err, _ = self.race("DELETE FROM providers WHERE id = '%s'" % p,
                            "INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p))
        self.assertNotEqual(rc, 0)
        self.assertIn("23503", err)
        self.assertEqual(self.sql("SELECT count(*) FROM devices WHERE mac = '%s'" % mac), "0")
        self.assertEqual(self.orphans(), "0")


    def test_a_provider_deleted_while_a_device_moves_to_it_waits_then_releases_it(self):
        p, q = self.provider(), self.provider()
        (mac,) = self.macs(1)
        self.sql("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p))
        rc, err, _ = self.race("UPDATE devices SET provider_id = '%s' WHERE mac = '%s'" % (q, mac),
                            "DELETE FROM providers WHERE id = '%s'" % q)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.sql("SELECT coalesce(provider_id::text, '-') FROM devices WHERE mac = '%s'" % mac), "-")
        self.assertEqual(self.orphans(), "0")

    def test_a_move_to_a_provider_being_deleted_waits_then_is_refused(self):
        p, q = self.provider(), self.provider()
        (mac,) = self.macs(1)
        self.sql("INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')" % (mac, p))
        rc, err, _ = self.race("DELETE FROM providers WHERE id = '%s'" % q,
                            "UPDATE devices SET provider_id = '%s' WHERE mac = '%s'" % (q, mac))
        self.assertNotEqual(rc, 0)
        self.assertIn("23503", err)
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), p)
        self.assertEqual(self.orphans(), "0")

    @staticmethod
    def claim(mac, fields="{}"):
        """PUT /v1/devices/{mac} as the API runs it, for the session's tenant."""
        return "SELECT status FROM ztp_device_put('%s', '%s')" % (mac, fields)

    def test_two_providers_claiming_a_new_mac_at_once_one_gets_it_the_other_409(self):
        # nothing to lock before the first claim's insert: the second waits on
        # that insert, then must find the row taken rather than take it over
        p, q = self.provider(), self.provider()
        (mac,) = self.macs(1)
        rc, err, out = self.race(self.claim(mac), self.claim(mac), (p, q))
        self.assertEqual((rc, out), (0, "409"), err)
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), p)
        self.assertEqual(self.sql("SELECT count(*) FROM device_events WHERE mac = '%s'" % mac), "1")
        self.assertEqual(self.sql("SELECT count(*) FROM audit_events WHERE action = 'device.claim'"
                                  " AND target = '%s'" % mac.replace(":", "")), "1")

    def test_a_provider_claiming_a_new_mac_twice_at_once_gets_201_then_200(self):
        p = self.provider()
        (mac,) = self.macs(1)
        rc, err, out = self.race(self.claim(mac, '{"model": "one"}'), self.claim(mac, '{"model": "two"}'), (p, p))
        self.assertEqual((rc, out), (0, "200"), err)
        self.assertEqual(self.sql("SELECT provider_id || ' ' || model FROM devices WHERE mac = '%s'" % mac),
                         p + " two")

    def test_two_providers_claiming_a_released_mac_at_once_one_gets_it_the_other_409(self):
        p, q = self.provider(), self.provider()
        (mac,) = self.macs(1)
        self.sql("INSERT INTO devices (mac, status) VALUES ('%s', 'unavailable')" % mac)
        rc, err, out = self.race(self.claim(mac), self.claim(mac), (q, p))
        self.assertEqual((rc, out), (0, "409"), err)
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), q)

    def test_a_short_code_redeemed_for_a_mac_being_claimed_is_refused(self):
        # the bind of a short code (0030) had 0028's flaw: it took the row the claim inserted
        p, q = self.provider(), self.provider()
        profile = self.sql("INSERT INTO profiles (provider_id, name, profile_rule) VALUES ('%s', 's', 'https://x/')"
                           " RETURNING id" % p).split()[0]
        (mac,) = self.macs(1)
        bind = "SELECT ztp_bind_device('%s', '%s', '%s', NULL, 'short_code')" % (mac, p, profile)
        rc, err, out = self.race(self.claim(mac), bind, (q, None))
        self.assertEqual((rc, out), (0, "f"), err)
        self.assertEqual(self.sql("SELECT provider_id FROM devices WHERE mac = '%s'" % mac), q)
        # redeemed as a short code: refused, and the code's hourly claims not spent
        short = str(uuid.uuid4().int)[:9]
        self.sql("UPDATE profiles SET short_code = '%s' WHERE id = '%s'" % (short, profile))
        (mac,) = self.macs(1)
        redeem = "SELECT outcome FROM ztp_redeem_short('%s', '%s', NULL)" % (short, mac)
        rc, err, out = self.race(self.claim(mac), redeem, (q, None))
        self.assertEqual((rc, out), (0, "conflict"), err)
        self.assertEqual(self.sql("SELECT count(*) FROM short_code_claims WHERE profile_id = '%s'" % profile), "0")
        # bound while its own provider claims it: bound, one device, counted once
        (mac,) = self.macs(1)
        bind = "SELECT ztp_bind_device('%s', '%s', '%s', NULL, 'short_code')" % (mac, p, profile)
        rc, err, out = self.race(self.claim(mac), bind, (p, None))
        self.assertEqual((rc, out), (0, "t"), err)
        self.assertEqual(self.sql("SELECT provider_id || ' ' || profile_id || ' ' || contacts FROM devices"
                                  " WHERE mac = '%s'" % mac), "%s %s 1" % (p, profile))
        # its events: the claim, then the bind from the status the claim left
        self.assertEqual(self.sql("SELECT string_agg(coalesce(from_status, '-') || '>' || to_status, ' ' ORDER BY id)"
                                  " FROM device_events WHERE mac = '%s'" % mac), "->open open>custom_pending")


if __name__ == "__main__":
    unittest.main()
