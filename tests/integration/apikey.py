"""The API key's fixed layout (admin-api/auth.h, ztp_apikey_generate):
"ztp_" + 16 lowercase hex (the key id) + "_" + 43 URL-safe base64 characters
(32 random bytes, unpadded). The secret itself may hold "_" or "-", so a key is
cut at fixed offsets, never at an underscore.
"""
import re

PREFIX = "ztp_"
ID_LEN = 16
SECRET_LEN = 43
LAYOUT = re.compile(r"^ztp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def split_api_key(key):
    """(key id, secret) of a well-formed key; AssertionError for any other text."""
    m = LAYOUT.match(key)
    if m is None:
        raise AssertionError("not an API key of the layout ztp_<16 hex>_<43 base64url>: %r" % key)
    return m.group(1), m.group(2)
