"""Redirect names end to end: geoipd and dnsd started for real on loopback,
the generated test databases, a map in its own file. Decoded with dnspython."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

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
        extra += '\n[geoip]\nsocket = "%s"\n' % self.geo.sock
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
            ("81.2.69.0/24", "A", ADDR["fra1"], 24),      # GB -> EU; the ASN split at /25 walks the same chain: merged
            ("198.51.100.0/24", "A", ADDR["nyc1"], 2),    # BR -> SA (derived): default; all of 192.0.0.0/2 walks the same chain
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

    def stats(self):
        return json.loads(self.d.ctl_cmd("stats").stdout)

    def test_many_client_networks_stay_right(self):
        # 2,048 separate /24 networks in 172.16.0.0/13 (the test database
        # alternates them DE/EU and US/NA): each one is its own decision
        # range, so each answer is the one its own network says, with scope
        # /24, and the known clients asked in between keep theirs.
        table = [("10.1.2.0/24", "A", ADDR["par1"], 24), ("81.2.69.0/24", "A", ADDR["fra1"], 24),
                 ("10.9.1.0/24", "A", ADDR["nyc2"], 16), ("198.51.100.0/24", "A", ADDR["nyc1"], 2),
                 ("2001:db8:1::/48", "AAAA", ADDR["fra1v6"], 63),
                 ("2001:db8:ff::/48", "AAAA", ADDR["nyc1v6"], 48)]
        for rnd in range(2):
            for i in range(2048):
                subnet = "172.%d.%d.0/24" % (16 + (i >> 8), i & 255)
                r, addrs, scope, ttl = self.ask(subnet)
                # EU -> fra1; NA -> nyc1 or nyc2 (tied, hashed by subnet).
                want = [ADDR["fra1"]] if i % 2 == 0 else [ADDR["nyc1"], ADDR["nyc2"]]
                self.assertEqual(len(addrs), 1, subnet)
                # (TTL 7 and scope 0 would be the fallback pool.)
                self.assertIn(addrs[0], want, "%s, round %d, ttl %s, scope %s" % (subnet, rnd, ttl, scope))
                self.assertEqual(scope, 24, subnet)
                if i % 200 == 0:
                    for known, rdtype, addr, known_scope in table:
                        _, got, got_scope, ttl = self.ask(known, rdtype)
                        self.assertEqual((got, got_scope, ttl), ([addr], known_scope, 30),
                                         "%s after %d other networks" % (known, i))
        st = self.stats()
        self.assertEqual(st["redirect_fallback"], 0)  # every answer from the geo table
        self.assertGreater(st["decision_ranges"], 2048)
        self.assertTrue(st["geoipd_connected"])

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

    def test_metrics_per_redirect_tier_and_node(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        self.d.stop()
        self.d.server_extra = 'metrics_listen = "%d"' % port  # a port alone: loopback
        self.d.write_config()
        self.d.start()
        asked = {"10.1.2.0/24": 3, "10.9.1.0/24": 2, "81.2.69.0/24": 4, "198.51.100.0/24": 1}
        for subnet, n in asked.items():
            for _ in range(n):
                self.ask(subnet)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=T).read().decode()
        def value(name, labels):
            m = re.search(r"^signpost_dnsd_%s\{%s\} (\d+)$" % (name, re.escape(labels)), text, re.M)
            self.assertIsNotNone(m, "%s{%s} missing:\n%s" % (name, labels, text))
            return int(m.group(1))
        r = 'redirect="video.example.test",'
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="asn"'), 3)
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="cidr"'), 2)
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="continent"'), 4)
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="default"'), 1)
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="fail-open"'), 0)
        self.assertEqual(value("redirect_answers_by_node_total", r + 'node="par1"'), 3)
        self.assertEqual(value("redirect_answers_by_node_total", r + 'node="nyc2"'), 2)
        self.assertEqual(value("redirect_answers_by_node_total", r + 'node="fra1"'), 4)
        self.assertEqual(value("redirect_answers_by_node_total", r + 'node="nyc1"'), 1)
        self.assertIn("# TYPE signpost_dnsd_redirect_answers_by_node_total counter", text)
        # The series keep counting across a reload (the same slots).
        self.assertEqual(self.d.ctl_cmd("reload").returncode, 0)
        self.ask("10.1.2.0/24")
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=T).read().decode()
        self.assertEqual(value("redirect_answers_by_tier_total", r + 'tier="asn"'), 4)
        self.assertIn("signpost_dnsd_config_generation 2", text)

    def test_top_asns_and_countries(self):
        for _ in range(6):
            self.ask("10.1.2.0/24")    # AS64501, FR
        for _ in range(2):
            self.ask("81.2.69.0/24")   # GB
        # Collected once a second.
        deadline = time.time() + 5
        while time.time() < deadline:
            out = self.d.ctl_cmd("--json", "top")
            if '"queries":8,' in out.stdout:
                break
            time.sleep(0.2)
        top = json.loads(out.stdout)
        self.assertEqual(top["queries"], 8, out.stdout)
        self.assertEqual(top["asns"][0], {"key": "AS64501", "queries": 6} if "name" not in top["asns"][0]
                         else {"key": "AS64501", "name": top["asns"][0]["name"], "queries": 6})
        self.assertEqual([c["key"] for c in top["countries"]], ["FR", "GB"])
        text = self.d.ctl_cmd("top", "1").stdout
        self.assertIn("redirect queries in the last", text)
        self.assertRegex(text, r"\n  1  AS64501 +6 +75\.0%")
        self.assertRegex(text, r"\n  1  FR +6 +75\.0%")
        self.assertNotIn("GB", text)
        r = self.d.ctl_cmd("top", "0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("N is 1..1000", r.stdout)

    def test_explain(self):
        out = self.d.ctl_cmd("explain", "video.example.test", "10.1.2.3/24").stdout
        self.assertIn("tier asn, entry AS64501", out)
        self.assertRegex(out, r"candidate par1 weight \d+ \(capacity \d+\), up")
        self.assertIn("chosen: par1", out)
        self.assertIn("country FR", out)
        self.assertIn("ECS scope /24", out)
        # Through the CNAME an answer follows (tv -> video), and said so.
        out = self.d.ctl_cmd("explain", "tv.example.test", "10.1.2.3/24").stdout
        self.assertIn("tv.example.test. CNAME video.example.test.\nredirect video.example.test -> map world", out)
        self.assertIn("chosen: par1", out)
        r = self.d.ctl_cmd("explain", "loop1.example.test", "10.1.2.3/24")
        self.assertEqual(r.returncode, 1)
        self.assertIn("loop1.example.test (through CNAMEs) is not a redirect name", r.stdout)
        r = self.d.ctl_cmd("explain", "www.example.test", "10.1.2.3/24")
        self.assertIn("www.example.test is not a redirect name", r.stdout)

    def test_geoipd_killed_answers_stay_geo_then_next_generation(self):
        self.assertEqual(self.ask("10.1.2.0/24")[1], [ADDR["par1"]])
        gen = self.stats()["geo_table_generation"]
        self.assertGreater(gen, 0)
        self.geo.proc.send_signal(signal.SIGKILL)
        self.geo.proc.wait()
        # dnsd keeps the last table: geo answers, geo scopes, the redirect's TTL.
        for i in range(300):
            subnet = "172.%d.%d.0/24" % (16 + (i >> 8), i & 255)
            r, addrs, scope, ttl = self.ask(subnet)
            want = [ADDR["fra1"]] if i % 2 == 0 else [ADDR["nyc1"], ADDR["nyc2"]]
            self.assertIn(addrs[0], want, subnet)
            self.assertEqual((scope, ttl), (24, 30), subnet)
        st = self.stats()
        self.assertEqual(st["redirect_fallback"], 0)
        deadline = time.time() + 5
        while "connection" not in self.d.logtext() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.d.logtext().count("lost"), 1, self.d.logtext())
        self.assertFalse(self.stats()["geoipd_connected"])
        # geoipd back on the same socket with another database: dnsd reconnects
        # (backoff at most 5 s) and takes its table: 10.1.2.0/24 is no longer
        # in AS64501 without the ASN database, so FR decides (par1 either way),
        # and the generation restarts from geoipd's own count.
        self.geo = Geoipd([db("city.mmdb")], workdir=self.geo.dir)
        deadline = time.time() + 15
        while time.time() < deadline and not self.stats()["geoipd_connected"]:
            time.sleep(0.1)
        self.assertTrue(self.stats()["geoipd_connected"])
        out = self.d.ctl_cmd("explain", "video.example.test", "10.1.2.3/24").stdout
        self.assertIn("tier country, entry FR", out)
        self.assertEqual(self.stats()["redirect_fallback"], 0)
        # One line when it was lost (not one per failed retry), one when it came back.
        log = self.d.logtext()
        self.assertEqual(len(re.findall(r"degraded: .*geoipd", log)), 1, log)
        self.assertRegex(log, r"recovered: geoipd at \S+ is back after \d+ s \(table generation 1\)")

    def test_dnsd_started_before_geoipd(self):
        self.d.stop()
        self.geo.stop()
        self.d.start()  # geoipd is not there: no table, the fallback pool
        r, addrs, scope, ttl = self.ask("10.1.2.0/24")
        self.assertIn(addrs[0], (ADDR["fra1"], ADDR["nyc1"]))
        self.assertEqual((scope, ttl), (0, 7))
        self.assertGreater(self.stats()["redirect_fallback"], 0)
        self.assertIn("fallback pools", self.d.logtext())
        # The counter watch says it within a second or two, once.
        deadline = time.time() + 5
        while "fallback answers started" not in self.d.logtext() and time.time() < deadline:
            time.sleep(0.1)
        self.assertRegex(self.d.logtext(), r"warn: degraded: fallback answers started \(\d+ in the last \d+ s\)")
        self.geo = Geoipd([db("city.mmdb"), db("asn.mmdb")], workdir=self.geo.dir)
        deadline = time.time() + 15
        addrs = []
        while time.time() < deadline:
            r, addrs, scope, ttl = self.ask("10.1.2.0/24")
            if addrs == [ADDR["par1"]] and scope == 24:
                break
            time.sleep(0.1)
        self.assertEqual((addrs, scope, ttl), ([ADDR["par1"]], 24, 30))
        self.assertIn("recovered: geoipd at", self.d.logtext())
        self.assertEqual(self.d.logtext().count("fallback answers started"), 1)

    def test_old_geo_cache_keys_are_refused_with_the_replacement(self):
        bad = self.extra.replace('[geoip]\n', '[geoip]\ncache_size = 65536\n')
        path = os.path.join(self.dir, "old.toml")
        with open(self.d.config) as f:
            head = f.read().split("[[nodes]]")[0]
        with open(path, "w") as f:
            f.write(head + bad)
        r = subprocess.run([os.environ.get("DNSD", "build/bin/dnsd"), "--config", path,
                            "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cache_size is no longer used: dnsd maps geoipd's compiled geo table", r.stderr)

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
