"""Certificates for the device-certificate tests, made with the openssl
command in a temporary folder, and an HTTPS client that presents them."""
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

from harness import RESPONSES, Response

CA_CONF = """
[ ca ]
default_ca = dev
[ dev ]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[ anything ]
commonName = optional
organizationName = optional
"""


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (args[0], r.stderr))


class Pki:
    """Certificate authorities and the certificates they sign, in one folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ztp-pki-")
        self.n = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _key(self, name):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.path(name))
        return self.path(name)

    def self_signed(self, name, subject, san=None):
        """A self-signed certificate (a CA, a server, or a forgery): (cert, key)."""
        key = self._key(name + ".key")
        args = ["req", "-x509", "-new", "-key", key, "-subj", subject, "-days", "30", "-out", self.path(name + ".pem")]
        if san:
            args += ["-addext", "subjectAltName=" + san]
        openssl(*args)
        return self.path(name + ".pem"), key

    def authority(self, name, subject="/O=Test Phones/CN=Test Phones Manufacturing CA"):
        cert, key = self.self_signed(name, subject)
        folder = self.path(name + ".db")
        os.mkdir(folder)
        open(os.path.join(folder, "index.txt"), "w").close()
        with open(os.path.join(folder, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(folder, "ca.cnf"), "w") as f:
            f.write(CA_CONF.format(dir=folder))
        return {"cert": cert, "key": key, "conf": os.path.join(folder, "ca.cnf")}

    def device(self, ca, subject, san=None, start="20240101000000Z", end="20991231235959Z"):
        """A device certificate signed by ca, valid from start to end: (cert, key)."""
        self.n += 1
        name = "dev%d" % self.n
        key = self._key(name + ".key")
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr)
        args = ["ca", "-batch", "-notext", "-config", ca["conf"], "-cert", ca["cert"], "-keyfile", ca["key"],
                "-in", csr, "-out", self.path(name + ".pem"), "-startdate", start, "-enddate", end]
        if san:
            ext = self.path(name + ".ext")
            with open(ext, "w") as f:
                f.write("[ san ]\nsubjectAltName = %s\n" % san)
            args += ["-extfile", ext, "-extensions", "san"]
        openssl(*args)
        return self.path(name + ".pem"), key


def https(port, method, path, cert=None, body=None, headers=None, source=None, timeout=10):
    """One request over HTTPS presenting cert ((cert, key) or None); the
    server's own certificate is not checked (the tests check the client's)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    h = dict(headers or {})
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout,
                                       source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        RESPONSES.append((method, path, resp))
        return resp
    finally:
        conn.close()


def resumed_get(port, path, first_cert, version):
    """GET path twice on two TLS connections of the given maximum version,
    the second resuming the first's session (an abbreviated handshake, where
    no certificate is sent): [(status, resumed), (status, resumed)]."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = version
    ctx.load_cert_chain(first_cert[0], first_cert[1])
    out, session = [], None
    for c in (ctx, ctx):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with c.wrap_socket(raw, session=session) as tls:
                tls.sendall(("GET %s HTTP/1.1\r\nHost: ztp\r\nConnection: close\r\n\r\n" % path).encode())
                data = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                out.append((int(data.split(b" ", 2)[1]), tls.session_reused))
                session = tls.session
    return out
