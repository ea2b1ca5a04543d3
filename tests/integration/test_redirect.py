"""GET /redirect/{mac}: the contract's section 3 (redirect) and the status machine."""
import os
import re
import signal
import unittest
import uuid

from harness import OwnCluster, ServerTest, Ztpd

RULE = "https://prov.acme.example/$PSN/$MA.xml"


class RedirectTest(ServerTest):
    def setUp(self):
        self.p = self.provider()
        self.key = self.p["api_key"]
        r = self.srv.post("/v1/profiles", {"name": "main-" + uuid.uuid4().hex[:6], "profile_rule": RULE,
                                           "upgrade_rule": "http://fw.example/$PSN.bin",
                                           "params": {"Resync_Periodic": "3600", "Text": "a<b&c"}}, key=self.key)
        self.assertEqual(r.status, 201, r)
        self.profile = r.json()

    def claim(self, mac, profile=True):
        body = {"profile_id": self.profile["id"]} if profile else {}
        r = self.srv.put("/v1/devices/" + mac, body, key=self.key)
        self.assertEqual(r.status, 201, r)

    def events(self, mac):
        r = self.srv.get("/v1/devices/%s/events" % mac, key=self.key)
        self.assertEqual(r.status, 200, r)
        return [(e["from"], e["to"], e["cause"]) for e in r.json()["items"]]

    def device(self, mac):
        return self.srv.get("/v1/devices/" + mac, key=self.key).json()

    def test_claimed_with_profile_answers_flat_profile_xml(self):
        self.claim("00562b043615")
        r = self.srv.get("/redirect/00562b043615.xml", headers={"User-Agent": "Cisco-CP-8845-3PCC/11.3.1 (00562b043615)"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/xml"))
        self.assertIn('<Profile_Rule ua="na">https://prov.acme.example/$PSN/$MA.xml</Profile_Rule>', r.text)
        self.assertIn('<Upgrade_Rule ua="na">http://fw.example/$PSN.bin</Upgrade_Rule>', r.text)
        self.assertIn('<Resync_Periodic ua="na">3600</Resync_Periodic>', r.text)
        self.assertIn('<Text ua="na">a&lt;b&amp;c</Text>', r.text)
        self.assertTrue(r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<flat-profile>'))

    def test_every_mac_spelling_reaches_the_same_device(self):
        self.claim("00562b043616")
        for spelling in ("00562b043616", "00562B043616", "00:56:2b:04:36:16", "00-56-2B-04-36-16", "0056.2b04.3616"):
            r = self.srv.get("/redirect/%s.xml" % spelling)
            self.assertEqual(r.status, 200, (spelling, r))
        self.assertEqual(self.device("00562b043616")["contacts"], 5)

    def test_json_by_suffix_or_accept(self):
        self.claim("00562b043617")
        r = self.srv.get("/redirect/00562b043617.json?model=CP-8845-3PCC&sn=FCH1")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        body = r.json()
        self.assertEqual(body["mac"], "00562b043617")
        self.assertEqual(body["profile_rule"], RULE)
        self.assertEqual(body["upgrade_rule"], "http://fw.example/$PSN.bin")
        self.assertEqual(body["params"], {"Resync_Periodic": "3600", "Text": "a<b&c"})
        self.assertEqual(body["url"], "https://prov.acme.example/8845-3PCC/00562b043617.xml")
        r = self.srv.get("/redirect/00562b043617", headers={"Accept": "application/json"})
        self.assertEqual(r.json()["mac"], "00562b043617")
        r = self.srv.get("/redirect/00562b043617")
        self.assertTrue(r.headers["content-type"].startswith("application/xml"))

    def test_unknown_mac_is_404_and_leaves_no_row(self):
        r = self.srv.get("/redirect/00562b0436ff.xml")
        self.assertProblem(r, 404)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM devices WHERE mac = '00562b0436ff'"), "0")

    def test_malformed_mac_is_400(self):
        for bad in ("zz", "00562b04361", "01562b043615", "ffffffffffff", "00:56:2b:04:36-15", "%00", "00562b043615.txt"):
            self.assertProblem(self.srv.get("/redirect/%s.xml" % bad), 400)

    def test_claimed_without_profile_is_404_and_pending(self):
        self.claim("00562b043618", profile=False)
        self.assertProblem(self.srv.get("/redirect/00562b043618.xml"), 404)
        self.assertEqual(self.device("00562b043618")["status"], "pending")
        self.assertEqual(self.events("00562b043618"), [(None, "open", "claimed"), ("open", "pending", "redirect")])

    def test_every_miss_reads_alike(self):
        # unknown, released, claimed without a profile: one answer, so that a
        # stranger counting MACs cannot tell which are claimed
        macs = ["0056%08x" % int.from_bytes(os.urandom(4), "big") for _ in range(3)]
        self.claim(macs[0], profile=False)
        self.claim(macs[1])
        self.assertEqual(self.srv.delete("/v1/devices/" + macs[1], key=self.key).status, 204)
        answers = [self.srv.get("/redirect/%s.xml" % m) for m in macs]
        for r in answers:
            self.assertProblem(r, 404)
            self.assertEqual((r.body, r.headers.get("content-type")), (answers[2].body,
                                                                       answers[2].headers.get("content-type")))
        # nor by the public metrics: one outcome for the three
        outcomes = set(re.findall(r'ztp_redirects_total\{outcome="(\w+)"\}', self.srv.get("/metrics").text))
        self.assertIn("not_found", outcomes)
        self.assertFalse(outcomes & {"unknown", "released", "no_profile"}, outcomes)

    def test_a_devices_history_keeps_its_newest_events(self):
        # strangers can move a known device's status (a /boot for a vendor its
        # profile lacks, then a /redirect): 1,500 such events already, and the
        # next is its contacts' 100th (migration 0034's count), which trims
        mac = "0056%08x" % int.from_bytes(os.urandom(4), "big")
        self.claim(mac, profile=False)
        self.pg.psql(self.db, "INSERT INTO device_events (mac, provider_id, from_status, to_status, cause)"
                              " SELECT mac, provider_id, 'pending', 'open', 'redirect' FROM devices,"
                              " generate_series(1, 1500) WHERE mac = '%s';"
                              " UPDATE devices SET contact_events = 99 WHERE mac = '%s'" % (mac, mac))
        last = int(self.pg.psql(self.db, "SELECT max(id) FROM device_events WHERE mac = '%s'" % mac))
        self.assertProblem(self.srv.get("/redirect/%s.xml" % mac), 404)  # open -> pending
        kept = self.pg.psql(self.db, "SELECT count(*), min(id) FILTER (WHERE cause = 'redirect'),"
                                     " count(*) FILTER (WHERE cause = 'claimed') FROM device_events"
                                     " WHERE mac = '%s'" % mac)
        # the newest 1,000 before it, it, and what its owner did (the claim)
        self.assertEqual(kept, "1002|%d|1" % (last - 999))
        events = self.events(mac)
        self.assertEqual(len(events), 1000)
        self.assertEqual(events[-1], ("open", "pending", "redirect"))
        # the 99 contact events after it trim nothing
        self.pg.psql(self.db, "UPDATE devices SET status = 'open' WHERE mac = '%s'" % mac)
        self.assertProblem(self.srv.get("/redirect/%s.xml" % mac), 404)
        self.assertEqual(self.pg.psql(self.db, "SELECT count(*) FROM device_events WHERE mac = '%s'" % mac), "1003")

    def test_status_and_events_through_a_phones_life(self):
        mac = "00562b043619"
        self.claim(mac)
        self.assertEqual(self.srv.get("/redirect/%s.xml" % mac).status, 200)
        self.assertEqual(self.device(mac)["status"], "custom_pending")
        r = self.srv.post("/v1/devices/%s/status" % mac, {"status": "acquired"}, key=self.key)
        self.assertEqual(r.json()["status"], "acquired")
        # a factory reset: asks again, answered like any other
        self.assertEqual(self.srv.get("/redirect/%s.xml" % mac).status, 200)
        self.assertEqual(self.device(mac)["status"], "custom_pending")
        self.assertEqual(self.events(mac), [(None, "open", "claimed"), ("open", "custom_pending", "redirect"),
                                            ("custom_pending", "acquired", "reported"),
                                            ("acquired", "custom_pending", "redirect")])

    def test_released_device_is_404_and_unavailable(self):
        mac = "00562b04361a"
        self.claim(mac)
        self.assertEqual(self.srv.delete("/v1/devices/" + mac, key=self.key).status, 204)
        self.assertProblem(self.srv.get("/redirect/%s.xml" % mac), 404)
        self.assertEqual(self.pg.psql(self.db, "SELECT status FROM devices WHERE mac = '%s'" % mac), "unavailable")
        # claimed again: open once more, and the owner sees no event of the time nobody owned it
        self.claim(mac)
        self.assertEqual(self.device(mac)["status"], "open")

    def test_contact_records_user_agent_and_address(self):
        mac = "00562b04361b"
        self.claim(mac)
        self.srv.get("/redirect/%s.xml" % mac, headers={"User-Agent": "Yealink SIP-T54W 96.86.0.70 00:15:65:aa:bb:cc"})
        row = self.pg.psql(self.db, "SELECT contacts, ua_vendor, ua_model, ua_firmware, host(last_addr),"
                                    " coalesce(ua_serial, '-') FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(row, "1|yealink|SIP-T54W|96.86.0.70|127.0.0.1|-")
        # the query's model and sn are recorded with the contact (contract section 3); sn was dropped
        self.srv.get("/redirect/%s.xml?model=CP-7841&sn=FCH1234ABCD" % mac)
        row = self.pg.psql(self.db, "SELECT contacts, ua_model, ua_serial FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(row, "2|CP-7841|FCH1234ABCD")
        # a later contact that tells none keeps them; one that is no printable ASCII is not recorded
        self.srv.get("/redirect/%s.xml?sn=%%01x" % mac)
        row = self.pg.psql(self.db, "SELECT contacts, ua_model, ua_serial FROM devices WHERE mac = '%s'" % mac)
        self.assertEqual(row, "3|CP-7841|FCH1234ABCD")

    def test_hostile_user_agent_is_harmless(self):
        mac = "00562b04361c"
        self.claim(mac)
        r = self.srv.get("/redirect/%s.xml" % mac, headers={"User-Agent": "Cisco-(" + "x" * 6000 + "\xe9\xff"})
        self.assertEqual(r.status, 200)
        n = self.pg.psql(self.db, "SELECT length(user_agent) FROM devices WHERE mac = '%s'" % mac)
        self.assertLessEqual(int(n), 512)

    def test_metrics_count_redirect_outcomes(self):
        self.srv.get("/redirect/zz.xml")
        r = self.srv.get("/metrics")
        self.assertRegex(r.text, r'ztp_redirects_total\{outcome="bad_mac"\} [1-9]')


class FirstContactTest(unittest.TestCase):
    """A boot storm after an import: every device's first contact is a HOT update, its new version on its own page
    (a row grows by its contact, from about 120 to about 230 bytes; at fillfactor 70 a page kept room for half of
    its devices' first contacts, and the others' rows moved, with an entry in each of the devices' four indexes).
    Its own cluster: the room comes from pruning each page's old versions, which a snapshot held anywhere in the
    cluster (another test's) would keep."""

    def test_imported_devices_take_their_first_contact_in_place(self):
        with OwnCluster() as c:
            key = c.provider("storm")["api_key"]
            srv = c.serve()
            self.assertEqual(srv.post("/v1/profiles", {"name": "main", "profile_rule": RULE}, key=key).status, 201)
            macs = ["0056%08x" % (0x2b050000 + i) for i in range(200)]  # about six pages, the fewest bytes per row
            r = srv.post("/v1/devices/import", "mac,profile\n" + "".join("%s,main\n" % m for m in macs),
                         key=key, headers={"Content-Type": "text/csv"})
            self.assertEqual(r.json()["created"], 200, r)
            blocks = "SELECT string_agg(mac::text || ' ' || (ctid::text::point)[0], ',' ORDER BY mac) FROM devices"
            before = c.pg.psql(c.db, blocks)
            for m in macs:
                ua = "Cisco-CP-8845-3PCC/11.3.1 (%s)" % m  # as the phone sends it, its MAC in it
                self.assertEqual(srv.get("/redirect/%s.xml" % m, headers={"User-Agent": ua}).status, 200)
            self.assertEqual(c.pg.psql(c.db, "SELECT count(*) FROM devices WHERE user_agent LIKE 'Cisco-%'"), "200")
            self.assertEqual(c.pg.psql(c.db, blocks), before)


class DurabilityTest(ServerTest):
    def test_contact_survives_a_kill_right_after_the_200(self):
        p = self.provider()
        prof = self.srv.post("/v1/profiles", {"name": "m", "profile_rule": RULE}, key=p["api_key"]).json()
        self.srv.put("/v1/devices/00562b043700", {"profile_id": prof["id"]}, key=p["api_key"])
        r = self.srv.get("/redirect/00562b043700.xml")
        self.assertEqual(r.status, 200)
        self.srv.proc.send_signal(signal.SIGKILL)
        self.srv.proc.wait()
        self.assertEqual(self.pg.psql(self.db, "SELECT contacts, status FROM devices WHERE mac = '00562b043700'"),
                         "1|custom_pending")
        type(self).srv = Ztpd(self.db).start()
        r = self.srv.get("/v1/devices/00562b043700", key=p["api_key"])
        self.assertEqual(r.json()["contacts"], 1)


class MissTimingTest(unittest.TestCase):
    """A miss waits for what a contact waits for: a durable commit.

    An unknown MAC writes nothing, a claimed one without a profile writes its
    contact: both are the same 404, and were told apart by its time (a
    transaction that wrote nothing commits without a flush). Here commits
    that need a flush never end (a synchronous standby that does not exist),
    so each request ends with the database's deadline (503) exactly when it
    waited for one: the two must end alike. Its own cluster, as the setting
    holds for a whole cluster.
    """

    def test_unknown_and_claimed_macs_wait_alike(self):
        with OwnCluster() as c:
            p = c.provider("timing")
            mac = "0056%08x" % int.from_bytes(os.urandom(4), "big")
            srv = c.serve(ZTP_DB_TIMEOUT_MS=1000)
            self.assertEqual(srv.put("/v1/devices/" + mac, {}, key=p["api_key"]).status, 201)
            self.assertEqual(srv.get("/redirect/%s.xml" % mac).status, 404)  # a contact: open -> pending
            try:
                c.name_synchronous_standby("nobody")
                claimed = srv.get("/redirect/%s.xml" % mac)
                unknown = srv.get("/redirect/%012x.xml" % (int(mac, 16) ^ 1))
                self.assertEqual(claimed.status, 503, claimed)  # its contact waits for the flush
                self.assertEqual(unknown.status, 503, unknown)  # and so does the miss
            finally:  # what waits for the flush ends, and ztpd with it
                c.name_synchronous_standby(None)
