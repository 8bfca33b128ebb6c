"""Real resolvers in front of dnsd, as operators run it: Unbound (with its
ECS module) and BIND 9, both started on loopback with a stub/forward zone
pointing at dnsd. Static answers, CNAME chains, NXDOMAIN and redirect answers
come through intact; Unbound sends the client's subnet on and caches each
redirect answer for exactly the scope dnsd gave, so a second client inside
the scope is served from its cache and a client outside it is asked anew."""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode

from dnsd_harness import Dnsd

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
NAMED = shutil.which("named") or "/usr/sbin/named"

# CIDR-only map: no geoipd needed. 10.1.0.0/16 -> a; 10.1.9.0/24 -> c;
# 10.3.0.0/16 -> a but its 10.3.7.32/27 -> c (a /24 split inside); else b.
TAIL = """
[[nodes]]
name = "a"
ipv4 = ["192.0.2.11"]
[[nodes]]
name = "b"
ipv4 = ["192.0.2.12"]
[[nodes]]
name = "c"
ipv4 = ["192.0.2.13"]
[maps.m]
default = ["b"]
cidr = { "10.1.0.0/16" = ["a"], "10.1.9.0/24" = ["c"], "10.3.0.0/16" = ["a"], "10.3.7.32/27" = ["c"] }
[[redirects]]
name = "video.example.test"
map = "m"
ttl = 300
"""


UNBOUND_CONF = """server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "subnetcache iterator"
  send-client-subnet: 127.0.0.1
  max-client-subnet-ipv4: 32
  qname-minimisation: no
  minimal-responses: no
  local-zone: "test." nodefault   # a special-use name Unbound answers itself by default
stub-zone:
  name: "example.test"
  stub-addr: 127.0.0.1@%d
"""

