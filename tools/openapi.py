#!/usr/bin/env python3
"""Writes admin-api/openapi.json, the OpenAPI 3.1 description of openztp.

Run `python3 tools/openapi.py > admin-api/openapi.json` after changing the
API; a test fails while the committed document differs from this output.
"""
import json

MAC_DOC = "A unicast MAC-48: 00562b043615, 00:56:2b:04:36:15, 00-56-2B-04-36-15 or 0056.2b04.3615"


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def nullable(schema):
    s = dict(schema)
    s["type"] = [schema["type"], "null"]
    return s


TIME = {"type": "string", "format": "date-time"}
STR = {"type": "string"}
UUID = {"type": "string", "format": "uuid"}
REQUIRE_CERTIFICATE = {"type": "boolean", "default": False,
                       "description": "answer this profile's devices (redirect, boot, activate) only over HTTPS with a "
                                      "verified device certificate naming their MAC; others get the answer of an "
                                      "unknown MAC and nothing is recorded"}
MAC = {"type": "string", "pattern": "^[0-9a-f]{12}$"}
WEBHOOK_EVENT = {"type": "string", "enum": ["device.status_changed", "device.claimed", "device.released",
                                             "code.redeemed", "import_job.finished", "transfer.accepted"]}
ROLE = {"type": "string", "enum": ["admin", "operator", "viewer"]}
STATUS = {"type": "string", "enum": ["open", "pending", "custom_pending", "acquired", "aborted", "unavailable"]}
BOOT_VENDORS = ["yealink", "poly", "snom", "grandstream", "fanvil", "gigaset"]
VENDOR_URLS = {"type": "object", "propertyNames": {"enum": BOOT_VENDORS},
               "additionalProperties": {"type": "string", "maxLength": 1024, "pattern": "^https?://[^\\s\"'<>&\\\\]+$"},
               "description": "the provisioning URL each vendor's phones get from /boot/{file} (macros allowed; "
                              "cisco phones get profile_rule)"}

