"""redirectd, the HTTP redirector, started for real on loopback with geoipd's
table from the test databases and real HTTP health endpoints: the right node
for each client (the TCP peer, or X-Forwarded-For / Forwarded from a trusted
proxy only), path and query kept, HEAD, IPv6, a node going down moving its
clients and coming back, stickiness per client subnet, keep-alive and
pipelining, idle and trickling clients closed at their deadlines, 1,000 idle
connections not stopping new clients, malformed and oversized requests
answered with the right status and nothing else disturbed, reloads (a broken
file refused), metrics; curl and Python's http.client as the clients."""
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
        cls.proc = subprocess.Popen([REDIRECTD, "--config", cls.conf] + ROOT_ARGS,
                                    stdout=cls.log, stderr=cls.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            text = cls.logtext()
            ports = re.findall(r"listening on (\S+) port (\d+) \(HTTP\)", text)
            if "serving with" in text and len(ports) == 2:
                cls.port = int([p for a, p in ports if a == "127.0.0.1"][0])
                cls.port6 = int([p for a, p in ports if a == "::1"][0])
                break
            if cls.proc.poll() is not None:
                raise RuntimeError("redirectd exited: " + text)
            time.sleep(0.02)
        else:
            raise RuntimeError("redirectd did not start: " + cls.logtext())
        # The geo table and the first health results.
        deadline = time.time() + 10
        while time.time() < deadline and "geo table generation" not in cls.logtext():
            time.sleep(0.05)
        time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.wait(10)
        cls.log.close()
        cls.geo.stop()
        for n in cls.nodes.values():
            n.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

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


if __name__ == "__main__":
    unittest.main()
