"""Issue 10: scanning limits and activation limits that hold.

Each test speaks from loopback addresses of its own (127.x.y.z are all local)
so that the per-source limits of one test never touch another.
"""
import http.client
import json
import threading
import uuid

from harness import ServerTest, RESPONSES, Response

RULE = "https://prov.example/$PSN/$MA.xml"


def raw_request(srv, method, path, headers, body=None, source=None):
    """An HTTP request whose headers may repeat (X-Forwarded-For on two lines)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        data = json.dumps(body).encode() if body is not None else b""
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        RESPONSES.append((method, path, resp))
        return resp
    finally:
        conn.close()


def in_parallel(n, fn):
    """Runs fn(i) for i in range(n) on n threads released at once; returns the results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except OSError as e:
            results[i] = e

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class Base(ServerTest):
    _net = [0]

    def setUp(self):
        Base._net[0] += 1
        self.net = "127.%d.%d" % (30 + Base._net[0] // 250, Base._net[0] % 250)
        self.a = self.provider("A")["api_key"]
        self.b = self.provider("B")["api_key"]

    def src(self, host=1):
        return "%s.%d" % (self.net, host)

    def mac(self):
        return "0056%08x" % (uuid.uuid4().int & 0xffffffff)

    def profile(self, key, **fields):
        body = {"name": "p-" + uuid.uuid4().hex[:8], "profile_rule": RULE}
        body.update(fields)
        r = self.srv.post("/v1/profiles", body, key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def claim(self, key, mac, profile=None, status=201):
        r = self.srv.put("/v1/devices/" + mac, {"profile_id": profile["id"]} if profile else {}, key=key)
        self.assertEqual(r.status, status, r)
        return r.json()


class ScanningTest(Base):
    def test_21st_miss_from_one_address_is_429_while_200s_from_another_never_are(self):
        p = self.profile(self.a)
        good = ["0056bb%06x" % (uuid.uuid4().int & 0xffffff) for _ in range(50)]
        for m in good:
            self.claim(self.a, m, p)
        scanner, office = self.src(1), self.src(2)
        for i in range(20):
            self.assertProblem(self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner), 404)
        r = self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner)
        self.assertProblem(r, 429)
        self.assertGreaterEqual(int(r.headers["retry-after"]), 60)
        # blocked means every request from there, a claimed device's included
        self.assertProblem(self.srv.get("/redirect/%s.xml" % good[0], source=scanner), 429)
        self.assertProblem(self.srv.get("/redirect/zz.xml", source=scanner), 429)
        # an office booting 50 phones behind one address, twice: 200s never count
        for _ in range(2):
            for m in good:
                self.assertEqual(self.srv.get("/redirect/%s.xml" % m, source=office).status, 200)
        self.assertRegex(self.srv.get("/metrics").text, r'ztp_redirects_total\{outcome="rate_limited"\} [1-9]')

    def test_a_blocked_source_reaches_nothing_behind_the_limit(self):
        p = self.profile(self.a)
        m = self.mac()
        self.claim(self.a, m, p)
        scanner = self.src(3)
        for i in range(20):
            self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % m, source=scanner).status, 429)
        d = self.srv.get("/v1/devices/" + m, key=self.a).json()
        self.assertEqual((d["contacts"], d["status"]), (0, "open"))  # nothing recorded

    def test_a_burst_of_misses_sent_at_once_gets_at_most_20_404s(self):
        scanner = self.src(4)
        macs = [self.mac() for _ in range(60)]
        results = in_parallel(60, lambda i: self.srv.get("/redirect/%s.xml" % macs[i], source=scanner).status)
        self.assertEqual(set(results) - {404, 429}, set(), results)
        self.assertLessEqual(results.count(404), 20, results)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % self.mac(), source=scanner).status, 429)


