"""redirectd, the HTTP redirector, started for real on loopback with geoipd's
table from the test databases and real HTTP health endpoints: the right node
for each client (the TCP peer, or X-Forwarded-For / Forwarded from a trusted
proxy only), path and query kept, HEAD, IPv6, a node going down moving its
clients and coming back, stickiness per client subnet, keep-alive and
pipelining, idle and trickling clients closed at their deadlines, 1,000 idle
connections not stopping new clients, malformed and oversized requests
answered with the right status and nothing else disturbed, reloads (a broken
file refused), metrics; HTTPS, certificate renewal and the connection caps
(TlsAndCaps); curl and Python's http.client and ssl as the clients."""
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from dnsd_health_test import Node
from harness import Geoipd, db

REDIRECTD = os.environ.get("REDIRECTD", "build/bin/redirectd")
ROOT_ARGS = ["--allow-root"] if os.geteuid() == 0 else []

# Node addresses are where their health endpoints listen.
HOSTS = {"fra1": "127.0.1.10", "par1": "127.0.1.20", "nyc1": "127.0.1.30", "nyc2": "127.0.1.40"}


STATE = {}  # the admin state file, shared with dnsd in production


def config(nodes, metrics_port, status=302, extra_http=""):
    text = ""
    for name, node in nodes.items():
        text += """[[nodes]]
name = "%s"
ipv4 = ["%s"]
http_base = "https://%s.cdn.test"
check = { type = "http", port = %d, path = "/health" }
""" % (name, HOSTS[name], name, node.port)
    return text + """
[health]
state_file = "%s"
interval_ms = 200
timeout_ms = 500
connect_timeout_ms = 300
rise = 1
fall = 1

[maps.world]
default = ["nyc1", "fra1:50"]
continent = { EU = ["fra1"], NA = ["nyc1", "nyc2"] }
country = { FR = ["par1", "fra1:50"] }
asn = { AS64501 = ["par1"] }
cidr = { "10.9.0.0/16" = ["nyc2"] }

[[redirects]]
name = "video.example.test"
map = "world"
ttl = 30
fallback = ["fra1"]

[http]
listen = ["127.0.0.1:0", "[::1]:0"]
threads = 2
status = %d
trusted_proxies = ["127.0.0.1"]
max_per_client = 2000
idle_timeout_ms = 1500
header_timeout_ms = 800
max_header_bytes = 2048
metrics_listen = "127.0.0.1:%d"
%s
[[http.hosts]]
host = "dl.example.test"
redirect = "video.example.test"
""" % (STATE["file"], status, metrics_port, extra_http)


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_redirectd(cls, want):
    """Starts redirectd on cls.conf, logging to cls.log, and waits until it
    serves with every (address, "HTTP" | "HTTPS") listener of `want` bound and
    its first geo table compiled; returns {(address, kind): port}."""
    cls.proc = subprocess.Popen([REDIRECTD, "--config", cls.conf] + ROOT_ARGS,
                                stdout=cls.log, stderr=cls.log)
    deadline = time.time() + 10
    while time.time() < deadline:
        text = cls.logtext()
        ports = {(a, k): int(p)
                 for a, p, k in re.findall(r"listening on (\S+) port (\d+) \((HTTPS?)\)", text)}
        if "serving with" in text and all(w in ports for w in want):
            break
        if cls.proc.poll() is not None:
            raise RuntimeError("redirectd exited: " + text)
        time.sleep(0.02)
    else:
        raise RuntimeError("redirectd did not start: " + cls.logtext())
    deadline = time.time() + 10
    while time.time() < deadline and "geo table generation" not in cls.logtext():
        time.sleep(0.05)
    return ports


def stop_redirectd(cls):
    cls.proc.send_signal(signal.SIGTERM)
    cls.proc.wait(10)
    cls.log.close()
    cls.geo.stop()
    for n in cls.nodes.values():
        n.close()
    shutil.rmtree(cls.dir, ignore_errors=True)


