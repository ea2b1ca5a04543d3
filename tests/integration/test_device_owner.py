"""A device's owner is always a provider (migration 0020): the rule the
foreign key kept, now kept by triggers once per statement, with its locks."""
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

    def macs(self, n):
        base = uuid.uuid4().int & 0xffffffff
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

    def waiting_on_a_lock(self, query_start):
        return self.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE '%s%%'" % query_start) == "1"

    def test_a_provider_deleted_while_its_devices_are_inserted_waits_then_releases_them(self):
        p = self.provider()
        (mac,) = self.macs(1)
        insert = self.pg.psql_session(self.db)
        insert.stdin.write("BEGIN; INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open');\n"
                           % (mac, p))
        insert.stdin.flush()
        delete = None
        try:
            wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                                        " AND query LIKE 'INSERT INTO devices%%%s%%'" % mac) == "1", 30,
                       "the insert, uncommitted")
            delete = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg.url(self.db), "-c",
                                       "DELETE FROM providers WHERE id = '%s'" % p],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wait_until(lambda: self.waiting_on_a_lock("DELETE FROM providers"), 30, "the delete to wait")
            insert.stdin.write("COMMIT;\n")
            insert.stdin.flush()
            _, err = delete.communicate(timeout=60)
            self.assertEqual(delete.returncode, 0, err)
        finally:
            insert.stdin.close()
            insert.wait(30)
            if delete and delete.poll() is None:
                delete.kill()
        self.assertEqual(self.sql("SELECT coalesce(provider_id::text, '-') FROM devices WHERE mac = '%s'" % mac), "-")
        self.assertEqual(self.orphans(), "0")

    def test_an_insert_for_a_provider_being_deleted_waits_then_is_refused(self):
        p = self.provider()
        (mac,) = self.macs(1)
        delete = self.pg.psql_session(self.db)
        delete.stdin.write("BEGIN; DELETE FROM providers WHERE id = '%s';\n" % p)
        delete.stdin.flush()
        insert = None
        try:
            wait_until(lambda: self.sql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                                        " AND query LIKE 'DELETE FROM providers%%%s%%'" % p) == "1", 30,
                       "the delete, uncommitted")
            insert = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                                       self.pg.url(self.db), "-c",
                                       "INSERT INTO devices (mac, provider_id, status) VALUES ('%s', '%s', 'open')"
                                       % (mac, p)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wait_until(lambda: self.waiting_on_a_lock("INSERT INTO devices"), 30, "the insert to wait")
            delete.stdin.write("COMMIT;\n")
            delete.stdin.flush()
            _, err = insert.communicate(timeout=60)
        finally:
            delete.stdin.close()
            delete.wait(30)
            if insert and insert.poll() is None:
                insert.kill()
        self.assertNotEqual(insert.returncode, 0)
        self.assertIn("23503", err)
        self.assertEqual(self.sql("SELECT count(*) FROM devices WHERE mac = '%s'" % mac), "0")
        self.assertEqual(self.orphans(), "0")


if __name__ == "__main__":
    unittest.main()
