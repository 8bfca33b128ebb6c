"""Redirect names end to end: geoipd and dnsd started for real on loopback,
the generated test databases, a map in its own file. Decoded with dnspython."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from dnsd_harness import DATA, Dnsd
from harness import GEOIPD, Geoipd, db

T = 2.0

NODES = """
[[nodes]]
name = "fra1"
ipv4 = ["192.0.2.10"]
ipv6 = ["2001:db8:f::10"]
[[nodes]]
name = "par1"
ipv4 = ["192.0.2.20"]
[[nodes]]
name = "nyc1"
ipv4 = ["198.51.100.10"]
ipv6 = ["2001:db8:e::10"]
[[nodes]]
name = "nyc2"
ipv4 = ["198.51.100.11"]
"""

MAP = """
default = ["nyc1", "fra1:50"]
continent = { EU = ["fra1"], NA = ["nyc1", "nyc2"] }
country = { FR = ["par1", "fra1:50"] }
asn = { AS64501 = ["par1"] }
cidr = { "10.9.0.0/16" = ["nyc2"] }
"""

ADDR = {"fra1": "192.0.2.10", "par1": "192.0.2.20", "nyc1": "198.51.100.10", "nyc2": "198.51.100.11",
        "fra1v6": "2001:db8:f::10", "nyc1v6": "2001:db8:e::10"}


class Redirect(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="redirect-test-")
        self.geo = Geoipd([db("city.mmdb"), db("asn.mmdb")], workdir=os.path.join(self.dir, "g"))
        self.map_file = os.path.join(self.dir, "world.toml")
        with open(self.map_file, "w") as f:
            f.write(MAP)
        extra = NODES + '\n[maps.world]\nfile = "%s"\n' % self.map_file
        extra += '\n[geoip]\nsocket = "%s"\ntimeout_ms = 5\nbreaker_failures = 2\nbreaker_open_ms = 300\n' % self.geo.sock
        extra += '\n[[redirects]]\nname = "video.example.test"\nmap = "world"\nttl = 30\nfallback = ["fra1:3", "nyc1:1"]\nfallback_ttl = 7\n'
        self.extra = extra
        self.d = Dnsd(tail=extra)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        self.geo.stop()
        self.geo.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ask(self, subnet=None, rdtype="A", timeout=T):
        opts = []
        if subnet is not None:
            addr, plen = subnet.split("/")
            opts = [dns.edns.ECSOption(addr, int(plen))]
        m = dns.message.make_query("video.example.test", rdtype, use_edns=0, options=opts)
        r = dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=timeout)
        ecs = [o for o in r.options if o.otype == dns.edns.ECS]
        addrs = sorted(rd.to_text() for rrset in r.answer for rd in rrset)
        ttl = r.answer[0].ttl if r.answer else None
        return r, addrs, (ecs[0].scopelen if ecs else None), ttl

    def test_client_table(self):
        table = [
            # subnet, type, expected address, expected scope
            ("10.1.2.0/24", "A", ADDR["par1"], 24),       # ASN 64501 beats country FR
            ("10.1.0.0/24", "A", ADDR["par1"], 23),       # geo prefix /23: wider than the source
            ("10.9.1.0/24", "A", ADDR["nyc2"], 16),       # CIDR override, its own /16
            ("81.2.69.0/24", "A", ADDR["fra1"], 25),      # GB -> EU; the ASN database splits the /24 at /25
            ("198.51.100.0/24", "A", ADDR["nyc1"], 24),   # BR -> SA (derived): default, highest weight
            ("2001:db8:1::/48", "AAAA", ADDR["fra1v6"], 63),   # DE -> EU; the database splits the /48 around the FR /64
            ("2001:db8:ff::/48", "AAAA", ADDR["nyc1v6"], 48),  # AU -> OC: default
            ("2001:db8:1:2::/64", "A", ADDR["par1"], None),    # FR, IPv4 answer for an IPv6 client
        ]
        for subnet, rdtype, addr, scope in table:
            r, addrs, got_scope, ttl = self.ask(subnet, rdtype)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR, subnet)
            self.assertEqual(addrs, [addr], subnet)
            self.assertEqual(ttl, 30, subnet)
            if scope is not None:
                self.assertEqual(got_scope, scope, subnet)
        # The IPv4 answer for the IPv6 FR client: par1 wins the ASN tier? No: the
        # IPv6 client's ASN is 64510 (not mapped) and country FR -> par1.
        # No ECS: the query's own source decides (127.0.0.1: not in any
        # database -> default), and no ECS option comes back.
        r, addrs, scope, _ = self.ask(None)
        self.assertEqual(addrs, [ADDR["nyc1"]])
        self.assertIsNone(scope)
        # ECS /0: the resolver withholds the client: decided by the source, scope 0.
        r, addrs, scope, _ = self.ask("0.0.0.0/0")
        self.assertEqual(addrs, [ADDR["nyc1"]])
        self.assertEqual(scope, 0)
        # Malformed ECS is FORMERR.
        bad = dns.edns.GenericOption(8, b"\x00\x01\x18\x00\x0a\x01\x02\x03")  # a byte too many
        m = dns.message.make_query("video.example.test", "A", use_edns=0, options=[bad])
        self.assertEqual(dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=T).rcode(), dns.rcode.FORMERR)

    def test_small_cache_evicts_and_stays_right(self):
        # More client networks than cache: 2,048 separate /24 prefixes in
        # 172.16.0.0/13 (the test database alternates them DE/EU and US/NA)
        # through a cache of 1,024 entries, so entries are evicted and their
        # slots reused all the time, and the prefix index grows (1,024 ->
        # 4,096 cells) and is emptied when half full. Every answer must stay
        # what the client's own prefix says, and the known clients, asked in
        # between, keep theirs.
        table = [("10.1.2.0/24", "A", ADDR["par1"], 24), ("81.2.69.0/24", "A", ADDR["fra1"], 25),
                 ("10.9.1.0/24", "A", ADDR["nyc2"], 16), ("198.51.100.0/24", "A", ADDR["nyc1"], 24),
                 ("2001:db8:1::/48", "AAAA", ADDR["fra1v6"], 63),
                 ("2001:db8:ff::/48", "AAAA", ADDR["nyc1v6"], 48)]
        # A deadline that a loaded machine (parallel tests, sanitizers) meets:
        # this is about eviction, and a missed deadline answers from the fallback.
        self.d.tail = self.extra.replace("timeout_ms = 5\n", "timeout_ms = 1000\ncache_size = 1024\n")
        self.d.write_config()
        self.d.restart()
        for rnd in range(2):
            for i in range(2048):
                subnet = "172.%d.%d.0/24" % (16 + (i >> 8), i & 255)
                r, addrs, scope, ttl = self.ask(subnet)
                # EU -> fra1; NA -> nyc1 or nyc2 (tied, hashed by subnet).
                want = [ADDR["fra1"]] if i % 2 == 0 else [ADDR["nyc1"], ADDR["nyc2"]]
                self.assertEqual(len(addrs), 1, subnet)
                # (TTL 7 and scope 0 would be the fallback pool: geoipd missed the deadline.)
                self.assertIn(addrs[0], want, "%s, round %d, ttl %s, scope %s" % (subnet, rnd, ttl, scope))
                self.assertEqual(scope, 24, subnet)
                if i % 200 == 0:
                    for known, rdtype, addr, known_scope in table:
                        _, got, got_scope, ttl = self.ask(known, rdtype)
                        self.assertEqual((got, got_scope, ttl), ([addr], known_scope, 30),
                                         "%s after %d other networks" % (known, i))
        stats = self.d.ctl_cmd("stats").stdout
        self.assertIn('"redirect_fallback":0', stats)  # every answer from geo facts
        misses = int(re.search(r'"geo_cache_misses":(\d+)', stats).group(1))
        self.assertGreater(misses, 2048)  # more than the first round's: some were evicted

    def test_cname_to_redirect_name(self):
        # tv.example.test IN CNAME video.example.test: the chain ends in a
        # redirect answer, geo-prefetched and scoped like a direct query.
        m = dns.message.make_query("tv.example.test", "A", use_edns=0,
                                   options=[dns.edns.ECSOption("10.1.2.0", 24)])
        r = dns.query.udp(m, "127.0.0.1", port=self.d.port, timeout=T)
        self.assertEqual([x.rdtype for x in r.answer], [dns.rdatatype.CNAME, dns.rdatatype.A])
        self.assertEqual(r.answer[1].name.to_text(), "video.example.test.")
        self.assertEqual([rd.to_text() for rd in r.answer[1]], [ADDR["par1"]])
        ecs = [o for o in r.options if o.otype == dns.edns.ECS]
        self.assertEqual(ecs[0].scopelen, 24)
        stats = self.d.ctl_cmd("stats").stdout
        self.assertIn('"redirect_fallback":0', stats)  # geo facts were fetched, not skipped

    def test_explain(self):
        out = self.d.ctl_cmd("explain", "video.example.test", "10.1.2.3/24").stdout
        self.assertIn("tier asn, entry AS64501", out)
        self.assertIn("chosen: par1", out)
        self.assertIn("country FR", out)
        self.assertIn("ECS scope /24", out)

    def test_geoipd_down_then_back(self):
        # Warm nothing: every subnet is new, so each query needs geoipd.
        self.geo.proc.send_signal(signal.SIGKILL)
        self.geo.proc.wait()
        slow = []
        for i in range(200):
            t0 = time.time()
            r, addrs, scope, ttl = self.ask("10.%d.%d.0/24" % (100 + i // 250, i % 250))
            took = time.time() - t0
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(len(addrs), 1)
            self.assertIn(addrs[0], (ADDR["fra1"], ADDR["nyc1"]))  # the fallback pool
            self.assertEqual(scope, 0)
            self.assertEqual(ttl, 7)
            if took > 0.25:  # the 5 ms deadline plus a generous margin for Python
                slow.append(took)
        self.assertEqual(slow, [])
        stats = self.d.ctl_cmd("stats").stdout
        self.assertRegex(stats, r'"redirect_fallback":[1-9]')
        self.assertRegex(stats, r'"geo_breaker_opened":[1-9]')
        # geoipd comes back on the same socket: geo answers return by themselves.
        self.geo = Geoipd([db("city.mmdb"), db("asn.mmdb")], workdir=self.geo.dir)
        deadline = time.time() + 10
        addrs = []
        while time.time() < deadline:
            r, addrs, scope, ttl = self.ask("10.1.2.0/24")
            if addrs == [ADDR["par1"]] and scope == 24:
                break
            time.sleep(0.1)
        self.assertEqual(addrs, [ADDR["par1"]])

    def test_map_file_with_error_keeps_old_answers(self):
        self.assertEqual(self.ask("81.2.69.0/24")[1], [ADDR["fra1"]])
        tmp = self.map_file + ".new"
        with open(tmp, "w") as f:
            f.write(MAP.replace('EU = ["fra1"]', 'EU = ["ams9"]'))  # unknown node
        os.replace(tmp, self.map_file)
        deadline = time.time() + 5
        while "reload refused" not in self.d.logtext() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(self.map_file + ":3: unknown node \"ams9\"", self.d.logtext())
        self.assertEqual(self.ask("81.2.69.0/24")[1], [ADDR["fra1"]])  # old map still serving
        with open(tmp, "w") as f:
            f.write(MAP.replace('EU = ["fra1"]', 'EU = ["nyc2"]'))
        os.replace(tmp, self.map_file)
        deadline = time.time() + 5
        while self.ask("81.2.69.0/24")[1] != [ADDR["nyc2"]] and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.ask("81.2.69.0/24")[1], [ADDR["nyc2"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