class Redirectd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        cls.dir = tempfile.mkdtemp(prefix="redirectd-test-")
        cls.nodes = {name: Node(addr) for name, addr in HOSTS.items()}
        cls.geo = Geoipd([db("city.mmdb"), db("asn.mmdb")], workdir=os.path.join(cls.dir, "g"))
        cls.metrics_port = free_tcp_port()
        STATE["file"] = os.path.join(cls.dir, "admin.state")
        cls.conf = os.path.join(cls.dir, "dnsd.toml")
        cls.write(config(cls.nodes, cls.metrics_port,
                         extra_http="") + '\n[geoip]\nsocket = "%s"\n' % cls.geo.sock)
        cls.log = open(os.path.join(cls.dir, "redirectd.log"), "w+")
        ports = start_redirectd(cls, [("127.0.0.1", "HTTP"), ("::1", "HTTP")])
        cls.port, cls.port6 = ports[("127.0.0.1", "HTTP")], ports[("::1", "HTTP")]
        time.sleep(0.5)  # the first health results

    @classmethod
    def tearDownClass(cls):
        stop_redirectd(cls)

    @classmethod
    def write(cls, text):
        with open(cls.conf + ".tmp", "w") as f:
            f.write(text)
        os.rename(cls.conf + ".tmp", cls.conf)

    @classmethod
    def logtext(cls):
        cls.log.flush()
        with open(cls.log.name) as f:
            return f.read()

    def get(self, path="/v/a.mp4?x=1", client=None, method="GET", host="dl.example.test",
            headers=None, source="127.0.0.1", v6=False):
        c = http.client.HTTPConnection("::1" if v6 else "127.0.0.1",
                                       self.port6 if v6 else self.port, timeout=5,
                                       source_address=None if v6 else (source, 0))
        h = {"Host": host}
        if client:
            h["X-Forwarded-For"] = client
        h.update(headers or {})
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def node_for(self, client, **kw):
        r, _ = self.get(client=client, **kw)
        self.assertIn(r.status, (301, 302, 307, 308), r.status)
        m = re.match(r"https://(\w+)\.cdn\.test/", r.getheader("Location"))
        return m.group(1)

    def wait_node(self, client, want, timeout=10):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.node_for(client)
            if got == want:
                return
            time.sleep(0.1)
        self.fail("%s goes to %s, not %s" % (client, got, want))

    def test_right_node_per_client(self):
        cases = {"10.1.0.1": "par1",      # AS64501
                 "81.2.69.142": "fra1",   # GB: continent EU
                 "10.9.3.4": "nyc2",      # CIDR
                 "192.0.2.9": "nyc1",     # JP: default, nyc1 weighs more
                 "2001:db8:1::5": "fra1"}  # DE over IPv6: EU
        for client, node in cases.items():
            self.assertEqual(self.node_for(client), node, client)
        # A chain: the right-most untrusted hop is the client.
        self.assertEqual(self.node_for("203.0.113.9, 81.2.69.142, 127.0.0.1"), "fra1")
        # Only the configured header counts (X-Forwarded-For here): a Forwarded
        # header the client sent through the proxy is ignored.
        r, _ = self.get(headers={"Forwarded": 'for="[2001:db8:1::5]:4711";proto=https'})
        self.assertIn("nyc1", r.getheader("Location"))
        # Two X-Forwarded-For lines (a proxy that adds its own): joined, the last hop decides.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /m HTTP/1.1\r\nHost: dl.example.test\r\nX-Forwarded-For: 10.9.0.1\r\n"
                  b"X-Forwarded-For: 81.2.69.142\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertIn(b"Location: https://fra1.cdn.test/m", data)

    def test_untrusted_forwarded_for_is_ignored(self):
        # From 127.0.0.2 (not a trusted proxy) the header is ignored: the
        # peer itself is the client, which falls to the default.
        self.assertEqual(self.node_for("10.1.0.1", source="127.0.0.2"), "nyc1")
        r, _ = self.get(source="127.0.0.2", headers={"Forwarded": "for=10.1.0.1"})
        self.assertIn("nyc1", r.getheader("Location"))

    def test_location_keeps_path_and_query(self):
        r, body = self.get("/live/stream.m3u8?token=a%20b&t=5", client="81.2.69.142")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.getheader("Location"),
                         "https://fra1.cdn.test/live/stream.m3u8?token=a%20b&t=5")
        self.assertEqual(r.getheader("Cache-Control"), "private, max-age=30")
        self.assertIn(b"https://fra1.cdn.test/live/stream.m3u8?token=a%20b&amp;t=5", body)

    def test_head_has_headers_and_no_body(self):
        r, body = self.get(method="HEAD", client="81.2.69.142")
        self.assertEqual(r.status, 302)
        self.assertEqual(body, b"")
        self.assertGreater(int(r.getheader("Content-Length")), 0)
        self.assertIn("fra1", r.getheader("Location"))

    def test_ipv6_client(self):
        r, _ = self.get(v6=True)  # ::1 is not trusted: the client is ::1 itself (default)
        self.assertEqual(r.status, 302)
        self.assertIn("nyc1", r.getheader("Location"))

    def test_curl_shows_the_redirect(self):
        out = subprocess.run(["curl", "-si", "-H", "Host: dl.example.test", "-H",
                              "X-Forwarded-For: 10.9.0.1", "http://127.0.0.1:%d/x" % self.port],
                             capture_output=True, text=True, timeout=10).stdout
        self.assertRegex(out, r"^HTTP/1.1 302 Found")
        self.assertIn("Location: https://nyc2.cdn.test/x", out)

    def test_node_down_moves_its_clients(self):
        self.assertEqual(self.node_for("81.2.69.142"), "fra1")
        self.nodes["fra1"].mode = "fail"
        try:
            # EU has only fra1: its clients fall to the default, whose best up node is nyc1.
            self.wait_node("81.2.69.142", "nyc1")
        finally:
            self.nodes["fra1"].mode = "ok"
        self.wait_node("81.2.69.142", "fra1")

    def test_admin_state_written_by_dnsd_is_followed(self):
        # dnsdctl node fra1 down writes the shared state file; redirectd
        # reads it again when it changes (no control socket of its own).
        self.assertEqual(self.node_for("81.2.69.142"), "fra1")
        try:
            with open(STATE["file"] + ".tmp", "w") as f:
                f.write("# NAME MODE SINCE_UNIX_MS\nfra1 down %d\n" % int(time.time() * 1000))
            os.rename(STATE["file"] + ".tmp", STATE["file"])
            self.wait_node("81.2.69.142", "nyc1", timeout=5)
        finally:
            os.unlink(STATE["file"])
        self.wait_node("81.2.69.142", "fra1", timeout=5)

    def test_sticky_per_subnet(self):
        # NA: nyc1 and nyc2 tie; each /24 sticks to one of them, and both get clients.
        seen = {}
        for third in range(40):
            nodes = {self.node_for("10.0.%d.%d" % (third, host)) for host in (1, 77, 200)}
            self.assertEqual(len(nodes), 1, "10.0.%d.0/24 split over %r" % (third, nodes))
            seen[third] = nodes.pop()
            self.assertEqual(self.node_for("10.0.%d.9" % third), seen[third])
        self.assertEqual(set(seen.values()), {"nyc1", "nyc2"})

    def test_keep_alive_and_pipelining(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        req = (b"GET /a HTTP/1.1\r\nHost: dl.example.test\r\nX-Forwarded-For: 10.9.0.1\r\n\r\n"
               b"GET /b HTTP/1.1\r\nHost: dl.example.test\r\nX-Forwarded-For: 81.2.69.142\r\n\r\n")
        s.sendall(req)
        data = b""
        while data.count(b"HTTP/1.1 302") < 2 or not data.endswith(b"</a>\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertIn(b"Location: https://nyc2.cdn.test/a", data)
        self.assertIn(b"Location: https://fra1.cdn.test/b", data)
        self.assertLess(data.index(b"nyc2.cdn.test/a"), data.index(b"fra1.cdn.test/b"))
        s.close()

    def closed_after(self, sock, limit):
        started = time.time()
        sock.settimeout(limit)
        try:
            while sock.recv(4096):
                pass
        except socket.timeout:
            self.fail("still open after %.1f s" % limit)
        except ConnectionResetError:
            pass
        return time.time() - started

    def test_idle_and_trickling_clients_are_closed(self):
        idle = socket.create_connection(("127.0.0.1", self.port))
        took = self.closed_after(idle, 5)
        self.assertGreater(took, 1.2)  # idle_timeout_ms = 1500
        self.assertLess(took, 3.0)
        slow = socket.create_connection(("127.0.0.1", self.port))
        started = time.time()
        try:
            for ch in b"GET / HTTP/1.1\r\nHost: dl.example.test\r\n":
                slow.send(bytes([ch]))
                time.sleep(0.1)
                if time.time() - started > 4:
                    break
        except OSError:
            pass
        self.closed_after(slow, 5)
        # header_timeout_ms = 800 from the first byte: long before the 4 s the header takes.
        self.assertLess(time.time() - started, 2.5)
        self.assertEqual(self.node_for("10.9.0.1"), "nyc2")  # nothing else disturbed

    def test_a_thousand_idle_connections_do_not_stop_new_clients(self):
        conns = []
        try:
            for i in range(1000):
                s = socket.socket()
                s.bind(("127.0.%d.%d" % (2 + i // 250, 1 + i % 250), 0))
                s.connect(("127.0.0.1", self.port))
                conns.append(s)
            started = time.time()
            self.assertEqual(self.node_for("10.9.0.1"), "nyc2")
            self.assertLess(time.time() - started, 1.0)
        finally:
            for s in conns:
                s.close()

    def test_bad_requests_get_the_right_status(self):
        def raw(data):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(data)
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
                    if b"\r\n\r\n" in out and len(out) > 200:
                        break
            except socket.timeout:
                pass
            s.close()
            return out

        self.assertTrue(raw(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400"))
        self.assertTrue(raw(b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400"))  # no Host
        self.assertTrue(raw(b"GET / HTTP/1.1\r\nHost: dl.example.test\r\nHost: x\r\n\r\n")
                        .startswith(b"HTTP/1.1 400"))  # two
        self.assertTrue(raw(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").startswith(b"HTTP/1.1 400"))
        big = b"GET / HTTP/1.1\r\nHost: dl.example.test\r\nX-Pad: " + b"a" * 4000 + b"\r\n\r\n"
        self.assertTrue(raw(big).startswith(b"HTTP/1.1 431"))
        r, _ = self.get(method="POST")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.getheader("Allow"), "GET, HEAD")
        r, _ = self.get(host="other.example.test")
        self.assertEqual(r.status, 421)
        r, _ = self.get(host="DL.Example.Test.:8080", client="10.9.0.1")  # case, dot, port
        self.assertEqual(r.status, 302)
        self.assertEqual(self.node_for("10.9.0.1"), "nyc2")

    def test_reload_and_a_broken_file(self):
        geo = '\n[geoip]\nsocket = "%s"\n' % self.geo.sock
        try:
            self.write(config(self.nodes, self.metrics_port, status=307) + geo)
            deadline = time.time() + 10
            while time.time() < deadline and self.get(client="10.9.0.1")[0].status != 307:
                time.sleep(0.1)
            self.assertEqual(self.get(client="10.9.0.1")[0].status, 307)
            self.write(config(self.nodes, self.metrics_port) + geo + "\n[http]\nbroken = 1\n")
            deadline = time.time() + 10
            while time.time() < deadline and "reload refused" not in self.logtext():
                time.sleep(0.1)
            self.assertRegex(self.logtext(), r"reload refused, still serving generation \d+: "
                                             r"\S+dnsd\.toml:\d+:")
            self.assertEqual(self.get(client="10.9.0.1")[0].status, 307)
        finally:
            self.write(config(self.nodes, self.metrics_port) + geo)
            deadline = time.time() + 10
            while time.time() < deadline and self.get(client="10.9.0.1")[0].status != 302:
                time.sleep(0.1)

    def test_metrics(self):
        self.node_for("10.9.0.1")
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=5).read().decode()
        self.assertRegex(text, r"signpost_redirectd_redirects_total [1-9]")
        self.assertRegex(text, r'signpost_redirectd_redirects_by_node_total\{node="nyc2"\} [1-9]')
        self.assertRegex(text, r'signpost_redirectd_redirects_by_tier_total\{tier="cidr"\} [1-9]')
        self.assertIn("signpost_redirectd_geo_table 1", text)

    def test_check_config_names_file_and_line(self):
        bad = os.path.join(self.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write(config(self.nodes, self.metrics_port).replace(
                'http_base = "https://par1.cdn.test"\n', ""))
        out = subprocess.run([REDIRECTD, "--check-config", "--config", bad],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"bad\.toml:\d+: node par1 has no http_base, and host "
                                     r"dl\.example\.test")
        out = subprocess.run([REDIRECTD, "--check-config", "--config", self.conf],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)


def make_certificate(d, name, organisation):
    """A self-signed certificate for the test host (and 127.0.0.1), with its key."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-keyout", key,
                    "-out", cert, "-subj", "/O=%s/CN=dl.example.test" % organisation,
                    "-addext", "subjectAltName=DNS:dl.example.test,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class TlsAndCaps(unittest.TestCase):
    """HTTPS on tls_listen (a real OpenSSL handshake with curl and Python's
    ssl), a client that never says hello closed at the header deadline,
    plain HTTP to the TLS port refused without disturbing anyone, a renewed
    certificate taken on SIGHUP and a broken one refused with the old serving;
    and the connection caps: max_per_client from one address, max_connections
    in total, both counted, other clients served."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="redirectd-tls-")
        cls.nodes = {name: Node(addr) for name, addr in HOSTS.items()}
        cls.geo = Geoipd([db("city.mmdb"), db("asn.mmdb")], workdir=os.path.join(cls.dir, "g"))
        cls.metrics_port = free_tcp_port()
        STATE["file"] = os.path.join(cls.dir, "admin.state")
        cls.cert, cls.key = make_certificate(cls.dir, "first", "signpost first")
        shutil.copy(cls.cert, os.path.join(cls.dir, "live.pem"))
        shutil.copy(cls.key, os.path.join(cls.dir, "live.key"))
        text = config(cls.nodes, cls.metrics_port,
                      extra_http='tls_listen = ["127.0.0.1:0"]\ntls_certificate = "live.pem"\n'
                                 'tls_key = "live.key"\nmax_connections = 6\n')
        text = text.replace("max_per_client = 2000", "max_per_client = 3")
        text = text.replace('trusted_proxies = ["127.0.0.1"]', 'trusted_proxies = ["127.0.0.9"]')
        cls.conf = os.path.join(cls.dir, "dnsd.toml")
        with open(cls.conf, "w") as f:
            f.write(text + '\n[geoip]\nsocket = "%s"\n' % cls.geo.sock)
        cls.log = open(os.path.join(cls.dir, "redirectd.log"), "w+")
        ports = start_redirectd(cls, [("127.0.0.1", "HTTPS"), ("127.0.0.1", "HTTP")])
        cls.tls_port, cls.port = ports[("127.0.0.1", "HTTPS")], ports[("127.0.0.1", "HTTP")]

    @classmethod
    def tearDownClass(cls):
        stop_redirectd(cls)

    @classmethod
    def logtext(cls):
        cls.log.flush()
        with open(cls.log.name) as f:
            return f.read()

    def metric(self, name):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=5).read().decode()
        m = re.search(r"^signpost_redirectd_%s (\d+)" % name, text, re.M)
        return int(m.group(1))

    def curl(self, cafile):
        return subprocess.run(["curl", "-s", "-i", "--cacert", cafile, "--resolve",
                               "dl.example.test:%d:127.0.0.1" % self.tls_port,
                               "https://dl.example.test:%d/v/a.mp4?x=1" % self.tls_port],
                              capture_output=True, text=True, timeout=10)

    def served_certificate(self):
        import ssl
        return ssl.get_server_certificate(("127.0.0.1", self.tls_port), timeout=5)

    def test_https_redirects_with_keep_alive(self):
        r = self.curl(self.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^HTTP/1\.1 302 Found\r?\n")
        self.assertRegex(r.stdout, r"\nLocation: https://\w+\.cdn\.test/v/a\.mp4\?x=1\r?\n")
        import ssl
        ctx = ssl.create_default_context(cafile=self.cert)
        c = http.client.HTTPSConnection("dl.example.test", self.tls_port, timeout=5, context=ctx)
        c.sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        c.sock = ctx.wrap_socket(c.sock, server_hostname="dl.example.test")
        for path in ("/one", "/two?q=2"):  # two requests, one connection
            c.request("GET", path, headers={"Host": "dl.example.test"})
            resp = c.getresponse()
            resp.read()
            self.assertEqual(resp.status, 302)
            self.assertTrue(resp.getheader("Location").endswith(path))
        c.close()
        self.assertGreaterEqual(self.metric("tls_handshakes_total"), 2)

    def test_bad_and_silent_tls_clients(self):
        failures = self.metric("tls_handshake_failures_total")
        # Plain HTTP to the TLS port: no HTTP answer, the connection closed.
        s = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: dl.example.test\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        s.close()
        self.assertNotIn(b"HTTP/1.1", got)
        # One that never says hello: closed at the header deadline (800 ms;
        # the upper bound leaves room for a sanitizer build on a busy machine,
        # and is still well short of never).
        s = socket.create_connection(("127.0.0.1", self.tls_port), timeout=15)
        t0 = time.time()
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        took = time.time() - t0
        s.close()
        self.assertGreater(took, 0.6)
        self.assertLess(took, 8)
        self.assertGreaterEqual(self.metric("tls_handshake_failures_total"), failures + 2)
        self.assertEqual(self.curl(self.cert).returncode, 0)  # nobody else disturbed

    def test_renewed_certificate_on_sighup_and_a_broken_one_refused(self):
        first = self.served_certificate()
        cert, key = make_certificate(self.dir, "second", "signpost second")
        shutil.copy(cert, os.path.join(self.dir, "live.pem.new"))
        shutil.copy(key, os.path.join(self.dir, "live.key.new"))
        os.replace(os.path.join(self.dir, "live.key.new"), os.path.join(self.dir, "live.key"))
        os.replace(os.path.join(self.dir, "live.pem.new"), os.path.join(self.dir, "live.pem"))
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.served_certificate() == first:
            time.sleep(0.1)
        second = self.served_certificate()
        self.assertNotEqual(second, first)
        self.assertEqual(self.curl(cert).returncode, 0)
        # A key that does not match: not taken (logged), the second serves on, and
        # the rest of the reload still happens.
        _, other_key = make_certificate(self.dir, "third", "signpost third")
        shutil.copy(other_key, os.path.join(self.dir, "live.key"))
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "not reloaded" not in self.logtext():
            time.sleep(0.1)
        self.assertRegex(self.logtext(), r"TLS certificate not reloaded, the previous one serves "
                                         r"on: \S+dnsd\.toml: \[http\] tls_key \S+live\.key: "
                                         r"key values mismatch")
        self.assertGreaterEqual(self.metric("tls_reload_failures_total"), 1)
        self.assertEqual(self.served_certificate(), second)
        shutil.copy(key, os.path.join(self.dir, "live.key"))  # put right for the other tests
        self.proc.send_signal(signal.SIGHUP)

    def test_connection_caps(self):
        per_client = self.metric("connections_refused_per_client_total")
        total = self.metric("connections_refused_total")
        held = []

        def hold(source):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                         source_address=(source, 0))
            held.append(s)
            return s

        def closed_at_once(s):
            s.settimeout(0.5)
            try:
                return s.recv(10) == b""
            except ConnectionResetError:
                return True
            except socket.timeout:
                return False

        try:
            for _ in range(3):
                hold("127.0.0.1")
            time.sleep(0.2)
            self.assertTrue(closed_at_once(hold("127.0.0.1")))  # a fourth from one address
            self.assertEqual(self.metric("connections_refused_per_client_total"), per_client + 1)
            hold("127.0.0.3")
            hold("127.0.0.3")
            hold("127.0.0.4")
            time.sleep(0.2)
            # Six open now (the metrics scrape is not one of them: its own
            # server): a seventh, from an address with none, is refused.
            self.assertTrue(closed_at_once(hold("127.0.0.5")))
            self.assertEqual(self.metric("connections_refused_total"), total + 1)
        finally:
            for s in held:
                s.close()
        time.sleep(0.3)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5,
                                       source_address=("127.0.0.5", 0))
        c.request("GET", "/", headers={"Host": "dl.example.test"})
        self.assertEqual(c.getresponse().status, 302)
        c.close()


if __name__ == "__main__":
    unittest.main()
