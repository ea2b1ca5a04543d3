"""The console's files (contract section 8): served by ztpd from what it
carries, with the right types, caching by hashed path, a strict CSP, and
nothing outside the embedded set reachable."""
import http.client
import os
import re

from harness import ServerTest, ROOT

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
IMMUTABLE = "public, max-age=31536000, immutable"
CONSOLE_DIR = os.path.join(ROOT, "console")


def console_files():
    out = []
    for d, _, files in os.walk(CONSOLE_DIR):
        for f in files:
            if not f.endswith(".md") and f != "index.html":
                out.append(os.path.relpath(os.path.join(d, f), CONSOLE_DIR))
    return sorted(out)


class ConsoleServingTest(ServerTest):

    def raw_get(self, path):
        """GET with the path sent exactly as written (no client normalising)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)
            conn.endheaders()
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def assertConsoleHeaders(self, headers):
        self.assertEqual(headers.get("content-security-policy"), CSP)
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(headers.get("referrer-policy"), "no-referrer")

    def asset_prefix(self):
        r = self.srv.get("/console/")
        m = re.search(r'src="(/console/a/([0-9a-f]{16}))/app\.js"', r.text)
        self.assertIsNotNone(m, r.text)
        return m.group(1), m.group(2)

    def test_index_is_html_never_cached_stale_and_names_hashed_assets(self):
        r = self.srv.get("/console/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertConsoleHeaders(r.headers)
        self.assertNotIn("@ASSETS@", r.text)
        prefix, _ = self.asset_prefix()
        self.assertIn('href="%s/style.css"' % prefix, r.text)

    def test_bare_console_redirects_to_the_folder(self):
        r = self.srv.get("/console")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.headers["location"], "/console/")
        self.assertConsoleHeaders(r.headers)

    def test_invite_link_opens_the_console(self):
        r = self.srv.get("/console/invite")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.text, self.srv.get("/console/").text)

    def test_every_file_is_served_with_its_type_and_a_year_of_cache(self):
        prefix, _ = self.asset_prefix()
        types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8", ".png": "image/png",
                 ".ico": "image/x-icon", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
                 ".woff2": "font/woff2"}
        files = console_files()
        self.assertIn("app.js", files)
        for name in files:
            r = self.srv.get(prefix + "/" + name)
            self.assertEqual(r.status, 200, name)
            with open(os.path.join(CONSOLE_DIR, name), "rb") as f:
                self.assertEqual(r.body, f.read(), name)
            self.assertEqual(r.headers["content-type"], types[os.path.splitext(name)[1]], name)
            self.assertEqual(r.headers["cache-control"], IMMUTABLE, name)
            self.assertConsoleHeaders(r.headers)

    def test_the_readme_is_not_served(self):
        prefix, _ = self.asset_prefix()
        self.assertEqual(self.srv.get(prefix + "/README.md").status, 404)

    def test_the_page_template_is_not_an_asset(self):
        # served filled in as /console/; raw, its @ASSETS@ marks name nothing (and it was cached for a year)
        prefix, _ = self.asset_prefix()
        self.assertEqual(self.srv.get(prefix + "/index.html").status, 404)

    def test_another_hash_is_not_found(self):
        prefix, digest = self.asset_prefix()
        other = ("0" if digest[0] != "0" else "1") + digest[1:]
        r = self.srv.get("/console/a/%s/app.js" % other)
        self.assertProblem(r, 404)
        self.assertConsoleHeaders(r.headers)
        self.assertEqual(self.srv.get("/console/a/%s/app.js" % digest[:8]).status, 404)
        self.assertEqual(self.srv.get("/console/a/app.js").status, 404)
        self.assertEqual(self.srv.get(prefix + "/").status, 404)
        self.assertEqual(self.srv.get(prefix + "/nothing.js").status, 404)
        self.assertEqual(self.srv.get("/console/app.js").status, 404)

    def test_path_traversal_reaches_nothing(self):
        prefix, digest = self.asset_prefix()
        for path in (prefix + "/../../healthz", prefix + "/../" + digest + "/app.js", prefix + "/%2e%2e/%2e%2e/healthz",
                     prefix + "/pages/../app.js", prefix + "/./app.js", prefix + "//app.js",
                     prefix + "/%61pp.js", prefix + "/app.js%00", prefix + "/app.js/",
                     prefix + "/..%2f..%2fhealthz", prefix + "/....//app.js", "/console/a/%2e%2e/" + digest + "/app.js",
                     prefix + "/" + "x" * 5000):
            status, headers, body = self.raw_get(path)
            self.assertEqual(status, 404, path)
            self.assertNotIn(b"import", body, path)

    def test_query_strings_do_not_change_the_file(self):
        prefix, _ = self.asset_prefix()
        r = self.srv.get(prefix + "/app.js?v=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.srv.get("/console/?x=1").status, 200)

    def test_only_get_and_head(self):
        prefix, _ = self.asset_prefix()
        self.assertEqual(self.srv.post(prefix + "/app.js", b"x").status, 405)
        self.assertEqual(self.srv.request("HEAD", prefix + "/app.js").status, 200)

    def test_no_inline_script_or_style_in_the_page(self):
        html = self.srv.get("/console/").text
        for tag in re.findall(r"<script[^>]*>", html):
            self.assertIn("src=", tag)
        self.assertNotIn("<style", html)
        self.assertIsNone(re.search(r"\sstyle=", html))
        self.assertIsNone(re.search(r"\son[a-z]+=", html))
        for name in console_files():
            if name.endswith(".js"):
                with open(os.path.join(CONSOLE_DIR, name), encoding="utf-8") as f:
                    text = f.read()
                # markup built from strings would bypass the escaping of h()
                self.assertNotIn("innerHTML", text, name)
                self.assertNotIn("insertAdjacentHTML", text, name)
                self.assertNotIn("eval(", text, name)
