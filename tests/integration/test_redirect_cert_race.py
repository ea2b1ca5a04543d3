"""A redirect batch waiting on a device's lock while its profile becomes certificate-only:
the answer sent is checked against the profile it carries, never handed to a phone without a certificate."""
import threading
import unittest
import uuid

from harness import ServerTest, wait_until


class CertRaceTest(ServerTest):
    server_env = {"ZTP_THREADS": "1"}

    def blocked_redirect(self, mac, act):
        """GET /redirect while another transaction holds the device's row. act() runs while the batch
        waits and returns SQL that the holding transaction runs before it commits."""
        lock = self.pg.psql_session(self.db)
        lock.stdin.write("BEGIN; SELECT 1 FROM devices WHERE mac = '%s' FOR UPDATE;\n" % mac)
        lock.stdin.flush()
        wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_stat_activity WHERE state = "
                                        "'idle in transaction' AND query LIKE '%FOR UPDATE%'") == "1", 20, "lock")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=self.srv.get("/redirect/%s.xml" % mac, timeout=60)))
        t.start()
        wait_until(lambda: self.pg.psql(self.db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                        "'Lock' AND query LIKE '%unnest%'") == "1", 20, "batch waiting")
        lock.stdin.write(act() + " COMMIT;\n")
        lock.stdin.close()
        lock.wait(20)
        t.join(60)
        self.assertFalse(t.is_alive(), "the redirect never answered")
        return out["r"]

    def claimed(self, mac):
        """A provider's key, with mac claimed on a plain profile."""
        key = self.provider()["api_key"]
        p = self.srv.post("/v1/profiles", {"name": "p-" + uuid.uuid4().hex[:8],
                                           "profile_rule": "https://prov.example/$MA.xml"}, key=key).json()
        self.assertEqual(self.srv.put("/v1/devices/" + mac, {"profile_id": p["id"]}, key=key).status, 201)
        return key, p

    def test_secret_added_while_batch_waits(self):
        mac = "0c1167a00001"
        key, p = self.claimed(mac)

        def patch():
            r = self.srv.patch("/v1/profiles/" + p["id"], {"params": {"Admin_Password": "s3cret-leak"},
                                                           "require_certificate": True}, key=key)
            self.assertEqual(r.status, 200, r)
            return ""

        r = self.blocked_redirect(mac, patch)
        # contract 3: a profile with require_certificate answers its devices only with a certificate;
        # a secret is never handed to whoever can count MACs
        self.assertNotIn("s3cret-leak", r.text, r)
        self.assertEqual(r.status, 404, r)

    def test_device_moved_to_new_certified_profile_while_batch_waits(self):
        mac = "0c1167a00002"
        key, _ = self.claimed(mac)

        def repoint():
            # made after the batch's snapshot, by the transaction that holds the row
            q = self.srv.post("/v1/profiles", {"name": "q-" + uuid.uuid4().hex[:8],
                                               "profile_rule": "https://prov.example/$MA.xml",
                                               "params": {"Admin_Password": "s3cret-q"},
                                               "require_certificate": True}, key=key)
            self.assertEqual(q.status, 201, q)
            return "UPDATE devices SET profile_id = '%s' WHERE mac = '%s';" % (q.json()["id"], mac)

        r = self.blocked_redirect(mac, repoint)
        self.assertNotIn("s3cret-q", r.text, r)
        self.assertEqual(r.status, 404, r)


if __name__ == "__main__":
    unittest.main()