schemas = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": STR, "title": STR, "status": {"type": "integer"}, "detail": STR,
            "errors": {"type": "array", "items": {"type": "object", "required": ["detail"], "properties": {
                "field": STR, "line": {"type": "integer"}, "detail": STR}}},
        },
    },
    "Profile": {
        "type": "object",
        "required": ["id", "name", "profile_rule", "upgrade_rule", "short_code", "params", "short_code_prefixes",
                     "short_code_hourly_claims", "created_at", "updated_at", "vendor_urls", "require_certificate"],
        "additionalProperties": False,
        "properties": {
            "id": UUID, "name": STR, "profile_rule": STR, "upgrade_rule": nullable(STR),
            "short_code": {"type": ["string", "null"], "pattern": "^[0-9]{3,16}$"},
            "params": {"type": "object", "additionalProperties": STR},
            "short_code_prefixes": {"type": ["array", "null"], "items": {"type": "string", "pattern": "^[0-9a-f]{6,12}$"}},
            "short_code_hourly_claims": {"type": "integer", "minimum": 0},
            "created_at": TIME, "updated_at": TIME,
            "vendor_urls": VENDOR_URLS,
            "require_certificate": REQUIRE_CERTIFICATE,
        },
    },
    "ProfileInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "profile_rule": {"type": "string", "maxLength": 1024,
                             "description": "optional [--option ...] prefixes, then an absolute http, https or tftp URL; macros allowed"},
            "upgrade_rule": {"type": ["string", "null"], "maxLength": 1024},
            "short_code": {"type": ["string", "null"], "pattern": "^[0-9]{3,16}$"},
            "params": {"type": ["object", "null"], "maxProperties": 200,
                       "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}, "additionalProperties": STR,
                       "description": "$(ZTP_TOKEN) in a value (and in the rules) becomes the device's URL token; "
                                      "a name containing passw, pwd, secret or token (any case) needs "
                                      "require_certificate: true (422 otherwise)"},
            "vendor_urls": dict(VENDOR_URLS, type=["object", "null"]),
            "require_certificate": REQUIRE_CERTIFICATE,
            "short_code_prefixes": {
                "type": ["array", "null"], "minItems": 1, "maxItems": 100,
                "items": {"type": "string", "pattern": "^[0-9A-Fa-f]{6,12}$"},
                "description": "MAC prefixes the short code may bind (any case; returned in lower case); "
                               "another MAC gets 403 on /activate. null: any MAC"},
            "short_code_hourly_claims": {
                "type": "integer", "minimum": 0, "maximum": 1000000, "default": 100,
                "description": "devices nobody owned that the short code may claim per hour (429 past it); "
                               "0: it only re-points this provider's own devices (403 for others)"},
        },
    },
    "UrlTokenKey": {
        "type": "object", "required": ["key", "previous_key", "rotated_at"], "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "previous_key": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
            "rotated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Device": {
        "type": "object",
        "required": ["mac", "profile_id", "model", "serial", "status", "status_changed_at", "last_contact_at",
                     "contacts", "created_at", "certificate"],
        "additionalProperties": False,
        "properties": {
            "mac": MAC, "profile_id": nullable(UUID), "model": nullable(STR), "serial": nullable(STR),
            "status": STATUS, "status_changed_at": TIME, "last_contact_at": {"type": ["string", "null"], "format": "date-time"},
            "contacts": {"type": "integer", "minimum": 0}, "created_at": TIME,
            "certificate": {"type": "boolean",
                            "description": "whether the last contact came over HTTPS with a verified device "
                                           "certificate naming this MAC"},
        },
    },
    "DeviceInput": {
        "type": "object",
        "properties": {"profile_id": nullable(UUID), "model": {"type": ["string", "null"], "maxLength": 64},
                       "serial": {"type": ["string", "null"], "maxLength": 64}},
    },
    "DeviceEvent": {
        "type": "object", "required": ["at", "from", "to", "cause"], "additionalProperties": False,
        "properties": {"at": TIME, "from": {"type": ["string", "null"]}, "to": STATUS, "cause": STR},
    },
    "ImportReport": {
        "type": "object", "required": ["created", "updated", "skipped", "conflicts", "errors"],
        "properties": {
            "created": {"type": "integer"}, "updated": {"type": "integer"}, "skipped": {"type": "integer"},
            "conflicts": {"type": "array", "items": MAC},
            "errors": {"type": "array", "items": {"type": "object", "required": ["line", "detail"],
                                                  "properties": {"line": {"type": "integer"}, "detail": STR}}},
        },
    },
    "ImportProblem": {"allOf": [ref("Problem"), ref("ImportReport")]},
    "ImportJob": {
        "type": "object",
        "required": ["id", "state", "format", "dry_run", "on_conflict", "parts", "rows", "rows_done", "created",
                     "updated", "skipped", "conflicts", "errors", "created_at", "started_at", "finished_at"],
        "additionalProperties": False,
        "properties": {
            "id": UUID, "state": {"type": "string", "enum": ["open", "running", "succeeded", "failed", "cancelled"]},
            "format": {"type": "string", "enum": ["csv", "json"]}, "dry_run": {"type": "boolean"},
            "on_conflict": {"type": "string", "enum": ["fail", "skip"]},
            "parts": {"type": "integer"}, "rows": {"type": "integer"}, "rows_done": {"type": "integer"},
            "created": {"type": "integer"}, "updated": {"type": "integer"}, "skipped": {"type": "integer"},
            "conflicts": {"type": "array", "items": MAC},
            "errors": {"type": "array", "items": {"type": "object", "required": ["line", "detail"], "properties": {
                "part": {"type": "integer"}, "line": {"type": "integer"}, "detail": STR}}},
            "created_at": TIME, "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "IssuedCode": {
        "type": "object", "required": ["id", "code", "profile_id", "mac", "expires_at", "created_at"],
        "additionalProperties": False,
        "properties": {"id": UUID, "code": {"type": "string", "pattern": "^[0-9]{16}$"}, "profile_id": UUID,
                       "mac": nullable(MAC), "expires_at": TIME, "created_at": TIME},
    },
    "ActivationCode": {
        "type": "object",
        "required": ["id", "last4", "profile_id", "mac", "state", "expires_at", "redeemed_at", "redeemed_by"],
        "additionalProperties": False,
        "properties": {
            "id": UUID, "last4": {"type": "string", "pattern": "^[0-9]{4}$"}, "profile_id": UUID,
            "mac": nullable(MAC), "state": {"type": "string", "enum": ["active", "redeemed", "expired", "revoked"]},
            "expires_at": TIME, "redeemed_at": {"type": ["string", "null"], "format": "date-time"},
            "redeemed_by": nullable(MAC),
        },
    },
    "ApiKey": {
        "type": "object", "required": ["id", "name", "created_at"],
        "properties": {"id": STR, "name": STR, "created_at": TIME,
                       "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                       "revoked_at": {"type": ["string", "null"], "format": "date-time"}},
    },
    "NewApiKey": {
        "type": "object", "required": ["id", "name", "api_key", "created_at"], "additionalProperties": False,
        "properties": {"id": STR, "name": STR, "api_key": STR, "created_at": TIME},
    },
    "AuditEvent": {
        "type": "object", "required": ["at", "key_id", "action", "target", "detail"], "additionalProperties": False,
        "properties": {"at": TIME, "key_id": {"type": ["string", "null"]},
                       "user_id": {"type": ["string", "null"], "format": "uuid",
                                   "description": "the person, present only for a change made through a session"},
                       "action": STR,
                       "target": {"type": ["string", "null"]}, "detail": {}},
    },
    "User": {
        "type": "object", "required": ["id", "email", "role", "created_at", "active"], "additionalProperties": False,
        "properties": {"id": UUID, "email": STR, "role": ROLE, "created_at": TIME,
                       "active": {"type": "boolean", "description": "whether the invitation was accepted"}},
    },
    "NewUser": {
        "type": "object", "required": ["id", "email", "role", "created_at", "active", "invite_url"],
        "additionalProperties": False,
        "properties": {"id": UUID, "email": STR, "role": ROLE, "created_at": TIME, "active": {"type": "boolean"},
                       "invite_url": {"type": "string", "description": "shown only here; works once, for 7 days"}},
    },
    "Person": {
        "type": "object", "required": ["user_id", "email", "role", "provider_id"], "additionalProperties": False,
        "properties": {"user_id": {"type": ["string", "null"], "format": "uuid"},
                       "email": {"type": ["string", "null"]}, "role": ROLE, "provider_id": UUID,
                       "key_id": {"type": "string", "description": "when an API key asks"}},
    },
    "RepointResult": {
        "type": "object", "required": ["matched", "changed"], "additionalProperties": False,
        "properties": {"matched": {"type": "integer", "minimum": 0}, "changed": {"type": "integer", "minimum": 0}},
    },
    "NewTransfer": {
        "type": "object", "required": ["id", "code", "macs", "expires_at", "created_at"], "additionalProperties": False,
        "properties": {"id": UUID, "code": {"type": "string", "pattern": "^[0-9]{16}$"},
                       "macs": {"type": "array", "items": MAC}, "expires_at": TIME, "created_at": TIME},
    },
    "Transfer": {
        "type": "object",
        "required": ["id", "last4", "state", "mac_count", "expires_at", "created_at", "cancelled_at", "accepted_at",
                     "transferred"],
        "additionalProperties": False,
        "properties": {
            "id": UUID, "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            "state": {"type": "string", "enum": ["open", "accepted", "expired", "cancelled"]},
            "mac_count": {"type": "integer", "minimum": 1, "maximum": 100000,
                          "description": "how many MACs the transfer names (GET /v1/transfers/{id} lists them)"},
            "expires_at": TIME, "created_at": TIME,
            "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
            "accepted_at": {"type": ["string", "null"], "format": "date-time"},
            "transferred": {"type": ["integer", "null"], "description": "how many devices moved when accepted"},
        },
    },
    "RedirectJson": {
        "type": "object", "required": ["mac", "profile_rule", "upgrade_rule", "params", "url"],
        "additionalProperties": False,
        "properties": {"mac": MAC, "profile_rule": STR, "upgrade_rule": nullable(STR),
                       "params": {"type": "object", "additionalProperties": STR}, "url": STR},
    },
    "Status": {"type": "object", "required": ["status"], "properties": {"status": STR}},
    "Webhook": {
        "type": "object", "required": ["id", "url", "events", "created_at"], "additionalProperties": False,
        "properties": {"id": UUID, "url": STR, "events": {"type": "array", "items": WEBHOOK_EVENT}, "created_at": TIME},
    },
    "NewWebhook": {
        "type": "object", "required": ["id", "url", "events", "secret", "created_at"], "additionalProperties": False,
        "properties": {"id": UUID, "url": STR, "events": {"type": "array", "items": WEBHOOK_EVENT},
                       "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{43}=$",
                                  "description": "shown only here; the HMAC key is the base64-decoded part "
                                                 "after whsec_ (32 bytes), as in Standard Webhooks"},
                       "created_at": TIME},
    },
    "WebhookAttempt": {
        "type": "object", "required": ["at", "event_id", "event_type", "attempt", "status", "error"],
        "additionalProperties": False,
        "properties": {"at": TIME, "event_id": UUID, "event_type": WEBHOOK_EVENT,
                       "attempt": {"type": "integer", "minimum": 1},
                       "status": {"type": ["integer", "null"], "description": "the receiver's HTTP status, null "
                                                                             "when none came"},
                       "error": {"type": ["string", "null"], "description": "why no answer came"}},
    },
    "Stats": {
        "type": "object", "required": ["status_counts", "contacts_per_hour"], "additionalProperties": False,
        "properties": {
            "status_counts": {"type": "object", "required": STATUS["enum"], "additionalProperties": False,
                              "properties": {s: {"type": "integer", "minimum": 0} for s in STATUS["enum"]}},
            "contacts_per_hour": {"type": "array", "description": "the 168 hours up to the current one, oldest first",
                                  "items": {"type": "object", "required": ["hour", "contacts"],
                                            "additionalProperties": False,
                                            "properties": {"hour": TIME, "contacts": {"type": "integer",
                                                                                      "minimum": 0}}}},
        },
    },
}

# GET /v1/transfers/{id}: the list's item and one page of its MACs
schemas["TransferDetail"] = dict(schemas["Transfer"], required=schemas["Transfer"]["required"] + ["macs", "next_cursor"],
                                 properties=dict(schemas["Transfer"]["properties"], macs={
                                     "type": "array", "items": MAC, "maxItems": 1000,
                                     "description": "a page of the MACs, in the order the sender gave them"},
                                     next_cursor={"type": ["string", "null"],
                                                  "description": "cursor of the next page of MACs"}))


def problem(desc):
    return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def js(schema, desc="OK"):
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def items(schema, cursor=False):
    s = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": schema}}}
    if cursor:
        s["required"].append("next_cursor")
        s["properties"]["next_cursor"] = {"type": ["string", "null"]}
    return s


COMMON = {"401": problem("missing, unknown or revoked API key, or an ended session"),
          "403": problem("the caller's role does not allow this (x-min-role), or a change made with the session "
                         "cookie carried neither X-ZTP-Console: 1 nor a same-origin Origin"),
          "413": problem("body over the limit"),
          "503": problem("the database is unavailable; Retry-After says when to retry")}
PHONE = {"413": problem("body over the limit"), "503": problem("the database is unavailable")}
MALFORMED_QUERY = "a query string with a malformed %-escape (% not followed by two hex digits, or %00)"


def op(summary, responses, tag, body=None, params=None, auth=True, op_id=None):
    o = {"summary": summary, "description": summary + ".", "operationId": op_id, "tags": [tag],
         "responses": dict(responses)}
    for status, answer in (COMMON if auth else PHONE).items():
        o["responses"].setdefault(status, answer)  # an operation may say more of its own
    if auth:  # every authenticated route checks its query string first
        bad = o["responses"].get("400")
        o["responses"]["400"] = problem(bad["description"] + "; or " + MALFORMED_QUERY if bad else MALFORMED_QUERY)
    if body:
        o["requestBody"] = body
    if params:
        o["parameters"] = params
    if not auth:
        o["security"] = []
    return o


def qp(name, schema, desc):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


def pp(name, schema, desc):
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": desc}


def jbody(schema, required=True):
    return {"required": required, "content": {"application/json": {"schema": schema}}}


mac_param = pp("mac", {"type": "string"}, MAC_DOC)
id_param = pp("id", UUID, "the profile's id")
idem = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
        "description": "the same key with the same body replays the first response; with another body, 422"}