class ProxiedLimitsTest(Base):
    """Behind a trusted proxy (127.29.0.1, and 10.0.0.0/8 inside): the client is
    the right-most untrusted address across every X-Forwarded-For line."""
    server_env = {"ZTP_TRUSTED_PROXIES": "127.29.0.1,10.0.0.0/8"}
    PROXY = "127.29.0.1"

    def test_x_forwarded_for_is_read_across_all_header_lines(self):
        # the client forges a first line each time; the proxies add a line of their own
        for i in range(10):
            r = raw_request(self.srv, "POST", "/activate",
                            [("X-Forwarded-For", "192.0.2.%d" % (i + 1)),
                             ("X-Forwarded-For", "203.0.113.5, 10.0.0.9")],
                            {"code": "%016d" % (i + 7000), "mac": self.mac()}, source=self.PROXY)
            self.assertEqual(r.status, 404, r)
        r = raw_request(self.srv, "POST", "/activate",
                        [("X-Forwarded-For", "192.0.2.200"), ("X-Forwarded-For", "203.0.113.5, 10.0.0.9")],
                        {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY)
        self.assertProblem(r, 429)
        # the same forged first line with another real client is not blocked
        r = raw_request(self.srv, "POST", "/activate",
                        [("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "203.0.113.6, 10.0.0.9")],
                        {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY)
        self.assertProblem(r, 404)

    def test_ipv6_sources_count_by_their_64(self):
        for i in range(10):
            r = self.srv.post("/activate", {"code": "%016d" % (i + 8000), "mac": self.mac()}, source=self.PROXY,
                              headers={"X-Forwarded-For": "2001:db8:5:6:%x::1" % (i + 1)})
            self.assertProblem(r, 404)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:5:6:ffff::99"})
        self.assertProblem(r, 429)
        r = self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=self.PROXY,
                          headers={"X-Forwarded-For": "2001:db8:5:7::1"})
        self.assertProblem(r, 404)
        # scanning too: 20 misses spread over one /64 block it
        for i in range(20):
            r = self.srv.get("/redirect/%s.xml" % self.mac(), source=self.PROXY,
                             headers={"X-Forwarded-For": "2001:db8:9:9::%x" % (i + 1)})
            self.assertProblem(r, 404)
        r = self.srv.get("/redirect/%s.xml" % self.mac(), source=self.PROXY,
                         headers={"X-Forwarded-For": "2001:db8:9:9:1234::1"})
        self.assertProblem(r, 429)


class ActivationLimitsTest(Base):
    def test_60_simultaneous_wrong_codes_from_one_address_get_at_most_10_answers_but_429(self):
        src = self.src(1)
        results = in_parallel(60, lambda i: self.srv.post("/activate", {"code": "%016d" % (i + 9000),
                                                                        "mac": self.mac()}, source=src).status)
        self.assertEqual(set(results) - {404, 429}, set(), results)
        self.assertLessEqual(len([s for s in results if s != 429]), 10, results)
        self.assertEqual(self.srv.post("/activate", {"code": "1" * 16, "mac": self.mac()}, source=src).status, 429)

    def test_60_simultaneous_wrong_codes_for_one_mac_get_at_most_10_answers_but_429(self):
        mac = self.mac()
        results = in_parallel(60, lambda i: self.srv.post("/activate", {"code": "%016d" % (i + 9100), "mac": mac},
                                                          source=self.src(i + 10)).status)
        self.assertLessEqual(len([s for s in results if s != 429]), 10, results)

    def test_successes_give_their_slot_back(self):
        p = self.profile(self.a, short_code=str(uuid.uuid4().int)[:9])
        src = self.src(2)
        for i in range(30):  # thirty phones of one office, one after the other
            r = self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": self.mac()}, source=src)
            self.assertEqual(r.status, 200, r)
        for i in range(9):
            self.assertProblem(self.srv.post("/activate", {"code": "%016d" % i, "mac": self.mac()}, source=src), 404)
        self.assertEqual(self.srv.post("/activate", {"code": "#" + p["short_code"], "mac": self.mac()},
                                       source=src).status, 200)

    def test_a_blocked_address_gets_429_even_for_a_malformed_request(self):
        src = self.src(3)
        for i in range(10):
            self.srv.post("/activate", "{", source=src)
        self.assertProblem(self.srv.post("/activate", "{", source=src), 429)
