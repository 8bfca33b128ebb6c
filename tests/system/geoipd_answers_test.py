"""geoipd answers known addresses correctly, over the socket, as JSON lines."""
import json
import subprocess
import unittest

from harness import GEOIPCTL, Geoipd, db, facts, main, read_expected


class Answers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = Geoipd([db("city.mmdb"), db("asn.mmdb")])
        cls.expected = read_expected()["a"]

    @classmethod
    def tearDownClass(cls):
        assert cls.g.stop() == 0
        cls.g.cleanup()

    def test_known_addresses_pipelined(self):
        addrs = list(self.expected)
        answers = self.g.ask(addrs)
        for addr, ans in zip(addrs, answers):
            self.assertEqual(ans["ip"], addr)
            self.assertEqual(facts(ans), self.expected[addr], addr)
            self.assertEqual(ans["generation"], 1)

    def test_location_and_org(self):
        a, b = self.g.ask(["10.1.2.3", "81.2.69.1"])
        self.assertAlmostEqual(a["latitude"], 48.86)
        self.assertAlmostEqual(a["longitude"], 2.35)
        self.assertEqual(a["as_org"], 'Example "Net" B')
        self.assertEqual(b["as_org"], "Andrews & Arnold Ltd")
        c = self.g.ask(["192.0.2.1"])[0]
        self.assertIsNone(c["latitude"])

    def test_lookup_keyword_and_mapped_addresses(self):
        a, b = self.g.ask(["lookup 10.1.2.3", "::ffff:10.1.2.3"])
        self.assertEqual(a["country"], "FR")
        self.assertEqual(b["ip"], "10.1.2.3")
        self.assertEqual(b["country"], "FR")

    def test_not_found_is_an_answer_with_prefix(self):
        a = self.g.ask(["8.8.8.8"])[0]
        self.assertFalse(a["found"])
        self.assertEqual(a["prefix"], "8.0.0.0/7")

    def test_info(self):
        info = self.g.ask(["info"])[0]
        self.assertEqual(info["generation"], 1)
        kinds = [d["kind"] for d in info["databases"]]
        self.assertEqual(kinds, ["city", "asn"])
        self.assertEqual(info["databases"][0]["type"], "GeoIP2-City")
        self.assertEqual(info["databases"][0]["build_epoch"], 1700000000)
        self.assertEqual(info["databases"][0]["fields"]["country"], "country.iso_code")

    def test_stats_count(self):
        before = self.g.stats()
        self.g.ask(["10.0.0.1", "8.8.8.8", "nonsense"])
        after = self.g.stats()
        self.assertEqual(after["lookups"] - before["lookups"], 2)
        self.assertEqual(after["found"] - before["found"], 1)
        self.assertEqual(after["not_found"] - before["not_found"], 1)
        self.assertEqual(after["bad_requests"] - before["bad_requests"], 1)

    def test_geoipctl_arguments_stdin_and_info(self):
        out = subprocess.run([GEOIPCTL, "-s", self.g.sock, "10.1.2.3", "2001:db8:1::5"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        self.assertEqual([json.loads(l)["country"] for l in out], ["FR", "DE"])
        out = subprocess.run([GEOIPCTL, "-s", self.g.sock], input="10.0.0.1\n\n81.2.69.1\n",
                             capture_output=True, text=True, check=True).stdout.splitlines()
        self.assertEqual([json.loads(l)["country"] for l in out], ["US", "GB"])
        info = subprocess.run([GEOIPCTL, "-s", self.g.sock, "info"], capture_output=True,
                              text=True, check=True).stdout
        self.assertEqual(len(json.loads(info)["databases"]), 2)
        bad = subprocess.run([GEOIPCTL, "-s", self.g.sock, "nope"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("not an IPv4 or IPv6 address", bad.stdout)

    def test_geoipctl_without_daemon_fails_fast(self):
        r = subprocess.run([GEOIPCTL, "-s", "/nonexistent.sock", "1.2.3.4"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("connect", r.stderr)


class FlatAndMixed(unittest.TestCase):
    def test_flat_layout_gets_continent_from_country(self):
        g = Geoipd([db("flat.mmdb"), db("v4only.mmdb")])
        try:
            a, b, c = g.ask(["203.0.113.1", "2001:db8::1", "10.0.0.1"])
            self.assertEqual((a["country"], a["continent"]), ("NZ", "OC"))
            self.assertEqual((b["country"], b["continent"]), ("GB", "EU"))
            self.assertEqual((c["country"], c["continent"]), ("CA", "NA"))
        finally:
            g.stop()
            g.cleanup()


if __name__ == "__main__":
    main()
