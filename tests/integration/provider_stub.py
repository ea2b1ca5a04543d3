"""A provider's provisioning server in miniature, for ztp-phone's tests.

GET /<kind>/<mac>.xml answers according to <kind>:
  cfg        200, a flat profile whose Profile_Rule is the rule that leads here
  r302       302 to /cfg/<mac>.xml
  basic      401 (Basic) unless alice:secret, then as cfg
  digest     401 (Digest, MD5, qop=auth) unless alice:secret, then as cfg
  stale      401 (Digest) for ever, saying the nonce is stale once the client
             answers one
  flaky      404 the first time for a MAC, then as cfg
  down       503
  big        200 with 10 MB
  binary     200 application/octet-stream, random bytes
  truncated  200 text/xml, cut short
  json       200 application/json
  loop       200 with a new Profile_Rule each time
  notutf8    302 to a Location that is not UTF-8
  xhost      401 (Basic) unless alice:secret, then 302 to another origin
             (localhost for 127.0.0.1), whose /leak/ answers 401 (Basic) and
             keeps the Authorization headers it got in leaked
  xrule      302 to another origin, whose profile names a rule there (/leak/)
GET /vendor/... answers 200 with a config of no particular format (another
vendor's provisioning server); the paths asked are kept in vendor_paths.
GET /polyloop/... answers a Poly master that names itself again.
GET /ylboot/... answers a Yealink first file naming /ylprov/ (which takes
alice:secret, then redirects nowhere), then 401; what Authorization it got
is kept in boot_auth.
"""
import base64
import hashlib
import http.server
import os
import re
import threading
import uuid
from collections import Counter

USER, PASSWORD, REALM = "alice", "secret", "provider"