NAMED_CONF = """options {
  directory "%s";
  pid-file "%s/named.pid";
  listen-on port %d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-query { 127.0.0.0/8; };
  allow-recursion { 127.0.0.0/8; };
  dnssec-validation no;
  qname-minimization off;
  notify no;
};
zone "example.test" { type forward; forward only; forwarders { 127.0.0.1 port %d; }; };
"""


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now (the resolvers
    bind both), taken below the kernel's ephemeral range: a port from that range
    can be the source port of any outgoing connection on the machine, so a peer
    restarted on it later (a primary brought back up) could find it taken.
    Another test may still take it before the peer binds, so callers retry on a
    bind failure."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 2048)
    while True:
        port = random.randrange(max(1024, low // 2), low)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


def start_on_free_port(cls, name, write_conf, argv):
    """Starts a resolver on a free port, again on another one if it loses the
    port to a concurrent test between our check and its bind."""
    for attempt in range(8):
        port = free_port()
        conf = write_conf(port)
        log = os.path.join(cls.dir, "%s.log" % name)
        f = open(log, "w")
        proc = subprocess.Popen(argv + [conf], stdout=f, stderr=subprocess.STDOUT)
        try:
            wait_port(port, proc, log)
        except RuntimeError as e:
            proc.kill()
            proc.wait()
            f.close()
            if "in use" in str(e) and attempt < 7:
                continue
            raise
        cls.procs.append(proc)
        cls.logs.append(f)
        return port
    raise RuntimeError("unreachable")


def wait_port(port, proc, log, timeout=15, offset=0):
    """Waits for the resolver writing `log` (from byte `offset` on: a log
    appended to across restarts) to answer on `port`."""
    deadline = time.time() + timeout
    q = dns.message.make_query("www.example.test", "A")
    while time.time() < deadline:
        with open(log) as f:
            f.seek(offset)
            text = f.read()
        if proc.poll() is not None or "in use" in text:
            raise RuntimeError("resolver failed: " + text[-2000:])
        try:
            dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3)
            return
        except Exception:
            time.sleep(0.1)
    with open(log) as f:
        raise RuntimeError("resolver did not answer: " + f.read()[-2000:])


class Resolvers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Dnsd(tail=TAIL)
        cls.dir = tempfile.mkdtemp(prefix="resolvers-")
        cls.procs = []
        cls.logs = []
        try:
            cls.start_resolvers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_resolvers(cls):

        # Unbound: the ECS module before the iterator; the stub zone is dnsd.
        def unbound_conf(port):
            conf = os.path.join(cls.dir, "unbound.conf")
            with open(conf, "w") as f:
                f.write(UNBOUND_CONF % (port, cls.dir, cls.d.port))
            return conf
        cls.unbound_port = start_on_free_port(cls, "unbound", unbound_conf, [UNBOUND, "-d", "-c"])

        # BIND 9 (no ECS in its resolver): a forward zone to dnsd.
        def named_conf(port):
            conf = os.path.join(cls.dir, "named.conf")
            with open(conf, "w") as f:
                f.write(NAMED_CONF % (cls.dir, cls.dir, port, cls.d.port))
            return conf
        cls.named_port = start_on_free_port(cls, "named", named_conf, [NAMED, "-g", "-4", "-c"])

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in cls.logs:
            f.close()
        cls.d.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ask(self, port, name, qtype="A", subnet=None):
        opts = []
        if subnet:
            addr, plen = subnet.split("/")
            opts = [dns.edns.ECSOption(addr, int(plen))]
        q = dns.message.make_query(name, qtype, use_edns=0, options=opts)
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)

    @staticmethod
    def rdatas(r):
        return sorted(rd.to_text() for rrset in r.answer for rd in rrset)

    def upstream_queries(self):
        return json.loads(self.d.ctl_cmd("stats").stdout)["udp_queries"]

    def test_static_answers_through_both(self):
        for port in (self.unbound_port, self.named_port):
            r = self.ask(port, "www.example.test")
            self.assertEqual(self.rdatas(r), ["192.0.2.80"])
            r = self.ask(port, "chain1.example.test")
            self.assertIn("192.0.2.80", self.rdatas(r))
            self.assertIn("chain2.example.test.", self.rdatas(r))
            r = self.ask(port, "missing.example.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
            r = self.ask(port, "a.wild.example.test", "TXT")
            self.assertEqual(self.rdatas(r), ['"wildcard"'])
            r = self.ask(port, "ent.example.test")  # empty non-terminal: NODATA
            self.assertEqual((r.rcode(), self.rdatas(r)), (dns.rcode.NOERROR, []))
            # A 6-record RRset of ~650 bytes arrives whole, as dnsd serves it over TCP.
            r = self.ask(port, "big.example.test", "TXT")
            direct = dns.query.tcp(dns.message.make_query("big.example.test", "TXT"), "127.0.0.1",
                                   port=self.d.port, timeout=3)
            self.assertEqual(self.rdatas(r), self.rdatas(direct))
            self.assertEqual(len(self.rdatas(r)), 6)

    def test_bind_redirect_without_ecs(self):
        # BIND sends no ECS: dnsd decides by BIND's address (127.0.0.1: default).
        self.assertEqual(self.rdatas(self.ask(self.named_port, "video.example.test")),
                         ["192.0.2.12"])
        self.assertEqual(self.rdatas(self.ask(self.named_port, "tv.example.test"))[0],
                         "192.0.2.12")

    def test_unbound_forwards_subnets_and_caches_by_scope(self):
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.1.5.0/24")
        self.assertEqual(self.rdatas(r), ["192.0.2.11"])
        before = self.upstream_queries()
        # Same /16 override, outside the nested /24: Unbound answers from its
        # cache. dnsd's scope for 10.1.5.0/24 is /21: the override's /16,
        # narrowed to one bit past where 10.1.9.0/24 differs (10.1.0.0-10.1.7.255).
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.1.6.0/24")
        self.assertEqual(self.rdatas(r), ["192.0.2.11"])
        # Inside the nested override: another answer, so dnsd must be asked.
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.1.9.0/24")
        self.assertEqual(self.rdatas(r), ["192.0.2.13"])
        # Outside every override.
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.2.0.0/24")
        self.assertEqual(self.rdatas(r), ["192.0.2.12"])
        after = self.upstream_queries()
        # 10.1.6.0/24 shared the cached answer of 10.1.5.0/24 (scope /21: the
        # bits up to where 10.1.9.0/24 differs); 10.1.9.0 and 10.2.0.0 did not.
        self.assertEqual(after - before, 2, "dnsd was asked %d times" % (after - before))
        # And through a CNAME the same subnet logic holds.
        r = self.ask(self.unbound_port, "tv.example.test", subnet="10.1.9.0/24")
        self.assertIn("192.0.2.13", self.rdatas(r))

    def test_unbound_split_slash24_scope_longer_than_source(self):
        # 10.3.7.0/24 holds two differently routed /27s. dnsd answers the /24's
        # network address with scope /27 (RFC 7871 7.2.1: the source was not
        # specific enough), so Unbound keeps that answer for 10.3.7.0/27 only
        # and asks again for a client of 10.3.7.32/27. With scope /24 it would
        # hand the first answer to every client of the /24.
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.3.7.0/24")
        self.assertEqual(self.rdatas(r), ["192.0.2.11"])
        ecs = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
        self.assertEqual([(o.srclen, o.scopelen) for o in ecs], [(24, 27)])
        before = self.upstream_queries()
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.3.7.40/32")
        self.assertEqual(self.rdatas(r), ["192.0.2.13"])
        # A client of the first /27 at full length: Unbound kept the /24's
        # answer for /24 queries only (scope /27 > its depth), so it asks once
        # and then holds each /27's answer for that /27.
        r = self.ask(self.unbound_port, "video.example.test", subnet="10.3.7.9/32")
        self.assertEqual(self.rdatas(r), ["192.0.2.11"])
        self.assertEqual(self.upstream_queries() - before, 2)
        for subnet, want in (("10.3.7.20/32", "192.0.2.11"), ("10.3.7.50/32", "192.0.2.13")):
            r = self.ask(self.unbound_port, "video.example.test", subnet=subnet)
            self.assertEqual(self.rdatas(r), [want], subnet)
        self.assertEqual(self.upstream_queries() - before, 2, "Unbound's /27 entries were used")
        # dnsd itself: the split /24 asked directly says /27 too.
        q = dns.message.make_query("video.example.test", "A", use_edns=0,
                                   options=[dns.edns.ECSOption("10.3.7.0", 24)])
        r = dns.query.udp(q, "127.0.0.1", port=self.d.port, timeout=3)
        ecs = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
        self.assertEqual([(o.srclen, o.scopelen) for o in ecs], [(24, 27)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