flat = {"application/xml": {"schema": {"type": "string"}}, "application/json": {"schema": ref("RedirectJson")}}

paths = {
    "/redirect/{mac}": {"get": op(
        "A phone asks who its provider is (suffix .xml or .json, or Accept chooses; XML by default)",
        {"200": {"description": "the provider's flat profile", "content": flat},
         "400": problem("malformed MAC"),
         "404": problem("unknown MAC, released device, no profile set yet, or a profile that requires a "
                        "device certificate this request did not present"),
         "429": problem("more than 20 answers of 404 to this source (IPv4 address, IPv6 /64) within 15 minutes; "
                        "see Retry-After")},
        "phones", params=[pp("mac", {"type": "string"}, MAC_DOC + ", optionally followed by .xml or .json"),
                          qp("model", STR, "the phone's model ($PN)"), qp("sn", STR, "the phone's serial ($SN)")],
        auth=False, op_id="redirect")},
    "/boot/{file}": {"get": op(
        "A phone pointed here by DHCP (option 66, 160 or 43) or by hand asks for its vendor's first file",
        {"200": {"description": "the vendor's own format carrying the profile's URL for it (Cisco: the flat "
                                "profile of /redirect)",
                 "content": {"application/xml": {"schema": {"type": "string"}},
                             "text/plain": {"schema": {"type": "string"}}}},
         "404": problem("a file openztp does not serve to this phone, an unknown MAC, a released device, no "
                        "profile (or no URL for this vendor) set yet, or a profile that requires a device "
                        "certificate this request did not present"),
         "429": problem("more than 20 answers of 404 to this source (IPv4 address, IPv6 /64) on /redirect and /boot "
                        "within 15 minutes; see Retry-After")},
        "phones", params=[pp("file", {"type": "string"}, "a file name of the /boot table: $PSN.xml, {mac}.xml, "
                             "spa$PSN.cfg, {mac}.boot, y000000000000.boot, y0000000000{xx}.cfg, {mac}.cfg, "
                             "{MAC}-ztp.cfg, 000000000000.cfg, snom{model}.htm, snom{model}-{MAC}.htm, cfg{mac}, "
                             "cfg{mac}.xml, cfg{model}.xml, cfg.xml, f0{model}hw{version}.cfg, "
                             "{phoneType}-{mac}.htm")],
        auth=False, op_id="boot")},
    "/activate": {"post": op(
        "A user typed a code on the phone: 16 digits, or # and 3 to 16 digits (a short code)",
        {"200": {"description": "bound; the same body as the redirect (JSON unless Accept asks for XML)",
                 "content": flat},
         "400": problem("malformed code or MAC"),
         "403": problem("the code is bound to another MAC, the short code's profile may not bind it, or its "
                        "profile (or the device's) requires a device certificate this request did not present"),
         "404": problem("no such code"), "409": problem("the device belongs to another provider"),
         "410": problem("expired, revoked, or redeemed by another device"),
         "429": problem("too many failed attempts from this address (IPv6: /64) or for this MAC, or a short code "
                        "past its hourly claims; see Retry-After")},
        "phones", body={"required": True, "content": {
            "application/json": {"schema": {"type": "object", "required": ["code", "mac"], "properties": {
                "code": STR, "mac": STR, "model": STR}}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["code", "mac"],
                                                             "properties": {"code": STR, "mac": STR, "model": STR}}}}},
        auth=False, op_id="activate")},
    "/v1/profiles": {
        "post": op("Create a redirect profile", {"201": js(ref("Profile"), "created"),
                                                 "400": problem("malformed JSON"),
                                                 "409": problem("name or short code taken"),
                                                 "422": problem("invalid fields")},
                   "profiles", body=jbody({"allOf": [ref("ProfileInput"), {"required": ["name", "profile_rule"]}]}),
                   op_id="createProfile"),
        "get": op("List profiles, oldest first, a page at a time",
                  {"200": js(items(ref("Profile"), cursor=True)), "422": problem("bad query")}, "profiles",
                  params=[qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "page size"),
                          qp("cursor", STR, "next_cursor of the page before")], op_id="listProfiles"),
    },
    "/v1/profiles/{id}": {
        "get": op("Get a profile", {"200": js(ref("Profile")), "404": problem("no such profile")}, "profiles",
                  params=[id_param], op_id="getProfile"),
        "patch": op("Change a profile", {"200": js(ref("Profile")), "400": problem("malformed JSON"),
                                         "404": problem("no such profile"), "409": problem("name or short code taken"),
                                         "422": problem("invalid fields")},
                    "profiles", body=jbody(ref("ProfileInput")), params=[id_param], op_id="updateProfile"),
        "delete": op("Delete a profile", {"204": {"description": "deleted"}, "404": problem("no such profile"),
                                          "409": problem("devices still use it")},
                     "profiles", params=[id_param], op_id="deleteProfile"),
    },
    "/v1/profiles/{id}/preview": {"get": op(
        "The answers /redirect/{mac}.xml and .json give a phone of this profile, rendered by the server's own "
        "renderer; $(ZTP_TOKEN) stays as written (minting a device's token needs the admin-only key)",
        {"200": js({"type": "object", "required": ["xml", "json"], "additionalProperties": False,
                    "properties": {"xml": {"type": "string", "description": "the body of /redirect/{mac}.xml"},
                                   "json": {"type": "object", "description": "the body of /redirect/{mac}.json"}}}),
         "404": problem("no such profile"), "422": problem("bad mac, model or serial")},
        "profiles", params=[id_param, qp("mac", {"type": "string", "maxLength": 17}, "the phone's MAC (required)"),
                            qp("model", {"type": "string", "maxLength": 64}, "its model ($PN)"),
                            qp("serial", {"type": "string", "maxLength": 64}, "its serial number ($SN)")],
        op_id="previewProfile")},
    "/v1/devices": {"get": op(
        "List devices, ordered by MAC", {"200": js(items(ref("Device"), cursor=True)), "422": problem("bad query")},
        "devices", params=[qp("status", STATUS, "only devices in this status"),
                           qp("profile_id", UUID, "only devices with this profile"),
                           qp("model", {"type": "string", "minLength": 1, "maxLength": 64},
                              "only devices with exactly this model"),
                           qp("q", {"type": "string", "maxLength": 64, "pattern": "^[0-9A-Fa-f:.-]*$"},
                              "3 to 12 hex digits found anywhere in the MAC, in any case; the separators : - . are "
                              "ignored (0004f2, 2b:04:36, 3615). Fewer than 3 digits are refused (422): they would "
                              "match most of a fleet and no index serves them"),
                           qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "page size"),
                           qp("cursor", STR, "next_cursor of the page before")], op_id="listDevices")},
    "/v1/devices/import": {"post": op(
        "Import devices (CSV with a header row: mac, profile, model, serial; or a JSON array); all or nothing",
        {"200": js(ref("ImportReport"), "applied (or, with dry_run, would be)"),
         "400": problem("empty body"),
         "409": problem("a request with this Idempotency-Key is in progress"),
         "422": {"description": "errors, or conflicts under on_conflict=fail: nothing applied (the report comes "
                                "with the problem); or a bad query parameter",
                 "content": {"application/problem+json": {"schema": {"anyOf": [ref("ImportProblem"),
                                                                               ref("Problem")]}}}},
         "429": problem("this provider already runs 2 imports in this ztpd; see Retry-After")},
        "devices", body={"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object", "required": ["mac"],
                                                                       "properties": {"mac": STR, "profile_id": UUID,
                                                                                      "profile": STR, "model": STR,
                                                                                      "serial": STR}}}}}},
        params=[qp("dry_run", {"type": "boolean", "default": False}, "validate and count only"),
                qp("on_conflict", {"type": "string", "enum": ["fail", "skip"], "default": "fail"},
                   "what a MAC owned by another provider does"), idem], op_id="importDevices")},
    "/v1/devices/repoint": {"post": op(
        "Give every device of yours matching all the given filters a new profile, in one transaction",
        {"200": js(ref("RepointResult"), "matched: devices matching the filters; changed: those whose profile "
                                         "changed (or, with dry_run, would)"),
         "400": problem("malformed JSON"),
         "422": problem("invalid fields, or a profile id that is not one of yours")},
        "devices", body=jbody({"type": "object", "required": ["to_profile_id"], "properties": {
            "to_profile_id": UUID, "from_profile_id": nullable(UUID), "status": STATUS,
            "macs": {"type": ["array", "null"], "maxItems": 100000, "items": STR,
                     "description": "only these devices; " + MAC_DOC},
            "dry_run": {"type": "boolean", "default": False}}}), op_id="repointDevices")},
    "/v1/devices/{mac}": {
        "put": op("Claim a device (201) or update one of yours (200)",
                  {"200": js(ref("Device"), "updated"), "201": js(ref("Device"), "claimed"),
                   "400": problem("malformed MAC or JSON"), "409": problem("owned by another provider"),
                   "422": problem("invalid fields or unknown profile")},
                  "devices", body=jbody(ref("DeviceInput"), required=False), params=[mac_param], op_id="putDevice"),
        "get": op("Get a device", {"200": js(ref("Device")), "400": problem("malformed MAC"),
                                   "404": problem("no such device")}, "devices", params=[mac_param], op_id="getDevice"),
        "delete": op("Release a device", {"204": {"description": "released"}, "400": problem("malformed MAC"),
                                          "404": problem("no such device")}, "devices", params=[mac_param],
                     op_id="releaseDevice"),
    },
    "/v1/devices/{mac}/events": {"get": op(
        "A device's status changes, oldest first (only from the time you owned it): the newest 1,000",
        {"200": js(items(ref("DeviceEvent"))), "400": problem("malformed MAC"), "404": problem("no such device")},
        "devices", params=[mac_param], op_id="deviceEvents")},
    "/v1/devices/{mac}/status": {"post": op(
        "Report what you saw of the phone", {"200": js(ref("Device")), "400": problem("malformed MAC or JSON"),
                                             "404": problem("no such device"),
                                             "409": problem("not possible from the device's status"),
                                             "422": problem("status must be acquired, aborted or open")},
        "devices", body=jbody({"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["acquired", "aborted", "open"]}}}), params=[mac_param],
        op_id="reportStatus")},
    "/v1/activation-codes": {
        "post": op("Issue activation codes (shown only in this answer)",
                   {"201": js({"type": "object", "required": ["items"], "properties": {
                       "items": {"type": "array", "items": ref("IssuedCode")}}}, "issued"),
                    "400": problem("malformed JSON"), "422": problem("invalid fields, or too many codes outstanding"),
                    "409": problem("a request with this Idempotency-Key is in progress, or its codes were issued "
                                   "under a ZTP_SECRET no longer configured")},
                   "activation codes", body=jbody({"type": "object", "required": ["profile_id"], "properties": {
                       "profile_id": UUID, "mac": {"type": ["string", "null"]},
                       "count": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
                       "expires_in": {"type": "integer", "minimum": 60, "maximum": 2592000, "default": 604800}}}),
                   params=[idem], op_id="issueCodes"),
        "get": op("List activation codes, oldest first, a page at a time",
                  {"200": js(items(ref("ActivationCode"), cursor=True)), "422": problem("bad query")},
                  "activation codes", params=[qp("state", {"type": "string", "enum": ["active", "redeemed", "expired",
                                                                                        "revoked"]}, "filter"),
                                              qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                           "default": 100}, "page size"),
                                              qp("cursor", STR, "next_cursor of the page before")],
                  op_id="listCodes"),
    },
    "/v1/activation-codes/{id}": {"delete": op(
        "Revoke a code; it then answers 410", {"204": {"description": "revoked"}, "404": problem("no such code")},
        "activation codes", params=[pp("id", UUID, "the code's id")], op_id="revokeCode")},
    "/v1/import-jobs": {
        "post": op("Create an import job, for fleets of any size: put its parts, then start it",
                   {"201": js(ref("ImportJob"), "created, open for parts"), "400": problem("malformed JSON"),
                    "409": problem("a request with this Idempotency-Key is in progress"),
                    "422": problem("invalid format, on_conflict or dry_run; or an Idempotency-Key reused"),
                    "429": problem("10 jobs of this provider are open or running")},
                   "import jobs", body=jbody({"type": "object", "required": ["format"], "properties": {
                       "format": {"type": "string", "enum": ["csv", "json"]},
                       "on_conflict": {"type": "string", "enum": ["fail", "skip"], "default": "fail"},
                       "dry_run": {"type": "boolean", "default": False}}}),
                   params=[idem], op_id="createImportJob"),
        "get": op("List import jobs, oldest first (the newest 1000)", {"200": js(items(ref("ImportJob")))},
                  "import jobs", op_id="listImportJobs"),
    },
    "/v1/import-jobs/{id}": {
        "get": op("An import job: its state, progress (rows_done of rows) and, once ended, its report",
                  {"200": js(ref("ImportJob")), "404": problem("no such job")}, "import jobs",
                  params=[pp("id", UUID, "the job's id")], op_id="getImportJob"),
        "delete": op("Cancel a job not yet ended: nothing of it is applied", {
            "204": {"description": "cancelled"}, "404": problem("no such job"),
            "409": problem("the job has ended already")}, "import jobs",
            params=[pp("id", UUID, "the job's id")], op_id="cancelImportJob"),
    },
    "/v1/import-jobs/{id}/parts/{n}": {"put": op(
        "Put part n of an open job (a whole CSV with its header row, or a JSON array, in the job's format, at"
        " most ZTP_MAX_BODY_MB); putting part n again replaces it",
        {"200": js({"type": "object", "required": ["part", "rows"], "additionalProperties": False,
                    "properties": {"part": {"type": "integer"}, "rows": {"type": "integer"}}}, "staged"),
         "400": problem("empty body"), "404": problem("no such job"),
         "409": problem("the job is no longer open"),
         "422": {"description": "the part has errors (not kept), a bad part number, or the job would pass"
                                " 20,000,000 rows",
                 "content": {"application/problem+json": {"schema": {"anyOf": [ref("ImportProblem"),
                                                                               ref("Problem")]}}}},
         "429": problem("this provider already runs 2 imports in this ztpd; see Retry-After")},
        "import jobs", body={"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object", "required": ["mac"],
                                                                       "properties": {"mac": STR, "profile_id": UUID,
                                                                                      "profile": STR, "model": STR,
                                                                                      "serial": STR}}}}}},
        params=[pp("id", UUID, "the job's id"), pp("n", {"type": "integer", "minimum": 1, "maximum": 10000},
                                                   "the part's number")], op_id="putImportJobPart")},
    "/v1/import-jobs/{id}/start": {"post": op(
        "Start the job: it runs in the background, all or nothing, with the rules of /v1/devices/import",
        {"202": js(ref("ImportJob"), "running"), "404": problem("no such job"),
         "409": problem("the job is not open, or has no rows")}, "import jobs",
        params=[pp("id", UUID, "the job's id")], op_id="startImportJob")},
    "/v1/api-keys": {
        "post": op("Create an API key (the secret is shown only here)",
                   {"201": js(ref("NewApiKey"), "created"), "400": problem("malformed JSON"),
                    "422": problem("invalid name, or 1000 API keys already, none of them revoked")},
                   "api keys", body=jbody({"type": "object", "required": ["name"], "properties": {"name": STR}}),
                   op_id="createKey"),
        "get": op("List API keys (no secrets)", {"200": js(items(ref("ApiKey")))}, "api keys", op_id="listKeys"),
    },
    "/v1/api-keys/{id}": {"delete": op(
        "Revoke an API key; it gets 401 from then on", {"204": {"description": "revoked"},
                                                        "404": problem("no such key")},
        "api keys", params=[pp("id", STR, "the key's id")], op_id="revokeKey")},
    "/v1/audit-events": {"get": op(
        "Every change made through this API, oldest first (those older than ZTP_AUDIT_RETENTION_DAYS are "
        "deleted, when it is set)",
        {"200": js(items(ref("AuditEvent"), cursor=True)), "422": problem("bad query")},
        "audit", params=[qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "page size"),
                         qp("cursor", STR, "next_cursor of the page before (opaque, and only this provider's: "
                                           "it does not show how many entries other providers wrote)")],
        op_id="listAudit")},
    "/v1/webhooks": {
        "post": op("Register a webhook receiver (the signing secret is shown only here)",
                   {"201": js(ref("NewWebhook"), "created"), "400": problem("malformed JSON"),
                    "422": problem("invalid fields: a URL that is not https or that resolves to a loopback, private, "
                                   "link-local or other non-public address (unless ZTP_WEBHOOK_ALLOW_PRIVATE=1), "
                                   "unknown or repeated events, or 20 webhooks already")},
                   "webhooks", body=jbody({"type": "object", "required": ["url", "events"], "properties": {
                       "url": {"type": "string", "maxLength": 2048},
                       "events": {"type": "array", "minItems": 1, "uniqueItems": True, "items": WEBHOOK_EVENT}}}),
                   op_id="createWebhook"),
        "get": op("List webhooks (no secrets)", {"200": js(items(ref("Webhook")))}, "webhooks", op_id="listWebhooks"),
    },
    "/v1/webhooks/{id}": {"delete": op(
        "Delete a webhook; its pending deliveries stop", {"204": {"description": "deleted"},
                                                          "404": problem("no such webhook")},
        "webhooks", params=[pp("id", UUID, "the webhook's id")], op_id="deleteWebhook")},
    "/v1/webhooks/{id}/deliveries": {"get": op(
        "Delivery attempts of a webhook, newest first", {"200": js(items(ref("WebhookAttempt"))),
                                                          "404": problem("no such webhook"),
                                                          "422": problem("bad query")},
        "webhooks", params=[pp("id", UUID, "the webhook's id"),
                            qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                               "how many attempts")], op_id="webhookDeliveries")},
    "/v1/stats": {"get": op(
        "Device counts by status and contacts per hour over the last 7 days",
        {"200": js(ref("Stats"))}, "statistics", op_id="getStats")},
    "/v1/url-token-key": {
        "get": op("The key of the per-device URL tokens ($(ZTP_TOKEN): keyed BLAKE2b-128 of the MAC)",
                  {"200": js(ref("UrlTokenKey"))}, "url tokens", op_id="getUrlTokenKey"),
        "post": op("Make a new URL token key; the old one becomes previous_key",
                   {"201": js(ref("UrlTokenKey"), "rotated")}, "url tokens", op_id="rotateUrlTokenKey"),
    },
    "/v1/users": {
        "post": op("Invite a person; the invitation link is shown only here",
                   {"201": js(ref("NewUser"), "invited"), "400": problem("malformed JSON"),
                    "409": problem("this provider has a person with this email"),
                    "422": problem("invalid email or role, or 1000 people already (invitations included)")},
                   "people", body=jbody({"type": "object", "required": ["email", "role"], "properties": {
                       "email": {"type": "string", "maxLength": 254}, "role": ROLE}}), op_id="inviteUser"),
        "get": op("List people (no tokens)", {"200": js(items(ref("User")))}, "people", op_id="listUsers"),
    },
    "/v1/users/{id}": {"delete": op(
        "Remove a person; their sessions end", {"204": {"description": "removed"}, "404": problem("no such person")},
        "people", params=[pp("id", UUID, "the person's id")], op_id="deleteUser")},
    "/v1/invites/accept": {"post": op(
        "Choose a password with an invitation's token (the part of invite_url after #)",
        {"200": js(ref("Person"), "the password is set"), "400": problem("malformed JSON"),
         "404": problem("no such invitation"), "410": problem("the invitation was used or has expired"),
         "422": problem("a password of fewer than 12 characters or more than 256 bytes")},
        "people", body=jbody({"type": "object", "required": ["token", "password"], "properties": {
            "token": STR, "password": {"type": "string", "minLength": 12}}}), auth=False, op_id="acceptInvite")},
    "/v1/sessions": {"post": op(
        "Sign in: sets the ztp_session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)",
        {"201": js(ref("Person"), "signed in"), "400": problem("malformed JSON"),
         "401": problem("wrong email or password"), "422": problem("email or password missing"),
         "403": problem("neither X-ZTP-Console: 1 nor a same-origin Origin: another site's form"),
         "429": problem("10 failed sign-ins for this email or from this address (an IPv6 /64; 160 from its /48) "
                        "within 15 minutes; Retry-After says when to retry"),
         "503": problem("the database is unavailable, or 64 sign-ins are waiting for their password checks; "
                        "Retry-After says when to retry")},
        "people", body=jbody({"type": "object", "required": ["email", "password"], "properties": {
            "email": STR, "password": STR}}), auth=False, op_id="signIn")},
    "/v1/sessions/current": {
        "get": op("Who am I", {"200": js(ref("Person"))}, "people", op_id="whoAmI"),
        "delete": op("Sign out: the session ends and the cookie is cleared",
                     {"204": {"description": "signed out"}, "404": problem("the request has no session")},
                     "people", op_id="signOut"),
    },
    "/v1/transfers": {
        "post": op("Offer devices of yours to another provider (the code is shown only in this answer)",
                   {"201": js(ref("NewTransfer"), "made"), "400": problem("malformed JSON"),
                    "409": problem("a request with this Idempotency-Key is in progress, or its transfer was made "
                                   "under a ZTP_SECRET no longer configured"),
                    "422": problem("invalid fields, MACs that are not your devices (each named in errors), 100 open "
                                   "transfers already, or 10,000 transfers or 5,000,000 MACs in those kept")},
                   "transfers", body=jbody({"type": "object", "required": ["macs"], "properties": {
                       "macs": {"type": "array", "minItems": 1, "maxItems": 100000, "items": STR,
                                "description": MAC_DOC + "; each once"},
                       "expires_in": {"type": "integer", "minimum": 60, "maximum": 2592000, "default": 604800}}}),
                   params=[idem], op_id="createTransfer"),
        "get": op("List the transfers you made (no codes, no MACs: their count), oldest first",
                  {"200": js(items(ref("Transfer"), cursor=True)), "422": problem("bad query")},
                  "transfers", params=[qp("state", {"type": "string", "enum": ["open", "accepted", "expired",
                                                                               "cancelled"]}, "filter"),
                                       qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                                          "page size"),
                                       qp("cursor", STR, "next_cursor of the page before")], op_id="listTransfers"),
    },
    "/v1/transfers/accept": {"post": op(
        "Accept a transfer another provider made: its devices that the sender still owns become yours, as a new "
        "owner's (no contacts, events or audit from before; status open)",
        {"200": js({"type": "object", "required": ["transferred"], "additionalProperties": False,
                    "properties": {"transferred": {"type": "integer", "minimum": 0}}}, "accepted"),
         "400": problem("malformed JSON or code"), "404": problem("no such transfer code"),
         "410": problem("the transfer was accepted, cancelled, or has expired"),
         "422": problem("a profile that is not yours, or your own transfer"),
         "429": problem("too many failed codes from this provider; see Retry-After")},
        "transfers", body=jbody({"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string", "description": "16 digits; spaces and dashes ignored"},
            "profile_id": nullable(UUID)}}), op_id="acceptTransfer")},
    "/v1/transfers/{id}": {
        "get": op("Get a transfer you made (no code) with a page of its MACs",
                  {"200": js(ref("TransferDetail")), "404": problem("no such transfer"),
                   "422": problem("bad limit or cursor")},
                  "transfers", params=[pp("id", UUID, "the transfer's id"),
                                       qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                                          "MACs per page"),
                                       qp("cursor", STR, "next_cursor of the page before")], op_id="getTransfer"),
        "delete": op("Cancel a transfer; its code then answers 410",
                     {"204": {"description": "cancelled"}, "404": problem("no such transfer"),
                      "409": problem("already accepted")},
                     "transfers", params=[pp("id", UUID, "the transfer's id")], op_id="cancelTransfer"),
    },
    "/healthz": {"get": {"summary": "200 while the process runs", "description": "Liveness.", "operationId": "healthz", "tags": ["operations"],
                         "security": [], "responses": {"200": js(ref("Status"))}}},
    "/readyz": {"get": {"summary": "200 when the database answers, else 503", "description": "Readiness.",
                        "operationId": "readyz",
                        "tags": ["operations"], "security": [],
                        "responses": {"200": js(ref("Status")), "503": problem("the database does not answer")}}},
    "/metrics": {"get": {"summary": "Prometheus text exposition", "description": "Metrics.", "operationId": "metrics", "tags": ["operations"],
                         "security": [], "responses": {"200": {"description": "metrics", "content": {
                             "text/plain": {"schema": {"type": "string"}}}}}}},
    "/openapi.json": {"get": {"summary": "This document", "description": "OpenAPI 3.1.", "operationId": "openapi", "tags": ["operations"],
                              "security": [], "responses": {"200": js({"type": "object"})}}},
}