class Server(http.server.ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a storm of 64 phones at once overflowed it, and the
    # dropped connections were retried by the kernel a second or more later
    request_queue_size = 128
    daemon_threads = True


class Stub:
    def __init__(self):
        stub = self
        self.hits = Counter()
        self.seen = set()
        self.vendor_paths = []
        self.leaked = []
        self.boot_auth = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                stub.handle(self)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def rule(self, kind):
        creds = "[--uid %s --pwd %s] " % (USER, PASSWORD) if kind in ("basic", "digest", "stale", "xhost") else ""
        return creds + "%s/%s/$MA.xml" % (self.base, kind)

    def send(self, h, status, body=b"", ctype="text/xml", headers=()):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def profile(self, rule):
        rule = rule.replace("&", "&amp;").replace("<", "&lt;")
        return ('<?xml version="1.0"?>\n<flat-profile>\n  <Profile_Rule ua="na">%s</Profile_Rule>\n'
                '  <Resync_Periodic ua="na">3600</Resync_Periodic>\n</flat-profile>\n' % rule).encode()

    def handle(self, h):
        if h.path.startswith("/vendor/"):
            with self.lock:
                self.vendor_paths.append(h.path)
            return self.send(h, 200, b"# provisioned\n", ctype="text/plain")
        if h.path.startswith("/ylboot/"):  # a boot server: a Yealink answer, then 401 (asking for what is not its)
            with self.lock:
                self.boot_auth.append(h.headers.get("Authorization"))
                again = len(self.boot_auth) > 1
            if again:
                return self.send(h, 401, b"", headers=[("WWW-Authenticate", 'Basic realm="boot"')])
            return self.send(h, 200, b"#!version:1.0.0.1\nstatic.auto_provision.server.url = %s/ylprov/\n"
                             % self.base.encode(), ctype="text/plain")
        if h.path.startswith("/ylprov/"):  # its provider: credentials, then a redirect to nowhere
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if h.headers.get("Authorization") != want:
                return self.send(h, 401, b"", headers=[("WWW-Authenticate", 'Basic realm="%s"' % REALM)])
            return self.send(h, 302, b"", headers=[("Location", "http://127.0.0.1:1/gone")])
        if h.path.startswith("/polyloop/"):
            return self.send(h, 200, b'<APPLICATION CONFIG_FILES="again.cfg"/>')
        if h.path.startswith("/leak/"):
            with self.lock:
                self.leaked.append(h.headers.get("Authorization"))
            return self.send(h, 401, b"", headers=[("WWW-Authenticate", 'Basic realm="elsewhere"')])
        m = re.match(r"^/([a-z0-9]+)/([0-9a-f]{12})\.xml", h.path)
        if not m:
            return self.send(h, 404, b"no")
        kind, mac = m.groups()
        with self.lock:
            self.hits[kind] += 1
            first = (kind, mac) not in self.seen
            self.seen.add((kind, mac))
        if kind == "cfg":
            return self.send(h, 200, self.profile(self.rule("cfg")))
        if kind == "r302":
            return self.send(h, 302, b"", headers=[("Location", "%s/cfg/%s.xml" % (self.base, mac))])
        if kind in ("basic", "xhost"):
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if h.headers.get("Authorization") != want:
                return self.send(h, 401, b"", headers=[("WWW-Authenticate", 'Basic realm="%s"' % REALM)])
            if kind == "xhost":
                return self.send(h, 302, b"", headers=[("Location", "http://localhost:%d/leak/%s.xml" % (self.port, mac))])
            return self.send(h, 200, self.profile(self.rule("basic")))
        if kind == "xrule":
            return self.send(h, 302, b"", headers=[("Location", "http://localhost:%d/xprofile/%s.xml" % (self.port, mac))])
        if kind == "xprofile":
            return self.send(h, 200, self.profile("http://localhost:%d/leak/$MA.xml" % self.port))
        if kind == "notutf8":
            return self.send(h, 302, b"", headers=[("Location", "%s/cfg/\xff\xfe%s.xml" % (self.base, mac))])
        if kind == "digest":
            if not self.digest_ok(h):
                nonce = uuid.uuid4().hex
                return self.send(h, 401, b"", headers=[(
                    "WWW-Authenticate", 'Digest realm="%s", qop="auth", nonce="%s", algorithm=MD5' % (REALM, nonce))])
            return self.send(h, 200, self.profile(self.rule("digest")))
        if kind == "stale":
            stale = "true" if h.headers.get("Authorization", "").startswith("Digest ") else "false"
            return self.send(h, 401, b"", headers=[("WWW-Authenticate", 'Digest realm="%s", qop="auth", nonce="%s",'
                                                    ' algorithm=MD5, stale=%s' % (REALM, uuid.uuid4().hex, stale))])
        if kind == "flaky":
            return self.send(h, 404, b"not yet") if first else self.send(h, 200, self.profile(self.rule("flaky")))
        if kind == "down":
            return self.send(h, 503, b"busy")
        if kind == "big":
            return self.send(h, 200, b"<flat-profile>" + b" " * (10 << 20) + b"</flat-profile>")
        if kind == "binary":
            return self.send(h, 200, os.urandom(4096), ctype="application/octet-stream")
        if kind == "truncated":
            return self.send(h, 200, self.profile(self.rule("truncated"))[:40])
        if kind == "json":
            return self.send(h, 200, b'{"Profile_Rule": "x"}', ctype="application/json")
        if kind == "loop":
            return self.send(h, 200, self.profile("%s/loop/$MA.xml?n=%s" % (self.base, uuid.uuid4().hex)))
        return self.send(h, 404, b"no")

    @staticmethod
    def digest_ok(h):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Digest "):
            return False
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth[7:]))
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
        ha1 = md5("%s:%s:%s" % (f.get("username"), REALM, PASSWORD))
        ha2 = md5("GET:%s" % f.get("uri"))
        want = md5("%s:%s:%s:%s:%s:%s" % (ha1, f.get("nonce"), f.get("nc"), f.get("cnonce"), f.get("qop"), ha2))
        return f.get("username") == USER and f.get("response") == want
