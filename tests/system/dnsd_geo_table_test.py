"""dnsd on geoipd's geo table, started for real: every ECS scope dnsd returns
is safe (no address inside it is answered differently), and geo answers stay
right while databases and maps are renamed into place under load."""
import ipaddress
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import dns.edns
import dns.message
import dns.query

from dnsd_harness import Dnsd
from dnsd_redirect_test import NODES  # the same four nodes
from harness import SCRIPTS, Geoipd, db

MAP = """
default = ["nyc1", "fra1:50"]
continent = { EU = ["fra1"], NA = ["nyc1", "nyc2"] }
country = { FR = ["par1", "fra1:50"] }
asn = { AS64501 = ["par1"] }
cidr = { "10.9.0.0/16" = ["nyc2"], "10.1.2.64/26" = ["nyc1"], "172.16.0.128/25" = ["fra1"] }
"""
# The same answers for every client, spelled differently (an entry for a
# country the test database does not have): a reload that changes nothing.
MAP_B = MAP.replace('country = { FR', 'country = { ZW = ["nyc2"], FR')


def ask(port, subnet, rdtype="A"):
    addr, plen = subnet.split("/")
    q = dns.message.make_query("video.example.test", rdtype, use_edns=0,
                               options=[dns.edns.ECSOption(addr, int(plen))])
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    ecs = [o for o in r.options if o.otype == dns.edns.ECS]
    addrs = sorted(rd.to_text() for rrset in r.answer for rd in rrset)
    return addrs, (ecs[0].scopelen if ecs else None), (r.answer[0].ttl if r.answer else None)