ADMIN_ONLY = ("/v1/profiles", "/v1/api-keys", "/v1/users", "/v1/webhooks", "/v1/url-token-key")
SECRET = ("/v1/url-token-key",)  # mints every device's URL token: admin even to read
SELF = ("/v1/sessions/current",)


def min_role(method, path):
    if path.startswith(SECRET):
        return "admin"
    if method == "get" or path.startswith(SELF):
        return "viewer"
    return "admin" if path.startswith(ADMIN_ONLY) else "operator"


for _path, _item in paths.items():
    for _method, _op in _item.items():
        if _path.startswith("/v1/") and _op.get("security") != []:
            _op["x-min-role"] = min_role(_method, _path)
            _op["description"] += " Needs the %s role or an API key." % _op["x-min-role"]

doc = {
    "openapi": "3.1.0",
    "info": {"title": "openztp", "version": "0.1.0",
             "description": "Zero-touch redirect and activation codes for IP desk phones. Every 4xx and 5xx is "
                            "application/problem+json (RFC 9457).",
             "contact": {"name": "openztp maintainers"}},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "security": [{"bearer": []}, {"session": []}],
    "tags": [{"name": n} for n in ("phones", "profiles", "devices", "import jobs", "activation codes", "transfers",
                                   "api keys", "audit", "webhooks", "people", "statistics", "url tokens",
                                   "operations")],
    "paths": paths,
    "components": {"schemas": schemas,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "an API key from ztpd provider create or POST /v1/api-keys; acts as admin"},
                                       "session": {"type": "apiKey", "in": "cookie", "name": "ztp_session",
                                                   "description": "from POST /v1/sessions; a change also needs "
                                                                  "X-ZTP-Console: 1 or a same-origin Origin"}}},
}

if __name__ == "__main__":
    print(json.dumps(doc, indent=1))
