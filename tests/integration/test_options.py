"""Configuration that changes behaviour: HTTPS, unnamed statements, trusted proxies."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest
import uuid

from harness import Ztpd, create_provider, free_port, migrate, postgres, ztpd_cmd

RULE = "https://prov.example/$MA.xml"


def setup_db():
    pg = postgres()
    db = pg.new_database()
    migrate(db)
    return pg, db


class TlsTest(unittest.TestCase):
    def test_https_listener_serves_tls12_or_later(self):
        pg, db = setup_db()
        d = tempfile.mkdtemp()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-days", "1", "-keyout", key, "-out", cert], check=True, capture_output=True)
        port = free_port()
        srv = Ztpd(db, ZTP_TLS_LISTEN="127.0.0.1:%d" % port, ZTP_TLS_CERT=cert, ZTP_TLS_KEY=key).start()
        try:
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertIn(conn.sock.version(), ("TLSv1.2", "TLSv1.3"))
            conn.close()
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname = False
            old.verify_mode = ssl.CERT_NONE
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            with self.assertRaises((ssl.SSLError, OSError)):
                c = http.client.HTTPSConnection("127.0.0.1", port, context=old, timeout=30)
                c.request("GET", "/healthz")
                c.getresponse()
        finally:
            srv.stop()
            shutil.rmtree(d)

    def test_bad_certificate_is_one_clear_line(self):
        pg, db = setup_db()
        from harness import ztpd_cmd
        # ztpd binds ZTP_LISTEN before it reads the certificate: not the default port, which
        # another program on the machine (a `make run`) may hold ("already in use" instead)
        r = ztpd_cmd(db, "serve", ZTP_TLS_LISTEN="127.0.0.1:%d" % free_port(), ZTP_TLS_CERT="/nonexistent",
                     ZTP_TLS_KEY="/nonexistent", ZTP_LISTEN="127.0.0.1:%d" % free_port())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ZTP_TLS_CERT", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


class UnnamedStatementsTest(unittest.TestCase):
    def test_everything_works_without_prepared_statements(self):
        pg, db = setup_db()
        key = create_provider(db, "pgbouncer")["api_key"]
        srv = Ztpd(db, ZTP_DB_PREPARE=0).start()
        try:
            p = srv.post("/v1/profiles", {"name": "m", "profile_rule": RULE}, key=key)
            self.assertEqual(p.status, 201, p)
            self.assertEqual(srv.put("/v1/devices/00562b090001", {"profile_id": p.json()["id"]}, key=key).status, 201)
            for _ in range(3):
                self.assertEqual(srv.get("/redirect/00562b090001.xml").status, 200)
            self.assertEqual(srv.get("/readyz").status, 200)
            named = pg.psql(db, "SELECT count(*) FROM pg_prepared_statements")
            self.assertEqual(named, "0")
        finally:
            srv.stop()


class TrustedProxyTest(unittest.TestCase):
    def test_forwarded_for_counts_only_behind_a_trusted_proxy(self):
        pg, db = setup_db()
        key = create_provider(db, "proxied")["api_key"]
        srv = Ztpd(db, ZTP_TRUSTED_PROXIES="127.9.0.1").start()
        try:
            for i in range(10):
                r = srv.post("/activate", {"code": "%016d" % i, "mac": "0056%08x" % i}, source="127.9.0.1",
                             headers={"X-Forwarded-For": "198.51.100.7, 10.1.1.1"})
                self.assertEqual(r.status, 404)
            blocked = srv.post("/activate", {"code": "1" * 16, "mac": "0056ee000001"}, source="127.9.0.1",
                               headers={"X-Forwarded-For": "10.1.1.1"})
            self.assertEqual(blocked.status, 429)
            other = srv.post("/activate", {"code": "1" * 16, "mac": "0056ee000002"}, source="127.9.0.1",
                             headers={"X-Forwarded-For": "10.1.1.2"})
            self.assertEqual(other.status, 404)
            # an untrusted peer's header is ignored: its own address counts
            spoof = srv.post("/activate", {"code": "1" * 16, "mac": "0056ee000003"}, source="127.9.0.2",
                             headers={"X-Forwarded-For": "10.1.1.1"})
            self.assertEqual(spoof.status, 404)
            # and the redirect records the client's address
            p = srv.post("/v1/profiles", {"name": "m", "profile_rule": RULE}, key=key).json()
            srv.put("/v1/devices/00562b090002", {"profile_id": p["id"]}, key=key)
            srv.get("/redirect/00562b090002.xml", source="127.9.0.1", headers={"X-Forwarded-For": "10.2.2.2"})
            self.assertEqual(pg.psql(db, "SELECT host(last_addr) FROM devices WHERE mac = '00562b090002'"), "10.2.2.2")
        finally:
            srv.stop()


class LimitsTest(unittest.TestCase):
    def test_outstanding_codes_are_capped(self):
        pg, db = setup_db()
        key = create_provider(db, "capped")["api_key"]
        srv = Ztpd(db, ZTP_MAX_ACTIVE_CODES=5).start()
        try:
            p = srv.post("/v1/profiles", {"name": "m", "profile_rule": RULE}, key=key).json()
            self.assertEqual(srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 3}, key=key).status, 201)
            r = srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 3}, key=key)
            self.assertEqual(r.status, 422, r)
            self.assertIn("at most 5", r.json()["detail"])
            self.assertEqual(srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 2}, key=key).status, 201)
        finally:
            srv.stop()

    def test_a_provider_has_at_most_1000_profiles(self):
        pg, db = setup_db()
        prov = create_provider(db, "many")
        pg.psql(db, "SET role ztp_system; INSERT INTO profiles (provider_id, name, profile_rule)"
                    " SELECT '%s', 'p' || i, 'http://x/' FROM generate_series(1, 999) i" % prov["id"])
        srv = Ztpd(db).start()
        try:
            self.assertEqual(srv.post("/v1/profiles", {"name": "last", "profile_rule": RULE},
                                      key=prov["api_key"]).status, 201)
            r = srv.post("/v1/profiles", {"name": "one-too-many", "profile_rule": RULE}, key=prov["api_key"])
            self.assertEqual(r.status, 422, r)
            self.assertIn("1000", r.json()["detail"])
        finally:
            srv.stop()


class SecretRotationTest(unittest.TestCase):
    def test_keys_and_codes_survive_a_rotation_while_the_old_secret_is_previous(self):
        from harness import SECRET
        new = "ab" * 32
        pg, db = setup_db()
        prov = create_provider(db, "rotating")
        key = prov["api_key"]
        srv = Ztpd(db).start()
        try:
            p = srv.post("/v1/profiles", {"name": "m", "profile_rule": RULE}, key=key).json()
            codes = srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 2}, key=key,
                             headers={"Idempotency-Key": "rotate-1"}).json()["items"]
        finally:
            srv.stop()
        srv = Ztpd(db, ZTP_SECRET=new, ZTP_SECRET_PREVIOUS=SECRET).start()
        try:
            self.assertEqual(srv.get("/v1/profiles", key=key).status, 200)
            r = srv.post("/activate", {"code": codes[0]["code"], "mac": "00562b0a0a01"})
            self.assertEqual(r.status, 200, r)
            replay = srv.post("/v1/activation-codes", {"profile_id": p["id"], "count": 2}, key=key,
                              headers={"Idempotency-Key": "rotate-1"})
            self.assertEqual([i["code"] for i in replay.json()["items"]], [c["code"] for c in codes])
            fresh = srv.post("/v1/api-keys", {"name": "after"}, key=key).json()["api_key"]
        finally:
            srv.stop()
        srv = Ztpd(db, ZTP_SECRET=new).start()
        try:
            self.assertEqual(srv.get("/v1/profiles", key=key).status, 401)
            self.assertEqual(srv.get("/v1/profiles", key=fresh).status, 200)
            self.assertEqual(srv.post("/activate", {"code": codes[1]["code"], "mac": "00562b0a0a02"}).status, 404)
        finally:
            srv.stop()

    def test_malformed_previous_secret_is_one_clear_line(self):
        pg, db = setup_db()
        from harness import ztpd_cmd
        r = ztpd_cmd(db, "serve", ZTP_SECRET_PREVIOUS="nope", ZTP_LISTEN="127.0.0.1:%d" % free_port())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ZTP_SECRET_PREVIOUS", r.stderr)


class PublicUrlTest(unittest.TestCase):
    def test_invite_links_start_with_the_public_url_or_the_listener(self):
        pg, db = setup_db()
        p = create_provider(db, "links")
        port = free_port()
        for env, prefix in (({"ZTP_LISTEN": "127.0.0.1:%d" % port}, "http://127.0.0.1:%d/console/invite#" % port),
                            ({"ZTP_PUBLIC_URL": "https://ZTP.Example.net/"}, "https://ztp.example.net/console/invite#")):
            r = ztpd_cmd(db, "user", "invite", p["id"], "x%d@example.com" % len(prefix), **env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(json.loads(r.stdout)["invite_url"].startswith(prefix), r.stdout)

    def test_public_url_with_a_path_is_one_clear_line(self):
        pg, db = setup_db()
        for bad in ("https://ztp.example.net/ztp", "ztp.example.net", "https://user@ztp.example.net"):
            r = ztpd_cmd(db, "serve", ZTP_PUBLIC_URL=bad, ZTP_LISTEN="127.0.0.1:%d" % free_port())
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ZTP_PUBLIC_URL", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