class GeoTable(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="geo-table-test-")
        self.live = os.path.join(self.dir, "city.mmdb")
        subprocess.run([os.path.join(SCRIPTS, "install-geodb"), db("city.mmdb"), self.live], check=True)
        self.geo = Geoipd([self.live, db("asn.mmdb")], extra=["--debounce-ms", "20"],
                          workdir=os.path.join(self.dir, "g"))
        self.map_file = os.path.join(self.dir, "world.toml")
        with open(self.map_file, "w") as f:
            f.write(MAP)
        tail = NODES + '\n[maps.world]\nfile = "%s"\n' % self.map_file
        tail += '\n[geoip]\nsocket = "%s"\n' % self.geo.sock
        tail += ('\n[[redirects]]\nname = "video.example.test"\nmap = "world"\nttl = 30\n'
                 'fallback = ["fra1:3", "nyc1:1"]\nfallback_ttl = 7\n')
        self.d = Dnsd(tail=tail)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        self.geo.stop()
        self.geo.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stats(self):
        return json.loads(self.d.ctl_cmd("stats").stdout)

    def subnets(self, rng):
        """Client subnets where the test data and the map have structure:
        the test database's networks, the overrides' edges, random /24s."""
        out = ["10.1.2.0/24", "10.1.0.0/24", "10.9.1.0/24", "81.2.69.0/24", "198.51.100.0/24",
               "10.1.2.64/26", "10.1.2.96/27", "172.16.0.0/24", "172.16.0.0/25", "172.16.1.0/24",
               "2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8:ff::/48", "2001:db8::/32"]
        for _ in range(40):
            out.append("172.%d.%d.0/24" % (rng.randrange(16, 24), rng.randrange(256)))
            out.append("10.%d.%d.0/24" % (rng.randrange(0, 16), rng.randrange(256)))
            out.append("%d.%d.%d.0/24" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256)))
        return out

    def test_no_address_inside_a_scope_is_answered_differently(self):
        rng = random.Random(7)
        checked = 0
        for subnet in self.subnets(rng):
            rdtype = "AAAA" if ":" in subnet else "A"
            addrs, scope, ttl = ask(self.d.port, subnet, rdtype)
            self.assertEqual(ttl, 30, subnet)  # from the table, not the fallback
            net = ipaddress.ip_network(subnet)
            covered = ipaddress.ip_network("%s/%d" % (net.network_address, scope), strict=False)
            host = covered.max_prefixlen
            # Its first and last address, and random ones in between, each
            # asked at full length: every one gets the same answer.
            first = int(covered.network_address)
            last = int(covered.broadcast_address)
            probes = {first, last} | {rng.randint(first, last) for _ in range(12)}
            for p in sorted(probes):
                a = str(ipaddress.ip_address(p))
                got, got_scope, _ = ask(self.d.port, "%s/%d" % (a, host), rdtype)
                self.assertEqual(got, addrs, "%s answered %s with scope /%d, but %s gets %s"
                                 % (subnet, addrs, scope, a, got))
                # The same range: its own scope is at least as wide (up to
                # the stickiness prefix, when a tie is hashed).
                self.assertLessEqual(got_scope, max(scope, 48 if ":" in a else 24), a)
                checked += 1
        self.assertGreater(checked, 1000)
        self.assertEqual(self.stats()["redirect_fallback"], 0)

    def test_database_and_map_swaps_under_load(self):
        rng = random.Random(11)
        probes = self.subnets(rng)
        want = {}
        for s in probes:
            want[s] = ask(self.d.port, s, "AAAA" if ":" in s else "A")
        stop = threading.Event()
        problems = []
        counts = {"queries": 0}

        def load():
            i = 0
            while not stop.is_set() and counts["queries"] < 200000:
                s = probes[i % len(probes)]
                i += 1
                try:
                    got = ask(self.d.port, s, "AAAA" if ":" in s else "A")
                except Exception as e:  # a timeout is a stalled or lost answer
                    problems.append("%s: %r" % (s, e))
                    continue
                counts["queries"] += 1
                if got[0] != want[s][0] or got[2] != 30 or got[1] != want[s][1]:
                    problems.append("%s: %s, expected %s" % (s, got, want[s]))

        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        gen0 = self.stats()["geo_table_generation"]
        try:
            for k in range(6):
                # A database renamed into place (the same data, a new file):
                # geoipd publishes a new generation, dnsd compiles and swaps.
                tmp = self.live + ".new"
                subprocess.run([os.path.join(SCRIPTS, "install-geodb"), db("city.mmdb"), tmp], check=True)
                os.replace(tmp, self.live)
                deadline = time.time() + 10
                while self.stats()["geo_table_generation"] < gen0 + k + 1 and time.time() < deadline:
                    time.sleep(0.02)
                self.assertGreaterEqual(self.stats()["geo_table_generation"], gen0 + k + 1,
                                        self.geo.logtext()[-2000:])
                # And a map renamed into place.
                mtmp = self.map_file + ".new"
                with open(mtmp, "w") as f:
                    f.write(MAP_B if k % 2 == 0 else MAP)
                os.replace(mtmp, self.map_file)
                time.sleep(0.4)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(problems[:10], [])
        self.assertGreater(counts["queries"], 500)
        st = self.stats()
        self.assertEqual(st["redirect_fallback"], 0)
        self.assertGreaterEqual(st["geo_table_generation"], gen0 + 6)
        self.assertIn("published generation", self.d.logtext())  # the map reloads happened


