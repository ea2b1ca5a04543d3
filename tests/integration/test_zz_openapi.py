"""The OpenAPI document: well formed, complete, and true to every answer the
other suites received (this module runs last: its name sorts last)."""
import json
import os
import re
import subprocess
import sys
import unittest

import harness

DOC_PATH = os.path.join(harness.ROOT, "admin-api", "openapi.json")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Validator:
    """The JSON Schema 2020-12 keywords the document uses."""

    def __init__(self, doc):
        self.doc = doc

    def resolve(self, s):
        while "$ref" in s:
            node = self.doc
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def check(self, v, s, where="$"):
        s = self.resolve(s)
        errs = []
        if "anyOf" in s:
            tries = [self.check(v, sub, where) for sub in s["anyOf"]]
            if all(tries):
                return ["%s: matches none of anyOf: %s" % (where, min(tries, key=len))]
        for sub in s.get("allOf", []):
            errs += self.check(v, sub, where)
        t = s.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not any(self.is_type(v, x) for x in types):
                return errs + ["%s: %r is not %s" % (where, v, t)]
        if "enum" in s and v not in s["enum"]:
            errs.append("%s: %r not in %s" % (where, v, s["enum"]))
        if isinstance(v, str):
            if "pattern" in s and not re.search(s["pattern"], v):
                errs.append("%s: %r does not match %s" % (where, v, s["pattern"]))
            if s.get("format") == "date-time" and not DATE_TIME.match(v):
                errs.append("%s: %r is not a date-time" % (where, v))
            if s.get("format") == "uuid" and not UUID.match(v):
                errs.append("%s: %r is not a uuid" % (where, v))
            if len(v) > s.get("maxLength", 1 << 30) or len(v) < s.get("minLength", 0):
                errs.append("%s: length of %r" % (where, v))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if v < s.get("minimum", -1e300) or v > s.get("maximum", 1e300):
                errs.append("%s: %r out of range" % (where, v))
        if isinstance(v, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in v:
                    errs.append("%s: missing %s" % (where, k))
            for k, x in v.items():
                if k in props:
                    errs += self.check(x, props[k], where + "." + k)
                elif s.get("additionalProperties") is False:
                    errs.append("%s: unexpected %s" % (where, k))
                elif isinstance(s.get("additionalProperties"), dict):
                    errs += self.check(x, s["additionalProperties"], where + "." + k)
        if isinstance(v, list) and "items" in s:
            for i, x in enumerate(v):
                errs += self.check(x, s["items"], "%s[%d]" % (where, i))
        return errs

    @staticmethod
    def is_type(v, t):
        return {"object": isinstance(v, dict), "array": isinstance(v, list), "string": isinstance(v, str),
                "integer": isinstance(v, int) and not isinstance(v, bool),
                "number": isinstance(v, (int, float)) and not isinstance(v, bool),
                "boolean": isinstance(v, bool), "null": v is None}[t]


def template_regex(template):
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$")


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOC_PATH) as f:
            cls.doc = json.load(f)
        cls.v = Validator(cls.doc)

    def test_document_is_current(self):
        out = subprocess.run([sys.executable, os.path.join(harness.ROOT, "tools", "openapi.py")],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(json.loads(out), self.doc, "run: python3 tools/openapi.py > admin-api/openapi.json")

    def test_document_is_well_formed(self):
        d = self.doc
        self.assertEqual(d["openapi"], "3.1.0")
        ids = set()
        for path, item in d["paths"].items():
            self.assertTrue(path.startswith("/"))
            for method, op in item.items():
                self.assertIn(method, ("get", "put", "post", "patch", "delete"))
                self.assertNotIn(op["operationId"], ids)
                ids.add(op["operationId"])
                self.assertTrue(op["responses"])
                for p in re.findall(r"\{([a-z_]+)\}", path):
                    self.assertIn(p, [x["name"] for x in op.get("parameters", []) if x["in"] == "path"], path)
                for code, resp in op["responses"].items():
                    self.assertRegex(code, r"^[1-5]\d\d$")
                    self.assertIn("description", resp)
        text = json.dumps(d)
        for r in re.findall(r'"\$ref": "#/components/schemas/([A-Za-z]+)"', text):
            self.assertIn(r, d["components"]["schemas"])

    def test_document_passes_the_linter(self):
        lint = os.path.join(harness.ROOT, "tests", "lint")
        spectral = os.path.join(lint, "node_modules", ".bin", "spectral")
        if not os.path.exists(spectral):
            self.skipTest("Spectral is not installed (make test installs it with npm)")
        r = subprocess.run([spectral, "lint", "--ruleset", os.path.join(lint, ".spectral.yaml"), "-F", "hint",
                            DOC_PATH], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_contract_route_is_described(self):
        want = {("get", "/redirect/{mac}"), ("post", "/activate"), ("post", "/v1/profiles"), ("get", "/v1/profiles"),
                ("get", "/v1/profiles/{id}"), ("patch", "/v1/profiles/{id}"), ("delete", "/v1/profiles/{id}"),
                ("put", "/v1/devices/{mac}"), ("get", "/v1/devices/{mac}"), ("delete", "/v1/devices/{mac}"),
                ("get", "/v1/devices"), ("get", "/v1/devices/{mac}/events"), ("post", "/v1/devices/{mac}/status"),
                ("post", "/v1/devices/import"), ("post", "/v1/activation-codes"), ("get", "/v1/activation-codes"),
                ("delete", "/v1/activation-codes/{id}"), ("post", "/v1/api-keys"), ("get", "/v1/api-keys"),
                ("delete", "/v1/api-keys/{id}"), ("get", "/v1/audit-events"), ("get", "/v1/url-token-key"),
                ("post", "/v1/url-token-key"), ("get", "/healthz"),
                ("get", "/readyz"), ("get", "/metrics"), ("get", "/openapi.json")}
        have = {(m, p) for p, item in self.doc["paths"].items() for m in item}
        self.assertEqual(want - have, set())

    def test_served_document_is_this_one(self):
        pg = harness.postgres()
        db = pg.new_database()
        harness.migrate(db)
        srv = harness.Ztpd(db).start()
        try:
            self.assertEqual(srv.get("/openapi.json").json(), self.doc)
        finally:
            srv.stop()

    def operation(self, method, path):
        path = path.split("?")[0]
        for template, item in self.doc["paths"].items():
            if template_regex(template).match(path) and method.lower() in item:
                if template == "/v1/devices/{mac}" and path.endswith("/import"):
                    continue
                return template, item[method.lower()]
        return None, None

    def test_every_answer_received_matches_the_document(self):
        checked, failures = 0, []
        for method, path, r in harness.RESPONSES:
            template, op = self.operation(method, path)
            if op is None:
                continue  # unknown routes and wrong methods: 404/405, checked as problems by the suites
            resp = op["responses"].get(str(r.status))
            if resp is None:
                failures.append("%s %s -> %d is not documented" % (method, template, r.status))
                continue
            ctype = r.headers.get("content-type", "").split(";")[0]
            content = resp.get("content")
            if not content:
                continue
            if ctype not in content:
                failures.append("%s %s -> %d has content type %s" % (method, template, r.status, ctype))
                continue
            schema = content[ctype].get("schema")
            if schema and ctype.endswith("json"):
                errs = Validator(self.doc).check(json.loads(r.body), schema)
                if errs:
                    failures.append("%s %s -> %d: %s" % (method, template, r.status, "; ".join(errs[:3])))
            checked += 1
        self.assertEqual(failures[:20], [])
        if len(harness.RESPONSES) > 200:
            self.assertGreater(checked, 100)
