#!/usr/bin/env python3
"""signpost-mapgen on a test inventory and a test City database (known
cities): the expected map; run twice, written once; a bad inventory changes
nothing; --diff says what moves; dnsd serves the generated map (a Lisbon
client goes to the Madrid node, not Frankfurt); and the picture, rendered in
headless Chromium, has each country in its node's colour."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import tomllib
import unittest

import dns.edns
import dns.message
import dns.query

from dnsd_harness import Dnsd
from harness import Geoipd, db

MAPGEN = os.environ.get("MAPGEN", "build/bin/signpost-mapgen")

NODES = """
[[nodes]]
name = "mad1"
ipv4 = ["192.0.2.1"]
latitude = 40.42
longitude = -3.70
[[nodes]]
name = "fra1"
ipv4 = ["192.0.2.2"]
weight = 200
latitude = 50.11
longitude = 8.68
[[nodes]]
name = "par1"
ipv4 = ["192.0.2.3"]
latitude = 48.86
longitude = 2.35
[[nodes]]
name = "lon1"
ipv4 = ["192.0.2.4"]
[[nodes]]
name = "nyc1"
ipv4 = ["192.0.2.5"]
latitude = 40.71
longitude = -74.01
[[nodes]]
name = "isp1"
ipv4 = ["192.0.2.6"]
"""

INVENTORY = """config = "dnsd.toml"
map = "world"
[policy]
candidates = 3
margin_km = 100
[[nodes]]
name = "lon1"
country = "GB"
[[nodes]]
name = "isp1"
asns = [64510]
asn_only = true
"""


class Mapgen(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mapgen-test-")
        self.map = os.path.join(self.dir, "world.toml")
        self.inventory = os.path.join(self.dir, "inventory.toml")
        self.config = os.path.join(self.dir, "dnsd.toml")
        with open(self.config, "w") as f:
            f.write(NODES + '\n[maps.world]\nfile = "world.toml"\n'
                    '\n[[redirects]]\nname = "mapgen.example.test"\nmap = "world"\n'
                    'fallback = ["fra1"]\n')
        self.write_inventory(INVENTORY)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_inventory(self, text):
        with open(self.inventory, "w") as f:
            f.write(text)

    def run_mapgen(self, *extra):
        return subprocess.run([MAPGEN, "--inventory", self.inventory, "--db", db("cities.mmdb")]
                              + list(extra), capture_output=True, text=True, timeout=60)

    def generated(self):
        with open(self.map, "rb") as f:
            return tomllib.load(f)

    def first(self, entry):
        top = max(int(m.split(":")[1]) for m in entry)
        return sorted(m.split(":")[0] for m in entry if int(m.split(":")[1]) == top)

    def test_the_expected_map(self):
        r = self.run_mapgen()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"world\.toml written: 10 countries, 6 continents, 1 ASNs")
        m = self.generated()
        c = m["country"]
        # Lisbon and Porto: Madrid (about 500 km) first, not Frankfurt (1,900 km).
        self.assertEqual(c["PT"], ["mad1:100", "par1:90", "lon1:80"])
        self.assertEqual(self.first(c["ES"]), ["mad1"])
        self.assertEqual(self.first(c["FR"]), ["par1"])
        # lon1 has no coordinates: it stands at GB's centre (its country).
        self.assertEqual(self.first(c["GB"]), ["lon1"])
        # Germany's centre lies between Frankfurt and Berlin: fra1, then par1
        # and lon1 tied (within 100 km of each other).
        self.assertEqual(c["DE"], ["fra1:100", "par1:90", "lon1:90"])
        self.assertEqual(self.first(c["US"]), ["nyc1"])
        # JP has no coordinates in the data, NG says 0,0: both placed by the
        # shipped table (Tokyo, Lagos), so they get entries all the same.
        self.assertEqual(self.first(c["JP"]), ["fra1"])
        self.assertEqual(self.first(c["NG"]), ["mad1"])
        # isp1 serves its ASN and nothing else.
        self.assertEqual(m["asn"], {"AS64510": ["isp1:100"]})
        for entries in (m["country"], m["continent"], {"default": m["default"]}):
            for k, e in entries.items():
                self.assertNotIn("isp1", " ".join(e), k)
        # Two nodes within the margin share the default's first rank.
        self.assertEqual(m["default"], ["par1:100", "lon1:100"])
        with open(self.map) as f:
            header = f.read().split("\n\n")[0]
        self.assertIn("# inventory: " + self.inventory, header)
        self.assertIn("cities.mmdb (GeoIP2-City, built 2023-11-14T22:15:00Z)", header)
        self.assertIn("# policy: candidates 3, margin_km 100", header)
        self.assertIn("8 centred on the data's coordinates, 2 on signpost's country table", header)

    def test_from_an_exported_table(self):
        # geoipd --export-table writes the table; mapgen reads it the same.
        table = os.path.join(self.dir, "geo.table")
        from harness import GEOIPD
        r = subprocess.run([GEOIPD, "--export-table", table, "--db", db("cities.mmdb")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([MAPGEN, "--inventory", self.inventory, "--table", table],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        from_table = self.generated()
        with open(self.map) as f:
            self.assertIn("geo.table (geo table generation 1", f.read())
        os.unlink(self.map)
        self.assertEqual(self.run_mapgen().returncode, 0)
        self.assertEqual(self.generated(), from_table)
        # A file that is no table is refused.
        with open(table, "r+b") as f:
            f.write(b"garbage!")
        r = subprocess.run([MAPGEN, "--inventory", self.inventory, "--table", table],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("geo.table: ", r.stderr)

    def test_twice_written_once(self):
        self.assertEqual(self.run_mapgen().returncode, 0)
        before = os.stat(self.map)
        r = self.run_mapgen()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unchanged", r.stdout)
        after = os.stat(self.map)
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns))
        self.assertEqual(glob.glob(self.map + ".tmp*"), [])

    def test_a_bad_inventory_changes_nothing(self):
        self.assertEqual(self.run_mapgen().returncode, 0)
        with open(self.map, "rb") as f:
            installed = f.read()
        cases = (
            (INVENTORY + "[[nodes]]\nname = \"ghost1\"\n", ":13: nodes: ghost1 is not a node of"),
            (INVENTORY.replace("margin_km = 100", "margin_km = -5"), ":5: policy.margin_km = -5"),
            (INVENTORY.replace('country = "GB"', 'country = "XX"'), ':8: country = "XX"'),
            (INVENTORY.replace('country = "GB"', 'contry = "GB"'), ":8: unknown key nodes.contry"),
            (INVENTORY.replace('country = "GB"\n', ''), "node lon1 is nowhere"),
            (INVENTORY + "[[nodes\n", ":13:"),
            (INVENTORY.replace('map = "world"', 'map = "europe"'), "has no [maps.europe]"),
        )
        for text, want in cases:
            self.write_inventory(text)
            r = self.run_mapgen()
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(want, r.stderr, text)
            self.assertIn("the installed map is left alone", r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)  # one line for cron
            with open(self.map, "rb") as f:
                self.assertEqual(f.read(), installed, text)
            self.assertEqual(glob.glob(self.map + ".tmp*"), [])

    def test_a_map_dnsd_would_refuse_is_not_installed(self):
        # The redirect's map is checked by dnsd's own loader: a node listed
        # in the inventory that the config drops makes the inventory wrong;
        # a config where the map's nodes lack addresses makes the map wrong.
        self.assertEqual(self.run_mapgen().returncode, 0)
        with open(self.map, "rb") as f:
            installed = f.read()
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:  # nyc1 with no address at all: dnsd refuses it
            f.write(text.replace('ipv4 = ["192.0.2.5"]\n', ''))
        r = self.run_mapgen()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("dnsd.toml", r.stderr)
        with open(self.map, "rb") as f:
            self.assertEqual(f.read(), installed)

    def test_diff_says_what_moves(self):
        self.assertEqual(self.run_mapgen().returncode, 0)
        with open(self.map, "rb") as f:
            installed = f.read()
        # lon1 may no longer serve GB: GB's clients move to par1.
        self.write_inventory(INVENTORY.replace('country = "GB"', 'country = "GB"\n'
                                               'avoid_countries = ["GB"]'))
        html = os.path.join(self.dir, "diff.html")
        r = self.run_mapgen("--diff", "--html", html)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("country GB: lon1:100 par1:90 fra1:80 -> par1:100 fra1:90 mad1:80",
                      r.stdout)
        # GB is one /16 of the data's eleven /16s and two /20s: 8.99%.
        self.assertIn("moves GB: lon1 -> par1 (8.99% of IPv4 addresses)", r.stdout)
        self.assertIn("1 change(s); 1 country would move, 8.99% of IPv4 addresses", r.stdout)
        with open(self.map, "rb") as f:
            self.assertEqual(f.read(), installed)  # --diff writes nothing
        with open(html) as f:
            self.assertIn('data-country="GB"', f.read())

    def test_dnsd_serves_the_generated_map(self):
        self.assertEqual(self.run_mapgen().returncode, 0)
        geo = Geoipd([db("cities.mmdb"), db("asn.mmdb")], workdir=os.path.join(self.dir, "g"))
        with open(self.config) as f:
            tail = f.read().replace('file = "world.toml"', 'file = "%s"' % self.map)
        tail = tail.replace('name = "mapgen.example.test"', 'name = "mapgen.example.test"\nttl = 30')
        d = Dnsd(tail=tail + '\n[geoip]\nsocket = "%s"\n' % geo.sock)
        try:
            def ask(subnet):
                addr, plen = subnet.split("/")
                q = dns.message.make_query("mapgen.example.test", "A", use_edns=0,
                                           options=[dns.edns.ECSOption(addr, int(plen))])
                r = dns.query.udp(q, "127.0.0.1", port=d.port, timeout=2)
                return sorted(rd.to_text() for rrset in r.answer for rd in rrset)
            self.assertEqual(ask("10.10.1.0/24"), ["192.0.2.1"])   # Lisbon: mad1
            self.assertEqual(ask("10.11.0.0/24"), ["192.0.2.1"])   # Porto: mad1
            self.assertEqual(ask("10.13.0.0/24"), ["192.0.2.2"])   # Frankfurt: fra1
            self.assertEqual(ask("10.16.0.0/24"), ["192.0.2.4"])   # London: lon1
            self.assertEqual(ask("10.17.0.0/24"), ["192.0.2.5"])   # New York: nyc1
        finally:
            d.stop()
            d.cleanup()
            geo.stop()
            geo.cleanup()

    def test_the_cron_recipe(self):
        # scripts/refresh-maps with the databases already in place (no
        # network here): installs nothing, regenerates, then finds it current.
        from harness import SCRIPTS
        dbdir = os.path.join(self.dir, "geodb")
        os.makedirs(dbdir)
        shutil.copy(db("cities.mmdb"), os.path.join(dbdir, "city.mmdb"))
        shutil.copy(db("asn.mmdb"), os.path.join(dbdir, "asn.mmdb"))
        cmd = [os.path.join(SCRIPTS, "refresh-maps"), "--source", "none", "--dbdir", dbdir,
               "--inventory", self.inventory, "--mapgen", MAPGEN]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("world.toml written", r.stderr)
        with open(self.map) as f:
            self.assertIn("city.mmdb (GeoIP2-City", f.read())
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("world.toml unchanged", r.stderr)
        # A broken inventory: exit 1 for cron, the map stays.
        with open(self.map, "rb") as f:
            installed = f.read()
        self.write_inventory("config = 3\n")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("inventory.toml:1: config: expected a file name", r.stderr)
        with open(self.map, "rb") as f:
            self.assertEqual(f.read(), installed)

    def test_the_picture_in_chromium(self):
        from PIL import Image
        html = os.path.join(self.dir, "map.html")
        gj = os.path.join(self.dir, "map.geojson")
        r = self.run_mapgen("--html", html, "--geojson", gj)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(html) as f:
            page = f.read()
        self.assertNotIn("http://", page.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        self.assertNotIn("https://", page)  # nothing fetched: opens with no network
        with open(gj) as f:
            features = json.load(f)["features"]
        nodes = {f["properties"]["name"]: f["properties"]["colour"] for f in features
                 if f["properties"]["kind"] == "node"}
        countries = {f["properties"]["country"]: f for f in features
                     if f["properties"]["kind"] == "country"}
        m = self.generated()
        # The GeoJSON: each country in the colour of its first choice in the map.
        for cc, f in countries.items():
            first = self.first(m["country"][cc])[0]
            self.assertEqual(f["properties"]["colour"], nodes[first], cc)
            self.assertEqual(f["properties"]["failover"][0]["node"],
                             m["country"][cc][0].split(":")[0], cc)
        shot = os.path.join(self.dir, "shot.png")
        home = os.path.join(self.dir, "chromium-home")
        r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--hide-scrollbars", "--force-device-scale-factor=1",
                            "--window-size=1440,900", "--user-data-dir=" + home,
                            "--screenshot=" + shot, "file://" + html],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, HOME=home))
        self.assertTrue(os.path.exists(shot), r.stderr)
        img = Image.open(shot).convert("RGB")
        self.assertEqual(img.size, (1440, 900))

        def rgb(hexcolour):
            h = hexcolour.lstrip("#")
            return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))

        # The page draws 4 px per degree from its top left corner. Countries
        # whose centre is clear of any node square: the pixel there is the
        # country's node's colour.
        checked = 0
        for cc in ("US", "BR", "AU", "JP", "NG", "PT"):
            lon, lat = countries[cc]["geometry"]["coordinates"]
            x, y = round((lon + 180) * 4), round((90 - lat) * 4)
            got = img.getpixel((x, y))
            want = rgb(countries[cc]["properties"]["colour"])
            self.assertTrue(all(abs(a - b) <= 12 for a, b in zip(got, want)),
                            "%s at (%d, %d): %s, want %s" % (cc, x, y, got, want))
            checked += 1
        self.assertEqual(checked, 6)
        # Away from any centre, inside a country's border: its outline is
        # filled the same colour (Kansas, the Outback, Mato Grosso), and
        # land the data does not name (Siberia) is plain grey.
        for cc, lon, lat in (("US", -98, 39), ("AU", 125, -25), ("BR", -55, -10)):
            got = img.getpixel((round((lon + 180) * 4), round((90 - lat) * 4)))
            want = rgb(countries[cc]["properties"]["colour"])
            self.assertTrue(all(abs(a - b) <= 12 for a, b in zip(got, want)),
                            "%s inside its border at %d, %d: %s, want %s" % (cc, lon, lat, got, want))
        self.assertEqual(img.getpixel((round((100 + 180) * 4), round((90 - 62) * 4))),
                         (0xDC, 0xDC, 0xDC))
        self.assertIn('<path class="country" data-country="US"', page)
        # Shapes across the antimeridian (Chukotka, Fiji) are drawn on both
        # edges, not as bands across the world: the sea they would cross.
        for lon, lat in ((-5, 69), (-25, -17)):
            self.assertEqual(img.getpixel((round((lon + 180) * 4), round((90 - lat) * 4))),
                             (0xEE, 0xF3, 0xF7), (lon, lat))
        # And the sea stays sea: a point in the South Pacific is background.
        self.assertEqual(img.getpixel((round((-130 + 180) * 4), round((90 + 45) * 4))),
                         (0xEE, 0xF3, 0xF7))


if __name__ == "__main__":
    unittest.main(verbosity=2)