class Nearest(unittest.TestCase):
    """A nearest tier on the test City database's coordinates: each client
    goes to the closest node of the pool (10.1.0.0/16 sits in Germany, near
    Frankfurt; 10.1.2.0/24 in Paris; 81.2.69.0/24 in London), a client
    farther than radius_km from every node and one without coordinates fall
    through to the continent and default tiers; explain shows the distances;
    a node going down hands its clients to the next nearest."""

    NODES = """
[[nodes]]
name = "fra1"
ipv4 = ["192.0.2.10"]
latitude = 50.11
longitude = 8.68
[[nodes]]
name = "par1"
ipv4 = ["192.0.2.20"]
latitude = 48.86
longitude = 2.35
[[nodes]]
name = "lon1"
ipv4 = ["192.0.2.30"]
latitude = 51.51
longitude = -0.13
[[nodes]]
name = "nyc1"
ipv4 = ["198.51.100.10"]
[maps.world]
default = ["nyc1"]
continent = { AS = ["lon1"] }
nearest = { nodes = ["fra1", "par1", "lon1"], margin_km = 10, radius_km = 3000, candidates = 3 }
tiers = ["asn", "nearest", "country", "continent"]
[[redirects]]
name = "video.example.test"
map = "world"
ttl = 30
"""

    DB = "city.mmdb"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nearest-test-")
        self.geo = Geoipd([db(self.DB)], workdir=os.path.join(self.dir, "g"))
        self.d = Dnsd(tail=self.NODES + '\n[geoip]\nsocket = "%s"\n' % self.geo.sock)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        self.geo.stop()
        self.geo.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_nearest_node_per_client(self):
        deadline = time.time() + 10
        while time.time() < deadline and ask(self.d.port, "10.1.0.0/24")[0] != ["192.0.2.10"]:
            time.sleep(0.1)
        self.assertEqual(ask(self.d.port, "10.1.0.0/24")[0], ["192.0.2.10"])   # Germany: fra1
        self.assertEqual(ask(self.d.port, "10.1.2.0/24")[0], ["192.0.2.20"])   # Paris: par1
        self.assertEqual(ask(self.d.port, "81.2.69.0/24")[0], ["192.0.2.30"])  # London: lon1
        # Kansas is over 3,000 km from every node: continent (none for NA), default.
        self.assertEqual(ask(self.d.port, "10.0.0.0/24")[0], ["198.51.100.10"])
        # Japan has no coordinates: the continent tier answers.
        self.assertEqual(ask(self.d.port, "192.0.2.0/24")[0], ["192.0.2.30"])
        out = self.d.ctl_cmd("explain", "video.example.test", "10.1.0.0/24").stdout
        self.assertIn("nearest: client at 51.3000, 9.4900; margin 10 km, radius 3000 km", out)
        self.assertRegex(out, r"fra1 1[0-9]{2} km\n\s+par1 \d+ km\n\s+lon1 \d+ km")
        self.assertIn("tier nearest, entry nearest", out)
        self.assertIn("no coordinates", self.d.ctl_cmd("explain", "video.example.test",
                                                      "192.0.2.0/24").stdout)
        # fra1 down: Germany's clients go to the next nearest (par1, ~700 km).
        r = self.d.ctl_cmd("node", "fra1", "down")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 5
        while time.time() < deadline and ask(self.d.port, "10.1.0.0/24")[0] != ["192.0.2.20"]:
            time.sleep(0.1)
        self.assertEqual(ask(self.d.port, "10.1.0.0/24")[0], ["192.0.2.20"])


class NearestAccuracy(Nearest):
    """The same nearest tier on the test City database of signpost-mapgen,
    whose locations carry MaxMind's accuracy_radius: a client located to 20 km
    (Lisbon) is placed by distance; one whose record is "somewhere in
    Portugal", put near Frankfurt and good to 1,000 km only, is over the
    default 500 km bound and passes the tier; explain says why."""

    DB = "cities.mmdb"
    test_nearest_node_per_client = None  # the other database's cities

    def test_vague_locations_pass_the_tier(self):
        deadline = time.time() + 10
        while time.time() < deadline and ask(self.d.port, "10.10.0.0/24")[0] != ["192.0.2.20"]:
            time.sleep(0.1)
        self.assertEqual(ask(self.d.port, "10.10.0.0/24")[0], ["192.0.2.20"])  # Lisbon: par1
        # The vague record would be 80 km from fra1; it goes to the default.
        self.assertEqual(ask(self.d.port, "10.23.0.0/24")[0], ["198.51.100.10"])
        out = self.d.ctl_cmd("explain", "video.example.test", "10.10.0.0/24").stdout
        self.assertIn("nearest: client at 38.7200, -9.1400 (located to 20 km); margin 10 km", out)
        out = self.d.ctl_cmd("explain", "video.example.test", "10.23.0.0/24").stdout
        self.assertIn("nearest: the location (50.0000, 9.0000) is good to 1000 km only, over "
                      "max_accuracy_km 500: the tier is passed", out)
        # geoipd's line protocol says it too.
        line = self.geo.ask(["10.23.0.9"])[0]
        self.assertEqual(line["accuracy_radius"], 1000, line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
